//! Two "hosts" in one process: two namespaces in separate directories, one bridge each, joined
//! over loopback TCP with multicast scouting off. What crosses must arrive whole (pixels, typed
//! fields, dicts), never come back (no echo), and anything malformed from the network must be a
//! counted drop.

use std::time::{Duration, Instant};
use tensorbus::msgs::CmdVel;
use tensorbus::raw::{RawPublisher, RawSubscriber, TopicConfig};
use tensorbus::tensor::{Encoding, ImageMut};
use tensorbus::{Image, Namespace, Publisher, Subscriber, Topic, TopicType, Value};
use tensorbus_bridge::wire::{self, Compression, Form, Header};
use tensorbus_bridge::{Bridge, BridgeOptions, BridgeStatus};
use tensorbus_testkit::TempNs;
use zenoh::Wait;

const CLASSES: &str = "4Kx32,1Mx8,8Mx6";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Hosts {
    _a: TempNs,
    _b: TempNs,
    a: Namespace,
    b: Namespace,
    port: u16,
    scope: String,
}

fn hosts(tag: &str) -> Hosts {
    let (ta, tb) = (TempNs::with_classes(&format!("{tag}-a"), CLASSES), TempNs::with_classes(&format!("{tag}-b"), CLASSES));
    let (a, b) = (ta.open(), tb.open());
    Hosts { _a: ta, _b: tb, a, b, port: free_port(), scope: format!("{tag}{}", std::process::id()) }
}

impl Hosts {
    fn opts(&self, listen: bool) -> BridgeOptions {
        let ep = format!("tcp/127.0.0.1:{}", self.port);
        BridgeOptions {
            listen: if listen { vec![ep.clone()] } else { vec![] },
            connect: if listen { vec![] } else { vec![ep] },
            scope: Some(self.scope.clone()),
            ..Default::default()
        }
    }
}

/// Wait until both bridges see a peer and the far side has declared its subscriber.
fn connected(x: &Bridge, y: &Bridge) {
    let t0 = Instant::now();
    while x.peers().is_empty() || y.peers().is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(10), "the bridges did not connect");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Subscriber declarations travel after the session opens.
    std::thread::sleep(Duration::from_millis(300));
}

fn until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `name` exists in `ns` and a message has been published on it.
fn arrived(ns: &Namespace, name: &str) -> bool {
    ns.topic_names().iter().any(|n| n == name) && ns.topic(name, &Default::default()).is_ok_and(|t| t.sent() > 0)
}

fn topic<'a>(r: &'a BridgeStatus, name: &str, dir: &str) -> &'a tensorbus_bridge::BridgedTopic {
    r.topics.iter().find(|t| t.name == name && t.direction == dir).unwrap_or_else(|| panic!("{name} {dir} not in {r:#?}"))
}

fn image(ns: &Namespace, h: usize, w: usize, id: u64) -> Image {
    let mut m = ImageMut::new(ns, h, w, Encoding::Rgb8).unwrap();
    tensorbus_testkit::fill(m.data_mut(), id);
    m.set_timestamp_ns(1_000 + id);
    m.set_frame_id("cam0").unwrap();
    m.freeze()
}

/// The next frame other than frame 0 (`image` stamps frame `id` with 1,000 + `id`): frame 0 was
/// sent until it arrived, so copies of it still in flight can arrive after the drain.
fn after_resends(rx: &mut Subscriber<Image>, what: &str) -> Image {
    loop {
        let img = rx.recv_timeout(Duration::from_secs(5)).unwrap().expect(what);
        if img.timestamp_ns() != 1_000 {
            return img;
        }
    }
}

#[test]
fn images_typed_and_dicts_cross_both_ways() {
    let h = hosts("kinds");
    let a = Bridge::start(&h.a, BridgeOptions { export: vec!["camera.*".into(), "status".into()], import: vec!["cmd_vel".into()], ..h.opts(true) }).unwrap();
    let b = Bridge::start(&h.b, BridgeOptions { import: vec!["camera.*".into(), "status".into()], export: vec!["cmd_vel".into()], ..h.opts(false) }).unwrap();
    connected(&a, &b);

    // A -> B: 1080p and 480p frames, pixel for pixel, with their metadata.
    let cam = Publisher::<Image>::new(&h.a, "camera.rgb").unwrap();
    let small = Publisher::<Image>::new(&h.a, "camera.small").unwrap();
    let status = Topic::<Value>::open(&h.a, "status").unwrap().publisher();
    // The far side subscribes once the topics exist there (the first frame creates them). A
    // frame put before the far side's Zenoh subscription has reached A goes nowhere, so frame 0
    // is sent again until it has arrived.
    until("B's camera topics", 10, || {
        cam.send(&image(&h.a, 1080, 1920, 0)).unwrap();
        small.send(&image(&h.a, 480, 640, 0)).unwrap();
        std::thread::sleep(Duration::from_millis(40));
        arrived(&h.b, "camera.rgb") && arrived(&h.b, "camera.small")
    });
    let mut rx = Subscriber::<Image>::new(&h.b, "camera.rgb").unwrap();
    let mut rx_small = Subscriber::<Image>::new(&h.b, "camera.small").unwrap();
    let mut rx_status = Topic::<Value>::open(&h.b, "status").unwrap().subscriber().unwrap();
    // A late subscriber starts with the newest frame (frame 0): take it first.
    while rx.try_recv().unwrap().is_some() {}
    while rx_small.try_recv().unwrap().is_some() {}
    for id in 1..=5u64 {
        cam.send(&image(&h.a, 1080, 1920, id)).unwrap();
        let img = after_resends(&mut rx, "a 1080p frame");
        assert_eq!((img.height(), img.width(), img.encoding()), (1080, 1920, Encoding::Rgb8));
        assert_eq!(tensorbus_testkit::check(img.data(), id), None, "frame {id} differs");
        assert_eq!(img.timestamp_ns(), 1_000 + id);
        assert_eq!(img.frame_id(), "cam0");
        small.send(&image(&h.a, 480, 640, id)).unwrap();
        let img = after_resends(&mut rx_small, "a 480p frame");
        assert_eq!(tensorbus_testkit::check(img.data(), id), None);
        status.send(&Value::Map(vec![(Value::from("frame"), Value::from(id))])).unwrap();
        let v = rx_status.recv_timeout(Duration::from_secs(5)).unwrap().expect("a dict");
        assert_eq!(v["frame"].as_u64(), Some(id));
    }

    // B -> A: typed messages, fields intact.
    let cmd = Publisher::<CmdVel>::new(&h.b, "cmd_vel").unwrap();
    until("A's cmd_vel", 10, || {
        cmd.send(&CmdVel { timestamp_ns: 1, linear: 0.0, angular: 0.0 }).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        arrived(&h.a, "cmd_vel")
    });
    let mut rx_cmd = Subscriber::<CmdVel>::new(&h.a, "cmd_vel").unwrap();
    while rx_cmd.try_recv().unwrap().is_some() {}
    for i in 0..100 {
        let m = CmdVel { timestamp_ns: 10 + i, linear: i as f32 * 0.5, angular: -(i as f32) };
        cmd.send(&m).unwrap();
        // Copies of the first CmdVel (stamp 1, sent until it arrived) may still be in flight.
        let got = loop {
            match rx_cmd.recv_timeout(Duration::from_secs(5)).unwrap() {
                Some(c) if c.timestamp_ns == 1 => continue,
                other => break other,
            }
        };
        assert_eq!(got, Some(m));
    }

    let (ra, rb) = (a.stop().unwrap(), b.stop().unwrap());
    // Frame 0 and the first CmdVel were sent until they arrived: at least once each.
    let (out, inn) = (topic(&ra, "camera.rgb", "out").messages, topic(&rb, "camera.rgb", "in").messages);
    assert!(out >= 6 && inn >= 6 && inn <= out, "out {out}, in {inn}");
    assert_eq!(topic(&rb, "camera.rgb", "in").lost, 0);
    assert!(topic(&ra, "cmd_vel", "in").messages >= 101);
    assert_eq!((ra.malformed, rb.malformed), (0, 0));
}

#[test]
fn two_bridges_both_ways_never_echo() {
    let h = hosts("echo");
    let a = Bridge::start(&h.a, h.opts(true).both(&["chat.*"])).unwrap();
    let b = Bridge::start(&h.b, h.opts(false).both(&["chat.*"])).unwrap();
    connected(&a, &b);
    let dict = TopicType { name: "dict".into(), hash: 0, size: 0 };
    let pa = RawPublisher::open(&h.a, "chat.a", dict.clone(), TopicConfig::default()).unwrap();
    let pb = RawPublisher::open(&h.b, "chat.b", dict.clone(), TopicConfig::default()).unwrap();
    // Subscribers on both sides of both topics, so every copy that exists is seen.
    let first = rmp_serde::to_vec(&0u32).unwrap();
    pa.send_msgpack(&first).unwrap();
    pb.send_msgpack(&first).unwrap();
    until("both topics on both sides", 10, || ["chat.a", "chat.b"].iter().all(|t| arrived(&h.a, t) && arrived(&h.b, t)));
    let mut subs: Vec<RawSubscriber> = [(&h.a, "chat.a"), (&h.a, "chat.b"), (&h.b, "chat.a"), (&h.b, "chat.b")]
        .iter()
        .map(|(ns, t)| RawSubscriber::open(ns, t, dict.clone(), TopicConfig::default()).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    for s in &mut subs {
        while s.try_recv().unwrap().is_some() {} // the first message, for a late subscriber
    }
    const N: u32 = 200;
    let mut got = [0u32; 4];
    let mut poll = |got: &mut [u32; 4]| {
        for (k, s) in subs.iter_mut().enumerate() {
            while let Some(m) = s.try_recv().unwrap() {
                let v: u32 = rmp_serde::from_slice(s.msgpack_bytes(&m).unwrap()).unwrap();
                let base = [0, 1000][k % 2];
                assert!(v > base && v <= base + N, "subscriber {k} got {v}");
                got[k] += 1;
            }
        }
    };
    for i in 1..=N {
        pa.send_msgpack(&rmp_serde::to_vec(&i).unwrap()).unwrap();
        pb.send_msgpack(&rmp_serde::to_vec(&(1000 + i)).unwrap()).unwrap();
        let t0 = Instant::now();
        while got.iter().any(|&g| g < i) {
            assert!(t0.elapsed() < Duration::from_secs(5), "message {i}: got {got:?}");
            poll(&mut got);
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    // Anything echoed would arrive now, as an extra.
    std::thread::sleep(Duration::from_millis(500));
    poll(&mut got);
    assert_eq!(got, [N; 4], "each message exactly once on each side");
    // Nothing was sent twice into any ring: N + the first message, on both hosts.
    for ns in [&h.a, &h.b] {
        for t in ["chat.a", "chat.b"] {
            assert_eq!(ns.topic(t, &Default::default()).unwrap().sent(), N as u64 + 1, "{t} in {}", ns.dir().display());
        }
    }
    let (ra, rb) = (a.stop().unwrap(), b.stop().unwrap());
    assert_eq!(topic(&ra, "chat.a", "out").messages, N as u64 + 1);
    assert_eq!(topic(&ra, "chat.b", "in").messages, N as u64 + 1);
    assert_eq!(topic(&rb, "chat.a", "in").messages, N as u64 + 1);
    // B's exporter saw A's messages in chat.a and sent none of them back.
    assert!(rb.topics.iter().all(|t| !(t.name == "chat.a" && t.direction == "out" && t.messages > 0)), "{rb:#?}");
}

#[test]
fn compressed_topics_arrive_intact() {
    let h = hosts("zip");
    let a = Bridge::start(
        &h.a,
        BridgeOptions { export: vec!["z.*".into()], compression: vec![("z.lz4".into(), Compression::Lz4), ("z.zstd".into(), Compression::Zstd)], ..h.opts(true) },
    )
    .unwrap();
    let b = Bridge::start(&h.b, BridgeOptions { import: vec!["z.*".into()], ..h.opts(false) }).unwrap();
    connected(&a, &b);
    for name in ["z.lz4", "z.zstd"] {
        let p = Publisher::<Image>::new(&h.a, name).unwrap();
        p.send(&image(&h.a, 480, 640, 0)).unwrap();
        until("the topic on B", 10, || arrived(&h.b, name));
        let mut rx = Subscriber::<Image>::new(&h.b, name).unwrap();
        while rx.try_recv().unwrap().is_some() {}
        for id in 1..=3 {
            p.send(&image(&h.a, 480, 640, id)).unwrap();
            let img = rx.recv_timeout(Duration::from_secs(5)).unwrap().expect("a frame");
            assert_eq!(tensorbus_testkit::check(img.data(), id), None, "{name} frame {id}");
        }
    }
    drop((a, b));
}

/// A plain Zenoh session in the test publishes what a broken or hostile client would.
#[test]
fn malformed_samples_are_counted_drops_and_gaps_are_losses() {
    let h = hosts("bad");
    let b = Bridge::start(&h.b, BridgeOptions { import: vec!["*".into()], ..h.opts(true) }).unwrap();
    let mut c = zenoh::Config::default();
    c.insert_json5("connect/endpoints", &format!("[\"tcp/127.0.0.1:{}\"]", h.port)).unwrap();
    c.insert_json5("scouting/multicast/enabled", "false").unwrap();
    let z = zenoh::open(c).wait().unwrap();
    until("the client to connect", 10, || !b.peers().is_empty());
    std::thread::sleep(Duration::from_millis(300));
    let key = |t: &str| wire::key(&h.scope, t);
    let good = |raw: &[u8], seq: u64| Header { form: Some(Form::Dict), raw_len: raw.len() as u64, bridge_seq: seq, origin: [9; 16], ..Header::default() };
    let msg = rmp_serde::to_vec(&42u32).unwrap();
    let put = |k: &str, payload: Vec<u8>, att: Option<Vec<u8>>| {
        let p = z.put(k, payload);
        match att {
            Some(a) => p.attachment(a).wait().unwrap(),
            None => p.wait().unwrap(),
        }
    };
    // Malformed: no attachment, garbage, a lying length, bad codes, a bad shape, a bad key.
    put(&key("t"), msg.clone(), None);
    put(&key("t"), msg.clone(), Some(b"garbage".to_vec()));
    put(&key("t"), msg.clone(), Some(Header { raw_len: 999, ..good(&msg, 0) }.encode()));
    let mut e = good(&msg, 0).encode();
    e[10] = 7;
    put(&key("t"), msg.clone(), Some(e));
    let bad_image = Header { form: Some(Form::Payload), kind: 2, dtype: 1, aux: 3, shape: vec![4, 4, 3], raw_len: 10, origin: [9; 16], ..Header::default() };
    put(&key("img"), vec![0; 10], Some(bad_image.encode()));
    let huge = Header { form: Some(Form::Payload), kind: 2, dtype: 1, aux: 3, shape: vec![1 << 40, 1 << 40, 3], raw_len: 48, origin: [9; 16], ..Header::default() };
    put(&key("img"), vec![0; 48], Some(huge.encode()));
    put(&format!("tensorbus/{}/a b", h.scope), msg.clone(), Some(good(&msg, 0).encode()));
    // Then good ones with a gap of 3 in the sender's counter.
    for seq in [1, 2, 6, 7] {
        put(&key("t"), msg.clone(), Some(good(&msg, seq).encode()));
    }
    until("4 good messages", 10, || b.report().topics.iter().any(|t| t.name == "t" && t.messages == 4));
    until("7 malformed", 10, || b.report().malformed == 7);
    let r = b.stop().unwrap();
    assert_eq!(r.malformed, 7, "{r:#?}");
    assert_eq!(topic(&r, "t", "in").lost, 3);
    // A malformed sample creates no topic, and nothing half-written stays in the pool.
    assert!(!r.topics.iter().any(|t| t.name == "img"), "{r:#?}");
    assert!(!h.b.topic_names().contains(&"img".to_string()));
    assert_eq!(h.b.stats().used_slots(), 0);
    z.close().wait().unwrap();
}

#[test]
fn a_type_mismatch_on_the_far_side_is_a_counted_drop() {
    let h = hosts("types");
    let a = Bridge::start(&h.a, BridgeOptions { export: vec!["cmd".into()], ..h.opts(true) }).unwrap();
    let b = Bridge::start(&h.b, BridgeOptions { import: vec!["cmd".into()], ..h.opts(false) }).unwrap();
    connected(&a, &b);
    // On B, "cmd" already carries another type.
    let _other = Publisher::<tensorbus::msgs::Twist>::new(&h.b, "cmd").unwrap();
    let p = Publisher::<CmdVel>::new(&h.a, "cmd").unwrap();
    until("A to export cmd", 10, || a.report().topics.iter().any(|t| t.name == "cmd" && t.direction == "out"));
    for i in 0..3 {
        p.send(&CmdVel { timestamp_ns: i, linear: 1.0, angular: 0.0 }).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    until("3 drops", 10, || b.report().topics.iter().any(|t| t.name == "cmd" && t.dropped == 3));
    assert_eq!(h.b.topic("cmd", &Default::default()).unwrap().sent(), 0);
    drop((a, b));
}

#[test]
fn status_is_published_for_the_cli() {
    let h = hosts("status");
    let a = Bridge::start(&h.a, BridgeOptions { export: vec!["s.*".into()], ..h.opts(true) }).unwrap();
    let b = Bridge::start(&h.b, BridgeOptions { import: vec!["s.*".into()], ..h.opts(false) }).unwrap();
    connected(&a, &b);
    let p = Publisher::<CmdVel>::new(&h.a, "s.cmd").unwrap();
    p.send(&CmdVel::default()).unwrap();
    until("B's topic", 10, || h.b.topic_names().iter().any(|n| n == "s.cmd"));
    until("the status records", 10, || {
        let (sa, sb) = (tensorbus::cli::bridges::running_bridges(&h.a), tensorbus::cli::bridges::running_bridges(&h.b));
        sa.len() == 1 && sb.len() == 1 && !sa[0].peers.is_empty() && tensorbus::cli::bridges::bridged(&sb, "s.cmd").starts_with("in from ")
    });
    assert!(tensorbus::cli::bridges::bridged(&tensorbus::cli::bridges::running_bridges(&h.a), "s.cmd").starts_with("out"));
    drop((a, b));
}

#[test]
fn frames_cross_through_zenoh_shared_memory_on_one_host() {
    let h = hosts("shm");
    let a = Bridge::start(&h.a, BridgeOptions { export: vec!["cam".into()], zenoh_shm: true, ..h.opts(true) }).unwrap();
    let b = Bridge::start(&h.b, BridgeOptions { import: vec!["cam".into()], zenoh_shm: true, ..h.opts(false) }).unwrap();
    connected(&a, &b);
    let p = Publisher::<Image>::new(&h.a, "cam").unwrap();
    // Until the first frame is through (Zenoh sets its shared memory up on first use).
    let t0 = Instant::now();
    while !arrived(&h.b, "cam") {
        assert!(t0.elapsed() < Duration::from_secs(10), "no frame reached B");
        p.send(&image(&h.a, 1080, 1920, 0)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut rx = Subscriber::<Image>::new(&h.b, "cam").unwrap();
    while rx.try_recv().unwrap().is_some() {}
    for id in 1..=4 {
        p.send(&image(&h.a, 1080, 1920, id)).unwrap();
        let img = after_resends(&mut rx, "a frame");
        assert_eq!(tensorbus_testkit::check(img.data(), id), None, "frame {id}");
    }
    drop((a, b));
}
