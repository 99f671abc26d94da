//! tensorbus: a zero-copy shared-memory tensor pool for robotics and ML pipelines.
//!
//! This facade re-exports the layers a Rust user needs:
//! - the shared-memory core ([`Namespace`], leases, [`Descriptor`], topics) from
//!   `tensorbus-pool`;
//! - the payload types (Image, DepthImage, PointCloud, Tensor, DLPack) from `tensorbus-tensor`
//!   as [`tensor`].

pub use tensorbus_pool as pool;
pub use tensorbus_pool::{
    AcquireError, Descriptor, DescriptorError, Error, Namespace, OpenError, Policy, PoolConfig, Publisher, RecvError, SendError,
    SlotMut, SlotRef, Subscriber, Topic, TopicError, TopicOptions, TopicType,
};
pub use tensorbus_tensor as tensor;
