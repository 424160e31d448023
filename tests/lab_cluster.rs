//! The Kafka collector against real brokers (the lab of `scripts/lab`):
//! what kdrill reports is checked against what real clients did and against
//! Kafka's own `kafka-consumer-groups`. Each scenario uses its own topics
//! and groups; the broker-outage scenario holds the lab exclusively.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kdrill::collect::kafka::cluster::ClusterPoller;
use kdrill::collect::kafka::{ffi, spawn, workers_of};
use kdrill::config::Config;
use kdrill::model::{Cluster, Committed, Group, GroupProtocol, Link, Observed, Partition, Side, Topic};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use support::{GroupMember, Protocol, lab, lag, unique, wait_for};

fn config() -> Config {
    support::lab_config(
        r#"
[[mm2]]
source = "dc"
target = "dr"
[timing]
poll_interval = "1s"
request_timeout = "5s"
stale_after = "10s"
"#,
    )
}

fn poller(side: Side) -> ClusterPoller {
    let c = config();
    ClusterPoller::new(c.cluster(side).clone(), c.timing.clone(), c.settings.classification.clone())
}

/// Polls until `check` accepts the cluster, bounded.
fn poll_until<T>(p: &mut ClusterPoller, what: &str, mut check: impl FnMut(&Cluster) -> Result<T, String>) -> T {
    wait_for(what, Duration::from_secs(60), || {
        let stats = p.poll();
        check(p.cluster()).map_err(|e| format!("{e} (poll errors: {:?})", stats.errors))
    })
}

fn group<'a>(c: &'a Cluster, id: &str) -> Result<&'a Group, String> {
    c.groups.as_ref().ok_or("groups never observed")?.value.iter().find(|g| g.id == id).ok_or(format!("no group {id}"))
}

#[test]
fn end_offsets_and_topic_facts_match_what_was_produced() {
    let _lab = support::shared();
    let topic = unique("kdrill-t-offsets");
    let counts = [400usize, 0, 250, 1, 349];
    support::create_topic(&lab().dc, &topic, counts.len() as i32);
    support::produce(&lab().dc, &topic, &counts);

    let mut p = poller(Side::Dc);
    let t = poll_until(&mut p, "the topic with its end offsets", |c| {
        let t = c.topic(&topic).ok_or("topic not listed")?;
        if t.partitions.iter().any(|p| p.end_offset.is_none()) {
            return Err("an end offset is unknown".into());
        }
        Ok(t.clone())
    });
    let ends: Vec<i64> = t.partitions.iter().map(|p| p.end_offset.unwrap_or(-1)).collect();
    assert_eq!(
        ends,
        counts.iter().map(|&n| n as i64).collect::<Vec<_>>(),
        "end offset = records produced, per partition"
    );
    assert_eq!(ends.iter().sum::<i64>(), 1000);
    assert!(t.partitions.iter().all(|p| p.leader == Some(1)), "{:?}", t.partitions);
    assert_eq!(t.replication_factor, Some(1));
    assert_eq!(t.min_insync_replicas, Some(1), "broker default, read through DescribeConfigs");
    assert_eq!(t.cleanup_policy.as_deref(), Some("delete"));
    let c = p.cluster();
    assert!(matches!(c.link, Link::Up { .. }), "{:?}", c.link);
    let brokers = &c.brokers.as_ref().map(|b| b.value.clone()).unwrap_or_default();
    assert_eq!(brokers.len(), 1);
    let port = lab().dc.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
    assert!(brokers[0].up && brokers[0].id == 1 && Some(brokers[0].port) == port, "{brokers:?}");
    // The internal and MM2 topics are observed too; compacted ones say so.
    assert_eq!(c.topic("__consumer_offsets").and_then(|t| t.cleanup_policy.clone()).as_deref(), Some("compact"));

    // More records later: the next poll sees exactly the growth.
    support::produce(&lab().dc, &topic, &[10, 20, 0, 0, 5]);
    let t = poll_until(&mut p, "the new end offsets", |c| {
        let t = c.topic(&topic).ok_or("topic not listed")?;
        let sum: i64 = t.partitions.iter().filter_map(|p| p.end_offset).sum();
        if sum == 1035 { Ok(t.clone()) } else { Err(format!("sum {sum}")) }
    });
    assert_eq!(t.partitions.iter().map(|p| p.end_offset).collect::<Vec<_>>()[..2], [Some(410), Some(20)]);
}

#[test]
fn record_times_are_read_at_the_offsets_asked_and_unknown_where_nothing_is() {
    let _lab = support::shared();
    let topic = unique("kdrill-t-record-times");
    support::create_topic(&lab().dc, &topic, 4);
    let before_first = chrono::Utc::now();
    support::produce(&lab().dc, &topic, &[3, 3, 0, 3]);
    let after_first = chrono::Utc::now();
    std::thread::sleep(Duration::from_millis(1500));
    let before_second = chrono::Utc::now();
    support::produce(&lab().dc, &topic, &[2, 0, 0, 0]);
    let after_second = chrono::Utc::now();

    let c = config();
    // Partition 0 at the second batch, 1 at the first, 2 empty, 3 past its
    // end; partition 0 asked again (one position per partition is read).
    let wanted = [(0, 3), (1, 0), (2, 0), (3, 5), (0, 0)].map(|(p, o)| (topic.clone(), p, o));
    let times = kdrill::collect::kafka::record_times::read_record_times(
        c.cluster(Side::Dc),
        &c.timing,
        &wanted,
        Duration::from_secs(3),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        times.iter().map(|t| (t.partition, t.offset)).collect::<Vec<_>>(),
        [(0, 3), (1, 0), (2, 0), (3, 5), (0, 0)],
        "one answer per ask, in order"
    );
    let at = |i: usize| times.get(i).and_then(|t| t.timestamp);
    // Timestamps are the producer's, in milliseconds.
    let within = |t: Option<chrono::DateTime<chrono::Utc>>, lo: chrono::DateTime<chrono::Utc>, hi| {
        t.is_some_and(|t| t >= lo - chrono::TimeDelta::milliseconds(1) && t <= hi)
    };
    assert!(
        within(at(0), before_second, after_second),
        "partition 0 record 3: {:?} not in [{before_second}, {after_second}]",
        at(0)
    );
    assert!(
        within(at(1), before_first, after_first),
        "partition 1 record 0: {:?} not in [{before_first}, {after_first}]",
        at(1)
    );
    assert_eq!(at(2), None, "an empty partition");
    assert_eq!(at(3), None, "past the end: no record yet");
    assert_eq!(at(4), None, "a second position of a partition is not read");
}

#[test]
fn classic_and_kip848_groups_appear_with_members_and_assignments() {
    let _lab = support::shared();
    let topic = unique("kdrill-t-groups");
    support::create_topic(&lab().dc, &topic, 3);
    let classic = GroupMember::join(&lab().dc, &unique("kdrill-g-classic"), &topic, Protocol::Classic, &unique("cc"));
    let modern = GroupMember::join(&lab().dc, &unique("kdrill-g-kip848"), &topic, Protocol::Consumer, &unique("cn"));

    let mut p = poller(Side::Dc);
    let all: Vec<(Arc<str>, i32)> = (0..3).map(|i| (Arc::from(topic.as_str()), i)).collect();
    let (gc, gm) = poll_until(&mut p, "both groups stable with the whole topic assigned", |c| {
        let gc = group(c, &classic.group)?.clone();
        let gm = group(c, &modern.group)?.clone();
        for g in [&gc, &gm] {
            if g.members.len() != 1 || g.members[0].assignment != all || g.state != "Stable" {
                return Err(format!("{} {} {:?}", g.id, g.state, g.members));
            }
        }
        Ok((gc, gm))
    });
    assert_eq!(gc.protocol, GroupProtocol::Classic);
    assert_eq!(gm.protocol, GroupProtocol::Consumer);
    for (g, m) in [(&gc, &classic), (&gm, &modern)] {
        assert_eq!(g.protocol_type, "consumer");
        assert_eq!(&*g.members[0].client_id, m.client_id.as_str());
        assert_eq!(&*g.members[0].host, "/127.0.0.1");
        assert!(!g.members[0].member_id.is_empty());
        assert_eq!(g.committed.as_deref(), Some(&[][..]), "fetched, nothing committed yet");
    }
    // kdrill itself never shows up as a member of anything.
    let everyone = p.cluster().groups.as_ref().map(|g| g.value.clone()).unwrap_or_default();
    assert!(everyone.iter().flat_map(|g| &g.members).all(|m| &*m.client_id != "kdrill"));

    // Cross-check the classic path's own ConsumerProtocol decoding with
    // librdkafka's DescribeConsumerGroups for the same classic group.
    let observer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", &lab().dc).create().unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let listed = ffi::classic_groups(observer.client(), deadline).unwrap_or_else(|e| panic!("{e}"));
    let at = listed
        .iter()
        .find(|g| g.id == classic.group)
        .map(|g| ffi::GroupAt { id: g.id.clone(), coordinator: g.coordinator })
        .unwrap_or_else(|| panic!("{} is not listed", classic.group));
    let described = ffi::describe_consumer_groups(observer.client(), std::slice::from_ref(&at), deadline)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(described.len(), 1);
    let mut theirs = described[0].members.iter().map(|m| m.assignment.clone()).collect::<Vec<_>>();
    theirs.iter_mut().for_each(|a| a.sort());
    let ours = gc
        .members
        .iter()
        .map(|m| m.assignment.iter().map(|(t, p)| (t.to_string(), *p)).collect())
        .collect::<Vec<Vec<_>>>();
    assert_eq!(ours, theirs, "our decoder and librdkafka's agree");
    assert_eq!(described[0].kind, ffi::GroupType::Classic);
}

/// Commits known offsets with a real member, then compares kdrill's
/// committed offsets and lag with the CURRENT-OFFSET and LAG columns of
/// Kafka's own `kafka-consumer-groups --describe`.
fn committed_and_lag_match_kafka_tool(protocol: Protocol) {
    let _lab = support::shared();
    let topic = unique("kdrill-t-lag");
    support::create_topic(&lab().dc, &topic, 3);
    support::produce(&lab().dc, &topic, &[50, 30, 20]);
    let m = GroupMember::join(&lab().dc, &unique("kdrill-g-lag"), &topic, protocol, &unique("lag"));
    let mut p = poller(Side::Dc);
    poll_until(&mut p, "the member owning all partitions", |c| {
        let g = group(c, &m.group)?;
        match g.members.first() {
            Some(mem) if mem.assignment.len() == 3 => Ok(()),
            _ => Err(format!("{g:?}")),
        }
    });
    wait_for("the commit", Duration::from_secs(30), || m.commit(&[(&topic, 0, 10), (&topic, 1, 30), (&topic, 2, 5)]));
    let lag = poll_until(&mut p, "the committed offsets", |c| {
        let lag = lag::consumer_lag(c, &m.group).ok_or("no committed offsets")?;
        if lag.len() == 3 { Ok(lag) } else { Err(format!("{lag:?}")) }
    });
    let ours: BTreeMap<i32, (i64, Option<i64>)> = lag.iter().map(|l| (l.partition, (l.committed, l.lag))).collect();
    assert_eq!(ours, BTreeMap::from([(0, (10, Some(40))), (1, (30, Some(0))), (2, (5, Some(15)))]));

    let rows = support::describe_group_with_kafka_tool(&lab().dc, &m.group).unwrap_or_else(|e| panic!("{e}"));
    let theirs: BTreeMap<i32, (i64, Option<i64>)> =
        rows.iter().filter(|r| r.topic == topic).map(|r| (r.partition, (r.current.unwrap_or(-1), r.lag))).collect();
    assert_eq!(ours, theirs, "kdrill and kafka-consumer-groups agree on committed offsets and LAG");
    let total: i64 = lag.iter().filter_map(|l| l.lag).sum();
    assert_eq!(total, rows.iter().filter_map(|r| r.lag).sum::<i64>());
}

#[test]
fn classic_group_committed_offsets_and_lag_match_kafka_consumer_groups() {
    committed_and_lag_match_kafka_tool(Protocol::Classic);
}

/// The lag arithmetic itself, without the lab.
#[test]
fn lag_is_end_minus_committed() {
    let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let mut cluster = Cluster::new(Side::Dc, "dc");
    cluster.topics = Some(Observed::new(
        vec![Topic {
            name: "t".into(),
            partitions: vec![
                Partition { id: 0, leader: Some(1), end_offset: Some(100) },
                Partition { id: 1, leader: Some(1), end_offset: None },
            ],
            replication_factor: Some(1),
            min_insync_replicas: None,
            cleanup_policy: None,
        }],
        at,
    ));
    let g = Group {
        id: "g".into(),
        state: "Stable".into(),
        protocol_type: "consumer".into(),
        protocol: GroupProtocol::Classic,
        members: vec![],
        committed: Some(vec![
            Committed { topic: "t".into(), partition: 0, offset: 60 },
            Committed { topic: "t".into(), partition: 1, offset: 5 },
        ]),
    };
    cluster.groups = Some(Observed::new(vec![g], at));
    let lag = lag::consumer_lag(&cluster, "g").unwrap_or_default();
    assert_eq!(lag.iter().map(|l| l.lag).collect::<Vec<_>>(), vec![Some(40), None]);
    assert_eq!(lag::consumer_lag(&cluster, "other"), None);
}

#[test]
fn kip848_group_committed_offsets_and_lag_match_kafka_consumer_groups() {
    committed_and_lag_match_kafka_tool(Protocol::Consumer);
}

/// The statistics hook the poll bench counts requests with: a poller's
/// client hands librdkafka's statistics JSON to the poller's sink.
/// Committed offsets read from `__consumer_offsets` equal what OffsetFetch
/// answers, group by group, without a request per group; a deleted group's
/// commits are gone, and a commit in an aborted transaction never counts.
#[test]
fn committed_offsets_read_from_the_topic_equal_offset_fetch() {
    use kdrill::collect::kafka::{client, committed::CommittedReader, groups};
    use kdrill::model::OffsetsSource;
    use rdkafka::producer::{BaseProducer, Producer};
    use rdkafka::{Offset, TopicPartitionList};

    let _lab = support::shared();
    let c = config();
    let (cfg, timing) = (c.cluster(Side::Dc).clone(), c.timing.clone());
    let topic = unique("kdrill-t-committed");
    support::create_topic(&lab().dc, &topic, 3);
    support::produce(&lab().dc, &topic, &[40, 30, 20]);
    let m = GroupMember::join(&lab().dc, &unique("kdrill-g-committed"), &topic, Protocol::Classic, &unique("cm"));
    let mut p = poller(Side::Dc);
    poll_until(&mut p, "the member owning all partitions", |c| {
        let g = group(c, &m.group)?;
        if g.members.first().is_some_and(|mem| mem.assignment.len() == 3) { Ok(()) } else { Err(format!("{g:?}")) }
    });
    wait_for("the commit", Duration::from_secs(30), || m.commit(&[(&topic, 0, 11), (&topic, 1, 22), (&topic, 2, 3)]));

    // A simple group: one commit kept, then a transaction whose commit is
    // aborted; another simple group committed, then deleted.
    let simple = |group: &str| -> BaseConsumer {
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", &lab().dc).set("group.id", group).set("enable.auto.commit", "false");
        cc.create().unwrap_or_else(|e| panic!("{e}"))
    };
    let commit = |consumer: &BaseConsumer, partition: i32, offset: i64| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, partition, Offset::Offset(offset)).unwrap_or_else(|e| panic!("{e}"));
        wait_for("a simple group's commit", Duration::from_secs(30), || {
            consumer.commit(&tpl, rdkafka::consumer::CommitMode::Sync).map_err(|e| e.to_string())
        });
    };
    let kept = unique("kdrill-g-kept");
    let kept_consumer = simple(&kept);
    commit(&kept_consumer, 0, 7);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &lab().dc)
        .set("transactional.id", unique("kdrill-tx"))
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    let t = Duration::from_secs(30);
    producer.init_transactions(t).unwrap_or_else(|e| panic!("{e}"));
    producer.begin_transaction().unwrap_or_else(|e| panic!("{e}"));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(35)).unwrap_or_else(|e| panic!("{e}"));
    let meta = kept_consumer.group_metadata().unwrap_or_else(|| panic!("group metadata of {kept}"));
    producer.send_offsets_to_transaction(&tpl, &meta, t).unwrap_or_else(|e| panic!("{e}"));
    // While it is open, commits after it cannot be read: never complete.
    let mut reader = CommittedReader::new(&cfg, &timing, Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let open = reader.read(Instant::now() + Duration::from_secs(10), &offsets_topic_ends());
    assert!(open.as_ref().is_err_and(|e| e.contains("transaction is open")), "{open:?}");
    producer.abort_transaction(t).unwrap_or_else(|e| panic!("{e}"));
    let gone = unique("kdrill-g-gone");
    commit(&simple(&gone), 1, 9);

    let reader_sees = |reader: &mut CommittedReader, group: &str| -> Vec<(i32, i64)> {
        read_to_end(reader);
        reader.offsets().of(group).iter().map(|x| (x.partition, x.offset)).collect()
    };
    assert_eq!(reader_sees(&mut reader, &gone), [(1, 9)]);
    assert_eq!(reader_sees(&mut reader, &kept), [(0, 7)], "the aborted transaction's commit never counts");
    support::delete_groups(&lab().dc, std::slice::from_ref(&gone));
    wait_for("the deleted group's commits gone", Duration::from_secs(30), || {
        let left = reader_sees(&mut reader, &gone);
        if left.is_empty() { Ok(()) } else { Err(format!("{gone} still has {left:?}")) }
    });

    // The same groups through OffsetFetch, one request each.
    let observer = client::observer(&cfg, &timing, Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let ids = [m.group.clone(), kept.clone()];
    // Every group counts as an application's here (no `[apps] groups`).
    let cls = &c.settings.classification;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (by_fetch, stats) =
        groups::poll_groups(observer.client(), cls, None, deadline).unwrap_or_else(|e| panic!("{e}"));
    assert!(stats.offset_fetches >= 2, "{stats:?}");
    read_to_end(&mut reader);
    let (by_topic, stats) =
        groups::poll_groups(observer.client(), cls, Some(reader.offsets()), deadline).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.offset_fetches, 0, "no request per group: {stats:?}");
    for id in &ids {
        let committed = |gs: &[Group]| gs.iter().find(|g| &g.id == id).and_then(|g| g.committed.clone());
        let fetched = committed(&by_fetch).unwrap_or_else(|| panic!("OffsetFetch gave nothing for {id}"));
        assert!(!fetched.is_empty(), "{id}");
        assert_eq!(committed(&by_topic), Some(fetched), "{id}: the topic and OffsetFetch agree");
    }
    // The poller took them from the topic too.
    poll_until(&mut p, "offsets from __consumer_offsets", |c| match &c.offsets_source {
        Some(OffsetsSource::Topic) => Ok(()),
        other => Err(format!("{other:?}")),
    });
    drop(m);
    support::delete_groups(&lab().dc, &[kept]);
    support::delete_topics(&lab().dc, &[topic]);
}

fn read_to_end(reader: &mut kdrill::collect::kafka::committed::CommittedReader) {
    wait_for("__consumer_offsets read to its end", Duration::from_secs(30), || {
        reader.read(Instant::now() + Duration::from_secs(5), &offsets_topic_ends())
    });
}

/// The ends of DC's `__consumer_offsets` as a read_uncommitted client sees them.
fn offsets_topic_ends() -> BTreeMap<i32, i64> {
    let topic = "__consumer_offsets";
    // librdkafka's default reads committed: its "high" would be the last stable offset.
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &lab().dc)
        .set("isolation.level", "read_uncommitted")
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e}"));
    let partitions: Vec<i32> = md.topics().iter().flat_map(|t| t.partitions()).map(|p| p.id()).collect();
    partitions
        .into_iter()
        .map(|p| {
            let (_, high) = c.fetch_watermarks(topic, p, Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e}"));
            (p, high)
        })
        .collect()
}

/// librdkafka's statistics reach a measuring sink, and the poller counts
/// from them the requests its clients sent: more after each poll, never
/// fewer (a renewed client's count stays in the total).
#[test]
fn statistics_reach_the_pollers_sink_and_count_its_requests() {
    let _lab = support::shared();
    let c = support::lab_config("[clusters.dc.properties]\n\"statistics.interval.ms\" = \"100\"\n");
    let latest = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&latest);
    let mut p = ClusterPoller::new(c.cluster(Side::Dc).clone(), c.timing.clone(), c.settings.classification.clone())
        .with_statistics(Arc::new(move |json: &str| {
            if let Ok(mut l) = sink.lock() {
                json.clone_into(&mut l);
            }
        }));
    p.poll();
    wait_for("statistics with broker request counts", Duration::from_secs(10), || {
        p.serve_events();
        let json = latest.lock().map(|j| j.clone()).unwrap_or_default();
        if json.contains("\"brokers\"") { Ok(()) } else { Err(format!("latest statistics: {json:?}")) }
    });
    let first = wait_for("requests counted", Duration::from_secs(10), || {
        p.poll();
        p.cluster().polls.requests_sent.filter(|n| *n > 0).ok_or_else(|| format!("{:?}", p.cluster().polls))
    });
    let more = wait_for("more requests after more polls", Duration::from_secs(10), || {
        p.poll();
        let n = p.cluster().polls.requests_sent.unwrap_or(0);
        if n > first { Ok(n) } else { Err(format!("{n} requests, {first} before")) }
    });
    let counts = p.cluster().polls.clone();
    assert!(counts.polls >= 3 && counts.failing == 0 && counts.requests_sent == Some(more), "{counts:?}");
    // One broker, few groups: a handful of requests per poll, never none.
    assert!(counts.requests_per_poll.is_some_and(|n| n > 0.0 && n < 100.0), "{counts:?}");
}

#[test]
fn mm2_connect_group_on_dr_is_listed_with_its_workers() {
    let _lab = support::shared();
    // The lab's default state; another scenario may have stopped MM2.
    lab().run(&["mm2", "start", "dc-dr"], Duration::from_secs(300)).unwrap_or_else(|e| panic!("{e}"));
    let cfg = config();
    let group_id = cfg.mm2[0].group_id.clone();
    assert_eq!(group_id, "mirrormaker2-cluster");
    let mut p = poller(Side::Dr);
    let g = poll_until(&mut p, "the Connect group with a member", |c| {
        let g = group(c, &group_id)?;
        if g.members.is_empty() { Err("no members".into()) } else { Ok(g.clone()) }
    });
    assert_eq!(g.protocol_type, "connect");
    assert_eq!(g.protocol, GroupProtocol::Classic);
    assert!(g.committed.is_none(), "Connect groups commit nothing to Kafka");
    assert!(g.members.iter().all(|m| !m.client_id.is_empty() && &*m.host == "/127.0.0.1"), "{:?}", g.members);
    let workers = workers_of(p.cluster(), &group_id).map(|w| w.value).unwrap_or_default();
    assert_eq!(workers.len(), g.members.len());

    // The same members as Kafka's own Admin#describeClassicGroups reports
    // them (kafka-consumer-groups refuses `connect` groups).
    wait_for("kdrill and describeClassicGroups to agree", Duration::from_secs(60), || {
        let out = lab().run(
            &["tool", "describe-classic-groups", "--bootstrap-server", &lab().dr, &group_id],
            Duration::from_secs(120),
        )?;
        let mut theirs: Vec<(String, String, String)> = out
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                match f.as_slice() {
                    ["member", g, id, client, host] if *g == group_id => Some((
                        (*id).to_owned(),
                        client.strip_prefix("client=")?.to_owned(),
                        host.strip_prefix("host=")?.to_owned(),
                    )),
                    _ => None,
                }
            })
            .collect();
        theirs.sort();
        p.poll();
        let g = group(p.cluster(), &group_id)?;
        let ours: Vec<(String, String, String)> =
            g.members.iter().map(|m| (m.member_id.clone(), m.client_id.to_string(), m.host.to_string())).collect();
        if ours == theirs && !ours.is_empty() { Ok(()) } else { Err(format!("ours {ours:?} theirs {theirs:?}")) }
    });
}

#[test]
fn spawn_publishes_snapshots_with_both_clusters_and_mm2() {
    let _lab = support::shared();
    lab().run(&["mm2", "start", "dc-dr"], Duration::from_secs(300)).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let mut world = spawn(config());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            let snap = world.snapshots.borrow_and_update().clone();
            let both_up = snap.clusters.iter().all(|c| matches!(c.link, Link::Up { .. }) && c.groups.is_some());
            let d = &snap.mm2[0];
            let workers = d.workers.as_ref().map_or(0, |w| w.value.len());
            let connectors = d.connectors.as_ref().map_or(0, |c| c.value.len());
            let heartbeats = snap.cluster(Side::Dr).heartbeats.as_ref().map_or(0, |h| h.value.len());
            if both_up && workers > 0 && connectors > 0 && heartbeats > 0 {
                break;
            }
            let last = format!("both_up {both_up} workers {workers} connectors {connectors} heartbeats {heartbeats}");
            tokio::select! {
                r = world.snapshots.changed() => if r.is_err() { panic!("the collector stopped") },
                _ = tokio::time::sleep_until(deadline) => panic!("no complete snapshot in 90 s; last: {last}"),
            }
        }
        // Actions are answered, never silently dropped.
        let (mut observation, d) = world.split();
        let bare = kdrill::act::Procedure::bare(kdrill::action::Action::StopApps(Side::Dc));
        d.dispatch(bare).unwrap_or_else(|e| panic!("{e}"));
        let o = tokio::time::timeout(Duration::from_secs(5), observation.outcomes.recv()).await.ok().flatten();
        assert!(matches!(o.map(|o| o.result), Some(Err(m)) if m.starts_with("kdrill has no request to stop applications on DC")));
    });
}

/// Stopping dc's only broker: the poller reports `Down` with the last good
/// sections kept at their old stamps, then recovers by itself after the
/// broker restarts. Holds the lab exclusively (other scenarios wait).
#[test]
fn zz_a_stopped_broker_is_down_with_last_good_data_then_recovers() {
    let _lab = support::exclusive();
    let topic = unique("kdrill-t-outage");
    support::create_topic(&lab().dc, &topic, 2);
    support::produce(&lab().dc, &topic, &[7, 3]);
    let mut p = poller(Side::Dc);
    poll_until(&mut p, "the topic's offsets", |c| {
        let t = c.topic(&topic).ok_or("no topic")?;
        if t.partitions.iter().filter_map(|p| p.end_offset).sum::<i64>() == 10 { Ok(()) } else { Err("not yet".into()) }
    });
    let good = p.cluster().clone();
    let good_at = |c: &Cluster| {
        (c.brokers.as_ref().map(|s| s.at), c.topics.as_ref().map(|s| s.at), c.groups.as_ref().map(|s| s.at))
    };

    let stopped = lab().run(&["broker", "stop", "dc"], Duration::from_secs(120));
    // Whatever happens next, bring the broker (and MM2, which reads from it) back.
    struct Restart;
    impl Drop for Restart {
        fn drop(&mut self) {
            let _ = lab().run(&["broker", "start", "dc"], Duration::from_secs(300));
            let _ = lab().run(&["mm2", "start", "dc-dr"], Duration::from_secs(300));
        }
    }
    let _restart = Restart;
    stopped.unwrap_or_else(|e| panic!("{e}"));

    let down = poll_until(&mut p, "Link::Down", |c| match &c.link {
        Link::Down { .. } => Ok(c.clone()),
        other => Err(format!("{other:?}")),
    });
    let Link::Down { since, last_ok, error } = &down.link else { unreachable!() };
    assert!(last_ok.is_some() && *since >= last_ok.unwrap_or(*since), "{:?}", down.link);
    assert!(error.starts_with("metadata:"), "{error}");
    assert_eq!(good_at(&down), good_at(&good), "last good sections keep their old stamps");
    assert_eq!(down.topics, good.topics, "never replaced by empty or zero");
    assert_eq!(down.groups, good.groups);
    assert!(p.next_delay() >= Duration::from_secs(1), "backing off");
    assert!(down.polls.failing >= 1, "the failed polls are counted: {:?}", down.polls);

    lab().run(&["broker", "start", "dc"], Duration::from_secs(300)).unwrap_or_else(|e| panic!("{e}"));
    let (b0, t0, _) = good_at(&good);
    let up = wait_for("recovery without restart", Duration::from_secs(120), || {
        p.poll();
        let c = p.cluster();
        let fresh = c.topics.as_ref().map(|t| t.at) > t0;
        match (&c.link, c.topic(&topic)) {
            (Link::Up { .. }, Some(t))
                if fresh && t.partitions.iter().filter_map(|p| p.end_offset).sum::<i64>() == 10 =>
            {
                Ok(c.clone())
            }
            (l, _) => Err(format!("{l:?}, topics fresh: {fresh}")),
        }
    });
    let (b1, t1, _) = good_at(&up);
    assert!(b1 > b0 && t1 > t0, "fresh stamps after recovery");
    // The clients dropped during the outage keep their requests counted.
    assert!(up.polls.requests_sent >= good.polls.requests_sent, "{:?} after, {:?} before", up.polls, good.polls);
    assert_eq!(up.polls.failing, 0, "{:?}", up.polls);
}

/// Committed-offset and describe requests whose deadline passes before
/// their group's coordinator answers must leave nothing behind that a late answer could
/// trip on: librdkafka's coordinator path frees a timed-out request while a
/// coordinator lookup still holds it (an `rd_kafka_enq_once` assertion or a
/// SIGSEGV when the lookup completes), so a crash here kills this test binary.
#[test]
fn group_requests_timing_out_before_the_coordinator_answers_leave_nothing_behind() {
    let _lab = support::shared();
    let brokers: Vec<i32> = {
        let c: BaseConsumer =
            ClientConfig::new().set("bootstrap.servers", &lab().dc).create().unwrap_or_else(|e| panic!("{e}"));
        let md = ffi::metadata(c.client(), Instant::now() + Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e}"));
        md.brokers.iter().map(|b| b.id).collect()
    };
    assert!(!brokers.is_empty());
    // Whether a broker is the group's coordinator does not matter here: a
    // wrong one answers NOT_COORDINATOR, which is an answer.
    let groups: Vec<ffi::GroupAt> = (0..40)
        .map(|i| ffi::GroupAt { id: unique(&format!("kdrill-g-timeout-{i}")), coordinator: brokers[i % brokers.len()] })
        .collect();
    for round in 0..4 {
        // A fresh client knows no coordinator and has no connection yet.
        let c: BaseConsumer =
            ClientConfig::new().set("bootstrap.servers", &lab().dc).create().unwrap_or_else(|e| panic!("{e}"));
        let results = ffi::committed_offsets(c.client(), &groups, 64, Instant::now() + Duration::from_millis(1));
        assert_eq!(results.len(), groups.len(), "round {round}: one answer per group");
        let described = ffi::describe_consumer_groups(c.client(), &groups, Instant::now() + Duration::from_millis(1));
        assert!(described.map_or(true, |d| d.len() <= groups.len()), "round {round}");
        // The late coordinator lookups and replies arrive while the client lives.
        std::thread::sleep(Duration::from_secs(3));
    }
}
