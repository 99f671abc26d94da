//! The `tensorbus` command against a live system: the test binary re-executes itself as a
//! publisher (`--exact child_entry --ignored`, `TB_CHILD_ROLE`), then runs the CLI binary on the
//! same namespace (`TENSORBUS_SHM_DIR` = a private base directory).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tensorbus::msgs::CmdVel;
use tensorbus::tensor::{Encoding, ImageMut};
use tensorbus::{Image, Namespace, PoolConfig, Topic, TopicConfig, Value};
use tensorbus_testkit::{self as kit, KillOnDrop as Kill, FACADE_CLASSES};

struct Base(PathBuf);
impl Base {
    fn new(tag: &str) -> Base {
        let d = std::env::temp_dir().join(format!("tb-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Base(d)
    }
}
impl Drop for Base {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spawn(role: &str, dir: &Path) -> Kill {
    Kill(kit::role_child(role, dir).stdout(Stdio::null()).spawn().unwrap())
}

#[test]
#[ignore = "child process entry point, run by the CLI tests"]
fn child_entry() {
    let Some((role, dir)) = kit::child_role() else { return };
    if role == "map" {
        // Not a tensorbus process: it only maps the namespace's registry file (whatever its
        // layout), as a process of another build would.
        let f = std::fs::File::open(dir.join("registry")).unwrap();
        let len = f.metadata().unwrap().len() as usize;
        // SAFETY: a fresh read-only shared mapping of an open file, never dereferenced here.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, std::os::fd::AsRawFd::as_raw_fd(&f), 0) };
        assert_ne!(p, libc::MAP_FAILED);
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let ns = kit::open_with(&dir, FACADE_CLASSES);
    if role == "hold" {
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    if role == "sched" {
        let sched = tensorbus::Scheduler::new(50.0);
        sched.set_namespace(ns);
        sched.add(tensorbus::node::node_fn("fast", |_| Ok(())), tensorbus::NodeConfig { rate_hz: Some(100.0), ..Default::default() }).unwrap();
        sched.add(tensorbus::node::node_fn("failing", |_| Err("boom".into())), tensorbus::NodeConfig { rate_hz: Some(5.0), ..Default::default() }).unwrap();
        sched.run(Some(Duration::from_secs(60))).unwrap();
        return;
    }
    let cmd = Topic::<CmdVel>::open_with(&ns, "cmd_vel", TopicConfig::latest(8)).unwrap().publisher();
    let dict = Topic::<Value>::open(&ns, "status").unwrap().publisher();
    let cam = Topic::<Image>::open_with(&ns, "camera.rgb", TopicConfig::latest(2)).unwrap().publisher();
    let t0 = Instant::now();
    for i in 1u64.. {
        cmd.send(&CmdVel { timestamp_ns: i, linear: 0.5, angular: -1.25 }).unwrap();
        dict.send(&Value::Map(vec![("i".into(), i.into()), ("name".into(), "robot".into())])).unwrap();
        if let Ok(mut f) = ImageMut::new_timeout(&ns, 48, 64, Encoding::Rgb8, Duration::from_millis(100)) {
            f.set_timestamp_ns(i);
            cam.send(&f.freeze()).unwrap();
        }
        // 100 Hz, drift-free.
        let next = t0 + Duration::from_millis(10 * i);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        if t0.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
}

fn cli(base: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tensorbus")).args(args).env("TENSORBUS_SHM_DIR", base).env_remove("TENSORBUS_NAMESPACE").stdin(Stdio::null()).output().unwrap()
}

fn ok(base: &Path, args: &[&str]) -> String {
    let o = cli(base, args);
    let (out, err) = (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "tensorbus {args:?} failed ({:?}):\n{out}\n{err}", o.status);
    out
}

/// Start the publisher and wait until its three topics are moving.
fn live(base: &Path, ns: &str) -> Kill {
    let child = spawn("pub", &base.join(ns));
    let t0 = Instant::now();
    loop {
        let o = cli(base, &["--namespace", ns, "topic", "list", "--json"]);
        if o.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            if v.as_array().unwrap().iter().filter(|t| t["sent"].as_u64().unwrap() > 0).count() == 3 {
                return child;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "publisher never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn topic_list_info_echo_hz_against_a_publisher() {
    let base = Base::new("topics");
    let _pub = live(&base.0, "live");
    let v: serde_json::Value = serde_json::from_str(&ok(&base.0, &["--namespace", "live", "topic", "list", "--json"])).unwrap();
    let cmd = v.as_array().unwrap().iter().find(|t| t["name"] == "cmd_vel").expect("cmd_vel listed");
    assert_eq!(cmd["type"], "CmdVel");
    assert_eq!(cmd["depth"], 8);
    assert_eq!(cmd["publishers"], 1);
    assert!(cmd["rate_hz"].as_f64().unwrap() > 20.0, "{cmd}");

    let table = ok(&base.0, &["--namespace", "live", "topic", "list"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("camera.rgb") && l.contains("Image")), "{table}");

    let info = ok(&base.0, &["--namespace", "live", "topic", "info", "cmd_vel"]);
    assert!(info.contains("type:        CmdVel") && info.contains("policy:      latest"), "{info}");

    let echo = ok(&base.0, &["--namespace", "live", "topic", "echo", "cmd_vel", "--count", "3", "--timeout", "10"]);
    assert_eq!(echo.lines().count(), 3, "{echo}");
    assert!(echo.lines().all(|l| l.starts_with("CmdVel {") && l.contains("linear: 0.5") && l.contains("angular: -1.25")), "{echo}");

    let echo = ok(&base.0, &["--namespace", "live", "topic", "echo", "status", "--count", "2", "--timeout", "10"]);
    assert!(echo.lines().all(|l| l.contains("\"name\": \"robot\"")), "{echo}");

    let echo = ok(&base.0, &["--namespace", "live", "topic", "echo", "camera.rgb", "--count", "2", "--timeout", "10"]);
    assert!(echo.lines().all(|l| l.starts_with("image rgb8 shape [48, 64, 3] uint8")), "{echo}");

    let hz = ok(&base.0, &["--namespace", "live", "topic", "hz", "cmd_vel", "--count", "20", "--timeout", "10"]);
    let last = hz.lines().last().unwrap();
    let rate: f64 = last.strip_prefix("rate: ").unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!((30.0..300.0).contains(&rate), "{hz}");
    assert!(last.contains("period min:") && last.contains("std:") && last.contains("(n=19)"), "{hz}");

    let stat = ok(&base.0, &["--namespace", "live", "pool", "stat"]);
    assert!(stat.contains("SLOT SIZE") && stat.contains("1 MiB"), "{stat}");
    assert!(stat.contains("topic camera.rgb"), "holders name the ring: {stat}");
    assert!(stat.lines().any(|l| l.contains("process") && l.contains("alive")), "{stat}");
    let pools: serde_json::Value = serde_json::from_str(&ok(&base.0, &["--namespace", "live", "pool", "list", "--json"])).unwrap();
    assert!(pools["pools"].as_array().unwrap().iter().any(|p| p["slot_size"] == 1 << 20 && p["used"].as_u64().unwrap() >= 1), "{pools}");
}

#[test]
fn missing_topic_or_namespace_is_one_line_and_exit_1() {
    let base = Base::new("missing");
    let o = cli(&base.0, &["--namespace", "nope", "topic", "list"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: namespace \"nope\" not found"), "{err}");
    assert!(!base.0.join("nope").exists(), "inspection must not create a namespace");

    Namespace::open_dir(&base.0.join("empty"), PoolConfig::parse("4Kx4").unwrap()).unwrap();
    let o = cli(&base.0, &["--namespace", "empty", "topic", "echo", "ghost", "--count", "1"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim(), "error: topic \"ghost\" not found in namespace \"empty\"");
    assert_eq!(cli(&base.0, &["topic", "frobnicate"]).status.code(), Some(2));
}

#[test]
fn clean_removes_dead_namespaces_only() {
    let base = Base::new("clean");
    let _live = spawn("hold", &base.0.join("alive"));
    let mut dead = spawn("hold", &base.0.join("dead"));
    let t0 = Instant::now();
    while !(base.0.join("alive/registry").exists() && base.0.join("dead/registry").exists()) {
        assert!(t0.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200)); // registration done
    dead.0.kill().unwrap(); // SIGKILL: no chance to unregister
    dead.0.wait().unwrap();

    let dry = ok(&base.0, &["clean", "--dry-run"]);
    assert!(dry.contains("would remove dead") && dry.contains("keep    alive"), "{dry}");
    assert!(base.0.join("dead").exists());
    let out = ok(&base.0, &["clean"]);
    assert!(out.contains("removed dead"), "{out}");
    assert!(!base.0.join("dead").exists());
    assert!(base.0.join("alive/registry").exists(), "a live namespace must survive: {out}");
}

/// A namespace whose registry is of another layout (what an older or newer build leaves) cannot
/// be judged by its entries: `clean` removes it when no process maps its files, and keeps it
/// while one does (the message of a layout mismatch sends people to `clean`).
#[test]
fn clean_removes_a_namespace_of_another_layout_unless_a_process_maps_it() {
    let base = Base::new("clean-layout");
    for name in ["old", "old-mapped"] {
        let mut p = spawn("hold", &base.0.join(name));
        let t0 = Instant::now();
        while !base.0.join(name).join("registry").exists() {
            assert!(t0.elapsed() < Duration::from_secs(20));
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200)); // registration done
        p.0.kill().unwrap();
        p.0.wait().unwrap();
        // Another build: the layout hash in the segment header (bytes 16..24) differs.
        let reg = base.0.join(name).join("registry");
        let mut b = std::fs::read(&reg).unwrap();
        b[16] ^= 0xff;
        std::fs::write(&reg, &b).unwrap();
    }
    let mut mapper = spawn("map", &base.0.join("old-mapped"));
    let maps = format!("/proc/{}/maps", mapper.0.id());
    let t0 = Instant::now();
    while !std::fs::read_to_string(&maps).unwrap_or_default().contains("old-mapped/registry") {
        assert!(t0.elapsed() < Duration::from_secs(20), "the mapping child never mapped the registry");
        std::thread::sleep(Duration::from_millis(20));
    }

    let out = ok(&base.0, &["clean"]);
    assert!(out.contains("removed old: unreadable registry") && out.contains("no process maps its files"), "{out}");
    assert!(!base.0.join("old").exists(), "{out}");
    assert!(out.contains("keep    old-mapped: unreadable registry") && out.contains(&format!("mapped by {}", mapper.0.id())), "{out}");
    assert!(base.0.join("old-mapped/registry").exists(), "a namespace a process maps must survive: {out}");

    mapper.0.kill().unwrap();
    mapper.0.wait().unwrap();
    let out = ok(&base.0, &["clean"]);
    assert!(out.contains("removed old-mapped: unreadable registry"), "{out}");
    assert!(!base.0.join("old-mapped").exists(), "{out}");
}

/// Set the modification time of `p` to `secs` seconds ago.
fn age(p: &Path, secs: u64) {
    let f = std::fs::File::open(p).unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(secs)).unwrap();
}

#[test]
fn clean_leaves_directories_that_are_not_namespaces() {
    // TENSORBUS_SHM_DIR pointed at a shared directory: only tensorbus namespaces may go.
    let base = Base::new("clean-foreign");
    let photos = base.0.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::write(photos.join("cat.jpg"), b"meow").unwrap();
    let empty = base.0.join("empty-project");
    std::fs::create_dir_all(&empty).unwrap();
    // A link to a directory is never a namespace, whatever it points at.
    std::os::unix::fs::symlink(&photos, base.0.join("link")).unwrap();
    // Debris of a namespace whose creation never got as far as the registry (marker only).
    let debris = base.0.join("debris");
    std::fs::create_dir_all(&debris).unwrap();
    std::fs::write(debris.join(".tensorbus-namespace"), b"").unwrap();
    // A dead namespace of an older version: a registry but no marker.
    let mut old = spawn("hold", &base.0.join("old"));
    let t0 = Instant::now();
    while !base.0.join("old/registry").exists() {
        assert!(t0.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    old.0.kill().unwrap();
    old.0.wait().unwrap();
    let _ = std::fs::remove_file(base.0.join("old/.tensorbus-namespace")); // (older versions wrote none)
    for d in [&photos, &empty, &debris] {
        age(d, 600);
    }
    let mode = |p: &Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o7777;
    std::fs::set_permissions(&photos, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let out = ok(&base.0, &["clean"]);
    assert!(photos.join("cat.jpg").exists() && empty.exists() && base.0.join("link").exists(), "unrelated directories removed:\n{out}");
    assert_eq!(mode(&photos), 0o755, "clean changed the mode of an unrelated directory");
    assert!(!debris.exists() && !base.0.join("old").exists(), "{out}");
    assert!(out.contains("removed 2") && out.contains("2 other directories left alone"), "{out}");
}

#[test]
fn clean_reclaims_temp_files_of_killed_creators_in_a_live_namespace() {
    let base = Base::new("clean-tmp");
    let _live = spawn("hold", &base.0.join("alive"));
    let t0 = Instant::now();
    while !base.0.join("alive/registry").exists() {
        assert!(t0.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = Command::new("true").spawn().unwrap();
    let dead = c.id();
    c.wait().unwrap();
    let stale = base.0.join(format!("alive/pool-4.tmp.{dead}.0"));
    let mine = base.0.join(format!("alive/pool-5.tmp.{}.0", std::process::id()));
    for p in [&stale, &mine] {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(p).unwrap().set_len(1 << 20).unwrap();
    }
    let out = ok(&base.0, &["clean"]);
    assert!(out.contains("keep    alive"), "{out}");
    assert!(!stale.exists(), "a dead creator's temporary file survived clean:\n{out}");
    assert!(mine.exists(), "a live creator's temporary file was removed:\n{out}");
    assert!(out.contains(&format!("pool-4.tmp.{dead}.0")), "{out}");
}

#[test]
fn bad_namespace_name_is_one_line_and_exit_1() {
    let base = Base::new("badns");
    for (how, name) in [("flag", ".."), ("env", ".."), ("flag", "a/b"), ("env", "/etc")] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tensorbus"));
        c.env("TENSORBUS_SHM_DIR", &base.0).env_remove("TENSORBUS_NAMESPACE").stdin(Stdio::null());
        if how == "flag" {
            c.args(["--namespace", name, "clean"]);
        } else {
            c.env("TENSORBUS_NAMESPACE", name).arg("clean");
        }
        let o = c.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{how} {name:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("error: namespace name {name:?} is invalid")), "{err}");
    }
}

#[test]
fn doctor_passes_on_a_usable_machine() {
    let base = Base::new("doctor");
    let out = ok(&base.0, &["doctor"]);
    assert!(out.contains("RLIMIT_MEMLOCK") && out.contains("CUDA"), "{out}");
}

#[test]
fn launch_prefixes_output_and_restarts_on_failure() {
    let base = Base::new("launch");
    let file = base.0.join("two.toml");
    std::fs::write(
        &file,
        r#"
grace_s = 2
[[node]]
name = "good"
cmd = ["sh", "-c", "echo hello from $WHO"]
env = { WHO = "good" }

[[node]]
name = "flaky"
cmd = ["sh", "-c", "echo try; exit 3"]
restart = "on-failure"
max_restarts = 2
"#,
    )
    .unwrap();
    let o = cli(&base.0, &["launch", file.to_str().unwrap()]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "a node failed for good:\n{out}\n{err}");
    assert!(out.lines().any(|l| l == "[good] hello from good"), "{out}");
    assert_eq!(out.lines().filter(|l| *l == "[flaky] try").count(), 3, "1 run + 2 restarts:\n{out}\n{err}");
    assert!(err.contains("flaky exited (exit code 3); restarting (1/2)") && err.contains("failed: flaky"), "{err}");

    // Ctrl-C (SIGINT to the launcher) stops a long-running node cleanly, exit code 0.
    std::fs::write(&file, "[[node]]\nname = \"sleeper\"\ncmd = [\"sleep\", \"30\"]\n").unwrap();
    let child =
        Command::new(env!("CARGO_BIN_EXE_tensorbus")).args(["launch", file.to_str().unwrap(), "--grace", "2"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let t0 = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.contains("sleeper stopped"), "{err}");
}

fn node_list(base: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(base, &["--namespace", "sched", "node", "list", "--json"])).unwrap()
}

fn ticks(v: &serde_json::Value, node: &str) -> u64 {
    v[0]["nodes"].as_array().unwrap().iter().find(|n| n["name"] == node).map_or(0, |n| n["ticks"].as_u64().unwrap())
}

#[test]
fn node_list_and_monitor_show_a_running_scheduler() {
    let base = Base::new("nodes");
    let child = spawn("sched", &base.0.join("sched"));
    let pid = child.0.id();
    let t0 = Instant::now();
    let first = loop {
        if base.0.join("sched").join("registry").exists() {
            let v = node_list(&base.0);
            if ticks(&v, "fast") > 0 {
                break v;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "scheduler statistics never appeared");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(first.as_array().unwrap().len(), 1, "{first}");
    assert_eq!(first[0]["scheduler"], pid);
    let failing = first[0]["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "failing").expect("failing listed");
    assert_eq!(failing["target_rate"], 5.0);
    // Statistics refresh about once per second: ticks keep growing.
    std::thread::sleep(Duration::from_millis(1300));
    let second = node_list(&base.0);
    assert!(ticks(&second, "fast") > ticks(&first, "fast"), "{first} then {second}");
    let failing = second[0]["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "failing").unwrap();
    assert!(failing["errors"].as_u64().unwrap() > 0 && failing["last_error"] == "boom", "{failing}");

    let table = ok(&base.0, &["--namespace", "sched", "node", "list"]);
    assert!(table.starts_with("PID") && table.lines().any(|l| l.contains("fast") && l.contains("running")), "{table}");
    let mon = ok(&base.0, &["--namespace", "sched", "monitor", "--count", "2", "--interval", "0.2"]);
    assert_eq!(mon.matches("tensorbus monitor").count(), 2, "{mon}");
    assert!(!mon.contains('\x1b'), "no escape codes when not a terminal: {mon:?}");
    assert!(mon.lines().filter(|l| l.contains("failing")).count() == 2, "{mon}");
    let topics = ok(&base.0, &["--namespace", "sched", "topic", "list"]);
    assert!(!topics.contains("_tb.nodes"), "own topics hidden: {topics}");

    drop(child);
    std::thread::sleep(Duration::from_millis(200));
    let none = ok(&base.0, &["--namespace", "sched", "node", "list"]);
    assert!(none.contains("no running schedulers"), "{none}");
}
