//! Consumer groups on both sides of the real lab (`scripts/lab`): a group's
//! lag on DC and DR, and where it would resume on DR, as kdrill's collector
//! and assessment see them, cross-checked against Kafka's own
//! `kafka-consumer-groups --describe` on both sides and against MM2's
//! checkpoints topic read with Kafka's console consumer and MM2's
//! `CheckpointFormatter`. Then who is connected and writing: a member that
//! stops committing while it is behind (stalled), and a producer writing
//! straight into DR while MM2 mirrors into the same topic; and checkpoints
//! that stop while a group commits (MM2's checkpoint connector paused).
//!
//! It writes only its own topics and groups, named uniquely, so it holds
//! the shared lab lock; pausing MM2's checkpoint connector holds it
//! exclusively, and resumes it whatever happens. Every wait is bounded.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use kdrill::assess::mm2::Mm2ProblemKind;
use kdrill::assess::{Assessment, Assessor, GroupTranslation};
use kdrill::config::Config;
use kdrill::model::{Flow, Side};

use support::connect::{Resume, connector_verb};
use support::{GroupMember, Protocol, SteadyProducer, ToolRow, lab, note, unique, wait_for};

fn config() -> Config {
    support::lab_config(
        r#"
[[mm2]]
name = "lab"
source = "dc"
target = "dr"
[replication]
policy = "identity"
[timing]
poll_interval = "1s"
"#,
    )
}

/// kdrill's real collector, judged by its real assessment when asked.
struct Observer {
    _rt: tokio::runtime::Runtime,
    link: kdrill::collect::WorldLink,
    assessor: Assessor,
}

impl Observer {
    fn start(cfg: Config) -> Observer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"));
        let assessor = Assessor::new(cfg.settings.clone());
        let link = {
            let _guard = rt.enter();
            kdrill::collect::kafka::spawn(cfg)
        };
        Observer { _rt: rt, link, assessor }
    }

    fn assess(&mut self) -> Assessment {
        let snap = self.link.snapshots.borrow().clone();
        self.assessor.assess(&snap, Utc::now())
    }
}

fn translation<'a>(a: &'a Assessment, group: &str) -> Option<&'a GroupTranslation> {
    a.translations_of(Flow::DC_TO_DR).find(|t| t.group == group)
}

/// Per partition: (committed, lag) of `group` on `side`, as kdrill assessed it.
fn kdrill_lag(a: &Assessment, side: Side, group: &str) -> Result<BTreeMap<i32, (i64, Option<i64>)>, String> {
    let g = a.side(side).groups.iter().find(|g| g.id == group).ok_or(format!("no group {group} on {side}"))?;
    let lag = g.lag.as_ref().ok_or("no lag")?;
    Ok(lag.rows.iter().map(|r| (r.partition, (r.committed, lag.records(r)))).collect())
}

fn kafka_tool(side: Side, group: &str, topic: &str) -> Vec<ToolRow> {
    let bootstrap = if side == Side::Dc { &lab().dc } else { &lab().dr };
    let rows = support::describe_group_with_kafka_tool(bootstrap, group).unwrap_or_else(|e| panic!("{e}"));
    rows.into_iter().filter(|r| r.topic == topic).collect()
}

/// The latest checkpoint per partition of `topic` for `group`, as MM2's
/// `CheckpointFormatter` prints DR's `dc.checkpoints.internal` through
/// Kafka's console consumer: partition → (upstream, downstream).
fn checkpoints_with_console_consumer(group: &str, topic: &str) -> BTreeMap<i32, (i64, i64)> {
    let l = lab();
    // The console consumer ends with an error once `--timeout-ms` passes
    // without a record: its exit status says nothing, its output is the
    // evidence. `timeout(1)` bounds the whole run.
    let out = Command::new("timeout")
        .arg("120")
        .arg(l.script())
        .args([
            "tool",
            "kafka-console-consumer",
            "--bootstrap-server",
            &l.dr,
            "--topic",
            "dc.checkpoints.internal",
            "--from-beginning",
            "--timeout-ms",
            "5000",
            "--formatter",
            "org.apache.kafka.connect.mirror.formatters.CheckpointFormatter",
        ])
        .current_dir(&l.root)
        .output()
        .unwrap_or_else(|e| panic!("kafka-console-consumer: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut latest = BTreeMap::new();
    // Checkpoint{consumerGroupId=g, topicPartition=t-0, upstreamOffset=250, downstreamOffset=201, metadata=}
    for line in text.lines().filter(|l| l.starts_with("Checkpoint{")) {
        let field = |name: &str| {
            line.split([',', '{', '}']).map(str::trim).find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        };
        if field("consumerGroupId") != Some(group) {
            continue;
        }
        let Some((t, p)) = field("topicPartition").and_then(|tp| tp.rsplit_once('-')) else { continue };
        let (Ok(p), Some(up), Some(down)) = (
            p.parse::<i32>(),
            field("upstreamOffset").and_then(|v| v.parse::<i64>().ok()),
            field("downstreamOffset").and_then(|v| v.parse::<i64>().ok()),
        ) else {
            continue;
        };
        if t == topic {
            // Records come in order: the last one per partition is the latest.
            latest.insert(p, (up, down));
        }
    }
    latest
}

#[test]
fn group_lag_and_resume_offsets_match_kafka_consumer_groups_and_the_checkpoints_topic() {
    let _lab = support::shared();
    let l = lab();
    let topic = unique("kdrill-t-resume");
    let group = unique("kdrill-g-resume");
    support::create_topic(&l.dc, &topic, 2);
    support::produce(&l.dc, &topic, &[300, 200]);
    let committed = [(0, 250i64), (1, 120i64)];
    {
        // An application that consumed and committed, then stopped (as for
        // a switchover): its group stays, empty, with its offsets.
        let m = GroupMember::join(&l.dc, &group, &topic, Protocol::Classic, &unique("resume"));
        wait_for("the commit", Duration::from_secs(60), || m.commit(&committed.map(|(p, o)| (topic.as_str(), p, o))));
    }

    let mut o = Observer::start(config());
    let started = Instant::now();
    // MM2 discovers the topic and the group (every 5 s), mirrors the
    // records, checkpoints the group and syncs its offsets into DR.
    let a = wait_for("the group checkpointed and synced to DR", Duration::from_secs(240), || {
        std::thread::sleep(Duration::from_millis(500));
        let a = o.assess();
        let t = translation(&a, &group).ok_or("no translation of the group yet")?;
        let settled = t.rows.len() == 2
            && t.unknown_because.is_none()
            && t.rows.iter().all(|r| {
                r.checkpoint().is_some_and(|k| k.upstream_offset == r.committed)
                    && r.target_committed().is_some()
                    && r.position_on_target().is_some()
            });
        let dr_lag = kdrill_lag(&a, Side::Dr, &group)?;
        if settled && dr_lag.values().all(|(_, lag)| lag.is_some()) { Ok(a) } else { Err(format!("{t:?}")) }
    });
    note(&format!("checkpointed and synced after {:?}", started.elapsed()));

    // Lag on DC: kdrill and kafka-consumer-groups agree, per partition and in total.
    let dc_tool = kafka_tool(Side::Dc, &group, &topic);
    let theirs: BTreeMap<i32, (i64, Option<i64>)> =
        dc_tool.iter().map(|r| (r.partition, (r.current.unwrap_or(-1), r.lag))).collect();
    let ours = kdrill_lag(&a, Side::Dc, &group).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ours, BTreeMap::from([(0, (250, Some(50))), (1, (120, Some(80)))]));
    assert_eq!(ours, theirs, "DC: kdrill and kafka-consumer-groups agree");
    let dc_view = a.side(Side::Dc).groups.iter().find(|g| g.id == group).and_then(|g| g.lag.clone());
    assert_eq!(dc_view.and_then(|l| l.total), Some(130));

    // Lag on DR, where MM2 synced the translated offsets.
    let dr_tool = kafka_tool(Side::Dr, &group, &topic);
    let theirs: BTreeMap<i32, (i64, Option<i64>)> =
        dr_tool.iter().map(|r| (r.partition, (r.current.unwrap_or(-1), r.lag))).collect();
    let ours = kdrill_lag(&a, Side::Dr, &group).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ours, theirs, "DR: kdrill and kafka-consumer-groups agree");

    // Where it would resume on DR: the offsets DR's group holds, which are
    // the checkpoints MM2 wrote, as Kafka's console consumer reads them.
    let t = translation(&a, &group).unwrap_or_else(|| panic!("no translation"));
    let cps = checkpoints_with_console_consumer(&group, &topic);
    note(&format!(
        "checkpoints {cps:?}; DR {dr_tool:?}; reprocess {:?}",
        t.rows.iter().map(|r| r.reprocess()).collect::<Vec<_>>()
    ));
    assert_eq!(cps.len(), 2, "a checkpoint per partition in dc.checkpoints.internal: {cps:?}");
    for r in &t.rows {
        let tool = dr_tool.iter().find(|x| x.partition == r.partition).unwrap_or_else(|| panic!("no DR row"));
        let dc = dc_tool.iter().find(|x| x.partition == r.partition).unwrap_or_else(|| panic!("no DC row"));
        let k = r.checkpoint().unwrap_or_else(|| panic!("no checkpoint"));
        assert_eq!(cps.get(&r.partition), Some(&(k.upstream_offset, k.downstream_offset)), "as the formatter prints");
        assert_eq!(r.resume_at(), tool.current, "resumes where DR's group stands");
        assert_eq!(r.resume_at(), Some(k.downstream_offset), "which is the checkpoint's translation");
        // The group's DC position on DR, from both tools' log-end offsets
        // (the topic is mirrored record for record), and what lies between.
        let (Some(dr_end), Some(dc_end)) = (tool.log_end, dc.log_end) else { panic!("log-end offsets unknown") };
        let position = dr_end - (dc_end - r.committed);
        assert_eq!(r.position_on_target(), Some(position));
        let resume = tool.current.unwrap_or(-1);
        assert_eq!(r.reprocess(), Some((position - resume).max(0) as u64));
        assert_eq!(r.skip(), Some((resume - position).max(0) as u64));
    }
    assert_eq!(t.problem, None, "translatable: {t:?}");
    let report = kdrill::check::report(&a);
    let json = serde_json::to_value(&report).unwrap_or_default();
    let entry = json["translations"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["group"] == group.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(entry["translatable"], true, "{entry}");
    assert_eq!(entry["partitions"].as_array().map(Vec::len), Some(2), "{entry}");
}

#[test]
fn a_group_mm2_leaves_out_has_no_checkpoint_and_is_named() {
    let _lab = support::shared();
    let l = lab();
    let topic = unique("kdrill-t-resume");
    // The lab's MM2 excludes `console-consumer-.*` groups from checkpointing.
    let group = unique("console-consumer-kdrill");
    support::create_topic(&l.dc, &topic, 1);
    support::produce(&l.dc, &topic, &[40]);
    {
        let m = GroupMember::join(&l.dc, &group, &topic, Protocol::Classic, &unique("left-out"));
        wait_for("the commit", Duration::from_secs(60), || m.commit(&[(topic.as_str(), 0, 30)]));
    }
    // kdrill treats every non-plumbing group as an application by default.
    let mut o = Observer::start(config());
    let t = wait_for("the group judged", Duration::from_secs(120), || {
        std::thread::sleep(Duration::from_millis(500));
        let a = o.assess();
        let t = translation(&a, &group).cloned().ok_or("no translation of the group yet")?;
        if t.unknown_because.is_none() && t.rows.len() == 1 { Ok(t) } else { Err(format!("{t:?}")) }
    });
    assert_eq!(t.problem.as_ref().map(|p| p.as_str()), Some("no-checkpoint"), "{t:?}");
    assert!(checkpoints_with_console_consumer(&group, &topic).is_empty(), "MM2 wrote none indeed");
}

#[test]
fn a_member_that_stops_committing_while_its_topic_grows_is_stalled_until_it_commits() {
    let _lab = support::shared();
    let l = lab();
    let topic = unique("kdrill-t-stall");
    let group = unique("kdrill-g-stall");
    support::create_topic(&l.dc, &topic, 1);
    support::produce(&l.dc, &topic, &[50]);
    let m = GroupMember::join(&l.dc, &group, &topic, Protocol::Classic, &unique("stuck"));
    wait_for("the first commit", Duration::from_secs(60), || m.commit(&[(topic.as_str(), 0, 10)]));

    let mut cfg = config();
    cfg.settings.stall_after = chrono::TimeDelta::seconds(10);
    let mut o = Observer::start(cfg);
    let view = |a: &Assessment| a.side(Side::Dc).groups.iter().find(|g| g.id == group).cloned();
    // The member stays, never commits again, and the topic keeps growing.
    let started = Instant::now();
    let mut produced = 50;
    let a = wait_for("the group stalled", Duration::from_secs(90), || {
        support::produce(&l.dc, &topic, &[5]);
        produced += 5;
        std::thread::sleep(Duration::from_millis(500));
        let a = o.assess();
        let g = view(&a).ok_or("group not listed yet")?;
        if g.stalled_since.is_some() { Ok(a) } else { Err(format!("{g:?}")) }
    });
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(9), "stalled only once its commits stood still 10 s: {waited:?}");
    let g = view(&a).unwrap_or_else(|| panic!("no group"));
    assert_eq!(g.members, 1);
    assert!(g.lag.as_ref().and_then(|l| l.total).is_some_and(|n| n > 40), "behind: {:?}", g.lag);
    assert_eq!(a.verdict.standing, kdrill::assess::Standing::Fails, "{}", a.verdict.text);
    let json = serde_json::to_value(kdrill::check::report(&a)).unwrap_or_default();
    let listed = json["sides"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["side"] == "DC"))
        .and_then(|s| s["groups"].as_array()?.iter().find(|g| g["group"] == group.as_str()).cloned())
        .unwrap_or_default();
    assert!(listed["stalled_since"].is_string(), "{listed}");
    note(&format!("stalled after {waited:?}: {}", a.verdict.text));

    // It commits what it has read: moving again, not stalled.
    wait_for("the catch-up commit", Duration::from_secs(60), || m.commit(&[(topic.as_str(), 0, produced)]));
    wait_for("the stall cleared", Duration::from_secs(30), || {
        std::thread::sleep(Duration::from_millis(500));
        let g = view(&o.assess()).ok_or("group gone")?;
        if g.stalled_since.is_none() { Ok(()) } else { Err(format!("{g:?}")) }
    });
    drop(m);
    support::delete_groups(&l.dc, std::slice::from_ref(&group));
    // The topic stays, as MM2 mirrored it: deleted on one side, a flow would
    // recreate it empty there, under MM2's old committed offsets ("ahead").
}

#[test]
fn a_producer_writing_straight_into_the_passive_side_is_flagged_within_the_rate_window() {
    use kdrill::assess::Rule;
    let _lab = support::shared();
    let l = lab();
    let topic = unique("kdrill-t-writes");
    support::create_topic(&l.dc, &topic, 1);
    let app = SteadyProducer::start(&l.dc, &topic, 20);
    let mut cfg = config();
    let window = chrono::TimeDelta::seconds(10);
    cfg.settings.rate_window = window;
    let mut o = Observer::start(cfg);
    let on_dr = |a: &Assessment| a.side(Side::Dr).topics.iter().find(|t| t.name == topic).cloned();

    // MM2 mirrors the topic into DR (same name): all of DR's growth is MM2's.
    wait_for("MM2's writes into DR measured as MM2's", Duration::from_secs(120), || {
        std::thread::sleep(Duration::from_millis(500));
        let t = on_dr(&o.assess()).ok_or("not mirrored yet")?;
        let mm2 = t.mm2_rate.is_some_and(|r| r > 10.0);
        if mm2 && t.app_rate == Some(0.0) { Ok(()) } else { Err(format!("{t:?}")) }
    });
    // And stays so: real clusters read at different moments are not a producer.
    let calm = Instant::now();
    while calm.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(500));
        let t = on_dr(&o.assess());
        let apps = t.as_ref().and_then(|t| t.app_rate).unwrap_or(0.0);
        assert!(apps < 0.05, "MM2's writes taken for an application's: {t:?}");
    }

    // A producer writes straight into DR's copy.
    let started = Instant::now();
    let foreign = SteadyProducer::start(&l.dr, &topic, 10);
    let a = wait_for("the foreign producer flagged", Duration::from_secs(40), || {
        std::thread::sleep(Duration::from_millis(500));
        let a = o.assess();
        let t = on_dr(&a).ok_or("topic gone")?;
        if t.app_rate.is_some_and(|r| r >= 3.0) { Ok(a) } else { Err(format!("{t:?}")) }
    });
    let flagged = started.elapsed();
    // The stated bound: the rate window and a few polls.
    assert!(flagged <= Duration::from_secs(20), "flagged after {flagged:?}");
    let both = a.violations.iter().find(|v| v.rule == Rule::AppsOnBothSides);
    assert!(
        both.is_some_and(|v| v.detail.contains(&format!("producers on {topic} at"))),
        "applications on both sides, naming the topic and rate: {:?}",
        a.violations
    );
    note(&format!("flagged after {flagged:?}: {:?}", both.map(|v| &v.detail)));

    drop(foreign);
    wait_for("DR quiet again", Duration::from_secs(40), || {
        std::thread::sleep(Duration::from_millis(500));
        let t = on_dr(&o.assess()).ok_or("topic gone")?;
        if t.app_rate == Some(0.0) { Ok(()) } else { Err(format!("{t:?}")) }
    });
    // The topic stays on both sides (see the stall test above).
    drop(app);
}

/// MM2 checkpoints a group as it commits. With the checkpoint connector
/// paused, the group commits far past its last checkpoint while MM2
/// replicates past it: the flow shows its checkpoints stopped, naming the
/// group, until the connector resumes and checkpoints it again.
#[test]
fn checkpoints_stopped_while_a_group_commits_are_shown_until_they_resume() {
    const CHECKPOINT: &str = "dc->dr.MirrorCheckpointConnector";
    let _lab = support::exclusive();
    let l = lab();
    let topic = unique("kdrill-t-cpstall");
    let group = unique("kdrill-g-cpstall");
    support::create_topic(&l.dc, &topic, 1);
    support::produce(&l.dc, &topic, &[500]);
    let m = GroupMember::join(&l.dc, &group, &topic, Protocol::Classic, &unique("cp"));
    wait_for("the first commit", Duration::from_secs(60), || m.commit(&[(topic.as_str(), 0, 400)]));

    let mut cfg = config();
    cfg.settings.stall_after = chrono::TimeDelta::seconds(5);
    let mut o = Observer::start(cfg);
    let stopped = |a: &Assessment| {
        let m = a.mm2.iter().find(|m| m.flow == Flow::DC_TO_DR)?;
        m.problems.iter().find(|p| p.kind == Mm2ProblemKind::CheckpointsStalled).map(|p| p.text.clone())
    };
    let checkpointed_at =
        |a: &Assessment| translation(a, &group)?.rows.first()?.checkpoint().map(|c| c.upstream_offset);
    wait_for("MM2's checkpoint of the group", Duration::from_secs(120), || {
        std::thread::sleep(Duration::from_millis(500));
        let a = o.assess();
        if checkpointed_at(&a) == Some(400) { Ok(()) } else { Err(format!("{:?}", translation(&a, &group))) }
    });

    let _resume = Resume(CHECKPOINT);
    assert_eq!(connector_verb(CHECKPOINT, "pause", Duration::from_secs(30)), Ok(202));
    // A checkpoint already on its way may still land.
    std::thread::sleep(Duration::from_secs(3));
    support::produce(&l.dc, &topic, &[1_500]);
    wait_for("the group's commit at the end", Duration::from_secs(60), || m.commit(&[(topic.as_str(), 0, 2_000)]));
    let committed = Instant::now();
    let (a, text) = wait_for("checkpoints shown stopped", Duration::from_secs(90), || {
        std::thread::sleep(Duration::from_millis(500));
        let a = o.assess();
        match stopped(&a) {
            Some(text) => Ok((a, text)),
            None => Err(format!("{:?} · lag {:?}", translation(&a, &group), a.lag_of(Flow::DC_TO_DR).map(|l| l.total))),
        }
    });
    note(&format!("checkpoints shown stopped {:?} after the commit: {text}", committed.elapsed()));
    assert!(text.contains(&format!("group {group} committed 1600 rec past its last checkpoint")), "{text}");
    assert_eq!(checkpointed_at(&a), Some(400), "no checkpoint came meanwhile");
    assert_eq!(a.verdict.standing, kdrill::assess::Standing::Fails, "{}", a.verdict.text);

    // Resumed: MM2 checkpoints the group at its commit, and it clears.
    assert_eq!(connector_verb(CHECKPOINT, "resume", Duration::from_secs(30)), Ok(202));
    wait_for("checkpoints again", Duration::from_secs(120), || {
        std::thread::sleep(Duration::from_millis(500));
        let a = o.assess();
        match (stopped(&a), checkpointed_at(&a)) {
            (None, Some(2_000)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    drop(m);
    support::delete_groups(&l.dc, std::slice::from_ref(&group));
}
