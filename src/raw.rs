//! Untyped topic handles: [`RawPublisher`] / [`RawSubscriber`] send and receive POD bytes,
//! MessagePack blobs and payload descriptors for a [`TopicType`] known only at run time. The
//! typed [`crate::Publisher`] / [`crate::Subscriber`] are a thin layer over these, and the Python
//! binding uses them directly.
//!
//! Wire forms (the descriptor's `kind`):
//! - POD bytes of `size <= 104` ([`INLINE_MAX`]): `INLINE`, the bytes in the ring entry (48 in
//!   the descriptor, the rest in the entry's tail words); larger: `BYTES`, the bytes in a pool
//!   slot (`len == size`).
//! - MessagePack of `<= 104` bytes: `INLINE` with flag [`FLAG_MSGPACK`]; larger: `MSGPACK` in a
//!   slot.
//! - Payloads (Image, ...): their own kind; only the descriptor travels.
//!
//! The ring never stamps a sequence number into an inline descriptor: its bytes 16..64 are the
//! message.

use crate::error::{Error, Result};
use std::time::Duration;
use tensorbus_pool::descriptor::kind;
pub use tensorbus_pool::ring::INLINE_MAX;
use tensorbus_pool::{Delivered, Descriptor, Namespace, Policy, SlotRef, Topic, TopicError, TopicOptions, TopicType};
use tensorbus_tensor::Payload;

/// Descriptor flag (bit 8): an inline message is MessagePack, not POD bytes.
pub const FLAG_MSGPACK: u16 = 1 << 8;

/// Descriptor flag (bit 9): the message came from another host through a bridge
/// (`tensorbus-bridge`), which therefore does not send it back out. Set with
/// [`RawPublisher::mark_bridged`]; the message itself is unchanged.
pub const FLAG_BRIDGED: u16 = 1 << 9;

/// Type name carried by MessagePack (dict) topics.
pub const DICT_TYPE: &str = "dict";

/// How a topic is created (an existing topic keeps its own depth, policy, history and
/// subscriber table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicConfig {
    /// Ring entries (1..=4096); the most frames the topic pins.
    pub depth: u32,
    /// `Latest` overwrites the oldest entry; `Reliable` makes senders wait for the slowest reader.
    pub policy: Policy,
    /// Frames kept for late joiners and `latest()` once every subscriber has read them: 1 (the
    /// newest, default) or 0 (none; a publisher's next loan reuses the slot just dropped).
    pub history: u32,
    /// Subscribers the topic can have at once (1..=1,024; default 64).
    pub max_subscribers: u32,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig { depth: tensorbus_pool::ring::DEFAULT_DEPTH, policy: Policy::Latest, history: 1, max_subscribers: tensorbus_pool::ring::DEFAULT_SUBS }
    }
}

impl TopicConfig {
    pub fn reliable(depth: u32) -> TopicConfig {
        TopicConfig { depth, policy: Policy::Reliable, ..TopicConfig::default() }
    }
    pub fn latest(depth: u32) -> TopicConfig {
        TopicConfig { depth, policy: Policy::Latest, ..TopicConfig::default() }
    }
    /// The same with `history` frames kept for late joiners (0 or 1).
    pub fn with_history(self, history: u32) -> TopicConfig {
        TopicConfig { history, ..self }
    }
    /// The same with room for `n` subscribers at once (1..=1,024).
    pub fn with_max_subscribers(self, n: u32) -> TopicConfig {
        TopicConfig { max_subscribers: n, ..self }
    }
}

fn describe(name: &str, hash: u64, size: u32) -> String {
    if size > 0 {
        format!("{name} ({size} B, layout {hash:#x})")
    } else {
        name.to_string()
    }
}

/// Open (creating if needed) topic `name` carrying `ty`. A topic carrying another type (name,
/// size or layout hash) is `TopicError::TypeMismatch` naming both.
pub fn open_topic(ns: &Namespace, name: &str, ty: &TopicType, config: TopicConfig) -> Result<Topic> {
    let topic = ns.topic(name, &TopicOptions { ty: ty.clone(), depth: config.depth, policy: config.policy, history: config.history, max_subscribers: config.max_subscribers })?;
    // The pool compares only the names for a topic already open in this process.
    let h = topic.ring().header();
    let existing = topic.type_name();
    if !ty.name.is_empty() && !existing.is_empty() && (existing != ty.name || h.type_hash != ty.hash || h.msg_size != ty.size) {
        return Err(
            TopicError::TypeMismatch { topic: name.to_string(), existing: describe(&existing, h.type_hash, h.msg_size), requested: describe(&ty.name, ty.hash, ty.size) }.into()
        );
    }
    Ok(topic)
}

/// True when `bytes` travel inline in the ring entry.
fn inline_ok(bytes: &[u8]) -> bool {
    bytes.len() <= INLINE_MAX
}

/// Human name of a descriptor kind.
pub fn kind_name(d: &Descriptor) -> String {
    match d.kind {
        kind::INLINE if d.flags & FLAG_MSGPACK != 0 => "inline msgpack".into(),
        kind::INLINE => format!("inline {} B", d.aux),
        kind::MSGPACK => "msgpack".into(),
        kind::BYTES => format!("bytes ({} B)", d.len),
        k => tensorbus_tensor::PayloadKind::from_code(k).map(|k| k.name().to_string()).unwrap_or_else(|| format!("kind {k}")),
    }
}

/// Sends untyped messages on one topic. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RawPublisher {
    inner: tensorbus_pool::Publisher,
    ty: TopicType,
    timeout: Duration,
    /// Descriptor flag bits added to every message sent ([`FLAG_BRIDGED`] or 0).
    flags: u16,
}

impl RawPublisher {
    /// Open `name` for `ty` and make a publisher.
    pub fn open(ns: &Namespace, name: &str, ty: TopicType, config: TopicConfig) -> Result<RawPublisher> {
        Ok(RawPublisher::new(&open_topic(ns, name, &ty, config)?, ty))
    }

    /// A publisher on an open topic, sending messages of `ty`.
    pub fn new(topic: &Topic, ty: TopicType) -> RawPublisher {
        let timeout = Duration::from_secs(1);
        let mut inner = topic.publisher();
        inner.set_timeout(timeout);
        RawPublisher { inner, ty, timeout, flags: 0 }
    }

    /// How long a reliable send waits for room, and a large message for a free slot (1 s).
    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
        self.inner.set_timeout(t);
    }

    /// Mark everything this publisher sends as [`FLAG_BRIDGED`] (what a bridge publishes).
    pub fn mark_bridged(&mut self) {
        self.flags |= FLAG_BRIDGED;
    }

    pub fn topic(&self) -> &Topic {
        self.inner.topic()
    }
    pub fn topic_type(&self) -> &TopicType {
        &self.ty
    }

    fn send_slot(&self, bytes: &[u8], kind: u8) -> Result<u64> {
        let ns = self.inner.topic().namespace();
        let mut m = ns.acquire_timeout(bytes.len().max(1) as u64, self.timeout)?;
        m.set_len(bytes.len() as u64);
        m.as_mut_slice().copy_from_slice(bytes);
        let r = m.freeze();
        let d = r.descriptor();
        let d = Descriptor { kind, len: bytes.len() as u64, flags: d.flags | self.flags, ..d };
        Ok(self.inner.send(d, &r)?)
    }

    /// Send a POD message: exactly `size` bytes of the topic type (any length when size is 0).
    /// Inline when it fits, else one copy into a slot. Returns the sequence number.
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<u64> {
        if self.ty.size > 0 && bytes.len() != self.ty.size as usize {
            return Err(Error::WrongSize { topic: self.topic().name().to_string(), type_name: self.ty.name.clone(), expected: self.ty.size as usize, found: bytes.len() });
        }
        if inline_ok(bytes) {
            return Ok(self.inner.send_inline_flagged(bytes, self.flags)?);
        }
        self.send_slot(bytes, kind::BYTES)
    }

    /// Send an encoded MessagePack blob (inline when small, else through a slot).
    pub fn send_msgpack(&self, bytes: &[u8]) -> Result<u64> {
        if inline_ok(bytes) {
            return Ok(self.inner.send_inline_flagged(bytes, FLAG_MSGPACK | self.flags)?);
        }
        self.send_slot(bytes, kind::MSGPACK)
    }

    /// Send a frozen payload: only its descriptor travels (zero copies).
    pub fn send_payload(&self, p: &Payload) -> Result<u64> {
        let mut d = p.descriptor();
        d.flags |= self.flags;
        Ok(self.inner.send(d, p.slot())?)
    }

    /// Send a descriptor for the slot held by `hold` (the pool-level primitive).
    pub fn send_descriptor(&self, mut d: Descriptor, hold: &SlotRef) -> Result<u64> {
        d.flags |= self.flags;
        Ok(self.inner.send(d, hold)?)
    }
}

/// One received message: its descriptor and, for slot-borne messages, a hold on the slot.
pub struct RawMessage {
    msg: Delivered,
}

impl std::fmt::Debug for RawMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawMessage({}, seq {})", kind_name(&self.msg.desc), self.msg.desc.sequence)
    }
}

impl RawMessage {
    #[inline]
    fn new(msg: Delivered) -> RawMessage {
        RawMessage { msg }
    }
    pub fn descriptor(&self) -> &Descriptor {
        &self.msg.desc
    }
    pub fn hold(&self) -> Option<&SlotRef> {
        self.msg.hold.as_ref()
    }
    /// The sequence number the publisher's send returned (see [`Delivered::sequence`]).
    pub fn sequence(&self) -> u64 {
        self.msg.sequence()
    }
    /// The descriptor's kind byte (`tensorbus::pool::descriptor::kind`).
    pub fn kind(&self) -> u8 {
        self.msg.desc.kind
    }
    /// A MessagePack message (inline or in a slot).
    pub fn is_msgpack(&self) -> bool {
        self.msg.desc.kind == kind::MSGPACK || (self.msg.desc.kind == kind::INLINE && self.msg.desc.flags & FLAG_MSGPACK != 0)
    }
    /// POD bytes (inline, or `BYTES` in a slot).
    pub fn is_pod(&self) -> bool {
        self.msg.desc.kind == kind::BYTES || (self.msg.desc.kind == kind::INLINE && self.msg.desc.flags & FLAG_MSGPACK == 0)
    }
    /// Sent by a bridge: it came from another host ([`FLAG_BRIDGED`]).
    pub fn is_bridged(&self) -> bool {
        self.msg.desc.flags & FLAG_BRIDGED != 0
    }
    /// A payload (image, depth, points, tensor): resolve it with [`RawMessage::into_payload`].
    pub fn is_payload(&self) -> bool {
        matches!(self.msg.desc.kind, kind::IMAGE | kind::DEPTH | kind::POINTS | kind::TENSOR)
    }
    /// The message bytes: inline bytes, or the slot's bytes (no copy). None for an empty
    /// descriptor.
    pub fn bytes(&self) -> &[u8] {
        if self.msg.desc.kind == kind::INLINE {
            return self.msg.inline().unwrap_or(&[]);
        }
        match &self.msg.hold {
            Some(h) => {
                let s = h.as_slice();
                &s[..(self.msg.desc.len as usize).min(s.len())]
            }
            None => &[],
        }
    }
    /// Validate and wrap as a payload: the message's hold on the slot becomes the payload's (the
    /// descriptor and the slot's metadata are checked again); a message without one resolves
    /// its descriptor in `ns`.
    #[inline]
    pub fn into_payload(mut self, ns: &Namespace) -> Result<Payload> {
        match self.msg.hold.take() {
            Some(hold) => Ok(Payload::from_hold(hold, &self.msg.desc)?),
            None => Ok(Payload::from_descriptor(ns, &self.msg.desc)?),
        }
    }
}

/// Subscribe to the existing topic `name`, whatever it carries (its own type, depth and policy),
/// and attach its trigger to `ws`: what a recorder or a bridge does with each topic it finds.
/// Returns the subscriber and its key in `ws`.
pub fn watch(ns: &Namespace, name: &str, ws: &mut tensorbus_pool::WaitSet) -> Result<(RawSubscriber, usize)> {
    let topic = ns.topic(name, &TopicOptions::default())?;
    let h = topic.ring().header();
    let ty = TopicType { name: topic.type_name(), hash: h.type_hash, size: h.msg_size };
    let mut sub = RawSubscriber::new(&topic, ty)?;
    let key = ws.attach(sub.trigger()?)?;
    Ok((sub, key))
}

/// Receives untyped messages from one topic.
#[derive(Debug)]
pub struct RawSubscriber {
    inner: tensorbus_pool::Subscriber,
    ty: TopicType,
}

impl RawSubscriber {
    /// Open `name` for `ty` and subscribe (starting at the newest entry).
    pub fn open(ns: &Namespace, name: &str, ty: TopicType, config: TopicConfig) -> Result<RawSubscriber> {
        RawSubscriber::new(&open_topic(ns, name, &ty, config)?, ty)
    }
    pub fn new(topic: &Topic, ty: TopicType) -> Result<RawSubscriber> {
        Ok(RawSubscriber { inner: topic.subscriber()?, ty })
    }
    pub fn topic(&self) -> &Topic {
        self.inner.topic()
    }
    pub fn topic_type(&self) -> &TopicType {
        &self.ty
    }
    /// Spin instead of sleeping in blocking receives.
    pub fn set_spin(&mut self, spin: bool) {
        self.inner.set_spin(spin);
    }
    /// How long a blocking receive spins before sleeping (see
    /// [`tensorbus_pool::Subscriber::set_spin_window`]).
    pub fn set_spin_window(&mut self, spin: Duration) {
        self.inner.set_spin_window(spin);
    }
    /// A [`tensorbus_pool::WaitSet`] trigger, ready while this subscriber has unread messages
    /// (what [`crate::NodeConfig::on`] takes).
    pub fn trigger(&mut self) -> Result<tensorbus_pool::Trigger> {
        Ok(self.inner.trigger()?)
    }
    /// The next unread message, or None.
    #[inline]
    pub fn try_recv(&mut self) -> Result<Option<RawMessage>> {
        Ok(self.inner.try_recv()?.map(RawMessage::new))
    }
    /// The next message, waiting up to `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<RawMessage>> {
        Ok(self.inner.recv_timeout(timeout)?.map(RawMessage::new))
    }
    /// Skip to the newest message and return it (skipped ones count as misses).
    pub fn latest(&mut self) -> Result<Option<RawMessage>> {
        Ok(self.inner.latest()?.map(RawMessage::new))
    }
    pub fn misses(&self) -> u64 {
        self.inner.misses()
    }
    pub fn received(&self) -> u64 {
        self.inner.received()
    }

    /// The POD bytes of `m`, checked against the topic type's size.
    pub fn pod_bytes<'m>(&self, m: &'m RawMessage) -> Result<&'m [u8]> {
        if !m.is_pod() {
            return Err(self.wrong_kind(m, "POD bytes"));
        }
        let b = m.bytes();
        if m.kind() == kind::BYTES && m.msg.hold.as_ref().is_none_or(|h| (h.len() as usize) < m.msg.desc.len as usize) {
            return Err(self.wrong_kind(m, "POD bytes"));
        }
        if self.ty.size > 0 && b.len() != self.ty.size as usize {
            return Err(Error::WrongSize { topic: self.topic().name().to_string(), type_name: self.ty.name.clone(), expected: self.ty.size as usize, found: b.len() });
        }
        Ok(b)
    }

    /// The MessagePack bytes of `m` (not decoded).
    pub fn msgpack_bytes<'m>(&self, m: &'m RawMessage) -> Result<&'m [u8]> {
        if !m.is_msgpack() {
            return Err(self.wrong_kind(m, "MessagePack"));
        }
        if m.kind() == kind::MSGPACK && m.msg.hold.as_ref().is_none_or(|h| (h.len() as usize) < m.msg.desc.len as usize) {
            return Err(self.wrong_kind(m, "MessagePack"));
        }
        Ok(m.bytes())
    }

    pub(crate) fn wrong_kind(&self, m: &RawMessage, expected: &'static str) -> Error {
        Error::WrongKind { topic: self.topic().name().to_string(), expected, found: kind_name(&m.msg.desc) }
    }
}

/// True when `name` matches the glob `pat` (`*` any run, `?` one character).
pub fn glob(pat: &str, name: &str) -> bool {
    fn m(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], n) || (!n.is_empty() && m(p, &n[1..])),
            (Some(b'?'), Some(_)) => m(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &n[1..]),
            _ => false,
        }
    }
    m(pat.as_bytes(), name.as_bytes())
}
