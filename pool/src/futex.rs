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
