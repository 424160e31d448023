//! Owners of the librdkafka objects the other modules create: admin
//! options, result queues, events and topic-partition lists, each destroyed
//! exactly once in `Drop` (invariant 2 of [`super`]), and the copy of a
//! topic-partition list into owned values.

use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::time::{Duration, Instant};

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

use super::{NO_ERROR, RawError, cstr, err_name, ms_until, native, raw};

/// Extra time given to librdkafka to report its own timeout for a request.
const GRACE: Duration = Duration::from_millis(500);

/// The client's instance name (`kdrill#consumer-3`), as its statistics
/// carry it.
pub fn client_name<C: ClientContext>(client: &Client<C>) -> String {
    // SAFETY: rk live; rd_kafka_name returns a NUL-terminated string owned
    // by the handle, copied out before this returns.
    unsafe { cstr(rd::rd_kafka_name(native(client))) }
}

/// Events waiting on the client's main queue (logs, errors, statistics).
pub fn main_queue_len<C: ClientContext>(client: &Client<C>) -> usize {
    // SAFETY: rk live; rd_kafka_queue_get_main returns a new reference that
    // `Queue` destroys (a non-owner handle: destroying it only drops the
    // reference, the main queue lives on with the client).
    let q = unsafe { rd::rd_kafka_queue_get_main(native(client)) };
    if q.is_null() {
        return 0;
    }
    let q = Queue(q);
    // SAFETY: `q` is a live queue reference until it drops at the end of
    // this function; the call only reads its length.
    unsafe { rd::rd_kafka_queue_length(q.0) }
}

/// Owns an `rd_kafka_AdminOptions_t`.
pub(super) struct Options(pub(super) *mut rd::rd_kafka_AdminOptions_t);

impl Options {
    pub(super) fn new(
        rk: *mut rd::rd_kafka_t,
        op: rd::rd_kafka_admin_op_t,
        deadline: Instant,
    ) -> Result<Options, RawError> {
        // SAFETY: rk is live (invariant 1); the result is owned by `Options`.
        let p = unsafe { rd::rd_kafka_AdminOptions_new(rk, op) };
        if p.is_null() {
            return Err(RawError::new(-1, "librdkafka refused to create admin options"));
        }
        let opts = Options(p);
        let timeout = ms_until(deadline);
        // SAFETY: opts.0 is live; `errstr` is writable for its whole length.
        opts.set(|errstr, len| unsafe {
            raw::rd_kafka_AdminOptions_set_request_timeout(opts.0, timeout, errstr, len)
        })?;
        Ok(opts)
    }

    /// Sends the request to broker `id` instead of the broker librdkafka
    /// would look up: see invariant 6 of [`super`] for why group requests
    /// name their coordinator.
    pub(super) fn set_broker(&self, id: i32) -> Result<(), RawError> {
        // SAFETY: self.0 is live; `errstr` is writable for its whole length.
        self.set(|errstr, len| unsafe { raw::rd_kafka_AdminOptions_set_broker(self.0, id, errstr, len) })
    }

    /// Runs one `rd_kafka_AdminOptions_set_*` call with an error buffer.
    fn set(&self, call: impl FnOnce(*mut c_char, usize) -> c_int) -> Result<(), RawError> {
        let mut errbuf = [0 as c_char; 256];
        let err = call(errbuf.as_mut_ptr(), errbuf.len());
        if err != NO_ERROR {
            // SAFETY: librdkafka NUL-terminates errbuf (and it is zeroed).
            let msg = unsafe { cstr(errbuf.as_ptr()) };
            return Err(RawError::new(err, msg));
        }
        Ok(())
    }

    pub(super) fn set_opaque(&self, value: usize) {
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
pub(super) struct Queue(pub(super) *mut rd::rd_kafka_queue_t);

impl Queue {
    pub(super) fn new(rk: *mut rd::rd_kafka_t) -> Result<Queue, RawError> {
        // SAFETY: rk is live (invariant 1).
        let q = unsafe { rd::rd_kafka_queue_new(rk) };
        if q.is_null() { Err(RawError::new(-1, "librdkafka refused to create a queue")) } else { Ok(Queue(q)) }
    }

    /// The next event, or `None` when `deadline` (plus grace) passes first.
    pub(super) fn poll(&self, deadline: Instant) -> Option<Event> {
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
pub(super) struct Event(pub(super) *mut rd::rd_kafka_event_t);

impl Event {
    /// Checks the type and the request-level error.
    pub(super) fn check(&self, expected: c_int) -> Result<(), RawError> {
        // SAFETY: `Event` owns a live event until it drops; reading its
        // type has no other precondition.
        let ty = unsafe { rd::rd_kafka_event_type(self.0) };
        if ty != expected {
            return Err(RawError::new(-1, format!("unexpected librdkafka event type {ty} (wanted {expected})")));
        }
        // SAFETY: the event is live (as above); the code is read as `c_int`
        // (invariant 4), so an unknown code is just a number.
        let code = unsafe { raw::rd_kafka_event_error(self.0) };
        if code != NO_ERROR {
            // SAFETY: the string lives as long as the event and is copied.
            let msg = unsafe { cstr(rd::rd_kafka_event_error_string(self.0)) };
            return Err(RawError::new(code, if msg.is_empty() { err_name(code) } else { msg }));
        }
        Ok(())
    }

    pub(super) fn opaque(&self) -> usize {
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
pub(super) struct Tpl(pub(super) *mut rd::rd_kafka_topic_partition_list_t);

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
pub(super) unsafe fn read_tpl(tpl: *const rd::rd_kafka_topic_partition_list_t) -> Vec<TpOffset> {
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
