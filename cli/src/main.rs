//! The `tensorbus` command (see `tensorbus_cli`). Library log records go to stderr through the
//! default logger (`tensorbus::logging`; level from `TENSORBUS_LOG` or `RUST_LOG`).

fn main() {
    tensorbus::logging::init_default();
    std::process::exit(tensorbus_cli::main(std::env::args().skip(1).collect()));
}
