//! The journal under crashes: a child process runs a scripted demo drill,
//! writing through the real `Journal`, and is SIGKILLed at random moments
//! (and its last line torn by hand, as a crash mid-write leaves it); every
//! restart must resume at the right step with every acknowledged event on
//! disk and no step done twice. Then torn writes at every byte offset, and
//! the journals kdrill must refuse.

mod drill_script;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kdrill::drill::journal::{self, Journal, JournalError, Record, Who};
use kdrill::drill::{Drill, DrillEvent, PlanKind};

use drill_script::{Script, alice};

const CHILD_ENV: &str = "KDRILL_TEST_CHILD_JOURNAL";

/// The child's side: runs (or resumes) the scripted drill on the journal
/// named in its environment, saying on stdout what it found and each event
/// acknowledged (written and synced). Without the variable: nothing.
#[test]
fn child_drill_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else { return };
    let path = PathBuf::from(path);
    let (mut journal, recovered) = Journal::open(&path, alice()).unwrap_or_else(|e| panic!("{e}"));
    if let Some(torn) = recovered.torn {
        println!("torn {}", torn.line);
    }
    let events = recovered.events();
    let mut script = if events.is_empty() {
        let s = Script::new(PlanKind::Switchover, "fnv1a64:test");
        for ev in s.drill.events().to_vec() {
            let seq = journal.append(&ev).unwrap_or_else(|e| panic!("{e}"));
            println!("ack {seq}");
        }
        s
    } else {
        let s = Script::resume(&events);
        println!("resumed {:?}", s.drill.current());
        s
    };
    while !script.drill.is_over() {
        for ev in script.tick() {
            let seq = journal.append(&ev).unwrap_or_else(|e| panic!("{e}"));
            println!("ack {seq}");
        }
        std::thread::sleep(Duration::from_millis(8));
    }
    println!("finished");
}

/// A tiny deterministic generator: the same kill points every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// When the kill is timed from.
#[derive(Clone, Copy, PartialEq)]
enum From {
    /// The child's start: it may not have opened the journal yet.
    Spawn,
    /// Its first line, once it opened the journal: a random point in the
    /// drill (maybe while a gate holds), however long a loaded machine
    /// takes to start a process.
    Journal,
    /// The first event it wrote: the drill has moved since the last crash.
    Ack,
}

/// Runs the child until it finishes or `kill_after` passes (then SIGKILL);
/// returns what it printed and whether it finished.
fn run_child(path: &Path, kill_after: Duration, from: From) -> (Vec<String>, bool) {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(exe)
        .args(["child_drill_writer", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the child: {e}"));
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let reader = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest's "test name ... " precedes the first line printed.
                let line = line.split_once(" ... ").map_or(line.as_str(), |(_, rest)| rest).to_owned();
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        })
    };
    // Bounded even for a child that never prints.
    let mut deadline = Instant::now() + if from == From::Spawn { kill_after } else { Duration::from_secs(30) };
    let mut opened = false;
    let exited = loop {
        if let Ok(Some(_)) = child.try_wait() {
            break true;
        }
        let seen = |l: &String| if from == From::Ack { l.starts_with("ack ") } else { said_opened(l) };
        if from != From::Spawn && !opened && lines.lock().unwrap_or_else(|e| e.into_inner()).iter().any(seen) {
            opened = true;
            deadline = Instant::now() + kill_after;
        }
        if Instant::now() >= deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !exited {
        // Child::kill sends SIGKILL on Unix: no destructor, no flush runs.
        let _ = child.kill();
    }
    let _ = child.wait();
    let _ = reader.join();
    let lines = lines.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let finished = lines.iter().any(|l| l == "finished");
    (lines, finished)
}

/// A line the child prints once it has opened the journal.
fn said_opened(line: &str) -> bool {
    line.starts_with("torn ") || line.starts_with("resumed ") || line.starts_with("ack ")
}

fn acked(lines: &[String]) -> u64 {
    lines.iter().filter_map(|l| l.strip_prefix("ack ")?.parse().ok()).max().unwrap_or(0)
}

/// No step completed twice, no action requested twice for a step.
fn assert_nothing_repeated(records: &[Record]) {
    let mut done = BTreeSet::new();
    let mut requested = BTreeSet::new();
    for r in records {
        match &r.event {
            DrillEvent::StepCompleted { step, .. } => assert!(done.insert(*step), "step {step} completed twice"),
            DrillEvent::ActionRequested { step, .. } => {
                assert!(requested.insert(*step), "step {step}'s action requested twice")
            }
            _ => {}
        }
    }
}

#[test]
fn sigkill_at_random_points_resumes_without_loss_or_repeat() {
    let dir = drill_script::temp_dir("sigkill");
    let path = dir.join("journal.jsonl");
    let mut rng = Lcg(20_260_314);
    let mut expect_torn: Option<usize> = None;
    let mut finished = false;
    let mut kills = 0;
    let mut tears = 0;
    let mut torn_at = Vec::new();
    for round in 0..60 {
        let before = journal::read(&path).ok();
        let expect_step = before.as_ref().filter(|r| !r.records.is_empty()).map(|r| {
            let d = Drill::replay(&r.events()).unwrap_or_else(|e| panic!("{e}"));
            d.current()
        });
        // Late rounds let the child finish. Otherwise it is killed while it
        // may still be starting, at a random point after it opened the
        // journal, or soon after it wrote: the drill moves between crashes.
        let (kill_after, from) = match round {
            50.. => (Duration::from_secs(60), From::Journal),
            _ if round % 5 == 4 => (Duration::from_millis(5 + rng.next(100)), From::Spawn),
            _ if round % 5 == 2 => (Duration::from_millis(rng.next(400)), From::Journal),
            _ => (Duration::from_millis(rng.next(100)), From::Ack),
        };
        let (lines, done) = run_child(&path, kill_after, from);
        let started = lines.iter().any(|l| said_opened(l));
        match expect_torn.take() {
            Some(line) if started => {
                assert!(
                    lines.contains(&format!("torn {line}")),
                    "round {round}: torn line {line} not reported: {lines:?}"
                )
            }
            // Killed before it could open the journal: next time.
            Some(line) => expect_torn = Some(line),
            None => {}
        }
        if let Some(step) = expect_step
            && lines.iter().any(|l| l.starts_with("resumed "))
        {
            assert!(lines.contains(&format!("resumed {step:?}")), "round {round}: expected {step:?}: {lines:?}");
        }
        let after = journal::read(&path).unwrap_or_else(|e| panic!("round {round}: {e}"));
        // Sequence numbers have no gaps: every acknowledged one is there.
        let acked = acked(&lines);
        assert!(
            after.records.len() as u64 >= acked,
            "round {round}: acknowledged {acked}, on disk {}",
            after.records.len()
        );
        if let Some(before) = &before {
            assert_eq!(after.records[..before.records.len()], before.records[..], "round {round}: history rewritten");
        }
        assert_nothing_repeated(&after.records);
        if done {
            finished = true;
            break;
        }
        kills += 1;
        // A crash mid-write, as it would leave the file: part of a record.
        let bytes = std::fs::read(&path).unwrap_or_default();
        eprintln!(
            "R{round} started={started} acks={} nl={} torn={expect_torn:?} lines={:?}",
            lines.iter().filter(|l| l.starts_with("ack")).count(),
            bytes.last() == Some(&b'\n'),
            lines.iter().skip(2).take(3).collect::<Vec<_>>()
        );
        // Whenever the last tear was reported and a child has written
        // since: a whole last line to tear.
        if expect_torn.is_none() && bytes.last() == Some(&b'\n') {
            let last = bytes[..bytes.len() - 1].rsplit(|b| *b == b'\n').next().unwrap_or_default().to_vec();
            let cut = 1 + rng.next(last.len() as u64 - 1) as usize;
            let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap_or_else(|e| panic!("{e}"));
            f.write_all(&last[..cut]).unwrap_or_else(|e| panic!("{e}"));
            expect_torn = Some(bytes.iter().filter(|b| **b == b'\n').count() + 1);
            torn_at.extend(expect_torn);
            tears += 1;
        }
    }
    eprintln!("{kills} kills, {tears} torn lines");
    assert!(finished, "the drill never finished");
    assert!(kills >= 5 && tears >= 2, "too few crashes to mean anything: {kills} kills, {tears} tears");
    let all = journal::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let drill = Drill::replay(&all.events()).unwrap_or_else(|e| panic!("{e}"));
    assert!(drill.is_finished());
    // A tear the finishing child found with nothing left to write is the
    // file's last line: no record comes after it to name it.
    let ends_torn = std::fs::read(&path).unwrap_or_default().last() != Some(&b'\n');
    if ends_torn {
        torn_at.pop();
    }
    let lines: Vec<_> = all.records.iter().filter_map(|r| r.after_torn_line).collect();
    assert_eq!(lines, torn_at, "every torn line named by the record after it");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every point a crash can fall between two records, the drill's own
/// decisions included (a step's completion and the record written with
/// it): resumed there, the drill runs to its end. A record lost for good
/// would leave a gate unknown forever, which the random kills above find
/// only by chance.
#[test]
fn a_crash_between_any_two_records_resumes_to_the_end() {
    let mut script = Script::new(PlanKind::Switchover, "fnv1a64:test");
    let mut all = script.drill.events().to_vec();
    all.extend(script.run(600));
    assert!(script.drill.is_finished(), "the uninterrupted drill finishes");
    let took = all.last().map(DrillEvent::at).unwrap_or_default() - all[0].at();
    for k in 1..all.len() {
        let mut resumed = Script::resume(&all[..k]);
        let mut ticks = 0;
        while !resumed.drill.is_over() && ticks <= took.num_seconds() {
            resumed.tick();
            ticks += 1;
        }
        assert!(
            resumed.drill.is_finished(),
            "crashed after record {k} ({:?}): stuck at {:?}",
            all[k - 1],
            resumed.drill.view().current_step()
        );
    }
}

/// A short journal written through `Journal`: its bytes and record count.
fn written_journal(dir: &Path) -> (PathBuf, Vec<u8>, usize) {
    let path = dir.join("journal.jsonl");
    let mut script = Script::new(PlanKind::Switchover, "fnv1a64:test");
    let (mut j, _) = Journal::open(&path, alice()).unwrap_or_else(|e| panic!("{e}"));
    let mut events = script.drill.events().to_vec();
    while !script.drill.events().iter().any(|e| matches!(e, DrillEvent::StepCompleted { step: 0, .. })) {
        events.extend(script.tick());
    }
    for ev in &events {
        j.append(ev).unwrap_or_else(|e| panic!("{e}"));
    }
    let bytes = std::fs::read(&path).unwrap_or_default();
    (path, bytes, events.len())
}

#[test]
fn a_torn_last_line_at_any_byte_is_reported_then_named_and_kept() {
    let dir = drill_script::temp_dir("torn");
    let (path, bytes, n) = written_journal(&dir);
    let last_start = bytes[..bytes.len() - 1].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    for cut in last_start + 1..bytes.len() - 1 {
        std::fs::write(&path, &bytes[..cut]).unwrap_or_else(|e| panic!("{e}"));
        let r = journal::read(&path).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(r.records.len(), n - 1, "cut at {cut}");
        assert_eq!(r.torn.map(|t| t.line), Some(n), "cut at {cut}: the torn line is reported with its number");
    }
    // Complete but for its newline: a whole record, not torn.
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap_or_else(|e| panic!("{e}"));
    let r = journal::read(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.records.len(), r.torn), (n, None));

    // Resuming: the next record names the torn line, which stays in place.
    let cut = last_start + 7;
    std::fs::write(&path, &bytes[..cut]).unwrap_or_else(|e| panic!("{e}"));
    let (mut j, r) = Journal::open(&path, alice()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.torn.map(|t| t.line), Some(n));
    let drill = Drill::replay(&r.events()).unwrap_or_else(|e| panic!("{e}"));
    let now = r.events().last().map(DrillEvent::at).unwrap_or_default();
    let mut drill = drill;
    let ev = drill.abort("test", now).unwrap_or_else(|| panic!("abort"));
    assert_eq!(j.append(&ev).ok(), Some(n as u64), "the torn record's number is reused: it was never acknowledged");
    let r = journal::read(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.records.len(), r.torn), (n, None));
    assert_eq!(r.records.last().and_then(|x| x.after_torn_line), Some(n));
    let text = std::fs::read(&path).unwrap_or_default();
    assert!(text.starts_with(&bytes[..cut]), "the fragment is kept for the audit");
    let _ = std::fs::remove_dir_all(&dir);
}

fn refused(path: &Path, text: &[u8]) -> JournalError {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
    let read = journal::read(path).err().unwrap_or_else(|| panic!("{} was read", String::from_utf8_lossy(text)));
    let opened = Journal::open(path, alice()).err().unwrap_or_else(|| panic!("opened"));
    assert_eq!(read.to_string(), opened.to_string());
    read
}

#[test]
fn foreign_damaged_and_newer_journals_are_refused_with_file_and_line() {
    let dir = drill_script::temp_dir("refused");
    let (path, bytes, _) = written_journal(&dir);
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let join = |ls: &[&[u8]]| ls.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect::<Vec<u8>>();
    let other = dir.join("other.jsonl");

    let e = refused(&other, b"hello, world\n");
    assert!(matches!(e, JournalError::NotKdrill { line: 1, .. }), "{e}");
    assert!(e.to_string().contains("other.jsonl line 1 is not a kdrill journal"), "{e}");
    let e = refused(&other, b"{\"event\":\"started\"}\n");
    assert!(matches!(e, JournalError::NotKdrill { line: 1, .. }), "{e}");

    let newer = String::from_utf8_lossy(lines[0]).replacen("\"kdrill_journal\":1", "\"kdrill_journal\":2", 1);
    let e = refused(&other, format!("{newer}\n").as_bytes());
    assert!(matches!(e, JournalError::Newer { line: 1, format: 2, .. }), "{e}");
    assert!(e.to_string().contains("newer kdrill"), "{e}");

    // A torn line in the middle, not named by the next record: damage.
    let mut damaged = lines.clone();
    damaged[1] = &lines[1][..10];
    let e = refused(&other, &join(&damaged));
    assert!(matches!(e, JournalError::Damaged { line: 2, .. }), "{e}");
    // A record missing: its sequence number gives it away.
    let mut gap = lines.clone();
    gap.remove(1);
    let e = refused(&other, &join(&gap));
    assert!(matches!(e, JournalError::Damaged { line: 2, .. }), "{e}");
    assert!(e.to_string().contains("sequence number 3, expected 2"), "{e}");
    // An unknown event type in this format: damage, not a guess.
    let unknown = String::from_utf8_lossy(lines[1]).replacen("\"type\":\"", "\"type\":\"x", 1);
    let mut odd = lines.clone();
    odd[1] = unknown.as_bytes();
    let e = refused(&other, &join(&odd));
    assert!(matches!(e, JournalError::Damaged { line: 2, .. }), "{e}");

    assert!(journal::read(&path).is_ok(), "the original is untouched");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn records_say_who_on_operator_events_and_the_start_its_configuration() {
    let dir = drill_script::temp_dir("who");
    let (path, _, n) = written_journal(&dir);
    let r = journal::read(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.records.len(), n);
    assert_eq!(r.records.iter().map(|x| x.seq).collect::<Vec<_>>(), (1..=n as u64).collect::<Vec<_>>());
    for x in &r.records {
        assert_eq!(x.kdrill_journal, 1);
        let operator = matches!(x.event, DrillEvent::Started { .. } | DrillEvent::ActionRequested { .. });
        assert_eq!(x.who.is_some(), operator, "{:?}", x.event);
    }
    assert!(matches!(&r.records[0].event, DrillEvent::Started { config, .. } if config == "fnv1a64:test"));
    assert!(r.records.iter().any(|x| matches!(x.event, DrillEvent::ActionRequested { .. })));
    // One self-describing JSON object per line.
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    for line in text.lines() {
        assert!(line.starts_with("{\"kdrill_journal\":1,\"seq\":"), "{line}");
    }
    let who = Who::current();
    assert!(!who.user.is_empty() && !who.host.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_new_drill_moves_the_previous_journal_aside() {
    let dir = drill_script::temp_dir("rotate");
    let (path, bytes, _) = written_journal(&dir);
    let (mut j, _) = Journal::open(&path, alice()).unwrap_or_else(|e| panic!("{e}"));
    let next = Drill::start(PlanKind::Failback, chrono::TimeDelta::seconds(10), &[], drill_script::start());
    assert_eq!(j.append(&next.events()[0]).ok(), Some(1), "a new journal starts at 1");
    let aside: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p != &path).collect())
        .unwrap_or_default();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).unwrap_or_default(), bytes);
    let _ = std::fs::remove_dir_all(&dir);
}
