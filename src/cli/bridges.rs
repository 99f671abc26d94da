//! What running bridges (`tensorbus bridge`, crate tensorbus-bridge) say about themselves: each
//! publishes a [`BridgeStatus`] about once per second on `_tb.bridge.<pid>` (MessagePack, like
//! the schedulers' `_tb.nodes.<pid>`). `topic list` reads it to show which topics are bridged and
//! from where, `doctor` to check that every bridge is connected. The record is defined here, in
//! the facade, so the CLI reads it without depending on Zenoh.

use serde::{Deserialize, Serialize};
use tensorbus_pool::Namespace;

/// Topic prefix of the bridges' status records (`_tb.bridge.<pid>`).
pub const BRIDGE_STATUS_TOPIC_PREFIX: &str = "_tb.bridge.";

/// A record older than this is a bridge that is no longer publishing.
const STALE_S: f64 = 5.0;

/// One bridged topic, one direction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BridgedTopic {
    pub name: String,
    /// `out` (this namespace to Zenoh) or `in` (Zenoh to this namespace).
    pub direction: String,
    /// Where it goes or comes from: the Zenoh key, and for `in` the sending bridges' ids.
    pub remote: String,
    pub messages: u64,
    pub bytes: u64,
    /// `in`: messages the sender sent that never arrived (gaps in its counter).
    pub lost: u64,
    /// Messages given up here: a full receive queue, no pool slot, a type mismatch.
    pub dropped: u64,
    /// `out`: messages the local ring overwrote before the bridge read them.
    pub misses: u64,
}

/// One bridge's newest record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BridgeStatus {
    pub pid: u32,
    /// Seconds since the Unix epoch when it was written.
    pub time: f64,
    /// The bridge's Zenoh id.
    pub zid: String,
    /// The key expressions' scope (`tensorbus/<scope>/...`).
    pub scope: String,
    pub connect: Vec<String>,
    pub listen: Vec<String>,
    /// Zenoh ids of the peers and routers it is connected to now.
    pub peers: Vec<String>,
    /// Samples refused as malformed (bad attachment, bad payload).
    pub malformed: u64,
    pub topics: Vec<BridgedTopic>,
}

impl BridgeStatus {
    /// The topic name this bridge publishes its status on.
    pub fn topic_name(pid: u32) -> String {
        format!("{BRIDGE_STATUS_TOPIC_PREFIX}{pid}")
    }
}

/// The newest record of every bridge in `ns` that is still running, by pid.
pub fn running_bridges(ns: &Namespace) -> Vec<BridgeStatus> {
    let mut out = Vec::new();
    for name in ns.topic_names() {
        let Some(pid) = name.strip_prefix(BRIDGE_STATUS_TOPIC_PREFIX).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if !super::nodes::pid_alive(pid) {
            continue;
        }
        let Some(r) = super::nodes::latest_record::<BridgeStatus>(ns, &name) else { continue };
        if super::nodes::now_s() - r.time < STALE_S {
            out.push(r);
        }
    }
    out.sort_by_key(|r| r.pid);
    out
}

/// `topic list`'s BRIDGE column for `topic`: `out`, `in from <ids>`, or both; empty when no
/// bridge carries it.
pub fn bridged(bridges: &[BridgeStatus], topic: &str) -> String {
    let mut parts = Vec::new();
    for b in bridges {
        for t in b.topics.iter().filter(|t| t.name == topic) {
            parts.push(if t.direction == "in" { format!("in from {}", if t.remote.is_empty() { "?" } else { &t.remote }) } else { format!("out (pid {})", b.pid) });
        }
    }
    parts.join(", ")
}
