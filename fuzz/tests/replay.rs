//! The fuzz targets as a plain `cargo test` (no nightly needed): every saved input under
//! `regressions/<target>/` and `corpus/<target>/`, then `TB_FUZZ_ITERS` (default 2000) inputs per
//! target from a seeded xorshift RNG (`TB_FUZZ_SEED`, default fixed), mutated from the saved ones.

use std::path::Path;

fn saved(target: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for kind in ["regressions", "corpus"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(kind).join(target);
        if let Ok(rd) = std::fs::read_dir(dir) {
            let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            files.sort();
            out.extend(files.iter().filter_map(|p| std::fs::read(p).ok()));
        }
    }
    out
}

fn run(target: &str, f: fn(&[u8])) {
    let seeds = saved(target);
    for s in &seeds {
        f(s);
    }
    let iters: usize = std::env::var("TB_FUZZ_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let mut x: u64 = std::env::var("TB_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..iters {
        let mut buf = if !seeds.is_empty() && next() % 2 == 0 { seeds[i % seeds.len()].clone() } else { Vec::new() };
        let extra = (next() % 300) as usize;
        if buf.is_empty() {
            buf = (0..extra).map(|_| next() as u8).collect();
        } else {
            for _ in 0..1 + next() % 8 {
                let at = (next() as usize) % buf.len();
                buf[at] = next() as u8;
            }
        }
        f(&buf);
    }
}

#[test]
fn segment_open() {
    run("segment_open", tensorbus_fuzz::segment_open);
}
#[test]
fn descriptor() {
    run("descriptor", tensorbus_fuzz::descriptor);
}
#[test]
fn ring_entry() {
    run("ring_entry", tensorbus_fuzz::ring_entry);
}
#[test]
fn msgpack_dict() {
    run("msgpack_dict", tensorbus_fuzz::msgpack_dict);
}
#[test]
fn dlpack_import() {
    run("dlpack_import", tensorbus_fuzz::dlpack_import);
}
#[test]
fn mcap_read() {
    run("mcap_read", tensorbus_fuzz::mcap_read);
}
#[test]
fn ros2_cdr() {
    run("ros2_cdr", tensorbus_fuzz::ros2_cdr);
}
#[test]
fn bridge_wire() {
    run("bridge_wire", tensorbus_fuzz::bridge_wire);
}
