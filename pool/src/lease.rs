//! Leases on slots: `SlotMut` (the writer's exclusive, writable lease) and `SlotRef` (a shared,
//! read-only hold). State machine in the types: `Namespace::try_acquire` gives a `SlotMut`;
//! `SlotMut::freeze` turns it into a `SlotRef`; a `SlotRef` is cloned freely and resolved from
//! descriptors in any process. Dropping the last hold in the last process frees the slot.
//!
//! A `SlotMut` points into the pool's read-write mapping; a `SlotRef` into its read-only alias
//! (see `pool.rs`), so the bytes of a frozen slot cannot be changed through any pointer derived
//! from a `SlotRef`: a write faults (SIGSEGV). `freeze` moves the pointer to the alias.
//!
//! Within one process all holds on a slot share the process's single holder bit; a per-pool
//! count (process memory) decides when the bit is set and cleared. In a forked child, leases
//! inherited from the parent are inert: dropping them releases nothing (the parent still holds
//! the slot), and the child's own claims and receives use its own bit.

use crate::descriptor::Descriptor;
use crate::namespace::Namespace;
use crate::pool::META_LEN;

/// A writable, exclusive lease on a freshly claimed slot. Not visible to anyone until frozen.
pub struct SlotMut {
    pub(crate) ns: Namespace,
    pub(crate) pool: u8,
    pub(crate) slot: u32,
    pub(crate) generation: u32,
    pub(crate) len: u64,
    pub(crate) ptr: *mut u8,
    pub(crate) capacity: u64,
    pub(crate) done: bool,
}

// SAFETY: the lease is exclusive (slot state WRITING with our bit); the pointer targets shared
// memory kept mapped by `ns`, so moving the lease to another thread is sound.
unsafe impl Send for SlotMut {}

/// A shared read-only hold on a frozen slot. Its pointer is in the read-only alias of the
/// payload area: memory the process cannot write.
pub struct SlotRef {
    pub(crate) ns: Namespace,
    pub(crate) pool: u8,
    pub(crate) slot: u32,
    pub(crate) generation: u32,
    pub(crate) len: u64,
    pub(crate) ptr: *const u8,
}

// SAFETY: the payload is immutable while any hold exists (READY state; writers only get FREE
// slots); the mapping outlives the hold through `ns`.
unsafe impl Send for SlotRef {}
// SAFETY: as above; all methods take &self and only read.
unsafe impl Sync for SlotRef {}

impl SlotMut {
    /// The payload bytes (`len()` of them), writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: we hold the slot exclusively (WRITING, our bit); len <= capacity; the
        // mapping lives as long as `ns`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len as usize) }
    }
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: as in as_mut_slice.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len as usize) }
    }
    /// Start of the payload (256-byte aligned).
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
    }
    /// Where the payload will be read once frozen: the slot's start in the read-only alias
    /// (what `freeze().as_ptr()` and every resolve of its descriptor in this process return).
    pub fn frozen_ptr(&self) -> *const u8 {
        self.ns.pool_ref(self.pool).payload_ro(self.slot)
    }
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Slot size: the most `set_len` accepts.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }
    /// Change the payload length (at most `capacity()`); returns false if too large.
    pub fn set_len(&mut self, len: u64) -> bool {
        if len > self.capacity {
            return false;
        }
        self.len = len;
        true
    }
    /// The slot's metadata area (frame id, extra dims), writable until frozen.
    pub fn meta_mut(&mut self) -> &mut [u8; META_LEN] {
        let pool = self.ns.pool_ref(self.pool);
        let meta = pool.slot(self.slot).meta.get();
        // SAFETY: the metadata area belongs to the slot we hold exclusively (WRITING); `&mut
        // self` makes this the only reference handed out.
        unsafe { &mut *meta }
    }
    pub fn pool(&self) -> u8 {
        self.pool
    }
    pub fn slot(&self) -> u32 {
        self.slot
    }
    pub fn generation(&self) -> u32 {
        self.generation
    }
    /// A descriptor naming this slot (kind etc. left empty for the payload layer to fill).
    pub fn descriptor(&self) -> Descriptor {
        Descriptor { generation: self.generation, slot: self.slot, pool: self.pool, len: self.len, ..Default::default() }
    }
    /// Freeze the payload: it becomes read-only and shareable. The returned hold reads the
    /// slot through the read-only alias (a different address from `as_ptr()`); pointers taken
    /// from this lease before freezing still write to the slot, so drop them first.
    pub fn freeze(mut self) -> SlotRef {
        self.done = true;
        let pool = self.ns.pool_ref(self.pool);
        // A lease a fork child inherited is its parent's, still being written: the child must
        // not publish it. Its SlotRef is inert (see `Namespace::is_inherited`).
        if !self.ns.is_inherited() {
            pool.freeze(self.slot, self.ns.holder_index());
        }
        // Same offset in the alias: `ptr` is always the start of our slot's payload.
        debug_assert_eq!(self.ptr, pool.payload_ptr(self.slot));
        SlotRef { ns: self.ns.clone(), pool: self.pool, slot: self.slot, generation: self.generation, len: self.len, ptr: pool.payload_ro(self.slot) }
    }
}

impl Drop for SlotMut {
    fn drop(&mut self) {
        if !self.done {
            // An abandoned write: the slot goes straight back to FREE.
            self.ns.release_local(self.pool, self.slot);
        }
    }
}

impl std::fmt::Debug for SlotMut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotMut(pool {}, slot {}, gen {}, {} B)", self.pool, self.slot, self.generation, self.len)
    }
}

impl SlotRef {
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: READY slots are immutable while held; len <= slot size (validated); the
        // pointer is in the read-only alias, mapped while `ns` lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len as usize) }
    }
    /// Start of the payload in the read-only alias (256-byte aligned); a write through it
    /// faults.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
    }
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn meta(&self) -> &[u8; META_LEN] {
        // SAFETY: the slot is READY while we hold it: its metadata is immutable until freed.
        unsafe { &*self.ns.pool_ref(self.pool).slot(self.slot).meta.get() }
    }
    pub fn pool(&self) -> u8 {
        self.pool
    }
    pub fn slot(&self) -> u32 {
        self.slot
    }
    pub fn generation(&self) -> u32 {
        self.generation
    }
    pub fn descriptor(&self) -> Descriptor {
        Descriptor { generation: self.generation, slot: self.slot, pool: self.pool, len: self.len, ..Default::default() }
    }
    /// True if both holds are on the same slot and generation.
    pub fn same_slot(&self, other: &SlotRef) -> bool {
        self.pool == other.pool && self.slot == other.slot && self.generation == other.generation
    }
}

impl Clone for SlotRef {
    fn clone(&self) -> SlotRef {
        self.ns.retain_local(self.pool, self.slot);
        SlotRef { ns: self.ns.clone(), ..*self }
    }
}

impl Drop for SlotRef {
    fn drop(&mut self) {
        self.ns.release_local(self.pool, self.slot);
    }
}

impl std::fmt::Debug for SlotRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotRef(pool {}, slot {}, gen {}, {} B)", self.pool, self.slot, self.generation, self.len)
    }
}
