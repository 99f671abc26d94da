//! Scale (issue 15): a namespace with all 1,024 holders live on one frame, and thousands of
//! processes that come and go (each SIGKILLed while holding slots and a subscription) without
//! filling the registry or leaking a slot.
//!
//! Children are this test binary re-executed (`tensorbus_testkit::role_child`); they report
//! through stdout lines (`READY index=...`, `GOT`, `ERR ...`).
//!
//!   cargo test -p tensorbus-pool --test scale                      # 1,000 come-and-go processes
//!   cargo test -p tensorbus-pool --test scale -- --ignored --exact come_and_go_long   # 10,000 (make soak)

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tensorbus_pool::holders::{self, MAX_HOLDERS};
use tensorbus_pool::pool::Pool;
use tensorbus_pool::registry::{Registry, KIND_PROCESS, KIND_TOPIC};
use tensorbus_pool::*;
use tensorbus_testkit::{self as kit, field, Peer, TempNs};

const CLASSES: &str = "4Kx64";

fn spawn(role: &str, dir: &Path, d: &Descriptor) -> Peer {
    let mut c = kit::role_child(role, dir);
    c.env("TB_DESC", format!("{} {} {} {}", d.pool, d.slot, d.generation, d.len)).stderr(Stdio::piped());
    Peer::spawn(c)
}

fn frame_desc() -> Descriptor {
    let v: Vec<u64> = std::env::var("TB_DESC").unwrap().split(' ').map(|x| x.parse().unwrap()).collect();
    Descriptor { pool: v[0] as u8, slot: v[1] as u32, generation: v[2] as u32, len: v[3], ..Default::default() }
}

/// Holders of slot `d` names (bits in its holder set).
fn holders_of(dir: &Path, d: &Descriptor) -> u32 {
    holders::count(Pool::open(dir, d.pool).unwrap().holder_set(d.slot))
}

// ---- the child side ----------------------------------------------------------------------------

#[test]
#[ignore = "child process entry point, run by the scale tests"]
fn child_entry() {
    let Some((role, dir)) = kit::child_role() else { return };
    let ns = match Namespace::open_dir(&dir, PoolConfig::parse(CLASSES).unwrap()) {
        Ok(ns) => ns,
        Err(e) => {
            println!("ERR {e}");
            return;
        }
    };
    let frame = ns.resolve(&frame_desc()).unwrap();
    match role.as_str() {
        // Hold the frame, sleep on a topic until a message comes, report it, then wait to die.
        "hold" => {
            let wake = ns.topic("wake", &TopicOptions::default()).unwrap();
            let mut s = wake.subscriber().unwrap();
            println!("READY index={}", ns.holder_index());
            loop {
                if let Ok(Some(_)) = s.recv_timeout(Duration::from_secs(30)) {
                    println!("GOT");
                }
            }
        }
        // Hold the frame, a frame of its own, a subscription and a payload topic's reference,
        // then wait to be killed.
        "come" => {
            let mut m = ns.try_acquire(100).unwrap();
            m.as_mut_slice()[0] = 1;
            let own = m.freeze();
            let t = ns.topic("churn", &TopicOptions::default()).unwrap();
            let _s = t.subscriber().unwrap();
            t.publisher().send(own.descriptor(), &own).unwrap();
            println!("READY index={}", ns.holder_index());
            std::thread::sleep(Duration::from_secs(60));
            drop((frame, own));
        }
        other => panic!("unknown role {other}"),
    }
}

// ---- the parent side ---------------------------------------------------------------------------

#[test]
fn all_1024_holders_hold_one_frame_then_release_it_exactly() {
    let t = TempNs::with_classes("scale-1024", CLASSES);
    let ns = t.open();
    let mut m = ns.try_acquire(64).unwrap();
    m.as_mut_slice().fill(7);
    let frame = m.freeze();
    let d = frame.descriptor();
    const CHILDREN: usize = 24;
    let topics_n = MAX_HOLDERS - 1 - CHILDREN;
    // Payload topics first, so the children get the highest indices: words past the first of
    // every holder set, and the sleeper bit that holders 63 and up share.
    let topics: Vec<Topic> = (0..topics_n)
        .map(|k| {
            let topic = ns.topic(&format!("s{k}"), &TopicOptions { depth: 1, ..Default::default() }).unwrap();
            topic.publisher().send(d, &frame).unwrap();
            topic
        })
        .collect();
    assert_eq!(holders_of(&t.dir, &d), 1 + topics_n as u32);
    let wake = ns.topic("wake", &TopicOptions::default()).unwrap();
    let mut kids: Vec<Peer> = (0..CHILDREN).map(|_| spawn("hold", &t.dir, &d)).collect();
    for k in &mut kids {
        let i = field(&k.line("READY"), "index");
        assert!(i as usize >= topics_n, "child index {i}");
    }
    assert_eq!(holders_of(&t.dir, &d), MAX_HOLDERS as u32, "every holder's bit is in the frame's holder set");
    let snaps = Registry::open(&t.dir).unwrap().snapshots();
    assert_eq!(snaps.len(), MAX_HOLDERS);
    assert_eq!(snaps.iter().filter(|s| s.kind == KIND_TOPIC).count(), topics_n);

    // One more process: a clear error naming the limit and who holds the entries.
    let mut late = spawn("hold", &t.dir, &d);
    let err = late.line("ERR");
    assert!(err.contains(&format!("all {MAX_HOLDERS} are live")) && err.contains(&format!("{} processes, {topics_n} payload topics", CHILDREN + 1)), "{err}");

    // A send wakes every sleeping child, though they share one sleeper bit.
    wake.publisher().send_inline(b"go").unwrap();
    for k in &mut kids {
        k.line("GOT");
    }

    for k in &mut kids {
        k.kill9();
    }
    let r = ns.reap();
    assert_eq!((r.processes, r.slots_freed), (CHILDREN as u32, 0), "the topics and we still hold the frame");
    assert_eq!(holders_of(&t.dir, &d), 1 + topics_n as u32);
    drop(topics);
    assert_eq!(holders_of(&t.dir, &d), 1, "every topic dissolved and dropped its reference");
    let snaps = Registry::open(&t.dir).unwrap().snapshots();
    assert_eq!(snaps.iter().map(|s| s.kind).collect::<Vec<_>>(), vec![KIND_PROCESS], "{snaps:?}");
    drop((frame, wake));
    assert_eq!(kit::all_slots_free(&t.dir), Ok(64));
}

/// `n` processes join in batches of 32, each holding a shared frame, a frame of its own sent on
/// a payload topic, and a subscription, and are SIGKILLed. Nobody reaps but the newcomers'
/// own joins. Every process gets in, and at the end every slot is counted.
fn come_and_go(n: usize) {
    let t = TempNs::with_classes("scale-churn", CLASSES);
    let ns = t.open();
    let mut m = ns.try_acquire(64).unwrap();
    m.as_mut_slice().fill(3);
    let frame = m.freeze();
    let d = frame.descriptor();
    let mut max_index = 0;
    for _ in 0..n.div_ceil(32) {
        let mut batch: Vec<Peer> = (0..32).map(|_| spawn("come", &t.dir, &d)).collect();
        for k in &mut batch {
            max_index = max_index.max(field(&k.line("READY"), "index"));
        }
        for k in &mut batch {
            k.kill9();
        }
    }
    ns.reap();
    // The frame is ours alone again; everything the dead held is back.
    assert_eq!(holders_of(&t.dir, &d), 1);
    let snaps = Registry::open(&t.dir).unwrap().snapshots();
    assert!(snaps.iter().all(|s| s.kind == KIND_PROCESS && s.pid == std::process::id()), "{snaps:?}");
    eprintln!("come and go: {n} processes SIGKILLed, highest holder index used {max_index}");
    drop((frame, ns));
    assert_eq!(kit::all_slots_free(&t.dir), Ok(64));
}

#[test]
fn a_thousand_processes_come_and_go() {
    come_and_go(1_000);
}

#[test]
#[ignore = "the long variant (10,000 processes, minutes): make soak"]
fn come_and_go_long() {
    come_and_go(10_000);
}

#[test]
fn a_topic_takes_as_many_subscribers_as_it_was_created_for() {
    let t = TempNs::with_classes("scale-subs", CLASSES);
    let ns = t.open();
    // The default table: 64, and the 65th is an error naming the limit.
    let small = ns.topic("small", &TopicOptions::default()).unwrap();
    let subs: Vec<Subscriber> = (0..64).map(|_| small.subscriber().unwrap()).collect();
    let err = small.subscriber().unwrap_err().to_string();
    assert!(err.contains("limit 64") && err.contains("max_subscribers"), "{err}");
    drop(subs);
    // A topic made for 1,024: every one of them receives every message, payloads included.
    let big = ns.topic("big", &TopicOptions { max_subscribers: MAX_HOLDERS as u32, policy: Policy::Reliable, ..Default::default() }).unwrap();
    assert_eq!(big.ring().max_subscribers(), 1024);
    let mut subs: Vec<Subscriber> = (0..1024).map(|_| big.subscriber().unwrap()).collect();
    assert!(big.subscriber().is_err());
    let p = big.publisher();
    let mut m = ns.try_acquire(64).unwrap();
    m.as_mut_slice()[0] = 9;
    let frame = m.freeze();
    p.send(frame.descriptor(), &frame).unwrap();
    p.send_inline(b"two").unwrap();
    for s in &mut subs {
        let a = s.try_recv().unwrap().unwrap().into_parts();
        assert_eq!(a.1.unwrap().as_slice()[0], 9);
        assert_eq!(s.try_recv().unwrap().unwrap().inline(), Some(&b"two"[..]));
    }
    // Reliable: the slowest of the 1,024 bounds the writer (depth 4: four more fit, then wait).
    let mut p = p;
    p.set_timeout(Duration::from_millis(20));
    for _ in 0..4 {
        p.send_inline(b"x").unwrap();
    }
    subs.iter_mut().take(1023).for_each(|s| while let Ok(Some(_)) = s.try_recv() {});
    assert!(p.send_inline(b"y").is_err(), "the last subscriber has not read: no room");
    while let Ok(Some(_)) = subs[1023].try_recv() {}
    p.send_inline(b"y").unwrap();
    assert_eq!(big.ring().stats().subscribers, 1024);
    // A bad size is a clear error.
    let e = ns.topic("huge", &TopicOptions { max_subscribers: 1025, ..Default::default() }).unwrap_err().to_string();
    assert!(e.contains("max_subscribers must be 1..=1024"), "{e}");
    drop((subs, p, big, small, frame));
}
