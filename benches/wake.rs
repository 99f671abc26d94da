//! Cross-process wake latency (issue 16): how long after a send the other process is running
//! with the message in hand, when it was asleep. A plain harness (not criterion): it prints a
//! markdown table of one-way percentiles for every scenario, all measured in one run, with the
//! ratio against a bare futex ping-pong between the same two processes. See benches/README.md.
//!
//! `cargo bench --bench wake [-- --only ref,recv,node,py-node,node-spin,ref-b2b,idle] [--rounds N] [--json]`
//!
//! `py-node` drives a Python event node (a peer of `benches/python/bench_wake.py`, run with
//! `.venv/bin/python` or `TB_WAKE_PYTHON`; skipped without one) from this Rust driver.
//!
//! Every scenario is a ping-pong between this process (A) and a peer (B): the bench binary
//! re-executes itself with `TB_WAKE_PEER=<role>` and `TB_WAKE_DIR=<namespace dir>` (the pattern
//! of benches/pool.rs). Each round A pauses (1 ms by default, so B has gone to sleep), stamps
//! CLOCK_MONOTONIC, sends the stamp on `ping` and waits for `pong`. B takes its own stamp as soon
//! as it runs with the message (for the event node: the first statement of its tick), and sends
//! the difference back. That difference is the one-way figure; A also records the round trip,
//! and the table shows RTT/2 beside it (the classic ping-pong figure; A's own wake is in it).
//!
//! `--json` prints one JSON object per scenario instead of the table (benches/python/bench_wake.py
//! reads the reference from it).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tensorbus::pool::futex::{self, monotonic_ns};
use tensorbus::pool::Subscriber;
use tensorbus::{node_fn, Namespace, NodeConfig, PoolConfig, Scheduler, TopicOptions};

const CLASSES: &str = "4Kx16";
const WARMUP: usize = 200;
/// Rounds a scenario runs before the next one takes its turn.
const BLOCK: usize = 250;
const PAUSE: Duration = Duration::from_millis(1);
const QUIT: &[u8] = b"quit";
/// How long an idle peer is watched (after a settling delay of `IDLE_SETTLE`).
const IDLE_WINDOW: Duration = Duration::from_secs(3);
const IDLE_SETTLE: Duration = Duration::from_millis(500);

// ---- shared plumbing ----------------------------------------------------------------------------

fn bench_dir(tag: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let d = base.join(format!("tb-wake-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open(dir: &Path) -> Namespace {
    Namespace::open_dir(dir, PoolConfig::parse(CLASSES).unwrap()).unwrap()
}

/// A ping or pong: two u64 (the sender's stamp or the measured delta, and the round number).
fn encode(a: u64, b: u64) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[..8].copy_from_slice(&a.to_le_bytes());
    m[8..].copy_from_slice(&b.to_le_bytes());
    m
}

fn decode(m: &[u8]) -> Option<(u64, u64)> {
    (m.len() == 16).then(|| (u64::from_le_bytes(m[..8].try_into().unwrap()), u64::from_le_bytes(m[8..].try_into().unwrap())))
}

/// The next message on `s` as owned bytes, waiting as `s` is set up to (spin window).
fn recv_bytes(s: &mut Subscriber) -> Vec<u8> {
    loop {
        if let Some(m) = s.recv_timeout(Duration::from_secs(5)).unwrap() {
            return m.inline().expect("inline message").to_vec();
        }
    }
}

/// A peer process, killed (if still running) when dropped.
struct Peer {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(role: &str, dir: &Path) -> Peer {
        let mut child =
            Command::new(std::env::current_exe().unwrap()).env("TB_WAKE_PEER", role).env("TB_WAKE_DIR", dir).stdin(Stdio::null()).stdout(Stdio::piped()).spawn().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        Peer { child, out }
    }

    fn line(&mut self) -> String {
        let mut s = String::new();
        self.out.read_line(&mut s).unwrap();
        s.trim().to_string()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the futex reference ------------------------------------------------------------------------

/// The reference's shared words, in a 4 KiB file mapping both processes open.
#[repr(C)]
struct Words {
    /// Bumped by A per ping (B sleeps on it).
    ping: AtomicU32,
    /// Set by B to the ping it answers (A sleeps on it).
    pong: AtomicU32,
    /// A's stamp for the current ping.
    sent_ns: AtomicU64,
    /// B's measured one-way delay for the current ping.
    delta_ns: AtomicU64,
    /// Non-zero: B returns.
    quit: AtomicU32,
}

/// Map `dir/futex` (created zeroed by A) shared; the mapping is never unmapped (a bench).
fn map_words(dir: &Path, create: bool) -> &'static Words {
    let path = dir.join("futex");
    let f = std::fs::OpenOptions::new().read(true).write(true).create(create).truncate(false).open(&path).unwrap();
    if create {
        f.set_len(4096).unwrap();
    }
    use std::os::fd::AsRawFd;
    // SAFETY: a fresh shared mapping of a 4096-byte file we hold open; the kernel picks the
    // address. MAP_SHARED on a tmpfs file is what both processes see.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, f.as_raw_fd(), 0) };
    assert_ne!(p, libc::MAP_FAILED, "mmap {}", path.display());
    // SAFETY: the mapping is page-aligned, 4096 bytes (more than `Words`), zero-filled (a valid
    // `Words`: atomics of 0), only ever accessed through these atomics, and never unmapped, so
    // a `'static` shared reference is sound.
    unsafe { &*(p as *const Words) }
}

/// Peer B of the reference: sleep on `ping`, stamp, answer on `pong`.
fn futex_peer(dir: &Path) {
    let w = map_words(dir, false);
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut seen = 0u32;
    loop {
        // Acquire: pairs with A's Release bump of `ping`, so `sent_ns` below is A's new stamp.
        while w.ping.load(Ordering::Acquire) == seen {
            // Relaxed: the quit flag carries no data.
            if w.quit.load(Ordering::Relaxed) != 0 {
                return;
            }
            futex::wait(&w.ping, seen, Duration::from_secs(1));
        }
        let now = monotonic_ns();
        // Acquire: as above (the loop's load may be older than this one).
        seen = w.ping.load(Ordering::Acquire);
        // Relaxed: ordered by the Acquire load of `ping` (A stored it before its Release bump).
        let sent = w.sent_ns.load(Ordering::Relaxed);
        // Relaxed: published by the Release store of `pong` just below.
        w.delta_ns.store(now.saturating_sub(sent), Ordering::Relaxed);
        // Release: pairs with A's Acquire load of `pong`; makes `delta_ns` visible first.
        w.pong.store(seen, Ordering::Release);
        futex::wake_all(&w.pong);
    }
}

/// One round of the reference: returns (one-way, round trip) in ns.
fn futex_round(w: &Words, v: &mut u32) -> (u64, u64) {
    *v = v.wrapping_add(1);
    let t0 = monotonic_ns();
    // Relaxed: published by the Release store of `ping` below.
    w.sent_ns.store(t0, Ordering::Relaxed);
    // Release: pairs with B's Acquire load of `ping` (publishes `sent_ns`).
    w.ping.store(*v, Ordering::Release);
    futex::wake_all(&w.ping);
    // Acquire: pairs with B's Release store of `pong` (so `delta_ns` is B's answer to this ping).
    while w.pong.load(Ordering::Acquire) != *v {
        futex::wait(&w.pong, v.wrapping_sub(1), Duration::from_secs(1));
    }
    let rtt = monotonic_ns() - t0;
    // Relaxed: ordered by the Acquire load of `pong` above.
    (w.delta_ns.load(Ordering::Relaxed), rtt)
}

/// A's side of the reference.
struct FutexSide {
    w: &'static Words,
    v: u32,
    dir: PathBuf,
    peer: Peer,
}

impl FutexSide {
    fn start(tag: &str) -> FutexSide {
        let dir = bench_dir(tag);
        std::fs::create_dir_all(&dir).unwrap();
        let w = map_words(&dir, true);
        let mut peer = Peer::spawn("futex", &dir);
        assert_eq!(peer.line(), "ready");
        FutexSide { w, v: 0, dir, peer }
    }
}

impl Side for FutexSide {
    fn round(&mut self, _i: u64) -> (u64, u64) {
        futex_round(self.w, &mut self.v)
    }

    fn finish(self: Box<Self>) -> String {
        // Relaxed: a flag with no data; the wake below makes B look at it.
        self.w.quit.store(1, Ordering::Relaxed);
        futex::wake_all(&self.w.ping);
        let FutexSide { dir, peer, .. } = *self;
        drop(peer);
        let _ = std::fs::remove_dir_all(&dir);
        String::new()
    }
}

// ---- tensorbus peers ----------------------------------------------------------------------------

/// Peer B with a blocking receive: `recv_timeout` on `ping` (spin window 0: sleeps at once), stamp,
/// answer on `pong`.
fn recv_peer(dir: &Path) {
    let ns = open(dir);
    let mut s = ns.topic("ping", &TopicOptions::default()).unwrap().subscriber().unwrap();
    s.set_spin_window(Duration::ZERO);
    let p = ns.topic("pong", &TopicOptions::default()).unwrap().publisher();
    println!("ready");
    std::io::stdout().flush().unwrap();
    loop {
        let Some(m) = s.recv_timeout(Duration::from_secs(5)).unwrap() else { continue };
        let now = monotonic_ns();
        let bytes = m.inline().expect("inline message");
        if bytes == QUIT {
            return;
        }
        let (sent, round) = decode(bytes).expect("16-byte ping");
        p.send_inline(&encode(now.saturating_sub(sent), round)).unwrap();
    }
}

/// Peer B as an event node: a `Scheduler` with one node `on` the `ping` subscriber's trigger; the
/// tick stamps first, then drains `ping` and answers each message on `pong`. `spin`: the
/// scheduler's spin window (None: its default). Prints the node's own wake statistics on exit.
fn node_peer(dir: &Path, spin: Option<Duration>, idle: bool) {
    let ns = open(dir);
    let mut sub = ns.topic("ping", &TopicOptions::default()).unwrap().subscriber().unwrap();
    let trigger = sub.trigger().unwrap();
    let p = ns.topic("pong", &TopicOptions::default()).unwrap().publisher();
    let s = Scheduler::new(100.0);
    // The live statistics thread runs as it does for a user, into the bench's namespace.
    s.set_namespace(ns.clone());
    if let Some(w) = spin {
        s.set_spin_window(w);
    }
    let stop = s.stop_handle();
    s.add(
        node_fn("echo", move |_ctx| {
            let now = monotonic_ns();
            while let Some(m) = sub.try_recv()? {
                let bytes = m.inline().ok_or("not inline")?;
                if bytes == QUIT {
                    stop.stop();
                    return Ok(());
                }
                let (sent, round) = decode(bytes).ok_or("not a ping")?;
                p.send_inline(&encode(now.saturating_sub(sent), round))?;
            }
            Ok(())
        }),
        NodeConfig::on([trigger]),
    )
    .unwrap();
    println!("ready");
    std::io::stdout().flush().unwrap();
    s.run(idle.then_some(IDLE_SETTLE + IDLE_WINDOW + Duration::from_secs(2))).unwrap();
    let st = s.node_stats("echo").unwrap();
    println!("stats ticks={} p50_wake_ns={} p99_wake_ns={} max_wake_ns={}", st.total_ticks, st.p50_wake.as_nanos(), st.p99_wake.as_nanos(), st.max_wake.as_nanos());
}

/// A's side of a tensorbus scenario, B running `role`; `spin` is A's own receive spin window.
struct TopicSide {
    ping: tensorbus::pool::Publisher,
    pong: Subscriber,
    dir: PathBuf,
    peer: Peer,
    node: bool,
}

impl TopicSide {
    fn start(role: &str, spin: Duration) -> TopicSide {
        let dir = bench_dir(role);
        let ns = open(&dir);
        let ping = ns.topic("ping", &TopicOptions::default()).unwrap().publisher();
        let mut pong = ns.topic("pong", &TopicOptions::default()).unwrap().subscriber().unwrap();
        pong.set_spin_window(spin);
        let mut peer = Peer::spawn(role, &dir);
        assert_eq!(peer.line(), "ready");
        TopicSide { ping, pong, dir, peer, node: role.starts_with("node") }
    }
}

impl Side for TopicSide {
    fn round(&mut self, i: u64) -> (u64, u64) {
        let t0 = monotonic_ns();
        self.ping.send_inline(&encode(t0, i)).unwrap();
        let (one, round) = decode(&recv_bytes(&mut self.pong)).expect("16-byte pong");
        let rtt = monotonic_ns() - t0;
        assert_eq!(round, i, "answers come in order");
        (one, rtt)
    }

    fn finish(mut self: Box<Self>) -> String {
        self.ping.send_inline(QUIT).unwrap();
        let stats = if self.node { self.peer.line().trim_start_matches("stats ").to_string() } else { String::new() };
        let _ = self.peer.child.wait();
        let TopicSide { ping, pong, dir, peer, .. } = *self;
        drop((ping, pong, peer));
        let _ = std::fs::remove_dir_all(&dir);
        stats
    }
}

tensorbus::pod_message! {
    /// The Python peers' message (`benches/python/bench_wake.py`'s `Ping`): same fields, same
    /// layout hash, so this driver can ping them.
    struct Ping {
        sent_ns: u64,
        seq: u64,
    }
}

/// A's side (Rust) of a scenario whose B is a Python peer of `benches/python/bench_wake.py`
/// (`--peer ROLE`): which part of the Python rows is the Python driver's, and which the peer's.
struct PySide {
    ping: tensorbus::Publisher<Ping>,
    pong: tensorbus::Subscriber<Ping>,
    dir: PathBuf,
    peer: Peer,
}

impl PySide {
    /// None when there is no `.venv/bin/python` (the scenario is skipped).
    fn start(role: &str) -> Option<PySide> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var_os("TB_WAKE_PYTHON").map(PathBuf::from).unwrap_or_else(|| root.join(".venv/bin/python"));
        if !python.exists() {
            eprintln!("wake: no {} — the Python-peer row is skipped", python.display());
            return None;
        }
        let dir = bench_dir(&format!("py-{role}"));
        let ns = open(&dir);
        let ping: tensorbus::Publisher<Ping> = tensorbus::Publisher::new(&ns, &format!("wake.{role}.ping")).unwrap();
        let mut pong: tensorbus::Subscriber<Ping> = tensorbus::Subscriber::new(&ns, &format!("wake.{role}.pong")).unwrap();
        pong.set_spin_window(Duration::ZERO);
        let mut child = Command::new(python)
            .arg(root.join("benches/python/bench_wake.py"))
            .args(["--peer", role])
            .env("TENSORBUS_SHM_DIR", dir.parent().unwrap())
            .env("TENSORBUS_NAMESPACE", dir.file_name().unwrap())
            .env("TENSORBUS_POOL_CLASSES", CLASSES)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut peer = Peer { child, out };
        assert_eq!(peer.line(), "ready");
        Some(PySide { ping, pong, dir, peer })
    }
}

impl Side for PySide {
    fn round(&mut self, i: u64) -> (u64, u64) {
        let t0 = monotonic_ns();
        self.ping.send(&Ping { sent_ns: t0, seq: i }).unwrap();
        let m = loop {
            if let Some(m) = self.pong.recv_timeout(Duration::from_secs(5)).unwrap() {
                break m;
            }
        };
        let rtt = monotonic_ns() - t0;
        assert_eq!(m.seq, i, "answers come in order");
        (m.sent_ns, rtt)
    }

    fn finish(mut self: Box<Self>) -> String {
        self.ping.send(&Ping { sent_ns: 0, seq: u64::MAX }).unwrap();
        let stats = self.peer.line();
        let _ = self.peer.child.wait();
        let PySide { ping, pong, dir, peer } = *self;
        drop((ping, pong, peer));
        let _ = std::fs::remove_dir_all(&dir);
        stats.trim_start_matches("stats ").to_string()
    }
}

/// A's side of one scenario: one ping-pong round, and the end (B's note, if any).
trait Side {
    fn round(&mut self, i: u64) -> (u64, u64);
    fn finish(self: Box<Self>) -> String;
}

/// Run `sides` interleaved: `WARMUP` rounds each, then `rounds` each in blocks of `BLOCK`, the
/// scenarios taking turns block by block (so drift and a neighbour's noise hit all alike).
fn interleaved(sides: Vec<(&'static str, &'static str, Box<dyn Side>)>, rounds: usize, pause: Duration) -> Vec<Row> {
    let mut rows: Vec<(Row, Box<dyn Side>)> = sides.into_iter().map(|(id, label, side)| (Row { id, label, pause, s: Samples::default(), note: String::new() }, side)).collect();
    let mut i = 0u64;
    for (_, side) in &mut rows {
        for _ in 0..WARMUP {
            pause_for(pause);
            side.round(i);
            i += 1;
        }
    }
    let mut done = 0;
    while done < rounds {
        let n = BLOCK.min(rounds - done);
        for (row, side) in &mut rows {
            for _ in 0..n {
                pause_for(pause);
                let (one, rtt) = side.round(i);
                row.s.push(one, rtt);
                i += 1;
            }
        }
        done += n;
    }
    rows.into_iter()
        .map(|(mut row, side)| {
            row.note = side.finish();
            row
        })
        .collect()
}

fn pause_for(pause: Duration) {
    if !pause.is_zero() {
        std::thread::sleep(pause);
    }
}

// ---- idle CPU -----------------------------------------------------------------------------------

/// CPU time used so far by every thread of `pid`, in ns: the sum of the first field of
/// /proc/<pid>/task/*/schedstat (ns resolution), or utime + stime of /proc/<pid>/stat (clock ticks)
/// where schedstat is missing. Threads that already exited are not counted by schedstat.
pub fn cpu_ns(pid: u32) -> (u64, &'static str) {
    let mut total = 0u64;
    let mut found = false;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Some(ns) = std::fs::read_to_string(t.path().join("schedstat")).ok().and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok()) {
                total += ns;
                found = true;
            }
        }
    }
    if found {
        return (total, "schedstat");
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split_whitespace().collect();
    let ticks: u64 = rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    (ticks * 1_000_000_000 / hz, "stat")
}

/// An event node in a child with no traffic: percent of one core over `IDLE_WINDOW`.
fn run_idle() -> (f64, &'static str) {
    let dir = bench_dir("idle");
    let ns = open(&dir);
    let _ping = ns.topic("ping", &TopicOptions::default()).unwrap().publisher();
    let mut peer = Peer::spawn("idle", &dir);
    assert_eq!(peer.line(), "ready");
    std::thread::sleep(IDLE_SETTLE);
    let (c0, src) = cpu_ns(peer.pid());
    let t0 = Instant::now();
    std::thread::sleep(IDLE_WINDOW);
    let (c1, _) = cpu_ns(peer.pid());
    let pct = (c1 - c0) as f64 / t0.elapsed().as_nanos() as f64 * 100.0;
    drop(peer);
    let _ = std::fs::remove_dir_all(&dir);
    (pct, src)
}

// ---- figures ------------------------------------------------------------------------------------

#[derive(Default)]
struct Samples {
    one_way: Vec<u64>,
    rtt: Vec<u64>,
}

impl Samples {
    fn push(&mut self, one: u64, rtt: u64) {
        self.one_way.push(one);
        self.rtt.push(rtt);
    }
    fn sort(&mut self) {
        self.one_way.sort_unstable();
        self.rtt.sort_unstable();
    }
}

/// Nearest-rank percentile of sorted `v`.
fn pct(v: &[u64], p: f64) -> u64 {
    let i = ((p / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

struct Row {
    id: &'static str,
    label: &'static str,
    pause: Duration,
    s: Samples,
    note: String,
}

fn parse_args() -> (Vec<String>, usize, bool) {
    let mut only = vec!["ref", "recv", "node", "py-node", "node-spin", "ref-b2b", "idle"].into_iter().map(String::from).collect();
    let (mut rounds, mut json) = (2000, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--only" => only = args.next().expect("--only a,b").split(',').map(String::from).collect(),
            "--rounds" => rounds = args.next().expect("--rounds N").parse().expect("--rounds N"),
            "--json" => json = true,
            _ => {} // `--bench` from cargo, filters
        }
    }
    (only, rounds, json)
}

fn machine() -> String {
    let cpu =
        std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{} cores, {}, Linux {}, load {}, futex_waitv {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu.unwrap_or_else(|| "cpu ?".into()),
        kernel.trim(),
        load.split_whitespace().next().unwrap_or("?"),
        if futex::has_wait_any() { "yes" } else { "no (1 ms poll fallback)" }
    )
}

fn main() {
    if let (Some(role), Some(dir)) = (std::env::var_os("TB_WAKE_PEER"), std::env::var_os("TB_WAKE_DIR")) {
        // A peer ends with its driver (a driver that panicked leaves no sleepers behind).
        // SAFETY: prctl(PR_SET_PDEATHSIG) only sets this process's parent-death signal.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        }
        let dir = PathBuf::from(dir);
        match role.to_str().unwrap() {
            "futex" => futex_peer(&dir),
            "recv" => recv_peer(&dir),
            "node" => node_peer(&dir, Some(Duration::ZERO), false),
            "node-spin" => node_peer(&dir, None, false),
            "idle" => node_peer(&dir, None, true),
            other => panic!("unknown peer role {other}"),
        }
        return;
    }
    let (only, rounds, json) = parse_args();
    let want = |id: &str| only.iter().any(|o| o == id);
    let mut paused: Vec<(&'static str, &'static str, Box<dyn Side>)> = Vec::new();
    if want("ref") {
        paused.push(("ref", "(a) reference: bare futex ping-pong (FUTEX_WAIT/WAKE, shared file mapping)", Box::new(FutexSide::start("futex"))));
    }
    if want("recv") {
        paused.push(("recv", "(b) tensorbus `recv_timeout`, spin window 0", Box::new(TopicSide::start("recv", Duration::ZERO))));
    }
    if want("node") {
        paused.push(("node", "(c) tensorbus event node (`Scheduler`, `NodeConfig::on`), spin window 0", Box::new(TopicSide::start("node", Duration::ZERO))));
    }
    if want("py-node") {
        if let Some(side) = PySide::start("node") {
            paused.push(("py-node", "(e) a Python event node (`tb.Node(on=...)`, bench_wake.py's peer) woken by this Rust driver", Box::new(side)));
        }
    }
    let mut rows = interleaved(paused, rounds, PAUSE);
    let mut busy: Vec<(&'static str, &'static str, Box<dyn Side>)> = Vec::new();
    if want("ref-b2b") {
        busy.push(("ref-b2b", "(a′) reference, back-to-back pings", Box::new(FutexSide::start("futex-b2b"))));
    }
    if want("node-spin") {
        let label = "(d) busy pipeline: event node, default spin windows (scheduler 100 µs, A's receive 50 µs), back-to-back pings";
        busy.push(("node-spin", label, Box::new(TopicSide::start("node-spin", tensorbus::pool::ring::DEFAULT_SPIN))));
    }
    rows.extend(interleaved(busy, rounds, Duration::ZERO));
    let idle = want("idle").then(run_idle);
    for r in &mut rows {
        r.s.sort();
    }
    let reference = rows.iter().find(|r| r.id == "ref").map(|r| pct(&r.s.one_way, 50.0));
    if json {
        for r in &rows {
            let (o, t) = (&r.s.one_way, &r.s.rtt);
            println!(
                "{{\"id\":\"{}\",\"rounds\":{},\"pause_us\":{},\"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{},\"max_ns\":{},\"rtt_half_p50_ns\":{}}}",
                r.id,
                o.len(),
                r.pause.as_micros(),
                pct(o, 50.0),
                pct(o, 90.0),
                pct(o, 99.0),
                o[o.len() - 1],
                pct(t, 50.0) / 2
            );
        }
        if let Some((p, src)) = idle {
            println!("{{\"id\":\"idle\",\"cpu_percent\":{p:.3},\"source\":\"{src}\"}}");
        }
        return;
    }
    println!("# Wake latency, one way (issue 16) — {}", machine());
    println!();
    println!("{rounds} round trips per scenario after {WARMUP} warm-up; one-way = B's CLOCK_MONOTONIC stamp when it runs with the message − A's stamp before the send.");
    println!("Pause = A's sleep before each ping (1 ms: B is truly asleep when the ping comes). RTT/2 = half of A's round trip (includes A's own wake).");
    println!();
    println!("| scenario | pause | p50 µs | p90 µs | p99 µs | max µs | p50 vs (a) | RTT/2 p50 µs |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        let (o, t) = (&r.s.one_way, &r.s.rtt);
        let ratio = reference.map_or("–".into(), |rf| format!("{:.2}×", pct(o, 50.0) as f64 / rf as f64));
        let pause = if r.pause.is_zero() { "none".to_string() } else { format!("{} ms", r.pause.as_millis()) };
        println!("| {} | {pause} | {} | {} | {} | {} | {ratio} | {} |", r.label, us(pct(o, 50.0)), us(pct(o, 90.0)), us(pct(o, 99.0)), us(o[o.len() - 1]), us(pct(t, 50.0) / 2));
    }
    for r in rows.iter().filter(|r| !r.note.is_empty()) {
        println!("\n{}: the node's own NodeStats (arrival → tick start): {}", r.id, r.note);
    }
    if let Some((p, src)) = idle {
        println!("\nIdle event node (Rust, `Scheduler` with live stats on, no traffic): {p:.3} % of one core over {} s ({src}).", IDLE_WINDOW.as_secs());
    }
}
