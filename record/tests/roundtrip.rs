//! Record a live namespace, read the file back, replay it into another namespace: every kind of
//! topic, with the MCAP summary and the recorder's report agreeing; hostile files are errors.

use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tensorbus::msgs::{CmdVel, Twist};
use tensorbus::raw::{RawPublisher, RawSubscriber, TopicConfig};
use tensorbus::tensor::{Encoding, ImageMut};
use tensorbus::{Publisher, Subscriber, TopicType};
use tensorbus_record::{codec, glob, info, read::Item, DictEncoding, McapFile, RecordOptions, Recorder, ReplayOptions};
use tensorbus_testkit::{TempNs, FACADE_CLASSES};

#[test]
fn record_read_and_replay_every_kind() {
    let a = TempNs::with_classes("rec-a", FACADE_CLASSES);
    let ns = a.open();
    let path = a.dir.with_extension("mcap");
    let cam: Publisher<tensorbus::Image> = Publisher::new(&ns, "cam").unwrap();
    let cmd: Publisher<CmdVel> = Publisher::new(&ns, "cmd_vel").unwrap();
    let tw: Publisher<Twist> = Publisher::new(&ns, "twist").unwrap();
    let dict = RawPublisher::open(&ns, "status", TopicType { name: "dict".into(), hash: 0, size: 0 }, TopicConfig::default()).unwrap();
    let custom = RawPublisher::open(&ns, "custom", TopicType { name: "Blob".into(), hash: 42, size: 8 }, TopicConfig::default()).unwrap();
    let rec = Recorder::start(&ns, &path, RecordOptions { dicts: DictEncoding::Msgpack, ..Default::default() }).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    for i in 0..5u8 {
        let mut img = ImageMut::new(&ns, 2, 3, Encoding::Rgb8).unwrap();
        img.data_mut().fill(i);
        img.set_timestamp_ns(1000 + i as u64);
        cam.send(&img.freeze()).unwrap();
        cmd.send(&CmdVel { timestamp_ns: 1, linear: i as f32, angular: 0.5 }).unwrap();
        tw.send(&Twist { timestamp_ns: 2, linear: [i as f64, 0.0, 0.0], angular: [0.0; 3] }).unwrap();
        let mut mp = Vec::new();
        rmpv::encode::write_value(&mut mp, &rmpv::Value::Map(vec![(rmpv::Value::from("i"), rmpv::Value::from(i))])).unwrap();
        dict.send_msgpack(&mp).unwrap();
        custom.send_bytes(&[i; 8]).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    let report = rec.stop().unwrap();
    for t in ["cam", "cmd_vel", "twist", "status", "custom"] {
        assert_eq!(report.topics[t].messages, 5, "{t}: {report:?}");
    }
    let file = McapFile::open(&path).unwrap();
    let i = info(&file).unwrap();
    assert_eq!(i.messages, 25);
    let by: std::collections::BTreeMap<_, _> = i.topics.iter().map(|t| (t.topic.as_str(), (t.schema.as_str(), t.message_encoding.as_str(), t.misses))).collect();
    assert_eq!(by["cam"], ("sensor_msgs/msg/Image", "cdr", Some(0)));
    assert_eq!(by["cmd_vel"], ("CmdVel", "json", Some(0)));
    assert_eq!(by["status"], ("", "msgpack", Some(0)));
    assert_eq!(by["custom"], ("", "tensorbus.pod", Some(0)));
    let b = TempNs::with_classes("rec-b", FACADE_CLASSES);
    let ns_b = b.open();
    let mut sub_cam: Subscriber<tensorbus::Image> = Subscriber::new(&ns_b, "cam").unwrap();
    let mut sub_custom = RawSubscriber::open(&ns_b, "custom", TopicType { name: "Blob".into(), hash: 42, size: 8 }, TopicConfig::latest(8)).unwrap();
    let r = tensorbus_record::replay(&ns_b, &path, &ReplayOptions { rate: 0.0, ..Default::default() }, &AtomicBool::new(false)).unwrap();
    assert_eq!((r.messages, r.skipped), (25, 0), "{r:?}");
    let last = sub_cam.latest().unwrap().unwrap();
    assert_eq!((last.data(), last.timestamp_ns()), (&[4u8; 18][..], 1004));
    assert_eq!(sub_custom.latest().unwrap().unwrap().bytes(), &[4u8; 8]);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn split_by_size_makes_several_valid_files() {
    let a = TempNs::with_classes("rec-split", FACADE_CLASSES);
    let ns = a.open();
    let path = a.dir.with_extension("mcap");
    let cmd: Publisher<CmdVel> = Publisher::new(&ns, "cmd_vel").unwrap();
    let rec = Recorder::start(&ns, &path, RecordOptions { split_bytes: Some(2000), compression: Some(mcap::Compression::Lz4), ..Default::default() }).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    for i in 0..200 {
        cmd.send(&CmdVel { timestamp_ns: 1, linear: i as f32, angular: 0.0 }).unwrap();
        std::thread::sleep(Duration::from_millis(2)); // the ring holds 4: let the recorder keep up
    }
    std::thread::sleep(Duration::from_millis(300));
    let report = rec.stop().unwrap();
    assert!(report.topics["cmd_vel"].messages > 150, "{report:?}");
    assert!(report.files.len() >= 3, "{:?}", report.files);
    let total: u64 = report.files.iter().map(|f| info(&McapFile::open(f).unwrap()).unwrap().messages).sum();
    assert_eq!(total, report.topics["cmd_vel"].messages);
    for f in &report.files {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn hostile_bytes_are_errors() {
    let a = TempNs::with_classes("rec-bad", FACADE_CLASSES);
    let ns = a.open();
    assert!(tensorbus_record::decode_all(&ns, b"not an mcap file at all").is_err());
    assert!(codec::decode_tensor(&[0, 1, 0, 0, 9, 9]).is_err());
    let kind = tensorbus_record::Kind::Tensor;
    assert!(tensorbus_record::decode(&ns, &kind, &[0, 1, 0, 0], None).is_err());
    let pod = tensorbus_record::Kind::Pod { ty: TopicType { name: "X".into(), hash: 1, size: 8 }, layout: None };
    assert!(tensorbus_record::decode(&ns, &pod, &[1, 2, 3], None).is_err(), "wrong size");
    assert!(matches!(tensorbus_record::decode(&ns, &pod, &[0; 8], None), Ok(Item::Pod(..))));
    assert_eq!(ns.stats().used_slots(), 0);
}

#[test]
fn globs_sizes_and_durations() {
    assert!(glob("camera.*", "camera.rgb") && glob("*", "x") && glob("c?m", "cam") && !glob("camera.*", "lidar") && !glob("c?m", "cm"));
    use tensorbus_record::cli::{parse_duration, parse_size};
    assert_eq!(parse_size("2GiB"), Some(2 << 30));
    assert_eq!(parse_size("500M"), Some(500 << 20));
    assert_eq!(parse_size("1024"), Some(1024));
    assert_eq!(parse_size("3 parsecs"), None);
    assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
    assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_duration("-1s"), None);
}
