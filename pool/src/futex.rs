//! Cross-process wakeups on a 32-bit word in shared memory (Linux futex, non-private).
//!
//! A waiter reads the word, re-checks its condition, then sleeps while the word still holds
//! the value it read; a waker bumps the word and wakes everyone. The syscall compares the word
//! atomically with going to sleep, so no wakeup between the check and the sleep is lost.

use crate::sync::AtomicU32;
use std::time::Duration;

/// Sleep while `*word == expected`, at most `timeout`. Returns early on a wake, a signal, or if
/// the word already differs. Spurious returns are allowed; callers loop.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec { tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t, tv_nsec: timeout.subsec_nanos() as libc::c_long };
    // SAFETY: `word` is a valid, aligned 32-bit atomic that lives at least as long as this call
    // (it is inside a mapping the caller keeps alive). FUTEX_WAIT (without the PRIVATE flag)
    // only reads it; the timespec pointer is valid for the call.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, &ts as *const libc::timespec, std::ptr::null::<u32>(), 0u32);
    }
}

/// Wake every process sleeping on `word`. Returns how many were woken (0 on an error).
pub fn wake_all(word: &AtomicU32) -> u32 {
    // SAFETY: as in `wait`; FUTEX_WAKE does not access the memory beyond hashing its address.
    let n = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX, std::ptr::null::<libc::timespec>(), std::ptr::null::<u32>(), 0u32) };
    n.clamp(0, u32::MAX as libc::c_long) as u32
}

/// Most words one [`wait_any`] watches (the kernel's `FUTEX_WAITV_MAX`).
pub const WAIT_ANY_MAX: usize = 128;

/// How a [`wait_any`] ended. Every outcome allows a spurious return; callers re-check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnyWake {
    /// A wake on the word at this index.
    Woken(usize),
    /// Some word no longer held its expected value when the kernel looked.
    Changed,
    /// The timeout passed.
    TimedOut,
    /// A signal, or an error; or futex_waitv is missing and the fallback slept a short while.
    Other,
}

/// `struct futex_waitv` of the kernel ABI (linux/futex.h).
#[repr(C)]
struct FutexWaitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

/// `FUTEX2_SIZE_U32`: each word is 32 bits (shared, not private: other processes wake us).
const FUTEX2_SIZE_U32: u32 = 0x02;

/// Whether futex_waitv works here: probed once per process. It does not on kernels before 5.16
/// (ENOSYS) or under seccomp filters that refuse it, and is turned off by
/// `TENSORBUS_NO_FUTEX_WAITV=1` (how the tests run the fallback).
static WAITV: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// True when [`wait_any`] sleeps on all its words at once (Linux 5.16+ futex_waitv).
pub fn has_wait_any() -> bool {
    *WAITV.get_or_init(|| {
        if std::env::var_os("TENSORBUS_NO_FUTEX_WAITV").is_some_and(|v| v == "1") {
            return false;
        }
        // Probe with no words: a kernel that knows the call answers EINVAL.
        // SAFETY: a null waiter list with a count of 0 reads no memory.
        let r = unsafe { libc::syscall(libc::SYS_futex_waitv, std::ptr::null::<FutexWaitv>(), 0u32, 0u32, std::ptr::null::<libc::timespec>(), libc::CLOCK_MONOTONIC) };
        !(r == -1 && matches!(std::io::Error::last_os_error().raw_os_error(), Some(libc::ENOSYS | libc::EPERM)))
    })
}

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the machine (and of
/// every PID namespace), so one process's stamp is comparable with another's reading.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleep until a wake on any of `words` (each `(word, expected)`: the kernel compares every
/// word with its expected value atomically with going to sleep), at most `timeout`. At most
/// [`WAIT_ANY_MAX`] words (more are not watched). Without futex_waitv it sleeps on the first
/// word for at most 1 ms (callers loop and re-check every word: a poll, not a lost wake).
pub fn wait_any(words: &[(&AtomicU32, u32)], timeout: Duration) -> AnyWake {
    if words.is_empty() {
        std::thread::sleep(timeout);
        return AnyWake::TimedOut;
    }
    if !has_wait_any() {
        let (w, v) = words[0];
        let cap = if words.len() == 1 { timeout } else { timeout.min(Duration::from_millis(1)) };
        wait(w, v, cap);
        return AnyWake::Other;
    }
    let n = words.len().min(WAIT_ANY_MAX);
    let mut list: [FutexWaitv; WAIT_ANY_MAX] = std::array::from_fn(|_| FutexWaitv { val: 0, uaddr: 0, flags: 0, reserved: 0 });
    for (slot, (w, v)) in list.iter_mut().zip(&words[..n]) {
        *slot = FutexWaitv { val: *v as u64, uaddr: w.as_ptr() as u64, flags: FUTEX2_SIZE_U32, reserved: 0 };
    }
    // futex_waitv takes an absolute CLOCK_MONOTONIC deadline.
    let end = monotonic_ns().saturating_add(timeout.as_nanos().min(u64::MAX as u128) as u64);
    let ts = libc::timespec { tv_sec: (end / 1_000_000_000) as libc::time_t, tv_nsec: (end % 1_000_000_000) as libc::c_long };
    // SAFETY: `list[..n]` are valid futex_waitv records naming aligned 32-bit words that live
    // (inside mappings or allocations the caller keeps alive) for the whole call; the kernel
    // only reads them and the timespec.
    let r = unsafe { libc::syscall(libc::SYS_futex_waitv, list.as_ptr(), n as u32, 0u32, &ts as *const libc::timespec, libc::CLOCK_MONOTONIC) };
    if r >= 0 {
        return AnyWake::Woken(r as usize);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) => AnyWake::Changed,
        Some(libc::ETIMEDOUT) => AnyWake::TimedOut,
        _ => AnyWake::Other,
    }
}
