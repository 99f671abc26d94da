//! ROS 2 mode against a plain Zenoh session that behaves as an rmw_zenoh node would: it finds
//! the bridge's node and publisher in the liveliness graph, receives `sensor_msgs/Image` CDR on
//! the rmw_zenoh key with a well-formed attachment, and publishes `geometry_msgs/Twist` that the
//! bridge turns into `CmdVel` here. Bad CDR and bad attachments are counted drops.

use std::time::{Duration, Instant};
use tensorbus::msgs::CmdVel;
use tensorbus::tensor::{Encoding, ImageMut};
use tensorbus::{Image, Namespace, Publisher, Subscriber};
use tensorbus_bridge::ros2::{self, Ros2Options, Ros2Topic};
use tensorbus_bridge::{Bridge, BridgeOptions};
use tensorbus_testkit::TempNs;
use zenoh::Wait;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn client(port: u16) -> zenoh::Session {
    let mut c = zenoh::Config::default();
    c.insert_json5("connect/endpoints", &format!("[\"tcp/127.0.0.1:{port}\"]")).unwrap();
    c.insert_json5("scouting/multicast/enabled", "false").unwrap();
    zenoh::open(c).wait().unwrap()
}

fn bridge(ns: &Namespace, port: u16, domain: u32, humble: bool, topics: Vec<Ros2Topic>) -> Bridge {
    let ros2 = Some(Ros2Options { domain, humble, node: "tb_test".into(), topics });
    Bridge::start(ns, BridgeOptions { listen: vec![format!("tcp/127.0.0.1:{port}")], ros2, ..Default::default() }).unwrap()
}

#[test]
fn a_ros_node_sees_the_camera_and_drives_cmd_vel() {
    let t = TempNs::with_classes("ros2", "4Kx32,1Mx8");
    let ns = t.open();
    let port = free_port();
    let cam = Publisher::<Image>::new(&ns, "camera.rgb").unwrap();
    let b = bridge(
        &ns,
        port,
        7,
        false,
        vec![Ros2Topic::parse("camera.rgb=/camera/image_raw", true).unwrap(), Ros2Topic::parse("cmd_vel=/cmd_vel:geometry_msgs/msg/Twist", false).unwrap()],
    );
    let z = client(port);
    until("the client", || !b.peers().is_empty());

    // The ROS graph: node, publisher and subscriber tokens under @ros2_lv/<domain>/.
    let zid = b.zid();
    let mut tokens = Vec::new();
    until("three liveliness tokens", || {
        tokens = z
            .liveliness()
            .get("@ros2_lv/7/**")
            .timeout(Duration::from_secs(1))
            .wait()
            .unwrap()
            .iter()
            .filter_map(|r| r.into_result().ok())
            .map(|s| s.key_expr().to_string())
            .collect();
        tokens.len() >= 3
    });
    let hash = ros2::hash_of(ros2::IMAGE, false);
    assert!(tokens.contains(&format!("@ros2_lv/7/{zid}/0/0/NN/%/%/tb_test")), "{tokens:?}");
    assert!(
        tokens.iter().any(|k| k.starts_with(&format!("@ros2_lv/7/{zid}/0/")) && k.contains(&format!("/MP/%/%/tb_test/%camera%image_raw/sensor_msgs::msg::dds_::Image_/{hash}/"))),
        "{tokens:?}"
    );
    assert!(tokens.iter().any(|k| k.contains("/MS/%/%/tb_test/%cmd_vel/geometry_msgs::msg::dds_::Twist_/RIHS01_")), "{tokens:?}");

    // Images: CDR on the rmw_zenoh key, attachment (sequence, timestamp, GID).
    let sub = z.declare_subscriber(format!("7/camera/image_raw/sensor_msgs::msg::dds_::Image_/{hash}")).wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut seqs = Vec::new();
    for id in 1..=3u64 {
        let mut m = ImageMut::new(&ns, 48, 64, Encoding::Rgb8).unwrap();
        tensorbus_testkit::fill(m.data_mut(), id);
        m.set_timestamp_ns(1_700_000_000_123_456_789 + id);
        m.set_frame_id("cam").unwrap();
        cam.send(&m.freeze()).unwrap();
        let s = sub.recv_timeout(Duration::from_secs(5)).unwrap().expect("a sample");
        let (seq, ts, gid) = ros2::parse_attachment(&s.attachment().expect("an attachment").to_bytes()).unwrap();
        assert!(ts > 0 && gid != [0; 16]);
        seqs.push(seq);
        let cdr = s.payload().to_bytes();
        let img = tensorbus_ros2::Image::decode(&cdr).unwrap();
        assert_eq!((img.height, img.width, img.encoding, img.step, img.header.frame_id), (48, 64, "rgb8", 64 * 3, "cam"));
        assert_eq!(img.header.stamp.to_ns(), 1_700_000_000_123_456_789 + id);
        assert_eq!(tensorbus_testkit::check(img.data, id), None);
    }
    assert_eq!(seqs.windows(2).filter(|w| w[1] == w[0] + 1).count(), 2, "{seqs:?}");

    // Twist from the "ROS node" arrives as CmdVel.
    let twist_key = format!("7/cmd_vel/geometry_msgs::msg::dds_::Twist_/{}", ros2::hash_of(ros2::TWIST, false));
    let gid = [5u8; 16];
    let twist = |x: f64, z: f64| tensorbus_ros2::Twist { linear: tensorbus_ros2::Vector3 { x, y: 0.0, z: 0.0 }, angular: tensorbus_ros2::Vector3 { x: 0.0, y: 0.0, z } }.encode();
    z.put(&twist_key, twist(0.5, -0.25)).attachment(ros2::attachment(1, 1, &gid).to_vec()).wait().unwrap();
    until("cmd_vel here", || ns.topic_names().contains(&"cmd_vel".to_string()) && ns.topic("cmd_vel", &Default::default()).unwrap().sent() > 0);
    let mut rx = Subscriber::<CmdVel>::new(&ns, "cmd_vel").unwrap();
    let first = rx.try_recv().unwrap().expect("the newest message");
    assert_eq!((first.linear, first.angular), (0.5, -0.25));
    // Bad CDR, a missing and a short attachment: counted as malformed, nothing published.
    z.put(&twist_key, vec![0, 1, 0, 0, 1, 2]).attachment(ros2::attachment(2, 1, &gid).to_vec()).wait().unwrap();
    z.put(&twist_key, twist(1.0, 1.0)).wait().unwrap();
    z.put(&twist_key, twist(1.0, 1.0)).attachment(vec![1, 2, 3]).wait().unwrap();
    // A Humble publisher (TypeHashNotSupported) is heard too; its sequence skips 2 (lost).
    z.put("7/cmd_vel/geometry_msgs::msg::dds_::Twist_/TypeHashNotSupported", twist(2.0, 0.0)).attachment(ros2::attachment(4, 1, &gid).to_vec()).wait().unwrap();
    let m = rx.recv_timeout(Duration::from_secs(5)).unwrap().expect("the Humble twist");
    assert_eq!(m.linear, 2.0);
    until("the counts", || {
        let r = b.report();
        r.malformed == 3 && r.topics.iter().any(|t| t.name == "cmd_vel" && t.dropped == 0 && t.messages == 2 && t.lost == 1)
    });
    assert_eq!(rx.try_recv().unwrap(), None);
    drop(b);
    z.close().wait().unwrap();
}

#[test]
fn humble_keys_and_unmapped_types_are_refused_at_start() {
    let t = TempNs::with_classes("ros2h", "4Kx32,1Mx8");
    let ns = t.open();
    let port = free_port();
    // A dict topic has no ROS 2 mapping: an error at start-up, naming the topic.
    let _d = tensorbus::raw::RawPublisher::open(&ns, "status", tensorbus::TopicType { name: "dict".into(), hash: 0, size: 0 }, Default::default()).unwrap();
    let ros2 = Some(Ros2Options { topics: vec![Ros2Topic::parse("status", true).unwrap()], ..Default::default() });
    let e = Bridge::start(&ns, BridgeOptions { listen: vec![format!("tcp/127.0.0.1:{port}")], ros2, ..Default::default() }).err().expect("refused");
    assert!(e.to_string().contains("status") && e.to_string().contains("no ROS 2 mapping"), "{e}");

    // Humble: TypeHashNotSupported in the data key and the publisher's token.
    let cam = Publisher::<Image>::new(&ns, "cam").unwrap();
    let b = bridge(&ns, port, 0, true, vec![Ros2Topic::parse("cam=/cam", true).unwrap()]);
    let z = client(port);
    until("the client", || !b.peers().is_empty());
    let sub = z.declare_subscriber("0/cam/sensor_msgs::msg::dds_::Image_/TypeHashNotSupported").wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    cam.send(&ImageMut::new(&ns, 2, 2, Encoding::Mono8).unwrap().freeze()).unwrap();
    let s = sub.recv_timeout(Duration::from_secs(5)).unwrap().expect("a sample on the Humble key");
    assert_eq!(s.attachment().unwrap().len(), 33);
    drop(b);
    z.close().wait().unwrap();
}

#[test]
fn a_1080p_ros_image_arrives_in_fragments_and_lands_whole() {
    let t = TempNs::with_classes("ros2big", "4Kx32,8Mx4");
    let ns = t.open();
    let port = free_port();
    let b = bridge(&ns, port, 3, false, vec![Ros2Topic::parse("cam=/cam:sensor_msgs/msg/Image", false).unwrap()]);
    let z = client(port);
    until("the client", || !b.peers().is_empty());
    std::thread::sleep(Duration::from_millis(300));
    let (h, w) = (1080usize, 1920usize);
    let step = w * 3 + 8; // padded rows
    let data: Vec<u8> = (0..h * step).map(|i| tensorbus_testkit::pattern(3, i)).collect();
    let hdr = tensorbus_ros2::Header { stamp: tensorbus_ros2::Time::from_ns(42), frame_id: "big" };
    let cdr = tensorbus_ros2::Image { header: hdr, height: h as u32, width: w as u32, encoding: "rgb8", is_bigendian: 0, step: step as u32, data: &data }.encode();
    let key = format!("3/cam/sensor_msgs::msg::dds_::Image_/{}", ros2::hash_of(ros2::IMAGE, false));
    z.put(&key, cdr).attachment(ros2::attachment(1, 1, &[1; 16]).to_vec()).wait().unwrap();
    until("the frame", || ns.topic_names().contains(&"cam".to_string()) && ns.topic("cam", &Default::default()).unwrap().sent() > 0);
    let img = Subscriber::<Image>::new(&ns, "cam").unwrap().try_recv().unwrap().expect("the newest frame");
    assert_eq!((img.height(), img.width(), img.timestamp_ns(), img.frame_id()), (h, w, 42, "big"));
    for (r, row) in img.data().chunks_exact(w * 3).enumerate() {
        assert_eq!(row, &data[r * step..r * step + w * 3], "row {r}");
    }
    drop(b);
    z.close().wait().unwrap();
}
