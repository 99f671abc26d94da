//! CDR, the encoding of ROS 2 messages on the wire and in rosbag2/MCAP files: XCDR1 ("plain CDR")
//! little-endian. A 4-byte encapsulation header (`00 01 00 00`: CDR_LE, no options), then the
//! fields in declaration order, each primitive aligned to its own size counted from the end of the
//! header; a string is a `u32` length that counts its terminating NUL, the bytes, the NUL; a
//! sequence is a `u32` element count, then the elements; nested structs add no alignment of their own.
//!
//! [`Reader`] is for bytes from the network or a file: it never panics and never allocates more
//! than the input's length, whatever the lengths inside claim.

/// Encapsulation header of little-endian plain CDR.
pub const CDR_LE: [u8; 4] = [0x00, 0x01, 0x00, 0x00];

/// Why bytes are not the CDR of the expected message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CdrError {
    #[error("CDR: {what} needs {need} more bytes, {have} left (truncated or lying length)")]
    Short { what: &'static str, need: usize, have: usize },
    #[error("CDR: encapsulation {found:#06x} is not little-endian plain CDR (0x0001); big-endian and XCDR2 are not supported")]
    Encapsulation { found: u16 },
    #[error("CDR: string {what} is not NUL-terminated UTF-8")]
    BadString { what: &'static str },
    #[error("CDR: {what}: {why}")]
    Invalid { what: &'static str, why: String },
}

/// Appends CDR to a buffer.
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A buffer holding the encapsulation header, with room for `capacity` more bytes.
    pub fn new(capacity: usize) -> Writer {
        let mut buf = Vec::with_capacity(capacity + 4);
        buf.extend_from_slice(&CDR_LE);
        Writer { buf }
    }
    fn align(&mut self, n: usize) {
        let pos = self.buf.len() - 4;
        let pad = (n - pos % n) % n;
        self.buf.resize(self.buf.len() + pad, 0);
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }
    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i32(&mut self, v: i32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.align(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// A string (length with the NUL, bytes, NUL). A NUL inside `s` ends it for readers.
    pub fn string(&mut self, s: &str) {
        self.u32(s.len() as u32 + 1);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    /// A `u32` sequence length.
    pub fn len(&mut self, n: usize) {
        self.u32(n as u32);
    }
    /// A `uint8[]`: count, then the bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.buf.extend_from_slice(b);
    }
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads CDR from untrusted bytes.
pub struct Reader<'a> {
    data: &'a [u8],
    /// Offset in `data` (which starts with the 4-byte header).
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Check the encapsulation header and start after it.
    pub fn new(data: &'a [u8]) -> Result<Reader<'a>, CdrError> {
        if data.len() < 4 {
            return Err(CdrError::Short { what: "the encapsulation header", need: 4, have: data.len() });
        }
        let kind = u16::from_be_bytes([data[0], data[1]]);
        if kind != 0x0001 {
            return Err(CdrError::Encapsulation { found: kind });
        }
        Ok(Reader { data, pos: 4 })
    }
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }
    fn align(&mut self, n: usize) {
        let pad = (n - (self.pos - 4) % n) % n;
        self.pos = (self.pos + pad).min(self.data.len());
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CdrError> {
        if n > self.left() {
            return Err(CdrError::Short { what, need: n, have: self.left() });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn u8(&mut self, what: &'static str) -> Result<u8, CdrError> {
        Ok(self.take(1, what)?[0])
    }
    pub fn bool(&mut self, what: &'static str) -> Result<bool, CdrError> {
        Ok(self.u8(what)? != 0)
    }
    pub fn u32(&mut self, what: &'static str) -> Result<u32, CdrError> {
        self.align(4);
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn i32(&mut self, what: &'static str) -> Result<i32, CdrError> {
        Ok(self.u32(what)? as i32)
    }
    pub fn f64(&mut self, what: &'static str) -> Result<f64, CdrError> {
        self.align(8);
        let b = self.take(8, what)?;
        Ok(f64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    pub fn string(&mut self, what: &'static str) -> Result<&'a str, CdrError> {
        let n = self.u32(what)? as usize;
        if n == 0 {
            return Err(CdrError::BadString { what });
        }
        let b = self.take(n, what)?;
        let (body, nul) = b.split_at(n - 1);
        if nul != [0] {
            return Err(CdrError::BadString { what });
        }
        std::str::from_utf8(body).map_err(|_| CdrError::BadString { what })
    }
    /// A sequence length whose elements take at least `min_elem` bytes each (checked against the
    /// bytes left, so a lying count never makes the caller allocate).
    pub fn len(&mut self, min_elem: usize, what: &'static str) -> Result<usize, CdrError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_elem) > self.left() {
            return Err(CdrError::Short { what, need: n.saturating_mul(min_elem), have: self.left() });
        }
        Ok(n)
    }
    /// Where the next field starts (an offset into the input, encapsulation header included).
    pub fn position(&self) -> usize {
        self.pos
    }
    /// A `uint8[]`, borrowed from the input.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], CdrError> {
        let n = self.len(1, what)?;
        self.take(n, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_counts_from_after_the_header() {
        let mut w = Writer::new(0);
        w.u8(7);
        w.u32(0x01020304);
        w.u8(1);
        w.f64(1.5);
        w.string("ab");
        let b = w.finish();
        assert_eq!(&b[..4], &CDR_LE);
        // u8 at 0, pad 1..4, u32 at 4..8, u8 at 8, pad to 16, f64 16..24, string len at 24.
        assert_eq!(&b[4..16], &[7, 0, 0, 0, 4, 3, 2, 1, 1, 0, 0, 0]);
        assert_eq!(&b[20..28], &1.5f64.to_le_bytes());
        assert_eq!(&b[28..], &[3, 0, 0, 0, b'a', b'b', 0]);
        let mut r = Reader::new(&b).unwrap();
        assert_eq!((r.u8("a").unwrap(), r.u32("b").unwrap(), r.u8("c").unwrap(), r.f64("d").unwrap(), r.string("e").unwrap()), (7, 0x01020304, 1, 1.5, "ab"));
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        assert!(matches!(Reader::new(&[0, 1]), Err(CdrError::Short { .. })));
        assert!(matches!(Reader::new(&[0, 0, 0, 0]), Err(CdrError::Encapsulation { found: 0 })));
        let mut r = Reader::new(&[0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff]).unwrap();
        assert!(matches!(r.bytes("data"), Err(CdrError::Short { .. })), "a 4 G count with 0 bytes left");
        let mut r = Reader::new(&[0, 1, 0, 0, 2, 0, 0, 0, b'a', b'b']).unwrap();
        assert!(matches!(r.string("s"), Err(CdrError::BadString { .. })), "no NUL");
        let mut r = Reader::new(&[0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
        assert!(matches!(r.string("s"), Err(CdrError::BadString { .. })), "length 0");
        let mut r = Reader::new(&[0, 1, 0, 0, 3, 0, 0, 0, 0xc3, 0x28, 0]).unwrap();
        assert!(matches!(r.string("s"), Err(CdrError::BadString { .. })), "invalid UTF-8");
        // Every prefix of a valid message fails cleanly.
        let mut w = Writer::new(0);
        w.string("frame");
        w.bytes(&[1, 2, 3]);
        w.f64(2.0);
        let b = w.finish();
        for n in 4..b.len() {
            let mut r = Reader::new(&b[..n]).unwrap();
            assert!(r.string("s").and_then(|_| r.bytes("b")).and_then(|_| r.f64("f")).is_err(), "prefix {n}");
        }
    }
}
