//! The slot state word: one `u64` per slot that makes every hold crash-atomic.
//!
//! ```text
//!  63       58 57 56 55                                   0
//! +-----------+-----+--------------------------------------+
//! |  tag (6)  |state|        holders bitmap (56 bits)      |
//! +-----------+-----+--------------------------------------+
//! state: 0 FREE, 1 WRITING (one writer holds it), 2 READY (frozen, readers hold it)
//! tag:   low 6 bits of the slot generation, so a stale reader usually fails its CAS at once;
//!        the full 32-bit generation in the slot header is checked after the hold is taken.
//! holders: bit i set = holder i of the namespace registry (a process, or a topic ring)
//!          keeps at least one reference. Per-process counts live in that process's memory.
//! ```
//!
//! Every transition is one compare-and-swap, so a process killed at any instruction leaves the
//! word either before or after its change, never between: the reaper only has to clear the dead
//! holder's bit in every slot. The holder whose CAS clears the last bit also moves the slot to
//! FREE in that same CAS; FREE slots *are* the free list (claimers scan for them), so there is
//! no second step that a crash could skip.
//!
//! State machine: FREE --claim--> WRITING --freeze--> READY --last release--> FREE;
//! WRITING --release (abandoned write)--> FREE.

use crate::sync::{AtomicU64, Ordering};

pub const HOLDER_BITS: u32 = 56;
pub const HOLDERS_MASK: u64 = (1 << HOLDER_BITS) - 1;
pub const STATE_SHIFT: u32 = 56;
pub const TAG_SHIFT: u32 = 58;
pub const TAG_MASK: u64 = 0x3f;

pub const FREE: u64 = 0;
pub const WRITING: u64 = 1;
pub const READY: u64 = 2;

#[inline]
pub fn state(w: u64) -> u64 {
    (w >> STATE_SHIFT) & 0x3
}
#[inline]
pub fn tag(w: u64) -> u64 {
    w >> TAG_SHIFT
}
#[inline]
pub fn holders(w: u64) -> u64 {
    w & HOLDERS_MASK
}
#[inline]
pub fn make(state: u64, tag: u64, holders: u64) -> u64 {
    ((tag & TAG_MASK) << TAG_SHIFT) | (state << STATE_SHIFT) | (holders & HOLDERS_MASK)
}
#[inline]
pub fn tag_of(generation: u32) -> u64 {
    generation as u64 & TAG_MASK
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
    // AcqRel on success: Acquire pairs with the Release of the last holder's release, so the
    // previous readers' accesses happen before our writes; Release is harmless here.
    w.compare_exchange(cur, make(WRITING, tag, 1 << holder), Ordering::AcqRel, Ordering::Relaxed).is_ok()
}

/// Replace the tag of a WRITING slot; only its writer calls this, right after `try_claim` when
/// the tag it guessed turned out stale (see `Pool::try_claim`). Relaxed: no one can take a hold
/// on a WRITING slot, and `freeze`'s Release publishes the new tag with the payload.
#[inline]
pub fn retag(w: &AtomicU64, tag_new: u64) {
    let mut cur = w.load(Ordering::Relaxed);
    while state(cur) == WRITING {
        let new = make(WRITING, tag_new, holders(cur));
        match w.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => cur = actual,
        }
    }
}

/// WRITING -> READY, keeping the holders. Release: publishes the payload written under the lease
/// to every reader whose CAS later acquires this word.
#[inline]
pub fn freeze(w: &AtomicU64) -> bool {
    let mut cur = w.load(Ordering::Relaxed);
    loop {
        if state(cur) != WRITING {
            return state(cur) == READY;
        }
        let new = make(READY, tag(cur), holders(cur));
        match w.compare_exchange_weak(cur, new, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(actual) => cur = actual,
        }
    }
}

/// Add `holder` to a READY slot whose tag is `tag` and that somebody still holds.
/// Acquire on success pairs with `freeze`'s Release: the payload is visible afterwards.
#[inline]
pub fn add_holder(w: &AtomicU64, holder: u32, tag_expected: u64) -> Result<(), HoldFail> {
    let bit = 1u64 << holder;
    // Acquire: if the bit is already set we still need the payload's visibility.
    let mut cur = w.load(Ordering::Acquire);
    loop {
        if state(cur) != READY || tag(cur) != tag_expected || holders(cur) == 0 {
            return Err(HoldFail::Stale);
        }
        if cur & bit != 0 {
            return Ok(());
        }
        match w.compare_exchange_weak(cur, cur | bit, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(()),
            Err(actual) => cur = actual,
        }
    }
}

/// Result of removing a holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// The bit was not set (already released, e.g. by a reaper).
    NotHeld,
    /// Others still hold the slot.
    Kept,
    /// This was the last holder: the slot is FREE now.
    Freed,
}

/// Remove `holder`; the last one moves the slot to FREE in the same CAS.
/// AcqRel: Release orders our reads of the payload before a later claimer's writes (which
/// Acquire this word in `try_claim`); Acquire orders other holders' accesses before the free.
#[inline]
pub fn remove_holder(w: &AtomicU64, holder: u32) -> Removed {
    let bit = 1u64 << holder;
    let mut cur = w.load(Ordering::Relaxed);
    loop {
        if cur & bit == 0 || state(cur) == FREE {
            return Removed::NotHeld;
        }
        let rest = holders(cur) & !bit;
        let new = if rest == 0 { make(FREE, tag(cur), 0) } else { cur & !bit };
        match w.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return if rest == 0 { Removed::Freed } else { Removed::Kept },
            Err(actual) => cur = actual,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn word_layout_round_trips() {
        let w = make(READY, 63, HOLDERS_MASK);
        assert_eq!(state(w), READY);
        assert_eq!(tag(w), 63);
        assert_eq!(holders(w), HOLDERS_MASK);
    }

    #[test]
    fn claim_freeze_share_release_cycle() {
        let w = AtomicU64::new(0);
        assert!(try_claim(&w, 3, 5));
        assert!(!try_claim(&w, 4, 5), "a WRITING slot cannot be claimed again");
        assert_eq!(add_holder(&w, 4, 5), Err(HoldFail::Stale), "no reader before freeze");
        assert!(freeze(&w));
        assert_eq!(add_holder(&w, 4, 6), Err(HoldFail::Stale), "wrong tag");
        assert_eq!(add_holder(&w, 4, 5), Ok(()));
        assert_eq!(remove_holder(&w, 3), Removed::Kept);
        assert_eq!(remove_holder(&w, 3), Removed::NotHeld);
        assert_eq!(remove_holder(&w, 4), Removed::Freed);
        assert_eq!(state(w.load(Ordering::Relaxed)), FREE);
        assert_eq!(add_holder(&w, 4, 5), Err(HoldFail::Stale), "free slot is stale");
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Two readers release concurrently while a claimer scans: the slot is freed exactly once
    /// and claimed only after both released.
    #[test]
    fn loom_release_race_frees_once() {
        loom::model(|| {
            let w = Arc::new(AtomicU64::new(make(READY, 1, 0b11)));
            let frees = Arc::new(AtomicU64::new(0));
            let hs: Vec<_> = (0..2u32)
                .map(|h| {
                    let (w, frees) = (w.clone(), frees.clone());
                    loom::thread::spawn(move || {
                        if remove_holder(&w, h) == Removed::Freed {
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
            if claimed {
                assert_eq!(state(end), WRITING);
            } else {
                assert_eq!(state(end), FREE);
            }
        });
    }

    /// A reader racing the last release either gets its hold (and the slot stays READY) or
    /// fails as stale; it never holds a FREE slot.
    #[test]
    fn loom_acquire_vs_last_release() {
        loom::model(|| {
            let w = Arc::new(AtomicU64::new(make(READY, 1, 0b1)));
            let w2 = w.clone();
            let t = loom::thread::spawn(move || remove_holder(&w2, 0));
            let got = add_holder(&w, 1, 1).is_ok();
            let r = t.join().unwrap();
            let end = w.load(Ordering::Relaxed);
            if got {
                assert_eq!(r, Removed::Kept);
                assert_eq!(state(end), READY);
                assert_eq!(holders(end), 0b10);
            } else {
                assert_eq!(r, Removed::Freed);
                assert_eq!(state(end), FREE);
            }
        });
    }
    // The ring's seqlock models (stamps that never tear, the receive fast path) run the real
    // code in `ring/seqlock.rs`, next to it.
}
