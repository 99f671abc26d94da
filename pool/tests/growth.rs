//! Growing a size class: a class whose segments are full gets another segment of its geometry
//! (a new pool id, taken from the top), within `PoolConfig::max_bytes`; the cap, and a class that
//! may not grow, give the exhaustion error that names the holders of every segment and the cap.
//! Real shared memory, and real processes where another process matters: a receiver resolving
//! descriptors of a grown segment, a SIGKILLed holder of grown slots, two processes growing at
//! once.
//!
//! Children are this test binary re-executed (`tensorbus_testkit::role_child`), reporting through
//! stdout lines (`READY`, `RESULT ...`).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tensorbus_pool::*;
use tensorbus_testkit::{self as kit, check, field, fill, Peer, TempNs};

/// One class of 4 slots of 4 KiB: 20 KiB a segment (a page of headers, four of payload).
const CLASSES: &str = "4Kx4";
const SEGMENT: u64 = 5 * 4096;

/// The test geometry, growth capped at `segments` segments.
fn config(segments: u64) -> PoolConfig {
    PoolConfig::parse(CLASSES).unwrap().with_max_bytes(segments * SEGMENT)
}

fn open(dir: &Path, segments: u64) -> Namespace {
    Namespace::open_dir(dir, config(segments)).unwrap()
}

/// The pool ids whose segments exist in `dir`, ascending.
fn segments(dir: &Path) -> Vec<u8> {
    (0..16u8).filter(|id| dir.join(format!("pool-{id}")).exists()).collect()
}

// ---- the child side ----------------------------------------------------------------------------

#[test]
#[ignore = "child process entry point, run by the growth tests"]
fn child_entry() {
    let Some((role, dir)) = kit::child_role() else { return };
    let ns = open(&dir, 8);
    match role.as_str() {
        // Receive `TB_N` frames of the topic `frames` and check every byte; report the pools.
        "receive" => {
            let n: u64 = std::env::var("TB_N").unwrap().parse().unwrap();
            let t = ns.topic("frames", &TopicOptions { depth: 16, policy: Policy::Reliable, ..Default::default() }).unwrap();
            let mut s = t.subscriber().unwrap();
            println!("READY");
            let mut pools = Vec::new();
            for want in 0..n {
                let (d, h) = s.recv_timeout(Duration::from_secs(20)).unwrap().expect("frame never came").into_parts();
                assert_eq!(d.timestamp_ns, want);
                let h = h.unwrap();
                assert_eq!(h.pool(), d.pool);
                assert_eq!(check(h.as_slice(), want), None, "frame {want}: byte differs");
                // A second hold through the descriptor alone (resolve opens the pool lazily).
                assert!(ns.resolve(&d).unwrap().same_slot(&h));
                pools.push(d.pool.to_string());
            }
            println!("RESULT pools={}", pools.join(","));
        }
        // Claim `TB_N` slots (the class grows), report where, hold them until killed.
        "hold" => {
            let n: usize = std::env::var("TB_N").unwrap().parse().unwrap();
            let held: Vec<SlotRef> = (0..n).map(|i| ns.try_acquire(100 + i as u64).unwrap().freeze()).collect();
            let grown = held.iter().filter(|r| r.pool() != 0).count();
            println!("READY grown={grown}");
            std::thread::sleep(Duration::from_secs(60));
            drop(held);
        }
        // At the instant `TB_START_AT` (monotonic ns), claim `TB_N` slots at once, then hold.
        "race" => {
            let n: usize = std::env::var("TB_N").unwrap().parse().unwrap();
            let at: u64 = std::env::var("TB_START_AT").unwrap().parse().unwrap();
            while futex::monotonic_ns() < at {
                std::hint::spin_loop();
            }
            let held: Vec<SlotMut> = (0..n).map(|_| ns.try_acquire(1).unwrap()).collect();
            println!("READY pools={}", held.iter().map(|m| m.pool().to_string()).collect::<Vec<_>>().join(","));
            std::thread::sleep(Duration::from_secs(60));
            drop(held);
        }
        other => panic!("unknown role {other}"),
    }
}

fn peer(role: &str, dir: &Path, env: &[(&str, String)]) -> Peer {
    let mut c = kit::role_child(role, dir);
    c.envs(env.iter().map(|(k, v)| (k, v))).stderr(Stdio::piped());
    Peer::spawn(c)
}

// ---- the parent side ---------------------------------------------------------------------------

#[test]
fn full_class_grows_a_segment_and_claims_succeed() {
    let t = TempNs::new("grow-basic");
    let ns = open(&t.dir, 3);
    let mut held: Vec<SlotMut> = (0..4).map(|_| ns.try_acquire(4096).unwrap()).collect();
    assert!(held.iter().all(|m| m.pool() == 0));
    assert_eq!(segments(&t.dir), [0]);
    // Full: the fifth claim grows the class into the highest pool id.
    held.push(ns.try_acquire(4096).unwrap());
    assert_eq!(held[4].pool(), 15);
    assert_eq!(held[4].capacity(), 4096);
    assert_eq!(segments(&t.dir), [0, 15]);
    held.extend((0..3).map(|_| ns.try_acquire(1).unwrap()));
    assert_eq!(segments(&t.dir), [0, 15], "a segment with free slots is used before growing");
    held.push(ns.try_acquire(1).unwrap());
    assert_eq!((held[8].pool(), segments(&t.dir)), (14, vec![0, 14, 15]));
    // Every payload is its own: write all, read all back.
    for (i, m) in held.iter_mut().enumerate() {
        fill(m.as_mut_slice(), i as u64);
    }
    let frozen: Vec<SlotRef> = held.into_iter().map(SlotMut::freeze).collect();
    for (i, r) in frozen.iter().enumerate() {
        assert_eq!(check(r.as_slice(), i as u64), None);
    }
    // The report shows the added segments as segments of pool 0's class.
    let st = ns.stats();
    let grows: Vec<(u8, Option<u8>, u32)> = st.pools.iter().map(|p| (p.id, p.grows, p.used)).collect();
    assert_eq!(grows, [(0, None, 4), (14, Some(0), 1), (15, Some(0), 4)]);
    assert_eq!((st.pool_bytes, st.max_bytes), (3 * SEGMENT, 3 * SEGMENT));
    // Claims prefer the first segments: a slot freed in pool 0 is the next one claimed.
    let mut frozen = frozen;
    let first_in_0 = frozen.iter().position(|r| r.pool() == 0).unwrap();
    frozen.remove(first_in_0);
    assert_eq!(ns.try_acquire(1).unwrap().pool(), 0);
    drop(frozen);
    assert_eq!(kit::all_slots_free(&t.dir), Ok(12));
}

#[test]
fn cap_refuses_growth_naming_the_cap_and_the_holders() {
    let t = TempNs::new("grow-cap");
    let ns = open(&t.dir, 2);
    let mine: Vec<SlotMut> = (0..5).map(|_| ns.try_acquire(1).unwrap()).collect();
    // A topic pins three more, in both segments.
    let topic = ns.topic("cam.rgb", &TopicOptions { depth: 4, ..Default::default() }).unwrap();
    let p = topic.publisher();
    let _unread = topic.subscriber().unwrap();
    for _ in 0..3 {
        let r = ns.try_acquire(1).unwrap().freeze();
        p.send(r.descriptor(), &r).unwrap();
    }
    let e = ns.try_acquire(1).unwrap_err();
    let pid = std::process::id();
    match &e {
        AcquireError::Exhausted { pool: 0, slots: 8, segments, holders, refused: Some(GrowthRefused::Cap { cap, used, segment }), .. } => {
            assert_eq!(segments, &[0, 15]);
            assert_eq!((*cap, *used, *segment), (2 * SEGMENT, 2 * SEGMENT, SEGMENT));
            let mut h: Vec<(u32, usize)> = holders.iter().map(|h| (h.pid, h.slots)).collect();
            h.sort();
            assert_eq!(h, [(0, 3), (pid, 5)], "{holders:?}");
        }
        e => panic!("unexpected {e:?}"),
    }
    let text = e.to_string();
    for want in [&format!("pid {pid}") as &str, "(5 slots)", "topic cam.rgb (3 slots)", &format!("cap of {} B", 2 * SEGMENT), "pools 0, 15", "in 2 segments"] {
        assert!(text.contains(want), "{want:?} missing in: {text}");
    }
    assert_eq!(segments(&t.dir), [0, 15], "the cap holds");
    // The bounded wait says the same, after its timeout.
    let start = Instant::now();
    let e = ns.acquire_timeout(1, Duration::from_millis(120)).unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(120));
    assert!(matches!(&e, AcquireError::Timeout { pool: 0, refused: Some(GrowthRefused::Cap { .. }), .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains(&format!("cap of {} B", 2 * SEGMENT)) && text.contains(&format!("pid {pid}")) && text.contains("topic cam.rgb"), "{text}");
    drop((mine, p, _unread, topic));
    assert_eq!(kit::all_slots_free(&t.dir), Ok(8));
}

#[test]
fn growth_off_says_so() {
    let t = TempNs::new("grow-off");
    let ns = Namespace::open_dir(&t.dir, PoolConfig::parse(CLASSES).unwrap()).unwrap();
    let held: Vec<SlotMut> = (0..4).map(|_| ns.try_acquire(1).unwrap()).collect();
    let e = ns.try_acquire(1).unwrap_err();
    assert!(matches!(&e, AcquireError::Exhausted { refused: Some(GrowthRefused::Cap { cap: 0, .. }), .. }), "{e:?}");
    assert!(e.to_string().contains("growth is off"), "{e}");
    assert_eq!(segments(&t.dir), [0]);
    drop(held);
}

#[test]
fn acquire_timeout_wakes_on_a_free_in_a_grown_segment() {
    let t = TempNs::new("grow-wait");
    let ns = open(&t.dir, 2);
    let mut held: Vec<SlotRef> = (0..8).map(|_| ns.try_acquire(1).unwrap().freeze()).collect();
    let one = held.pop().unwrap();
    assert_eq!(one.pool(), 15);
    let freer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        drop(one);
    });
    let start = Instant::now();
    let m = ns.acquire_timeout(1, Duration::from_secs(5)).unwrap();
    assert_eq!(m.pool(), 15);
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    freer.join().unwrap();
    drop((m, held));
    assert_eq!(kit::all_slots_free(&t.dir), Ok(8));
}

#[test]
fn another_process_resolves_descriptors_of_a_grown_segment() {
    const N: u64 = 8;
    let t = TempNs::new("grow-xp");
    let ns = open(&t.dir, 3);
    let topic = ns.topic("frames", &TopicOptions { depth: 16, policy: Policy::Reliable, ..Default::default() }).unwrap();
    let mut p = topic.publisher();
    p.set_timeout(Duration::from_secs(20));
    // The child opens only pool 0 before the class grows: pool 15 is new to it.
    let mut child = peer("receive", &t.dir, &[("TB_N", N.to_string())]);
    child.line("READY");
    // Hold pool 0 full, so every frame goes into grown segments.
    let hog: Vec<SlotMut> = (0..4).map(|_| ns.try_acquire(1).unwrap()).collect();
    let (mut sent, mut kept) = (Vec::new(), Vec::new());
    for id in 0..N {
        let mut m = ns.try_acquire(4000).unwrap();
        fill(m.as_mut_slice(), id);
        let r = m.freeze();
        sent.push(r.pool().to_string());
        p.send(Descriptor { timestamp_ns: id, ..r.descriptor() }, &r).unwrap();
        kept.push(r); // so the next frame needs another slot, whatever the child has read
    }
    assert_eq!(sent, ["15", "15", "15", "15", "14", "14", "14", "14"]);
    let r = child.finish();
    assert!(r.contains(&format!("pools={}", sent.join(","))), "{r}");
    drop((hog, kept, p, topic));
    ns.reap();
    assert_eq!(kit::all_slots_free(&t.dir), Ok(12));
}

#[test]
fn sigkilled_holder_of_grown_slots_is_reaped() {
    let t = TempNs::new("grow-kill");
    let ns = open(&t.dir, 4);
    let mut child = peer("hold", &t.dir, &[("TB_N", "7".into())]);
    assert_eq!(field(&child.line("READY"), "grown"), 3);
    assert_eq!(segments(&t.dir), [0, 15]);
    assert_eq!(ns.stats().used_slots(), 7);
    child.kill9();
    assert_eq!(ns.reap(), ReapReport { processes: 1, slots_freed: 7 });
    assert_eq!(kit::all_slots_free(&t.dir), Ok(8));
    // The dead holder's slots serve again, in both segments, without growing further.
    let again: Vec<SlotMut> = (0..8).map(|_| ns.try_acquire(1).unwrap()).collect();
    assert_eq!(segments(&t.dir), [0, 15]);
    drop(again);
    // A claim that finds the class full of a dead holder's slots reaps before it grows.
    let mut child = peer("hold", &t.dir, &[("TB_N", "8".into())]);
    child.line("READY");
    child.kill9();
    let m = ns.try_acquire(1).unwrap();
    assert_eq!(segments(&t.dir), [0, 15], "reaped, not grown");
    drop(m);
    assert_eq!(kit::all_slots_free(&t.dir), Ok(8));
}

#[test]
fn concurrent_growth_by_two_processes_adds_segments_only_for_need() {
    // Rounds: (slots each child claims at once) -> the segments the class needs beyond pool 0
    // (full when they start). 2+2 fit one segment; 3+3 need two; 4+4 need two exactly.
    for (round, (n, grown)) in [(2, 1), (3, 2), (4, 2), (2, 1), (3, 2)].into_iter().enumerate() {
        let t = TempNs::new(&format!("grow-race-{round}"));
        let ns = open(&t.dir, 8);
        let hog: Vec<SlotMut> = (0..4).map(|_| ns.try_acquire(1).unwrap()).collect();
        let at = futex::monotonic_ns() + 300_000_000;
        let env = [("TB_N", n.to_string()), ("TB_START_AT", at.to_string())];
        let mut a = peer("race", &t.dir, &env);
        let mut b = peer("race", &t.dir, &env);
        let (la, lb) = (a.line("READY"), b.line("READY"));
        let want: Vec<u8> = std::iter::once(0).chain((16 - grown..16).map(|i| i as u8)).collect();
        assert_eq!(segments(&t.dir), want, "round {round}: {la} / {lb}");
        let st = ns.stats();
        assert_eq!(st.used_slots(), 4 + 2 * n as u32, "round {round}: {st:?}");
        a.kill9();
        b.kill9();
        assert_eq!(ns.reap().slots_freed, 2 * n as u32);
        drop(hog);
        assert_eq!(kit::all_slots_free(&t.dir), Ok(4 * (1 + grown as u32)), "round {round}");
    }
}
