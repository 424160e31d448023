//! Observing real clusters through the Kafka protocol.

pub mod connect_topics;
pub mod wire;
