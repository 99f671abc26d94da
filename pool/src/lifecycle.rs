//! Joining and leaving a namespace: `Namespace::open` registers this process (reclaiming a
//! dead process's entry when the registry is full), `here` gives a forked child its own
//! registration, `reap` releases what dead participants held (slots, topic references, ring
//! locks), and `leave` releases what this process holds, as its death would.
//!
//! These sit above both the namespace's own state (`namespace.rs`) and the topic rings
//! (`ring/`), since a reap spans both; `open` and `here` reap on the way in, so they live here
//! too.

use crate::error::OpenError;
use crate::holders::HolderMask;
use crate::namespace::{open_table, Namespace, PoolConfig, MAX_POOLS};
use crate::pool::Pool;
use crate::registry::{Registry, KIND_PROCESS};
use crate::ring::{topic_names, RingSeg};
use std::borrow::Cow;
use std::path::Path;

/// What a reap did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReapReport {
    /// Dead processes whose holds were released.
    pub processes: u32,
    /// Slots that returned to their pools.
    pub slots_freed: u32,
}

impl Namespace {
    /// Open (creating if needed) the namespace `name`, or the default one
    /// (`$TENSORBUS_NAMESPACE` or `default`), with the default pool configuration.
    /// A name that is not one plain directory name is [`OpenError::BadNamespace`].
    pub fn open(name: Option<&str>) -> Result<Namespace, OpenError> {
        Self::open_dir(&crate::segment::namespace_dir(name)?, PoolConfig::default())
    }

    /// Open the namespace at directory `dir` with `config` (for pools this process creates).
    pub fn open_dir(dir: &Path, config: PoolConfig) -> Result<Namespace, OpenError> {
        let pid = crate::process::current_pid();
        let mut open = open_table();
        if let Some(ns) = open.find(dir, pid) {
            return Ok(ns);
        }
        // Verified (no links, ours, 0700), then rid of temporary files of killed creators.
        crate::nsdir::NsDir::create(dir)?.reclaim_leftovers();
        let registry = Registry::open(dir)?;
        let name = crate::process::name(pid);
        let me = match registry.claim(KIND_PROCESS, &name) {
            // Every entry is taken: dead processes' entries are reclaimed, holds released first.
            Err(OpenError::TooManyHolders { .. }) => registry.claim_dead(KIND_PROCESS, &name, |i| release_everywhere(dir, i))?,
            other => other?,
        };
        let ns = Namespace::new(dir, registry, me, pid, config);
        open.push(&ns);
        drop(open);
        ns.reap();
        Ok(ns)
    }

    /// This process's handle on the same namespace: `self`, or, in a forked child that inherited
    /// `self` from its parent, the child's own registration (created on first use, then shared
    /// by every inherited handle). Inherited handles never act under the parent's holder bit.
    pub fn here(&self) -> Result<Cow<'_, Namespace>, OpenError> {
        if !self.is_inherited() {
            return Ok(Cow::Borrowed(self));
        }
        Namespace::open_dir(self.dir(), self.config().clone()).map(Cow::Owned)
    }

    /// Release the holds of dead processes (and dead reapers' unfinished work), restore their
    /// slots, dissolve topics they were the last users of. Safe to run any time, from anyone.
    pub fn reap(&self) -> ReapReport {
        let ns = match self.here() {
            Ok(ns) => ns,
            Err(_) => return ReapReport::default(), // an unregistered fork child reaps nothing
        };
        if ns.is_closed() {
            return ReapReport::default(); // after `leave` our index may be someone else's
        }
        let _serial = ns.reap_lock();
        let dead = ns.registry().reap_dead_entries(Some(ns.holder_index()));
        let mut report = ReapReport { processes: dead.len() as u32, slots_freed: 0 };
        let mut dead_set = HolderMask::default();
        for &(i, _) in &dead {
            dead_set.insert(i);
        }
        if !dead.is_empty() {
            for id in 0..MAX_POOLS as u8 {
                if let Some(pool) = ns.pool_existing(id) {
                    report.slots_freed += pool.clear_holders(&dead_set);
                }
            }
        }
        // Rings: dead openers, dead subscribers, locks held by the dead.
        for name in topic_names(ns.dir()) {
            if let Ok(ring) = RingSeg::open_existing(ns.dir(), &name) {
                report.slots_freed += ring.reap(&ns, &dead_set);
            }
        }
        for &(d, w) in &dead {
            // Only the entry as we marked it: never one claimed since.
            ns.registry().free_if(d, w);
        }
        if !dead.is_empty() {
            ns.registry().count_reap();
        }
        report
    }

    /// Leave the namespace now (at process exit): release every hold of this process, close
    /// its topics and free its registry entry, exactly as a reap after its death would, but
    /// without waiting for one. Handles that still exist become inert: dropping them does
    /// nothing, and they must not be used to read payloads afterwards. Idempotent.
    pub fn leave(&self) {
        // An inherited handle: the parent leaves, not us.
        if self.is_inherited() {
            return;
        }
        if !self.mark_closed() {
            return;
        }
        // Wait for a reap of ours in flight, so it does not act under our index once freed.
        let _serial = self.reap_lock();
        let me = self.holder_index();
        for id in 0..MAX_POOLS as u8 {
            if let Some(pool) = self.pool_existing(id) {
                let _ = pool.detach_payloads(); // views left behind read zeros, not reused slots
                pool.clear_holder(me);
            }
        }
        for name in topic_names(self.dir()) {
            if let Ok(ring) = RingSeg::open_existing(self.dir(), &name) {
                ring.leave(self);
            }
        }
        self.registry().free(me);
    }
}

/// Release holder `i` everywhere before its entry is reused by a newcomer that had no entry of
/// its own to reap with: its bit in every pool's slot words, its opener and publisher bits in
/// every topic. (Its subscriber entries and a ring lock it held name its old pid, which no
/// longer matches the entry: the ring treats them as a dead process's.)
fn release_everywhere(dir: &Path, i: u32) {
    for id in 0..MAX_POOLS as u8 {
        if let Ok(pool) = Pool::open(dir, id) {
            pool.clear_holder(i);
        }
    }
    for name in topic_names(dir) {
        if let Ok(ring) = RingSeg::open_existing(dir, &name) {
            ring.openers().remove(i);
            ring.publishers().remove(i);
        }
    }
}
