//! Measured growth (issue 15): how each cost of the pool grows as the work grows. A plain harness
//! (not criterion): each row is one growing dimension, measured point by point (medians of
//! repeated batches, or of repeated one-shot samples for the process-heavy rows), printed as a
//! markdown table with the namespace's segment bytes at each point, and written as JSON for
//! `benches/scale/plot.py` (one PNG per row in docs/). See benches/README.md for the scenarios.
//!
//! `cargo bench --bench scale [-- --only subs,xsubs,topics,join,reap,claim] [--quick] [--json FILE]`
//!
//! Rows go as far as the crate's limits allow: the topics of the subscriber rows are created for
//! `ring::MAX_SUBS` subscribers, and the limit is found by asking for subscribers until
//! `TopicError::TooManySubscribers` (so it follows the crate, whatever it becomes), the holder limit is `tensorbus_pool::registry::MAX_HOLDERS`, the slot limit
//! `tensorbus_pool::pool::MAX_SLOTS`. A point past a limit is listed as skipped with the reason,
//! and the limit itself is measured instead.
//!
//! Peers are this binary re-executed with `TB_SCALE_PEER=<role>` (see [`peer`]); namespaces live
//! under /dev/shm (`tb-bench-scale-*-<pid>`) and are removed afterwards.

#[path = "scale/harness.rs"]
mod harness;

use harness::{answer, batched, points, read_command, spawn_ready, time_ns, BenchDir, Peer, Row, Stat};
use std::hint::black_box;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tensorbus_pool::registry::MAX_HOLDERS;
use tensorbus_pool::{Namespace, PoolConfig, Subscriber, TopicError, TopicOptions};

const CLASSES: &str = "4Kx64";

/// Options of the topics the subscriber rows fan out on: room for as many subscribers as a topic
/// can have (`max_subscribers`, default 64).
fn wide() -> TopicOptions {
    TopicOptions { max_subscribers: tensorbus_pool::ring::MAX_SUBS as u32, ..TopicOptions::default() }
}
const HOLDER_WHY: &str = "holder limit: tensorbus_pool::registry::MAX_HOLDERS processes and payload topics per namespace, the driver included";

struct Cfg {
    only: Vec<String>,
    quick: bool,
    json: Option<String>,
    /// Batches per figure (batched rows) and samples per figure (one-shot rows).
    batches: usize,
    samples: usize,
}

impl Cfg {
    fn want(&self, id: &str) -> bool {
        self.only.iter().any(|o| o == id)
    }
}

fn open(dir: &Path, classes: &str) -> Namespace {
    Namespace::open_dir(dir, PoolConfig::parse(classes).expect("classes")).expect("open namespace")
}

/// Wait (bounded) for the next message on `s`: its inline bytes.
fn recv_inline(s: &mut Subscriber) -> Vec<u8> {
    let m = s.recv_timeout(Duration::from_secs(10)).expect("recv").expect("no message within 10 s");
    m.inline().expect("inline message").to_vec()
}

/// The most subscribers one topic takes (up to `want`), and why no more.
fn sub_limit(want: u64) -> (u64, String) {
    let d = BenchDir::new("probe");
    let ns = open(&d.0, CLASSES);
    let t = ns.topic("probe", &wide()).expect("topic");
    let mut subs = Vec::new();
    while (subs.len() as u64) < want {
        match t.subscriber() {
            Ok(s) => subs.push(s),
            Err(e @ TopicError::TooManySubscribers { .. }) => return (subs.len() as u64, format!("subscriber limit per topic: {e}")),
            Err(e) => panic!("subscriber: {e}"),
        }
    }
    (want, String::new())
}

// ---- subscribers per topic ----------------------------------------------------------------------

fn row_subs(cfg: &Cfg) -> Row {
    let mut row = Row::new("subs", "send + receive vs subscribers per topic, one process", "subscribers", "ns");
    let asked = [1, 4, 16, 64, 256];
    let (limit, why) = sub_limit(256);
    let iters_for = |n: u64| (4000 / n as usize).max(40);
    for n in points(&asked, limit, &why, &mut row) {
        let d = BenchDir::new("subs");
        let ns = open(&d.0, CLASSES);
        let (ti, tp) = (ns.topic("inline", &wide()).unwrap(), ns.topic("payload", &wide()).unwrap());
        let (pi, pp) = (ti.publisher(), tp.publisher());
        let mut si: Vec<Subscriber> = (0..n).map(|_| ti.subscriber().unwrap()).collect();
        let mut sp: Vec<Subscriber> = (0..n).map(|_| tp.subscriber().unwrap()).collect();
        let frame = ns.try_acquire(4096).unwrap().freeze();
        let msg = [7u8; 16];
        // Sends alone (the subscribers fall behind and are lapped, as under policy latest).
        row.add(
            "send, inline 16 B",
            n,
            batched(cfg.batches, 2000, || {
                black_box(pi.send_inline(&msg).unwrap());
            }),
        );
        row.add(
            "send, payload descriptor",
            n,
            batched(cfg.batches, 2000, || {
                black_box(pp.send(frame.descriptor(), &frame).unwrap());
            }),
        );
        for s in si.iter_mut().chain(sp.iter_mut()) {
            while s.try_recv().unwrap().is_some() {}
        }
        row.add(
            "send + every subscriber receives, inline",
            n,
            batched(cfg.batches, iters_for(n), || {
                pi.send_inline(&msg).unwrap();
                for s in si.iter_mut() {
                    black_box(s.try_recv().unwrap().expect("message"));
                }
            }),
        );
        row.add(
            "send + every subscriber receives, payload",
            n,
            batched(cfg.batches, iters_for(n), || {
                pp.send(frame.descriptor(), &frame).unwrap();
                for s in sp.iter_mut() {
                    let (_, hold) = s.try_recv().unwrap().expect("message").into_parts();
                    black_box(hold.expect("payload hold").as_ptr());
                }
            }),
        );
        row.mem(n, &d.0);
    }
    row.note("Payload: the descriptor of one frozen 4 KiB slot, sent again and again; each receive takes and drops its own hold on the slot.");
    row
}

/// Cross-process: one peer with N subscribers (round trip: ping, N receives in the peer, pong),
/// and N peers with one subscriber each (ping, until the last of N pongs is in).
fn row_xsubs(cfg: &Cfg) -> Row {
    let mut row = Row::new("xsubs", "send + receive vs subscribers per topic, cross-process (blocking receives)", "subscribers", "ns");
    let asked = [1, 4, 16, 64, 256];
    let (limit, why) = sub_limit(256);
    for n in points(&asked, limit, &why, &mut row) {
        let d = BenchDir::new("xsubs");
        let ns = open(&d.0, CLASSES);
        let ping = ns.topic("ping", &wide()).unwrap().publisher();
        let mut pong = ns.topic("pong", &TopicOptions::default()).unwrap().subscriber().unwrap();
        pong.set_spin_window(Duration::ZERO);
        let peer = match spawn_ready(1, "subs", &d.0, CLASSES, n) {
            Ok(p) => p,
            Err(e) => {
                row.skip(n, &e);
                continue;
            }
        };
        let msg = [1u8; 16];
        let rounds = (400 / n as usize).max(20);
        row.add(
            "round trip, 1 peer with N subscribers",
            n,
            batched(cfg.batches, rounds, || {
                ping.send_inline(&msg).unwrap();
                black_box(recv_inline(&mut pong));
            }),
        );
        ping.send_inline(b"quit").unwrap();
        drop(peer);
        row.mem(n, &d.0);
    }
    // One subscriber per process: the driver and N peers each take a registry entry.
    let mut fan = Row::new("xsubs", "", "subscribers", "ns");
    let plimit = limit.min(MAX_HOLDERS as u64 - 1);
    let pwhy = if plimit < limit { format!("{HOLDER_WHY} ({MAX_HOLDERS})") } else { why.clone() };
    for n in points(&asked, plimit, &pwhy, &mut fan) {
        let d = BenchDir::new("xfan");
        let ns = open(&d.0, CLASSES);
        let ping = ns.topic("ping", &wide()).unwrap().publisher();
        // Deep enough for every peer's pong of a round.
        let depth = (2 * n as u32).next_power_of_two().clamp(4, tensorbus_pool::ring::MAX_DEPTH);
        let mut pong = ns.topic("pong", &TopicOptions { depth, ..TopicOptions::default() }).unwrap().subscriber().unwrap();
        pong.set_spin_window(Duration::ZERO);
        let peers = match spawn_ready(n as usize, "fanout", &d.0, CLASSES, 0) {
            Ok(p) => p,
            Err(e) => {
                fan.skip(n, &e);
                continue;
            }
        };
        let mut round = 0u64;
        let rounds = (200 / n as usize).max(4);
        fan.add(
            "round trip to the last of N peers, 1 subscriber each",
            n,
            batched(cfg.batches, rounds, || {
                round += 1;
                ping.send_inline(&round.to_le_bytes()).unwrap();
                let mut got = 0;
                while got < n {
                    if recv_inline(&mut pong) == round.to_le_bytes() {
                        got += 1;
                    }
                }
            }),
        );
        ping.send_inline(b"quit").unwrap();
        drop(peers);
        fan.mem(n, &d.0);
    }
    row.series.extend(fan.series);
    row.memory.extend(fan.memory.into_iter().filter(|m| m.0 == plimit));
    for (x, w) in fan.skipped {
        row.skipped.push((x, format!("(N peers) {w}")));
    }
    row.note("Both sides sleep on the topic futex (spin window 0); 16-byte inline pings. The pong topic of the N-peer series is deep enough for every pong of a round.");
    row
}

// ---- topics per namespace -----------------------------------------------------------------------

fn row_topics(cfg: &Cfg) -> Row {
    let mut row = Row::new("topics", "publish vs topics in the namespace", "topics", "ns");
    let asked: &[u64] = if cfg.quick { &[1, 100, 1000] } else { &[1, 100, 1000, 10_000] };
    for &t in asked {
        let d = BenchDir::new("topics");
        let ns = open(&d.0, CLASSES);
        // T - 1 other topics: created, then closed (their segments stay, as topics do).
        for i in 1..t {
            drop(ns.topic(&format!("bg/{i}"), &TopicOptions::default()).unwrap());
        }
        let topic = ns.topic("measured", &TopicOptions::default()).unwrap();
        let p = topic.publisher();
        let mut s = topic.subscriber().unwrap();
        let msg = [7u8; 16];
        row.add(
            "send + receive, inline 16 B",
            t,
            batched(cfg.batches, 2000, || {
                p.send_inline(&msg).unwrap();
                black_box(s.try_recv().unwrap().unwrap());
            }),
        );
        let frame = ns.try_acquire(4096).unwrap().freeze();
        row.add(
            "send + receive, payload descriptor",
            t,
            batched(cfg.batches, 2000, || {
                p.send(frame.descriptor(), &frame).unwrap();
                let (_, hold) = s.try_recv().unwrap().unwrap().into_parts();
                black_box(hold.unwrap().as_ptr());
            }),
        );
        row.mem(t, &d.0);
        let mut j = 0;
        let create: Vec<f64> = (0..cfg.samples)
            .map(|_| {
                j += 1;
                time_ns(|| drop(ns.topic(&format!("extra/{j}"), &TopicOptions::default()).unwrap())).0
            })
            .collect();
        row.add("create + close one more topic", t, Stat::of(create));
        drop((frame, p, s, topic, ns));
        // Joining and leaving reap and visit every topic.
        let n = if t >= 10_000 { cfg.samples.min(5) } else { cfg.samples };
        let (mut opens, mut leaves) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (o, ns) = time_ns(|| open(&d.0, CLASSES));
            let (l, ()) = time_ns(|| ns.leave());
            opens.push(o);
            leaves.push(l);
        }
        row.add("join (Namespace::open_dir, in-process)", t, Stat::of(opens));
        row.add("leave (Namespace::leave)", t, Stat::of(leaves));
    }
    row.note("Other topics are inline topics created and closed before measuring (segment files that stay); the joins also visit the topics the create samples added. Payload topics take a registry entry each while they hold a frame, so at most MAX_HOLDERS of them are live at once.");
    row
}

// ---- live holders -------------------------------------------------------------------------------

fn row_join(cfg: &Cfg) -> Row {
    let mut row = Row::new("join", "join and leave vs live holders", "live holders", "ns");
    let d = BenchDir::new("join");
    let limit = MAX_HOLDERS as u64 - 1; // the joining process takes the last entry
    let mut holders: Vec<Peer> = Vec::new();
    for h in points(&[1, 16, 64, 256, 1024], limit, &format!("{HOLDER_WHY} ({MAX_HOLDERS}): the joining process takes one"), &mut row) {
        let more = spawn_ready(h as usize - holders.len(), "hold", &d.0, CLASSES, 0).expect("holders");
        holders.extend(more);
        let (mut opens, mut leaves) = (Vec::new(), Vec::new());
        for _ in 0..cfg.samples {
            let mut p = Peer::spawn("join", &d.0, CLASSES, 0);
            let l = p.line();
            let mut it = l.split_whitespace().map(|v| v.parse::<f64>().unwrap_or_else(|_| panic!("join peer said {l:?}")));
            opens.push(it.next().expect("open ns"));
            leaves.push(it.next().expect("leave ns"));
        }
        row.add("join, a fresh process (Namespace::open_dir)", h, Stat::of(opens));
        row.add("leave, that process (Namespace::leave)", h, Stat::of(leaves));
        let (mut opens, mut leaves) = (Vec::new(), Vec::new());
        for _ in 0..cfg.samples * 4 {
            let (o, ns) = time_ns(|| open(&d.0, CLASSES));
            let (l, ()) = time_ns(|| ns.leave());
            opens.push(o);
            leaves.push(l);
        }
        row.add("join again, in-process (open_dir)", h, Stat::of(opens));
        row.add("leave, in-process", h, Stat::of(leaves));
        row.mem(h, &d.0);
    }
    row.note("Live holders are peer processes that opened the namespace and sleep. A fresh process's join includes mapping the registry; in-process it is registration plus the reap that every join runs.");
    row
}

// ---- reap ---------------------------------------------------------------------------------------

fn row_reap_slots(cfg: &Cfg) -> Row {
    let mut row = Row::new("reap-slots", "reap vs pool size", "slots in the pool", "ns");
    let asked: &[u64] = if cfg.quick { &[256, 1024, 4096] } else { &[256, 1024, 4096, 16_384, 65_536] };
    let max = tensorbus_pool::pool::MAX_SLOTS as u64;
    for s in points(asked, max, "slot limit: tensorbus_pool::pool::MAX_SLOTS per pool", &mut row) {
        let d = BenchDir::new("reaps");
        let classes = format!("4Kx{s}");
        let ns = open(&d.0, &classes);
        drop(ns.try_acquire(64).unwrap()); // creates the pool and maps it here
        row.add(
            "reap, nobody dead",
            s,
            batched(cfg.batches, 20, || {
                black_box(ns.reap());
            }),
        );
        let mut samples = Vec::new();
        for _ in 0..cfg.samples {
            let mut peer = spawn_ready(1, "die", &d.0, &classes, 4).expect("peer").pop().unwrap();
            peer.kill();
            let (t, rep) = time_ns(|| ns.reap());
            assert_eq!(rep.processes, 1, "the killed peer is reaped");
            samples.push(t);
        }
        row.add("reap, 1 dead holder (4 slots)", s, Stat::of(samples));
        row.mem(s, &d.0);
    }
    row.note("Pool of 4 KiB slots; a dead holder is a peer killed with SIGKILL while it holds 4 slots (2 writing, 2 frozen).");
    row
}

fn row_reap_dead(cfg: &Cfg) -> Row {
    let mut row = Row::new("reap-dead", "reap vs dead holders", "dead holders", "ns");
    let d = BenchDir::new("reapd");
    let classes = "4Kx4096"; // room for 2 slots of each of 1,023 dead holders
    let ns = open(&d.0, classes);
    drop(ns.try_acquire(64).unwrap());
    let limit = MAX_HOLDERS as u64 - 1; // the reaper is registered too
    for n in points(&[1, 4, 16, 64, 256, 1024], limit, &format!("{HOLDER_WHY} ({MAX_HOLDERS}): the reaper takes one"), &mut row) {
        let mut samples = Vec::new();
        // Every sample starts N processes, each of which reaps on joining (O(N) `/proc` reads):
        // past 64 holders (after the holder redesign) fewer samples keep the row in seconds.
        let k = if n > 64 { 3 } else { cfg.samples.div_ceil(2) };
        for _ in 0..k {
            let mut peers = spawn_ready(n as usize, "die", &d.0, classes, 2).expect("peers");
            for p in &mut peers {
                p.kill();
            }
            let (t, rep) = time_ns(|| ns.reap());
            assert_eq!(rep.processes as u64, n, "every killed peer is reaped");
            samples.push(t);
        }
        row.add("reap (pool of 4096 slots, 2 held by each dead holder)", n, Stat::of(samples));
        row.mem(n, &d.0);
    }
    row
}

// ---- claim under contention ---------------------------------------------------------------------

const CLAIM_MS: u64 = 200;

/// CPU time of the calling thread (ns).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `ts`, a valid, exclusively borrowed local.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Claim and release (`try_acquire(64)`, drop) for `ms` of wall time: the count and the CPU
/// time this thread spent (ns). Count per CPU second is what contention costs, whether or not
/// the thread had a core to itself; count per wall second also falls when it waits for a core.
fn claim_loop(ns: &Namespace, ms: u64) -> (u64, u64) {
    let (end, cpu) = (Instant::now() + Duration::from_millis(ms), thread_cpu_ns());
    let mut n = 0u64;
    loop {
        for _ in 0..64 {
            drop(black_box(ns.try_acquire(64).expect("claim")));
        }
        n += 64;
        if Instant::now() >= end {
            return (n, thread_cpu_ns() - cpu);
        }
    }
}

/// Ops per wall second per worker, and ops per CPU second, of one batch of `(count, cpu ns)`.
fn claim_rates(runs: &[(u64, u64)]) -> (f64, f64) {
    let (ops, cpu) = runs.iter().fold((0, 0), |(o, c), r| (o + r.0, c + r.1));
    (ops as f64 / runs.len() as f64 / (CLAIM_MS as f64 / 1e3), ops as f64 / (cpu.max(1) as f64 / 1e9))
}

fn row_claim(cfg: &Cfg) -> Row {
    let mut row = Row::new("claim", "pool claim + release under contention", "threads or processes", "ops/s");
    let d = BenchDir::new("claim");
    let classes = "4Kx256";
    let asked = [1, 2, 4, 8];
    let add = |row: &mut Row, what: &str, n: u64, batches: Vec<(f64, f64)>| {
        row.add(&format!("{what}: ops/s per {what} (wall)"), n, Stat::of(batches.iter().map(|b| b.0).collect()));
        row.add(&format!("{what}: ops per CPU second"), n, Stat::of(batches.iter().map(|b| b.1).collect()));
    };
    {
        let ns = open(&d.0, classes);
        drop(ns.try_acquire(64).unwrap());
        for &n in &asked {
            let batches = (0..cfg.batches.min(5))
                .map(|_| {
                    let go = Arc::new(Barrier::new(n as usize));
                    let threads: Vec<_> = (0..n)
                        .map(|_| {
                            let (ns, go) = (ns.clone(), go.clone());
                            std::thread::spawn(move || {
                                go.wait();
                                claim_loop(&ns, CLAIM_MS)
                            })
                        })
                        .collect();
                    claim_rates(&threads.into_iter().map(|t| t.join().unwrap()).collect::<Vec<_>>())
                })
                .collect();
            add(&mut row, "thread", n, batches);
        }
    }
    for n in points(&asked, MAX_HOLDERS as u64, &format!("{HOLDER_WHY} ({MAX_HOLDERS})"), &mut row) {
        let mut peers = spawn_ready(n as usize, "claim", &d.0, classes, CLAIM_MS).expect("claim peers");
        let batches = (0..cfg.batches.min(5))
            .map(|_| {
                for p in &mut peers {
                    p.say("go");
                }
                let runs: Vec<(u64, u64)> = peers
                    .iter_mut()
                    .map(|p| {
                        let l = p.line();
                        let mut it = l.split_whitespace().map(|v| v.parse::<u64>().unwrap_or_else(|_| panic!("claim peer said {l:?}")));
                        (it.next().expect("count"), it.next().expect("cpu ns"))
                    })
                    .collect();
                claim_rates(&runs)
            })
            .collect();
        add(&mut row, "process", n, batches);
        row.mem(n, &d.0);
    }
    row.note(format!(
        "Each thread or process claims and releases a 4 KiB slot (`try_acquire(64)`, drop) for {CLAIM_MS} ms of wall time, all at once; the median of batches. Per wall second, ops fall as 1/n past the machine's {} cores (and earlier when other work holds a core), whatever the pool does; per CPU second (the thread CPU clock) they fall only by what contention costs.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    row
}

// ---- peers --------------------------------------------------------------------------------------

/// The peer roles: `subs` (N subscribers on `ping`, one `pong` per ping), `fanout` (one
/// subscriber, one `pong` per ping), `hold` (a live holder until its stdin closes), `join`
/// (time open and leave, print both), `die` (hold `arg` slots until killed), `claim` (a claim loop
/// of `arg` ms per `go`).
fn peer(role: &str) {
    // A peer ends with its driver.
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets this process's parent-death signal.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
    }
    let dir = std::path::PathBuf::from(std::env::var_os("TB_SCALE_DIR").expect("TB_SCALE_DIR"));
    let classes = std::env::var("TB_SCALE_CLASSES").unwrap_or_else(|_| CLASSES.into());
    let arg: u64 = std::env::var("TB_SCALE_ARG").ok().and_then(|a| a.parse().ok()).unwrap_or(0);
    if role == "join" {
        let (o, ns) = time_ns(|| open(&dir, &classes));
        let (l, ()) = time_ns(|| ns.leave());
        answer(&format!("{o} {l}"));
        return;
    }
    let ns = open(&dir, &classes);
    match role {
        "subs" | "fanout" => {
            let topic = ns.topic("ping", &TopicOptions::default()).unwrap();
            let mut subs = Vec::new();
            for _ in 0..arg.max(1) {
                match topic.subscriber() {
                    Ok(mut s) => {
                        s.set_spin_window(Duration::ZERO);
                        subs.push(s);
                    }
                    Err(e) => return answer(&format!("peer could not subscribe: {e}")),
                }
            }
            let pong = ns.topic("pong", &TopicOptions::default()).unwrap().publisher();
            answer("ready");
            loop {
                let m = recv_inline(&mut subs[0]);
                if m == b"quit" {
                    return;
                }
                for s in &mut subs[1..] {
                    while s.try_recv().unwrap().is_none() {
                        std::hint::spin_loop();
                    }
                }
                pong.send_inline(&m).unwrap();
            }
        }
        "hold" => {
            answer("ready");
            while read_command().is_some() {}
        }
        "die" => {
            let held: Vec<_> = (0..arg).map(|i| (ns.try_acquire(64).unwrap(), i)).collect();
            let (writing, frozen): (Vec<_>, Vec<_>) = held.into_iter().partition(|(_, i)| i % 2 == 0);
            let frozen: Vec<_> = frozen.into_iter().map(|(m, _)| m.freeze()).collect();
            answer("ready");
            loop {
                std::thread::sleep(Duration::from_secs(1));
                black_box((&writing, &frozen));
            }
        }
        "claim" => {
            drop(ns.try_acquire(64).unwrap());
            answer("ready");
            while let Some(cmd) = read_command() {
                if cmd == "go" {
                    let (n, cpu) = claim_loop(&ns, arg);
                    answer(&format!("{n} {cpu}"));
                }
            }
        }
        other => panic!("unknown peer role {other}"),
    }
}

// ---- main ---------------------------------------------------------------------------------------

fn parse_args() -> Cfg {
    let mut cfg = Cfg { only: ["subs", "xsubs", "topics", "join", "reap", "claim"].map(String::from).to_vec(), quick: false, json: None, batches: 15, samples: 15 };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--only" => cfg.only = args.next().expect("--only a,b").split(',').map(String::from).collect(),
            "--quick" => cfg.quick = true,
            "--json" => cfg.json = Some(args.next().expect("--json FILE")),
            _ => {} // `--bench` from cargo, filters
        }
    }
    if cfg.quick {
        (cfg.batches, cfg.samples) = (5, 5);
    }
    cfg
}

fn main() {
    if let Ok(role) = std::env::var("TB_SCALE_PEER") {
        peer(&role);
        return;
    }
    let cfg = parse_args();
    let started = Instant::now();
    let date = std::process::Command::new("date").args(["-u", "+%F %H:%M UTC"]).output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let machine = harness::machine();
    let mut rows = Vec::new();
    type RowFn = fn(&Cfg) -> Row;
    let all: [(&str, RowFn); 7] =
        [("subs", row_subs), ("xsubs", row_xsubs), ("topics", row_topics), ("join", row_join), ("reap", row_reap_slots), ("reap", row_reap_dead), ("claim", row_claim)];
    for (id, f) in all {
        if cfg.want(id) {
            eprintln!("scale: {id}");
            rows.push(f(&cfg));
        }
    }
    println!("## Scale ({date}; {machine})\n");
    println!("Limits of this build: {MAX_HOLDERS} holders per namespace (`registry::MAX_HOLDERS`), {} slots per pool (`pool::MAX_SLOTS`).\n", tensorbus_pool::pool::MAX_SLOTS);
    for r in &rows {
        println!("{}", r.markdown());
    }
    let secs = started.elapsed().as_secs_f64();
    println!("({secs:.0} s)");
    if let Some(path) = &cfg.json {
        let doc = serde_json::json!({
            "date": date, "machine": machine, "quick": cfg.quick, "seconds": secs,
            "max_holders": MAX_HOLDERS, "max_slots": tensorbus_pool::pool::MAX_SLOTS,
            "rows": rows.iter().map(Row::json).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).expect("write --json file");
        eprintln!("scale: wrote {path}");
    }
}
