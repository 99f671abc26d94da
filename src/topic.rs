//! Typed topics: [`Topic<T>`], [`Publisher<T>`] and [`Subscriber<T>`] for any [`Message`]:
//! POD messages ([`Pod`]), payloads ([`Image`], [`DepthImage`], [`PointCloud`], [`Tensor`],
//! [`Payload`]) and dynamic MessagePack values ([`Value`]; any serde type through
//! [`Publisher::send_serde`] / [`Subscriber::recv_serde`]). Each is a thin layer over the raw
//! handles in [`crate::raw`].
//!
//! ```
//! use tensorbus::{msgs::CmdVel, Namespace, PoolConfig, Topic};
//! let dir = std::env::temp_dir().join(format!("tb-doc-topic-{}", std::process::id()));
//! let ns = Namespace::open_dir(&dir, PoolConfig::parse("4Kx4").unwrap()).unwrap();
//! let topic = Topic::<CmdVel>::open_default(&ns).unwrap();      // topic "cmd_vel"
//! let (tx, mut rx) = (topic.publisher(), topic.subscriber().unwrap());
//! tx.send(&CmdVel { timestamp_ns: 1, linear: 0.5, angular: -0.1 }).unwrap();
//! assert_eq!(rx.try_recv().unwrap().unwrap().linear, 0.5);
//! # drop((tx, rx, topic, ns)); std::fs::remove_dir_all(dir).ok();
//! ```

use crate::error::{Error, Result};
use crate::message::Pod;
use crate::raw::{open_topic, RawMessage, RawPublisher, RawSubscriber, TopicConfig, DICT_TYPE};
use std::marker::PhantomData;
use std::time::Duration;
use tensorbus_pool::{Namespace, TopicType};
use tensorbus_tensor::{DepthImage, Image, Payload, PointCloud, Tensor};

/// A dynamic MessagePack value (what a Python dict arrives as).
pub use rmpv::Value;

/// Something a typed topic carries.
pub trait Message: Sized {
    /// The type the topic records (name, layout hash, size).
    fn topic_type() -> TopicType;
    /// Send `self` through `p`.
    fn publish(&self, p: &RawPublisher) -> Result<u64>;
    /// Decode a received message (validated; a bad one is an `Err`).
    fn receive(s: &RawSubscriber, m: RawMessage) -> Result<Self>;
}

impl<T: Pod> Message for T {
    fn topic_type() -> TopicType {
        TopicType { name: T::TYPE_NAME.to_string(), hash: T::LAYOUT_HASH, size: std::mem::size_of::<T>() as u32 }
    }
    fn publish(&self, p: &RawPublisher) -> Result<u64> {
        p.send_bytes(self.as_bytes())
    }
    fn receive(s: &RawSubscriber, m: RawMessage) -> Result<Self> {
        let b = s.pod_bytes(&m)?;
        T::from_bytes(b).ok_or_else(|| Error::WrongSize {
            topic: s.topic().name().to_string(),
            type_name: T::TYPE_NAME.to_string(),
            expected: std::mem::size_of::<T>(),
            found: b.len(),
        })
    }
}

macro_rules! payload_message {
    ($t:ty, $name:expr, $wrap:expr) => {
        impl Message for $t {
            fn topic_type() -> TopicType {
                TopicType { name: $name.to_string(), hash: 0, size: 0 }
            }
            fn publish(&self, p: &RawPublisher) -> Result<u64> {
                p.send_payload(self.payload())
            }
            #[inline]
            fn receive(s: &RawSubscriber, m: RawMessage) -> Result<Self> {
                if !m.is_payload() {
                    return Err(s.wrong_kind(&m, $name));
                }
                let p = m.into_payload(s.topic().namespace())?;
                #[allow(clippy::redundant_closure_call)]
                Ok(($wrap)(p)?)
            }
        }
    };
}
payload_message!(Image, "Image", Image::from_payload);
payload_message!(DepthImage, "DepthImage", DepthImage::from_payload);
payload_message!(PointCloud, "PointCloud", PointCloud::from_payload);
payload_message!(Tensor, "Tensor", |p: Payload| -> std::result::Result<Tensor, tensorbus_tensor::PayloadError> {
    if p.kind() != tensorbus_tensor::PayloadKind::Tensor {
        return Err(tensorbus_tensor::PayloadError::WrongKind { expected: "tensor", found: p.kind().name() });
    }
    Ok(Tensor::view(&p))
});

impl Message for Payload {
    /// Any payload kind (the topic records no type).
    fn topic_type() -> TopicType {
        TopicType::default()
    }
    fn publish(&self, p: &RawPublisher) -> Result<u64> {
        p.send_payload(self)
    }
    fn receive(s: &RawSubscriber, m: RawMessage) -> Result<Self> {
        if !m.is_payload() && m.kind() != tensorbus_pool::descriptor::kind::BYTES {
            return Err(s.wrong_kind(&m, "a payload"));
        }
        m.into_payload(s.topic().namespace())
    }
}

fn msgpack_err(topic: &str, e: impl std::fmt::Display) -> Error {
    Error::Msgpack { topic: topic.to_string(), what: e.to_string() }
}

impl Message for Value {
    fn topic_type() -> TopicType {
        TopicType { name: DICT_TYPE.to_string(), hash: 0, size: 0 }
    }
    fn publish(&self, p: &RawPublisher) -> Result<u64> {
        let mut buf = Vec::with_capacity(64);
        rmpv::encode::write_value(&mut buf, self).map_err(|e| msgpack_err(p.topic().name(), e))?;
        p.send_msgpack(&buf)
    }
    fn receive(s: &RawSubscriber, m: RawMessage) -> Result<Self> {
        let mut b = s.msgpack_bytes(&m)?;
        let v = rmpv::decode::read_value(&mut b).map_err(|e| msgpack_err(s.topic().name(), e))?;
        if !b.is_empty() {
            return Err(msgpack_err(s.topic().name(), format!("{} trailing bytes", b.len())));
        }
        Ok(v)
    }
}

/// A typed topic handle: make publishers and subscribers from it.
#[derive(Debug)]
pub struct Topic<T: Message> {
    topic: tensorbus_pool::Topic,
    _t: PhantomData<fn() -> T>,
}

impl<T: Message> Clone for Topic<T> {
    fn clone(&self) -> Self {
        Topic { topic: self.topic.clone(), _t: PhantomData }
    }
}

impl<T: Message> Topic<T> {
    /// Open (creating if needed) topic `name` with the default depth (4) and policy (latest).
    /// A topic of another type is an error naming both.
    pub fn open(ns: &Namespace, name: &str) -> Result<Topic<T>> {
        Self::open_with(ns, name, TopicConfig::default())
    }
    /// As [`Topic::open`], with depth and policy for a topic this call creates.
    pub fn open_with(ns: &Namespace, name: &str, config: TopicConfig) -> Result<Topic<T>> {
        Ok(Topic { topic: open_topic(ns, name, &T::topic_type(), config)?, _t: PhantomData })
    }
    pub fn publisher(&self) -> Publisher<T> {
        Publisher { raw: RawPublisher::new(&self.topic, T::topic_type()), _t: PhantomData }
    }
    pub fn subscriber(&self) -> Result<Subscriber<T>> {
        Ok(Subscriber { raw: RawSubscriber::new(&self.topic, T::topic_type())?, _t: PhantomData })
    }
    pub fn name(&self) -> &str {
        self.topic.name()
    }
    /// Messages sent so far (all publishers, all processes).
    pub fn sent(&self) -> u64 {
        self.topic.sent()
    }
    /// The pool-level topic.
    pub fn raw(&self) -> &tensorbus_pool::Topic {
        &self.topic
    }
}

impl<T: Message + Pod> Topic<T> {
    /// Open the type's default topic ([`Pod::topic_name`], e.g. `cmd_vel`).
    pub fn open_default(ns: &Namespace) -> Result<Topic<T>> {
        Self::open(ns, &T::topic_name())
    }
}

/// Sends messages of type `T`. Cheap to clone.
#[derive(Debug)]
pub struct Publisher<T: Message> {
    raw: RawPublisher,
    _t: PhantomData<fn(T)>,
}

impl<T: Message> Clone for Publisher<T> {
    fn clone(&self) -> Self {
        Publisher { raw: self.raw.clone(), _t: PhantomData }
    }
}

impl<T: Message> Publisher<T> {
    /// Open topic `name` (default depth and policy) and make a publisher.
    pub fn new(ns: &Namespace, name: &str) -> Result<Publisher<T>> {
        Ok(Topic::<T>::open(ns, name)?.publisher())
    }
    /// Send one message. Returns its sequence number.
    pub fn send(&self, msg: &T) -> Result<u64> {
        msg.publish(&self.raw)
    }
    /// How long a reliable send waits for room (default 1 s).
    pub fn set_timeout(&mut self, t: Duration) {
        self.raw.set_timeout(t);
    }
    pub fn raw(&self) -> &RawPublisher {
        &self.raw
    }
    pub fn topic_name(&self) -> &str {
        self.raw.topic().name()
    }
}

impl Publisher<Value> {
    /// Send any serde value as MessagePack (maps keyed by field name, like a Python dict).
    pub fn send_serde<S: serde::Serialize + ?Sized>(&self, msg: &S) -> Result<u64> {
        let buf = rmp_serde::to_vec_named(msg).map_err(|e| msgpack_err(self.topic_name(), e))?;
        self.raw.send_msgpack(&buf)
    }
}

/// Receives messages of type `T`; each subscriber has its own cursor.
#[derive(Debug)]
pub struct Subscriber<T: Message> {
    raw: RawSubscriber,
    _t: PhantomData<fn() -> T>,
}

impl<T: Message> Subscriber<T> {
    /// Open topic `name` (default depth and policy) and subscribe at the newest entry.
    pub fn new(ns: &Namespace, name: &str) -> Result<Subscriber<T>> {
        Topic::<T>::open(ns, name)?.subscriber()
    }
    /// The next unread message, or None.
    pub fn try_recv(&mut self) -> Result<Option<T>> {
        self.raw.try_recv()?.map(|m| T::receive(&self.raw, m)).transpose()
    }
    /// The next message, waiting up to `timeout` (futex sleep unless spinning is on).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<T>> {
        self.raw.recv_timeout(timeout)?.map(|m| T::receive(&self.raw, m)).transpose()
    }
    /// Skip to the newest message and return it.
    pub fn latest(&mut self) -> Result<Option<T>> {
        self.raw.latest()?.map(|m| T::receive(&self.raw, m)).transpose()
    }
    /// Every message available now, in order.
    pub fn drain(&mut self) -> Result<Vec<T>> {
        let mut out = Vec::new();
        while let Some(m) = self.try_recv()? {
            out.push(m);
        }
        Ok(out)
    }
    pub fn set_spin(&mut self, spin: bool) {
        self.raw.set_spin(spin);
    }
    /// How long a blocking receive spins before sleeping (spin-then-sleep; see
    /// [`tensorbus_pool::Subscriber::set_spin_window`]).
    pub fn set_spin_window(&mut self, spin: Duration) {
        self.raw.set_spin_window(spin);
    }
    /// A [`crate::WaitSet`] / [`crate::NodeConfig::on`] trigger: ready while this subscriber
    /// has unread messages.
    pub fn trigger(&mut self) -> Result<tensorbus_pool::Trigger> {
        self.raw.trigger()
    }
    /// Messages this subscriber missed (overwritten before it read them).
    pub fn misses(&self) -> u64 {
        self.raw.misses()
    }
    pub fn received(&self) -> u64 {
        self.raw.received()
    }
    pub fn raw(&mut self) -> &mut RawSubscriber {
        &mut self.raw
    }
    pub fn topic_name(&self) -> &str {
        self.raw.topic().name()
    }
}

impl Subscriber<Value> {
    /// The next message decoded into a serde type, or None.
    pub fn recv_serde<D: serde::de::DeserializeOwned>(&mut self, timeout: Duration) -> Result<Option<D>> {
        let Some(m) = self.raw.recv_timeout(timeout)? else { return Ok(None) };
        let b = self.raw.msgpack_bytes(&m)?;
        rmp_serde::from_slice(b).map(Some).map_err(|e| msgpack_err(self.topic_name(), e))
    }
}
