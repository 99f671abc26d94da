//! Errors of recording, reading and replaying.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("MCAP: {0}")]
    Mcap(#[from] mcap::McapError),
    #[error(transparent)]
    Tensorbus(#[from] tensorbus::Error),
    #[error("{file}: topic {topic}: {why}")]
    Message { file: String, topic: String, why: String },
    #[error("{0}")]
    Usage(String),
    #[error("the recorder thread panicked")]
    Panicked,
}

impl RecordError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> RecordError {
        RecordError::Io { what: what.into(), source }
    }
}
