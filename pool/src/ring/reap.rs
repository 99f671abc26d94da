//! Reaping a topic and closing it: drop dead openers, publishers, sleepers and subscribers,
//! take over a dead writer's lock (which repairs the ring), and dissolve the topic's slot
//! references and registry entry once no process has it open.

use super::lock::CLOSE_BOUND;
use super::seg::RingSeg;
use crate::holders::{self, HolderMask};
use crate::namespace::{Namespace, MAX_POOLS};
use crate::sleepers;
use crate::sync::Ordering;

impl RingSeg {
    /// Drop dead openers, publishers and subscribers; repair a dead writer's lock; dissolve the
    /// topic's references when no process has it open. Returns slots freed.
    pub fn reap(&self, ns: &Namespace, dead: &HolderMask) -> u32 {
        let h = self.header();
        self.openers().remove_all(dead);
        self.publishers().remove_all(dead);
        sleepers::clear_dead(&h.sleepers, dead);
        sleepers::clear_dead(&h.writer_sleepers, dead);
        for i in 0..self.max_subs as usize {
            let s = self.sub(i);
            let owner = s.owner.load(Ordering::Acquire);
            if owner != 0 && !self.live_subscriber(ns, owner) {
                let _ = s.owner.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
        let lock = h.lock.load(Ordering::Acquire);
        let dead_locker = lock != 0 && !self.locker_alive(ns, lock);
        let orphaned = self.openers().is_empty() && h.holder.load(Ordering::Acquire) != 0;
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
        self.lock(ns, CLOSE_BOUND, &mut None).ok()?;
        // SeqCst loads (`is_empty`): ordered after the last closers' clears.
        let freed = if self.openers().is_empty() { self.dissolve(ns) } else { 0 };
        self.unlock();
        Some(freed)
    }

    /// A handle of this process closed the topic: clear our publisher and opener bits, and
    /// dissolve the topic if we were its last opener (bounded by [`CLOSE_BOUND`]).
    pub(crate) fn close(&self, ns: &Namespace) {
        let me = ns.holder_index();
        self.publishers().remove(me);
        // The last closer's scan sees every other closer's clear (`holders.rs`); dissolving
        // re-checks under the lock.
        if self.openers().remove(me) != holders::Removal::Others {
            self.lock_then_dissolve(ns);
        }
    }

    /// This process leaves (see `Namespace::leave`): drop its subscriber entries, opener and
    /// publisher bits; dissolve the topic if it was the last opener.
    pub fn leave(&self, ns: &Namespace) {
        let me = ns.holder_index();
        let owner = (me as u64 + 1) | ((crate::process::current_pid() as u64) << 32);
        for i in 0..self.max_subs as usize {
            // AcqRel: free only entries that are ours.
            let _ = self.sub(i).owner.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
        let h = self.header();
        self.publishers().remove(me);
        // We sleep on nothing here any more (handles are inert after `leave`).
        let mut gone = HolderMask::default();
        gone.insert(me);
        sleepers::clear_dead(&h.sleepers, &gone);
        sleepers::clear_dead(&h.writer_sleepers, &gone);
        if self.openers().remove(me) == holders::Removal::Emptied {
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
