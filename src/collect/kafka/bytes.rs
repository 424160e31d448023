//! Kafka's primitive binary types, read by one bounds-checked cursor. Every
//! decoder of Kafka's binary encodings in kdrill reads through it: MM2's
//! records (`wire`) and the consumer protocol's member assignments
//! (`groups`).
//!
//! * `INT16`/`INT32`/`INT64`: big-endian two's complement;
//! * `STRING` (`org.apache.kafka.common.protocol.types.Type.STRING`): an
//!   `INT16` byte length, then that many bytes. The type is not nullable:
//!   Kafka rejects any negative length (-1 included), and so does this reader.
//!
//! Every read names its field, so an error can be matched against Kafka's
//! schema; nothing here panics on any input.

use thiserror::Error;

/// Why a read failed. `field` is what was being read; `at` is a byte offset
/// into the buffer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReadError {
    #[error("field `{field}` truncated at byte {at}: needs {needed} byte(s), {available} left")]
    Truncated { field: &'static str, at: usize, needed: usize, available: usize },
    #[error("field `{field}` at byte {at} has negative string length {length}")]
    NegativeLength { field: &'static str, at: usize, length: i16 },
    #[error("field `{field}` at byte {at} is not valid UTF-8")]
    BadUtf8 { field: &'static str, at: usize },
}

/// A cursor over one encoded buffer (a record key, a record value, an
/// assignment), reading forwards.
pub struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// The offset of the next byte to read.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// How many bytes are left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn truncated(&self, field: &'static str, needed: usize) -> ReadError {
        ReadError::Truncated { field, at: self.pos, needed, available: self.remaining() }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ReadError> {
        let bytes = self
            .pos
            .checked_add(n)
            .and_then(|end| self.buf.get(self.pos..end))
            .ok_or_else(|| self.truncated(field, n))?;
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ReadError> {
        let bytes = self
            .buf
            .get(self.pos..)
            .and_then(<[u8]>::first_chunk::<N>)
            .copied()
            .ok_or_else(|| self.truncated(field, N))?;
        self.pos += N;
        Ok(bytes)
    }

    pub fn i16(&mut self, field: &'static str) -> Result<i16, ReadError> {
        self.array(field).map(i16::from_be_bytes)
    }

    pub fn i32(&mut self, field: &'static str) -> Result<i32, ReadError> {
        self.array(field).map(i32::from_be_bytes)
    }

    pub fn i64(&mut self, field: &'static str) -> Result<i64, ReadError> {
        self.array(field).map(i64::from_be_bytes)
    }

    /// The bytes of a `STRING`, not checked for UTF-8.
    pub fn string_bytes(&mut self, field: &'static str) -> Result<&'a [u8], ReadError> {
        let at = self.pos;
        let length = self.i16(field)?;
        let len = usize::try_from(length).map_err(|_| ReadError::NegativeLength { field, at, length })?;
        self.take(len, field)
    }

    /// A `STRING`; invalid UTF-8 is an error (Java's reader would silently
    /// substitute U+FFFD).
    pub fn string(&mut self, field: &'static str) -> Result<String, ReadError> {
        let bytes = self.string_bytes(field)?;
        let body_at = self.pos - bytes.len();
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| ReadError::BadUtf8 { field, at: body_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_integers_and_strings() {
        let buf = [0x00, 0x02, b'o', b'k', 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 1, 0];
        let mut r = ByteReader::new(&buf);
        assert_eq!(r.string("s"), Ok("ok".to_owned()));
        assert_eq!(r.i32("i"), Ok(-2));
        assert_eq!(r.i64("l"), Ok(256));
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.pos(), buf.len());
    }

    #[test]
    fn errors_say_where_and_what() {
        let mut r = ByteReader::new(&[0x00, 0x03, b'a']);
        assert_eq!(r.string("topic"), Err(ReadError::Truncated { field: "topic", at: 2, needed: 3, available: 1 }));
        let mut r = ByteReader::new(&[0xff, 0xff]);
        assert_eq!(r.string_bytes("topic"), Err(ReadError::NegativeLength { field: "topic", at: 0, length: -1 }));
        let mut r = ByteReader::new(&[0x00, 0x01, 0xff]);
        assert_eq!(r.string("topic"), Err(ReadError::BadUtf8 { field: "topic", at: 2 }));
        let mut r = ByteReader::new(&[0x00]);
        assert_eq!(r.i16("version"), Err(ReadError::Truncated { field: "version", at: 0, needed: 2, available: 1 }));
        assert_eq!(r.take(usize::MAX, "huge").map(<[u8]>::len).ok(), None, "no overflow");
    }
}
