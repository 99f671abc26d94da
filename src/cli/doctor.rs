//! `tensorbus doctor`: checks the environment and says what to change.

use super::args::Args;
use super::ctx::Ctx;
use super::error::CliResult;
use super::table::bytes;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// (total, free) bytes of the filesystem holding `p`.
fn fs_space(p: &Path) -> Option<(u64, u64)> {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statvfs is plain integers; all-zero is a valid value.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs writes into the struct we own; `c` is a valid C string.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let f = s.f_frsize as u64;
    Some((s.f_blocks as u64 * f, s.f_bavail as u64 * f))
}

struct Report {
    warnings: u32,
    errors: u32,
}

impl Report {
    fn ok(&self, msg: String) {
        println!("ok    {msg}");
    }
    fn warn(&mut self, msg: String, fix: &str) {
        self.warnings += 1;
        println!("warn  {msg}\n      -> {fix}");
    }
    fn error(&mut self, msg: String, fix: &str) {
        self.errors += 1;
        println!("error {msg}\n      -> {fix}");
    }
}

pub fn run(ctx: &Ctx, a: Args) -> CliResult {
    a.finish()?;
    let mut r = Report { warnings: 0, errors: 0 };
    let dir = ctx.dir();
    let base = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let fs_root = base.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/")).to_path_buf();

    // Shared-memory filesystem size.
    match fs_space(&fs_root) {
        Some((total, free)) => {
            let msg = format!("{}: {} total, {} free", fs_root.display(), bytes(total), bytes(free));
            if total < (512 << 20) {
                r.warn(
                    msg,
                    "shared memory is small (Docker's default is 64 MiB): run the container with --shm-size=2g (or --ipc=host), or set TENSORBUS_SHM_DIR to a larger tmpfs",
                );
            } else if free < (256 << 20) {
                r.warn(msg, "little free shared memory: run `tensorbus clean` to remove stale namespaces, or enlarge the tmpfs");
            } else {
                r.ok(msg);
            }
        }
        None => r.error(format!("{}: cannot stat", fs_root.display()), "set TENSORBUS_SHM_DIR to a writable tmpfs directory"),
    }

    // Base directory ownership and mode.
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let is_link = std::fs::symlink_metadata(&base).is_ok_and(|m| m.file_type().is_symlink());
    match std::fs::metadata(&base) {
        _ if is_link => r.error(
            format!("{} is a symbolic link: tensorbus refuses it (someone else may have planted it)", base.display()),
            "remove the link, or set TENSORBUS_SHM_DIR to the real directory",
        ),
        Ok(m) if m.uid() != uid => {
            r.error(format!("{} is owned by uid {}, not you (uid {uid})", base.display(), m.uid()), "remove it (as its owner) or set TENSORBUS_SHM_DIR to a directory of your own")
        }
        Ok(m) if m.permissions().mode() & 0o077 != 0 => {
            r.warn(format!("{} has mode {:o}", base.display(), m.permissions().mode() & 0o777), "chmod 700 it (tensorbus fixes this itself on the next open)")
        }
        Ok(_) => r.ok(format!("{}: owned by you, mode 700", base.display())),
        Err(_) => {
            let parent = base.parent().unwrap_or(Path::new("/"));
            let writable = std::ffi::CString::new(parent.as_os_str().as_encoded_bytes())
                // SAFETY: access reads a valid C string.
                .map(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0)
                .unwrap_or(false);
            if writable {
                r.ok(format!("{} does not exist yet (created on first use)", base.display()));
            } else {
                r.error(format!("{} cannot be created: {} is not writable", base.display(), parent.display()), "set TENSORBUS_SHM_DIR to a writable tmpfs directory");
            }
        }
    }

    // Namespaces present and their state.
    if base.is_dir() {
        let mut stale = 0;
        let mut live = 0;
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let p = e.path();
            if p.join("registry").exists() {
                match super::pools::live_processes(&p) {
                    Ok(v) if v.is_empty() => stale += 1,
                    Ok(_) => live += 1,
                    Err(_) => stale += 1,
                }
            }
        }
        let msg = format!("namespaces: {live} in use, {stale} without live processes");
        if stale > 0 {
            r.warn(msg, "run `tensorbus clean` to remove the stale ones (`--dry-run` to see them first)");
        } else {
            r.ok(msg);
        }
    }

    // Bridges to other hosts (their status records; the namespace is only read).
    if ctx.dir().join("registry").exists() {
        if let Ok(ns) = ctx.open() {
            for b in super::bridges::running_bridges(&ns) {
                let outs = b.topics.iter().filter(|t| t.direction == "out").count();
                let ins = b.topics.iter().filter(|t| t.direction == "in").count();
                let what = format!("bridge pid {} (zenoh id {}, scope {:?})", b.pid, b.zid, b.scope);
                if b.peers.is_empty() {
                    let eps: Vec<&String> = b.connect.iter().chain(&b.listen).collect();
                    r.warn(
                        format!("{what}: connected to no Zenoh peer (endpoints {eps:?})"),
                        "start the other side's `tensorbus bridge` (one side --listen tcp/0.0.0.0:7447, the other --connect tcp/HOST:7447), check that the TCP port is reachable, and that both use the same --scope",
                    );
                } else if b.malformed > 0 {
                    r.warn(
                        format!("{what}: {} malformed sample(s) refused", b.malformed),
                        "a Zenoh client publishes under tensorbus/<scope>/ without the attachment docs/bridge.md describes",
                    );
                } else {
                    r.ok(format!("{what}: connected to {} peer(s), {outs} topic(s) out, {ins} in", b.peers.len()));
                }
            }
        }
    }

    // Locked-memory limit (CUDA pinning registers pool segments).
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into `lim`, which we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } == 0 {
        let show = |v: libc::rlim_t| if v == libc::RLIM_INFINITY { "unlimited".to_string() } else { bytes(v) };
        let msg = format!("RLIMIT_MEMLOCK: {} (hard {})", show(lim.rlim_cur), show(lim.rlim_max));
        if lim.rlim_cur != libc::RLIM_INFINITY && lim.rlim_cur < (1 << 30) {
            r.warn(msg, "pinning pool memory for fast GPU copies may be limited: `ulimit -l unlimited`, or Docker --ulimit memlock=-1 (CUDA pins without this limit as root)");
        } else {
            r.ok(msg);
        }
    }

    // CUDA.
    if tensorbus_gpu::is_available() {
        r.ok(format!("CUDA: available, {} device(s)", tensorbus_gpu::device_count()));
    } else {
        println!("info  CUDA: not available (no driver or no device); CPU paths work, to_cuda() and pinning do not");
    }

    println!("{} warning(s), {} error(s)", r.warnings, r.errors);
    Ok(if r.errors > 0 { 1 } else { 0 })
}
