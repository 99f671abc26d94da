//! tensorbus-bridge: tensorbus topics across hosts over Zenoh (the `zenoh` crate, the engine
//! under dora-rs, the iceoryx2 gateway and ROS 2's rmw_zenoh).
//!
//! A [`Bridge`] joins a namespace and a Zenoh session. It sends the topics it exports (globs) to
//! Zenoh as samples on `tensorbus/<scope>/<topic>` — the message bytes as the payload, the
//! descriptor's metadata in the attachment (`wire.rs`, documented for other Zenoh clients in
//! `docs/bridge.md`) — and writes the samples of the topics it imports into slots it loans here,
//! so subscribers on this host use the ordinary API and get the same zero-copy views.
//!
//! - `wire.rs`: key expressions, the attachment header, compression; hostile input is an error;
//! - `export.rs`: local topics out (one WaitSet; QoS per topic policy; no echo of bridged frames);
//! - `import.rs`: Zenoh samples in (bounded per-topic queues, one copy into a loaned slot, loss
//!   accounting);
//! - `ros2.rs`: ROS 2 mode, rmw_zenoh's dialect (keys, attachment, liveliness tokens, CDR);
//! - `status.rs`: counters and the `_tb.bridge.<pid>` record the CLI reads;
//! - `slotbuf.rs`: a payload handed to Zenoh without a copy;
//! - `options.rs`, `bridge.rs`, `cli.rs`: configuration, the running bridge, `tensorbus bridge`.
//!
//! Layering (DESIGN.md): above the facade; the facade and the core know nothing of Zenoh.

pub mod bridge;
pub mod cli;
pub mod error;
mod export;
pub mod import;
pub mod options;
pub mod ros2;
mod slotbuf;
mod status;
pub mod wire;

pub use bridge::Bridge;
pub use error::BridgeError;
pub use options::BridgeOptions;
pub use ros2::{Ros2Options, Ros2Topic};
pub use tensorbus::cli::bridges::{BridgeStatus, BridgedTopic};
pub use wire::{Compression, Header, WireError};
