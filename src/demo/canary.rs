//! The demo's end-to-end canary through DC→DR, as a console that may act
//! runs it: a record every `EVERY_S` seconds on DC's `kdrill.canary`,
//! seen on DR a few hundred milliseconds later while MM2 DC→DR replicates
//! (not while it is stopped, stalled or cut off: then records wait, and
//! arrive late once it replicates again).

use chrono::TimeDelta;

use crate::model::{Canary, CanaryRecord, Flow, Observed, Ts};

use super::rng::SplitMix64;

/// Seconds between two canary records.
const EVERY_S: u64 = 5;
/// Records kept, as the collector keeps them.
const KEPT: usize = crate::config::CANARY_RECORDS_KEPT as usize;

pub(super) struct DemoCanary {
    rng: SplitMix64,
    sent: Vec<CanaryRecord>,
    /// When each record unseen so far may arrive at the earliest.
    due: Vec<Ts>,
}

impl DemoCanary {
    /// Its own RNG: the rest of the world replays the same with or without it.
    pub fn new(seed: u64) -> DemoCanary {
        DemoCanary { rng: SplitMix64::new(seed ^ 0x000C_A4A2), sent: Vec::new(), due: Vec::new() }
    }

    /// On each whole second `second` at `at`: a record every `EVERY_S`.
    pub fn second(&mut self, second: u64, at: Ts) {
        if !second.is_multiple_of(EVERY_S) {
            return;
        }
        let seq = self.sent.last().map_or(1, |r| r.seq + 1);
        self.sent.push(CanaryRecord { seq, sent_at: at, arrived_at: None });
        self.due.push(at + TimeDelta::milliseconds(self.rng.range(180, 650) as i64));
        if self.sent.len() > KEPT {
            self.sent.remove(0);
            self.due.remove(0);
        }
    }

    /// One step at `now`: while DC→DR replicates, due records arrive.
    pub fn step(&mut self, now: Ts, replicating: bool) {
        if !replicating {
            // Held records arrive half a second after MM2 replicates again.
            for d in self.due.iter_mut().zip(&self.sent).filter(|(_, r)| r.arrived_at.is_none()).map(|(d, _)| d) {
                *d = (*d).max(now + TimeDelta::milliseconds(500));
            }
            return;
        }
        for (r, due) in self.sent.iter_mut().zip(&self.due) {
            if r.arrived_at.is_none() && *due <= now {
                r.arrived_at = Some(now);
            }
        }
    }

    pub fn observe(&self, at: Ts) -> Observed<Canary> {
        let canary = Canary {
            flow: Flow::DC_TO_DR,
            topic: "kdrill.canary".into(),
            mirror: "kdrill.canary".into(),
            sent: self.sent.clone(),
            problem: None,
        };
        Observed::new(canary, at)
    }
}
