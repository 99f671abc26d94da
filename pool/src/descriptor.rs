//! The 64-byte descriptor: what travels through a topic ring instead of the payload.
//!
//! ```text
//! offset size field         meaning
//!  0      4   generation    slot generation when sent (stale check)
//!  4      4   slot          slot index in the pool
//!  8      1   pool          pool (size class) index
//!  9      1   kind          PayloadKind: 0 empty, 1 bytes, 2 image, 3 depth, 4 points, 5 tensor,
//!                           6 inline (a POD message in bytes 16..64), 7 msgpack (dict in a slot)
//! 10      1   dtype         element type code (tensor crate's DType)
//! 11      1   ndim          number of dimensions (0..=8; dims past 6 spill into the slot header)
//! 12      2   flags         bit 0: read-only
//! 14      2   aux           kind-specific: image encoding, depth unit, point fields; for inline,
//!                           the message length
//! 16      8   len           payload byte length (<= slot size)
//! 24      8   timestamp_ns  capture time, ns since the Unix epoch
//! 32      8   sequence      publisher's sequence number
//! 40     24   shape[6]      first six dimensions (u32 each)
//! ```
//!
//! For `kind == INLINE` bytes 16..64 hold the message itself (up to [`INLINE_CAPACITY`] bytes)
//! and the slot fields are unused. Every field read from shared memory is validated by the pool
//! before use ([`crate::Namespace::resolve`]).

use std::mem::{offset_of, size_of};

/// Payload kinds (the `kind` byte).
pub mod kind {
    pub const EMPTY: u8 = 0;
    pub const BYTES: u8 = 1;
    pub const IMAGE: u8 = 2;
    pub const DEPTH: u8 = 3;
    pub const POINTS: u8 = 4;
    pub const TENSOR: u8 = 5;
    pub const INLINE: u8 = 6;
    pub const MSGPACK: u8 = 7;
    pub const MAX: u8 = 7;
}

/// Flag bits.
pub mod flags {
    pub const READONLY: u16 = 1;
}

/// Bytes available for an inline message.
pub const INLINE_CAPACITY: usize = 48;
/// Dimensions carried in the descriptor itself.
pub const INLINE_DIMS: usize = 6;
/// Maximum dimensions of any payload.
pub const MAX_DIMS: usize = 8;

/// See the module docs for the field table.
#[repr(C, align(8))]
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Descriptor {
    pub generation: u32,
    pub slot: u32,
    pub pool: u8,
    pub kind: u8,
    pub dtype: u8,
    pub ndim: u8,
    pub flags: u16,
    pub aux: u16,
    pub len: u64,
    pub timestamp_ns: u64,
    pub sequence: u64,
    pub shape: [u32; INLINE_DIMS],
}

const _: () = {
    assert!(size_of::<Descriptor>() == 64);
    assert!(offset_of!(Descriptor, generation) == 0);
    assert!(offset_of!(Descriptor, slot) == 4);
    assert!(offset_of!(Descriptor, pool) == 8);
    assert!(offset_of!(Descriptor, kind) == 9);
    assert!(offset_of!(Descriptor, dtype) == 10);
    assert!(offset_of!(Descriptor, ndim) == 11);
    assert!(offset_of!(Descriptor, flags) == 12);
    assert!(offset_of!(Descriptor, aux) == 14);
    assert!(offset_of!(Descriptor, len) == 16);
    assert!(offset_of!(Descriptor, timestamp_ns) == 24);
    assert!(offset_of!(Descriptor, sequence) == 32);
    assert!(offset_of!(Descriptor, shape) == 40);
};

/// Hash input pinning the descriptor layout (folded into the ring's layout hash).
pub const LAYOUT: [usize; 4] = [size_of::<Descriptor>(), offset_of!(Descriptor, len), offset_of!(Descriptor, shape), INLINE_CAPACITY];

impl std::fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.kind == kind::INLINE {
            return f.debug_struct("Descriptor").field("kind", &"inline").field("len", &self.aux).finish();
        }
        f.debug_struct("Descriptor")
            .field("pool", &self.pool)
            .field("slot", &self.slot)
            .field("generation", &self.generation)
            .field("kind", &self.kind)
            .field("dtype", &self.dtype)
            .field("shape", &&self.shape[..(self.ndim as usize).min(INLINE_DIMS)])
            .field("len", &self.len)
            .field("timestamp_ns", &self.timestamp_ns)
            .field("sequence", &self.sequence)
            .finish()
    }
}

impl Descriptor {
    /// The descriptor as 8 little words (how it is stored in a ring entry).
    pub fn to_words(&self) -> [u64; 8] {
        // SAFETY: Descriptor is 64 bytes of plain integers with no padding (offsets pinned
        // above sum to 64 exactly), so it is a valid [u64; 8] and 8-aligned.
        unsafe { std::mem::transmute::<Descriptor, [u64; 8]>(*self) }
    }

    /// Rebuild from 8 words. Any bit pattern is a `Descriptor`; validity of its fields is
    /// checked separately (`validate_shape`, and the pool when resolving).
    pub fn from_words(w: [u64; 8]) -> Descriptor {
        // SAFETY: every bit pattern is a valid Descriptor (integers only, no padding).
        unsafe { std::mem::transmute::<[u64; 8], Descriptor>(w) }
    }

    /// An inline message descriptor carrying `bytes` (at most [`INLINE_CAPACITY`]).
    pub fn inline(bytes: &[u8]) -> Option<Descriptor> {
        if bytes.len() > INLINE_CAPACITY {
            return None;
        }
        let mut w = [0u64; 8];
        let mut raw = [0u8; INLINE_CAPACITY];
        raw[..bytes.len()].copy_from_slice(bytes);
        for (i, chunk) in raw.chunks_exact(8).enumerate() {
            w[2 + i] = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        }
        let mut d = Descriptor::from_words(w);
        d.kind = kind::INLINE;
        d.aux = bytes.len() as u16;
        Some(d)
    }

    /// The inline message bytes, or None if this is not a valid inline descriptor.
    pub fn inline_bytes(&self) -> Option<([u8; INLINE_CAPACITY], usize)> {
        if self.kind != kind::INLINE || self.aux as usize > INLINE_CAPACITY {
            return None;
        }
        let w = self.to_words();
        let mut raw = [0u8; INLINE_CAPACITY];
        for i in 0..6 {
            raw[i * 8..i * 8 + 8].copy_from_slice(&w[2 + i].to_le_bytes());
        }
        Some((raw, self.aux as usize))
    }

    pub fn is_inline(&self) -> bool {
        self.kind == kind::INLINE
    }

    pub fn readonly(&self) -> bool {
        self.flags & flags::READONLY != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_is_64_bytes_and_round_trips_words() {
        let d = Descriptor { generation: 7, slot: 3, pool: 2, kind: kind::IMAGE, ndim: 3, shape: [480, 640, 3, 0, 0, 0], len: 921_600, ..Default::default() };
        assert_eq!(Descriptor::from_words(d.to_words()), d);
    }

    #[test]
    fn inline_round_trip_and_capacity() {
        let msg: Vec<u8> = (0..48).collect();
        let d = Descriptor::inline(&msg).unwrap();
        let (raw, n) = d.inline_bytes().unwrap();
        assert_eq!(&raw[..n], &msg[..]);
        assert!(Descriptor::inline(&[0u8; 49]).is_none());
        let mut bad = d;
        bad.aux = 200;
        assert!(bad.inline_bytes().is_none(), "oversized inline length is rejected");
    }
}
