//! The ring's seqlock: the entry layout, its stamps, the writer's and the reader's halves of the
//! protocol, and the reader's cursor logic. This file is the whole lock-free core of a topic
//! ring; the loom models at its end run *this* code (`make loom`), not copies of it.
//!
//! ```text
//! Entry (128 bytes, two cache lines):
//!   word 0      stamp: 2*pos+1 while position `pos` is being written, 2*pos+2 once complete
//!   words 1..8  the 64-byte descriptor as 8 little-endian words (word 7 starts line 2)
//!   words 9..15 tail: bytes 48..104 of an inline message longer than the descriptor holds
//! ```
//!
//! Writer (under the ring's writer lock, so one at a time): stamp odd (Relaxed) + Release fence,
//! the words (Relaxed), stamp complete (Release), then `head = pos+1` (Release) — [`write`],
//! [`publish`]. Reader (never locks): stamp (Acquire) must be complete for exactly its position,
//! the words (Relaxed), Acquire fence, stamp again (Relaxed) unchanged — [`read`]. A reader's
//! cursor peeks at the stamp its cursor names and asks `head` only when that stamp is neither
//! complete nor plainly unwritten — [`next`].
//!
//! **Under loom.** Everything here goes through `crate::sync`, so with `--cfg loom` the same
//! functions run on loom's atomics. The entry is a `#[repr(C)]` struct of `crate::sync` atomics:
//! with std's types it has the fixed 128-byte layout of the segment (asserted below); with
//! loom's types it is larger and its layout is irrelevant, since a loom model builds its entries
//! on the heap and never maps a segment (so the layout asserts are for the real build only).
//! The alternative, a core generic over an atomic trait, would put a type parameter on every
//! shared-memory struct for the benefit of the models alone; the facade keeps the structs plain.
//! The only abstraction is [`Entries`], the ring's array of entries and its `head`, which the
//! real ring implements on its segment and a model on a heap array.

use crate::descriptor::{self, Descriptor};
use crate::sync::{fence, AtomicU64, Ordering};

/// Words after the descriptor in a ring entry that carry the rest of a long inline message.
pub const TAIL_WORDS: usize = 7;
/// Longest inline message a ring entry carries: 48 bytes in the descriptor (bytes 16..64) and
/// 56 in the tail words after it, so a 64- to 104-byte message (a pose, an IMU sample) travels
/// without a slot.
pub const INLINE_MAX: usize = descriptor::INLINE_CAPACITY + 8 * TAIL_WORDS;
/// The tail words of an entry: bytes 48.. of an inline message longer than 48 bytes.
pub type Tail = [u64; TAIL_WORDS];
/// Inline messages up to this length end within the first 7 descriptor words, which share the
/// entry's first cache line with the stamp.
const SHORT_INLINE: usize = descriptor::INLINE_CAPACITY - 8;

#[repr(C)]
pub struct Entry {
    /// Seqlock stamp: odd while being written, `2*pos+2` once complete for position `pos`.
    pub stamp: AtomicU64,
    pub desc: [AtomicU64; 8],
    /// Bytes 48.. of an inline message longer than [`descriptor::INLINE_CAPACITY`]; unused
    /// (and possibly stale) otherwise. Written and read under the same seqlock as `desc`.
    pub tail: [AtomicU64; TAIL_WORDS],
}
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Entry>() == 128);

/// A ring's entries and its `head` (next position to write; positions below it are published).
pub trait Entries {
    /// The entry position `pos` maps to (`pos % depth`).
    fn entry(&self, pos: u64) -> &Entry;
    fn head(&self) -> &AtomicU64;
    /// Entries in the ring (at least 1).
    fn depth(&self) -> u64;
}

/// The seqlock stamp of position `pos`: odd (`2*pos+1`) while being written, `2*pos+2` once
/// complete. Wrapping arithmetic: positions come from the shared `head`, which a crashed or
/// hostile process may have scribbled to anything; near u64::MAX the plain form overflowed and
/// panicked (found by tests/hardening.rs, ring scribbles). A wrapped stamp merely mismatches.
#[inline]
pub fn stamp(pos: u64, complete: bool) -> u64 {
    pos.wrapping_mul(2).wrapping_add(if complete { 2 } else { 1 })
}

/// True when `desc` carries an inline message longer than the descriptor holds (its rest is in
/// the tail words).
#[inline]
fn has_tail(desc: &Descriptor) -> bool {
    desc.is_inline() && desc.aux as usize > descriptor::INLINE_CAPACITY
}

/// Read entry `e`, which position `pos` maps to, if it is complete for exactly that position;
/// with `tail`, also the tail words of a long inline message (left untouched for any other
/// entry). None: not yet written, being written, or lapped while we read (a torn read).
#[inline]
pub fn read(e: &Entry, pos: u64, tail: Option<&mut Tail>) -> Option<Descriptor> {
    // Acquire: pairs with the writer's Release stamp store; the words below are its.
    let s1 = e.stamp.load(Ordering::Acquire);
    if s1 != stamp(pos, true) {
        return None;
    }
    let mut w = [0u64; 8];
    for (d, s) in w.iter_mut().zip(&e.desc[..7]) {
        // Relaxed: validated by the stamp re-check after the Acquire fence.
        *d = s.load(Ordering::Relaxed);
    }
    // Word 7 is the entry's second cache line. An inline message of at most 40 bytes ends
    // before it (the writer zeroes the rest), so short messages cost the reader one line.
    let head_only = Descriptor::from_words(w);
    if !(head_only.is_inline() && head_only.aux as usize <= SHORT_INLINE) {
        // Relaxed: as above.
        w[7] = e.desc[7].load(Ordering::Relaxed);
    }
    // The tail shares word 7's line: a long inline message costs the reader two lines.
    if let Some(t) = tail.filter(|_| has_tail(&head_only)) {
        for (d, s) in t.iter_mut().zip(&e.tail) {
            // Relaxed: as above.
            *d = s.load(Ordering::Relaxed);
        }
    }
    // Acquire fence: the word loads above happen before the second stamp load.
    fence(Ordering::Acquire);
    (e.stamp.load(Ordering::Relaxed) == s1).then(|| Descriptor::from_words(w))
}

/// Writer, under the ring's lock: write `desc` into entry `e` for position `pos`, with `tail`
/// when `desc` is an inline message longer than the descriptor holds. The entry is complete
/// when this returns; readers see it through its stamp, `head` follows with [`publish`].
#[inline]
pub fn write(e: &Entry, pos: u64, desc: &Descriptor, tail: Option<&Tail>) {
    // Relaxed + Release fence: readers that see a word of the new descriptor see the odd stamp
    // (their re-check fails) — the seqlock write protocol.
    e.stamp.store(stamp(pos, false), Ordering::Relaxed);
    fence(Ordering::Release);
    for (d, s) in e.desc.iter().zip(desc.to_words()) {
        d.store(s, Ordering::Relaxed);
    }
    if let Some(t) = tail.filter(|_| has_tail(desc)) {
        for (d, s) in e.tail.iter().zip(t) {
            // Relaxed: ordered by the Release stamp store below, like the words above.
            d.store(*s, Ordering::Relaxed);
        }
    }
    // Release: the descriptor words happen before the complete stamp.
    e.stamp.store(stamp(pos, true), Ordering::Release);
}

/// Writer, after [`write`]: publish position `pos` (`head = pos+1`).
#[inline]
pub fn publish(head: &AtomicU64, pos: u64) {
    // Release: readers that see the new head see the complete entry. Wrapping: `head` is shared
    // memory; a scribbled u64::MAX must not panic (see `stamp`).
    head.store(pos.wrapping_add(1), Ordering::Release);
}

/// What one step of a receive found at the cursor.
#[derive(Debug)]
pub enum Next {
    /// Nothing new: the cursor names a position not yet (completely) written.
    Empty,
    /// The cursor moved past one position: its descriptor, or None when the entry was lapped or
    /// torn while read (a miss). `lapped`: positions skipped before it because the writer had
    /// overwritten them (misses too).
    Read { desc: Option<Descriptor>, lapped: u64 },
}

/// One receive step for a reader at `*cursor`: take the next position (moving the cursor past
/// it) or find nothing new. With `tail`, a long inline message's tail words are read too.
#[inline]
pub fn next<R: Entries + ?Sized>(r: &R, cursor: &mut u64, tail: &mut Tail) -> Next {
    let depth = r.depth();
    // Fast path: peek at the stamp of the entry our cursor names. It says by itself whether
    // that position is complete (deliver it), not yet written (nothing new), or something else
    // (lapped, a dead writer, a scribble: ask `head`). A spinning receiver thus polls one cache
    // line, and the message arrives with that line: no separate transfer of the `head` line on
    // the delivery path.
    let pos = *cursor;
    let e = r.entry(pos);
    // Relaxed: a peek; `read` re-loads the stamp with Acquire before using it.
    let peek = e.stamp.load(Ordering::Relaxed);
    let complete = peek != 0 && peek == stamp(pos, true);
    let mut lapped = 0;
    if !complete {
        let unwritten = if pos >= depth { peek == stamp(pos - depth, true) } else { peek == 0 };
        if unwritten || peek == stamp(pos, false) {
            return Next::Empty;
        }
        // Acquire: pairs with the writer's Release of head (`publish`).
        let head = r.head().load(Ordering::Acquire);
        // `cursor == head + 1` is normal: the fast path took an entry whose writer had not yet
        // published `head`. Beyond that, only a scribbled (or reset) head moves backwards:
        // follow it rather than wait for it to come back. Found by tests/hardening.rs (ring
        // scribbles).
        if *cursor > head.wrapping_add(1) {
            *cursor = head;
        }
        if *cursor >= head {
            return Next::Empty;
        }
        if head - *cursor > depth {
            lapped = head - *cursor - depth;
            *cursor = head - depth;
        }
    }
    let pos = *cursor;
    *cursor = pos.wrapping_add(1);
    let desc = read(if complete { e } else { r.entry(pos) }, pos, Some(tail));
    Next::Read { desc, lapped }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of the seqlock races, on the real `read` / `write` / `publish` / `next` above:
    //! depth 2, one writer lapping the ring (positions 0, 1, 2; position 2 overwrites entry 0).
    use super::*;
    use crate::descriptor::kind;
    use loom::sync::Arc;

    struct Ring {
        head: AtomicU64,
        entries: [Entry; 2],
    }
    impl Entries for Ring {
        fn entry(&self, pos: u64) -> &Entry {
            &self.entries[(pos % 2) as usize]
        }
        fn head(&self) -> &AtomicU64 {
            &self.head
        }
        fn depth(&self) -> u64 {
            2
        }
    }
    fn ring() -> Arc<Ring> {
        let entry = || Entry { stamp: AtomicU64::new(0), desc: std::array::from_fn(|_| AtomicU64::new(0)), tail: std::array::from_fn(|_| AtomicU64::new(0)) };
        Arc::new(Ring { head: AtomicU64::new(0), entries: [entry(), entry()] })
    }

    /// What the writer sends for position `pos`: even positions a long inline message (104
    /// bytes, so the reader also loads the tail), odd ones a payload descriptor (word 7 loaded).
    fn message(pos: u64) -> (Descriptor, Tail) {
        if pos % 2 == 0 {
            let mut d = Descriptor::inline(&[pos as u8 + 1; descriptor::INLINE_CAPACITY]).unwrap();
            d.aux = INLINE_MAX as u16;
            (d, [pos * 100 + 7; TAIL_WORDS])
        } else {
            let d = Descriptor { kind: kind::BYTES, sequence: pos + 1, timestamp_ns: pos * 10, shape: [pos as u32; 6], ..Default::default() };
            (d, [0; TAIL_WORDS])
        }
    }

    /// The writer half as `RingSeg::send_entry` runs it under its lock.
    fn send(r: &Ring, pos: u64) {
        let (d, tail) = message(pos);
        write(r.entry(pos), pos, &d, Some(&tail));
        publish(&r.head, pos);
    }

    /// A delivered (descriptor, tail) must be exactly what was written for `pos`.
    fn check(pos: u64, d: &Descriptor, tail: &Tail) {
        let (want, want_tail) = message(pos);
        assert_eq!(d.to_words(), want.to_words(), "position {pos} carried another position's (or a torn) descriptor");
        if pos % 2 == 0 {
            assert_eq!(tail, &want_tail, "position {pos} carried another position's tail");
        }
    }

    /// A reader that accepts position 0 or 1 while the writer laps the ring sees exactly what
    /// was written for that position, never a torn or newer entry (the stamp protocol of
    /// `read` / `write`).
    #[test]
    fn loom_ring_stamp_never_tears() {
        loom::model(|| {
            let r = ring();
            let r2 = r.clone();
            let writer = loom::thread::spawn(move || {
                for pos in 0..3u64 {
                    send(&r2, pos);
                }
            });
            for pos in 0..2u64 {
                let mut tail = [0; TAIL_WORDS];
                if let Some(d) = read(r.entry(pos), pos, Some(&mut tail)) {
                    check(pos, &d, &tail);
                }
            }
            writer.join().unwrap();
            let mut tail = [0; TAIL_WORDS];
            let d = read(r.entry(2), 2, Some(&mut tail)).expect("position 2 complete after the writer is done");
            check(2, &d, &tail);
        });
    }

    /// The receive fast path (`next`): the reader peeks at the stamp of the entry its cursor
    /// names and takes it when complete, before the writer may have published `head`;
    /// otherwise it falls back to `head`. Polling a bounded number of times, it must get
    /// positions in order, each at most once, each with its own data and tail (the
    /// `cursor == head + 1` window included) — never the tail of position 2 overwriting
    /// position 0 in the same entry.
    #[test]
    fn loom_ring_fast_path_in_order_once() {
        loom::model(|| {
            let r = ring();
            let r2 = r.clone();
            let writer = loom::thread::spawn(move || {
                for pos in 0..3u64 {
                    send(&r2, pos);
                }
            });
            let mut cursor = 0;
            let mut last: Option<u64> = None;
            let mut delivered = Vec::new();
            let mut step = |cursor: &mut u64| -> bool {
                let mut tail = [0; TAIL_WORDS];
                let Next::Read { desc, lapped } = next(&*r, cursor, &mut tail) else { return false };
                let pos = *cursor - 1;
                assert!(last.is_none_or(|l| pos > l), "position {pos} after {last:?}: repeated or out of order");
                // Only position 0 can be lapped (by position 2), and only when the reader is still at it.
                assert!(lapped == 0 || (lapped == 1 && pos == 1), "skipped {lapped} positions before {pos}: never overwritten");
                match desc {
                    Some(d) => {
                        check(pos, &d, &tail);
                        delivered.push(pos);
                    }
                    // A torn read is a miss; only position 0 can be overwritten (by 2).
                    None => assert!(pos + 2 < 3, "position {pos} lost without being overwritten"),
                }
                last = Some(pos);
                true
            };
            for _ in 0..3 {
                step(&mut cursor);
                loom::thread::yield_now();
            }
            writer.join().unwrap();
            while step(&mut cursor) {}
            assert!(delivered.ends_with(&[1, 2]), "positions 1 and 2 are never lapped, got {delivered:?}");
        });
    }
}
