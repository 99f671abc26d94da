//! `tensorbus node list` and `tensorbus monitor`: the live statistics every running
//! [`crate::Scheduler`] publishes about once per second on `_tb.nodes.<pid>`.

use super::args::Args;
use super::ctx::Ctx;
use super::error::{CliError, CliResult};
use super::table::{secs, Table};
use crate::scheduler::NODE_STATS_TOPIC_PREFIX;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tensorbus_pool::descriptor::kind;
use tensorbus_pool::{Namespace, TopicOptions};

/// A record older than this is a scheduler that is no longer publishing.
const STALE_S: f64 = 5.0;

/// One node as published (see `scheduler/live.rs`, `NodeReport`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeRow {
    pub name: String,
    pub rate_hz: f64,
    pub target_rate: f64,
    pub ticks: u64,
    pub avg_us: f64,
    pub max_us: f64,
    pub p99_us: f64,
    pub wake_p50_us: f64,
    pub wake_p99_us: f64,
    pub wake_max_us: f64,
    /// An event node's trigger topics (empty: a rate node).
    pub on: Vec<String>,
    pub budget_misses: u64,
    pub deadline_misses: u64,
    pub errors: u64,
    pub last_error: Option<String>,
    pub running: bool,
}

/// One scheduler's newest record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulerRow {
    pub scheduler: u32,
    pub time: f64,
    pub running: bool,
    pub nodes: Vec<NodeRow>,
}

pub(super) fn now_s() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

pub(super) fn pid_alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists (and may be signalled).
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The newest MessagePack record on the status topic `name` (a scheduler's `_tb.nodes.<pid>`, a
/// bridge's `_tb.bridge.<pid>`), if it decodes as a `T`.
pub(super) fn latest_record<T: serde::de::DeserializeOwned>(ns: &Namespace, name: &str) -> Option<T> {
    let topic = ns.topic(name, &TopicOptions::default()).ok()?;
    let m = topic.latest()?;
    let d = m.desc;
    let bytes: Vec<u8> = if d.kind == kind::INLINE {
        m.inline().map(<[u8]>::to_vec).unwrap_or_default()
    } else {
        let h = m.hold.as_ref()?;
        h.as_slice()[..(d.len as usize).min(h.as_slice().len())].to_vec()
    };
    rmp_serde::from_slice(&bytes).ok()
}

/// The newest record of every scheduler in `ns` that is still running, by pid.
pub fn running_schedulers(ns: &Namespace) -> Vec<SchedulerRow> {
    let mut out = Vec::new();
    for name in ns.topic_names() {
        let Some(pid) = name.strip_prefix(NODE_STATS_TOPIC_PREFIX).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if !pid_alive(pid) {
            continue;
        }
        let Some(r) = latest_record::<SchedulerRow>(ns, &name) else { continue };
        if r.running && now_s() - r.time < STALE_S {
            out.push(r);
        }
    }
    out.sort_by_key(|r| r.scheduler);
    out
}

fn table(rows: &[SchedulerRow]) -> String {
    let mut t = Table::new(&[
        "PID",
        "NODE",
        ">RATE",
        ">TARGET",
        ">TICKS",
        ">AVG",
        ">P99",
        ">MAX",
        ">WAKE P50",
        ">WAKE P99",
        ">BUDGET MISS",
        ">DEADLINE MISS",
        ">ERRORS",
        "STATE",
        "LAST ERROR",
    ]);
    for r in rows {
        for n in &r.nodes {
            t.row(vec![
                r.scheduler.to_string(),
                n.name.clone(),
                format!("{:.1} Hz", n.rate_hz),
                if !n.on.is_empty() {
                    format!("on {}", n.on.join(","))
                } else if n.target_rate.is_finite() {
                    format!("{:.1} Hz", n.target_rate)
                } else {
                    "max".into()
                },
                n.ticks.to_string(),
                secs(n.avg_us * 1e-6),
                secs(n.p99_us * 1e-6),
                secs(n.max_us * 1e-6),
                secs(n.wake_p50_us * 1e-6),
                secs(n.wake_p99_us * 1e-6),
                n.budget_misses.to_string(),
                n.deadline_misses.to_string(),
                n.errors.to_string(),
                if n.running { "running".into() } else { "stopped".into() },
                n.last_error.clone().unwrap_or_default().chars().take(60).collect(),
            ]);
        }
    }
    t.render()
}

pub fn list(ctx: &Ctx, mut a: Args) -> CliResult {
    let as_json = a.flag("--json");
    a.finish()?;
    let ns = ctx.open()?;
    let rows = running_schedulers(&ns);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if rows.is_empty() {
        println!("no running schedulers in namespace {:?}", ctx.name());
    } else {
        print!("{}", table(&rows));
    }
    Ok(0)
}

pub fn monitor(ctx: &Ctx, mut a: Args) -> CliResult {
    let count: Option<u64> = a.parsed("--count")?;
    let interval: f64 = a.parsed("--interval")?.unwrap_or(1.0);
    if !(interval.is_finite() && interval > 0.0) {
        return Err(CliError::usage(format!("--interval must be > 0 seconds, got {interval}")));
    }
    a.finish()?;
    let ns = ctx.open()?;
    // SAFETY: isatty only inspects file descriptor 1.
    let tty = unsafe { libc::isatty(1) } == 1;
    crate::stop::stop_on_signals()?;
    let mut n = 0u64;
    while !crate::stop::signalled() {
        use std::io::Write;
        let rows = running_schedulers(&ns);
        let body = if rows.is_empty() { format!("no running schedulers in namespace {:?}\n", ctx.name()) } else { table(&rows) };
        let mut o = std::io::stdout().lock();
        let head = format!("tensorbus monitor  namespace {:?}  {} node(s)  every {interval} s", ctx.name(), rows.iter().map(|r| r.nodes.len()).sum::<usize>());
        let r = if tty { write!(o, "\x1b[2J\x1b[H{head}  (Ctrl-C to quit)\n\n{body}") } else { write!(o, "{head}\n{body}\n") };
        if r.and_then(|_| o.flush()).is_err() {
            break; // stdout closed
        }
        drop(o);
        n += 1;
        if count.is_some_and(|c| n >= c) {
            break;
        }
        let until = std::time::Instant::now() + Duration::from_secs_f64(interval);
        while !crate::stop::signalled() && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(0)
}
