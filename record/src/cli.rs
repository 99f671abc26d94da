//! The recorder's commands of the `tensorbus` CLI (added by the `tensorbus-cli` crate through
//! `tensorbus::cli::Command`):
//!
//! ```text
//! tensorbus record -o FILE [TOPICS/globs...] [--compression zstd|lz4|none] [--split 2GiB|10m]
//!                  [--duration S] [--dicts json|msgpack] [--foxglove]
//! tensorbus record info FILE [--json]
//! tensorbus replay FILE [--rate R] [--loop] [--start S] [--end S] [--topics a,b*]
//!                  [--remap FROM:=TO,...] [--restamp]
//! ```

use crate::codec::DictEncoding;
use crate::info::info;
use crate::read::McapFile;
use crate::recorder::{RecordOptions, Recorder};
use crate::replay::{replay, ReplayOptions};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use tensorbus::cli::{Args, CliError, CliResult, Command, Ctx};

/// `tensorbus record` (and `record info`).
pub struct RecordCommand;
/// `tensorbus replay`.
pub struct ReplayCommand;

/// `2GiB`, `500M`, `1024` (bytes).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1u64,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    (n >= 0.0).then_some((n * mult as f64) as u64)
}

/// `10m`, `90s`, `1h`, `2.5` (seconds).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (n, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1.0),
        'm' => (&s[..s.len() - 1], 60.0),
        'h' => (&s[..s.len() - 1], 3600.0),
        _ => (s, 1.0),
    };
    let v: f64 = n.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v * mult))
}

fn err(e: impl std::fmt::Display) -> CliError {
    CliError::new(e.to_string())
}

impl Command for RecordCommand {
    fn name(&self) -> &'static str {
        "record"
    }
    fn usage(&self) -> &'static str {
        "  record -o FILE [TOPICS...] [--compression zstd|lz4|none] [--split 2GiB|10m] [--duration S] [--dicts json|msgpack] [--foxglove]
                                           record topics (names or globs; default all) into MCAP until Ctrl-C
                                           (--foxglove: images and clouds as foxglove.RawImage/PointCloud)
  record info FILE [--json]                what a recording holds: topics, counts, rates, duration, misses"
    }
    fn run(&self, ctx: &Ctx, mut a: Args) -> CliResult {
        let out = a.value("-o")?.or(a.value("--output")?);
        let compression = match a.value("--compression")?.as_deref() {
            None | Some("zstd") => Some(mcap::Compression::Zstd),
            Some("lz4") => Some(mcap::Compression::Lz4),
            Some("none") => None,
            Some(o) => return Err(CliError::usage(format!("--compression must be zstd, lz4 or none, not {o:?}"))),
        };
        let split = a.value("--split")?;
        let duration = a.value("--duration")?.map(|d| parse_duration(&d).ok_or_else(|| CliError::usage(format!("--duration: {d:?} is not a duration")))).transpose()?;
        let dicts = match a.value("--dicts")?.as_deref() {
            None | Some("json") => DictEncoding::Json,
            Some("msgpack") => DictEncoding::Msgpack,
            Some(o) => return Err(CliError::usage(format!("--dicts must be json or msgpack, not {o:?}"))),
        };
        let as_json = a.flag("--json");
        let foxglove = a.flag("--foxglove");
        let mut topics = Vec::new();
        while let Some(p) = a.positional() {
            topics.push(p);
        }
        a.finish()?;
        if topics.first().is_some_and(|t| t == "info") && out.is_none() {
            let file = topics.get(1).ok_or_else(|| CliError::usage("record info: expected FILE"))?;
            return print_info(file, as_json);
        }
        let out = out.ok_or_else(|| CliError::usage("record: expected -o FILE"))?;
        let mut opts = RecordOptions { topics, compression, dicts, foxglove, ..Default::default() };
        if let Some(s) = split {
            match (parse_size(&s), s.trim().chars().last().is_some_and(|c| "smh".contains(c))) {
                (_, true) => opts.split_every = Some(parse_duration(&s).ok_or_else(|| CliError::usage(format!("--split: {s:?}")))?),
                (Some(b), false) if b > 0 => opts.split_bytes = Some(b),
                _ => return Err(CliError::usage(format!("--split takes a size (2GiB) or a duration (10m), not {s:?}"))),
            }
        }
        let ns = ctx.join()?;
        tensorbus::stop_on_signals().map_err(err)?;
        let rec = Recorder::start(&ns, &out, opts).map_err(err)?;
        eprintln!("recording into {out} (Ctrl-C to stop)");
        let t0 = Instant::now();
        while !tensorbus::signalled() && duration.is_none_or(|d| t0.elapsed() < d) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let r = rec.stop().map_err(err)?;
        for (topic, t) in &r.topics {
            println!("{topic}: {} messages, {} missed, {} skipped, {:.1} MB", t.messages, t.misses, t.skipped, t.bytes as f64 / 1e6);
        }
        for f in &r.files {
            println!("wrote {}", f.display());
        }
        Ok(0)
    }
}

fn print_info(file: &str, as_json: bool) -> CliResult {
    let f = McapFile::open(file).map_err(err)?;
    let i = info(&f).map_err(err)?;
    if as_json {
        let topics: Vec<_> = i
            .topics
            .iter()
            .map(|t| serde_json::json!({"topic": t.topic, "schema": t.schema, "encoding": t.message_encoding, "messages": t.messages, "rate_hz": t.rate_hz, "misses": t.misses}))
            .collect();
        let j = serde_json::json!({"file": file, "messages": i.messages, "duration_s": i.duration_s(), "start_ns": i.start_ns, "end_ns": i.end_ns, "chunks": i.chunks, "topics": topics});
        println!("{}", serde_json::to_string_pretty(&j).map_err(err)?);
        return Ok(0);
    }
    println!("{file}: {} messages over {:.2} s in {} chunks", i.messages, i.duration_s(), i.chunks);
    for t in &i.topics {
        let misses = t.misses.map(|m| format!(", {m} missed")).unwrap_or_default();
        println!("  {:<32} {:>8} msgs {:>9.1} Hz  {} ({}){misses}", t.topic, t.messages, t.rate_hz, t.schema, t.message_encoding);
    }
    Ok(0)
}

impl Command for ReplayCommand {
    fn name(&self) -> &'static str {
        "replay"
    }
    fn usage(&self) -> &'static str {
        "  replay FILE [--rate R] [--loop] [--start S] [--end S] [--topics A,B] [--remap FROM:=TO,...] [--restamp]
                                           publish a recording (or a rosbag2 MCAP) at the recorded pace"
    }
    fn run(&self, ctx: &Ctx, mut a: Args) -> CliResult {
        let mut o = ReplayOptions { rate: a.parsed("--rate")?.unwrap_or(1.0), looped: a.flag("--loop"), restamp: a.flag("--restamp"), ..Default::default() };
        let secs = |v: Option<f64>| v.map(Duration::from_secs_f64);
        o.start = secs(a.parsed("--start")?);
        o.end = secs(a.parsed("--end")?);
        if let Some(t) = a.value("--topics")? {
            o.topics = t.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        }
        for r in a.value("--remap")?.iter().flat_map(|r| r.split(',')).filter(|r| !r.trim().is_empty()) {
            let (from, to) = r.split_once(":=").ok_or_else(|| CliError::usage(format!("--remap takes FROM:=TO, not {r:?}")))?;
            o.remap.push((from.trim().to_string(), to.trim().to_string()));
        }
        let file = a.required("FILE")?;
        a.finish()?;
        let ns = ctx.join()?;
        tensorbus::stop_on_signals().map_err(err)?;
        let stop = AtomicBool::new(false);
        let r = std::thread::scope(|s| {
            let h = s.spawn(|| replay(&ns, &file, &o, &stop));
            while !h.is_finished() {
                if tensorbus::signalled() {
                    // Relaxed: a stop flag the replay polls.
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            h.join().unwrap_or(Err(crate::RecordError::Panicked))
        })
        .map_err(err)?;
        for (topic, n) in &r.topics {
            println!("{topic}: {n} messages");
        }
        println!("replayed {} messages ({} skipped)", r.messages, r.skipped);
        Ok(0)
    }
}
