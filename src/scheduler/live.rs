//! Live statistics: while a scheduler runs, a helper thread publishes every node's
//! [`NodeStats`] about once per second as a dict on the topic `_tb.nodes.<pid>` of the
//! scheduler's namespace; `tensorbus node list` and `tensorbus monitor` read it.
//!
//! Nothing here is fatal: a namespace that cannot be opened, or a record that cannot be sent,
//! is logged once (`log::warn!`) and the scheduler runs on.

use crate::node::NodeStats;
use crate::raw::{RawPublisher, TopicConfig, DICT_TYPE};
use std::time::Duration;
use tensorbus_pool::{Namespace, TopicType};

/// Prefix of the topics carrying schedulers' live statistics (`_tb.nodes.<pid>`).
pub const NODE_STATS_TOPIC_PREFIX: &str = "_tb.nodes.";

/// How often the live statistics are published.
pub(super) const STATS_PERIOD: Duration = Duration::from_secs(1);

/// Where the live statistics go.
pub(super) enum StatsTarget {
    /// The default namespace, opened when `run` starts.
    Default,
    Namespace(Namespace),
    Off,
}

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
    wake_p50_us: f64,
    wake_p99_us: f64,
    wake_max_us: f64,
    /// An event node's trigger topics.
    on: &'a [String],
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

/// The publisher of the live statistics, or None (off, or the namespace failed to open:
/// logged, never fatal).
pub(super) fn stats_publisher(target: &StatsTarget) -> Option<RawPublisher> {
    let ns = match target {
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
            log::warn!("scheduler: live node statistics off ({name}: {e})");
            None
        }
    }
}

/// Publish one statistics record: `stats[i]` is the node `rates[i]` names, with its target
/// rate. An error is logged the first time (`logged` remembers it, per run).
pub(super) fn publish(p: &RawPublisher, stats: &[NodeStats], rates: &[(String, f64)], running: bool, logged: &mut bool) {
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
            wake_p50_us: us(s.p50_wake),
            wake_p99_us: us(s.p99_wake),
            wake_max_us: us(s.max_wake),
            on: &s.triggers,
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
            log::warn!("scheduler: could not publish node statistics: {e}");
        }
    }
}
