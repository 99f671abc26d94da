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
//! functions run on loom's atomics. The protocol is written once, generically: [`write_with`] and
//! [`read_with`] are the stamp / fence / re-check halves around any payload stores and loads,
//! and [`next`] is the cursor logic over any [`Entries`]. The ring instantiates them with its
//! 128-byte [`Entry`] ([`write`], [`read`]); the loom models at the end of this file run the same
//! functions, once on the real `Entry` (a ring that is not lapped: every load has one store to
//! see) and once on two-word entries, where the writer laps the reader and every torn
//! combination of words is explored (with 15 racing words per entry that exploration does not
//! end: 2^15 combinations per read). The entry is a `#[repr(C)]` struct of `crate::sync`
//! atomics: with std's types it has the fixed layout of the segment (asserted below); with loom's
//! types it is larger and its layout is irrelevant, since a model builds its entries on the heap
//! and never maps a segment (the layout asserts are for the real build only). Generic over the
//! entry, not over the atomic type: the shared-memory structs stay plain `#[repr(C)]` types.
//!

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

/// A ring's entries and its `head` (next position to write; positions below it are published),
/// as the cursor logic ([`next`]) sees them.
pub trait Entries {
    /// One entry: a stamp and the words it guards.
    type Entry;
    /// What a complete read of an entry yields (the ring: its descriptor).
    type Msg;
    /// What a read fills in besides (the ring: the tail words of a long inline message).
    type Extra;
    /// The entry position `pos` maps to (`pos % depth`).
    fn entry(&self, pos: u64) -> &Self::Entry;
    /// The entry's stamp.
    fn stamp_of(e: &Self::Entry) -> &AtomicU64;
    /// Read `e` for position `pos` (a [`read_with`]): None unless complete for exactly `pos`.
    fn read(e: &Self::Entry, pos: u64, extra: &mut Self::Extra) -> Option<Self::Msg>;
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

/// Reader half of the seqlock: `load` (Relaxed loads of the words stamp `word` guards) runs only when
/// the stamp is complete for exactly `pos`, and its result counts only when the stamp is still
/// the same afterwards. None: not yet written, being written, or lapped while we read (a torn
/// read, whose result is dropped).
#[inline]
pub fn read_with<T>(word: &AtomicU64, pos: u64, load: impl FnOnce() -> T) -> Option<T> {
    // Acquire: pairs with the writer's Release stamp store; the words `load` reads are its.
    let s1 = word.load(Ordering::Acquire);
    if s1 != stamp(pos, true) {
        return None;
    }
    let v = load();
    // Acquire fence: the word loads above happen before the second stamp load.
    fence(Ordering::Acquire);
    // Relaxed: ordered after the loads by the fence.
    (word.load(Ordering::Relaxed) == s1).then_some(v)
}

/// Writer half of the seqlock (one writer at a time: the ring's lock): stamp `word` goes odd for
/// `pos`, `store` writes the words (Relaxed), the stamp goes complete.
#[inline]
pub fn write_with(word: &AtomicU64, pos: u64, store: impl FnOnce()) {
    // Relaxed + Release fence: readers that see a word of the new message see the odd stamp
    // (their re-check fails) — the seqlock write protocol.
    word.store(stamp(pos, false), Ordering::Relaxed);
    fence(Ordering::Release);
    store();
    // Release: the words happen before the complete stamp.
    word.store(stamp(pos, true), Ordering::Release);
}

/// Read entry `e`, which position `pos` maps to, if it is complete for exactly that position;
/// with `tail`, also the tail words of a long inline message (left untouched for any other
/// entry).
#[inline]
pub fn read(e: &Entry, pos: u64, tail: Option<&mut Tail>) -> Option<Descriptor> {
    read_with(&e.stamp, pos, || {
        let mut w = [0u64; 8];
        for (d, s) in w.iter_mut().zip(&e.desc[..7]) {
            // Relaxed: validated by the stamp re-check (`read_with`).
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
        Descriptor::from_words(w)
    })
}

/// Writer, under the ring's lock: write `desc` into entry `e` for position `pos`, with `tail`
/// when `desc` is an inline message longer than the descriptor holds. The entry is complete
/// when this returns; readers see it through its stamp, `head` follows with [`publish`].
#[inline]
pub fn write(e: &Entry, pos: u64, desc: &Descriptor, tail: Option<&Tail>) {
    write_with(&e.stamp, pos, || {
        for (d, s) in e.desc.iter().zip(desc.to_words()) {
            // Relaxed: ordered by `write_with`'s fence and Release stamp store.
            d.store(s, Ordering::Relaxed);
        }
        if let Some(t) = tail.filter(|_| has_tail(desc)) {
            for (d, s) in e.tail.iter().zip(t) {
                // Relaxed: as above.
                d.store(*s, Ordering::Relaxed);
            }
        }
    })
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
pub enum Next<M> {
    /// Nothing new: the cursor names a position not yet (completely) written.
    Empty,
    /// The cursor moved past one position: its descriptor, or None when the entry was lapped or
    /// torn while read (a miss). `lapped`: positions skipped before it because the writer had
    /// overwritten them (misses too).
    Read { desc: Option<M>, lapped: u64 },
}

/// One receive step for a reader at `*cursor`: take the next position (moving the cursor past
/// it) or find nothing new. `extra` is filled as [`Entries::read`] does (the ring: the tail).
#[inline]
pub fn next<R: Entries + ?Sized>(r: &R, cursor: &mut u64, extra: &mut R::Extra) -> Next<R::Msg> {
    let depth = r.depth();
    // Fast path: peek at the stamp of the entry our cursor names. It says by itself whether
    // that position is complete (deliver it), not yet written (nothing new), or something else
    // (lapped, a dead writer, a scribble: ask `head`). A spinning receiver thus polls one cache
    // line, and the message arrives with that line: no separate transfer of the `head` line on
    // the delivery path.
    let pos = *cursor;
    let e = r.entry(pos);
    // Relaxed: a peek; `read_with` re-loads the stamp with Acquire before using it.
    let peek = R::stamp_of(e).load(Ordering::Relaxed);
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
    let desc = R::read(if complete { e } else { r.entry(pos) }, pos, extra);
    Next::Read { desc, lapped }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of the seqlock races on the functions above: `write_with` / `read_with` (the stamp
    //! protocol), `publish` and `next` (the cursor), depth 2, one writer lapping the ring
    //! (positions 0, 1, 2; position 2 overwrites entry 0) — on two-word entries, so every torn
    //! combination is explored; and the whole `write` / `read` / `next` on the real `Entry`.
    use super::*;
    use crate::descriptor::kind;
    use loom::sync::Arc;

    /// A two-word entry: a data word (low bit set: a "long" message) and a tail word that the
    /// reader loads only when the data word it read says so, as `read` loads the tail only for
    /// a long inline message.
    struct Small {
        stamp: AtomicU64,
        word: AtomicU64,
        tail: AtomicU64,
    }
    struct SmallRing {
        head: AtomicU64,
        entries: [Small; 2],
    }
    impl Entries for SmallRing {
        type Entry = Small;
        type Msg = (u64, u64);
        type Extra = ();
        fn entry(&self, pos: u64) -> &Small {
            &self.entries[(pos % 2) as usize]
        }
        fn stamp_of(e: &Small) -> &AtomicU64 {
            &e.stamp
        }
        fn read(e: &Small, pos: u64, _: &mut ()) -> Option<(u64, u64)> {
            read_with(&e.stamp, pos, || {
                let w = e.word.load(Ordering::Relaxed);
                let t = if w % 2 == 1 { e.tail.load(Ordering::Relaxed) } else { 0 };
                (w, t)
            })
        }
        fn head(&self) -> &AtomicU64 {
            &self.head
        }
        fn depth(&self) -> u64 {
            2
        }
    }
    fn small_ring() -> Arc<SmallRing> {
        let e = || Small { stamp: AtomicU64::new(0), word: AtomicU64::new(0), tail: AtomicU64::new(0) };
        Arc::new(SmallRing { head: AtomicU64::new(0), entries: [e(), e()] })
    }
    /// Even positions are long (with a tail word), odd ones short.
    fn small_send(r: &SmallRing, pos: u64) {
        let e = r.entry(pos);
        let long = pos % 2 == 0;
        write_with(&e.stamp, pos, || {
            e.word.store(pos * 10 + long as u64, Ordering::Relaxed);
            if long {
                e.tail.store(pos * 100 + 7, Ordering::Relaxed);
            }
        });
        publish(&r.head, pos);
    }
    fn small_check(pos: u64, (w, t): (u64, u64)) {
        let long = pos % 2 == 0;
        assert_eq!(w, pos * 10 + long as u64, "position {pos} carried another position's (or a torn) word");
        if long {
            assert_eq!(t, pos * 100 + 7, "position {pos} carried another position's tail");
        }
    }

    /// A reader that accepts position 0 or 1 while the writer laps the ring sees exactly what
    /// was written for that position, never a torn or newer entry (`read_with` / `write_with`).
    #[test]
    fn loom_ring_stamp_never_tears() {
        loom::model(|| {
            let r = small_ring();
            let r2 = r.clone();
            let writer = loom::thread::spawn(move || {
                for pos in 0..3u64 {
                    small_send(&r2, pos);
                }
            });
            for pos in 0..2u64 {
                if let Some(m) = SmallRing::read(r.entry(pos), pos, &mut ()) {
                    small_check(pos, m);
                }
            }
            writer.join().unwrap();
            small_check(2, SmallRing::read(r.entry(2), 2, &mut ()).expect("position 2 complete once the writer is done"));
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
            let r = small_ring();
            let r2 = r.clone();
            let writer = loom::thread::spawn(move || {
                for pos in 0..3u64 {
                    small_send(&r2, pos);
                }
            });
            let mut cursor = 0;
            let mut last: Option<u64> = None;
            let mut delivered = Vec::new();
            let mut step = |cursor: &mut u64| -> bool {
                let Next::Read { desc, lapped } = next(&*r, cursor, &mut ()) else { return false };
                let pos = *cursor - 1;
                assert!(last.is_none_or(|l| pos > l), "position {pos} after {last:?}: repeated or out of order");
                // Only position 0 can be lapped (by position 2), and only when the reader is still at it.
                assert!(lapped == 0 || (lapped == 1 && pos == 1), "skipped {lapped} positions before {pos}: never overwritten");
                match desc {
                    Some(m) => {
                        small_check(pos, m);
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

    /// The real entry: two positions into depth 2 (no lapping), a long inline message (the reader
    /// also loads the tail) and a payload descriptor (word 7 loaded), received through `next` as
    /// `RingSeg::try_recv` does. Whatever the interleaving, each arrives once, in order, whole.
    #[test]
    fn loom_ring_entry_whole_message() {
        struct Ring {
            head: AtomicU64,
            entries: [Entry; 2],
        }
        impl Entries for Ring {
            type Entry = Entry;
            type Msg = Descriptor;
            type Extra = Tail;
            fn entry(&self, pos: u64) -> &Entry {
                &self.entries[(pos % 2) as usize]
            }
            fn stamp_of(e: &Entry) -> &AtomicU64 {
                &e.stamp
            }
            fn read(e: &Entry, pos: u64, tail: &mut Tail) -> Option<Descriptor> {
                read(e, pos, Some(tail))
            }
            fn head(&self) -> &AtomicU64 {
                &self.head
            }
            fn depth(&self) -> u64 {
                2
            }
        }
        fn message(pos: u64) -> (Descriptor, Tail) {
            if pos == 0 {
                let mut d = Descriptor::inline(&[9; descriptor::INLINE_CAPACITY]).unwrap();
                d.aux = INLINE_MAX as u16;
                (d, [7; TAIL_WORDS])
            } else {
                (Descriptor { kind: kind::BYTES, sequence: 2, timestamp_ns: 10, shape: [3; 6], ..Default::default() }, [0; TAIL_WORDS])
            }
        }
        loom::model(|| {
            let entry = || Entry { stamp: AtomicU64::new(0), desc: std::array::from_fn(|_| AtomicU64::new(0)), tail: std::array::from_fn(|_| AtomicU64::new(0)) };
            let r = Arc::new(Ring { head: AtomicU64::new(0), entries: [entry(), entry()] });
            let r2 = r.clone();
            let writer = loom::thread::spawn(move || {
                for pos in 0..2u64 {
                    let (d, tail) = message(pos);
                    write(r2.entry(pos), pos, &d, Some(&tail));
                    publish(&r2.head, pos);
                }
            });
            let mut cursor = 0;
            let mut got = Vec::new();
            let mut step = |cursor: &mut u64| {
                let mut tail = [0; TAIL_WORDS];
                if let Next::Read { desc, lapped } = next(&*r, cursor, &mut tail) {
                    let pos = *cursor - 1;
                    assert_eq!(lapped, 0, "nothing is lapped");
                    let d = desc.unwrap_or_else(|| panic!("position {pos} torn without being overwritten"));
                    let (want, want_tail) = message(pos);
                    assert_eq!(d.to_words(), want.to_words(), "position {pos} arrived torn");
                    if pos == 0 {
                        assert_eq!(tail, want_tail, "position 0's tail arrived torn");
                    }
                    got.push(pos);
                }
            };
            step(&mut cursor);
            writer.join().unwrap();
            step(&mut cursor);
            step(&mut cursor);
            assert_eq!(got, [0, 1]);
        });
    }
}
