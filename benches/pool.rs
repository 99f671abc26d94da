//! Criterion benches of the pool core (see benches/README.md for the scenarios).
//!
//! The cross-process scenarios re-execute this bench binary as an echo peer: when
//! `TB_BENCH_ECHO` names a namespace directory, `main` runs the echo loop instead of criterion.

use criterion::{criterion_group, Criterion};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tensorbus_pool::{futex, Namespace, PoolConfig, Subscriber, TopicOptions};

const CLASSES: &str = "4Kx64,64Kx16";

fn bench_dir(tag: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let d = base.join(format!("tb-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open(dir: &Path) -> Namespace {
    Namespace::open_dir(dir, PoolConfig::parse(CLASSES).unwrap()).unwrap()
}

/// Wait for the next message: spinning, or a futex sleep.
fn recv(s: &mut Subscriber) -> tensorbus_pool::Received {
    loop {
        if let Some(m) = s.recv_timeout(Duration::from_secs(5)).unwrap() {
            return m.into_parts();
        }
    }
}

// ---- in-process ----------------------------------------------------------------------------------

fn in_process(c: &mut Criterion) {
    let dir = bench_dir("inproc");
    let ns = open(&dir);
    let mut g = c.benchmark_group("pool");

    g.bench_function("claim_release_4k", |b| b.iter(|| drop(black_box(ns.try_acquire(64).unwrap()))));
    g.bench_function("claim_freeze_release_4k", |b| b.iter(|| drop(black_box(ns.try_acquire(64).unwrap().freeze()))));

    let topic = ns.topic("inline", &TopicOptions::default()).unwrap();
    let p = topic.publisher();
    let mut s = topic.subscriber().unwrap();
    let msg = [7u8; 16];
    g.bench_function("send_recv_inline_16B", |b| {
        b.iter(|| {
            p.send_inline(black_box(&msg)).unwrap();
            black_box(s.try_recv().unwrap().unwrap());
        })
    });

    let topic = ns.topic("payload", &TopicOptions::default()).unwrap();
    let p = topic.publisher();
    let mut s = topic.subscriber().unwrap();
    let frame = ns.try_acquire(4096).unwrap().freeze();
    g.bench_function("send_recv_payload_descriptor", |b| {
        b.iter(|| {
            p.send(frame.descriptor(), &frame).unwrap();
            let (d, hold) = s.try_recv().unwrap().unwrap().into_parts();
            black_box((d, hold.unwrap().as_ptr()));
        })
    });
    g.bench_function("loan_fill64_send_recv_payload", |b| {
        b.iter(|| {
            let mut m = ns.try_acquire(64).unwrap();
            m.as_mut_slice().fill(1);
            let r = m.freeze();
            p.send(r.descriptor(), &r).unwrap();
            drop(r);
            let (_, hold) = s.try_recv().unwrap().unwrap().into_parts();
            black_box(hold.unwrap().as_slice()[0]);
        })
    });

    // References measured in the same run.
    let src = [3u8; 64];
    let mut dst = [0u8; 64];
    g.bench_function("ref_memcpy_64B", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&mut dst);
        })
    });
    g.finish();
    drop((frame, p, s, topic, ns));
    let _ = std::fs::remove_dir_all(dir);
}

// ---- references: thread ping-pong ----------------------------------------------------------------

fn thread_refs(c: &mut Criterion) {
    let mut g = c.benchmark_group("ref");
    g.measurement_time(Duration::from_secs(3));
    // Spinning: an AtomicU64 bounced between two threads (one-way = round trip / 2).
    let word = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let peer = {
        let (w, stop) = (word.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let v = w.load(Ordering::Acquire);
                if v % 2 == 1 {
                    w.store(v + 1, Ordering::Release);
                }
                std::hint::spin_loop();
            }
        })
    };
    g.bench_function("atomic_pingpong_one_way", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let v = word.fetch_add(1, Ordering::AcqRel) + 1;
                while word.load(Ordering::Acquire) == v {
                    std::hint::spin_loop();
                }
            }
            t.elapsed() / 2
        })
    });
    stop.store(true, Ordering::Relaxed);
    peer.join().unwrap();

    // Blocking: a futex bounced between two threads (both sleep).
    let w = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let peer = {
        let (w, stop) = (w.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut seen = 0;
            while !stop.load(Ordering::Relaxed) {
                futex::wait(&w, seen, Duration::from_millis(50));
                let v = w.load(Ordering::Acquire);
                if v % 2 == 1 {
                    w.store(v + 1, Ordering::Release);
                    futex::wake_all(&w);
                    seen = v + 1;
                } else {
                    seen = v;
                }
            }
        })
    };
    g.bench_function("futex_pingpong_one_way", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let v = w.fetch_add(1, Ordering::AcqRel) + 1;
                futex::wake_all(&w);
                while w.load(Ordering::Acquire) == v {
                    futex::wait(&w, v, Duration::from_millis(50));
                }
            }
            t.elapsed() / 2
        })
    });
    stop.store(true, Ordering::Relaxed);
    futex::wake_all(&w);
    peer.join().unwrap();
    g.finish();
}

// ---- cross-process ------------------------------------------------------------------------------

/// The echo peer: receive on `ping`, answer on `pong`, until "quit".
fn echo(dir: &Path, spin: bool) {
    let ns = open(dir);
    let mut s = ns.topic("ping", &TopicOptions::default()).unwrap().subscriber().unwrap();
    spin_or_sleep(&mut s, spin);
    let p = ns.topic("pong", &TopicOptions::default()).unwrap().publisher();
    p.send_inline(b"ready").unwrap();
    loop {
        let (d, _) = recv(&mut s);
        let (raw, n) = d.inline_bytes().unwrap();
        if &raw[..n] == b"quit" {
            return;
        }
        p.send_inline(&raw[..n]).unwrap();
    }
}

/// Spin forever, or sleep at once (no spin-then-sleep window: the blocking row measures the
/// futex path).
fn spin_or_sleep(s: &mut tensorbus_pool::Subscriber, spin: bool) {
    if spin {
        s.set_spin(true);
    } else {
        s.set_spin_window(Duration::ZERO);
    }
}

struct Peer(Child);
impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cross_process(c: &mut Criterion) {
    let mut g = c.benchmark_group("xproc");
    g.measurement_time(Duration::from_secs(3));
    for spin in [true, false] {
        let dir = bench_dir(if spin { "xspin" } else { "xblock" });
        let ns = open(&dir);
        let ping = ns.topic("ping", &TopicOptions::default()).unwrap().publisher();
        let mut pong = ns.topic("pong", &TopicOptions::default()).unwrap().subscriber().unwrap();
        spin_or_sleep(&mut pong, spin);
        let child =
            Command::new(std::env::current_exe().unwrap()).env("TB_BENCH_ECHO", &dir).env("TB_BENCH_SPIN", if spin { "1" } else { "0" }).stdin(Stdio::null()).spawn().unwrap();
        let _peer = Peer(child);
        recv(&mut pong); // "ready"
        let name = if spin { "inline_16B_one_way_spinning" } else { "inline_16B_one_way_blocking" };
        let msg = [1u8; 16];
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    ping.send_inline(&msg).unwrap();
                    black_box(recv(&mut pong));
                }
                t.elapsed() / 2
            })
        });
        ping.send_inline(b"quit").unwrap();
        drop((ping, pong, ns));
        let _ = std::fs::remove_dir_all(&dir);
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default().sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2))
}

criterion_group! { name = benches; config = config(); targets = in_process, thread_refs, cross_process }

fn main() {
    if let Some(dir) = std::env::var_os("TB_BENCH_ECHO") {
        echo(Path::new(&dir), std::env::var("TB_BENCH_SPIN").as_deref() == Ok("1"));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
