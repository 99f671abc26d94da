//! The topic segment's layout: `TopicHeader`, the subscriber table, the entry array, their
//! offsets and layout hash; topic names and types.
//!
//! ```text
//! 0     SegmentHeader (64)
//! 64    TopicHeader (384): name, type, depth, policy, history; then three cache lines:
//!       A head, sent (what readers poll); B lock, holder, openers, publishers (writers);
//!       C notify/progress futex words and their sleeper bitmaps
//! 448   SubEntry[max_subs] (64 each): owner, cursor, misses, received; `max_subs` is fixed at
//!       creation (default [`DEFAULT_SUBS`], at most [`MAX_SUBS`])
//! then  HolderSet openers, HolderSet publishers (128 each: one bit per holder, `holders.rs`),
//!       the subscriber set (128: one bit per subscriber entry a send must look at)
//! then  Entry[depth] (128 each, see `seqlock.rs`): stamp, the 64-byte descriptor as 8 words,
//!       then 7 tail words (bytes 48..104 of a long inline message)
//! ```

use super::seqlock::{Entry, INLINE_MAX};
use crate::descriptor;
use crate::error::TopicError;
use crate::holders::HolderSet;
use crate::segment::layout_hash;
use crate::sync::{AtomicU32, AtomicU64};
use std::mem::{offset_of, size_of};
use std::path::Path;

/// Subscribers a topic can have by default (its subscriber table's size, chosen at creation).
pub const DEFAULT_SUBS: u32 = 64;
/// The most subscribers a topic can be created for: one per holder of the namespace.
pub const MAX_SUBS: usize = crate::holders::MAX_HOLDERS;
/// Largest ring depth.
pub const MAX_DEPTH: u32 = 4096;
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
    /// Entries kept for late joiners and `latest()` once every live subscriber has read them:
    /// 1 (the newest, the default) or 0 (none: the publisher's next loan can reuse the slot a
    /// subscriber just dropped, as iceoryx2's default history 0 does). Set at creation.
    pub history: u32,
    /// Entries of the subscriber table (1..=MAX_SUBS), fixed at creation.
    pub max_subs: u32,
    pub _p1a: u32,
    pub _p1: [u64; 4],
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
    /// Unused (the opener and publisher bitmaps of layout 8; now holder sets after the
    /// subscriber table, see `RingOffsets`).
    pub _pb1: [u64; 2],
    /// Positions below this no longer hold their slots: every live subscriber had read them
    /// when a later send released them (the newest entry is always kept). Written under `lock`.
    pub released: AtomicU64,
    /// Unused (the subscriber bitmap of layout 9; now the subscriber set after the holder sets).
    pub _pb2: u64,
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
    /// CLOCK_MONOTONIC ns of the last send that woke sleeping receivers (how a woken event node
    /// measures its wake latency, `WaitSet`).
    pub woke_ns: AtomicU64,
    pub _pc: [u64; 3],
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

pub const SUBS_AT: usize = 64 + size_of::<TopicHeader>();

/// Where the parts after the subscriber table lie in a topic segment whose table has `max_subs`
/// entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingOffsets {
    /// The processes (holder indices) that have the topic open: the topic dissolves when the
    /// last one closes it.
    pub openers: usize,
    /// The processes that publish on it (statistics).
    pub publishers: usize,
    /// Subscriber entries a send must look at: a superset of the claimed ones. A claimer sets
    /// its bit once it owns the entry; only an owner clears its own bit, before it gives the
    /// entry up (entries of dead owners keep theirs until reclaimed: a wasted check, never a
    /// live subscriber overlooked).
    pub sub_set: usize,
    /// The ring entries.
    pub entries: usize,
}

/// The offsets of a topic segment with a subscriber table of `max_subs` entries.
pub const fn ring_offsets(max_subs: u32) -> RingOffsets {
    let openers = SUBS_AT + max_subs as usize * size_of::<SubEntry>();
    let publishers = openers + size_of::<HolderSet>();
    let sub_set = publishers + size_of::<HolderSet>();
    RingOffsets { openers, publishers, sub_set, entries: sub_set + size_of::<HolderSet>() }
}
// Every structure sits at its alignment (the mapping is page aligned): what lets `RingSeg`'s
// accessors use `Segment::at_validated`. Every part is a multiple of 64 bytes long.
const _: () =
    assert!(64usize.is_multiple_of(align_of::<TopicHeader>()) && SUBS_AT.is_multiple_of(align_of::<SubEntry>()) && ring_offsets(1).entries.is_multiple_of(align_of::<Entry>()));
const _: () = assert!(size_of::<SubEntry>().is_multiple_of(64) && size_of::<HolderSet>().is_multiple_of(64));
pub(super) const LAYOUT: u64 = layout_hash(&[
    // 6: counters of sleepers (`waiters`, `writer_waiters`) became self-healing bitmaps.
    // 7: `woke_ns`, the time of the last wake of sleeping receivers.
    // 8: `history` (0 or 1) in what was padding.
    // 9: openers and publishers became holder sets of 1,024 bits after the subscriber table.
    // 10: the subscriber table's size is chosen at creation (`max_subs`); the subscriber bitmap
    //     became a set of 1,024 bits after the holder sets.
    10,
    offset_of!(TopicHeader, max_subs),
    size_of::<HolderSet>(),
    offset_of!(TopicHeader, history),
    INLINE_MAX,
    offset_of!(TopicHeader, sleepers),
    offset_of!(TopicHeader, writer_sleepers),
    offset_of!(TopicHeader, wakes),
    offset_of!(TopicHeader, woke_ns),
    offset_of!(TopicHeader, released),
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

pub(super) fn file_name(name: &str) -> String {
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

pub(super) fn str_field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

pub(super) fn set_str(dst: &mut [u8], s: &str) {
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
