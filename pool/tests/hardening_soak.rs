//! The soak: a 1080p RGB camera at 30 Hz writing loaned slots in place, a 1 kHz inline topic,
//! and three subscriber processes — one that keeps up, one slow (holds each frame 150 ms), one
//! SIGKILLed and restarted every 2–4 s. It ends by checking zero leaked slots after the reap,
//! bounded RSS and pool occupancy, and no errors besides the expected misses, and prints the
//! figures (`SOAK ...` lines).
//!
//! Both tests are `#[ignore]`d (they take seconds to minutes):
//!   make soak                     # TB_SOAK_SECS (default 180 s) of `soak`
//!   cargo test -p tensorbus-pool --test hardening_soak -- --ignored --exact soak_short   # 10 s

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tensorbus_pool::sync::{AtomicBool, AtomicU64, Ordering};
use tensorbus_pool::*;
use tensorbus_testkit::{self as kit, field, Peer};

const W: usize = 1920;
const H: usize = 1080;
const FRAME: usize = W * H * 3;
const SLOTS: u32 = 16;
const CAMERA_DEPTH: u32 = 4;
const IMU_DEPTH: u32 = 256;

fn classes() -> String {
    format!("{FRAME}x{SLOTS}")
}

fn soak_dir() -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    base.join(format!("tb-soak-{}", std::process::id()))
}

fn camera_opts() -> TopicOptions {
    TopicOptions { depth: CAMERA_DEPTH, ..Default::default() }
}
fn imu_opts() -> TopicOptions {
    TopicOptions { depth: IMU_DEPTH, ..Default::default() }
}

/// `VmRSS` and `RssAnon` of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |k: &str| s.lines().find_map(|l| l.strip_prefix(k)).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    (get("VmRSS:"), get("RssAnon:"))
}

/// Frame `id`: every byte is `id as u8`, the first 8 bytes are `id` (little endian).
fn write_frame(buf: &mut [u8], id: u64) {
    buf.fill(id as u8);
    buf[..8].copy_from_slice(&id.to_le_bytes());
}

/// True if `buf` is exactly frame `id` (first word, then one byte per 4 KiB page and the last).
fn frame_ok(buf: &[u8], id: u64) -> bool {
    buf.len() == FRAME && buf[..8] == id.to_le_bytes() && buf[8..].iter().step_by(4096).chain(buf.last()).all(|&b| b == id as u8)
}

// ---- children -------------------------------------------------------------------------------------

#[test]
#[ignore = "child process entry point, run by the soak"]
fn child_entry() {
    let Some((role, dir)) = kit::child_role() else { return };
    let ns = Namespace::open_dir(&dir, PoolConfig::parse(&classes()).unwrap()).unwrap();
    let cam = ns.topic("camera.rgb", &camera_opts()).unwrap();
    let imu = ns.topic("imu", &imu_opts()).unwrap();
    let ctl = ns.topic("soak.ctl", &TopicOptions::default()).unwrap();
    let (mut sc, mut si, mut sctl) = (cam.subscriber().unwrap(), imu.subscriber().unwrap(), ctl.subscriber().unwrap());
    let hold = if role == "slow" { Duration::from_millis(150) } else { Duration::ZERO };
    // The crashy one keeps its last 6 frames, so a SIGKILL leaves holds older than the ring's
    // depth that only the reaper can return.
    let keep = if role == "crashy" { 6 } else { 0 };
    let mut kept = std::collections::VecDeque::new();
    println!("READY");
    let (mut frames, mut wrong, mut errors, mut imu_n, mut imu_back) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut last_imu = 0u64;
    loop {
        match sc.recv_timeout(Duration::from_millis(5)).map(|m| m.map(tensorbus_pool::Delivered::into_parts)) {
            Ok(Some((d, Some(h)))) => {
                frames += 1;
                if !frame_ok(h.as_slice(), d.timestamp_ns) {
                    wrong += 1;
                }
                std::thread::sleep(hold); // the slow one keeps the frame while it "works"
                if keep > 0 {
                    kept.push_back(h);
                    if kept.len() > keep {
                        kept.pop_front();
                    }
                }
            }
            Ok(Some((_, None))) => errors += 1,
            Ok(None) => {}
            Err(_) => errors += 1,
        }
        loop {
            match si.try_recv().map(|m| m.map(tensorbus_pool::Delivered::into_parts)) {
                Ok(Some((d, None))) => {
                    let seq = u64::from_le_bytes(d.inline_bytes().unwrap().0[..8].try_into().unwrap());
                    if seq <= last_imu {
                        imu_back += 1;
                    }
                    last_imu = seq;
                    imu_n += 1;
                }
                Ok(Some(_)) | Err(_) => errors += 1,
                Ok(None) => break,
            }
        }
        if let Ok(Some(_)) = sctl.try_recv() {
            break;
        }
    }
    println!("RESULT frames={frames} misses={} wrong={wrong} errors={errors} imu={imu_n} imu_misses={} imu_backwards={imu_back} rss_kib={}", sc.misses(), si.misses(), rss_kib().0);
}

/// A child in `role`, once it is READY.
fn spawn(role: &str, dir: &Path) -> Peer {
    let mut p = Peer::spawn(kit::role_child(role, dir));
    p.line("READY");
    p
}

// ---- the run ----------------------------------------------------------------------------------------

fn run_soak(default_secs: f64) {
    let secs = std::env::var("TB_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(default_secs);
    let dir = soak_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let ns = Namespace::open_dir(&dir, PoolConfig::parse(&classes()).unwrap()).unwrap();
    let cam = ns.topic("camera.rgb", &camera_opts()).unwrap();
    let imu = ns.topic("imu", &imu_opts()).unwrap();
    let ctl = ns.topic("soak.ctl", &TopicOptions::default()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (cam_sent, cam_err, imu_sent) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));

    let mut fast = spawn("fast", &dir);
    let mut slow = spawn("slow", &dir);
    let mut crashy = spawn("crashy", &dir);

    // The camera: 30 Hz on an absolute schedule, writing each 1080p frame in its loaned slot.
    let camera = {
        let (ns, p, stop, sent, err) = (ns.clone(), cam.publisher(), stop.clone(), cam_sent.clone(), cam_err.clone());
        std::thread::spawn(move || {
            let period = Duration::from_secs_f64(1.0 / 30.0);
            let mut next = Instant::now();
            let mut id = 0u64;
            while !stop.load(Ordering::Relaxed) {
                id += 1;
                match ns.acquire_timeout(FRAME as u64, Duration::from_secs(1)) {
                    Ok(mut m) => {
                        write_frame(m.as_mut_slice(), id);
                        let r = m.freeze();
                        match p.send(Descriptor { timestamp_ns: id, ..r.descriptor() }, &r) {
                            Ok(_) => sent.fetch_add(1, Ordering::Relaxed),
                            Err(_) => err.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                    Err(e) => {
                        eprintln!("camera: {e}");
                        err.fetch_add(1, Ordering::Relaxed);
                    }
                }
                next += period;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
    };
    // The 1 kHz inline topic (an IMU), also on an absolute schedule.
    let imu_thread = {
        let (p, stop, sent) = (imu.publisher(), stop.clone(), imu_sent.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                seq += 1;
                let mut msg = [0u8; 48];
                msg[..8].copy_from_slice(&seq.to_le_bytes());
                p.send_inline(&msg).unwrap();
                sent.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep((start + Duration::from_millis(seq)).saturating_duration_since(Instant::now()));
            }
        })
    };

    let start = Instant::now();
    let mut rss_start = None;
    let (mut max_used, mut samples, mut crashes, mut reaped_slots) = (0u32, 0u64, 0u32, 0u32);
    let mut rng = start.elapsed().as_nanos() as u64 | 1;
    let mut next_crash = start + Duration::from_secs(2);
    while start.elapsed().as_secs_f64() < secs {
        std::thread::sleep(Duration::from_millis(100));
        if rss_start.is_none() && start.elapsed() > Duration::from_secs(1) {
            rss_start = Some(rss_kib()); // after warm-up: every thread and mapping exists
        }
        let used = ns.stats().used_slots();
        max_used = max_used.max(used);
        samples += 1;
        if Instant::now() >= next_crash {
            crashy.kill9();
            let r = ns.reap();
            reaped_slots += r.slots_freed;
            crashes += 1;
            crashy = spawn("crashy", &dir);
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            next_crash = Instant::now() + Duration::from_millis(2000 + rng % 2000);
        }
    }
    stop.store(true, Ordering::Relaxed);
    camera.join().unwrap();
    imu_thread.join().unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let rss_end = rss_kib();
    let rss_start = rss_start.unwrap_or(rss_end);

    // Stop the survivors, collect their figures; the crashy one gets a last SIGKILL.
    let ctl_p = ctl.publisher();
    ctl_p.send_inline(b"stop").unwrap();
    let fast_r = fast.line("RESULT");
    let slow_r = slow.line("RESULT");
    assert!(fast.child.wait().unwrap().success() && slow.child.wait().unwrap().success());
    crashy.kill9();
    crashes += 1;
    drop((cam, imu, ctl, ctl_p));
    let final_reap = ns.reap();
    reaped_slots += final_reap.slots_freed;
    let used_end = ns.stats().used_slots();
    let free = kit::all_slots_free(&dir);

    let (sent, cam_errors, imu_n) = (cam_sent.load(Ordering::Relaxed), cam_err.load(Ordering::Relaxed), imu_sent.load(Ordering::Relaxed));
    println!(
        "SOAK duration_s={elapsed:.1} frames_sent={sent} camera_hz={:.1} camera_errors={cam_errors} imu_sent={imu_n} imu_hz={:.0}",
        sent as f64 / elapsed,
        imu_n as f64 / elapsed
    );
    println!("SOAK fast   {fast_r}");
    println!("SOAK slow   {slow_r}");
    println!("SOAK crashy kills={crashes} slots_reaped={reaped_slots}");
    println!("SOAK pool slots={SLOTS} slot_bytes={FRAME} max_used={max_used} (samples {samples}) used_after_reap={used_end} leaked={}", SLOTS - free.clone().unwrap_or(0));
    println!("SOAK rss_kib start={} end={} anon_start={} anon_end={}", rss_start.0, rss_end.0, rss_start.1, rss_end.1);

    // The invariants.
    assert_eq!(free, Ok(SLOTS), "leaked slots after the final reap");
    assert_eq!(used_end, 0);
    assert_eq!(cam_errors, 0, "the camera never failed to get a slot or send");
    assert!(sent as f64 >= 0.8 * 30.0 * elapsed, "camera fell behind: {sent} frames in {elapsed:.1} s");
    for r in [&fast_r, &slow_r] {
        assert_eq!(field(r, "wrong"), 0, "torn or recycled frame: {r}");
        assert_eq!(field(r, "errors"), 0, "{r}");
        assert_eq!(field(r, "imu_backwards"), 0, "{r}");
        assert!(field(r, "frames") > 0, "{r}");
    }
    assert!(field(&fast_r, "frames") as f64 >= 0.5 * sent as f64, "the fast subscriber kept up: {fast_r}");
    assert!(field(&slow_r, "misses") > 0, "the slow subscriber misses frames (expected): {slow_r}");
    // Occupancy: the ring's depth, the frame being written (and, during a send, the entry
    // about to be overwritten), one frame each for the fast and slow subscribers, and the
    // crashy one's 6 (at least 4 of them still in the ring when it keeps up) — never the pool.
    let bound = CAMERA_DEPTH + 2 + 2 + (6 - CAMERA_DEPTH) + 1;
    assert!(max_used <= bound && bound < SLOTS, "max_used {max_used} > {bound}");
    // Bounded memory: the anonymous (private) RSS does not grow; VmRSS grows at most by the
    // pool's shared pages that this process touched for the first time.
    assert!(rss_end.1 <= rss_start.1 + 16 * 1024, "RssAnon grew: {rss_start:?} -> {rss_end:?}");
    assert!(rss_end.0 <= rss_start.0 + (SLOTS as u64 * FRAME as u64) / 1024 + 16 * 1024, "VmRSS grew: {rss_start:?} -> {rss_end:?}");
    assert!(crashes >= 2);
    drop(ns);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "10 s soak; run: cargo test -p tensorbus-pool --test hardening_soak -- --ignored --exact soak_short"]
fn soak_short() {
    run_soak(10.0);
}

#[test]
#[ignore = "minutes; run: make soak (TB_SOAK_SECS, default 180)"]
fn soak() {
    run_soak(180.0);
}
