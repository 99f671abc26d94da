//! The slim scheduler: runs [`Node`](crate::Node)s at their own rates, with budgets,
//! deadlines, miss policies and live statistics.
//!
//! Timing: every node has an absolute release time `next`; after a tick `next += period`, so
//! rates do not drift with tick durations. The loop sleeps until the earliest release
//! (`thread::sleep` with 1 ns timer slack, then a final spin of at most the spin window,
//! 100 µs by default, for µs accuracy). Nodes with `compute: true` each get their own thread
//! running the same loop; the others share the thread that called [`Scheduler::run`].
//!
//! Misses: a tick that finishes after `release + deadline` (deadline defaults to one period)
//! is a deadline miss; a tick longer than its budget is a budget miss. [`OnMiss`](crate::OnMiss)
//! decides what follows. Errors from `tick` are counted, logged (rate-limited) and kept as
//! `last_error`.
//!
//! Live statistics: while `run` is active, a helper thread publishes every node's
//! [`NodeStats`](crate::NodeStats) about once per second as a dict on the topic
//! `_tb.nodes.<pid>` of the scheduler's namespace ([`Scheduler::set_namespace`], else the
//! default one); this is what `tensorbus node list` and `tensorbus monitor` read. A namespace
//! that cannot be opened is logged once and the scheduler runs on.
//!
//! Logging: misses, tick errors, init and shutdown failures and live-statistics trouble go
//! through the [`log`] facade (targets `tensorbus::scheduler::*`, messages `node NAME: ...`).
//! The `tensorbus` binary and the Python module install [`crate::logging`]'s stderr logger,
//! which prints them as `[tensorbus] node NAME: ...`; a Rust program routes them with any
//! `log` backend, or calls [`crate::logging::init_default`] for the same stderr output.
//!
//! Everything takes `&self`: share the scheduler (`Arc<Scheduler>`) and read
//! [`Scheduler::node_stats`] or call [`Scheduler::stop`] from other threads while one thread
//! is inside `run`.
//!
//! Files: `run.rs` the [`Scheduler`] and its threads, `group.rs` the loop one thread runs,
//! `stats.rs` the per-node counters, `live.rs` the published statistics; stopping and signals
//! are in `crate::stop` (shared with the nodes' [`Context`](crate::Context)).

mod group;
mod live;
mod run;
mod stats;

pub use crate::stop::{signalled, stop_on_signals, StopHandle};
pub use live::NODE_STATS_TOPIC_PREFIX;
pub use run::{Scheduler, SchedulerError};
