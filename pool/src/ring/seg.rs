//! `RingSeg`: a mapped topic segment, validated on open, and its accessors (header, subscriber
//! entries, ring entries). The protocols on it live in the sibling files: the seqlock in
//! `seqlock.rs`, the writer lock in `lock.rs`, slot references in `refs.rs`, and so on.

use super::layout::{check_name, file_name, ring_offsets, set_str, str_field, Policy, RingOffsets, SubEntry, TopicHeader, TopicType, LAYOUT, MAX_DEPTH, MAX_SUBS, SUBS_AT};
use super::seqlock::{self, Entries, Entry, Tail};
use crate::descriptor::Descriptor;
use crate::error::{OpenError, TopicError};
use crate::holders::HolderSet;
use crate::segment::{Segment, SegmentKind};
use crate::sleepers;
use crate::sync::AtomicU64;
use std::mem::size_of;
use std::path::Path;

/// A mapped topic ring.
pub struct RingSeg {
    pub(super) seg: Segment,
    pub(super) depth: u32,
    /// Entries of the subscriber table, as validated on open (1..=MAX_SUBS).
    pub(super) max_subs: u32,
    /// Where the parts after the subscriber table lie (from `max_subs`).
    pub(super) at: RingOffsets,
    /// The header's `history` as validated on open (0 or 1): what `released` may not pass.
    pub(super) keep: u64,
    pub(super) name: String,
    /// The last verified holder: `holder << 48 | (entry word & WORD_LOW)`, or 0. Process-local.
    pub(super) holder_ok: AtomicU64,
    /// Threads of this process sleeping on `notify` / on `progress`.
    pub(super) readers: sleepers::Local,
    pub(super) writers: sleepers::Local,
}

impl std::fmt::Debug for RingSeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RingSeg({}, depth {})", self.name, self.depth)
    }
}

impl RingSeg {
    pub(super) fn open_or_create(dir: &Path, name: &str, ty: &TopicType, depth: u32, policy: Policy, history: u32, max_subs: u32) -> Result<RingSeg, TopicError> {
        check_name(name)?;
        let depth = depth.clamp(1, MAX_DEPTH);
        let history = history.min(1);
        let max_subs = max_subs.clamp(1, MAX_SUBS as u32);
        let size = ring_offsets(max_subs).entries + depth as usize * size_of::<Entry>();
        let (seg, _) = Segment::open_or_create(&dir.join(file_name(name)), SegmentKind::Topic, LAYOUT, size, |seg| {
            // SAFETY: fresh private mapping; the header lies in bounds.
            let h = unsafe { &mut *(seg.base().add(64) as *mut TopicHeader) };
            set_str(&mut h.name, name);
            set_str(&mut h.type_name, &ty.name);
            h.type_hash = ty.hash;
            h.msg_size = ty.size;
            h.depth = depth;
            h.policy = policy as u32;
            h.history = history;
            h.max_subs = max_subs;
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
        if seg.len() < SUBS_AT {
            return Err(OpenError::Truncated { path, expected: SUBS_AT as u64, actual: seg.len() as u64 }.into());
        }
        // SAFETY: the header lies within the validated length; integers and atomics only.
        let h = unsafe { seg.at::<TopicHeader>(64) };
        let depth = h.depth;
        if depth == 0 || depth > MAX_DEPTH {
            return Err(OpenError::BadHeader { path, field: "depth", value: depth as u64 }.into());
        }
        let max_subs = h.max_subs;
        if max_subs == 0 || max_subs as usize > MAX_SUBS {
            return Err(OpenError::BadHeader { path, field: "max_subs", value: max_subs as u64 }.into());
        }
        let at = ring_offsets(max_subs);
        let need = at.entries + depth as usize * size_of::<Entry>();
        if need != seg.len() {
            return Err(OpenError::Truncated { path, expected: need as u64, actual: seg.len() as u64 }.into());
        }
        if h.policy > 1 {
            return Err(OpenError::BadHeader { path, field: "policy", value: h.policy as u64 }.into());
        }
        if h.history > 1 {
            return Err(OpenError::BadHeader { path, field: "history", value: h.history as u64 }.into());
        }
        let keep = h.history as u64;
        if str_field(&h.name) != name {
            return Err(OpenError::BadHeader { path, field: "name", value: 0 }.into());
        }
        Ok(RingSeg {
            seg,
            depth,
            max_subs,
            at,
            keep,
            name: name.to_string(),
            holder_ok: AtomicU64::new(0),
            readers: sleepers::Local::default(),
            writers: sleepers::Local::default(),
        })
    }

    pub fn header(&self) -> &TopicHeader {
        // SAFETY: validated on open: the segment is at least SUBS_AT long, past the header.
        unsafe { self.seg.at_validated::<TopicHeader>(64) }
    }
    /// The processes that have the topic open (holder set).
    pub fn openers(&self) -> &HolderSet {
        // SAFETY: validated on open: the segment is `at.entries + depth * 128` bytes long, past
        // this set; 8-byte aligned (a multiple of 64 from the page-aligned base).
        unsafe { self.seg.at_validated::<HolderSet>(self.at.openers) }
    }
    /// The processes that publish on it (holder set, statistics).
    pub fn publishers(&self) -> &HolderSet {
        // SAFETY: as in `openers`.
        unsafe { self.seg.at_validated::<HolderSet>(self.at.publishers) }
    }
    /// The subscriber entries a send must look at (bit i: entry i; a superset of the claimed).
    pub(super) fn sub_set(&self) -> &HolderSet {
        // SAFETY: as in `openers`.
        unsafe { self.seg.at_validated::<HolderSet>(self.at.sub_set) }
    }
    /// Entries of the subscriber table.
    pub fn max_subscribers(&self) -> u32 {
        self.max_subs
    }
    pub(super) fn sub(&self, i: usize) -> &SubEntry {
        // SAFETY: i % max_subs < max_subs, validated on open against the segment's length; the
        // table starts at SUBS_AT, a multiple of 64.
        unsafe { self.seg.at_validated::<SubEntry>(SUBS_AT + (i % self.max_subs as usize) * size_of::<SubEntry>()) }
    }
    #[inline]
    pub(super) fn entry(&self, pos: u64) -> &Entry {
        let d = self.depth as u64;
        // A mask for power-of-two depths (the default 4 among them): a 64-bit division costs
        // more than the rest of an in-process receive's index work.
        let i = if d.is_power_of_two() { pos & (d - 1) } else { pos % d } as usize;
        // SAFETY: i < depth; entries lie within the validated segment.
        unsafe { self.seg.at_validated::<Entry>(self.at.entries + i * size_of::<Entry>()) }
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
    /// Entries kept for late joiners once every subscriber has read them (0 or 1).
    pub fn history(&self) -> u32 {
        self.keep as u32
    }
    pub fn type_name(&self) -> String {
        str_field(&self.header().type_name)
    }

    /// Read the complete entry at `pos`, if it still holds that position.
    pub(super) fn read_entry(&self, pos: u64) -> Option<Descriptor> {
        seqlock::read(self.entry(pos), pos, None)
    }
}

impl Entries for RingSeg {
    type Entry = Entry;
    type Msg = Descriptor;
    type Extra = Tail;
    #[inline]
    fn entry(&self, pos: u64) -> &Entry {
        RingSeg::entry(self, pos)
    }
    #[inline]
    fn stamp_of(e: &Entry) -> &AtomicU64 {
        &e.stamp
    }
    #[inline]
    fn read(e: &Entry, pos: u64, tail: &mut Tail) -> Option<Descriptor> {
        seqlock::read(e, pos, Some(tail))
    }
    #[inline]
    fn head(&self) -> &AtomicU64 {
        &self.header().head
    }
    #[inline]
    fn depth(&self) -> u64 {
        self.depth as u64
    }
}
