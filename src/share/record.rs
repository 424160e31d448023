//! The drill topic's records. Keys make the compacted topic keep what
//! matters: every journal record under its own key (drill and sequence
//! number, so a record sent twice compacts to one), the lease under one key
//! (only its latest state matters once compacted). Values are JSON, first
//! field `kdrill_share`, so a foreign record is told from ours.

use serde::{Deserialize, Serialize};

use crate::drill::journal::Record;

use super::lease::{Driver, LeaseRecord};

/// The format this kdrill writes and reads.
pub const FORMAT: u32 = 1;

/// The lease's key.
pub const LEASE_KEY: &str = "lease";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub kdrill_share: u32,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Body {
    /// One journal record of the drill `drill`, written by `driver`.
    Journal {
        drill: String,
        driver: Driver,
        record: Record,
    },
    Lease(LeaseRecord),
}

impl Envelope {
    pub fn journal(drill: &str, driver: &Driver, record: Record) -> Envelope {
        Envelope {
            kdrill_share: FORMAT,
            body: Body::Journal { drill: drill.to_owned(), driver: driver.clone(), record },
        }
    }

    pub fn lease(lease: LeaseRecord) -> Envelope {
        Envelope { kdrill_share: FORMAT, body: Body::Lease(lease) }
    }

    pub fn key(&self) -> String {
        match &self.body {
            Body::Journal { drill, record, .. } => format!("drill/{drill}/{:010}", record.seq),
            Body::Lease(_) => LEASE_KEY.to_owned(),
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Reads a record's value; `Err` says why it is not one of ours.
    pub fn decode(value: &[u8]) -> Result<Envelope, String> {
        let v: serde_json::Value = serde_json::from_slice(value).map_err(|e| format!("not JSON: {e}"))?;
        match v.get("kdrill_share").and_then(serde_json::Value::as_u64) {
            None => return Err("no kdrill_share field".into()),
            Some(f) if f > u64::from(FORMAT) => return Err(format!("format {f} is newer than this kdrill's")),
            Some(_) => {}
        }
        serde_json::from_value(v).map_err(|e| e.to_string())
    }
}

/// A drill's id: when it started, to the millisecond (one drill at a time
/// holds the lease, so two never start in the same millisecond).
pub fn drill_id(started_at: crate::model::Ts) -> String {
    started_at.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}
