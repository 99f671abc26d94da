//! Topic rings: one shared-memory ring of descriptors per topic; many publishers, many
//! subscribers, each subscriber sees every entry it keeps up with.
//!
//! Layout of segment `topic-<name>`:
//!
//! ```text
//! 0     SegmentHeader (64)
//! 64    TopicHeader (384): name, type, depth, policy; then three cache lines:
//!       A head, sent (what readers poll); B lock, holder, openers, publishers (writers);
//!       C notify/progress futex words and their sleeper bitmaps
//! 448   SubEntry[MAX_SUBS] (64 each): owner, cursor, misses, received
//! ...   Entry[depth] (128 each): stamp, the 64-byte descriptor as 8 words, then 7 tail words
//!       (bytes 48..104 of a long inline message)
//! ```
//!
//! Writers serialize on `lock` (holder index + pid, so a dead writer's lock is taken over and
//! the ring repaired). Every wait for the lock is bounded: a live holder that does not let go
//! (stopped by SIGSTOP or a debugger, or a scribbled lock word naming a live process) makes a
//! send fail with `SendError::Locked` naming its pid once the send's timeout has passed, and
//! closing a topic, `leave` and the reaper give up after [`CLOSE_BOUND`], leaving the work to a
//! later reaper. Waiting spins briefly, then yields, then sleeps (at most 1 ms at a time), so a
//! stuck holder costs its waiters almost no CPU.
//!
//! Under the lock a writer: takes a topic reference on the payload slot (the topic's own holder bit: idempotent), writes entry `head % depth` as a seqlock (stamp odd
//! while writing, `2*pos+2` when complete for position `pos`), publishes `head = pos+1`
//! (Release), then drops the reference of the overwritten entry unless another entry still names
//! that slot. It also drops the references of older entries that every live subscriber has
//! already read (their readers hold the slots themselves by then), keeping only the newest for
//! late joiners: a topic whose subscribers keep up pins one frame, not `depth`, so a publisher's
//! next loan finds a recently used, cache-warm slot. `released` is that watermark. Readers never lock: they peek at the stamp of the entry their cursor names; when
//! it is complete for exactly that position they copy the entry and re-check the stamp, without
//! reading `head` (one cache line per short message on the delivery path). Any other stamp
//! (lapped, a dead writer, a scribble) sends them to `head` (Acquire) for miss accounting. Then
//! they take their own hold, which re-checks the slot generation (a recycled slot is a miss).
//!
//! Wakeups: a send bumps `notify` and wakes sleepers only when the `sleepers` bitmap is non-zero
//! (SeqCst Dekker pair with the reader's registration), so a blocking receive costs a futex
//! sleep and no busy loop. The bitmap (one bit per process) heals itself: a sleeper killed in
//! its sleep costs at most the next send one futile wake (see `sleepers.rs`). Reliable writers
//! sleep on `progress` the same way (`writer_sleepers`).
//!
//! The topic's `holder` index is shared memory too: before it is used to clear slot bits or to
//! free a registry entry, the entry it names must be an ACTIVE topic entry with this topic's
//! name. The verified (index, entry word) pair is cached per mapping, so a send compares two
//! words, not a name.
//!
//! Repair after a writer died holding the lock: publish a completed-but-unpublished entry, then
//! recompute the topic's references: a slot keeps the topic bit iff a complete entry names it.

use crate::descriptor::{self, kind, Descriptor};
use crate::error::{OpenError, RecvError, SendError, TopicError};
use crate::lease::SlotRef;
use crate::namespace::{Namespace, MAX_POOLS};
use crate::registry::{self, KIND_PROCESS, KIND_TOPIC, ST_ACTIVE};
use crate::segment::{layout_hash, Segment, SegmentKind};
use crate::sleepers::{self, Sleeper};
use crate::word;
use std::borrow::Cow;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Subscribers per topic.
pub const MAX_SUBS: usize = 64;
/// Largest ring depth.
pub const MAX_DEPTH: u32 = 4096;
/// Inline messages up to this length end within the first 7 descriptor words, which share the
/// entry's first cache line with the stamp.
const SHORT_INLINE: usize = descriptor::INLINE_CAPACITY - 8;
/// Words after the descriptor in a ring entry that carry the rest of a long inline message.
pub const TAIL_WORDS: usize = 7;
/// Longest inline message a ring entry carries: 48 bytes in the descriptor (bytes 16..64) and
/// 56 in the tail words after it, so a 64- to 104-byte message (a pose, an IMU sample) travels
/// without a slot.
pub const INLINE_MAX: usize = descriptor::INLINE_CAPACITY + 8 * TAIL_WORDS;
/// The tail words of an entry: bytes 48.. of an inline message longer than 48 bytes.
pub type Tail = [u64; TAIL_WORDS];
/// Default depth: frames a topic pins at most.
pub const DEFAULT_DEPTH: u32 = 4;

/// Delivery policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Overwrite the oldest entry; slow subscribers count misses. Default.
    Latest,
    /// A send waits (with a timeout) until the slowest live subscriber has room.
    Reliable,
}

#[repr(C)]
pub struct TopicHeader {
    pub name: [u8; 64],
    pub type_name: [u8; 64],
    pub type_hash: u64,
    pub msg_size: u32,
    pub depth: u32,
    pub policy: u32,
    pub _p0: u32,
    pub _p1: [u64; 5],
    // --- line A (offset 256 in the segment): what a spinning reader polls ---
    /// Next position to write; entries `< head` are published.
    pub head: AtomicU64,
    /// Messages sent (statistics).
    pub sent: AtomicU64,
    pub _pa: [u64; 6],
    // --- line B: writer coordination (readers never touch it on the fast path) ---
    /// 0, or (holder index + 1) << 32 | pid of the writer holding it.
    pub lock: AtomicU64,
    /// The topic's holder index + 1 in the registry (0: none allocated yet).
    pub holder: AtomicU32,
    pub _pb0: u32,
    /// Bitmap of processes (holder indices) that have the topic open.
    pub openers: AtomicU64,
    /// Bitmap of processes that publish on it.
    pub publishers: AtomicU64,
    /// Positions below this no longer hold their slots: every live subscriber had read them
    /// when a later send released them (the newest entry is always kept). Written under `lock`.
    pub released: AtomicU64,
    /// Bitmap of subscriber entries a send must look at: a superset of the claimed ones. A
    /// claimer sets its bit once it owns the entry; only an owner clears its own bit, before it
    /// gives the entry up (entries of dead owners keep theirs until reclaimed: a wasted check,
    /// never a live subscriber overlooked).
    pub subs: AtomicU64,
    pub _pb: [u64; 2],
    // --- line C: futex words and their sleepers (protocol in `sleepers.rs`) ---
    /// Bumped on every send (futex word for blocking receivers).
    pub notify: AtomicU32,
    /// Bumped when a subscriber advances (futex word for reliable writers).
    pub progress: AtomicU32,
    /// Bitmap of processes (holder indices) with a receiver sleeping on `notify`. A superset
    /// that heals: a dead sleeper's bit is cleared by the first send that wakes nobody.
    pub sleepers: AtomicU64,
    /// Bitmap of processes with a reliable writer sleeping on `progress` (heals likewise).
    pub writer_sleepers: AtomicU64,
    /// futex_wake calls made on `notify` and `progress` (statistics: a topic whose sleepers
    /// died stops adding to it).
    pub wakes: AtomicU64,
    pub _pc: [u64; 4],
}
const _: () = assert!(size_of::<TopicHeader>() == 384);
const _: () = assert!(offset_of!(TopicHeader, head) == 192);
const _: () = assert!(offset_of!(TopicHeader, lock) == 256);
const _: () = assert!(offset_of!(TopicHeader, notify) == 320);
const _: () = assert!(offset_of!(TopicHeader, sleepers) == 328);

#[repr(C)]
pub struct SubEntry {
    /// 0 free, else (holder index + 1) | pid << 32.
    pub owner: AtomicU64,
    /// Next position this subscriber reads.
    pub cursor: AtomicU64,
    pub misses: AtomicU64,
    pub received: AtomicU64,
    pub _pad: [u64; 4],
}
const _: () = assert!(size_of::<SubEntry>() == 64);

#[repr(C)]
pub struct Entry {
    /// Seqlock stamp: odd while being written, `2*pos+2` once complete for position `pos`.
    pub stamp: AtomicU64,
    pub desc: [AtomicU64; 8],
    /// Bytes 48.. of an inline message longer than [`descriptor::INLINE_CAPACITY`]; unused
    /// (and possibly stale) otherwise. Written and read under the same seqlock as `desc`.
    pub tail: [AtomicU64; TAIL_WORDS],
}
const _: () = assert!(size_of::<Entry>() == 128);

const SUBS_AT: usize = 64 + size_of::<TopicHeader>();
const ENTRIES_AT: usize = SUBS_AT + MAX_SUBS * size_of::<SubEntry>();
const LAYOUT: u64 = layout_hash(&[
    // 6: counters of sleepers (`waiters`, `writer_waiters`) became self-healing bitmaps.
    6,
    INLINE_MAX,
    offset_of!(TopicHeader, sleepers),
    offset_of!(TopicHeader, writer_sleepers),
    offset_of!(TopicHeader, wakes),
    offset_of!(TopicHeader, released),
    offset_of!(TopicHeader, subs),
    size_of::<TopicHeader>(),
    size_of::<SubEntry>(),
    size_of::<Entry>(),
    MAX_SUBS,
    descriptor::LAYOUT[0],
    descriptor::LAYOUT[1],
    descriptor::LAYOUT[2],
    descriptor::LAYOUT[3],
]);

/// Validate a topic name: 1-63 chars of `[A-Za-z0-9._-/]`, `/`-separated parts that are not
/// empty, `.` or `..`, and no `.tmp.` (the mark of a temporary segment file).
pub fn check_name(name: &str) -> Result<(), TopicError> {
    let ok = !name.is_empty()
        && name.len() < 64
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-/".contains(&c))
        && name.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && !name.contains(".tmp.");
    if ok {
        Ok(())
    } else {
        Err(TopicError::BadName(name.to_string()))
    }
}

fn file_name(name: &str) -> String {
    format!("topic-{}", name.replace('/', ":"))
}

/// Names of the topics whose segments exist in `dir`.
pub fn topic_names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let f = e.file_name().to_string_lossy().into_owned();
            if let Some(n) = f.strip_prefix("topic-") {
                if !n.contains(".tmp.") {
                    out.push(n.replace(':', "/"));
                }
            }
        }
    }
    out.sort();
    out
}

fn str_field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn set_str(dst: &mut [u8], s: &str) {
    let n = s.len().min(dst.len() - 1);
    dst[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// What a topic carries; checked when opening an existing topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicType {
    /// Human-readable type name (e.g. `CmdVel`, `Image`, `dict`); empty: accept any.
    pub name: String,
    /// Layout hash of a POD type (0 if not POD).
    pub hash: u64,
    /// POD size in bytes (0 if not POD).
    pub size: u32,
}

/// How long closing a topic, `leave` and a reap wait for a ring lock that a live process holds
/// before they give up and leave the work to a later reaper.
pub const CLOSE_BOUND: Duration = Duration::from_millis(500);
/// Lock waits: spins, then yields, then sleeps of at most this long between tries.
const LOCK_NAP_MAX: Duration = Duration::from_millis(1);
const LOCK_SPINS: u32 = 64;
const LOCK_YIELDS: u32 = 16;
/// How often a lock waiter asks whether the holder still lives (a read of /proc).
const LOCK_LIVENESS_EVERY: Duration = Duration::from_millis(10);
/// `holder_ok` keeps the entry word's low 48 bits (reaper byte and pid) under the index.
const WORD_LOW: u64 = (1 << 48) - 1;

/// The writer lock was not taken in time: a live process `pid` holds it.
#[derive(Debug, Clone, Copy)]
struct Held {
    pid: u32,
}

/// A mapped topic ring.
pub struct RingSeg {
    seg: Segment,
    depth: u32,
    name: String,
    /// The last verified holder: `holder << 48 | (entry word & WORD_LOW)`, or 0. Process-local.
    holder_ok: AtomicU64,
    /// Threads of this process sleeping on `notify` / on `progress`.
    readers: sleepers::Local,
    writers: sleepers::Local,
}

impl std::fmt::Debug for RingSeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RingSeg({}, depth {})", self.name, self.depth)
    }
}

impl RingSeg {
    fn open_or_create(dir: &Path, name: &str, ty: &TopicType, depth: u32, policy: Policy) -> Result<RingSeg, TopicError> {
        check_name(name)?;
        let depth = depth.clamp(1, MAX_DEPTH);
        let size = ENTRIES_AT + depth as usize * size_of::<Entry>();
        let (seg, _) = Segment::open_or_create(&dir.join(file_name(name)), SegmentKind::Topic, LAYOUT, size, |seg| {
            // SAFETY: fresh private mapping; the header lies in bounds.
            let h = unsafe { &mut *(seg.base().add(64) as *mut TopicHeader) };
            set_str(&mut h.name, name);
            set_str(&mut h.type_name, &ty.name);
            h.type_hash = ty.hash;
            h.msg_size = ty.size;
            h.depth = depth;
            h.policy = policy as u32;
        })?;
        let ring = Self::validate(seg, name)?;
        let h = ring.header();
        let existing = str_field(&h.type_name);
        if !ty.name.is_empty() && !existing.is_empty() && (existing != ty.name || h.type_hash != ty.hash || h.msg_size != ty.size) {
            let describe = |n: &str, hash: u64, size: u32| if size > 0 { format!("{n} ({size} B, layout {hash:#x})") } else { n.to_string() };
            return Err(TopicError::TypeMismatch {
                topic: name.to_string(),
                existing: describe(&existing, h.type_hash, h.msg_size),
                requested: describe(&ty.name, ty.hash, ty.size),
            });
        }
        Ok(ring)
    }

    /// Open an existing topic without type checks (reaper, tools).
    pub fn open_existing(dir: &Path, name: &str) -> Result<RingSeg, TopicError> {
        check_name(name)?;
        let seg = Segment::open(&dir.join(file_name(name)), SegmentKind::Topic, LAYOUT)?;
        Self::validate(seg, name)
    }

    fn validate(seg: Segment, name: &str) -> Result<RingSeg, TopicError> {
        let path = seg.path().to_path_buf();
        if seg.len() < ENTRIES_AT {
            return Err(OpenError::Truncated { path, expected: ENTRIES_AT as u64, actual: seg.len() as u64 }.into());
        }
        // SAFETY: the header lies within the validated length; integers and atomics only.
        let h = unsafe { seg.at::<TopicHeader>(64) };
        let depth = h.depth;
        if depth == 0 || depth > MAX_DEPTH {
            return Err(OpenError::BadHeader { path, field: "depth", value: depth as u64 }.into());
        }
        let need = ENTRIES_AT + depth as usize * size_of::<Entry>();
        if need != seg.len() {
            return Err(OpenError::Truncated { path, expected: need as u64, actual: seg.len() as u64 }.into());
        }
        if h.policy > 1 {
            return Err(OpenError::BadHeader { path, field: "policy", value: h.policy as u64 }.into());
        }
        if str_field(&h.name) != name {
            return Err(OpenError::BadHeader { path, field: "name", value: 0 }.into());
        }
        Ok(RingSeg { seg, depth, name: name.to_string(), holder_ok: AtomicU64::new(0), readers: sleepers::Local::default(), writers: sleepers::Local::default() })
    }

    pub fn header(&self) -> &TopicHeader {
        // SAFETY: validated on open.
        unsafe { self.seg.at::<TopicHeader>(64) }
    }
    fn sub(&self, i: usize) -> &SubEntry {
        // SAFETY: i < MAX_SUBS; the table lies within the validated segment.
        unsafe { self.seg.at::<SubEntry>(SUBS_AT + (i % MAX_SUBS) * size_of::<SubEntry>()) }
    }
    #[inline]
    fn entry(&self, pos: u64) -> &Entry {
        let d = self.depth as u64;
        // A mask for power-of-two depths (the default 4 among them): a 64-bit division costs
        // more than the rest of an in-process receive's index work.
        let i = if d.is_power_of_two() { pos & (d - 1) } else { pos % d } as usize;
        // SAFETY: i < depth; entries lie within the validated segment.
        unsafe { self.seg.at::<Entry>(ENTRIES_AT + i * size_of::<Entry>()) }
    }
    pub fn depth(&self) -> u32 {
        self.depth
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn policy(&self) -> Policy {
        if self.header().policy == 1 {
            Policy::Reliable
        } else {
            Policy::Latest
        }
    }
    pub fn type_name(&self) -> String {
        str_field(&self.header().type_name)
    }

    /// Read the complete entry at `pos`, if it still holds that position.
    fn read_entry(&self, pos: u64) -> Option<Descriptor> {
        self.read_entry_at(self.entry(pos), pos, None)
    }

    /// `read_entry` for the entry `e` that position `pos` maps to; with `tail`, also the tail
    /// words of a long inline message (left untouched for any other entry).
    fn read_entry_at(&self, e: &Entry, pos: u64, tail: Option<&mut Tail>) -> Option<Descriptor> {
        // Acquire: pairs with the writer's Release stamp store; the words below are its.
        let s1 = e.stamp.load(Ordering::Acquire);
        if s1 != stamp(pos, true) {
            return None;
        }
        let mut w = [0u64; 8];
        for (d, s) in w.iter_mut().zip(&e.desc[..7]) {
            // Relaxed: validated by the stamp re-check after the Acquire fence.
            *d = s.load(Ordering::Relaxed);
        }
        // Word 7 is the entry's second cache line. An inline message of at most 40 bytes ends
        // before it (the writer zeroes the rest), so short messages cost the reader one line.
        let head_only = Descriptor::from_words(w);
        if !(head_only.is_inline() && head_only.aux as usize <= SHORT_INLINE) {
            // Relaxed: as above.
            w[7] = e.desc[7].load(Ordering::Relaxed);
        }
        // The tail shares word 7's line: a long inline message costs the reader two lines.
        if let Some(t) = tail.filter(|_| head_only.is_inline() && head_only.aux as usize > descriptor::INLINE_CAPACITY) {
            for (d, s) in t.iter_mut().zip(&e.tail) {
                // Relaxed: as above.
                *d = s.load(Ordering::Relaxed);
            }
        }
        // Acquire fence: the word loads above happen before the second stamp load.
        fence(Ordering::Acquire);
        (e.stamp.load(Ordering::Relaxed) == s1).then(|| Descriptor::from_words(w))
    }

    // ---- writer side -------------------------------------------------------------------------

    /// Take the writer lock, waiting at most `bound` from `*start`. The clock is read only once
    /// the lock is contended: `*start` is set then (if unset) and shared with the caller's later
    /// attempts. A dead holder's lock is taken over and the ring repaired; a live one that keeps
    /// it past the bound is `Held`, naming its pid.
    #[inline]
    fn lock(&self, ns: &Namespace, bound: Duration, start: &mut Option<Instant>) -> Result<(), Held> {
        let me = ((ns.holder_index() as u64 + 1) << 32) | crate::process::current_pid() as u64;
        // Acquire: pairs with the previous holder's Release unlock (its ring writes).
        if self.header().lock.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return Ok(());
        }
        self.lock_contended(ns, me, bound, start)
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self, ns: &Namespace, me: u64, bound: Duration, start: &mut Option<Instant>) -> Result<(), Held> {
        let h = self.header();
        let mut tries = 0u32;
        let mut nap = Duration::from_micros(10);
        let mut next_check: Option<Instant> = None;
        loop {
            // Acquire: as in `lock`.
            let cur = match h.lock.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(cur) => cur,
            };
            tries = tries.saturating_add(1);
            if tries <= LOCK_SPINS {
                std::hint::spin_loop();
                continue;
            }
            if tries <= LOCK_SPINS + LOCK_YIELDS || cur == 0 {
                std::thread::yield_now();
                continue;
            }
            // The holder kept the lock through the spins and yields: descheduled, stopped or
            // dead. From here on read the clock, and ask about its life now and then (and
            // once more before giving up).
            let now = Instant::now();
            let t0 = *start.get_or_insert(now);
            let over = now.saturating_duration_since(t0) >= bound;
            if over || next_check.is_none_or(|t| now >= t) {
                next_check = Some(now + LOCK_LIVENESS_EVERY);
                if !self.locker_alive(ns, cur) {
                    // Acquire: as in `lock`. Take over a dead writer's lock and repair what it
                    // left; a failed CAS means the word moved on: try again.
                    if h.lock.compare_exchange(cur, me, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                        self.repair(ns);
                        return Ok(());
                    }
                    continue;
                }
            }
            if over {
                return Err(Held { pid: cur as u32 });
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(LOCK_NAP_MAX);
        }
    }

    /// True when lock word `lock` names a live process: an index within the registry whose
    /// entry is an ACTIVE process entry with the same pid, and that process runs (or is
    /// stopped). Anything else (an index past the table, a topic's entry, another pid) is a
    /// dead or scribbled holder whose lock may be taken over.
    fn locker_alive(&self, ns: &Namespace, lock: u64) -> bool {
        let idx = (lock >> 32) as u32;
        let pid = lock as u32;
        if idx == 0 || idx as usize > registry::MAX_HOLDERS {
            return false;
        }
        // Acquire: pairs with the claimer's Release of ACTIVE (its start time is complete).
        let w = ns.inner.registry.entry(idx - 1).word.load(Ordering::Acquire);
        registry::pid(w) == pid && registry::st(w) == ST_ACTIVE && registry::kind(w) == KIND_PROCESS && ns.inner.registry.process_alive(idx - 1, w)
    }

    fn unlock(&self) {
        // Release: our entry, head and slot-word changes happen before the next writer's lock.
        self.header().lock.store(0, Ordering::Release);
    }

    /// Under the lock: finish a dead writer's publish and recompute topic references.
    fn repair(&self, ns: &Namespace) {
        let h = self.header();
        let head = h.head.load(Ordering::Relaxed);
        if self.entry(head).stamp.load(Ordering::Acquire) == stamp(head, true) {
            // Release: publish the completed entry.
            h.head.store(head.wrapping_add(1), Ordering::Release);
        }
        self.recompute_refs(ns);
    }

    /// Under the lock: a slot keeps this topic's bit iff a complete entry names it.
    fn recompute_refs(&self, ns: &Namespace) -> u32 {
        let Some(bit) = self.holder_bit(ns) else { return 0 };
        let head = self.header().head.load(Ordering::Acquire);
        // Relaxed: under the lock. Entries below `released` hold nothing (clamped: shared memory).
        let from = head.saturating_sub(self.depth as u64).max(self.header().released.load(Ordering::Relaxed).min(head.saturating_sub(1)));
        let live: Vec<Descriptor> = (from..head).filter_map(|p| self.read_entry(p)).filter(is_payload).collect();
        let mut freed = 0;
        for id in 0..MAX_POOLS as u8 {
            let Some(pool) = ns.pool_existing(id) else { continue };
            for i in 0..pool.slots() {
                let s = pool.slot(i);
                // Acquire: see the slot's generation as of the word we read.
                if s.word.load(Ordering::Acquire) & (1u64 << bit) == 0 {
                    continue;
                }
                let g = s.generation.load(Ordering::Relaxed);
                if !live.iter().any(|d| d.pool == id && d.slot == i && d.generation == g) && pool.release(i, bit) == word::Removed::Freed {
                    freed += 1;
                }
            }
        }
        freed
    }

    /// The topic's holder index (its bit in slot words), or None if none is allocated.
    /// `holder` is shared memory: an index past the registry (a scribbled header) counts as
    /// none, so it never becomes an out-of-range shift or registry index (found by
    /// fuzz/ring_entry: a corrupt `holder` panicked in `dissolve` with an index out of bounds).
    /// So does an index whose registry entry is not this topic's (an ACTIVE topic entry with
    /// its name): a scribbled index naming a process or another topic must not clear that
    /// holder's bits or free its entry. Two loads when the (index, entry word) pair is the one
    /// verified last; the name is compared only when it changed.
    #[inline]
    fn holder_bit(&self, ns: &Namespace) -> Option<u32> {
        // Acquire: pairs with the Release store in `topic_holder` (registry entry complete).
        let hidx = self.header().holder.load(Ordering::Acquire);
        if hidx == 0 || hidx as usize > registry::MAX_HOLDERS {
            return None;
        }
        // Acquire: pairs with the claimer's Release of ACTIVE (the name is complete).
        let w = ns.inner.registry.entry(hidx - 1).word.load(Ordering::Acquire);
        if registry::st(w) != ST_ACTIVE || registry::kind(w) != KIND_TOPIC {
            return None;
        }
        let key = (hidx as u64) << 48 | (w & WORD_LOW);
        // Relaxed: a process-local cache of a pair checked in `verify_holder`; it publishes
        // nothing, and a stale value only costs another check.
        if self.holder_ok.load(Ordering::Relaxed) == key {
            return Some(hidx - 1);
        }
        self.verify_holder(ns, hidx - 1, w, key)
    }

    #[cold]
    #[inline(never)]
    fn verify_holder(&self, ns: &Namespace, i: u32, w: u64, key: u64) -> Option<u32> {
        let reg = &ns.inner.registry;
        let name = reg.snapshot(i).name;
        // Acquire: as in `holder_bit`; an unchanged word means the name read in between is the
        // entry's as of `w`, not a later claimer's half-written one.
        if reg.entry(i).word.load(Ordering::Acquire) != w {
            return None;
        }
        // The registry keeps the first NAME_LEN bytes of a name.
        let ours = &self.name.as_bytes()[..self.name.len().min(registry::NAME_LEN)];
        if name.as_bytes() != ours {
            return None;
        }
        // Relaxed: see `holder_bit`.
        self.holder_ok.store(key, Ordering::Relaxed);
        Some(i)
    }

    /// Under the lock: the topic's holder index, allocating one on first payload send. A
    /// `holder` that fails verification is replaced by a fresh entry (the entry it named, if
    /// any, is left alone).
    fn topic_holder(&self, ns: &Namespace) -> Result<u32, OpenError> {
        let h = self.header();
        if let Some(bit) = self.holder_bit(ns) {
            return Ok(bit);
        }
        let idx = ns.inner.registry.claim(KIND_TOPIC, &self.name)?;
        // Release: the registry entry is complete before the ring names it.
        h.holder.store(idx + 1, Ordering::Release);
        Ok(idx)
    }

    /// Publish `desc` (whose slot, if any, the caller holds through `hold`).
    pub fn send(&self, ns: &Namespace, desc: Descriptor, hold: Option<&SlotRef>, timeout: Duration) -> Result<u64, SendError> {
        self.send_entry(ns, desc, None, hold, timeout)
    }

    /// [`RingSeg::send`] with the tail words of a long inline message (see [`inline_message`]);
    /// `tail` is written only when `desc` is inline and longer than the descriptor holds.
    pub fn send_entry(&self, ns: &Namespace, mut desc: Descriptor, tail: Option<&Tail>, hold: Option<&SlotRef>, timeout: Duration) -> Result<u64, SendError> {
        let h = self.header();
        // The clock is read only once a send has to wait (for the lock or, reliable, for
        // room), so a send that finds both reads no clock (perf: clock_gettime was 6 % of a
        // Python send). `start` bounds both waits together by `timeout`.
        let mut start: Option<Instant> = None;
        let mut last_reap: Option<Instant> = None;
        loop {
            if let Err(held) = self.lock(ns, timeout, &mut start) {
                return Err(SendError::Locked { topic: self.name.clone(), pid: held.pid });
            }
            if self.policy() == Policy::Latest || self.has_room(ns) {
                break;
            }
            self.unlock();
            let t0 = *start.get_or_insert_with(Instant::now);
            let reaped = *last_reap.get_or_insert(t0);
            {
                // Protocol in `sleepers.rs`: arm (A, S), check the condition, sleep (R, W).
                let sleeper = Sleeper::enter(&h.progress, &h.writer_sleepers, ns.holder_index(), &self.writers);
                let seen = sleeper.arm();
                if !self.has_room(ns) {
                    let left = timeout.saturating_sub(t0.elapsed());
                    if left.is_zero() {
                        drop(sleeper);
                        ns.reap();
                        if self.has_room(ns) {
                            continue;
                        }
                        return Err(SendError::Timeout { topic: self.name.clone(), waited_ms: t0.elapsed().as_millis() as u64 });
                    }
                    sleeper.sleep(seen, left.min(Duration::from_millis(20)));
                }
            }
            if reaped.elapsed() > Duration::from_millis(100) {
                // A subscriber that died without a reap would stall us until the timeout.
                ns.reap();
                last_reap = Some(Instant::now());
            }
        }
        let result = (|| {
            if let Some(r) = hold {
                let bit = self.topic_holder(ns)?;
                let pool = ns.pool_existing(r.pool()).expect("held pool is open");
                // The sender holds the slot, so it is READY with a non-empty bitmap.
                word::add_holder(&pool.slot(r.slot()).word, bit, word::tag_of(r.generation())).map_err(|_| SendError::Descriptor {
                    topic: self.name.clone(),
                    source: crate::error::DescriptorError::Stale { pool: r.pool(), slot: r.slot(), expected: r.generation(), found: 0 },
                })?;
            }
            let pos = h.head.load(Ordering::Relaxed);
            let old = if pos >= self.depth as u64 { self.read_entry(pos - self.depth as u64) } else { None };
            // Stamp a sequence number into payload descriptors that have none. Never into an
            // inline one: its bytes 16..64 are the message itself.
            if !desc.is_inline() && desc.sequence == 0 {
                desc.sequence = pos.wrapping_add(1);
            }
            let e = self.entry(pos);
            // Relaxed + Release fence: readers that see a word of the new descriptor see the
            // odd stamp (their re-check fails) — the seqlock write protocol.
            e.stamp.store(stamp(pos, false), Ordering::Relaxed);
            fence(Ordering::Release);
            for (d, s) in e.desc.iter().zip(desc.to_words()) {
                d.store(s, Ordering::Relaxed);
            }
            if let Some(t) = tail.filter(|_| desc.is_inline() && desc.aux as usize > descriptor::INLINE_CAPACITY) {
                for (d, s) in e.tail.iter().zip(t) {
                    // Relaxed: ordered by the Release stamp store below, like the words above.
                    d.store(*s, Ordering::Relaxed);
                }
            }
            // Release: the descriptor words happen before the complete stamp.
            e.stamp.store(stamp(pos, true), Ordering::Release);
            // Relaxed: statistics. Bumped before `head` so that both writes land while this
            // core owns line A; after the head store a spinning reader may have pulled it away.
            h.sent.fetch_add(1, Ordering::Relaxed);
            // Release: readers that see the new head see the complete entry. Wrapping: `head`
            // is shared memory; a scribbled u64::MAX must not panic (see `stamp`).
            h.head.store(pos.wrapping_add(1), Ordering::Release);
            // Relaxed: written only under the lock we hold. Clamped: shared memory.
            let released = h.released.load(Ordering::Relaxed).min(pos);
            if let Some(old) = old.filter(is_payload) {
                if pos - self.depth as u64 >= released {
                    self.drop_ref(ns, &old, released.max(self.oldest_held(pos)), pos.saturating_add(1));
                }
            }
            self.release_consumed(ns, pos, released);
            Ok(if desc.is_inline() { pos.wrapping_add(1) } else { desc.sequence })
        })();
        self.unlock();
        // SeqCst: B of the sleepers protocol, the Dekker pair of a receiver's A then S.
        h.notify.fetch_add(1, Ordering::SeqCst);
        sleepers::wake(&h.notify, &h.sleepers, Some(&h.wakes));
        result
    }

    /// Under the lock, `pos` just published: drop the references of the entries before it that
    /// every live subscriber has read (positions below the smallest cursor), and move the
    /// `released` watermark past them. The newest entry is kept for late joiners and `latest()`.
    fn release_consumed(&self, ns: &Namespace, pos: u64, released: u64) {
        // A raw presence check: `drop_ref` verifies the index before it releases anything
        // (a verification here too cost a payload send ~5 ns).
        // Acquire: as in `holder_bit`.
        if self.header().holder.load(Ordering::Acquire) == 0 {
            return;
        }
        // At most depth - 1 positions: `pos` comes from shared memory, and a scribbled head near
        // u64::MAX must not turn this into a loop over 2^64 entries (found by
        // tests/hardening.rs: the victim spun here for minutes).
        let lo = released.max(self.oldest_held(pos));
        if lo >= pos {
            return;
        }
        let bound = self.min_live_cursor(ns).min(pos);
        if bound <= lo {
            return;
        }
        // Relaxed: read only under the lock. Stored before the references go: a writer that
        // dies in between leaves bits that the repair's recompute (which trusts `released`)
        // drops, never an entry that names an already released slot as held.
        self.header().released.store(bound, Ordering::Relaxed);
        for p in lo..bound {
            if let Some(d) = self.read_entry(p).filter(is_payload) {
                // The same frame may be named twice: only its last entry drops the reference,
                // and only when that entry is itself released.
                self.drop_ref(ns, &d, p + 1, pos.saturating_add(1));
            }
        }
    }

    /// The oldest position still in the ring once `pos` is published (`pos + 1 - depth`, without
    /// overflow for any `pos`).
    fn oldest_held(&self, pos: u64) -> u64 {
        pos.saturating_sub((self.depth as u64).saturating_sub(1))
    }

    /// The smallest cursor of the live subscribers (u64::MAX when there are none).
    fn min_live_cursor(&self, ns: &Namespace) -> u64 {
        // Acquire: pairs with the Release in `claim_sub` (the entry's owner and cursor).
        let mut subs = self.header().subs.load(Ordering::Acquire);
        let mut min = u64::MAX;
        while subs != 0 {
            let i = subs.trailing_zeros() as usize;
            subs &= subs - 1;
            let s = self.sub(i);
            // Acquire: the subscriber's Release stores of owner and cursor.
            let owner = s.owner.load(Ordering::Acquire);
            if owner != 0 && self.live_subscriber(ns, owner) {
                min = min.min(s.cursor.load(Ordering::Acquire));
            }
        }
        min
    }

    /// Under the lock: an entry naming `old` no longer holds its slot (overwritten, or read by
    /// every subscriber); drop the topic's reference unless a holding entry — one at a position
    /// in `lo..hi` — names the same slot generation.
    fn drop_ref(&self, ns: &Namespace, old: &Descriptor, lo: u64, hi: u64) {
        let Some(bit) = self.holder_bit(ns) else { return };
        let still = (lo..hi).filter_map(|p| self.read_entry(p)).any(|d| d.pool == old.pool && d.slot == old.slot && d.generation == old.generation);
        if still {
            return;
        }
        let Some(pool) = ns.pool_existing(old.pool) else { return };
        if old.slot >= pool.slots() {
            return;
        }
        // Relaxed: stable while the topic bit is set (the slot cannot be freed and reclaimed).
        if pool.slot(old.slot).generation.load(Ordering::Relaxed) == old.generation {
            pool.release(old.slot, bit);
        }
    }

    fn live_subscriber(&self, ns: &Namespace, owner: u64) -> bool {
        let idx = (owner & 0xff) as u32;
        if idx == 0 || idx as usize > registry::MAX_HOLDERS {
            return false;
        }
        let w = ns.inner.registry.entry(idx - 1).word.load(Ordering::Acquire);
        registry::pid(w) == (owner >> 32) as u32 && registry::st(w) == ST_ACTIVE
    }

    fn has_room(&self, ns: &Namespace) -> bool {
        let head = self.header().head.load(Ordering::Acquire);
        (0..MAX_SUBS).all(|i| {
            let s = self.sub(i);
            // Acquire: pairs with the subscriber's Release of owner/cursor.
            let owner = s.owner.load(Ordering::Acquire);
            owner == 0 || !self.live_subscriber(ns, owner) || head < s.cursor.load(Ordering::Acquire).saturating_add(self.depth as u64)
        })
    }

    // ---- reader side -------------------------------------------------------------------------

    fn claim_sub(&self, ns: &Namespace) -> Result<usize, TopicError> {
        let owner = (ns.holder_index() as u64 + 1) | ((crate::process::current_pid() as u64) << 32);
        for attempt in 0..2 {
            for i in 0..MAX_SUBS {
                let s = self.sub(i);
                let cur = s.owner.load(Ordering::Acquire);
                let reusable = cur == 0 || !self.live_subscriber(ns, cur);
                // AcqRel: we own the entry from here.
                if reusable && s.owner.compare_exchange(cur, owner, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    let head = self.header().head.load(Ordering::Acquire);
                    // Release: the cursor is valid before a reliable writer reads it.
                    s.cursor.store(head.saturating_sub(1), Ordering::Release);
                    s.misses.store(0, Ordering::Relaxed);
                    s.received.store(0, Ordering::Relaxed);
                    // Release: a writer that sees the bit sees our owner and cursor.
                    self.header().subs.fetch_or(1u64 << i, Ordering::Release);
                    return Ok(i);
                }
            }
            if attempt == 0 {
                ns.reap();
            }
        }
        Err(TopicError::TooManySubscribers { topic: self.name.clone(), limit: MAX_SUBS })
    }

    fn release_sub(&self, i: usize) {
        let h = self.header();
        // Relaxed: we still own the entry, so no claimer can be setting this bit; writers
        // that still see it find the owner cleared just below.
        h.subs.fetch_and(!(1u64 << (i % MAX_SUBS)), Ordering::Relaxed);
        // Release: our cursor updates are done.
        self.sub(i).owner.store(0, Ordering::Release);
        self.wake_writers();
    }

    /// Next entry for subscriber `sub` (cursor in `*cursor`), with its slot hold.
    fn try_recv(&self, ns: &Namespace, sub: usize, cursor: &mut u64) -> Result<Option<Delivered>, RecvError> {
        let h = self.header();
        let s = self.sub(sub);
        let depth = self.depth as u64;
        loop {
            // Fast path: peek at the stamp of the entry our cursor names. It says by itself
            // whether that position is complete (deliver it), not yet written (nothing new), or
            // something else (lapped, a dead writer, a scribble: ask `head`). A spinning
            // receiver thus polls one cache line, and the message arrives with that line: no
            // separate transfer of the `head` line on the delivery path.
            let pos = *cursor;
            let e = self.entry(pos);
            // Relaxed: a peek; `read_entry_at` re-loads the stamp with Acquire before using it.
            let peek = e.stamp.load(Ordering::Relaxed);
            let complete = peek != 0 && peek == stamp(pos, true);
            if !complete {
                let unwritten = if pos >= depth { peek == stamp(pos - depth, true) } else { peek == 0 };
                if unwritten || peek == stamp(pos, false) {
                    return Ok(None);
                }
                // Acquire: pairs with the writer's Release of head.
                let head = h.head.load(Ordering::Acquire);
                // `cursor == head + 1` is normal: the fast path took an entry whose writer had
                // not yet published `head`. Beyond that, only a scribbled (or reset) head moves
                // backwards: follow it rather than wait for it to come back. Found by
                // tests/hardening.rs (ring scribbles).
                if *cursor > head.wrapping_add(1) {
                    *cursor = head;
                }
                if *cursor >= head {
                    return Ok(None);
                }
                if head - *cursor > depth {
                    let missed = head - *cursor - depth;
                    s.misses.fetch_add(missed, Ordering::Relaxed);
                    *cursor = head - depth;
                }
            }
            let pos = *cursor;
            *cursor = pos.wrapping_add(1);
            let mut tail = [0u64; TAIL_WORDS];
            let read = self.read_entry_at(if complete { e } else { self.entry(pos) }, pos, Some(&mut tail));
            let Some(d) = read else {
                s.misses.fetch_add(1, Ordering::Relaxed);
                self.advance(s, *cursor);
                continue;
            };
            let hold = if is_payload(&d) {
                match ns.resolve(&d) {
                    Ok(r) => Some(r),
                    Err(crate::error::DescriptorError::Stale { .. }) => {
                        s.misses.fetch_add(1, Ordering::Relaxed);
                        self.advance(s, *cursor);
                        continue;
                    }
                    Err(e) => return Err(RecvError::Corrupt { topic: self.name.clone(), what: e.to_string() }),
                }
            } else {
                None
            };
            s.received.fetch_add(1, Ordering::Relaxed);
            self.advance(s, *cursor);
            return Ok(Some(Delivered { desc: d, tail, hold }));
        }
    }

    fn advance(&self, s: &SubEntry, cursor: u64) {
        // Release: a reliable writer that reads this cursor may overwrite what we read.
        s.cursor.store(cursor, Ordering::Release);
        if self.policy() == Policy::Reliable {
            self.wake_writers();
        }
    }

    /// A subscriber advanced or left: wake reliable writers sleeping on `progress`.
    #[inline]
    fn wake_writers(&self) {
        let h = self.header();
        // SeqCst: B of the sleepers protocol, the Dekker pair of a writer's A then S.
        h.progress.fetch_add(1, Ordering::SeqCst);
        sleepers::wake(&h.progress, &h.writer_sleepers, Some(&h.wakes));
    }

    /// Register the calling thread as a receiver about to sleep on `notify` (see
    /// `sleepers.rs`); the registration ends when the returned guard drops.
    pub(crate) fn receiver_sleeper(&self, ns: &Namespace) -> Sleeper<'_> {
        let h = self.header();
        Sleeper::enter(&h.notify, &h.sleepers, ns.holder_index(), &self.readers)
    }

    // ---- reaping -----------------------------------------------------------------------------

    /// Drop dead openers, publishers and subscribers; repair a dead writer's lock; dissolve the
    /// topic's references when no process has it open. Returns slots freed.
    pub fn reap(&self, ns: &Namespace, dead_mask: u64) -> u32 {
        let h = self.header();
        // AcqRel: clear dead bits atomically with concurrent openers.
        h.openers.fetch_and(!dead_mask, Ordering::AcqRel);
        h.publishers.fetch_and(!dead_mask, Ordering::AcqRel);
        sleepers::clear_dead(&h.sleepers, dead_mask);
        sleepers::clear_dead(&h.writer_sleepers, dead_mask);
        for i in 0..MAX_SUBS {
            let s = self.sub(i);
            let owner = s.owner.load(Ordering::Acquire);
            if owner != 0 && !self.live_subscriber(ns, owner) {
                let _ = s.owner.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
        let lock = h.lock.load(Ordering::Acquire);
        let dead_locker = lock != 0 && !self.locker_alive(ns, lock);
        let orphaned = h.openers.load(Ordering::Acquire) == 0 && h.holder.load(Ordering::Acquire) != 0;
        if !dead_locker && (!orphaned || lock != 0) {
            // Nothing to do, or a live process holds the lock of an orphaned topic: the last
            // closer dissolving it, or a stuck one. Either way not worth a wait here (reaps run
            // inside other waits); a later reap dissolves it.
            return 0;
        }
        // `lock` takes over a dead writer's lock and repairs the ring.
        self.lock_then_dissolve(ns).unwrap_or(0)
    }

    /// Take the lock (at most [`CLOSE_BOUND`]) and dissolve the topic if nobody has it open.
    /// None when a live holder kept the lock: the topic stays orphaned (no openers, a holder)
    /// for the next reaper.
    fn lock_then_dissolve(&self, ns: &Namespace) -> Option<u32> {
        let h = self.header();
        self.lock(ns, CLOSE_BOUND, &mut None).ok()?;
        // Acquire: the last closers' AcqRel clears of `openers`.
        let freed = if h.openers.load(Ordering::Acquire) == 0 { self.dissolve(ns) } else { 0 };
        self.unlock();
        Some(freed)
    }

    /// A handle of this process closed the topic: clear our publisher and opener bits, and
    /// dissolve the topic if we were its last opener (bounded by [`CLOSE_BOUND`]).
    pub(crate) fn close(&self, ns: &Namespace) {
        let bit = 1u64 << ns.holder_index();
        let h = self.header();
        h.publishers.fetch_and(!bit, Ordering::AcqRel);
        // AcqRel: the last closer sees every other closer's clear.
        let prev = h.openers.fetch_and(!bit, Ordering::AcqRel);
        if prev & !bit == 0 {
            self.lock_then_dissolve(ns);
        }
    }

    /// This process leaves (see `Namespace::leave`): drop its subscriber entries, opener and
    /// publisher bits; dissolve the topic if it was the last opener.
    pub fn leave(&self, ns: &Namespace) {
        let me = ns.holder_index();
        let bit = 1u64 << me;
        let owner = (me as u64 + 1) | ((crate::process::current_pid() as u64) << 32);
        for i in 0..MAX_SUBS {
            // AcqRel: free only entries that are ours.
            let _ = self.sub(i).owner.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
        let h = self.header();
        h.publishers.fetch_and(!bit, Ordering::AcqRel);
        // We sleep on nothing here any more (handles are inert after `leave`).
        sleepers::clear_dead(&h.sleepers, bit);
        sleepers::clear_dead(&h.writer_sleepers, bit);
        let prev = h.openers.fetch_and(!bit, Ordering::AcqRel);
        if prev & bit != 0 && prev & !bit == 0 {
            self.lock_then_dissolve(ns);
        }
        // Wake reliable writers that may have been waiting on our cursor.
        self.wake_writers();
    }

    /// Under the lock, with no openers: release every reference and the topic's holder entry.
    fn dissolve(&self, ns: &Namespace) -> u32 {
        let h = self.header();
        // Relaxed: see `holder_bit`; the entry goes away below.
        self.holder_ok.store(0, Ordering::Relaxed);
        let Some(bit) = self.holder_bit(ns) else {
            // None allocated, or a scribbled index naming another holder's entry (or none):
            // forget it, without touching that entry or its bits (Release as below).
            h.holder.store(0, Ordering::Release);
            return 0;
        };
        let mut freed = 0;
        for id in 0..MAX_POOLS as u8 {
            if let Some(pool) = ns.pool_existing(id) {
                freed += pool.clear_holder(bit);
            }
        }
        // Release: the bits are cleared before the index can be claimed again.
        h.holder.store(0, Ordering::Release);
        ns.inner.registry.free(bit);
        freed
    }
}

/// The seqlock stamp of position `pos`: odd (`2*pos+1`) while being written, `2*pos+2` once
/// complete. Wrapping arithmetic: positions come from the shared `head`, which a crashed or
/// hostile process may have scribbled to anything; near u64::MAX the plain form overflowed and
/// panicked (found by tests/hardening.rs, ring scribbles). A wrapped stamp merely mismatches.
#[inline]
fn stamp(pos: u64, complete: bool) -> u64 {
    pos.wrapping_mul(2).wrapping_add(if complete { 2 } else { 1 })
}

fn is_payload(d: &Descriptor) -> bool {
    d.kind != kind::INLINE && d.kind != kind::EMPTY
}

// ---- handles -----------------------------------------------------------------------------------

/// Process-wide state of one open topic (shared by its publishers and subscribers here).
pub struct TopicShared {
    ns: Namespace,
    ring: RingSeg,
}

impl Drop for TopicShared {
    fn drop(&mut self) {
        // Closed by `Namespace::leave`, or a fork child's copy of its parent's topic (the
        // opener and publisher bits are the parent's).
        if self.ns.is_closed() || self.ns.is_inherited() {
            return; // `Namespace::leave` closed it
        }
        // Serialize with `Namespace::topic`: if another thread of this process reopened the
        // topic meanwhile, it owns the (shared, per-process) opener bit now; leave it set.
        let open = self.ns.inner.topics.lock().unwrap_or_else(|e| e.into_inner());
        if open.iter().any(|(n, w)| n == &self.ring.name && w.strong_count() > 0) {
            return;
        }
        // Keep `open` locked to the end, so no reopen interleaves with clearing our bit.
        self.ring.close(&self.ns);
        drop(open);
    }
}

/// Options for opening a topic.
#[derive(Debug, Clone)]
pub struct TopicOptions {
    pub ty: TopicType,
    pub depth: u32,
    pub policy: Policy,
}

impl Default for TopicOptions {
    fn default() -> Self {
        TopicOptions { ty: TopicType::default(), depth: DEFAULT_DEPTH, policy: Policy::Latest }
    }
}

/// A handle on a topic ring in this process.
#[derive(Clone)]
pub struct Topic {
    shared: Arc<TopicShared>,
}

impl std::fmt::Debug for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Topic({})", self.shared.ring.name)
    }
}

impl Namespace {
    /// Open (creating if needed) topic `name`. An existing topic keeps its depth and policy;
    /// a different message type is `TopicError::TypeMismatch` naming both.
    pub fn topic(&self, name: &str, opts: &TopicOptions) -> Result<Topic, TopicError> {
        self.here()?.open_topic(name, Some(opts))
    }

    /// Open `name` in this (non-inherited) namespace handle; `None`: the topic must exist
    /// already and keeps its type (a fork child re-opening a topic it inherited).
    fn open_topic(&self, name: &str, opts: Option<&TopicOptions>) -> Result<Topic, TopicError> {
        let mut open = self.inner.topics.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|(_, w)| w.strong_count() > 0);
        if let Some(shared) = open.iter().find(|(n, _)| n == name).and_then(|(_, w)| w.upgrade()) {
            let existing = shared.ring.type_name();
            if let Some(opts) = opts {
                if !opts.ty.name.is_empty() && !existing.is_empty() && existing != opts.ty.name {
                    return Err(TopicError::TypeMismatch { topic: name.to_string(), existing, requested: opts.ty.name.clone() });
                }
            }
            return Ok(Topic { shared });
        }
        let ring = match opts {
            Some(opts) => RingSeg::open_or_create(&self.inner.dir, name, &opts.ty, opts.depth, opts.policy)?,
            None => RingSeg::open_existing(&self.inner.dir, name)?,
        };
        // AcqRel: register as opener.
        ring.header().openers.fetch_or(1u64 << self.holder_index(), Ordering::AcqRel);
        let shared = Arc::new(TopicShared { ns: self.clone(), ring });
        open.push((name.to_string(), Arc::downgrade(&shared)));
        Ok(Topic { shared })
    }

    /// Topic names that exist in this namespace.
    pub fn topic_names(&self) -> Vec<String> {
        topic_names(&self.inner.dir)
    }
}

impl Topic {
    pub fn name(&self) -> &str {
        &self.shared.ring.name
    }
    pub fn depth(&self) -> u32 {
        self.shared.ring.depth
    }
    pub fn policy(&self) -> Policy {
        self.shared.ring.policy()
    }
    pub fn type_name(&self) -> String {
        self.shared.ring.type_name()
    }
    pub fn namespace(&self) -> &Namespace {
        &self.shared.ns
    }
    pub fn ring(&self) -> &RingSeg {
        &self.shared.ring
    }

    /// This process's handle on the topic: `self`, or, in a forked child that inherited it, the
    /// same topic opened under the child's own registration (see `Namespace::here`). Sends and
    /// receives go through it, so an inherited handle never acts under the parent's bits.
    pub fn here(&self) -> Result<Cow<'_, Topic>, TopicError> {
        if !self.shared.ns.is_inherited() {
            return Ok(Cow::Borrowed(self));
        }
        self.shared.ns.here()?.open_topic(self.name(), None).map(Cow::Owned)
    }

    /// A publisher on this topic.
    pub fn publisher(&self) -> Publisher {
        let topic = self.here().map(Cow::into_owned).unwrap_or_else(|_| self.clone());
        if !topic.shared.ns.is_inherited() {
            let bit = 1u64 << topic.shared.ns.holder_index();
            // Relaxed: statistics bitmap.
            topic.shared.ring.header().publishers.fetch_or(bit, Ordering::Relaxed);
        }
        Publisher { topic, timeout: Duration::from_secs(1) }
    }

    /// A subscriber; it starts at the newest entry.
    pub fn subscriber(&self) -> Result<Subscriber, TopicError> {
        let topic = self.here()?.into_owned();
        let sub = topic.shared.ring.claim_sub(&topic.shared.ns)?;
        let cursor = topic.shared.ring.sub(sub).cursor.load(Ordering::Acquire);
        Ok(Subscriber { topic, sub, cursor, spin: false, pid: crate::process::current_pid() })
    }

    /// Messages sent so far.
    pub fn sent(&self) -> u64 {
        self.shared.ring.header().sent.load(Ordering::Relaxed)
    }

    /// The newest published entry, with its hold, without a subscriber.
    pub fn latest(&self) -> Option<Received> {
        self.latest_message().map(Delivered::into_parts)
    }

    /// [`Topic::latest`] with the whole of a long inline message.
    pub fn latest_message(&self) -> Option<Delivered> {
        let ring = &self.shared.ring;
        let head = ring.header().head.load(Ordering::Acquire);
        if head == 0 {
            return None;
        }
        let pos = head - 1;
        let mut tail = [0u64; TAIL_WORDS];
        let d = ring.read_entry_at(ring.entry(pos), pos, Some(&mut tail))?;
        let hold = if is_payload(&d) { Some(self.shared.ns.resolve(&d).ok()?) } else { None };
        Some(Delivered { desc: d, tail, hold })
    }
}

/// Sends descriptors (and inline messages) into a topic.
#[derive(Clone, Debug)]
pub struct Publisher {
    topic: Topic,
    timeout: Duration,
}

impl Publisher {
    /// How long a reliable send may wait for the slowest subscriber (default 1 s).
    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
    }
    /// Publish a payload descriptor for the slot held by `hold`. Returns its sequence number.
    pub fn send(&self, desc: Descriptor, hold: &SlotRef) -> Result<u64, SendError> {
        let mut d = desc;
        d.pool = hold.pool();
        d.slot = hold.slot();
        d.generation = hold.generation();
        if d.kind == kind::EMPTY || d.kind == kind::INLINE {
            d.kind = kind::BYTES;
        }
        d.len = d.len.min(hold.len());
        let t = self.topic.here().map_err(inherited_send_err)?;
        t.shared.ring.send(&t.shared.ns, d, Some(hold), self.timeout)
    }
    /// Publish an inline message (at most [`INLINE_MAX`] bytes): it travels in the ring entry,
    /// no slot is taken.
    pub fn send_inline(&self, bytes: &[u8]) -> Result<u64, SendError> {
        self.send_inline_flagged(bytes, 0)
    }

    /// [`Publisher::send_inline`] with descriptor flag bits set (for layers above the pool
    /// that tell inline encodings apart).
    pub fn send_inline_flagged(&self, bytes: &[u8], flags: u16) -> Result<u64, SendError> {
        let (mut d, tail) = inline_message(bytes).ok_or(SendError::InlineTooLarge { len: bytes.len(), max: INLINE_MAX })?;
        d.flags |= flags;
        let t = self.topic.here().map_err(inherited_send_err)?;
        t.shared.ring.send_entry(&t.shared.ns, d, Some(&tail), None, self.timeout)
    }
    pub fn topic(&self) -> &Topic {
        &self.topic
    }
}

/// A fork child that inherited a publisher could not open the topic under its own registration.
fn inherited_send_err(e: TopicError) -> SendError {
    match e {
        TopicError::Open(o) => SendError::Open(o),
        other => SendError::Open(OpenError::Io { path: PathBuf::new(), source: std::io::Error::other(other.to_string()) }),
    }
}

/// Receives from a topic; each subscriber has its own cursor and miss counter.
pub struct Subscriber {
    topic: Topic,
    sub: usize,
    cursor: u64,
    spin: bool,
    /// The process that owns entry `sub`; in a forked child (another pid) the subscriber is
    /// inherited and takes an entry of its own on first use, continuing from its cursor.
    pid: u32,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Subscriber({}, at {})", self.topic.name(), self.cursor)
    }
}

/// A received message: its descriptor and, for payloads, a hold on the slot.
pub type Received = (Descriptor, Option<SlotRef>);

/// A received message with the tail words of a long inline message: what the `*_message`
/// receives return. [`Delivered::inline`] views an inline message of any length up to
/// [`INLINE_MAX`] in place; a [`Received`] carries only the descriptor's 48 bytes.
#[derive(Debug)]
#[repr(C)]
pub struct Delivered {
    pub desc: Descriptor,
    /// Right after `desc` (repr(C), offset asserted below): bytes 48.. of a long inline message
    /// continue the descriptor's bytes 16..64 in memory.
    tail: Tail,
    /// A hold on the payload's slot (None for inline and empty messages).
    pub hold: Option<SlotRef>,
}
const _: () = assert!(offset_of!(Delivered, tail) == size_of::<Descriptor>());
// Inline bytes are stored as little-endian words; viewing them in place needs a little-endian
// host (as does every shared-memory layout here).
const _: () = assert!(cfg!(target_endian = "little"));

impl Delivered {
    /// The inline message's bytes, viewed in place, or None when this is not a valid inline
    /// message (another kind, or a length over [`INLINE_MAX`] read from shared memory).
    pub fn inline(&self) -> Option<&[u8]> {
        let n = self.desc.aux as usize;
        if !self.desc.is_inline() || n > INLINE_MAX {
            return None;
        }
        let at = offset_of!(Descriptor, len);
        // SAFETY: `desc` (64 bytes of integers, no padding) is followed directly by `tail`
        // (asserted above), so bytes `at .. at + INLINE_MAX` (16..120) of `self` are initialized
        // and inside it; the pointer is derived from the whole struct, and u8 has no alignment
        // or validity requirement. The slice borrows `self`.
        Some(unsafe { std::slice::from_raw_parts((self as *const Delivered).cast::<u8>().add(at), n) })
    }

    /// [`Delivered::inline`] copied out, with its length.
    pub fn inline_bytes(&self) -> Option<([u8; INLINE_MAX], usize)> {
        let b = self.inline()?;
        let mut raw = [0u8; INLINE_MAX];
        raw[..b.len()].copy_from_slice(b);
        Some((raw, b.len()))
    }

    /// The descriptor and hold (the tail is dropped).
    pub fn into_parts(self) -> Received {
        (self.desc, self.hold)
    }
}

/// Split an inline message of at most [`INLINE_MAX`] bytes into its descriptor (first 48 bytes,
/// length in `aux`) and tail words (the rest, zero-padded). None when it is longer.
pub fn inline_message(bytes: &[u8]) -> Option<(Descriptor, Tail)> {
    if bytes.len() > INLINE_MAX {
        return None;
    }
    // Two steps (descriptor, then tail) rather than one loop over a 15-word array: measured
    // 61 vs 69 ns for `pool/send_recv_inline_16B` (A/B, alternated twice).
    let (head, rest) = bytes.split_at(bytes.len().min(descriptor::INLINE_CAPACITY));
    let mut d = Descriptor::inline(head).expect("at most INLINE_CAPACITY");
    d.aux = bytes.len() as u16;
    let mut tail = [0u64; TAIL_WORDS];
    for (t, chunk) in tail.iter_mut().zip(rest.chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *t = u64::from_le_bytes(b);
    }
    Some((d, tail))
}

impl Subscriber {
    /// Spin instead of sleeping in blocking receives (lowest latency, burns a core).
    pub fn set_spin(&mut self, spin: bool) {
        self.spin = spin;
    }

    /// The next unread message, or None. An inline message longer than 48 bytes arrives cut
    /// to the descriptor's part: use [`Subscriber::try_recv_message`] for those.
    pub fn try_recv(&mut self) -> Result<Option<Received>, RecvError> {
        Ok(self.try_recv_message()?.map(Delivered::into_parts))
    }

    /// The next message, waiting up to `timeout` (futex sleep, or spinning if enabled).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Received>, RecvError> {
        Ok(self.recv_timeout_message(timeout)?.map(Delivered::into_parts))
    }

    /// Skip to the newest message and return it.
    pub fn latest(&mut self) -> Result<Option<Received>, RecvError> {
        Ok(self.latest_message()?.map(Delivered::into_parts))
    }

    /// [`Subscriber::try_recv`] with the whole of a long inline message.
    pub fn try_recv_message(&mut self) -> Result<Option<Delivered>, RecvError> {
        if self.pid != crate::process::current_pid() {
            self.adopt()?;
        }
        let ring = &self.topic.shared.ring;
        ring.try_recv(&self.topic.shared.ns, self.sub, &mut self.cursor)
    }

    /// [`Subscriber::recv_timeout`] with the whole of a long inline message.
    pub fn recv_timeout_message(&mut self, timeout: Duration) -> Result<Option<Delivered>, RecvError> {
        if let Some(m) = self.try_recv_message()? {
            return Ok(Some(m));
        }
        let start = Instant::now();
        let topic = self.topic.clone();
        if self.spin {
            while start.elapsed() < timeout {
                if let Some(m) = self.try_recv_message()? {
                    return Ok(Some(m));
                }
                std::hint::spin_loop();
            }
            return Ok(None);
        }
        // Protocol in `sleepers.rs`: arm (A, S), check for a message, sleep (R, W).
        let sleeper = topic.shared.ring.receiver_sleeper(&topic.shared.ns);
        loop {
            let seen = sleeper.arm();
            let got = self.try_recv_message();
            if !matches!(got, Ok(None)) {
                return got;
            }
            let left = timeout.saturating_sub(start.elapsed());
            if !left.is_zero() {
                sleeper.sleep(seen, left);
            }
            if start.elapsed() >= timeout {
                return self.try_recv_message();
            }
        }
    }

    /// [`Subscriber::latest`] with the whole of a long inline message.
    pub fn latest_message(&mut self) -> Result<Option<Delivered>, RecvError> {
        if self.pid != crate::process::current_pid() {
            self.adopt()?;
        }
        let head = self.topic.shared.ring.header().head.load(Ordering::Acquire);
        if head > self.cursor.saturating_add(1) {
            let skipped = head - 1 - self.cursor;
            self.topic.shared.ring.sub(self.sub).misses.fetch_add(skipped, Ordering::Relaxed);
            self.cursor = head - 1;
        }
        self.try_recv_message()
    }

    /// In a forked child: leave the parent's entry alone and continue from the inherited cursor
    /// under an entry of the child's own.
    fn adopt(&mut self) -> Result<(), RecvError> {
        let err = |e: TopicError| RecvError::Inherited { topic: self.topic.name().to_string(), source: Box::new(e) };
        let topic = self.topic.here().map_err(err)?.into_owned();
        let sub = topic.shared.ring.claim_sub(&topic.shared.ns).map_err(err)?;
        // Release: as in claim_sub, the cursor is valid before a reliable writer reads it.
        topic.shared.ring.sub(sub).cursor.store(self.cursor, Ordering::Release);
        (self.topic, self.sub, self.pid) = (topic, sub, crate::process::current_pid());
        Ok(())
    }

    /// Messages this subscriber missed (overwritten before it read them).
    pub fn misses(&self) -> u64 {
        self.topic.shared.ring.sub(self.sub).misses.load(Ordering::Relaxed)
    }
    pub fn received(&self) -> u64 {
        self.topic.shared.ring.sub(self.sub).received.load(Ordering::Relaxed)
    }
    pub fn topic(&self) -> &Topic {
        &self.topic
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        if self.topic.shared.ns.is_closed() || self.pid != crate::process::current_pid() {
            return; // `Namespace::leave` released the entry, or it is a fork parent's
        }
        self.topic.shared.ring.release_sub(self.sub);
    }
}

/// Statistics of one topic (see `stats.rs`).
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
        for i in 0..MAX_SUBS {
            let s = self.sub(i);
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
            publishers: h.publishers.load(Ordering::Relaxed).count_ones(),
            subscribers,
            openers: h.openers.load(Ordering::Relaxed).count_ones(),
            sent: h.sent.load(Ordering::Relaxed),
            misses,
        }
    }
}
