//! Claiming slots (`try_acquire`, `acquire_timeout`: a `SlotMut`) and resolving descriptors
//! (`resolve`: a `SlotRef`), with the per-process hold counts that decide when this process's
//! bit in a slot word is set and cleared. A claim tries its size class's first segment, then
//! the class's other segments (first ones first), a reap, and growing the class by a segment
//! (`Namespace::grow`, within `PoolConfig::max_bytes`) before it is an error that names who
//! holds the slots of every segment, and why the class did not grow.

use crate::descriptor::{kind, Descriptor, MAX_DIMS};
use crate::error::{AcquireError, DescriptorError, GrowthRefused, HolderInfo};
use crate::lease::{SlotMut, SlotRef};
use crate::namespace::{Namespace, MAX_POOLS};
use crate::pool::Pool;
use crate::registry::KIND_TOPIC;
use crate::sync::{AtomicU32, Ordering};
use crate::word;
use std::borrow::Cow;
use std::time::{Duration, Instant};

impl Namespace {
    /// Claim a writable slot of at least `len` bytes, failing at once when its size class is
    /// full: after every segment of the class, one reap, and growing the class by a segment
    /// where the cap allows (see `Namespace::grow`). The error names who holds the slots.
    pub fn try_acquire(&self, len: u64) -> Result<SlotMut, AcquireError> {
        let ns = self.here()?;
        if ns.is_closed() {
            return Err(AcquireError::Closed);
        }
        let (id, pool) = ns.pick_pool(len)?;
        if let Some(m) = ns.claim_in(pool, id, len) {
            return Ok(m);
        }
        ns.claim_exhausted(id, len)
    }

    /// The slow path of a claim whose first segment (`id`) is full: the class's other segments,
    /// segments other processes grew, a reap, then growth.
    fn claim_exhausted(&self, id: u8, len: u64) -> Result<SlotMut, AcquireError> {
        if let Some(m) = self.claim_class(id, len) {
            return Ok(m);
        }
        self.probe_pools();
        if let Some(m) = self.claim_class(id, len) {
            return Ok(m);
        }
        // A dead process may be sitting on slots.
        if self.reap().slots_freed > 0 {
            if let Some(m) = self.claim_class(id, len) {
                return Ok(m);
            }
        }
        let refused = {
            let _serial = self.grow_lock();
            // Another thread or process may have grown the class (or freed a slot) meanwhile.
            self.probe_pools();
            loop {
                let tried = self.opened_mask();
                if let Some(m) = self.claim_class(id, len) {
                    return Ok(m);
                }
                // Each round opens at least one more pool (or ends), so this ends.
                if let Err(r) = self.grow(id, tried) {
                    break r;
                }
            }
        };
        Err(self.exhausted(id, Some(refused)))
    }

    /// Claim in any segment of pool `id`'s class, first segments first.
    fn claim_class(&self, id: u8, len: u64) -> Option<SlotMut> {
        self.class_pools(id).find_map(|(j, pool)| self.claim_in(pool, j, len))
    }

    /// The `Exhausted` error of pool `id`'s class, naming the holders of all its segments.
    fn exhausted(&self, id: u8, refused: Option<GrowthRefused>) -> AcquireError {
        let class: Vec<(u8, &Pool)> = self.class_pools(id).collect();
        let slot_size = class.first().map_or(0, |(_, p)| p.slot_size());
        let slots = class.iter().map(|(_, p)| p.slots()).fold(0u32, u32::saturating_add);
        AcquireError::Exhausted { pool: id, slot_size, slots, segments: class.iter().map(|&(j, _)| j).collect(), holders: self.holders_of_class(&class), refused }
    }

    /// Claim a slot, waiting up to `timeout` for one to be freed in any segment of its class
    /// (or for the class to grow: the wait retries the whole claim every 100 ms).
    pub fn acquire_timeout(&self, len: u64, timeout: Duration) -> Result<SlotMut, AcquireError> {
        let ns = self.here()?;
        ns.acquire_timeout_here(len, timeout)
    }

    fn acquire_timeout_here(&self, len: u64, timeout: Duration) -> Result<SlotMut, AcquireError> {
        let start = Instant::now();
        let (id, mut refused) = match self.try_acquire(len) {
            Err(AcquireError::Exhausted { pool, refused, .. }) => (pool, refused),
            other => return other,
        };
        let mut last_try = Instant::now();
        loop {
            let class: Vec<(u8, &Pool)> = self.class_pools(id).collect();
            // SeqCst: Dekker pair with `Pool::release` (freed bump, then waiters load), on every
            // segment of the class: a free in any of them wakes us.
            let words: Vec<(&AtomicU32, u32)> = class
                .iter()
                .map(|(_, p)| {
                    let h = p.header();
                    h.waiters.fetch_add(1, Ordering::SeqCst);
                    (&h.freed, h.freed.load(Ordering::SeqCst))
                })
                .collect();
            let got = self.claim_class(id, len);
            if got.is_none() {
                let left = timeout.saturating_sub(start.elapsed());
                if !left.is_zero() {
                    crate::futex::wait_any(&words, left.min(Duration::from_millis(50)));
                }
            }
            for (_, p) in &class {
                // SeqCst: as the increment above.
                p.header().waiters.fetch_sub(1, Ordering::SeqCst);
            }
            if let Some(m) = got {
                return Ok(m);
            }
            if start.elapsed() >= timeout {
                let slot_size = class.first().map_or(0, |(_, p)| p.slot_size());
                let segments = class.iter().map(|&(j, _)| j).collect();
                return Err(AcquireError::Timeout {
                    pool: id,
                    slot_size,
                    waited_ms: start.elapsed().as_millis() as u64,
                    segments,
                    holders: self.holders_of_class(&class),
                    refused,
                });
            }
            if last_try.elapsed() > Duration::from_millis(100) {
                // Reap, see segments others grew, grow where the cap now allows.
                match self.try_acquire(len) {
                    Err(AcquireError::Exhausted { refused: r, .. }) => refused = r,
                    other => return other,
                }
                last_try = Instant::now();
            }
        }
    }

    fn claim_in(&self, pool: &Pool, id: u8, len: u64) -> Option<SlotMut> {
        // The lease invariant: a lease never reaches past its slot (pick_pool chose the pool by
        // its real header; this holds whatever the caller did).
        if len > pool.slot_size() {
            return None;
        }
        let counts = self.local(id);
        let (slot, generation) = pool.try_claim(self.holder_index())?;
        *counts[slot as usize].lock().unwrap_or_else(|e| e.into_inner()) = 1;
        Some(SlotMut { ns: self.clone(), pool: id, slot, generation, len, ptr: pool.payload_ptr(slot), capacity: pool.slot_size(), done: false })
    }

    /// [`holders_of`](Self::holders_of) over several segments, one line per holder.
    fn holders_of_class(&self, class: &[(u8, &Pool)]) -> Vec<HolderInfo> {
        let mut out: Vec<HolderInfo> = Vec::new();
        for h in class.iter().flat_map(|(_, p)| self.holders_of(p)) {
            match out.iter_mut().find(|o| o.pid == h.pid && o.name == h.name) {
                Some(o) => o.slots += h.slots,
                None => out.push(h),
            }
        }
        out
    }

    fn holders_of(&self, pool: &Pool) -> Vec<HolderInfo> {
        let (_, per) = pool.usage();
        let mut out = Vec::new();
        for (i, &n) in per.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let s = self.registry().snapshot(i as u32);
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
        let pool = self.pool_existing(d.pool).ok_or(DescriptorError::BadPool { pool: d.pool })?;
        if d.slot >= pool.slots() {
            return Err(DescriptorError::BadSlot { pool: d.pool, slot: d.slot, slots: pool.slots() });
        }
        if d.len > pool.slot_size() {
            return Err(DescriptorError::BadLength { len: d.len, slot_size: pool.slot_size() });
        }
        let counts = self.local(d.pool);
        let s = pool.slot(d.slot);
        let stale = |found| DescriptorError::Stale { pool: d.pool, slot: d.slot, expected: d.generation, found };
        let mut count = counts[d.slot as usize].lock().unwrap_or_else(|e| e.into_inner());
        if *count > 0 {
            // We hold the bit already, so the slot cannot change under us: check it directly.
            // Acquire: pairs with freeze's Release (the payload may have been frozen since).
            let w = s.word.load(Ordering::Acquire);
            let g = s.generation.load(Ordering::Relaxed);
            if !word::is_frozen(w) || g != d.generation {
                return Err(stale(g));
            }
        } else {
            pool.hold(d.slot, self.holder_index(), word::tag_of(d.generation)).map_err(|_| stale(s.generation.load(Ordering::Relaxed)))?;
            // Relaxed: ordered after the hold's SeqCst load of the word; stable while we hold.
            let g = s.generation.load(Ordering::Relaxed);
            if g != d.generation {
                pool.release(d.slot, self.holder_index());
                return Err(stale(g));
            }
        }
        *count += 1;
        Ok(SlotRef { ns: self.clone(), pool: d.pool, slot: d.slot, generation: d.generation, len: d.len, ptr: pool.payload_ro(d.slot) })
    }
}
