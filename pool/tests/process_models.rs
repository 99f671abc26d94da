//! The process models of docs/reliability.md ("Process models"), each with real processes:
//! mixed pool configurations, fork children (inherited handles, killed children), liveness that
//! cannot be read, PID namespaces (`unshare --pid`), and reaps racing in one process.
//!
//! Children are this test binary re-executed (`--exact child_entry --ignored`) with
//! `TB_CHILD_ROLE` and `TB_CHILD_DIR` set (`tensorbus_testkit::role_child`); they report through
//! their exit code and stderr.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tensorbus_pool::registry::{self, Registry, KIND_PROCESS, KIND_TOPIC, ST_ACTIVE};
use tensorbus_pool::sync::{AtomicBool, AtomicU64, Ordering};
use tensorbus_pool::*;
use tensorbus_testkit::{self as kit, all_slots_free, check, fill, role_child as child, TempNs};

fn run_ok(mut c: Command) {
    let out = c.output().unwrap();
    assert!(out.status.success(), "child failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
}

fn slot_word(dir: &Path, r: &SlotRef) -> u64 {
    let p = pool::Pool::open(dir, r.pool()).unwrap();
    p.slot(r.slot()).word.load(Ordering::Acquire)
}

/// True if holder `h` holds the slot `r` names (its bit in the slot's holder set).
fn holds(dir: &Path, r: &SlotRef, h: u32) -> bool {
    pool::Pool::open(dir, r.pool()).unwrap().holds(r.slot(), h)
}

// ---- the child side ----------------------------------------------------------------------------

#[test]
#[ignore = "child process entry point, run by the process-model tests"]
fn child_entry() {
    let Some((role, dir)) = kit::child_role() else { return };
    match role.as_str() {
        "geometry" => child_geometry(&dir),
        "fork" => child_fork(&dir),
        "join" => {
            let ns = kit::open(&dir);
            assert!(ns.holder_index() < registry::MAX_HOLDERS as u32);
        }
        "reap" => {
            let ns = kit::open(&dir);
            ns.reap();
        }
        "hold" => {
            let ns = kit::open(&dir);
            let held = ns.try_acquire(100).unwrap().freeze();
            let ctl = ns.topic("ctl", &TopicOptions::default()).unwrap().publisher();
            ctl.send_inline(b"ready").unwrap();
            std::thread::sleep(Duration::from_secs(60));
            drop(held);
        }
        other => panic!("unknown role {other}"),
    }
}

/// A process whose own configuration disagrees with the pools that exist.
fn child_geometry(dir: &Path) {
    let ns = Namespace::open_dir(dir, PoolConfig::parse("64Kx4,1Mx2").unwrap()).unwrap();
    // Pool 0 exists with 4 KiB slots (the parent's configuration), not our 64 KiB.
    let mut m = ns.try_acquire(40_000).unwrap();
    assert!(m.len() <= m.capacity(), "lease of {} bytes over a {}-byte slot", m.len(), m.capacity());
    assert!(m.capacity() >= 40_000);
    fill(m.as_mut_slice(), 9); // would overwrite the next slots if the lease were too long
    let r = m.freeze();
    assert_eq!(check(r.as_slice(), 9), None);
    // Our 1 MiB class is pool 1, which exists with 64 KiB slots: nothing holds 1 MiB.
    match ns.try_acquire(1 << 20) {
        Err(AcquireError::NoClass { requested, classes }) => {
            assert_eq!(requested, 1 << 20);
            assert!(classes.contains(&(4096, 4)) && classes.contains(&(65536, 4)), "{classes:?}");
        }
        other => panic!("expected NoClass, got {other:?}"),
    }
    let e = ns.try_acquire(1 << 20).unwrap_err().to_string();
    assert!(e.contains("4096 B x 4") && e.contains("65536 B x 4"), "{e}");
}

/// fork with live handles: the child drops, claims, receives and sends through inherited handles.
fn child_fork(dir: &Path) {
    let ns = kit::open(dir);
    let mut m = ns.try_acquire(100).unwrap();
    fill(m.as_mut_slice(), 1);
    let frame = m.freeze();
    let topic = ns.topic("t", &TopicOptions::default()).unwrap();
    let publisher = topic.publisher();
    let mut sub = topic.subscriber().unwrap();
    publisher.send_inline(b"a").unwrap();
    let kill_child = std::env::var("TB_KILL").is_ok();
    let parent_index = ns.holder_index();

    // SAFETY: this process runs one test thread; the child only uses the pool API, then exits
    // with _exit or SIGKILL.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = (|| {
            // Drop an inherited hold: the parent still reads this frame.
            drop(frame);
            // Claim under our own registration, not the parent's bit.
            let mine: Vec<SlotRef> = (0..4)
                .map(|i| {
                    let mut m = ns.try_acquire(100).unwrap();
                    fill(m.as_mut_slice(), 100 + i);
                    m.freeze()
                })
                .collect();
            if ns.here().unwrap().holder_index() == parent_index {
                return 3; // the child acted under its parent's holder bit
            }
            // The inherited subscriber continues from its cursor, under an entry of our own.
            let got = sub.try_recv().unwrap().map(tensorbus_pool::Delivered::into_parts).map(|(d, _)| d.inline_bytes().unwrap().0[0]);
            if got != Some(b'a') {
                return 4;
            }
            publisher.send_inline(b"b").unwrap();
            drop(sub);
            std::mem::forget(mine);
            0
        })();
        if kill_child {
            // SAFETY: raising a signal on ourselves.
            unsafe { libc::raise(libc::SIGKILL) };
        }
        // SAFETY: leave without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if kill_child {
        assert!(libc::WIFSIGNALED(status), "child status {status:#x}");
    } else {
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status:#x}");
    }
    // The parent's frame is intact and still held by the parent.
    assert_eq!(check(frame.as_slice(), 1), None, "the child's claims overwrote the parent's frame");
    let w = slot_word(dir, &frame);
    assert_eq!(word::state(w), word::READY, "the child released the parent's hold");
    assert!(holds(dir, &frame, ns.holder_index()));
    // The parent's subscriber still sees both messages: "a", then the child's "b".
    let next = |s: &mut Subscriber| s.try_recv().unwrap().map(tensorbus_pool::Delivered::into_parts).map(|(d, _)| d.inline_bytes().unwrap().0[0]);
    assert_eq!(next(&mut sub), Some(b'a'));
    if !kill_child {
        assert_eq!(next(&mut sub), Some(b'b'));
    }
    // The dead child's claims are reaped; nothing is left once the parent lets go.
    ns.reap();
    drop((frame, sub, publisher, topic));
    ns.reap();
    let (used, _) = pool::Pool::open(dir, 0).unwrap().usage();
    assert_eq!(used, 0, "slots leaked by the fork child");
}

// ---- the tests ---------------------------------------------------------------------------------

/// Before: the second process picked pool 0 by its own table (64 KiB) while pool 0 had 4 KiB
/// slots, and got a 40,000-byte lease over a 4 KiB slot.
#[test]
fn geometry_mismatch_leases_never_exceed_their_slot() {
    let t = TempNs::new("pm-geometry");
    let ns = Namespace::open_dir(&t.dir, PoolConfig::parse("4Kx4,64Kx4").unwrap()).unwrap();
    drop((ns.try_acquire(10).unwrap(), ns.try_acquire(40_000).unwrap()));
    run_ok(child("geometry", &t.dir));
    ns.reap();
    all_slots_free(&t.dir).unwrap();
}

/// Before: the child's drop cleared the parent's bit (the slot went FREE under the parent) and
/// the child's claims used the parent's bit, so they leaked.
#[test]
fn fork_child_handles_are_inert_and_its_claims_its_own() {
    let t = TempNs::new("pm-fork");
    run_ok(child("fork", &t.dir));
}

/// As above, with the child SIGKILLed after its claims: they are reaped with it.
#[test]
fn fork_child_killed_after_claiming_leaks_nothing() {
    let t = TempNs::new("pm-fork-kill");
    let mut c = child("fork", &t.dir);
    c.env("TB_KILL", "1");
    run_ok(c);
}

/// Before: a scribbled (or unreadable) start time made the reaper judge its own entry dead and
/// release every hold it had.
#[test]
fn a_process_never_reaps_itself() {
    let t = TempNs::new("pm-self");
    let ns = t.open();
    let r = ns.try_acquire(100).unwrap().freeze();
    let reg = Registry::open(&t.dir).unwrap();
    let e = reg.entry(ns.holder_index());
    let start = e.start_time.load(Ordering::Relaxed);
    e.start_time.store(start + 12345, Ordering::Relaxed);
    assert_eq!(ns.reap().processes, 0);
    assert!(holds(&t.dir, &r, ns.holder_index()), "the process reaped itself");
    assert_eq!(registry::st(e.word.load(Ordering::Acquire)), ST_ACTIVE);
    e.start_time.store(start, Ordering::Relaxed);
}

fn unshare_available() -> bool {
    Command::new("unshare").args(["--pid", "--fork", "--mount-proc", "true"]).status().map(|s| s.success()).unwrap_or(false)
}

fn in_pid_namespace(role: &str, dir: &Path) -> Command {
    let mut c = kit::child_via("unshare", &["--pid", "--fork", "--mount-proc"], kit::ROLE_ENTRY);
    c.env(kit::ROLE_VAR, role).env(kit::DIR_VAR, dir);
    c
}

/// Before: a process in another PID namespace (a container sharing /dev/shm but not the pid
/// space) found our pid missing from its /proc and reaped us, and we reaped it the same way.
#[test]
fn holders_in_another_pid_namespace_are_never_reaped() {
    if !unshare_available() {
        eprintln!("skipped: unshare --pid is not permitted here");
        return;
    }
    let t = TempNs::new("pm-pidns");
    let ns = t.open();
    let mine = ns.try_acquire(100).unwrap().freeze();
    // The container reaps: we survive.
    run_ok(in_pid_namespace("reap", &t.dir));
    assert!(holds(&t.dir, &mine, ns.holder_index()), "a process in another PID namespace reaped us");
    // We reap while a holder inside the container lives: it survives.
    let mut sub = ns.topic("ctl", &TopicOptions::default()).unwrap().subscriber().unwrap();
    let mut holder = in_pid_namespace("hold", &t.dir).stdout(Stdio::null()).spawn().unwrap();
    let ready = sub.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(ready.is_some(), "container holder did not start");
    assert_eq!(ns.reap().processes, 0, "we reaped a holder in another PID namespace");
    let reg = Registry::open(&t.dir).unwrap();
    let held_by_container = (0..registry::MAX_HOLDERS as u32).map(|i| reg.snapshot(i)).any(|s| s.state == ST_ACTIVE && s.kind == KIND_PROCESS && s.index != ns.holder_index());
    assert!(held_by_container, "the container's registration is gone");
    // SAFETY: our own child (unshare, which forwards nothing; kill its process group member).
    unsafe { libc::kill(holder.id() as i32, libc::SIGKILL) };
    holder.wait().unwrap();
    drop(mine);
}

/// Before: two threads reaping at once both took the same dead entry; the second freed it again
/// after a newcomer had claimed it (the newcomer's registration vanished under it).
#[test]
fn concurrent_reaps_in_one_process_never_free_a_newcomer() {
    let t = TempNs::new("pm-reaps");
    let ns = t.open();
    let reg = Registry::open(&t.dir).unwrap();
    let pid_ns = std::fs::metadata("/proc/self/ns/pid").map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap_or(0);
    let stop = AtomicBool::new(false);
    let wiped = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(3);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    ns.reap();
                }
            });
        }
        s.spawn(|| {
            let mut rounds = 0u64;
            while Instant::now() < deadline && rounds < 20_000 {
                rounds += 1;
                // A dead process's entry (a pid that cannot exist), for the reapers to take...
                let Some(dead) = (0..registry::MAX_HOLDERS as u32).find(|&i| reg.entry(i).word.load(Ordering::Acquire) == 0) else { continue };
                let e = reg.entry(dead);
                e.start_time.store(1, Ordering::Relaxed);
                // SAFETY: the entry's last word (offset 56) is the PID namespace field (a plain
                // u64 before layout v2); aligned, inside the mapped entry.
                unsafe { (*(((e as *const _ as *const u8).add(56)) as *const AtomicU64)).store(pid_ns, Ordering::Relaxed) };
                if e.word.compare_exchange(0, registry::pack(ST_ACTIVE, KIND_PROCESS, 0, 0x7fff_fff0), Ordering::AcqRel, Ordering::Relaxed).is_err() {
                    continue;
                }
                // ...then a newcomer that claims whatever is free, and must keep it.
                while e.word.load(Ordering::Acquire) != 0 && Instant::now() < deadline {
                    std::hint::spin_loop();
                }
                let Ok(mine) = reg.claim(KIND_TOPIC, "newcomer") else { continue };
                let w = reg.entry(mine).word.load(Ordering::Acquire);
                std::thread::sleep(Duration::from_micros(50));
                if reg.entry(mine).word.load(Ordering::Acquire) != w {
                    wiped.fetch_add(1, Ordering::Relaxed);
                } else {
                    reg.free(mine);
                }
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    assert_eq!(wiped.load(Ordering::Relaxed), 0, "a reap freed an entry a newcomer had just claimed");
}

/// Before: 56 registered-but-dead processes refused every newcomer (`claim` freed only CLAIMING
/// entries) until someone cleaned up by hand.
#[test]
fn a_namespace_full_of_dead_processes_admits_a_newcomer() {
    let t = TempNs::new("pm-full");
    let ns = t.open();
    drop(ns.try_acquire(10).unwrap()); // pool 0 exists
    let reg = Registry::open(&t.dir).unwrap();
    let pool0 = pool::Pool::open(&t.dir, 0).unwrap();
    let pid_ns = std::fs::metadata("/proc/self/ns/pid").map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap_or(0);
    let mut fakes = 0;
    for i in 0..registry::MAX_HOLDERS as u32 {
        let e = reg.entry(i);
        if e.word.load(Ordering::Acquire) != 0 {
            continue;
        }
        e.start_time.store(1, Ordering::Relaxed);
        // SAFETY: offset 56 of an entry is its PID namespace word (layout v2); aligned, mapped.
        unsafe { (*(((e as *const _ as *const u8).add(56)) as *const AtomicU64)).store(pid_ns, Ordering::Relaxed) };
        e.word.store(registry::pack(ST_ACTIVE, KIND_PROCESS, 0, 0x7fff_f000 + i), Ordering::Release);
        // Each dead process left a slot it was writing.
        if fakes < 4 {
            assert!(pool0.try_claim(i).is_some());
        }
        fakes += 1;
    }
    assert!(fakes > 50);
    // Our own reaper would clean this up; the point is a newcomer that has no entry yet.
    run_ok(child("join", &t.dir));
    ns.reap();
    drop(ns);
    all_slots_free(&t.dir).unwrap();
}
