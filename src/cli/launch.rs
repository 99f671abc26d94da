//! `tensorbus launch FILE`: run the nodes of a TOML launch file as separate processes.
//!
//! ```toml
//! grace_s = 5                      # optional: SIGINT, then SIGTERM after this, then SIGKILL
//!
//! [[node]]
//! name = "camera"
//! cmd = ["${LAUNCH_DIR}/../../target/release/examples/camera_driver", "--rate", "30"]
//! env = { TENSORBUS_NAMESPACE = "demo" }
//! restart = "on-failure"           # "never" (default) | "on-failure" | "always"
//! max_restarts = 3                 # default 3
//! required = false                 # true: when it ends for good, stop everything
//! cwd = "."                        # default: the launch file's directory
//! ```
//!
//! `${VAR}` and `${VAR:-default}` in `cmd`, `env` and `cwd` expand from the environment;
//! `${LAUNCH_DIR}` is the launch file's directory. Each output line is prefixed with `[name]`;
//! the launcher's own lines (`[launch] ...`) go to stderr. Children get their own process group
//! (Ctrl-C reaches the launcher, which stops them in order) and die with the launcher.
//! Exit code: 0 when every node ended successfully (or was stopped by Ctrl-C), else 1.

use super::args::Args;
use super::error::{CliError, CliResult};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchFile {
    #[serde(default)]
    pub grace_s: Option<f64>,
    #[serde(default, rename = "node")]
    pub nodes: Vec<NodeSpec>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    #[default]
    Never,
    OnFailure,
    Always,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub name: String,
    pub cmd: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub restart: Restart,
    #[serde(default = "default_max_restarts")]
    pub max_restarts: u32,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub cwd: Option<String>,
}

fn default_max_restarts() -> u32 {
    3
}

/// Expand `${VAR}` and `${VAR:-default}`; `lookup` answers variables.
pub fn expand(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let inner = &rest[i + 2..i + j];
        let (var, default) = match inner.split_once(":-") {
            Some((v, d)) => (v, Some(d)),
            None => (inner, None),
        };
        match lookup(var).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(&v),
            None => out.push_str(default.unwrap_or("")),
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

/// Parse and check a launch file.
pub fn parse(text: &str) -> Result<LaunchFile, CliError> {
    let f: LaunchFile = toml::from_str(text).map_err(|e| CliError::new(format!("launch file: {e}")))?;
    if f.nodes.is_empty() {
        return Err(CliError::new("launch file: no [[node]] entries"));
    }
    let mut seen = std::collections::HashSet::new();
    for n in &f.nodes {
        if n.cmd.is_empty() {
            return Err(CliError::new(format!("launch file: node {:?} has an empty cmd", n.name)));
        }
        if !seen.insert(n.name.as_str()) {
            return Err(CliError::new(format!("launch file: node name {:?} used twice", n.name)));
        }
    }
    Ok(f)
}

fn say(msg: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "[launch] {msg}");
}

fn describe(s: ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "unknown status".into(),
    }
}

struct Proc {
    spec: NodeSpec,
    cmd: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    child: Option<Child>,
    restarts: u32,
    restart_at: Option<Instant>,
    done: bool,
    failed: bool,
}

impl Proc {
    fn spawn(&mut self) {
        let mut c = Command::new(&self.cmd[0]);
        c.args(&self.cmd[1..]).current_dir(&self.cwd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if std::env::var_os("PYTHONUNBUFFERED").is_none() {
            c.env("PYTHONUNBUFFERED", "1"); // line-by-line output from Python nodes
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c.process_group(0);
        // SAFETY: the closure runs in the forked child before exec and only calls prctl, which
        // is async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        match c.spawn() {
            Ok(mut child) => {
                say(&format!("{} started (pid {})", self.spec.name, child.id()));
                let name = self.spec.name.clone();
                if let Some(out) = child.stdout.take() {
                    let name = name.clone();
                    std::thread::spawn(move || forward(out, &name, false));
                }
                if let Some(err) = child.stderr.take() {
                    std::thread::spawn(move || forward(err, &name, true));
                }
                self.child = Some(child);
            }
            Err(e) => {
                say(&format!("{} failed to start: {}: {e}", self.spec.name, self.cmd[0]));
                self.done = true;
                self.failed = true;
            }
        }
    }

    fn signal(&self, sig: libc::c_int) {
        if let Some(c) = &self.child {
            // SAFETY: kill has no memory preconditions; the pid is our unreaped child, so it
            // cannot have been recycled. The group is the child's own (process_group(0)).
            unsafe {
                libc::kill(-(c.id() as libc::pid_t), sig);
            }
        }
    }
}

fn forward(r: impl std::io::Read, name: &str, err: bool) {
    for line in BufReader::new(r).split(b'\n').map_while(Result::ok) {
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches('\r');
        if err {
            let _ = writeln!(std::io::stderr().lock(), "[{name}] {line}");
        } else {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "[{name}] {line}");
            let _ = o.flush();
        }
    }
}

pub fn run(mut a: Args) -> CliResult {
    let grace_arg: Option<f64> = a.parsed("--grace")?;
    let file = a.required("launch file")?;
    a.finish()?;
    let path = Path::new(&file);
    let text = std::fs::read_to_string(path).map_err(|e| CliError::new(format!("{file}: {e}")))?;
    let spec = parse(&text)?;
    let dir = std::fs::canonicalize(path).ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_else(|| PathBuf::from("."));
    let grace = Duration::from_secs_f64(grace_arg.or(spec.grace_s).unwrap_or(5.0).max(0.0));
    let dir_s = dir.display().to_string();
    let lookup = |v: &str| if v == "LAUNCH_DIR" { Some(dir_s.clone()) } else { std::env::var(v).ok() };

    let mut procs: Vec<Proc> = spec
        .nodes
        .into_iter()
        .map(|n| {
            let cmd = n.cmd.iter().map(|s| expand(s, &lookup)).collect();
            let env = n.env.iter().map(|(k, v)| (k.clone(), expand(v, &lookup))).collect();
            let cwd = n.cwd.as_deref().map(|c| dir.join(expand(c, &lookup))).unwrap_or_else(|| dir.clone());
            Proc { spec: n, cmd, env, cwd, child: None, restarts: 0, restart_at: None, done: false, failed: false }
        })
        .collect();

    crate::stop::stop_on_signals()?;
    for p in &mut procs {
        p.spawn();
    }
    let mut stopping: Option<Instant> = None;
    let mut termed = false;
    let mut killed = false;
    loop {
        if stopping.is_none() && crate::stop::signalled() {
            say("stopping (SIGINT to every node)");
            stopping = Some(Instant::now());
        }
        let mut stop_all = false;
        for p in &mut procs {
            if let Some(child) = &mut p.child {
                let Ok(Some(status)) = child.try_wait() else { continue };
                p.child = None;
                let ok = status.success();
                if stopping.is_some() {
                    say(&format!("{} stopped ({})", p.spec.name, describe(status)));
                    p.done = true;
                    continue;
                }
                let again = match p.spec.restart {
                    Restart::Never => false,
                    Restart::OnFailure => !ok,
                    Restart::Always => true,
                } && p.restarts < p.spec.max_restarts;
                if again {
                    p.restarts += 1;
                    say(&format!("{} exited ({}); restarting ({}/{})", p.spec.name, describe(status), p.restarts, p.spec.max_restarts));
                    p.restart_at = Some(Instant::now() + Duration::from_millis(200));
                } else {
                    say(&format!("{} exited ({}){}", p.spec.name, describe(status), if p.restarts > 0 { format!(" after {} restart(s)", p.restarts) } else { String::new() }));
                    p.done = true;
                    p.failed = !ok;
                    if p.spec.required {
                        say(&format!("{} is required: stopping the rest", p.spec.name));
                        stop_all = true;
                    }
                }
            } else if let Some(at) = p.restart_at {
                if stopping.is_some() {
                    p.restart_at = None;
                    p.done = true;
                } else if Instant::now() >= at {
                    p.restart_at = None;
                    p.spawn();
                }
            }
        }
        if stop_all && stopping.is_none() {
            stopping = Some(Instant::now());
        }
        if let Some(t0) = stopping {
            if !termed && !killed && t0.elapsed() < Duration::from_millis(60) {
                procs.iter().for_each(|p| p.signal(libc::SIGINT));
            }
            if !termed && t0.elapsed() >= grace {
                termed = true;
                say("grace period over: SIGTERM");
                procs.iter().for_each(|p| p.signal(libc::SIGTERM));
            }
            if !killed && t0.elapsed() >= grace * 2 {
                killed = true;
                say("SIGKILL");
                procs.iter().for_each(|p| p.signal(libc::SIGKILL));
            }
        }
        if procs.iter().all(|p| p.done) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let failed: Vec<&str> = procs.iter().filter(|p| p.failed).map(|p| p.spec.name.as_str()).collect();
    if failed.is_empty() {
        say("all nodes ended");
        Ok(0)
    } else {
        say(&format!("failed: {}", failed.join(", ")));
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_variables_with_defaults() {
        let look = |v: &str| (v == "A").then(|| "x".to_string());
        assert_eq!(expand("${A}/b/${B:-py}/${C}", &look), "x/b/py/");
        assert_eq!(expand("plain", &look), "plain");
        assert_eq!(expand("${unterminated", &look), "${unterminated");
    }

    #[test]
    fn parses_nodes_and_rejects_mistakes() {
        let f = parse("[[node]]\nname='a'\ncmd=['true']\nrestart='on-failure'\nmax_restarts=2\nenv={X='1'}\n").unwrap();
        assert_eq!(f.nodes[0].restart, Restart::OnFailure);
        assert_eq!(f.nodes[0].max_restarts, 2);
        assert!(parse("[[node]]\nname='a'\ncmd=[]\n").is_err());
        assert!(parse("[[node]]\nname='a'\ncmd=['x']\n[[node]]\nname='a'\ncmd=['y']\n").is_err());
        assert!(parse("[[node]]\nname='a'\ncmd=['x']\nrestart='sometimes'\n").is_err());
        assert!(parse("").is_err());
    }
}
