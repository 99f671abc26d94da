//! Cross-process behaviour with real child processes: the test binary re-executes itself
//! (`--exact child_entry --ignored`) with `TB_CHILD_ROLE` and `TB_CHILD_DIR` set
//! (`tensorbus_testkit::role_child`); the child entry is an ignored test that does nothing when
//! those are absent.
//!
//! Parent and child handshake over an inline topic `ctl` (the child sends "ready").

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tensorbus_pool::*;
use tensorbus_testkit::{self as kit, check, fill, kill9, TempNs};

const N: u64 = 200;

fn spawn_child(role: &str, dir: &Path, env: &[(&str, String)]) -> Command {
    let mut c = kit::role_child(role, dir);
    c.envs(env.iter().map(|(k, v)| (k, v)));
    c
}

fn start(role: &str, dir: &Path) -> Child {
    spawn_child(role, dir, &[]).stdout(Stdio::null()).spawn().unwrap()
}

fn wait_ready(ctl: &mut Subscriber) {
    let (d, _) = ctl.recv_timeout(Duration::from_secs(20)).unwrap().expect("child did not report ready").into_parts();
    assert_eq!(&d.inline_bytes().unwrap().0[..5], b"ready");
}

fn reliable() -> TopicOptions {
    TopicOptions { depth: 4, policy: Policy::Reliable, ..Default::default() }
}

fn frame_len(id: u64) -> u64 {
    // Alternates between the 4 KiB and the 64 KiB class.
    if id.is_multiple_of(3) {
        40_000 + id
    } else {
        1 + id * 13 % 4096
    }
}

fn send_frame(ns: &Namespace, p: &Publisher, id: u64) {
    let mut m = ns.try_acquire(frame_len(id)).unwrap();
    fill(m.as_mut_slice(), id);
    let r = m.freeze();
    p.send(Descriptor { timestamp_ns: id, ..r.descriptor() }, &r).unwrap();
}

fn recv_verify(s: &mut Subscriber, want: u64) {
    let (d, h) = s.recv_timeout(Duration::from_secs(20)).unwrap().unwrap_or_else(|| panic!("frame {want} never came")).into_parts();
    assert_eq!(d.timestamp_ns, want);
    let h = h.unwrap();
    assert_eq!(h.len(), frame_len(want));
    assert_eq!(check(h.as_slice(), want), None, "frame {want}: byte differs");
}

// ---- the child side ----------------------------------------------------------------------------

#[test]
#[ignore = "child process entry point, run by the cross-process tests"]
fn child_entry() {
    let Some((role, dir)) = kit::child_role() else { return };
    if role == "race" {
        return child_race(&dir);
    }
    let ns = kit::open(&dir);
    let ctl = ns.topic("ctl", &TopicOptions::default()).unwrap().publisher();
    match role.as_str() {
        "publish" => {
            let mut p = ns.topic("frames", &reliable()).unwrap().publisher();
            p.set_timeout(Duration::from_secs(20));
            for id in 0..N {
                send_frame(&ns, &p, id);
            }
        }
        "verify" => {
            let t = ns.topic("frames", &reliable()).unwrap();
            let mut s = t.subscriber().unwrap();
            ctl.send_inline(b"ready").unwrap();
            for id in 0..N {
                recv_verify(&mut s, id);
            }
            assert_eq!(s.misses(), 0);
        }
        "hold" => {
            let held: Vec<SlotRef> = (0..4).map(|i| ns.try_acquire(if i == 3 { 10_000 } else { 10 }).unwrap().freeze()).collect();
            ctl.send_inline(b"ready").unwrap();
            std::thread::sleep(Duration::from_secs(60));
            drop(held);
        }
        "midwrite" => {
            let p = ns.topic("frames", &TopicOptions::default()).unwrap().publisher();
            for id in 0..3 {
                send_frame(&ns, &p, id);
            }
            let mut m = ns.try_acquire(frame_len(3)).unwrap();
            let half = m.as_mut_slice().len() / 2;
            fill(&mut m.as_mut_slice()[..half], 3);
            ctl.send_inline(b"ready").unwrap();
            std::thread::sleep(Duration::from_secs(60));
            drop(m);
        }
        "spam" => {
            let p = ns.topic("spam", &TopicOptions::default()).unwrap().publisher();
            ctl.send_inline(b"ready").unwrap();
            let mut id = std::process::id() as u64 * 1_000_000;
            loop {
                id += 1;
                let Ok(mut m) = ns.try_acquire(frame_len(id)) else { continue };
                fill(m.as_mut_slice(), id);
                let r = m.freeze();
                let _ = p.send(Descriptor { timestamp_ns: id, ..r.descriptor() }, &r);
            }
        }
        "drain0" => {
            // A history-0 subscriber: each payload receive may take the writer lock to drop the
            // topic's references (`release_read`), so a kill can land while it holds the lock.
            let t = ns.topic("h0", &TopicOptions { history: 0, ..Default::default() }).unwrap();
            let mut s = t.subscriber().unwrap();
            ctl.send_inline(b"ready").unwrap();
            loop {
                if let Some((d, h)) = s.try_recv().unwrap().map(Delivered::into_parts) {
                    assert_eq!(check(h.unwrap().as_slice(), d.timestamp_ns), None);
                }
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn child_race(dir: &Path) {
    let at: u128 = std::env::var("TB_START_AT").unwrap().parse().unwrap();
    let k: u32 = std::env::var("TB_K").unwrap().parse().unwrap();
    while std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() < at {
        std::hint::spin_loop();
    }
    let ns = Namespace::open_dir(dir, PoolConfig::parse(&format!("4Kx{}", 8 + k)).unwrap()).unwrap();
    let m = ns.try_acquire(1).unwrap();
    let t = ns.topic("race", &TopicOptions { depth: 2 + k, ..Default::default() }).unwrap();
    let p = &ns.stats().pools[0];
    println!("GEOM slots={} slot_size={} depth={}", p.slots, p.slot_size, t.depth());
    drop(m);
}

// ---- the parent side ---------------------------------------------------------------------------

#[test]
fn child_publishes_parent_verifies_every_byte() {
    let t = TempNs::new("xp-pub");
    let ns = t.open();
    let topic = ns.topic("frames", &reliable()).unwrap();
    let mut s = topic.subscriber().unwrap();
    let mut child = start("publish", &t.dir);
    for id in 0..N {
        recv_verify(&mut s, id);
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(s.misses(), 0);
    drop((s, topic));
    ns.reap();
    assert_eq!(ns.stats().used_slots(), 0, "{:?}", ns.stats());
}

#[test]
fn parent_publishes_child_verifies_every_byte() {
    let t = TempNs::new("xp-verify");
    let ns = t.open();
    let mut ctl = ns.topic("ctl", &TopicOptions::default()).unwrap().subscriber().unwrap();
    let topic = ns.topic("frames", &reliable()).unwrap();
    let mut p = topic.publisher();
    p.set_timeout(Duration::from_secs(20));
    let mut child = start("verify", &t.dir);
    wait_ready(&mut ctl);
    for id in 0..N {
        send_frame(&ns, &p, id);
    }
    assert!(child.wait().unwrap().success(), "child found a bad frame (see its output)");
    drop((p, topic));
    assert_eq!(ns.stats().used_slots(), 0, "{:?}", ns.stats());
}

#[test]
fn killed_child_holding_frames_is_reaped() {
    let t = TempNs::new("xp-hold");
    let ns = t.open();
    let mut ctl = ns.topic("ctl", &TopicOptions::default()).unwrap().subscriber().unwrap();
    let mut child = start("hold", &t.dir);
    wait_ready(&mut ctl);
    let pid = child.id();
    let st = ns.stats();
    assert_eq!(st.used_slots(), 4);
    assert!(st.participants.iter().any(|p| p.pid == pid && p.alive));
    kill9(&mut child);
    let report = ns.reap();
    assert_eq!(report, ReapReport { processes: 1, slots_freed: 4 });
    let st = ns.stats();
    assert_eq!(st.used_slots(), 0, "{st:?}");
    assert!(st.participants.iter().all(|p| p.pid != pid), "{:?}", st.participants);
    assert_eq!(ns.reap(), ReapReport::default(), "a second reap finds nothing");
    assert_eq!(kit::all_slots_free(&t.dir), Ok(12));
}

#[test]
fn killed_child_mid_write_loses_its_slot_and_nobody_sees_the_frame() {
    let t = TempNs::new("xp-midwrite");
    let ns = t.open();
    let mut ctl = ns.topic("ctl", &TopicOptions::default()).unwrap().subscriber().unwrap();
    let topic = ns.topic("frames", &TopicOptions::default()).unwrap();
    let mut s = topic.subscriber().unwrap();
    let mut child = start("midwrite", &t.dir);
    wait_ready(&mut ctl);
    kill9(&mut child);
    for id in 0..3 {
        recv_verify(&mut s, id);
    }
    assert_eq!(ns.stats().used_slots(), 4, "3 pinned by the topic, 1 being written");
    let report = ns.reap();
    assert_eq!(report, ReapReport { processes: 1, slots_freed: 1 });
    assert!(s.try_recv().unwrap().is_none(), "the unfinished frame was never published");
    assert_eq!(ns.stats().used_slots(), 3);
    drop((s, topic));
    assert_eq!(ns.stats().used_slots(), 0);
    assert_eq!(kit::all_slots_free(&t.dir), Ok(12));
}

#[test]
fn killing_a_sender_at_random_moments_leaves_a_working_ring() {
    let t = TempNs::new("xp-spam");
    let ns = t.open();
    let mut ctl = ns.topic("ctl", &TopicOptions::default()).unwrap().subscriber().unwrap();
    let topic = ns.topic("spam", &TopicOptions::default()).unwrap();
    let mut s = topic.subscriber().unwrap();
    let mut seen = 0u64;
    let mut drain = |s: &mut Subscriber| {
        while let Some((d, h)) = s.try_recv().unwrap().map(tensorbus_pool::Delivered::into_parts) {
            let h = h.unwrap();
            assert_eq!(check(h.as_slice(), d.timestamp_ns), None, "torn or recycled frame {}", d.timestamp_ns);
            assert_eq!(h.len(), frame_len(d.timestamp_ns));
            seen += 1;
        }
    };
    let mut rng = Instant::now().elapsed().as_nanos() as u64 | 1;
    for _ in 0..20 {
        let mut child = start("spam", &t.dir);
        wait_ready(&mut ctl);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let until = Instant::now() + Duration::from_micros(rng % 20_000);
        while Instant::now() < until {
            drain(&mut s);
        }
        kill9(&mut child);
        drain(&mut s);
        ns.reap();
    }
    assert!(seen > 0, "the children never got a frame through");
    // The ring still works for the parent (a lock left by a dead child is taken over).
    let p = topic.publisher();
    for id in 0..6 {
        send_frame(&ns, &p, id);
        recv_verify(&mut s, id);
    }
    drop((s, p, topic, ctl));
    ns.reap();
    let st = ns.stats();
    assert_eq!(st.used_slots(), 0, "{st:?}");
    assert_eq!(kit::all_slots_free(&t.dir), Ok(12), "every slot FREE, no holder bit left");
    assert_eq!(st.participants.len(), 1, "only this process remains: {:?}", st.participants);
}

#[test]
fn killing_a_history0_receiver_at_random_moments_leaves_a_working_ring() {
    // The receiver may die holding the writer lock (history 0 releases on receive): the next
    // send takes the lock over and repairs; nothing leaks.
    let t = TempNs::new("xp-h0");
    let ns = t.open();
    let mut ctl = ns.topic("ctl", &TopicOptions::default()).unwrap().subscriber().unwrap();
    let topic = ns.topic("h0", &TopicOptions { history: 0, ..Default::default() }).unwrap();
    let p = topic.publisher();
    let mut rng = Instant::now().elapsed().as_nanos() as u64 | 1;
    let mut id = 0u64;
    for _ in 0..20 {
        let mut child = start("drain0", &t.dir);
        wait_ready(&mut ctl);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let until = Instant::now() + Duration::from_micros(rng % 20_000);
        while Instant::now() < until {
            id += 1;
            send_frame(&ns, &p, id);
        }
        kill9(&mut child);
        ns.reap();
    }
    assert!(id > 0);
    let mut s = topic.subscriber().unwrap();
    for k in 1..=6 {
        send_frame(&ns, &p, id + k);
        recv_verify(&mut s, id + k);
    }
    drop((s, p, topic, ctl));
    ns.reap();
    let st = ns.stats();
    assert_eq!(st.used_slots(), 0, "{st:?}");
    assert_eq!(kit::all_slots_free(&t.dir), Ok(12), "every slot FREE, no holder bit left");
    assert_eq!(st.participants.len(), 1, "only this process remains: {:?}", st.participants);
}

#[test]
fn racing_creators_agree_on_geometry() {
    for round in 0..3 {
        let t = TempNs::new(&format!("xp-race{round}"));
        let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + Duration::from_millis(300);
        let children: Vec<Child> = (0..4u32)
            .map(|k| spawn_child("race", &t.dir, &[("TB_START_AT", at.as_nanos().to_string()), ("TB_K", k.to_string())]).stdout(Stdio::piped()).spawn().unwrap())
            .collect();
        let lines: Vec<String> = children
            .into_iter()
            .map(|c| {
                let out = c.wait_with_output().unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
                String::from_utf8_lossy(&out.stdout).lines().find(|l| l.starts_with("GEOM")).unwrap().to_string()
            })
            .collect();
        assert!(lines.iter().all(|l| *l == lines[0]), "{lines:?}");
        let ns = t.open();
        let p = &ns.stats().pools[0];
        assert_eq!(format!("GEOM slots={} slot_size={} depth={}", p.slots, p.slot_size, ns.topic("race", &TopicOptions::default()).unwrap().depth()), lines[0]);
        assert_eq!(kit::all_slots_free(&t.dir).map(|n| n >= 8), Ok(true));
        let leftovers: Vec<_> = std::fs::read_dir(&t.dir).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().contains(".tmp.")).collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}
