//! The drill shared through the lab's Kafka: one console drives and holds
//! the lease; a second is refused and told who drives; a read-only wall
//! console (another journal) follows every record live and writes nothing;
//! a driver that stops renewing is taken over only with the typed name; a
//! side that is down while the drill runs is caught up when it returns.

mod support;

use std::time::Duration;

use kdrill::drill::DrillEvent;
use kdrill::drill::journal;
use ratatui::crossterm::event::KeyCode;
use support::console::Console;
use support::serve::{get, serve};

fn config(topic: &str) -> kdrill::config::Config {
    support::lab_config(&format!("[drill]\ntopic = \"{topic}\"\nlease_timeout = \"4s\"\n"))
}

fn message(c: &Console) -> String {
    c.app.message().map(|m| m.text.clone()).unwrap_or_default()
}

/// The records the topic holds now, counted from both sides' folds.
fn topic_records(c: &Console) -> usize {
    c.shared().and_then(|s| s.run.as_ref().map(|r| r.records.len())).unwrap_or(0)
}

#[test]
fn one_driver_a_refused_second_console_a_wall_that_follows_and_a_takeover() {
    let _lab = support::shared();
    let dir = std::env::temp_dir().join(support::unique("kdrill-share"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let topic = support::unique("kdrill.drill.test");
    let cfg = config(&topic);

    // The wall first, alone: it follows and never writes (no topic yet).
    let mut wall = Console::start_shared(cfg.clone(), true, &dir.join("wall.jsonl"), "wall");
    assert!(wall.share.is_none(), "a read-only console holds no writing end");
    wall.wait("the wall sees both clusters", 60, |c| {
        c.shared().is_some_and(|s| s.feeds.iter().all(|f| !matches!(f, kdrill::share::Feed::Connecting)))
    });

    let mut alice = Console::start_shared(cfg.clone(), false, &dir.join("alice.jsonl"), "alice");
    alice.wait("alice follows the drill topic on both sides (created)", 90, |c| {
        c.shared().is_some_and(|s| s.feeds.iter().all(kdrill::share::Feed::is_following))
    });
    alice.wait("alice has observed the lab", 60, |c| c.app.assessment().is_some());
    alice.command("switchover");
    alice.wait("alice holds the lease and runs the drill", 60, |c| c.app.drill_in_progress());
    assert!(matches!(alice.journal.first(), Some(DrillEvent::Started { .. })), "{:?}", alice.journal);

    // Bob: refused, told who drives; his journal stays empty.
    let mut bob = Console::start_shared(cfg.clone(), false, &dir.join("bob.jsonl"), "bob");
    bob.wait("bob sees alice's lease", 60, |c| {
        c.shared().and_then(|s| s.lease.clone()).is_some_and(|h| h.driver.user == "alice")
    });
    bob.wait("bob has observed the lab", 60, |c| c.app.assessment().is_some());
    bob.command("switchover");
    assert!(message(&bob).contains("driven by alice@lab"), "bob is told who drives: {}", message(&bob));
    bob.key(KeyCode::Char('c'));
    assert!(bob.journal.is_empty(), "bob drove nothing: {:?}", bob.journal);

    // Alice confirms the checklist items she can; the wall follows each.
    for _ in 0..3 {
        alice.key(KeyCode::Char('c'));
        alice.step();
    }
    let written = alice.journal.len();
    wall.wait("the wall shows alice's drill, every record", 60, |c| {
        c.app.drill().is_some_and(|d| d.events().len() == written) && topic_records(c) == written
    });
    assert!(wall.app.drill_in_progress(), "the wall shows the drill in progress");
    assert!(wall.journal.is_empty(), "the wall journals nothing");

    // `kdrill serve` follows it too: the JSON, the metrics and the page's events.
    let toml = dir.join("serve.toml");
    let lab = support::lab();
    let text = format!(
        "[clusters.dc]\nbootstrap = \"{}\"\n[clusters.dr]\nbootstrap = \"{}\"\n[drill]\ntopic = \"{topic}\"\n",
        lab.dc, lab.dr
    );
    std::fs::write(&toml, text).unwrap_or_else(|e| panic!("{e}"));
    let (_server, addr) = serve(&["--config", &toml.display().to_string()]);
    let drill = support::wait_for("serve shows alice's drill", Duration::from_secs(60), || {
        let (status, body) = get(&addr, "/api/v1/drill");
        let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("{status} {body}: {e}"))?;
        (v["driver"].as_str().is_some_and(|d| d.starts_with("alice@lab")) && v["step"] == 1)
            .then_some(v.clone())
            .ok_or(format!("{v}"))
    });
    assert_eq!((drill["plan"].as_str(), drill["state"].as_str()), (Some("switchover"), Some("in-progress")));
    assert!(drill["gates"].as_array().is_some_and(|g| !g.is_empty()), "the step's gates: {drill}");
    let (_, metrics) = get(&addr, "/metrics");
    assert!(metrics.contains("kdrill_drill_step{plan=\"switchover\"} 1"), "{metrics}");
    assert!(metrics.contains("kdrill_drill_gate{"), "{metrics}");

    // Alice stops renewing (her console is gone mid-drill, lease kept).
    let before = topic_records(&wall);
    if let Some(s) = alice.share.take() {
        s.close(Duration::from_secs(5));
    }
    drop(alice);
    // Offered only once bob's console itself judges the lease stale.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        bob.command("takeover");
        if matches!(bob.app.mode(), kdrill::ui::Mode::Confirm(_)) {
            let lease = bob.shared().and_then(|s| s.lease.clone());
            assert!(lease.is_some_and(|h| h.driver.user == "alice"), "offered without alice's lease:\n{}", bob.state());
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no takeover offered: {}\n{}", message(&bob), bob.state());
        bob.step();
    }
    bob.typed("alice@lab");
    bob.key(KeyCode::Enter);
    bob.wait("bob drives, from alice's records", 60, |c| c.app.drill_in_progress() && !c.journal.is_empty());
    // Alice's records as they were, then the takeover (then what bob observes).
    assert!(
        matches!(bob.journal.get(before), Some(DrillEvent::TakenOver { from, .. }) if from.contains("alice@lab")),
        "the takeover is journaled after alice's {before} records: {:?}",
        bob.journal
    );
    let on_disk = journal::read(&dir.join("bob.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(on_disk.records.get(before).map(|r| &r.event), Some(DrillEvent::TakenOver { .. })),
        "bob's journal file holds the adopted drill, then the takeover"
    );
    assert_eq!(on_disk.records.get(before).and_then(|r| r.who.as_ref()).map(|w| w.label()), Some("bob@lab".into()));
    wall.wait("the wall sees bob drive", 60, |c| {
        c.shared().and_then(|s| s.lease.clone()).is_some_and(|h| h.driver.user == "bob") && topic_records(c) > before
    });

    // Bob aborts: the lease is given back; the wall shows the abort.
    bob.command("abort");
    bob.key(KeyCode::Char('y'));
    bob.wait("the drill is over for bob", 30, |c| !c.app.drill_in_progress());
    wall.wait("the wall shows the abort and a free lease", 60, |c| {
        c.shared().is_some_and(|s| s.lease.is_none()) && c.app.drill().is_some_and(|d| d.is_over())
    });
    let report = kdrill::report::build(&on_disk_now(&dir.join("bob.jsonl"))).unwrap_or_else(|e| panic!("{e}"));
    let md = kdrill::report::to_markdown(&report);
    assert!(md.contains("## Takeovers") && md.contains("alice@lab"), "the report names the takeover:\n{md}");
    // The report of this lab drill, for whoever runs the test with --nocapture.
    println!("{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn on_disk_now(path: &std::path::Path) -> journal::Recovered {
    journal::read(path).unwrap_or_else(|e| panic!("{e}"))
}

/// The journal records a cluster's drill topic holds, read with a plain
/// consumer (not kdrill's): keys `drill/<id>/<seq>`.
fn journal_records_on(bootstrap: &str, topic: &str) -> Result<usize, String> {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", support::unique("kdrill-share-count"))
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| e.to_string())?;
    let (_, end) = c.fetch_watermarks(topic, 0, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning).map_err(|e| e.to_string())?;
    c.assign(&tpl).map_err(|e| e.to_string())?;
    let mut n = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut next = 0;
    while next < end {
        if std::time::Instant::now() > deadline {
            return Err(format!("read {next} of {end} records"));
        }
        match c.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                next = m.offset() + 1;
                n += usize::from(m.key().is_some_and(|k| k.starts_with(b"drill/")));
            }
            Some(Err(e)) => return Err(e.to_string()),
            None => {}
        }
    }
    Ok(n)
}

#[test]
fn a_side_down_while_the_drill_runs_is_caught_up_when_it_returns() {
    let _lab = support::exclusive();
    struct Restart;
    impl Drop for Restart {
        fn drop(&mut self) {
            for args in [&["broker", "start", "dr"][..], &["mm2", "start", "dc-dr"]] {
                if let Err(e) = support::lab().run(args, Duration::from_secs(300)) {
                    eprintln!("restoring the lab: {e}");
                }
            }
        }
    }
    let dir = std::env::temp_dir().join(support::unique("kdrill-share-down"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let topic = support::unique("kdrill.drill.test");
    let lab = support::lab();
    let mut alice = Console::start_shared(config(&topic), false, &dir.join("alice.jsonl"), "alice");
    alice.wait("alice follows the drill topic on both sides (created)", 90, |c| {
        c.shared().is_some_and(|s| s.feeds.iter().all(kdrill::share::Feed::is_following))
    });
    alice.wait("alice has observed the lab", 60, |c| c.app.assessment().is_some());

    let _restart = Restart;
    lab.run(&["broker", "stop", "dr"], Duration::from_secs(120)).unwrap_or_else(|e| panic!("{e}"));
    alice.wait("alice sees DR's drill topic out of reach", 90, |c| {
        c.shared().is_some_and(|s| !s.feeds[1].is_following())
    });
    alice.command("switchover");
    alice.wait("alice drives, shared on DC alone", 60, |c| c.app.drill_in_progress());
    assert!(message(&alice).contains("caught up when it returns"), "said on screen: {}", message(&alice));
    // Its pre-flight fails (DR is down): the drill holds its start record.
    assert!(matches!(alice.journal.first(), Some(DrillEvent::Started { .. })), "{:?}", alice.journal);
    let on_dc = support::wait_for("DC's drill topic holds every record", Duration::from_secs(30), || {
        alice.step();
        match journal_records_on(&lab.dc, &topic)? {
            n if n == alice.journal.len() => Ok(n),
            n => Err(format!("{n} of {}", alice.journal.len())),
        }
    });

    lab.run(&["broker", "start", "dr"], Duration::from_secs(300)).unwrap_or_else(|e| panic!("{e}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        alice.step();
        let want = alice.journal.len();
        let last = match journal_records_on(&lab.dr, &topic) {
            Ok(n) if n == want && want >= on_dc => break,
            Ok(n) => format!("{n} of {want}"),
            Err(e) => e,
        };
        assert!(std::time::Instant::now() < deadline, "DR was not caught up: {last}");
    }
    alice.wait("DR's drill topic names alice as driver again", 60, |c| {
        c.shared().is_some_and(|s| s.holders[1].as_ref().is_some_and(|d| d.user == "alice"))
    });
    if let Some(s) = alice.share.take() {
        s.close(Duration::from_secs(5));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
