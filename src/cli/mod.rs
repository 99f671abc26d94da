//! The `tensorbus` command: one implementation behind both `cargo run --bin tensorbus` and the
//! `tensorbus` console script of the Python package (which calls [`main`] through `_native`).
//!
//! ```text
//! tensorbus [--namespace NAME] <command>
//!   topic list [--json] [--all]    topics: type, depth, policy, publishers, subscribers, sent
//!   topic info NAME [--json]       one topic in detail
//!   topic hz NAME [--count N] [--window S]   receive rate, min/max/std of the period
//!   topic echo NAME [--count N]    print messages (POD fields, dicts, payload summaries)
//!   pool list [--json]             pools: slot size, slots used/free
//!   pool stat [--json]             pools plus holders by pid and process name, participants
//!   node list [--json]             nodes of running schedulers: rate, tick times, misses
//!   monitor [--count N] [--interval S]  the same as a live table
//!   clean [--dry-run]              remove namespaces whose registered processes are all dead
//!   doctor                         /dev/shm size, permissions, memlock limit, CUDA
//!   launch FILE                    start the nodes of a TOML launch file
//!   view [TOPICS...]               Foxglove live view (Python's: `python -m tensorbus view`)
//! ```
//!
//! Errors are one line on stderr (`error: ...`) and exit code 1; bad usage is exit code 2.
//!
//! Crates above the facade add commands of their own through [`Command`] and [`main_with`] (the
//! recorder's `record` and `replay`, in the `tensorbus-cli` crate that builds the binary), so the
//! facade stays free of what they depend on.

mod args;
pub mod bridges;
mod ctx;
mod doctor;
mod error;
mod launch;
mod nodes;
mod pools;
mod table;
mod topics;

pub use args::Args;
pub use ctx::Ctx;
pub use error::{CliError, CliResult};

pub const USAGE: &str = "usage: tensorbus [--namespace NAME] <command> [options]

commands:
  topic list [--json] [--all]              topics with type, depth, publishers, subscribers, sent
                                           (--all: also tensorbus's own _tb.* topics)
  topic info NAME [--json]                 one topic in detail
  topic hz NAME [--count N] [--window S]   receive rate and period statistics (Ctrl-C to stop)
  topic echo NAME [--count N]              print messages as they arrive (Ctrl-C to stop)
  pool list [--json]                       pools: slot size, slots used/free
  pool stat [--json]                       pools, holders by pid and process name, participants
  node list [--json]                       nodes of running schedulers: rate, tick times, misses, errors
  monitor [--count N] [--interval S]       the same as a live table (Ctrl-C to stop)
  clean [--dry-run]                        remove namespaces whose processes are all dead
  doctor                                   check /dev/shm, permissions, memlock limit, CUDA
  launch FILE [--grace S]                  run the nodes of a TOML launch file
  view [TOPICS...] [--port N] [--host H]   stream topics to the Foxglove app (Python package:
                                           python -m tensorbus view; pip install tensorbus[view])

global options:
  --namespace NAME   namespace to inspect (default: $TENSORBUS_NAMESPACE or 'default');
                     the base directory is $TENSORBUS_SHM_DIR or /dev/shm/tensorbus-<uid>
  -h, --help         this text";

/// A command added by a crate above the facade.
pub trait Command: Sync {
    /// The word that selects it (`record`).
    fn name(&self) -> &'static str;
    /// Its lines for the usage text (`  record -o FILE [TOPICS...]   ...`).
    fn usage(&self) -> &'static str;
    /// Run it with the arguments after its name.
    fn run(&self, ctx: &Ctx, a: Args) -> CliResult;
}

/// The usage text with the lines of `extra` commands.
pub fn usage(extra: &[&dyn Command]) -> String {
    if extra.is_empty() {
        return USAGE.to_string();
    }
    let lines: Vec<&str> = extra.iter().map(|c| c.usage().trim_end()).collect();
    USAGE.replacen("\n\nglobal options:", &format!("\n{}\n\nglobal options:", lines.join("\n")), 1)
}

/// Run the CLI with `args` (without the program name); returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    main_with(args, &[])
}

/// [`main`] with the commands of `extra` as well.
pub fn main_with(args: Vec<String>, extra: &[&dyn Command]) -> i32 {
    match run(args, extra) {
        Ok(code) => code,
        Err(e) => {
            if e.code == 2 {
                eprintln!("error: {}\n\n{}", e.msg, usage(extra));
            } else {
                eprintln!("error: {}", e.msg);
            }
            e.code
        }
    }
}

fn run(args: Vec<String>, extra: &[&dyn Command]) -> CliResult {
    let mut a = Args::new(args);
    if a.flag("-h") || a.flag("--help") {
        println!("{}", usage(extra));
        return Ok(0);
    }
    let namespace = a.value("--namespace")?;
    let ctx = Ctx::new(namespace)?;
    let Some(cmd) = a.positional() else {
        a.finish()?;
        return Err(CliError::usage("missing command"));
    };
    match cmd.as_str() {
        "topic" => {
            let sub = a.positional().ok_or_else(|| CliError::usage("topic: expected list, info, hz or echo"))?;
            match sub.as_str() {
                "list" | "ls" => topics::list(&ctx, a),
                "info" => topics::info(&ctx, a),
                "hz" => topics::hz(&ctx, a),
                "echo" => topics::echo(&ctx, a),
                s => Err(CliError::usage(format!("topic: unknown subcommand {s:?}"))),
            }
        }
        "pool" => {
            let sub = a.positional().ok_or_else(|| CliError::usage("pool: expected list or stat"))?;
            match sub.as_str() {
                "list" | "ls" => pools::list(&ctx, a, false),
                "stat" => pools::list(&ctx, a, true),
                s => Err(CliError::usage(format!("pool: unknown subcommand {s:?}"))),
            }
        }
        "node" => {
            let sub = a.positional().ok_or_else(|| CliError::usage("node: expected list"))?;
            match sub.as_str() {
                "list" | "ls" => nodes::list(&ctx, a),
                s => Err(CliError::usage(format!("node: unknown subcommand {s:?}"))),
            }
        }
        "monitor" => nodes::monitor(&ctx, a),
        "clean" => pools::clean(&ctx, a),
        "doctor" => doctor::run(&ctx, a),
        "launch" => launch::run(a),
        // The Python package handles `view` before it gets here (tensorbus/__main__.py).
        "view" => Err(CliError::new("view is the Python package's: run `python -m tensorbus view` (pip install tensorbus[view])")),
        "help" => {
            println!("{}", usage(extra));
            Ok(0)
        }
        c => match extra.iter().find(|x| x.name() == c) {
            Some(x) => x.run(&ctx, a),
            None => Err(CliError::usage(format!("unknown command {c:?}"))),
        },
    }
}
