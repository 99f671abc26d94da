//! Declares `--cfg tensorbus_exhaustive` (set by `make lint`, see src/errors.rs) to rustc's cfg
//! checker, so builds without it do not warn about an unknown cfg.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tensorbus_exhaustive)");
}
