//! One side's drill topic, on a thread of its own (the clients block):
//! follows the topic from its start, and for a driving console creates it
//! when absent, writes the lease and the journal records the side lacks,
//! in order, once it has read the topic to its end — so a side that was
//! down is caught up when it returns.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::admin::AdminClient;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::collect::kafka::client::{self, KdrillContext};
use crate::collect::kafka::writer;
use crate::config::{ClusterConfig, Timing};
use crate::model::Side;

use super::lease::{Driver, LeaseKind, LeaseRecord};
use super::record::{Body, Envelope};
use super::view::{Feed, SideLog};

/// What the central task asks of a side.
pub(super) enum ToSide {
    /// A journal record of the current drill, in order.
    Journal(Box<Envelope>),
    /// A lease record to write (a claim, a takeover, a release).
    Lease(LeaseKind),
    /// Renew the lease if held here; claim it if nobody holds it here.
    Renew,
}

/// What a side tells the central task.
pub(super) struct SideReport {
    pub side: Side,
    pub log: SideLog,
    /// This console's last claim or takeover was read back: obeyed or not.
    pub verdict: Option<bool>,
}

pub(super) struct SideTask {
    pub side: Side,
    pub cluster: ClusterConfig,
    pub timing: Timing,
    pub topic: String,
    /// This console, when it may drive; a follower never writes.
    pub me: Option<Driver>,
    pub rx: Receiver<ToSide>,
    pub tx: Sender<super::Input>,
}

const PROBE_EVERY: Duration = Duration::from_secs(2);
const WATERMARK_EVERY: Duration = Duration::from_secs(1);

impl SideTask {
    pub fn run(self) {
        let report = |log: &SideLog, verdict| {
            self.tx.send(super::Input::Side(SideReport { side: self.side, log: log.clone(), verdict })).is_ok()
        };
        let mut log = SideLog::default();
        let mut config = client::observer_config(&self.cluster, &self.timing);
        // librdkafka assigns partitions only with a group id; an assigned
        // consumer that never subscribes or commits joins no group.
        config.set("group.id", "kdrill-drill-reader");
        let consumer: BaseConsumer<KdrillContext> = match config.create_with_context(KdrillContext::default()) {
            Ok(c) => c,
            Err(e) => {
                log.feed = Feed::Unreachable(client::describe(&e, &self.cluster));
                report(&log, None);
                return;
            }
        };
        let writer = match &self.me {
            Some(_) => match Writer::new(&self.cluster, &self.timing) {
                Ok(w) => Some(w),
                Err(why) => {
                    log.feed = Feed::Unreachable(why);
                    report(&log, None);
                    return;
                }
            },
            None => None,
        };
        let timeout = self.timing.request_timeout;
        let mut assigned = false;
        let mut created = false;
        let mut next_probe = Instant::now();
        let mut next_watermark = Instant::now();
        // What to write, in the order asked: a release after the last
        // records, never before them.
        let mut outbox: VecDeque<Out> = VecDeque::new();
        // Central holds the lease: a side that lost track of it (it was down
        // when claimed) is claimed again before records are written there.
        let mut should_hold = false;
        let mut awaiting: Option<i64> = None;
        let mut retry_at = Instant::now();
        loop {
            let mut changed = false;
            // Commands first; a closed channel ends the task after a last
            // bounded flush of what is queued.
            let mut closing = false;
            loop {
                match self.rx.try_recv() {
                    Ok(ToSide::Journal(env)) => outbox.push_back(Out::Journal(env)),
                    Ok(ToSide::Lease(kind)) => {
                        should_hold = !matches!(kind, LeaseKind::Release);
                        outbox.push_back(Out::Lease(kind));
                    }
                    Ok(ToSide::Renew) => {
                        should_hold = true;
                        let queued = matches!(outbox.back(), Some(Out::Lease(_)));
                        if !queued && log.lease.holder().is_some() && log.lease.holder() == self.me.as_ref() {
                            outbox.push_back(Out::Lease(LeaseKind::Renew));
                        }
                    }
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                        closing = true;
                        break;
                    }
                }
            }
            if closing {
                if let (Some(w), Some(me)) = (&writer, &self.me)
                    && log.feed.is_following()
                {
                    let deadline = Instant::now() + timeout;
                    while let Some(out) = outbox.pop_front()
                        && Instant::now() < deadline
                    {
                        let env = match out {
                            Out::Lease(kind) => lease_envelope(me, kind),
                            Out::Journal(env) => *env,
                        };
                        if w.send(&self.topic, &env, timeout).is_err() {
                            break;
                        }
                    }
                }
                return;
            }

            if !assigned {
                if Instant::now() >= next_probe {
                    next_probe = Instant::now() + PROBE_EVERY;
                    let before = log.feed.clone();
                    match writer::topic_exists(consumer.client(), &self.topic, timeout) {
                        Ok(true) => {
                            let mut tpl = TopicPartitionList::new();
                            let added = tpl.add_partition_offset(&self.topic, 0, Offset::Beginning);
                            match added.and_then(|()| consumer.assign(&tpl)) {
                                Ok(()) => {
                                    assigned = true;
                                    log.feed = Feed::Connecting;
                                }
                                Err(e) => log.feed = Feed::Unreachable(client::describe(&e, &self.cluster)),
                            }
                        }
                        Ok(false) => {
                            log.feed = match (&writer, created) {
                                (Some(w), false) => {
                                    created = true;
                                    match w.create(&self.topic, timeout) {
                                        Ok(()) => Feed::NoTopic("creating it".into()),
                                        Err(why) => Feed::NoTopic(format!("cannot create {}: {why}", self.topic)),
                                    }
                                }
                                (Some(_), true) if matches!(log.feed, Feed::NoTopic(_)) => log.feed.clone(),
                                _ => Feed::NoTopic(format!("{} does not exist", self.topic)),
                            };
                        }
                        Err(why) => log.feed = Feed::Unreachable(why),
                    }
                    changed |= log.feed != before;
                }
                if changed && !report(&log, None) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }

            // Read what is there (a bounded batch per turn).
            for _ in 0..500 {
                let Some(msg) = consumer.poll(Duration::from_millis(if changed { 0 } else { 100 })) else { break };
                match msg {
                    Ok(m) => {
                        log.apply(m.offset(), m.payload(), self.me.as_ref(), Utc::now());
                        log.observed_at = Some(Utc::now());
                        changed = true;
                    }
                    Err(e) => tracing::debug!("drill topic on {}: {e}", self.side.label()),
                }
            }
            if Instant::now() >= next_watermark {
                next_watermark = Instant::now() + WATERMARK_EVERY;
                let before = log.feed.clone();
                match consumer.fetch_watermarks(&self.topic, 0, timeout) {
                    Ok((_, high)) if log.next_offset >= high => {
                        log.feed = Feed::Following;
                        log.observed_at = Some(Utc::now());
                    }
                    Ok(_) => {}
                    Err(e) => log.feed = Feed::Unreachable(client::describe(&e, &self.cluster)),
                }
                changed |= log.feed != before;
            }

            // Write, once the side has been read to its end, and never past
            // a claim whose verdict is not read back yet.
            if let (Some(w), Some(me)) = (&writer, &self.me)
                && log.feed.is_following()
                && awaiting.is_none()
                && Instant::now() >= retry_at
            {
                match self.write_next(w, me, &mut outbox, &log, should_hold) {
                    Ok(Some(claim_offset)) => awaiting = Some(claim_offset),
                    Ok(None) => {}
                    Err(why) => {
                        log.feed = Feed::Unreachable(why);
                        retry_at = Instant::now() + Duration::from_secs(1);
                        changed = true;
                    }
                }
            }
            let verdict = awaiting.and_then(|o| log.verdicts.get(&o).copied());
            if verdict.is_some() {
                awaiting = None;
            }
            if (changed || verdict.is_some()) && !report(&log, verdict) {
                return;
            }
        }
    }
}

/// One thing to write to a side's drill topic.
enum Out {
    Lease(LeaseKind),
    Journal(Box<Envelope>),
}

impl SideTask {
    /// Writes the outbox's head items the side can take now; the offset of
    /// a claim written, whose verdict must be read back before going on.
    fn write_next(
        &self,
        w: &Writer,
        me: &Driver,
        outbox: &mut VecDeque<Out>,
        log: &SideLog,
        should_hold: bool,
    ) -> Result<Option<i64>, String> {
        let timeout = self.timing.request_timeout;
        while let Some(out) = outbox.front() {
            match out {
                Out::Lease(kind) => {
                    let claims = matches!(kind, LeaseKind::Claim | LeaseKind::TakeOver { .. });
                    let offset = w.send(&self.topic, &lease_envelope(me, kind.clone()), timeout)?;
                    outbox.pop_front();
                    if claims {
                        return Ok(Some(offset));
                    }
                }
                Out::Journal(env) => {
                    let Body::Journal { drill, record, .. } = &env.body else {
                        outbox.pop_front();
                        continue;
                    };
                    if record.seq <= log.last_seq(drill) {
                        outbox.pop_front();
                        continue;
                    }
                    match log.lease.holder() {
                        Some(h) if h == me => {}
                        // Lost track here (down when claimed): claim again.
                        None if should_hold => {
                            let offset = w.send(&self.topic, &lease_envelope(me, LeaseKind::Claim), timeout)?;
                            return Ok(Some(offset));
                        }
                        // Someone else holds it here: wait; the screen says so.
                        _ => return Ok(None),
                    }
                    w.send(&self.topic, env, timeout)?;
                    outbox.pop_front();
                }
            }
        }
        Ok(None)
    }
}

fn lease_envelope(me: &Driver, kind: LeaseKind) -> Envelope {
    Envelope::lease(LeaseRecord { driver: me.clone(), at: Utc::now(), kind })
}

/// The writing clients of a driving console: an idempotent producer
/// (ordered, never duplicated by retries) and an admin client.
struct Writer {
    producer: FutureProducer<KdrillContext>,
    admin: AdminClient<KdrillContext>,
}

impl Writer {
    fn new(cluster: &ClusterConfig, timing: &Timing) -> Result<Writer, String> {
        // Twice the request timeout: an idempotent send may be retried once.
        let timeout = timing.request_timeout.clamp(Duration::from_secs(1), Duration::from_secs(300));
        let mut c = writer::producer_config(cluster, timing, timeout * 2);
        c.set("enable.idempotence", "true");
        let producer = c.create_with_context(KdrillContext::default()).map_err(|e| client::describe(&e, cluster))?;
        let admin = c.create_with_context(KdrillContext::default()).map_err(|e| client::describe(&e, cluster))?;
        Ok(Writer { producer, admin })
    }

    /// Sends one record and waits for the cluster to hold it; its offset.
    fn send(&self, topic: &str, env: &Envelope, timeout: Duration) -> Result<i64, String> {
        let value = env.encode().map_err(|e| e.to_string())?;
        let key = env.key();
        let record = FutureRecord::to(topic).key(&key).payload(&value).partition(0);
        let delivered = futures::executor::block_on(self.producer.send(record, Timeout::After(timeout)));
        delivered.map(|d| d.offset).map_err(|(e, _)| e.to_string())
    }

    /// Creates the drill topic: one partition, compacted, the cluster's
    /// default replication.
    fn create(&self, topic: &str, timeout: Duration) -> Result<(), String> {
        writer::create_topic(&self.admin, topic, &[("cleanup.policy", "compact")], timeout)
    }
}

/// Waits for the next input or `timeout`; `None` on timeout.
pub(super) fn recv<T>(rx: &Receiver<T>, timeout: Duration) -> Result<Option<T>, ()> {
    match rx.recv_timeout(timeout) {
        Ok(v) => Ok(Some(v)),
        Err(RecvTimeoutError::Timeout) => Ok(None),
        Err(RecvTimeoutError::Disconnected) => Err(()),
    }
}
