//! Topic rings: one shared-memory ring of descriptors per topic; many publishers, many
//! subscribers, each subscriber sees every entry it keeps up with.
//!
//! Files (each one concern; this file only declares and re-exports them):
//!
//! - `layout.rs`: the segment's `#[repr(C)]` header and subscriber table, offsets, layout hash,
//!   topic names and types;
//! - `seqlock.rs`: the entry, its stamps, the write / read / cursor protocol — the lock-free
//!   core, the one file of the ring that loom runs (`make loom`);
//! - `seg.rs`: `RingSeg`, the validated mapping and its accessors;
//! - `lock.rs`: the writer lock, its bounded waits, takeover and repair of a dead writer's ring;
//! - `refs.rs`: the topic's references on payload slots, and back-pressure (`has_room`);
//! - `subs.rs`: the subscriber table (claim, release, advance);
//! - `wake.rs`: futex wakeups of receivers and reliable writers;
//! - `send.rs`, `recv.rs`: one send, one receive;
//! - `reap.rs`: reaping, closing and dissolving a topic;
//! - `inline.rs`: inline packing and `Delivered`;
//! - `handles.rs`: `Topic`, `Publisher`, `Subscriber`, `Namespace::topic`;
//! - `waitset.rs`: `WaitSet` and `Trigger`, waiting on several topics at once;
//! - `stats.rs`: `TopicStats`.
//!
//! In short: writers serialize on `lock`; under it a writer takes a topic reference on the
//! payload slot, writes entry `head % depth` as a seqlock (stamp odd while writing, `2*pos+2`
//! when complete for position `pos`), publishes `head = pos+1` (Release), then drops the
//! references of entries that no longer need their slots. Readers never lock: they peek at the
//! stamp of the entry their cursor names; when it is complete for exactly that position they
//! copy the entry and re-check the stamp, without reading `head` (one cache line per short
//! message on the delivery path). Any other stamp (lapped, a dead writer, a scribble) sends them
//! to `head` (Acquire) for miss accounting. Then they take their own hold, which re-checks the
//! slot generation (a recycled slot is a miss). A send bumps `notify` and wakes sleepers only
//! when some are registered, so a blocking receive costs a futex sleep and no busy loop.

pub mod seqlock;

#[cfg(not(loom))]
mod handles;
#[cfg(not(loom))]
mod inline;
#[cfg(not(loom))]
mod layout;
#[cfg(not(loom))]
mod lock;
#[cfg(not(loom))]
mod reap;
#[cfg(not(loom))]
mod recv;
#[cfg(not(loom))]
mod refs;
#[cfg(not(loom))]
mod seg;
#[cfg(not(loom))]
mod send;
#[cfg(not(loom))]
mod stats;
#[cfg(not(loom))]
mod subs;
#[cfg(not(loom))]
mod waitset;
#[cfg(not(loom))]
mod wake;

#[cfg(not(loom))]
pub use handles::{Publisher, Subscriber, Topic, TopicOptions, TopicShared};
#[cfg(not(loom))]
pub use inline::{inline_message, Delivered, Received};
#[cfg(not(loom))]
pub use layout::{check_name, ring_offsets, topic_names, Policy, RingOffsets, SubEntry, TopicHeader, TopicType, DEFAULT_DEPTH, DEFAULT_SUBS, MAX_DEPTH, MAX_SUBS, SUBS_AT};
#[cfg(not(loom))]
pub use lock::CLOSE_BOUND;
#[cfg(not(loom))]
pub use seg::RingSeg;
pub use seqlock::{Entry, Tail, INLINE_MAX, TAIL_WORDS};
#[cfg(not(loom))]
pub use stats::TopicStats;
#[cfg(not(loom))]
pub use waitset::{Event, EventKind, Interrupter, Trigger, WaitSet, DEFAULT_SPIN, MAX_WATCHED};
