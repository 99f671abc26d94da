//! Errors of the tensor crate: one small enum per operation family, one umbrella [`Error`].
//!
//! Everything read from shared memory or from a foreign DLPack producer that fails validation
//! is an `Err`, never a panic.

use crate::dtype::DType;
use crate::encoding::Encoding;
use tensorbus_pool::{AcquireError, DescriptorError};

/// Building, loaning or resolving a payload failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    #[error("unknown payload kind {kind}")]
    BadKind { kind: u8 },
    #[error("unknown dtype code {code}")]
    BadDType { code: u8 },
    #[error("{kind} payload cannot have {ndim} dimensions (allowed {min}..={max})")]
    BadNdim { kind: &'static str, ndim: usize, min: usize, max: usize },
    #[error("dimension {axis} is zero")]
    ZeroDim { axis: usize },
    #[error("dimension {axis} = {dim} exceeds u32::MAX")]
    DimTooLarge { axis: usize, dim: usize },
    #[error("shape {shape:?} of {dtype} overflows the byte size")]
    Overflow { shape: Vec<usize>, dtype: DType },
    #[error("{kind} payload: invalid shape {shape:?}: {reason}")]
    BadShape { kind: &'static str, shape: Vec<usize>, reason: &'static str },
    #[error("{kind} payload needs dtype {expected}, got {found}")]
    DTypeMismatch { kind: &'static str, expected: DType, found: DType },
    #[error("{kind} payload: invalid aux value {aux} (unknown encoding, depth unit or point fields)")]
    BadAux { kind: &'static str, aux: u16 },
    #[error("encoding {encoding} needs {} with {} channel(s), got {dtype} of shape {shape:?}", encoding.dtype(), encoding.channels())]
    EncodingMismatch { encoding: Encoding, dtype: DType, shape: Vec<usize> },
    #[error("payload length {found} differs from shape x itemsize = {expected}")]
    LenMismatch { expected: u64, found: u64 },
    #[error("payload of {len} bytes exceeds the largest pool class ({max} bytes)")]
    TooLarge { len: u64, max: u64 },
    #[error("frame id invalid: {reason}")]
    BadFrameId { reason: &'static str },
    #[error("slot metadata invalid: {reason}")]
    BadMeta { reason: &'static str },
    #[error("expected a {expected} payload, got {found}")]
    WrongKind { expected: &'static str, found: &'static str },
    #[error("payload data is not aligned for {dtype}")]
    Misaligned { dtype: DType },
    #[error(transparent)]
    Pool(#[from] AcquireError),
    #[error(transparent)]
    Descriptor(#[from] DescriptorError),
}

/// Exporting or importing a DLPack tensor failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DLPackError {
    #[error("null DLTensor pointer")]
    NullTensor,
    #[error("ndim {ndim} outside 0..=8")]
    BadNdim { ndim: i64 },
    #[error("null shape with ndim {ndim}")]
    NullShape { ndim: usize },
    #[error("dimension {axis} is negative or too large: {dim}")]
    BadDim { axis: usize, dim: i64 },
    #[error("element count or byte size overflows")]
    Overflow,
    #[error("null data pointer for a tensor of {numel} elements")]
    NullData { numel: u64 },
    #[error("unsupported DLPack dtype (code {code}, bits {bits}, lanes {lanes})")]
    BadDType { code: u8, bits: u8, lanes: u16 },
    #[error("byte_offset {offset} invalid (overflow or not aligned to the element size)")]
    BadByteOffset { offset: u64 },
    #[error("unknown DLPack device type {device_type}")]
    BadDevice { device_type: i32 },
    #[error("stride of axis {axis} is {stride}: not supported")]
    BadStride { axis: usize, stride: i64 },
}

/// Reading or writing an image file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageIoError {
    #[error("{path}: {source}")]
    Image { path: String, source: image::ImageError },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("encoding {0} cannot be saved (supported: mono8, mono16, rgb8, bgr8, rgba8, bgra8)")]
    Unsupported(Encoding),
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// The umbrella error of the tensor crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error(transparent)]
    DLPack(#[from] DLPackError),
    #[error(transparent)]
    ImageIo(#[from] ImageIoError),
}
