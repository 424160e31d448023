//! Declarations of librdkafka functions whose return type is a C enum that
//! may carry values the bindgen Rust enum lacks; same symbols, `c_int`
//! returns (the C ABI of an enum is `int`), so a code librdkafka's enum
//! lacks is read as a number, never materialised as the Rust enum
//! (invariant 4 of [`super`]).

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
    pub fn rd_kafka_AdminOptions_set_broker(
        options: *mut rd::rd_kafka_AdminOptions_t,
        broker_id: i32,
        errstr: *mut c_char,
        errstr_size: usize,
    ) -> c_int;
    pub fn rd_kafka_ConfigResource_error(config: *const rd::rd_kafka_ConfigResource_t) -> c_int;
    pub fn rd_kafka_ConsumerGroupListing_state(grplist: *const rd::rd_kafka_ConsumerGroupListing_t) -> c_int;
    pub fn rd_kafka_ConsumerGroupListing_type(grplist: *const rd::rd_kafka_ConsumerGroupListing_t) -> c_int;
    pub fn rd_kafka_ConsumerGroupDescription_state(grpdesc: *const rd::rd_kafka_ConsumerGroupDescription_t) -> c_int;
    pub fn rd_kafka_ConsumerGroupDescription_type(grpdesc: *const rd::rd_kafka_ConsumerGroupDescription_t) -> c_int;
    pub fn rd_kafka_consumer_group_state_name(state: c_int) -> *const c_char;
}
