//! Criterion benches of the facade: typed topics, MessagePack dicts and the scheduler's tick
//! overhead (see benches/README.md for the scenarios).

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tensorbus::msgs::{CmdVel, Imu};
use tensorbus::{node_fn, Namespace, NodeConfig, PoolConfig, Scheduler, Topic, Value};

tensorbus::pod_message! {
    /// 128 bytes: one past what a ring entry carries inline.
    pub struct Wide {
        pub timestamp_ns: u64,
        pub values: [f64; 15],
    }
}

fn bench_dir(tag: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let d = base.join(format!("tb-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn topics(c: &mut Criterion) {
    let dir = bench_dir("topic");
    let ns = Namespace::open_dir(&dir, PoolConfig::parse("4Kx64,64Kx16").unwrap()).unwrap();
    let mut g = c.benchmark_group("topic");

    let t = Topic::<CmdVel>::open_default(&ns).unwrap();
    let (p, mut s) = (t.publisher(), t.subscriber().unwrap());
    let mut m = CmdVel { timestamp_ns: 1, linear: 0.5, angular: 0.1 };
    g.bench_function("cmdvel_send_recv", |b| {
        b.iter(|| {
            m.timestamp_ns += 1;
            p.send(black_box(&m)).unwrap();
            black_box(s.try_recv().unwrap().unwrap());
        })
    });

    let t = Topic::<Imu>::open_default(&ns).unwrap();
    let (p, mut s) = (t.publisher(), t.subscriber().unwrap());
    let imu = Imu { timestamp_ns: 1, orientation: [0.0, 0.0, 0.0, 1.0], ..Default::default() };
    g.bench_function("imu_88B_inline_send_recv", |b| {
        b.iter(|| {
            p.send(black_box(&imu)).unwrap();
            black_box(s.try_recv().unwrap().unwrap());
        })
    });

    // Past the ring entry's 104 inline bytes: the message goes through a 4 KiB slot.
    let t = Topic::<Wide>::open(&ns, "wide").unwrap();
    let (p, mut s) = (t.publisher(), t.subscriber().unwrap());
    let wide = Wide { timestamp_ns: 1, values: [0.5; 15] };
    g.bench_function("pod_128B_slot_send_recv", |b| {
        b.iter(|| {
            p.send(black_box(&wide)).unwrap();
            black_box(s.try_recv().unwrap().unwrap());
        })
    });

    let t = Topic::<Value>::open(&ns, "dict").unwrap();
    let (p, mut s) = (t.publisher(), t.subscriber().unwrap());
    let v = Value::Map(vec![("x".into(), 1.5.into()), ("y".into(), (-2).into()), ("name".into(), "robot".into())]);
    g.bench_function("msgpack_3key_send_recv", |b| {
        b.iter(|| {
            p.send(black_box(&v)).unwrap();
            black_box(s.try_recv().unwrap().unwrap());
        })
    });
    let big = Value::Map((0..32).map(|i| (Value::from(format!("key{i}")), Value::from(i as f64))).collect());
    g.bench_function("msgpack_32key_slot_send_recv", |b| {
        b.iter(|| {
            p.send(black_box(&big)).unwrap();
            black_box(s.try_recv().unwrap().unwrap());
        })
    });
    g.finish();
    drop((p, s, t, ns));
    let _ = std::fs::remove_dir_all(dir);
}

/// Not a criterion figure: rate accuracy, printed once. A 1 kHz node's period median and p99,
/// and the rate a trivial node asked for 200 kHz gets.
fn rate_accuracy() {
    for hz in [1000.0, 200_000.0] {
        let s = Scheduler::new(100.0);
        let stamps = std::sync::Arc::new(std::sync::Mutex::new(Vec::with_capacity(400_000)));
        let st2 = stamps.clone();
        s.add(
            node_fn("n", move |_| {
                st2.lock().unwrap().push(std::time::Instant::now());
                Ok(())
            }),
            NodeConfig::rate(hz),
        )
        .unwrap();
        s.run(Some(Duration::from_secs(1))).unwrap();
        let st = s.node_stats("n").unwrap();
        let stamps = stamps.lock().unwrap();
        let mut p: Vec<u64> = stamps.windows(2).map(|w| (w[1] - w[0]).as_nanos() as u64).collect();
        p.sort_unstable();
        let (med, p99) = (p[p.len() / 2], p[p.len() * 99 / 100]);
        eprintln!("rate {hz} Hz: achieved {:.0} Hz, period median {med} ns, p99 {p99} ns, deadline misses {}", st.actual_rate_hz, st.deadline_misses);
    }
}

fn scheduler(c: &mut Criterion) {
    rate_accuracy();
    let mut g = c.benchmark_group("scheduler");
    g.sample_size(20);
    // A trivial node at an unbounded rate: the time per tick is the scheduler's overhead.
    g.bench_function("trivial_tick_overhead", |b| {
        b.iter_custom(|iters| {
            let s = Scheduler::new(100.0);
            let mut left = iters;
            s.add(
                node_fn("trivial", move |ctx| {
                    left -= 1;
                    if left == 0 {
                        ctx.stop_scheduler();
                    }
                    Ok(())
                }),
                NodeConfig::rate(f64::INFINITY),
            )
            .unwrap();
            let t0 = std::time::Instant::now();
            s.run(Some(Duration::from_secs(60))).unwrap();
            t0.elapsed()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = topics, scheduler
}
criterion_main!(benches);
