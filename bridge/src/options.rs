//! [`BridgeOptions`]: where a bridge connects, which topics it forwards which way, how each is
//! compressed, and the Zenoh configuration built from them.

use crate::error::BridgeError;
use crate::ros2::Ros2Options;
use crate::wire::Compression;
use std::path::PathBuf;
use std::time::Duration;
use tensorbus::raw::glob;

/// How to bridge.
#[derive(Debug, Clone)]
pub struct BridgeOptions {
    /// Zenoh endpoints to connect to (`tcp/HOST:7447`).
    pub connect: Vec<String>,
    /// Zenoh endpoints to listen on (`tcp/0.0.0.0:7447`).
    pub listen: Vec<String>,
    /// A Zenoh configuration file (JSON5); `connect`, `listen` and `multicast` are applied on top.
    pub config_file: Option<PathBuf>,
    /// `peer` (default) or `client` (through a router).
    pub mode: String,
    /// Multicast scouting (off by default: peers are the endpoints given).
    pub multicast: bool,
    /// Zenoh shared memory between bridges on one host (its implicit transport optimization:
    /// samples over 3 KiB travel through a 64 MiB shared pool instead of the socket). Off by
    /// default: bridges are for crossing hosts, where it does not apply.
    pub zenoh_shm: bool,
    /// The key expressions' scope, `tensorbus/<scope>/<topic>` (default: the namespace's name).
    pub scope: Option<String>,
    /// Topics (names or globs) sent from this namespace to Zenoh.
    pub export: Vec<String>,
    /// Topics (names or globs) received from Zenoh into this namespace.
    pub import: Vec<String>,
    /// `(glob, compression)`: the first match decides a topic's compression when sent (default
    /// none). Only payloads and messages over 1 KiB are compressed.
    pub compression: Vec<(String, Compression)>,
    /// Messages kept per imported latest-policy topic while the writer is busy (the newest; the
    /// older are dropped and counted); None: as many as the topic's depth. Reliable topics keep up
    /// to [`RELIABLE_QUEUE`] and then wait.
    pub queue: Option<usize>,
    /// How long a reliable topic waits for room (in the receive queue, for a pool slot) before
    /// a message is dropped and counted.
    pub block_timeout: Duration,
    /// ROS 2 mode (rmw_zenoh's keys, attachment, liveliness and CDR) for the topics it maps;
    /// `export` and `import` are then unused.
    pub ros2: Option<Ros2Options>,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions {
            connect: Vec::new(),
            listen: Vec::new(),
            config_file: None,
            mode: "peer".into(),
            multicast: false,
            zenoh_shm: false,
            scope: None,
            export: Vec::new(),
            import: Vec::new(),
            compression: Vec::new(),
            queue: None,
            block_timeout: Duration::from_secs(1),
            ros2: None,
        }
    }
}

/// Messages kept per imported reliable topic before the receive callback waits.
pub const RELIABLE_QUEUE: usize = 64;

impl BridgeOptions {
    /// Forward `patterns` both ways.
    pub fn both(mut self, patterns: &[&str]) -> Self {
        self.export.extend(patterns.iter().map(|p| p.to_string()));
        self.import.extend(patterns.iter().map(|p| p.to_string()));
        self
    }

    pub(crate) fn exports(&self, topic: &str) -> bool {
        if let Some(r) = &self.ros2 {
            return r.topics.iter().any(|t| t.export && t.topic == topic);
        }
        !topic.starts_with("_tb.") && self.export.iter().any(|p| glob(p, topic))
    }

    pub(crate) fn imports(&self, topic: &str) -> bool {
        !topic.starts_with("_tb.") && self.import.iter().any(|p| glob(p, topic))
    }

    /// Something to forward at all.
    pub(crate) fn check(&self) -> Result<(), BridgeError> {
        match &self.ros2 {
            Some(r) if r.topics.is_empty() => Err(BridgeError::Usage("ROS 2 mode: nothing to bridge: map topics to export or import".into())),
            Some(r) if r.domain > 232 => Err(BridgeError::Usage(format!("ROS 2 domain {} (0..=232)", r.domain))),
            Some(r) => r.topics.iter().try_for_each(|t| t.check()),
            None if self.export.is_empty() && self.import.is_empty() => Err(BridgeError::Usage("nothing to bridge: give topics to export, import or both".into())),
            None => Ok(()),
        }
    }

    pub(crate) fn compression_of(&self, topic: &str) -> Compression {
        self.compression.iter().find(|(p, _)| glob(p, topic)).map_or(Compression::None, |(_, c)| *c)
    }

    /// The Zenoh configuration.
    pub fn zenoh_config(&self) -> Result<zenoh::Config, BridgeError> {
        let cfg = |what: &str, e: Box<dyn std::error::Error + Send + Sync>| BridgeError::Config(format!("{what}: {e}"));
        let mut c = match &self.config_file {
            Some(p) => zenoh::Config::from_file(p).map_err(|e| cfg(&p.display().to_string(), e))?,
            None => zenoh::Config::default(),
        };
        if !matches!(self.mode.as_str(), "peer" | "client" | "router") {
            return Err(BridgeError::Config(format!("mode must be peer, client or router, not {:?}", self.mode)));
        }
        if self.config_file.is_none() || self.mode != "peer" {
            c.insert_json5("mode", &json_str(&self.mode)).map_err(|e| cfg("mode", e))?;
        }
        if !self.connect.is_empty() {
            c.insert_json5("connect/endpoints", &json_list(&self.connect)).map_err(|e| cfg("connect", e))?;
        }
        if !self.listen.is_empty() {
            c.insert_json5("listen/endpoints", &json_list(&self.listen)).map_err(|e| cfg("listen", e))?;
        }
        if self.config_file.is_none() {
            c.insert_json5("scouting/multicast/enabled", if self.multicast { "true" } else { "false" }).map_err(|e| cfg("scouting", e))?;
            c.insert_json5("transport/shared_memory/enabled", if self.zenoh_shm { "true" } else { "false" }).map_err(|e| cfg("shared memory", e))?;
            if self.zenoh_shm {
                c.insert_json5("transport/shared_memory/transport_optimization/pool_size", &(64u64 << 20).to_string()).map_err(|e| cfg("shared memory pool", e))?;
            }
            // Keep retrying the endpoints we were given: a bridge that restarts finds its peer
            // again, and one started before its peer connects when the peer comes up.
            c.insert_json5("connect/timeout_ms", "-1").map_err(|e| cfg("connect timeout", e))?;
            c.insert_json5("connect/exit_on_failure", "false").map_err(|e| cfg("connect exit_on_failure", e))?;
        }
        Ok(c)
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_list(v: &[String]) -> String {
    format!("[{}]", v.iter().map(|s| json_str(s)).collect::<Vec<_>>().join(","))
}
