//! Shared helpers: a namespace in a unique temp dir, removed on drop.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use tensorbus_pool::{Namespace, PoolConfig};

pub struct TempNs {
    pub ns: Namespace,
    dir: PathBuf,
}

impl TempNs {
    pub fn new(name: &str) -> TempNs {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!("tb-tensor-it-{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let ns = Namespace::open_dir(&dir, PoolConfig::parse("4Kx8,1Mx8").unwrap()).unwrap();
        TempNs { ns, dir }
    }
    #[allow(dead_code)] // not every test file uses it
    pub fn used(&self) -> u32 {
        self.ns.stats().used_slots()
    }
}

impl Drop for TempNs {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}
