//! The recorder: an ordinary subscriber on every chosen topic of a live namespace, writing what it
//! receives into MCAP (`codec.rs` decides each channel's encoding).
//!
//! Two threads. The reader discovers topics (names matching the globs, never tensorbus's own
//! `_tb.*`) every half second, waits on all of them in one [`WaitSet`] (no spin: it sleeps until a
//! send wakes it), and on a wake drains each ready subscriber into a queue; the writer encodes,
//! compresses and writes what the queue holds. So a slow write of a large frame (12 ms for a
//! 1080p frame into the page cache) does not stop the reader from draining a 1 kHz topic whose
//! ring holds 4 ms. It never makes a latest-policy publisher wait (a reliable topic's publishers
//! wait for it as for any subscriber); when it falls behind, the ring's miss counter says how many
//! it lost, and the report (and the file's `tensorbus.recorder` metadata record) carries it.
//!
//! Memory is bounded: the queue holds at most [`QUEUE`] messages, of which at most
//! [`PAYLOADS_IN_FLIGHT`] payloads (each keeps its pool slot until written, so a slow disk never
//! starves the publishers' pool: a payload topic at the limit waits in its own ring, where the
//! ring's policy applies); plus the writer's chunk (`chunk_size`).
//!
//! `log_time` is when the recorder received the message (ns since the Unix epoch, like rosbag2);
//! `publish_time` the frame's `timestamp_ns` (the log time when it has none).

use crate::codec::{encode_tensor, Codec, DictEncoding};
use crate::error::RecordError;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tensorbus::raw::{RawMessage, RawSubscriber};
use tensorbus::{Namespace, TopicType};
use tensorbus_pool::{Interrupter, WaitSet};

/// Messages the reader may queue for the writer.
pub const QUEUE: usize = 4096;
/// Payloads (pool slots) the queue may hold at once.
pub const PAYLOADS_IN_FLIGHT: usize = 4;
use tensorbus_tensor::{DepthImage, Image, PointCloud};

/// How to record.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Topic names or globs (`camera.*`, `?` and `*`); empty: every topic.
    pub topics: Vec<String>,
    /// Chunk compression (default zstd).
    pub compression: Option<mcap::Compression>,
    /// Start a new file when this many message bytes went into the current one.
    pub split_bytes: Option<u64>,
    /// Start a new file after this long.
    pub split_every: Option<Duration>,
    pub dicts: DictEncoding,
    /// Uncompressed bytes per chunk (default 4 MiB).
    pub chunk_size: u64,
    /// Field lists of POD types beyond the standard messages: `(type name, layout hash,
    /// "name:type;...")` (the Python binding passes every `@tb.message` class); others are
    /// recorded as their bytes.
    pub layouts: Vec<(String, u64, String)>,
    /// Images, depth images and point clouds as `foxglove.RawImage` / `foxglove.PointCloud`
    /// (protobuf) instead of `sensor_msgs` (CDR).
    pub foxglove: bool,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            topics: Vec::new(),
            compression: Some(mcap::Compression::Zstd),
            split_bytes: None,
            split_every: None,
            dicts: DictEncoding::Json,
            chunk_size: 4 << 20,
            layouts: Vec::new(),
            foxglove: false,
        }
    }
}

/// What was recorded from one topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicReport {
    pub messages: u64,
    /// Messages the ring overwrote before the recorder read them.
    pub misses: u64,
    /// Messages of a kind the topic's channel cannot hold (an untyped topic that changed kind).
    pub skipped: u64,
    /// Message bytes written (before compression).
    pub bytes: u64,
}

/// A recording so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordReport {
    pub files: Vec<PathBuf>,
    pub topics: BTreeMap<String, TopicReport>,
}

/// A recording in progress; [`Recorder::stop`] finishes it.
pub struct Recorder {
    stop: Arc<AtomicBool>,
    interrupt: Interrupter,
    report: Arc<Mutex<RecordReport>>,
    thread: Option<std::thread::JoinHandle<Result<(), RecordError>>>,
}

impl Recorder {
    /// Start recording `ns` into `path` (split files: `<stem>_1.mcap`, `<stem>_2.mcap`, ...).
    pub fn start(ns: &Namespace, path: impl Into<PathBuf>, opts: RecordOptions) -> Result<Recorder, RecordError> {
        let path = path.into();
        let out = Out::create(&path, &opts)?;
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(RecordReport { files: vec![path.clone()], topics: BTreeMap::new() }));
        let mut ws = WaitSet::new();
        // No spin before sleeping: woken 1000 times a second by a 1 kHz topic, spinning cost the
        // recorder 6 % of a core (bench_record.py).
        ws.set_spin(Duration::ZERO);
        let interrupt = ws.interrupter();
        let (tx, rx) = sync_channel(QUEUE);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let mut writer =
            Writer { ns: ns.clone(), opts: opts.clone(), base: path, out: Some(out), part: 0, topics: Vec::new(), report: report.clone(), in_flight: in_flight.clone() };
        let writer = std::thread::Builder::new().name("tb-record-write".into()).spawn(move || writer.run(rx)).map_err(|e| RecordError::io("the recorder's writer thread", e))?;
        let mut reader = Reader { ns: ns.clone(), opts, topics: Vec::new(), ws, report: report.clone(), tx, in_flight, writer: Some(writer) };
        let s = stop.clone();
        let thread = std::thread::Builder::new().name("tb-record".into()).spawn(move || reader.run(&s)).map_err(|e| RecordError::io("the recorder thread", e))?;
        Ok(Recorder { stop, interrupt, report, thread: Some(thread) })
    }

    /// What has been recorded so far.
    pub fn report(&self) -> RecordReport {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stop, finish the file, and return what was recorded.
    pub fn stop(mut self) -> Result<RecordReport, RecordError> {
        self.finish()?;
        Ok(self.report())
    }

    fn finish(&mut self) -> Result<(), RecordError> {
        // Relaxed: a stop flag; the interrupt ends the recorder's wait to read it.
        self.stop.store(true, Ordering::Relaxed);
        self.interrupt.interrupt();
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| Err(RecordError::Panicked)),
            None => Ok(()),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            log::error!("recorder: {e}");
        }
    }
}

pub use tensorbus::raw::glob;

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The file being written.
struct Out {
    w: mcap::Writer<BufWriter<File>>,
    bytes: u64,
    opened: Instant,
    /// Channel id of each topic in this file.
    channels: BTreeMap<String, u16>,
}

impl Out {
    fn create(path: &Path, opts: &RecordOptions) -> Result<Out, RecordError> {
        let f = File::create(path).map_err(|e| RecordError::io(path.display().to_string(), e))?;
        let w = mcap::WriteOptions::new()
            .compression(opts.compression)
            .chunk_size(Some(opts.chunk_size))
            .profile("")
            .library(concat!("tensorbus-record ", env!("CARGO_PKG_VERSION")))
            .create(BufWriter::with_capacity(1 << 20, f))?;
        Ok(Out { w, bytes: 0, opened: Instant::now(), channels: BTreeMap::new() })
    }

    fn finish(mut self, report: &RecordReport) -> Result<(), RecordError> {
        let mut md = BTreeMap::new();
        for (name, t) in &report.topics {
            md.insert(name.clone(), format!("messages={} misses={} skipped={}", t.messages, t.misses, t.skipped));
        }
        self.w.write_metadata(&mcap::records::Metadata { name: "tensorbus.recorder".into(), metadata: md })?;
        self.w.finish()?;
        Ok(())
    }
}

/// What the reader hands the writer.
enum Job {
    /// A topic to record from now on (its index is its order of arrival).
    Topic(TopicMeta),
    /// A message of topic `topic`, received at `log_time`; `payload`: it holds a slot (counted
    /// in `in_flight` until written).
    Msg { topic: usize, m: RawMessage, log_time: u64, payload: bool },
}

/// A recorded topic's description, the writer's side.
struct TopicMeta {
    name: String,
    ty: TopicType,
    depth: u32,
    reliable: bool,
}

/// A recorded topic, the reader's side.
struct ReadTopic {
    name: String,
    sub: RawSubscriber,
    key: usize,
    misses0: u64,
    /// It carries payloads (learnt from its first message): drained only while fewer than
    /// [`PAYLOADS_IN_FLIGHT`] are queued.
    payloads: bool,
}

struct Reader {
    ns: Namespace,
    opts: RecordOptions,
    topics: Vec<ReadTopic>,
    ws: WaitSet,
    report: Arc<Mutex<RecordReport>>,
    tx: SyncSender<Job>,
    in_flight: Arc<AtomicUsize>,
    writer: Option<std::thread::JoinHandle<Result<(), RecordError>>>,
}

impl Reader {
    fn run(&mut self, stop: &AtomicBool) -> Result<(), RecordError> {
        let mut last_scan: Option<Instant> = None;
        // Payload topics left with unread messages while the queue held its payloads.
        let mut pending: Vec<usize> = Vec::new();
        // Relaxed: see `Recorder::finish`.
        while !stop.load(Ordering::Relaxed) {
            if last_scan.is_none_or(|t| t.elapsed() >= Duration::from_millis(500)) {
                last_scan = Some(Instant::now());
                self.discover();
            }
            for k in std::mem::take(&mut pending) {
                self.drain(k, &mut pending);
            }
            let timeout = if pending.is_empty() { Duration::from_millis(100) } else { Duration::from_millis(1) };
            let ready: Vec<usize> = self.ws.wait(timeout).iter().map(|e| e.key).collect();
            for key in ready {
                if let Some(k) = self.topics.iter().position(|t| t.key == key) {
                    if !pending.contains(&k) {
                        self.drain(k, &mut pending);
                    }
                }
            }
            if self.writer.as_ref().is_some_and(|w| w.is_finished()) {
                break; // the writer failed: its error is the result
            }
        }
        // What arrived before the stop, waiting for the writer where payloads queue up.
        for k in 0..self.topics.len() {
            let t0 = Instant::now();
            loop {
                let mut p = Vec::new();
                self.drain(k, &mut p);
                if p.is_empty() || t0.elapsed() > Duration::from_secs(5) || self.writer.as_ref().is_none_or(|w| w.is_finished()) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let (tx, _) = sync_channel(1);
        drop(std::mem::replace(&mut self.tx, tx)); // the writer sees the end of the queue
        match self.writer.take() {
            Some(w) => w.join().unwrap_or(Err(RecordError::Panicked)),
            None => Ok(()),
        }
    }

    fn wanted(&self, name: &str) -> bool {
        !name.starts_with("_tb.") && (self.opts.topics.is_empty() || self.opts.topics.iter().any(|p| glob(p, name)))
    }

    /// Subscribe to new matching topics.
    fn discover(&mut self) {
        for name in self.ns.topic_names() {
            if !self.wanted(&name) || self.topics.iter().any(|t| t.name == name) {
                continue;
            }
            let (sub, key) = match tensorbus::raw::watch(&self.ns, &name, &mut self.ws) {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("recorder: topic {name} not recorded: {e}");
                    continue;
                }
            };
            let ty = sub.topic_type().clone();
            let (depth, reliable) = (sub.topic().depth(), sub.topic().policy() == tensorbus::Policy::Reliable);
            if self.tx.send(Job::Topic(TopicMeta { name: name.clone(), ty, depth, reliable })).is_err() {
                return; // the writer is gone
            }
            let misses0 = sub.misses();
            self.topics.push(ReadTopic { name, sub, key, misses0, payloads: false });
        }
    }

    /// Queue the unread messages of topic `k`; a payload topic stops at the in-flight limit
    /// (noted in `pending`, settled so that its unread messages do not wake the wait again).
    fn drain(&mut self, k: usize, pending: &mut Vec<usize>) {
        loop {
            let t = &mut self.topics[k];
            // Acquire: pairs with the writer's Release decrement (the slot is released).
            if t.payloads && self.in_flight.load(Ordering::Acquire) >= PAYLOADS_IN_FLIGHT {
                self.ws.settle(t.key);
                pending.push(k);
                break;
            }
            let m = match t.sub.try_recv() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    log::warn!("recorder: topic {}: {e}", t.name);
                    break;
                }
            };
            let payload = m.is_payload();
            t.payloads |= payload;
            if payload {
                // Relaxed: a count the writer decrements (Release) once the slot is written.
                self.in_flight.fetch_add(1, Ordering::Relaxed);
            }
            if self.tx.send(Job::Msg { topic: k, m, log_time: now_ns(), payload }).is_err() {
                return; // the writer is gone
            }
        }
        let t = &self.topics[k];
        let misses = t.sub.misses().saturating_sub(t.misses0);
        self.report.lock().unwrap_or_else(|e| e.into_inner()).topics.entry(t.name.clone()).or_default().misses = misses;
    }
}

/// A recorded topic, the writer's side.
struct WriteTopic {
    meta: TopicMeta,
    codec: Option<Codec>,
    warned: bool,
}

struct Writer {
    ns: Namespace,
    opts: RecordOptions,
    base: PathBuf,
    /// The file being written (taken when the recording ends).
    out: Option<Out>,
    part: u32,
    topics: Vec<WriteTopic>,
    report: Arc<Mutex<RecordReport>>,
    in_flight: Arc<AtomicUsize>,
}

impl Writer {
    fn run(&mut self, rx: Receiver<Job>) -> Result<(), RecordError> {
        let r = self.work(&rx);
        // Release the slots of whatever is still queued (after an error).
        while let Ok(job) = rx.try_recv() {
            if let Job::Msg { payload: true, .. } = job {
                // Release: the slot is dropped; pairs with the reader's Acquire load.
                self.in_flight.fetch_sub(1, Ordering::Release);
            }
        }
        let report = self.report.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let fin = match self.out.take() {
            Some(out) => out.finish(&report),
            None => Ok(()),
        };
        r.and(fin)
    }

    fn work(&mut self, rx: &Receiver<Job>) -> Result<(), RecordError> {
        while let Ok(job) = rx.recv() {
            match job {
                Job::Topic(meta) => self.topics.push(WriteTopic { meta, codec: None, warned: false }),
                Job::Msg { topic, m, log_time, payload } => {
                    let r = self.write(topic, m, log_time);
                    if payload {
                        // Release: the slot is dropped; pairs with the reader's Acquire load.
                        self.in_flight.fetch_sub(1, Ordering::Release);
                    }
                    r?;
                    self.maybe_split()?;
                }
            }
        }
        Ok(())
    }

    fn write(&mut self, k: usize, m: RawMessage, log_time: u64) -> Result<(), RecordError> {
        let Some(out) = self.out.as_mut() else { return Ok(()) };
        let t = &mut self.topics[k];
        let (codec, data, stamp) = match encode(&self.ns, t, m, &self.opts) {
            Some(x) => x,
            None => {
                if !t.warned {
                    t.warned = true;
                    log::warn!("recorder: topic {}: a message of another kind than its first; skipped (counted)", t.meta.name);
                }
                self.report.lock().unwrap_or_else(|e| e.into_inner()).topics.entry(t.meta.name.clone()).or_default().skipped += 1;
                return Ok(());
            }
        };
        if t.codec.is_none() {
            t.codec = Some(codec);
        }
        let channel = match out.channels.get(&t.meta.name) {
            Some(&c) => c,
            None => {
                let c = t.codec.as_ref().expect("set above");
                let schema_id = match c.schema() {
                    Some((name, enc, data)) => out.w.add_schema(&name, enc, &data)?,
                    None => 0,
                };
                let id = out.w.add_channel(schema_id, &t.meta.name, c.message_encoding(), &c.metadata(&t.meta.ty.name, t.meta.depth, t.meta.reliable))?;
                out.channels.insert(t.meta.name.clone(), id);
                id
            }
        };
        let mut rep = self.report.lock().unwrap_or_else(|e| e.into_inner());
        let tr = rep.topics.entry(t.meta.name.clone()).or_default();
        tr.messages += 1;
        tr.bytes += data.len() as u64;
        let seq = tr.messages as u32;
        drop(rep);
        let publish_time = if stamp > 0 { stamp } else { log_time };
        out.w.write_to_known_channel(&mcap::records::MessageHeader { channel_id: channel, sequence: seq, log_time, publish_time }, &data)?;
        out.bytes += data.len() as u64;
        Ok(())
    }

    fn maybe_split(&mut self) -> Result<(), RecordError> {
        let Some(out) = &self.out else { return Ok(()) };
        let by_size = self.opts.split_bytes.is_some_and(|b| out.bytes >= b);
        let by_time = self.opts.split_every.is_some_and(|d| out.opened.elapsed() >= d);
        if !(by_size || by_time) {
            return Ok(());
        }
        self.part += 1;
        let stem = self.base.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "recording".into());
        let next = self.base.with_file_name(format!("{stem}_{}.mcap", self.part));
        let new = Out::create(&next, &self.opts)?;
        let old = self.out.replace(new).expect("checked above");
        let report = {
            let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
            r.files.push(next);
            r.clone()
        };
        old.finish(&report)
    }
}

/// The codec, bytes and stamp of one message for topic `t` (None: it does not fit the codec the
/// topic's channel already has).
fn encode(ns: &Namespace, t: &WriteTopic, m: RawMessage, opts: &RecordOptions) -> Option<(Codec, Vec<u8>, u64)> {
    let codec = if m.is_payload() {
        let p = m.into_payload(ns).ok()?;
        let c = Codec::for_payload(p.kind(), opts.foxglove);
        if t.codec.as_ref().is_some_and(|have| *have != c) {
            return None;
        }
        let stamp = p.timestamp_ns();
        let data = match c {
            Codec::Image => tensorbus_ros2::encode_image(&Image::from_payload(p).ok()?),
            Codec::Depth => tensorbus_ros2::encode_depth(&DepthImage::from_payload(p).ok()?),
            Codec::Points => tensorbus_ros2::encode_points(&PointCloud::from_payload(p).ok()?),
            Codec::FoxgloveImage => crate::foxglove::encode_image(&Image::from_payload(p).ok()?),
            Codec::FoxgloveDepth => crate::foxglove::encode_depth(&DepthImage::from_payload(p).ok()?),
            Codec::FoxglovePoints => crate::foxglove::encode_points(&PointCloud::from_payload(p).ok()?),
            _ => encode_tensor(&p),
        };
        return Some((c, data, stamp));
    } else if m.is_msgpack() {
        Codec::Dict(opts.dicts)
    } else {
        let extra = opts.layouts.iter().find(|(n, h, _)| *n == t.meta.ty.name && *h == t.meta.ty.hash).map(|(_, _, f)| f.as_str());
        Codec::for_pod(&t.meta.ty.name, t.meta.ty.hash, m.bytes().len() as u32, extra)
    };
    if t.codec.as_ref().is_some_and(|have| std::mem::discriminant(have) != std::mem::discriminant(&codec)) {
        return None;
    }
    let codec = t.codec.clone().unwrap_or(codec);
    let data = match &codec {
        Codec::Dict(DictEncoding::Json) => {
            let v = rmpv::decode::read_value(&mut m.bytes()).ok()?;
            serde_json::to_vec(&crate::json::from_msgpack(&v)).ok()?
        }
        Codec::Dict(DictEncoding::Msgpack) => m.bytes().to_vec(),
        Codec::Pod { layout: Some(l), .. } => serde_json::to_vec(&l.to_json(m.bytes())?).ok()?,
        _ => m.bytes().to_vec(),
    };
    Some((codec, data, 0))
}
