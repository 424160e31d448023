//! The runtime: one `select!` over terminal events (read on their own
//! thread), judged snapshots, action outcomes, a one-second tick and
//! signals. New snapshots, and the last one again each second, go to the
//! judge (its own thread); what it concludes comes back in order. Each is a
//! message to the app's `update`; the effects it returns are
//! carried out here, after the update (never in the key path): journal
//! events are appended and synced before the next frame is drawn, so the
//! screen never shows an event the disk does not hold (drill events are a
//! few a minute: the sync's milliseconds are not felt). The screen is
//! redrawn only when the app says something changed, at most ~30 times a
//! second, so an idle console sleeps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use color_eyre::eyre::{Result, WrapErr, eyre};
use ratatui::crossterm::event::{self, Event};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::collect::Observation;
use crate::dispatch::{self, Dispatcher, Refusal};
use crate::drill::journal::Journal;
use crate::model::Ts;
use crate::share::ShareLink;

use super::app::{App, Effect, Msg};
use super::judge::Judge;
use super::terminal::TerminalGuard;

/// At most this often.
const FRAME: Duration = Duration::from_millis(33);
const TICK: Duration = Duration::from_secs(1);

/// Runs the console on `link`. A read-only console passes no dispatcher:
/// every action it asks for is refused here, and nothing is sent.
pub async fn run(
    mut link: Observation,
    dispatcher: Option<Dispatcher>,
    mut app: App,
    mut journal: Option<Journal>,
    share: ShareLink,
) -> Result<()> {
    // Effects not yet carried out, in order.
    let mut effects = app.update(Msg::JournalPath(journal.as_ref().map(|j| j.path().to_owned())));
    let ShareLink { view: mut shared, driver: mut share, me, lease_timeout } = share;
    let lease_timeout = TimeDelta::from_std(lease_timeout).unwrap_or(TimeDelta::seconds(30));
    effects.extend(app.update(Msg::Sharing { me, lease_timeout }));
    let mut shared_open = true;
    let mut lease_open = share.is_some();
    let mut sigterm = signal(SignalKind::terminate()).wrap_err("cannot watch SIGTERM")?;
    let mut sighup = signal(SignalKind::hangup()).wrap_err("cannot watch SIGHUP")?;
    let mut sigint = signal(SignalKind::interrupt()).wrap_err("cannot watch SIGINT")?;

    let mut guard = TerminalGuard::enter().wrap_err("cannot set up the terminal")?;
    let (key_tx, mut keys) = mpsc::unbounded_channel();
    let input = InputThread::spawn(key_tx)?;

    let mut judge = Judge::new(app.settings().clone()).spawn()?;
    let mut latest = link.snapshots.borrow_and_update().clone();
    let mut clock = SourceClock::new(latest.taken_at);
    // A judge that stopped is seen below, as its results closing.
    judge.send(app.work(latest.clone(), clock.now()));
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut snapshots_open, mut outcomes_open) = (true, true);
    let mut last_draw: Option<Instant> = None;

    let result: Result<()> = loop {
        let frame_due = last_draw.map(|t| t + FRAME).filter(|_| app.needs_redraw());
        tokio::select! {
            ev = keys.recv() => match ev {
                Some(Ok(ev)) => effects.extend(on_event(&mut app, ev)),
                Some(Err(e)) => break Err(eyre!(e).wrap_err("cannot read the terminal")),
                None => break Err(eyre!("terminal input stopped")),
            },
            changed = link.snapshots.changed(), if snapshots_open => match changed {
                Ok(()) => {
                    latest = link.snapshots.borrow_and_update().clone();
                    clock.observe(latest.taken_at);
                    judge.send(app.work(latest.clone(), clock.now()));
                }
                Err(_) => {
                    snapshots_open = false;
                    effects.extend(app.update(Msg::SourceClosed(clock.now())));
                }
            },
            changed = shared.changed(), if shared_open => match changed {
                Ok(()) => {
                    let view = shared.borrow_and_update().clone();
                    effects.extend(app.update(Msg::Shared(view)));
                }
                Err(_) => shared_open = false,
            },
            lease = next_lease(share.as_mut()), if lease_open => match lease {
                Some(o) => effects.extend(app.update(Msg::Lease(o))),
                None => lease_open = false,
            },
            outcome = link.outcomes.recv(), if outcomes_open => match outcome {
                Some(o) => effects.extend(app.update(Msg::Outcome(o))),
                None => outcomes_open = false,
            },
            judged = judge.judged.recv() => match judged {
                Some(j) => {
                    effects.extend(app.update(Msg::Judged(Box::new(j))));
                    judge.free(app.retired());
                }
                None => break Err(eyre!("the judge stopped: nothing observed could be judged any more")),
            },
            _ = tick.tick() => {
                effects.extend(app.update(Msg::Tick(clock.now())));
                judge.send(app.work(latest.clone(), clock.now()));
            }
            _ = sigterm.recv() => break Ok(()),
            _ = sighup.recv() => break Ok(()),
            _ = sigint.recv() => break Ok(()),
            _ = sleep_until(frame_due), if frame_due.is_some() => {}
        }
        // Coalesce keys already queued before drawing.
        while let Ok(Ok(ev)) = keys.try_recv() {
            effects.extend(on_event(&mut app, ev));
        }
        let mut quit = false;
        // A refusal may cause more effects (its journal entry): loop until done.
        while !effects.is_empty() {
            // An action is sent only once its request is journaled.
            let mut unjournaled = None;
            for effect in std::mem::take(&mut effects) {
                match effect {
                    Effect::Journal(ev) => match journal.as_mut().map(|j| j.append_record(&ev)) {
                        Some(Err(e)) => {
                            unjournaled = Some(e.to_string());
                            effects.extend(app.update(Msg::JournalError(e.to_string())));
                        }
                        // Shared only once on disk: the file is the primary record.
                        Some(Ok(record)) => {
                            if let Some(s) = &share {
                                s.publish(&record);
                            }
                        }
                        None => {}
                    },
                    Effect::Adopt(records) => match journal.as_mut().map(|j| j.adopt(&records)) {
                        Some(Err(e)) => {
                            unjournaled = Some(e.to_string());
                            effects.extend(app.update(Msg::JournalError(e.to_string())));
                        }
                        // The topic holds them already: this names the drill
                        // the records that follow belong to.
                        Some(Ok(written)) => {
                            if let Some(s) = &share {
                                written.iter().for_each(|r| s.publish(r));
                            }
                        }
                        None => {}
                    },
                    Effect::Claim(how) => match &share {
                        Some(s) => s.claim(how),
                        None => effects.extend(app.update(Msg::Lease(crate::share::LeaseOutcome::Refused(
                            "this console cannot drive".into(),
                        )))),
                    },
                    Effect::Release => {
                        if let Some(s) = &share {
                            s.release();
                        }
                    }
                    Effect::Dispatch(procedure) if unjournaled.is_some() => {
                        let why = unjournaled.clone().unwrap_or_default();
                        effects.extend(app.update(Msg::Refused(procedure.action, Refusal::Unjournaled(why))));
                    }
                    Effect::Dispatch(procedure) => {
                        let action = procedure.action.clone();
                        if let Err(refusal) = dispatch::dispatch(dispatcher.as_ref(), procedure) {
                            effects.extend(app.update(Msg::Refused(action, refusal)));
                        }
                    }
                    Effect::Quit => quit = true,
                }
            }
        }
        if quit {
            break Ok(());
        }
        if app.needs_redraw() && last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
            let mut measured = None;
            if let Err(e) = guard.terminal.draw(|f| measured = Some(app.draw(f))) {
                break Err(eyre!(e).wrap_err("cannot draw"));
            }
            // Measuring changes nothing on screen: no effects come of it.
            effects.extend(app.update(Msg::Measured(measured.unwrap_or_default())));
            last_draw = Some(Instant::now());
        }
    };
    // Whatever the way out: every journal event is on disk before we return.
    let mut flushed = Ok(());
    for effect in effects {
        if let (Effect::Journal(ev), Some(j)) = (effect, journal.as_mut()) {
            match j.append_record(&ev) {
                Ok(record) => {
                    if let Some(s) = &share {
                        s.publish(&record);
                    }
                }
                Err(e) => flushed = Err(eyre!(e)),
            }
        }
    }
    input.stop();
    drop(guard);
    // A drill in progress keeps its lease (it goes stale, and can be taken
    // over); otherwise give it back. Either way, what is queued is written.
    if let Some(s) = share {
        if !app.drill_in_progress() {
            s.release();
        }
        s.close(Duration::from_secs(3));
    }
    result.and(flushed)
}

async fn next_lease(share: Option<&mut crate::share::ShareDriver>) -> Option<crate::share::LeaseOutcome> {
    match share {
        Some(s) => s.outcomes.recv().await,
        None => std::future::pending().await,
    }
}

fn on_event(app: &mut App, ev: Event) -> Vec<Effect> {
    match ev {
        Event::Key(k) => app.update(Msg::Key(k)),
        Event::Resize(..) => app.update(Msg::Resize),
        _ => Vec::new(),
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// The source's clock, carried forward by the local monotonic clock: a
/// demo world on a virtual clock and a real one are judged alike, and when
/// snapshots stop coming, figures still age.
struct SourceClock {
    base: Ts,
    at: Instant,
}

impl SourceClock {
    fn new(base: Ts) -> Self {
        SourceClock { base, at: Instant::now() }
    }

    fn now(&self) -> Ts {
        self.base + TimeDelta::from_std(self.at.elapsed()).unwrap_or_default()
    }

    fn observe(&mut self, taken_at: Ts) {
        if taken_at > self.now() {
            *self = SourceClock::new(taken_at);
        }
    }
}

/// Reads terminal events on its own thread (crossterm's reads block).
struct InputThread {
    stop: Arc<AtomicBool>,
}

impl InputThread {
    fn spawn(tx: mpsc::UnboundedSender<std::io::Result<Event>>) -> Result<InputThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("kdrill-input".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let ev = match event::poll(Duration::from_millis(250)) {
                        Ok(false) => continue,
                        Ok(true) => event::read(),
                        Err(e) => Err(e),
                    };
                    let failed = ev.is_err();
                    if tx.send(ev).is_err() || failed {
                        break;
                    }
                }
            })
            .wrap_err("cannot start the input thread")?;
        Ok(InputThread { stop })
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
