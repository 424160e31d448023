//! The report as Markdown for a ticket: a short summary table first, then
//! the timeline, evidence, RTO, RPO, alarms, confirmations and actions.
//! Times are UTC; tables keep the time of day, the summary the full date.

use std::fmt::Write;

use crate::model::Ts;

use super::{Outcome, Report, StepReport};

pub fn to_markdown(r: &Report) -> String {
    let mut out = String::new();
    summary(&mut out, r);
    preflight_override(&mut out, r);
    timeline(&mut out, r);
    evidence(&mut out, r);
    rto(&mut out, r);
    rpo(&mut out, r);
    alarms(&mut out, r);
    confirmations(&mut out, r);
    actions(&mut out, r);
    overrides(&mut out, r);
    takeovers(&mut out, r);
    journal(&mut out, r);
    out
}

fn date(t: Ts) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn time(t: Ts) -> String {
    t.format("%H:%M:%S").to_string()
}

fn opt_time(t: Option<Ts>) -> String {
    t.map_or("—".into(), time)
}

/// `4 s`, `2 min 05 s`, `1 h 02 min`.
fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
}

fn opt_duration(ms: Option<i64>) -> String {
    ms.map_or("—".into(), duration)
}

fn seconds(s: Option<f64>) -> String {
    s.map_or("—".into(), |s| duration((s * 1000.0).round() as i64))
}

fn records(n: Option<u64>) -> String {
    n.map_or("unknown".into(), |n| format!("{n}"))
}

/// Pipes would break a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn summary(out: &mut String, r: &Report) {
    let state = match &r.outcome {
        Outcome::Finished => "finished".to_owned(),
        Outcome::Aborted { .. } => "ABORTED".to_owned(),
        Outcome::InProgress => "in progress (the journal ends mid-drill)".to_owned(),
    };
    let _ = writeln!(out, "# {} — {state}\n", r.drill);
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Started | {} |", date(r.started_at));
    let ended = match &r.outcome {
        Outcome::Finished => format!("finished {}", date(r.ended_at)),
        Outcome::Aborted { reason } => format!("aborted {}: {}", date(r.ended_at), cell(reason)),
        Outcome::InProgress => format!("last event {}", date(r.ended_at)),
    };
    let _ = writeln!(out, "| Ended | {ended} |");
    let rto = match r.rto.ms {
        Some(ms) => format!(
            "{} (waiting on operators {}, on gates {})",
            duration(ms),
            duration(r.rto.operator_ms),
            duration(r.rto.gate_ms)
        ),
        None => "not reached (applications never observed serving on the new side)".into(),
    };
    let _ = writeln!(out, "| RTO | {rto} |");
    let _ = writeln!(out, "| RPO | {} |", rpo_line(r));
    let raised = r.alarms.len();
    let open = r.alarms.iter().filter(|a| a.cleared_at.is_none()).count();
    let alarms = match (raised, open) {
        (0, _) => "none".to_owned(),
        (n, 0) => format!("{n} raised, all cleared"),
        (n, open) => format!("**{n} raised, {open} not cleared**"),
    };
    let _ = writeln!(out, "| Alarms | {alarms} |");
    let operators = if r.operators.is_empty() { "—".to_owned() } else { r.operators.join(", ") };
    let _ = writeln!(out, "| Operators | {} |", cell(&operators));
    let overrides = if r.overrides.is_empty() { "none".to_owned() } else { format!("**{}**", r.overrides.len()) };
    let _ = writeln!(out, "| Overrides | {overrides} |");
    let _ = writeln!(out, "| Hold window | {} |", duration(r.hold_ms));
    let config = if r.config.is_empty() { "not recorded" } else { r.config.as_str() };
    let _ = writeln!(out, "| Configuration | `{config}` |");
    let _ = writeln!(out);
}

fn rpo_line(r: &Report) -> String {
    let p = &r.rpo;
    match (p.observed_at, p.records) {
        (None, _) => format!("not measured: replication {} was never observed stopped", p.flow),
        (Some(at), Some(0)) => format!("0 records (replication {} stopped, observed {})", p.flow, time(at)),
        (Some(at), Some(n)) => format!(
            "**⚠ {n} records not replicated, spanning {}** (replication {} stopped, observed {})",
            seconds(p.seconds),
            p.flow,
            time(at)
        ),
        (Some(at), None) => {
            format!("**⚠ unknown: lag unknown when replication {} stopped (observed {})**", p.flow, time(at))
        }
    }
}

fn timeline(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## Timeline\n");
    let _ = writeln!(out, "| # | Step | Opened | Done | Duration | On operator | On gate | By |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for s in &r.steps {
        let by = if s.by.is_empty() { "—".to_owned() } else { s.by.join(", ") };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            s.number,
            cell(&s.title),
            opt_time(s.opened_at),
            opt_time(s.done_at),
            opt_duration(s.duration_ms),
            opt_duration(s.operator_ms),
            opt_duration(s.gate_ms),
            cell(&by)
        );
    }
    let _ = writeln!(out);
}

fn evidence(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## Gate evidence\n");
    let done: Vec<&StepReport> = r.steps.iter().filter(|s| s.done_at.is_some()).collect();
    if done.is_empty() {
        let _ = writeln!(out, "No gate opened.\n");
        return;
    }
    for s in done {
        if s.overridden {
            let _ = writeln!(out, "Step {}: **OVERRIDDEN** {} while failing:\n", s.number, opt_time(s.done_at));
            for e in &s.evidence {
                let _ = writeln!(out, "- ✗ {}: {} (observed {})", e.label, e.observed, opt_time(e.at));
            }
            let _ = writeln!(out);
            continue;
        }
        let held = s.held_since.map_or(String::new(), |t| format!(", holding since {}", time(t)));
        let _ = writeln!(out, "Step {}: gate opened {}{held}\n", s.number, opt_time(s.done_at));
        for e in &s.evidence {
            let _ = writeln!(out, "- {}: {} (observed {})", e.label, e.observed, opt_time(e.at));
        }
        if !s.lag.is_empty() {
            let _ = writeln!(out, "- lag per topic:");
            for t in &s.lag {
                let _ = writeln!(
                    out,
                    "  - `{}`: {} records over {} partitions, oldest {} (observed {})",
                    t.topic,
                    records(t.records),
                    t.partitions,
                    seconds(t.seconds),
                    opt_time(t.at)
                );
            }
        }
        let _ = writeln!(out);
    }
}

fn rto(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## RTO\n");
    let x = &r.rto;
    match (x.from, x.to, x.ms) {
        (Some(from), Some(to), Some(ms)) => {
            let _ = writeln!(
                out,
                "{} — from {} ({}) to {} (applications first observed serving on the new active side).",
                duration(ms),
                time(from),
                x.from_source.as_deref().unwrap_or("?"),
                time(to)
            );
            let _ = writeln!(
                out,
                "Waiting on operators: {}; on gates (observation and hold): {}.\n",
                duration(x.operator_ms),
                duration(x.gate_ms)
            );
        }
        (Some(from), _, _) => {
            let _ = writeln!(
                out,
                "Not reached: applications stopped at {} ({}) were never observed serving on the new active side.\n",
                time(from),
                x.from_source.as_deref().unwrap_or("?")
            );
        }
        _ => {
            let _ = writeln!(out, "Not started: no application stop on the old active side was recorded.\n");
        }
    }
}

fn rpo(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## RPO\n");
    let p = &r.rpo;
    let _ = writeln!(out, "{}\n", rpo_line(r));
    if p.topics.is_empty() {
        return;
    }
    let _ = writeln!(out, "| Topic | Partitions | Records not replicated | Oldest (span) |");
    let _ = writeln!(out, "|---|---|---|---|");
    for t in &p.topics {
        let _ = writeln!(out, "| `{}` | {} | {} | {} |", t.topic, t.partitions, records(t.records), seconds(t.seconds));
    }
    let _ = writeln!(out);
}

fn alarms(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## Alarms\n");
    if r.alarms.is_empty() {
        let _ = writeln!(out, "No rule of the runbook was broken during the drill.\n");
        return;
    }
    let _ = writeln!(out, "| Rule | Subject | Raised | Cleared | Detail |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for a in &r.alarms {
        let cleared = a.cleared_at.map_or("**not cleared**".to_owned(), time);
        let subject = if a.subject.is_empty() { "—" } else { a.subject.as_str() };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {cleared} | {} |",
            cell(&a.statement),
            cell(subject),
            time(a.raised_at),
            cell(&a.detail)
        );
    }
    let _ = writeln!(out);
}

fn confirmations(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## Manual confirmations\n");
    if r.confirmations.is_empty() {
        let _ = writeln!(out, "None.\n");
        return;
    }
    let _ = writeln!(out, "| Step | Item | At | By |");
    let _ = writeln!(out, "|---|---|---|---|");
    for c in &r.confirmations {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            c.step,
            cell(&c.item),
            time(c.at),
            cell(c.by.as_deref().unwrap_or("—"))
        );
    }
    let _ = writeln!(out);
}

/// Only when the drill changed drivers.
fn takeovers(out: &mut String, r: &Report) {
    if r.takeovers.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Takeovers\n");
    let _ = writeln!(out, "| At | From (lease stale) | By |");
    let _ = writeln!(out, "|---|---|---|");
    for t in &r.takeovers {
        let _ = writeln!(out, "| {} | {} | {} |", time(t.at), cell(&t.from), cell(t.by.as_deref().unwrap_or("—")));
    }
    let _ = writeln!(out);
}

fn actions(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## Actions\n");
    if r.actions.is_empty() {
        let _ = writeln!(out, "None requested through kdrill.\n");
        return;
    }
    let _ = writeln!(out, "| Step | Request | Requested | By | Result | At |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for a in &r.actions {
        let request = serde_json::to_string(&a.request).unwrap_or_default();
        let (result, at) = match &a.result {
            Some(x) if x.ok => (format!("ok: {}", x.detail), time(x.at)),
            Some(x) => (format!("**failed: {}**", x.detail), time(x.at)),
            None => ("no result recorded".to_owned(), "—".to_owned()),
        };
        let _ = writeln!(
            out,
            "| {} | {} `{}` | {} | {} | {} | {at} |",
            a.step,
            cell(&a.label),
            request,
            time(a.requested_at),
            cell(a.by.as_deref().unwrap_or("—")),
            cell(&result)
        );
    }
    let _ = writeln!(out);
    for a in r.actions.iter().filter(|a| !a.requests.is_empty()) {
        let typed = a.confirmed_as.as_deref().map(|t| format!(", confirmed by typing `{t}`")).unwrap_or_default();
        let _ = writeln!(out, "Step {} requests ({}{typed}):\n", a.step, time(a.requested_at));
        for line in &a.requests {
            let _ = writeln!(out, "    {line}");
        }
        for res in a.result.iter().flat_map(|x| &x.results) {
            let mark = if res.ok { "ok" } else { "FAILED" };
            let _ = writeln!(out, "    → {mark}: {}", res.detail);
        }
        let _ = writeln!(out);
    }
    for e in &r.mirror_ends {
        let _ = match &e.unknown {
            None => writeln!(
                out,
                "Where {} ended on {}: {} partitions recorded at {}.\n",
                e.flow,
                e.flow.target,
                e.partitions,
                time(e.at)
            ),
            Some(why) => writeln!(out, "Where {} ended on {}: unknown ({why}).\n", e.flow, e.flow.target),
        };
    }
}

fn overrides(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## Overrides\n");
    if r.overrides.is_empty() {
        let _ = writeln!(out, "None: every action went through kdrill and its gate (kdrill cannot force a gate).\n");
        return;
    }
    for o in &r.overrides {
        let _ = writeln!(out, "- {o}");
    }
    let _ = writeln!(out);
}

fn journal(out: &mut String, r: &Report) {
    let j = &r.journal;
    let _ = writeln!(out, "## Journal\n");
    let written = match (j.first_written_at, j.last_written_at) {
        (Some(a), Some(b)) => format!(", written {} to {}", date(a), date(b)),
        _ => String::new(),
    };
    let _ = writeln!(out, "{} records{written}.", j.records);
    if j.torn_lines.is_empty() {
        let _ = writeln!(out, "No torn line.");
    } else {
        let lines: Vec<String> = j.torn_lines.iter().map(|l| l.to_string()).collect();
        let _ = writeln!(out, "**Torn by a crash mid-write (not part of the drill): line {}.**", lines.join(", "));
    }
}

/// A pre-flight passed by override, right under the summary: the drill
/// began on conditions kdrill did not observe true.
fn preflight_override(out: &mut String, r: &Report) {
    let Some(o) = &r.preflight_override else { return };
    let by = o.by.as_deref().unwrap_or("unknown");
    let _ = writeln!(
        out,
        "> **⚠ PRE-FLIGHT OVERRIDDEN** at {} by {by} (typed `{}`), while failing:\n>",
        time(o.at),
        o.confirmed_as
    );
    for e in &o.failed {
        let _ = writeln!(out, "> - {}: {} (observed {})", e.label, e.observed, opt_time(e.at));
    }
    let _ = writeln!(out);
}
