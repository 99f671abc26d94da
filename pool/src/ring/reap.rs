//! Reaping a topic and closing it: drop dead openers, publishers, sleepers and subscribers,
//! take over a dead writer's lock (which repairs the ring), and dissolve the topic's slot
//! references and registry entry once no process has it open.

use super::layout::MAX_SUBS;
use super::lock::CLOSE_BOUND;
use super::seg::RingSeg;
use crate::namespace::{Namespace, MAX_POOLS};
use crate::sleepers;
use crate::sync::Ordering;

impl RingSeg {
    /// Drop dead openers, publishers and subscribers; repair a dead writer's lock; dissolve the
    /// topic's references when no process has it open. Returns slots freed.
    pub fn reap(&self, ns: &Namespace, dead_mask: u64) -> u32 {
        let h = self.header();
        // AcqRel: clear dead bits atomically with concurrent openers.
        h.openers.fetch_and(!dead_mask, Ordering::AcqRel);
        h.publishers.fetch_and(!dead_mask, Ordering::AcqRel);
        sleepers::clear_dead(&h.sleepers, dead_mask);
        sleepers::clear_dead(&h.writer_sleepers, dead_mask);
        for i in 0..MAX_SUBS {
            let s = self.sub(i);
            let owner = s.owner.load(Ordering::Acquire);
            if owner != 0 && !self.live_subscriber(ns, owner) {
                let _ = s.owner.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
        let lock = h.lock.load(Ordering::Acquire);
        let dead_locker = lock != 0 && !self.locker_alive(ns, lock);
        let orphaned = h.openers.load(Ordering::Acquire) == 0 && h.holder.load(Ordering::Acquire) != 0;
        if !dead_locker && (!orphaned || lock != 0) {
            // Nothing to do, or a live process holds the lock of an orphaned topic: the last
            // closer dissolving it, or a stuck one. Either way not worth a wait here (reaps run
            // inside other waits); a later reap dissolves it.
            return 0;
        }
        // `lock` takes over a dead writer's lock and repairs the ring.
        self.lock_then_dissolve(ns).unwrap_or(0)
    }

    /// Take the lock (at most [`CLOSE_BOUND`]) and dissolve the topic if nobody has it open.
    /// None when a live holder kept the lock: the topic stays orphaned (no openers, a holder)
    /// for the next reaper.
    pub(super) fn lock_then_dissolve(&self, ns: &Namespace) -> Option<u32> {
        let h = self.header();
        self.lock(ns, CLOSE_BOUND, &mut None).ok()?;
        // Acquire: the last closers' AcqRel clears of `openers`.
        let freed = if h.openers.load(Ordering::Acquire) == 0 { self.dissolve(ns) } else { 0 };
        self.unlock();
        Some(freed)
    }

    /// A handle of this process closed the topic: clear our publisher and opener bits, and
    /// dissolve the topic if we were its last opener (bounded by [`CLOSE_BOUND`]).
    pub(crate) fn close(&self, ns: &Namespace) {
        let bit = 1u64 << ns.holder_index();
        let h = self.header();
        h.publishers.fetch_and(!bit, Ordering::AcqRel);
        // AcqRel: the last closer sees every other closer's clear.
        let prev = h.openers.fetch_and(!bit, Ordering::AcqRel);
        if prev & !bit == 0 {
            self.lock_then_dissolve(ns);
        }
    }

    /// This process leaves (see `Namespace::leave`): drop its subscriber entries, opener and
    /// publisher bits; dissolve the topic if it was the last opener.
    pub fn leave(&self, ns: &Namespace) {
        let me = ns.holder_index();
        let bit = 1u64 << me;
        let owner = (me as u64 + 1) | ((crate::process::current_pid() as u64) << 32);
        for i in 0..MAX_SUBS {
            // AcqRel: free only entries that are ours.
            let _ = self.sub(i).owner.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
        let h = self.header();
        h.publishers.fetch_and(!bit, Ordering::AcqRel);
        // We sleep on nothing here any more (handles are inert after `leave`).
        sleepers::clear_dead(&h.sleepers, bit);
        sleepers::clear_dead(&h.writer_sleepers, bit);
        let prev = h.openers.fetch_and(!bit, Ordering::AcqRel);
        if prev & bit != 0 && prev & !bit == 0 {
            self.lock_then_dissolve(ns);
        }
        // Wake reliable writers that may have been waiting on our cursor.
        self.wake_writers();
    }

    /// Under the lock, with no openers: release every reference and the topic's holder entry.
    fn dissolve(&self, ns: &Namespace) -> u32 {
        let h = self.header();
        // Relaxed: see `holder_bit`; the entry goes away below.
        self.holder_ok.store(0, Ordering::Relaxed);
        let Some(bit) = self.holder_bit(ns) else {
            // None allocated, or a scribbled index naming another holder's entry (or none):
            // forget it, without touching that entry or its bits (Release as below).
            h.holder.store(0, Ordering::Release);
            return 0;
        };
        let mut freed = 0;
        for id in 0..MAX_POOLS as u8 {
            if let Some(pool) = ns.pool_existing(id) {
                freed += pool.clear_holder(bit);
            }
        }
        // Release: the bits are cleared before the index can be claimed again.
        h.holder.store(0, Ordering::Release);
        ns.registry().free(bit);
        freed
    }
}
