//! The test kit of the tensorbus workspace (in the spirit of iceoryx2's `iceoryx2-bb/testing`):
//! what the pool's and the facade's integration tests share, written once.
//!
//! - [`TempNs`]: a fresh namespace directory per test, removed when the guard drops; [`open`] /
//!   [`open_with`] open a directory with the suites' pool geometries ([`CLASSES`],
//!   [`FACADE_CLASSES`], [`TENSOR_CLASSES`]).
//! - [`fill`] / [`check`] / [`pattern`]: payloads whose every byte depends on the frame id, so a
//!   torn or recycled frame shows; [`all_slots_free`] counts every slot of a namespace and fails
//!   on one that is not FREE or still has a holder bit.
//! - Child processes ([`child`], [`role_child`], [`child_role`], [`Peer`], [`kill9`]): a test
//!   binary re-executes itself to run one ignored test (`--exact <entry> --ignored`) as the child;
//!   the child's role and namespace directory travel in `TB_CHILD_ROLE` / `TB_CHILD_DIR`, its
//!   reports in stdout lines (`READY ...`, `RESULT key=value ...`, read with [`Peer::line`] and
//!   [`field`]).
//! - [`Rng`], a seeded xorshift (`TB_SEED` replays a run), [`is_root`], and [`thread_cpu`] (what
//!   the tests that check a wait sleeps measure).
//!
//! The kit depends on `tensorbus-pool`, which has it as a dev-dependency: that cycle works for
//! integration tests (`tests/*.rs` link the same `tensorbus-pool` as the kit) but not for the
//! pool's unit tests (`#[cfg(test)]` builds a second instance of the crate), which do not use it.
//! Crates above the pool (`tensorbus-tensor`, the facade) use it in unit tests too.
//! Under `--cfg loom` (the loom models build only the pool's lock-free core) the pool does not
//! pull the kit in at all.

mod child;
mod frames;
mod peer;
mod rng;
mod temp_ns;

pub use child::{child, child_role, child_via, entry_args, kill9, role_child, KillOnDrop, DIR_VAR, ROLE_ENTRY, ROLE_VAR};
pub use frames::{all_slots_free, check, fill, pattern};
pub use peer::{field, Peer};
pub use rng::Rng;
pub use temp_ns::{open, open_with, TempNs, CLASSES, FACADE_CLASSES, TENSOR_CLASSES};

/// True when this process runs as root (tests that mount a tmpfs, `chown` or switch uid need it
/// and otherwise say why they skipped).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// CPU time the calling thread has used (user + system): how a test checks that a wait slept.
pub fn thread_cpu() -> std::time::Duration {
    // SAFETY: getrusage writes only into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_THREAD is Linux's per-thread accounting.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) }, 0);
    let tv = |t: libc::timeval| std::time::Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
