//! Per-side judgement: freshness, brokers, produce rates, who consumes,
//! whether applications are active, and the role the side plays.

use std::sync::Arc;

use crate::config::{Classification, Settings};
use crate::model::{Cluster, Group, Link, Side, Snapshot, Ts};

use super::history::{History, Series};
use super::mm2::Mm2View;
use super::truth::{Freshness, Truth};

/// What a side is doing, as observed (not as declared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Applications produce or consume here.
    Active,
    /// No applications; MM2 replicates into it.
    Passive,
    /// Neither applications nor inbound replication.
    Idle,
    /// Not observable (unreachable or stale).
    Unknown,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Active => "ACTIVE",
            Role::Passive => "PASSIVE",
            Role::Idle => "IDLE",
            Role::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupClass {
    App,
    Plumbing,
    Mm2,
    /// A consumer group nobody declared (not in `apps.groups`, not
    /// plumbing, not MM2's): it counts as an application, so a stranger
    /// consuming on the passive side is an alarm, never ignored.
    Foreign,
    /// MM2's own non-Connect groups (dedicated-mode herders...).
    Other,
}

impl GroupClass {
    /// The class's stable name, as `check` reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupClass::App => "app",
            GroupClass::Plumbing => "plumbing",
            GroupClass::Mm2 => "mm2",
            GroupClass::Foreign => "foreign",
            GroupClass::Other => "other",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupView {
    pub id: String,
    pub class: GroupClass,
    pub state: String,
    pub members: usize,
    pub clients: Vec<Arc<str>>,
    pub hosts: Vec<Arc<str>>,
    /// Committed offsets against this side's end offsets; `None` for
    /// groups that commit nothing to Kafka (Connect workers).
    pub lag: Option<super::groups::GroupLag>,
    /// Members are connected and it is behind, but its committed offsets
    /// have not moved since then, for at least `stall_after` (Burrow's
    /// STALL): a consumer that is stuck, not one that is idle.
    pub stalled_since: Option<Ts>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TopicView {
    pub name: String,
    pub partitions: usize,
    pub app: bool,
    /// Records per second appended by all writers: over the same interval as
    /// `app_rate` and `mm2_rate` where those are known, else the rate window.
    pub rate: Option<f64>,
    /// Records per second applications wrote recently: growth not
    /// explained by MM2 replicating into this side.
    pub app_rate: Option<f64>,
    /// Records per second MM2 provably wrote into this side over the same
    /// interval; `None` where no flow writes in (or it is unknown).
    pub mm2_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SideView {
    pub side: Side,
    pub alias: String,
    pub link: Link,
    pub freshness: Freshness,
    /// Newest observation stamp of the cluster's offsets and groups.
    pub observed_at: Option<Ts>,
    pub brokers_up: Option<(usize, usize)>,
    pub topics: Vec<TopicView>,
    pub groups: Vec<GroupView>,
    /// Application producers write here.
    pub producing: Truth,
    /// Application consumer groups have members here.
    pub consuming: Truth,
    pub role: Role,
    pub declared: Option<Role>,
    /// What could not be read of MM2's topics here, in words: records
    /// skipped as undecodable per topic, and why the last read was
    /// incomplete. Figures resting on those topics may be missing a fact.
    pub unread: Vec<String>,
    pub skipped: Vec<crate::model::SkippedRecords>,
    /// How kdrill connects here, when it is not plaintext.
    pub security: Option<SecurityView>,
    /// Where the groups' committed offsets came from in the last poll.
    pub offsets_source: Option<crate::model::OffsetsSource>,
    /// The collector's counts: polls, failures, requests sent.
    pub polls: crate::model::PollCounts,
}

/// The security in use towards a side, in words (never a secret), and the
/// server certificate's remaining days where a handshake showed them.
#[derive(Clone, Debug, PartialEq)]
pub struct SecurityView {
    /// `SASL_SSL · SCRAM-SHA-512 · user kdrill`.
    pub text: String,
    /// Whole days until the server certificate expires (negative: expired).
    pub cert_days_left: Option<i64>,
    /// The certificate expires within the configured warning days.
    pub cert_warn: bool,
}

/// The security view of `s` at `now`; plaintext has none to show.
pub fn security_view(s: &crate::model::Security, now: Ts) -> Option<SecurityView> {
    if s.protocol == "PLAINTEXT" {
        return None;
    }
    let mut text = s.protocol.clone();
    if let Some(m) = &s.mechanism {
        text.push_str(&format!(" · {m}"));
    }
    if let Some(u) = &s.user {
        text.push_str(&format!(" · user {u}"));
    }
    let cert_days_left = s.cert_not_after.map(|t| (t - now).num_days());
    Some(SecurityView {
        text,
        cert_days_left,
        cert_warn: cert_days_left.is_some_and(|d| d < i64::from(s.cert_warn_days)),
    })
}

impl SideView {
    /// Parts of the last poll that could not be read (each kept its last
    /// value, aging); `None` while polls go unanswered: then not known.
    pub fn last_poll_unread(&self) -> Option<&[String]> {
        (matches!(self.link, Link::Up { .. }) && self.polls.failing == 0)
            .then_some(self.polls.section_errors.as_slice())
    }

    /// Applications are active if they produce or consume.
    pub fn apps_active(&self) -> Truth {
        self.producing.clone().or(self.consuming.clone())
    }

    /// Groups that count as applications: declared ones and foreign ones.
    pub fn app_groups(&self) -> impl Iterator<Item = &GroupView> {
        self.groups.iter().filter(|g| matches!(g.class, GroupClass::App | GroupClass::Foreign))
    }
}

/// Growth below this many records per second is noise (offset gaps,
/// transaction markers, MM2 commit timing), not an application.
pub(super) const MIN_APP_RATE: f64 = 0.05;

pub fn assess_side(
    side: Side,
    snap: &Snapshot,
    classes: &[GroupClass],
    history: &History,
    mm2: &[Mm2View],
    settings: &Settings,
    now: Ts,
) -> SideView {
    let cluster = snap.cluster(side);
    let observed_at = match (&cluster.topics, &cluster.groups) {
        (Some(t), Some(g)) => Some(t.at.min(g.at)),
        _ => None,
    };
    let freshness = Freshness::of(observed_at, now, settings.stale_after);
    let stale = freshness.problem(&format!("{} data", side.label()));

    let brokers_up = cluster.brokers.as_ref().map(|b| (b.value.iter().filter(|b| b.up).count(), b.value.len()));

    let inbound: Vec<&Mm2View> = mm2.iter().filter(|m| m.flow.target == side).collect();
    let topics = topic_views(cluster, history, &inbound, settings);
    let groups = group_views(cluster, classes, history, settings, now);

    let producing = match &stale {
        Some(why) => Truth::Unknown(why.clone()),
        None => judge_producing(&topics),
    };
    let consuming = match (&stale, &cluster.groups) {
        (Some(why), _) => Truth::Unknown(why.clone()),
        (None, None) => Truth::Unknown("consumer groups never observed".into()),
        (None, Some(_)) => Truth::from_bool(
            groups.iter().any(|g| matches!(g.class, GroupClass::App | GroupClass::Foreign) && g.members > 0),
        ),
    };
    let role = match producing.clone().or(consuming.clone()) {
        Truth::Yes => Role::Active,
        Truth::No if inbound.iter().any(|m| m.running.is_yes()) => Role::Passive,
        Truth::No => Role::Idle,
        Truth::Unknown(_) => Role::Unknown,
    };

    SideView {
        side,
        alias: cluster.alias.clone(),
        link: cluster.link.clone(),
        freshness,
        observed_at,
        brokers_up,
        topics,
        groups,
        producing,
        consuming,
        role,
        declared: None,
        unread: unread(cluster),
        skipped: cluster.unread.as_ref().map(|u| u.value.skipped.clone()).unwrap_or_default(),
        security: cluster.security.as_ref().and_then(|s| security_view(s, now)),
        offsets_source: cluster.offsets_source.clone(),
        polls: cluster.polls.clone(),
    }
}

fn unread(cluster: &crate::model::Cluster) -> Vec<String> {
    let Some(u) = cluster.unread.as_ref().map(|o| &o.value) else { return Vec::new() };
    let mut out: Vec<String> =
        u.skipped.iter().map(|s| format!("{} undecodable record(s) skipped in {}", s.count, s.topic)).collect();
    if let (Some(first), false) = (&u.first_skipped, u.skipped.is_empty()) {
        out.push(format!("first skipped: {first}"));
    }
    if let Some(p) = &u.problem {
        out.push(format!("last read of MM2's topics incomplete: {p}"));
    }
    out
}

fn judge_producing(topics: &[TopicView]) -> Truth {
    let mut unknown = None;
    for t in topics.iter().filter(|t| t.app) {
        match t.app_rate {
            Some(r) if r >= MIN_APP_RATE => return Truth::Yes,
            Some(_) => {}
            None => unknown = Some(&t.name),
        }
    }
    match unknown {
        Some(name) => Truth::Unknown(format!("produce rate of {name} not yet measurable")),
        None => Truth::No,
    }
}

fn topic_views(cluster: &Cluster, history: &History, inbound: &[&Mm2View], settings: &Settings) -> Vec<TopicView> {
    let Some(topics) = &cluster.topics else {
        return Vec::new();
    };
    let t1 = topics.at;
    let t0 = t1 - settings.rate_window;
    let recent = t1 - settings.activity_window;
    topics
        .value
        .iter()
        .map(|topic| {
            let app = settings.classification.is_app_topic(&topic.name, &settings.policy);
            let own = history.topic_totals[cluster.side.index()].get(&topic.name);
            let rate = own.and_then(|own| growth(&[own], t0, t1).and_then(|(g, from)| rate_over(g, from, t1)));
            let (recent_rate, app_rate, mm2_rate) = match own {
                Some(own) => attribute(own, history, inbound, &topic.name, settings, recent, t1),
                None => (None, None, None),
            };
            // Shown beside its split, the total is measured over the same interval.
            let rate = recent_rate.or(rate);
            let app_rate = if app { app_rate } else { None };
            TopicView { name: topic.name.clone(), partitions: topic.partitions.len(), app, rate, app_rate, mm2_rate }
        })
        .collect()
}

/// The latest first-observation among `series`: the start of the interval
/// over which all of them can be compared.
fn common_start<'a>(series: impl IntoIterator<Item = &'a Series>, t0: Ts) -> Option<Ts> {
    series.into_iter().try_fold(t0, |acc, s| s.first().map(|(t, _)| acc.max(t)))
}

/// The earliest last-observation among `series`, at most `t1`: the end of
/// the interval over which all of them are known. Past its last read a
/// series is only assumed flat, and a side read later than the other would
/// seem to outgrow it.
fn common_end(series: &[&Series], t1: Ts) -> Ts {
    series.iter().filter_map(|s| s.latest()).fold(t1, |acc, (t, _)| acc.min(t))
}

/// Records the series grew by over `[from, t1]`, with `from` their common start.
fn growth(series: &[&Series], t0: Ts, t1: Ts) -> Option<(f64, Ts)> {
    let from = common_start(series.iter().copied(), t0)?;
    grown_between(series, from, t1).map(|g| (g, from))
}

fn grown_between(series: &[&Series], from: Ts, t1: Ts) -> Option<f64> {
    series.iter().try_fold(0.0, |acc, s| Some(acc + s.value_at(t1)? - s.value_at(from)?))
}

fn rate_over(grown: f64, t0: Ts, t1: Ts) -> Option<f64> {
    let secs = (t1 - t0).num_milliseconds() as f64 / 1000.0;
    if secs < 2.0 { None } else { Some((grown / secs).max(0.0)) }
}

/// Splits a topic's recent growth between applications and MM2. Under
/// IdentityReplicationPolicy a mirrored topic has the same name on both
/// sides, so only growth MM2 cannot account for betrays a producer:
/// - what MM2 *provably* wrote is the larger of the source topic's growth
///   and MM2's committed progress over the interval (commits move in steps
///   of `offset.flush.interval.ms`; the source's growth does not);
/// - what it *could* have written adds the backlog it had at the start.
///
/// Growth within the proven share is MM2's; beyond what MM2 could have
/// written it is the applications'; in between (MM2 catching up, commits
/// lagging its writes) it is unknown.
/// Returns (all writers, applications, MM2) in records per second, all over
/// the same interval, so the three add up.
fn attribute(
    own: &Series,
    history: &History,
    inbound: &[&Mm2View],
    topic: &str,
    settings: &Settings,
    recent: Ts,
    t1: Ts,
) -> (Option<f64>, Option<f64>, Option<f64>) {
    let upstream = settings.policy.original_topic(topic);
    let mut feeds: Vec<[Option<&Series>; 2]> = Vec::new();
    // Series that keep moving: read every poll, known only up to their last read.
    let mut live = vec![own];
    let mut replicating = false;
    // A running flow seen from one end only: what MM2 could have written
    // is unbounded.
    let mut one_sided = false;
    for m in inbound {
        let committed = history.replicated_totals.get(&m.flow).and_then(|t| t.get(upstream));
        match &m.running {
            // A flow whose state is unknown makes the whole figure unknown.
            Truth::Unknown(_) => return (None, None, None),
            // A stopped flow transfers nothing new, but what it committed
            // before it stopped still explains growth inside the window.
            Truth::No => feeds.push([None, committed]),
            Truth::Yes => {
                replicating = true;
                let source = history.topic_totals[m.flow.source.index()].get(upstream);
                one_sided |= source.is_some() != committed.is_some();
                live.extend(source.into_iter().chain(committed));
                feeds.push([source, committed]);
            }
        }
    }
    // Where MM2 writes in, attribution compares two clusters sampled at
    // different moments and progress committed in steps: judge it over the
    // long window, where those errors are small. Elsewhere all growth is
    // the applications' and the short window shows a stop quickly.
    let t0 = if replicating { t1 - settings.rate_window } else { recent };
    let all = std::iter::once(own).chain(feeds.iter().flatten().flatten().copied());
    let Some(from) = common_start(all, t0) else { return (None, None, None) };
    let rate_until = |t1: Ts| grown_between(&[own], from, t1).and_then(|g| rate_over(g, from, t1));
    match rate_until(t1) {
        None => return (None, None, None),
        // Nothing written: no one to attribute it to, whatever the sources.
        Some(0.0) => return (Some(0.0), Some(0.0), replicating.then_some(0.0)),
        Some(_) => {}
    }
    // Growth is compared where every moving series was read (a stopped
    // flow's progress stays where it was last read).
    let t1 = common_end(&live, t1);
    let Some(rate) = rate_until(t1) else { return (None, None, None) };
    // MM2 runs into this side but has not committed progress for this topic
    // yet (it has just started), or commits it while its source is not
    // observed (never read, a refused login): growth cannot be attributed
    // either way.
    if rate > 0.0 && one_sided {
        return (None, None, None);
    }
    // What MM2 provably wrote (the larger of the source's growth and its
    // committed progress), and the most it could have written (the source's
    // growth plus the backlog it had at the start of the interval).
    let mut proven = 0.0;
    let mut possible = 0.0;
    for [source, committed] in &feeds {
        let grown = |s: &Option<&Series>| s.and_then(|s| grown_between(&[s], from, t1)).unwrap_or(0.0);
        let (by_source, by_commits) = (grown(source), grown(committed));
        proven += by_source.max(by_commits);
        let backlog = match (source, committed) {
            (Some(s), Some(c)) => (s.value_at(from).unwrap_or(0.0) - c.value_at(from).unwrap_or(0.0)).max(0.0),
            _ => 0.0,
        };
        possible += by_source.max(by_commits) + backlog;
    }
    let secs = (t1 - from).num_milliseconds() as f64 / 1000.0;
    let grown = rate * secs;
    // Tolerate a quarter of the flow for timing differences between sides.
    let mm2 = replicating.then(|| (proven / secs).min(rate));
    if grown <= proven * 1.25 {
        (Some(rate), Some(0.0), mm2.map(|_| rate))
    } else if grown <= possible * 1.25 {
        // MM2 is catching up and commits lag its writes: cannot tell.
        (Some(rate), None, None)
    } else {
        let apps = (grown - possible) / secs;
        (Some(rate), Some(apps), mm2.map(|_| rate - apps))
    }
}

/// What a consumer group is, by its protocol and name.
pub fn group_class(g: &Group, c: &Classification) -> GroupClass {
    if g.protocol_type == "connect" {
        GroupClass::Mm2
    } else if c.is_plumbing_group(&g.id) {
        GroupClass::Plumbing
    } else if c.is_mm2_group(&g.id) {
        GroupClass::Other
    } else if c.names_app_group(&g.id) {
        GroupClass::App
    } else {
        GroupClass::Foreign
    }
}

/// The view of each group `cluster` lists, whose classes are `classes`, in order.
fn group_views(
    cluster: &Cluster,
    classes: &[GroupClass],
    history: &History,
    settings: &Settings,
    now: Ts,
) -> Vec<GroupView> {
    let Some(groups) = &cluster.groups else {
        return Vec::new();
    };
    let ends = super::groups::EndOffsets::of(cluster);
    groups
        .value
        .iter()
        .zip(classes)
        .map(|(g, &class)| {
            let mut clients: Vec<Arc<str>> = g.members.iter().map(|m| m.client_id.clone()).collect();
            clients.sort();
            clients.dedup();
            let mut hosts: Vec<Arc<str>> = g.members.iter().map(|m| m.host.clone()).collect();
            hosts.sort();
            hosts.dedup();
            let lag = super::groups::group_lag(g, cluster, &ends, settings, now);
            let behind = lag.as_ref().and_then(|l| l.total).is_some_and(|n| n > 0);
            let stalled_since = (class != GroupClass::Mm2 && !g.members.is_empty() && behind)
                .then(|| history.group_commits[cluster.side.index()].get(&g.id)?.unchanged_since())
                .flatten()
                .filter(|since| now - *since >= settings.stall_after);
            GroupView {
                id: g.id.clone(),
                class,
                state: g.state.clone(),
                members: g.members.len(),
                clients,
                hosts,
                lag,
                stalled_since,
            }
        })
        .collect()
}

#[cfg(test)]
mod security_tests {
    use super::*;
    use crate::model::Security;

    fn sec(protocol: &str, days: Option<i64>, warn: u32) -> Security {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").map(|t| t.to_utc()).unwrap_or_default();
        Security {
            protocol: protocol.into(),
            mechanism: Some("SCRAM-SHA-512".into()),
            user: Some("kdrill".into()),
            cert_not_after: days.map(|d| now + chrono::Duration::days(d) + chrono::Duration::hours(1)),
            cert_warn_days: warn,
        }
    }

    #[test]
    fn certificate_days_warn_below_the_configured_days() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").map(|t| t.to_utc()).unwrap_or_default();
        let v = security_view(&sec("SASL_SSL", Some(29), 30), now).unwrap_or_else(|| panic!("a view"));
        assert_eq!(v.text, "SASL_SSL · SCRAM-SHA-512 · user kdrill");
        assert_eq!((v.cert_days_left, v.cert_warn), (Some(29), true));
        let v = security_view(&sec("SASL_SSL", Some(30), 30), now).unwrap_or_else(|| panic!("a view"));
        assert_eq!((v.cert_days_left, v.cert_warn), (Some(30), false));
        let v = security_view(&sec("SASL_SSL", None, 30), now).unwrap_or_else(|| panic!("a view"));
        assert_eq!((v.cert_days_left, v.cert_warn), (None, false));
        assert_eq!(security_view(&sec("PLAINTEXT", None, 30), now), None, "plaintext shows nothing");
    }
}
