//! A process's handle on a namespace: its registry entry (holder bit), its pools and its hold
//! counts, with narrow accessors for the layers above.
//!
//! The `Namespace` type is defined here, and its operations live with the layer they belong to,
//! so the files depend on each other in one direction only:
//! `namespace.rs` (state, pools, classes) ← `lease.rs` (`SlotMut`, `SlotRef`) ← `ring/` (topic
//! rings, which see the namespace through `registry()`, `pool_existing()`, `holder_index()`,
//! `open_topics()`) ← `lifecycle.rs` (`open`, `here`, `reap`, `leave`: they span pools and rings)
//! ← `acquire.rs` (`try_acquire`, `acquire_timeout`, `resolve`) and `stats.rs` (`stats`). The
//! ring's sends and receives, and its `Namespace::topic`, call `reap` and `resolve` from
//! the files above them (`ring/send.rs`, `ring/recv.rs`, `ring/handles.rs`), never from the files
//! that `lifecycle.rs` itself needs.
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
//!
//! **Growth.** A size class is every pool segment with the same slot size: the configured pool
//! (id = the class's index in the configuration) and the segments `Namespace::grow` adds when
//! the class is exhausted. Growth takes pool ids from the top (15, 14, ...), so it meets the
//! configured classes of other processes (low ids) last, and every creator targets the highest
//! id not yet present: two processes growing at once race for the same file, `link` lets one
//! win, and the other opens the winner's segment, so a race never adds two segments for one
//! need. A segment is added only while the namespace's pool segments stay within
//! [`PoolConfig::max_bytes`]; segments are never removed while the namespace lives.

use crate::error::{AcquireError, GrowthRefused, OpenError};
use crate::pool::Pool;
use crate::registry::{Registry, ST_FREE};
use crate::sync::{AtomicBool, Ordering};
use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

/// The pool geometry this process creates: size classes and the cap on growth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Size classes: (slot size in bytes, number of slots). Pools are created lazily, on the
    /// first claim of their class, so unused classes cost no shared memory.
    pub classes: Vec<(u64, u32)>,
    /// Cap on growth, in bytes: an exhausted class gets another segment of its geometry only
    /// while every pool segment of the namespace, the new one included, stays within this many
    /// bytes. 0 (what [`PoolConfig::parse`] gives) never grows. The configured classes
    /// themselves are always created on demand, whatever the cap.
    pub max_bytes: u64,
}

impl Default for PoolConfig {
    /// `TENSORBUS_POOL_CLASSES` (e.g. `4096x256,1Mx32`) or the built-in classes: 4 KiB x 256,
    /// 64 KiB x 64, 1 MiB x 32 (480p RGB), 8 MiB x 16 (1080p RGB/RGBA), 64 MiB x 4; growth capped
    /// at `TENSORBUS_POOL_MAX_BYTES` (e.g. `2G`; `0` never grows) or 4 times the classes' total
    /// (about 1.6 GiB for the built-in classes, of which a namespace maps only what it uses).
    fn default() -> Self {
        let mut c = std::env::var("TENSORBUS_POOL_CLASSES")
            .ok()
            .and_then(|s| PoolConfig::parse(&s))
            .unwrap_or(PoolConfig { classes: vec![(4 << 10, 256), (64 << 10, 64), (1 << 20, 32), (8 << 20, 16), (64 << 20, 4)], max_bytes: 0 });
        c.max_bytes = std::env::var("TENSORBUS_POOL_MAX_BYTES").ok().and_then(|s| parse_size(&s)).unwrap_or_else(|| c.total_bytes().saturating_mul(4));
        c
    }
}

/// `123`, `4K`, `8M`, `2G` (binary units) as bytes; None if malformed or overflowing.
fn parse_size(t: &str) -> Option<u64> {
    let t = t.trim();
    let (digits, mul) = match t.chars().last()? {
        'K' | 'k' => (&t[..t.len() - 1], 1u64 << 10),
        'M' | 'm' => (&t[..t.len() - 1], 1 << 20),
        'G' | 'g' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

impl PoolConfig {
    /// Parse `SIZExCOUNT,...` with optional K/M/G suffixes. None if malformed. The classes are
    /// exactly what the string names: growth is off (`max_bytes` 0; see
    /// [`with_max_bytes`](Self::with_max_bytes)).
    pub fn parse(s: &str) -> Option<PoolConfig> {
        let mut classes = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (a, b) = part.split_once(['x', 'X'])?;
            let (size, count) = (parse_size(a)?, parse_size(b)?);
            if size == 0 || count == 0 || count > crate::pool::MAX_SLOTS as u64 {
                return None;
            }
            classes.push((size, count as u32));
        }
        classes.sort();
        (!classes.is_empty() && classes.len() <= 16).then_some(PoolConfig { classes, max_bytes: 0 })
    }

    /// The same classes, growth capped at `max_bytes` (see [`PoolConfig::max_bytes`]).
    pub fn with_max_bytes(self, max_bytes: u64) -> PoolConfig {
        PoolConfig { max_bytes, ..self }
    }

    /// Payload bytes of one pool of every configured class (slot sizes as pools round them).
    pub fn total_bytes(&self) -> u64 {
        self.classes.iter().map(|&(size, n)| crate::pool::rounded_slot_size(size).saturating_mul(n as u64)).fold(0, u64::saturating_add)
    }
}

/// The state behind every handle of this process on one namespace.
pub(crate) struct NsInner {
    dir: PathBuf,
    registry: Registry,
    me: u32,
    pid: u32,
    config: PoolConfig,
    pools: Vec<OnceLock<Pool>>,
    pool_init: Mutex<()>,
    /// Serializes this process's growth (see [`Namespace::grow_lock`]).
    growing: Mutex<()>,
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
    closed: AtomicBool,
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

/// This process's open namespaces, one registration per (directory, pid): see [`open_table`].
pub(crate) struct OpenTable(Vec<(PathBuf, u32, Weak<NsInner>)>);

static OPEN: Mutex<OpenTable> = Mutex::new(OpenTable(Vec::new()));

/// The table of this process's open namespaces, locked (`Namespace::open_dir` holds it while it
/// registers, so two threads opening one namespace share one registration).
pub(crate) fn open_table() -> MutexGuard<'static, OpenTable> {
    OPEN.lock().unwrap_or_else(|e| e.into_inner())
}

impl OpenTable {
    /// This process's registration in `dir`, if one is still open.
    pub(crate) fn find(&mut self, dir: &Path, pid: u32) -> Option<Namespace> {
        self.0.retain(|(_, _, w)| w.strong_count() > 0);
        self.0.iter().find(|(d, p, _)| d == dir && *p == pid).and_then(|(_, _, w)| w.upgrade()).map(|inner| Namespace { inner })
    }

    /// Register a namespace just opened (see [`Namespace::new`]).
    pub(crate) fn push(&mut self, ns: &Namespace) {
        self.0.push((ns.inner.dir.clone(), ns.inner.pid, Arc::downgrade(&ns.inner)));
    }
}

/// A handle on a namespace (cheap to clone).
#[derive(Clone, Debug)]
pub struct Namespace {
    inner: Arc<NsInner>,
}

/// Maximum pools per namespace (size classes).
pub const MAX_POOLS: usize = 16;

impl Namespace {
    /// A handle on a fresh registration: this process (`pid`) is holder `me` of `registry` in
    /// `dir`. Used by `Namespace::open_dir` (`lifecycle.rs`) once it has claimed the entry.
    pub(crate) fn new(dir: &Path, registry: Registry, me: u32, pid: u32, config: PoolConfig) -> Namespace {
        let inner = Arc::new(NsInner {
            dir: dir.to_path_buf(),
            registry,
            me,
            pid,
            config,
            pools: (0..MAX_POOLS).map(|_| OnceLock::new()).collect(),
            pool_init: Mutex::new(()),
            growing: Mutex::new(()),
            reaping: Mutex::new(()),
            local: (0..MAX_POOLS).map(|_| OnceLock::new()).collect(),
            topics: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        });
        Namespace { inner }
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
    pub(crate) fn pick_pool(&self, len: u64) -> Result<(u8, &Pool), AcquireError> {
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

    /// The segments of pool `id`'s size class that this process has opened, in claim order:
    /// `id` itself, then every other opened pool with the same slot size by descending id (the
    /// order growth adds them), so claims fill the first segments and reach a grown one only
    /// under pressure. Empty if `id` is not open.
    pub(crate) fn class_pools(&self, id: u8) -> impl Iterator<Item = (u8, &Pool)> + '_ {
        let inner = &self.inner;
        let first = inner.pools.get(id as usize).and_then(|p| p.get());
        let size = first.map_or(0, |p| p.slot_size());
        let rest = (0..MAX_POOLS as u8).rev().filter(move |&j| j != id).filter_map(move |j| inner.pools[j as usize].get().filter(|p| p.slot_size() == size).map(|p| (j, p)));
        first.map(|p| (id, p)).into_iter().chain(first.is_some().then_some(rest).into_iter().flatten())
    }

    /// Open every pool segment that exists, so segments other processes grew join their class.
    pub(crate) fn probe_pools(&self) {
        self.inner.probe_pools()
    }

    /// Serializes this process's growth: a thread that finds its class exhausted takes it, then
    /// looks once more (another thread may have grown the class meanwhile) before it grows.
    pub(crate) fn grow_lock(&self) -> MutexGuard<'_, ()> {
        self.inner.growing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes of every pool segment of the namespace (those that exist; probes first).
    pub fn pool_bytes(&self) -> u64 {
        self.inner.probe_pools();
        self.inner.pools.iter().filter_map(|p| p.get()).map(segment_bytes).fold(0, u64::saturating_add)
    }

    /// The pool ids this process has opened, as a bit mask (bit `id`).
    pub(crate) fn opened_mask(&self) -> u16 {
        (0..MAX_POOLS).filter(|&j| self.inner.pools[j].get().is_some()).fold(0, |m, j| m | 1 << j)
    }

    /// Grow pool `id`'s size class by a segment (same slot size and count, a new pool id), or
    /// say why not: the cap ([`PoolConfig::max_bytes`]), no pool id left, or the segment could
    /// not be made (a full /dev/shm). `tried` holds the pools (bits, as
    /// [`opened_mask`](Self::opened_mask)) the caller found full. Returns the id of a segment
    /// of the class to try: the new one, or one another process added meanwhile (then nothing
    /// is created: growth follows need, not the number of processes that noticed it).
    ///
    /// The new id is the highest one not present. Two processes growing at once therefore race
    /// for the same file, and `Segment::open_or_create` lets one `link` win and the other open
    /// the winner's segment; a racer that grew another class into that id sends us on to the
    /// next one. Call with [`grow_lock`](Self::grow_lock) held.
    pub(crate) fn grow(&self, id: u8, tried: u16) -> Result<u8, GrowthRefused> {
        let inner = &self.inner;
        let like = inner.pool(id).map_err(|e| GrowthRefused::Failed { reason: e.to_string() })?;
        let (size, slots, need) = (like.slot_size(), like.slots(), segment_bytes(like));
        let cap = inner.config.max_bytes;
        let mut failed = None;
        // Ids this process configures stay theirs (their pools may not exist yet).
        for target in (inner.config.classes.len().min(MAX_POOLS)..MAX_POOLS).rev() {
            // Counted afresh before each creation, the pools racers just made included
            // (`pool_bytes` probes).
            let used = self.pool_bytes();
            let fresh = self.class_pools(id).map(|(j, _)| j).find(|&j| tried & (1 << j) == 0);
            if let Some(j) = fresh {
                return Ok(j);
            }
            if inner.pools[target].get().is_some() {
                continue; // present, of this class and full, or of another class
            }
            if used.saturating_add(need) > cap {
                return Err(GrowthRefused::Cap { cap, used, segment: need });
            }
            let _g = inner.pool_init.lock().unwrap_or_else(|e| e.into_inner());
            match Pool::open_or_create(&inner.dir, target as u8, size, slots) {
                Ok(p) => {
                    if inner.pools[target].get_or_init(|| p).slot_size() == size {
                        return Ok(target as u8);
                    }
                    // A racer grew another class into this id: try the next.
                }
                Err(e @ OpenError::NoSpace { .. }) => return Err(GrowthRefused::Failed { reason: e.to_string() }),
                // A foreign or broken file under this name: leave it, try the next id.
                Err(e) => failed = Some(e.to_string()),
            }
        }
        Err(match failed {
            Some(reason) => GrowthRefused::Failed { reason },
            None => GrowthRefused::NoId { limit: MAX_POOLS },
        })
    }

    /// True once `leave` ran.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
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

    /// Pool `id`, which must have been opened already (a lease exists on it).
    pub(crate) fn pool_ref(&self, id: u8) -> &Pool {
        self.inner.pool_ref(id)
    }

    /// This process's hold counts on the slots of pool `id` (opened already).
    pub(crate) fn local(&self, id: u8) -> &[Mutex<u32>] {
        self.inner.local(id)
    }

    /// One more hold of this process on `slot` (a cloned lease).
    pub(crate) fn retain_local(&self, pool: u8, slot: u32) {
        self.inner.retain_local(pool, slot)
    }

    /// One hold fewer; the last one clears this process's bit in the slot word.
    pub(crate) fn release_local(&self, pool: u8, slot: u32) {
        self.inner.release_local(pool, slot)
    }

    /// Serializes this process's reaps and `leave` (see `NsInner::reaping`).
    pub(crate) fn reap_lock(&self) -> MutexGuard<'_, ()> {
        self.inner.reaping.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Mark this registration closed (`leave`); false if it already was.
    pub(crate) fn mark_closed(&self) -> bool {
        // AcqRel: the first caller does the work; later drops see the flag.
        !self.inner.closed.swap(true, Ordering::AcqRel)
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

/// Bytes of a pool's segment: its validated data offset (headers) plus the payload area.
fn segment_bytes(p: &Pool) -> u64 {
    p.header().data_offset.saturating_add(p.slot_size().saturating_mul(p.slots() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_classes_do_not_grow_unless_asked() {
        let c = PoolConfig::parse("1Mx2,4Kx4").unwrap();
        assert_eq!((c.classes.clone(), c.max_bytes), (vec![(4096, 4), (1 << 20, 2)], 0));
        assert_eq!(c.total_bytes(), 4 * 4096 + 2 * (1 << 20));
        assert_eq!(c.with_max_bytes(1 << 30).max_bytes, 1 << 30);
        // Slot sizes count as pools round them (whole pages).
        assert_eq!(PoolConfig::parse("100x3").unwrap().total_bytes(), 3 * 4096);
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(["0", "512", "4K", "8m", "2G", " 3k "].map(parse_size), [Some(0), Some(512), Some(4096), Some(8 << 20), Some(2 << 30), Some(3072)]);
        assert_eq!(["", "K", "-1", "1.5G", "99999999999G"].map(parse_size), [None; 5]);
    }
}
