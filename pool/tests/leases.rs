//! Leases: exhaustion names the holders, bounded waits, abandoned writes and last-clone drops
//! return slots, payloads are 256-byte aligned.

use std::time::{Duration, Instant};
use tensorbus_pool::*;
use tensorbus_testkit::TempNs;

#[test]
fn exhaustion_returns_error_naming_holders() {
    let t = TempNs::new("lease-exhaust");
    let ns = t.open();
    let held: Vec<SlotMut> = (0..8).map(|_| ns.try_acquire(4096).unwrap()).collect();
    let e = ns.try_acquire(100).unwrap_err();
    let pid = std::process::id();
    match &e {
        AcquireError::Exhausted { pool: 0, slots: 8, holders, .. } => {
            assert_eq!(holders.len(), 1, "{holders:?}");
            assert_eq!((holders[0].pid, holders[0].slots), (pid, 8));
        }
        e => panic!("unexpected {e}"),
    }
    assert!(e.to_string().contains(&format!("pid {pid}")), "{e}");
    // The bigger class is independent.
    drop(ns.try_acquire(5000).unwrap());
    drop(held);
    assert_eq!(ns.stats().used_slots(), 0);
}

#[test]
fn exhaustion_names_the_topic_that_pins_slots() {
    let t = TempNs::new("lease-exhaust-topic");
    let ns = t.open();
    let topic = ns.topic("cam.rgb", &TopicOptions { depth: 4, ..Default::default() }).unwrap();
    let p = topic.publisher();
    let _unread = topic.subscriber().unwrap(); // keeps every entry pinned
    for _ in 0..4 {
        let r = ns.try_acquire(10).unwrap().freeze();
        p.send(r.descriptor(), &r).unwrap();
    }
    let mine: Vec<SlotMut> = (0..4).map(|_| ns.try_acquire(10).unwrap()).collect();
    let e = ns.try_acquire(10).unwrap_err().to_string();
    assert!(e.contains("topic cam.rgb (4 slots)"), "{e}");
    assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
    drop((mine, p, _unread, topic));
    assert_eq!(ns.stats().used_slots(), 0);
}

#[test]
fn acquire_timeout_errors_after_the_timeout() {
    let t = TempNs::new("lease-timeout");
    let ns = t.open();
    let held: Vec<SlotMut> = (0..8).map(|_| ns.try_acquire(1).unwrap()).collect();
    let start = Instant::now();
    let e = ns.acquire_timeout(1, Duration::from_millis(150)).unwrap_err();
    let waited = start.elapsed();
    assert!(matches!(e, AcquireError::Timeout { pool: 0, .. }), "{e}");
    assert!(waited >= Duration::from_millis(150) && waited < Duration::from_secs(2), "{waited:?}");
    assert!(e.to_string().contains(&format!("pid {}", std::process::id())), "{e}");
    drop(held);
}

#[test]
fn acquire_timeout_succeeds_when_another_thread_frees() {
    let t = TempNs::new("lease-wait");
    let ns = t.open();
    let mut held: Vec<SlotRef> = (0..8).map(|_| ns.try_acquire(1).unwrap().freeze()).collect();
    let one = held.pop().unwrap();
    let freer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        drop(one);
    });
    let start = Instant::now();
    let m = ns.acquire_timeout(1, Duration::from_secs(5)).unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(80) && waited < Duration::from_secs(2), "{waited:?}");
    freer.join().unwrap();
    drop((m, held));
    assert_eq!(ns.stats().used_slots(), 0);
}

#[test]
fn abandoned_slot_mut_returns_the_slot() {
    let t = TempNs::new("lease-abandon");
    let ns = t.open();
    for _ in 0..3 {
        let all: Vec<SlotMut> = (0..8).map(|_| ns.try_acquire(1).unwrap()).collect();
        assert_eq!(ns.stats().used_slots(), 8);
        drop(all); // never frozen
        assert_eq!(ns.stats().used_slots(), 0);
    }
    // A descriptor taken from an abandoned lease never resolves.
    let m = ns.try_acquire(1).unwrap();
    let d = Descriptor { kind: descriptor::kind::BYTES, ..m.descriptor() };
    assert!(matches!(ns.resolve(&d), Err(DescriptorError::Stale { .. })), "not readable while WRITING");
    drop(m);
    assert!(matches!(ns.resolve(&d), Err(DescriptorError::Stale { .. })));
}

#[test]
fn slot_returns_when_last_slot_ref_clone_drops() {
    let t = TempNs::new("lease-clones");
    let ns = t.open();
    let mut m = ns.try_acquire(3).unwrap();
    m.as_mut_slice().copy_from_slice(b"abc");
    let r = m.freeze();
    let d = Descriptor { kind: descriptor::kind::BYTES, ..r.descriptor() };
    let clones: Vec<SlotRef> = (0..3).map(|_| r.clone()).collect();
    let resolved = ns.resolve(&d).unwrap();
    assert!(resolved.same_slot(&r));
    assert_eq!(resolved.as_slice(), b"abc");
    drop(r);
    drop(clones);
    assert_eq!(ns.stats().used_slots(), 1, "the resolved hold keeps it");
    let moved = std::thread::spawn(move || resolved.as_slice().to_vec()).join().unwrap();
    assert_eq!(moved, b"abc");
    assert_eq!(ns.stats().used_slots(), 0);
}

#[test]
fn payload_pointer_is_256_byte_aligned() {
    let t = TempNs::new("lease-align");
    let ns = t.open();
    for len in [1u64, 4096, 4097, 65536] {
        let all: Vec<SlotMut> = std::iter::from_fn(|| ns.try_acquire(len).ok()).collect();
        assert!(all.len() == 8 || all.len() == 4);
        for m in &all {
            assert_eq!(m.as_ptr() as usize % 256, 0, "{m:?}");
            assert!(m.capacity() >= len);
        }
    }
}

#[test]
fn set_len_and_meta_round_trip() {
    let t = TempNs::new("lease-meta");
    let ns = t.open();
    let mut m = ns.try_acquire(10).unwrap();
    assert!(!m.set_len(4097));
    assert!(m.set_len(4096));
    m.meta_mut()[..4].copy_from_slice(b"meta");
    m.as_mut_slice()[4095] = 9;
    let r = m.freeze();
    assert_eq!(r.len(), 4096);
    assert_eq!(&r.meta()[..4], b"meta");
    assert_eq!(r.as_slice()[4095], 9);
}
