//! Shared helpers for the pool behaviour tests: a fresh namespace directory per test, removed
//! when the guard drops, and a pattern for payloads whose every byte can be verified.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use tensorbus_pool::{Namespace, PoolConfig};

/// The pool geometry every test uses: 8 slots of 4 KiB, 4 slots of 64 KiB.
pub const CLASSES: &str = "4Kx8,64Kx4";

/// A unique namespace directory under the temp dir, removed on drop.
pub struct TempNs {
    pub dir: PathBuf,
}

impl TempNs {
    pub fn new(tag: &str) -> TempNs {
        let dir = std::env::temp_dir().join(format!("tb-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempNs { dir }
    }
    pub fn open(&self) -> Namespace {
        open(&self.dir)
    }
}

impl Drop for TempNs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn open(dir: &Path) -> Namespace {
    Namespace::open_dir(dir, PoolConfig::parse(CLASSES).unwrap()).unwrap()
}

/// Byte `i` of frame `id`: every byte depends on both, so a torn or recycled frame shows.
#[inline]
pub fn pattern(id: u64, i: usize) -> u8 {
    (id.wrapping_mul(31).wrapping_add(i as u64 * 7) ^ (i as u64 >> 8)) as u8
}

pub fn fill(buf: &mut [u8], id: u64) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern(id, i);
    }
}

/// Index of the first byte that differs from frame `id`'s pattern.
pub fn check(buf: &[u8], id: u64) -> Option<usize> {
    buf.iter().enumerate().position(|(i, &b)| b != pattern(id, i))
}

/// Every slot of every pool segment in `dir` is FREE with no holder bits.
pub fn all_slots_free(dir: &Path) -> Result<u32, String> {
    use tensorbus_pool::{pool::Pool, word};
    let mut total = 0;
    for id in 0..16u8 {
        let Ok(p) = Pool::open(dir, id) else { continue };
        for i in 0..p.slots() {
            let w = p.slot(i).word.load(std::sync::atomic::Ordering::Acquire);
            if word::state(w) != word::FREE || word::holders(w) != 0 {
                return Err(format!("pool {id} slot {i}: state {} holders {:#x}", word::state(w), word::holders(w)));
            }
            total += 1;
        }
    }
    Ok(total)
}
