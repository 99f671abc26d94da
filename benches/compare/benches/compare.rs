//! Side by side: tensorbus and iceoryx2 publishing the same payloads in the same harness
//! (see benches/README.md, "benches/compare"). Run with `make bench-compare`.
//!
//! The cross-process scenario re-executes this bench binary as the echo peer: when
//! `TB_CMP_ECHO` is `tensorbus` or `iceoryx2`, `main` runs that system's echo loop (on the
//! namespace / service prefix in `TB_CMP_NAME`) instead of criterion.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use iceoryx2::port::publisher::Publisher as IoxPublisher;
use iceoryx2::port::subscriber::Subscriber as IoxSubscriber;
use iceoryx2::prelude::*;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tensorbus::tensor::{Encoding, ImageMut};
use tensorbus::{Image, Namespace, PoolConfig, Topic, TopicConfig};

tensorbus::pod_message! {
    /// The 64-byte POD message both systems carry (tensorbus: inline in the ring entry, which carries up to 104 B).
    pub struct Msg64 {
        pub seq: u64,
        pub data: [u64; 7],
    }
}
// SAFETY: repr(C), plain integers, no pointers, valid for every bit pattern (pod_message! checks it).
unsafe impl ZeroCopySend for Msg64 {}

const QUIT: u64 = u64::MAX;
const PAGE: usize = 4096;
/// 4 KiB slots for Msg64, 1 MiB for 480p (921,600 B), 8 MiB for 1080p (6,220,800 B).
const CLASSES: &str = "4Kx64,1Mx8,8Mx8";
const FRAMES: [(&str, usize, usize); 2] = [("480p", 480, 640), ("1080p", 1080, 1920)];

type IoxNode = Node<ipc::Service>;

fn bench_dir(tag: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let d = base.join(format!("tb-cmp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn tb_open(dir: &Path) -> Namespace {
    Namespace::open_dir(dir, PoolConfig::parse(CLASSES).unwrap()).unwrap()
}

fn iox_node() -> IoxNode {
    set_log_level(LogLevel::Error);
    NodeBuilder::new().create::<ipc::Service>().unwrap()
}

/// A service name unique to this run.
fn iox_name(tag: &str) -> ServiceName {
    format!("tb-cmp/{}/{tag}", std::process::id()).as_str().try_into().unwrap()
}

type IoxPod = (IoxPublisher<ipc::Service, Msg64, ()>, IoxSubscriber<ipc::Service, Msg64, ()>);

fn iox_pod_pair(node: &IoxNode, name: &ServiceName) -> IoxPod {
    let svc = node.service_builder(name).publish_subscribe::<Msg64>().open_or_create().unwrap();
    (svc.publisher_builder().create().unwrap(), svc.subscriber_builder().create().unwrap())
}

type IoxSlice = (IoxPublisher<ipc::Service, [u8], ()>, IoxSubscriber<ipc::Service, [u8], ()>);

fn iox_slice_pair(node: &IoxNode, name: &ServiceName, len: usize) -> IoxSlice {
    let svc = node.service_builder(name).publish_subscribe::<[u8]>().open_or_create().unwrap();
    (svc.publisher_builder().initial_max_slice_len(len).create().unwrap(), svc.subscriber_builder().create().unwrap())
}

// ---- (a) one process, 64-byte POD ---------------------------------------------------------------

fn pod64(c: &mut Criterion) {
    let mut g = c.benchmark_group("pod64_send_recv");
    let mut m = Msg64 { seq: 0, data: [7; 7] };

    let dir = bench_dir("pod");
    let ns = tb_open(&dir);
    let t = Topic::<Msg64>::open(&ns, "pod64").unwrap();
    let (p, mut s) = (t.publisher(), t.subscriber().unwrap());
    g.bench_function("tensorbus", |b| {
        b.iter(|| {
            m.seq += 1;
            p.send(black_box(&m)).unwrap();
            black_box(s.try_recv().unwrap().unwrap());
        })
    });
    drop((p, s, t, ns));
    let _ = std::fs::remove_dir_all(&dir);

    let node = iox_node();
    let (p, s) = iox_pod_pair(&node, &iox_name("pod64"));
    g.bench_function("iceoryx2", |b| {
        b.iter(|| {
            m.seq += 1;
            p.send_copy(black_box(m)).unwrap();
            black_box(*s.receive().unwrap().unwrap().payload());
        })
    });
    g.finish();
}

// ---- (b) loaned frame, one byte per page; (c) copy-in from a Vec --------------------------------

fn frames(c: &mut Criterion) {
    let dir = bench_dir("frames");
    let ns = tb_open(&dir);
    let node = iox_node();
    for (label, h, w) in FRAMES {
        let n = h * w * 3;
        let src: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let t = Topic::<Image>::open(&ns, &format!("frame{label}")).unwrap();
        let (tp, mut ts) = (t.publisher(), t.subscriber().unwrap());
        let t0 = Topic::<Image>::open_with(&ns, &format!("frame{label}-h0"), TopicConfig::default().with_history(0)).unwrap();
        let (hp, mut hs) = (t0.publisher(), t0.subscriber().unwrap());
        let (ip, is) = iox_slice_pair(&node, &iox_name(&format!("frame{label}")), n);

        // (b) zero-copy: loan, touch each page, send, receive, read a byte. `tensorbus` is the
        // default topic (history 1: the newest frame kept for late joiners), `tensorbus_h0`
        // the same with history 0, iceoryx2's default.
        let mut g = c.benchmark_group("loan_touch_send_recv");
        g.throughput(Throughput::Bytes(n as u64));
        for (id, (tp, ts)) in [("tensorbus", (&tp, &mut ts)), ("tensorbus_h0", (&hp, &mut hs))] {
            g.bench_function(BenchmarkId::new(id, label), |b| {
                b.iter(|| {
                    let mut f = ImageMut::new(&ns, h, w, Encoding::Rgb8).unwrap();
                    let d = f.data_mut();
                    for i in (0..n).step_by(PAGE) {
                        d[i] = i as u8;
                    }
                    let f = f.freeze();
                    tp.send(&f).unwrap();
                    drop(f);
                    let got = ts.try_recv().unwrap().unwrap();
                    black_box(got.data()[0]);
                })
            });
        }
        g.bench_function(BenchmarkId::new("iceoryx2", label), |b| {
            b.iter(|| {
                let mut f = ip.loan_slice_uninit(n).unwrap();
                let d = f.payload_mut();
                for i in (0..n).step_by(PAGE) {
                    d[i].write(i as u8);
                }
                // SAFETY: shared memory is mapped (never uninitialized at the OS level); only
                // written bytes are read.
                let f = unsafe { f.assume_init() };
                f.send().unwrap();
                let got = is.receive().unwrap().unwrap();
                black_box(got.payload()[0]);
            })
        });
        g.finish();

        // (c) copy-in: one memcpy from a prepared Vec into the loaned buffer, send, receive.
        let mut g = c.benchmark_group("copy_in_send_recv");
        g.throughput(Throughput::Bytes(n as u64));
        for (id, (tp, ts)) in [("tensorbus", (&tp, &mut ts)), ("tensorbus_h0", (&hp, &mut hs))] {
            g.bench_function(BenchmarkId::new(id, label), |b| {
                b.iter(|| {
                    let f = Image::from_bytes(&ns, h, w, Encoding::Rgb8, black_box(&src)).unwrap();
                    tp.send(&f).unwrap();
                    drop(f);
                    let got = ts.try_recv().unwrap().unwrap();
                    black_box(got.data()[0]);
                })
            });
        }
        g.bench_function(BenchmarkId::new("iceoryx2", label), |b| {
            b.iter(|| {
                let f = ip.loan_slice_uninit(n).unwrap().write_from_slice(black_box(&src));
                f.send().unwrap();
                let got = is.receive().unwrap().unwrap();
                black_box(got.payload()[0]);
            })
        });
        // Reference in the same run: the memcpy alone, into a preallocated Vec.
        let mut dst = vec![0u8; n];
        g.bench_function(BenchmarkId::new("ref_memcpy", label), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                black_box(dst.as_mut_ptr());
            })
        });
        g.finish();
        drop((tp, ts, t, hp, hs, t0, ip, is));
    }
    drop(ns);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- (d) cross-process one-way latency, spinning ------------------------------------------------

fn tb_recv_spin(s: &mut tensorbus::Subscriber<Msg64>) -> Msg64 {
    loop {
        if let Some(m) = s.recv_timeout(Duration::from_secs(5)).unwrap() {
            return m;
        }
    }
}

fn iox_recv_spin(s: &IoxSubscriber<ipc::Service, Msg64, ()>) -> Msg64 {
    loop {
        if let Some(m) = s.receive().unwrap() {
            return *m.payload();
        }
        std::hint::spin_loop();
    }
}

/// The echo peer: receive on `ping`, answer on `pong` (spinning), until QUIT.
fn echo(system: &str, name: &str) {
    let ready = Msg64 { seq: 0, data: [0; 7] };
    match system {
        "tensorbus" => {
            let ns = tb_open(Path::new(name));
            let mut s = Topic::<Msg64>::open(&ns, "ping").unwrap().subscriber().unwrap();
            s.set_spin(true);
            let p = Topic::<Msg64>::open(&ns, "pong").unwrap().publisher();
            p.send(&ready).unwrap();
            loop {
                let m = tb_recv_spin(&mut s);
                if m.seq == QUIT {
                    return;
                }
                p.send(&m).unwrap();
            }
        }
        "iceoryx2" => {
            let node = iox_node();
            let svc = |t: &str| -> ServiceName { format!("{name}/{t}").as_str().try_into().unwrap() };
            let (_, s) = iox_pod_pair(&node, &svc("ping"));
            let (p, _) = iox_pod_pair(&node, &svc("pong"));
            p.send_copy(ready).unwrap();
            loop {
                let m = iox_recv_spin(&s);
                if m.seq == QUIT {
                    return;
                }
                p.send_copy(m).unwrap();
            }
        }
        other => panic!("TB_CMP_ECHO={other}"),
    }
}

struct Peer(Child);
impl Peer {
    fn spawn(system: &str, name: &str) -> Peer {
        let child = Command::new(std::env::current_exe().unwrap()).env("TB_CMP_ECHO", system).env("TB_CMP_NAME", name).stdin(Stdio::null()).spawn().unwrap();
        Peer(child)
    }
}
impl Drop for Peer {
    /// The peer was told QUIT; give it a moment to clean up, then make sure it is gone.
    fn drop(&mut self) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(2) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cross_process(c: &mut Criterion) {
    let mut g = c.benchmark_group("xproc_pod64_one_way_spinning");
    g.measurement_time(Duration::from_secs(3));
    let msg = Msg64 { seq: 1, data: [1; 7] };
    let quit = Msg64 { seq: QUIT, data: [0; 7] };

    {
        let dir = bench_dir("xproc");
        let ns = tb_open(&dir);
        let ping = Topic::<Msg64>::open(&ns, "ping").unwrap().publisher();
        let mut pong = Topic::<Msg64>::open(&ns, "pong").unwrap().subscriber().unwrap();
        pong.set_spin(true);
        let peer = Peer::spawn("tensorbus", dir.to_str().unwrap());
        tb_recv_spin(&mut pong); // ready
        g.bench_function("tensorbus", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    ping.send(&msg).unwrap();
                    black_box(tb_recv_spin(&mut pong));
                }
                t.elapsed() / 2
            })
        });
        ping.send(&quit).unwrap();
        drop(peer);
        drop((ping, pong, ns));
        let _ = std::fs::remove_dir_all(&dir);
    }
    {
        let node = iox_node();
        let prefix = format!("tb-cmp/{}/xproc", std::process::id());
        let svc = |t: &str| -> ServiceName { format!("{prefix}/{t}").as_str().try_into().unwrap() };
        let (ping, _) = iox_pod_pair(&node, &svc("ping"));
        let (_, pong) = iox_pod_pair(&node, &svc("pong"));
        let peer = Peer::spawn("iceoryx2", &prefix);
        iox_recv_spin(&pong); // ready (the echo's subscriber exists before it says so)
        g.bench_function("iceoryx2", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    ping.send_copy(msg).unwrap();
                    black_box(iox_recv_spin(&pong));
                }
                t.elapsed() / 2
            })
        });
        ping.send_copy(quit).unwrap();
        drop(peer);
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default().sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2))
}

criterion_group! { name = benches; config = config(); targets = pod64, frames, cross_process }

fn main() {
    if let Ok(system) = std::env::var("TB_CMP_ECHO") {
        echo(&system, &std::env::var("TB_CMP_NAME").unwrap());
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
