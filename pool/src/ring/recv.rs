//! Receiving: one step of the seqlock cursor (`seqlock::next`), then the subscriber's own hold
//! on the payload slot, which re-checks the slot generation (a recycled slot is a miss, never
//! another frame's data), and the shared cursor's advance.

use super::inline::Delivered;
use super::refs::is_payload;
use super::seg::RingSeg;
use super::seqlock::{self, Next, TAIL_WORDS};
use crate::error::{DescriptorError, RecvError};
use crate::namespace::Namespace;
use crate::sync::Ordering;

impl RingSeg {
    /// Next entry for subscriber `sub` (cursor in `*cursor`), with its slot hold.
    pub(super) fn try_recv(&self, ns: &Namespace, sub: usize, cursor: &mut u64) -> Result<Option<Delivered>, RecvError> {
        let s = self.sub(sub);
        loop {
            let mut tail = [0u64; TAIL_WORDS];
            let Next::Read { desc, lapped } = seqlock::next(self, cursor, &mut tail) else { return Ok(None) };
            if lapped > 0 {
                // Relaxed: statistics.
                s.misses.fetch_add(lapped, Ordering::Relaxed);
            }
            let Some(d) = desc else {
                // Relaxed: statistics.
                s.misses.fetch_add(1, Ordering::Relaxed);
                self.advance(s, *cursor);
                continue;
            };
            let hold = if is_payload(&d) {
                match ns.resolve(&d) {
                    Ok(r) => Some(r),
                    Err(DescriptorError::Stale { .. }) => {
                        // Relaxed: statistics.
                        s.misses.fetch_add(1, Ordering::Relaxed);
                        self.advance(s, *cursor);
                        continue;
                    }
                    Err(e) => return Err(RecvError::Corrupt { topic: self.name.clone(), what: e.to_string() }),
                }
            } else {
                None
            };
            // Relaxed: statistics.
            s.received.fetch_add(1, Ordering::Relaxed);
            self.advance(s, *cursor);
            if hold.is_some() {
                self.release_read(ns, *cursor);
            }
            // `next` left the cursor just past the entry: its position + 1.
            return Ok(Some(Delivered::new(d, tail, hold, *cursor)));
        }
    }
}
