//! Brokers, topics and partitions of a cluster: one Metadata request,
//! copied into owned values.

use std::ptr;
use std::time::Instant;

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

use super::{NO_ERROR, RawError, cstr, ms_until, native, raw, slice};

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
    let rk = native(client);
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
