//! Shared memory is untrusted input: every malformed file, header or descriptor is a specific
//! `Err`, never a panic or a wild access.

use std::mem::offset_of;
use std::path::Path;
use std::time::Duration;
use tensorbus_pool::descriptor::kind;
use tensorbus_pool::pool::{Pool, PoolHeader};
use tensorbus_pool::ring::TopicHeader;
use tensorbus_pool::segment::{Segment, SegmentKind, MAGIC, VERSION};
use tensorbus_pool::*;
use tensorbus_testkit::{self as kit, TempNs};

fn header(magic: u64, version: u32, kind: u32, layout: u64, total: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(&magic.to_le_bytes());
    b.extend_from_slice(&version.to_le_bytes());
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&layout.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.resize(64, 0);
    b
}

/// Write a segment file as tensorbus would (mode 0600: a file others can access is refused
/// before its contents are looked at).
fn write(dir: &Path, name: &str, bytes: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(dir.join(name)).unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
}

fn patch(path: &Path, at: usize, bytes: &[u8]) {
    let mut b = std::fs::read(path).unwrap();
    b[at..at + bytes.len()].copy_from_slice(bytes);
    std::fs::write(path, b).unwrap();
}

fn open_err(dir: &Path) -> OpenError {
    Namespace::open_dir(dir, PoolConfig::parse(kit::CLASSES).unwrap()).unwrap_err()
}

#[test]
fn truncated_registry_is_rejected() {
    let t = TempNs::new("bad-trunc");
    write(&t.dir, "registry", b"TNSRBUS");
    assert!(matches!(open_err(&t.dir), OpenError::Truncated { expected: 64, actual: 7, .. }));
    // A valid header whose declared size does not match the file.
    write(&t.dir, "registry", &header(MAGIC, VERSION, 1, 0, 1 << 20));
    let e = open_err(&t.dir);
    assert!(matches!(e, OpenError::LayoutMismatch { .. } | OpenError::Truncated { .. }), "{e}");
}

#[test]
fn foreign_file_is_bad_magic() {
    let t = TempNs::new("bad-magic");
    write(&t.dir, "registry", &[b'x'; 4096]);
    let e = open_err(&t.dir);
    assert!(matches!(e, OpenError::BadMagic { .. }), "{e}");
    assert!(e.to_string().contains("not a tensorbus segment"));
}

#[test]
fn wrong_version_is_rejected() {
    let t = TempNs::new("bad-version");
    write(&t.dir, "registry", &header(MAGIC, VERSION + 98, 1, 0, 64));
    assert!(matches!(open_err(&t.dir), OpenError::BadVersion { found, expected: VERSION, .. } if found == VERSION + 98));
}

#[test]
fn wrong_layout_hash_and_kind_are_rejected() {
    let t = TempNs::new("bad-layout");
    write(&t.dir, "registry", &header(MAGIC, VERSION, 1, 0xdead_beef, 64));
    assert!(matches!(open_err(&t.dir), OpenError::LayoutMismatch { found: 0xdead_beef, .. }));
    write(&t.dir, "registry", &header(MAGIC, VERSION, SegmentKind::Topic as u32, 0xdead_beef, 64));
    assert!(matches!(open_err(&t.dir), OpenError::BadHeader { field: "kind", value: 3, .. }));
    // The segment API itself reports the same.
    assert!(matches!(Segment::open(&t.dir.join("registry"), SegmentKind::Registry, 1), Err(OpenError::BadHeader { field: "kind", .. })));
}

/// A real pool segment copied to `bad` with one header field overwritten.
fn corrupt_pool(good: &Path, bad: &Path, at: usize, bytes: &[u8]) {
    std::fs::create_dir_all(bad).unwrap();
    std::fs::copy(good.join("pool-0"), bad.join("pool-0")).unwrap();
    patch(&bad.join("pool-0"), 64 + at, bytes);
}

#[test]
fn pool_header_with_bad_geometry_is_rejected() {
    let good = TempNs::new("bad-geom-src");
    let ns = good.open();
    drop(ns.try_acquire(10).unwrap()); // creates pool-0 (4 KiB x 8)
    let bad = TempNs::new("bad-geom");
    let cases: [(usize, Vec<u8>, &str); 5] = [
        (offset_of!(PoolHeader, slots), 0u32.to_le_bytes().to_vec(), "slots"),
        (offset_of!(PoolHeader, slots), u32::MAX.to_le_bytes().to_vec(), "slots"),
        (offset_of!(PoolHeader, slot_size), (1u64 << 40).to_le_bytes().to_vec(), "slot_size"),
        (offset_of!(PoolHeader, slot_size), 4097u64.to_le_bytes().to_vec(), "slot_size"),
        (offset_of!(PoolHeader, id), 9u32.to_le_bytes().to_vec(), "id"),
    ];
    for (at, bytes, field) in cases {
        corrupt_pool(&good.dir, &bad.dir, at, &bytes);
        let e = Pool::open(&bad.dir, 0).unwrap_err();
        assert!(matches!(e, OpenError::BadHeader { field: f, .. } if f == field), "{field}: {e}");
    }
    // Consistent-looking geometry that the file is too small for.
    corrupt_pool(&good.dir, &bad.dir, offset_of!(PoolHeader, slot_size), &8192u64.to_le_bytes());
    assert!(matches!(Pool::open(&bad.dir, 0).unwrap_err(), OpenError::Truncated { .. }));

    // Through the namespace: claiming reports the corrupt pool, resolving treats it as absent.
    let bad_ns = bad.open();
    assert!(matches!(bad_ns.try_acquire(10), Err(AcquireError::Open(OpenError::Truncated { .. }))));
    let d = Descriptor { kind: kind::BYTES, pool: 0, slot: 0, generation: 1, len: 1, ..Default::default() };
    assert_eq!(bad_ns.resolve(&d).unwrap_err(), DescriptorError::BadPool { pool: 0 });
}

#[test]
fn topic_header_with_bad_depth_is_rejected() {
    let good = TempNs::new("bad-depth-src");
    let ns = good.open();
    let _t = ns.topic("cam", &TopicOptions::default()).unwrap();
    let bad = TempNs::new("bad-depth");
    let bad_ns = bad.open();
    for (depth, want_trunc) in [(0u32, false), (100_000, false), (8, true)] {
        std::fs::copy(good.dir.join("topic-cam"), bad.dir.join("topic-cam")).unwrap();
        patch(&bad.dir.join("topic-cam"), 64 + offset_of!(TopicHeader, depth), &depth.to_le_bytes());
        let e = bad_ns.topic("cam", &TopicOptions::default()).unwrap_err();
        match e {
            TopicError::Open(OpenError::Truncated { .. }) if want_trunc => {}
            TopicError::Open(OpenError::BadHeader { field: "depth", .. }) if !want_trunc => {}
            e => panic!("depth {depth}: unexpected {e}"),
        }
    }
    // The reaper skips the corrupt topic instead of failing.
    let _ = bad_ns.reap();
    let _ = bad_ns.stats();
}

#[test]
fn descriptor_fields_are_validated() {
    let t = TempNs::new("bad-desc");
    let ns = t.open();
    let mut m = ns.try_acquire(100).unwrap();
    m.as_mut_slice().fill(1);
    let r = m.freeze();
    let good = Descriptor { kind: kind::BYTES, ..r.descriptor() };
    assert!(ns.resolve(&good).is_ok());

    let with = |f: &dyn Fn(&mut Descriptor)| {
        let mut d = good;
        f(&mut d);
        ns.resolve(&d).unwrap_err()
    };
    assert_eq!(with(&|d| d.pool = 200), DescriptorError::BadPool { pool: 200 });
    assert_eq!(with(&|d| d.pool = 15), DescriptorError::BadPool { pool: 15 }, "in range, never created");
    assert_eq!(with(&|d| d.slot = 8), DescriptorError::BadSlot { pool: 0, slot: 8, slots: 8 });
    assert_eq!(with(&|d| d.slot = u32::MAX), DescriptorError::BadSlot { pool: 0, slot: u32::MAX, slots: 8 });
    assert_eq!(with(&|d| d.len = 4097), DescriptorError::BadLength { len: 4097, slot_size: 4096 });
    assert_eq!(with(&|d| d.len = u64::MAX), DescriptorError::BadLength { len: u64::MAX, slot_size: 4096 });
    assert_eq!(with(&|d| d.kind = 99), DescriptorError::BadField { field: "kind", value: 99 });
    assert_eq!(with(&|d| d.ndim = 9), DescriptorError::BadField { field: "ndim", value: 9 });
    assert_eq!(with(&|d| d.kind = kind::INLINE), DescriptorError::Inline);
    assert!(matches!(with(&|d| d.generation += 1), DescriptorError::Stale { .. }));
    // Another slot (FREE, never claimed) is stale too.
    assert!(matches!(with(&|d| d.slot = (good.slot + 1) % 8), DescriptorError::Stale { .. }));
    drop(r);
    // The slot went back: the descriptor that was good is now stale.
    assert!(matches!(ns.resolve(&good), Err(DescriptorError::Stale { .. })));
    assert_eq!(ns.stats().used_slots(), 0);
}

#[test]
fn stale_generation_rejected_after_recycling() {
    let t = TempNs::new("bad-stale");
    let ns = t.open();
    // Cycle every slot a few times, keep one old descriptor per cycle.
    let mut old = Vec::new();
    for _ in 0..3 {
        let held: Vec<SlotRef> = (0..8).map(|_| ns.try_acquire(64).unwrap().freeze()).collect();
        old.extend(held.iter().map(|r| Descriptor { kind: kind::BYTES, ..r.descriptor() }));
    }
    let now: Vec<SlotRef> = (0..8).map(|_| ns.try_acquire(64).unwrap().freeze()).collect();
    for d in &old {
        assert!(matches!(ns.resolve(d), Err(DescriptorError::Stale { .. })), "{d:?}");
    }
    drop(now);
}

#[test]
fn corrupt_ring_entry_is_recv_error() {
    let t = TempNs::new("bad-ring");
    let ns = t.open();
    let topic = ns.topic("bad", &TopicOptions::default()).unwrap();
    let mut sub = topic.subscriber().unwrap();
    // A descriptor naming a slot that does not exist, written straight into the ring.
    let d = Descriptor { kind: kind::BYTES, pool: 0, slot: 77, generation: 1, len: 1, ..Default::default() };
    drop(ns.try_acquire(1).unwrap()); // make pool 0 exist so the slot index is what is wrong
    topic.ring().send(&ns, d, None, Duration::from_millis(10)).unwrap();
    let e = sub.try_recv().unwrap_err();
    assert!(matches!(e, RecvError::Corrupt { .. }), "{e}");
    // The subscriber moved past it and keeps working.
    topic.publisher().send_inline(b"ok").unwrap();
    let (d, _) = sub.try_recv().unwrap().unwrap().into_parts();
    assert_eq!(&d.inline_bytes().unwrap().0[..2], b"ok");
    // Bad inline length is refused at the decoder.
    let mut inl = Descriptor::inline(b"abc").unwrap();
    inl.aux = 1000;
    assert!(inl.inline_bytes().is_none());
    assert!(matches!(topic.publisher().send_inline(&[0; 105]), Err(SendError::InlineTooLarge { len: 105, max: 104 })));
}

#[test]
fn bad_config_and_topic_names_are_rejected() {
    assert!(PoolConfig::parse("").is_none());
    assert!(PoolConfig::parse("4Kx0").is_none());
    assert!(PoolConfig::parse("0x4").is_none());
    assert!(PoolConfig::parse("4Kx99999999").is_none());
    assert!(PoolConfig::parse("abc").is_none());
    assert!(PoolConfig::parse("99999999999Gx1").is_none(), "overflowing size");
    let t = TempNs::new("bad-names");
    let ns = t.open();
    for name in ["", "/abs", "a b", "x".repeat(64).as_str(), "nul\0"] {
        let r = ns.topic(name, &TopicOptions::default());
        assert!(matches!(r, Err(TopicError::BadName(_))), "{name:?} accepted");
    }
    // `..` and `.` parts, empty parts and the temporary-file mark are refused too.
    for name in ["../up", "a/../b", "..", "a/.", "a//b", "a/", "x.tmp.1.2"] {
        let r = ns.topic(name, &TopicOptions::default());
        assert!(matches!(r, Err(TopicError::BadName(_))), "{name:?} accepted");
    }
    assert!(!t.dir.join("topic-..:up").exists());
    assert!(matches!(ns.try_acquire(1 << 20), Err(AcquireError::NoClass { requested: 1048576, .. })));
}
