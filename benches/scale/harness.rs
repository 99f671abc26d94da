//! The plumbing of `benches/scale.rs`: timing (medians of repeated batches), peer processes
//! (the bench binary re-executed with `TB_SCALE_PEER`), the namespace's memory on disk, and the
//! rows' output (a markdown table per row, and one JSON file that `benches/scale/plot.py` draws).
//!
//! A row is one growing dimension (subscribers, topics, holders, slots, threads): for each point
//! of it, one figure per series (median with its quartiles), the bytes of the namespace's
//! segments, and the points that could not be measured with the reason (a limit of the crate).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

// ---- timing --------------------------------------------------------------------------------------

/// Median and quartiles of a set of samples (ns per operation, or ops/s).
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub med: f64,
    pub q1: f64,
    pub q3: f64,
    pub n: usize,
}

impl Stat {
    pub fn of(mut v: Vec<f64>) -> Stat {
        assert!(!v.is_empty(), "no samples");
        v.sort_by(f64::total_cmp);
        let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        Stat { med: at(0.5), q1: at(0.25), q3: at(0.75), n: v.len() }
    }
}

/// `batches` batches of `iters` calls of `f` (after a warm-up of one batch): the mean ns per
/// call of each batch, summarized.
pub fn batched(batches: usize, iters: usize, mut f: impl FnMut()) -> Stat {
    for _ in 0..iters {
        f();
    }
    let samples = (0..batches)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    Stat::of(samples)
}

/// ns of one call of `f`.
pub fn time_ns<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_nanos() as f64, r)
}

// ---- namespaces and their memory ----------------------------------------------------------------

/// A fresh namespace directory under /dev/shm (`tb-bench-scale-<tag>-<pid>`), removed on drop.
pub struct BenchDir(pub PathBuf);

impl BenchDir {
    pub fn new(tag: &str) -> BenchDir {
        let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let d = base.join(format!("tb-bench-scale-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        BenchDir(d)
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The namespace's segments: (files, sum of file sizes, bytes allocated). Segments are reserved
/// with `posix_fallocate` on a tmpfs, so allocated bytes are memory taken (resident or swapped),
/// whether or not a page was ever touched.
pub fn ns_memory(dir: &Path) -> (u64, u64, u64) {
    let (mut files, mut len, mut alloc) = (0, 0, 0);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(m) = e.metadata() {
            if m.is_file() {
                files += 1;
                len += m.len();
                alloc += m.blocks() * 512;
            }
        }
    }
    (files, len, alloc)
}

// ---- peer processes -----------------------------------------------------------------------------

/// A peer: this bench binary re-executed with `TB_SCALE_PEER=<role>`, `TB_SCALE_DIR`,
/// `TB_SCALE_ARG` and `TB_SCALE_CLASSES`; it talks over its stdin/stdout, one line at a time.
/// Killed (SIGKILL) and waited for when dropped.
pub struct Peer {
    child: Child,
    out: BufReader<ChildStdout>,
    input: ChildStdin,
}

impl Peer {
    pub fn spawn(role: &str, dir: &Path, classes: &str, arg: u64) -> Peer {
        let mut child = Command::new(std::env::current_exe().expect("bench binary"))
            .env("TB_SCALE_PEER", role)
            .env("TB_SCALE_DIR", dir)
            .env("TB_SCALE_CLASSES", classes)
            .env("TB_SCALE_ARG", arg.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn peer");
        let out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let input = child.stdin.take().expect("piped stdin");
        Peer { child, out, input }
    }

    /// The peer's next line (empty if it exited).
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        let _ = self.out.read_line(&mut s);
        s.trim().to_string()
    }

    pub fn say(&mut self, s: &str) {
        let _ = writeln!(self.input, "{s}");
        let _ = self.input.flush();
    }

    /// SIGKILL and wait (so its pid is gone from /proc before anyone judges it).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Spawn `n` peers of `role`, then wait for each one's first line; `Err` with the first line
/// that is not `ready` (a peer that could not set itself up says why).
pub fn spawn_ready(n: usize, role: &str, dir: &Path, classes: &str, arg: u64) -> Result<Vec<Peer>, String> {
    let mut peers: Vec<Peer> = (0..n).map(|_| Peer::spawn(role, dir, classes, arg)).collect();
    for p in &mut peers {
        let l = p.line();
        if l != "ready" {
            return Err(if l.is_empty() { format!("a {role} peer exited before it was ready") } else { l });
        }
    }
    Ok(peers)
}

/// The stdin line of a peer (its driver's command), or None at EOF.
pub fn read_command() -> Option<String> {
    let mut s = String::new();
    match std::io::stdin().read_line(&mut s) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(s.trim().to_string()),
    }
}

/// A peer's answer to its driver, flushed at once.
pub fn answer(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}

// ---- rows ---------------------------------------------------------------------------------------

/// The points of a dimension: the ones asked for up to `limit` (the largest the crate allows),
/// the rest skipped with `why`; when some are skipped, `limit` itself is measured as well so the
/// row goes as far as the limits allow.
pub fn points(asked: &[u64], limit: u64, why: &str, row: &mut Row) -> Vec<u64> {
    let mut out: Vec<u64> = asked.iter().copied().filter(|&x| x <= limit).collect();
    let skipped: Vec<u64> = asked.iter().copied().filter(|&x| x > limit).collect();
    if !skipped.is_empty() && !out.contains(&limit) && limit > 0 {
        out.push(limit);
    }
    for x in skipped {
        row.skip(x, why);
    }
    out
}

pub struct Series {
    pub name: String,
    pub points: Vec<(u64, Stat)>,
}

/// One growing dimension: its series, memory and skipped points.
pub struct Row {
    pub id: &'static str,
    pub title: &'static str,
    pub x_label: &'static str,
    /// "ns" (lower is better) or "ops/s" (higher is better).
    pub unit: &'static str,
    pub series: Vec<Series>,
    pub skipped: Vec<(u64, String)>,
    /// (x, segment files, bytes of the files, bytes allocated).
    pub memory: Vec<(u64, u64, u64, u64)>,
    pub notes: Vec<String>,
}

impl Row {
    pub fn new(id: &'static str, title: &'static str, x_label: &'static str, unit: &'static str) -> Row {
        Row { id, title, x_label, unit, series: Vec::new(), skipped: Vec::new(), memory: Vec::new(), notes: Vec::new() }
    }

    pub fn add(&mut self, series: &str, x: u64, s: Stat) {
        eprintln!("  {:<14} {:<40} x={x:<6} median {}", self.id, series, fmt(s.med, self.unit));
        match self.series.iter_mut().find(|s| s.name == series) {
            Some(se) => se.points.push((x, s)),
            None => self.series.push(Series { name: series.to_string(), points: vec![(x, s)] }),
        }
    }

    pub fn skip(&mut self, x: u64, why: &str) {
        eprintln!("  {:<14} skipped x={x}: {why}", self.id);
        self.skipped.push((x, why.to_string()));
    }

    pub fn mem(&mut self, x: u64, dir: &Path) {
        let (files, len, alloc) = ns_memory(dir);
        self.memory.push((x, files, len, alloc));
    }

    pub fn note(&mut self, n: impl Into<String>) {
        self.notes.push(n.into());
    }

    /// Least-squares slope of ln(median) on ln(x): ~0 flat, ~1 linear, ~2 quadratic.
    pub fn slope(points: &[(u64, Stat)]) -> Option<f64> {
        let p: Vec<(f64, f64)> = points.iter().filter(|(x, s)| *x > 0 && s.med > 0.0).map(|(x, s)| ((*x as f64).ln(), s.med.ln())).collect();
        if p.len() < 2 {
            return None;
        }
        let n = p.len() as f64;
        let (mx, my) = (p.iter().map(|q| q.0).sum::<f64>() / n, p.iter().map(|q| q.1).sum::<f64>() / n);
        let sxx: f64 = p.iter().map(|q| (q.0 - mx).powi(2)).sum();
        (sxx > 0.0).then(|| p.iter().map(|q| (q.0 - mx) * (q.1 - my)).sum::<f64>() / sxx)
    }

    /// The cost each unit of the dimension adds, from the first point to the last (the fixed
    /// part of a cost that grows from a floor does not hide its growth here).
    pub fn marginal(points: &[(u64, Stat)]) -> Option<f64> {
        let (first, last) = (points.first()?, points.last()?);
        (last.0 > first.0).then(|| (last.1.med - first.1.med) / (last.0 - first.0) as f64)
    }

    pub fn markdown(&self) -> String {
        let mut xs: Vec<u64> = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).chain(self.memory.iter().map(|m| m.0)).collect();
        xs.sort();
        xs.dedup();
        let mut o = format!("### {} ({})\n\n| {} |", self.title, self.id, self.x_label);
        for s in &self.series {
            o += &format!(" {} |", s.name);
        }
        o += " segments |\n|---:|";
        o += &"---:|".repeat(self.series.len() + 1);
        o += "\n";
        for x in xs {
            o += &format!("| {x} |");
            for s in &self.series {
                match s.points.iter().find(|p| p.0 == x) {
                    Some((_, st)) => o += &format!(" {} ({}–{}) |", fmt(st.med, self.unit), fmt(st.q1, self.unit), fmt(st.q3, self.unit)),
                    None => o += " – |",
                }
            }
            match self.memory.iter().find(|m| m.0 == x) {
                Some(&(_, files, len, _)) => o += &format!(" {files} files, {} |\n", bytes(len)),
                None => o += " – |\n",
            }
        }
        let slopes: Vec<String> = self
            .series
            .iter()
            .filter_map(|s| Self::slope(&s.points).map(|k| format!("{} {k:.2} / {:.2}", s.name, Self::slope(&s.points[s.points.len() - 2..]).unwrap_or(f64::NAN))))
            .collect();
        o += &format!("\nlog-log slope over all points / the last two (0 flat, 1 linear): {}\n", slopes.join("; "));
        let marg: Vec<String> =
            self.series.iter().filter_map(|s| Self::marginal(&s.points).map(|m| format!("{} {}{}", s.name, if m < 0.0 { "-" } else { "+" }, fmt(m.abs(), self.unit)))).collect();
        o += &format!("\nper unit of {}, first to last point: {}\n", self.x_label, marg.join("; "));
        for (x, why) in &self.skipped {
            o += &format!("\nskipped {} = {x}: {why}\n", self.x_label);
        }
        for n in &self.notes {
            o += &format!("\n{n}\n");
        }
        o
    }

    pub fn json(&self) -> Value {
        let series: Vec<Value> = self
            .series
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "x": s.points.iter().map(|p| p.0).collect::<Vec<_>>(),
                    "med": s.points.iter().map(|p| p.1.med).collect::<Vec<_>>(),
                    "q1": s.points.iter().map(|p| p.1.q1).collect::<Vec<_>>(),
                    "q3": s.points.iter().map(|p| p.1.q3).collect::<Vec<_>>(),
                    "samples": s.points.iter().map(|p| p.1.n).collect::<Vec<_>>(),
                    "slope": Self::slope(&s.points),
                    "tail_slope": Self::slope(&s.points[s.points.len().saturating_sub(2)..]),
                    "marginal": Self::marginal(&s.points),
                })
            })
            .collect();
        json!({
            "id": self.id, "title": self.title, "x_label": self.x_label, "unit": self.unit,
            "series": series,
            "skipped": self.skipped.iter().map(|(x, w)| json!({"x": x, "reason": w})).collect::<Vec<_>>(),
            "memory": self.memory.iter().map(|&(x, f, l, a)| json!({"x": x, "files": f, "bytes": l, "allocated": a})).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }
}

/// A figure with its unit: ns as ns/µs/ms, ops/s as M/s or k/s.
pub fn fmt(v: f64, unit: &str) -> String {
    match unit {
        "ns" if v >= 1e6 => format!("{:.2} ms", v / 1e6),
        "ns" if v >= 1e3 => format!("{:.2} µs", v / 1e3),
        "ns" => format!("{v:.0} ns"),
        _ if v >= 1e6 => format!("{:.2} M/s", v / 1e6),
        _ => format!("{:.0} k/s", v / 1e3),
    }
}

pub fn bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

pub fn machine() -> String {
    let cpu =
        std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{} cores, {}, Linux {}, load {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu.unwrap_or_else(|| "cpu ?".into()),
        kernel.trim(),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}
