//! tensorbus-cli: the `tensorbus` command. The facade's commands (`tensorbus::cli`: topics,
//! pools, nodes, monitor, clean, doctor, launch) plus those of the crates above the facade
//! (`tensorbus-record`: `record`, `record info`, `replay`; `tensorbus-bridge`: `bridge`), so the
//! facade itself stays free of MCAP and Zenoh. The Python package's `tensorbus` console script runs [`main`] through `_native`.

use tensorbus::cli::Command;

/// The commands this crate adds to the facade's.
pub const EXTRA: &[&dyn Command] = &[&tensorbus_record::cli::RecordCommand, &tensorbus_record::cli::ReplayCommand, &tensorbus_bridge::cli::BridgeCommand];

/// Run the CLI with `args` (without the program name); returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    tensorbus::cli::main_with(args, EXTRA)
}
