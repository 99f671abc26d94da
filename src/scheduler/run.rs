//! The [`Scheduler`] itself: its settings, the nodes added to it, their statistics, and
//! [`Scheduler::run`], which spreads the nodes over threads (one [`Group`] on the calling
//! thread, one per `compute` node, and the live statistics thread) and waits for them.
//!
//! Everything takes `&self`: share the scheduler (`Arc<Scheduler>`) and read
//! [`Scheduler::node_stats`] or call [`Scheduler::stop`] from other threads while one thread
//! is inside `run`. The node list is locked for the whole run (so `add` while running is
//! [`SchedulerError::AlreadyRunning`]); the statistics cells are listed apart so readers never
//! wait for a run.

use super::group::{Entry, Group};
use super::live::{self, StatsTarget, STATS_PERIOD};
use super::stats::Stats;
use crate::node::{Node, NodeConfig, NodeStats};
use crate::raw::RawPublisher;
use crate::stop::StopHandle;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};
use tensorbus_pool::Namespace;

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
    #[error("node {name:?}: {count} triggers, an event node watches at most {limit}")]
    TooManyTriggers { name: String, count: usize, limit: usize },
}

/// Runs nodes at fixed rates. See the [module docs](crate::scheduler).
pub struct Scheduler {
    tick_rate_hz: f64,
    nodes: Mutex<Vec<Entry>>,
    stats: Mutex<Vec<(String, Stats)>>,
    stop: StopHandle,
    spin_window: Mutex<Duration>,
    stats_ns: Mutex<StatsTarget>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scheduler(tick_rate {} Hz, nodes {:?})", self.tick_rate_hz, self.node_names())
    }
}

/// Lock a settings mutex, taking a poisoned one over.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Lock the node list unless a run holds it.
fn try_lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, SchedulerError> {
    match m.try_lock() {
        Ok(g) => Ok(g),
        Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        Err(TryLockError::WouldBlock) => Err(SchedulerError::AlreadyRunning),
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
        *lock(&self.stats_ns) = StatsTarget::Namespace(ns);
    }

    /// Turn the live statistics off (or back on, into the default namespace).
    pub fn set_publish_stats(&self, on: bool) {
        *lock(&self.stats_ns) = if on { StatsTarget::Default } else { StatsTarget::Off };
    }

    pub fn tick_rate_hz(&self) -> f64 {
        self.tick_rate_hz
    }

    /// How long before a release the loop stops sleeping and spins (default 100 µs; zero:
    /// never spin, lowest CPU, ~60 µs later wake-ups); also how long event nodes' waits spin
    /// before sleeping while messages keep coming (spin-then-sleep, see `tensorbus_pool::WaitSet`).
    pub fn set_spin_window(&self, w: Duration) {
        *lock(&self.spin_window) = w;
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
        let mut stats = lock(&self.stats);
        if stats.iter().any(|(n, _)| *n == name) {
            return Err(SchedulerError::DuplicateName(name));
        }
        if config.triggers.len() > tensorbus_pool::ring::MAX_WATCHED {
            return Err(SchedulerError::TooManyTriggers { name, count: config.triggers.len(), limit: tensorbus_pool::ring::MAX_WATCHED });
        }
        let s = Stats::new(config.triggers.iter().map(|t| t.topic().name().to_string()).collect());
        stats.push((name, s.clone()));
        nodes.push(Entry { node, config, stats: s });
        Ok(())
    }

    /// Names of the nodes, in the order they were added.
    pub fn node_names(&self) -> Vec<String> {
        lock(&self.stats).iter().map(|(n, _)| n.clone()).collect()
    }

    /// A node's statistics (also while running), or None for an unknown name.
    pub fn node_stats(&self, name: &str) -> Option<NodeStats> {
        let s = lock(&self.stats).iter().find(|(n, _)| n == name)?.1.clone();
        Some(s.snapshot(name))
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

    /// Publish one live statistics record of the nodes in `rates`.
    fn publish_stats(&self, p: &RawPublisher, rates: &[(String, f64)], running: bool, logged: &mut bool) {
        let stats: Vec<NodeStats> = rates.iter().filter_map(|(n, _)| self.node_stats(n)).collect();
        live::publish(p, &stats, rates, running, logged);
    }

    /// As [`Scheduler::run`], calling `keep_going` on the calling thread about every 20 ms;
    /// returning false stops the scheduler (a binding checks for pending signals here).
    pub fn run_with(&self, duration: Option<Duration>, keep_going: &mut dyn FnMut() -> bool) -> Result<(), SchedulerError> {
        let mut nodes = try_lock(&self.nodes)?;
        self.stop.reset();
        let start = Instant::now();
        let end = duration.map(|d| start + d);
        let spin = *lock(&self.spin_window);
        let default_rate = self.tick_rate_hz;
        // The target rate of the live statistics (0 for an event node: it has none).
        let rates: Vec<(String, f64)> =
            nodes.iter().map(|e| (e.node.name().to_string(), if e.config.is_event() { 0.0 } else { e.config.rate_hz.unwrap_or(default_rate) })).collect();
        let stats_pub = live::stats_publisher(&lock(&self.stats_ns));
        let done = AtomicBool::new(false);
        let (compute, main): (Vec<&mut Entry>, Vec<&mut Entry>) = nodes.iter_mut().partition(|e| e.config.compute);
        let stop = &self.stop;
        let workers_left = AtomicUsize::new(compute.len());
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
                        // Relaxed: a counter polled below; the scope's join publishes the rest.
                        workers_left.fetch_sub(1, Ordering::Relaxed);
                    })
                    .expect("spawn a compute node thread");
            }
            let mut group = Group::new(main, default_rate, spin, stop.clone(), end);
            group.run(&mut *keep_going);
            // The main group is done (stop, end, or all its nodes stopped); wait for workers
            // while still polling keep_going so a signal can end them.
            // Relaxed: see the fetch_sub above.
            while workers_left.load(Ordering::Relaxed) > 0 && !stop.is_stopped() && end.is_none_or(|e| Instant::now() < e) {
                if !keep_going() {
                    stop.stop();
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            // Stop the statistics thread; its final record says the scheduler stopped.
            // Relaxed: a stop flag (see its load).
            done.store(true, Ordering::Relaxed);
        });
        Ok(())
    }
}
