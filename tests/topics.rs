//! Typed, raw, payload and MessagePack topics in one process.

use std::time::Duration;
use tensorbus::msgs::{CmdVel, Detection, Heartbeat, Imu, Pose2D, Twist};
use tensorbus::raw::{RawPublisher, RawSubscriber, TopicConfig};
use tensorbus::tensor::{Encoding, ImageMut};
use tensorbus::{Error, Image, Pod, Publisher, Subscriber, Topic, TopicError, Value};
use tensorbus_testkit::{TempNs, FACADE_CLASSES};

#[test]
fn pod_round_trip_inline_and_slot() {
    let t = TempNs::with_classes("pod", FACADE_CLASSES);
    let ns = t.open();
    let cmd = Topic::<CmdVel>::open_default(&ns).unwrap();
    assert_eq!(cmd.name(), "cmd_vel");
    let (tx, mut rx) = (cmd.publisher(), cmd.subscriber().unwrap());
    for i in 0..10 {
        tx.send(&CmdVel { timestamp_ns: i, linear: i as f32 * 0.5, angular: -1.0 }).unwrap();
        assert_eq!(rx.try_recv().unwrap(), Some(CmdVel { timestamp_ns: i, linear: i as f32 * 0.5, angular: -1.0 }));
    }
    assert_eq!(rx.try_recv().unwrap(), None);

    // Imu (88 B) and Twist (56 B) travel inline in the ring entry, past the descriptor's 48 bytes.
    let imu = Topic::<Imu>::open_default(&ns).unwrap();
    let (tx, mut rx) = (imu.publisher(), imu.subscriber().unwrap());
    let m = Imu { timestamp_ns: 7, orientation: [0.0, 0.0, 0.0, 1.0], angular_velocity: [0.1, 0.2, 0.3], linear_acceleration: [0.0, 0.0, 9.81] };
    tx.send(&m).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(1)).unwrap(), Some(m));
    let mut tw_rx = Subscriber::<Twist>::new(&ns, "twist").unwrap();
    Publisher::<Twist>::new(&ns, "twist").unwrap().send(&Twist { timestamp_ns: 1, linear: [1.0, 2.0, 3.0], angular: [4.0, 5.0, 6.0] }).unwrap();
    assert_eq!(tw_rx.try_recv().unwrap().unwrap().angular, [4.0, 5.0, 6.0]);
    assert_eq!(ns.stats().used_slots(), 0, "inline messages hold no slot");

    // Over 104 bytes: through a slot, transparently.
    let big = Topic::<Wide>::open(&ns, "wide").unwrap();
    let (tx, mut rx) = (big.publisher(), big.subscriber().unwrap());
    let w = Wide { timestamp_ns: 5, values: std::array::from_fn(|i| i as f64 * 0.5) };
    tx.send(&w).unwrap();
    assert_eq!(ns.stats().used_slots(), 1, "held by the ring entry");
    assert_eq!(rx.try_recv().unwrap(), Some(w));
}

tensorbus::pod_message! {
    /// 112 bytes: past the ring entry's inline capacity.
    pub struct Wide {
        pub timestamp_ns: u64,
        pub values: [f64; 13],
    }
}

#[test]
fn inline_pod_with_zero_middle_bytes_survives() {
    // Bytes 16..24 of an inline message share the descriptor's sequence word; a message with
    // zeros there must still arrive unchanged.
    let t = TempNs::with_classes("zeros", FACADE_CLASSES);
    let ns = t.open();
    let topic = Topic::<Pose2D>::open_default(&ns).unwrap();
    let (tx, mut rx) = (topic.publisher(), topic.subscriber().unwrap());
    for m in [Pose2D { timestamp_ns: 1, x: 1.0, y: 0.0, theta: 0.5 }, Pose2D::default(), Pose2D { timestamp_ns: 3, x: 0.0, y: 2.0, theta: 0.0 }] {
        tx.send(&m).unwrap();
        assert_eq!(rx.try_recv().unwrap(), Some(m));
    }
    let det = Topic::<Detection>::open_default(&ns).unwrap();
    let (tx, mut rx) = (det.publisher(), det.subscriber().unwrap());
    let d = Detection { timestamp_ns: 9, class_id: 3, score: 0.9, x: 0.0, y: 0.0, w: 10.0, h: 20.0 };
    tx.send(&d).unwrap();
    assert_eq!(rx.try_recv().unwrap(), Some(d));
}

#[test]
fn type_mismatch_names_both_types() {
    let t = TempNs::with_classes("mismatch", FACADE_CLASSES);
    let ns = t.open();
    let _cmd = Topic::<CmdVel>::open(&ns, "cmd_vel").unwrap();
    let err = Topic::<Twist>::open(&ns, "cmd_vel").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Topic(TopicError::TypeMismatch { .. })), "{err:?}");
    assert!(msg.contains("CmdVel") && msg.contains("Twist"), "{msg}");

    // Same name, different layout (a Python-declared CmdVel with other fields) is refused too.
    let other = tensorbus::TopicType { name: "CmdVel".into(), hash: 1, size: 16 };
    let err = RawPublisher::open(&ns, "cmd_vel", other, TopicConfig::default()).unwrap_err();
    assert!(err.to_string().contains("layout"), "{err}");

    // And from a second namespace handle (the cross-process path).
    let ns2 = t.open();
    assert!(Topic::<Heartbeat>::open(&ns2, "cmd_vel").is_err());
}

#[test]
fn raw_bytes_for_runtime_types() {
    let t = TempNs::with_classes("raw", FACADE_CLASSES);
    let ns = t.open();
    let ty = <CmdVel as tensorbus::Message>::topic_type();
    let tx = RawPublisher::open(&ns, "cmd_vel", ty.clone(), TopicConfig::default()).unwrap();
    let mut typed = Subscriber::<CmdVel>::new(&ns, "cmd_vel").unwrap();
    let mut raw = RawSubscriber::open(&ns, "cmd_vel", ty, TopicConfig::default()).unwrap();
    let m = CmdVel { timestamp_ns: 5, linear: 1.0, angular: 2.0 };
    tx.send_bytes(m.as_bytes()).unwrap();
    assert_eq!(typed.try_recv().unwrap(), Some(m));
    let got = raw.try_recv().unwrap().unwrap();
    assert_eq!(raw.pod_bytes(&got).unwrap(), m.as_bytes());
    // Wrong size is an error on send.
    let err = tx.send_bytes(&[0u8; 12]).unwrap_err();
    assert!(matches!(err, Error::WrongSize { expected: 16, found: 12, .. }), "{err:?}");
}

#[test]
fn bad_messages_are_errors_not_panics() {
    let t = TempNs::with_classes("bad", FACADE_CLASSES);
    let ns = t.open();
    // An untyped writer sends a 12-byte inline message and a msgpack blob onto a CmdVel topic.
    let mut rx = Subscriber::<CmdVel>::new(&ns, "cmd_vel").unwrap();
    let any = RawPublisher::open(&ns, "cmd_vel", tensorbus::TopicType::default(), TopicConfig::default()).unwrap();
    any.send_bytes(&[1u8; 12]).unwrap();
    assert!(matches!(rx.try_recv(), Err(Error::WrongSize { expected: 16, found: 12, .. })));
    any.send_msgpack(&[0x80]).unwrap();
    assert!(matches!(rx.try_recv(), Err(Error::WrongKind { .. })));
    // Garbage MessagePack on a dict topic.
    let mut vrx = Subscriber::<Value>::new(&ns, "dicts").unwrap();
    let vtx = Publisher::<Value>::new(&ns, "dicts").unwrap();
    vtx.raw().send_msgpack(&[0xa5, b'a']).unwrap(); // a 5-byte string with 1 byte
    assert!(matches!(vrx.try_recv(), Err(Error::Msgpack { .. })));
    vtx.raw().send_msgpack(&[0x92, 0x01]).unwrap(); // truncated array
    assert!(matches!(vrx.try_recv(), Err(Error::Msgpack { .. })));
    vtx.raw().send_msgpack(&[0x01, 0x02]).unwrap(); // trailing bytes
    assert!(matches!(vrx.try_recv(), Err(Error::Msgpack { .. })));
    vtx.send(&Value::from(3)).unwrap(); // and the topic goes on
    assert_eq!(vrx.try_recv().unwrap(), Some(Value::from(3)));
}

#[test]
fn msgpack_values_small_and_large() {
    let t = TempNs::with_classes("msgpack", FACADE_CLASSES);
    let ns = t.open();
    let topic = Topic::<Value>::open(&ns, "status").unwrap();
    let (tx, mut rx) = (topic.publisher(), topic.subscriber().unwrap());
    let small = Value::Map(vec![("a".into(), 1.into()), ("b".into(), 2.5.into()), ("c".into(), "x".into())]);
    tx.send(&small).unwrap();
    assert_eq!(rx.try_recv().unwrap(), Some(small));
    let big = Value::Map((0..200).map(|i| (Value::from(format!("key{i}")), Value::from(i))).collect());
    tx.send(&big).unwrap();
    assert_eq!(rx.try_recv().unwrap(), Some(big));

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Status {
        mode: String,
        battery: f32,
        ok: bool,
    }
    let s = Status { mode: "auto".into(), battery: 0.75, ok: true };
    tx.send_serde(&s).unwrap();
    assert_eq!(rx.recv_serde::<Status>(Duration::from_secs(1)).unwrap(), Some(s));
}

#[test]
fn loaned_image_received_zero_copy() {
    let t = TempNs::with_classes("image", FACADE_CLASSES);
    let ns = t.open();
    let topic = Topic::<Image>::open(&ns, "camera.rgb").unwrap();
    let (tx, mut rx) = (topic.publisher(), topic.subscriber().unwrap());
    let mut m = ImageMut::new(&ns, 48, 64, Encoding::Rgb8).unwrap();
    // The slot's address in the read-only alias: the same pages the loan writes.
    let loan_ptr = m.frozen_ptr();
    m.data_mut().fill(42);
    let frame = m.freeze();
    tx.send(&frame).unwrap();
    let got = rx.try_recv().unwrap().unwrap();
    assert_eq!(got.as_ptr(), loan_ptr, "the receiver sees the camera's slot");
    assert_eq!(got.shape(), &[48, 64, 3]);
    assert!(got.data().iter().all(|&b| b == 42));
    // An image topic refuses another type.
    assert!(Topic::<CmdVel>::open(&ns, "camera.rgb").is_err());
}

#[test]
fn reliable_keeps_every_message_latest_drops_old_ones() {
    let t = TempNs::with_classes("policy", FACADE_CLASSES);
    let ns = t.open();
    let latest = Topic::<CmdVel>::open_with(&ns, "fast", TopicConfig::latest(4)).unwrap();
    let (tx, mut rx) = (latest.publisher(), latest.subscriber().unwrap());
    for i in 1..=10 {
        tx.send(&CmdVel { timestamp_ns: i, ..Default::default() }).unwrap();
    }
    let got: Vec<u64> = rx.drain().unwrap().iter().map(|m| m.timestamp_ns).collect();
    assert_eq!(got, vec![7, 8, 9, 10]);
    assert_eq!(rx.misses(), 6);
    tx.send(&CmdVel { timestamp_ns: 11, ..Default::default() }).unwrap();
    tx.send(&CmdVel { timestamp_ns: 12, ..Default::default() }).unwrap();
    assert_eq!(rx.latest().unwrap().unwrap().timestamp_ns, 12);

    let reliable = Topic::<CmdVel>::open_with(&ns, "careful", TopicConfig::reliable(4)).unwrap();
    let mut tx = reliable.publisher();
    tx.set_timeout(Duration::from_millis(50));
    let mut rx = reliable.subscriber().unwrap();
    for i in 1..=4 {
        tx.send(&CmdVel { timestamp_ns: i, ..Default::default() }).unwrap();
    }
    assert!(matches!(tx.send(&CmdVel { timestamp_ns: 5, ..Default::default() }), Err(Error::Send(_))), "a full reliable ring times out");
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        while seen.len() < 20 {
            if let Some(m) = rx.recv_timeout(Duration::from_secs(5)).unwrap() {
                seen.push(m.timestamp_ns);
            }
        }
        seen
    });
    tx.set_timeout(Duration::from_secs(5));
    for i in 5..=20 {
        tx.send(&CmdVel { timestamp_ns: i, ..Default::default() }).unwrap();
    }
    assert_eq!(reader.join().unwrap(), (1..=20).collect::<Vec<u64>>());
}

tensorbus::pod_message! {
    /// A user-declared message.
    pub struct WheelOdom {
        pub timestamp_ns: u64,
        pub ticks: [i32; 2],
        pub speed: f64,
    }
}

#[test]
fn user_declared_message() {
    let t = TempNs::with_classes("user", FACADE_CLASSES);
    let ns = t.open();
    assert_eq!(WheelOdom::topic_name(), "wheel_odom");
    let topic = Topic::<WheelOdom>::open_default(&ns).unwrap();
    let (tx, mut rx) = (topic.publisher(), topic.subscriber().unwrap());
    let m = WheelOdom { timestamp_ns: 1, ticks: [-5, 7], speed: 0.25 };
    tx.send(&m).unwrap();
    assert_eq!(rx.try_recv().unwrap(), Some(m));
}

#[test]
fn a_received_message_knows_the_sequence_its_send_returned() {
    // Inline messages carry no sequence word (their descriptor holds message bytes): the
    // subscriber reports the entry's position, which is what send returned.
    let t = TempNs::with_classes("seq", FACADE_CLASSES);
    let ns = t.open();
    let ty = tensorbus::TopicType { name: "dict".into(), hash: 0, size: 0 };
    let tx = RawPublisher::open(&ns, "seq", ty.clone(), TopicConfig::default()).unwrap();
    let mut rx = RawSubscriber::open(&ns, "seq", ty, TopicConfig::default()).unwrap();
    let big = vec![0x90u8; 1]; // an empty MessagePack array, inline
    let mut sent = Vec::new();
    for _ in 0..3 {
        sent.push(tx.send_msgpack(&big).unwrap());
    }
    let mut slot = vec![0xc4, 200];
    slot.extend([7u8; 200]); // 202 bytes: through a slot
    sent.push(tx.send_msgpack(&slot).unwrap());
    let got: Vec<u64> = std::iter::from_fn(|| rx.try_recv().unwrap()).map(|m| m.sequence()).collect();
    assert_eq!(got, sent);
    assert_eq!(sent, vec![1, 2, 3, 4]);
    assert_eq!(ns.topic("seq", &Default::default()).unwrap().latest().unwrap().sequence(), 4);
}
