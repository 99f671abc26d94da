//! Self-healing registration of sleepers on a shared futex word.
//!
//! A counter of sleepers (`waiters += 1`, sleep, `waiters -= 1`) stays non-zero forever when a
//! sleeper is killed in its sleep, and every later waker then pays a futex_wake syscall. Here a
//! sleeper registers as a bit in a 64-bit bitmap, and the registration heals. Holders 0..62
//! (the first processes of the namespace) have a bit each; holders 63 and up share bit 63
//! ([`SHARED_BIT`]), which only wakers clear (a word per holder would make every send load 16
//! words instead of one):
//!
//! - a sleeper re-asserts its bit before every sleep, and sleeps at most [`SLEEP_CAP`], so a bit
//!   cleared wrongly (a scribble) costs it at most one cap of latency;
//! - the last sleeping thread of a process clears its own bit when it stops waiting ([`Local`]
//!   counts them, so one thread never clears the bit under another that still sleeps); the
//!   shared bit stays for the next waker to heal, which costs that waker one futile wake;
//! - a waker whose futex_wake woke nobody clears the bits it saw (a dead sleeper's bit goes at
//!   the first send after its death), then bumps the word again and wakes again;
//! - the reaper clears the bits of dead holders.
//!
//! Protocol; every access to `bits` and `word` is SeqCst (one total order S):
//!
//! ```text
//! sleeper:  A  bits |= me       S  seen = word       (check the condition: nothing to do)
//!           R  bits & me == 0 ? -> back to A         W  futex_wait(word, seen, cap)
//! waker:    (make the condition true)   B  word += 1   L  b = bits
//!           b != 0: n = futex_wake(word); n == 0: C  bits &= !b;  B2 word += 1;  futex_wake(word)
//! ```
//!
//! No wakeup is lost. A waker whose B precedes the sleeper's S in S is seen by the condition
//! check (its change happens before B). For a waker whose B follows S:
//! - L sees the bit: if the sleeper is in W the wake reaches it (n >= 1); if not, W runs after
//!   the wake, sees `word != seen` (B changed it) and returns at once.
//! - L sees no bit, L before R: the bit was re-set between L and R (R saw it), so W runs after
//!   B and returns at once, as above.
//! - L sees no bit, R before L: some clear came between R and L. Not a [`Local`] clear (this
//!   sleeper is counted, and nobody clears the shared bit that way), not the reaper's (it
//!   clears the own bits of dead processes only): a waker's C, whose
//!   B2 and second wake follow R, so W either returns at once or is woken by that second wake.
//!
//! The waker's fast path (nobody sleeps) is the bump and one load, as with a counter.

use crate::sync::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How long a blocking wait spins before it sleeps, by default, when the previous wait found
/// something (spin-then-sleep: a busy pipeline gets spin latency, an idle one never spins).
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// Longest single futex sleep: what a wrongly cleared bit can cost a sleeper.
pub const SLEEP_CAP: Duration = Duration::from_millis(100);

/// Waker side, once the caller has made the condition true: bump `word` (B), then wake the
/// sleepers `bits` names (L), healing bits that name nobody. `wakes` counts the futex_wake calls
/// (statistics); `woke_ns` (if any) gets the CLOCK_MONOTONIC time of a wake that found
/// sleepers, so a woken sleeper can tell how long its wake-up took. The one place "bump, then
/// wake if there are sleepers" is written.
#[inline]
pub fn notify(word: &AtomicU32, bits: &AtomicU64, wakes: Option<&AtomicU64>, woke_ns: Option<&AtomicU64>) {
    // SeqCst: B of the protocol, the Dekker pair of a sleeper's A then S.
    word.fetch_add(1, Ordering::SeqCst);
    // SeqCst: L of the protocol; the Dekker pair of the sleeper's A with the caller's B.
    let b = bits.load(Ordering::SeqCst);
    if b != 0 {
        wake_slow(word, bits, b, wakes, woke_ns);
    }
}

#[cold]
#[inline(never)]
fn wake_slow(word: &AtomicU32, bits: &AtomicU64, seen_bits: u64, wakes: Option<&AtomicU64>, woke_ns: Option<&AtomicU64>) {
    if let Some(t) = woke_ns {
        // Relaxed: a timestamp for statistics; the sleeper reads it after its wake, which the
        // futex syscalls order (and a stale value only skews one latency sample).
        t.store(crate::futex::monotonic_ns(), Ordering::Relaxed);
    }
    // Relaxed: a statistic.
    let count = || wakes.map(|w| w.fetch_add(1, Ordering::Relaxed));
    count();
    if crate::futex::wake_all(word) > 0 {
        return;
    }
    // Nobody was asleep: the bits name dead sleepers, or live ones between A and W. Clear them
    // (C), then bump (B2) and wake again, so a live one that passed R already does not sleep
    // through the next send (see the module docs).
    // SeqCst: C and B2 of the protocol.
    bits.fetch_and(!seen_bits, Ordering::SeqCst);
    word.fetch_add(1, Ordering::SeqCst);
    count();
    crate::futex::wake_all(word);
}

/// The bit that holders 63 and up share.
pub const SHARED_BIT: u64 = 1 << 63;

/// The sleeper bit of holder `holder`, and whether it is its own.
fn bit_of(holder: u32) -> (u64, bool) {
    if holder < 63 {
        (1 << holder, true)
    } else {
        (SHARED_BIT, false)
    }
}

/// Clear the own bits of dead holders (the reaper): they can never sleep again. The shared bit
/// is left to the wakers.
pub fn clear_dead(bits: &AtomicU64, dead: &crate::holders::HolderMask) {
    let own = dead.low_word() & !SHARED_BIT;
    if own != 0 {
        // SeqCst: like C; only dead processes' bits go, so no live sleeper depends on this clear.
        bits.fetch_and(!own, Ordering::SeqCst);
    }
}

/// Threads of this process sleeping on one word (process-local).
#[derive(Debug, Default)]
pub struct Local {
    count: Mutex<u32>,
}

/// One thread's registration as a sleeper on `word`; dropping it ends the registration.
pub struct Sleeper<'a> {
    word: &'a AtomicU32,
    bits: &'a AtomicU64,
    me: u64,
    /// `me` is this process's own bit (not the shared one): dropping the last sleeper clears it.
    own: bool,
    local: &'a Local,
}

impl<'a> Sleeper<'a> {
    /// Register the calling thread of the process with holder index `holder`.
    pub fn enter(word: &'a AtomicU32, bits: &'a AtomicU64, holder: u32, local: &'a Local) -> Sleeper<'a> {
        *local.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let (me, own) = bit_of(holder);
        Sleeper { word, bits, me, own, local }
    }

    /// A and S of the protocol: assert our bit, then read the word. Check the condition after
    /// this and sleep with the returned value.
    pub fn arm(&self) -> u32 {
        // SeqCst: A, then S (see the module docs).
        self.bits.fetch_or(self.me, Ordering::SeqCst);
        self.word.load(Ordering::SeqCst)
    }

    /// R of the protocol: our bit is still set (else a waker cleared it since `arm`: arm
    /// again and re-check before sleeping).
    pub fn armed(&self) -> bool {
        // SeqCst: R of the protocol.
        self.bits.load(Ordering::SeqCst) & self.me != 0
    }

    /// The futex word this sleeper sleeps on (for a wait on several words at once, W over
    /// all of them after R for each).
    pub fn word(&self) -> &'a AtomicU32 {
        self.word
    }

    /// R and W: sleep while the word still holds `seen`, at most `timeout` and [`SLEEP_CAP`];
    /// returns at once if a waker cleared our bit since `arm` (arm again, re-check, sleep).
    pub fn sleep(&self, seen: u32, timeout: Duration) {
        if !self.armed() {
            return;
        }
        crate::futex::wait(self.word, seen, timeout.min(SLEEP_CAP));
    }
}

impl Drop for Sleeper<'_> {
    fn drop(&mut self) {
        let mut n = self.local.count.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        if *n == 0 && self.own {
            // SeqCst: ordered with the protocol's other bit operations. Under the local lock,
            // so no other thread of this process is between `enter` and here: none sleeps.
            self.bits.fetch_and(!self.me, Ordering::SeqCst);
        }
    }
}
