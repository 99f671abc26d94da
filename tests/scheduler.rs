//! The scheduler: rates, misses and their policies, errors, compute threads, live stats and
//! shutdown. Timing bounds are loose (a loaded 2-core machine); exact figures are in the bench.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tensorbus::{budget_remaining, node_fn, Context, Node, NodeConfig, NodeResult, OnMiss, Scheduler, SchedulerError};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn per_node_rates_are_honoured_whatever_the_tick_rate() {
    let s = Scheduler::new(10.0);
    s.add(node_fn("fast", |_| Ok(())), NodeConfig::rate(1000.0)).unwrap();
    s.add(node_fn("slow", |_| Ok(())), NodeConfig::rate(50.0)).unwrap();
    s.add(node_fn("default", |_| Ok(())), NodeConfig::default()).unwrap();
    s.run(Some(ms(500))).unwrap();
    let n = |name| s.node_stats(name).unwrap().total_ticks as f64;
    assert!((350.0..=650.0).contains(&n("fast")), "fast: {}", n("fast"));
    assert!((17.0..=33.0).contains(&n("slow")), "slow: {}", n("slow"));
    assert!((3.0..=7.0).contains(&n("default")), "default: {}", n("default"));
    assert_eq!(s.node_names(), vec!["fast", "slow", "default"]);
}

#[test]
fn deadline_and_budget_misses_are_counted() {
    let s = Scheduler::new(100.0);
    let mut i = 0u64;
    // Every 4th tick sleeps past its 10 ms period and its 2 ms budget.
    s.add(
        node_fn("late", move |_| {
            i += 1;
            if i.is_multiple_of(4) {
                std::thread::sleep(ms(15));
            }
            Ok(())
        }),
        NodeConfig::rate(100.0).budget(ms(2)),
    )
    .unwrap();
    s.run(Some(ms(400))).unwrap();
    let st = s.node_stats("late").unwrap();
    assert!(st.deadline_misses >= 3, "{st:?}");
    assert!(st.budget_misses >= 3, "{st:?}");
    assert!(st.budget_misses <= st.total_ticks / 4 + 1, "{st:?}");
    assert!(st.max_tick >= ms(15), "{st:?}");
}

#[test]
fn skip_skips_missed_periods_warn_catches_up() {
    let run = |policy| {
        let s = Scheduler::new(100.0);
        let mut first = true;
        s.add(
            node_fn("n", move |_| {
                if first {
                    first = false;
                    std::thread::sleep(ms(100)); // ten periods
                }
                Ok(())
            }),
            NodeConfig::rate(100.0).on_miss(policy),
        )
        .unwrap();
        s.run(Some(ms(300))).unwrap();
        s.node_stats("n").unwrap()
    };
    let skip = run(OnMiss::Skip);
    let warn = run(OnMiss::Warn);
    assert_eq!(skip.deadline_misses, 1, "{skip:?}");
    // Skip: ~20 ticks in the 200 ms left; Warn catches up the ~10 missed periods.
    assert!(skip.total_ticks <= 25, "{skip:?}");
    assert!(warn.total_ticks >= skip.total_ticks + 5, "warn {warn:?} skip {skip:?}");
}

struct Tracked {
    name: &'static str,
    fail_every: u64,
    sleep: Duration,
    ticks: Arc<AtomicU64>,
    shut: Arc<AtomicBool>,
}

impl Node for Tracked {
    fn name(&self) -> &str {
        self.name
    }
    fn tick(&mut self, _ctx: &mut Context) -> NodeResult {
        let n = self.ticks.fetch_add(1, Ordering::Relaxed) + 1;
        std::thread::sleep(self.sleep);
        if self.fail_every > 0 && n.is_multiple_of(self.fail_every) {
            return Err(format!("failure at tick {n}").into());
        }
        Ok(())
    }
    fn shutdown(&mut self, _ctx: &mut Context) -> NodeResult {
        self.shut.store(true, Ordering::Relaxed);
        Ok(())
    }
}

fn tracked(name: &'static str, fail_every: u64, sleep: Duration) -> (Tracked, Arc<AtomicU64>, Arc<AtomicBool>) {
    let (t, s) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    (Tracked { name, fail_every, sleep, ticks: t.clone(), shut: s.clone() }, t, s)
}

#[test]
fn stop_policy_stops_only_that_node_and_runs_its_shutdown() {
    let s = Scheduler::new(100.0);
    let (slow, slow_ticks, slow_shut) = tracked("slow", 0, ms(20));
    let (ok, _, ok_shut) = tracked("ok", 0, Duration::ZERO);
    s.add(slow, NodeConfig::rate(100.0).on_miss(OnMiss::Stop)).unwrap();
    s.add(ok, NodeConfig::rate(100.0)).unwrap();
    s.run(Some(ms(300))).unwrap();
    assert_eq!(slow_ticks.load(Ordering::Relaxed), 1, "stopped after its first (late) tick");
    assert!(slow_shut.load(Ordering::Relaxed) && ok_shut.load(Ordering::Relaxed));
    let st = s.node_stats("slow").unwrap();
    assert!(st.stopped && !st.running && st.deadline_misses == 1, "{st:?}");
    assert!(s.node_stats("ok").unwrap().total_ticks >= 15);
}

#[test]
fn tick_errors_are_counted_and_the_node_goes_on() {
    let s = Scheduler::new(100.0);
    let (n, ticks, _) = tracked("flaky", 3, Duration::ZERO);
    s.add(n, NodeConfig::rate(500.0)).unwrap();
    let (m, mticks, mshut) = tracked("fragile", 2, Duration::ZERO);
    s.add(m, NodeConfig::rate(500.0).stop_on_error(true)).unwrap();
    s.run(Some(ms(200))).unwrap();
    let st = s.node_stats("flaky").unwrap();
    assert!(ticks.load(Ordering::Relaxed) >= 30);
    assert_eq!(st.error_count, st.total_ticks / 3, "{st:?}");
    assert_eq!(st.last_error.as_deref(), Some(format!("failure at tick {}", st.total_ticks / 3 * 3).as_str()));
    assert_eq!(mticks.load(Ordering::Relaxed), 2, "stop_on_error stops at the first error");
    assert!(mshut.load(Ordering::Relaxed));
}

#[test]
fn a_slow_compute_node_does_not_delay_the_others() {
    let s = Scheduler::new(100.0);
    let (slow, _, _) = tracked("heavy", 0, ms(50));
    s.add(slow, NodeConfig::rate(100.0).compute(true)).unwrap();
    s.add(node_fn("fast", |_| Ok(())), NodeConfig::rate(500.0)).unwrap();
    s.run(Some(ms(400))).unwrap();
    let fast = s.node_stats("fast").unwrap();
    assert!(fast.total_ticks >= 140, "{fast:?}"); // ~200 expected
    assert!(fast.deadline_misses <= fast.total_ticks / 10, "{fast:?}");
    let heavy = s.node_stats("heavy").unwrap();
    assert!((4..=10).contains(&heavy.total_ticks), "{heavy:?}");

    // The same slow node on the main thread would hold the fast one back.
    let s = Scheduler::new(100.0);
    let (slow, _, _) = tracked("heavy", 0, ms(50));
    s.add(slow, NodeConfig::rate(100.0)).unwrap();
    s.add(node_fn("fast", |_| Ok(())), NodeConfig::rate(500.0)).unwrap();
    s.run(Some(ms(400))).unwrap();
    assert!(s.node_stats("fast").unwrap().deadline_misses >= 5);
}

#[test]
fn stats_readable_while_running_and_stop_from_another_thread() {
    let s = Arc::new(Scheduler::new(100.0));
    let (n, _, shut) = tracked("n", 0, Duration::ZERO);
    s.add(n, NodeConfig::rate(1000.0)).unwrap();
    let runner = {
        let s = s.clone();
        std::thread::spawn(move || s.run(None))
    };
    let t0 = Instant::now();
    let mut seen = Vec::new();
    while t0.elapsed() < ms(300) {
        std::thread::sleep(ms(50));
        let st = s.node_stats("n").unwrap();
        seen.push(st.total_ticks);
    }
    assert_eq!(s.add(node_fn("late", |_| Ok(())), NodeConfig::default()), Err(SchedulerError::AlreadyRunning));
    assert!(s.node_stats("n").unwrap().running);
    s.stop_handle().stop();
    runner.join().unwrap().unwrap();
    assert!(seen.windows(2).all(|w| w[1] >= w[0]) && seen.last() > seen.first(), "{seen:?}");
    assert!(shut.load(Ordering::Relaxed), "shutdown ran on stop");
    let st = s.node_stats("n").unwrap();
    assert!(!st.running && st.actual_rate_hz > 500.0, "{st:?}");
}

#[test]
fn budget_remaining_is_set_during_ticks() {
    let s = Scheduler::new(100.0);
    let seen = Arc::new(AtomicU64::new(u64::MAX));
    let seen2 = seen.clone();
    s.add(
        node_fn("b", move |ctx| {
            let left = budget_remaining().expect("inside a tick");
            assert!(ctx.budget_remaining().is_some());
            seen2.store(left.as_micros() as u64, Ordering::Relaxed);
            Ok(())
        }),
        NodeConfig::rate(100.0).budget(ms(5)),
    )
    .unwrap();
    s.run(Some(ms(50))).unwrap();
    let us = seen.load(Ordering::Relaxed);
    assert!(us > 0 && us <= 5000, "{us}");
    assert_eq!(budget_remaining(), None);
    assert_eq!(s.node_stats("b").unwrap().error_count, 0);
}

#[test]
fn init_failure_and_panics_are_contained() {
    struct BadInit;
    impl Node for BadInit {
        fn name(&self) -> &str {
            "bad_init"
        }
        fn init(&mut self, _: &mut Context) -> NodeResult {
            Err("no camera".into())
        }
        fn tick(&mut self, _: &mut Context) -> NodeResult {
            panic!("must not tick")
        }
    }
    let s = Scheduler::new(100.0);
    s.add(BadInit, NodeConfig::default()).unwrap();
    s.add(node_fn("panics", |_| panic!("boom")), NodeConfig::rate(100.0)).unwrap();
    s.add(node_fn("fine", |_| Ok(())), NodeConfig::rate(100.0)).unwrap();
    // A panic with RUST_BACKTRACE set takes a while to print; run long enough after it.
    s.run(Some(ms(1000))).unwrap();
    let b = s.node_stats("bad_init").unwrap();
    assert!(b.stopped && b.total_ticks == 0 && b.last_error.as_deref() == Some("init: no camera"), "{b:?}");
    let p = s.node_stats("panics").unwrap();
    assert!(p.stopped && p.total_ticks == 1 && p.last_error.unwrap().contains("boom"));
    assert!(s.node_stats("fine").unwrap().total_ticks >= 5);
    assert_eq!(s.add(node_fn("fine", |_| Ok(())), NodeConfig::default()), Err(SchedulerError::DuplicateName("fine".into())));
}

#[test]
fn a_node_can_stop_the_scheduler() {
    let s = Scheduler::new(100.0);
    s.add(
        node_fn("quit", |ctx| {
            if ctx.tick_count() == 4 {
                ctx.stop_scheduler();
            }
            Ok(())
        }),
        NodeConfig::rate(1000.0),
    )
    .unwrap();
    let t0 = Instant::now();
    s.run(Some(Duration::from_secs(10))).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(s.node_stats("quit").unwrap().total_ticks, 5);
}
