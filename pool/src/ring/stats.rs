//! `TopicStats`: one topic's line of the namespace report (`crate::stats`).

use super::layout::Policy;
use super::seg::RingSeg;
use crate::sync::Ordering;

/// Statistics of one topic (see `crate::stats`).
#[derive(Debug, Clone)]
pub struct TopicStats {
    pub name: String,
    pub type_name: String,
    pub depth: u32,
    pub policy: Policy,
    pub publishers: u32,
    pub subscribers: u32,
    pub openers: u32,
    pub sent: u64,
    pub misses: u64,
}

impl RingSeg {
    pub fn stats(&self) -> TopicStats {
        let h = self.header();
        let mut subscribers = 0;
        let mut misses = 0;
        for i in 0..self.max_subs as usize {
            let s = self.sub(i);
            // Relaxed: a snapshot for statistics.
            if s.owner.load(Ordering::Relaxed) != 0 {
                subscribers += 1;
                misses += s.misses.load(Ordering::Relaxed);
            }
        }
        TopicStats {
            name: self.name.clone(),
            type_name: self.type_name(),
            depth: self.depth,
            policy: self.policy(),
            publishers: self.publishers().count(),
            subscribers,
            openers: self.openers().count(),
            sent: h.sent.load(Ordering::Relaxed),
            misses,
        }
    }
}
