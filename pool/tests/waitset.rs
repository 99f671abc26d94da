//! Wait-sets with real threads and processes: one wait on several topics, deadlines, timeouts,
//! interrupts, level and edge readiness, the futex_waitv fallback, and a waiter SIGKILLed in its
//! sleep (nothing stays stuck: later sends stop paying for it, other waiters still wake, every
//! slot is reclaimed).
//!
//! Children are this test binary re-executed (`tensorbus_testkit::role_child`); they report on
//! stdout lines (`READY ...`, `RESULT ...`).

use std::path::Path;
use std::time::{Duration, Instant};
use tensorbus_pool::ring::MAX_WATCHED;
use tensorbus_pool::*;
use tensorbus_testkit::{self as kit, field, thread_cpu, Peer, TempNs};

fn spawn(role: &str, dir: &Path) -> Peer {
    Peer::spawn(kit::role_child(role, dir))
}

fn topic(ns: &Namespace, name: &str) -> Topic {
    ns.topic(name, &TopicOptions::default()).unwrap()
}

/// Publish one inline message on `name` after `after`, from a thread.
fn send_later(t: &Topic, after: Duration) -> std::thread::JoinHandle<()> {
    let p = t.publisher();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        p.send_inline(b"hello").unwrap();
    })
}

#[test]
fn one_wait_covers_several_topics() {
    let tmp = TempNs::new("ws_several");
    let ns = tmp.open();
    let topics: Vec<Topic> = (0..5).map(|i| topic(&ns, &format!("ws.t{i}"))).collect();
    let mut subs: Vec<Subscriber> = topics.iter().map(|t| t.subscriber().unwrap()).collect();
    let mut ws = WaitSet::new();
    let keys: Vec<usize> = subs.iter_mut().map(|s| ws.attach(s.trigger().unwrap()).unwrap()).collect();
    assert!(ws.wait(Duration::ZERO).is_empty(), "nothing published yet");
    let t0 = Instant::now();
    let h = send_later(&topics[3], Duration::from_millis(50));
    let events = ws.wait(Duration::from_secs(5)).to_vec();
    let waited = t0.elapsed();
    h.join().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0].key, events[0].kind), (keys[3], EventKind::Ready));
    assert!(waited >= Duration::from_millis(45) && waited < Duration::from_secs(2), "woke after {waited:?}");
    assert!(events[0].at <= Instant::now() && events[0].at >= t0);
    // Level-triggered: still ready until the subscriber reads.
    assert_eq!(ws.wait(Duration::ZERO).len(), 1);
    assert!(subs[3].try_recv().unwrap().is_some());
    assert!(ws.wait(Duration::from_millis(20)).is_empty(), "read: not ready any more");
}

#[test]
fn timeout_returns_nothing_and_sleeps() {
    let tmp = TempNs::new("ws_timeout");
    let ns = tmp.open();
    let t = topic(&ns, "ws.quiet");
    let mut s = t.subscriber().unwrap();
    let mut ws = WaitSet::new();
    ws.attach(s.trigger().unwrap()).unwrap();
    let (c0, t0) = (thread_cpu(), Instant::now());
    for _ in 0..3 {
        assert!(ws.wait(Duration::from_millis(100)).is_empty());
    }
    let (wall, cpu) = (t0.elapsed(), thread_cpu() - c0);
    assert!(wall >= Duration::from_millis(295), "returned early: {wall:?}");
    assert!(cpu < Duration::from_millis(30), "an idle wait burnt {cpu:?} of CPU in {wall:?}");
}

#[test]
fn deadline_is_an_event_of_its_own() {
    let tmp = TempNs::new("ws_deadline");
    let ns = tmp.open();
    let cam = topic(&ns, "ws.camera");
    let other = topic(&ns, "ws.other");
    let mut sc = cam.subscriber().unwrap();
    let mut so = other.subscriber().unwrap();
    let mut ws = WaitSet::new();
    let kc = ws.attach_deadline(sc.trigger().unwrap(), Duration::from_millis(80)).unwrap();
    ws.attach(so.trigger().unwrap()).unwrap();
    let t0 = Instant::now();
    let ev = ws.wait(Duration::from_secs(5)).to_vec();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0].key, ev[0].kind), (kc, EventKind::Deadline));
    let e = t0.elapsed();
    assert!(e >= Duration::from_millis(75) && e < Duration::from_secs(2), "deadline reported after {e:?}");
    // A message resets the period: the next wait reports it as ready, not late.
    cam.publisher().send_inline(b"frame").unwrap();
    let ev = ws.wait(Duration::from_secs(5)).to_vec();
    assert_eq!(ev.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventKind::Ready]);
    sc.try_recv().unwrap().unwrap();
    // Silent again: one deadline per silent period.
    let t1 = Instant::now();
    let ev = ws.wait(Duration::from_secs(5)).to_vec();
    assert_eq!(ev.iter().map(|e| (e.key, e.kind)).collect::<Vec<_>>(), vec![(kc, EventKind::Deadline)]);
    assert!(t1.elapsed() >= Duration::from_millis(60));
}

#[test]
fn interrupt_ends_a_wait_from_another_thread() {
    let tmp = TempNs::new("ws_interrupt");
    let ns = tmp.open();
    let t = topic(&ns, "ws.none");
    let mut s = t.subscriber().unwrap();
    let mut ws = WaitSet::new();
    ws.attach(s.trigger().unwrap()).unwrap();
    let irq = ws.interrupter();
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        irq.interrupt();
    });
    let t0 = Instant::now();
    assert!(ws.wait(Duration::from_secs(10)).is_empty());
    assert!(t0.elapsed() < Duration::from_secs(2), "interrupt took {:?}", t0.elapsed());
    h.join().unwrap();
    // An empty wait-set sleeps on its interrupt word alone.
    let mut empty = WaitSet::new();
    let irq = empty.interrupter();
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        irq.interrupt();
    });
    let t0 = Instant::now();
    assert!(empty.wait(Duration::from_secs(10)).is_empty());
    assert!(t0.elapsed() < Duration::from_secs(2));
    h.join().unwrap();
}

#[test]
fn topic_triggers_are_edge_and_settle_makes_subscribers_edge() {
    let tmp = TempNs::new("ws_edge");
    let ns = tmp.open();
    let t = topic(&ns, "ws.edge");
    let p = t.publisher();
    let mut s = t.subscriber().unwrap();
    let mut ws = WaitSet::new();
    let kt = ws.attach(t.trigger()).unwrap();
    let ks = ws.attach(s.trigger().unwrap()).unwrap();
    p.send_inline(b"1").unwrap();
    let keys = |ev: &[Event]| ev.iter().map(|e| e.key).collect::<Vec<_>>();
    assert_eq!(keys(ws.wait(Duration::from_secs(1))), vec![kt, ks]);
    // The topic trigger reported that batch; the subscriber still has it unread.
    assert_eq!(keys(ws.wait(Duration::ZERO)), vec![ks]);
    ws.settle(ks);
    assert!(ws.wait(Duration::ZERO).is_empty(), "settled: unread but seen");
    p.send_inline(b"2").unwrap();
    assert_eq!(keys(ws.wait(Duration::from_secs(1))), vec![kt, ks]);
    ws.detach(kt);
    assert_eq!(keys(ws.wait(Duration::ZERO)), vec![ks]);
    assert_eq!(ws.len(), 1);
}

#[test]
fn too_many_triggers_is_a_clear_error() {
    let tmp = TempNs::new("ws_many");
    let ns = tmp.open();
    let t = topic(&ns, "ws.many");
    let mut ws = WaitSet::new();
    for _ in 0..MAX_WATCHED {
        ws.attach(t.trigger()).unwrap();
    }
    let e = ws.attach(t.trigger()).unwrap_err();
    assert!(matches!(e, TopicError::TooManyWatched { limit, .. } if limit == MAX_WATCHED), "{e}");
    assert!(e.to_string().contains("at most 127"), "{e}");
}

#[test]
fn an_idle_subscriber_does_not_spin() {
    let tmp = TempNs::new("ws_idle_sub");
    let ns = tmp.open();
    let t = topic(&ns, "ws.idle");
    let p = t.publisher();
    let mut s = t.subscriber().unwrap();
    s.set_spin_window(Duration::from_millis(5));
    p.send_inline(b"x").unwrap();
    assert!(s.recv_timeout(Duration::from_millis(10)).unwrap().is_some());
    // The first wait after a message spins its 5 ms window; the later ones sleep at once.
    let (c0, t0) = (thread_cpu(), Instant::now());
    for _ in 0..4 {
        assert!(s.recv_timeout(Duration::from_millis(50)).unwrap().is_none());
    }
    let cpu = thread_cpu() - c0;
    assert!(t0.elapsed() >= Duration::from_millis(195));
    assert!(cpu < Duration::from_millis(25), "idle receives burnt {cpu:?}");
}

#[test]
fn a_waiter_in_another_process_wakes_on_a_send() {
    let tmp = TempNs::new("ws_xproc");
    let ns = tmp.open();
    let topics = [topic(&ns, "ws.a"), topic(&ns, "ws.b")];
    let mut child = spawn("wait_two", &tmp.dir);
    let line = child.line("READY");
    assert!(line.contains("futex_waitv="), "{line}");
    std::thread::sleep(Duration::from_millis(50)); // let it fall asleep
    topics[1].publisher().send_inline(b"wake").unwrap();
    let woke = child.finish();
    assert_eq!(field(&woke, "key"), 1, "{woke}");
    assert!(field(&woke, "ms") < 2000, "{woke}");
}

#[test]
fn the_poll_fallback_still_wakes() {
    let tmp = TempNs::new("ws_fallback");
    let ns = tmp.open();
    let topics = [topic(&ns, "ws.a"), topic(&ns, "ws.b")];
    let mut cmd = kit::role_child("wait_two", &tmp.dir);
    cmd.env("TENSORBUS_NO_FUTEX_WAITV", "1");
    let mut child = Peer::spawn(cmd);
    let line = child.line("READY");
    assert!(line.contains("futex_waitv=0"), "{line}");
    std::thread::sleep(Duration::from_millis(50));
    topics[1].publisher().send_inline(b"wake").unwrap();
    let woke = child.finish();
    assert_eq!(field(&woke, "key"), 1, "{woke}");
}

#[test]
fn a_waiter_killed_in_its_sleep_leaves_nothing_stuck() {
    let tmp = TempNs::with_classes("ws_kill", kit::CLASSES);
    let ns = tmp.open();
    let topics = [topic(&ns, "ws.a"), topic(&ns, "ws.b")];
    let mut child = spawn("wait_two", &tmp.dir);
    child.line("READY");
    std::thread::sleep(Duration::from_millis(100)); // asleep in futex_waitv, its bits set
    let h = topics[0].ring().header();
    assert_ne!(h.sleepers.load(std::sync::atomic::Ordering::SeqCst), 0, "the child registered as a sleeper");
    child.kill9();
    // The first sends find the dead sleeper's bit, wake nobody and clear it; later ones pay no
    // futex_wake (the `wakes` statistic stops growing).
    let p = topics[0].publisher();
    for _ in 0..3 {
        p.send_inline(b"x").unwrap();
    }
    let wakes = h.wakes.load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..100 {
        p.send_inline(b"x").unwrap();
    }
    assert_eq!(h.wakes.load(std::sync::atomic::Ordering::Relaxed), wakes, "sends keep paying for a dead sleeper");
    // A live waiter on the same topics still wakes.
    let mut sub = topics[1].subscriber().unwrap();
    let mut ws = WaitSet::new();
    ws.attach(sub.trigger().unwrap()).unwrap();
    let j = send_later(&topics[1], Duration::from_millis(30));
    assert_eq!(ws.wait(Duration::from_secs(5)).len(), 1);
    j.join().unwrap();
    drop((sub, ws, p, topics));
    ns.reap();
    kit::all_slots_free(&tmp.dir).unwrap();
}

#[test]
#[ignore = "child process entry point"]
fn child_entry() {
    let Some((role, dir)) = kit::child_role() else { return };
    let ns = kit::open(&dir);
    match role.as_str() {
        "wait_two" => {
            let topics = [topic(&ns, "ws.a"), topic(&ns, "ws.b")];
            let mut subs: Vec<Subscriber> = topics.iter().map(|t| t.subscriber().unwrap()).collect();
            let mut ws = WaitSet::new();
            for s in &mut subs {
                ws.attach(s.trigger().unwrap()).unwrap();
            }
            println!("READY futex_waitv={}", tensorbus_pool::futex::has_wait_any() as u8);
            let t0 = Instant::now();
            loop {
                let ev = ws.wait(Duration::from_secs(30)).to_vec();
                if let Some(e) = ev.first() {
                    println!("RESULT key={} ms={}", e.key, t0.elapsed().as_millis());
                    return;
                }
                if t0.elapsed() > Duration::from_secs(30) {
                    panic!("no wake in 30 s");
                }
            }
        }
        other => panic!("unknown role {other}"),
    }
}
