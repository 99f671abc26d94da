//! The subscriber table: `SubEntry[max_subs]`, one per subscriber, owned by
//! `(holder index + 1) | pid << 32`; each holds its subscriber's cursor and counters. The
//! subscriber set after the holder sets is a superset of the claimed entries that a send scans
//! (see `RingOffsets::sub_set`). An entry whose owner is not a live registry entry is free to reclaim.

use super::layout::{Policy, SubEntry};
use super::seg::RingSeg;
use crate::namespace::Namespace;
use crate::registry::{self, ST_ACTIVE};
use crate::sync::Ordering;

impl RingSeg {
    /// True when subscriber owner word `owner` names an ACTIVE registry entry with its pid.
    pub(super) fn live_subscriber(&self, ns: &Namespace, owner: u64) -> bool {
        let idx = owner as u32;
        if idx == 0 || idx as usize > registry::MAX_HOLDERS {
            return false;
        }
        // Acquire: pairs with the claimer's Release of ACTIVE.
        let w = ns.registry().entry(idx - 1).word.load(Ordering::Acquire);
        registry::pid(w) == (owner >> 32) as u32 && registry::st(w) == ST_ACTIVE
    }

    /// Claim a free (or dead owner's) entry for this process, its cursor at the newest entry
    /// (history 1) or past it (history 0: a late joiner starts with the next send).
    /// None when all `max_subs` entries are live (the caller reaps and tries once more).
    pub(super) fn try_claim_sub(&self, ns: &Namespace) -> Option<usize> {
        let owner = (ns.holder_index() as u64 + 1) | ((crate::process::current_pid() as u64) << 32);
        for i in 0..self.max_subs as usize {
            let s = self.sub(i);
            // Acquire: pairs with the previous owner's Release store of owner (its cursor updates).
            let cur = s.owner.load(Ordering::Acquire);
            let reusable = cur == 0 || !self.live_subscriber(ns, cur);
            // AcqRel: we own the entry from here.
            if reusable && s.owner.compare_exchange(cur, owner, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                // Acquire: pairs with the writer's Release of head.
                let head = self.header().head.load(Ordering::Acquire);
                // Release: the cursor is valid before a reliable writer reads it.
                s.cursor.store(head.saturating_sub(self.keep), Ordering::Release);
                // Relaxed: statistics.
                s.misses.store(0, Ordering::Relaxed);
                s.received.store(0, Ordering::Relaxed);
                // Release: a writer that sees the bit sees our owner and cursor.
                self.sub_set().words[i / 64].fetch_or(1u64 << (i % 64), Ordering::Release);
                return Some(i);
            }
        }
        None
    }

    pub(super) fn release_sub(&self, i: usize) {
        let i = i % self.max_subs as usize;
        // Relaxed: we still own the entry, so no claimer can be setting this bit; writers
        // that still see it find the owner cleared just below.
        self.sub_set().words[i / 64].fetch_and(!(1u64 << (i % 64)), Ordering::Relaxed);
        // Release: our cursor updates are done.
        self.sub(i).owner.store(0, Ordering::Release);
        self.wake_writers();
    }

    /// Move subscriber `s`'s shared cursor to `cursor`; a reliable writer may be waiting on it.
    pub(super) fn advance(&self, s: &SubEntry, cursor: u64) {
        // Release: a reliable writer that reads this cursor may overwrite what we read.
        s.cursor.store(cursor, Ordering::Release);
        if self.policy() == Policy::Reliable {
            self.wake_writers();
        }
    }
}
