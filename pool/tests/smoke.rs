use std::time::Duration;
use tensorbus_pool::*;
use tensorbus_testkit::TempNs;

/// A namespace of the test's own (8 slots of 4 KiB, 2 of 64 KiB) and its directory's guard.
fn ns(tag: &str) -> (Namespace, TempNs) {
    let t = TempNs::with_classes(&format!("smoke-{tag}"), "4Kx8,64Kx2");
    (t.open(), t)
}

#[test]
fn send_recv_payload_and_inline() {
    let (ns, _dir) = ns("a");
    let t = ns.topic("cam", &TopicOptions::default()).unwrap();
    let p = t.publisher();
    let mut s = t.subscriber().unwrap();
    for i in 0..10u8 {
        let mut m = ns.try_acquire(100).unwrap();
        m.as_mut_slice().fill(i);
        let r = m.freeze();
        p.send(r.descriptor(), &r).unwrap();
        drop(r);
        let (d, h) = s.recv_timeout(Duration::from_millis(100)).unwrap().unwrap().into_parts();
        assert_eq!(d.len, 100);
        assert!(h.unwrap().as_slice().iter().all(|&b| b == i));
    }
    p.send_inline(b"hello").unwrap();
    let (d, h) = s.try_recv().unwrap().unwrap().into_parts();
    assert!(h.is_none());
    let (raw, n) = d.inline_bytes().unwrap();
    assert_eq!(&raw[..n], b"hello");
    assert!(ns.stats().used_slots() <= 4);
    drop((s, p, t));
    assert_eq!(ns.stats().used_slots(), 0, "{:?}", ns.stats());
    drop(ns);
}

#[test]
fn leave_releases_everything_and_makes_handles_inert() {
    let (ns, _dir) = ns("leave");
    let t = ns.topic("cam", &TopicOptions::default()).unwrap();
    let p = t.publisher();
    let mut s = t.subscriber().unwrap();
    let mut m = ns.try_acquire(100).unwrap();
    m.as_mut_slice().fill(1);
    let r = m.freeze();
    p.send(r.descriptor(), &r).unwrap();
    let got = s.try_recv().unwrap().unwrap();
    let loaned = ns.try_acquire(100).unwrap();
    assert!(ns.stats().used_slots() >= 2);
    ns.leave();
    let st = ns.stats();
    assert_eq!(st.used_slots(), 0, "{st:?}");
    assert!(st.participants.iter().all(|p| p.pid != std::process::id()), "unregistered: {:?}", st.participants);
    // A claim after leave() is a clear error (its payload mappings are zero pages now).
    assert!(matches!(ns.try_acquire(100), Err(AcquireError::Closed)));
    // Handles that outlive leave() are inert: dropping them changes nothing.
    drop((got, r, loaned, s, p, t));
    assert_eq!(ns.stats().used_slots(), 0);
    drop(ns);
}
