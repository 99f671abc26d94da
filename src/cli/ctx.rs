//! What every subcommand shares: the namespace selection ([`Ctx`]), resolved once from
//! `--namespace` or the environment, and opened only where it already exists.

use super::error::CliError;
use std::path::PathBuf;
use tensorbus_pool::{Namespace, PoolConfig};

/// What every subcommand shares: the namespace selection.
pub struct Ctx {
    pub namespace: Option<String>,
    dir: PathBuf,
}

impl Ctx {
    /// Resolve the namespace (`--namespace`, `$TENSORBUS_NAMESPACE` or `default`); a name that is
    /// not one plain directory name (`..`, `/`, control characters) is refused here.
    pub fn new(namespace: Option<String>) -> Result<Ctx, CliError> {
        let dir = tensorbus_pool::segment::namespace_dir(namespace.as_deref())?;
        Ok(Ctx { namespace, dir })
    }

    /// The namespace directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// The namespace name as shown to the user.
    pub fn name(&self) -> String {
        self.dir().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Join the namespace, creating it if needed (with the environment's pool geometry, as any
    /// process would): for commands that take part, like `record` and `replay`.
    pub fn join(&self) -> Result<Namespace, CliError> {
        Ok(Namespace::open(self.namespace.as_deref())?)
    }

    /// Open an existing namespace; a missing one is an error (never created by inspection).
    pub fn open(&self) -> Result<Namespace, CliError> {
        let dir = self.dir();
        if !dir.join("registry").exists() {
            return Err(CliError::new(format!("namespace {:?} not found (no {})", self.name(), dir.display())));
        }
        Ok(Namespace::open_dir(&dir, PoolConfig::default())?)
    }
}
