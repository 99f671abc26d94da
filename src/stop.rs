//! Stopping: the [`StopHandle`] a scheduler hands its nodes and callers, and SIGINT/SIGTERM
//! handling ([`stop_on_signals`], [`signalled`]).
//!
//! This sits below both [`crate::node`] (a [`crate::Context`] holds a handle so a node can stop
//! its scheduler) and [`crate::scheduler`] (which polls it), so neither reaches into the other.
//!
//! A handle is one shared flag; it also reads as stopped once a signal arrived after
//! [`stop_on_signals`], so every scheduler of the process stops on Ctrl-C.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Stops a running scheduler from any thread (or a node). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    pub fn stop(&self) {
        // Relaxed: a flag polled by the loop; nothing else is published through it.
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_stopped(&self) -> bool {
        // Relaxed: as in stop; SIGNALLED is a flag too.
        self.0.load(Ordering::Relaxed) || SIGNALLED.load(Ordering::Relaxed)
    }
    /// Clear the flag (a scheduler does this as `run` starts).
    pub(crate) fn reset(&self) {
        // Relaxed: as in stop.
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Set by the signal handler; read by every [`StopHandle`].
static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Async-signal-safe: one atomic store. Relaxed: a flag, nothing else is published.
    SIGNALLED.store(true, Ordering::Relaxed);
}

/// Make SIGINT and SIGTERM stop every running scheduler of this process cleanly (every
/// node's shutdown runs, `run` returns). Clears an earlier signal.
pub fn stop_on_signals() -> std::io::Result<()> {
    // Relaxed: a flag (see on_signal).
    SIGNALLED.store(false, Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs an async-signal-safe handler (a single atomic store); the
        // sigaction struct is fully initialized (zeroed, then handler and mask set).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// True once SIGINT/SIGTERM arrived after [`stop_on_signals`].
pub fn signalled() -> bool {
    // Relaxed: a flag (see on_signal).
    SIGNALLED.load(Ordering::Relaxed)
}
