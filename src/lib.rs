//! tensorbus: a zero-copy shared-memory tensor pool for robotics and ML pipelines.
//!
//! This facade is what a Rust user depends on:
//! - typed topics: [`Topic<T>`], [`Publisher<T>`], [`Subscriber<T>`] for POD messages
//!   ([`Pod`], [`msgs`], [`pod_message!`]), payloads ([`Image`], [`DepthImage`],
//!   [`PointCloud`], [`Tensor`]: only the 64-byte descriptor travels) and MessagePack
//!   [`Value`]s (what Python dicts arrive as); [`raw`] holds the untyped layer beneath them;
//! - nodes and the slim [`Scheduler`]: per-node rates, budgets, deadlines, miss policies,
//!   compute threads and live [`NodeStats`]; what they log goes through the `log` facade
//!   (see [`logging`] for routing it, and its default stderr logger);
//! - the shared-memory core ([`Namespace`], leases, [`Descriptor`]) from `tensorbus-pool` as
//!   [`pool`], and the payload types from `tensorbus-tensor` as [`tensor`].
//!
//! A camera driver loans a slot, fills it in place and sends it: zero copies end to end.
//!
//! ```
//! use tensorbus::{tensor::{Encoding, ImageMut}, Image, Namespace, PoolConfig, Topic};
//! let dir = std::env::temp_dir().join(format!("tb-doc-lib-{}", std::process::id()));
//! let ns = Namespace::open_dir(&dir, PoolConfig::parse("1Mx4").unwrap()).unwrap();
//! let topic = Topic::<Image>::open(&ns, "camera.rgb").unwrap();
//! let (camera, mut viewer) = (topic.publisher(), topic.subscriber().unwrap());
//!
//! let mut frame = ImageMut::new(&ns, 480, 640, Encoding::Rgb8).unwrap();  // loan a slot
//! for (i, px) in frame.data_mut().chunks_exact_mut(3).enumerate() {
//!     px.copy_from_slice(&[(i % 640) as u8, (i / 640) as u8, 128]);       // fill in place
//! }
//! frame.set_timestamp_ns(1);
//! let frame = frame.freeze();                                             // read-only now
//! camera.send(&frame).unwrap();                                           // the descriptor travels
//!
//! let got = viewer.try_recv().unwrap().unwrap();
//! assert_eq!(got.as_ptr(), frame.as_ptr());                               // the same bytes
//! assert_eq!(got.shape(), &[480, 640, 3]);
//! # drop((got, frame, camera, viewer, topic, ns)); std::fs::remove_dir_all(dir).ok();
//! ```

pub mod cli;
pub mod error;
pub mod logging;
pub mod message;
pub mod msgs;
pub mod node;
pub mod raw;
pub mod scheduler;
mod stop;
pub mod topic;

pub use error::{Error, Result};
pub use message::Pod;
pub use node::{budget_remaining, node_fn, Context, FnNode, Node, NodeConfig, NodeError, NodeResult, NodeStats, OnMiss};
pub use raw::{RawMessage, RawPublisher, RawSubscriber, TopicConfig};
pub use scheduler::{Scheduler, SchedulerError};
pub use stop::{signalled, stop_on_signals, StopHandle};
pub use topic::{Message, Publisher, Subscriber, Topic, Value};

pub use tensorbus_pool as pool;
pub use tensorbus_pool::{
    AcquireError, Descriptor, DescriptorError, Error as PoolError, Event, EventKind, Interrupter, Namespace, OpenError, Policy, PoolConfig, RecvError, SendError, SlotMut, SlotRef,
    TopicError, TopicOptions, TopicType, Trigger, WaitSet,
};
pub use tensorbus_tensor as tensor;
pub use tensorbus_tensor::{DepthImage, Image, Payload, PointCloud, Tensor};
