//! Replay: publish a recording's topics into a namespace at the recorded pace, each frame written
//! into a slot loaned there (one copy, from the file), so subscribers cannot tell a replay from the
//! live stream: same topic types, shapes and (unless re-stamped) timestamps.
//!
//! Pacing follows `log_time`: message `i` is sent at `start + (log_time_i - log_time_0) / rate`
//! (rate 0: as fast as possible), with a kernel sleep to within 200 µs and a spin after it (timer
//! slack set to 1 ns, as the scheduler does). Messages are sent in file order (what a recording
//! made by tensorbus or rosbag2 holds in time order per chunk).

use crate::error::RecordError;
use crate::read::{decode, kind_of, Item, Kind, McapFile};
use crate::recorder::glob;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tensorbus::raw::{RawPublisher, TopicConfig};
use tensorbus::{Namespace, Policy};

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Speed factor (2.0: twice as fast); 0: as fast as possible.
    pub rate: f64,
    /// Start over at the end, until stopped.
    pub looped: bool,
    /// Skip the first `start` of the recording; stop at `end` (both from its first message).
    pub start: Option<Duration>,
    pub end: Option<Duration>,
    /// Topic names or globs to replay (empty: all).
    pub topics: Vec<String>,
    /// `(from, to)`: publish recorded topic `from` as `to`.
    pub remap: Vec<(String, String)>,
    /// Stamp each frame with the time it is replayed instead of its recorded time.
    pub restamp: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions { rate: 1.0, looped: false, start: None, end: None, topics: Vec::new(), remap: Vec::new(), restamp: false }
    }
}

/// What a replay sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub messages: u64,
    /// Messages that did not decode or could not be published (logged once per topic).
    pub skipped: u64,
    /// Per recorded topic: messages sent.
    pub topics: Vec<(String, u64)>,
}

struct Out {
    name: String,
    kind: Kind,
    publisher: Option<RawPublisher>,
    sent: u64,
    warned: bool,
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn sleep_until(t: Instant) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        let left = t - now;
        if left > Duration::from_micros(200) {
            std::thread::sleep(left - Duration::from_micros(200));
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Replay `path` into `ns` until it ends (or, looped, until `stop`).
pub fn replay(ns: &Namespace, path: impl AsRef<Path>, opts: &ReplayOptions, stop: &AtomicBool) -> Result<ReplayReport, RecordError> {
    if !(opts.rate >= 0.0 && opts.rate.is_finite()) {
        return Err(RecordError::Usage(format!("rate must be >= 0, got {}", opts.rate)));
    }
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
    let file = McapFile::open(path)?;
    let fname = file.path.display().to_string();
    let mut outs: HashMap<u16, Out> = HashMap::new();
    let mut report = ReplayReport::default();
    loop {
        let mut t0: Option<(u64, Instant)> = None;
        for m in file.messages()? {
            // Relaxed: a stop flag.
            if stop.load(Ordering::Relaxed) {
                return Ok(finish(report, outs));
            }
            let m = m?;
            let out = outs.entry(m.channel.id).or_insert_with(|| {
                let name = opts.remap.iter().find(|(f, _)| *f == m.channel.topic).map(|(_, t)| t.clone()).unwrap_or_else(|| m.channel.topic.clone());
                let wanted = opts.topics.is_empty() || opts.topics.iter().any(|p| glob(p, &m.channel.topic));
                let kind = if wanted { kind_of(&m.channel) } else { Kind::Unsupported(String::new()) };
                if let Kind::Unsupported(why) = &kind {
                    if wanted {
                        log::warn!("replay: {fname}: topic {} not replayed: {why}", m.channel.topic);
                    }
                }
                Out { name, kind, publisher: None, sent: 0, warned: false }
            });
            if matches!(out.kind, Kind::Unsupported(_)) {
                continue;
            }
            let (first_log, first_at) = *t0.get_or_insert_with(|| (m.log_time, Instant::now()));
            let offset = Duration::from_nanos(m.log_time.saturating_sub(first_log));
            if opts.start.is_some_and(|s| offset < s) {
                continue;
            }
            if opts.end.is_some_and(|e| offset > e) {
                break;
            }
            if opts.rate > 0.0 {
                let since = offset.saturating_sub(opts.start.unwrap_or_default());
                sleep_until(first_at + since.div_f64(opts.rate));
            }
            let stamp = opts.restamp.then(now_ns);
            match decode(ns, &out.kind, &m.data, stamp).and_then(|item| publish(ns, out, &m.channel, item)) {
                Ok(()) => {
                    out.sent += 1;
                    report.messages += 1;
                }
                Err(why) => {
                    report.skipped += 1;
                    if !out.warned {
                        out.warned = true;
                        log::warn!("replay: {fname}: topic {}: {why} (skipped, counted)", m.channel.topic);
                    }
                }
            }
        }
        // Relaxed: a stop flag.
        if !opts.looped || stop.load(Ordering::Relaxed) || report.messages == 0 {
            return Ok(finish(report, outs));
        }
    }
}

fn finish(mut report: ReplayReport, outs: HashMap<u16, Out>) -> ReplayReport {
    let mut t: Vec<(String, u64)> = outs.into_values().filter(|o| o.sent > 0).map(|o| (o.name, o.sent)).collect();
    t.sort();
    report.topics = t;
    report
}

/// Publish `item` on the output topic, opening it (with the recorded type, depth and policy) on
/// first use.
fn publish(ns: &Namespace, out: &mut Out, ch: &mcap::Channel<'_>, item: Item) -> Result<(), String> {
    if out.publisher.is_none() {
        let depth = ch.metadata.get("tensorbus.depth").and_then(|d| d.parse().ok()).unwrap_or(tensorbus_pool::ring::DEFAULT_DEPTH);
        let policy = if ch.metadata.get("tensorbus.policy").is_some_and(|p| p == "reliable") { Policy::Reliable } else { Policy::Latest };
        let p = RawPublisher::open(ns, &out.name, item.topic_type(), TopicConfig { depth, policy, ..TopicConfig::default() }).map_err(|e| e.to_string())?;
        out.publisher = Some(p);
    }
    let p = out.publisher.as_ref().expect("set above");
    let r = match &item {
        Item::Payload(pl) => p.send_payload(pl),
        Item::Pod(_, b) => p.send_bytes(b),
        Item::Dict(b) => p.send_msgpack(b),
    };
    r.map(|_| ()).map_err(|e| e.to_string())
}
