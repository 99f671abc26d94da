//! The writer lock: `lock` is 0, or `(holder index + 1) << 32 | pid` of the writer holding it.
//!
//! Writers serialize on it, so a dead writer's lock is taken over and the ring repaired. Every
//! wait for the lock is bounded: a live holder that does not let go (stopped by SIGSTOP or a
//! debugger, or a scribbled lock word naming a live process) makes a send fail with
//! `SendError::Locked` naming its pid once the send's timeout has passed, and closing a topic,
//! `leave` and the reaper give up after [`CLOSE_BOUND`], leaving the work to a later reaper.
//! Waiting spins briefly, then yields, then sleeps (at most 1 ms at a time), so a stuck holder
//! costs its waiters almost no CPU.
//!
//! Repair after a writer died holding the lock: publish a completed-but-unpublished entry, then
//! recompute the topic's references (`refs.rs`): a slot keeps the topic bit iff a complete entry
//! names it.

use super::seg::RingSeg;
use super::seqlock::stamp;
use crate::namespace::Namespace;
use crate::registry::{self, KIND_PROCESS, ST_ACTIVE};
use crate::sync::Ordering;
use std::time::{Duration, Instant};

/// How long closing a topic, `leave` and a reap wait for a ring lock that a live process holds
/// before they give up and leave the work to a later reaper.
pub const CLOSE_BOUND: Duration = Duration::from_millis(500);
/// Lock waits: spins, then yields, then sleeps of at most this long between tries.
const LOCK_NAP_MAX: Duration = Duration::from_millis(1);
const LOCK_SPINS: u32 = 64;
const LOCK_YIELDS: u32 = 16;
/// How often a lock waiter asks whether the holder still lives (a read of /proc).
const LOCK_LIVENESS_EVERY: Duration = Duration::from_millis(10);

/// The writer lock was not taken in time: a live process `pid` holds it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Held {
    pub(super) pid: u32,
}

/// The lock word of this process: holder index + 1 in the high half, the pid in the low half
/// (`locker_alive` checks both against the registry).
fn lock_word(ns: &Namespace) -> u64 {
    ((ns.holder_index() as u64 + 1) << 32) | crate::process::current_pid() as u64
}

impl RingSeg {
    /// Take the writer lock, waiting at most `bound` from `*start`. The clock is read only once
    /// the lock is contended: `*start` is set then (if unset) and shared with the caller's later
    /// attempts. A dead holder's lock is taken over and the ring repaired; a live one that keeps
    /// it past the bound is `Held`, naming its pid.
    #[inline]
    pub(super) fn lock(&self, ns: &Namespace, bound: Duration, start: &mut Option<Instant>) -> Result<(), Held> {
        let me = lock_word(ns);
        // Acquire: pairs with the previous holder's Release unlock (its ring writes).
        if self.header().lock.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return Ok(());
        }
        self.lock_contended(ns, me, bound, start)
    }

    /// Take the writer lock only if it is free now (one CAS, no wait).
    pub(super) fn try_lock(&self, ns: &Namespace) -> bool {
        let me = lock_word(ns);
        // Acquire: as in `lock`.
        self.header().lock.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self, ns: &Namespace, me: u64, bound: Duration, start: &mut Option<Instant>) -> Result<(), Held> {
        let h = self.header();
        let mut tries = 0u32;
        let mut nap = Duration::from_micros(10);
        let mut next_check: Option<Instant> = None;
        loop {
            // Acquire: as in `lock`.
            let cur = match h.lock.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(cur) => cur,
            };
            tries = tries.saturating_add(1);
            if tries <= LOCK_SPINS {
                std::hint::spin_loop();
                continue;
            }
            if tries <= LOCK_SPINS + LOCK_YIELDS || cur == 0 {
                std::thread::yield_now();
                continue;
            }
            // The holder kept the lock through the spins and yields: descheduled, stopped or
            // dead. From here on read the clock, and ask about its life now and then (and
            // once more before giving up).
            let now = Instant::now();
            let t0 = *start.get_or_insert(now);
            let over = now.saturating_duration_since(t0) >= bound;
            if over || next_check.is_none_or(|t| now >= t) {
                next_check = Some(now + LOCK_LIVENESS_EVERY);
                if !self.locker_alive(ns, cur) {
                    // Acquire: as in `lock`. Take over a dead writer's lock and repair what it
                    // left; a failed CAS means the word moved on: try again.
                    if h.lock.compare_exchange(cur, me, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                        self.repair(ns);
                        return Ok(());
                    }
                    continue;
                }
            }
            if over {
                return Err(Held { pid: cur as u32 });
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(LOCK_NAP_MAX);
        }
    }

    /// True when lock word `lock` names a live process: an index within the registry whose
    /// entry is an ACTIVE process entry with the same pid, and that process runs (or is
    /// stopped). Anything else (an index past the table, a topic's entry, another pid) is a
    /// dead or scribbled holder whose lock may be taken over.
    pub(super) fn locker_alive(&self, ns: &Namespace, lock: u64) -> bool {
        let idx = (lock >> 32) as u32;
        let pid = lock as u32;
        if idx == 0 || idx as usize > registry::MAX_HOLDERS {
            return false;
        }
        // Acquire: pairs with the claimer's Release of ACTIVE (its start time is complete).
        let w = ns.registry().entry(idx - 1).word.load(Ordering::Acquire);
        registry::pid(w) == pid && registry::st(w) == ST_ACTIVE && registry::kind(w) == KIND_PROCESS && ns.registry().process_alive(idx - 1, w)
    }

    pub(super) fn unlock(&self) {
        // Release: our entry, head and slot-word changes happen before the next writer's lock.
        self.header().lock.store(0, Ordering::Release);
    }

    /// Under the lock: finish a dead writer's publish and recompute topic references.
    fn repair(&self, ns: &Namespace) {
        let h = self.header();
        let head = h.head.load(Ordering::Relaxed);
        if self.entry(head).stamp.load(Ordering::Acquire) == stamp(head, true) {
            // Release: publish the completed entry.
            h.head.store(head.wrapping_add(1), Ordering::Release);
        }
        self.recompute_refs(ns);
    }
}
