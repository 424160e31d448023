//! Strimzi's names for managing a KafkaMirrorMaker2 connector's offsets
//! (Strimzi 0.44+, proposal 083 "MirrorMaker Connector Offsets Support"),
//! so that kdrill asks exactly what Strimzi's operator carries out.
//!
//! From strimzi/strimzi-kafka-operator:
//! * `api/src/main/java/io/strimzi/api/ResourceAnnotations.java`:
//!   `ANNO_STRIMZI_IO_CONNECTOR_OFFSETS = "strimzi.io/connector-offsets"`,
//!   `ANNO_STRIMZI_IO_MIRRORMAKER_CONNECTOR = "strimzi.io/mirrormaker-connector"`;
//! * `cluster-operator/.../model/KafkaConnectorOffsetsAnnotation.java`: the
//!   values `list`, `alter`, `reset` (`alter` and `reset` only while the
//!   connector is STOPPED);
//! * `cluster-operator/.../assembly/KafkaMirrorMaker2AssemblyOperator.java`:
//!   both annotations are required together (one alone is a warning
//!   condition), the action applies to the connector named by
//!   `strimzi.io/mirrormaker-connector`, both are removed once done; the
//!   ConfigMap entry is the connector name with `->` replaced by `--`, plus
//!   `.json` ([`offsets_entry_key`]);
//! * `cluster-operator/.../assembly/AbstractConnectOperator.java`
//!   (`alterConnectorOffsets`): reads the ConfigMap named by the connector's
//!   `alterOffsets.fromConfigMap.name`, checks the connector is STOPPED
//!   ("Connector is not in STOPPED state" otherwise, as a warning condition
//!   `AlterOffsets`, annotation kept), sends the entry as it is to
//!   `PATCH /connectors/{name}/offsets`;
//! * `api/.../connector/AbstractConnectorSpec.java`, `AlterOffsets.java`:
//!   per connector of `spec.mirrors[]` (`sourceConnector`,
//!   `checkpointConnector`, `heartbeatConnector`): `alterOffsets:
//!   {fromConfigMap: {name}}`, `listOffsets: {toConfigMap: {name}}`.
//!
//! The entry's JSON is Kafka Connect's offsets body:
//! `{"offsets": [{"partition": {"cluster": "<source alias>", "topic": "<topic>",
//! "partition": N}, "offset": {"offset": <last copied upstream offset>}}]}`.

/// Restarts a KafkaMirrorMaker2 connector (value: its name); the operator
/// removes it once done (`ResourceAnnotations.ANNO_STRIMZI_IO_RESTART_CONNECTOR`).
pub const RESTART_CONNECTOR_ANNOTATION: &str = "strimzi.io/restart-connector";
/// Restarts one task (value: `<connector>:<task id>`), likewise
/// (`ANNO_STRIMZI_IO_RESTART_CONNECTOR_TASK`).
pub const RESTART_TASK_ANNOTATION: &str = "strimzi.io/restart-connector-task";

/// Triggers an offsets action on a KafkaMirrorMaker2 (or KafkaConnector).
pub const CONNECTOR_OFFSETS_ANNOTATION: &str = "strimzi.io/connector-offsets";
/// Names the KafkaMirrorMaker2 connector the offsets action applies to.
pub const MIRRORMAKER_CONNECTOR_ANNOTATION: &str = "strimzi.io/mirrormaker-connector";
/// `strimzi.io/connector-offsets` values.
pub const OFFSETS_LIST: &str = "list";
pub const OFFSETS_ALTER: &str = "alter";
pub const OFFSETS_RESET: &str = "reset";
/// The connector spec field naming the ConfigMap an alter reads:
/// `spec.mirrors[i].<connector>.alterOffsets.fromConfigMap.name`.
pub const ALTER_OFFSETS_FIELD: &str = "alterOffsets";
/// The connector spec field naming the ConfigMap a list writes:
/// `spec.mirrors[i].<connector>.listOffsets.toConfigMap.name`.
pub const LIST_OFFSETS_FIELD: &str = "listOffsets";

/// The ConfigMap data key Strimzi reads (alter) and writes (list) a
/// KafkaMirrorMaker2 connector's offsets under:
/// `dc->dr.MirrorSourceConnector` → `dc--dr.MirrorSourceConnector.json`.
/// (A KafkaConnector's key is `offsets.json`.)
pub fn offsets_entry_key(connector: &str) -> String {
    format!("{}.json", connector.replace("->", "--"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_keys_are_strimzis() {
        assert_eq!(offsets_entry_key("dr->dc.MirrorSourceConnector"), "dr--dc.MirrorSourceConnector.json");
    }
}
