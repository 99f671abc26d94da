//! One door for atomics, so the same code runs under loom (`RUSTFLAGS="--cfg loom"`, `make loom`).
//!
//! Every atomic in this crate is one of the types below (and every fence this `fence`):
//! `pool/clippy.toml` disallows std's atomic types and `fence` everywhere else, so code cannot
//! slip past the door. In a normal build they are std's types, so the `#[repr(C)]` structures
//! placed in shared memory keep their fixed, asserted layout. Under `--cfg loom` they are loom's
//! types, and only the lock-free cores are compiled: the slot word (`word.rs`), the descriptor
//! (plain data) and the ring's seqlock (`ring/seqlock.rs`). Their loom models build those same
//! structs on the heap, where layout does not matter (the layout asserts are for the real build
//! only), so the models check the code that ships, not a copy of it.
//!
//! Type aliases, not re-exports: clippy's `disallowed-types` sees through a `pub use` (the
//! re-exported path names std's type) but not through an alias, which is its own item.

#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // the one place std's atomics may be named

pub use std::sync::atomic::Ordering;

#[cfg(not(loom))]
mod imp {
    pub type AtomicBool = std::sync::atomic::AtomicBool;
    pub type AtomicU32 = std::sync::atomic::AtomicU32;
    pub type AtomicU64 = std::sync::atomic::AtomicU64;
    pub use std::sync::atomic::fence as std_fence;
}
#[cfg(loom)]
mod imp {
    pub type AtomicBool = loom::sync::atomic::AtomicBool;
    pub type AtomicU32 = loom::sync::atomic::AtomicU32;
    pub type AtomicU64 = loom::sync::atomic::AtomicU64;
    pub use loom::sync::atomic::fence as std_fence;
}

pub use imp::{AtomicBool, AtomicU32, AtomicU64};

/// A memory fence (std's, or loom's under `--cfg loom`).
#[inline(always)]
pub fn fence(order: Ordering) {
    imp::std_fence(order)
}

/// Where a SeqCst read-modify-write is followed by SeqCst loads that must not be reordered
/// before it (the Dekker pairs of the holder-set protocol, `word.rs`). The Rust (C++20) model
/// already forbids that reordering between SeqCst operations, so in a normal build this is
/// nothing; loom models SeqCst accesses more weakly (as AcqRel, see its docs) but does model a
/// SeqCst fence, so under `--cfg loom` this is one, and the models check the ordering the real
/// build gets from SeqCst.
#[inline(always)]
pub fn sc_point() {
    #[cfg(loom)]
    imp::std_fence(Ordering::SeqCst);
}
