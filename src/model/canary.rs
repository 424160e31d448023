//! kdrill's end-to-end canary through one MM2 flow: records it sent to a
//! topic on the flow's source, and when each was read back from the
//! topic's mirror on the target.

use serde::{Deserialize, Serialize};

use super::{Flow, Ts};

/// One flow's canary as its prober last saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    pub flow: Flow,
    /// The topic on the flow's source.
    pub topic: String,
    /// Its mirror on the target, as the replication policy names it.
    pub mirror: String,
    /// Records the source acknowledged, oldest first (a bounded window).
    pub sent: Vec<CanaryRecord>,
    /// Why the canary cannot send or read back now, in words a person can
    /// act on; never a secret.
    pub problem: Option<String>,
}

/// One canary record: when it was sent, and when it was read on the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryRecord {
    pub seq: u64,
    pub sent_at: Ts,
    pub arrived_at: Option<Ts>,
}
