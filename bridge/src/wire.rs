//! The bridge's wire format: what one tensorbus message looks like as a Zenoh sample, so that any
//! Zenoh client in any language can publish into a tensorbus namespace or read from it
//! (`docs/bridge.md` is the user-facing copy of this table).
//!
//! Key expression: `tensorbus/<scope>/<topic>` (the topic name's `/` are key separators; the
//! scope is the namespace name unless the bridge is given another).
//!
//! Payload: the message bytes — a payload's data (compact, row-major), a POD message's bytes,
//! a dict's MessagePack — compressed when the header says so.
//!
//! Attachment: a little-endian header of [`FIXED`] bytes, then the shape, then two short strings.
//!
//! ```text
//! offset size field        meaning
//!  0      4   magic        b"TBZ1" (format version 1)
//!  4      1   form         1 payload, 2 POD bytes, 3 dict (MessagePack)
//!  5      1   kind         payloads: the descriptor kind (2 image, 3 depth, 4 points, 5 tensor, 1 bytes); else 0
//!  6      1   dtype        payloads: the dtype code; else 0
//!  7      1   ndim         payloads: 1..=8 dimensions; else 0
//!  8      2   aux          payloads: encoding / depth unit / point fields; else 0
//! 10      1   compression  0 none, 1 lz4 (block), 2 zstd
//! 11      1   policy       the topic's policy: 0 latest, 1 reliable
//! 12      4   depth        the topic's ring depth (0: the receiver's default)
//! 16      8   timestamp_ns the message's capture time (payloads; 0 otherwise)
//! 24      8   sequence     the sequence number the message had in its own namespace
//! 32      8   bridge_seq   1, 2, 3 ... per topic and origin (0: not counted); gaps are losses
//! 40      8   raw_len      the message bytes before compression
//! 48      8   type_hash    the topic type's layout hash (POD types; 0 otherwise)
//! 56      4   msg_size     the topic type's message size (POD types; 0 otherwise)
//! 60      4   reserved     0
//! 64     16   origin       the sending bridge's Zenoh id (zeros: a plain Zenoh client)
//! 80   8*nd   shape        ndim u64 dimensions
//!  .      1   name_len     then the topic type name (UTF-8, <= 64 bytes)
//!  .      1   frame_len    then the frame id (UTF-8, <= 31 bytes)
//! ```
//!
//! Decoding never trusts the network: every length and code is checked, a compressed payload
//! may not expand past `raw_len` (itself bounded by [`MAX_RAW`]), and anything wrong is a
//! [`WireError`] the bridge counts and logs once — never a panic or a bad frame in the pool.
//! Bytes after the frame id are ignored (room for later fields).

use std::fmt;

/// The attachment's first four bytes.
pub const MAGIC: [u8; 4] = *b"TBZ1";
/// Bytes before the shape.
pub const FIXED: usize = 80;
/// Longest message the bridge accepts (after decompression).
pub const MAX_RAW: u64 = 1 << 31;
/// Longest type name.
pub const MAX_TYPE_NAME: usize = 64;
/// Most dimensions of a payload.
pub const MAX_DIMS: usize = tensorbus_pool::descriptor::MAX_DIMS;
/// The key expressions' first chunk.
pub const KEY_ROOT: &str = "tensorbus";

/// What the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Image, depth image, point cloud, tensor or raw bytes in a pool slot.
    Payload,
    /// A POD message (`tb.CmdVel`, a `@tb.message` class, a Rust `Pod`).
    Pod,
    /// A dict, as MessagePack.
    Dict,
}

impl Form {
    fn code(self) -> u8 {
        match self {
            Form::Payload => 1,
            Form::Pod => 2,
            Form::Dict => 3,
        }
    }
}

/// How the bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    /// LZ4 block format (`lz4_flex::block`), no size prefix: `raw_len` is the size.
    Lz4,
    /// A zstd frame.
    Zstd,
}

impl Compression {
    fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Lz4 => 1,
            Compression::Zstd => 2,
        }
    }
    /// `none`, `lz4` or `zstd`.
    pub fn parse(s: &str) -> Option<Compression> {
        match s {
            "none" => Some(Compression::None),
            "lz4" => Some(Compression::Lz4),
            "zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// One message's metadata: the attachment, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub form: Option<Form>,
    pub kind: u8,
    pub dtype: u8,
    pub aux: u16,
    pub compression: Compression,
    pub reliable: bool,
    pub depth: u32,
    pub timestamp_ns: u64,
    pub sequence: u64,
    pub bridge_seq: u64,
    pub raw_len: u64,
    pub type_hash: u64,
    pub msg_size: u32,
    pub origin: [u8; 16],
    pub shape: Vec<u64>,
    pub type_name: String,
    pub frame_id: String,
}

/// Why a sample was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("no attachment (a tensorbus sample carries its metadata in one; see docs/bridge.md)")]
    NoAttachment,
    #[error("attachment of {0} bytes is too short")]
    Short(usize),
    #[error("bad magic {0:02x?} (expected \"TBZ1\")")]
    Magic([u8; 4]),
    #[error("unknown {field} code {code}")]
    Code { field: &'static str, code: u8 },
    #[error("{0} dimensions (1..=8 for a payload, 0 otherwise)")]
    Ndim(u8),
    #[error("{field} is {len} bytes long (at most {max})")]
    TooLong { field: &'static str, len: usize, max: u64 },
    #[error("{0} is not UTF-8")]
    Utf8(&'static str),
    #[error("the payload is {found} bytes, the header says {expected}")]
    Length { expected: u64, found: u64 },
    #[error("{0} does not decompress: {1}")]
    Decompress(&'static str, String),
    #[error("key {0:?} is not tensorbus/<scope>/<topic>")]
    Key(String),
}

/// Why a received message was not published, as the bridge counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The sample itself is wrong (bad header, lying lengths, a shape the kind does not allow,
    /// a body that does not decompress, bad MessagePack or CDR): counted as `malformed`.
    Malformed(String),
    /// The sample is fine but cannot be published here (the topic carries another type, no pool
    /// slot in time, a full reliable ring): counted per topic as `dropped`.
    Dropped(String),
}

impl Refusal {
    pub fn malformed(e: impl std::fmt::Display) -> Refusal {
        Refusal::Malformed(e.to_string())
    }
    pub fn dropped(e: impl std::fmt::Display) -> Refusal {
        Refusal::Dropped(e.to_string())
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Malformed(s) | Refusal::Dropped(s) => f.write_str(s),
        }
    }
}

/// Check that `b` is one MessagePack value a tensorbus dict subscriber decodes (the same rules
/// as the Python binding's decoder): no trailing bytes, no extension types or reserved markers,
/// UTF-8 strings, no arrays or maps as map keys, at most 64 levels deep.
pub fn check_dict(b: &[u8]) -> Result<(), String> {
    struct R<'a> {
        b: &'a [u8],
        at: usize,
    }
    impl R<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], String> {
            let s = self.b.get(self.at..self.at.checked_add(n).ok_or("length overflows")?).ok_or("the message ends early")?;
            self.at += n;
            Ok(s)
        }
        fn be(&mut self, n: usize) -> Result<usize, String> {
            Ok(self.take(n)?.iter().fold(0usize, |v, &x| (v << 8) | x as usize))
        }
        fn left(&self) -> usize {
            self.b.len() - self.at
        }
        /// One value; `key`: it is a map key (arrays and maps are not allowed).
        fn value(&mut self, depth: usize, key: bool) -> Result<(), String> {
            if depth > 64 {
                return Err("nested deeper than 64 levels".into());
            }
            let m = self.take(1)?[0];
            let (n, container) = match m {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => return Ok(()),
                0xcc..=0xcf => return self.take(1 << (m - 0xcc)).map(|_| ()),
                0xd0..=0xd3 => return self.take(1 << (m - 0xd0)).map(|_| ()),
                0xca => return self.take(4).map(|_| ()),
                0xcb => return self.take(8).map(|_| ()),
                0xa0..=0xbf | 0xd9 | 0xda | 0xdb => {
                    let n = match m {
                        0xd9 => self.be(1)?,
                        0xda => self.be(2)?,
                        0xdb => self.be(4)?,
                        _ => (m & 0x1f) as usize,
                    };
                    return std::str::from_utf8(self.take(n)?).map(|_| ()).map_err(|_| "a string is not UTF-8".into());
                }
                0xc4..=0xc6 => {
                    let n = self.be(1 << (m - 0xc4))?;
                    return self.take(n).map(|_| ());
                }
                0x90..=0x9f => ((m & 0x0f) as usize, 1),
                0xdc => (self.be(2)?, 1),
                0xdd => (self.be(4)?, 1),
                0x80..=0x8f => ((m & 0x0f) as usize, 2),
                0xde => (self.be(2)?, 2),
                0xdf => (self.be(4)?, 2),
                _ => return Err(format!("unsupported marker {m:#04x} (tensorbus dicts use no extension types)")),
            };
            if key {
                return Err("a map key is an array or a map".into());
            }
            // Every element takes at least a byte: a lying count fails here, not after a long loop.
            if n.saturating_mul(container) > self.left() {
                return Err("a container longer than the message".into());
            }
            for _ in 0..n {
                if container == 2 {
                    self.value(depth + 1, true)?;
                }
                self.value(depth + 1, false)?;
            }
            Ok(())
        }
    }
    let mut r = R { b, at: 0 };
    r.value(0, false)?;
    if r.left() > 0 {
        return Err(format!("{} trailing bytes after the MessagePack value", r.left()));
    }
    Ok(())
}

impl Header {
    /// The header as attachment bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(FIXED + 8 * self.shape.len() + 2 + self.type_name.len() + self.frame_id.len());
        b.extend_from_slice(&MAGIC);
        b.push(self.form.map_or(0, Form::code));
        b.push(self.kind);
        b.push(self.dtype);
        b.push(self.shape.len() as u8);
        b.extend_from_slice(&self.aux.to_le_bytes());
        b.push(self.compression.code());
        b.push(self.reliable as u8);
        b.extend_from_slice(&self.depth.to_le_bytes());
        for v in [self.timestamp_ns, self.sequence, self.bridge_seq, self.raw_len, self.type_hash] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&self.msg_size.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&self.origin);
        debug_assert_eq!(b.len(), FIXED);
        for d in &self.shape {
            b.extend_from_slice(&d.to_le_bytes());
        }
        for s in [&self.type_name, &self.frame_id] {
            let s = &s.as_bytes()[..s.len().min(255)];
            b.push(s.len() as u8);
            b.extend_from_slice(s);
        }
        b
    }

    /// Decode and check an attachment (the payload's length is checked by [`Header::check_len`]).
    pub fn decode(a: &[u8]) -> Result<Header, WireError> {
        if a.len() < FIXED {
            return Err(WireError::Short(a.len()));
        }
        let magic: [u8; 4] = a[0..4].try_into().expect("4 bytes");
        if magic != MAGIC {
            return Err(WireError::Magic(magic));
        }
        let u16_at = |o: usize| u16::from_le_bytes(a[o..o + 2].try_into().expect("2 bytes"));
        let u32_at = |o: usize| u32::from_le_bytes(a[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(a[o..o + 8].try_into().expect("8 bytes"));
        let form = match a[4] {
            1 => Form::Payload,
            2 => Form::Pod,
            3 => Form::Dict,
            code => return Err(WireError::Code { field: "form", code }),
        };
        let compression = match a[10] {
            0 => Compression::None,
            1 => Compression::Lz4,
            2 => Compression::Zstd,
            code => return Err(WireError::Code { field: "compression", code }),
        };
        let reliable = match a[11] {
            0 => false,
            1 => true,
            code => return Err(WireError::Code { field: "policy", code }),
        };
        let ndim = a[7];
        let ndim_ok = if form == Form::Payload { (1..=MAX_DIMS as u8).contains(&ndim) } else { ndim == 0 };
        if !ndim_ok {
            return Err(WireError::Ndim(ndim));
        }
        let raw_len = u64_at(40);
        if raw_len > MAX_RAW {
            return Err(WireError::TooLong { field: "the message", len: raw_len.min(usize::MAX as u64) as usize, max: MAX_RAW });
        }
        let mut at = FIXED;
        let need = at + 8 * ndim as usize;
        if a.len() < need + 2 {
            return Err(WireError::Short(a.len()));
        }
        let shape: Vec<u64> = (0..ndim as usize).map(|i| u64_at(at + 8 * i)).collect();
        at = need;
        let mut text = |field: &'static str, max: usize| -> Result<String, WireError> {
            let n = *a.get(at).ok_or(WireError::Short(a.len()))? as usize;
            let s = a.get(at + 1..at + 1 + n).ok_or(WireError::Short(a.len()))?;
            if n > max {
                return Err(WireError::TooLong { field, len: n, max: max as u64 });
            }
            at += 1 + n;
            String::from_utf8(s.to_vec()).map_err(|_| WireError::Utf8(field))
        };
        let type_name = text("the type name", MAX_TYPE_NAME)?;
        let frame_id = text("the frame id", tensorbus_tensor::MAX_FRAME_ID)?;
        Ok(Header {
            form: Some(form),
            kind: a[5],
            dtype: a[6],
            aux: u16_at(8),
            compression,
            reliable,
            depth: u32_at(12),
            timestamp_ns: u64_at(16),
            sequence: u64_at(24),
            bridge_seq: u64_at(32),
            raw_len,
            type_hash: u64_at(48),
            msg_size: u32_at(56),
            origin: a[64..80].try_into().expect("16 bytes"),
            shape,
            type_name,
            frame_id,
        })
    }

    /// An uncompressed payload must be exactly `raw_len` bytes.
    pub fn check_len(&self, wire_len: usize) -> Result<(), WireError> {
        if self.compression == Compression::None && wire_len as u64 != self.raw_len {
            return Err(WireError::Length { expected: self.raw_len, found: wire_len as u64 });
        }
        Ok(())
    }

    /// Write the message bytes (decompressed) into `out`, which is exactly `raw_len` long.
    pub fn decompress_into(&self, wire: &[u8], out: &mut [u8]) -> Result<(), WireError> {
        debug_assert_eq!(out.len() as u64, self.raw_len);
        match self.compression {
            Compression::None => {
                self.check_len(wire.len())?;
                out.copy_from_slice(wire);
            }
            Compression::Lz4 => {
                let n = lz4_flex::block::decompress_into(wire, out).map_err(|e| WireError::Decompress("lz4", e.to_string()))?;
                if n != out.len() {
                    return Err(WireError::Length { expected: self.raw_len, found: n as u64 });
                }
            }
            Compression::Zstd => {
                let n = zstd::bulk::Decompressor::new().and_then(|mut d| d.decompress_to_buffer(wire, out)).map_err(|e| WireError::Decompress("zstd", e.to_string()))?;
                if n != out.len() {
                    return Err(WireError::Length { expected: self.raw_len, found: n as u64 });
                }
            }
        }
        Ok(())
    }

    /// The message bytes in a new buffer (POD and dict messages: small).
    pub fn decompress(&self, wire: &[u8]) -> Result<Vec<u8>, WireError> {
        let mut v = vec![0u8; self.raw_len as usize];
        self.decompress_into(wire, &mut v)?;
        Ok(v)
    }
}

/// Compress `raw` (zstd at level 1: fast, and most of what zstd saves on camera frames).
pub fn compress(c: Compression, raw: &[u8]) -> Vec<u8> {
    match c {
        Compression::None => raw.to_vec(),
        Compression::Lz4 => lz4_flex::block::compress(raw),
        Compression::Zstd => zstd::bulk::compress(raw, 1).unwrap_or_else(|e| {
            // zstd fails only on allocation; send uncompressed rather than not at all.
            log::warn!("bridge: zstd: {e}");
            raw.to_vec()
        }),
    }
}

/// The key expression of `topic` in `scope`.
pub fn key(scope: &str, topic: &str) -> String {
    format!("{KEY_ROOT}/{scope}/{topic}")
}

/// The topic name of a key expression in `scope` (the rest after `tensorbus/<scope>/`), checked
/// as a tensorbus topic name.
pub fn topic_of(scope: &str, key: &str) -> Result<String, WireError> {
    let rest = key.strip_prefix(KEY_ROOT).and_then(|k| k.strip_prefix('/')).and_then(|k| k.strip_prefix(scope)).and_then(|k| k.strip_prefix('/'));
    match rest {
        Some(t) if tensorbus_pool::ring::check_name(t).is_ok() => Ok(t.to_string()),
        _ => Err(WireError::Key(key.to_string())),
    }
}

/// A Zenoh id (16 bytes, as `ZenohId::to_le_bytes` gives them) printed as Zenoh prints it: one
/// little-endian number in hex; zeros (a plain Zenoh client's samples) as `a Zenoh client`.
pub struct Zid<'a>(pub &'a [u8; 16]);

impl fmt::Display for Zid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match u128::from_le_bytes(*self.0) {
            0 => f.write_str("a Zenoh client"),
            n => write!(f, "{n:x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_header() -> Header {
        Header {
            form: Some(Form::Payload),
            kind: 2,
            dtype: 1,
            aux: 3,
            compression: Compression::None,
            reliable: false,
            depth: 4,
            timestamp_ns: 123,
            sequence: 9,
            bridge_seq: 1,
            raw_len: 2 * 3 * 3,
            type_hash: 0,
            msg_size: 0,
            origin: [7; 16],
            shape: vec![2, 3, 3],
            type_name: "Image".into(),
            frame_id: "cam0".into(),
        }
    }

    #[test]
    fn header_round_trips() {
        let h = image_header();
        let b = h.encode();
        assert_eq!(&b[..4], b"TBZ1");
        assert_eq!(b.len(), FIXED + 24 + 1 + 5 + 1 + 4);
        assert_eq!(Header::decode(&b).unwrap(), h);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let b = image_header().encode();
        for n in 0..b.len() {
            assert!(Header::decode(&b[..n]).is_err(), "{n} bytes decoded");
        }
    }

    #[test]
    fn bad_codes_are_refused() {
        let good = image_header().encode();
        for (at, v, field) in [(4, 9u8, "form"), (10, 3, "compression"), (11, 2, "policy")] {
            let mut b = good.clone();
            b[at] = v;
            assert_eq!(Header::decode(&b), Err(WireError::Code { field, code: v }));
        }
        let mut b = good.clone();
        b[7] = 9;
        assert_eq!(Header::decode(&b), Err(WireError::Ndim(9)));
        let mut b = good.clone();
        b[0] = b'X';
        assert!(matches!(Header::decode(&b), Err(WireError::Magic(_))));
        let mut b = good;
        b[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(Header::decode(&b), Err(WireError::TooLong { .. })));
    }

    #[test]
    fn compression_round_trips_and_lies_are_caught() {
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i / 7) as u8).collect();
        for c in [Compression::None, Compression::Lz4, Compression::Zstd] {
            let wire = compress(c, &raw);
            let h = Header { compression: c, raw_len: raw.len() as u64, ..Header::default() };
            assert_eq!(h.decompress(&wire).unwrap(), raw, "{c:?}");
            // A header that claims fewer or more bytes than the stream holds.
            for raw_len in [raw.len() as u64 - 1, raw.len() as u64 + 1] {
                let h = Header { compression: c, raw_len, ..Header::default() };
                assert!(h.decompress(&wire).is_err(), "{c:?} with raw_len {raw_len}");
            }
        }
        assert!(compress(Compression::Zstd, &raw).len() < raw.len() / 4);
    }

    #[test]
    fn zids_print_as_zenoh_prints_them() {
        let mut b = [0u8; 16];
        b[0] = 0x0a;
        b[15] = 0x0a;
        assert_eq!(Zid(&b).to_string(), "a00000000000000000000000000000a");
        assert_eq!(Zid(&[0; 16]).to_string(), "a Zenoh client");
    }

    #[test]
    fn dicts_are_checked_as_the_subscribers_decode_them() {
        let ok = rmp_serde::to_vec_named(&std::collections::BTreeMap::from([("a", 1)])).unwrap();
        assert_eq!(check_dict(&ok), Ok(()));
        for bad in [&b"\xc1"[..], b"\x81\xa1a", b"\x01\x02", b"\xd4\x01\x00", b"\xa1\xff", b"\x81\x90\x01"] {
            assert!(check_dict(bad).is_err(), "{bad:02x?}");
        }
        let deep: Vec<u8> = std::iter::repeat_n(0x91u8, 70).chain([0x01]).collect();
        assert!(check_dict(&deep).is_err());
    }

    #[test]
    fn keys_map_to_topic_names() {
        assert_eq!(key("default", "camera.rgb"), "tensorbus/default/camera.rgb");
        assert_eq!(topic_of("default", "tensorbus/default/robot/camera.rgb").unwrap(), "robot/camera.rgb");
        for bad in ["tensorbus/other/x", "tensorbus/default", "tensorbus/default/", "x/default/y", "tensorbus/default/a//b", "tensorbus/default/a b"] {
            assert!(topic_of("default", bad).is_err(), "{bad}");
        }
    }
}
