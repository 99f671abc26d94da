//! Threaded stress: claim / freeze / send / recv / drop from several threads, then check the
//! global invariants (every slot back exactly once, generations never reused).

use std::sync::Arc;
use std::time::{Duration, Instant};
use tensorbus_pool::pool::Pool;
use tensorbus_pool::sync::{AtomicU64, Ordering};
use tensorbus_pool::*;
use tensorbus_testkit::{self as kit, check, fill, TempNs};

#[test]
fn threaded_stress_returns_every_slot_exactly_once() {
    let t = TempNs::new("stress");
    let ns = t.open();
    let topic = ns.topic("stress", &TopicOptions { depth: 3, ..Default::default() }).unwrap();
    let claims = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_millis(1500);
    let threads: Vec<_> = (0..4u64)
        .map(|k| {
            let (ns, topic, claims) = (ns.clone(), topic.clone(), claims.clone());
            std::thread::spawn(move || {
                let p = topic.publisher();
                let mut s = topic.subscriber().unwrap();
                let mut kept: Vec<SlotRef> = Vec::new();
                let (mut n, mut got) = (0u64, 0u64);
                while Instant::now() < deadline {
                    n += 1;
                    let id = k << 40 | n;
                    let len = if n % 5 == 0 { 5000 + n % 60_000 } else { 1 + n % 4096 };
                    match ns.try_acquire(len) {
                        Ok(mut m) => {
                            claims.fetch_add(1, Ordering::Relaxed);
                            fill(m.as_mut_slice(), id);
                            if n % 7 == 0 {
                                continue; // abandoned write
                            }
                            let r = m.freeze();
                            p.send(Descriptor { timestamp_ns: id, ..r.descriptor() }, &r).unwrap();
                            if n % 3 == 0 {
                                kept.push(r.clone());
                            }
                        }
                        Err(AcquireError::Exhausted { .. }) => kept.clear(),
                        Err(e) => panic!("{e}"),
                    }
                    if kept.len() > 2 {
                        kept.remove(0);
                    }
                    while let Some((d, h)) = s.try_recv().unwrap().map(tensorbus_pool::Delivered::into_parts) {
                        let h = h.unwrap();
                        assert_eq!(check(h.as_slice(), d.timestamp_ns), None, "frame {:#x} has wrong bytes", d.timestamp_ns);
                        // A second hold through the descriptor sees the same frame.
                        if let Ok(again) = ns.resolve(&d) {
                            assert!(again.same_slot(&h));
                        }
                        got += 1;
                    }
                }
                (n, got)
            })
        })
        .collect();
    let mut total = (0, 0);
    for th in threads {
        let (n, got) = th.join().unwrap();
        total = (total.0 + n, total.1 + got);
    }
    assert!(total.1 > 100, "too little traffic: {total:?}");
    drop(topic);
    let st = ns.stats();
    assert_eq!(st.used_slots(), 0, "{st:?}");
    assert_eq!(kit::all_slots_free(&t.dir), Ok(12));
    let pool_claims: u64 = (0..2).map(|id| Pool::open(&t.dir, id).unwrap().header().claims.load(Ordering::Relaxed)).sum();
    assert_eq!(pool_claims, claims.load(Ordering::Relaxed), "every claim accounted for");
}

/// Claimers racing on one slot: every claim must get a generation no earlier claim had, or a
/// stale descriptor could resolve to a newer frame.
#[test]
fn generations_never_repeat_under_contention() {
    let t = TempNs::new("stress-gen");
    std::fs::create_dir_all(&t.dir).unwrap();
    let pool = Arc::new(Pool::open_or_create(&t.dir, 0, 4096, 1).unwrap());
    let deadline = Instant::now() + Duration::from_millis(1000);
    let threads: Vec<_> = (0..3u32)
        .map(|holder| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut gens = Vec::new();
                while Instant::now() < deadline {
                    for _ in 0..1000 {
                        if let Some((slot, g)) = pool.try_claim(holder) {
                            gens.push(g);
                            pool.release(slot, holder);
                        }
                    }
                }
                gens
            })
        })
        .collect();
    let mut all: Vec<u32> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "{} claims reused a generation", n - all.len());
    assert_eq!(pool.header().claims.load(Ordering::Relaxed), n as u64);
}
