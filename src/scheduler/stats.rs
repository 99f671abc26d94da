//! Per-node statistics as the scheduler keeps them: a [`Stats`] cell per node, written by the
//! thread that ticks the node ([`Stats::record`]) and read from any thread
//! ([`Stats::snapshot`], turned into the public [`NodeStats`]).
//!
//! The cell is a mutex around plain counters, taken once per tick by the ticking thread and
//! briefly by readers; a poisoned lock is taken over (the counters stay meaningful).

use crate::node::NodeStats;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Tick durations kept for the percentile (a ring of the most recent ones).
const SAMPLES: usize = 1024;

/// The counters of one node.
#[derive(Default)]
pub(super) struct StatsInner {
    pub(super) ticks: u64,
    total_ns: u128,
    max_ns: u64,
    samples: Vec<u64>,
    /// Wake latencies (due → start, ns), a ring like `samples`.
    wakes: Vec<u64>,
    max_wake_ns: u64,
    budget_misses: u64,
    deadline_misses: u64,
    pub(super) errors: u64,
    pub(super) last_error: Option<String>,
    first: Option<Instant>,
    last: Option<Instant>,
    pub(super) running: bool,
    pub(super) stopped: bool,
    /// An event node's trigger topics (kept across runs).
    pub(super) triggers: Vec<String>,
}

/// One node's statistics, shared by the scheduler (for readers) and the ticking thread.
#[derive(Clone, Default)]
pub(super) struct Stats(Arc<Mutex<StatsInner>>);

/// What one tick did, for [`Stats::record`].
pub(super) struct TickRecord<'a> {
    pub(super) start: Instant,
    /// From when the tick was due (release, or the waking message's arrival) to `start`.
    pub(super) wake: Duration,
    pub(super) duration: Duration,
    pub(super) deadline_miss: bool,
    pub(super) budget_miss: bool,
    pub(super) error: Option<&'a str>,
}

impl Stats {
    pub(super) fn lock(&self) -> MutexGuard<'_, StatsInner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A node's cell (its trigger topics, if it is an event node).
    pub(super) fn new(triggers: Vec<String>) -> Stats {
        Stats(Arc::new(Mutex::new(StatsInner { triggers, ..Default::default() })))
    }

    /// Reset for a new run: zero counters, running.
    pub(super) fn start_run(&self) {
        let mut g = self.lock();
        let triggers = std::mem::take(&mut g.triggers);
        *g = StatsInner { running: true, triggers, ..Default::default() };
    }

    /// Count one tick; returns the node's error count so far.
    pub(super) fn record(&self, t: &TickRecord<'_>) -> u64 {
        let ns = t.duration.as_nanos() as u64;
        let mut g = self.lock();
        g.ticks += 1;
        g.total_ns += ns as u128;
        g.max_ns = g.max_ns.max(ns);
        let g = &mut *g;
        let wake = t.wake.as_nanos().min(u64::MAX as u128) as u64;
        g.max_wake_ns = g.max_wake_ns.max(wake);
        let k = (g.ticks % SAMPLES as u64) as usize;
        for (v, x) in [(&mut g.samples, ns), (&mut g.wakes, wake)] {
            if v.len() < SAMPLES {
                v.push(x);
            } else {
                v[k] = x;
            }
        }
        g.first.get_or_insert(t.start);
        g.last = Some(t.start);
        g.deadline_misses += t.deadline_miss as u64;
        g.budget_misses += t.budget_miss as u64;
        if let Some(e) = t.error {
            g.errors += 1;
            g.last_error = Some(e.to_string());
        }
        g.errors
    }

    /// The public statistics of the node called `name`.
    pub(super) fn snapshot(&self, name: &str) -> NodeStats {
        let g = self.lock();
        let p99 = percentile(&g.samples, 0.99);
        let actual_rate_hz = match (g.first, g.last) {
            (Some(a), Some(b)) if g.ticks > 1 && b > a => (g.ticks - 1) as f64 / (b - a).as_secs_f64(),
            _ => 0.0,
        };
        NodeStats {
            name: name.to_string(),
            total_ticks: g.ticks,
            avg_tick: Duration::from_nanos(if g.ticks > 0 { (g.total_ns / g.ticks as u128) as u64 } else { 0 }),
            max_tick: Duration::from_nanos(g.max_ns),
            p99_tick: Duration::from_nanos(p99),
            p50_wake: Duration::from_nanos(percentile(&g.wakes, 0.5)),
            p99_wake: Duration::from_nanos(percentile(&g.wakes, 0.99)),
            max_wake: Duration::from_nanos(g.max_wake_ns),
            triggers: g.triggers.clone(),
            budget_misses: g.budget_misses,
            deadline_misses: g.deadline_misses,
            error_count: g.errors,
            last_error: g.last_error.clone(),
            actual_rate_hz,
            running: g.running,
            stopped: g.stopped,
        }
    }
}

/// The `q` quantile (nearest rank) of `samples`, 0 when empty.
fn percentile(samples: &[u64], q: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    let mut v = samples.to_vec();
    let k = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    *v.select_nth_unstable(k).1
}
