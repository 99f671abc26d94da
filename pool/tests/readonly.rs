//! Read-only in the memory itself: a frozen or resolved slot (`SlotRef`) points into a mapping
//! the process cannot write, a write through it dies with SIGSEGV, the loan (`SlotMut`) stays
//! writable, and after `leave` a hold that is still alive reads zeros, not a reused slot.

use tensorbus_pool::pool::Pool;
use tensorbus_testkit::{check, fill, TempNs};

/// `(perms, path)` of the mapping of this process that contains `addr` (from /proc/self/maps).
fn mapping_of(addr: usize) -> Option<(String, String)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        let (a, b) = it.next()?.split_once('-')?;
        let (s, e) = (usize::from_str_radix(a, 16).ok()?, usize::from_str_radix(b, 16).ok()?);
        let perms = it.next()?.to_string();
        let path = it.nth(3).unwrap_or("").to_string();
        (s <= addr && addr < e).then_some((perms, path))
    })
}

#[test]
fn frozen_and_resolved_slots_point_into_a_read_only_mapping() {
    let t = TempNs::new("ro-maps");
    let ns = t.open();
    let mut m = ns.try_acquire(3000).unwrap();
    fill(m.as_mut_slice(), 7);
    let (rw, frozen) = (m.as_ptr() as usize, m.frozen_ptr() as usize);
    let (perms, path) = mapping_of(rw).unwrap();
    assert_eq!(perms, "rw-s", "the loan is writable");
    assert!(path.contains("/pool-0"), "{path}"); // the creator maps its temporary file
    assert_ne!(rw, frozen);
    let r = m.freeze();
    assert_eq!(r.as_ptr() as usize, frozen, "freeze moves the pointer to the alias");
    assert_eq!(r.as_ptr() as usize % 256, 0);
    assert_eq!(mapping_of(frozen).unwrap(), ("r--s".to_string(), path.clone()), "same file, read-only");
    assert_eq!(check(r.as_slice(), 7), None, "the alias shows the bytes written through the loan");
    let got = ns.resolve(&r.descriptor()).unwrap();
    assert_eq!(got.as_ptr(), r.as_ptr(), "a resolve reads the same alias address");
    // The last slot of the bigger class: the alias covers the whole payload area.
    let big: Vec<_> = (0..4).map(|_| ns.try_acquire(60_000).unwrap().freeze()).collect();
    for b in &big {
        let (perms, path) = mapping_of(b.as_ptr() as usize + 65535).unwrap();
        assert_eq!((perms.as_str(), path.contains("/pool-1")), ("r--s", true));
    }
    drop((r, got, big));
    assert_eq!(ns.stats().used_slots(), 0);
}

#[test]
fn write_through_a_frozen_slot_dies_with_sigsegv() {
    let t = TempNs::new("ro-segv");
    let ns = t.open();
    let mut m = ns.try_acquire(4096).unwrap();
    fill(m.as_mut_slice(), 3);
    let r = m.freeze();
    let p = r.as_ptr() as *mut u8;
    // SAFETY: fork has no preconditions; the child only does a volatile store and _exit, both
    // async-signal-safe, so the other test threads' locks do not matter there.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: deliberately invalid: a store into the read-only alias, which must fault.
        unsafe {
            std::ptr::write_volatile(p.add(100), 0xEE);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV, "child status {status:#x}: the write did not fault");
    assert_eq!(check(r.as_slice(), 3), None, "the frame is unchanged");
}

#[test]
fn holds_alive_after_leave_read_zeros_not_a_reused_slot() {
    let t = TempNs::new("ro-leave");
    let ns = t.open();
    let mut m = ns.try_acquire(4096).unwrap();
    fill(m.as_mut_slice(), 5);
    let kept = m.freeze();
    let slot = kept.slot();
    ns.leave();
    // Another process reuses the slot: here, a second mapping of the pool writing into it.
    let other = Pool::open(&t.dir, 0).unwrap();
    // SAFETY: the slot is FREE (leave released it) and nobody else uses this test namespace.
    let buf = unsafe { std::slice::from_raw_parts_mut(other.payload_ptr(slot), 4096) };
    fill(buf, 9);
    assert!(kept.as_slice().iter().all(|&b| b == 0), "a hold left after leave must not show another frame");
    drop(kept);
}
