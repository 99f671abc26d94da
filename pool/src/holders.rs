//! Holder sets: one bit per holder of the namespace (a process or a payload topic), for every
//! structure that records *who* holds something — a slot's holders (`pool.rs`, `word.rs`) and a
//! topic's openers and publishers (`ring/`).
//!
//! A set is [`HOLDER_WORDS`] atomic words; holder `h` is bit `h % 64` of word `h / 64`. Adding
//! or removing a holder is one atomic read-modify-write of one word, so a process killed at any
//! instruction leaves its bit either set or clear: the reaper clears the bits of the dead, and
//! nothing else about a holder lives anywhere that a crash could leave half-written.
//!
//! "Is the set empty?" spans several words, so it is not one atomic step. Every bit operation
//! and every scan is SeqCst, which gives one total order S over them: the remover whose clear
//! comes last in S sees every other clear in its scan (its loads follow its clear in S), so at
//! least one remover of the last holders observes the empty set. Callers that act on emptiness
//! re-check under their own exclusion (the topic lock, the slot's CLOSING state in `word.rs`).
//!
//! Memory: 128 bytes per set for [`MAX_HOLDERS`] = 1,024 holders.

use crate::sync::{sc_point, AtomicU64, Ordering};

/// Holders per namespace: processes plus topic rings that carry payloads.
pub const MAX_HOLDERS: usize = 1024;
/// Words of a holder set.
pub const HOLDER_WORDS: usize = MAX_HOLDERS / 64;

#[inline]
fn at(h: u32) -> (usize, u64) {
    ((h as usize / 64) % HOLDER_WORDS, 1u64 << (h % 64))
}

/// Set `h` in `words` (a holder set of any length, [`HOLDER_WORDS`] in shared memory). Returns
/// true if it was already set.
#[inline]
pub fn insert(words: &[AtomicU64], h: u32) -> bool {
    let (w, bit) = at(h);
    // SeqCst: one total order with every other bit operation and scan (module docs).
    let prev = words[w % words.len()].fetch_or(bit, Ordering::SeqCst);
    sc_point();
    prev & bit != 0
}

/// What [`remove`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// `h` was not in the set.
    Absent,
    /// `h` was removed; other holders remain (as far as the scan saw).
    Others,
    /// `h` was removed and the scan that followed found the set empty.
    Emptied,
}

/// Clear `h`, then (if it was set) scan for other holders.
#[inline]
pub fn remove(words: &[AtomicU64], h: u32) -> Removal {
    let (w, bit) = at(h);
    // SeqCst: see the module docs (the last remover's scan sees every earlier clear).
    let prev = words[w % words.len()].fetch_and(!bit, Ordering::SeqCst);
    sc_point();
    if prev & bit == 0 {
        Removal::Absent
    } else if prev & !bit != 0 || !is_empty(words) {
        Removal::Others
    } else {
        Removal::Emptied
    }
}

/// True if `h` is in the set.
#[inline]
pub fn contains(words: &[AtomicU64], h: u32) -> bool {
    let (w, bit) = at(h);
    // SeqCst: ordered with the bit operations (a caller deciding on it re-checks anyway).
    words[w % words.len()].load(Ordering::SeqCst) & bit != 0
}

/// True if no bit is set (SeqCst loads: see the module docs).
#[inline]
pub fn is_empty(words: &[AtomicU64]) -> bool {
    // SeqCst: each load is ordered in S after the caller's own clear.
    words.iter().all(|w| w.load(Ordering::SeqCst) == 0)
}

/// Number of holders in the set (statistics).
pub fn count(words: &[AtomicU64]) -> u32 {
    // Relaxed: a snapshot for statistics.
    words.iter().map(|w| w.load(Ordering::Relaxed).count_ones()).sum()
}

/// Call `f` for every holder in the set (a snapshot; statistics and reaping).
pub fn for_each(words: &[AtomicU64], mut f: impl FnMut(u32)) {
    for (i, w) in words.iter().enumerate() {
        // Relaxed: a snapshot; callers that act on a holder re-check it with its own CAS.
        let mut b = w.load(Ordering::Relaxed);
        while b != 0 {
            f(i as u32 * 64 + b.trailing_zeros());
            b &= b - 1;
        }
    }
}

/// Remove every holder of `dead` from the set (the reaper; holders that set no bits while it
/// runs). Returns true if the set was changed and the scan that followed found it empty.
pub fn remove_all(words: &[AtomicU64], dead: &HolderMask) -> bool {
    let mut changed = false;
    for (w, &d) in words.iter().zip(dead.words.iter()) {
        // Relaxed: a filter. The holders removed here set no bits while this runs (dead ones,
        // whose entries stay REAPING until the reap ends, so no newcomer has their index; a
        // dissolving topic, under its lock; the caller itself), so a bit absent now stays
        // absent: the sweep of a big pool costs a load per slot, not a locked operation.
        if d != 0 && w.load(Ordering::Relaxed) & d != 0 {
            // SeqCst: as `remove`.
            changed |= w.fetch_and(!d, Ordering::SeqCst) & d != 0;
        }
    }
    sc_point();
    changed && is_empty(words)
}

/// A plain (process-local) set of holder indices: the dead holders a reap releases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolderMask {
    pub words: [u64; HOLDER_WORDS],
}

impl HolderMask {
    pub fn insert(&mut self, h: u32) {
        let (w, bit) = at(h);
        self.words[w] |= bit;
    }
    pub fn contains(&self, h: u32) -> bool {
        let (w, bit) = at(h);
        self.words[w] & bit != 0
    }
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }
    /// Holders 0..63 as one word (for structures that keep a bit per holder only there).
    pub fn low_word(&self) -> u64 {
        self.words[0]
    }
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..MAX_HOLDERS as u32).filter(|&h| self.contains(h))
    }
}

/// A holder set laid out in shared memory (128 bytes).
#[repr(C)]
pub struct HolderSet {
    pub words: [AtomicU64; HOLDER_WORDS],
}

impl HolderSet {
    pub fn insert(&self, h: u32) -> bool {
        insert(&self.words, h)
    }
    pub fn remove(&self, h: u32) -> Removal {
        remove(&self.words, h)
    }
    pub fn contains(&self, h: u32) -> bool {
        contains(&self.words, h)
    }
    pub fn is_empty(&self) -> bool {
        is_empty(&self.words)
    }
    pub fn count(&self) -> u32 {
        count(&self.words)
    }
    pub fn remove_all(&self, dead: &HolderMask) -> bool {
        remove_all(&self.words, dead)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn bits_across_words() {
        let s: HolderSet = HolderSet { words: std::array::from_fn(|_| AtomicU64::new(0)) };
        assert!(s.is_empty());
        assert!(!s.insert(3));
        assert!(s.insert(3), "second insert reports the bit was set");
        assert!(!s.insert(1023));
        assert!(!s.insert(64));
        assert_eq!(s.count(), 3);
        let mut seen = Vec::new();
        for_each(&s.words, |h| seen.push(h));
        assert_eq!(seen, vec![3, 64, 1023]);
        assert_eq!(s.remove(5), Removal::Absent);
        assert_eq!(s.remove(3), Removal::Others);
        assert_eq!(s.remove(1023), Removal::Others);
        assert_eq!(s.remove(64), Removal::Emptied);
        let mut dead = HolderMask::default();
        dead.insert(700);
        dead.insert(2);
        s.insert(700);
        s.insert(2);
        s.insert(9);
        assert!(!s.remove_all(&dead));
        assert!(s.contains(9) && !s.contains(700) && !s.contains(2));
        dead.insert(9);
        assert!(s.remove_all(&dead));
        assert_eq!(dead.iter().collect::<Vec<_>>(), vec![2, 9, 700]);
    }
}
