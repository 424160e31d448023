//! What the drill topic says, folded: per side, the lease and the drills in
//! log order, fenced (a journal record counts only if its writer held the
//! lease at that point of the log); then both sides merged into the one
//! shared drill every console shows. Pure.

use std::collections::BTreeMap;

use chrono::TimeDelta;

use crate::drill::journal::Record;
use crate::model::{Side, Ts};

use super::lease::{Driver, Held, Lease, is_stale};
use super::record::{Body, Envelope};

/// How one side's drill topic is followed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Feed {
    #[default]
    Connecting,
    /// Read to its end at least once; following.
    Following,
    /// The cluster answers but has no drill topic (and this console may not
    /// or could not create it).
    NoTopic(String),
    Unreachable(String),
}

impl Feed {
    pub fn is_following(&self) -> bool {
        matches!(self, Feed::Following)
    }

    /// In words, for the screen.
    pub fn describe(&self) -> String {
        match self {
            Feed::Connecting => "connecting".into(),
            Feed::Following => "following".into(),
            Feed::NoTopic(why) => format!("no drill topic: {why}"),
            Feed::Unreachable(why) => format!("unreachable: {why}"),
        }
    }
}

/// One side's drill topic, folded in log order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SideLog {
    pub feed: Feed,
    pub lease: Lease,
    /// When this console last saw the lease change or renew (its clock).
    pub lease_seen_at: Option<Ts>,
    /// Journal records by drill id, then sequence number.
    pub drills: BTreeMap<String, BTreeMap<u64, (Driver, Record)>>,
    /// The next offset to read.
    pub next_offset: i64,
    /// Journal records written by a console that did not hold the lease.
    pub fenced: usize,
    /// Records that are not kdrill's (or from a newer kdrill): skipped.
    pub foreign: usize,
    /// Each of this console's own lease records, by offset: obeyed or not.
    pub verdicts: BTreeMap<i64, bool>,
    pub observed_at: Option<Ts>,
}

impl SideLog {
    /// Applies the record at `offset` (raw value), seen at `now`; `me` is
    /// this console, whose lease verdicts are kept.
    pub fn apply(&mut self, offset: i64, value: Option<&[u8]>, me: Option<&Driver>, now: Ts) {
        self.next_offset = self.next_offset.max(offset + 1);
        // A tombstone (null value) deletes nothing we rely on.
        let Some(value) = value else { return };
        let env = match Envelope::decode(value) {
            Ok(e) => e,
            Err(why) => {
                self.foreign += 1;
                tracing::debug!("drill topic offset {offset}: skipped: {why}");
                return;
            }
        };
        match env.body {
            Body::Lease(r) => {
                let before = self.lease.held.clone();
                let obeyed = self.lease.apply(&r);
                if self.lease.held != before {
                    self.lease_seen_at = Some(now);
                }
                if me == Some(&r.driver) {
                    self.verdicts.insert(offset, obeyed);
                }
            }
            Body::Journal { drill, driver, record } => {
                if self.lease.holder() != Some(&driver) {
                    self.fenced += 1;
                    return;
                }
                self.drills.entry(drill).or_default().insert(record.seq, (driver, record));
            }
        }
    }

    /// The highest sequence number held for `drill`.
    pub fn last_seq(&self, drill: &str) -> u64 {
        self.drills.get(drill).and_then(|d| d.keys().next_back().copied()).unwrap_or(0)
    }
}

/// The drill the topic shares: the latest one any side holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SharedRun {
    pub id: String,
    /// Its records from sequence 1 without a gap, both sides merged.
    pub records: Vec<Record>,
    /// Who wrote its last record.
    pub written_by: Option<Driver>,
    /// The sides disagree on a record (same number, different content).
    pub disagreement: Option<String>,
}

impl SharedRun {
    /// The drill its records describe, replayed.
    pub fn replay(&self) -> Result<crate::drill::Drill, String> {
        replay(&self.records)
    }
}

/// Replays journal records into the drill they describe.
pub fn replay(records: &[Record]) -> Result<crate::drill::Drill, String> {
    let events: Vec<crate::drill::DrillEvent> = records.iter().map(|r| r.event.clone()).collect();
    crate::drill::Drill::replay(&events)
}

/// Both sides' drill topics, merged: what every console shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SharedDrill {
    /// DC then DR.
    pub feeds: [Feed; 2],
    pub lease: Option<Held>,
    pub lease_seen_at: Option<Ts>,
    /// The sides name different holders: nobody may drive until it clears.
    pub lease_disagreement: Option<String>,
    /// Each side's holder as its own log tells it (DC then DR).
    pub holders: [Option<Driver>; 2],
    pub run: Option<SharedRun>,
    pub fenced: usize,
    pub foreign: usize,
    pub observed_at: Option<Ts>,
}

impl SharedDrill {
    /// Merges the sides' folds.
    pub fn merge(dc: &SideLog, dr: &SideLog) -> SharedDrill {
        let sides = [dc, dr];
        let following: Vec<&SideLog> = sides.iter().copied().filter(|s| s.feed.is_following()).collect();
        let holders: Vec<Option<&Held>> = following.iter().map(|s| s.lease.held.as_ref()).collect();
        let lease_disagreement = match holders.as_slice() {
            [Some(a), Some(b)] if a.driver != b.driver => {
                Some(format!("DC's drill topic names {} as driver, DR's {}", a.driver.label(), b.driver.label()))
            }
            _ => None,
        };
        // The freshest renewal any side shows.
        let lease = holders.iter().flatten().max_by_key(|h| h.renewed_at).map(|h| (*h).clone());
        let lease_seen_at = following.iter().filter_map(|s| s.lease_seen_at).max();
        SharedDrill {
            feeds: [dc.feed.clone(), dr.feed.clone()],
            lease,
            lease_seen_at,
            lease_disagreement,
            holders: [dc.lease.holder().cloned(), dr.lease.holder().cloned()],
            run: merge_runs(&following),
            fenced: dc.fenced + dr.fenced,
            foreign: dc.foreign + dr.foreign,
            observed_at: following.iter().filter_map(|s| s.observed_at).max(),
        }
    }

    pub fn feed(&self, side: Side) -> &Feed {
        &self.feeds[side.index()]
    }

    /// Whether any side's drill topic is followed.
    pub fn is_shared(&self) -> bool {
        self.feeds.iter().any(Feed::is_following)
    }

    /// Whether the held lease is stale at `now` (false when nobody holds).
    pub fn lease_is_stale(&self, now: Ts, timeout: TimeDelta) -> bool {
        match (&self.lease, self.lease_seen_at) {
            (Some(h), Some(seen)) => is_stale(h, now, seen, timeout),
            _ => false,
        }
    }
}

fn merge_runs(sides: &[&SideLog]) -> Option<SharedRun> {
    let id = sides.iter().filter_map(|s| s.drills.keys().next_back()).max()?.clone();
    let mut merged: BTreeMap<u64, (Driver, Record)> = BTreeMap::new();
    let mut disagreement = None;
    for s in sides {
        for (seq, (driver, record)) in s.drills.get(&id).into_iter().flatten() {
            match merged.get(seq) {
                Some((_, r)) if r.event != record.event && disagreement.is_none() => {
                    disagreement = Some(format!("the sides' drill topics differ at record {seq}"));
                }
                Some(_) => {}
                None => {
                    merged.insert(*seq, (driver.clone(), record.clone()));
                }
            }
        }
    }
    let mut records = Vec::new();
    let mut written_by = None;
    for (seq, (driver, record)) in merged {
        if seq != records.len() as u64 + 1 {
            break;
        }
        records.push(record);
        written_by = Some(driver);
    }
    Some(SharedRun { id, records, written_by, disagreement })
}
