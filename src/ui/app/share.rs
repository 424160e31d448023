//! The drill shared with other consoles: this console either drives (it
//! holds the lease) or follows the drill the topic shows. Claims go out as
//! effects and come back as `Msg::Lease`; nothing here waits.

use std::sync::Arc;

use crate::drill::{DrillEvent, PlanKind};
use crate::share::{Claim, Driver, LeaseOutcome, SharedDrill};

use super::super::eventlog::Tone;
use super::super::layout::Pane;
use super::super::state::{Confirm, Question};
use super::{App, Effect, Mode};

/// This console's part in the shared drill.
#[derive(Clone, Debug, Default)]
pub struct Sharing {
    /// This console may claim the lease (it is not read-only).
    pub may_drive: bool,
    pub driving: Driving,
    pub shared: Arc<SharedDrill>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Driving {
    #[default]
    No,
    /// A claim is out; what follows when it is won.
    Claiming(ClaimFor),
    /// This console drives; `note` says why the drill is not shared at all.
    Yes { note: Option<String> },
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClaimFor {
    Start(PlanKind),
    Resume,
    /// Carry the shared drill on, from the stale holder named, if any.
    TakeOver(Option<Driver>),
}

impl Sharing {
    pub fn drives(&self) -> bool {
        matches!(self.driving, Driving::Yes { .. })
    }

    /// One line for the drill pane: who drives, and where the drill is
    /// shared; `true` when it needs attention.
    pub fn status(&self, now: Option<crate::model::Ts>, timeout: chrono::TimeDelta) -> (bool, String) {
        let sh = &self.shared;
        let feeds: Vec<String> = crate::model::Side::BOTH
            .into_iter()
            .map(|s| match sh.feed(s) {
                crate::share::Feed::Following => format!("{} ✓", s.label()),
                other => format!("{} {}", s.label(), other.describe()),
            })
            .collect();
        let topic = format!("drill topic: {}", feeds.join(" · "));
        if let Some(why) = &sh.lease_disagreement {
            return (true, format!("CONTESTED: {why} · {topic}"));
        }
        match &self.driving {
            Driving::Yes { note: Some(note) } => (true, format!("you drive · NOT SHARED: {note}")),
            Driving::Yes { note: None } if sh.feeds.iter().all(crate::share::Feed::is_following) => {
                (false, format!("you drive · {topic}"))
            }
            Driving::Yes { note: None } => {
                (true, format!("you drive · {topic} · a side out of reach is caught up when it returns"))
            }
            Driving::Claiming(_) => (false, format!("taking the drill lease… · {topic}")),
            Driving::No => match &sh.lease {
                Some(h) => {
                    let stale = now.is_some_and(|n| sh.lease_is_stale(n, timeout));
                    let since = h.since.format("%H:%M:%S UTC");
                    let lease = if stale { " · LEASE STALE: :takeover offered" } else { "" };
                    (stale, format!("driven by {} since {since}{lease} · {topic}", h.driver.label()))
                }
                None if sh.is_shared() => (false, format!("nobody drives · {topic}")),
                None => (true, format!("drill not shared · {topic}")),
            },
        }
    }

    /// Who drives the shared drill, in words, when it is not this console.
    pub fn driven_by(&self) -> Option<String> {
        if self.drives() {
            return None;
        }
        let h = self.shared.lease.as_ref()?;
        Some(format!("{} since {}", h.driver.label(), h.since.format("%H:%M:%S UTC")))
    }
}

impl App {
    /// The runtime shares the drill; `may_drive`: it can claim the lease.
    pub(super) fn on_sharing(&mut self, may_drive: bool) {
        let mut sharing = Sharing { may_drive, ..Sharing::default() };
        if may_drive && self.drill.in_progress() {
            sharing.driving = Driving::Claiming(ClaimFor::Resume);
            self.effects.push(Effect::Claim(Claim::Drive));
            self.note(Tone::Info, "resuming: taking the drill lease…");
        } else if self.drill.in_progress() {
            // A read-only console never drives what its file holds.
            self.drill.drill = None;
            self.drill.view = None;
        }
        self.share = Some(sharing);
        self.follow();
    }

    pub(super) fn on_shared(&mut self, shared: Arc<SharedDrill>) {
        let Some(sharing) = self.share.as_mut() else { return };
        sharing.shared = shared;
        // Driving, yet the topic names another holder: taken over.
        if sharing.drives()
            && let Some(h) = sharing.shared.lease.as_ref()
            && sharing.shared.is_shared()
            && self.me.as_ref().is_some_and(|me| *me != h.driver)
            && h.took_over_from.as_ref() == self.me.as_ref()
        {
            sharing.driving = Driving::No;
            let text = format!("the drill was taken over by {}: this console now follows it", h.driver.label());
            self.note(Tone::Alarm, text);
        }
        self.follow();
    }

    pub(super) fn on_lease(&mut self, outcome: LeaseOutcome) {
        let Some(sharing) = self.share.as_mut() else { return };
        let Driving::Claiming(what) = std::mem::take(&mut sharing.driving) else { return };
        match outcome {
            LeaseOutcome::Refused(why) => {
                sharing.driving = Driving::No;
                if what == ClaimFor::Resume {
                    self.note(Tone::Alarm, format!("{why}: this console follows; its own journal stays as it was"));
                    self.drill.drill = None;
                    self.drill.view = None;
                    self.follow();
                } else {
                    self.note(Tone::Warn, why);
                }
            }
            LeaseOutcome::Won { shared, note } => {
                sharing.driving = Driving::Yes { note: note.clone().filter(|_| !shared) };
                self.drill.followed = None;
                match what {
                    ClaimFor::Start(kind) => self.start_now(kind),
                    ClaimFor::Resume => self.note(Tone::Info, "this console drives the drill"),
                    ClaimFor::TakeOver(from) => self.adopt(from.as_ref()),
                }
                // Said last: it outweighs "started".
                match note {
                    Some(note) if shared => self.note(Tone::Warn, format!("drill {note}")),
                    Some(note) => self.note(Tone::Warn, format!("drill not shared: {note}")),
                    None => {}
                }
            }
        }
        self.drill.refresh_gates(self.live.as_ref());
    }

    /// With a shared drill, starting goes through the lease: true when this
    /// handled the start (claimed, or refused in words); false when the
    /// console drives already (or nothing is shared) and may start now.
    pub(super) fn claim_to_start(&mut self, kind: PlanKind) -> bool {
        let Some(sharing) = self.share.as_mut() else { return false };
        if sharing.drives() {
            return false;
        }
        if matches!(sharing.driving, Driving::Claiming(_)) {
            self.note(Tone::Warn, "waiting for the drill lease");
            return true;
        }
        let shared = sharing.shared.clone();
        let now = self.now.unwrap_or_default();
        let timeout = self.lease_timeout;
        let unfinished = shared.run.as_ref().and_then(|r| r.replay().ok()).is_some_and(|d| !d.is_over());
        if let Some(h) = &shared.lease {
            let who = h.driver.label();
            if !shared.lease_is_stale(now, timeout) {
                self.note(Tone::Warn, format!("the drill is driven by {who}: this console follows it"));
                return true;
            }
            if unfinished {
                self.note(
                    Tone::Warn,
                    format!("{who} stopped renewing its lease mid-drill: :takeover to carry its drill on"),
                );
                return true;
            }
        } else if unfinished {
            self.note(Tone::Warn, "the shared drill is unfinished and nobody drives it: :takeover to carry it on");
            return true;
        }
        if let Some(why) = &shared.lease_disagreement {
            self.note(Tone::Warn, format!("cannot drive while {why}"));
            return true;
        }
        sharing.driving = Driving::Claiming(ClaimFor::Start(kind));
        let claim = match shared.lease.as_ref().filter(|_| shared.lease_is_stale(now, timeout)) {
            Some(h) => Claim::TakeOver(h.driver.clone()),
            None => Claim::Drive,
        };
        self.effects.push(Effect::Claim(claim));
        self.note(Tone::Info, "taking the drill lease…");
        true
    }

    /// `:takeover`: asks for the stale holder's `user@host` to be typed.
    pub(super) fn ask_takeover(&mut self) {
        let Some(sharing) = self.share.as_ref().filter(|s| s.may_drive) else {
            self.note(Tone::Warn, crate::ui::keymap::READ_ONLY_DRILL);
            return;
        };
        if sharing.drives() {
            self.note(Tone::Warn, "this console already drives the drill");
            return;
        }
        let shared = sharing.shared.clone();
        let now = self.now.unwrap_or_default();
        match (&shared.lease, shared.run.is_some()) {
            (Some(h), _) if !shared.lease_is_stale(now, self.lease_timeout) => {
                let text = format!(
                    "{} renews its lease: a takeover is offered only after {} s without renewal",
                    h.driver.label(),
                    self.lease_timeout.num_seconds()
                );
                self.note(Tone::Warn, text);
            }
            (Some(h), true) => self.mode = Mode::Confirm(Question::typed(Confirm::TakeOver, h.driver.user_at_host())),
            (None, true) => self.mode = Mode::Confirm(Question::typed(Confirm::TakeOver, "takeover")),
            (_, false) => self.note(Tone::Warn, "no shared drill to take over"),
        }
    }

    /// The typed takeover was confirmed: claim the lease from its holder.
    pub(super) fn take_over(&mut self) {
        let Some(sharing) = self.share.as_mut() else { return };
        let from = sharing.shared.lease.as_ref().map(|h| h.driver.clone());
        let claim = match &from {
            Some(d) => Claim::TakeOver(d.clone()),
            None => Claim::Drive,
        };
        sharing.driving = Driving::Claiming(ClaimFor::TakeOver(from));
        self.effects.push(Effect::Claim(claim));
        self.note(Tone::Info, "taking the drill over…");
    }

    /// Carries the shared drill on from its records: the journal starts
    /// afresh from them, then records the takeover.
    fn adopt(&mut self, from: Option<&Driver>) {
        let Some(records) = self.share.as_ref().and_then(|s| s.shared.run.as_ref()).map(|r| r.records.clone()) else {
            return;
        };
        let Ok(mut drill) = crate::share::view::replay(&records) else { return };
        let Some(now) = self.now else { return };
        self.effects.push(Effect::Adopt(records));
        let from = from.map_or_else(|| "nobody (the lease was free)".to_owned(), Driver::label);
        let ev = DrillEvent::TakenOver { from: from.clone(), at: now };
        if let Err(why) = drill.record_decided(ev.clone()) {
            self.note(Tone::Alarm, format!("cannot take the drill over: {why}"));
            return;
        }
        self.drill.view = Some(drill.view());
        self.drill.drill = Some(drill);
        self.journal_event(ev);
        self.focus = Pane::Drill;
        self.after_drill_change();
        self.note(Tone::Warn, format!("drill taken over from {from}: this console drives it now"));
    }

    /// A console that does not drive shows the shared drill, replayed.
    pub(super) fn follow(&mut self) {
        let Some(sharing) = self.share.as_ref() else { return };
        if sharing.drives() || matches!(sharing.driving, Driving::Claiming(ClaimFor::Resume)) {
            return;
        }
        let who = sharing.driven_by();
        let run = sharing.shared.run.clone();
        self.drill.followed = Some(match &who {
            Some(who) => format!("driven by {who}: this console follows"),
            None => "nobody drives the shared drill: this console follows".into(),
        });
        if let Some(run) = run {
            match run.replay() {
                Ok(d) => {
                    let first = self.drill.drill.is_none();
                    self.drill.view = Some(d.view());
                    self.drill.drill = Some(d);
                    if first {
                        self.focus = Pane::Drill;
                    }
                }
                Err(why) => self.note(Tone::Warn, format!("the shared drill cannot be shown: {why}")),
            }
        } else if self.drill.drill.is_some() && self.drill.followed.is_some() {
            self.drill.drill = None;
            self.drill.view = None;
        }
        self.drill.refresh_gates(self.live.as_ref());
    }

    /// The drill is over: give the lease back.
    pub(super) fn release_if_over(&mut self) {
        let Some(sharing) = self.share.as_mut() else { return };
        if sharing.drives() && !self.drill.in_progress() {
            sharing.driving = Driving::No;
            self.effects.push(Effect::Release);
        }
    }
}
