//! The drill shared through Kafka: every console follows a compacted,
//! single-partition drill topic on both clusters; the driving console
//! writes its journal records there (the local journal stays the primary,
//! durable record) and holds the lease that makes it the one driver. With
//! no drill topic reachable, the lock file beside the journal is the lock
//! and the drill is not shared — the screen says so.
//!
//! - `lease` — who drives, from the order of lease records (pure);
//! - `record` — the topic's keys and values;
//! - `view` — the topic folded per side and merged (pure);
//! - `side` — one side's clients, on a thread of their own;
//! - `lockfile` — the local lock.

pub mod lease;
pub mod lockfile;
pub mod record;
mod side;
pub mod view;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc as tmpsc, watch};

use crate::config::Config;
use crate::drill::DrillEvent;
use crate::drill::journal::{Record, Who};
use crate::model::{Side, Ts};

pub use lease::{Driver, LeaseKind};
pub use view::{Feed, SharedDrill, SharedRun};

use lockfile::LockFile;
use side::{SideReport, SideTask, ToSide};
use view::SideLog;

/// How a console asks to drive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Start or resume a drill: only while nobody else holds the lease.
    Drive,
    /// Take the lease over from a holder that stopped renewing.
    TakeOver(Driver),
}

/// The answer to a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// This console drives. `shared: false` when no drill topic could be
    /// written: only the local lock file holds, for the reason given.
    Won {
        shared: bool,
        note: Option<String>,
    },
    Refused(String),
}

/// What the runtime holds: the shared drill, and (in a console that may
/// drive) the way to claim, publish and release.
pub struct ShareLink {
    pub view: watch::Receiver<Arc<SharedDrill>>,
    pub driver: Option<ShareDriver>,
    /// This console as a driver (`None`: it only follows).
    pub me: Option<Driver>,
    pub lease_timeout: Duration,
}

/// The writing end, held only by a console that may drive.
pub struct ShareDriver {
    tx: Sender<Input>,
    pub outcomes: tmpsc::UnboundedReceiver<LeaseOutcome>,
    done: mpsc::Receiver<()>,
}

impl ShareDriver {
    pub fn claim(&self, how: Claim) {
        let _ = self.tx.send(Input::Claim(how));
    }

    /// Shares a record the journal holds (synced): after its `Started`,
    /// every record of the same drill.
    pub fn publish(&self, record: &Record) {
        let _ = self.tx.send(Input::Publish(record.clone()));
    }

    pub fn release(&self) {
        let _ = self.tx.send(Input::Release);
    }

    /// Ends sharing, giving the sides at most `within` to write what is
    /// queued (a release, the last records).
    pub fn close(self, within: Duration) {
        let _ = self.tx.send(Input::Close);
        let _ = self.done.recv_timeout(within);
    }
}

impl Drop for ShareDriver {
    fn drop(&mut self) {
        let _ = self.tx.send(Input::Close);
    }
}

enum Input {
    Side(SideReport),
    Claim(Claim),
    Publish(Record),
    Release,
    /// The console ends: stop renewing; the sides write what is queued.
    Close,
}

/// Where and how the drill is shared.
#[derive(Clone, Debug)]
pub struct ShareSettings {
    pub topic: String,
    pub lease_timeout: Duration,
}

impl ShareSettings {
    pub fn of(cfg: &Config) -> ShareSettings {
        ShareSettings { topic: cfg.drill_topic.clone(), lease_timeout: cfg.lease_timeout }
    }
}

/// This console as a driver: the OS user and host, its pid, its start.
pub fn me(who: &Who, since: Ts) -> Driver {
    Driver { user: who.user.clone(), host: who.host.clone(), pid: std::process::id(), since }
}

/// Follows (and, with `me`, may drive) the drill on both clusters of `cfg`.
/// `journal` is where the local lock file goes.
pub fn spawn(cfg: &Config, journal: Option<&Path>, me: Option<Driver>) -> ShareLink {
    let settings = ShareSettings::of(cfg);
    let (tx, rx) = mpsc::channel();
    let mut sides = Vec::new();
    let mut threads = Vec::new();
    for cluster in &cfg.clusters {
        let (side_tx, side_rx) = mpsc::channel();
        let task = SideTask {
            side: cluster.side,
            cluster: cluster.clone(),
            timing: cfg.timing.clone(),
            topic: settings.topic.clone(),
            me: me.clone(),
            rx: side_rx,
            tx: tx.clone(),
        };
        let name = format!("kdrill-share-{}", cluster.alias);
        match std::thread::Builder::new().name(name).spawn(move || task.run()) {
            Ok(t) => threads.push(t),
            Err(e) => tracing::warn!("cannot start the drill topic's reader: {e}"),
        }
        sides.push(side_tx);
    }
    central(rx, tx, (sides, threads), journal, me, settings.lease_timeout)
}

/// No drill topic (the demo world): the lock file alone, never shared.
pub fn local_only(journal: Option<&Path>, me: Option<Driver>, lease_timeout: Duration) -> ShareLink {
    let (tx, rx) = mpsc::channel();
    central(rx, tx, (Vec::new(), Vec::new()), journal, me, lease_timeout)
}

fn central(
    rx: mpsc::Receiver<Input>,
    tx: Sender<Input>,
    (sides, threads): (Vec<Sender<ToSide>>, Vec<std::thread::JoinHandle<()>>),
    journal: Option<&Path>,
    me: Option<Driver>,
    lease_timeout: Duration,
) -> ShareLink {
    let (view_tx, view) = watch::channel(Arc::new(SharedDrill::default()));
    let (out_tx, outcomes) = tmpsc::unbounded_channel();
    let (done_tx, done) = mpsc::channel();
    let mut c = Central {
        sides,
        logs: [SideLog::default(), SideLog::default()],
        view: view_tx,
        outcomes: out_tx,
        journal: journal.map(Path::to_owned),
        me: me.clone(),
        lock: None,
        holding: false,
        claim: None,
        drill: None,
        lease_timeout,
    };
    let spawned = std::thread::Builder::new().name("kdrill-share".into()).spawn(move || {
        c.run(rx);
        // Closing the sides' channels makes them write what is queued
        // (bounded) and stop; `done` once they have.
        drop(c);
        for t in threads {
            let _ = t.join();
        }
        let _ = done_tx.send(());
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the drill topic's task: {e}");
    }
    let driver = me.as_ref().map(|_| ShareDriver { tx, outcomes, done });
    ShareLink { view, driver, me, lease_timeout }
}

/// A claim waiting for the sides to read it back.
struct Pending {
    how: Claim,
    waiting: Vec<Side>,
    obeyed: Vec<Side>,
    refused: bool,
    deadline: Instant,
}

struct Central {
    sides: Vec<Sender<ToSide>>,
    logs: [SideLog; 2],
    view: watch::Sender<Arc<SharedDrill>>,
    outcomes: tmpsc::UnboundedSender<LeaseOutcome>,
    journal: Option<PathBuf>,
    me: Option<Driver>,
    lock: Option<LockFile>,
    holding: bool,
    claim: Option<Pending>,
    /// The drill being published: its id.
    drill: Option<String>,
    lease_timeout: Duration,
}

impl Central {
    fn run(&mut self, rx: mpsc::Receiver<Input>) {
        let renew_every = (self.lease_timeout / 3).max(Duration::from_millis(500));
        let mut next_renew = Instant::now() + renew_every;
        loop {
            let wait = next_renew.saturating_duration_since(Instant::now()).min(Duration::from_millis(500));
            match side::recv(&rx, wait) {
                Err(()) | Ok(Some(Input::Close)) => break,
                Ok(None) => {}
                Ok(Some(Input::Side(r))) => self.on_side(r),
                Ok(Some(Input::Claim(how))) => self.on_claim(how),
                Ok(Some(Input::Publish(record))) => self.on_publish(record),
                Ok(Some(Input::Release)) => self.on_release(),
            }
            if Instant::now() >= next_renew {
                next_renew = Instant::now() + renew_every;
                if self.holding {
                    self.to_sides(|| ToSide::Renew);
                }
            }
            if self.claim.as_ref().is_some_and(|c| Instant::now() >= c.deadline) {
                self.settle_claim();
            }
        }
        // The sides write what is queued, then stop when their channel closes.
    }

    fn to_sides(&self, msg: impl Fn() -> ToSide) {
        for s in &self.sides {
            let _ = s.send(msg());
        }
    }

    fn send_to(&self, side: Side, msg: ToSide) {
        if let Some(s) = self.sides.get(side.index()) {
            let _ = s.send(msg);
        }
    }

    fn on_side(&mut self, r: SideReport) {
        let i = r.side.index();
        self.logs[i] = r.log;
        self.view.send_replace(Arc::new(SharedDrill::merge(&self.logs[0], &self.logs[1])));
        if let (Some(obeyed), Some(c)) = (r.verdict, self.claim.as_mut())
            && c.waiting.contains(&r.side)
        {
            c.waiting.retain(|s| *s != r.side);
            if obeyed {
                c.obeyed.push(r.side);
            } else {
                c.refused = true;
            }
            if c.waiting.is_empty() {
                self.settle_claim();
            }
        }
    }

    fn on_claim(&mut self, how: Claim) {
        let Some(me) = self.me.clone() else { return };
        if self.lock.is_none()
            && let Some(journal) = &self.journal
        {
            match LockFile::take(journal, &me) {
                Ok(l) => self.lock = Some(l),
                Err(why) => {
                    let _ = self.outcomes.send(LeaseOutcome::Refused(why));
                    return;
                }
            }
        }
        let following: Vec<Side> =
            Side::BOTH.into_iter().filter(|s| self.logs[s.index()].feed.is_following()).collect();
        let kind = match &how {
            Claim::Drive => LeaseKind::Claim,
            Claim::TakeOver(from) => LeaseKind::TakeOver { from: from.clone() },
        };
        // Already ours on every side that is followed: nothing to write.
        if following.iter().all(|s| self.logs[s.index()].lease.holder() == Some(&me)) && !following.is_empty() {
            self.holding = true;
            let _ = self.outcomes.send(LeaseOutcome::Won { shared: true, note: None });
            return;
        }
        for s in &following {
            self.send_to(*s, ToSide::Lease(kind.clone()));
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        self.claim = Some(Pending { how, waiting: following, obeyed: Vec::new(), refused: false, deadline });
        if self.claim.as_ref().is_some_and(|c| c.waiting.is_empty()) {
            self.settle_claim();
        }
    }

    fn settle_claim(&mut self) {
        let Some(c) = self.claim.take() else { return };
        let shared = SharedDrill::merge(&self.logs[0], &self.logs[1]);
        let outcome = if c.refused {
            // Lost on a side: give back what was won elsewhere.
            for s in &c.obeyed {
                self.send_to(*s, ToSide::Lease(LeaseKind::Release));
            }
            self.lock = None;
            let who = shared
                .lease
                .as_ref()
                .map(|h| format!("{} since {}", h.driver.label(), h.since.format("%Y-%m-%d %H:%M:%S UTC")));
            let what = if matches!(c.how, Claim::TakeOver(_)) { "take over" } else { "drive" };
            LeaseOutcome::Refused(match who {
                Some(who) => format!("cannot {what}: the drill is driven by {who}"),
                None => format!("cannot {what}: another console claimed the drill first"),
            })
        } else {
            self.holding = true;
            let not_shared: Vec<String> = Side::BOTH
                .into_iter()
                .filter(|s| !c.obeyed.contains(s))
                .map(|s| format!("{}: {}", s.label(), self.logs[s.index()].feed.describe()))
                .collect();
            match (c.obeyed.is_empty(), self.sides.is_empty()) {
                (_, true) => {
                    LeaseOutcome::Won { shared: false, note: Some("the demo world has no drill topic".into()) }
                }
                (true, false) => LeaseOutcome::Won {
                    shared: false,
                    note: Some(format!("no drill topic could be written ({})", not_shared.join("; "))),
                },
                (false, false) if not_shared.is_empty() => LeaseOutcome::Won { shared: true, note: None },
                (false, false) => LeaseOutcome::Won {
                    shared: true,
                    note: Some(format!(
                        "shared on one side only; the other is caught up when it returns ({})",
                        not_shared.join("; ")
                    )),
                },
            }
        };
        let _ = self.outcomes.send(outcome);
    }

    fn on_publish(&mut self, record: Record) {
        let Some(me) = &self.me else { return };
        if let DrillEvent::Started { at, .. } = &record.event {
            self.drill = Some(record::drill_id(*at));
        }
        let Some(drill) = &self.drill else { return };
        let env = record::Envelope::journal(drill, me, record);
        self.to_sides(|| ToSide::Journal(Box::new(env.clone())));
    }

    fn on_release(&mut self) {
        if self.holding {
            self.to_sides(|| ToSide::Lease(LeaseKind::Release));
        }
        self.holding = false;
        self.lock = None;
    }
}
