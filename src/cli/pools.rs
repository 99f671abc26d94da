//! `tensorbus pool list | stat` and `tensorbus clean`.

use super::args::Args;
use super::ctx::Ctx;
use super::error::CliResult;
use super::table::{bytes, Table};
use serde_json::json;
use std::path::{Path, PathBuf};
use tensorbus_pool::nsdir::NsDir;
use tensorbus_pool::registry::{Registry, KIND_PROCESS, ST_FREE};

pub fn list(ctx: &Ctx, mut a: Args, detail: bool) -> CliResult {
    let as_json = a.flag("--json");
    a.finish()?;
    let ns = ctx.open()?;
    let st = ns.stats();
    let me = std::process::id();
    // This command is itself a registered participant; leave it out of the report.
    let participants: Vec<_> = st.participants.iter().filter(|p| p.is_topic || p.pid != me).collect();
    if as_json {
        let pools: Vec<_> = st
            .pools
            .iter()
            .map(|p| {
                json!({
                    "id": p.id, "slot_size": p.slot_size, "slots": p.slots, "used": p.used,
                    "free": p.slots.saturating_sub(p.used), "grows": p.grows,
                    "holders": p.holders.iter().map(|(who, n)| json!({"holder": who, "slots": n})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut v = json!({"namespace": ctx.name(), "dir": st.dir, "pools": pools, "reaps": st.reaps, "pool_bytes": st.pool_bytes, "max_bytes": st.max_bytes});
        if detail {
            v["participants"] = participants
                .iter()
                .map(|p| json!({"index": p.index, "pid": p.pid, "name": p.name, "kind": if p.is_topic { "topic" } else { "process" }, "alive": p.alive}))
                .collect();
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!("namespace {} ({})", ctx.name(), st.dir);
    if st.pools.is_empty() {
        println!("no pools yet (a pool is created by the first payload of its size class)");
    } else {
        let mut t = Table::new(&[">POOL", ">SLOT SIZE", ">SLOTS", ">USED", ">FREE", ">MEMORY"]);
        for p in &st.pools {
            t.row(vec![
                p.id.to_string(),
                bytes(p.slot_size),
                p.slots.to_string(),
                p.used.to_string(),
                p.slots.saturating_sub(p.used).to_string(),
                bytes(p.slot_size * p.slots as u64),
            ]);
        }
        print!("{}", t.render());
        let grown: Vec<String> = st.pools.iter().filter_map(|p| p.grows.map(|first| format!("pool {} grows pool {first}", p.id))).collect();
        if !grown.is_empty() {
            println!("size classes that grew: {}", grown.join(", "));
        }
        // The cap is each process's own setting: report the one this command was started with.
        let cap = if st.max_bytes == 0 { "off".to_string() } else { bytes(st.max_bytes) };
        println!("pool memory {}; growth cap {cap} (TENSORBUS_POOL_MAX_BYTES as set for this command)", bytes(st.pool_bytes));
    }
    if !detail {
        return Ok(0);
    }
    println!();
    let held: Vec<_> = st.pools.iter().flat_map(|p| p.holders.iter().map(move |(who, n)| (p, who, n))).collect();
    if held.is_empty() {
        println!("holders: none (no slot is in use)");
    } else {
        let mut t = Table::new(&[">POOL", ">SLOT SIZE", "HOLDER", ">SLOTS"]);
        for (p, who, n) in held {
            t.row(vec![p.id.to_string(), bytes(p.slot_size), who.clone(), n.to_string()]);
        }
        print!("{}", t.render());
    }
    println!();
    let mut t = Table::new(&[">INDEX", "KIND", ">PID", "NAME", "STATE"]);
    for p in &participants {
        t.row(vec![
            p.index.to_string(),
            if p.is_topic { "topic" } else { "process" }.into(),
            if p.is_topic { "-".into() } else { p.pid.to_string() },
            p.name.clone(),
            if p.alive { "alive" } else { "dead" }.into(),
        ]);
    }
    print!("{}", t.render());
    println!("reaps: {}", st.reaps);
    Ok(0)
}

/// Live processes registered in the namespace at `dir` (pid, name).
pub(crate) fn live_processes(dir: &Path) -> Result<Vec<(u32, String)>, tensorbus_pool::OpenError> {
    let reg = Registry::open(dir)?;
    Ok(reg
        .snapshots()
        .into_iter()
        .filter(|s| s.state != ST_FREE && s.kind == KIND_PROCESS && tensorbus_pool::process::is_alive(s.pid, s.start_time))
        .map(|s| (s.pid, s.name))
        .collect())
}

/// Who maps files of a namespace directory, from `/proc/<pid>/maps`.
struct Mappers {
    /// (pid, command name) of each process with a mapping of a file under the directory.
    ours: Vec<(u32, String)>,
    /// Processes whose maps could not be read (another user's, without privileges).
    unchecked: usize,
}

/// The processes that map a file under `dir`: what keeps a namespace in use when its registry
/// cannot be read (the segments are mapped for as long as a process uses them; the files are
/// closed after mapping).
fn mappers(dir: &Path) -> Mappers {
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let prefix = format!("{}/", root.display());
    let me = std::process::id();
    let mut out = Mappers { ours: Vec::new(), unchecked: 0 };
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        match std::fs::read_to_string(e.path().join("maps")) {
            // The path is the sixth field; a removed file reads "<path> (deleted)".
            Ok(maps) if maps.lines().any(|l| l.split_whitespace().nth(5).is_some_and(|p| p.starts_with(&prefix))) => {
                let name = std::fs::read_to_string(e.path().join("comm")).map(|c| c.trim().to_string()).unwrap_or_default();
                out.ours.push((pid, name));
            }
            Ok(_) => {}
            // Gone since the listing, or not ours to read.
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => out.unchecked += 1,
            Err(_) => {}
        }
    }
    out
}

/// Directories under the base directory (links are not followed: they are never namespaces).
fn subdirs(base: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(base).into_iter().flatten().flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect();
    v.sort();
    v
}

/// Whether `dir` is a tensorbus namespace of ours: opened without following links, owned by us,
/// with the marker file or a registry segment (namespaces made before the marker existed).
fn as_namespace(dir: &Path) -> Option<NsDir> {
    NsDir::open(dir).ok().filter(|d| d.has_marker() || d.has_registry())
}

pub fn clean(ctx: &Ctx, mut a: Args) -> CliResult {
    let dry = a.flag("--dry-run") || a.flag("-n");
    a.finish()?;
    let base = ctx.dir().parent().map(Path::to_path_buf).unwrap_or_default();
    if !base.is_dir() {
        println!("nothing to clean: {} does not exist", base.display());
        return Ok(0);
    }
    let (mut removed, mut kept, mut failed, mut other) = (0, 0, 0, 0);
    for dir in subdirs(&base) {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // Only tensorbus namespaces are ever removed: with TENSORBUS_SHM_DIR=/tmp the base holds
        // everyone's directories.
        let Some(ns) = as_namespace(&dir) else {
            other += 1;
            continue;
        };
        let verdict = if dir.join("registry").exists() {
            match live_processes(&dir) {
                Ok(live) if !live.is_empty() => {
                    let who: Vec<String> = live.iter().map(|(p, n)| format!("{p} {n}")).collect();
                    Err(format!("in use by {}", who.join(", ")))
                }
                Ok(_) => Ok("all registered processes are dead".to_string()),
                // Another layout (a namespace an older or newer build left) or a damaged
                // registry: its entries cannot be judged, but the processes that use a namespace
                // map its files.
                Err(e) => match mappers(&dir) {
                    Mappers { ours, .. } if !ours.is_empty() => {
                        let who: Vec<String> = ours.iter().map(|(p, n)| format!("{p} {n}")).collect();
                        Err(format!("unreadable registry ({e}); mapped by {}", who.join(", ")))
                    }
                    Mappers { unchecked: 0, .. } => Ok(format!("unreadable registry ({e}), and no process maps its files")),
                    Mappers { unchecked, .. } => Ok(format!("unreadable registry ({e}), and no process maps its files ({unchecked} process(es) of other users not readable)")),
                },
            }
        } else {
            // No registry: a namespace being created right now, or debris. Give it a minute.
            let age = std::fs::metadata(&dir).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).unwrap_or_default();
            if age.as_secs() >= 60 {
                Ok("no registry".to_string())
            } else {
                Err("no registry yet (new); left alone".to_string())
            }
        };
        match verdict {
            Err(why) => {
                kept += 1;
                println!("keep    {name}: {why}");
                // A namespace in use may still hold temporary files of a creator that was killed.
                if !dry {
                    let gone = ns.reclaim_leftovers();
                    if !gone.is_empty() {
                        println!("        {name}: removed {} temporary file(s) of dead creators: {}", gone.len(), gone.join(", "));
                    }
                }
            }
            Ok(why) if dry => {
                removed += 1;
                println!("would remove {name}: {why}");
            }
            Ok(why) => match std::fs::remove_dir_all(&dir) {
                Ok(()) => {
                    removed += 1;
                    println!("removed {name}: {why}");
                }
                Err(e) => {
                    failed += 1;
                    println!("failed  {name}: {e}");
                }
            },
        }
    }
    let others = if other > 0 { format!("; {other} other director{} left alone (not tensorbus namespaces)", if other == 1 { "y" } else { "ies" }) } else { String::new() };
    println!("{} {removed}, kept {kept}{}{others}", if dry { "would remove" } else { "removed" }, if failed > 0 { format!(", failed {failed}") } else { String::new() });
    Ok(if failed > 0 { 1 } else { 0 })
}
