//! `tensorbus bridge` (added to the CLI by the `tensorbus-cli` crate through
//! `tensorbus::cli::Command`):
//!
//! ```text
//! tensorbus bridge [--connect EP]... [--listen EP]... [--config FILE] [--mode peer|client]
//!                  [--topics GLOBS] [--export GLOBS] [--import GLOBS] [--scope NAME]
//!                  [--compress GLOB=lz4|zstd]... [--multicast] [--zenoh-shm] [--duration S] [--json]
//! tensorbus bridge --ros2 [--domain N] [--humble] [--node NAME] [--ros2-map FILE.toml]
//!                  [--export TOPIC[=/ros/name[:ros/msg/Type]],...] [--import ...] [--connect/--listen ...]
//! ```
//!
//! `--topics` forwards both ways; GLOBS is a comma-separated list. It runs until Ctrl-C (or
//! `--duration`) and prints what it forwarded, lost and dropped per topic.

use crate::bridge::Bridge;
use crate::options::BridgeOptions;
use crate::wire::Compression;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tensorbus::cli::{Args, CliError, CliResult, Command, Ctx};

/// `tensorbus bridge`.
pub struct BridgeCommand;

fn list(v: Option<String>) -> Vec<String> {
    v.map(|s| s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect()).unwrap_or_default()
}

/// Every value of a repeatable option (`--connect a --connect b`, or `--connect a,b`).
fn all(a: &mut Args, name: &str) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    while let Some(v) = a.value(name)? {
        out.extend(list(Some(v)));
    }
    Ok(out)
}

impl Command for BridgeCommand {
    fn name(&self) -> &'static str {
        "bridge"
    }
    fn usage(&self) -> &'static str {
        "  bridge [--connect tcp/HOST:7447] [--listen tcp/0.0.0.0:7447] [--config ZENOH.json5]
         [--topics 'camera.*,cmd_vel'] [--export GLOBS] [--import GLOBS] [--scope NAME]
         [--compress 'camera.*=lz4'] [--mode peer|client] [--multicast] [--zenoh-shm] [--duration S] [--json]
                                           forward topics to and from other hosts over Zenoh
                                           (keys tensorbus/<scope>/<topic>; see docs/bridge.md)
  bridge --ros2 [--domain N] [--humble] [--ros2-map FILE] [--export camera.rgb=/camera/image_raw]
         [--import cmd_vel=/cmd_vel:geometry_msgs/msg/Twist]  ROS 2 over rmw_zenoh (docs/ros2.md)"
    }
    fn run(&self, ctx: &Ctx, mut a: Args) -> CliResult {
        let mut opts = BridgeOptions { connect: all(&mut a, "--connect")?, listen: all(&mut a, "--listen")?, ..Default::default() };
        opts.config_file = a.value("--config")?.map(PathBuf::from);
        if let Some(m) = a.value("--mode")? {
            opts.mode = m;
        }
        opts.multicast = a.flag("--multicast");
        opts.zenoh_shm = a.flag("--zenoh-shm");
        opts.scope = a.value("--scope")?;
        let both = all(&mut a, "--topics")?;
        opts.export = all(&mut a, "--export")?;
        opts.import = all(&mut a, "--import")?;
        opts.export.extend(both.iter().cloned());
        opts.import.extend(both);
        for c in all(&mut a, "--compress")? {
            let (glob, how) = c.split_once('=').ok_or_else(|| CliError::usage(format!("--compress takes GLOB=lz4|zstd|none, not {c:?}")))?;
            let how = Compression::parse(how).ok_or_else(|| CliError::usage(format!("--compress: {how:?} is not lz4, zstd or none")))?;
            opts.compression.push((glob.to_string(), how));
        }
        let ros2 = a.flag("--ros2");
        let domain = a.parsed::<u32>("--domain")?;
        let humble = a.flag("--humble");
        let node = a.value("--node")?;
        let map = a.value("--ros2-map")?;
        if ros2 {
            let mut r = crate::ros2::Ros2Options::default();
            if let Some(f) = &map {
                let text = std::fs::read_to_string(f).map_err(|e| CliError::new(format!("{f}: {e}")))?;
                r.load(&text).map_err(|e| CliError::usage(e.to_string()))?;
            }
            r.domain = domain.unwrap_or(r.domain);
            r.humble |= humble;
            if let Some(n) = node {
                r.node = n;
            }
            for (list, export) in [(&opts.export, true), (&opts.import, false)] {
                for spec in list {
                    r.topics.push(crate::ros2::Ros2Topic::parse(spec, export).map_err(|e| CliError::usage(e.to_string()))?);
                }
            }
            opts.export.clear();
            opts.import.clear();
            opts.ros2 = Some(r);
        } else if domain.is_some() || humble || node.is_some() || map.is_some() {
            return Err(CliError::usage("--domain, --humble, --node and --ros2-map need --ros2"));
        }
        let duration = a.parsed::<f64>("--duration")?.map(Duration::from_secs_f64);
        let as_json = a.flag("--json");
        a.finish()?;
        if opts.export.is_empty() && opts.import.is_empty() && opts.ros2.as_ref().is_none_or(|r| r.topics.is_empty()) {
            return Err(CliError::usage("bridge: give --topics (both ways), --export or --import"));
        }
        let ns = ctx.join()?;
        tensorbus::stop_on_signals().map_err(|e| CliError::new(e.to_string()))?;
        let bridge = Bridge::start(&ns, opts.clone()).map_err(|e| CliError::new(e.to_string()))?;
        match &opts.ros2 {
            Some(r) => eprintln!(
                "bridge {} (namespace {:?}): ROS 2 domain {}{}: {}; connect {:?}, listen {:?} (Ctrl-C to stop)",
                bridge.zid(),
                ctx.name(),
                r.domain,
                if r.humble { " (Humble)" } else { "" },
                r.topics.iter().map(|t| format!("{} {} {}", t.topic, if t.export { "->" } else { "<-" }, t.ros_name)).collect::<Vec<_>>().join(", "),
                opts.connect,
                opts.listen
            ),
            None => eprintln!(
                "bridge {} (namespace {:?}): exporting {:?}, importing {:?}; connect {:?}, listen {:?} (Ctrl-C to stop)",
                bridge.zid(),
                ctx.name(),
                opts.export,
                opts.import,
                opts.connect,
                opts.listen
            ),
        }
        let t0 = Instant::now();
        while !tensorbus::signalled() && duration.is_none_or(|d| t0.elapsed() < d) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let r = bridge.stop().map_err(|e| CliError::new(e.to_string()))?;
        if as_json {
            println!("{}", serde_json::to_string_pretty(&r).map_err(|e| CliError::new(e.to_string()))?);
            return Ok(0);
        }
        for t in &r.topics {
            println!(
                "{} {}: {} messages, {:.1} MB, {} lost, {} dropped, {} missed{}",
                t.direction,
                t.name,
                t.messages,
                t.bytes as f64 / 1e6,
                t.lost,
                t.dropped,
                t.misses,
                if t.remote.is_empty() { String::new() } else { format!(" ({})", t.remote) }
            );
        }
        if r.malformed > 0 {
            println!("{} malformed sample(s) refused", r.malformed);
        }
        Ok(0)
    }
}
