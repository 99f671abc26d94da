//! A namespace directory of a test's own, and the pool geometries the suites open it with.

use std::path::{Path, PathBuf};
use tensorbus_pool::{Namespace, PoolConfig};

/// The pool geometry of the pool's tests: 8 slots of 4 KiB, 4 slots of 64 KiB (12 slots in all,
/// the figure `all_slots_free` returns for them).
pub const CLASSES: &str = "4Kx8,64Kx4";

/// The pool geometry of the facade's tests: 16 slots of 4 KiB for typed messages, 4 of 1 MiB for
/// images.
pub const FACADE_CLASSES: &str = "4Kx16,1Mx4";

/// The pool geometry of the tensor crate's unit tests: 8 slots of 4 KiB, 8 of 1 MiB (image files
/// and 8-dimensional tensors).
pub const TENSOR_CLASSES: &str = "4Kx8,1Mx8";

/// A unique namespace directory under the temp dir (`tb-test-<tag>-<pid>`), removed on drop.
///
/// The directory is not created: [`TempNs::open`] (or any `Namespace::open_dir` on it) does.
/// Tags are unique within a test binary; the pid keeps binaries running at once apart.
pub struct TempNs {
    /// The namespace directory.
    pub dir: PathBuf,
    classes: String,
}

impl TempNs {
    /// A fresh directory opened with [`CLASSES`].
    pub fn new(tag: &str) -> TempNs {
        TempNs::with_classes(tag, CLASSES)
    }

    /// A fresh directory opened with the pool geometry `classes` (`PoolConfig::parse` syntax).
    pub fn with_classes(tag: &str, classes: &str) -> TempNs {
        let dir = std::env::temp_dir().join(format!("tb-test-{tag}-{}", std::process::id()));
        // A directory left by an earlier run with the same pid would not be fresh.
        let _ = std::fs::remove_dir_all(&dir);
        TempNs { dir, classes: classes.to_string() }
    }

    /// Open (or join) the namespace in [`TempNs::dir`] with this guard's geometry.
    pub fn open(&self) -> Namespace {
        open_with(&self.dir, &self.classes)
    }
}

impl Drop for TempNs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Open (or join) the namespace in `dir` with [`CLASSES`]: what a child process of the pool's
/// tests does with the directory its parent hands it.
pub fn open(dir: &Path) -> Namespace {
    open_with(dir, CLASSES)
}

/// Open (or join) the namespace in `dir` with the pool geometry `classes`.
pub fn open_with(dir: &Path, classes: &str) -> Namespace {
    Namespace::open_dir(dir, PoolConfig::parse(classes).unwrap()).unwrap()
}
