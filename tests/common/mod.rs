//! Shared helpers: a fresh namespace directory per test, removed on drop.
#![allow(dead_code)]

use std::path::PathBuf;
use tensorbus::{Namespace, PoolConfig};

pub struct TempNs {
    pub dir: PathBuf,
}

impl TempNs {
    pub fn new(tag: &str) -> TempNs {
        let dir = std::env::temp_dir().join(format!("tb-facade-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempNs { dir }
    }
    pub fn open(&self) -> Namespace {
        open(&self.dir)
    }
}

impl Drop for TempNs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn open(dir: &std::path::Path) -> Namespace {
    Namespace::open_dir(dir, PoolConfig::parse("4Kx16,1Mx4").unwrap()).unwrap()
}
