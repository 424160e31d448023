//! Byte-exact codecs for the binary records MirrorMaker 2 writes. (The
//! topic-naming rules of its replication policies live in `model::naming`.)
//!
//! MM2 does not use JSON or Avro for its own topics: `Heartbeat`, `Checkpoint`
//! and `OffsetSync` (in `org.apache.kafka.connect.mirror`) write Kafka
//! protocol `Schema`/`Struct`s straight into the record key and value, so
//! kdrill has to speak that encoding to observe MM2 from Kafka alone. The
//! primitive types (`INT16`/`INT32`/`INT64` big-endian, `STRING` with an
//! `INT16` length that must not be negative, Kafka's `SchemaException`) are
//! read by [`ByteReader`], shared with the other decoders.
//!
//! Where Kafka's reader is lenient we are strict, because a record that Kafka's
//! own writer could not have produced is something an operator should see:
//! * invalid UTF-8 is an error (Java silently substitutes U+FFFD);
//! * bytes left over after the last field are an error (`Schema.read` ignores them);
//! * a value version other than 0 is an error (`Heartbeat`/`Checkpoint` only
//!   `assert version == 0`, which production JVMs do not check, so Java would
//!   decode a future version with the v0 layout).
//!
//! Checked against Apache Kafka 3.9.1, 4.1.0 and 4.2.0, whose record layouts
//! are identical; the golden vectors in the tests were produced by Kafka 4.2.0's
//! own serialisers.

use std::fmt;

use thiserror::Error;

use super::bytes::{ByteReader, ReadError};

pub use crate::model::naming::{DEFAULT_SEPARATOR, HEARTBEATS_TOPIC, ReplicationPolicy};

/// The only value layout version of `Heartbeat` and `Checkpoint` Kafka has defined.
pub const VALUE_VERSION: i16 = 0;

/// The longest UTF-8 encoding a Kafka `STRING` can carry (`Short.MAX_VALUE`).
const MAX_STRING_BYTES: usize = i16::MAX as usize;

/// Which MM2 record a [`WireError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Heartbeat,
    Checkpoint,
    OffsetSync,
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Heartbeat => "heartbeat",
            Self::Checkpoint => "checkpoint",
            Self::OffsetSync => "offset sync",
        })
    }
}

/// Whether a [`WireError`] is in the record key or the record value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Key,
    Value,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Key => "key",
            Self::Value => "value",
        })
    }
}

/// Why bytes could not be decoded (or a record could not be encoded).
///
/// `field` is the name Kafka's schema gives the field (`sourceClusterAlias`,
/// `upstreamOffset`, ...), so messages can be matched against the Java source;
/// `at` is a byte offset into the key or value named by `part`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("{kind} {part}: field `{field}` truncated at byte {at}: needs {needed} byte(s), {available} left")]
    Truncated { kind: RecordKind, part: Part, field: &'static str, at: usize, needed: usize, available: usize },
    #[error("{kind} {part}: field `{field}` at byte {at} has negative string length {length}")]
    NegativeLength { kind: RecordKind, part: Part, field: &'static str, at: usize, length: i16 },
    #[error("{kind} {part}: field `{field}` at byte {at} is not valid UTF-8")]
    BadUtf8 { kind: RecordKind, part: Part, field: &'static str, at: usize },
    #[error("{kind} value: unsupported version {version} (only version {VALUE_VERSION} is defined)")]
    UnsupportedVersion { kind: RecordKind, version: i16 },
    #[error("{kind} {part}: {extra} unexpected byte(s) after the last field, from byte {at}")]
    TrailingBytes { kind: RecordKind, part: Part, at: usize, extra: usize },
    #[error(
        "{kind} {part}: field `{field}` is {length} bytes of UTF-8, more than a Kafka STRING holds ({MAX_STRING_BYTES})"
    )]
    StringTooLong { kind: RecordKind, part: Part, field: &'static str, length: usize },
}

/// One key or value read through the shared [`ByteReader`], its errors
/// placed in the record they are about.
struct Reader<'a> {
    bytes: ByteReader<'a>,
    kind: RecordKind,
    part: Part,
}

impl<'a> Reader<'a> {
    fn new(kind: RecordKind, part: Part, buf: &'a [u8]) -> Self {
        Self { bytes: ByteReader::new(buf), kind, part }
    }

    fn located(&self) -> impl Fn(ReadError) -> WireError {
        let (kind, part) = (self.kind, self.part);
        move |e| match e {
            ReadError::Truncated { field, at, needed, available } => {
                WireError::Truncated { kind, part, field, at, needed, available }
            }
            ReadError::NegativeLength { field, at, length } => {
                WireError::NegativeLength { kind, part, field, at, length }
            }
            ReadError::BadUtf8 { field, at } => WireError::BadUtf8 { kind, part, field, at },
        }
    }

    fn i16(&mut self, field: &'static str) -> Result<i16, WireError> {
        self.bytes.i16(field).map_err(self.located())
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, WireError> {
        self.bytes.i32(field).map_err(self.located())
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, WireError> {
        self.bytes.i64(field).map_err(self.located())
    }

    fn string(&mut self, field: &'static str) -> Result<String, WireError> {
        self.bytes.string(field).map_err(self.located())
    }

    /// Reads the `version` header of a versioned value and rejects unknown versions.
    fn version(&mut self) -> Result<(), WireError> {
        match self.i16("version")? {
            VALUE_VERSION => Ok(()),
            version => Err(WireError::UnsupportedVersion { kind: self.kind, version }),
        }
    }

    fn finish(self) -> Result<(), WireError> {
        match self.bytes.remaining() {
            0 => Ok(()),
            extra => Err(WireError::TrailingBytes { kind: self.kind, part: self.part, at: self.bytes.pos(), extra }),
        }
    }
}

/// Accumulates one key or value in Kafka's encoding.
struct Writer {
    buf: Vec<u8>,
    kind: RecordKind,
    part: Part,
}

impl Writer {
    fn new(kind: RecordKind, part: Part) -> Self {
        Self { buf: Vec::new(), kind, part }
    }

    fn i16(mut self, v: i16) -> Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn i32(mut self, v: i32) -> Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn i64(mut self, v: i64) -> Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn string(mut self, field: &'static str, s: &str) -> Result<Self, WireError> {
        let length = i16::try_from(s.len()).map_err(|_| WireError::StringTooLong {
            kind: self.kind,
            part: self.part,
            field,
            length: s.len(),
        })?;
        self.buf.extend_from_slice(&length.to_be_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        Ok(self)
    }

    fn done(self) -> Vec<u8> {
        self.buf
    }
}

/// A record of the `heartbeats` topic (and of its replicas `<src>.heartbeats`).
///
/// Key: `sourceClusterAlias` STRING, `targetClusterAlias` STRING.
/// Value: `version` INT16 (0), `timestamp` INT64 (epoch milliseconds).
/// A replica keeps the original key, so `dr.dc.heartbeats` on a third cluster
/// still says which flow emitted the beat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub source_alias: String,
    pub target_alias: String,
    pub timestamp_ms: i64,
}

impl Heartbeat {
    const KIND: RecordKind = RecordKind::Heartbeat;

    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, WireError> {
        let mut k = Reader::new(Self::KIND, Part::Key, key);
        let source_alias = k.string("sourceClusterAlias")?;
        let target_alias = k.string("targetClusterAlias")?;
        k.finish()?;
        let mut v = Reader::new(Self::KIND, Part::Value, value);
        v.version()?;
        let timestamp_ms = v.i64("timestamp")?;
        v.finish()?;
        Ok(Self { source_alias, target_alias, timestamp_ms })
    }

    pub fn encode_key(&self) -> Result<Vec<u8>, WireError> {
        Ok(Writer::new(Self::KIND, Part::Key)
            .string("sourceClusterAlias", &self.source_alias)?
            .string("targetClusterAlias", &self.target_alias)?
            .done())
    }

    pub fn encode_value(&self) -> Vec<u8> {
        Writer::new(Self::KIND, Part::Value).i16(VALUE_VERSION).i64(self.timestamp_ms).done()
    }
}

/// A record of `<src>.checkpoints.internal` on the target cluster: where a
/// consumer group of the source cluster would resume on the target.
///
/// Key: `group` STRING, `topic` STRING, `partition` INT32; the topic is the
/// *target-side* name (already renamed by the replication policy).
/// Value: `version` INT16 (0), `upstreamOffset` INT64 (the group's committed
/// offset on the source), `offset` INT64 (its translation on the target),
/// `metadata` STRING (the group's commit metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
    pub metadata: String,
}

impl Checkpoint {
    const KIND: RecordKind = RecordKind::Checkpoint;

    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, WireError> {
        let mut k = Reader::new(Self::KIND, Part::Key, key);
        let group = k.string("group")?;
        let topic = k.string("topic")?;
        let partition = k.i32("partition")?;
        k.finish()?;
        let mut v = Reader::new(Self::KIND, Part::Value, value);
        v.version()?;
        let upstream_offset = v.i64("upstreamOffset")?;
        let downstream_offset = v.i64("offset")?;
        let metadata = v.string("metadata")?;
        v.finish()?;
        Ok(Self { group, topic, partition, upstream_offset, downstream_offset, metadata })
    }

    pub fn encode_key(&self) -> Result<Vec<u8>, WireError> {
        Ok(Writer::new(Self::KIND, Part::Key)
            .string("group", &self.group)?
            .string("topic", &self.topic)?
            .i32(self.partition)
            .done())
    }

    pub fn encode_value(&self) -> Result<Vec<u8>, WireError> {
        Ok(Writer::new(Self::KIND, Part::Value)
            .i16(VALUE_VERSION)
            .i64(self.upstream_offset)
            .i64(self.downstream_offset)
            .string("metadata", &self.metadata)?
            .done())
    }
}

/// A record of the offset-syncs topic (`mm2-offset-syncs.<alias>.internal`):
/// "upstream offset U of this source partition was written at downstream offset D".
///
/// Key: `topic` STRING (the *source-side* name), `partition` INT32.
/// Value: `upstreamOffset` INT64, `offset` INT64. Unlike heartbeats and
/// checkpoints the value has no version header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSync {
    pub topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
}

impl OffsetSync {
    const KIND: RecordKind = RecordKind::OffsetSync;

    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, WireError> {
        let mut k = Reader::new(Self::KIND, Part::Key, key);
        let topic = k.string("topic")?;
        let partition = k.i32("partition")?;
        k.finish()?;
        let mut v = Reader::new(Self::KIND, Part::Value, value);
        let upstream_offset = v.i64("upstreamOffset")?;
        let downstream_offset = v.i64("offset")?;
        v.finish()?;
        Ok(Self { topic, partition, upstream_offset, downstream_offset })
    }

    pub fn encode_key(&self) -> Result<Vec<u8>, WireError> {
        Ok(Writer::new(Self::KIND, Part::Key).string("topic", &self.topic)?.i32(self.partition).done())
    }

    pub fn encode_value(&self) -> Vec<u8> {
        Writer::new(Self::KIND, Part::Value).i64(self.upstream_offset).i64(self.downstream_offset).done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::rng::SplitMix64;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b'_').collect();
        digits
            .chunks(2)
            .map(|pair| {
                let text = std::str::from_utf8(pair).expect("ascii hex");
                u8::from_str_radix(text, 16).expect("hex digit pair")
            })
            .collect()
    }

    // Golden vectors: printed by Kafka 4.2.0's own code (Heartbeat/Checkpoint/
    // OffsetSync.recordKey()/recordValue(), called by reflection from a
    // single-file `Gen.java` run as `java -cp <kafka 4.2.0 jars> Gen.java`;
    // Kafka 3.9.1 printed the same bytes). Each is also derived by hand below.

    /// `new Heartbeat("dc", "dr", 1700000000123L)`.
    const HEARTBEAT_KEY: &str = "0002 6463  0002 6472"; // len 2 "dc", len 2 "dr"
    const HEARTBEAT_VALUE: &str = "0000 0000018bcfe5687b"; // version 0, 1700000000123 = 0x18bcfe5687b

    /// `new Checkpoint("orders-app", new TopicPartition("dc.orders", 3), 1234L, 1200L, "meta")`.
    const CHECKPOINT_KEY: &str = concat!(
        "000a 6f72646572732d617070 ", // len 10 "orders-app"
        "0009 64632e6f7264657273 ",   // len 9 "dc.orders"
        "00000003",                   // partition 3
    );
    const CHECKPOINT_VALUE: &str = concat!(
        "0000 ",             // version 0
        "00000000000004d2 ", // upstreamOffset 1234
        "00000000000004b0 ", // offset 1200
        "0004 6d657461",     // len 4 "meta"
    );

    /// `new Checkpoint("grüppe", new TopicPartition("dc.t", 0), 0L, -1L, "")`: the
    /// length counts UTF-8 bytes (ü is c3 bc), and an empty string is just 0000.
    const CHECKPOINT2_KEY: &str = "0007 6772c3bc707065  0004 64632e74  00000000";
    const CHECKPOINT2_VALUE: &str = "0000 0000000000000000 ffffffffffffffff 0000";

    /// `new OffsetSync(new TopicPartition("orders", 7), 1000L, 990L)`: no version header.
    const OFFSET_SYNC_KEY: &str = "0006 6f7264657273 00000007";
    const OFFSET_SYNC_VALUE: &str = "00000000000003e8 00000000000003de";

    fn heartbeat() -> Heartbeat {
        Heartbeat { source_alias: "dc".into(), target_alias: "dr".into(), timestamp_ms: 1_700_000_000_123 }
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            group: "orders-app".into(),
            topic: "dc.orders".into(),
            partition: 3,
            upstream_offset: 1234,
            downstream_offset: 1200,
            metadata: "meta".into(),
        }
    }

    fn checkpoint2() -> Checkpoint {
        Checkpoint {
            group: "grüppe".into(),
            topic: "dc.t".into(),
            partition: 0,
            upstream_offset: 0,
            downstream_offset: -1,
            metadata: String::new(),
        }
    }

    fn offset_sync() -> OffsetSync {
        OffsetSync { topic: "orders".into(), partition: 7, upstream_offset: 1000, downstream_offset: 990 }
    }

    #[test]
    fn golden_heartbeat() {
        let (k, v) = (hex(HEARTBEAT_KEY), hex(HEARTBEAT_VALUE));
        assert_eq!(Heartbeat::decode(&k, &v), Ok(heartbeat()));
        assert_eq!(heartbeat().encode_key(), Ok(k));
        assert_eq!(heartbeat().encode_value(), v);
    }

    #[test]
    fn golden_checkpoints() {
        for (cp, key, value) in
            [(checkpoint(), CHECKPOINT_KEY, CHECKPOINT_VALUE), (checkpoint2(), CHECKPOINT2_KEY, CHECKPOINT2_VALUE)]
        {
            let (k, v) = (hex(key), hex(value));
            assert_eq!(Checkpoint::decode(&k, &v), Ok(cp.clone()));
            assert_eq!(cp.encode_key(), Ok(k));
            assert_eq!(cp.encode_value(), Ok(v));
        }
    }

    #[test]
    fn golden_offset_sync() {
        let (k, v) = (hex(OFFSET_SYNC_KEY), hex(OFFSET_SYNC_VALUE));
        assert_eq!(OffsetSync::decode(&k, &v), Ok(offset_sync()));
        assert_eq!(offset_sync().encode_key(), Ok(k));
        assert_eq!(offset_sync().encode_value(), v);
    }

    #[test]
    fn round_trips_extremes() {
        let hb = Heartbeat {
            source_alias: String::new(),
            target_alias: "é".repeat(16_383), // 32766 bytes
            timestamp_ms: i64::MIN,
        };
        let k = hb.encode_key().expect("fits");
        assert_eq!(Heartbeat::decode(&k, &hb.encode_value()), Ok(hb));

        let cp = Checkpoint {
            group: "g".repeat(MAX_STRING_BYTES),
            partition: i32::MAX,
            upstream_offset: i64::MAX,
            downstream_offset: i64::MIN,
            metadata: "x".repeat(MAX_STRING_BYTES),
            ..checkpoint()
        };
        let (k, v) = (cp.encode_key().expect("fits"), cp.encode_value().expect("fits"));
        assert_eq!(Checkpoint::decode(&k, &v), Ok(cp));

        let os = OffsetSync { partition: -1, upstream_offset: -1, ..offset_sync() };
        let k = os.encode_key().expect("fits");
        assert_eq!(OffsetSync::decode(&k, &os.encode_value()), Ok(os));
    }

    #[test]
    fn too_long_string_is_refused_on_encode() {
        let os = OffsetSync { topic: "t".repeat(MAX_STRING_BYTES + 1), ..offset_sync() };
        assert_eq!(
            os.encode_key(),
            Err(WireError::StringTooLong {
                kind: RecordKind::OffsetSync,
                part: Part::Key,
                field: "topic",
                length: 32_768,
            })
        );
    }

    #[test]
    fn errors_name_kind_field_and_position() {
        let v = hex(HEARTBEAT_VALUE);
        // Truncated inside targetClusterAlias's body.
        let err = Heartbeat::decode(&hex("0002 6463 0002 64"), &v).unwrap_err();
        assert_eq!(
            err,
            WireError::Truncated {
                kind: RecordKind::Heartbeat,
                part: Part::Key,
                field: "targetClusterAlias",
                at: 6,
                needed: 2,
                available: 1,
            }
        );
        assert_eq!(
            err.to_string(),
            "heartbeat key: field `targetClusterAlias` truncated at byte 6: needs 2 byte(s), 1 left"
        );

        // Type.STRING is not nullable: -1 is refused like any negative length.
        let err = Heartbeat::decode(&hex("ffff"), &v).unwrap_err();
        assert_eq!(
            err,
            WireError::NegativeLength {
                kind: RecordKind::Heartbeat,
                part: Part::Key,
                field: "sourceClusterAlias",
                at: 0,
                length: -1,
            }
        );

        let err = Heartbeat::decode(&hex("0002 ff63 0002 6472"), &v).unwrap_err();
        assert_eq!(err.to_string(), "heartbeat key: field `sourceClusterAlias` at byte 2 is not valid UTF-8");

        let err = Checkpoint::decode(&hex(CHECKPOINT_KEY), &hex("0001 00")).unwrap_err();
        assert_eq!(err, WireError::UnsupportedVersion { kind: RecordKind::Checkpoint, version: 1 });
        assert_eq!(err.to_string(), "checkpoint value: unsupported version 1 (only version 0 is defined)");

        let mut long = hex(OFFSET_SYNC_VALUE);
        long.push(0);
        let err = OffsetSync::decode(&hex(OFFSET_SYNC_KEY), &long).unwrap_err();
        assert_eq!(err, WireError::TrailingBytes { kind: RecordKind::OffsetSync, part: Part::Value, at: 16, extra: 1 });
    }

    /// Up to `max_len` pseudo-random bytes from the demo world's generator.
    fn random_bytes(rng: &mut SplitMix64, max_len: u64) -> Vec<u8> {
        let len = rng.next_u64() % (max_len + 1);
        (0..len).map(|_| rng.next_u64().to_le_bytes()[0]).collect()
    }

    fn decode_any(key: &[u8], value: &[u8]) -> [bool; 3] {
        [
            Heartbeat::decode(key, value).is_ok(),
            Checkpoint::decode(key, value).is_ok(),
            OffsetSync::decode(key, value).is_ok(),
        ]
    }

    #[test]
    fn every_truncation_is_an_error_and_nothing_panics() {
        let golden = [
            (HEARTBEAT_KEY, HEARTBEAT_VALUE, 0),
            (CHECKPOINT_KEY, CHECKPOINT_VALUE, 1),
            (CHECKPOINT2_KEY, CHECKPOINT2_VALUE, 1),
            (OFFSET_SYNC_KEY, OFFSET_SYNC_VALUE, 2),
        ];
        for (key, value, which) in golden {
            let (k, v) = (hex(key), hex(value));
            assert!(decode_any(&k, &v)[which]);
            for cut in 0..k.len() {
                assert!(!decode_any(&k[..cut], &v)[which], "key cut at {cut} of {key}");
            }
            for cut in 0..v.len() {
                assert!(!decode_any(&k, &v[..cut])[which], "value cut at {cut} of {value}");
            }
        }

        let mut rng = SplitMix64::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let (k, v) = (random_bytes(&mut rng, 40), random_bytes(&mut rng, 40));
            decode_any(&k, &v);
            // Valid-looking length prefixes reach deeper than pure noise.
            let mut k2 = vec![0, (rng.next_u64() % 8) as u8];
            k2.extend(random_bytes(&mut rng, 24));
            decode_any(&k2, &v);
        }
    }
}
