//! Offsets: the end offsets of partitions (ListOffsets) and the committed
//! offsets of consumer groups (OffsetFetch).

use std::ffi::{CString, c_int};
use std::ptr;
use std::time::Instant;

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

use super::handle::{Options, Queue, TpOffset, Tpl, read_tpl};
use super::{GroupAt, NO_ERROR, RawError, ms_until, native, raw, slice};

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
    // SAFETY: no precondition beyond a non-negative size; the new list is
    // owned by `Tpl`, which destroys it once.
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
    let err = unsafe { raw::rd_kafka_offsets_for_times(native(client), tpl.0, ms_until(deadline)) };
    if err != NO_ERROR {
        return Err(RawError::from_code(err));
    }
    // SAFETY: `tpl` owns a live list, which librdkafka has finished
    // updating; its elements are copied before `tpl` drops.
    let read = unsafe { read_tpl(tpl.0) };
    if read.len() != partitions.len() {
        return Err(RawError::new(-1, "librdkafka changed the partition list length"));
    }
    Ok(read.into_iter().map(|e| if e.err != NO_ERROR { Err(e.err) } else { Ok(e.offset) }).collect())
}

/// Committed offsets of many groups: one `ListConsumerGroupOffsets` (one
/// OffsetFetch to the group's coordinator, named: invariant 6) per group, at most `in_flight`
/// outstanding at once, all on one queue, all bounded by `deadline`.
/// Results are in input order; a group whose request failed or timed out
/// gets its error. Only partitions with a committed offset are returned.
pub fn committed_offsets<C: ClientContext>(
    client: &Client<C>,
    groups: &[GroupAt],
    in_flight: usize,
    deadline: Instant,
) -> Vec<Result<Vec<TpOffset>, RawError>> {
    let mut out: Vec<Option<Result<Vec<TpOffset>, RawError>>> = vec![None; groups.len()];
    if groups.is_empty() {
        return Vec::new();
    }
    let rk = native(client);
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
            let Ok(name) = CString::new(groups[i].id.as_str()) else {
                out[i] = Some(Err(RawError::new(-1, "group id with a NUL byte")));
                continue;
            };
            if let Err(e) = opts.set_broker(groups[i].coordinator) {
                out[i] = Some(Err(e));
                continue;
            }
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
