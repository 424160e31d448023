//! Consumer groups as librdkafka sees them: the classic ListGroups +
//! DescribeGroups path (every protocol type, raw assignments), the admin
//! ListConsumerGroups (group types) and DescribeConsumerGroups (KIP-848
//! members with decoded assignments).

use std::collections::BTreeMap;
use std::ffi::{CString, c_char, c_int};
use std::ptr;
use std::time::Instant;

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

use super::handle::{Event, Options, Queue, read_tpl};
use super::{GroupAt, NO_ERROR, RawError, cstr, ms_until, native, raw, slice};

/// librdkafka's `RD_KAFKA_CONSUMER_GROUP_TYPE_CONSUMER` (KIP-848).
const GROUP_TYPE_CONSUMER: c_int = 1;
/// librdkafka's `RD_KAFKA_CONSUMER_GROUP_TYPE_CLASSIC`.
const GROUP_TYPE_CLASSIC: c_int = 2;

/// One group as the classic ListGroups + DescribeGroups path reports it
/// (`rd_kafka_list_groups`), whatever its protocol type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassicGroup {
    pub id: String,
    /// The broker that listed the group: its coordinator.
    pub coordinator: i32,
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
    // also when returning _PARTIAL, so we take ownership whenever non-null
    // (lazily: a `GroupList` built around null would destroy null on drop).
    let err = unsafe { raw::rd_kafka_list_groups(native(client), ptr::null(), &mut list, ms_until(deadline)) };
    let owner = (!list.is_null()).then(|| GroupList(list));
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
                coordinator: (*g).broker.id,
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
    let rk = native(client);
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

/// Describes consumer groups of both protocols: one DescribeConsumerGroups
/// per coordinator (invariant 6), in which librdkafka sends one
/// ConsumerGroupDescribe per group and falls back to a classic
/// DescribeGroups for classic groups (`rdkafka_admin.c`,
/// `rd_kafka_admin_describe_consumer_group_do_fallback_to_classic`). Use it
/// for KIP-848 groups; classic groups are cheaper through `classic_groups`.
pub fn describe_consumer_groups<C: ClientContext>(
    client: &Client<C>,
    groups: &[GroupAt],
    deadline: Instant,
) -> Result<Vec<Described>, RawError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let rk = native(client);
    let mut by_coordinator: BTreeMap<i32, Vec<CString>> = BTreeMap::new();
    for g in groups {
        let name = CString::new(g.id.as_str())
            .map_err(|_| RawError::new(-1, format!("group id with a NUL byte: {:?}", g.id)))?;
        by_coordinator.entry(g.coordinator).or_default().push(name);
    }
    let opts = Options::new(rk, rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, deadline)?;
    let queue = Queue::new(rk)?;
    for (coordinator, names) in &by_coordinator {
        opts.set_broker(*coordinator)?;
        let mut ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        // SAFETY: `names` outlive the call and librdkafka copies them (rd_strdup
        // in rd_kafka_DescribeConsumerGroups); rk, opts (copied), queue live.
        unsafe { rd::rd_kafka_DescribeConsumerGroups(rk, ptrs.as_mut_ptr(), ptrs.len(), opts.0, queue.0) };
    }
    let mut out = Vec::new();
    for _ in 0..by_coordinator.len() {
        let ev = queue.poll(deadline).ok_or_else(|| RawError::new(-185, "DescribeConsumerGroups timed out"))?;
        ev.check(rd::RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT)?;
        // SAFETY: everything reachable from the result lives as long as `ev`.
        unsafe { read_descriptions(&ev, &mut out)? };
    }
    Ok(out)
}

/// Copies the groups of one DescribeConsumerGroups result into `out`.
///
/// # Safety
/// `ev` is a live DescribeConsumerGroups result event.
unsafe fn read_descriptions(ev: &Event, out: &mut Vec<Described>) -> Result<(), RawError> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_state_names() {
        assert_eq!(group_state(3), "Stable");
        assert_eq!(group_state(5), "Empty");
        assert_eq!(group_state(4242), "Unknown");
    }
}
