//! Local topics out to Zenoh: an ordinary subscriber on every exported topic (found by glob every
//! 200 ms, as the recorder finds its topics), all on one [`WaitSet`], each message put on
//! the topic's key with its metadata in the attachment (`wire.rs`).
//!
//! - Messages a bridge published here (descriptor flag `FLAG_BRIDGED`) are never sent out again:
//!   two bridges forwarding the same topics both ways do not echo.
//! - Congestion: a latest-policy topic's samples are put with `CongestionControl::Drop` (a
//!   congested link loses whole frames, which the far side counts as gaps in `bridge_seq`); a
//!   reliable topic's with `Block` (the put waits while Zenoh's queue is full, bounded by Zenoh's
//!   `wait_before_close`). POD and dict messages go at a higher priority and `express` (not
//!   batched), so a 1 kHz command topic is not queued behind the fragments of a 1080p frame.
//! - A payload's bytes are handed to Zenoh as a buffer that keeps the pool slot held (no copy on
//!   this side unless compressed): [`SlotBuf`].

use crate::options::BridgeOptions;
use crate::ros2::{self, Outgoing};
use crate::status::Shared;
use crate::wire::{self, Compression, Form, Header};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tensorbus::raw::{RawMessage, RawSubscriber};
use tensorbus::{Namespace, Policy, TopicType};
use tensorbus_pool::WaitSet;
use zenoh::qos::{CongestionControl, Priority};
use zenoh::Wait;

/// How often new local topics are looked for (a topic's messages before its first scan are not
/// sent, except the newest, which a new subscriber receives).
const SCAN: Duration = Duration::from_millis(200);

/// Messages this short are sent uncompressed whatever the topic's setting.
const COMPRESS_MIN: usize = 1024;

struct OutTopic {
    name: String,
    sub: RawSubscriber,
    key: usize,
    ty: TopicType,
    depth: u32,
    reliable: bool,
    compression: Compression,
    publisher: Option<zenoh::pubsub::Publisher<'static>>,
    /// This bridge's counter for the topic (`bridge_seq`).
    seq: u64,
    misses0: u64,
    /// ROS 2 mode: the topic's ROS side.
    ros: Option<RosOut>,
}

/// An exported topic's ROS 2 side: its type, the publisher's GID and liveliness token.
struct RosOut {
    ros_type: String,
    gid: [u8; 16],
    _token: zenoh::liveliness::LivelinessToken,
}

pub(crate) struct Exporter {
    pub ns: Namespace,
    pub opts: BridgeOptions,
    pub session: zenoh::Session,
    pub scope: String,
    pub origin: [u8; 16],
    pub shared: Arc<Shared>,
    pub ws: WaitSet,
    /// The session's Zenoh id as rmw_zenoh writes it (ROS 2 mode's tokens).
    pub zid: String,
    /// Topics that cannot be exported (no ROS 2 mapping): not tried again.
    pub refused: Vec<String>,
}

impl Exporter {
    pub fn run(mut self, stop: &AtomicBool) {
        let mut topics: Vec<OutTopic> = Vec::new();
        let mut last_scan: Option<Instant> = None;
        let mut last_status: Option<Instant> = None;
        // Relaxed: a stop flag; the bridge's interrupter ends the wait to read it.
        while !stop.load(Ordering::Relaxed) {
            if last_scan.is_none_or(|t| t.elapsed() >= SCAN) {
                last_scan = Some(Instant::now());
                self.discover(&mut topics);
            }
            if last_status.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                last_status = Some(Instant::now());
                self.shared.publish_status(&self.session);
            }
            let ready: Vec<usize> = self.ws.wait(Duration::from_millis(100)).iter().map(|e| e.key).collect();
            for key in ready {
                if let Some(t) = topics.iter_mut().find(|t| t.key == key) {
                    self.drain(t);
                }
            }
        }
        for t in &mut topics {
            self.drain(t);
        }
    }

    fn discover(&mut self, topics: &mut Vec<OutTopic>) {
        for name in self.ns.topic_names() {
            if !self.opts.exports(&name) || topics.iter().any(|t| t.name == name) || self.refused.contains(&name) {
                continue;
            }
            let (sub, key) = match tensorbus::raw::watch(&self.ns, &name, &mut self.ws) {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("bridge: topic {name} not exported: {e}");
                    continue;
                }
            };
            let ty = sub.topic_type().clone();
            let (depth, reliable) = (sub.topic().depth(), sub.topic().policy() == Policy::Reliable);
            let misses0 = sub.misses();
            let compression = self.opts.compression_of(&name);
            let mut t = OutTopic { name: name.clone(), sub, key, ty, depth, reliable, compression, publisher: None, seq: 0, misses0, ros: None };
            if self.opts.ros2.is_some() {
                match self.ros_side(&mut t) {
                    Ok(k) => self.shared.topic(&name, "out", |s| s.remote = k),
                    Err(e) => {
                        log::error!("bridge: topic {name} not exported to ROS 2: {e}");
                        self.ws.detach(t.key);
                        self.refused.push(name);
                        continue;
                    }
                }
            } else {
                log::info!("bridge: exporting {name} as {}", wire::key(&self.scope, &name));
                self.shared.topic(&name, "out", |s| s.remote = wire::key(&self.scope, &name));
            }
            topics.push(t);
        }
    }

    fn drain(&self, t: &mut OutTopic) {
        loop {
            let m = match t.sub.try_recv() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    log::warn!("bridge: topic {}: {e}", t.name);
                    break;
                }
            };
            if m.is_bridged() {
                continue; // it came from another host: never back out
            }
            match self.send(t, m) {
                Ok(n) => self.shared.topic(&t.name, "out", |s| {
                    s.messages += 1;
                    s.bytes += n;
                }),
                Err(e) => {
                    self.shared.topic(&t.name, "out", |s| s.dropped += 1);
                    self.shared.warn_once(&t.name, &e);
                }
            }
        }
        let misses = t.sub.misses().saturating_sub(t.misses0);
        self.shared.topic(&t.name, "out", |s| s.misses = misses);
    }

    /// ROS 2 mode: declare the topic's rmw_zenoh publisher and its liveliness token now (the ROS
    /// graph shows it before the first message); returns the data key.
    fn ros_side(&self, t: &mut OutTopic) -> Result<String, String> {
        let r = self.opts.ros2.as_ref().expect("ROS 2 mode");
        let map = r.topics.iter().find(|m| m.export && m.topic == t.name).ok_or("not mapped")?;
        let ros_type = map.ros_type_for(&t.ty.name).map_err(|e| e.to_string())?;
        let hash = ros2::hash_of(&ros_type, r.humble);
        let key = ros2::data_key(r.domain, &map.ros_name, &ros_type, &hash);
        let token = ros2::entity_token(r.domain, &self.zid, self.shared.next_eid(), "MP", &r.node, &map.ros_name, &ros_type, &hash, &ros2::qos(t.reliable, t.depth));
        let p = self
            .session
            .declare_publisher(key.clone())
            .congestion_control(if t.reliable { CongestionControl::Block } else { CongestionControl::Drop })
            .priority(if ros_type == ros2::TWIST { Priority::DataHigh } else { Priority::Data })
            .express(ros_type == ros2::TWIST)
            .allowed_destination(zenoh::sample::Locality::Remote)
            .wait()
            .map_err(|e| format!("declaring the publisher of {key}: {e}"))?;
        let tok = self.session.liveliness().declare_token(token.clone()).wait().map_err(|e| format!("declaring the token {token}: {e}"))?;
        log::info!("bridge: exporting {} to ROS 2 as {} ({ros_type})", t.name, map.ros_name);
        t.publisher = Some(p);
        t.ros = Some(RosOut { ros_type, gid: ros2::gid(&token), _token: tok });
        Ok(key)
    }

    /// ROS 2 mode: one message as CDR with rmw_zenoh's attachment; returns the CDR's size. An
    /// image's pixels are not copied: the sample is the CDR's prefix followed by the slot.
    fn send_ros(&self, t: &mut OutTopic, m: RawMessage) -> Result<u64, String> {
        let ros = t.ros.as_ref().expect("ROS 2 mode");
        let cdr: zenoh::bytes::ZBytes = if m.is_payload() && ros.ros_type == ros2::IMAGE {
            // The CDR up to the pixels, then the slot itself: no copy of the frame here.
            let p = m.into_payload(&self.ns).map_err(|e| e.to_string())?;
            let mut w = zenoh::bytes::ZBytes::writer();
            w.append(tensorbus_ros2::image_prefix(&p).map_err(|e| e.to_string())?.into());
            w.append(crate::slotbuf::SlotBuf::new(p).into_zbytes());
            w.finish()
        } else if m.is_payload() {
            let p = m.into_payload(&self.ns).map_err(|e| e.to_string())?;
            ros2::encode(Outgoing::Payload(&p), &ros.ros_type)?.into()
        } else if m.is_pod() {
            let b = t.sub.pod_bytes(&m).map_err(|e| e.to_string())?;
            ros2::encode(Outgoing::Pod { type_name: &t.ty.name, bytes: b }, &ros.ros_type)?.into()
        } else {
            return Err(format!("a {} message has no ROS 2 mapping", tensorbus::raw::kind_name(m.descriptor())));
        };
        t.seq += 1;
        let att = ros2::attachment(t.seq as i64, ros2::now_ns() as i64, &ros.gid);
        let n = cdr.len() as u64;
        let p = t.publisher.as_ref().expect("declared with the topic");
        p.put(cdr).attachment(att.to_vec()).wait().map_err(|e| format!("put: {e}"))?;
        Ok(n)
    }

    /// Put one message; returns its byte count.
    fn send(&self, t: &mut OutTopic, m: RawMessage) -> Result<u64, String> {
        if t.ros.is_some() {
            return self.send_ros(t, m);
        }
        let mut h = Header {
            type_name: t.ty.name.clone(),
            type_hash: t.ty.hash,
            msg_size: t.ty.size,
            reliable: t.reliable,
            depth: t.depth,
            origin: self.origin,
            sequence: m.sequence(),
            ..Header::default()
        };
        let small;
        let body: zenoh::bytes::ZBytes = if m.is_payload() {
            let p = m.into_payload(&self.ns).map_err(|e| e.to_string())?;
            h.form = Some(Form::Payload);
            h.kind = p.kind().code();
            h.dtype = p.dtype().code();
            h.aux = p.aux();
            h.shape = p.shape().iter().map(|&d| d as u64).collect();
            h.timestamp_ns = p.timestamp_ns();
            h.frame_id = p.frame_id().to_string();
            h.raw_len = p.data().len() as u64;
            small = false;
            if t.compression != Compression::None {
                h.compression = t.compression;
                wire::compress(t.compression, p.data()).into()
            } else {
                crate::slotbuf::SlotBuf::new(p).into_zbytes()
            }
        } else {
            let bytes = if m.is_pod() {
                h.form = Some(Form::Pod);
                t.sub.pod_bytes(&m).map_err(|e| e.to_string())?
            } else if m.is_msgpack() {
                h.form = Some(Form::Dict);
                t.sub.msgpack_bytes(&m).map_err(|e| e.to_string())?
            } else {
                return Err(format!("a message of kind {} cannot be bridged", tensorbus::raw::kind_name(m.descriptor())));
            };
            h.raw_len = bytes.len() as u64;
            small = bytes.len() < COMPRESS_MIN;
            if t.compression != Compression::None && !small {
                h.compression = t.compression;
                wire::compress(t.compression, bytes).into()
            } else {
                bytes.to_vec().into()
            }
        };
        t.seq += 1;
        h.bridge_seq = t.seq;
        let n = h.raw_len;
        if t.publisher.is_none() {
            let key = wire::key(&self.scope, &t.name);
            let p = self
                .session
                .declare_publisher(key.clone())
                .congestion_control(if t.reliable { CongestionControl::Block } else { CongestionControl::Drop })
                .priority(if h.form == Some(Form::Payload) { Priority::Data } else { Priority::DataHigh })
                .express(small)
                .allowed_destination(zenoh::sample::Locality::Remote)
                .wait()
                .map_err(|e| format!("declaring the publisher of {key}: {e}"))?;
            t.publisher = Some(p);
        }
        let p = t.publisher.as_ref().expect("declared above");
        p.put(body).attachment(h.encode()).wait().map_err(|e| format!("put: {e}"))?;
        Ok(n)
    }
}
