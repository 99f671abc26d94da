//! Inline packing: messages of up to [`INLINE_MAX`] bytes travel in the ring entry itself (48
//! bytes in the descriptor, the rest in the entry's tail words), and [`Delivered`], the received
//! message that views them in place.

use super::seqlock::{Tail, INLINE_MAX, TAIL_WORDS};
use crate::descriptor::{self, Descriptor};
use crate::lease::SlotRef;
use std::mem::{offset_of, size_of};

/// A received message: its descriptor and, for payloads, a hold on the slot.
pub type Received = (Descriptor, Option<SlotRef>);

/// A received message: what every receive returns (`Subscriber::try_recv`, `recv_timeout`,
/// `latest`, `Topic::latest`). Its descriptor, for payloads a hold on the slot, and the tail
/// words of a long inline message: [`Delivered::inline`] views an inline message of any length
/// up to [`INLINE_MAX`] in place. [`Delivered::into_parts`] is the descriptor-and-hold view
/// for callers that need no more.
#[derive(Debug)]
#[repr(C)]
pub struct Delivered {
    pub desc: Descriptor,
    /// Right after `desc` (repr(C), offset asserted below): bytes 48.. of a long inline message
    /// continue the descriptor's bytes 16..64 in memory.
    tail: Tail,
    /// A hold on the payload's slot (None for inline and empty messages).
    pub hold: Option<SlotRef>,
    /// The entry's position in the ring + 1: an inline message's sequence number.
    pos1: u64,
}
const _: () = assert!(offset_of!(Delivered, tail) == size_of::<Descriptor>());
// Inline bytes are stored as little-endian words; viewing them in place needs a little-endian
// host (as does every shared-memory layout here).
const _: () = assert!(cfg!(target_endian = "little"));

impl Delivered {
    /// `pos1`: the entry's ring position + 1.
    pub(super) fn new(desc: Descriptor, tail: Tail, hold: Option<SlotRef>, pos1: u64) -> Delivered {
        Delivered { desc, tail, hold, pos1 }
    }

    /// The sequence number the publisher's send returned: the descriptor's for a payload (or a
    /// message in a slot), the entry's ring position + 1 for an inline message (whose descriptor
    /// words hold message bytes).
    pub fn sequence(&self) -> u64 {
        if self.desc.is_inline() {
            self.pos1
        } else {
            self.desc.sequence
        }
    }

    /// The inline message's bytes, viewed in place, or None when this is not a valid inline
    /// message (another kind, or a length over [`INLINE_MAX`] read from shared memory).
    pub fn inline(&self) -> Option<&[u8]> {
        let n = self.desc.aux as usize;
        if !self.desc.is_inline() || n > INLINE_MAX {
            return None;
        }
        let at = offset_of!(Descriptor, len);
        // SAFETY: `desc` (64 bytes of integers, no padding) is followed directly by `tail`
        // (asserted above), so bytes `at .. at + INLINE_MAX` (16..120) of `self` are initialized
        // and inside it; the pointer is derived from the whole struct, and u8 has no alignment
        // or validity requirement. The slice borrows `self`.
        Some(unsafe { std::slice::from_raw_parts((self as *const Delivered).cast::<u8>().add(at), n) })
    }

    /// [`Delivered::inline`] copied out, with its length.
    pub fn inline_bytes(&self) -> Option<([u8; INLINE_MAX], usize)> {
        let b = self.inline()?;
        let mut raw = [0u8; INLINE_MAX];
        raw[..b.len()].copy_from_slice(b);
        Some((raw, b.len()))
    }

    /// The descriptor and hold (the tail is dropped: an inline message longer than 48 bytes is
    /// cut to the descriptor's part).
    pub fn into_parts(self) -> Received {
        (self.desc, self.hold)
    }
}

/// Split an inline message of at most [`INLINE_MAX`] bytes into its descriptor (first 48 bytes,
/// length in `aux`) and tail words (the rest, zero-padded). None when it is longer.
pub fn inline_message(bytes: &[u8]) -> Option<(Descriptor, Tail)> {
    if bytes.len() > INLINE_MAX {
        return None;
    }
    // Two steps (descriptor, then tail) rather than one loop over a 15-word array: measured
    // 61 vs 69 ns for `pool/send_recv_inline_16B` (A/B, alternated twice).
    let (head, rest) = bytes.split_at(bytes.len().min(descriptor::INLINE_CAPACITY));
    let mut d = Descriptor::inline(head).expect("at most INLINE_CAPACITY");
    d.aux = bytes.len() as u16;
    let mut tail = [0u64; TAIL_WORDS];
    for (t, chunk) in tail.iter_mut().zip(rest.chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *t = u64::from_le_bytes(b);
    }
    Some((d, tail))
}
