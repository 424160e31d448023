//! The small unsafe core: the parts of librdkafka's C API that rdkafka 0.39
//! does not wrap (or wraps with panics on odd input), behind functions that
//! take a borrowed client and return owned Rust data.
//!
//! Why not rdkafka's safe wrappers: `fetch_group_list` and `fetch_metadata`
//! `expect()` UTF-8 in names coming from the network (rdkafka `src/groups.rs`,
//! `src/metadata.rs`) and leak the list when librdkafka returns `_PARTIAL`;
//! `TopicPartitionList::elements()` reads error codes as a Rust enum, which is
//! undefined behaviour for a broker error code librdkafka's enum lacks (the
//! generated `rd_kafka_resp_err_t` has gaps, e.g. 114–116 and 119–128, and
//! brokers add codes). The admin calls for groups, committed offsets and
//! configs are not wrapped at all.
//!
//! # Invariants every `unsafe` block here relies on
//!
//! 1. **The handle outlives the call.** Every function takes `&Client<C>`, so
//!    the `rd_kafka_t` it uses cannot be destroyed while the call runs.
//! 2. **We destroy exactly what we create.** `Options`, `Queue`, `Event`,
//!    `Tpl`, `Metadata`, `GroupList` and `ConfigResources` own one librdkafka
//!    object each and destroy it in `Drop`, on every path including early
//!    returns. librdkafka copies the options, group names, topic-partition
//!    lists and config resources it is given (`rd_kafka_admin_request_op_new`
//!    copies options; `rd_kafka_ListConsumerGroupOffsets` and
//!    `rd_kafka_DescribeConfigs` copy their arguments), so our copies may go
//!    as soon as the request is submitted.
//! 3. **Nothing borrowed escapes.** Every pointer read from a result (strings,
//!    arrays, nested descriptions) lives as long as the event or list it came
//!    from (`rdkafka.h`: "The lifetime of the returned memory is the same as
//!    the lifetime of the result object"); it is copied into owned Rust values
//!    before the owning wrapper is dropped, and null pointers become empty
//!    values instead of being dereferenced.
//! 4. **Error codes are read as `i32`.** C enums filled from the wire (`err`
//!    fields and functions returning `rd_kafka_resp_err_t`) are read through
//!    raw field pointers or through the `raw` declarations below that return
//!    `c_int`, never materialised as the bindgen Rust enum.
//! 5. **Every wait is bounded.** Admin requests carry a request timeout equal
//!    to the caller's remaining budget, and the queue is polled with that
//!    budget plus a small grace, so librdkafka times a request out itself and
//!    we never leave one waiting on a queue we are about to destroy (and if we
//!    did, destroying an owner queue disables it: a late result is dropped by
//!    librdkafka, not written to freed memory).

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;
use std::time::{Duration, Instant};

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

/// Declarations of librdkafka functions whose return type is a C enum that
/// may carry values the bindgen Rust enum lacks; same symbols, `c_int`
/// returns (the C ABI of an enum is `int`).
mod raw {
    use std::ffi::{c_char, c_int};

    use rdkafka::bindings as rd;

    unsafe extern "C" {
        pub fn rd_kafka_err2str(err: c_int) -> *const c_char;
        pub fn rd_kafka_error_code(error: *const rd::rd_kafka_error_t) -> c_int;
        pub fn rd_kafka_event_error(rkev: *mut rd::rd_kafka_event_t) -> c_int;
        pub fn rd_kafka_metadata(
            rk: *mut rd::rd_kafka_t,
            all_topics: c_int,
            only_rkt: *mut rd::rd_kafka_topic_t,
            metadatap: *mut *const rd::rd_kafka_metadata_t,
            timeout_ms: c_int,
        ) -> c_int;
        pub fn rd_kafka_list_groups(
            rk: *mut rd::rd_kafka_t,
            group: *const c_char,
            grplistp: *mut *const rd::rd_kafka_group_list,
            timeout_ms: c_int,
        ) -> c_int;
        pub fn rd_kafka_offsets_for_times(
            rk: *mut rd::rd_kafka_t,
            offsets: *mut rd::rd_kafka_topic_partition_list_t,
            timeout_ms: c_int,
        ) -> c_int;
        pub fn rd_kafka_AdminOptions_set_request_timeout(
            options: *mut rd::rd_kafka_AdminOptions_t,
            timeout_ms: c_int,
            errstr: *mut c_char,
            errstr_size: usize,
        ) -> c_int;
        pub fn rd_kafka_ConfigResource_error(config: *const rd::rd_kafka_ConfigResource_t) -> c_int;
        pub fn rd_kafka_ConsumerGroupListing_state(grplist: *const rd::rd_kafka_ConsumerGroupListing_t) -> c_int;
        pub fn rd_kafka_ConsumerGroupListing_type(grplist: *const rd::rd_kafka_ConsumerGroupListing_t) -> c_int;
        pub fn rd_kafka_ConsumerGroupDescription_state(
            grpdesc: *const rd::rd_kafka_ConsumerGroupDescription_t,
        ) -> c_int;
        pub fn rd_kafka_ConsumerGroupDescription_type(grpdesc: *const rd::rd_kafka_ConsumerGroupDescription_t)
        -> c_int;
        pub fn rd_kafka_consumer_group_state_name(state: c_int) -> *const c_char;
    }
}

/// librdkafka's "no error".
pub const NO_ERROR: i32 = 0;
/// Kafka's `GROUP_ID_NOT_FOUND`.
pub const GROUP_ID_NOT_FOUND: i32 = 69;
/// librdkafka's `RD_KAFKA_CONSUMER_GROUP_TYPE_CONSUMER` (KIP-848).
const GROUP_TYPE_CONSUMER: c_int = 1;
/// librdkafka's `RD_KAFKA_CONSUMER_GROUP_TYPE_CLASSIC`.
const GROUP_TYPE_CLASSIC: c_int = 2;
/// Extra time given to librdkafka to report its own timeout for a request.
const GRACE: Duration = Duration::from_millis(500);

/// An error from librdkafka or from a broker: the code and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawError {
    pub code: i32,
    pub message: String,
}

impl RawError {
    pub fn from_code(code: i32) -> RawError {
        RawError { code, message: err_name(code) }
    }

    fn new(code: i32, message: impl Into<String>) -> RawError {
        RawError { code, message: message.into() }
    }

    /// Reads an `rd_kafka_error_t` that the caller does not own.
    ///
    /// # Safety
    /// `e` is null or points to a live `rd_kafka_error_t`.
    unsafe fn from_borrowed(e: *const rd::rd_kafka_error_t) -> Option<RawError> {
        if e.is_null() {
            return None;
        }
        // SAFETY: non-null and live per the caller.
        let code = unsafe { raw::rd_kafka_error_code(e) };
        // SAFETY: as above; the string lives as long as `e` and is copied.
        let msg = unsafe { cstr(rd::rd_kafka_error_string(e)) };
        Some(RawError::new(code, if msg.is_empty() { err_name(code) } else { msg }))
    }
}

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// librdkafka's text for an error code (`rd_kafka_err2str` knows unknown
/// codes too and answers with a generic text, never null in practice).
pub fn err_name(code: i32) -> String {
    // SAFETY: rd_kafka_err2str accepts any int and returns a static string.
    let s = unsafe { cstr(raw::rd_kafka_err2str(code)) };
    if s.is_empty() { format!("error {code}") } else { s }
}

/// Copies a C string; null becomes empty, invalid UTF-8 is replaced.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string live for this call.
unsafe fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated and live per the caller.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Builds a slice from a C array; null or non-positive counts give an empty slice.
///
/// # Safety
/// When `p` is non-null it points to at least `n` initialised `T`s that stay
/// live and unmodified for `'a`.
unsafe fn slice<'a, T>(p: *const T, n: impl TryInto<usize>) -> &'a [T] {
    match n.try_into() {
        // SAFETY: per the caller.
        Ok(n) if !p.is_null() && n > 0 => unsafe { std::slice::from_raw_parts(p, n) },
        _ => &[],
    }
}

/// Milliseconds left before `deadline`, at least 1 (librdkafka reads 0 as
/// "do not wait" in some calls and as "no timeout" in others).
fn ms_until(deadline: Instant) -> c_int {
    let ms = deadline.saturating_duration_since(Instant::now()).as_millis();
    c_int::try_from(ms).unwrap_or(c_int::MAX).max(1)
}

fn handle<C: ClientContext>(client: &Client<C>) -> *mut rd::rd_kafka_t {
    client.native_ptr()
}

/// Events waiting on the client's main queue (logs, errors, statistics).
pub fn main_queue_len<C: ClientContext>(client: &Client<C>) -> usize {
    // SAFETY: rk live; rd_kafka_queue_get_main returns a new reference that
    // `Queue` destroys (a non-owner handle: destroying it only drops the
    // reference, the main queue lives on with the client).
    let q = unsafe { rd::rd_kafka_queue_get_main(handle(client)) };
    if q.is_null() {
        return 0;
    }
    let q = Queue(q);
    // SAFETY: q live until dropped.
    unsafe { rd::rd_kafka_queue_length(q.0) }
}

/// librdkafka's instance name of the client (`<client.id>#consumer-<n>`).
pub fn client_name<C: ClientContext>(client: &Client<C>) -> String {
    // SAFETY: rk live; the name is owned by the handle and copied.
    unsafe { cstr(rd::rd_kafka_name(handle(client))) }
}

// ---------------------------------------------------------------- owners

/// Owns an `rd_kafka_AdminOptions_t`.
struct Options(*mut rd::rd_kafka_AdminOptions_t);

impl Options {
    fn new(rk: *mut rd::rd_kafka_t, op: rd::rd_kafka_admin_op_t, deadline: Instant) -> Result<Options, RawError> {
        // SAFETY: rk is live (invariant 1); the result is owned by `Options`.
        let p = unsafe { rd::rd_kafka_AdminOptions_new(rk, op) };
        if p.is_null() {
            return Err(RawError::new(-1, "librdkafka refused to create admin options"));
        }
        let opts = Options(p);
        let mut errbuf = [0 as c_char; 256];
        // SAFETY: opts.0 is live; errbuf is writable for its whole length.
        let err = unsafe {
            raw::rd_kafka_AdminOptions_set_request_timeout(
                opts.0,
                ms_until(deadline),
                errbuf.as_mut_ptr(),
                errbuf.len(),
            )
        };
        if err != NO_ERROR {
            // SAFETY: librdkafka NUL-terminates errbuf (and it is zeroed).
            let msg = unsafe { cstr(errbuf.as_ptr()) };
            return Err(RawError::new(err, msg));
        }
        Ok(opts)
    }

    fn set_opaque(&self, value: usize) {
        // SAFETY: self.0 is live; the opaque is an integer never dereferenced.
        unsafe { rd::rd_kafka_AdminOptions_set_opaque(self.0, value as *mut c_void) }
    }
}

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_AdminOptions_new, destroyed once.
        unsafe { rd::rd_kafka_AdminOptions_destroy(self.0) }
    }
}

/// Owns an `rd_kafka_queue_t` that admin results are delivered to.
struct Queue(*mut rd::rd_kafka_queue_t);

impl Queue {
    fn new(rk: *mut rd::rd_kafka_t) -> Result<Queue, RawError> {
        // SAFETY: rk is live (invariant 1).
        let q = unsafe { rd::rd_kafka_queue_new(rk) };
        if q.is_null() { Err(RawError::new(-1, "librdkafka refused to create a queue")) } else { Ok(Queue(q)) }
    }

    /// The next event, or `None` when `deadline` (plus grace) passes first.
    fn poll(&self, deadline: Instant) -> Option<Event> {
        let ms = ms_until(deadline + GRACE);
        // SAFETY: self.0 is live; the returned event (if any) is ours to destroy.
        let ev = unsafe { rd::rd_kafka_queue_poll(self.0, ms) };
        if ev.is_null() { None } else { Some(Event(ev)) }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_queue_new (an owner handle): destroying
        // it disables the queue, so late results are discarded by librdkafka.
        unsafe { rd::rd_kafka_queue_destroy(self.0) }
    }
}

/// Owns an `rd_kafka_event_t` returned by `rd_kafka_queue_poll`.
struct Event(*mut rd::rd_kafka_event_t);

impl Event {
    /// Checks the type and the request-level error.
    fn check(&self, expected: c_int) -> Result<(), RawError> {
        // SAFETY: self.0 is live until drop.
        let ty = unsafe { rd::rd_kafka_event_type(self.0) };
        if ty != expected {
            return Err(RawError::new(-1, format!("unexpected librdkafka event type {ty} (wanted {expected})")));
        }
        // SAFETY: as above.
        let code = unsafe { raw::rd_kafka_event_error(self.0) };
        if code != NO_ERROR {
            // SAFETY: the string lives as long as the event and is copied.
            let msg = unsafe { cstr(rd::rd_kafka_event_error_string(self.0)) };
            return Err(RawError::new(code, if msg.is_empty() { err_name(code) } else { msg }));
        }
        Ok(())
    }

    fn opaque(&self) -> usize {
        // SAFETY: self.0 is live; the opaque is the integer we set.
        unsafe { rd::rd_kafka_event_opaque(self.0) as usize }
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: returned by rd_kafka_queue_poll, destroyed once.
        unsafe { rd::rd_kafka_event_destroy(self.0) }
    }
}

/// Owns an `rd_kafka_topic_partition_list_t` we created.
struct Tpl(*mut rd::rd_kafka_topic_partition_list_t);

impl Drop for Tpl {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_topic_partition_list_new, destroyed once.
        unsafe { rd::rd_kafka_topic_partition_list_destroy(self.0) }
    }
}

/// One element of a topic-partition list, copied out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Per-partition error code (0 = none).
    pub err: i32,
}

/// Copies every element of a topic-partition list.
///
/// # Safety
/// `tpl` is null or a live list whose elements stay valid for this call.
unsafe fn read_tpl(tpl: *const rd::rd_kafka_topic_partition_list_t) -> Vec<TpOffset> {
    if tpl.is_null() {
        return Vec::new();
    }
    // SAFETY: tpl is live; `elems` holds `cnt` initialised elements.
    let (elems, cnt) = unsafe { ((*tpl).elems, (*tpl).cnt) };
    let mut out = Vec::with_capacity(usize::try_from(cnt).unwrap_or(0));
    for i in 0..usize::try_from(cnt).unwrap_or(0) {
        // SAFETY: i < cnt; fields are read through a raw pointer, and `err`
        // as a plain i32 (invariant 4), never as the whole struct.
        unsafe {
            let e = elems.add(i);
            out.push(TpOffset {
                topic: cstr((*e).topic),
                partition: (*e).partition,
                offset: (*e).offset,
                err: ptr::addr_of!((*e).err).cast::<i32>().read(),
            });
        }
    }
    out
}

// ---------------------------------------------------------------- metadata

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaBroker {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaPartition {
    pub id: i32,
    pub err: i32,
    /// -1 when the partition has no leader.
    pub leader: i32,
    pub replicas: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaTopic {
    pub name: String,
    pub err: i32,
    pub partitions: Vec<MetaPartition>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    pub brokers: Vec<MetaBroker>,
    pub topics: Vec<MetaTopic>,
}

/// Owns an `rd_kafka_metadata_t`.
struct MetadataPtr(*const rd::rd_kafka_metadata_t);

impl Drop for MetadataPtr {
    fn drop(&mut self) {
        // SAFETY: returned by rd_kafka_metadata, destroyed once.
        unsafe { rd::rd_kafka_metadata_destroy(self.0) }
    }
}

/// Brokers and every topic (one Metadata request).
pub fn metadata<C: ClientContext>(client: &Client<C>, deadline: Instant) -> Result<Metadata, RawError> {
    let rk = handle(client);
    let mut md: *const rd::rd_kafka_metadata_t = ptr::null();
    // SAFETY: rk live; md receives an object we own when the call succeeds.
    let err = unsafe { raw::rd_kafka_metadata(rk, 1, ptr::null_mut(), &mut md, ms_until(deadline)) };
    if err != NO_ERROR {
        if !md.is_null() {
            drop(MetadataPtr(md));
        }
        return Err(RawError::from_code(err));
    }
    if md.is_null() {
        return Err(RawError::new(-1, "librdkafka returned no metadata"));
    }
    let owner = MetadataPtr(md);
    let mut out = Metadata::default();
    // SAFETY: owner.0 is live until `owner` drops at the end of this
    // function; arrays hold the counts given; everything is copied
    // (invariant 3) and `err` fields are read as i32 (invariant 4).
    unsafe {
        let m = owner.0;
        for b in slice((*m).brokers, (*m).broker_cnt) {
            out.brokers.push(MetaBroker { id: b.id, host: cstr(b.host), port: b.port });
        }
        let topics = (*m).topics;
        for ti in 0..usize::try_from((*m).topic_cnt).unwrap_or(0) {
            if topics.is_null() {
                break;
            }
            let t = topics.add(ti);
            let parts = (*t).partitions;
            let mut partitions = Vec::new();
            for pi in 0..usize::try_from((*t).partition_cnt).unwrap_or(0) {
                if parts.is_null() {
                    break;
                }
                let p = parts.add(pi);
                partitions.push(MetaPartition {
                    id: (*p).id,
                    err: ptr::addr_of!((*p).err).cast::<i32>().read(),
                    leader: (*p).leader,
                    replicas: usize::try_from((*p).replica_cnt).unwrap_or(0),
                });
            }
            out.topics.push(MetaTopic {
                name: cstr((*t).topic),
                err: ptr::addr_of!((*t).err).cast::<i32>().read(),
                partitions,
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- end offsets

/// High watermarks of `partitions` in one `offsets_for_times(END)` call: one
/// ListOffsets request per leader broker. On a `read_uncommitted` client
/// this is the log-end offset (the last stable offset on `read_committed`).
/// The result is in input order: `Ok(offset)` or `Err(code)` per partition.
pub fn end_offsets<C: ClientContext>(
    client: &Client<C>,
    partitions: &[(&str, i32)],
    deadline: Instant,
) -> Result<Vec<Result<i64, i32>>, RawError> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let n = c_int::try_from(partitions.len()).map_err(|_| RawError::new(-1, "too many partitions"))?;
    // SAFETY: creates a list we own (`Tpl`).
    let tpl = Tpl(unsafe { rd::rd_kafka_topic_partition_list_new(n) });
    if tpl.0.is_null() {
        return Err(RawError::new(-1, "librdkafka refused to create a partition list"));
    }
    for (topic, partition) in partitions {
        let Ok(name) = CString::new(*topic) else {
            return Err(RawError::new(-1, format!("topic name with a NUL byte: {topic:?}")));
        };
        // SAFETY: tpl live; librdkafka copies the name; the returned element
        // belongs to the list and is only written before the next add.
        unsafe {
            let e = rd::rd_kafka_topic_partition_list_add(tpl.0, name.as_ptr(), *partition);
            if e.is_null() {
                return Err(RawError::new(-1, "librdkafka refused to grow a partition list"));
            }
            // For offsets_for_times the offset field carries the timestamp
            // to look up; -1 (RD_KAFKA_OFFSET_END) asks for the latest.
            (*e).offset = i64::from(rd::RD_KAFKA_OFFSET_END);
        }
    }
    // SAFETY: rk and tpl live; librdkafka updates the list in place.
    let err = unsafe { raw::rd_kafka_offsets_for_times(handle(client), tpl.0, ms_until(deadline)) };
    if err != NO_ERROR {
        return Err(RawError::from_code(err));
    }
    // SAFETY: tpl live until dropped below.
    let read = unsafe { read_tpl(tpl.0) };
    if read.len() != partitions.len() {
        return Err(RawError::new(-1, "librdkafka changed the partition list length"));
    }
    Ok(read.into_iter().map(|e| if e.err != NO_ERROR { Err(e.err) } else { Ok(e.offset) }).collect())
}

// ---------------------------------------------------------------- groups

/// One group as the classic ListGroups + DescribeGroups path reports it
/// (`rd_kafka_list_groups`), whatever its protocol type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassicGroup {
    pub id: String,
    /// Error the broker returned for this group in DescribeGroups.
    pub err: i32,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<ClassicMember>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassicMember {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    /// Raw assignment bytes (ConsumerProtocol for `consumer` groups).
    pub assignment: Vec<u8>,
}

/// Owns an `rd_kafka_group_list`.
struct GroupList(*const rd::rd_kafka_group_list);

impl Drop for GroupList {
    fn drop(&mut self) {
        // SAFETY: returned by rd_kafka_list_groups, destroyed once.
        unsafe { rd::rd_kafka_group_list_destroy(self.0) }
    }
}

/// Every group on every broker through ListGroups + DescribeGroups (one of
/// each per broker). The only librdkafka path that lists groups of every
/// protocol type: the admin ListConsumerGroups keeps only `consumer` and
/// simple groups, and DescribeConsumerGroups refuses `connect` groups
/// (`rdkafka_admin.c`: "GroupId %s is not a consumer group").
pub fn classic_groups<C: ClientContext>(client: &Client<C>, deadline: Instant) -> Result<Vec<ClassicGroup>, RawError> {
    let mut list: *const rd::rd_kafka_group_list = ptr::null();
    // SAFETY: rk live; `list` receives an object we own. librdkafka sets it
    // also when returning _PARTIAL, so we take ownership whenever non-null.
    let err = unsafe { raw::rd_kafka_list_groups(handle(client), ptr::null(), &mut list, ms_until(deadline)) };
    let owner = (!list.is_null()).then_some(GroupList(list));
    if err != NO_ERROR {
        return Err(RawError::from_code(err));
    }
    let Some(owner) = owner else {
        return Err(RawError::new(-1, "librdkafka returned no group list"));
    };
    let mut out = Vec::new();
    // SAFETY: owner.0 live until this function returns; arrays hold the
    // given counts; strings and byte arrays copied; `err` read as i32.
    unsafe {
        let l = owner.0;
        let groups = (*l).groups;
        for gi in 0..usize::try_from((*l).group_cnt).unwrap_or(0) {
            if groups.is_null() {
                break;
            }
            let g = groups.add(gi);
            let mut members = Vec::new();
            for m in slice((*g).members, (*g).member_cnt) {
                members.push(ClassicMember {
                    member_id: cstr(m.member_id),
                    client_id: cstr(m.client_id),
                    host: cstr(m.client_host),
                    assignment: slice(m.member_assignment as *const u8, m.member_assignment_size).to_vec(),
                });
            }
            out.push(ClassicGroup {
                id: cstr((*g).group),
                err: ptr::addr_of!((*g).err).cast::<i32>().read(),
                state: cstr((*g).state),
                protocol_type: cstr((*g).protocol_type),
                protocol: cstr((*g).protocol),
                members,
            });
        }
    }
    Ok(out)
}

/// Which group protocol librdkafka says a group speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupType {
    Classic,
    /// KIP-848.
    Consumer,
    Unknown,
}

fn group_type(code: c_int) -> GroupType {
    match code {
        GROUP_TYPE_CONSUMER => GroupType::Consumer,
        GROUP_TYPE_CLASSIC => GroupType::Classic,
        _ => GroupType::Unknown,
    }
}

fn group_state(code: c_int) -> String {
    // SAFETY: returns a static string or null for out-of-range codes.
    let s = unsafe { cstr(raw::rd_kafka_consumer_group_state_name(code)) };
    if s.is_empty() { "Unknown".into() } else { s }
}

/// One consumer group from the admin ListConsumerGroups call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub id: String,
    pub state: String,
    pub kind: GroupType,
    /// No protocol type: a group that only commits offsets.
    pub simple: bool,
}

/// Consumer groups (classic `consumer`/simple and KIP-848) with their type:
/// one ListGroups request per broker. Fails if any broker failed, so a group
/// never silently disappears because its coordinator did not answer.
pub fn list_consumer_groups<C: ClientContext>(client: &Client<C>, deadline: Instant) -> Result<Vec<Listing>, RawError> {
    let rk = handle(client);
    let opts = Options::new(rk, rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, deadline)?;
    let queue = Queue::new(rk)?;
    // SAFETY: rk, opts, queue live; options are copied by librdkafka.
    unsafe { rd::rd_kafka_ListConsumerGroups(rk, opts.0, queue.0) };
    let ev = queue.poll(deadline).ok_or_else(|| RawError::new(-185, "ListConsumerGroups timed out"))?;
    ev.check(rd::RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT)?;
    let mut out = Vec::new();
    // SAFETY: the result and everything reachable from it live as long as
    // `ev`; copied before `ev` drops.
    unsafe {
        let res = rd::rd_kafka_event_ListConsumerGroups_result(ev.0);
        if res.is_null() {
            return Err(RawError::new(-1, "ListConsumerGroups: no result in event"));
        }
        let mut n_err = 0usize;
        let errs = rd::rd_kafka_ListConsumerGroups_result_errors(res, &mut n_err);
        if let Some(e) = slice(errs, n_err).iter().find_map(|e| RawError::from_borrowed(*e)) {
            return Err(e);
        }
        let mut n = 0usize;
        let valid = rd::rd_kafka_ListConsumerGroups_result_valid(res, &mut n);
        for g in slice(valid, n) {
            let g = *g;
            if g.is_null() {
                continue;
            }
            out.push(Listing {
                id: cstr(rd::rd_kafka_ConsumerGroupListing_group_id(g)),
                state: group_state(raw::rd_kafka_ConsumerGroupListing_state(g)),
                kind: group_type(raw::rd_kafka_ConsumerGroupListing_type(g)),
                simple: rd::rd_kafka_ConsumerGroupListing_is_simple_consumer_group(g) != 0,
            });
        }
    }
    Ok(out)
}

/// A member as DescribeConsumerGroups reports it, assignment decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribedMember {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    pub assignment: Vec<(String, i32)>,
}

/// One group from DescribeConsumerGroups, or its error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    pub id: String,
    pub error: Option<RawError>,
    pub state: String,
    pub kind: GroupType,
    pub simple: bool,
    pub members: Vec<DescribedMember>,
}

/// Describes consumer groups of both protocols: librdkafka sends one
/// ConsumerGroupDescribe per group to its coordinator and falls back to a
/// classic DescribeGroups for classic groups (`rdkafka_admin.c`,
/// `rd_kafka_admin_describe_consumer_group_do_fallback_to_classic`). Use it
/// for KIP-848 groups; classic groups are cheaper through `classic_groups`.
pub fn describe_consumer_groups<C: ClientContext>(
    client: &Client<C>,
    ids: &[String],
    deadline: Instant,
) -> Result<Vec<Described>, RawError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rk = handle(client);
    let names: Vec<CString> = ids
        .iter()
        .map(|id| CString::new(id.as_str()).map_err(|_| RawError::new(-1, format!("group id with a NUL byte: {id:?}"))))
        .collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    let opts = Options::new(rk, rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, deadline)?;
    let queue = Queue::new(rk)?;
    // SAFETY: `names` outlive the call and librdkafka copies them (rd_strdup
    // in rd_kafka_DescribeConsumerGroups); rk, opts, queue live.
    unsafe { rd::rd_kafka_DescribeConsumerGroups(rk, ptrs.as_mut_ptr(), ptrs.len(), opts.0, queue.0) };
    let ev = queue.poll(deadline).ok_or_else(|| RawError::new(-185, "DescribeConsumerGroups timed out"))?;
    ev.check(rd::RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT)?;
    let mut out = Vec::new();
    // SAFETY: everything reachable from the result lives as long as `ev`;
    // copied before `ev` drops; null pointers skipped.
    unsafe {
        let res = rd::rd_kafka_event_DescribeConsumerGroups_result(ev.0);
        if res.is_null() {
            return Err(RawError::new(-1, "DescribeConsumerGroups: no result in event"));
        }
        let mut n = 0usize;
        let groups = rd::rd_kafka_DescribeConsumerGroups_result_groups(res, &mut n);
        for g in slice(groups, n) {
            let g = *g;
            if g.is_null() {
                continue;
            }
            let id = cstr(rd::rd_kafka_ConsumerGroupDescription_group_id(g));
            let error = RawError::from_borrowed(rd::rd_kafka_ConsumerGroupDescription_error(g));
            let mut members = Vec::new();
            if error.is_none() {
                for i in 0..rd::rd_kafka_ConsumerGroupDescription_member_count(g) {
                    let m = rd::rd_kafka_ConsumerGroupDescription_member(g, i);
                    if m.is_null() {
                        continue;
                    }
                    let a = rd::rd_kafka_MemberDescription_assignment(m);
                    let parts = if a.is_null() { ptr::null() } else { rd::rd_kafka_MemberAssignment_partitions(a) };
                    members.push(DescribedMember {
                        member_id: cstr(rd::rd_kafka_MemberDescription_consumer_id(m)),
                        client_id: cstr(rd::rd_kafka_MemberDescription_client_id(m)),
                        host: cstr(rd::rd_kafka_MemberDescription_host(m)),
                        assignment: read_tpl(parts).into_iter().map(|e| (e.topic, e.partition)).collect(),
                    });
                }
            }
            out.push(Described {
                id,
                error,
                state: group_state(raw::rd_kafka_ConsumerGroupDescription_state(g)),
                kind: group_type(raw::rd_kafka_ConsumerGroupDescription_type(g)),
                simple: rd::rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(g) != 0,
                members,
            });
        }
    }
    Ok(out)
}

/// Committed offsets of many groups: one `ListConsumerGroupOffsets` (one
/// OffsetFetch to the group's coordinator) per group, at most `in_flight`
/// outstanding at once, all on one queue, all bounded by `deadline`.
/// Results are in input order; a group whose request failed or timed out
/// gets its error. Only partitions with a committed offset are returned.
pub fn committed_offsets<C: ClientContext>(
    client: &Client<C>,
    groups: &[String],
    in_flight: usize,
    deadline: Instant,
) -> Vec<Result<Vec<TpOffset>, RawError>> {
    let mut out: Vec<Option<Result<Vec<TpOffset>, RawError>>> = vec![None; groups.len()];
    if groups.is_empty() {
        return Vec::new();
    }
    let rk = handle(client);
    let setup = Options::new(rk, rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, deadline)
        .and_then(|o| Queue::new(rk).map(|q| (o, q)));
    let (opts, queue) = match setup {
        Ok(v) => v,
        Err(e) => return groups.iter().map(|_| Err(e.clone())).collect(),
    };
    let in_flight = in_flight.max(1);
    let mut next = 0usize;
    let mut outstanding = 0usize;
    while next < groups.len() || outstanding > 0 {
        while next < groups.len() && outstanding < in_flight {
            let i = next;
            next += 1;
            let Ok(name) = CString::new(groups[i].as_str()) else {
                out[i] = Some(Err(RawError::new(-1, "group id with a NUL byte")));
                continue;
            };
            // SAFETY: the request object is created here, copied by
            // rd_kafka_ListConsumerGroupOffsets (it stores a copy on the op),
            // and destroyed right after submission. A NULL partition list
            // asks for every committed partition. The opaque (copied with
            // the options) is the index + 1, an integer.
            unsafe {
                let req = rd::rd_kafka_ListConsumerGroupOffsets_new(name.as_ptr(), ptr::null());
                if req.is_null() {
                    out[i] = Some(Err(RawError::new(-1, "librdkafka refused to build an OffsetFetch")));
                    continue;
                }
                opts.set_opaque(i + 1);
                let mut reqs = [req];
                rd::rd_kafka_ListConsumerGroupOffsets(rk, reqs.as_mut_ptr(), 1, opts.0, queue.0);
                rd::rd_kafka_ListConsumerGroupOffsets_destroy(req);
            }
            outstanding += 1;
        }
        if outstanding == 0 {
            continue;
        }
        let Some(ev) = queue.poll(deadline) else {
            break;
        };
        outstanding -= 1;
        let idx = ev.opaque().wrapping_sub(1);
        let result = ev.check(rd::RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT).and_then(|()| {
            // SAFETY: everything reachable from the result lives as long as
            // `ev`; copied before `ev` drops.
            unsafe {
                let res = rd::rd_kafka_event_ListConsumerGroupOffsets_result(ev.0);
                if res.is_null() {
                    return Err(RawError::new(-1, "ListConsumerGroupOffsets: no result in event"));
                }
                let mut n = 0usize;
                let arr = rd::rd_kafka_ListConsumerGroupOffsets_result_groups(res, &mut n);
                let Some(g) = slice(arr, n).first().copied().filter(|g| !g.is_null()) else {
                    return Err(RawError::new(-1, "ListConsumerGroupOffsets: empty result"));
                };
                if let Some(e) = RawError::from_borrowed(rd::rd_kafka_group_result_error(g)) {
                    return Err(e);
                }
                Ok(read_tpl(rd::rd_kafka_group_result_partitions(g))
                    .into_iter()
                    .filter(|p| p.err == NO_ERROR && p.offset >= 0)
                    .collect())
            }
        });
        if let Some(slot) = out.get_mut(idx) {
            *slot = Some(result);
        }
    }
    out.into_iter().map(|r| r.unwrap_or_else(|| Err(RawError::new(-185, "OffsetFetch timed out")))).collect()
}

// ---------------------------------------------------------------- configs

/// Per topic: the config values found, or the topic's error.
pub type TopicConfigs = HashMap<String, Result<HashMap<String, String>, RawError>>;

/// Owns the config resources handed to DescribeConfigs.
struct ConfigResources(Vec<*mut rd::rd_kafka_ConfigResource_t>);

impl Drop for ConfigResources {
    fn drop(&mut self) {
        for r in &self.0 {
            // SAFETY: created by rd_kafka_ConfigResource_new, destroyed once.
            unsafe { rd::rd_kafka_ConfigResource_destroy(*r) }
        }
    }
}

/// Selected config entries of `topics` in one DescribeConfigs request.
/// Per topic: the values of `keys` found (absent keys are left out), or the
/// topic's error.
pub fn topic_configs<C: ClientContext>(
    client: &Client<C>,
    topics: &[String],
    keys: &[&str],
    deadline: Instant,
) -> Result<TopicConfigs, RawError> {
    let mut out = HashMap::new();
    if topics.is_empty() {
        return Ok(out);
    }
    let rk = handle(client);
    let mut resources = ConfigResources(Vec::with_capacity(topics.len()));
    for t in topics {
        let Ok(name) = CString::new(t.as_str()) else {
            continue;
        };
        // SAFETY: librdkafka copies the name; the resource is owned by `resources`.
        let r = unsafe {
            rd::rd_kafka_ConfigResource_new(rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC, name.as_ptr())
        };
        if r.is_null() {
            return Err(RawError::new(-1, "librdkafka refused to create a config resource"));
        }
        resources.0.push(r);
    }
    let opts = Options::new(rk, rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, deadline)?;
    let queue = Queue::new(rk)?;
    // SAFETY: resources, opts and queue are live; librdkafka copies the
    // resources (rd_kafka_ConfigResource_copy in rd_kafka_DescribeConfigs).
    unsafe { rd::rd_kafka_DescribeConfigs(rk, resources.0.as_mut_ptr(), resources.0.len(), opts.0, queue.0) };
    let ev = queue.poll(deadline).ok_or_else(|| RawError::new(-185, "DescribeConfigs timed out"))?;
    ev.check(rd::RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT)?;
    // SAFETY: everything reachable from the result lives as long as `ev`;
    // copied before `ev` drops.
    unsafe {
        let res = rd::rd_kafka_event_DescribeConfigs_result(ev.0);
        if res.is_null() {
            return Err(RawError::new(-1, "DescribeConfigs: no result in event"));
        }
        let mut n = 0usize;
        let arr = rd::rd_kafka_DescribeConfigs_result_resources(res, &mut n);
        for r in slice(arr as *const *const rd::rd_kafka_ConfigResource_t, n) {
            let r = *r;
            if r.is_null() {
                continue;
            }
            let name = cstr(rd::rd_kafka_ConfigResource_name(r));
            let code = raw::rd_kafka_ConfigResource_error(r);
            if code != NO_ERROR {
                let msg = cstr(rd::rd_kafka_ConfigResource_error_string(r));
                out.insert(name, Err(RawError::new(code, if msg.is_empty() { err_name(code) } else { msg })));
                continue;
            }
            let mut m = 0usize;
            let entries = rd::rd_kafka_ConfigResource_configs(r, &mut m);
            let mut values = HashMap::new();
            for e in slice(entries as *const *const rd::rd_kafka_ConfigEntry_t, m) {
                let e = *e;
                if e.is_null() {
                    continue;
                }
                let k = cstr(rd::rd_kafka_ConfigEntry_name(e));
                if keys.contains(&k.as_str()) {
                    let v = rd::rd_kafka_ConfigEntry_value(e);
                    if !v.is_null() {
                        values.insert(k, cstr(v));
                    }
                }
            }
            out.insert(name, Ok(values));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_cover_unknown_codes() {
        assert!(!err_name(GROUP_ID_NOT_FOUND).is_empty());
        // A code librdkafka 2.12 does not know must not be UB nor empty.
        assert!(!err_name(125).is_empty());
        assert!(!err_name(9999).is_empty());
    }

    #[test]
    fn group_state_names() {
        assert_eq!(group_state(3), "Stable");
        assert_eq!(group_state(5), "Empty");
        assert_eq!(group_state(4242), "Unknown");
    }

    #[test]
    fn ms_until_is_never_zero() {
        assert_eq!(ms_until(Instant::now() - Duration::from_secs(1)), 1);
        assert!(ms_until(Instant::now() + Duration::from_secs(2)) > 1000);
    }
}
