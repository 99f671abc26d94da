//! One door for atomics, so the same code runs under loom (`RUSTFLAGS="--cfg loom"`).
//!
//! Shared-memory structures are plain `#[repr(C)]` types whose atomic fields are the std types
//! (they must have a fixed layout in the segment). Loom models exercise the *algorithms* (slot
//! word transitions, ring stamps) on loom atomics through the generic helpers in `word.rs`.

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
