//! What a running bridge knows about itself ([`Shared`]): per topic and direction the counts of
//! messages, bytes, losses and drops, the samples refused as malformed, and once a second the
//! record on `_tb.bridge.<pid>` that `tensorbus topic list` and `tensorbus doctor` read.

use std::collections::BTreeSet;
use std::sync::Mutex;
use tensorbus::cli::bridges::{BridgeStatus, BridgedTopic};
use tensorbus::raw::{RawPublisher, TopicConfig, DICT_TYPE};
use tensorbus::{Namespace, TopicType};
use zenoh::Wait;

/// Kept under one mutex: a few updates per message, far from the cost of moving a frame.
pub(crate) struct Shared {
    status: Mutex<BridgeStatus>,
    /// Topics (and `malformed:` reasons) already warned about: one log line each.
    warned: Mutex<BTreeSet<String>>,
    publisher: Option<RawPublisher>,
    /// ROS 2 mode: the next entity id of the node's publishers and subscribers.
    eid: std::sync::atomic::AtomicU32,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(ns: &Namespace, status: BridgeStatus) -> Shared {
        let ty = TopicType { name: DICT_TYPE.into(), hash: 0, size: 0 };
        let publisher = match RawPublisher::open(ns, &BridgeStatus::topic_name(status.pid), ty, TopicConfig::latest(1)) {
            Ok(p) => Some(p),
            Err(e) => {
                log::warn!("bridge: no status topic: {e}");
                None
            }
        };
        Shared { status: Mutex::new(status), warned: Mutex::new(BTreeSet::new()), publisher, eid: std::sync::atomic::AtomicU32::new(1) }
    }

    /// A fresh entity id (the node itself is 0).
    pub fn next_eid(&self) -> u32 {
        // Relaxed: a counter; only uniqueness matters.
        self.eid.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Update the counters of `name` in `direction` (`out` / `in`).
    pub fn topic(&self, name: &str, direction: &str, f: impl FnOnce(&mut BridgedTopic)) {
        let mut s = lock(&self.status);
        let i = match s.topics.iter().position(|t| t.name == name && t.direction == direction) {
            Some(i) => i,
            None => {
                s.topics.push(BridgedTopic { name: name.into(), direction: direction.into(), ..Default::default() });
                s.topics.sort_by(|a, b| (&a.name, &a.direction).cmp(&(&b.name, &b.direction)));
                s.topics.iter().position(|t| t.name == name && t.direction == direction).expect("just added")
            }
        };
        f(&mut s.topics[i]);
    }

    /// Count a refused sample; log the first of each kind.
    pub fn malformed(&self, key: &str, why: &str) {
        lock(&self.status).malformed += 1;
        let kind = why.split(':').next().unwrap_or(why);
        self.warn_once(&format!("malformed {kind}"), &format!("sample on {key} dropped: {why}"));
    }

    pub fn warn_once(&self, what: &str, msg: &str) {
        if lock(&self.warned).insert(what.to_string()) {
            log::warn!("bridge: {what}: {msg} (further ones are counted, not logged)");
        }
    }

    pub fn snapshot(&self) -> BridgeStatus {
        lock(&self.status).clone()
    }

    /// Refresh the peers and the time, and publish the record on `_tb.bridge.<pid>`.
    pub fn publish_status(&self, session: &zenoh::Session) {
        let info = session.info();
        let mut peers: Vec<String> = info.peers_zid().wait().chain(info.routers_zid().wait()).map(|z| z.to_string()).collect();
        peers.sort();
        peers.dedup();
        let rec = {
            let mut s = lock(&self.status);
            s.peers = peers;
            s.time = now_s();
            s.clone()
        };
        if let Some(p) = &self.publisher {
            match rmp_serde::to_vec_named(&rec) {
                Ok(b) => {
                    if let Err(e) = p.send_msgpack(&b) {
                        self.warn_once("status", &e.to_string());
                    }
                }
                Err(e) => self.warn_once("status", &e.to_string()),
            }
        }
    }
}

pub(crate) fn now_s() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}
