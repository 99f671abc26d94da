//! The `tensorbus` console command: the Python entry point (`tensorbus.__main__:main`) calls
//! [`cli_main`], so the console script and `cargo run --bin tensorbus` are one implementation.

use pyo3::prelude::*;

/// Run the `tensorbus` CLI with `args` (without the program name); returns the exit code.
#[pyfunction]
pub fn cli_main(py: Python<'_>, args: Vec<String>) -> i32 {
    py.detach(|| tensorbus_cli::main(args))
}
