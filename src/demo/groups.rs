//! One cluster's consumer groups as its group coordinator keeps them:
//! members joining and leaving, rebalances that settle a second after the
//! last change, commits, and what `DescribeGroups` and `OffsetFetch` show.

use std::sync::Arc;

use crate::model::{self, Committed, Group, GroupProtocol, Side};

use super::cluster::{CONSUMER_OFFSETS_PARTITIONS, TopicState, partition_of};
use super::timeline::{Event, Guard, STEPS_PER_SEC, Timeline};

pub(super) struct Member {
    pub member_id: String,
    pub client_id: Arc<str>,
    pub host: Arc<str>,
    /// Joined by the StrayConsumer fault, not by the side's applications.
    pub stray: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GroupKind {
    App,
    Plumbing,
    /// Kafka Connect's worker group (`protocol_type` `connect`).
    Connect,
}

/// What a group is, fixed when its first member creates it.
pub(super) struct GroupSpec<'a> {
    pub id: &'a str,
    pub kind: GroupKind,
    pub protocol: GroupProtocol,
    /// The application topic consumed (index into the cluster's app topics).
    pub topic: Option<usize>,
}

pub(super) struct GroupState {
    /// Shared by every checkpoint row that names the group.
    id: Arc<str>,
    kind: GroupKind,
    protocol: GroupProtocol,
    state: &'static str,
    members: Vec<Member>,
    topic: Option<usize>,
    /// Committed offset per partition of `topic`, once committed.
    committed: Vec<Option<i64>>,
    /// Bumped by every membership change, so a pending settle of an older
    /// rebalance is ignored.
    generation: u64,
    /// The `__consumer_offsets` partition the group's commits land in.
    offsets_partition: usize,
}

impl GroupState {
    fn new(spec: &GroupSpec) -> Self {
        GroupState {
            id: spec.id.into(),
            kind: spec.kind,
            protocol: spec.protocol,
            state: "Empty",
            members: Vec::new(),
            topic: spec.topic,
            committed: Vec::new(),
            generation: 0,
            offsets_partition: partition_of(spec.id, CONSUMER_OFFSETS_PARTITIONS),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The id for per-partition rows (checkpoints): one copy however many rows.
    pub fn shared_id(&self) -> Arc<str> {
        Arc::clone(&self.id)
    }

    pub fn topic(&self) -> Option<usize> {
        self.topic
    }

    pub fn committed(&self) -> &[Option<i64>] {
        &self.committed
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }
}

/// A cluster's groups, in creation order.
#[derive(Default)]
pub(super) struct Groups(Vec<GroupState>);

impl Groups {
    pub fn iter(&self) -> std::slice::Iter<'_, GroupState> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.0.iter().position(|g| &*g.id == id)
    }

    fn find_or_create(&mut self, spec: &GroupSpec) -> usize {
        self.position(spec.id).unwrap_or_else(|| {
            self.0.push(GroupState::new(spec));
            self.0.len() - 1
        })
    }

    /// A member joins: the group rebalances and settles a second later.
    pub fn join(&mut self, side: Side, spec: &GroupSpec, member: Member, timeline: &mut Timeline) {
        let idx = self.find_or_create(spec);
        self.0[idx].members.push(member);
        self.membership_changed(side, idx, true, timeline);
    }

    /// A member joins a group shown Stable at once, as Connect's worker
    /// group is between polls.
    pub fn join_stable(&mut self, spec: &GroupSpec, member: Member) {
        let idx = self.find_or_create(spec);
        let g = &mut self.0[idx];
        g.members.push(member);
        g.state = "Stable";
    }

    pub fn leave(&mut self, side: Side, group: &str, member_id: &str, settle: bool, timeline: &mut Timeline) {
        let Some(idx) = self.position(group) else { return };
        let g = &mut self.0[idx];
        let before = g.members.len();
        g.members.retain(|m| m.member_id != member_id);
        // A group left with only live (stray) members completes its rebalance.
        let settle = settle || g.members.iter().all(|m| m.stray);
        if g.members.len() != before {
            self.membership_changed(side, idx, settle, timeline);
        }
    }

    /// Members stopped heartbeating: the group rebalances and stays so.
    pub fn rebalance(&mut self, side: Side, group: &str, timeline: &mut Timeline) {
        if let Some(idx) = self.position(group) {
            self.membership_changed(side, idx, false, timeline);
        }
    }

    /// Membership changed: the group rebalances and, if `settle`, becomes
    /// Stable a second later unless it changes again meanwhile.
    fn membership_changed(&mut self, side: Side, idx: usize, settle: bool, timeline: &mut Timeline) {
        let g = &mut self.0[idx];
        g.generation += 1;
        if g.members.is_empty() {
            g.state = "Empty";
            return;
        }
        g.state = "PreparingRebalance";
        if settle {
            let (group, generation) = (g.id.to_string(), g.generation);
            timeline.schedule(STEPS_PER_SEC, Guard::Always, Event::Settle { side, group, generation });
        }
    }

    /// The rebalance of `generation` completes, unless membership changed since.
    pub fn settle(&mut self, group: &str, generation: u64) {
        let Some(idx) = self.position(group) else { return };
        let g = &mut self.0[idx];
        if g.generation == generation {
            g.state = if g.members.is_empty() { "Empty" } else { "Stable" };
        }
    }

    /// Every member leaves at once (Connect workers shutting down).
    pub fn empty(&mut self, group: &str) {
        if let Some(idx) = self.position(group) {
            let g = &mut self.0[idx];
            g.members.clear();
            g.state = "Empty";
            g.generation += 1;
        }
    }

    /// Every group Stable, as in a long-running cluster.
    pub fn settle_all(&mut self) {
        for g in &mut self.0 {
            g.state = "Stable";
        }
    }

    /// The members of `group`, none if it does not exist.
    pub fn members(&self, group: &str) -> &[Member] {
        self.position(group).map_or(&[], |i| self.0[i].members.as_slice())
    }

    /// Member ids of `group`, none if it does not exist.
    pub fn member_ids(&self, group: &str) -> Vec<String> {
        self.position(group)
            .map(|i| self.0[i].members.iter().map(|m| m.member_id.clone()).collect())
            .unwrap_or_default()
    }

    /// Application groups with members: their ids and the members the
    /// applications run (stray consumers excluded).
    pub fn app_members(&self) -> Vec<(String, Vec<String>)> {
        self.0
            .iter()
            .filter(|g| g.kind == GroupKind::App && !g.members.is_empty())
            .map(|g| (g.id.to_string(), g.members.iter().filter(|m| !m.stray).map(|m| m.member_id.clone()).collect()))
            .collect()
    }

    /// Groups with members commit their position (caught up); returns the
    /// records written per `__consumer_offsets` partition.
    pub fn commit(&mut self, topics: &[TopicState]) -> Vec<(usize, i64)> {
        let mut commits = Vec::new();
        for g in &mut self.0 {
            let Some(t) = g.topic else { continue };
            if g.members.is_empty() {
                continue;
            }
            let Some(topic) = topics.get(t) else { continue };
            g.committed.clear();
            g.committed.extend(topic.ends().map(Some));
            commits.push((g.offsets_partition, topic.partitions() as i64));
        }
        commits
    }

    /// What `DescribeGroups` and `OffsetFetch` return, sorted by id as
    /// the Kafka collector sorts them.
    pub fn observe(&self, topics: &[TopicState]) -> Vec<Group> {
        let mut groups: Vec<Group> = self.0.iter().map(|g| group_view(g, topics)).collect();
        groups.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        groups
    }
}

fn group_view(g: &GroupState, topics: &[TopicState]) -> Group {
    let topic = g.topic.and_then(|t| topics.get(t));
    let n = topic.map_or(0, TopicState::partitions);
    let m = g.members.len();
    let members = g
        .members
        .iter()
        .map(|member| {
            // Range assignor over members sorted by id; nothing is assigned
            // while the group rebalances.
            let rank = g.members.iter().filter(|o| o.member_id < member.member_id).count();
            let assignment = match topic {
                Some(t) if g.state == "Stable" && m > 0 => {
                    let (per, extra) = (n / m, n % m);
                    let from = rank * per + rank.min(extra);
                    let len = per + usize::from(rank < extra);
                    (from..from + len).map(|p| (t.shared_name(), p as i32)).collect()
                }
                _ => Vec::new(),
            };
            model::Member {
                member_id: member.member_id.clone(),
                client_id: member.client_id.clone(),
                host: member.host.clone(),
                assignment,
            }
        })
        .collect();
    let committed = match (g.kind, topic) {
        (GroupKind::Connect, _) | (_, None) => None,
        (_, Some(t)) => Some(
            g.committed
                .iter()
                .enumerate()
                .filter_map(|(p, o)| Some(Committed { topic: t.shared_name(), partition: p as i32, offset: (*o)? }))
                .collect(),
        ),
    };
    Group {
        id: g.id.to_string(),
        state: g.state.into(),
        protocol_type: if g.kind == GroupKind::Connect { "connect" } else { "consumer" }.into(),
        protocol: g.protocol,
        members,
        committed,
    }
}
