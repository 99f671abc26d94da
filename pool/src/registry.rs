//! The namespace registry: a table of holders (processes and topic rings), one bit each in every
//! slot word (see `word.rs`).
//!
//! Layout (segment `registry`): the 64-byte segment header, then [`MAX_HOLDERS`] entries of
//! 64 bytes each:
//!
//! ```text
//! HolderEntry.word:  63..56 state | 55..48 kind | 47..40 reaper+1 | 39..32 unused | 31..0 pid
//! state: 0 FREE, 1 CLAIMING (pid written, name being written), 2 ACTIVE, 3 REAPING
//! kind:  1 PROCESS, 2 TOPIC
//! ```
//!
//! A process claims an entry with one CAS (FREE -> CLAIMING with its pid), writes its start time
//! and name, then stores ACTIVE (Release). Liveness is pid + start time, so a recycled pid is
//! another process. A reaper marks a dead process REAPING (CAS, naming itself), clears its bits
//! everywhere, and only then frees the entry; a reaper that dies mid-reap is replaced by the
//! next one (clearing bits is idempotent).

use crate::error::OpenError;
use crate::process;
use crate::segment::{layout_hash, Segment, SegmentHeader, SegmentKind};
use std::mem::{offset_of, size_of};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Holders per namespace: processes plus topic rings that carry payloads.
pub const MAX_HOLDERS: usize = crate::word::HOLDER_BITS as usize;
/// Bytes of a holder name the registry keeps (longer names are cut).
pub const NAME_LEN: usize = 40;

pub const ST_FREE: u64 = 0;
pub const ST_CLAIMING: u64 = 1;
pub const ST_ACTIVE: u64 = 2;
pub const ST_REAPING: u64 = 3;
pub const KIND_PROCESS: u64 = 1;
pub const KIND_TOPIC: u64 = 2;

/// One registry entry (64 bytes).
#[repr(C)]
pub struct HolderEntry {
    /// Packed state, kind, reaper and pid (see module docs).
    pub word: AtomicU64,
    /// Process start time (clock ticks since boot) of `pid`.
    pub start_time: AtomicU64,
    /// Process name or topic name, NUL padded; written while CLAIMING.
    pub name: [AtomicU64; NAME_LEN / 8],
    pub _reserved: [u64; 1],
}
const _: () = assert!(size_of::<HolderEntry>() == 64);

#[repr(C)]
struct RegistryLayout {
    header: SegmentHeader,
    /// Number of completed reaps (statistics).
    reaps: AtomicU64,
    _pad: [u64; 7],
    entries: [HolderEntry; MAX_HOLDERS],
}
const _: () = assert!(size_of::<RegistryLayout>() == 128 + 64 * MAX_HOLDERS);
const LAYOUT: u64 = layout_hash(&[
    1,
    size_of::<RegistryLayout>(),
    offset_of!(RegistryLayout, entries),
    size_of::<HolderEntry>(),
    MAX_HOLDERS,
]);

#[inline]
pub fn pack(state: u64, kind: u64, reaper: u64, pid: u32) -> u64 {
    (state << 56) | (kind << 48) | (reaper << 40) | pid as u64
}
#[inline]
pub fn st(w: u64) -> u64 {
    w >> 56
}
#[inline]
pub fn kind(w: u64) -> u64 {
    (w >> 48) & 0xff
}
#[inline]
pub fn reaper(w: u64) -> u64 {
    (w >> 40) & 0xff
}
#[inline]
pub fn pid(w: u64) -> u32 {
    w as u32
}

/// A snapshot of one registry entry.
#[derive(Debug, Clone)]
pub struct HolderSnapshot {
    pub index: u32,
    pub state: u64,
    pub kind: u64,
    pub pid: u32,
    pub start_time: u64,
    pub name: String,
}

/// The mapped registry of one namespace.
#[derive(Debug)]
pub struct Registry {
    seg: Segment,
}

impl Registry {
    pub fn open(dir: &Path) -> Result<Registry, OpenError> {
        let (seg, _) = Segment::open_or_create(
            &dir.join("registry"),
            SegmentKind::Registry,
            LAYOUT,
            size_of::<RegistryLayout>(),
            |_| {},
        )?;
        Ok(Registry { seg })
    }

    fn layout(&self) -> &RegistryLayout {
        // SAFETY: the segment was validated to be exactly this layout's size (total_size and
        // layout hash checked on open); every field is an integer or atomic, valid for any bits.
        unsafe { self.seg.at::<RegistryLayout>(0) }
    }

    pub fn entry(&self, i: u32) -> &HolderEntry {
        &self.layout().entries[i as usize]
    }

    /// Claim a free entry for `kind` with `name`; returns its index.
    pub fn claim(&self, kind: u64, name: &str) -> Result<u32, OpenError> {
        let pid = process::current_pid();
        let start = process::start_time(pid).unwrap_or(0);
        for attempt in 0..2 {
            for (i, e) in self.layout().entries.iter().enumerate() {
                // AcqRel on success: we own the entry; Acquire pairs with the previous owner's
                // free (Release) so its stale name writes do not overtake ours.
                if e.word
                    .compare_exchange(0, pack(ST_CLAIMING, kind, 0, pid), Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    // Relaxed: published by the Release store of ACTIVE below.
                    e.start_time.store(start, Ordering::Relaxed);
                    write_name(&e.name, name);
                    // Release: start time and name are visible to whoever sees ACTIVE.
                    e.word.store(pack(ST_ACTIVE, kind, 0, pid), Ordering::Release);
                    return Ok(i as u32);
                }
            }
            if attempt == 0 {
                self.reap_dead_entries(None);
            }
        }
        Err(OpenError::TooManyHolders { limit: MAX_HOLDERS })
    }

    /// Free entry `i` (its bits must be cleared everywhere already).
    pub fn free(&self, i: u32) {
        // Release: everything we did as this holder happens before the entry can be reused.
        self.entry(i).word.store(0, Ordering::Release);
    }

    pub fn snapshot(&self, i: u32) -> HolderSnapshot {
        let e = self.entry(i);
        // Acquire: pairs with the Release store of ACTIVE, so name and start time are complete.
        let w = e.word.load(Ordering::Acquire);
        HolderSnapshot {
            index: i,
            state: st(w),
            kind: kind(w),
            pid: pid(w),
            start_time: e.start_time.load(Ordering::Relaxed),
            name: read_name(&e.name),
        }
    }

    pub fn snapshots(&self) -> Vec<HolderSnapshot> {
        (0..MAX_HOLDERS as u32).map(|i| self.snapshot(i)).filter(|s| s.state != ST_FREE).collect()
    }

    /// True if process entry `i` (as seen in `w`) belongs to a live process.
    pub fn process_alive(&self, i: u32, w: u64) -> bool {
        let start = self.entry(i).start_time.load(Ordering::Relaxed);
        process::is_alive(pid(w), start)
    }

    /// Mark dead processes' entries REAPING (taking over from dead reapers) and return their
    /// indices; `me` is the reaper's own index (None when called before registration, in which
    /// case only dead CLAIMING entries, which hold nothing, are freed).
    pub fn reap_dead_entries(&self, me: Option<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        for i in 0..MAX_HOLDERS as u32 {
            let e = self.entry(i);
            // Acquire: pairs with the claimer's Release of ACTIVE (start time visible).
            let w = e.word.load(Ordering::Acquire);
            if kind(w) != KIND_PROCESS {
                continue;
            }
            match st(w) {
                ST_CLAIMING => {
                    // Claimed but never active: it holds nothing. Start time may be unwritten,
                    // so judge by the pid alone.
                    if !process::is_alive(pid(w), 0) {
                        // AcqRel: take the entry only if unchanged.
                        let _ = e.word.compare_exchange(w, 0, Ordering::AcqRel, Ordering::Relaxed);
                    }
                }
                ST_ACTIVE => {
                    let Some(me) = me else { continue };
                    if !self.process_alive(i, w) {
                        let new = pack(ST_REAPING, KIND_PROCESS, me as u64 + 1, pid(w));
                        if e.word.compare_exchange(w, new, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                            out.push(i);
                        }
                    }
                }
                ST_REAPING => {
                    let Some(me) = me else { continue };
                    let r = reaper(w);
                    // `r` is shared memory: a reaper index past the table (a scribbled entry)
                    // is a dead reaper, not an index (found by tests/hardening.rs: it panicked
                    // with an index out of bounds).
                    let reaper_alive = r != 0 && r as usize <= MAX_HOLDERS && r - 1 != i as u64 && {
                        let rw = self.entry(r as u32 - 1).word.load(Ordering::Acquire);
                        st(rw) == ST_ACTIVE && self.process_alive(r as u32 - 1, rw)
                    };
                    if !reaper_alive || r - 1 == me as u64 {
                        let new = pack(ST_REAPING, KIND_PROCESS, me as u64 + 1, pid(w));
                        if e.word.compare_exchange(w, new, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                            out.push(i);
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    pub fn count_reap(&self) {
        // Relaxed: a statistic.
        self.layout().reaps.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reaps(&self) -> u64 {
        self.layout().reaps.load(Ordering::Relaxed)
    }
}

fn write_name(dst: &[AtomicU64; NAME_LEN / 8], name: &str) {
    let mut buf = [0u8; NAME_LEN];
    let b = name.as_bytes();
    let n = b.len().min(NAME_LEN);
    buf[..n].copy_from_slice(&b[..n]);
    for (i, d) in dst.iter().enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&buf[i * 8..i * 8 + 8]);
        // Relaxed: published by the entry's Release store.
        d.store(u64::from_le_bytes(w), Ordering::Relaxed);
    }
}

fn read_name(src: &[AtomicU64; NAME_LEN / 8]) -> String {
    let mut buf = Vec::with_capacity(NAME_LEN);
    for s in src {
        // Relaxed: readers Acquire the entry word first.
        buf.extend_from_slice(&s.load(Ordering::Relaxed).to_le_bytes());
    }
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
