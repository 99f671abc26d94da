//! Nodes: the [`Node`] trait the [`crate::Scheduler`] drives, its per-node [`NodeConfig`], the
//! [`Context`] a tick sees, and the [`NodeStats`] the scheduler keeps.
//!
//! A node's life: `init` once when the scheduler starts, `tick` at its rate (or, for an event
//! node, [`NodeConfig::on`], whenever one of its triggers has new messages), `shutdown` once
//! when the scheduler stops (or the node is stopped by its miss/error policy). All three run
//! on the thread that ticks the node. A binding implements `Node` for a struct holding a
//! foreign callable (Python takes the GIL inside `tick`); the scheduler itself knows nothing
//! of the binding.

use crate::stop::StopHandle;
use std::cell::Cell;
use std::time::{Duration, Instant};
use tensorbus_pool::Trigger;

/// The error a node callback returns (its message is logged and kept in the stats).
pub type NodeError = Box<dyn std::error::Error + Send + Sync>;
/// Result of a node callback.
pub type NodeResult = Result<(), NodeError>;

/// A unit of work the scheduler runs at a rate.
pub trait Node: Send {
    /// Unique name within a scheduler.
    fn name(&self) -> &str;
    /// Called once before the first tick. An error stops the node (no tick, no shutdown).
    fn init(&mut self, _ctx: &mut Context) -> NodeResult {
        Ok(())
    }
    /// One period's work. An error is counted and logged; the node goes on unless
    /// [`NodeConfig::stop_on_error`] is set.
    fn tick(&mut self, ctx: &mut Context) -> NodeResult;
    /// Called once when the node stops (scheduler stop, Ctrl-C, duration over, stop policy).
    fn shutdown(&mut self, _ctx: &mut Context) -> NodeResult {
        Ok(())
    }
}

/// What to do when a tick misses its deadline or budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnMiss {
    /// Count it, log it (rate-limited) and keep the schedule: late periods run back to back
    /// to hold the average rate (resynchronized when more than 10 periods behind).
    #[default]
    Warn,
    /// Count it and skip the periods that were missed: the next tick is the next release
    /// time still in the future.
    Skip,
    /// Count it and stop the node (its shutdown runs).
    Stop,
}

impl std::str::FromStr for OnMiss {
    type Err = String;
    fn from_str(s: &str) -> Result<OnMiss, String> {
        match s {
            "warn" => Ok(OnMiss::Warn),
            "skip" => Ok(OnMiss::Skip),
            "stop" => Ok(OnMiss::Stop),
            other => Err(format!("on_miss must be \"warn\", \"skip\" or \"stop\", not {other:?}")),
        }
    }
}

/// How the scheduler runs one node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeConfig {
    /// Ticks per second; None: the scheduler's `tick_rate_hz`. `f64::INFINITY`: as fast as
    /// possible (no deadline misses).
    pub rate_hz: Option<f64>,
    /// A tick that takes longer than this is a budget miss.
    pub budget: Option<Duration>,
    /// A tick that finishes later than this after its release time is a deadline miss
    /// (default: one period, i.e. the tick ran into the next period).
    pub deadline: Option<Duration>,
    /// Policy on a deadline or budget miss.
    pub on_miss: OnMiss,
    /// Run on its own worker thread, so a slow tick does not delay other nodes.
    pub compute: bool,
    /// Stop the node at the first tick error (default: count, log, go on).
    pub stop_on_error: bool,
    /// Event node: tick when any of these has new messages (no rate; `deadline`, if set,
    /// counts from the arrival of the message that woke it). Empty: a rate node.
    pub triggers: Vec<Trigger>,
}

impl NodeConfig {
    /// A config at `hz` ticks per second.
    pub fn rate(hz: f64) -> NodeConfig {
        NodeConfig { rate_hz: Some(hz), ..Default::default() }
    }
    pub fn budget(mut self, b: Duration) -> Self {
        self.budget = Some(b);
        self
    }
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = Some(d);
        self
    }
    pub fn on_miss(mut self, p: OnMiss) -> Self {
        self.on_miss = p;
        self
    }
    pub fn compute(mut self, c: bool) -> Self {
        self.compute = c;
        self
    }
    pub fn stop_on_error(mut self, s: bool) -> Self {
        self.stop_on_error = s;
        self
    }
    /// An event node: it ticks whenever one of `triggers` ([`crate::Subscriber::trigger`],
    /// [`crate::RawSubscriber::trigger`], [`tensorbus_pool::Topic::trigger`]) has messages it
    /// has not seen; [`Context::ready`] says which. Messages it leaves unread do not wake it
    /// again; a newer one does.
    ///
    /// ```
    /// use tensorbus::{node_fn, NodeConfig, Scheduler, Subscriber, msgs::CmdVel};
    /// # let dir = std::env::temp_dir().join(format!("tb-doc-on-{}", std::process::id()));
    /// # std::env::set_var("TENSORBUS_SHM_DIR", &dir);
    /// let ns = tensorbus::Namespace::open(Some("doc_on")).unwrap();
    /// let mut sub: Subscriber<CmdVel> = Subscriber::new(&ns, "cmd_vel").unwrap();
    /// let config = NodeConfig::on([sub.trigger().unwrap()]);
    /// let sched = Scheduler::new(100.0);
    /// sched.add(node_fn("drive", move |_ctx| { while let Some(_cmd) = sub.try_recv()? {} Ok(()) }), config).unwrap();
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn on(triggers: impl IntoIterator<Item = Trigger>) -> NodeConfig {
        NodeConfig { triggers: triggers.into_iter().collect(), ..Default::default() }
    }
    /// Add a trigger (making this an event node).
    pub fn and_on(mut self, trigger: Trigger) -> Self {
        self.triggers.push(trigger);
        self
    }
    /// True for an event node.
    pub fn is_event(&self) -> bool {
        !self.triggers.is_empty()
    }
}

/// Statistics of one node, readable while the scheduler runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeStats {
    pub name: String,
    pub total_ticks: u64,
    pub avg_tick: Duration,
    pub max_tick: Duration,
    /// 99th percentile over the last 1024 ticks.
    pub p99_tick: Duration,
    /// Wake latency, median and 99th percentile over the last 1024 ticks, and the largest:
    /// from the moment a tick was due to its start (rate node: its release time; event node:
    /// the arrival of the message that woke it, see [`tensorbus_pool::Event::at`]).
    pub p50_wake: Duration,
    pub p99_wake: Duration,
    pub max_wake: Duration,
    /// An event node's trigger topics (empty for a rate node).
    pub triggers: Vec<String>,
    pub budget_misses: u64,
    pub deadline_misses: u64,
    pub error_count: u64,
    pub last_error: Option<String>,
    /// Measured ticks per second (first to last tick of the current or last run).
    pub actual_rate_hz: f64,
    /// The node is being ticked now.
    pub running: bool,
    /// The node was stopped by its policy, an error, an init failure or `Context::stop_node`.
    pub stopped: bool,
}

thread_local! {
    static BUDGET_END: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Budget left in the current tick (until its budget, or else its deadline, runs out), on the
/// thread running that tick; None outside a tick or when the node has neither.
pub fn budget_remaining() -> Option<Duration> {
    BUDGET_END.with(|c| c.get()).map(|end| end.saturating_duration_since(Instant::now()))
}

pub(crate) fn set_budget_end(end: Option<Instant>) {
    BUDGET_END.with(|c| c.set(end));
}

/// What a node callback sees.
#[derive(Debug)]
pub struct Context {
    pub(crate) name: String,
    pub(crate) ticks: u64,
    pub(crate) release: Instant,
    pub(crate) budget_end: Option<Instant>,
    pub(crate) stop_node: bool,
    pub(crate) stop: StopHandle,
    pub(crate) ready: Vec<usize>,
}

impl Context {
    pub(crate) fn new(name: String, stop: StopHandle) -> Context {
        Context { name, ticks: 0, release: Instant::now(), budget_end: None, stop_node: false, stop, ready: Vec::new() }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Ticks completed before this one.
    pub fn tick_count(&self) -> u64 {
        self.ticks
    }
    /// When this tick was due (an event node: when the message that woke it arrived).
    pub fn release_time(&self) -> Instant {
        self.release
    }
    /// An event node's triggers with new messages at the start of this tick (indices into
    /// [`NodeConfig::triggers`], ascending); empty for a rate node.
    pub fn ready(&self) -> &[usize] {
        &self.ready
    }
    /// Budget left in this tick (see [`budget_remaining`]).
    pub fn budget_remaining(&self) -> Option<Duration> {
        self.budget_end.map(|e| e.saturating_duration_since(Instant::now()))
    }
    /// Stop this node after the current callback (its shutdown runs).
    pub fn stop_node(&mut self) {
        self.stop_node = true;
    }
    /// Stop the whole scheduler.
    pub fn stop_scheduler(&self) {
        self.stop.stop();
    }
}

/// A node from a name and a closure.
pub struct FnNode<F> {
    name: String,
    tick: F,
}

/// A node whose tick is `tick` (no init or shutdown work).
///
/// ```
/// use tensorbus::{node_fn, NodeConfig, Scheduler};
/// let sched = Scheduler::new(100.0);
/// let mut n = 0u64;
/// sched.add(node_fn("count", move |_ctx| { n += 1; Ok(()) }), NodeConfig::rate(1000.0)).unwrap();
/// sched.run(Some(std::time::Duration::from_millis(20))).unwrap();
/// assert!(sched.node_stats("count").unwrap().total_ticks > 0);
/// ```
pub fn node_fn<F: FnMut(&mut Context) -> NodeResult + Send>(name: &str, tick: F) -> FnNode<F> {
    FnNode { name: name.to_string(), tick }
}

impl<F: FnMut(&mut Context) -> NodeResult + Send> Node for FnNode<F> {
    fn name(&self) -> &str {
        &self.name
    }
    fn tick(&mut self, ctx: &mut Context) -> NodeResult {
        (self.tick)(ctx)
    }
}
