//! Test helpers: a namespace in a unique temporary directory, removed on drop.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use tensorbus_pool::{Namespace, PoolConfig};

pub(crate) struct TempNs {
    pub ns: Namespace,
    dir: PathBuf,
}

impl TempNs {
    pub fn new(name: &str) -> TempNs {
        TempNs::with_classes(name, "4Kx8,1Mx8")
    }
    pub fn with_classes(name: &str, classes: &str) -> TempNs {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!("tb-tensor-{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let ns = Namespace::open_dir(&dir, PoolConfig::parse(classes).expect("classes")).expect("open namespace");
        TempNs { ns, dir }
    }
}

impl Drop for TempNs {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}
