//! One size class: a segment of fixed-size, 256-byte aligned slots with their state words.
//!
//! Layout of segment `pool-<id>`:
//!
//! ```text
//! 0       SegmentHeader (64)
//! 64      PoolHeader (64): slot_size, slots, id, claim hint, counters
//! 128     SlotHeader[slots] (256 each): state word, generation, metadata area
//! ...     HolderSet[slots] (128 each): who holds each slot, one bit per holder (`holders.rs`)
//! ...     padding to a 4096 boundary
//! data    slots * slot_size payload bytes; slot_size is a multiple of 4096
//! ```
//!
//! The payload area is mapped twice in every process: the segment's own read-write mapping,
//! through which a writer fills the slot it holds (`SlotMut`), and a read-only alias of the
//! same pages (`mremap` with old size 0, then `mprotect(PROT_READ)`), through which every
//! frozen or received payload (`SlotRef`) is read. A write through any view of a `SlotRef`
//! (NumPy with its flag forced, a torch tensor, a memoryview, ctypes) therefore faults instead
//! of changing a frame other processes read. Slot headers and metadata stay in the read-write
//! mapping only.
//!
//! Claiming scans the state words from a rotating hint and takes the first FREE one with a CAS
//! (see `word.rs`): a lock-free allocator whose "free list" is the set of FREE words, so a crash
//! between two steps of a list operation can never lose a slot. A slot's holders are bits in its
//! holder set; the reaper clears a dead holder's bits and closes what that left without holders.

use crate::error::OpenError;
use crate::holders::{self, HolderMask, HolderSet, MAX_HOLDERS};
use crate::segment::{layout_hash, Segment, SegmentKind};
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use crate::word;
use std::ffi::c_void;
use std::mem::{offset_of, size_of};
use std::path::Path;

/// Payload alignment inside a slot and of slot sizes (bytes).
pub const PAYLOAD_ALIGN: usize = 256;
/// Bytes of per-slot metadata a payload type may use (frame id, extra dims, ...).
pub const META_LEN: usize = 192;
/// Most slots a pool may have (also bounds what we accept from a header).
pub const MAX_SLOTS: u32 = 1 << 16;
/// Largest slot size accepted (bytes).
pub const MAX_SLOT_SIZE: u64 = 1 << 32;

#[repr(C)]
pub struct PoolHeader {
    pub slot_size: u64,
    pub slots: u32,
    pub id: u32,
    /// Where the next claim starts scanning (Relaxed: a hint).
    pub hint: AtomicU32,
    pub _pad: u32,
    pub data_offset: u64,
    /// Claims ever made (statistics).
    pub claims: AtomicU64,
    /// Claims that found the pool full (statistics).
    pub exhausted: AtomicU64,
    /// Bumped when a slot is freed; claimers waiting on an exhausted pool sleep on it.
    pub freed: AtomicU32,
    pub waiters: AtomicU32,
    pub _reserved: [u64; 1],
}
const _: () = assert!(size_of::<PoolHeader>() == 64);

#[repr(C)]
pub struct SlotHeader {
    /// State word (see `word.rs`).
    pub word: AtomicU64,
    /// Full generation; written by the claimer, read by holders after their CAS.
    pub generation: AtomicU32,
    /// Pid of the last writer (statistics, `pool stat`).
    pub writer_pid: AtomicU32,
    pub _pad: [u64; 6],
    /// Payload metadata, written under the writable lease (zeroed at claim), read-only once
    /// READY. In an `UnsafeCell`: the writer mutates it through a shared mapping.
    pub meta: std::cell::UnsafeCell<[u8; META_LEN]>,
}
const _: () = assert!(size_of::<SlotHeader>() == 256);

const HEADERS_AT: usize = 128;
// Headers sit at their alignment (the mapping is page aligned): what lets `Pool::header` and
// `Pool::slot` use `Segment::at_validated`.
const _: () = assert!(64usize.is_multiple_of(align_of::<PoolHeader>()) && HEADERS_AT.is_multiple_of(align_of::<SlotHeader>()));
// 3: holder sets after the slot headers (1,024 holders), a new slot word (`word.rs`).
pub const LAYOUT: u64 = layout_hash(&[3, size_of::<PoolHeader>(), size_of::<SlotHeader>(), offset_of!(SlotHeader, meta), HEADERS_AT, PAYLOAD_ALIGN, size_of::<HolderSet>()]);

/// Where the holder sets of a pool with `slots` slots start in its segment.
pub fn sets_offset(slots: u32) -> usize {
    HEADERS_AT + slots as usize * size_of::<SlotHeader>()
}

fn data_offset(slots: u32) -> usize {
    (sets_offset(slots) + slots as usize * size_of::<HolderSet>()).next_multiple_of(4096)
}

/// The slot size a pool created for a class of `size` bytes gets (whole pages).
pub fn rounded_slot_size(size: u64) -> u64 {
    size.max(PAYLOAD_ALIGN as u64).next_multiple_of(4096)
}

/// A mapped pool segment.
#[derive(Debug)]
pub struct Pool {
    seg: Segment,
    slot_size: u64,
    slots: u32,
    id: u8,
    data: usize,
    ro: ReadOnlyAlias,
}

/// A second, read-only mapping of a pool's payload area (`slots * slot_size` bytes), unmapped
/// on drop.
#[derive(Debug)]
struct ReadOnlyAlias {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the alias is plain shared memory mapped PROT_READ; it is only ever read, and it stays
// mapped for the life of the value, whichever thread drops it.
unsafe impl Send for ReadOnlyAlias {}
// SAFETY: as above: shared access is reads of memory whose lifetime the value owns.
unsafe impl Sync for ReadOnlyAlias {}

impl ReadOnlyAlias {
    /// Map the `len` bytes at `src` (page aligned, inside a live `MAP_SHARED` mapping) a second
    /// time, read-only.
    fn new(src: *mut u8, len: usize) -> std::io::Result<ReadOnlyAlias> {
        // SAFETY: `src..src+len` lies inside the segment's live shared mapping (callers pass
        // the validated payload area). With old_size 0 and a shared mapping, mremap leaves the
        // source alone and maps the same pages again at an address of the kernel's choosing.
        let p = unsafe { libc::mremap(src as *mut c_void, 0, len, libc::MREMAP_MAYMOVE) };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `p..p+len` is the mapping just created; nobody else has its address yet.
        if unsafe { libc::mprotect(p, len, libc::PROT_READ) } != 0 {
            let e = std::io::Error::last_os_error();
            // SAFETY: as above; unmapping our own fresh mapping.
            unsafe { libc::munmap(p, len) };
            return Err(e);
        }
        Ok(ReadOnlyAlias { ptr: p as *mut u8, len })
    }
}

impl Drop for ReadOnlyAlias {
    fn drop(&mut self) {
        // SAFETY: we mapped `ptr..ptr+len` in `new`; the owning Pool is being dropped, and every
        // lease pointing into it holds the namespace (and so the Pool) alive, so none is left.
        unsafe { libc::munmap(self.ptr as *mut c_void, self.len) };
    }
}

impl Pool {
    /// Open pool `id` in `dir`, creating it with `slots` slots of `slot_size` bytes if absent.
    /// An existing pool's geometry (from its validated header) wins.
    pub fn open_or_create(dir: &Path, id: u8, slot_size: u64, slots: u32) -> Result<Pool, OpenError> {
        let slot_size = rounded_slot_size(slot_size);
        let total = data_offset(slots) + slot_size as usize * slots as usize;
        let path = dir.join(format!("pool-{id}"));
        let (seg, _) = Segment::open_or_create(&path, SegmentKind::Pool, LAYOUT, total, |seg| {
            // SAFETY: fresh private mapping of `total` bytes; the header region is in bounds.
            let h = unsafe { &mut *(seg.base().add(64) as *mut PoolHeader) };
            h.slot_size = slot_size;
            h.slots = slots;
            h.id = id as u32;
            h.data_offset = data_offset(slots) as u64;
        })?;
        Self::validate(seg, id)
    }

    /// Open an existing pool segment (for the reaper and tools).
    pub fn open(dir: &Path, id: u8) -> Result<Pool, OpenError> {
        let seg = Segment::open(&dir.join(format!("pool-{id}")), SegmentKind::Pool, LAYOUT)?;
        Self::validate(seg, id)
    }

    fn validate(seg: Segment, id: u8) -> Result<Pool, OpenError> {
        let bad = |field, value| OpenError::BadHeader { path: seg.path().to_path_buf(), field, value };
        if seg.len() < HEADERS_AT {
            return Err(OpenError::Truncated { path: seg.path().to_path_buf(), expected: HEADERS_AT as u64, actual: seg.len() as u64 });
        }
        // SAFETY: 128 bytes are mapped (checked); PoolHeader is integers and atomics.
        let h = unsafe { seg.at::<PoolHeader>(64) };
        let (slot_size, slots) = (h.slot_size, h.slots);
        if slots == 0 || slots > MAX_SLOTS {
            return Err(bad("slots", slots as u64));
        }
        if slot_size == 0 || slot_size > MAX_SLOT_SIZE || slot_size % 4096 != 0 {
            return Err(bad("slot_size", slot_size));
        }
        if h.id != id as u32 {
            return Err(bad("id", h.id as u64));
        }
        let data = data_offset(slots);
        if h.data_offset != data as u64 {
            return Err(bad("data_offset", h.data_offset));
        }
        let need = data as u64 + slot_size * slots as u64;
        if need != seg.len() as u64 {
            return Err(OpenError::Truncated { path: seg.path().to_path_buf(), expected: need, actual: seg.len() as u64 });
        }
        let area = slot_size as usize * slots as usize;
        // SAFETY: data + area == len (checked above), so the payload area is inside the mapping.
        let src = unsafe { seg.base().add(data) };
        let ro = ReadOnlyAlias::new(src, area).map_err(|e| OpenError::Io { path: seg.path().to_path_buf(), source: e })?;
        Ok(Pool { seg, slot_size, slots, id, data, ro })
    }

    pub fn header(&self) -> &PoolHeader {
        // SAFETY: validated on open (size and fields): the header lies at 64, inside the
        // segment, which is page aligned.
        unsafe { self.seg.at_validated::<PoolHeader>(64) }
    }

    /// Header of slot `i`; `i` must be `< slots()` (callers validate untrusted indices first).
    pub fn slot(&self, i: u32) -> &SlotHeader {
        assert!(i < self.slots);
        // SAFETY: i < slots (asserted), so the header lies inside the segment, whose length was
        // validated against `slots` on open; headers are laid out at their alignment.
        unsafe { self.seg.at_validated::<SlotHeader>(HEADERS_AT + i as usize * size_of::<SlotHeader>()) }
    }

    /// Holder set of slot `i`; `i` must be `< slots()`.
    pub fn holder_set(&self, i: u32) -> &[crate::sync::AtomicU64] {
        assert!(i < self.slots);
        // SAFETY: i < slots (asserted): the set lies between the slot headers and the payload
        // area, inside the segment validated against `slots` on open; 8-byte aligned.
        let set = unsafe { self.seg.at_validated::<HolderSet>(sets_offset(self.slots) + i as usize * size_of::<HolderSet>()) };
        &set.words
    }

    /// Pointer to slot `i`'s payload in the read-write mapping (256-byte aligned, `slot_size`
    /// bytes): for the writer holding the slot (`SlotMut`) only.
    pub fn payload_ptr(&self, i: u32) -> *mut u8 {
        assert!(i < self.slots);
        // SAFETY: data + (i+1)*slot_size <= len (validated on open).
        unsafe { self.seg.base().add(self.data + i as usize * self.slot_size as usize) }
    }

    /// Pointer to slot `i`'s payload in the read-only alias: the same bytes as
    /// [`payload_ptr`](Self::payload_ptr), where a write faults. Frozen and received payloads
    /// (`SlotRef`) point here.
    pub fn payload_ro(&self, i: u32) -> *const u8 {
        assert!(i < self.slots);
        // SAFETY: (i+1)*slot_size <= slots*slot_size == the alias's length.
        unsafe { self.ro.ptr.add(i as usize * self.slot_size as usize) }
    }

    /// `(start, len)` of the read-only alias of the payload area.
    pub fn read_only_range(&self) -> (usize, usize) {
        (self.ro.ptr as usize, self.ro.len)
    }

    /// Replace the payload area of both mappings with private zero pages, so a view that
    /// outlives this process's leaving of the namespace reads zeros, never a slot another
    /// process has since reused: the alias stays read-only, the read-write side accepts (and
    /// discards) a late writer's stores. For `Namespace::leave` only: afterwards no payload
    /// of this pool is shared with anyone. Idempotent.
    pub fn detach_payloads(&self) -> std::io::Result<()> {
        let area = self.ro.len;
        let rw = self.payload_ptr(0);
        for (at, prot) in [(self.ro.ptr, libc::PROT_READ), (rw, libc::PROT_READ | libc::PROT_WRITE)] {
            // SAFETY: `at..at+area` is exactly one of our two mappings of the payload area,
            // owned by this Pool; MAP_FIXED swaps it for anonymous pages in one step, so a
            // concurrent reader sees either the old page or a zero page, never a hole. Nothing
            // in this process shares those pages afterwards (the caller has given up every hold).
            let p = unsafe { libc::mmap(at as *mut c_void, area, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED, -1, 0) };
            if p == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    pub fn slot_size(&self) -> u64 {
        self.slot_size
    }
    pub fn slots(&self) -> u32 {
        self.slots
    }
    pub fn id(&self) -> u8 {
        self.id
    }
    pub fn path(&self) -> &Path {
        self.seg.path()
    }

    /// Try to claim a FREE slot for `holder`. Returns the slot index and its new generation.
    pub fn try_claim(&self, holder: u32) -> Option<(u32, u32)> {
        let h = self.header();
        // Relaxed: the hint only spreads claimers; correctness comes from the CAS.
        let start = h.hint.load(Ordering::Relaxed) % self.slots;
        for k in 0..self.slots {
            let i = (start + k) % self.slots;
            let s = self.slot(i);
            // Relaxed: a guess, checked after the CAS below.
            let guess = s.generation.load(Ordering::Relaxed).wrapping_add(1).max(1);
            if word::try_claim(&s.word, holder, word::tag_of(guess)) {
                // The guess may be stale: between the load above and the CAS, other claimers can
                // claim and free this slot any number of times (the word is FREE again, so the
                // CAS still succeeds). Two claims would then share a generation and a stale
                // descriptor would resolve to a newer frame. Re-read now that we own the slot:
                // the CAS's Acquire pairs with the previous owner's Release (freeze or release),
                // so this load sees its generation. Fix the word's tag if the guess was wrong.
                let gen = s.generation.load(Ordering::Relaxed).wrapping_add(1).max(1);
                if gen != guess {
                    word::retag(&s.word, word::tag_of(gen));
                }
                // Relaxed: published by freeze's Release on the word.
                s.generation.store(gen, Ordering::Relaxed);
                s.writer_pid.store(crate::process::current_pid(), Ordering::Relaxed);
                // SAFETY: we own the slot exclusively (WRITING with our bit); nobody reads the
                // metadata of a WRITING slot. Zeroing keeps a previous frame's metadata (frame
                // id, dims) from leaking into a writer that does not set its own.
                unsafe { std::ptr::write_bytes(s.meta.get() as *mut u8, 0, META_LEN) };
                h.hint.store(i + 1, Ordering::Relaxed);
                h.claims.fetch_add(1, Ordering::Relaxed);
                return Some((i, gen));
            }
        }
        h.exhausted.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Remove `holder`'s hold on slot `i` (its bit, or the writer's hold of a slot it abandons);
    /// wakes claimers waiting on a full pool when the slot frees.
    pub fn release(&self, i: u32, holder: u32) -> word::Removed {
        let r = word::remove_holder(&self.slot(i).word, self.holder_set(i), holder);
        if r == word::Removed::Freed {
            self.freed(i);
        }
        r
    }

    /// Take a hold for `holder` on frozen slot `i` carrying generation tag `tag`.
    pub fn hold(&self, i: u32, holder: u32, tag: u64) -> Result<(), word::HoldFail> {
        let r = word::add_holder(&self.slot(i).word, self.holder_set(i), holder, tag);
        if matches!(r, Ok(true) | Err((_, true))) {
            self.freed(i); // helping a close in progress freed the slot
        }
        r.map(|_| ()).map_err(|(e, _)| e)
    }

    /// Move `holder`'s writable hold of slot `i` into the holder set and publish the slot.
    pub fn freeze(&self, i: u32, holder: u32) -> bool {
        word::freeze(&self.slot(i).word, self.holder_set(i), holder)
    }

    /// True if `holder` holds slot `i` through the holder set.
    pub fn holds(&self, i: u32, holder: u32) -> bool {
        holders::contains(self.holder_set(i), holder)
    }

    /// Slot `i` was freed: point the next claim at it and wake waiting claimers.
    fn freed(&self, i: u32) {
        let h = self.header();
        // Relaxed: a hint. The next claim starts at the slot just freed, whose pages are
        // still hot in this core's cache (LIFO reuse beats round-robin for big frames).
        h.hint.store(i, Ordering::Relaxed);
        // SeqCst pair with a waiter's waiters++ / freed load (Dekker): either it sees our
        // bump or we see its registration.
        h.freed.fetch_add(1, Ordering::SeqCst);
        if h.waiters.load(Ordering::SeqCst) > 0 {
            crate::futex::wake_all(&h.freed);
        }
    }

    /// Slots in use and per-holder counts (index -> slots held; a writer counts its WRITING
    /// slots).
    pub fn usage(&self) -> (u32, Vec<u32>) {
        let mut used = 0;
        let mut per = vec![0u32; MAX_HOLDERS];
        for i in 0..self.slots {
            // Relaxed: a statistic snapshot.
            let w = self.slot(i).word.load(Ordering::Relaxed);
            if word::state(w) != word::FREE {
                used += 1;
                if let Some(wr) = word::writer(w).filter(|_| word::state(w) == word::WRITING) {
                    per[wr as usize % MAX_HOLDERS] += 1;
                }
                holders::for_each(self.holder_set(i), |h| per[h as usize % MAX_HOLDERS] += 1);
            }
        }
        (used, per)
    }

    /// Release every hold of `holder` (the reaper's job, and a topic's dissolution). Returns
    /// slots freed.
    pub fn clear_holder(&self, holder: u32) -> u32 {
        let mut one = HolderMask::default();
        one.insert(holder);
        self.clear_holders(&one)
    }

    /// The reaper's sweep: clear the bits of the `dead` holders in every slot, free the slots
    /// they were writing, and close every slot left frozen without holders (by them, or by a
    /// releaser killed between clearing its bit and closing). Returns slots freed.
    pub fn clear_holders(&self, dead: &HolderMask) -> u32 {
        let mut freed = 0;
        for i in 0..self.slots {
            let (w, set) = (&self.slot(i).word, self.holder_set(i));
            holders::remove_all(set, dead);
            // Relaxed: each step below re-checks with its own CAS.
            let cur = w.load(Ordering::Relaxed);
            let done = match word::state(cur) {
                word::WRITING => word::writer(cur).is_some_and(|h| dead.contains(h)) && word::abandon(w, word::writer(cur).unwrap_or(0)),
                word::READY | word::CLOSING => word::close(w, set),
                _ => false,
            };
            if done {
                self.freed(i);
                freed += 1;
            }
        }
        freed
    }
}
