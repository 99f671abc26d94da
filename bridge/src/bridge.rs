//! [`Bridge`]: one Zenoh session and two threads — the exporter (local topics out, `export.rs`)
//! and the importer's writer (Zenoh samples in, `import.rs`) — plus the status record they keep.

use crate::error::BridgeError;
use crate::export::Exporter;
use crate::import::{Importer, Inbox};
use crate::options::BridgeOptions;
use crate::status::Shared;
use crate::wire;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use tensorbus::cli::bridges::BridgeStatus;
use tensorbus::Namespace;
use tensorbus_pool::{Interrupter, WaitSet};
use zenoh::sample::Locality;
use zenoh::Wait;

/// A running bridge; [`Bridge::stop`] (or dropping it) ends it.
pub struct Bridge {
    session: zenoh::Session,
    stop: Arc<AtomicBool>,
    interrupt: Interrupter,
    inbox: Arc<Inbox>,
    shared: Arc<Shared>,
    subscribers: Vec<zenoh::pubsub::Subscriber<()>>,
    /// ROS 2 mode: the node's and the subscribers' liveliness tokens.
    tokens: Vec<zenoh::liveliness::LivelinessToken>,
    threads: Vec<JoinHandle<()>>,
}

impl Bridge {
    /// Open the Zenoh session and start forwarding.
    pub fn start(ns: &Namespace, opts: BridgeOptions) -> Result<Bridge, BridgeError> {
        opts.check()?;
        if let Some(r) = &opts.ros2 {
            // A ROS 2 type without a mapping is an error now, not a silent drop later.
            let existing = ns.topic_names();
            for t in r.topics.iter().filter(|t| t.export && existing.contains(&t.topic)) {
                if let Ok(topic) = ns.topic(&t.topic, &Default::default()) {
                    t.ros_type_for(&topic.type_name())?;
                }
            }
        }
        let scope = opts.scope.clone().unwrap_or_else(|| ns.dir().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "default".into()));
        if scope.is_empty() || scope.contains(['/', '*', '$', '?', '#']) {
            return Err(BridgeError::Usage(format!("scope {scope:?}: one key chunk without / * $ ? #")));
        }
        let config = opts.zenoh_config()?;
        let session = zenoh::open(config).wait().map_err(|e| BridgeError::zenoh("opening the session", e))?;
        let zid = session.zid();
        let mut origin = [0u8; 16];
        let b = zid.to_le_bytes();
        origin[..b.len().min(16)].copy_from_slice(&b[..b.len().min(16)]);
        let status =
            BridgeStatus { pid: std::process::id(), zid: zid.to_string(), scope: scope.clone(), connect: opts.connect.clone(), listen: opts.listen.clone(), ..Default::default() };
        let shared = Arc::new(Shared::new(ns, status));
        let stop = Arc::new(AtomicBool::new(false));
        let inbox = Inbox::new();
        let importer = Arc::new(Importer { ns: ns.clone(), opts: opts.clone(), inbox: inbox.clone(), shared: shared.clone(), topics: Default::default() });

        let mut subscribers = Vec::new();
        let mut tokens = Vec::new();
        if let Some(r) = &opts.ros2 {
            let zid = zid.to_string();
            let token = crate::ros2::node_token(r.domain, &zid, &r.node);
            tokens.push(session.liveliness().declare_token(token).wait().map_err(|e| BridgeError::zenoh("declaring the node's liveliness token", e))?);
            for t in r.topics.iter().filter(|t| !t.export) {
                let ros_type = if t.ros_type.is_empty() { crate::ros2::ros_type_of(&t.tb_type).unwrap_or(crate::ros2::IMAGE).to_string() } else { t.ros_type.clone() };
                let hash = crate::ros2::hash_of(&ros_type, r.humble);
                // Any hash: a Humble publisher (TypeHashNotSupported) and a Jazzy one both match.
                let key = crate::ros2::data_key(r.domain, &t.ros_name, &ros_type, "*");
                let ros = Arc::new(crate::import::RosIn { tb_type: t.tb_type_for(&ros_type).to_string(), ros_type: ros_type.clone() });
                let (imp, topic) = (importer.clone(), t.topic.clone());
                let s = session
                    .declare_subscriber(key.clone())
                    .allowed_origin(Locality::Remote)
                    .callback(move |sample| imp.on_ros_sample(&sample, &topic, &ros))
                    .wait()
                    .map_err(|e| BridgeError::zenoh(&format!("declaring the subscriber of {key}"), e))?;
                subscribers.push(s);
                let token = crate::ros2::entity_token(r.domain, &zid, shared.next_eid(), "MS", &r.node, &t.ros_name, &ros_type, &hash, &crate::ros2::qos(false, 10));
                tokens.push(session.liveliness().declare_token(token).wait().map_err(|e| BridgeError::zenoh("declaring a subscriber's liveliness token", e))?);
                shared.topic(&t.topic, "in", |s| s.remote = key.clone());
                log::info!("bridge: importing {} from ROS 2 {} ({ros_type})", t.topic, t.ros_name);
            }
        } else if !opts.import.is_empty() {
            let (imp, sc) = (importer.clone(), scope.clone());
            let s = session
                .declare_subscriber(format!("{}/{scope}/**", wire::KEY_ROOT))
                .allowed_origin(Locality::Remote)
                .callback(move |sample| imp.on_sample(&sample, &sc, &origin))
                .wait()
                .map_err(|e| BridgeError::zenoh("declaring the subscriber", e))?;
            subscribers.push(s);
        }

        let mut ws = WaitSet::new();
        ws.set_spin(std::time::Duration::ZERO);
        let interrupt = ws.interrupter();
        let exporter =
            Exporter { ns: ns.clone(), opts: opts.clone(), session: session.clone(), scope, origin, shared: shared.clone(), ws, zid: zid.to_string(), refused: Vec::new() };
        let mut threads = Vec::new();
        let s = stop.clone();
        threads.push(
            std::thread::Builder::new()
                .name("tb-bridge-out".into())
                .spawn(move || exporter.run(&s))
                .map_err(|e| BridgeError::Io { what: "the bridge thread".into(), source: e })?,
        );
        if !subscribers.is_empty() {
            let s = stop.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("tb-bridge-in".into())
                    .spawn(move || importer.run(&s))
                    .map_err(|e| BridgeError::Io { what: "the bridge thread".into(), source: e })?,
            );
        }
        Ok(Bridge { session, stop, interrupt, inbox, shared, subscribers, tokens, threads })
    }

    /// The bridge's Zenoh id.
    pub fn zid(&self) -> String {
        self.session.zid().to_string()
    }

    /// Zenoh ids of the peers and routers connected now.
    pub fn peers(&self) -> Vec<String> {
        let info = self.session.info();
        info.peers_zid().wait().chain(info.routers_zid().wait()).map(|z| z.to_string()).collect()
    }

    /// What has been forwarded so far (the same record `_tb.bridge.<pid>` carries).
    pub fn report(&self) -> BridgeStatus {
        let mut r = self.shared.snapshot();
        r.peers = self.peers();
        r
    }

    /// Stop forwarding, close the session, and return the final report.
    pub fn stop(mut self) -> Result<BridgeStatus, BridgeError> {
        let r = self.finish();
        let report = self.shared.snapshot();
        r.map(|_| report)
    }

    fn finish(&mut self) -> Result<(), BridgeError> {
        if self.threads.is_empty() && self.subscribers.is_empty() {
            return Ok(());
        }
        // Relaxed: a stop flag; the interrupt and the inbox's close end the threads' waits.
        self.stop.store(true, Ordering::Relaxed);
        self.interrupt.interrupt();
        for s in self.subscribers.drain(..) {
            let _ = s.undeclare().wait();
        }
        for t in self.tokens.drain(..) {
            let _ = t.undeclare().wait();
        }
        self.inbox.close();
        let mut panicked = false;
        for t in self.threads.drain(..) {
            panicked |= t.join().is_err();
        }
        self.session.close().wait().map_err(|e| BridgeError::zenoh("closing the session", e))?;
        if panicked {
            return Err(BridgeError::Panicked);
        }
        Ok(())
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            log::error!("bridge: {e}");
        }
    }
}
