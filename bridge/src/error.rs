//! Errors of starting and running a bridge (what the network sends is never one of these: a bad
//! sample is a counted drop, see `wire.rs`).

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The Zenoh configuration (a file, an endpoint, a mode) was refused.
    #[error("zenoh configuration: {0}")]
    Config(String),
    /// Zenoh could not open the session or declare a publisher or subscriber.
    #[error("zenoh: {0}")]
    Zenoh(String),
    #[error(transparent)]
    Tensorbus(#[from] tensorbus::Error),
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("a bridge thread panicked")]
    Panicked,
}

impl BridgeError {
    pub(crate) fn zenoh(what: &str, e: impl std::fmt::Display) -> BridgeError {
        BridgeError::Zenoh(format!("{what}: {e}"))
    }
}
