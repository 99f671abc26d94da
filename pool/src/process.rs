//! Process identity and liveness: pid plus start time (so a recycled pid is not mistaken for a
//! live peer) plus the PID namespace (so a pid is only ever judged where it means something).
//!
//! Liveness has three answers. Only the kernel saying "no such process" (ENOENT on `/proc/<pid>`,
//! ESRCH from `kill(pid, 0)`), a zombie, or another start time mean [`Liveness::Dead`]. Any
//! other failure (EMFILE, ENFILE, ENOMEM, EACCES, a malformed stat line) is
//! [`Liveness::Unknown`], which every caller treats like alive: a reaper that cannot judge a
//! holder leaves it alone. Reaping a live holder hands its slots to a second writer; leaving a
//! dead one costs only slots until the next reap.

use std::io::ErrorKind;

/// What `/proc` says about a registered process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// It runs (same pid, same start time).
    Alive,
    /// It is gone: no such pid, a zombie, or the pid now belongs to a process started later.
    Dead,
    /// It could not be judged from here (a failed read, another PID namespace).
    Unknown,
}

impl Liveness {
    /// True unless known dead: the conservative answer every reaper uses.
    pub fn maybe_alive(self) -> bool {
        self != Liveness::Dead
    }
}

/// Parse `/proc/<pid>/stat`: (state letter, start time in clock ticks since boot).
fn parse_stat(text: &str) -> Option<(char, u64)> {
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // After ')' come fields 3.. ; start time is field 22, i.e. 18 fields after the state.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

fn read_stat(pid: u32) -> std::io::Result<String> {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
}

/// Start time of `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`), or `None` if
/// it cannot be read.
pub fn start_time(pid: u32) -> Option<u64> {
    parse_stat(&read_stat(pid).ok()?).map(|(_, t)| t)
}

/// The short command name of `pid` (`/proc/<pid>/comm`), or `"?"`.
pub fn name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|s| s.trim().to_string()).unwrap_or_else(|_| "?".into())
}

/// Whether a failed `/proc` read means the process is gone.
fn dead_or_unknown(e: &std::io::Error, pid: u32) -> Liveness {
    if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) {
        return Liveness::Dead;
    }
    // `/proc` could not tell (EMFILE, ENFILE, ENOMEM, ...): ask the kernel directly. kill(pid, 0)
    // sends nothing; ESRCH is the only answer that means no such process.
    // SAFETY: signal 0 performs only the existence and permission check.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        Liveness::Dead
    } else {
        Liveness::Unknown
    }
}

/// Judge the process `pid` that registered with start time `start` (0: not yet known, so the
/// pid alone decides, as for an entry still being claimed).
pub fn liveness(pid: u32, start: u64) -> Liveness {
    if pid == 0 || pid > i32::MAX as u32 {
        return Liveness::Dead;
    }
    let text = match read_stat(pid) {
        Ok(t) => t,
        Err(e) => return dead_or_unknown(&e, pid),
    };
    let Some((state, t)) = parse_stat(&text) else { return Liveness::Unknown };
    if state == 'Z' || state == 'X' {
        return Liveness::Dead; // a zombie can never release anything again
    }
    if start != 0 && t != start {
        return Liveness::Dead; // the pid was recycled
    }
    Liveness::Alive
}

/// True when a process `pid` started at `start` may still run (see [`liveness`]).
pub fn is_alive(pid: u32, start: u64) -> bool {
    liveness(pid, start).maybe_alive()
}

/// This process's own start time, read once per pid (a fork child reads its own).
pub fn own_start_time() -> Option<u64> {
    use crate::sync::{AtomicU32, AtomicU64, Ordering};
    // Atomics, not a lock: a fork child must never find the cache locked by a parent thread.
    static OWN_PID: AtomicU32 = AtomicU32::new(0);
    static OWN_START: AtomicU64 = AtomicU64::new(0);
    let pid = current_pid();
    // Acquire: pairs with the Release store of OWN_PID below (OWN_START written first).
    if OWN_PID.load(Ordering::Acquire) == pid {
        // Relaxed: ordered by the Acquire above; racing writers store the same value.
        return Some(OWN_START.load(Ordering::Relaxed));
    }
    let t = start_time(pid)?;
    // Relaxed, then Release: a reader that sees our pid sees this start time.
    OWN_START.store(t, Ordering::Relaxed);
    OWN_PID.store(pid, Ordering::Release);
    Some(t)
}

/// The identity of this process's PID namespace (the inode of `/proc/self/ns/pid`), or 0 if
/// the kernel does not expose it. Two processes judge each other's pids only when these agree.
pub fn pid_namespace() -> u64 {
    static NS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *NS.get_or_init(|| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self/ns/pid").map(|m| m.ino()).unwrap_or(0)
    })
}

static PID: crate::sync::AtomicU32 = crate::sync::AtomicU32::new(0);

extern "C" fn forget_pid() {
    // Relaxed: the forked child is single-threaded at this point.
    PID.store(0, crate::sync::Ordering::Relaxed);
}

/// This process's pid, cached: `std::process::id()` is a `getpid` syscall (glibc stopped
/// caching it), and it sat on the claim and send hot paths. A fork resets the cache.
pub fn current_pid() -> u32 {
    // Relaxed: every thread computes the same value; a racing store writes the same pid.
    let p = PID.load(crate::sync::Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    static ATFORK: std::sync::Once = std::sync::Once::new();
    // SAFETY: registers a handler that only does an atomic store (async-signal-safe).
    ATFORK.call_once(|| unsafe {
        libc::pthread_atfork(None, None, Some(forget_pid));
    });
    let p = std::process::id();
    PID.store(p, crate::sync::Ordering::Relaxed);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_with_its_start_time() {
        let pid = current_pid();
        let st = start_time(pid).expect("own start time");
        assert!(is_alive(pid, st));
        assert!(!is_alive(pid, st + 1), "another start time is another process");
    }

    #[test]
    fn missing_process_is_dead() {
        assert!(!is_alive(0, 0));
        assert!(!is_alive(u32::MAX - 1, 0));
    }
}

#[cfg(test)]
mod liveness_tests {
    use super::*;

    /// A `/proc` read that fails with EMFILE is not death (it was, before three-valued liveness:
    /// a reaper out of file descriptors reaped live holders).
    #[test]
    fn a_failed_proc_read_is_not_death() {
        let me = current_pid();
        let start = start_time(me).unwrap();
        // In a child (so the test process keeps its descriptors): exhaust the descriptor table,
        // then judge the parent. Exit code 0: judged maybe-alive; 1: judged dead; 2: setup failed.
        // SAFETY: the child only makes syscalls and small allocations, then _exit.
        let child = unsafe { libc::fork() };
        assert!(child >= 0);
        if child == 0 {
            let lim = libc::rlimit { rlim_cur: 16, rlim_max: 16 };
            // SAFETY: plain syscalls on valid arguments in the child.
            unsafe {
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
                while libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) >= 0 {}
                let emfile = std::io::Error::last_os_error().raw_os_error() == Some(libc::EMFILE);
                let code = if !emfile {
                    2
                } else if liveness(me, start) == Liveness::Dead {
                    1
                } else {
                    0
                };
                libc::_exit(code);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(child, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "child crashed: {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "a live process judged dead when /proc could not be read (1) or setup failed (2)");
    }

    #[test]
    fn pid_namespace_is_known() {
        assert_ne!(pid_namespace(), 0);
    }
}
