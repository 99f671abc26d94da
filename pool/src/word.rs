//! The slot state word and the slot's holder set: what makes every hold crash-atomic.
//!
//! ```text
//!  63       58 57 56 55                         16 15             0
//! +-----------+-----+-----------------------------+----------------+
//! |  tag (6)  |state|         round (40)          | writer + 1 (16)|
//! +-----------+-----+-----------------------------+----------------+
//! state:  0 FREE, 1 WRITING (one writer holds it), 2 READY (frozen, readers hold it),
//!         3 CLOSING (READY whose holder set was seen empty: being freed or reopened)
//! tag:    low 6 bits of the slot generation, so a stale reader usually fails at once; the full
//!         32-bit generation in the slot header is checked after the hold is taken.
//! round:  bumped on every entry into CLOSING, so a decision taken in one round can never be
//!         applied to a later one (no ABA).
//! writer: holder index + 1 of the writer while WRITING, else 0.
//! ```
//!
//! Who holds a READY slot is not in the word but in the slot's holder set (`holders.rs`): one
//! bit per holder of the namespace (1,024), set and cleared with one atomic operation each. A
//! process killed at any instruction leaves its bit set or clear, never half of a change, and
//! the reaper clears the bits of the dead. The writer's hold of a WRITING slot is the word's
//! `writer` field; freezing moves it to the set (bit first, then WRITING -> READY).
//!
//! Freeing is the step a bitmap in the word used to do in the same CAS as the last release; a
//! holder set of 16 words cannot be cleared and tested in one step, so the holder that empties
//! the set closes the slot in a second protocol, which anybody can finish:
//!
//! ```text
//! acquire:  A1 set own bit          A2 load word: READY(tag) -> held; CLOSING -> help, reload;
//!                                      anything else -> clear own bit (stale)
//! release:  R1 clear own bit        R2 scan: empty -> close
//! close:    C1 READY(r) -> CLOSING(r+1)   C2 scan   C3 empty: CLOSING -> FREE
//!                                                   else:  CLOSING -> READY, scan again, and
//!                                                          close once more if now empty
//! ```
//!
//! Every step is SeqCst (one total order S). No acquirer ends up holding a FREE slot: an
//! acquirer whose A2 sees READY has its A1 before that load, before the closer's C1 (A2 read the
//! word before C1 changed it), before the closer's C2, so C2 sees the bit and the slot reopens.
//! An acquirer whose A2 sees CLOSING resolves the round itself (C2, C3 on that round's word)
//! and reloads: either its bit was seen and the slot is READY again, or the round closed it and
//! the acquirer backs off. No empty READY slot is left behind by a live process: a releaser
//! that finds the slot CLOSING helps resolve it; a round that reopens rescans after its CAS,
//! which follows every clear whose releaser saw CLOSING, and closes again if the set emptied.
//! A process killed between R1 and C3 leaves an empty READY or a CLOSING slot; the reaper's
//! sweep, which runs because that process is dead, closes it. Rounds make every CAS of a
//! helper fail once another helper has decided the round.
//!
//! State machine: FREE --claim--> WRITING --freeze--> READY --last release--> CLOSING --> FREE;
//! CLOSING --> READY (a holder came); WRITING --abandoned write or dead writer--> FREE.

use crate::holders;
use crate::sync::{sc_point, AtomicU64, Ordering};

pub const STATE_SHIFT: u32 = 56;
pub const TAG_SHIFT: u32 = 58;
pub const TAG_MASK: u64 = 0x3f;
const ROUND_SHIFT: u32 = 16;
const ROUND_MASK: u64 = (1 << 40) - 1;
const WRITER_MASK: u64 = 0xffff;

pub const FREE: u64 = 0;
pub const WRITING: u64 = 1;
pub const READY: u64 = 2;
pub const CLOSING: u64 = 3;

#[inline]
pub fn state(w: u64) -> u64 {
    (w >> STATE_SHIFT) & 0x3
}
#[inline]
pub fn tag(w: u64) -> u64 {
    w >> TAG_SHIFT
}
#[inline]
pub fn round(w: u64) -> u64 {
    (w >> ROUND_SHIFT) & ROUND_MASK
}
/// The writer's holder index of a WRITING slot.
#[inline]
pub fn writer(w: u64) -> Option<u32> {
    match w & WRITER_MASK {
        0 => None,
        n => Some(n as u32 - 1),
    }
}
#[inline]
pub fn make(state: u64, tag: u64, round: u64, writer: Option<u32>) -> u64 {
    let wr = writer.map_or(0, |h| (h as u64 + 1) & WRITER_MASK);
    ((tag & TAG_MASK) << TAG_SHIFT) | (state << STATE_SHIFT) | ((round & ROUND_MASK) << ROUND_SHIFT) | wr
}
#[inline]
pub fn tag_of(generation: u32) -> u64 {
    generation as u64 & TAG_MASK
}
/// States in which the slot's frame is readable by its holders (CLOSING may reopen).
#[inline]
pub fn is_frozen(w: u64) -> bool {
    matches!(state(w), READY | CLOSING)
}

/// Why a hold could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldFail {
    /// The slot is free, being written, or carries another generation.
    Stale,
}

/// Claim a FREE slot for `holder` as its writer with generation tag `tag`.
/// Returns false if the slot is not free (someone else has it).
#[inline]
pub fn try_claim(w: &AtomicU64, holder: u32, tag: u64) -> bool {
    // Relaxed: the CAS below re-reads the value; this load only filters busy slots cheaply.
    let cur = w.load(Ordering::Relaxed);
    if state(cur) != FREE {
        return false;
    }
    // AcqRel on success: Acquire pairs with the Release of the CAS that freed it, so the
    // previous holders' accesses happen before our writes; Release is harmless here.
    w.compare_exchange(cur, make(WRITING, tag, round(cur), Some(holder)), Ordering::AcqRel, Ordering::Relaxed).is_ok()
}

/// Replace the tag of a WRITING slot; only its writer calls this, right after `try_claim` when
/// the tag it guessed turned out stale (see `Pool::try_claim`). Relaxed: no one can take a hold
/// on a WRITING slot, and `freeze`'s Release publishes the new tag with the payload.
#[inline]
pub fn retag(w: &AtomicU64, tag_new: u64) {
    let mut cur = w.load(Ordering::Relaxed);
    while state(cur) == WRITING {
        let new = make(WRITING, tag_new, round(cur), writer(cur));
        match w.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => cur = actual,
        }
    }
}

/// WRITING -> READY: the writer `holder` moves its hold into the holder set (bit first, so the
/// slot is never READY without it), then publishes. Release (SeqCst): the payload written under
/// the lease happens before every reader's acquire of this word.
#[inline]
pub fn freeze(w: &AtomicU64, set: &[AtomicU64], holder: u32) -> bool {
    holders::insert(set, holder);
    let mut cur = w.load(Ordering::Relaxed);
    loop {
        if state(cur) != WRITING {
            return is_frozen(cur);
        }
        let new = make(READY, tag(cur), round(cur), None);
        // SeqCst: Release for the payload; in S with the holder-set protocol (module docs).
        match w.compare_exchange_weak(cur, new, Ordering::SeqCst, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(actual) => cur = actual,
        }
    }
}

/// What a hold change did to the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// The holder did not hold it (already released, e.g. by a reaper).
    NotHeld,
    /// Others still hold the slot.
    Kept,
    /// This call freed the slot (it is FREE now).
    Freed,
}

/// Add `holder` to a frozen slot whose tag is `tag_expected`. `Ok(freed)`: held; `Err((Stale,
/// freed))`: not held. `freed` is true when this call, helping a close, freed the slot (the
/// pool then wakes claimers waiting for one). Acquire (SeqCst) on success pairs with
/// `freeze`'s Release: the payload is visible afterwards.
#[inline]
pub fn add_holder(w: &AtomicU64, set: &[AtomicU64], holder: u32, tag_expected: u64) -> Result<bool, (HoldFail, bool)> {
    // Acquire: a cheap filter before we touch the set (and visibility if the bit is ours).
    let cur = w.load(Ordering::Acquire);
    if !is_frozen(cur) || tag(cur) != tag_expected {
        return Err((HoldFail::Stale, false));
    }
    if holders::insert(set, holder) {
        // Our bit was set already (a topic re-sending a frame): the slot cannot be freed while
        // it is, so it is still this frame.
        return Ok(false);
    }
    let mut freed = false;
    loop {
        // SeqCst: A2 of the protocol.
        let cur = w.load(Ordering::SeqCst);
        match state(cur) {
            READY if tag(cur) == tag_expected => return Ok(freed),
            CLOSING if tag(cur) == tag_expected => freed |= resolve_closing(w, set, cur),
            _ => {
                // Not this frame: take our bit back, closing the slot if it was the last one.
                freed |= drop_bit(w, set, holder);
                return Err((HoldFail::Stale, freed));
            }
        }
    }
}

/// Remove `holder`'s hold: the writer's hold of a WRITING slot it abandons (straight to FREE),
/// or its bit in the holder set, closing the slot if the set is then empty.
#[inline]
pub fn remove_holder(w: &AtomicU64, set: &[AtomicU64], holder: u32) -> Removed {
    // Relaxed: the CAS below decides.
    let cur = w.load(Ordering::Relaxed);
    if state(cur) == WRITING && writer(cur) == Some(holder) {
        return if abandon(w, holder) { Removed::Freed } else { Removed::NotHeld };
    }
    match holders::remove(set, holder) {
        holders::Removal::Absent => Removed::NotHeld,
        holders::Removal::Others => Removed::Kept,
        holders::Removal::Emptied => {
            if close_scanned(w, set) {
                Removed::Freed
            } else {
                Removed::Kept
            }
        }
    }
}

/// WRITING (written by `holder`) -> FREE: an abandoned write, or a dead writer's (the reaper).
/// A writer that died after setting its bit in `freeze` has it cleared by the caller first.
pub fn abandon(w: &AtomicU64, holder: u32) -> bool {
    let mut cur = w.load(Ordering::Relaxed);
    while state(cur) == WRITING && writer(cur) == Some(holder) {
        // AcqRel: Release orders the writer's accesses before the next claimer's (which
        // Acquires this word); the new word keeps the tag and round.
        match w.compare_exchange_weak(cur, make(FREE, tag(cur), round(cur), None), Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(actual) => cur = actual,
        }
    }
    false
}

/// Clear `holder`'s bit (set by a failed acquire or held by a dead holder); close the slot if
/// that emptied its set. True if this call freed it.
#[inline]
pub fn drop_bit(w: &AtomicU64, set: &[AtomicU64], holder: u32) -> bool {
    holders::remove(set, holder) == holders::Removal::Emptied && close_scanned(w, set)
}

/// The holder set was seen empty: close the slot (C1..C3), or help the close in progress.
/// True if this call moved the slot to FREE.
pub fn close(w: &AtomicU64, set: &[AtomicU64]) -> bool {
    holders::is_empty(set) && close_scanned(w, set)
}

/// [`close`] right after a scan that found the set empty (the releaser's R2): C1 needs no
/// scan of its own first, since C2 scans after it anyway.
fn close_scanned(w: &AtomicU64, set: &[AtomicU64]) -> bool {
    loop {
        // SeqCst: in S with the acquirers' A2 (module docs).
        let cur = w.load(Ordering::SeqCst);
        match state(cur) {
            READY => {
                let closing = make(CLOSING, tag(cur), round(cur) + 1, None);
                // SeqCst: C1.
                if w.compare_exchange(cur, closing, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
                    sc_point();
                    return resolve_closing(w, set, closing);
                }
            }
            CLOSING => return resolve_closing(w, set, cur),
            _ => return false,
        }
    }
}

/// Decide the CLOSING round `closing` (the word as seen): FREE if the set is empty, else
/// READY, then rescan and close again if it emptied meanwhile. Anybody may call it; a CAS
/// that fails means someone else decided the round. True if this call freed the slot.
pub fn resolve_closing(w: &AtomicU64, set: &[AtomicU64], mut closing: u64) -> bool {
    loop {
        // SeqCst: C2, after C1 in S.
        if holders::is_empty(set) {
            // SeqCst: C3. AcqRel semantics included: the holders' reads happen before the
            // next claimer's writes (it Acquires this word).
            return w.compare_exchange(closing, make(FREE, tag(closing), round(closing), None), Ordering::SeqCst, Ordering::Relaxed).is_ok();
        }
        let ready = make(READY, tag(closing), round(closing), None);
        // SeqCst: reopen.
        if w.compare_exchange(closing, ready, Ordering::SeqCst, Ordering::Relaxed).is_err() {
            return false;
        }
        sc_point();
        // A holder that released while we were CLOSING left the close to us: rescan.
        if !holders::is_empty(set) {
            return false;
        }
        let again = make(CLOSING, tag(ready), round(ready) + 1, None);
        // SeqCst: C1 of the next round; failing means someone else changed the word (and
        // then decides it).
        if w.compare_exchange(ready, again, Ordering::SeqCst, Ordering::Relaxed).is_err() {
            return false;
        }
        sc_point();
        closing = again;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn set() -> Vec<AtomicU64> {
        (0..holders::HOLDER_WORDS).map(|_| AtomicU64::new(0)).collect()
    }

    #[test]
    fn word_layout_round_trips() {
        let w = make(CLOSING, 63, ROUND_MASK, Some(1022));
        assert_eq!(state(w), CLOSING);
        assert_eq!(tag(w), 63);
        assert_eq!(round(w), ROUND_MASK);
        assert_eq!(writer(w), Some(1022));
        assert_eq!(writer(make(READY, 1, 1, None)), None);
    }

    #[test]
    fn claim_freeze_share_release_cycle() {
        let (w, s) = (AtomicU64::new(0), set());
        assert!(try_claim(&w, 3, 5));
        assert!(!try_claim(&w, 4, 5), "a WRITING slot cannot be claimed again");
        assert_eq!(add_holder(&w, &s, 4, 5), Err((HoldFail::Stale, false)), "no reader before freeze");
        assert!(holders::is_empty(&s), "a failed acquire leaves no bit");
        assert!(freeze(&w, &s, 3));
        assert_eq!(add_holder(&w, &s, 900, 6), Err((HoldFail::Stale, false)), "wrong tag");
        assert_eq!(add_holder(&w, &s, 900, 5), Ok(false));
        assert_eq!(remove_holder(&w, &s, 3), Removed::Kept);
        assert_eq!(remove_holder(&w, &s, 3), Removed::NotHeld);
        assert_eq!(remove_holder(&w, &s, 900), Removed::Freed);
        assert_eq!(state(w.load(Ordering::Relaxed)), FREE);
        assert_eq!(round(w.load(Ordering::Relaxed)), 1, "one close round");
        assert_eq!(add_holder(&w, &s, 4, 5), Err((HoldFail::Stale, false)), "free slot is stale");
    }

    #[test]
    fn abandoned_write_and_dead_closer() {
        let (w, s) = (AtomicU64::new(0), set());
        assert!(try_claim(&w, 7, 1));
        assert_eq!(remove_holder(&w, &s, 8), Removed::NotHeld, "only the writer abandons");
        assert_eq!(remove_holder(&w, &s, 7), Removed::Freed);
        // A closer killed after C1: the slot is CLOSING with an empty set. An acquirer of the
        // same frame resolves the round: its own bit is in the set, so the slot reopens.
        assert!(try_claim(&w, 7, 2));
        assert!(freeze(&w, &s, 7));
        holders::remove(&s, 7);
        let cur = w.load(Ordering::Relaxed);
        w.store(make(CLOSING, tag(cur), round(cur) + 1, None), Ordering::Relaxed);
        assert_eq!(add_holder(&w, &s, 9, 2), Ok(false));
        assert_eq!(state(w.load(Ordering::Relaxed)), READY);
        assert_eq!(remove_holder(&w, &s, 9), Removed::Freed);
        assert!(holders::is_empty(&s));
        // The same with a stale acquirer (another frame's tag): it never touches the set, and
        // the reaper's `close` frees the slot.
        assert!(try_claim(&w, 7, 2));
        assert!(freeze(&w, &s, 7));
        holders::remove(&s, 7);
        let cur = w.load(Ordering::Relaxed);
        w.store(make(CLOSING, tag(cur), round(cur) + 1, None), Ordering::Relaxed);
        assert_eq!(add_holder(&w, &s, 9, 3), Err((HoldFail::Stale, false)));
        assert!(close(&w, &s));
        assert_eq!(state(w.load(Ordering::Relaxed)), FREE);
        // A READY slot left empty by a releaser killed before closing: `close` frees it.
        assert!(try_claim(&w, 7, 3));
        assert!(freeze(&w, &s, 7));
        holders::remove(&s, 7);
        assert!(close(&w, &s));
        assert!(!close(&w, &s), "closing twice frees once");
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Two words are enough to make "empty" a multi-word question (holders 0 and 64).
    fn set_with(bits: &[u32]) -> Arc<Vec<AtomicU64>> {
        let s: Vec<AtomicU64> = (0..2).map(|_| AtomicU64::new(0)).collect();
        for &h in bits {
            holders::insert(&s, h);
        }
        Arc::new(s)
    }

    /// Two holders in different words release concurrently while a claimer scans: the slot is
    /// freed exactly once and claimed only after both released.
    #[test]
    fn loom_release_race_frees_once() {
        loom::model(|| {
            let w = Arc::new(AtomicU64::new(make(READY, 1, 0, None)));
            let s = set_with(&[0, 64]);
            let frees = Arc::new(AtomicU64::new(0));
            let hs: Vec<_> = [0u32, 64]
                .into_iter()
                .map(|h| {
                    let (w, s, frees) = (w.clone(), s.clone(), frees.clone());
                    loom::thread::spawn(move || {
                        if remove_holder(&w, &s, h) == Removed::Freed {
                            frees.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            let claimed = try_claim(&w, 2, 2);
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(frees.load(Ordering::Relaxed), 1);
            let end = w.load(Ordering::Relaxed);
            assert_eq!(state(end), if claimed { WRITING } else { FREE });
        });
    }

    /// A reader racing the last release either gets its hold (the slot stays READY with its
    /// bit) or fails as stale with the slot FREE; it never holds a FREE slot, and nothing leaks.
    #[test]
    fn loom_acquire_vs_last_release() {
        loom::model(|| {
            let w = Arc::new(AtomicU64::new(make(READY, 1, 0, None)));
            let s = set_with(&[0]);
            let (w2, s2) = (w.clone(), s.clone());
            let t = loom::thread::spawn(move || remove_holder(&w2, &s2, 0));
            let got = add_holder(&w, &s, 64, 1);
            let r = t.join().unwrap();
            let end = w.load(Ordering::Relaxed);
            match got {
                Ok(_) => {
                    assert_eq!(state(end), READY);
                    assert!(holders::contains(&s, 64) && !holders::contains(&s, 0));
                    assert_ne!(r, Removed::NotHeld);
                }
                Err((_, freed)) => {
                    assert_eq!(state(end), FREE);
                    assert!(holders::is_empty(&s));
                    assert!(freed || r == Removed::Freed);
                }
            }
        });
    }

    /// A closer killed after C1 (slot CLOSING, set empty): an acquirer and a reaper's `close`
    /// race to resolve it. The slot is freed exactly once, or the acquirer holds it READY.
    #[test]
    fn loom_acquire_and_reaper_resolve_a_dead_close() {
        loom::model(|| {
            let w = Arc::new(AtomicU64::new(make(CLOSING, 1, 1, None)));
            let s = set_with(&[]);
            let (w2, s2) = (w.clone(), s.clone());
            let t = loom::thread::spawn(move || close(&w2, &s2));
            let got = add_holder(&w, &s, 64, 1);
            let reaper_freed = t.join().unwrap();
            let end = w.load(Ordering::Relaxed);
            match got {
                Ok(freed) => {
                    assert!(!freed && !reaper_freed);
                    assert_eq!(state(end), READY);
                    assert!(holders::contains(&s, 64));
                }
                Err((_, freed)) => {
                    assert!(freed ^ reaper_freed, "freed exactly once");
                    assert_eq!(state(end), FREE);
                    assert!(holders::is_empty(&s));
                }
            }
        });
    }
    // The ring's seqlock models (stamps that never tear, the receive fast path) run the real
    // code in `ring/seqlock.rs`, next to it.
}
