//! Sending: take the writer lock (waiting for room under the reliable policy), take the
//! topic's reference on the payload slot, write the entry (`seqlock.rs`), publish it, release
//! the references of entries that no longer hold their slots (`refs.rs`), unlock, wake readers.

use super::layout::Policy;
use super::refs::is_payload;
use super::seg::RingSeg;
use super::seqlock::{self, Tail};
use crate::descriptor::Descriptor;
use crate::error::{DescriptorError, SendError};
use crate::lease::SlotRef;
use crate::namespace::Namespace;
use crate::sync::Ordering;
use crate::word;
use std::time::{Duration, Instant};

impl RingSeg {
    /// Publish `desc` (whose slot, if any, the caller holds through `hold`).
    pub fn send(&self, ns: &Namespace, desc: Descriptor, hold: Option<&SlotRef>, timeout: Duration) -> Result<u64, SendError> {
        self.send_entry(ns, desc, None, hold, timeout)
    }

    /// [`RingSeg::send`] with the tail words of a long inline message (see [`super::inline_message`]);
    /// `tail` is written only when `desc` is inline and longer than the descriptor holds.
    pub fn send_entry(&self, ns: &Namespace, mut desc: Descriptor, tail: Option<&Tail>, hold: Option<&SlotRef>, timeout: Duration) -> Result<u64, SendError> {
        let h = self.header();
        // The clock is read only once a send has to wait (for the lock or, reliable, for
        // room), so a send that finds both reads no clock (perf: clock_gettime was 6 % of a
        // Python send). `start` bounds both waits together by `timeout`.
        let mut start: Option<Instant> = None;
        let mut last_reap: Option<Instant> = None;
        loop {
            if let Err(held) = self.lock(ns, timeout, &mut start) {
                return Err(SendError::Locked { topic: self.name.clone(), pid: held.pid });
            }
            if self.policy() == Policy::Latest || self.has_room(ns) {
                break;
            }
            self.unlock();
            let t0 = *start.get_or_insert_with(Instant::now);
            let reaped = *last_reap.get_or_insert(t0);
            {
                // Protocol in `sleepers.rs`: arm (A, S), check the condition, sleep (R, W).
                let sleeper = self.writer_sleeper(ns);
                let seen = sleeper.arm();
                if !self.has_room(ns) {
                    let left = timeout.saturating_sub(t0.elapsed());
                    if left.is_zero() {
                        drop(sleeper);
                        ns.reap();
                        if self.has_room(ns) {
                            continue;
                        }
                        return Err(SendError::Timeout { topic: self.name.clone(), waited_ms: t0.elapsed().as_millis() as u64 });
                    }
                    sleeper.sleep(seen, left.min(Duration::from_millis(20)));
                }
            }
            if reaped.elapsed() > Duration::from_millis(100) {
                // A subscriber that died without a reap would stall us until the timeout.
                ns.reap();
                last_reap = Some(Instant::now());
            }
        }
        let result = (|| {
            if let Some(r) = hold {
                let bit = self.topic_holder(ns)?;
                let pool = ns.pool_existing(r.pool()).expect("held pool is open");
                // The sender holds the slot, so it is READY with a non-empty holder set.
                pool.hold(r.slot(), bit, word::tag_of(r.generation())).map_err(|_| SendError::Descriptor {
                    topic: self.name.clone(),
                    source: DescriptorError::Stale { pool: r.pool(), slot: r.slot(), expected: r.generation(), found: 0 },
                })?;
            }
            let pos = h.head.load(Ordering::Relaxed);
            let old = if pos >= self.depth as u64 { self.read_entry(pos - self.depth as u64) } else { None };
            // Stamp a sequence number into payload descriptors that have none. Never into an
            // inline one: its bytes 16..64 are the message itself.
            if !desc.is_inline() && desc.sequence == 0 {
                desc.sequence = pos.wrapping_add(1);
            }
            seqlock::write(self.entry(pos), pos, &desc, tail);
            // Relaxed: statistics. Bumped before `head` so that both writes land while this
            // core owns line A; after the head store a spinning reader may have pulled it away.
            h.sent.fetch_add(1, Ordering::Relaxed);
            seqlock::publish(&h.head, pos);
            // Relaxed: written only under the lock we hold. Clamped: shared memory.
            let released = h.released.load(Ordering::Relaxed).min(pos);
            if let Some(old) = old.filter(is_payload) {
                if pos - self.depth as u64 >= released {
                    self.drop_ref(ns, &old, released.max(self.oldest_held(pos)), pos.saturating_add(1));
                }
            }
            self.release_consumed(ns, pos, released);
            Ok(if desc.is_inline() { pos.wrapping_add(1) } else { desc.sequence })
        })();
        self.unlock();
        self.wake_readers();
        result
    }
}
