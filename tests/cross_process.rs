//! Typed topics across processes: the test binary re-executes itself (`--exact child_entry
//! --ignored`) with `TB_CHILD_ROLE` and `TB_CHILD_DIR` set (`tensorbus_testkit::role_child`; the
//! Python tests start the same entry, tests/python/test_rust_interop.py); the child entry is an
//! ignored test that does nothing when those are absent. The child reports readiness on a
//! `Heartbeat` topic.

use std::process::Stdio;
use std::time::Duration;
use tensorbus::msgs::{CmdVel, Heartbeat, Imu};
use tensorbus::tensor::{Encoding, ImageMut};
use tensorbus::{Image, Topic, TopicConfig, Value};
use tensorbus_testkit::{self as kit, TempNs, FACADE_CLASSES};

const N: u64 = 100;

tensorbus::pod_message! {
    /// A user-declared message; Python declares the same fields with `@tb.message`
    /// (tests/python/test_rust_interop.py) and this peer must read it.
    pub struct WheelSpeeds {
        pub timestamp_ns: u64,
        pub left: f32,
        pub right: f32,
        pub gains: [f64; 2],
    }
}

fn spawn(role: &str, dir: &std::path::Path) -> std::process::Child {
    kit::role_child(role, dir).stdout(Stdio::null()).spawn().unwrap()
}

#[test]
#[ignore = "child process entry point, run by the cross-process tests"]
fn child_entry() {
    let Some((role, dir)) = kit::child_role() else { return };
    let ns = kit::open_with(&dir, FACADE_CLASSES);
    let ready = Topic::<Heartbeat>::open(&ns, "ready").unwrap().publisher();
    let cfg = TopicConfig::reliable(8);
    match role.as_str() {
        "send" => {
            let cmd = Topic::<CmdVel>::open_with(&ns, "cmd_vel", cfg).unwrap().publisher();
            let imu = Topic::<Imu>::open_with(&ns, "imu", cfg).unwrap().publisher();
            let dict = Topic::<Value>::open_with(&ns, "status", cfg).unwrap().publisher();
            let cam = Topic::<Image>::open_with(&ns, "camera.rgb", TopicConfig::reliable(2)).unwrap().publisher();
            ready.send(&Heartbeat { seq: 1, ..Default::default() }).unwrap();
            for i in 1..=N {
                cmd.send(&CmdVel { timestamp_ns: i, linear: i as f32, angular: 0.0 }).unwrap();
                imu.send(&Imu { timestamp_ns: i, orientation: [0.0, 0.0, 0.0, i as f64], ..Default::default() }).unwrap();
                dict.send(&Value::Map(vec![("i".into(), i.into()), ("name".into(), "robot".into())])).unwrap();
                let mut f = ImageMut::new_timeout(&ns, 48, 64, Encoding::Rgb8, Duration::from_secs(5)).unwrap();
                f.data_mut().fill(i as u8);
                f.set_timestamp_ns(i);
                cam.send(&f.freeze()).unwrap();
            }
        }
        "echo" => {
            // Receives CmdVel and echoes it back with linear doubled.
            let mut rx = Topic::<CmdVel>::open_with(&ns, "cmd_in", cfg).unwrap().subscriber().unwrap();
            let tx = Topic::<CmdVel>::open_with(&ns, "cmd_out", cfg).unwrap().publisher();
            ready.send(&Heartbeat { seq: 1, ..Default::default() }).unwrap();
            for _ in 0..N {
                let m = rx.recv_timeout(Duration::from_secs(20)).unwrap().expect("parent stopped sending");
                tx.send(&CmdVel { linear: m.linear * 2.0, ..m }).unwrap();
            }
        }
        "echo_dict_custom" => {
            // Python dicts arrive as MessagePack values; a Python @tb.message as this struct.
            // Each is echoed back changed, so the parent can check both directions.
            let mut din = Topic::<Value>::open_with(&ns, "dict_in", cfg).unwrap().subscriber().unwrap();
            let dout = Topic::<Value>::open_with(&ns, "dict_out", cfg).unwrap().publisher();
            let mut win = Topic::<WheelSpeeds>::open_with(&ns, "wheels_in", cfg).unwrap().subscriber().unwrap();
            let wout = Topic::<WheelSpeeds>::open_with(&ns, "wheels_out", cfg).unwrap().publisher();
            ready.send(&Heartbeat { seq: 1, ..Default::default() }).unwrap();
            for _ in 0..20 {
                let d = din.recv_timeout(Duration::from_secs(20)).unwrap().expect("parent stopped sending dicts");
                let Value::Map(mut kv) = d else { panic!("a dict arrives as a map, got {d:?}") };
                kv.push(("echo".into(), true.into()));
                dout.send(&Value::Map(kv)).unwrap();
                let w = win.recv_timeout(Duration::from_secs(20)).unwrap().expect("parent stopped sending wheels");
                wout.send(&WheelSpeeds { left: w.left * 2.0, gains: [w.gains[1], w.gains[0]], ..w }).unwrap();
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn wait_ready(ns: &tensorbus::Namespace, rx: &mut tensorbus::Subscriber<Heartbeat>) {
    let _ = ns;
    assert!(rx.recv_timeout(Duration::from_secs(30)).unwrap().is_some(), "child never became ready");
}

#[test]
fn child_publishes_typed_dict_and_image_parent_receives() {
    let t = TempNs::with_classes("xp-send", FACADE_CLASSES);
    let ns = t.open();
    let cfg = TopicConfig::reliable(8);
    let mut ready = Topic::<Heartbeat>::open(&ns, "ready").unwrap().subscriber().unwrap();
    let mut cmd = Topic::<CmdVel>::open_with(&ns, "cmd_vel", cfg).unwrap().subscriber().unwrap();
    let mut imu = Topic::<Imu>::open_with(&ns, "imu", cfg).unwrap().subscriber().unwrap();
    let mut dict = Topic::<Value>::open_with(&ns, "status", cfg).unwrap().subscriber().unwrap();
    let mut cam = Topic::<Image>::open_with(&ns, "camera.rgb", TopicConfig::reliable(2)).unwrap().subscriber().unwrap();
    let mut child = spawn("send", &t.dir);
    wait_ready(&ns, &mut ready);
    let d = Duration::from_secs(20);
    for i in 1..=N {
        let c = cmd.recv_timeout(d).unwrap().expect("cmd_vel");
        assert_eq!((c.timestamp_ns, c.linear), (i, i as f32));
        assert_eq!(imu.recv_timeout(d).unwrap().expect("imu").orientation[3], i as f64);
        let v = dict.recv_timeout(d).unwrap().expect("status");
        assert_eq!(v["i"].as_u64(), Some(i));
        assert_eq!(v["name"].as_str(), Some("robot"));
        let img = cam.recv_timeout(d).unwrap().expect("image");
        assert_eq!(img.timestamp_ns(), i);
        assert!(img.data().iter().all(|&b| b == i as u8), "frame {i}");
    }
    assert!(child.wait().unwrap().success());
}

#[test]
fn parent_sends_child_echoes() {
    let t = TempNs::with_classes("xp-echo", FACADE_CLASSES);
    let ns = t.open();
    let cfg = TopicConfig::reliable(8);
    let mut ready = Topic::<Heartbeat>::open(&ns, "ready").unwrap().subscriber().unwrap();
    let tx = Topic::<CmdVel>::open_with(&ns, "cmd_in", cfg).unwrap().publisher();
    let mut rx = Topic::<CmdVel>::open_with(&ns, "cmd_out", cfg).unwrap().subscriber().unwrap();
    let mut child = spawn("echo", &t.dir);
    wait_ready(&ns, &mut ready);
    for i in 1..=N {
        tx.send(&CmdVel { timestamp_ns: i, linear: i as f32, angular: -1.0 }).unwrap();
        let m = rx.recv_timeout(Duration::from_secs(20)).unwrap().expect("echo");
        assert_eq!(m, CmdVel { timestamp_ns: i, linear: 2.0 * i as f32, angular: -1.0 });
    }
    assert!(child.wait().unwrap().success());
}
