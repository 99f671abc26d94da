//! The `tensorbus` command (see `tensorbus::cli`).

fn main() {
    std::process::exit(tensorbus::cli::main(std::env::args().skip(1).collect()));
}
