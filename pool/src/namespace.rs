//! A process's handle on a namespace: its registry entry (holder bit), its pools, topic rings,
//! reaping and statistics.
//!
//! One `NsInner` exists per (namespace directory, process); every `Namespace`, lease and topic
//! handle shares it, so all holds of this process use the one holder bit. Opening registers the
//! process and reaps dead participants; dropping the last handle unregisters it.
//!
//! **fork.** A forked child inherits handles whose `NsInner` is its parent's: they carry the
//! parent's holder bit. Such inherited handles are inert in the child: dropping them releases
//! nothing, and every operation that claims, resolves, sends or reaps goes through
//! [`Namespace::here`], which gives the child its own registration (own holder bit) on first
//! use. A child killed at any point therefore leaks nothing and clears nothing of its parent's.
//!
//! **Geometry.** The pool a payload goes to is chosen by the real geometry of the pools that
//! exist (their validated headers), not by this process's configuration alone: two processes
//! with different `TENSORBUS_POOL_CLASSES` share the pools the first one created, and a lease is
//! never longer than its slot.

use crate::descriptor::{kind, Descriptor, MAX_DIMS};
use crate::error::{AcquireError, DescriptorError, HolderInfo, OpenError};
use crate::lease::{SlotMut, SlotRef};
use crate::pool::Pool;
use crate::registry::{Registry, KIND_PROCESS, KIND_TOPIC, ST_FREE};
use crate::ring::RingSeg;
use crate::sync::Ordering;
use crate::word;
use std::any::Any;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Size classes: (slot size in bytes, number of slots). Pools are created lazily, on the first
/// claim of their class, so unused classes cost no shared memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    pub classes: Vec<(u64, u32)>,
}

impl Default for PoolConfig {
    /// `TENSORBUS_POOL_CLASSES` (e.g. `4096x256,1Mx32`) or the built-in classes: 4 KiB x 256,
    /// 64 KiB x 64, 1 MiB x 32 (480p RGB), 8 MiB x 16 (1080p RGB/RGBA), 64 MiB x 4.
    fn default() -> Self {
        if let Ok(s) = std::env::var("TENSORBUS_POOL_CLASSES") {
            if let Some(c) = PoolConfig::parse(&s) {
                return c;
            }
        }
        PoolConfig { classes: vec![(4 << 10, 256), (64 << 10, 64), (1 << 20, 32), (8 << 20, 16), (64 << 20, 4)] }
    }
}

impl PoolConfig {
    /// Parse `SIZExCOUNT,...` with optional K/M/G suffixes. None if malformed.
    pub fn parse(s: &str) -> Option<PoolConfig> {
        let num = |t: &str| -> Option<u64> {
            let t = t.trim();
            let (digits, mul) = match t.chars().last()? {
                'K' | 'k' => (&t[..t.len() - 1], 1u64 << 10),
                'M' | 'm' => (&t[..t.len() - 1], 1 << 20),
                'G' | 'g' => (&t[..t.len() - 1], 1 << 30),
                _ => (t, 1),
            };
            digits.parse::<u64>().ok()?.checked_mul(mul)
        };
        let mut classes = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (a, b) = part.split_once(['x', 'X'])?;
            let (size, count) = (num(a)?, num(b)?);
            if size == 0 || count == 0 || count > crate::pool::MAX_SLOTS as u64 {
                return None;
            }
            classes.push((size, count as u32));
        }
        classes.sort();
        (!classes.is_empty() && classes.len() <= 16).then_some(PoolConfig { classes })
    }
}

/// What a reap did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReapReport {
    /// Dead processes whose holds were released.
    pub processes: u32,
    /// Slots that returned to their pools.
    pub slots_freed: u32,
}

pub(crate) struct NsInner {
    pub(crate) dir: PathBuf,
    pub(crate) registry: Registry,
    pub(crate) me: u32,
    pid: u32,
    config: PoolConfig,
    pools: Vec<OnceLock<Pool>>,
    pool_init: Mutex<()>,
    /// Serializes this process's reaps: two threads reaping at once could both act on one dead
    /// entry, and the second would free (or clear the bits of) a newcomer that claimed it in
    /// between.
    reaping: Mutex<()>,
    /// Per pool, per slot: how many holds this process has (guards our bit).
    local: Vec<OnceLock<Box<[Mutex<u32>]>>>,
    /// This process's open topics (see [`Namespace::open_topics`]).
    topics: Mutex<OpenTopics>,
    /// Set by `Namespace::leave`: this process no longer holds anything here; remaining
    /// handles are inert. Acquire/Release: pairs the flag with the clears `leave` made.
    closed: crate::sync::AtomicBool,
}

impl std::fmt::Debug for NsInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace").field("dir", &self.dir).field("holder", &self.me).finish()
    }
}

/// This process's open topics by name, as weak handles on the ring module's per-process topic
/// state. Type-erased: this file sits below the ring module (which builds on it), so it stores
/// what the ring module gives it without naming the type.
pub(crate) type OpenTopics = Vec<(String, Weak<dyn Any + Send + Sync>)>;

static OPEN: Mutex<Vec<(PathBuf, u32, Weak<NsInner>)>> = Mutex::new(Vec::new());

/// A handle on a namespace (cheap to clone).
#[derive(Clone, Debug)]
pub struct Namespace {
    pub(crate) inner: Arc<NsInner>,
}

/// Maximum pools per namespace (size classes).
pub const MAX_POOLS: usize = 16;

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
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|(_, _, w)| w.strong_count() > 0);
        if let Some(inner) = open.iter().find(|(d, p, _)| d == dir && *p == pid).and_then(|(_, _, w)| w.upgrade()) {
            return Ok(Namespace { inner });
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
        let inner = Arc::new(NsInner {
            dir: dir.to_path_buf(),
            registry,
            me,
            pid,
            config,
            pools: (0..MAX_POOLS).map(|_| OnceLock::new()).collect(),
            pool_init: Mutex::new(()),
            reaping: Mutex::new(()),
            local: (0..MAX_POOLS).map(|_| OnceLock::new()).collect(),
            topics: Mutex::new(Vec::new()),
            closed: crate::sync::AtomicBool::new(false),
        });
        open.push((dir.to_path_buf(), pid, Arc::downgrade(&inner)));
        drop(open);
        let ns = Namespace { inner };
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
        Namespace::open_dir(&self.inner.dir, self.inner.config.clone()).map(Cow::Owned)
    }

    /// True in a forked child for a handle its parent opened (see [`Namespace::here`]).
    pub fn is_inherited(&self) -> bool {
        self.inner.is_inherited()
    }

    /// The namespace directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// This process's holder index (its bit in slot words).
    pub fn holder_index(&self) -> u32 {
        self.inner.me
    }

    /// Size classes used for pools this process creates.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// Pool index for a payload of `len` bytes, or None if it fits no class in force: the pools
    /// that exist (by their real geometry) and the configured classes not created yet.
    pub fn class_for(&self, len: u64) -> Option<u8> {
        self.pick_pool(len).ok().map(|(id, _)| id)
    }

    /// Largest payload any class in force holds.
    pub fn max_payload(&self) -> u64 {
        self.classes_in_force().iter().map(|c| c.0).max().unwrap_or(0)
    }

    /// The size classes in force, as (slot size, slots): the geometry of every pool that exists
    /// (from its header), and this process's configured classes for pool ids not created yet.
    pub fn classes_in_force(&self) -> Vec<(u64, u32)> {
        self.inner.probe_pools();
        (0..MAX_POOLS as u8).filter_map(|id| self.inner.class_guess(id)).collect()
    }

    /// The pool for a payload of `len` bytes: the smallest slot in force that holds it. A
    /// configured class is a guess until its pool is opened (another process may have created
    /// it with other geometry); the answer is always checked against the real header.
    fn pick_pool(&self, len: u64) -> Result<(u8, &Pool), AcquireError> {
        let inner = &self.inner;
        // Fast path (every claim): the configured classes in order (sorted by size); the first
        // whose known geometry holds `len` is checked against its real header, as below.
        for id in 0..inner.config.classes.len().min(MAX_POOLS) as u8 {
            match inner.class_guess(id) {
                Some((size, _)) if size >= len => {
                    let pool = inner.pool(id)?;
                    if len <= pool.slot_size() {
                        return Ok((id, pool));
                    }
                    break; // another configuration made this pool: search everything
                }
                _ => {}
            }
        }
        let mut probed = false;
        // Each round opens at least one more pool or probes once, so this ends.
        for _ in 0..=2 * MAX_POOLS {
            let best = (0..MAX_POOLS as u8).filter_map(|id| inner.class_guess(id).filter(|&(size, _)| size >= len).map(|(size, _)| (size, id))).min();
            match best {
                Some((_, id)) => {
                    let pool = inner.pool(id)?;
                    if len <= pool.slot_size() {
                        return Ok((id, pool));
                    }
                    // The guess was wrong (another configuration made this pool): it is known
                    // now, so the next round skips it.
                }
                None if !probed => {
                    // Pools other processes created beyond our configuration may fit.
                    inner.probe_pools();
                    probed = true;
                }
                None => break,
            }
        }
        Err(AcquireError::NoClass { requested: len, classes: self.classes_in_force() })
    }

    /// Claim a writable slot of at least `len` bytes, failing at once when the pool is full
    /// (after one reap). The error names who holds the slots.
    pub fn try_acquire(&self, len: u64) -> Result<SlotMut, AcquireError> {
        let ns = self.here()?;
        if ns.inner.is_closed() {
            return Err(AcquireError::Closed);
        }
        let (id, pool) = ns.pick_pool(len)?;
        if let Some(m) = ns.claim_in(pool, id, len) {
            return Ok(m);
        }
        // Exhausted: a dead process may be sitting on slots.
        if ns.reap().slots_freed > 0 {
            if let Some(m) = ns.claim_in(pool, id, len) {
                return Ok(m);
            }
        }
        Err(AcquireError::Exhausted { pool: id, slot_size: pool.slot_size(), slots: pool.slots(), holders: ns.holders_of(pool) })
    }

    /// Claim a slot, waiting up to `timeout` for one to be freed.
    pub fn acquire_timeout(&self, len: u64, timeout: Duration) -> Result<SlotMut, AcquireError> {
        let ns = self.here()?;
        ns.acquire_timeout_here(len, timeout)
    }

    fn acquire_timeout_here(&self, len: u64, timeout: Duration) -> Result<SlotMut, AcquireError> {
        let start = Instant::now();
        match self.try_acquire(len) {
            Err(AcquireError::Exhausted { pool: id, .. }) => {
                let pool = self.inner.pool(id)?;
                let h = pool.header();
                let mut last_reap = Instant::now();
                loop {
                    // SeqCst: Dekker pair with `Pool::release` (freed bump, then waiters load).
                    h.waiters.fetch_add(1, Ordering::SeqCst);
                    let seen = h.freed.load(Ordering::SeqCst);
                    let got = self.claim_in(pool, id, len);
                    if got.is_none() {
                        let left = timeout.saturating_sub(start.elapsed());
                        if !left.is_zero() {
                            crate::futex::wait(&h.freed, seen, left.min(Duration::from_millis(50)));
                        }
                    }
                    h.waiters.fetch_sub(1, Ordering::SeqCst);
                    if let Some(m) = got {
                        return Ok(m);
                    }
                    if start.elapsed() >= timeout {
                        return Err(AcquireError::Timeout { pool: id, slot_size: pool.slot_size(), waited_ms: start.elapsed().as_millis() as u64, holders: self.holders_of(pool) });
                    }
                    if last_reap.elapsed() > Duration::from_millis(100) {
                        self.reap();
                        last_reap = Instant::now();
                    }
                }
            }
            other => other,
        }
    }

    fn claim_in(&self, pool: &Pool, id: u8, len: u64) -> Option<SlotMut> {
        // The lease invariant: a lease never reaches past its slot (pick_pool chose the pool by
        // its real header; this holds whatever the caller did).
        if len > pool.slot_size() {
            return None;
        }
        let counts = self.inner.local(id);
        let (slot, generation) = pool.try_claim(self.inner.me)?;
        *counts[slot as usize].lock().unwrap_or_else(|e| e.into_inner()) = 1;
        Some(SlotMut { ns: self.inner.clone(), pool: id, slot, generation, len, ptr: pool.payload_ptr(slot), capacity: pool.slot_size(), done: false })
    }

    fn holders_of(&self, pool: &Pool) -> Vec<HolderInfo> {
        let (_, per) = pool.usage();
        let mut out = Vec::new();
        for (i, &n) in per.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let s = self.inner.registry.snapshot(i as u32);
            let pid = if s.kind == KIND_TOPIC { 0 } else { s.pid };
            out.push(HolderInfo { pid, name: s.name, slots: n as usize });
        }
        out
    }

    /// Take a read-only hold on the slot a descriptor names. Every field is validated; a
    /// recycled slot is `DescriptorError::Stale`, never another frame's data.
    pub fn resolve(&self, d: &Descriptor) -> Result<SlotRef, DescriptorError> {
        match self.here() {
            Ok(Cow::Borrowed(ns)) => ns.resolve_here(d),
            Ok(Cow::Owned(ns)) => ns.resolve_here(d),
            // A fork child that cannot register cannot hold anything: nothing resolves.
            Err(_) => Err(DescriptorError::BadPool { pool: d.pool }),
        }
    }

    fn resolve_here(&self, d: &Descriptor) -> Result<SlotRef, DescriptorError> {
        if d.kind == kind::INLINE {
            return Err(DescriptorError::Inline);
        }
        if d.kind > kind::MAX {
            return Err(DescriptorError::BadField { field: "kind", value: d.kind as u64 });
        }
        if d.ndim as usize > MAX_DIMS {
            return Err(DescriptorError::BadField { field: "ndim", value: d.ndim as u64 });
        }
        if d.pool as usize >= MAX_POOLS {
            return Err(DescriptorError::BadPool { pool: d.pool });
        }
        let pool = self.inner.pool_existing(d.pool).ok_or(DescriptorError::BadPool { pool: d.pool })?;
        if d.slot >= pool.slots() {
            return Err(DescriptorError::BadSlot { pool: d.pool, slot: d.slot, slots: pool.slots() });
        }
        if d.len > pool.slot_size() {
            return Err(DescriptorError::BadLength { len: d.len, slot_size: pool.slot_size() });
        }
        let counts = self.inner.local(d.pool);
        let s = pool.slot(d.slot);
        let stale = |found| DescriptorError::Stale { pool: d.pool, slot: d.slot, expected: d.generation, found };
        let mut count = counts[d.slot as usize].lock().unwrap_or_else(|e| e.into_inner());
        if *count > 0 {
            // We hold the bit already, so the slot cannot change under us: check it directly.
            // Acquire: pairs with freeze's Release (the payload may have been frozen since).
            let w = s.word.load(Ordering::Acquire);
            let g = s.generation.load(Ordering::Relaxed);
            if word::state(w) != word::READY || g != d.generation {
                return Err(stale(g));
            }
        } else {
            word::add_holder(&s.word, self.inner.me, word::tag_of(d.generation)).map_err(|_| stale(s.generation.load(Ordering::Relaxed)))?;
            // Relaxed: ordered after add_holder's Acquire; stable while we hold the bit.
            let g = s.generation.load(Ordering::Relaxed);
            if g != d.generation {
                pool.release(d.slot, self.inner.me);
                return Err(stale(g));
            }
        }
        *count += 1;
        Ok(SlotRef { ns: self.inner.clone(), pool: d.pool, slot: d.slot, generation: d.generation, len: d.len, ptr: pool.payload_ro(d.slot) })
    }

    /// Release the holds of dead processes (and dead reapers' unfinished work), restore their
    /// slots, dissolve topics they were the last users of. Safe to run any time, from anyone.
    pub fn reap(&self) -> ReapReport {
        let ns = match self.here() {
            Ok(ns) => ns,
            Err(_) => return ReapReport::default(), // an unregistered fork child reaps nothing
        };
        let inner = &ns.inner;
        if inner.is_closed() {
            return ReapReport::default(); // after `leave` our index may be someone else's
        }
        let _serial = inner.reaping.lock().unwrap_or_else(|e| e.into_inner());
        let dead = inner.registry.reap_dead_entries(Some(inner.me));
        let mut report = ReapReport { processes: dead.len() as u32, slots_freed: 0 };
        let dead_mask: u64 = dead.iter().fold(0, |m, &(i, _)| m | (1u64 << i));
        for id in 0..MAX_POOLS as u8 {
            if let Some(pool) = inner.pool_existing(id) {
                for &(d, _) in &dead {
                    report.slots_freed += pool.clear_holder(d);
                }
            }
        }
        // Rings: dead openers, dead subscribers, locks held by the dead.
        for name in crate::ring::topic_names(&inner.dir) {
            if let Ok(ring) = RingSeg::open_existing(&inner.dir, &name) {
                report.slots_freed += ring.reap(&ns, dead_mask);
            }
        }
        for &(d, w) in &dead {
            // Only the entry as we marked it: never one claimed since.
            inner.registry.free_if(d, w);
        }
        if !dead.is_empty() {
            inner.registry.count_reap();
        }
        report
    }

    /// Leave the namespace now (at process exit): release every hold of this process, close
    /// its topics and free its registry entry, exactly as a reap after its death would, but
    /// without waiting for one. Handles that still exist become inert: dropping them does
    /// nothing, and they must not be used to read payloads afterwards. Idempotent.
    pub fn leave(&self) {
        let inner = &self.inner;
        // An inherited handle: the parent leaves, not us.
        if inner.is_inherited() {
            return;
        }
        // AcqRel: the first caller does the work; later drops see the flag.
        if inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        // Wait for a reap of ours in flight, so it does not act under our index once freed.
        let _serial = inner.reaping.lock().unwrap_or_else(|e| e.into_inner());
        let me = inner.me;
        for id in 0..MAX_POOLS as u8 {
            if let Some(pool) = inner.pool_existing(id) {
                let _ = pool.detach_payloads(); // views left behind read zeros, not reused slots
                pool.clear_holder(me);
            }
        }
        for name in crate::ring::topic_names(&inner.dir) {
            if let Ok(ring) = RingSeg::open_existing(&inner.dir, &name) {
                ring.leave(self);
            }
        }
        inner.registry.free(me);
    }

    /// True once `leave` ran.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// A snapshot of pools, holders and topics.
    pub fn stats(&self) -> crate::stats::NamespaceStats {
        crate::stats::collect(self)
    }

    pub(crate) fn pool_existing(&self, id: u8) -> Option<&Pool> {
        self.inner.pool_existing(id)
    }

    /// The namespace's registry of holders (processes and topics).
    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// This process's table of open topics (the ring module keeps one `TopicShared` per name,
    /// shared by every handle here). Locked for as long as the guard lives.
    pub(crate) fn open_topics(&self) -> MutexGuard<'_, OpenTopics> {
        self.inner.topics.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl NsInner {
    /// Pool `id`, creating its segment if needed.
    pub(crate) fn pool(&self, id: u8) -> Result<&Pool, OpenError> {
        if let Some(p) = self.pools[id as usize].get() {
            return Ok(p);
        }
        let _g = self.pool_init.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = self.pools[id as usize].get() {
            return Ok(p);
        }
        let p = match self.config.classes.get(id as usize) {
            Some(&(size, slots)) => Pool::open_or_create(&self.dir, id, size, slots)?,
            // A pool id beyond our configuration: only one another process created.
            None => Pool::open(&self.dir, id)?,
        };
        Ok(self.pools[id as usize].get_or_init(|| p))
    }

    /// Pool `id` if its segment exists (never creates).
    pub(crate) fn pool_existing(&self, id: u8) -> Option<&Pool> {
        if (id as usize) >= MAX_POOLS {
            return None;
        }
        if let Some(p) = self.pools[id as usize].get() {
            return Some(p);
        }
        let _g = self.pool_init.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = self.pools[id as usize].get() {
            return Some(p);
        }
        let p = Pool::open(&self.dir, id).ok()?;
        Some(self.pools[id as usize].get_or_init(|| p))
    }

    /// Pool `id`, which must have been opened already (a lease exists on it).
    pub(crate) fn pool_ref(&self, id: u8) -> &Pool {
        self.pools[id as usize].get().expect("a lease implies an opened pool")
    }

    pub(crate) fn local(&self, id: u8) -> &[Mutex<u32>] {
        let slots = self.pool_ref(id).slots();
        self.local[id as usize].get_or_init(|| (0..slots).map(|_| Mutex::new(0)).collect())
    }

    pub(crate) fn retain_local(&self, pool: u8, slot: u32) {
        if self.is_inherited() {
            return; // a fork child's copy of its parent's hold: inert (see module docs)
        }
        *self.local(pool)[slot as usize].lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    /// True in a forked child: this registration (and its holder bit) is the parent's.
    pub(crate) fn is_inherited(&self) -> bool {
        self.pid != crate::process::current_pid()
    }

    /// Open every pool segment that exists (pools other configurations created).
    fn probe_pools(&self) {
        for id in 0..MAX_POOLS as u8 {
            self.pool_existing(id);
        }
    }

    /// (slot size, slots) of pool `id`: its real geometry if opened, else this process's
    /// configured class for it (rounded as `Pool` rounds it), else None.
    fn class_guess(&self, id: u8) -> Option<(u64, u32)> {
        if let Some(p) = self.pools[id as usize].get() {
            return Some((p.slot_size(), p.slots()));
        }
        self.config.classes.get(id as usize).map(|&(size, slots)| (crate::pool::rounded_slot_size(size), slots))
    }

    pub(crate) fn is_closed(&self) -> bool {
        // Acquire: pairs with leave's swap.
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn release_local(&self, pool: u8, slot: u32) {
        if self.is_closed() {
            return; // `leave` released everything; our bit may belong to another process now
        }
        if self.is_inherited() {
            // A fork child dropping a handle it inherited: the hold is the parent's, which
            // still reads the slot. Clearing the bit here handed the slot to a new writer.
            return;
        }
        let counts = self.local(pool);
        let mut c = counts[slot as usize].lock().unwrap_or_else(|e| e.into_inner());
        *c = c.saturating_sub(1);
        if *c == 0 {
            self.pool_ref(pool).release(slot, self.me);
        }
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
    for name in crate::ring::topic_names(dir) {
        if let Ok(ring) = RingSeg::open_existing(dir, &name) {
            let h = ring.header();
            // AcqRel: as every opener/publisher bit change (see ring.rs).
            h.openers.fetch_and(!(1u64 << i), Ordering::AcqRel);
            h.publishers.fetch_and(!(1u64 << i), Ordering::AcqRel);
        }
    }
}

impl Drop for NsInner {
    fn drop(&mut self) {
        if self.is_inherited() || self.is_closed() {
            return; // a forked child must not unregister its parent; `leave` already did it
        }
        // Every lease and topic handle is gone (they hold Arcs), so our bits should be clear;
        // clear defensively, then free the entry.
        for id in 0..MAX_POOLS as u8 {
            if let Some(p) = self.pools[id as usize].get() {
                p.clear_holder(self.me);
            }
        }
        let e = self.registry.entry(self.me);
        // Acquire: see our own entry as last written. Free it only if it is still ours.
        let w = e.word.load(Ordering::Acquire);
        if crate::registry::st(w) != ST_FREE && crate::registry::pid(w) == self.pid {
            self.registry.free(self.me);
        }
    }
}
