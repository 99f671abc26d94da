//! Verifiable payloads and an exact slot count: the two checks most behaviour tests end with.

use std::path::Path;
use std::sync::atomic::Ordering;
use tensorbus_pool::{holders, pool::Pool, word};

/// Byte `i` of frame `id`: every byte depends on both, so a torn or recycled frame shows.
#[inline]
pub fn pattern(id: u64, i: usize) -> u8 {
    (id.wrapping_mul(31).wrapping_add(i as u64 * 7) ^ (i as u64 >> 8)) as u8
}

/// Write frame `id`'s pattern into `buf`.
pub fn fill(buf: &mut [u8], id: u64) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern(id, i);
    }
}

/// Index of the first byte that differs from frame `id`'s pattern.
pub fn check(buf: &[u8], id: u64) -> Option<usize> {
    buf.iter().enumerate().position(|(i, &b)| b != pattern(id, i))
}

/// Every slot of every pool segment in `dir` is FREE with an empty holder set: the number of
/// slots, or the first one that is not.
pub fn all_slots_free(dir: &Path) -> Result<u32, String> {
    let mut total = 0;
    for id in 0..16u8 {
        let Ok(p) = Pool::open(dir, id) else { continue };
        for i in 0..p.slots() {
            // Acquire: pairs with the release of the last holder, so a FREE word seen here is
            // the slot's final state for this count.
            let w = p.slot(i).word.load(Ordering::Acquire);
            let mut held = Vec::new();
            holders::for_each(p.holder_set(i), |h| held.push(h));
            if word::state(w) != word::FREE || !held.is_empty() {
                return Err(format!("pool {id} slot {i}: state {} holders {held:?}", word::state(w)));
            }
            total += 1;
        }
    }
    Ok(total)
}
