//! The namespace registry: a table of holders (processes and topic rings), one bit each in every
//! holder set (a slot's holders, a topic's openers and publishers; see `holders.rs`).
//!
//! Layout (segment `registry`): the 64-byte segment header, then [`MAX_HOLDERS`] entries of
//! 64 bytes each:
//!
//! ```text
//! HolderEntry.word:  63..56 state | 55..48 kind | 47..32 reaper+1 | 31..0 pid
//! state: 0 FREE, 1 CLAIMING (pid written, name being written), 2 ACTIVE, 3 REAPING
//! kind:  1 PROCESS, 2 TOPIC
//! ```
//!
//! A process claims an entry with one CAS (FREE -> CLAIMING with its pid), writes its start time,
//! PID namespace and name, then moves CLAIMING -> ACTIVE with a second CAS (Release): if a reaper
//! took the entry meanwhile, the claimer notices and claims again instead of resurrecting it.
//! Liveness is pid + start time, so a recycled pid is another process, and it is judged only
//! from the PID namespace the holder registered in (see `process.rs`): a holder that cannot be
//! judged from here is never reaped, and a process never reaps its own entry. A reaper marks a
//! dead process REAPING (CAS, naming itself), clears its bits everywhere, and only then frees the
//! entry (a CAS from the REAPING word it wrote, so it never frees an entry someone else owns);
//! a reaper that dies mid-reap is replaced by the next one (clearing bits is idempotent).

use crate::error::OpenError;
use crate::process::{self, Liveness};
use crate::segment::{layout_hash, Segment, SegmentHeader, SegmentKind};
use crate::sync::{AtomicU64, Ordering};
use std::mem::{offset_of, size_of};
use std::path::Path;

/// Holders per namespace: processes plus topic rings that carry payloads.
pub const MAX_HOLDERS: usize = crate::holders::MAX_HOLDERS;
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
    /// The PID namespace the process registered from (`process::pid_namespace`); 0 until
    /// written while CLAIMING. Its pid means nothing in another PID namespace.
    pub pid_ns: AtomicU64,
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
    3, // v2: pid_ns, CAS to ACTIVE; v3: 1,024 entries, a 16-bit reaper field
    size_of::<RegistryLayout>(),
    offset_of!(RegistryLayout, entries),
    size_of::<HolderEntry>(),
    MAX_HOLDERS,
]);

#[inline]
pub fn pack(state: u64, kind: u64, reaper: u64, pid: u32) -> u64 {
    (state << 56) | (kind << 48) | ((reaper & 0xffff) << 32) | pid as u64
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
    (w >> 32) & 0xffff
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
        let (seg, _) = Segment::open_or_create(&dir.join("registry"), SegmentKind::Registry, LAYOUT, size_of::<RegistryLayout>(), |_| {})?;
        Ok(Registry { seg })
    }

    fn layout(&self) -> &RegistryLayout {
        // SAFETY: the segment was validated to be exactly this layout's size (total_size and
        // layout hash checked on open); every field is an integer or atomic, valid for any bits.
        // The length and alignment checks of `at` are therefore proven already.
        unsafe { self.seg.at_validated::<RegistryLayout>(0) }
    }

    pub fn entry(&self, i: u32) -> &HolderEntry {
        &self.layout().entries[i as usize]
    }

    /// Claim a free entry for `kind` with `name`; returns its index.
    ///
    /// A process without a readable start time cannot register: an entry with an unknown start
    /// time would match any later process that reuses the pid, so it could never be reaped
    /// safely (and a recycled pid would keep its holds forever).
    pub fn claim(&self, kind: u64, name: &str) -> Result<u32, OpenError> {
        let pid = process::current_pid();
        let start = process::own_start_time().ok_or_else(|| OpenError::Io {
            path: format!("/proc/{pid}/stat").into(),
            source: std::io::Error::other("cannot read this process's start time, needed to register as a holder"),
        })?;
        let pid_ns = process::pid_namespace();
        for attempt in 0..3 {
            for (i, e) in self.layout().entries.iter().enumerate() {
                // Relaxed: a filter, so a full table costs loads, not a failed CAS per entry
                // (the CAS below decides).
                if e.word.load(Ordering::Relaxed) != 0 {
                    continue;
                }
                let claiming = pack(ST_CLAIMING, kind, 0, pid);
                // AcqRel on success: we own the entry; Acquire pairs with the previous owner's
                // free (Release) so its stale name writes do not overtake ours.
                if e.word.compare_exchange(0, claiming, Ordering::AcqRel, Ordering::Relaxed).is_err() {
                    continue;
                }
                if self.activate(e, claiming, kind, start, pid_ns, name) {
                    return Ok(i as u32);
                }
            }
            if attempt == 0 {
                self.reap_dead_entries(None);
            }
        }
        Err(self.full())
    }

    /// The error for a full table: the limit, how many processes and topics hold the entries,
    /// and the first few of them by name.
    pub fn full(&self) -> OpenError {
        let all = self.snapshots();
        let processes = all.iter().filter(|s| s.kind == KIND_PROCESS).count();
        let topics = all.iter().filter(|s| s.kind == KIND_TOPIC).count();
        let mut sample: Vec<String> = all.iter().take(4).map(|s| if s.kind == KIND_TOPIC { format!("topic {}", s.name) } else { format!("{} (pid {})", s.name, s.pid) }).collect();
        if all.len() > 4 {
            sample.push(format!("and {} more", all.len() - 4));
        }
        OpenError::TooManyHolders { limit: MAX_HOLDERS, processes, topics, sample: sample.join(", ") }
    }

    /// With the entry in state CLAIMING (`claiming`, ours): write who we are and go ACTIVE.
    fn activate(&self, e: &HolderEntry, claiming: u64, kind: u64, start: u64, pid_ns: u64, name: &str) -> bool {
        // Relaxed: published by the Release CAS to ACTIVE below.
        e.start_time.store(start, Ordering::Relaxed);
        e.pid_ns.store(pid_ns, Ordering::Relaxed);
        write_name(&e.name, name);
        // Release: start time, namespace and name are visible to whoever sees ACTIVE. A CAS, not
        // a store: a reaper in another PID namespace may have judged the CLAIMING entry by a pid
        // that means nothing there and freed it; then it may belong to someone else already,
        // and we must not overwrite it.
        e.word.compare_exchange(claiming, pack(ST_ACTIVE, kind, 0, pid(claiming)), Ordering::Release, Ordering::Relaxed).is_ok()
    }

    /// For a newcomer that found every entry taken ([`Registry::claim`] failed): take over the
    /// entry of a dead process. Its holds are released first by `clear(index)` (the caller
    /// clears that holder's bit in every pool and topic), then the entry becomes ours, so a
    /// namespace full of dead-but-registered processes still admits a newcomer without anyone
    /// cleaning up by hand. Dead entries left REAPING by a dead reaper are taken over as well.
    pub fn claim_dead(&self, kind: u64, name: &str, clear: impl Fn(u32)) -> Result<u32, OpenError> {
        let pid = process::current_pid();
        let start = process::own_start_time().ok_or_else(|| self.full())?;
        for i in 0..MAX_HOLDERS as u32 {
            let e = self.entry(i);
            // Acquire: pairs with the claimer's Release CAS to ACTIVE (start time, namespace).
            let w = e.word.load(Ordering::Acquire);
            if dead_process_entry(self, i, w) {
                // The entry names itself as reaper: whoever sees it REAPING takes over (a dead
                // reaper), which is harmless, since clearing bits is idempotent.
                let reaping = pack(ST_REAPING, KIND_PROCESS, i as u64 + 1, self::pid(w));
                // AcqRel: take the entry only if unchanged.
                if e.word.compare_exchange(w, reaping, Ordering::AcqRel, Ordering::Relaxed).is_err() {
                    continue;
                }
                clear(i);
                let claiming = pack(ST_CLAIMING, kind, 0, pid);
                // AcqRel: from our REAPING word only; a reaper that took over and freed it
                // meanwhile leaves the entry to the normal claim path.
                if e.word.compare_exchange(reaping, claiming, Ordering::AcqRel, Ordering::Relaxed).is_ok()
                    && self.activate(e, claiming, kind, start, process::pid_namespace(), name)
                {
                    return Ok(i);
                }
                if let Ok(i) = self.claim(kind, name) {
                    return Ok(i);
                }
            }
        }
        Err(self.full())
    }

    /// Free entry `i` (its bits must be cleared everywhere already).
    pub fn free(&self, i: u32) {
        // Release: everything we did as this holder happens before the entry can be reused.
        self.entry(i).word.store(0, Ordering::Release);
    }

    /// Free entry `i` only if its word is still `w` (a reaper frees what it marked REAPING,
    /// never an entry another process has claimed since). True if freed.
    pub fn free_if(&self, i: u32, w: u64) -> bool {
        // Release: the bits we cleared happen before the entry can be reused.
        self.entry(i).word.compare_exchange(w, 0, Ordering::Release, Ordering::Relaxed).is_ok()
    }

    pub fn snapshot(&self, i: u32) -> HolderSnapshot {
        let e = self.entry(i);
        // Acquire: pairs with the Release store of ACTIVE, so name and start time are complete.
        let w = e.word.load(Ordering::Acquire);
        HolderSnapshot { index: i, state: st(w), kind: kind(w), pid: pid(w), start_time: e.start_time.load(Ordering::Relaxed), name: read_name(&e.name) }
    }

    pub fn snapshots(&self) -> Vec<HolderSnapshot> {
        (0..MAX_HOLDERS as u32).map(|i| self.snapshot(i)).filter(|s| s.state != ST_FREE).collect()
    }

    /// Judge process entry `i` (as seen in `w`) from this process: a holder registered in
    /// another PID namespace is [`Liveness::Unknown`] (its pid names another process here, or
    /// none), and so is this process itself (it is alive by definition, whatever `/proc` says).
    pub fn judge(&self, i: u32, w: u64) -> Liveness {
        let e = self.entry(i);
        // Relaxed: the caller loaded `w` with Acquire, which ordered these after the claimer's
        // Release CAS to ACTIVE.
        let (start, ns) = (e.start_time.load(Ordering::Relaxed), e.pid_ns.load(Ordering::Relaxed));
        if ns != process::pid_namespace() {
            return Liveness::Unknown;
        }
        if pid(w) == process::current_pid() {
            // Ourselves, or a dead predecessor that had our pid: only the start time tells, and
            // it is read from our own memory, not a `/proc` read that may fail.
            return match process::own_start_time() {
                Some(t) if t == start => Liveness::Alive,
                Some(_) => Liveness::Dead,
                None => Liveness::Unknown,
            };
        }
        process::liveness(pid(w), start)
    }

    /// True if process entry `i` (as seen in `w`) may belong to a live process.
    pub fn process_alive(&self, i: u32, w: u64) -> bool {
        self.judge(i, w).maybe_alive()
    }

    /// Mark dead processes' entries REAPING (taking over from dead reapers) and return their
    /// indices with the REAPING word written (for [`Registry::free_if`]); `me` is the reaper's
    /// own index (None when called before registration, in which case only dead CLAIMING
    /// entries, which hold nothing, are freed). Only [`Liveness::Dead`] counts: a holder that
    /// cannot be judged from here is left alone.
    pub fn reap_dead_entries(&self, me: Option<u32>) -> Vec<(u32, u64)> {
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
                    // so judge by the pid alone, and only from the claimer's PID namespace once
                    // it is written (0: not yet; the claimer's CAS to ACTIVE catches a mistake).
                    // Relaxed: a hint; the CAS below decides.
                    let ns = e.pid_ns.load(Ordering::Relaxed);
                    let here = ns == 0 || ns == process::pid_namespace();
                    if here && pid(w) != process::current_pid() && process::liveness(pid(w), 0) == Liveness::Dead {
                        // AcqRel: take the entry only if unchanged.
                        let _ = e.word.compare_exchange(w, 0, Ordering::AcqRel, Ordering::Relaxed);
                    }
                }
                ST_ACTIVE => {
                    let Some(me) = me else { continue };
                    if i != me && self.judge(i, w) == Liveness::Dead {
                        let new = pack(ST_REAPING, KIND_PROCESS, me as u64 + 1, pid(w));
                        if e.word.compare_exchange(w, new, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                            out.push((i, new));
                        }
                    }
                }
                ST_REAPING => {
                    let Some(me) = me else { continue };
                    if i == me {
                        continue; // a scribbled entry naming ourselves: never reap ourselves
                    }
                    let r = reaper(w);
                    // `r` is shared memory: a reaper index past the table (a scribbled entry)
                    // is a dead reaper, not an index (found by tests/hardening.rs: it panicked
                    // with an index out of bounds).
                    let reaper_alive = r != 0 && r as usize <= MAX_HOLDERS && r - 1 != i as u64 && {
                        let rw = self.entry(r as u32 - 1).word.load(Ordering::Acquire);
                        st(rw) == ST_ACTIVE && self.process_alive(r as u32 - 1, rw)
                    };
                    // Our own unfinished reap (a thread of ours that was interrupted) is taken
                    // over too: reaps in one process are serialized by the caller.
                    if !reaper_alive || r - 1 == me as u64 {
                        let new = pack(ST_REAPING, KIND_PROCESS, me as u64 + 1, pid(w));
                        if e.word.compare_exchange(w, new, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                            out.push((i, new));
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

/// A process entry whose holder is known dead, or left REAPING by a reaper that is dead.
fn dead_process_entry(reg: &Registry, i: u32, w: u64) -> bool {
    if kind(w) != KIND_PROCESS {
        return false;
    }
    match st(w) {
        ST_ACTIVE => reg.judge(i, w) == Liveness::Dead,
        ST_REAPING => {
            let r = reaper(w);
            r == 0 || r as usize > MAX_HOLDERS || r - 1 == i as u64 || {
                let rw = reg.entry(r as u32 - 1).word.load(Ordering::Acquire);
                !(st(rw) == ST_ACTIVE && reg.process_alive(r as u32 - 1, rw))
            }
        }
        _ => false,
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
