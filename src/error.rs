//! Errors of the facade's topics: one umbrella [`Error`] with conversions from the layers.

use tensorbus_pool::{AcquireError, OpenError, RecvError, SendError, TopicError};
use tensorbus_tensor::PayloadError;

/// An error from a typed or raw topic operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening the topic failed (bad name, type mismatch naming both types, ...).
    #[error(transparent)]
    Topic(#[from] TopicError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Recv(#[from] RecvError),
    #[error(transparent)]
    Acquire(#[from] AcquireError),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// A message of the wrong size was sent or received on a POD topic.
    #[error("topic {topic}: message is {found} bytes, the topic's type {type_name} is {expected} bytes")]
    WrongSize { topic: String, type_name: String, expected: usize, found: usize },
    /// A received descriptor is not of the kind this handle reads.
    #[error("topic {topic}: expected {expected}, received {found}")]
    WrongKind { topic: String, expected: &'static str, found: String },
    /// A MessagePack message could not be decoded (or encoded).
    #[error("topic {topic}: MessagePack: {what}")]
    Msgpack { topic: String, what: String },
}

/// Result of topic operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
