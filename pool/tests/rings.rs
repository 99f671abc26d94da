//! Topic rings: delivery to every subscriber that keeps up, misses (never wrong data) for slow
//! ones, wraparound, late joiners, the reliable policy, bounded pinning, wakeups.

use std::time::{Duration, Instant};
use tensorbus_pool::ring::INLINE_MAX;
use tensorbus_pool::*;
use tensorbus_testkit::{check, fill, TempNs};

fn send_frame(ns: &Namespace, p: &Publisher, id: u64, len: u64) -> u64 {
    let mut m = ns.try_acquire(len).unwrap();
    fill(m.as_mut_slice(), id);
    let r = m.freeze();
    let d = Descriptor { timestamp_ns: id, ..r.descriptor() };
    p.send(d, &r).unwrap()
}

/// Receive one frame and verify its bytes against the id in its timestamp.
fn recv_frame(s: &mut Subscriber) -> Option<u64> {
    let (d, h) = s.try_recv().unwrap()?.into_parts();
    let h = h.expect("payload hold");
    assert_eq!(h.len(), d.len);
    assert_eq!(check(h.as_slice(), d.timestamp_ns), None, "frame {} corrupt", d.timestamp_ns);
    Some(d.timestamp_ns)
}

#[test]
fn every_subscriber_sees_every_entry_when_keeping_up() {
    let t = TempNs::new("ring-all");
    let ns = t.open();
    let topic = ns.topic("cam", &TopicOptions::default()).unwrap();
    let p = topic.publisher();
    let mut subs: Vec<Subscriber> = (0..3).map(|_| topic.subscriber().unwrap()).collect();
    for id in 1..=50u64 {
        send_frame(&ns, &p, id, 1000 + id);
        if id % 2 == 0 {
            send_frame(&ns, &p, id + 1000, 64); // two per round, still within depth 4
            for s in &mut subs {
                assert_eq!(recv_frame(s), Some(id - 1));
                assert_eq!(recv_frame(s), Some(id));
                assert_eq!(recv_frame(s), Some(id + 1000));
                assert_eq!(recv_frame(s), None);
            }
        }
    }
    for s in &subs {
        assert_eq!((s.misses(), s.received()), (0, 75));
    }
}

#[test]
fn ring_wraparound() {
    let t = TempNs::new("ring-wrap");
    let ns = t.open();
    let topic = ns.topic("wrap", &TopicOptions { depth: 3, ..Default::default() }).unwrap();
    let p = topic.publisher();
    let mut s = topic.subscriber().unwrap();
    // Many laps over 3 entries and 8 slots; sequence numbers keep counting.
    for id in 0..1000u64 {
        let seq = send_frame(&ns, &p, id, 200);
        assert_eq!(seq, id + 1);
        assert_eq!(recv_frame(&mut s), Some(id));
    }
    assert_eq!(s.misses(), 0);
    assert!(ns.stats().used_slots() <= 3);
}

#[test]
fn slow_subscriber_counts_misses_never_wrong_data() {
    let t = TempNs::new("ring-slow");
    let ns = t.open();
    let topic = ns.topic("cam", &TopicOptions { depth: 4, ..Default::default() }).unwrap();
    let p = topic.publisher();
    let mut fast = topic.subscriber().unwrap();
    let mut slow = topic.subscriber().unwrap();
    for id in 0..10u64 {
        send_frame(&ns, &p, id, 3000);
        assert_eq!(recv_frame(&mut fast), Some(id));
    }
    // The slow one gets the 4 newest frames (6..10) and counts 6 misses.
    let got: Vec<u64> = std::iter::from_fn(|| recv_frame(&mut slow)).collect();
    assert_eq!(got, vec![6, 7, 8, 9]);
    assert_eq!(slow.misses(), 6);
    // A frame read before it is overwritten stays intact while held, even as the ring laps.
    send_frame(&ns, &p, 100, 3000);
    let (d, h) = slow.try_recv().unwrap().unwrap().into_parts();
    for id in 200..220 {
        send_frame(&ns, &p, id, 3000);
    }
    assert_eq!(check(h.unwrap().as_slice(), d.timestamp_ns), None);
    assert_eq!(d.timestamp_ns, 100);
    // Latest skips to the newest.
    let (d, _) = slow.latest().unwrap().unwrap().into_parts();
    assert_eq!(d.timestamp_ns, 219);
    assert_eq!(slow.misses(), 6 + 19);
}

#[test]
fn late_subscriber_starts_at_the_newest_entry() {
    let t = TempNs::new("ring-late");
    let ns = t.open();
    let topic = ns.topic("cam", &TopicOptions::default()).unwrap();
    let p = topic.publisher();
    for id in 0..7u64 {
        send_frame(&ns, &p, id, 10);
    }
    let mut s = topic.subscriber().unwrap();
    assert_eq!(recv_frame(&mut s), Some(6));
    assert_eq!(recv_frame(&mut s), None);
    assert_eq!(s.misses(), 0);
    let (d, _) = topic.latest().unwrap().into_parts();
    assert_eq!(d.timestamp_ns, 6);
    // On an empty topic it starts at the first entry.
    let empty = ns.topic("empty", &TopicOptions::default()).unwrap();
    let mut s = empty.subscriber().unwrap();
    assert!(empty.latest().is_none());
    empty.publisher().send_inline(b"first").unwrap();
    assert!(s.try_recv().unwrap().is_some());
}

#[test]
fn reliable_policy_blocks_sender_until_subscriber_reads() {
    let t = TempNs::new("ring-reliable");
    let ns = t.open();
    let opts = TopicOptions { depth: 2, policy: Policy::Reliable, ..Default::default() };
    let topic = ns.topic("cmd", &opts).unwrap();
    let mut p = topic.publisher();
    p.set_timeout(Duration::from_millis(100));
    let mut s = topic.subscriber().unwrap();
    p.send_inline(b"1").unwrap();
    p.send_inline(b"2").unwrap();
    let start = Instant::now();
    let e = p.send_inline(b"3").unwrap_err();
    assert!(matches!(e, SendError::Timeout { .. }), "{e}");
    assert!(start.elapsed() >= Duration::from_millis(100));
    // Reader drains one in 50 ms: the blocked sender proceeds.
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let mut got = Vec::new();
        while got.len() < 3 {
            if let Some((d, _)) = s.recv_timeout(Duration::from_secs(2)).unwrap().map(tensorbus_pool::Delivered::into_parts) {
                got.push(d.inline_bytes().unwrap().0[0]);
            }
        }
        got
    });
    p.set_timeout(Duration::from_secs(5));
    let start = Instant::now();
    p.send_inline(b"3").unwrap();
    assert!(start.elapsed() >= Duration::from_millis(30), "send did not wait: {:?}", start.elapsed());
    assert_eq!(reader.join().unwrap(), b"123", "nothing lost or reordered");
    // With the subscriber gone, sends never block.
    for _ in 0..10 {
        p.send_inline(b"x").unwrap();
    }
}

#[test]
fn topic_pins_at_most_depth_slots_and_returns_them_on_close() {
    let t = TempNs::new("ring-pin");
    let ns = t.open();
    let topic = ns.topic("cam", &TopicOptions { depth: 3, ..Default::default() }).unwrap();
    let p = topic.publisher();
    let _s = topic.subscriber().unwrap(); // never reads
    for id in 0..100u64 {
        send_frame(&ns, &p, id, if id % 2 == 0 { 100 } else { 10_000 });
        assert!(ns.stats().used_slots() <= 3, "{:?}", ns.stats().pools);
    }
    assert_eq!(ns.stats().used_slots(), 3);
    // The same slot sent twice pins one slot.
    let r = ns.try_acquire(10).unwrap().freeze();
    for _ in 0..5 {
        p.send(r.descriptor(), &r).unwrap();
    }
    drop(r);
    assert_eq!(ns.stats().used_slots(), 1);
    drop((p, _s, topic));
    assert_eq!(ns.stats().used_slots(), 0, "{:?}", ns.stats());
    assert!(ns.stats().participants.iter().all(|p| !p.is_topic), "topic holder entry freed");
}

#[test]
fn type_mismatch_error_names_both_types() {
    let t = TempNs::new("ring-type");
    let ns = t.open();
    let ty = |n: &str, size| TopicOptions { ty: TopicType { name: n.into(), hash: 1, size }, ..Default::default() };
    let a = ns.topic("cmd_vel", &ty("CmdVel", 24)).unwrap();
    let e = ns.topic("cmd_vel", &ty("Image", 0)).unwrap_err().to_string();
    assert!(e.contains("CmdVel") && e.contains("Image"), "{e}");
    drop(a);
    // From the segment (no handle open in this process) too.
    let e = ns.topic("cmd_vel", &ty("Pose", 56)).unwrap_err().to_string();
    assert!(e.contains("CmdVel") && e.contains("Pose"), "{e}");
    assert!(ns.topic("cmd_vel", &TopicOptions::default()).is_ok(), "untyped open accepts any");
}

#[test]
fn blocking_recv_wakes_on_send_from_another_thread() {
    let t = TempNs::new("ring-wake");
    let ns = t.open();
    let topic = ns.topic("wake", &TopicOptions::default()).unwrap();
    let mut s = topic.subscriber().unwrap();
    let start = Instant::now();
    assert!(s.recv_timeout(Duration::from_millis(100)).unwrap().is_none());
    assert!(start.elapsed() >= Duration::from_millis(100));

    let p = topic.publisher();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        p.send_inline(b"wake").unwrap();
    });
    let start = Instant::now();
    let (d, _) = s.recv_timeout(Duration::from_secs(10)).unwrap().expect("woken").into_parts();
    let waited = start.elapsed();
    assert_eq!(&d.inline_bytes().unwrap().0[..4], b"wake");
    assert!(waited < Duration::from_secs(2), "slept through the wake: {waited:?}");
    sender.join().unwrap();
    // Spinning receive times out as well.
    s.set_spin(true);
    let start = Instant::now();
    assert!(s.recv_timeout(Duration::from_millis(20)).unwrap().is_none());
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
fn inline_messages_of_every_length_arrive_intact() {
    // Short inline messages are read from the entry's first cache line only; longer ones (41 to
    // 48 bytes) need its second, and those over 48 the tail words after the descriptor. Every
    // length, several laps of a non-power-of-two ring, longest first so that each entry still
    // holds a longer message's tail, must come back byte for byte.
    let t = TempNs::new("ring-inline-lengths");
    let ns = t.open();
    let topic = ns.topic("inline-lengths", &TopicOptions { depth: 3, ..TopicOptions::default() }).unwrap();
    let p = topic.publisher();
    let mut s = topic.subscriber().unwrap();
    for round in 0..3u8 {
        for len in (0..=INLINE_MAX).rev() {
            let msg: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(31).wrapping_add(round).wrapping_add(1)).collect();
            p.send_inline(&msg).unwrap();
            let m = s.try_recv().unwrap().expect("the message just sent");
            assert!(m.hold.is_none());
            let (raw, n) = m.inline_bytes().unwrap();
            assert_eq!(&raw[..n], &msg[..], "inline message of {len} bytes (round {round})");
            assert!(raw[n..].iter().all(|&b| b == 0), "bytes past an inline message of {len} are zero");
            // The descriptor-only view is whole up to 48 bytes and refuses longer messages
            // rather than cut them.
            let via_desc = m.desc.inline_bytes().map(|(b, n)| b[..n].to_vec());
            assert_eq!(via_desc, (len <= descriptor::INLINE_CAPACITY).then(|| msg.clone()), "{len} bytes via the descriptor");
        }
    }
    assert!(s.try_recv().unwrap().is_none());
    assert_eq!(ns.stats().used_slots(), 0, "inline messages hold no slot");
    assert!(matches!(p.send_inline(&[7; INLINE_MAX + 1]), Err(SendError::InlineTooLarge { len: 105, max: INLINE_MAX })));
    // The newest entry, read without a subscriber, is whole too.
    p.send_inline(&[9; INLINE_MAX]).unwrap();
    let (raw, n) = topic.latest().unwrap().inline_bytes().unwrap();
    assert_eq!(&raw[..n], &[9; INLINE_MAX][..]);
    // A long inline message whose length was scribbled past the capacity is refused, not read
    // past the entry.
    let mut sub2 = topic.subscriber().unwrap();
    let (mut d, tail) = tensorbus_pool::ring::inline_message(&[1; 60]).unwrap();
    d.aux = (INLINE_MAX + 1) as u16;
    topic.ring().send_entry(&ns, d, Some(&tail), None, std::time::Duration::from_secs(1)).unwrap();
    assert!(sub2.latest().unwrap().unwrap().inline_bytes().is_none());
}

#[test]
fn topic_pins_only_the_newest_frame_once_every_subscriber_has_read() {
    // Entries every live subscriber has read give their slots back at the next send; the newest
    // stays for late joiners. Without subscribers, too, only the newest is pinned.
    let t = TempNs::new("ring-release");
    let ns = t.open();
    let topic = ns.topic("cam", &TopicOptions { depth: 4, ..Default::default() }).unwrap();
    let p = topic.publisher();
    for id in 0..10u64 {
        send_frame(&ns, &p, id, 1000);
        assert_eq!(ns.stats().used_slots(), 1, "no subscriber: only the newest pinned (after {id})");
    }
    let mut a = topic.subscriber().unwrap();
    let mut b = topic.subscriber().unwrap();
    assert_eq!(recv_frame(&mut a), Some(9), "a late joiner gets the newest frame");
    for id in 10..20u64 {
        send_frame(&ns, &p, id, 1000);
        assert_eq!(recv_frame(&mut a), Some(id));
        // b has not read: everything since its cursor stays pinned (up to depth).
        assert!(ns.stats().used_slots() <= 4);
    }
    assert_eq!(ns.stats().used_slots(), 4, "the slow subscriber keeps depth frames: {:?}", ns.stats().pools);
    let got: Vec<u64> = std::iter::from_fn(|| recv_frame(&mut b)).collect();
    assert_eq!(got, vec![16, 17, 18, 19], "the slow subscriber still reads the newest depth frames intact");
    assert_eq!(b.misses(), 7, "9..=15 were lapped");
    let missed_before = [a.misses(), b.misses()];
    send_frame(&ns, &p, 20, 1000);
    assert_eq!(ns.stats().used_slots(), 1, "both read everything before 20: only 20 pinned");
    assert_eq!(recv_frame(&mut a), Some(20));
    assert_eq!(recv_frame(&mut b), Some(20));
    // A frame named by two entries keeps its slot until its last entry is released.
    let mut m = ns.try_acquire(10).unwrap();
    fill(m.as_mut_slice(), 21);
    let r = m.freeze();
    let d = Descriptor { timestamp_ns: 21, ..r.descriptor() };
    p.send(d, &r).unwrap();
    p.send(d, &r).unwrap();
    drop(r);
    assert_eq!(recv_frame(&mut a), Some(21));
    assert_eq!(recv_frame(&mut a), Some(21));
    assert_eq!(recv_frame(&mut b), Some(21));
    send_frame(&ns, &p, 22, 1000); // releases the first entry of 21; b has not read the second
    assert_eq!(ns.stats().used_slots(), 2, "21 is still named by an unread entry: {:?}", ns.stats().pools);
    assert_eq!(recv_frame(&mut b), Some(21), "no double release: the slot is intact");
    for (s, before) in [&mut a, &mut b].into_iter().zip(missed_before) {
        assert_eq!(recv_frame(s), Some(22));
        assert_eq!(s.misses(), before, "nothing missed while entries were released early");
    }
    send_frame(&ns, &p, 23, 1000);
    assert_eq!(ns.stats().used_slots(), 1);
    drop((a, b, p, topic));
    assert_eq!(ns.stats().used_slots(), 0, "{:?}", ns.stats());
}

#[test]
fn history_zero_keeps_no_frame_and_the_next_loan_reuses_the_slot_just_dropped() {
    // History 0 (iceoryx2's default): once every live subscriber has read a frame, the topic
    // drops its reference — at once when there is no subscriber, else on the receive that read
    // it last — so the slot frees when the reader drops it and the next loan gets that slot.
    let t = TempNs::new("ring-history0");
    let ns = t.open();
    let topic = ns.topic("cam", &TopicOptions { depth: 4, history: 0, ..Default::default() }).unwrap();
    assert_eq!(topic.history(), 0);
    let p = topic.publisher();
    let mut slots = Vec::new();
    for id in 0..5u64 {
        let mut m = ns.try_acquire(1000).unwrap();
        slots.push(m.slot());
        fill(m.as_mut_slice(), id);
        let r = m.freeze();
        p.send(Descriptor { timestamp_ns: id, ..r.descriptor() }, &r).unwrap();
        drop(r);
        assert_eq!(ns.stats().used_slots(), 0, "no subscriber, history 0: nothing pinned after {id}");
    }
    assert!(slots.windows(2).all(|w| w[0] == w[1]), "every loan reused the slot just freed: {slots:?}");
    assert!(topic.latest().is_none(), "history 0 keeps nothing for latest()");
    let mut a = topic.subscriber().unwrap();
    assert_eq!(recv_frame(&mut a), None, "a late joiner starts with the next send");
    assert_eq!(a.misses(), 0);
    let mut b = topic.subscriber().unwrap();
    send_frame(&ns, &p, 5, 1000);
    assert_eq!(ns.stats().used_slots(), 1, "unread by a and b: pinned");
    assert_eq!(recv_frame(&mut a), Some(5));
    assert_eq!(ns.stats().used_slots(), 1, "b has not read it");
    // b reads it last: its receive drops the topic's reference; dropping b's hold frees the slot.
    let (d, h) = b.try_recv().unwrap().unwrap().into_parts();
    assert_eq!(d.timestamp_ns, 5);
    assert_eq!(ns.stats().used_slots(), 1, "b's own hold keeps it");
    let was = h.as_ref().unwrap().slot();
    drop(h);
    assert_eq!(ns.stats().used_slots(), 0, "read by everyone and dropped: free");
    let m = ns.try_acquire(1000).unwrap();
    assert_eq!(m.slot(), was, "the next loan reuses the slot the last reader dropped");
    drop(m);
    send_frame(&ns, &p, 6, 1000);
    assert_eq!(recv_frame(&mut a), Some(6));
    assert_eq!(recv_frame(&mut b), Some(6));
    assert_eq!(ns.stats().used_slots(), 0);
    // A slow subscriber still keeps up to depth frames (latest policy), and reads them intact.
    for id in 7..17u64 {
        send_frame(&ns, &p, id, 1000);
        assert_eq!(recv_frame(&mut a), Some(id));
    }
    assert_eq!(ns.stats().used_slots(), 4, "b lags: depth frames pinned");
    let got: Vec<u64> = std::iter::from_fn(|| recv_frame(&mut b)).collect();
    assert_eq!(got, vec![13, 14, 15, 16]);
    assert_eq!(ns.stats().used_slots(), 0, "b caught up: nothing pinned");
    drop((a, b, p, topic));
    assert_eq!(ns.stats().used_slots(), 0, "{:?}", ns.stats());
    // An existing topic keeps its history; a history past 1 is a clear error.
    assert_eq!(ns.topic("cam", &TopicOptions::default()).unwrap().history(), 0);
    let e = ns.topic("other", &TopicOptions { history: 2, ..Default::default() }).unwrap_err();
    assert!(matches!(e, TopicError::BadHistory { history: 2, .. }), "{e}");
}

#[test]
fn history_one_keeps_the_newest_for_late_joiners() {
    let t = TempNs::new("ring-history1");
    let ns = t.open();
    let topic = ns.topic("cam", &TopicOptions::default()).unwrap();
    assert_eq!(topic.history(), 1);
    let p = topic.publisher();
    send_frame(&ns, &p, 1, 1000);
    let mut a = topic.subscriber().unwrap();
    assert_eq!(recv_frame(&mut a), Some(1));
    assert_eq!(ns.stats().used_slots(), 1, "read by everyone, still kept for the next late joiner");
    let mut b = topic.subscriber().unwrap();
    assert_eq!(recv_frame(&mut b), Some(1));
}
