//! Hardening against the environment: a tiny or full tmpfs (a clean `OpenError::NoSpace` naming
//! the size needed, never a SIGBUS), permissions (0700 directories, 0600 files, another uid is
//! refused), and namespaces that never see each other.
//!
//! The tmpfs and other-uid tests need root (`mount`, `setpriv`); elsewhere they print why they
//! skipped and pass.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tensorbus_pool::*;
use tensorbus_testkit::{self as kit, is_root, TempNs};

/// A tmpfs of `size` mounted at a fresh directory, unmounted on drop; None (with the reason
/// printed) where mounting is not allowed.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(tag: &str, size: &str) -> Option<Tmpfs> {
        if !is_root() {
            eprintln!("SKIP {tag}: mounting a tmpfs needs root");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("tb-tmpfs-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"]).arg(&dir).output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!("SKIP {tag}: mount -t tmpfs refused: {}", String::from_utf8_lossy(&o.stderr).trim());
                let _ = std::fs::remove_dir(&dir);
                None
            }
            Err(e) => {
                eprintln!("SKIP {tag}: no mount command: {e}");
                let _ = std::fs::remove_dir(&dir);
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[test]
fn pool_larger_than_a_tiny_tmpfs_is_no_space_naming_the_size() {
    let Some(fs) = Tmpfs::mount("tiny", "2m") else { return };
    let dir = fs.dir.join("ns");
    // 8 slots of 1 MiB: the pool segment needs a little over 8 MiB, the tmpfs has 2.
    let ns = Namespace::open_dir(&dir, PoolConfig::parse("4Kx4,1Mx8").unwrap()).unwrap();
    let small = ns.try_acquire(100).expect("the 4 KiB class fits");
    let e = ns.try_acquire(500_000).unwrap_err();
    match &e {
        AcquireError::Open(OpenError::NoSpace { needed, .. }) => {
            assert!(*needed > 8 << 20 && *needed < 9 << 20, "needed {needed}");
            let msg = e.to_string();
            assert!(msg.contains(&needed.to_string()) && msg.contains("TENSORBUS_SHM_DIR"), "{msg}");
            eprintln!("tiny tmpfs (2 MiB): {msg}");
        }
        other => panic!("expected NoSpace, got {other}"),
    }
    // No half-made segment or temporary file is left behind, and the small class still works.
    let names: Vec<String> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.contains(".tmp.") || n == "pool-1"), "{names:?}");
    drop(small);
    drop(ns.try_acquire(100).unwrap());
}

#[test]
fn full_tmpfs_is_no_space_and_reserved_slots_never_sigbus() {
    let Some(fs) = Tmpfs::mount("full", "4m") else { return };
    let dir = fs.dir.join("ns");
    // A pool made while there was room: its pages are reserved (posix_fallocate).
    let ns = Namespace::open_dir(&dir, PoolConfig::parse("256Kx8,1Mx1").unwrap()).unwrap();
    drop(ns.try_acquire(1).unwrap());
    // Fill the rest of the filesystem.
    let filler = fs.dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0x55u8; 64 << 10];
    let mut written = 0usize;
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {
        written += chunk.len();
    }
    drop(f);
    eprintln!("full tmpfs: filled {written} bytes");
    // Every byte of every reserved slot can be written on the full filesystem: no SIGBUS.
    let mut all: Vec<SlotMut> = (0..8).map(|_| ns.try_acquire(256 << 10).unwrap()).collect();
    for m in &mut all {
        m.as_mut_slice().fill(0xab);
    }
    drop(all);
    // A new pool, topic or namespace cannot get its space: a clean error naming the size.
    match ns.try_acquire(1 << 20) {
        Err(AcquireError::Open(OpenError::NoSpace { needed, .. })) => assert!(needed > 1 << 20),
        other => panic!("new pool on a full tmpfs: {other:?}"),
    }
    match ns.topic("t", &TopicOptions { depth: 4096, ..Default::default() }) {
        Err(TopicError::Open(OpenError::NoSpace { needed, .. })) => assert!(needed > 4096 * 128),
        other => panic!("new topic on a full tmpfs: {other:?}"),
    }
    match Namespace::open_dir(&fs.dir.join("other"), PoolConfig::default()) {
        Err(OpenError::NoSpace { needed, .. }) => assert!(needed > 0),
        Err(e) => panic!("new namespace on a full tmpfs: {e}"),
        Ok(_) => panic!("new namespace on a full tmpfs succeeded"),
    }
    // Space comes back: everything works again.
    std::fs::remove_file(&filler).unwrap();
    drop(ns.try_acquire(1 << 20).unwrap());
}

#[test]
fn segment_dir_is_0700_and_files_are_0600() {
    let t = TempNs::new("iso-mode");
    let ns = t.open();
    let topic = ns.topic("cam", &TopicOptions::default()).unwrap();
    let m = ns.try_acquire(50_000).unwrap().freeze();
    topic.publisher().send(m.descriptor(), &m).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&t.dir), 0o700);
    let files: Vec<PathBuf> = std::fs::read_dir(&t.dir).unwrap().flatten().map(|e| e.path()).collect();
    assert!(files.len() >= 3, "{files:?}");
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // A directory loosened by someone is tightened again on open.
    std::fs::set_permissions(&t.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // (This process has the namespace open already, so call the open path's check directly.)
    segment::ensure_dir(&t.dir).unwrap();
    assert_eq!(mode(&t.dir), 0o700);
}

/// Run this test binary's `intruder` entry as uid/gid 65534 (nobody) with no groups.
#[test]
#[ignore = "child process entry point, run by another_uid_cannot_open_segments"]
fn intruder_entry() {
    let Some(dir) = std::env::var_os("TB_INTRUDE_DIR") else { return };
    let dir = PathBuf::from(dir);
    // SAFETY: getuid has no preconditions.
    println!("UID {}", unsafe { libc::getuid() });
    let show = |what: &str, r: Result<(), OpenError>| match r {
        Ok(()) => println!("{what} OPENED"),
        Err(OpenError::Io { source, .. }) => println!("{what} IO {:?} {}", source.kind(), source.raw_os_error().unwrap_or(0)),
        Err(e) => println!("{what} OTHER {e}"),
    };
    show("registry", registry::Registry::open(&dir).map(drop));
    show("pool", pool::Pool::open(&dir, 0).map(drop));
    show(
        "topic",
        ring::RingSeg::open_existing(&dir, "cam").map(drop).map_err(|e| match e {
            TopicError::Open(o) => o,
            other => OpenError::Io { path: dir.clone(), source: std::io::Error::other(other.to_string()) },
        }),
    );
    show("namespace", Namespace::open_dir(&dir, PoolConfig::default()).map(drop));
    println!("READ {}", std::fs::read(dir.join("pool-0")).map(|_| "OK".to_string()).unwrap_or_else(|e| format!("{:?}", e.kind())));
}

#[test]
fn another_uid_cannot_open_segments() {
    if !is_root() {
        eprintln!("SKIP another_uid_cannot_open_segments: switching uid needs root");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("SKIP another_uid_cannot_open_segments: no setpriv");
        return;
    }
    // The namespace lives in a world-traversable parent, so only its own 0700/0600 modes
    // protect it.
    let t = TempNs::new("iso-uid");
    let ns = t.open();
    let topic = ns.topic("cam", &TopicOptions::default()).unwrap();
    let m = ns.try_acquire(10).unwrap().freeze();
    topic.publisher().send(m.descriptor(), &m).unwrap();
    let out = kit::child_via("setpriv", &["--reuid=65534", "--regid=65534", "--clear-groups", "--"], "intruder_entry").env("TB_INTRUDE_DIR", &t.dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("UID 65534") {
        eprintln!("SKIP another_uid_cannot_open_segments: could not run as uid 65534 ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
        return;
    }
    eprintln!("{text}");
    for what in ["registry", "pool", "topic"] {
        assert!(text.contains(&format!("{what} IO PermissionDenied 13")), "{what} was not refused with EACCES:\n{text}");
    }
    assert!(text.contains("namespace IO PermissionDenied"), "{text}");
    assert!(text.contains("READ PermissionDenied"), "{text}");
    assert!(!text.contains("OPENED"), "{text}");
    // Nothing of ours changed: the intruder left no registry entry.
    assert_eq!(ns.stats().participants.iter().filter(|p| !p.is_topic).count(), 1);
    assert_eq!(std::fs::metadata(&t.dir).unwrap().uid(), 0);
}

#[test]
fn namespaces_with_the_same_topic_names_never_see_each_other() {
    let base = TempNs::new("iso-ns");
    let a = Namespace::open_dir(&base.dir.join("a"), PoolConfig::parse(kit::CLASSES).unwrap()).unwrap();
    let b = Namespace::open_dir(&base.dir.join("b"), PoolConfig::parse(kit::CLASSES).unwrap()).unwrap();
    let (ta, tb) = (a.topic("camera", &TopicOptions::default()).unwrap(), b.topic("camera", &TopicOptions::default()).unwrap());
    let (mut sa, mut sb) = (ta.subscriber().unwrap(), tb.subscriber().unwrap());
    let (pa, pb) = (ta.publisher(), tb.publisher());
    for i in 0..10u8 {
        let mut m = a.try_acquire(100).unwrap();
        m.as_mut_slice().fill(b'a');
        let r = m.freeze();
        pa.send(r.descriptor(), &r).unwrap();
        pa.send_inline(&[b'a', i]).unwrap();
        pb.send_inline(&[b'b', i]).unwrap();
    }
    let mut from_a = 0;
    while let Some((d, h)) = sa.recv_timeout(Duration::from_millis(10)).unwrap().map(tensorbus_pool::Delivered::into_parts) {
        match h {
            Some(h) => assert!(h.as_slice().iter().all(|&c| c == b'a')),
            None => assert_eq!(d.inline_bytes().unwrap().0[0], b'a'),
        }
        from_a += 1;
    }
    let mut from_b = 0;
    while let Some((d, h)) = sb.try_recv().unwrap().map(tensorbus_pool::Delivered::into_parts) {
        assert!(h.is_none(), "b never sent a payload");
        assert_eq!(d.inline_bytes().unwrap().0[0], b'b');
        from_b += 1;
    }
    assert_eq!((from_a, from_b), (4, 4), "each sees only its own (depth 4) ring");
    // Pools, registries and topics are separate too.
    assert_eq!(tb.sent(), 10);
    assert_eq!(ta.sent(), 20);
    assert_eq!(b.stats().used_slots(), 0);
    assert!(a.stats().used_slots() > 0);
    assert!(b.stats().pools.iter().all(|p| p.used == 0));
    assert_ne!(a.dir(), b.dir());
}
