//! Process identity: pid plus start time, so a recycled pid is not mistaken for a live peer.

/// Start time of `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`), or `None` if
/// the process does not exist.
pub fn start_time(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let rest = &text[text.rfind(')')? + 1..];
    // After ')' come fields 3.. ; start time is field 22, i.e. index 19 here.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// The short command name of `pid` (`/proc/<pid>/comm`), or `"?"`.
pub fn name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// True when a process `pid` started at `start` (as recorded at registration) still runs.
/// A zombie counts as dead: it can never release anything again.
pub fn is_alive(pid: u32, start: u64) -> bool {
    if pid == 0 {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = text.rfind(')') else { return false };
    let mut fields = text[close + 1..].split_ascii_whitespace();
    let state = fields.next().unwrap_or("X");
    if state == "Z" || state == "X" {
        return false;
    }
    match fields.nth(18).and_then(|s| s.parse::<u64>().ok()) {
        Some(t) => start == 0 || t == start,
        None => false,
    }
}

static PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

extern "C" fn forget_pid() {
    // Relaxed: the forked child is single-threaded at this point.
    PID.store(0, std::sync::atomic::Ordering::Relaxed);
}

/// This process's pid, cached: `std::process::id()` is a `getpid` syscall (glibc stopped
/// caching it), and it sat on the claim and send hot paths. A fork resets the cache.
pub fn current_pid() -> u32 {
    // Relaxed: every thread computes the same value; a racing store writes the same pid.
    let p = PID.load(std::sync::atomic::Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    static ATFORK: std::sync::Once = std::sync::Once::new();
    // SAFETY: registers a handler that only does an atomic store (async-signal-safe).
    ATFORK.call_once(|| unsafe {
        libc::pthread_atfork(None, None, Some(forget_pid));
    });
    let p = std::process::id();
    PID.store(p, std::sync::atomic::Ordering::Relaxed);
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
