//! Hardening with real processes: peers SIGKILLed in a claim loop, during a reap, and while
//! publishing (then restarted on the same topic); live segments scribbled on while a victim
//! process uses them. Every scenario ends by counting slots exactly (`all_slots_free`).
//!
//! The test binary re-executes itself (`--exact child_entry --ignored`) with `TB_CHILD_ROLE` and
//! `TB_CHILD_DIR` (`tensorbus_testkit::role_child`, `Peer`); children talk to the parent through
//! stdout lines (`READY`, `RESULT ...`), which keeps working when the rings themselves are being
//! corrupted.
//! Scenarios that need a tmpfs mount or a second uid live in `hardening_env.rs`; the soak in
//! `hardening_soak.rs`.

use std::mem::{offset_of, size_of};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tensorbus_pool::pool::{PoolHeader, SlotHeader};
use tensorbus_pool::ring::{ring_offsets, Entry, RingOffsets, SubEntry, TopicHeader, DEFAULT_SUBS, SUBS_AT};
use tensorbus_pool::*;
use tensorbus_testkit::{self as kit, check, field, fill, Peer, Rng, TempNs};

// ---- plumbing ----------------------------------------------------------------------------------

fn spawn(role: &str, dir: &Path, env: &[(&str, String)]) -> Peer {
    let mut c = kit::role_child(role, dir);
    c.envs(env.iter().map(|(k, v)| (k, v))).stderr(Stdio::piped());
    Peer::spawn(c)
}

fn frame_len(id: u64) -> u64 {
    if id.is_multiple_of(3) {
        40_000 + id % 1000
    } else {
        1 + id * 13 % 4096
    }
}

/// Overwrite bytes of a live segment file (shared with every mapping of it); a segment the
/// victim has not created yet is skipped.
fn poke_bytes(path: &Path, at: usize, b: &[u8]) {
    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) {
        f.write_all_at(b, at as u64).unwrap();
    }
}
fn poke(path: &Path, at: usize, v: u64) {
    poke_bytes(path, at, &v.to_le_bytes());
}
fn poke32(path: &Path, at: usize, v: u32) {
    poke_bytes(path, at, &v.to_le_bytes());
}

// Segment offsets (segment header 64 bytes, then the kind's layout; see pool.rs, ring.rs,
// registry.rs module docs).
const POOL_HDR: usize = 64;
const SLOTS_AT: usize = 128;
const TOPIC_HDR: usize = 64;
/// The parts after the subscriber table of a topic created with the default options.
const AT: RingOffsets = ring_offsets(DEFAULT_SUBS);
const ENTRIES_AT: usize = AT.entries;
/// Registry: header 64 + reaps counter line 64, then 64-byte holder entries.
const REG_ENTRIES_AT: usize = 128;

// ---- the child side ----------------------------------------------------------------------------

#[test]
#[ignore = "child process entry point, run by the hardening tests"]
fn child_entry() {
    let Some((role, dir)) = kit::child_role() else { return };
    let classes = std::env::var("TB_CLASSES").unwrap_or_else(|_| kit::CLASSES.to_string());
    let ns = Namespace::open_dir(&dir, PoolConfig::parse(&classes).unwrap()).unwrap();
    let secs = |d: f64| Duration::from_secs_f64(std::env::var("TB_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(d));
    match role.as_str() {
        "claimloop" => {
            println!("READY");
            let mut held = Vec::new();
            let mut i = 0u64;
            loop {
                i += 1;
                if let Ok(mut m) = ns.try_acquire(frame_len(i)) {
                    m.as_mut_slice()[0] = i as u8;
                    if i.is_multiple_of(2) {
                        held.push(m.freeze());
                    }
                }
                if held.len() > 3 {
                    held.remove(0);
                }
            }
        }
        "hold_many" => {
            let n: usize = std::env::var("TB_N").unwrap().parse().unwrap();
            let held: Vec<SlotRef> = (0..n).map(|_| ns.try_acquire(1).unwrap().freeze()).collect();
            println!("READY held={}", held.len());
            std::thread::sleep(Duration::from_secs(120));
        }
        "reaploop" => loop {
            // Opening the namespace reaped already; keep reaping until killed.
            std::hint::black_box(ns.reap());
        },
        "publisher" => {
            let base: u64 = std::env::var("TB_BASE").unwrap().parse().unwrap();
            let p = ns.topic("frames", &TopicOptions::default()).unwrap().publisher();
            let ticks = ns.topic("ticks", &TopicOptions::default()).unwrap().publisher();
            println!("READY");
            for id in base.. {
                let mut m = ns.acquire_timeout(frame_len(id), Duration::from_secs(5)).unwrap();
                fill(m.as_mut_slice(), id);
                let r = m.freeze();
                p.send(Descriptor { timestamp_ns: id, ..r.descriptor() }, &r).unwrap();
                ticks.send_inline(&id.to_le_bytes()).unwrap();
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        "victim" => victim(&ns, secs(1.5)),
        other => panic!("unknown role {other}"),
    }
}

/// Publish, receive, resolve, claim and reap for `dur` while the parent scribbles on the
/// segments; count outcomes. Exits 0 with a `RESULT` line unless it panics or takes a signal.
fn victim(ns: &Namespace, dur: Duration) {
    let t = ns.topic("v", &TopicOptions::default()).unwrap();
    let p = t.publisher();
    let mut s = t.subscriber().unwrap();
    println!("READY");
    let (mut sent, mut recv, mut inline, mut errors, mut wrong) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let start = Instant::now();
    let mut id = 0u64;
    while start.elapsed() < dur {
        id += 1;
        match ns.try_acquire(frame_len(id)) {
            Ok(mut m) => {
                fill(m.as_mut_slice(), id);
                let r = m.freeze();
                match p.send(Descriptor { timestamp_ns: id, ..r.descriptor() }, &r) {
                    Ok(_) => sent += 1,
                    Err(_) => errors += 1,
                }
            }
            Err(_) => errors += 1,
        }
        if p.send_inline(&id.to_le_bytes()).is_err() {
            errors += 1;
        }
        for _ in 0..4 {
            match s.try_recv().map(|m| m.map(tensorbus_pool::Delivered::into_parts)) {
                Ok(Some((d, Some(h)))) => {
                    recv += 1;
                    if h.len() != frame_len(d.timestamp_ns) || check(h.as_slice(), d.timestamp_ns).is_some() {
                        wrong += 1;
                    }
                }
                Ok(Some((_, None))) => inline += 1,
                Ok(None) => break,
                Err(_) => errors += 1,
            }
        }
        let _ = t.latest();
        if id.is_multiple_of(64) {
            let _ = ns.reap();
            let _ = ns.stats();
        }
    }
    println!("RESULT sent={sent} recv={recv} inline={inline} errors={errors} wrong={wrong} misses={}", s.misses());
}

// ---- faults: SIGKILL ----------------------------------------------------------------------------

#[test]
fn sigkill_in_a_claim_loop_then_reap_restores_every_slot() {
    let t = TempNs::new("hard-claim");
    let ns = t.open();
    let mut rng = Rng::seeded();
    let mut freed = 0;
    // Both size classes exist before the first kill: a child killed within its first three
    // claims has not created the 64K pool, and `all_slots_free` would count only 8 slots.
    drop((ns.try_acquire(1).unwrap(), ns.try_acquire(40_000).unwrap()));
    for round in 0..12 {
        let mut peer = spawn("claimloop", &t.dir, &[]);
        peer.line("READY");
        std::thread::sleep(Duration::from_micros(rng.below(20_000)));
        peer.kill9();
        let r = ns.reap();
        assert_eq!(r.processes, 1, "round {round}: {r:?}");
        freed += r.slots_freed;
        assert_eq!(ns.stats().used_slots(), 0, "round {round}: {:?}", ns.stats());
        assert_eq!(kit::all_slots_free(&t.dir), Ok(12), "round {round}");
    }
    eprintln!("claim loop: 12 kills, {freed} slots restored by reaps");
    // The pool still hands out every slot.
    let all: Vec<SlotMut> = (0..8).map(|_| ns.try_acquire(1).unwrap()).collect();
    assert_eq!(all.len(), 8);
}

#[test]
fn sigkill_during_a_reap_then_the_next_reap_finishes_it() {
    // A big pool, so a reap of a dead holder takes long enough to be killed in the middle.
    const CLASSES: &str = "4Kx16384";
    const HELD: usize = 12_000;
    let t = TempNs::new("hard-reap");
    let ns = Namespace::open_dir(&t.dir, PoolConfig::parse(CLASSES).unwrap()).unwrap();
    drop(ns.try_acquire(1).unwrap());
    let env = [("TB_CLASSES", CLASSES.to_string()), ("TB_N", HELD.to_string())];
    let mut rng = Rng::seeded();
    let (mut interrupted, mut partial) = (0, 0);
    for round in 0..8 {
        let mut holder = spawn("hold_many", &t.dir, &env);
        assert_eq!(field(&holder.line("READY"), "held"), HELD as u64);
        let hidx = ns.stats().participants.iter().find(|p| p.pid == holder.child.id()).unwrap().index;
        holder.kill9();
        // Nobody reaps the holder until the reaper child, which is killed at a random moment
        // (before, during or after its first reap).
        let mut reaper = spawn("reaploop", &t.dir, &env);
        std::thread::sleep(Duration::from_micros(2_000 + rng.below(25_000)));
        reaper.kill9();
        let pool = tensorbus_pool::pool::Pool::open(&t.dir, 0).unwrap();
        // Slots the dead holder still holds, or that the killed reaper took its bit from and
        // had not closed yet (frozen with an empty holder set): the next reap frees exactly these.
        let not_free = |i| tensorbus_pool::word::state(pool.slot(i).word.load(std::sync::atomic::Ordering::Acquire)) != tensorbus_pool::word::FREE;
        let still = (0..pool.slots()).filter(|&i| pool.holds(i, hidx) || not_free(i)).count();
        let reg = tensorbus_pool::registry::Registry::open(&t.dir).unwrap();
        let reaping = tensorbus_pool::registry::st(reg.entry(hidx).word.load(std::sync::atomic::Ordering::Acquire)) == tensorbus_pool::registry::ST_REAPING;
        if still > 0 && still < HELD {
            partial += 1;
        }
        if reaping {
            interrupted += 1;
        }
        let r = ns.reap();
        assert_eq!(r.slots_freed as usize, still, "round {round}: {r:?}");
        assert_eq!(ns.stats().used_slots(), 0, "round {round}");
        assert!(ns.stats().participants.iter().all(|p| p.pid == std::process::id()), "round {round}: {:?}", ns.stats().participants);
        assert_eq!(kit::all_slots_free(&t.dir), Ok(16384), "round {round}");
    }
    eprintln!("reap killed: 8 rounds, {interrupted} reapers died mid-reap ({partial} with the pool half cleared)");
}

#[test]
fn restarted_publisher_feeds_the_same_subscriber() {
    let t = TempNs::new("hard-restart");
    let ns = t.open();
    let frames = ns.topic("frames", &TopicOptions::default()).unwrap();
    let ticks = ns.topic("ticks", &TopicOptions::default()).unwrap();
    let mut s = frames.subscriber().unwrap();
    let mut ts = ticks.subscriber().unwrap();
    let mut rng = Rng::seeded();
    let mut got = 0;
    for gen in 1..=4u64 {
        let base = gen * 1_000_000;
        let mut peer = spawn("publisher", &t.dir, &[("TB_BASE", base.to_string())]);
        peer.line("READY");
        // The subscriber opened before this publisher existed receives its frames unchanged.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut this_gen = 0;
        while this_gen < 20 {
            assert!(Instant::now() < deadline, "generation {gen}: only {this_gen} frames");
            let Some((d, h)) = s.recv_timeout(Duration::from_millis(200)).unwrap().map(tensorbus_pool::Delivered::into_parts) else { continue };
            let h = h.unwrap();
            assert_eq!(h.len(), frame_len(d.timestamp_ns));
            assert_eq!(check(h.as_slice(), d.timestamp_ns), None, "torn or recycled frame {}", d.timestamp_ns);
            if d.timestamp_ns >= base {
                this_gen += 1;
            }
            got += 1;
        }
        let mut inline_this_gen = false;
        while let Some((d, _)) = ts.try_recv().unwrap().map(tensorbus_pool::Delivered::into_parts) {
            let id = u64::from_le_bytes(d.inline_bytes().unwrap().0[..8].try_into().unwrap());
            inline_this_gen |= id >= base;
        }
        assert!(inline_this_gen, "generation {gen}: no inline message");
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
        peer.kill9();
        ns.reap();
    }
    eprintln!("restart: 4 publisher generations, {got} frames verified by one subscriber");
    drop((s, ts, frames, ticks));
    ns.reap();
    assert_eq!(ns.stats().used_slots(), 0, "{:?}", ns.stats());
    assert_eq!(kit::all_slots_free(&t.dir), Ok(12));
}

// ---- corruption of live segments ---------------------------------------------------------------

/// Start a victim, let `scribble` loose on the live segments while it runs, check it exits
/// cleanly, then make sure a fresh process still opens (or cleanly refuses) the namespace.
fn with_victim(tag: &str, scribble: impl Fn(&Path, &mut Rng)) -> String {
    let t = TempNs::new(tag);
    let mut rng = Rng::seeded();
    let mut peer = spawn("victim", &t.dir, &[("TB_SECS", "1.5".into())]);
    peer.line("READY");
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1200) {
        scribble(&t.dir, &mut rng);
        std::thread::sleep(Duration::from_micros(200 + rng.below(2000)));
    }
    let result = peer.finish();
    // A second process on the scribbled namespace: errors allowed, crashes not.
    let second = spawn("victim", &t.dir, &[("TB_SECS", "0.3".into())]);
    let second_result = second.finish();
    eprintln!("{tag}: victim {result}; newcomer {second_result}");
    result
}

#[test]
fn scribbled_pool_header_is_refused_by_newcomers_and_harmless_to_the_victim() {
    let result = with_victim("hard-poolhdr", |dir, rng| {
        let p = dir.join(if rng.below(2) == 0 { "pool-0" } else { "pool-1" });
        match rng.below(5) {
            0 => poke32(&p, POOL_HDR + offset_of!(PoolHeader, slots), rng.next() as u32),
            1 => poke(&p, POOL_HDR + offset_of!(PoolHeader, slot_size), rng.next()),
            2 => poke(&p, POOL_HDR + offset_of!(PoolHeader, data_offset), rng.next()),
            3 => poke(&p, 0, rng.next()),  // magic
            _ => poke(&p, 24, rng.next()), // total size
        }
    });
    // The running victim validated the geometry once and keeps its own copy: no wrong data.
    assert_eq!(field(&result, "wrong"), 0, "{result}");
    assert!(field(&result, "recv") > 0, "{result}");
}

#[test]
fn scribbled_slot_words_and_generations_are_misses_or_errors() {
    let result = with_victim("hard-slots", |dir, rng| {
        let p = dir.join("pool-0");
        let slot = rng.below(8) as usize;
        let at = POOL_HDR + size_of::<PoolHeader>() + slot * size_of::<SlotHeader>();
        assert_eq!(POOL_HDR + size_of::<PoolHeader>(), SLOTS_AT);
        let slots = 8; // pool 0 of kit::CLASSES
        match rng.below(4) {
            // The state word: arbitrary state, tag, round and writer.
            0 => poke(&p, at + offset_of!(SlotHeader, word), rng.next()),
            // A word of the slot's holder set: arbitrary holders.
            1 => poke(&p, POOL_HDR + tensorbus_pool::pool::sets_offset(slots) + slot * 128 + 8 * rng.below(16) as usize, rng.next()),
            _ => poke32(&p, at + offset_of!(SlotHeader, generation), rng.next() as u32),
        }
    });
    assert!(field(&result, "sent") > 0, "{result}");
}

#[test]
fn scribbled_ring_head_cursors_stamps_and_lock_are_misses_not_crashes() {
    let result = with_victim("hard-ring", |dir, rng| {
        let p = dir.join("topic-v");
        let depth = 4;
        let extreme = [u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1, 0, rng.below(100)];
        let v = if rng.below(2) == 0 { extreme[rng.below(6) as usize] } else { rng.next() };
        match rng.below(8) {
            0 => poke(&p, TOPIC_HDR + offset_of!(TopicHeader, head), v),
            7 => poke(&p, [AT.openers, AT.publishers, AT.sub_set][rng.below(3) as usize] + 8 * rng.below(16) as usize, v),
            1 => poke(&p, SUBS_AT + rng.below(2) as usize * size_of::<SubEntry>() + offset_of!(SubEntry, cursor), v),
            2 => poke(&p, SUBS_AT + rng.below(2) as usize * size_of::<SubEntry>() + offset_of!(SubEntry, owner), v),
            3 => poke(&p, ENTRIES_AT + rng.below(depth) as usize * size_of::<Entry>() + offset_of!(Entry, stamp), v),
            4 => poke(&p, TOPIC_HDR + offset_of!(TopicHeader, lock), v),
            5 => poke32(&p, TOPIC_HDR + offset_of!(TopicHeader, holder), v as u32),
            _ => poke(&p, ENTRIES_AT + rng.below(depth) as usize * size_of::<Entry>() + 8 + 8 * rng.below(8) as usize, v),
        }
    });
    assert!(field(&result, "sent") > 0, "{result}");
}

#[test]
fn scribbled_registry_entries_are_survived() {
    let result = with_victim("hard-registry", |dir, rng| {
        let p = dir.join("registry");
        // Leave the victim's own entry (index 0) and the topic's alone sometimes; any entry
        // may get any state / kind / reaper / pid combination.
        let i = rng.below(56) as usize;
        let w = match rng.below(3) {
            0 => rng.next(),
            // Plausible words: state 1..3, kind 1..2, any reaper field, a dead or live pid.
            1 => (1 + rng.below(3)) << 56 | (1 + rng.below(2)) << 48 | (rng.below(1 << 16)) << 32 | rng.below(1 << 22),
            _ => 3 << 56 | 1 << 48 | 0xffff << 32 | 1,
        };
        poke(&p, REG_ENTRIES_AT + i * 64, w);
    });
    assert!(field(&result, "sent") > 0, "{result}");
}

/// Regressions, in one process: each value here once panicked (index out of bounds, arithmetic
/// overflow) and must now be a miss or a no-op.
#[test]
fn scribbled_head_and_released_watermark_do_not_make_a_send_spin() {
    // A head near u64::MAX with the `released` watermark far below it once made a send walk
    // every position in between (ring.rs `release_consumed`), found by the ring scribble test
    // above as a victim that never finished. The send runs on a thread: a regression fails
    // here after a minute instead of hanging the suite.
    let t = TempNs::new("hard-released");
    let ns = t.open();
    let topic = ns.topic("v", &TopicOptions::default()).unwrap();
    let p = topic.publisher();
    p.send_inline(b"before").unwrap();
    let ring = t.dir.join("topic-v");
    poke(&ring, TOPIC_HDR + offset_of!(TopicHeader, head), u64::MAX);
    poke(&ring, TOPIC_HDR + offset_of!(TopicHeader, released), 1 << 62);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut m = ns.try_acquire(4096).unwrap();
        fill(m.as_mut_slice(), 1);
        let r = m.freeze();
        let a = p.send(r.descriptor(), &r).map(|_| ());
        let b = p.send_inline(b"after").map(|_| ());
        let _ = tx.send((a, b));
    });
    let got = rx.recv_timeout(Duration::from_secs(60)).expect("a send on a scribbled ring finishes");
    drop(got); // errors allowed; a hang or a crash is not
}

#[test]
fn scribbled_values_that_once_panicked() {
    let t = TempNs::new("hard-regress");
    let ns = t.open();
    let topic = ns.topic("v", &TopicOptions::default()).unwrap();
    let p = topic.publisher();
    let mut s = topic.subscriber().unwrap();
    let send = |id: u64| {
        let mut m = ns.try_acquire(frame_len(id)).unwrap();
        fill(m.as_mut_slice(), id);
        let r = m.freeze();
        p.send(Descriptor { timestamp_ns: id, ..r.descriptor() }, &r).unwrap();
    };
    send(1);
    let ring = t.dir.join("topic-v");
    // The topic's registry index past the table (ring.rs `holder_bit`): dissolve, drop_ref.
    poke32(&ring, TOPIC_HDR + offset_of!(TopicHeader, holder), 200);
    // A head at the end of u64 (ring.rs `stamp`): send, recv, repair, has_room.
    poke(&ring, TOPIC_HDR + offset_of!(TopicHeader, head), u64::MAX - 1);
    poke(&ring, SUBS_AT + offset_of!(SubEntry, cursor), u64::MAX);
    for id in 2..6 {
        send(id);
    }
    for _ in 0..6 {
        if let Ok(Some((d, Some(h)))) = s.try_recv().map(|m| m.map(tensorbus_pool::Delivered::into_parts)) {
            assert_eq!(check(h.as_slice(), d.timestamp_ns), None);
        }
    }
    let _ = s.latest();
    // A REAPING entry naming a reaper past the table (registry.rs `reap_dead_entries`).
    poke(&t.dir.join("registry"), REG_ENTRIES_AT + 30 * 64, 3 << 56 | 1 << 48 | 0xffff << 32 | 1);
    ns.reap();
    drop((s, p, topic));
    ns.reap();
    let _ = ns.stats();
}
