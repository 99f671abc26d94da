//! Event nodes (`NodeConfig::on`): they tick when their triggers have new messages, mixed with
//! rate nodes in one scheduler, across processes, with budgets, deadlines and stats. Timing
//! bounds are loose (a loaded 2-core machine); the wake latency figures are in the bench.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tensorbus::msgs::CmdVel;
use tensorbus::{node_fn, NodeConfig, Publisher, Scheduler, SchedulerError, Subscriber};
use tensorbus_testkit::{self as kit, thread_cpu, TempNs, FACADE_CLASSES};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn cmd(i: u64) -> CmdVel {
    CmdVel { timestamp_ns: i, linear: i as f32, angular: 0.0 }
}

/// A thread that publishes `n` CmdVels on `name`, one every `every`, after `delay`.
fn publish_later(ns: &tensorbus::Namespace, name: &str, n: u64, every: Duration, delay: Duration) -> std::thread::JoinHandle<()> {
    let p: Publisher<CmdVel> = Publisher::new(ns, name).unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        for i in 1..=n {
            p.send(&cmd(i)).unwrap();
            std::thread::sleep(every);
        }
    })
}

#[test]
fn an_event_node_ticks_on_data_beside_a_rate_node() {
    let t = TempNs::with_classes("ev-mixed", FACADE_CLASSES);
    let ns = t.open();
    let mut sub: Subscriber<CmdVel> = Subscriber::new(&ns, "ev.cmd").unwrap();
    let s = Scheduler::new(100.0);
    s.set_publish_stats(false);
    let got = Arc::new(Mutex::new(Vec::new()));
    let empty_ticks = Arc::new(AtomicU64::new(0));
    let (g, e) = (got.clone(), empty_ticks.clone());
    let config = NodeConfig::on([sub.trigger().unwrap()]);
    s.add(
        node_fn("drive", move |ctx| {
            assert_eq!(ctx.ready(), &[0]);
            let before = g.lock().unwrap().len();
            while let Some(c) = sub.try_recv()? {
                g.lock().unwrap().push(c.timestamp_ns);
            }
            if g.lock().unwrap().len() == before {
                // Relaxed: a test counter.
                e.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }),
        config,
    )
    .unwrap();
    s.add(node_fn("heartbeat", |_| Ok(())), NodeConfig::rate(100.0)).unwrap();
    let h = publish_later(&ns, "ev.cmd", 20, ms(10), ms(50));
    s.run(Some(ms(600))).unwrap();
    h.join().unwrap();
    assert_eq!(*got.lock().unwrap(), (1..=20).collect::<Vec<_>>(), "every message, in order");
    let st = s.node_stats("drive").unwrap();
    assert!((10..=20).contains(&st.total_ticks), "one tick per arrival (or per batch): {st:?}");
    assert!(empty_ticks.load(Ordering::Relaxed) <= 1, "ticks without data: {}", empty_ticks.load(Ordering::Relaxed));
    assert_eq!(st.triggers, vec!["ev.cmd".to_string()]);
    assert!(st.p50_wake < ms(50), "{st:?}");
    let hb = s.node_stats("heartbeat").unwrap().total_ticks;
    assert!((40..=75).contains(&hb), "the rate node kept its rate beside the event node: {hb}");
}

#[test]
fn several_triggers_and_which_fired() {
    let t = TempNs::with_classes("ev-several", FACADE_CLASSES);
    let ns = t.open();
    let mut a: Subscriber<CmdVel> = Subscriber::new(&ns, "ev.a").unwrap();
    let mut b: Subscriber<CmdVel> = Subscriber::new(&ns, "ev.b").unwrap();
    let config = NodeConfig::on([a.trigger().unwrap()]).and_on(b.trigger().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sn = seen.clone();
    let s = Scheduler::new(100.0);
    s.set_publish_stats(false);
    s.add(
        node_fn("fuse", move |ctx| {
            sn.lock().unwrap().push(ctx.ready().to_vec());
            a.drain()?;
            b.drain()?;
            Ok(())
        }),
        config,
    )
    .unwrap();
    let pa = publish_later(&ns, "ev.a", 1, ms(1), ms(50));
    let pb = publish_later(&ns, "ev.b", 1, ms(1), ms(150));
    s.run(Some(ms(300))).unwrap();
    pa.join().unwrap();
    pb.join().unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![vec![0], vec![1]]);
}

#[test]
fn unread_messages_do_not_spin_the_node() {
    let t = TempNs::with_classes("ev-unread", FACADE_CLASSES);
    let ns = t.open();
    let mut sub: Subscriber<CmdVel> = Subscriber::new(&ns, "ev.ignored").unwrap();
    let s = Scheduler::new(100.0);
    s.set_publish_stats(false);
    s.add(node_fn("lazy", |_| Ok(())), NodeConfig::on([sub.trigger().unwrap()])).unwrap();
    let h = publish_later(&ns, "ev.ignored", 2, ms(100), ms(30));
    s.run(Some(ms(400))).unwrap();
    h.join().unwrap();
    assert_eq!(s.node_stats("lazy").unwrap().total_ticks, 2, "one tick per new message, none for the unread ones");
}

#[test]
fn an_idle_event_node_sleeps() {
    let t = TempNs::with_classes("ev-idle", FACADE_CLASSES);
    let ns = t.open();
    let mut sub: Subscriber<CmdVel> = Subscriber::new(&ns, "ev.idle").unwrap();
    let s = Scheduler::new(100.0);
    s.set_publish_stats(false);
    s.add(node_fn("idle", |_| Ok(())), NodeConfig::on([sub.trigger().unwrap()])).unwrap();
    let c0 = thread_cpu();
    s.run(Some(ms(1000))).unwrap();
    let used = thread_cpu() - c0;
    assert_eq!(s.node_stats("idle").unwrap().total_ticks, 0);
    // Loose (the figure is in docs/benchmarks.md): the main group wakes every 20 ms to poll.
    assert!(used < ms(50), "an idle event node used {used:?} of CPU in 1 s");
}

#[test]
fn deadline_counts_from_the_arrival() {
    let t = TempNs::with_classes("ev-deadline", FACADE_CLASSES);
    let ns = t.open();
    let mut sub: Subscriber<CmdVel> = Subscriber::new(&ns, "ev.slow").unwrap();
    let trigger = sub.trigger().unwrap();
    let s = Scheduler::new(100.0);
    s.set_publish_stats(false);
    s.add(
        node_fn("slow", move |_| {
            sub.drain()?;
            std::thread::sleep(ms(15));
            Ok(())
        }),
        NodeConfig::on([trigger]).deadline(ms(5)),
    )
    .unwrap();
    let h = publish_later(&ns, "ev.slow", 5, ms(40), ms(20));
    s.run(Some(ms(400))).unwrap();
    h.join().unwrap();
    let st = s.node_stats("slow").unwrap();
    assert_eq!(st.total_ticks, 5, "{st:?}");
    assert_eq!(st.deadline_misses, 5, "each tick ends 15 ms after its message arrived: {st:?}");
    assert_eq!(st.budget_misses, 0, "{st:?}");
}

#[test]
fn misses_follow_the_policy_and_a_stopped_node_is_not_woken() {
    let t = TempNs::with_classes("ev-policy", FACADE_CLASSES);
    let ns = t.open();
    let mut a: Subscriber<CmdVel> = Subscriber::new(&ns, "ev.pa").unwrap();
    let mut b: Subscriber<CmdVel> = Subscriber::new(&ns, "ev.pb").unwrap();
    let s = Scheduler::new(100.0);
    s.set_publish_stats(false);
    let slow = a.trigger().unwrap();
    s.add(
        node_fn("strict", move |_| {
            a.drain()?;
            std::thread::sleep(ms(10));
            Ok(())
        }),
        NodeConfig::on([slow]).budget(ms(2)).on_miss(tensorbus::OnMiss::Stop),
    )
    .unwrap();
    // An event node whose init fails: its unread messages must not keep the group busy.
    struct BadInit;
    impl tensorbus::Node for BadInit {
        fn name(&self) -> &str {
            "bad_init"
        }
        fn init(&mut self, _: &mut tensorbus::Context) -> tensorbus::NodeResult {
            Err("no device".into())
        }
        fn tick(&mut self, _: &mut tensorbus::Context) -> tensorbus::NodeResult {
            panic!("never ticked")
        }
    }
    s.add(BadInit, NodeConfig::on([b.trigger().unwrap()])).unwrap();
    // Keeps the group waiting on its triggers after `strict` stops.
    let mut quiet: Subscriber<CmdVel> = Subscriber::new(&ns, "ev.quiet").unwrap();
    s.add(node_fn("quiet", |_| Ok(())), NodeConfig::on([quiet.trigger().unwrap()])).unwrap();
    let pa = publish_later(&ns, "ev.pa", 3, ms(50), ms(20));
    let pb = publish_later(&ns, "ev.pb", 3, ms(50), ms(20));
    let cpu0 = thread_cpu();
    s.run(Some(ms(400))).unwrap();
    let cpu = thread_cpu() - cpu0;
    pa.join().unwrap();
    pb.join().unwrap();
    let st = s.node_stats("strict").unwrap();
    assert_eq!((st.total_ticks, st.budget_misses, st.stopped), (1, 1, true), "stopped at its first miss: {st:?}");
    let bad = s.node_stats("bad_init").unwrap();
    assert!(bad.stopped && bad.last_error.as_deref() == Some("init: no device"), "{bad:?}");
    // 10 ms of the strict node's one tick are a sleep; a group spinning on the dead node's
    // unread messages would burn the whole 400 ms.
    assert!(cpu < ms(100), "the group used {cpu:?} of CPU in 400 ms");
    drop((b, quiet));
}

#[test]
fn a_group_with_more_triggers_than_one_wait_set_stops_the_overflow() {
    let t = TempNs::with_classes("ev-overflow", FACADE_CLASSES);
    let ns = t.open();
    let topic = ns.topic("ev.over", &Default::default()).unwrap();
    let s = Scheduler::new(100.0);
    s.set_publish_stats(false);
    s.add(node_fn("first", |_| Ok(())), NodeConfig::on((0..100).map(|_| topic.trigger()))).unwrap();
    s.add(node_fn("second", |_| Ok(())), NodeConfig::on((0..100).map(|_| topic.trigger()))).unwrap();
    s.add(node_fn("own_thread", |_| Ok(())), NodeConfig::on((0..100).map(|_| topic.trigger())).compute(true)).unwrap();
    s.run(Some(ms(100))).unwrap();
    let second = s.node_stats("second").unwrap();
    assert!(second.stopped && second.last_error.as_deref().is_some_and(|e| e.contains("at most 127") && e.contains("compute")), "{second:?}");
    assert!(!s.node_stats("first").unwrap().stopped);
    assert!(!s.node_stats("own_thread").unwrap().stopped, "a compute node has a wait-set of its own");
}

#[test]
fn too_many_triggers_is_refused_when_added() {
    let t = TempNs::with_classes("ev-many", FACADE_CLASSES);
    let ns = t.open();
    let topic = ns.topic("ev.many", &Default::default()).unwrap();
    let s = Scheduler::new(100.0);
    let e = s.add(node_fn("greedy", |_| Ok(())), NodeConfig::on((0..200).map(|_| topic.trigger()))).unwrap_err();
    assert!(matches!(e, SchedulerError::TooManyTriggers { count: 200, limit: 127, .. }), "{e}");
}

#[test]
fn a_publisher_in_another_process_wakes_the_node() {
    let t = TempNs::with_classes("ev-xproc", FACADE_CLASSES);
    let ns = t.open();
    let mut sub: Subscriber<CmdVel> = Subscriber::new(&ns, "ev.remote").unwrap();
    let trigger = sub.trigger().unwrap();
    let s = Arc::new(Scheduler::new(100.0));
    s.set_publish_stats(false);
    let n = Arc::new(AtomicU64::new(0));
    let (nn, stop) = (n.clone(), s.stop_handle());
    s.add(
        node_fn("remote", move |_| {
            let k = sub.drain()?.len() as u64;
            // Relaxed: a test counter.
            if nn.fetch_add(k, Ordering::Relaxed) + k >= 10 {
                stop.stop();
            }
            Ok(())
        }),
        NodeConfig::on([trigger]),
    )
    .unwrap();
    let mut child = kit::KillOnDrop(kit::role_child("publish10", &t.dir).stdout(Stdio::null()).spawn().unwrap());
    let t0 = Instant::now();
    s.run(Some(Duration::from_secs(20))).unwrap();
    assert!(child.0.wait().unwrap().success());
    assert_eq!(n.load(Ordering::Relaxed), 10, "all ten messages from the other process");
    assert!(t0.elapsed() < Duration::from_secs(15));
    let st = s.node_stats("remote").unwrap();
    assert!(st.total_ticks >= 1 && st.max_wake < Duration::from_secs(1), "{st:?}");
}

#[test]
#[ignore = "child process entry point"]
fn child_entry() {
    let Some((role, dir)) = kit::child_role() else { return };
    let ns = kit::open_with(&dir, FACADE_CLASSES);
    match role.as_str() {
        "publish10" => {
            let p: Publisher<CmdVel> = Publisher::new(&ns, "ev.remote").unwrap();
            std::thread::sleep(ms(200));
            for i in 1..=10 {
                p.send(&cmd(i)).unwrap();
                std::thread::sleep(ms(20));
            }
        }
        other => panic!("unknown role {other}"),
    }
}
