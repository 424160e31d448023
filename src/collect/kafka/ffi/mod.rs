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
//!    `Tpl`, `MetadataPtr`, `GroupList` and `ConfigResources` own one librdkafka
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
//!    raw field pointers or through the declarations in `raw` that return
//!    `c_int`, never materialised as the bindgen Rust enum.
//! 5. **Every wait is bounded.** Admin requests carry a request timeout equal
//!    to the caller's remaining budget, and the queue is polled with that
//!    budget plus a small grace, so librdkafka times a request out itself and
//!    we never leave one waiting on a queue we are about to destroy (and if we
//!    did, destroying an owner queue disables it: a late result is dropped by
//!    librdkafka, not written to freed memory).
//! 6. **Group requests name their coordinator.** Left to find a group's
//!    coordinator itself, librdkafka 2.12 frees an admin request that timed
//!    out while its coordinator lookup still holds it, and the lookup's
//!    completion then reads freed memory (`rdkafka_admin.c`,
//!    `rd_kafka_admin_coord_request` returning `_DESTROY` into
//!    `rd_kafka_coord_req_fail`: an `rd_kafka_enq_once` assertion or a
//!    SIGSEGV). So OffsetFetch and ConsumerGroupDescribe go to the broker
//!    that listed the group in ListGroups (a broker lists the groups it
//!    coordinates), through `rd_kafka_AdminOptions_set_broker`: the
//!    explicit-broker path holds its request until every waiter let go.

//!
//! # Modules
//!
//! * `handle`: owners of the librdkafka objects we create (admin options,
//!   result queues, events, partition lists) and the main queue's length;
//! * `metadata`: brokers, topics and partitions (Metadata);
//! * `offsets`: end offsets (ListOffsets) and committed offsets (OffsetFetch);
//! * `groups`: consumer groups through the classic and the admin paths;
//! * `configs`: topic configuration entries (DescribeConfigs);
//! * `raw`: librdkafka declarations that return C enums as `c_int`;
//! * this module: the shared safe surface ([`RawError`], error names) and
//!   the helpers every module reads C data with.

mod configs;
mod groups;
mod handle;
mod metadata;
mod offsets;
mod raw;

use std::ffi::{CStr, c_char, c_int};
use std::time::Instant;

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

pub use configs::{TopicConfigs, topic_configs};
pub use groups::{
    ClassicGroup, ClassicMember, Described, DescribedMember, GroupType, Listing, classic_groups,
    describe_consumer_groups, list_consumer_groups,
};
pub use handle::{TpOffset, client_name, main_queue_len};
pub use metadata::{MetaBroker, MetaPartition, MetaTopic, Metadata, metadata};
pub use offsets::{committed_offsets, end_offsets};

/// A group and the broker coordinating it (the broker that listed it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupAt {
    pub id: String,
    pub coordinator: i32,
}

/// librdkafka's "no error".
pub const NO_ERROR: i32 = 0;
/// Kafka's `GROUP_ID_NOT_FOUND`.
pub const GROUP_ID_NOT_FOUND: i32 = 69;

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
        // SAFETY: the caller guarantees `n` initialised `T`s at the non-null
        // `p`, live and unmodified for `'a`; `n > 0` was checked.
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

/// The client's `rd_kafka_t`, live as long as the borrow of `client` (invariant 1).
fn native<C: ClientContext>(client: &Client<C>) -> *mut rd::rd_kafka_t {
    client.native_ptr()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn error_names_cover_unknown_codes() {
        assert!(!err_name(GROUP_ID_NOT_FOUND).is_empty());
        // A code librdkafka 2.12 does not know must not be UB nor empty.
        assert!(!err_name(125).is_empty());
        assert!(!err_name(9999).is_empty());
    }

    #[test]
    fn ms_until_is_never_zero() {
        assert_eq!(ms_until(Instant::now() - Duration::from_secs(1)), 1);
        assert!(ms_until(Instant::now() + Duration::from_secs(2)) > 1000);
    }
}
