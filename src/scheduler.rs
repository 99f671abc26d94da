//! The slim scheduler: runs [`Node`]s at their own rates, with budgets, deadlines, miss
//! policies and live statistics.
//!
//! Timing: every node has an absolute release time `next`; after a tick `next += period`, so
//! rates do not drift with tick durations. The loop sleeps until the earliest release
//! (`thread::sleep` with 1 ns timer slack, then a final spin of at most the spin window,
//! 100 µs by default, for µs accuracy). Nodes with `compute: true` each get their own thread
//! running the same loop; the others share the thread that called [`Scheduler::run`].
//!
//! Misses: a tick that finishes after `release + deadline` (deadline defaults to one period)
//! is a deadline miss; a tick longer than its budget is a budget miss. [`OnMiss`] decides what
//! follows. Errors from `tick` are counted, logged to stderr (rate-limited) and kept as
//! `last_error`.
//!
//! Live statistics: while `run` is active, a helper thread publishes every node's
//! [`NodeStats`] about once per second as a dict on the topic `_tb.nodes.<pid>` of the
//! scheduler's namespace ([`Scheduler::set_namespace`], else the default one); this is what
//! `tensorbus node list` and `tensorbus monitor` read. A namespace that cannot be opened is
//! logged once and the scheduler runs on without publishing.
//!
//! Everything takes `&self`: share the scheduler (`Arc<Scheduler>`) and read
//! [`Scheduler::node_stats`] or call [`Scheduler::stop`] from other threads while one thread
//! is inside `run`.

use crate::node::{set_budget_end, Context, Node, NodeConfig, NodeStats, OnMiss};
use crate::raw::{RawPublisher, TopicConfig, DICT_TYPE};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tensorbus_pool::{Namespace, TopicType};

/// Stops a running scheduler from any thread (or a node). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    pub fn stop(&self) {
        // Relaxed: a flag polled by the loop; nothing else is published through it.
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed) || SIGNALLED.load(Ordering::Relaxed)
    }
    fn reset(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Async-signal-safe: one atomic store.
    SIGNALLED.store(true, Ordering::Relaxed);
}

/// Make SIGINT and SIGTERM stop every running scheduler of this process cleanly (every
/// node's shutdown runs, `run` returns). Clears an earlier signal.
pub fn stop_on_signals() -> std::io::Result<()> {
    SIGNALLED.store(false, Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs an async-signal-safe handler (a single atomic store); the
        // sigaction struct is fully initialized (zeroed, then handler and mask set).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// True once SIGINT/SIGTERM arrived after [`stop_on_signals`].
pub fn signalled() -> bool {
    SIGNALLED.load(Ordering::Relaxed)
}

/// Scheduler errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchedulerError {
    #[error("a node named {0:?} is already added")]
    DuplicateName(String),
    #[error("node {name:?}: rate must be > 0, got {rate}")]
    BadRate { name: String, rate: String },
    #[error("the scheduler is already running")]
    AlreadyRunning,
}

const SAMPLES: usize = 1024;

#[derive(Default)]
struct StatsInner {
    ticks: u64,
    total_ns: u128,
    max_ns: u64,
    samples: Vec<u64>,
    budget_misses: u64,
    deadline_misses: u64,
    errors: u64,
    last_error: Option<String>,
    first: Option<Instant>,
    last: Option<Instant>,
    running: bool,
    stopped: bool,
}

type Stats = Arc<Mutex<StatsInner>>;

fn lock(s: &Stats) -> std::sync::MutexGuard<'_, StatsInner> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

struct Entry {
    node: Box<dyn Node>,
    config: NodeConfig,
    stats: Stats,
}

/// Runs nodes at fixed rates. See the module docs.
pub struct Scheduler {
    tick_rate_hz: f64,
    nodes: Mutex<Vec<Entry>>,
    stats: Mutex<Vec<(String, Stats)>>,
    stop: StopHandle,
    spin_window: Mutex<Duration>,
    stats_ns: Mutex<StatsTarget>,
}

/// Where the live statistics go.
enum StatsTarget {
    /// The default namespace, opened when `run` starts.
    Default,
    Namespace(Namespace),
    Off,
}

/// Prefix of the topics carrying schedulers' live statistics (`_tb.nodes.<pid>`).
pub const NODE_STATS_TOPIC_PREFIX: &str = "_tb.nodes.";

/// How often the live statistics are published.
const STATS_PERIOD: Duration = Duration::from_secs(1);

/// One node in a published statistics record (field names are the dict keys).
#[derive(serde::Serialize)]
struct NodeReport<'a> {
    name: &'a str,
    rate_hz: f64,
    target_rate: f64,
    ticks: u64,
    avg_us: f64,
    max_us: f64,
    p99_us: f64,
    budget_misses: u64,
    deadline_misses: u64,
    errors: u64,
    last_error: Option<&'a str>,
    running: bool,
}

/// The record published on `_tb.nodes.<pid>`.
#[derive(serde::Serialize)]
struct SchedulerReport<'a> {
    scheduler: u32,
    /// Unix time of this record, seconds.
    time: f64,
    running: bool,
    nodes: Vec<NodeReport<'a>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scheduler(tick_rate {} Hz, nodes {:?})", self.tick_rate_hz, self.node_names())
    }
}

fn period_of(hz: f64) -> Duration {
    if hz.is_infinite() {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(1.0 / hz)
    }
}

impl Scheduler {
    /// A scheduler whose nodes without a rate tick at `tick_rate_hz`.
    pub fn new(tick_rate_hz: f64) -> Scheduler {
        Scheduler {
            tick_rate_hz,
            nodes: Mutex::new(Vec::new()),
            stats: Mutex::new(Vec::new()),
            stop: StopHandle::default(),
            spin_window: Mutex::new(Duration::from_micros(100)),
            stats_ns: Mutex::new(StatsTarget::Default),
        }
    }

    /// Publish the live statistics into `ns` (default: the namespace named by the
    /// environment, opened when `run` starts).
    pub fn set_namespace(&self, ns: Namespace) {
        *self.stats_ns.lock().unwrap_or_else(|e| e.into_inner()) = StatsTarget::Namespace(ns);
    }

    /// Turn the live statistics off (or back on, into the default namespace).
    pub fn set_publish_stats(&self, on: bool) {
        *self.stats_ns.lock().unwrap_or_else(|e| e.into_inner()) = if on { StatsTarget::Default } else { StatsTarget::Off };
    }

    /// The publisher of the live statistics, or None (off, or the namespace failed to open:
    /// logged, never fatal).
    fn stats_publisher(&self) -> Option<RawPublisher> {
        let ns = match &*self.stats_ns.lock().unwrap_or_else(|e| e.into_inner()) {
            StatsTarget::Off => return None,
            StatsTarget::Namespace(ns) => Ok(ns.clone()),
            StatsTarget::Default => Namespace::open(None).map_err(|e| e.to_string()),
        };
        let name = format!("{NODE_STATS_TOPIC_PREFIX}{}", std::process::id());
        let ty = TopicType { name: DICT_TYPE.to_string(), hash: 0, size: 0 };
        match ns.and_then(|ns| RawPublisher::open(&ns, &name, ty, TopicConfig::latest(2)).map_err(|e| e.to_string())) {
            Ok(mut p) => {
                p.set_timeout(Duration::from_millis(50));
                Some(p)
            }
            Err(e) => {
                eprintln!("[tensorbus] scheduler: live node statistics off ({name}: {e})");
                None
            }
        }
    }

    /// Publish one statistics record; errors are logged once per run.
    fn publish_stats(&self, p: &RawPublisher, rates: &[(String, f64)], running: bool, logged: &mut bool) {
        let stats: Vec<NodeStats> = rates.iter().filter_map(|(n, _)| self.node_stats(n)).collect();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let nodes = stats
            .iter()
            .zip(rates)
            .map(|(s, (_, target))| NodeReport {
                name: &s.name,
                rate_hz: s.actual_rate_hz,
                target_rate: *target,
                ticks: s.total_ticks,
                avg_us: us(s.avg_tick),
                max_us: us(s.max_tick),
                p99_us: us(s.p99_tick),
                budget_misses: s.budget_misses,
                deadline_misses: s.deadline_misses,
                errors: s.error_count,
                last_error: s.last_error.as_deref(),
                running: s.running && running,
            })
            .collect();
        let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let report = SchedulerReport { scheduler: std::process::id(), time, running, nodes };
        let r = rmp_serde::to_vec_named(&report).map_err(|e| e.to_string()).and_then(|b| p.send_msgpack(&b).map_err(|e| e.to_string()));
        if let Err(e) = r {
            if !*logged {
                *logged = true;
                eprintln!("[tensorbus] scheduler: could not publish node statistics: {e}");
            }
        }
    }

    pub fn tick_rate_hz(&self) -> f64 {
        self.tick_rate_hz
    }

    /// How long before a release the loop stops sleeping and spins (default 100 µs; zero:
    /// never spin, lowest CPU, ~60 µs later wake-ups).
    pub fn set_spin_window(&self, w: Duration) {
        *self.spin_window.lock().unwrap_or_else(|e| e.into_inner()) = w;
    }

    /// Add a node (not while running).
    pub fn add<N: Node + 'static>(&self, node: N, config: NodeConfig) -> Result<(), SchedulerError> {
        self.add_boxed(Box::new(node), config)
    }

    /// Add a boxed node (how bindings add theirs).
    pub fn add_boxed(&self, node: Box<dyn Node>, config: NodeConfig) -> Result<(), SchedulerError> {
        let name = node.name().to_string();
        let rate = config.rate_hz.unwrap_or(self.tick_rate_hz);
        if rate.is_nan() || rate <= 0.0 {
            return Err(SchedulerError::BadRate { name, rate: rate.to_string() });
        }
        let mut nodes = try_lock(&self.nodes)?;
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        if stats.iter().any(|(n, _)| *n == name) {
            return Err(SchedulerError::DuplicateName(name));
        }
        let s = Stats::default();
        stats.push((name, s.clone()));
        nodes.push(Entry { node, config, stats: s });
        Ok(())
    }

    /// Names of the nodes, in the order they were added.
    pub fn node_names(&self) -> Vec<String> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(n, _)| n.clone()).collect()
    }

    /// A node's statistics (also while running), or None for an unknown name.
    pub fn node_stats(&self, name: &str) -> Option<NodeStats> {
        let s = self.stats.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(n, _)| n == name)?.1.clone();
        let g = lock(&s);
        let p99 = if g.samples.is_empty() {
            0
        } else {
            let mut v = g.samples.clone();
            let k = ((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1;
            *v.select_nth_unstable(k).1
        };
        let actual_rate_hz = match (g.first, g.last) {
            (Some(a), Some(b)) if g.ticks > 1 && b > a => (g.ticks - 1) as f64 / (b - a).as_secs_f64(),
            _ => 0.0,
        };
        Some(NodeStats {
            name: name.to_string(),
            total_ticks: g.ticks,
            avg_tick: Duration::from_nanos(if g.ticks > 0 { (g.total_ns / g.ticks as u128) as u64 } else { 0 }),
            max_tick: Duration::from_nanos(g.max_ns),
            p99_tick: Duration::from_nanos(p99),
            budget_misses: g.budget_misses,
            deadline_misses: g.deadline_misses,
            error_count: g.errors,
            last_error: g.last_error.clone(),
            actual_rate_hz,
            running: g.running,
            stopped: g.stopped,
        })
    }

    /// A handle that stops `run` from another thread or a signal-driven thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Stop a running `run` (every node's shutdown runs before it returns).
    pub fn stop(&self) {
        self.stop.stop();
    }

    /// Run until `duration` passes (None: until stopped or every node has stopped).
    pub fn run(&self, duration: Option<Duration>) -> Result<(), SchedulerError> {
        self.run_with(duration, &mut || true)
    }

    /// As [`Scheduler::run`], calling `keep_going` on the calling thread about every 20 ms;
    /// returning false stops the scheduler (a binding checks for pending signals here).
    pub fn run_with(&self, duration: Option<Duration>, keep_going: &mut dyn FnMut() -> bool) -> Result<(), SchedulerError> {
        let mut nodes = try_lock(&self.nodes)?;
        self.stop.reset();
        let start = Instant::now();
        let end = duration.map(|d| start + d);
        let spin = *self.spin_window.lock().unwrap_or_else(|e| e.into_inner());
        let default_rate = self.tick_rate_hz;
        let rates: Vec<(String, f64)> = nodes.iter().map(|e| (e.node.name().to_string(), e.config.rate_hz.unwrap_or(default_rate))).collect();
        let stats_pub = self.stats_publisher();
        let done = AtomicBool::new(false);
        let (compute, main): (Vec<&mut Entry>, Vec<&mut Entry>) = nodes.iter_mut().partition(|e| e.config.compute);
        let stop = &self.stop;
        let workers_left = std::sync::atomic::AtomicUsize::new(compute.len());
        std::thread::scope(|s| {
            if let Some(p) = &stats_pub {
                let (done, rates) = (&done, &rates);
                std::thread::Builder::new()
                    .name("tb-node-stats".into())
                    .spawn_scoped(s, move || {
                        let mut logged = false;
                        let mut last: Option<Instant> = None;
                        // Relaxed: a stop flag; the final record reads the stats under their locks.
                        while !done.load(Ordering::Relaxed) {
                            if last.is_none_or(|t| t.elapsed() >= STATS_PERIOD) {
                                last = Some(Instant::now());
                                self.publish_stats(p, rates, true, &mut logged);
                            }
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        self.publish_stats(p, rates, false, &mut logged);
                    })
                    .expect("spawn the node statistics thread");
            }
            for e in compute {
                let workers_left = &workers_left;
                let name = format!("tb-{}", e.node.name());
                std::thread::Builder::new()
                    .name(name.chars().take(15).collect())
                    .spawn_scoped(s, move || {
                        Group::new(vec![e], default_rate, spin, stop.clone(), end).run(&mut || true);
                        workers_left.fetch_sub(1, Ordering::Relaxed);
                    })
                    .expect("spawn a compute node thread");
            }
            let mut group = Group::new(main, default_rate, spin, stop.clone(), end);
            group.run(&mut *keep_going);
            // The main group is done (stop, end, or all its nodes stopped); wait for workers
            // while still polling keep_going so a signal can end them.
            while workers_left.load(Ordering::Relaxed) > 0 && !stop.is_stopped() && end.is_none_or(|e| Instant::now() < e) {
                if !keep_going() {
                    stop.stop();
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            // Stop the statistics thread; its final record says the scheduler stopped.
            done.store(true, Ordering::Relaxed);
        });
        Ok(())
    }
}

fn try_lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, SchedulerError> {
    match m.try_lock() {
        Ok(g) => Ok(g),
        Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => Err(SchedulerError::AlreadyRunning),
    }
}

struct Slot<'a> {
    e: &'a mut Entry,
    period: Duration,
    next: Instant,
    active: bool,
    inited: bool,
    ctx: Context,
    warned: u64,
}

struct Group<'a> {
    slots: Vec<Slot<'a>>,
    spin: Duration,
    stop: StopHandle,
    end: Option<Instant>,
}

fn log_limited(count: u64) -> bool {
    count <= 5 || count.is_power_of_two()
}

impl<'a> Group<'a> {
    fn new(entries: Vec<&'a mut Entry>, default_rate: f64, spin: Duration, stop: StopHandle, end: Option<Instant>) -> Group<'a> {
        let now = Instant::now();
        let slots = entries
            .into_iter()
            .map(|e| {
                let period = period_of(e.config.rate_hz.unwrap_or(default_rate));
                let ctx = Context::new(e.node.name().to_string(), stop.clone());
                Slot { e, period, next: now, active: true, inited: false, ctx, warned: 0 }
            })
            .collect();
        Group { slots, spin, stop, end }
    }

    fn run(&mut self, keep_going: &mut dyn FnMut() -> bool) {
        #[cfg(target_os = "linux")]
        // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer slack.
        unsafe {
            libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
        }
        for s in &mut self.slots {
            let mut g = lock(&s.e.stats);
            *g = StatsInner { running: true, ..Default::default() };
            drop(g);
            set_budget_end(None);
            match s.e.node.init(&mut s.ctx) {
                Ok(()) => s.inited = true,
                Err(e) => {
                    eprintln!("[tensorbus] node {}: init failed: {e}; node stopped", s.ctx.name);
                    let mut g = lock(&s.e.stats);
                    g.errors += 1;
                    g.last_error = Some(format!("init: {e}"));
                    g.stopped = true;
                    g.running = false;
                    s.active = false;
                }
            }
        }
        let t0 = Instant::now();
        for s in &mut self.slots {
            s.next = t0;
        }
        let mut last_poll = t0;
        loop {
            let now = Instant::now();
            if self.stop.is_stopped() || self.end.is_some_and(|e| now >= e) {
                break;
            }
            if now.duration_since(last_poll) >= Duration::from_millis(20) {
                last_poll = now;
                if !keep_going() {
                    self.stop.stop();
                    break;
                }
            }
            let Some(earliest) = self.slots.iter().filter(|s| s.active).map(|s| s.next).min() else { break };
            if earliest > now {
                let mut target = earliest.min(now + Duration::from_millis(20));
                if let Some(e) = self.end {
                    target = target.min(e);
                }
                sleep_until(target, self.spin);
                continue;
            }
            for i in 0..self.slots.len() {
                if self.slots[i].active && self.slots[i].next <= Instant::now() {
                    self.tick(i);
                }
            }
        }
        for s in &mut self.slots {
            finish(s);
        }
    }

    fn tick(&mut self, i: usize) {
        let s = &mut self.slots[i];
        let cfg = &s.e.config;
        let release = s.next;
        let deadline_at = match cfg.deadline {
            Some(d) => Some(release + d),
            None if !s.period.is_zero() => Some(release + s.period),
            None => None,
        };
        let start = Instant::now();
        let budget_end = cfg.budget.map(|b| start + b).or(deadline_at);
        s.ctx.release = release;
        s.ctx.budget_end = budget_end;
        set_budget_end(budget_end);
        let node = &mut s.e.node;
        let ctx = &mut s.ctx;
        let r = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| node.tick(ctx))) {
            Ok(r) => r,
            Err(p) => {
                let msg = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into());
                s.ctx.stop_node = true;
                Err(format!("tick panicked: {msg}; node stopped").into())
            }
        };
        let end = Instant::now();
        set_budget_end(None);
        s.ctx.ticks += 1;
        let dur = end - start;
        let deadline_miss = deadline_at.is_some_and(|d| end > d);
        let budget_miss = cfg.budget.is_some_and(|b| dur > b);
        let ns = dur.as_nanos() as u64;
        let errors;
        {
            let mut g = lock(&s.e.stats);
            g.ticks += 1;
            g.total_ns += ns as u128;
            g.max_ns = g.max_ns.max(ns);
            if g.samples.len() < SAMPLES {
                g.samples.push(ns);
            } else {
                let k = (g.ticks % SAMPLES as u64) as usize;
                g.samples[k] = ns;
            }
            g.first.get_or_insert(start);
            g.last = Some(start);
            g.deadline_misses += deadline_miss as u64;
            g.budget_misses += budget_miss as u64;
            if let Err(e) = &r {
                g.errors += 1;
                g.last_error = Some(e.to_string());
            }
            errors = g.errors;
        }
        if let Err(e) = &r {
            if log_limited(errors) {
                eprintln!("[tensorbus] node {}: tick error (#{errors}): {e}", s.ctx.name);
            }
            if cfg.stop_on_error {
                eprintln!("[tensorbus] node {}: stopped after a tick error (stop_on_error)", s.ctx.name);
                s.ctx.stop_node = true;
            }
        }
        // Schedule the next release.
        if s.period.is_zero() {
            s.next = end;
        } else {
            s.next = release + s.period;
            if deadline_miss || budget_miss {
                s.warned += 1;
                match cfg.on_miss {
                    OnMiss::Warn => {
                        if log_limited(s.warned) {
                            let what = if deadline_miss { "deadline" } else { "budget" };
                            eprintln!("[tensorbus] node {}: {what} miss #{} (tick took {dur:?})", s.ctx.name, s.warned);
                        }
                        if end > s.next + s.period * 10 {
                            s.next = end;
                        }
                    }
                    OnMiss::Skip => {
                        if s.next <= end {
                            let behind = (end - s.next).as_nanos() / s.period.as_nanos();
                            s.next += s.period * (behind as u32 + 1);
                        }
                    }
                    OnMiss::Stop => {
                        eprintln!("[tensorbus] node {}: stopped after a miss (on_miss = stop)", s.ctx.name);
                        s.ctx.stop_node = true;
                    }
                }
            }
        }
        if s.ctx.stop_node {
            finish(s);
            lock(&s.e.stats).stopped = true;
        }
    }
}

/// Run the node's shutdown once (if it was initialized) and mark it inactive.
fn finish(s: &mut Slot<'_>) {
    if s.inited {
        s.inited = false;
        set_budget_end(None);
        if let Err(e) = s.e.node.shutdown(&mut s.ctx) {
            eprintln!("[tensorbus] node {}: shutdown failed: {e}", s.ctx.name);
            let mut g = lock(&s.e.stats);
            g.errors += 1;
            g.last_error = Some(format!("shutdown: {e}"));
        }
    }
    s.active = false;
    lock(&s.e.stats).running = false;
}

/// Sleep until `t`: a kernel sleep to within `spin` of it, then a spin.
fn sleep_until(t: Instant, spin: Duration) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        let left = t - now;
        if left > spin {
            std::thread::sleep(left - spin);
            if spin.is_zero() {
                return;
            }
        } else {
            std::hint::spin_loop();
        }
    }
}
