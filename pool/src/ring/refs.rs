//! Slot references of a topic, and back-pressure.
//!
//! Under the lock a send takes a topic reference on the payload slot (the topic's own holder
//! bit: idempotent) and, once the entry is published, drops the reference of the overwritten
//! entry unless another entry still names that slot. It also drops the references of older
//! entries that every live subscriber has already read (their readers hold the slots themselves
//! by then), keeping only the newest for late joiners: a topic whose subscribers keep up pins one
//! frame, not `depth`, so a publisher's next loan finds a recently used, cache-warm slot.
//! `released` is that watermark. A topic with history 0 keeps not even the newest: once every
//! live subscriber has read it (at once when there is none), its reference goes too — on the
//! next send, or on the receive that read it last (`release_read`, which takes the lock only
//! if it is free) — so the slot frees as soon as the readers drop their views and the
//! publisher's next loan reuses it (the pool hands out the slot freed last).
//!
//! The topic's `holder` index is shared memory too: before it is used to clear slot bits or to
//! free a registry entry, the entry it names must be an ACTIVE topic entry with this topic's
//! name. The verified (index, entry word) pair is cached per mapping, so a send compares two
//! words, not a name.
//!
//! Back-pressure ([`RingSeg::has_room`]): a reliable send waits while the slowest live
//! subscriber is `depth` behind.

use super::seg::RingSeg;
use crate::descriptor::{kind, Descriptor};
use crate::error::OpenError;
use crate::namespace::{Namespace, MAX_POOLS};
use crate::registry::{self, KIND_TOPIC, ST_ACTIVE};
use crate::sync::Ordering;
use crate::word;

/// `holder_ok` keeps the entry word's low 48 bits (reaper byte and pid) under the index.
const WORD_LOW: u64 = (1 << 48) - 1;

impl RingSeg {
    /// Under the lock: a slot keeps this topic's bit iff a complete entry names it.
    pub(super) fn recompute_refs(&self, ns: &Namespace) -> u32 {
        let Some(bit) = self.holder_bit(ns) else { return 0 };
        let head = self.header().head.load(Ordering::Acquire);
        // Relaxed: under the lock. Entries below `released` hold nothing (clamped: shared memory;
        // the newest entry is below it only under history 0).
        let from = head.saturating_sub(self.depth as u64).max(self.header().released.load(Ordering::Relaxed).min(head.saturating_sub(self.keep)));
        let live: Vec<Descriptor> = (from..head).filter_map(|p| self.read_entry(p)).filter(is_payload).collect();
        let mut freed = 0;
        for id in 0..MAX_POOLS as u8 {
            let Some(pool) = ns.pool_existing(id) else { continue };
            for i in 0..pool.slots() {
                if !pool.holds(i, bit) {
                    continue;
                }
                // Relaxed: ordered after `holds`' SeqCst load; stable while the topic holds it.
                let g = pool.slot(i).generation.load(Ordering::Relaxed);
                if !live.iter().any(|d| d.pool == id && d.slot == i && d.generation == g) && pool.release(i, bit) == word::Removed::Freed {
                    freed += 1;
                }
            }
        }
        freed
    }

    /// The topic's holder index (its bit in slot words), or None if none is allocated.
    /// `holder` is shared memory: an index past the registry (a scribbled header) counts as
    /// none, so it never becomes an out-of-range shift or registry index (found by
    /// fuzz/ring_entry: a corrupt `holder` panicked in `dissolve` with an index out of bounds).
    /// So does an index whose registry entry is not this topic's (an ACTIVE topic entry with
    /// its name): a scribbled index naming a process or another topic must not clear that
    /// holder's bits or free its entry. Two loads when the (index, entry word) pair is the one
    /// verified last; the name is compared only when it changed.
    #[inline]
    pub(super) fn holder_bit(&self, ns: &Namespace) -> Option<u32> {
        // Acquire: pairs with the Release store in `topic_holder` (registry entry complete).
        let hidx = self.header().holder.load(Ordering::Acquire);
        if hidx == 0 || hidx as usize > registry::MAX_HOLDERS {
            return None;
        }
        // Acquire: pairs with the claimer's Release of ACTIVE (the name is complete).
        let w = ns.registry().entry(hidx - 1).word.load(Ordering::Acquire);
        if registry::st(w) != ST_ACTIVE || registry::kind(w) != KIND_TOPIC {
            return None;
        }
        let key = (hidx as u64) << 48 | (w & WORD_LOW);
        // Relaxed: a process-local cache of a pair checked in `verify_holder`; it publishes
        // nothing, and a stale value only costs another check.
        if self.holder_ok.load(Ordering::Relaxed) == key {
            return Some(hidx - 1);
        }
        self.verify_holder(ns, hidx - 1, w, key)
    }

    #[cold]
    #[inline(never)]
    fn verify_holder(&self, ns: &Namespace, i: u32, w: u64, key: u64) -> Option<u32> {
        let reg = ns.registry();
        let name = reg.snapshot(i).name;
        // Acquire: as in `holder_bit`; an unchanged word means the name read in between is the
        // entry's as of `w`, not a later claimer's half-written one.
        if reg.entry(i).word.load(Ordering::Acquire) != w {
            return None;
        }
        // The registry keeps the first NAME_LEN bytes of a name.
        let ours = &self.name.as_bytes()[..self.name.len().min(registry::NAME_LEN)];
        if name.as_bytes() != ours {
            return None;
        }
        // Relaxed: see `holder_bit`.
        self.holder_ok.store(key, Ordering::Relaxed);
        Some(i)
    }

    /// Under the lock: the topic's holder index, allocating one on first payload send. A
    /// `holder` that fails verification is replaced by a fresh entry (the entry it named, if
    /// any, is left alone).
    pub(super) fn topic_holder(&self, ns: &Namespace) -> Result<u32, OpenError> {
        let h = self.header();
        if let Some(bit) = self.holder_bit(ns) {
            return Ok(bit);
        }
        let idx = ns.registry().claim(KIND_TOPIC, &self.name)?;
        // Release: the registry entry is complete before the ring names it.
        h.holder.store(idx + 1, Ordering::Release);
        Ok(idx)
    }

    /// Under the lock, `pos` the newest published entry: drop the references of the entries that
    /// every live subscriber has read (positions below the smallest cursor), and move the
    /// `released` watermark past them. The newest entry is kept for late joiners and `latest()`
    /// unless the topic's history is 0.
    pub(super) fn release_consumed(&self, ns: &Namespace, pos: u64, released: u64) {
        // A raw presence check: `drop_ref` verifies the index before it releases anything
        // (a verification here too cost a payload send ~5 ns).
        // Acquire: as in `holder_bit`.
        if self.header().holder.load(Ordering::Acquire) == 0 {
            return;
        }
        // At most depth - 1 positions: `pos` comes from shared memory, and a scribbled head near
        // u64::MAX must not turn this into a loop over 2^64 entries (found by
        // tests/hardening.rs: the victim spun here for minutes).
        let lo = released.max(self.oldest_held(pos));
        // Exclusive: positions from here on stay held (pos + 1 - history).
        let upto = pos.saturating_add(1).saturating_sub(self.keep);
        if lo >= upto {
            return;
        }
        let bound = self.min_live_cursor(ns).min(upto);
        if bound <= lo {
            return;
        }
        // Relaxed: read only under the lock. Stored before the references go: a writer that
        // dies in between leaves bits that the repair's recompute (which trusts `released`)
        // drops, never an entry that names an already released slot as held.
        self.header().released.store(bound, Ordering::Relaxed);
        for p in lo..bound {
            if let Some(d) = self.read_entry(p).filter(is_payload) {
                // The same frame may be named twice: only its last entry drops the reference,
                // and only when that entry is itself released.
                self.drop_ref(ns, &d, p + 1, pos.saturating_add(1));
            }
        }
    }

    /// History 0, after this subscriber read a payload entry (`cursor` just past it): if that
    /// may have been the last read of some entry, drop what every live subscriber has read,
    /// so the slot frees when the readers drop their views. Only if the writer lock is free: a
    /// writer holding it does the same in its send. A receiver that dies holding the lock is
    /// a dead writer to the next one (`lock.rs` repairs).
    pub(super) fn release_read(&self, ns: &Namespace, cursor: u64) {
        let h = self.header();
        // Relaxed: a filter; `release_consumed` re-reads it under the lock.
        if self.keep != 0 || h.released.load(Ordering::Relaxed) >= cursor || !self.try_lock(ns) {
            return;
        }
        // Acquire: pairs with the writer's Release of head (the entries below it are complete).
        let head = h.head.load(Ordering::Acquire);
        if head > 0 {
            // Relaxed: under the lock. Clamped: shared memory.
            let released = h.released.load(Ordering::Relaxed).min(head);
            self.release_consumed(ns, head - 1, released);
        }
        self.unlock();
    }

    /// The oldest position still in the ring once `pos` is published (`pos + 1 - depth`, without
    /// overflow for any `pos`).
    pub(super) fn oldest_held(&self, pos: u64) -> u64 {
        pos.saturating_sub((self.depth as u64).saturating_sub(1))
    }

    /// The smallest cursor of the live subscribers (u64::MAX when there are none).
    fn min_live_cursor(&self, ns: &Namespace) -> u64 {
        let mut min = u64::MAX;
        self.for_each_sub(|i| {
            let s = self.sub(i);
            // Acquire: the subscriber's Release stores of owner and cursor.
            let owner = s.owner.load(Ordering::Acquire);
            if owner != 0 && self.live_subscriber(ns, owner) {
                min = min.min(s.cursor.load(Ordering::Acquire));
            }
        });
        min
    }

    /// Call `f` with every subscriber entry whose bit is in the subscriber set (only the words
    /// that the table's size reaches are read: one for the default 64 entries).
    #[inline]
    pub(super) fn for_each_sub(&self, mut f: impl FnMut(usize)) {
        let words = &self.sub_set().words[..(self.max_subs as usize).div_ceil(64)];
        for (w, word) in words.iter().enumerate() {
            // Acquire: pairs with the Release in `try_claim_sub` (the entry's owner and cursor).
            let mut bits = word.load(Ordering::Acquire);
            while bits != 0 {
                f(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
    }

    /// Under the lock: an entry naming `old` no longer holds its slot (overwritten, or read by
    /// every subscriber); drop the topic's reference unless a holding entry — one at a position
    /// in `lo..hi` — names the same slot generation.
    pub(super) fn drop_ref(&self, ns: &Namespace, old: &Descriptor, lo: u64, hi: u64) {
        let Some(bit) = self.holder_bit(ns) else { return };
        let still = (lo..hi).filter_map(|p| self.read_entry(p)).any(|d| d.pool == old.pool && d.slot == old.slot && d.generation == old.generation);
        if still {
            return;
        }
        let Some(pool) = ns.pool_existing(old.pool) else { return };
        if old.slot >= pool.slots() {
            return;
        }
        // Relaxed: stable while the topic bit is set (the slot cannot be freed and reclaimed).
        if pool.slot(old.slot).generation.load(Ordering::Relaxed) == old.generation {
            pool.release(old.slot, bit);
        }
    }

    pub(super) fn has_room(&self, ns: &Namespace) -> bool {
        let head = self.header().head.load(Ordering::Acquire);
        let mut room = true;
        self.for_each_sub(|i| {
            let s = self.sub(i);
            // Acquire: pairs with the subscriber's Release of owner/cursor.
            let owner = s.owner.load(Ordering::Acquire);
            room &= owner == 0 || !self.live_subscriber(ns, owner) || head < s.cursor.load(Ordering::Acquire).saturating_add(self.depth as u64);
        });
        room
    }
}

pub(super) fn is_payload(d: &Descriptor) -> bool {
    d.kind != kind::INLINE && d.kind != kind::EMPTY
}
