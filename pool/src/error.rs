//! Errors of the pool crate: one small enum per operation, one umbrella [`Error`].
//!
//! Anything another process can cause (a corrupt header, a crash, a stale descriptor) is an
//! `Err`, never a panic.

use std::path::PathBuf;

/// Opening or creating a shared-memory segment failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not enough shared memory: need {needed} bytes ({source}); enlarge /dev/shm (Docker: --shm-size) or point TENSORBUS_SHM_DIR elsewhere")]
    NoSpace { path: PathBuf, needed: u64, source: std::io::Error },
    #[error("{path}: file is {actual} bytes, header needs {expected}: truncated or foreign segment")]
    Truncated { path: PathBuf, expected: u64, actual: u64 },
    #[error("{path}: bad magic {found:#x}: not a tensorbus segment")]
    BadMagic { path: PathBuf, found: u64 },
    #[error("{path}: layout version {found}, this build speaks {expected} (if no process of that version runs any more, `tensorbus clean` removes it)")]
    BadVersion { path: PathBuf, found: u32, expected: u32 },
    #[error("{path}: layout hash {found:#x} differs from this build's {expected:#x}: built from another tensorbus version (if no process of that version runs any more, `tensorbus clean` removes it)")]
    LayoutMismatch { path: PathBuf, found: u64, expected: u64 },
    #[error("{path}: invalid header field {field} = {value}")]
    BadHeader { path: PathBuf, field: &'static str, value: u64 },
    #[error("{path}: segment exists with different geometry: {what}")]
    Geometry { path: PathBuf, what: String },
    #[error(
        "no free holder entry in the namespace: all {limit} are live ({processes} processes, {topics} payload topics; {sample}); close topics or processes that are not needed"
    )]
    TooManyHolders { limit: usize, processes: usize, topics: usize, sample: String },
    #[error("{path}: segment was left half-initialized by a dead process and could not be replaced")]
    Abandoned { path: PathBuf },
    #[error(
        "{path} is a symbolic link: tensorbus never follows links in its directories (someone may have planted it); remove it, or set TENSORBUS_SHM_DIR to the real directory"
    )]
    Symlink { path: PathBuf },
    #[error("{path} is owned by uid {owner}, not by this process (uid {uid}): refusing to use it; remove it as its owner, or set TENSORBUS_SHM_DIR to a directory of your own")]
    NotOwned { path: PathBuf, owner: u32, uid: u32 },
    #[error("{path} has mode {mode:o}: segments must not be accessible to group or others (0600); refusing to map it (remove it, or `tensorbus clean` once no process uses it)")]
    NotPrivate { path: PathBuf, mode: u32 },
    #[error("{path} is not a {expected}")]
    NotRegular { path: PathBuf, expected: &'static str },
    #[error("namespace name {name:?} is invalid: {why}; use a plain name such as `default` or `robot1` (the location comes from TENSORBUS_SHM_DIR)")]
    BadNamespace { name: String, why: &'static str },
}

/// Who holds slots of a pool, reported when the pool is exhausted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderInfo {
    /// Process id, or 0 for a topic ring.
    pub pid: u32,
    /// Process or topic name.
    pub name: String,
    /// Number of slots this holder keeps.
    pub slots: usize,
}

impl std::fmt::Display for HolderInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pid == 0 {
            write!(f, "topic {} ({} slots)", self.name, self.slots)
        } else {
            write!(f, "pid {} {} ({} slots)", self.pid, self.name, self.slots)
        }
    }
}

fn holders_text(h: &[HolderInfo]) -> String {
    if h.is_empty() {
        return "nobody (slots are being written)".into();
    }
    // With up to 1,024 holders, the eight that hold the most, then a count of the rest.
    const SHOWN: usize = 8;
    let mut by_slots: Vec<&HolderInfo> = h.iter().collect();
    by_slots.sort_by_key(|h| std::cmp::Reverse(h.slots));
    let mut parts: Vec<String> = by_slots.iter().take(SHOWN).map(|h| h.to_string()).collect();
    if h.len() > SHOWN {
        let rest = &by_slots[SHOWN..];
        parts.push(format!("and {} more holders ({} slots)", rest.len(), rest.iter().map(|h| h.slots).sum::<usize>()));
    }
    parts.join(", ")
}

fn classes_text(c: &[(u64, u32)]) -> String {
    if c.is_empty() {
        return "none".into();
    }
    c.iter().map(|(size, n)| format!("{size} B x {n}")).collect::<Vec<_>>().join(", ")
}

/// Why an exhausted size class did not get another segment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrowthRefused {
    /// Another segment of `segment` bytes would take the namespace's pool segments (`used`
    /// bytes now) past the cap (`PoolConfig::max_bytes`, `TENSORBUS_POOL_MAX_BYTES`).
    Cap { cap: u64, used: u64, segment: u64 },
    /// Every pool id is taken.
    NoId { limit: usize },
    /// Creating the segment failed (a full /dev/shm, a foreign file under the name).
    Failed { reason: String },
}

impl std::fmt::Display for GrowthRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GrowthRefused::Cap { cap: 0, .. } => write!(f, "not grown: growth is off (pool memory cap 0; set TENSORBUS_POOL_MAX_BYTES or PoolConfig::max_bytes)"),
            GrowthRefused::Cap { cap, used, segment } => write!(
                f,
                "not grown: another segment of {segment} B would take the namespace's pools from {used} B past the cap of {cap} B (TENSORBUS_POOL_MAX_BYTES or PoolConfig::max_bytes)"
            ),
            GrowthRefused::NoId { limit } => write!(f, "not grown: all {limit} pool ids are in use"),
            GrowthRefused::Failed { reason } => write!(f, "not grown: {reason}"),
        }
    }
}

/// `pool 3 (4096 B slots, 8 slots)`, or with grown segments
/// `pools 3, 15, 14 (4096 B slots, 24 slots in 3 segments)`.
fn class_text(pool: u8, segments: &[u8], slot_size: u64, slots: Option<u32>) -> String {
    let slots = slots.map(|n| format!(", {n} slots")).unwrap_or_default();
    if segments.len() <= 1 {
        return format!("pool {pool} ({slot_size} B slots{slots})");
    }
    let ids = segments.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    format!("pools {ids} ({slot_size} B slots{slots} in {} segments)", segments.len())
}

fn refused_text(r: &Option<GrowthRefused>) -> String {
    r.as_ref().map(|r| format!("; {r}")).unwrap_or_default()
}

/// Claiming a slot failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcquireError {
    /// No pool in force (the existing pools by their real geometry, and the configured classes
    /// not created yet) has slots of `requested` bytes.
    #[error("payload of {requested} bytes fits no size class in force: {}", classes_text(classes))]
    NoClass { requested: u64, classes: Vec<(u64, u32)> },
    /// Every segment of the size class is full (after a reap), and it could not grow (`refused`
    /// says why; None when the segments it grew were taken by others at once). `pool` is the
    /// class's first segment, `segments` all of them (`pool` first), `slots` their total, and
    /// `holders` who holds slots in any of them.
    #[error("{} exhausted; held by: {}{}", class_text(*pool, segments, *slot_size, Some(*slots)), holders_text(holders), refused_text(refused))]
    Exhausted { pool: u8, slot_size: u64, slots: u32, segments: Vec<u8>, holders: Vec<HolderInfo>, refused: Option<GrowthRefused> },
    /// As `Exhausted`, after waiting `waited_ms` for a slot of any segment of the class.
    #[error("{} still exhausted after {waited_ms} ms; held by: {}{}", class_text(*pool, segments, *slot_size, None), holders_text(holders), refused_text(refused))]
    Timeout { pool: u8, slot_size: u64, waited_ms: u64, segments: Vec<u8>, holders: Vec<HolderInfo>, refused: Option<GrowthRefused> },
    /// This process left the namespace (`Namespace::leave`, at interpreter exit): its payload
    /// mappings are zero pages now, so a loan could reach nobody.
    #[error("this process has left the namespace (interpreter exit): nothing can be claimed any more")]
    Closed,
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// A descriptor could not be resolved to a readable slot.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DescriptorError {
    #[error("descriptor names pool {pool}, which does not exist")]
    BadPool { pool: u8 },
    #[error("descriptor names slot {slot}, pool {pool} has {slots}")]
    BadSlot { pool: u8, slot: u32, slots: u32 },
    #[error("descriptor length {len} exceeds slot size {slot_size}")]
    BadLength { len: u64, slot_size: u64 },
    #[error("stale descriptor: slot {slot} of pool {pool} was recycled (generation {expected}, now {found})")]
    Stale { pool: u8, slot: u32, expected: u32, found: u32 },
    #[error("descriptor field {field} invalid: {value}")]
    BadField { field: &'static str, value: u64 },
    #[error("descriptor is inline (no slot)")]
    Inline,
}

/// Sending into a topic failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    #[error("reliable topic {topic}: slowest subscriber did not catch up within {waited_ms} ms")]
    Timeout { topic: String, waited_ms: u64 },
    #[error("topic {topic}: {source}")]
    Descriptor { topic: String, source: DescriptorError },
    /// Another process holds the topic's writer lock and did not release it within the send's
    /// timeout: it is stopped (SIGSTOP, a debugger), stuck, or the lock word was scribbled with
    /// its pid. A dead holder's lock is taken over instead, never reported.
    #[error("topic {topic}: writer lock held by pid {pid}, which is alive but did not release it within the send timeout (stopped or stuck?)")]
    Locked { topic: String, pid: u32 },
    #[error("inline message of {len} bytes exceeds {max}")]
    InlineTooLarge { len: usize, max: usize },
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// Receiving from a topic failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    #[error("topic {topic}: corrupt ring: {what}")]
    Corrupt { topic: String, what: String },
    /// A subscriber inherited through fork could not get an entry of the child's own.
    #[error("topic {topic}: the forked child could not take over its inherited subscriber: {source}")]
    Inherited { topic: String, source: Box<TopicError> },
}

/// A topic exists with another message type, depth or policy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    #[error("topic {topic} carries {existing}, not {requested}")]
    TypeMismatch { topic: String, existing: String, requested: String },
    #[error("topic name {0:?} is invalid: use 1-63 characters from [A-Za-z0-9._-/], with no empty, `.` or `..` parts and no `.tmp.`")]
    BadName(String),
    #[error("topic {topic}: a wait-set watches at most {limit} triggers; split the topics over several wait-sets (threads)")]
    TooManyWatched { topic: String, limit: usize },
    #[error("topic {topic}: history must be 0 (keep no frame for late joiners) or 1 (keep the newest), got {history}")]
    BadHistory { topic: String, history: u32 },
    #[error("topic {topic}: max_subscribers must be 1..={limit}, got {requested}")]
    BadMaxSubscribers { topic: String, requested: u32, limit: usize },
    #[error("topic {topic}: too many subscribers (limit {limit}, fixed when the topic was created; create it with a larger max_subscribers)")]
    TooManySubscribers { topic: String, limit: usize },
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// The umbrella error of the pool crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Acquire(#[from] AcquireError),
    #[error(transparent)]
    Descriptor(#[from] DescriptorError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Recv(#[from] RecvError),
    #[error(transparent)]
    Topic(#[from] TopicError),
}
