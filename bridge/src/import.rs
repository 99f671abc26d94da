//! Zenoh out to local topics: one Zenoh subscriber on `tensorbus/<scope>/**`; its callback checks
//! each sample's key and attachment and queues it per topic (bounded), and a writer thread copies
//! each queued message into a slot it loaned here (one copy, network buffer → slot) and publishes
//! an ordinary descriptor, flagged `FLAG_BRIDGED` so no bridge here sends it out again. Small
//! latest-policy messages (commands, dicts) are published by the callback itself, without the
//! hand-over to the writer ([`lands_directly`]).
//!
//! Memory stays bounded when this side is slow: a latest-policy topic's queue keeps its newest
//! [`crate::BridgeOptions::queue`] samples (default: the topic's depth; older ones are dropped
//! and counted); a reliable
//! topic's keeps up to [`crate::options::RELIABLE_QUEUE`] and then the callback waits (up to
//! `block_timeout`), which slows the sender through Zenoh's own flow control.
//!
//! Loss accounting: the sender numbers each topic's messages (`bridge_seq`); a gap is a loss on
//! the way (a frame Zenoh dropped under congestion), counted per topic as `lost`.

use crate::options::{BridgeOptions, RELIABLE_QUEUE};
use crate::status::Shared;
use crate::wire::{self, Form, Header, Refusal, Zid};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tensorbus::raw::{RawPublisher, TopicConfig};
use tensorbus::{Namespace, Policy, TopicType};
use tensorbus_tensor::{DType, Payload, PayloadKind, PayloadMut};
use zenoh::bytes::ZBytes;
use zenoh::sample::Sample;

/// One sample waiting for the writer.
struct Arrived {
    topic: String,
    header: Header,
    data: ZBytes,
    /// ROS 2 mode: the sample is the CDR of this mapping's ROS type.
    ros: Option<Arc<RosIn>>,
    /// Samples of this topic the queue dropped just before this one (already counted as
    /// `dropped`: the gap they leave in `bridge_seq` is not a loss on the way).
    skipped: u64,
}

/// An imported ROS 2 topic: what its samples are, and what they become here.
pub(crate) struct RosIn {
    pub ros_type: String,
    pub tb_type: String,
}

#[derive(Default)]
struct Queues {
    by_topic: BTreeMap<String, VecDeque<Arrived>>,
    /// Topics with queued samples, in arrival order (each once).
    ready: VecDeque<String>,
    closed: bool,
}

/// The callback's side and the writer's side of the per-topic queues.
pub(crate) struct Inbox {
    q: Mutex<Queues>,
    /// Signalled when a sample is queued (the writer waits) or taken (a reliable callback waits).
    cv: Condvar,
}

fn lock(m: &Mutex<Queues>) -> std::sync::MutexGuard<'_, Queues> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inbox {
    pub fn new() -> Arc<Inbox> {
        Arc::new(Inbox { q: Mutex::new(Queues::default()), cv: Condvar::new() })
    }

    pub fn close(&self) {
        lock(&self.q).closed = true;
        self.cv.notify_all();
    }

    /// Queue `a` in its topic's queue (bounded; see the module docs), or count the drop.
    fn push(&self, a: Arrived, opts: &BridgeOptions, shared: &Shared) {
        let (topic, reliable) = (a.topic.clone(), a.header.reliable);
        let depth = if a.header.depth == 0 { tensorbus_pool::ring::DEFAULT_DEPTH } else { a.header.depth } as usize;
        let cap = if reliable { RELIABLE_QUEUE } else { opts.queue.unwrap_or(depth).max(1) };
        let mut q = lock(&self.q);
        if reliable {
            let t0 = Instant::now();
            while !q.closed && q.by_topic.get(&topic).is_some_and(|d| d.len() >= cap) {
                let left = opts.block_timeout.saturating_sub(t0.elapsed());
                if left.is_zero() {
                    break;
                }
                q = self.cv.wait_timeout(q, left).unwrap_or_else(|e| e.into_inner()).0;
            }
        }
        let dropped = {
            let Queues { by_topic, ready, .. } = &mut *q;
            let d = by_topic.entry(topic.clone()).or_default();
            // Invariant: a topic is in `ready` exactly while its queue is not empty.
            if d.is_empty() {
                ready.push_back(topic.clone());
            }
            let carry = if d.len() >= cap { d.pop_front().map(|x| x.skipped + 1) } else { None };
            d.push_back(a);
            if let (Some(n), Some(front)) = (carry, d.front_mut()) {
                front.skipped += n;
            }
            carry.is_some()
        };
        drop(q);
        self.cv.notify_all();
        if dropped {
            shared.topic(&topic, "in", |t| t.dropped += 1);
        }
    }

    /// The next queued sample (round robin over topics), waiting up to `timeout`.
    fn next(&self, timeout: Duration) -> Option<Arrived> {
        let mut q = lock(&self.q);
        let t0 = Instant::now();
        loop {
            if let Some(topic) = q.ready.pop_front() {
                let Queues { by_topic, ready, .. } = &mut *q;
                let d = by_topic.get_mut(&topic)?;
                let a = d.pop_front();
                if !d.is_empty() {
                    ready.push_back(topic);
                }
                drop(q);
                self.cv.notify_all(); // room for a waiting reliable callback
                return a;
            }
            let left = timeout.saturating_sub(t0.elapsed());
            if q.closed || left.is_zero() {
                return None;
            }
            q = self.cv.wait_timeout(q, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// An imported topic.
pub(crate) struct InTopic {
    publisher: RawPublisher,
    /// Last `bridge_seq` per sending bridge.
    last: HashMap<[u8; 16], u64>,
    origins: Vec<[u8; 16]>,
}

/// The importing side: the Zenoh callbacks (which check every sample, land small latest-policy
/// messages themselves and queue the rest) and the writer thread (which lands what is queued).
pub(crate) struct Importer {
    pub ns: Namespace,
    pub opts: BridgeOptions,
    pub inbox: Arc<Inbox>,
    pub shared: Arc<Shared>,
    /// The imported topics. The map's lock is held only to find or add a topic; each topic has
    /// its own, so a frame being copied never delays a command on another topic.
    pub topics: Mutex<HashMap<String, Arc<Mutex<InTopic>>>>,
}

/// Whether a sample is landed in the Zenoh callback itself: a latest-policy message, not a
/// frame (a POD type that travels inline in the ring, a dict, a ROS 2 Twist). It so skips the
/// hand-over to the writer thread: one wake-up less on a command's path. Whether a sample lands
/// directly depends only on its topic's type and policy, so a topic's order is kept. A latest
/// topic never waits on its ring, and waits at most 10 ms for a slot (a dict over 104 bytes).
fn lands_directly(a: &Arrived) -> bool {
    let h = &a.header;
    match &a.ros {
        Some(r) => r.ros_type == crate::ros2::TWIST,
        None => {
            !h.reliable
                && match h.form {
                    Some(Form::Dict) => true,
                    Some(Form::Pod) => h.msg_size > 0 && h.msg_size as usize <= tensorbus::raw::INLINE_MAX,
                    _ => false,
                }
        }
    }
}

/// How long a latest-policy topic's publisher here waits for a pool slot before the message is
/// dropped (and counted): it would rather drop than hold up what comes next.
const LATEST_WAIT: Duration = Duration::from_millis(10);

impl Importer {
    /// The subscriber's callback: check, then land or queue (or count the drop).
    pub fn on_sample(&self, s: &Sample, scope: &str, me: &[u8; 16]) {
        let (opts, shared) = (&self.opts, &*self.shared);
        let key = s.key_expr().as_str();
        let topic = match wire::topic_of(scope, key) {
            Ok(t) => t,
            Err(e) => return shared.malformed(key, &e.to_string()),
        };
        if !opts.imports(&topic) {
            return;
        }
        let header = match s.attachment().ok_or(wire::WireError::NoAttachment).and_then(|a| Header::decode(&a.to_bytes())) {
            Ok(h) => h,
            Err(e) => return shared.malformed(key, &e.to_string()),
        };
        if &header.origin == me {
            return; // our own sample (Zenoh does not route it back, but be sure)
        }
        if let Err(e) = header.check_len(s.payload().len()) {
            return shared.malformed(key, &e.to_string());
        }
        self.arrived(Arrived { topic, header, data: s.payload().clone(), ros: None, skipped: 0 });
    }

    /// A ROS 2 subscriber's callback (rmw_zenoh's attachment; the CDR is decoded when it lands).
    pub fn on_ros_sample(&self, s: &Sample, topic: &str, ros: &Arc<RosIn>) {
        let shared = &*self.shared;
        let key = s.key_expr().as_str();
        let (seq, _ts, gid) = match s.attachment().map(|a| crate::ros2::parse_attachment(&a.to_bytes())) {
            Some(Ok(a)) => a,
            Some(Err(e)) => return shared.malformed(key, &e),
            None => return shared.malformed(key, "no attachment (rmw_zenoh sends one with every sample)"),
        };
        let header = Header { bridge_seq: seq.max(0) as u64, origin: gid, raw_len: s.payload().len() as u64, ..Header::default() };
        self.arrived(Arrived { topic: topic.to_string(), header, data: s.payload().clone(), ros: Some(ros.clone()), skipped: 0 });
    }

    fn arrived(&self, a: Arrived) {
        if lands_directly(&a) {
            self.land(a);
        } else {
            self.inbox.push(a, &self.opts, &self.shared);
        }
    }

    pub fn run(&self, stop: &AtomicBool) {
        // Relaxed: a stop flag (the inbox is closed too, which ends the wait).
        while !stop.load(Ordering::Relaxed) {
            if let Some(a) = self.inbox.next(Duration::from_millis(100)) {
                self.land(a);
            }
        }
    }

    /// Land one sample and count what became of it.
    fn land(&self, a: Arrived) {
        let name = a.topic.clone();
        {
            match self.write(a) {
                Ok(n) => self.shared.topic(&name, "in", |t| {
                    t.messages += 1;
                    t.bytes += n;
                }),
                Err(Refusal::Malformed(e)) => self.shared.malformed(&name, &e),
                Err(Refusal::Dropped(e)) => {
                    self.shared.topic(&name, "in", |t| t.dropped += 1);
                    self.shared.warn_once(&format!("{name} (in)"), &e);
                }
            }
        }
    }

    /// The topic `name`, opened with `open` the first time.
    fn topic(&self, name: &str, open: impl FnOnce() -> Result<InTopic, Refusal>) -> Result<Arc<Mutex<InTopic>>, Refusal> {
        let mut m = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = m.get(name) {
            return Ok(t.clone());
        }
        let t = Arc::new(Mutex::new(open()?));
        m.insert(name.to_string(), t.clone());
        Ok(t)
    }

    /// Check, land and publish one sample. Everything about the sample is checked before its
    /// topic is opened here, so a malformed sample creates nothing.
    fn write(&self, a: Arrived) -> Result<u64, Refusal> {
        if let Some(ros) = a.ros.clone() {
            return self.write_ros(a, &ros);
        }
        let h = &a.header;
        let form = h.form.ok_or_else(|| Refusal::malformed("no form"))?;
        // POD and dict bodies are small: decompressed (and dicts checked) up front.
        let body = match form {
            Form::Payload => {
                check_payload(h).map_err(Refusal::Malformed)?;
                None
            }
            Form::Pod => Some(h.decompress(&a.data.to_bytes()).map_err(Refusal::malformed)?),
            Form::Dict => {
                let b = h.decompress(&a.data.to_bytes()).map_err(Refusal::malformed)?;
                wire::check_dict(&b).map_err(Refusal::Malformed)?;
                Some(b)
            }
        };
        let t = self.topic(&a.topic, || {
            let ty = match form {
                Form::Payload => {
                    let k = PayloadKind::from_code(h.kind).ok_or_else(|| Refusal::malformed(format!("unknown payload kind {}", h.kind)))?;
                    let name = if h.type_name.is_empty() { default_type_name(k).map_err(Refusal::Malformed)?.to_string() } else { h.type_name.clone() };
                    TopicType { name, hash: 0, size: 0 }
                }
                Form::Pod => TopicType { name: h.type_name.clone(), hash: h.type_hash, size: h.msg_size },
                Form::Dict => TopicType { name: if h.type_name.is_empty() { tensorbus::raw::DICT_TYPE.into() } else { h.type_name.clone() }, hash: 0, size: 0 },
            };
            let depth = if h.depth == 0 { tensorbus_pool::ring::DEFAULT_DEPTH } else { h.depth.min(tensorbus_pool::ring::MAX_DEPTH) };
            let config = TopicConfig { depth, policy: if h.reliable { Policy::Reliable } else { Policy::Latest }, ..TopicConfig::default() };
            let mut publisher = RawPublisher::open(&self.ns, &a.topic, ty, config).map_err(Refusal::dropped)?;
            publisher.mark_bridged();
            publisher.set_timeout(if h.reliable { self.opts.block_timeout } else { LATEST_WAIT });
            log::info!("bridge: importing {} from {}", a.topic, Zid(&h.origin));
            Ok(InTopic { publisher, last: HashMap::new(), origins: Vec::new() })
        })?;
        let t = &mut *t.lock().unwrap_or_else(|e| e.into_inner());
        self.count_gaps(&a.topic, t, h, a.skipped);
        match (form, body) {
            (Form::Payload, _) => {
                let chunks: Vec<&[u8]> = a.data.slices().collect();
                let p = payload_from_wire(&self.ns, h, &chunks, self.slot_wait(h))?;
                t.publisher.send_payload(&p).map_err(Refusal::dropped)?;
            }
            (Form::Pod, Some(b)) => {
                t.publisher.send_bytes(&b).map_err(Refusal::dropped)?;
            }
            (_, b) => {
                t.publisher.send_msgpack(&b.unwrap_or_default()).map_err(Refusal::dropped)?;
            }
        }
        Ok(h.raw_len)
    }

    /// ROS 2 mode: decode the CDR into a slot (frames) or a message, and publish it.
    fn write_ros(&self, a: Arrived, ros: &RosIn) -> Result<u64, Refusal> {
        let t = self.topic(&a.topic, || {
            let ty = crate::ros2::topic_type(&ros.tb_type);
            let mut publisher = RawPublisher::open(&self.ns, &a.topic, ty, TopicConfig::default()).map_err(Refusal::dropped)?;
            publisher.mark_bridged();
            publisher.set_timeout(LATEST_WAIT);
            Ok(InTopic { publisher, last: HashMap::new(), origins: Vec::new() })
        })?;
        let t = &mut *t.lock().unwrap_or_else(|e| e.into_inner());
        self.count_gaps(&a.topic, t, &a.header, a.skipped);
        let chunks: Vec<&[u8]> = a.data.slices().collect();
        match crate::ros2::decode(&self.ns, &ros.ros_type, &ros.tb_type, &chunks)? {
            crate::ros2::Incoming::Payload(p) => t.publisher.send_payload(&p).map_err(Refusal::dropped)?,
            crate::ros2::Incoming::Pod(b) => t.publisher.send_bytes(&b).map_err(Refusal::dropped)?,
        };
        Ok(a.data.len() as u64)
    }

    /// Loss accounting: gaps in a sender's numbering, less the `skipped` samples this side's
    /// queue dropped (counted as `dropped` already); a restarted sender (a new origin or GID)
    /// starts a new run, not a loss.
    fn count_gaps(&self, topic: &str, t: &mut InTopic, h: &Header, skipped: u64) {
        if h.bridge_seq == 0 {
            return;
        }
        let last = t.last.insert(h.origin, h.bridge_seq).unwrap_or(0);
        if last > 0 && h.bridge_seq > last + 1 {
            let lost = (h.bridge_seq - last - 1).saturating_sub(skipped);
            if lost > 0 {
                self.shared.topic(topic, "in", |s| s.lost += lost);
            }
        }
        if !t.origins.contains(&h.origin) {
            t.origins.push(h.origin);
            let remote = t.origins.iter().map(|o| Zid(o).to_string()).collect::<Vec<_>>().join(",");
            self.shared.topic(topic, "in", |s| s.remote = remote);
        }
    }

    /// How long a frame may wait for a free slot: a latest topic would rather drop it.
    fn slot_wait(&self, h: &Header) -> Duration {
        if h.reliable {
            self.opts.block_timeout
        } else {
            LATEST_WAIT
        }
    }
}

/// A payload sample landed in a slot loaned from `ns`: the header's kind, dtype, shape and aux
/// are validated as any descriptor's, the bytes (`chunks`: the sample's buffers in order, a
/// large sample arrives in fragments) copied once into place, or decompressed into it. Waits up
/// to `wait` for a free slot.
pub fn payload_from_wire(ns: &Namespace, h: &Header, chunks: &[&[u8]], wait: Duration) -> Result<Payload, Refusal> {
    let (kind, dtype, shape) = check_payload(h).map_err(Refusal::Malformed)?;
    let wire_len: usize = chunks.iter().map(|c| c.len()).sum();
    h.check_len(wire_len).map_err(Refusal::malformed)?;
    let mut m = PayloadMut::new_timeout(ns, kind, dtype, &shape, h.aux, wait).map_err(Refusal::dropped)?;
    if h.compression == wire::Compression::None {
        let out = m.data_mut();
        let mut at = 0;
        for c in chunks {
            out[at..at + c.len()].copy_from_slice(c);
            at += c.len();
        }
    } else {
        let joined;
        let wire: &[u8] = if chunks.len() == 1 {
            chunks[0]
        } else {
            joined = chunks.concat();
            &joined
        };
        h.decompress_into(wire, m.data_mut()).map_err(Refusal::malformed)?;
    }
    m.set_timestamp_ns(h.timestamp_ns);
    m.set_frame_id(&h.frame_id).map_err(Refusal::malformed)?;
    Ok(m.freeze())
}

/// A payload header's kind, dtype and shape, validated as any descriptor's, and its byte size
/// equal to `raw_len`.
fn check_payload(h: &Header) -> Result<(PayloadKind, DType, Vec<usize>), String> {
    let kind = PayloadKind::from_code(h.kind).ok_or_else(|| format!("unknown payload kind {}", h.kind))?;
    let dtype = DType::from_code(h.dtype).ok_or_else(|| format!("unknown dtype {}", h.dtype))?;
    let shape: Vec<usize> = h.shape.iter().map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d}"))).collect::<Result<_, _>>()?;
    let meta = tensorbus_tensor::PayloadMeta::validate(kind, dtype, &shape, h.aux).map_err(|e| e.to_string())?;
    if meta.nbytes() != h.raw_len {
        return Err(format!("shape {shape:?} of {} is {} bytes, the sample {}", dtype.name(), meta.nbytes(), h.raw_len));
    }
    Ok((kind, dtype, shape))
}

/// The type name of a payload topic created by a sample that names none (a plain Zenoh client).
fn default_type_name(k: PayloadKind) -> Result<&'static str, String> {
    match k {
        PayloadKind::Image => Ok("Image"),
        PayloadKind::Depth => Ok("DepthImage"),
        PayloadKind::Points => Ok("PointCloud"),
        PayloadKind::Tensor => Ok("Tensor"),
        PayloadKind::Bytes => Err("payload kind 1 (bytes): send raw bytes as form 2 (POD) instead".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensorbus::cli::bridges::BridgeStatus;

    fn arrived(topic: &str, seq: u64, reliable: bool, depth: u32) -> Arrived {
        let header = Header { form: Some(Form::Dict), bridge_seq: seq, raw_len: 1, reliable, depth, ..Header::default() };
        Arrived { topic: topic.into(), header, data: ZBytes::from(vec![seq as u8]), ros: None, skipped: 0 }
    }

    /// A namespace of the test's own (`tag` unique per test: the tests of this binary run at once,
    /// and a shared tag let one test's guard delete the other's directory while it opened it).
    fn shared(tag: &str) -> (tensorbus_testkit::TempNs, Shared) {
        let t = tensorbus_testkit::TempNs::new(tag);
        let ns = t.open();
        let s = Shared::new(&ns, BridgeStatus::default());
        (t, s)
    }

    #[test]
    fn a_slow_writer_keeps_the_newest_and_counts_the_rest() {
        let (_t, sh) = shared("inbox-slow");
        let inbox = Inbox::new();
        let opts = BridgeOptions { queue: Some(3), ..Default::default() };
        for seq in 1..=10 {
            inbox.push(arrived("cam", seq, false, 4), &opts, &sh);
            inbox.push(arrived("imu", seq, false, 4), &opts, &sh);
        }
        // Bounded: 3 per topic, the newest, taken round robin.
        let got: Vec<(String, u64, u64)> = std::iter::from_fn(|| inbox.next(Duration::ZERO)).map(|a| (a.topic, a.header.bridge_seq, a.skipped)).collect();
        // The first one taken carries the 7 dropped before it (a gap that is not a loss).
        let want: Vec<(String, u64, u64)> =
            (8..=10).flat_map(|s| [("cam".to_string(), s, if s == 8 { 7 } else { 0 }), ("imu".to_string(), s, if s == 8 { 7 } else { 0 })]).collect();
        assert_eq!(got, want);
        let r = sh.snapshot();
        assert!(r.topics.iter().all(|t| t.dropped == 7), "{r:#?}");
        // Default: the topic's depth.
        for seq in 1..=10 {
            inbox.push(arrived("d", seq, false, 4), &BridgeOptions::default(), &sh);
        }
        assert_eq!(std::iter::from_fn(|| inbox.next(Duration::ZERO)).count(), 4);
    }

    #[test]
    fn a_reliable_topic_waits_for_room_then_drops() {
        let (_t, sh) = shared("inbox-reliable");
        let inbox = Inbox::new();
        let opts = BridgeOptions { block_timeout: Duration::from_millis(50), ..Default::default() };
        for seq in 1..=RELIABLE_QUEUE as u64 {
            inbox.push(arrived("r", seq, true, 4), &opts, &sh);
        }
        // Full: the next push waits block_timeout, then drops the oldest.
        let t0 = Instant::now();
        inbox.push(arrived("r", 1000, true, 4), &opts, &sh);
        assert!(t0.elapsed() >= Duration::from_millis(50));
        assert_eq!(sh.snapshot().topics[0].dropped, 1);
        // With a reader taking one, a waiting push goes through without a drop.
        let inbox2 = inbox.clone();
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            inbox2.next(Duration::ZERO).map(|a| a.header.bridge_seq)
        });
        let opts = BridgeOptions { block_timeout: Duration::from_secs(5), ..Default::default() };
        inbox.push(arrived("r", 1001, true, 4), &opts, &sh);
        assert_eq!(reader.join().unwrap(), Some(2));
        assert_eq!(sh.snapshot().topics[0].dropped, 1);
    }
}
