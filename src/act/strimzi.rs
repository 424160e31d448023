//! Strimzi's names for managing a `KafkaMirrorMaker2` connector's offsets
//! (Strimzi 0.44+, proposal 083).

/// Asks the operator to list, alter or reset a connector's offsets.
pub const OFFSETS_ANNOTATION: &str = "strimzi.io/mirrormaker-connector-offsets";
/// Names the connector the offsets annotation is about.
pub const CONNECTOR_ANNOTATION: &str = "strimzi.io/mirrormaker-connector";
pub const ALTER: &str = "alter";
/// The ConfigMap key holding the offsets JSON.
pub const OFFSETS_KEY: &str = "offsets.json";
