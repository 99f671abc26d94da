//! Ring liveness with real processes: every wait on another process has a bound.
//!
//! - a stopped (SIGSTOP) process named by a topic's writer lock makes sends fail with
//!   `SendError::Locked` naming its pid within their timeout, using little CPU; closing the
//!   topic and `leave` return; the lock is taken over once the process dies;
//! - scribbled lock words that name nobody alive as a writer are taken over at once;
//! - a receiver SIGKILLed in its futex sleep does not make later sends pay a futex_wake;
//! - a scribbled topic `holder` index naming a process's or another topic's registry entry is
//!   not used: that entry is not freed and its bits are not cleared.
//!
//! The test binary re-executes itself (`--exact child_entry --ignored`) with `TB_CHILD_ROLE` and
//! `TB_CHILD_DIR` (`tensorbus_testkit::role_child`, `Peer`); children report through stdout
//! lines (`READY key=value ...`). Every operation that once hung runs on a thread with a
//! deadline, so a regression fails instead of hanging.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tensorbus_pool::pool::Pool;
use tensorbus_pool::registry::{self, Registry};
use tensorbus_pool::ring::{RingSeg, TopicHeader};
use tensorbus_pool::*;
use tensorbus_testkit::{self as kit, field, thread_cpu, Peer, TempNs};

// ---- plumbing ----------------------------------------------------------------------------------

fn spawn(role: &str, dir: &Path) -> Peer {
    Peer::spawn(kit::role_child(role, dir))
}

/// Run `f` on a thread; its result with the wall and CPU time it took. A run that has not
/// returned after `limit` is a hang: the test fails (the thread is left behind).
fn bounded<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> (T, Duration, Duration) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (c0, t0) = (thread_cpu(), Instant::now());
        let r = f();
        let _ = tx.send((r, t0.elapsed(), thread_cpu() - c0));
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| panic!("{what} did not return within {limit:?}: it hangs"))
}

fn header(t: &Topic) -> &TopicHeader {
    t.ring().header()
}

/// The lock word a writer with holder index `idx` and `pid` stores.
fn lock_word(idx: u64, pid: u32) -> u64 {
    ((idx + 1) << 32) | pid as u64
}

fn reliable() -> TopicOptions {
    TopicOptions { policy: Policy::Reliable, ..Default::default() }
}

fn send_payload(ns: &Namespace, p: &Publisher) -> SlotRef {
    let mut m = ns.try_acquire(100).unwrap();
    m.as_mut_slice()[0] = 1;
    let r = m.freeze();
    p.send(r.descriptor(), &r).unwrap();
    r
}

// ---- the child side ----------------------------------------------------------------------------

#[test]
#[ignore = "child process entry point, run by the ring liveness tests"]
fn child_entry() {
    let Some((role, dir)) = kit::child_role() else { return };
    let ns = kit::open(&dir);
    let me = format!("idx={} pid={}", ns.holder_index(), std::process::id());
    match role.as_str() {
        // Registered, then idle: the parent stops it and names it in a lock word.
        "idle" => {
            println!("READY {me}");
            std::thread::sleep(Duration::from_secs(60));
        }
        // A receiver asleep in a blocking receive: the parent kills it there.
        "sleeper" => {
            let mut s = ns.topic("w", &TopicOptions::default()).unwrap().subscriber().unwrap();
            while s.try_recv().unwrap().is_some() {} // a new subscriber starts at the newest entry
            println!("READY {me}");
            let got = s.recv_timeout(Duration::from_secs(60)).unwrap();
            println!("RESULT got={}", got.is_some() as u8);
        }
        // Holds one slot.
        "holder" => {
            let r = ns.try_acquire(100).unwrap().freeze();
            println!("READY {me} slot={}", r.slot());
            std::thread::sleep(Duration::from_secs(60));
        }
        other => panic!("unknown role {other}"),
    }
}

// ---- a live holder that does not let go ------------------------------------------------------

#[test]
fn stopped_lock_holder_bounds_sends_and_close() {
    let t = TempNs::new("live-stopped");
    let ns = t.open();
    let mut peer = spawn("idle", &t.dir);
    let idx = field(&peer.line("READY"), "idx");
    let pid = peer.pid();
    peer.signal(libc::SIGSTOP);
    let rel = ns.topic("r", &reliable()).unwrap();
    let lat = ns.topic("l", &TopicOptions::default()).unwrap();
    header(&rel).lock.store(lock_word(idx, pid), Ordering::SeqCst);
    header(&lat).lock.store(lock_word(idx, pid), Ordering::SeqCst);

    // A reliable send honours its timeout, names the holder and sleeps while it waits.
    let rel2 = rel.clone();
    let (r, wall, cpu) = bounded(Duration::from_secs(10), "a reliable send on a stuck lock", move || {
        let mut p = rel2.publisher();
        p.set_timeout(Duration::from_millis(300));
        p.send_inline(b"x")
    });
    match r {
        Err(SendError::Locked { pid: p, ref topic }) => assert!(p == pid && topic == "r", "{r:?}"),
        other => panic!("expected Locked by {pid}: {other:?}"),
    }
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains(&pid.to_string()), "{msg}");
    assert!(wall >= Duration::from_millis(250) && wall < Duration::from_secs(1), "{wall:?}");
    assert!(cpu < wall / 2, "waited {wall:?} using {cpu:?} of CPU");

    // A latest send is bounded by its publisher's timeout (default 1 s).
    let lat2 = lat.clone();
    let (r, wall, cpu) = bounded(Duration::from_secs(10), "a latest send on a stuck lock", move || lat2.publisher().send_inline(b"x"));
    assert!(matches!(r, Err(SendError::Locked { pid: p, .. }) if p == pid), "{r:?}");
    assert!(wall >= Duration::from_millis(900) && wall < Duration::from_millis(1500), "{wall:?}");
    assert!(cpu < wall / 2, "waited {wall:?} using {cpu:?} of CPU");

    // Closing the topic (the last opener dissolves it under the lock) gives up in bounded time.
    let (_, wall, _) = bounded(Duration::from_secs(10), "dropping a topic with a stuck lock", move || drop(lat));
    assert!(wall < Duration::from_millis(1500), "{wall:?}");
    // So does a reap (it leaves the orphaned topic alone while a live process holds the lock).
    let ns2 = ns.clone();
    let (_, wall, _) = bounded(Duration::from_secs(10), "a reap with a stuck lock", move || ns2.reap());
    assert!(wall < Duration::from_millis(1500), "{wall:?}");

    // Once the holder dies, the next reap takes its lock over.
    peer.signal(libc::SIGCONT);
    peer.kill9();
    ns.reap();
    for name in ["l", "r"] {
        let ring = RingSeg::open_existing(&t.dir, name).unwrap();
        assert_eq!(ring.header().lock.load(Ordering::SeqCst), 0, "topic {name}");
    }
    let p = ns.topic("l", &TopicOptions::default()).unwrap().publisher();
    p.send_inline(b"after").unwrap();
}

#[test]
fn leave_with_a_stuck_lock_returns_and_a_later_reap_cleans_up() {
    let t = TempNs::new("live-leave");
    let ns = t.open();
    let mut peer = spawn("idle", &t.dir);
    let idx = field(&peer.line("READY"), "idx");
    let pid = peer.pid();
    peer.signal(libc::SIGSTOP);
    let topic = ns.topic("a", &TopicOptions::default()).unwrap();
    let hold = send_payload(&ns, &topic.publisher());
    drop(hold);
    header(&topic).lock.store(lock_word(idx, pid), Ordering::SeqCst);
    let ns2 = ns.clone();
    let (_, wall, cpu) = bounded(Duration::from_secs(10), "leave with a stuck lock", move || ns2.leave());
    assert!(wall < Duration::from_millis(1500), "{wall:?}");
    assert!(cpu < wall / 2 + Duration::from_millis(20), "waited {wall:?} using {cpu:?} of CPU");
    drop((topic, ns));

    // The holder dies; a newcomer's reap takes the lock over and dissolves the orphaned topic,
    // whose reference was the last on the slot.
    peer.signal(libc::SIGCONT);
    peer.kill9();
    let ns = t.open();
    let ring = RingSeg::open_existing(&t.dir, "a").unwrap();
    assert_eq!(ring.header().lock.load(Ordering::SeqCst), 0);
    assert_eq!(ring.header().holder.load(Ordering::SeqCst), 0);
    kit::all_slots_free(&t.dir).unwrap();
    drop(ns);
}

// ---- scribbled lock words ------------------------------------------------------------------------

#[test]
fn scribbled_lock_words_are_taken_over() {
    let t = TempNs::new("live-scribble-lock");
    let ns = t.open();
    let topic = ns.topic("s", &TopicOptions::default()).unwrap();
    let p = topic.publisher();
    drop(send_payload(&ns, &p)); // the topic gets a registry entry of its own
    let me = std::process::id();
    let topic_idx = header(&topic).holder.load(Ordering::SeqCst) as u64 - 1;
    let mut unrelated = Command::new("sleep").arg("30").spawn().unwrap();
    let words = [
        ("holder index past the registry", (registry::MAX_HOLDERS as u64 + 1) << 32 | me as u64),
        ("our entry with the pid of a live unrelated process", lock_word(ns.holder_index() as u64, unrelated.id())),
        ("a topic's registry entry with its (live) claimer's pid", lock_word(topic_idx, me)),
    ];
    for (what, w) in words {
        header(&topic).lock.store(w, Ordering::SeqCst);
        let p = p.clone();
        let (r, wall, _) = bounded(Duration::from_secs(10), what, move || p.send_inline(b"x"));
        r.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(wall < Duration::from_secs(1), "{what}: {wall:?}");
        assert_eq!(header(&topic).lock.load(Ordering::SeqCst), 0, "{what}");
    }
    let _ = unrelated.kill();
    let _ = unrelated.wait();
}

// ---- killed sleepers -----------------------------------------------------------------------------

#[test]
fn killed_sleeper_leaves_no_permanent_waiter() {
    let t = TempNs::new("live-sleeper");
    let ns = t.open();
    let topic = ns.topic("w", &TopicOptions::default()).unwrap();
    let mut peer = spawn("sleeper", &t.dir);
    let bit = 1u64 << field(&peer.line("READY"), "idx");
    let h = header(&topic);
    let t0 = Instant::now();
    while h.sleepers.load(Ordering::SeqCst) & bit == 0 {
        assert!(t0.elapsed() < Duration::from_secs(10), "the child never went to sleep");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50)); // let it reach the futex
    peer.kill9();
    // No reap runs: the sends themselves must heal the registration.
    let p = topic.publisher();
    p.send_inline(b"first").unwrap();
    let wakes = h.wakes.load(Ordering::SeqCst);
    assert!(wakes <= 2, "the first send after the death: {wakes} futex wakes");
    for i in 0..1000u32 {
        p.send_inline(&i.to_le_bytes()).unwrap();
    }
    assert_eq!(h.sleepers.load(Ordering::SeqCst), 0, "a dead sleeper's bit survived");
    assert_eq!(h.wakes.load(Ordering::SeqCst), wakes, "sends after the first still called futex_wake");

    // Blocking receives still work, in this process and across processes.
    let mut s = topic.subscriber().unwrap();
    while s.try_recv().unwrap().is_some() {}
    let p2 = p.clone();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        p2.send_inline(b"wake").unwrap();
    });
    let got = s.recv_timeout(Duration::from_secs(10)).unwrap().expect("a message");
    assert_eq!(got.inline(), Some(&b"wake"[..]));
    sender.join().unwrap();
    let mut peer = spawn("sleeper", &t.dir);
    let bit = 1u64 << field(&peer.line("READY"), "idx");
    let t0 = Instant::now();
    while h.sleepers.load(Ordering::SeqCst) & bit == 0 {
        assert!(t0.elapsed() < Duration::from_secs(10), "the second child never went to sleep");
        std::thread::sleep(Duration::from_millis(5));
    }
    p.send_inline(b"to the child").unwrap();
    assert_eq!(field(&peer.line("RESULT"), "got"), 1);
    assert!(peer.child.wait().unwrap().success());
}

// ---- scribbled topic holder index --------------------------------------------------------------

#[test]
fn scribbled_topic_holder_naming_another_entry_is_not_used() {
    let t = TempNs::new("live-holder");
    let ns = t.open();
    let mut peer = spawn("holder", &t.dir);
    let ready = peer.line("READY");
    let (child_idx, child_slot) = (field(&ready, "idx") as u32, field(&ready, "slot") as u32);
    let child_pid = peer.pid();
    // Topic b holds its newest frame with its own holder bit.
    let b = ns.topic("b", &TopicOptions::default()).unwrap();
    let b_frame = send_payload(&ns, &b.publisher());
    let b_idx = header(&b).holder.load(Ordering::SeqCst) - 1;
    let reg = Registry::open(&t.dir).unwrap();
    let pool = Pool::open(&t.dir, 0).unwrap();
    let has_bit = |slot: u32, bit: u32| pool.holds(slot, bit);
    assert!(has_bit(child_slot, child_idx) && has_bit(b_frame.slot(), b_idx));

    // Topics whose `holder` is scribbled to name the child's process entry, and b's entry; each
    // sends payloads (which must not take that bit as its own) and is closed (dissolved).
    for (name, victim) in [("a1", child_idx), ("a2", b_idx)] {
        let a = ns.topic(name, &TopicOptions::default()).unwrap();
        let p = a.publisher();
        header(&a).holder.store(victim + 1, Ordering::SeqCst);
        for _ in 0..6 {
            drop(send_payload(&ns, &p));
        }
        assert_ne!(header(&a).holder.load(Ordering::SeqCst), victim + 1, "{name}: the scribbled index was kept");
        header(&a).holder.store(victim + 1, Ordering::SeqCst);
        drop((p, a));
    }
    let c = reg.snapshot(child_idx);
    assert!(c.state == registry::ST_ACTIVE && c.kind == registry::KIND_PROCESS && c.pid == child_pid, "child entry: {c:?}");
    assert!(has_bit(child_slot, child_idx), "the child's hold was cleared");
    let e = reg.snapshot(b_idx);
    assert!(e.state == registry::ST_ACTIVE && e.kind == registry::KIND_TOPIC && e.name == "b", "b's entry: {e:?}");
    assert!(has_bit(b_frame.slot(), b_idx), "topic b's reference was cleared");
    // b still works and still holds its frame for a late joiner.
    drop(b_frame);
    let (d, hold) = b.latest().expect("b's newest frame").into_parts();
    assert!(hold.is_some(), "{d:?}");
    peer.kill9();
}
