//! tensorbus-pool: the shared-memory core of tensorbus.
//!
//! - [`nsdir`]: namespace directories opened without following links, owner and mode checked;
//! - [`segment`]: named, validated, race-free shared-memory segments under the namespace dir;
//! - [`registry`]: processes and topic rings registered as *holders* (pid + start time);
//! - [`holders`]: holder sets, one bit per holder (1,024), for slots, openers and publishers;
//! - [`word`]: the per-slot state word and holder set that make every hold crash-atomic;
//! - [`pool`]: fixed-size, 256-byte aligned slots in size classes, claimed by CAS;
//! - [`lease`]: `SlotMut` (exclusive, writable) → `SlotRef` (shared, read-only);
//! - [`descriptor`]: the 64-byte descriptor that travels instead of the payload;
//! - [`ring`]: topic rings (latest / reliable), subscribers with misses, futex wakeups;
//! - [`sleepers`]: self-healing registration of futex sleepers (a killed sleeper costs nothing);
//! - [`namespace`]: a process's handle tying it together (its state, pools, hold counts);
//! - [`acquire`]: claiming slots and resolving descriptors on it;
//! - [`lifecycle`]: joining (`open`), `reap()` and `leave()`; [`stats`]: `stats()`.
//!
//! ```
//! use tensorbus_pool::{Namespace, PoolConfig};
//! let dir = std::env::temp_dir().join(format!("tb-doc-{}", std::process::id()));
//! let ns = Namespace::open_dir(&dir, PoolConfig::default()).unwrap();
//! let mut slot = ns.try_acquire(1024).unwrap();
//! slot.as_mut_slice().fill(7);
//! let shared = slot.freeze();
//! let again = ns.resolve(&shared.descriptor()).unwrap();
//! assert_eq!(again.as_slice()[0], 7);
//! # drop((shared, again, ns)); std::fs::remove_dir_all(dir).ok();
//! ```

pub mod descriptor;
pub mod holders;
pub mod ring;
pub mod sync;
pub mod word;

#[cfg(not(loom))]
pub mod acquire;
#[cfg(not(loom))]
pub mod error;
#[cfg(not(loom))]
pub mod futex;
#[cfg(not(loom))]
pub mod lease;
#[cfg(not(loom))]
pub mod lifecycle;
#[cfg(not(loom))]
pub mod namespace;
#[cfg(not(loom))]
pub mod nsdir;
#[cfg(not(loom))]
pub mod pool;
#[cfg(not(loom))]
pub mod process;
#[cfg(not(loom))]
pub mod registry;
#[cfg(not(loom))]
pub mod segment;
#[cfg(not(loom))]
pub mod sleepers;
#[cfg(not(loom))]
pub mod stats;

#[cfg(not(loom))]
pub use descriptor::Descriptor;
#[cfg(not(loom))]
pub use error::{AcquireError, DescriptorError, Error, GrowthRefused, HolderInfo, OpenError, RecvError, SendError, TopicError};
#[cfg(not(loom))]
pub use lease::{SlotMut, SlotRef};
#[cfg(not(loom))]
pub use lifecycle::ReapReport;
#[cfg(not(loom))]
pub use namespace::{Namespace, PoolConfig};
#[cfg(not(loom))]
pub use ring::{Delivered, Event, EventKind, Interrupter, Policy, Publisher, Received, Subscriber, Topic, TopicOptions, TopicStats, TopicType, Trigger, WaitSet};
#[cfg(not(loom))]
pub use stats::NamespaceStats;
