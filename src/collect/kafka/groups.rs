//! Consumer groups of one cluster: every group of every protocol type
//! (classic `consumer`, KIP-848 `consumer`, Kafka Connect's `connect`,
//! simple offset-only groups), their members with decoded assignments, and
//! the committed offsets of the groups that matter.
//!
//! librdkafka has no single call that sees them all, so one poll combines:
//!
//! | call | requests | gives |
//! |---|---|---|
//! | `ListConsumerGroups` (admin) | 1 ListGroups v5 per broker | consumer + simple groups, their type (classic/KIP-848); per-broker errors |
//! | `rd_kafka_list_groups` | 1 ListGroups + 1 DescribeGroups per broker | every classic-protocol group of every protocol type (`connect` too), members, raw assignments |
//! | `DescribeConsumerGroups` (admin) | 1 ConsumerGroupDescribe per KIP-848 group | KIP-848 members with decoded assignments |
//! | `ListConsumerGroupOffsets` (admin) | 1 OffsetFetch per group that matters | committed offsets, unless read from `__consumer_offsets` (`committed`) |
//!
//! Why: `ListConsumerGroups` drops groups whose protocol type is neither
//! `consumer` nor empty, and `DescribeConsumerGroups` answers "not a consumer
//! group" for them (librdkafka `rdkafka_admin.c`), so Connect worker groups
//! are only visible through the classic path; and `DescribeConsumerGroups`
//! costs one ConsumerGroupDescribe (plus, for classic groups, a fallback
//! DescribeGroups) per group, so classic groups come from the batched
//! classic path. Requests grow with brokers and groups, never partitions.
//! Per-group requests go to the broker that listed the group, its
//! coordinator (see `ffi`, invariant 6).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use rdkafka::client::{Client, ClientContext};

use crate::config::Classification;
use crate::model::{Committed, Group, GroupProtocol, Member, Names};

use super::bytes::{ByteReader, ReadError};
use super::committed::CommittedOffsets;
use super::ffi::{self, ClassicGroup, Described, GroupAt, GroupType, Listing, RawError};

/// How many OffsetFetch requests one cluster poll keeps outstanding.
pub const OFFSET_FETCH_IN_FLIGHT: usize = 64;

/// What one groups poll cost, for measurement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupStats {
    pub groups: usize,
    /// Groups described through `DescribeConsumerGroups` (KIP-848 and
    /// stragglers the classic path could not describe).
    pub described: usize,
    /// OffsetFetch requests sent.
    pub offset_fetches: usize,
    /// Of those, how many failed (their group keeps `committed: None`).
    pub offset_failures: usize,
}

/// Polls every group of the cluster, with committed offsets for the groups
/// `classification` says matter: from `from_topic` when given (read from
/// `__consumer_offsets`, no request per group), else one OffsetFetch each. Fails as a whole (so the caller keeps the
/// last good groups) when a broker did not list its groups or a listed
/// group could not be described: a group must never vanish silently, since
/// "no application consumes here" is judged from this list.
pub fn poll_groups<C: ClientContext>(
    client: &Client<C>,
    classification: &Classification,
    from_topic: Option<&CommittedOffsets>,
    deadline: Instant,
) -> Result<(Vec<Group>, GroupStats), String> {
    let listing = ffi::list_consumer_groups(client, deadline).map_err(|e| format!("listing consumer groups: {e}"))?;
    let classic = ffi::classic_groups(client, deadline).map_err(|e| format!("describing groups: {e}"))?;
    // One copy of each topic name for the whole poll's rows.
    let mut names = Names::default();
    let plan = plan(&listing, classic, &mut names)?;
    let described = ffi::describe_consumer_groups(client, &plan.describe, deadline)
        .map_err(|e| format!("describing consumer groups: {e}"))?;
    let mut stats = GroupStats { described: plan.describe.len(), ..GroupStats::default() };
    let coordinators = plan.coordinators;
    let mut groups = plan.ready;
    for d in described {
        if let Some(g) = from_described(d, &mut names)? {
            groups.push(g);
        }
    }

    // Every group came from the classic listing, so its coordinator is known.
    let wanted: Vec<(usize, GroupAt)> = (0..groups.len())
        .filter(|&i| wants_offsets(&groups[i], classification))
        .filter_map(|i| {
            coordinators.get(&groups[i].id).map(|&c| (i, GroupAt { id: groups[i].id.clone(), coordinator: c }))
        })
        .collect();
    if let Some(offsets) = from_topic {
        for (i, _) in &wanted {
            groups[*i].committed = Some(offsets.of(&groups[*i].id));
        }
    }
    let wanted = if from_topic.is_some() { Vec::new() } else { wanted };
    let ids: Vec<GroupAt> = wanted.iter().map(|(_, g)| g.clone()).collect();
    let results = ffi::committed_offsets(client, &ids, OFFSET_FETCH_IN_FLIGHT, deadline);
    stats.offset_fetches = ids.len();
    for (&(i, _), r) in wanted.iter().zip(results) {
        match r {
            Ok(parts) => {
                let mut committed: Vec<Committed> = parts
                    .into_iter()
                    .map(|p| Committed { topic: names.get(&p.topic), partition: p.partition, offset: p.offset })
                    .collect();
                committed.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
                groups[i].committed = Some(committed);
            }
            Err(e) => {
                stats.offset_failures += 1;
                tracing::debug!("committed offsets of group {}: {e}", groups[i].id);
            }
        }
    }
    for g in &mut groups {
        for m in &mut g.members {
            m.assignment.sort();
        }
        g.members.sort_by(|a, b| a.member_id.cmp(&b.member_id));
    }
    groups.sort_by(|a, b| a.id.cmp(&b.id));
    stats.groups = groups.len();
    Ok((groups, stats))
}

/// Whether kdrill fetches a group's committed offsets: application groups
/// (even empty: a stopped application's position matters in a drill) and
/// every group with members. Connect groups commit nothing to Kafka's
/// offsets and are skipped.
pub fn wants_offsets(g: &Group, classification: &Classification) -> bool {
    g.protocol_type != "connect" && (!g.members.is_empty() || classification.is_app_group(&g.id, &g.protocol_type))
}

/// The classic path's groups that are complete, the groups that need
/// `DescribeConsumerGroups`, and every group's coordinator.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub ready: Vec<Group>,
    pub describe: Vec<GroupAt>,
    pub coordinators: HashMap<String, i32>,
}

/// Decides, per group id, which call's answer to use:
/// * KIP-848 groups (type `Consumer` in the listing) → `DescribeConsumerGroups`
///   (one request per group), unless the listing says `Empty`: a group
///   without members needs no describing;
/// * groups the classic path described without error → the classic answer;
/// * consumer/simple groups the classic path could not describe
///   → `DescribeConsumerGroups` (which falls back to classic DescribeGroups);
/// * any other group the classic path could not describe (a `connect`
///   group whose coordinator is loading, say) → the whole poll fails;
/// * a group the admin listing has and the classic path does not (its
///   coordinator is unknown, so it cannot be asked) → the whole poll fails.
pub fn plan(listing: &[Listing], classic: Vec<ClassicGroup>, names: &mut Names) -> Result<Plan, String> {
    let listed: HashMap<&str, &Listing> = listing.iter().map(|l| (l.id.as_str(), l)).collect();
    let mut plan = Plan::default();
    for g in classic {
        if plan.coordinators.contains_key(&g.id) {
            continue;
        }
        plan.coordinators.insert(g.id.clone(), g.coordinator);
        let listing = listed.get(g.id.as_str());
        let kip848 = listing.is_some_and(|l| l.kind == GroupType::Consumer);
        let consumerish = g.protocol_type.is_empty() || g.protocol_type == "consumer";
        if kip848 && listing.is_some_and(|l| l.state == "Empty") {
            plan.ready.push(Group {
                id: g.id,
                state: "Empty".into(),
                protocol_type: "consumer".into(),
                protocol: GroupProtocol::Consumer,
                members: Vec::new(),
                committed: None,
            });
        } else if kip848 || (g.err != ffi::NO_ERROR && (consumerish || listing.is_some())) {
            plan.describe.push(GroupAt { id: g.id, coordinator: g.coordinator });
        } else if g.err != ffi::NO_ERROR {
            return Err(format!("describing group {}: {}", g.id, ffi::err_name(g.err)));
        } else {
            plan.ready.push(from_classic(g, names));
        }
    }
    if let Some(l) = listing.iter().find(|l| !plan.coordinators.contains_key(&l.id)) {
        return Err(format!("group {} is listed, but no broker lists it as its coordinator", l.id));
    }
    plan.describe.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(plan)
}

/// A group as the classic path described it, topic names from `names`.
pub fn from_classic(g: ClassicGroup, names: &mut Names) -> Group {
    let decode = g.protocol_type == "consumer";
    let members = g
        .members
        .into_iter()
        .map(|m| {
            let assignment = if decode {
                decode_assignment(&m.assignment, names).unwrap_or_else(|e| {
                    tracing::debug!("group {}: member {}: assignment: {e}", g.id, m.member_id);
                    Vec::new()
                })
            } else {
                Vec::new()
            };
            Member { member_id: m.member_id, client_id: m.client_id.into(), host: m.host.into(), assignment }
        })
        .collect();
    Group {
        id: g.id,
        state: g.state,
        protocol_type: g.protocol_type,
        protocol: GroupProtocol::Classic,
        members,
        committed: None,
    }
}

/// A group as `DescribeConsumerGroups` described it, topic names from
/// `names`; `None` when the group is gone (deleted between listing and
/// describing).
pub fn from_described(d: Described, names: &mut Names) -> Result<Option<Group>, String> {
    if let Some(e) = d.error {
        return if e.code == ffi::GROUP_ID_NOT_FOUND {
            Ok(None)
        } else {
            Err(format!("describing consumer group {}: {}", d.id, describe_error(&e)))
        };
    }
    let protocol = if d.kind == GroupType::Consumer { GroupProtocol::Consumer } else { GroupProtocol::Classic };
    let protocol_type = if d.simple && protocol == GroupProtocol::Classic { "" } else { "consumer" };
    Ok(Some(Group {
        id: d.id,
        state: d.state,
        protocol_type: protocol_type.to_owned(),
        protocol,
        members: d
            .members
            .into_iter()
            .map(|m| Member {
                member_id: m.member_id,
                client_id: m.client_id.into(),
                host: m.host.into(),
                assignment: m.assignment.into_iter().map(|(topic, p)| (names.get(&topic), p)).collect(),
            })
            .collect(),
        committed: None,
    }))
}

fn describe_error(e: &RawError) -> String {
    e.message.clone()
}

/// Decodes a classic `consumer` protocol member assignment
/// (`ConsumerProtocolAssignment`, versions 0–3, not flexible): INT16
/// version, then an INT32-counted array of (STRING topic, INT32-counted
/// array of INT32 partition); user data and later fields are ignored.
/// Empty bytes (a member between rebalances) decode to no partitions.
/// Topic names come from `names`, shared with the poll's other rows.
pub fn decode_assignment(bytes: &[u8], names: &mut Names) -> Result<Vec<(Arc<str>, i32)>, String> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let text = |e: ReadError| e.to_string();
    let mut r = ByteReader::new(bytes);
    let version = r.i16("version").map_err(text)?;
    if version < 0 {
        return Err(format!("negative version {version}"));
    }
    let topics = r.i32("topic count").map_err(text)?;
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let topic = names.get(&String::from_utf8_lossy(r.string_bytes("topic").map_err(text)?));
        let n = r.i32("partition count").map_err(text)?;
        // Every partition takes 4 bytes: a count beyond what is left is corrupt.
        if n > 0 && (n as usize) > r.remaining() / 4 {
            return Err(format!("partition count {n} exceeds the {} bytes left", r.remaining()));
        }
        for _ in 0..n.max(0) {
            out.push((Arc::clone(&topic), r.i32("partition").map_err(text)?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn string(s: &str) -> Vec<u8> {
        let mut v = (s.len() as i16).to_be_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    }

    /// Built field by field as Kafka's `ConsumerProtocolAssignment` v0..3
    /// writes it (the Java schema in `clients/src/main/resources/common/
    /// message/ConsumerProtocolAssignment.json`).
    fn assignment(version: i16, topics: &[(&str, &[i32])], user_data: Option<&[u8]>) -> Vec<u8> {
        let mut v = version.to_be_bytes().to_vec();
        v.extend((topics.len() as i32).to_be_bytes());
        for (t, ps) in topics {
            v.extend(string(t));
            v.extend((ps.len() as i32).to_be_bytes());
            for p in *ps {
                v.extend(p.to_be_bytes());
            }
        }
        match user_data {
            Some(d) => {
                v.extend((d.len() as i32).to_be_bytes());
                v.extend_from_slice(d);
            }
            None => v.extend((-1i32).to_be_bytes()),
        }
        v
    }

    #[test]
    fn decodes_consumer_protocol_assignments() {
        for version in 0..=3 {
            let bytes = assignment(version, &[("orders", &[0, 3, 5]), ("redis-writes", &[11])], Some(b"ud"));
            assert_eq!(
                decode_assignment(&bytes, &mut Names::default()),
                Ok(vec![("orders".into(), 0), ("orders".into(), 3), ("orders".into(), 5), ("redis-writes".into(), 11)]),
                "version {version}"
            );
        }
        assert_eq!(decode_assignment(&assignment(1, &[], None), &mut Names::default()), Ok(vec![]));
        assert_eq!(decode_assignment(&[], &mut Names::default()), Ok(vec![]));
    }

    #[test]
    fn one_poll_shares_each_topic_name() {
        let mut names = Names::default();
        let one = decode_assignment(&assignment(0, &[("orders", &[0, 1])], None), &mut names);
        let other = decode_assignment(&assignment(3, &[("orders", &[2])], None), &mut names);
        let (Ok(one), Ok(other)) = (one, other) else { panic!("assignments decode") };
        assert!(Arc::ptr_eq(&one[0].0, &one[1].0), "within a member");
        assert!(Arc::ptr_eq(&one[0].0, &other[0].0), "across members");
        let p =
            plan(&[], vec![classic("a", "consumer", 0), classic("b", "consumer", 0)], &mut names).unwrap_or_default();
        assert!(Arc::ptr_eq(&p.ready[0].members[0].assignment[0].0, &p.ready[1].members[0].assignment[0].0));
    }

    #[test]
    fn corrupt_assignments_are_errors_not_panics() {
        let good = assignment(0, &[("orders", &[0, 1])], None);
        for cut in 1..good.len() - 4 {
            assert!(decode_assignment(&good[..cut], &mut Names::default()).is_err(), "cut at {cut}");
        }
        let mut huge = 0i16.to_be_bytes().to_vec();
        huge.extend(1i32.to_be_bytes());
        huge.extend(string("t"));
        huge.extend(i32::MAX.to_be_bytes());
        assert!(decode_assignment(&huge, &mut Names::default()).is_err());
        assert!(decode_assignment(&[0xff, 0xff, 0, 0, 0, 0], &mut Names::default()).is_err(), "negative version");
    }

    fn classic(id: &str, protocol_type: &str, err: i32) -> ClassicGroup {
        ClassicGroup {
            id: id.into(),
            coordinator: 2,
            err,
            state: if err == 0 { "Stable".into() } else { String::new() },
            protocol_type: protocol_type.into(),
            protocol: "range".into(),
            members: vec![ffi::ClassicMember {
                member_id: format!("{id}-m1"),
                client_id: "c".into(),
                host: "/127.0.0.1".into(),
                assignment: if protocol_type == "consumer" { assignment(0, &[("t", &[2])], None) } else { vec![1, 2] },
            }],
        }
    }

    fn listing(id: &str, kind: GroupType) -> Listing {
        Listing { id: id.into(), state: "Stable".into(), kind, simple: false }
    }

    fn at(id: &str) -> GroupAt {
        GroupAt { id: id.into(), coordinator: 2 }
    }

    #[test]
    fn plan_routes_each_group_to_the_call_that_can_describe_it() {
        let listed = [listing("classic-app", GroupType::Classic), listing("kip848-app", GroupType::Consumer)];
        let found = vec![
            classic("classic-app", "consumer", 0),
            classic("kip848-app", "consumer", ffi::GROUP_ID_NOT_FOUND),
            classic("mirrormaker2-cluster", "connect", 0),
            classic("offsets-only", "", 0),
        ];
        let p = plan(&listed, found, &mut Names::default()).unwrap_or_default();
        assert_eq!(p.describe, vec![at("kip848-app")]);
        let ids: Vec<&str> = p.ready.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["classic-app", "mirrormaker2-cluster", "offsets-only"]);
        assert_eq!(p.ready[0].members[0].assignment, vec![(Arc::from("t"), 2)]);
        assert_eq!(p.ready[1].protocol_type, "connect");
        assert!(p.ready[1].members[0].assignment.is_empty(), "Connect assignments are not topic partitions");
        assert_eq!(p.coordinators.len(), 4, "every group's coordinator is known");
    }

    #[test]
    fn an_empty_kip848_group_is_not_described() {
        let empty =
            Listing { id: "kip848-idle".into(), state: "Empty".into(), kind: GroupType::Consumer, simple: false };
        let listed = [empty, listing("kip848-app", GroupType::Consumer)];
        let found = vec![
            classic("kip848-idle", "consumer", ffi::GROUP_ID_NOT_FOUND),
            classic("kip848-app", "consumer", ffi::GROUP_ID_NOT_FOUND),
        ];
        let p = plan(&listed, found, &mut Names::default()).unwrap_or_default();
        assert_eq!(p.describe, vec![at("kip848-app")]);
        assert_eq!(p.ready.len(), 1);
        let idle = &p.ready[0];
        assert_eq!(
            (idle.id.as_str(), idle.state.as_str(), idle.protocol),
            ("kip848-idle", "Empty", GroupProtocol::Consumer)
        );
        assert!(idle.members.is_empty() && idle.committed.is_none());
        assert_eq!(p.coordinators.get("kip848-idle"), Some(&2), "its offsets can still be asked");
    }

    #[test]
    fn a_group_no_coordinator_lists_fails_the_poll() {
        let listed = [listing("classic-app", GroupType::Classic), listing("late-app", GroupType::Classic)];
        let e = plan(&listed, vec![classic("classic-app", "consumer", 0)], &mut Names::default());
        assert!(matches!(e, Err(m) if m.contains("late-app")));
    }

    #[test]
    fn an_undescribable_connect_group_fails_the_poll() {
        let e = plan(&[], vec![classic("mirrormaker2-cluster", "connect", 14)], &mut Names::default());
        assert!(matches!(e, Err(m) if m.contains("mirrormaker2-cluster")));
        // A consumer group with the same trouble gets a second chance.
        let p = plan(&[], vec![classic("app", "consumer", 14)], &mut Names::default()).unwrap_or_default();
        assert_eq!(p.describe, vec![at("app")]);
    }

    #[test]
    fn described_groups_map_to_the_model() {
        let d = Described {
            id: "g".into(),
            error: None,
            state: "Stable".into(),
            kind: GroupType::Consumer,
            simple: false,
            members: vec![ffi::DescribedMember {
                member_id: "m".into(),
                client_id: "c".into(),
                host: "/h".into(),
                assignment: vec![("t".into(), 1)],
            }],
        };
        let g = from_described(d.clone(), &mut Names::default()).ok().flatten();
        assert_eq!(g.as_ref().map(|g| g.protocol), Some(GroupProtocol::Consumer));
        assert_eq!(g.as_ref().map(|g| g.protocol_type.as_str()), Some("consumer"));
        let gone = Described { error: Some(RawError::from_code(ffi::GROUP_ID_NOT_FOUND)), ..d.clone() };
        assert_eq!(from_described(gone, &mut Names::default()), Ok(None));
        let failing = Described { error: Some(RawError::from_code(15)), ..d };
        assert!(from_described(failing, &mut Names::default()).is_err());
    }

    #[test]
    fn offsets_are_fetched_for_app_groups_and_groups_with_members() {
        let c = Settings::default().classification;
        let mut g = from_classic(classic("orders-app", "consumer", 0), &mut Names::default());
        assert!(wants_offsets(&g, &c));
        g.members.clear();
        assert!(wants_offsets(&g, &c), "an empty app group still matters");
        let connect = from_classic(classic("mirrormaker2-cluster", "connect", 0), &mut Names::default());
        assert!(!wants_offsets(&connect, &c));
        let mut mm2 = from_classic(classic("connect-mm2", "consumer", 0), &mut Names::default());
        assert!(wants_offsets(&mm2, &c), "members make any group matter");
        mm2.members.clear();
        assert!(!wants_offsets(&mm2, &c));
    }
}
