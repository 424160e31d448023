//! Selected configuration entries of topics: one DescribeConfigs request.

use std::collections::HashMap;
use std::ffi::CString;
use std::time::Instant;

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

use super::handle::{Options, Queue};
use super::{NO_ERROR, RawError, cstr, err_name, native, raw, slice};

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
    let rk = native(client);
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
