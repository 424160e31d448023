//! Who drives the drill: a lease told by the order of lease records in the
//! drill topic's single partition. Every console reads the same order, so
//! every console reaches the same verdict without any coordinator:
//!
//! - a claim made while nobody holds the lease wins; any later claim loses,
//!   even one written before its author read the winner (first claim wins);
//! - the holder renews; a release frees the lease;
//! - a takeover names the holder it replaces and wins only if that holder
//!   still holds the lease at that point of the log (the first takeover).
//!
//! Staleness is judged twice, both ways fail-closed: the holder's own
//! renewal time (its clock) and how long this console has seen no renewal
//! (its clock). A console that has just started waits a whole timeout
//! before it calls a lease stale.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::model::Ts;

/// One console that drives (or tried to): user, host, process and start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// When that console started: a pid reused later is another driver.
    pub since: Ts,
}

impl Driver {
    /// `user@host (pid N)`.
    pub fn label(&self) -> String {
        format!("{}@{} (pid {})", self.user, self.host, self.pid)
    }

    /// `user@host`: what an operator types to take over from this driver.
    pub fn user_at_host(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LeaseKind {
    Claim,
    Renew,
    Release,
    TakeOver { from: Driver },
}

/// One lease record, as written to the drill topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub driver: Driver,
    /// The writer's wall clock when it wrote the record.
    pub at: Ts,
    #[serde(flatten)]
    pub kind: LeaseKind,
}

/// The lease as the log tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub driver: Driver,
    /// When the holder claimed (or took over) the lease.
    pub since: Ts,
    /// Its last renewal (its clock).
    pub renewed_at: Ts,
    /// The holder took over from this driver.
    pub took_over_from: Option<Driver>,
}

/// Folds lease records, in log order, into who holds the lease. Each
/// record's verdict is kept too: `accepted[i]` says whether record `i`
/// changed or confirmed the lease (a lost claim does not).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lease {
    pub held: Option<Held>,
    /// Claims and takeovers that lost, by whom: shown, never obeyed.
    pub lost: Vec<Driver>,
}

impl Lease {
    /// Applies the next record of the log; returns whether it was obeyed.
    pub fn apply(&mut self, r: &LeaseRecord) -> bool {
        let holds = |h: &Held| h.driver == r.driver;
        let obeyed = match (&r.kind, &mut self.held) {
            (LeaseKind::Claim, None) => {
                self.held =
                    Some(Held { driver: r.driver.clone(), since: r.at, renewed_at: r.at, took_over_from: None });
                true
            }
            (LeaseKind::Release, Some(h)) if holds(h) => {
                self.held = None;
                true
            }
            // The holder's own claim or takeover, written again (a send
            // that timed out yet arrived) renews: it never loses to itself.
            (_, Some(h)) if holds(h) => {
                h.renewed_at = h.renewed_at.max(r.at);
                true
            }
            (LeaseKind::TakeOver { from }, Some(h)) if h.driver == *from => {
                let from = Some(from.clone());
                self.held =
                    Some(Held { driver: r.driver.clone(), since: r.at, renewed_at: r.at, took_over_from: from });
                true
            }
            // A takeover of a lease nobody holds any more is a claim.
            (LeaseKind::TakeOver { .. }, None) => {
                self.held =
                    Some(Held { driver: r.driver.clone(), since: r.at, renewed_at: r.at, took_over_from: None });
                true
            }
            _ => false,
        };
        if !obeyed && matches!(r.kind, LeaseKind::Claim | LeaseKind::TakeOver { .. }) {
            self.lost.push(r.driver.clone());
        }
        obeyed
    }

    pub fn holder(&self) -> Option<&Driver> {
        self.held.as_ref().map(|h| &h.driver)
    }
}

/// Whether a held lease is stale: its holder's last renewal is older than
/// `timeout` by its own clock, and this console has seen no renewal for
/// `timeout` either (so a wrong clock on either side never shortens it).
pub fn is_stale(held: &Held, now: Ts, seen_renewed_at: Ts, timeout: TimeDelta) -> bool {
    now - held.renewed_at >= timeout && now - seen_renewed_at >= timeout
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Ts {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }

    fn driver(name: &str) -> Driver {
        Driver { user: name.into(), host: "h".into(), pid: 1, since: t(0) }
    }

    fn rec(d: &Driver, at: i64, kind: LeaseKind) -> LeaseRecord {
        LeaseRecord { driver: d.clone(), at: t(at), kind }
    }

    fn fold(records: &[LeaseRecord]) -> Lease {
        let mut l = Lease::default();
        for r in records {
            l.apply(r);
        }
        l
    }

    #[test]
    fn the_first_claim_wins_whatever_its_author_read() {
        let (a, b) = (driver("a"), driver("b"));
        let l = fold(&[rec(&a, 1, LeaseKind::Claim), rec(&b, 1, LeaseKind::Claim), rec(&a, 5, LeaseKind::Renew)]);
        assert_eq!(l.holder(), Some(&a));
        assert_eq!(l.lost, vec![b.clone()]);
        assert_eq!(l.held.as_ref().map(|h| h.renewed_at), Some(t(5)));
    }

    #[test]
    fn only_the_holder_renews_or_releases() {
        let (a, b) = (driver("a"), driver("b"));
        let l = fold(&[rec(&a, 1, LeaseKind::Claim), rec(&b, 2, LeaseKind::Release), rec(&b, 9, LeaseKind::Renew)]);
        assert_eq!(l.held.as_ref().map(|h| (&h.driver, h.renewed_at)), Some((&a, t(1))));
        let l = fold(&[rec(&a, 1, LeaseKind::Claim), rec(&a, 2, LeaseKind::Release), rec(&b, 3, LeaseKind::Claim)]);
        assert_eq!(l.holder(), Some(&b));
    }

    #[test]
    fn the_first_takeover_of_the_holder_wins() {
        let (a, b, c) = (driver("a"), driver("b"), driver("c"));
        let l = fold(&[
            rec(&a, 1, LeaseKind::Claim),
            rec(&b, 60, LeaseKind::TakeOver { from: a.clone() }),
            rec(&c, 61, LeaseKind::TakeOver { from: a.clone() }),
            rec(&a, 62, LeaseKind::Renew),
        ]);
        let held = l.held.unwrap_or_else(|| panic!("held"));
        assert_eq!((held.driver, held.took_over_from), (b, Some(a)));
        assert_eq!(l.lost, vec![c]);
    }

    #[test]
    fn a_repeated_claim_or_takeover_by_the_holder_renews() {
        let (a, b) = (driver("a"), driver("b"));
        let takeover = LeaseKind::TakeOver { from: a.clone() };
        let mut l = Lease::default();
        for r in [rec(&a, 1, LeaseKind::Claim), rec(&a, 2, LeaseKind::Claim), rec(&b, 60, takeover.clone())] {
            assert!(l.apply(&r), "{r:?}");
        }
        assert!(l.apply(&rec(&b, 61, takeover)), "written twice, it still holds");
        assert_eq!(l.held.map(|h| (h.driver, h.renewed_at)), Some((b, t(61))));
        assert!(l.lost.is_empty());
    }

    #[test]
    fn stale_needs_both_clocks() {
        let a = driver("a");
        let held = Held { driver: a, since: t(0), renewed_at: t(0), took_over_from: None };
        let timeout = TimeDelta::seconds(30);
        assert!(!is_stale(&held, t(29), t(0), timeout));
        assert!(!is_stale(&held, t(40), t(20), timeout), "seen renewing 20 s ago here");
        assert!(is_stale(&held, t(60), t(20), timeout));
    }
}
