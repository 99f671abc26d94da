//! How tensorbus logs, and the default stderr logger.
//!
//! The library logs through the [`log`] facade only (`log::warn!` and friends; targets are
//! module paths under `tensorbus`): scheduler misses, tick errors, init and shutdown failures,
//! live-statistics trouble. It never installs a logger by itself, so a Rust program routes
//! these records wherever its own logging goes: install any `log` backend (`env_logger`,
//! `tracing-log`, `systemd-journal-logger`, ...) before running a scheduler.
//!
//! A program that has no logger of its own can call [`init_default`]: a small stderr logger
//! that prints `[tensorbus] <message>` (the format the library always printed). The
//! `tensorbus` binary and the Python module (`tensorbus._native`) call it at start-up, so the
//! CLI and Python nodes print these messages on stderr without any configuration.
//!
//! Its level comes from `TENSORBUS_LOG`, else `RUST_LOG`, else `info`: a level (`off`,
//! `error`, `warn`, `info`, `debug`, `trace`), or `RUST_LOG`-style directives, where a
//! `tensorbus...=LEVEL` directive wins over a bare level (`warn,tensorbus=debug` is `debug`;
//! other crates' directives are ignored). A value that names no level leaves the default.
//! `TENSORBUS_LOG=off` silences tensorbus entirely.

use log::{LevelFilter, Log, Metadata, Record};
use std::io::Write;

/// The default logger: one line per record on stderr.
struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let t = r.target();
        let prefix = if t == "tensorbus" || t.starts_with("tensorbus:") || t.starts_with("tensorbus_") { "tensorbus" } else { t };
        // One write of the whole line (stderr is unbuffered), so lines of threads do not mix;
        // a failed write to stderr has nowhere better to go.
        let _ = std::io::stderr().lock().write_all(format!("[{prefix}] {}\n", r.args()).as_bytes());
    }
    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

static LOGGER: StderrLogger = StderrLogger;

/// The level a `TENSORBUS_LOG`/`RUST_LOG` value asks tensorbus for (None: it names none).
pub fn parse_level(spec: &str) -> Option<LevelFilter> {
    let (mut bare, mut ours) = (None, None);
    for d in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match d.split_once('=') {
            None => bare = d.parse().ok().or(bare),
            Some((target, l)) if target.trim().starts_with("tensorbus") => ours = l.trim().parse().ok().or(ours),
            Some(_) => {}
        }
    }
    ours.or(bare)
}

/// The level [`init_default`] uses, from the environment (see the module docs).
pub fn env_level() -> LevelFilter {
    ["TENSORBUS_LOG", "RUST_LOG"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty())).and_then(|s| parse_level(&s)).unwrap_or(LevelFilter::Info)
}

/// Install the default stderr logger at [`env_level`], unless a logger is already set (then
/// nothing changes and this returns false). Safe to call more than once.
pub fn init_default() -> bool {
    if log::set_logger(&LOGGER).is_err() {
        return false;
    }
    log::set_max_level(env_level());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_plain_and_rust_log_style_values() {
        assert_eq!(parse_level("warn"), Some(LevelFilter::Warn));
        assert_eq!(parse_level("OFF"), Some(LevelFilter::Off));
        assert_eq!(parse_level("warn,tensorbus=debug"), Some(LevelFilter::Debug));
        assert_eq!(parse_level("tensorbus::scheduler=error,info"), Some(LevelFilter::Error));
        assert_eq!(parse_level("debug,other=trace"), Some(LevelFilter::Debug));
        assert_eq!(parse_level("other_crate=trace"), None);
        assert_eq!(parse_level("nonsense"), None);
        assert_eq!(parse_level(""), None);
    }
}
