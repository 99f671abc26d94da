//! The namespace report behind `pool_stats()` and `tensorbus pool stat`: pools (slot size,
//! slots total/used), holders by pid, and per topic depth, publishers, subscribers, sent, misses.
//! A size class that grew shows one row per segment; each added segment names the class's
//! first pool (`grows`), and the report carries the pool memory and its cap.

use crate::namespace::{Namespace, MAX_POOLS};
use crate::registry::{KIND_PROCESS, KIND_TOPIC};
use crate::ring::{topic_names, RingSeg, TopicStats};

/// One pool's occupancy.
#[derive(Debug, Clone)]
pub struct PoolStats {
    pub id: u8,
    pub slot_size: u64,
    pub slots: u32,
    pub used: u32,
    /// For a segment added to a size class that grew: the class's first pool (the lowest id
    /// with the same slot size). None for a class's first pool.
    pub grows: Option<u8>,
    /// (holder description, slots held).
    pub holders: Vec<(String, u32)>,
}

/// A registered process or topic holder.
#[derive(Debug, Clone)]
pub struct ParticipantStats {
    pub index: u32,
    pub pid: u32,
    pub name: String,
    pub is_topic: bool,
    pub alive: bool,
}

/// Everything a namespace reports.
#[derive(Debug, Clone)]
pub struct NamespaceStats {
    pub dir: String,
    pub pools: Vec<PoolStats>,
    pub participants: Vec<ParticipantStats>,
    pub topics: Vec<TopicStats>,
    pub reaps: u64,
    /// Bytes of every pool segment of the namespace.
    pub pool_bytes: u64,
    /// This process's cap on growth (`PoolConfig::max_bytes`; 0: classes never grow).
    pub max_bytes: u64,
}

impl NamespaceStats {
    /// Slots in use over all pools.
    pub fn used_slots(&self) -> u32 {
        self.pools.iter().map(|p| p.used).sum()
    }
}

impl Namespace {
    /// A snapshot of pools, holders and topics.
    pub fn stats(&self) -> NamespaceStats {
        collect(self)
    }
}

fn collect(ns: &Namespace) -> NamespaceStats {
    let reg = ns.registry();
    let snaps = reg.snapshots();
    let participants = snaps
        .iter()
        .map(|s| ParticipantStats {
            index: s.index,
            pid: s.pid,
            name: s.name.clone(),
            is_topic: s.kind == KIND_TOPIC,
            // Judged as the reaper judges (PID namespace, own entry, unreadable /proc).
            alive: s.kind != KIND_PROCESS || reg.process_alive(s.index, reg.entry(s.index).word.load(crate::sync::Ordering::Acquire)),
        })
        .collect();
    let mut pools = Vec::new();
    for id in 0..MAX_POOLS as u8 {
        let Some(pool) = ns.pool_existing(id) else { continue };
        let (used, per) = pool.usage();
        let holders = per
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(i, &n)| {
                let s = reg.snapshot(i as u32);
                let who = if s.kind == KIND_TOPIC { format!("topic {}", s.name) } else { format!("pid {} {}", s.pid, s.name) };
                (who, n)
            })
            .collect();
        pools.push(PoolStats { id, slot_size: pool.slot_size(), slots: pool.slots(), used, grows: None, holders });
    }
    let firsts: Vec<Option<u8>> = pools.iter().map(|q| pools.iter().filter(|p| p.slot_size == q.slot_size).map(|p| p.id).min().filter(|&first| first != q.id)).collect();
    for (p, first) in pools.iter_mut().zip(firsts) {
        p.grows = first;
    }
    let topics = topic_names(ns.dir()).iter().filter_map(|n| RingSeg::open_existing(ns.dir(), n).ok()).map(|r| r.stats()).collect();
    NamespaceStats { dir: ns.dir().display().to_string(), pools, participants, topics, reaps: reg.reaps(), pool_bytes: ns.pool_bytes(), max_bytes: ns.config().max_bytes }
}
