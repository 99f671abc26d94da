//! The handles of this process on a topic: `Topic` (the shared mapping, per process),
//! `Publisher` and `Subscriber` (each with its own cursor and miss counter), and
//! `Namespace::topic`, which opens one. A fork child's inherited handles re-open the topic under
//! the child's own registration before they act (`Topic::here`, `Subscriber::adopt`).

use super::inline::{inline_message, Delivered};
use super::layout::{topic_names, Policy, TopicType, DEFAULT_DEPTH, DEFAULT_SUBS, MAX_SUBS};
use super::refs::is_payload;
use super::seg::RingSeg;
use super::seqlock::{self, INLINE_MAX, TAIL_WORDS};
use crate::descriptor::{kind, Descriptor};
use crate::error::{OpenError, RecvError, SendError, TopicError};
use crate::lease::SlotRef;
use crate::namespace::Namespace;
use crate::sleepers::DEFAULT_SPIN;
use crate::sync::Ordering;
use std::any::Any;
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

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
        let open = self.ns.open_topics();
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
    /// Frames kept for late joiners and `latest()` once every live subscriber has read them:
    /// 1 (the newest; default) or 0 (none, so a publisher's next loan reuses the slot the
    /// subscribers just dropped, cache-warm). Fixed when the topic is created.
    pub history: u32,
    /// Subscribers the topic can have at once (its subscriber table; 64 bytes each): default
    /// [`DEFAULT_SUBS`] (64), at most [`MAX_SUBS`] (1,024, one per holder of the namespace).
    /// Fixed when the topic is created.
    pub max_subscribers: u32,
}

impl Default for TopicOptions {
    fn default() -> Self {
        TopicOptions { ty: TopicType::default(), depth: DEFAULT_DEPTH, policy: Policy::Latest, history: 1, max_subscribers: DEFAULT_SUBS }
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
        let mut open = self.open_topics();
        open.retain(|(_, w)| w.strong_count() > 0);
        // The table is type-erased (`namespace.rs` does not know the ring module); every entry
        // is a `TopicShared`, so the downcast cannot fail.
        if let Some(shared) = open.iter().find(|(n, _)| n == name).and_then(|(_, w)| w.upgrade()).and_then(|a| a.downcast::<TopicShared>().ok()) {
            let existing = shared.ring.type_name();
            if let Some(opts) = opts {
                if !opts.ty.name.is_empty() && !existing.is_empty() && existing != opts.ty.name {
                    return Err(TopicError::TypeMismatch { topic: name.to_string(), existing, requested: opts.ty.name.clone() });
                }
            }
            return Ok(Topic { shared });
        }
        let ring = match opts {
            Some(opts) => {
                if opts.history > 1 {
                    return Err(TopicError::BadHistory { topic: name.to_string(), history: opts.history });
                }
                if opts.max_subscribers == 0 || opts.max_subscribers as usize > MAX_SUBS {
                    return Err(TopicError::BadMaxSubscribers { topic: name.to_string(), requested: opts.max_subscribers, limit: MAX_SUBS });
                }
                RingSeg::open_or_create(self.dir(), name, &opts.ty, opts.depth, opts.policy, opts.history, opts.max_subscribers)?
            }
            None => RingSeg::open_existing(self.dir(), name)?,
        };
        ring.openers().insert(self.holder_index());
        let shared = Arc::new(TopicShared { ns: self.clone(), ring });
        let weak: Weak<dyn Any + Send + Sync> = Arc::downgrade(&shared) as _;
        open.push((name.to_string(), weak));
        Ok(Topic { shared })
    }

    /// Topic names that exist in this namespace.
    pub fn topic_names(&self) -> Vec<String> {
        topic_names(self.dir())
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
    /// Frames kept for late joiners once every subscriber has read them (0 or 1).
    pub fn history(&self) -> u32 {
        self.shared.ring.history()
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
            topic.shared.ring.publishers().insert(topic.shared.ns.holder_index());
        }
        Publisher { topic, timeout: Duration::from_secs(1) }
    }

    /// A subscriber; it starts at the newest entry.
    pub fn subscriber(&self) -> Result<Subscriber, TopicError> {
        let topic = self.here()?.into_owned();
        let sub = claim_sub(&topic.shared.ring, &topic.shared.ns)?;
        let cursor = topic.shared.ring.sub(sub).cursor.load(Ordering::Acquire);
        Ok(Subscriber { topic, sub, cursor, spin: DEFAULT_SPIN, busy: false, pid: crate::process::current_pid() })
    }

    /// Messages sent so far.
    pub fn sent(&self) -> u64 {
        self.shared.ring.header().sent.load(Ordering::Relaxed)
    }

    /// The newest published entry, with its hold, without a subscriber.
    pub fn latest(&self) -> Option<Delivered> {
        let ring = &self.shared.ring;
        // Acquire: pairs with the writer's Release of head.
        let head = ring.header().head.load(Ordering::Acquire);
        if head == 0 {
            return None;
        }
        let pos = head - 1;
        let mut tail = [0u64; TAIL_WORDS];
        let d = seqlock::read(ring.entry(pos), pos, Some(&mut tail))?;
        let hold = if is_payload(&d) { Some(self.shared.ns.resolve(&d).ok()?) } else { None };
        Some(Delivered::new(d, tail, hold, head))
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

/// Claim a subscriber entry; when all are live, reap once (dead subscribers' entries become
/// free) and try again.
fn claim_sub(ring: &RingSeg, ns: &Namespace) -> Result<usize, TopicError> {
    if let Some(i) = ring.try_claim_sub(ns) {
        return Ok(i);
    }
    ns.reap();
    ring.try_claim_sub(ns).ok_or_else(|| TopicError::TooManySubscribers { topic: ring.name.clone(), limit: ring.max_subs as usize })
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
    /// How long a blocking receive spins before it sleeps (`Duration::MAX`: never sleeps).
    spin: Duration,
    /// The previous blocking receive got a message: spin first (the pipeline is busy).
    busy: bool,
    /// The process that owns entry `sub`; in a forked child (another pid) the subscriber is
    /// inherited and takes an entry of its own on first use, continuing from its cursor.
    pid: u32,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Subscriber({}, at {})", self.topic.name(), self.cursor)
    }
}

impl Subscriber {
    /// Spin instead of sleeping in blocking receives (lowest latency, burns a core); false:
    /// back to the default spin-then-sleep ([`DEFAULT_SPIN`]).
    pub fn set_spin(&mut self, spin: bool) {
        self.spin = if spin { Duration::MAX } else { DEFAULT_SPIN };
    }

    /// Spin-then-sleep: a blocking receive that follows one that got a message spins this long
    /// before it sleeps on the futex (default [`DEFAULT_SPIN`]; zero: sleep at once). After a
    /// receive that timed out it sleeps at once, so an idle subscriber burns no CPU.
    pub fn set_spin_window(&mut self, spin: Duration) {
        self.spin = spin;
    }

    /// This process's subscriber entry (a fork child's inherited subscriber takes its own
    /// first): the entry index and the topic handle it belongs to.
    pub(super) fn entry_here(&mut self) -> Result<(usize, &Topic), RecvError> {
        if self.pid != crate::process::current_pid() {
            self.adopt()?;
        }
        Ok((self.sub, &self.topic))
    }

    /// The next unread message, or None. [`Delivered::inline`] views an inline message of any
    /// length in place; [`Delivered::into_parts`] gives the descriptor and the slot hold.
    pub fn try_recv(&mut self) -> Result<Option<Delivered>, RecvError> {
        if self.pid != crate::process::current_pid() {
            self.adopt()?;
        }
        let ring = &self.topic.shared.ring;
        ring.try_recv(&self.topic.shared.ns, self.sub, &mut self.cursor)
    }

    /// The next message, waiting up to `timeout`: spin-then-sleep (see
    /// [`Subscriber::set_spin_window`]).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Delivered>, RecvError> {
        let got = self.recv_blocking(timeout);
        self.busy = matches!(got, Ok(Some(_)));
        got
    }

    fn recv_blocking(&mut self, timeout: Duration) -> Result<Option<Delivered>, RecvError> {
        if let Some(m) = self.try_recv()? {
            return Ok(Some(m));
        }
        let start = Instant::now();
        let topic = self.topic.clone();
        if self.busy || self.spin == Duration::MAX {
            let spin = self.spin.min(timeout);
            let mut n = 0u32;
            while start.elapsed() < spin {
                if let Some(m) = self.try_recv()? {
                    return Ok(Some(m));
                }
                n = n.wrapping_add(1);
                if n.is_multiple_of(64) && self.spin != Duration::MAX {
                    std::thread::yield_now(); // one core for two processes: let the sender run
                } else {
                    std::hint::spin_loop();
                }
            }
            if start.elapsed() >= timeout {
                return self.try_recv();
            }
        }
        // Protocol in `sleepers.rs`: arm (A, S), check for a message, sleep (R, W).
        let sleeper = topic.shared.ring.receiver_sleeper(&topic.shared.ns);
        loop {
            let seen = sleeper.arm();
            let got = self.try_recv();
            if !matches!(got, Ok(None)) {
                return got;
            }
            let left = timeout.saturating_sub(start.elapsed());
            if !left.is_zero() {
                sleeper.sleep(seen, left);
            }
            if start.elapsed() >= timeout {
                return self.try_recv();
            }
        }
    }

    /// Skip to the newest message and return it.
    pub fn latest(&mut self) -> Result<Option<Delivered>, RecvError> {
        if self.pid != crate::process::current_pid() {
            self.adopt()?;
        }
        // Acquire: pairs with the writer's Release of head.
        let head = self.topic.shared.ring.header().head.load(Ordering::Acquire);
        if head > self.cursor.saturating_add(1) {
            let skipped = head - 1 - self.cursor;
            // Relaxed: statistics.
            self.topic.shared.ring.sub(self.sub).misses.fetch_add(skipped, Ordering::Relaxed);
            self.cursor = head - 1;
        }
        self.try_recv()
    }

    /// In a forked child: leave the parent's entry alone and continue from the inherited cursor
    /// under an entry of the child's own.
    fn adopt(&mut self) -> Result<(), RecvError> {
        let err = |e: TopicError| RecvError::Inherited { topic: self.topic.name().to_string(), source: Box::new(e) };
        let topic = self.topic.here().map_err(err)?.into_owned();
        let sub = claim_sub(&topic.shared.ring, &topic.shared.ns).map_err(err)?;
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
