//! A small seeded generator for randomised timing and scribbling: printed, and replayable.

use std::time::Instant;

/// xorshift64 seeded from `TB_SEED` when set (to replay a failure), else from the clock and pid;
/// the seed is printed (`TB_SEED=...`) so every run can be replayed.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded as above.
    pub fn seeded() -> Rng {
        let s = std::env::var("TB_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| Instant::now().elapsed().as_nanos() as u64 ^ std::process::id() as u64);
        eprintln!("TB_SEED={s}");
        Rng(s | 1)
    }

    /// The next 64 random bits.
    // Not an Iterator: the stream never ends, and `rng.next()` reads best at the call sites.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
