//! [`PayloadKind`]: what a payload is, as the descriptor's `kind` byte says, and the number of
//! dimensions each kind allows.

use tensorbus_pool::descriptor::{kind, MAX_DIMS};

/// What a payload is (the descriptor's `kind` byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadKind {
    /// Raw bytes: dtype uint8, one dimension.
    Bytes,
    /// An [`crate::Image`]: `aux` is the [`Encoding`](crate::Encoding).
    Image,
    /// A [`crate::DepthImage`]: `aux` is the [`DepthUnit`](crate::DepthUnit).
    Depth,
    /// A [`crate::PointCloud`]: `aux` is the [`PointFields`](crate::PointFields).
    Points,
    /// A [`crate::Tensor`]: `aux` is 0.
    Tensor,
}

impl PayloadKind {
    pub const fn code(self) -> u8 {
        match self {
            PayloadKind::Bytes => kind::BYTES,
            PayloadKind::Image => kind::IMAGE,
            PayloadKind::Depth => kind::DEPTH,
            PayloadKind::Points => kind::POINTS,
            PayloadKind::Tensor => kind::TENSOR,
        }
    }
    /// The kind for a descriptor code; None for empty, inline, msgpack and unknown codes.
    pub fn from_code(code: u8) -> Option<PayloadKind> {
        Some(match code {
            kind::BYTES => PayloadKind::Bytes,
            kind::IMAGE => PayloadKind::Image,
            kind::DEPTH => PayloadKind::Depth,
            kind::POINTS => PayloadKind::Points,
            kind::TENSOR => PayloadKind::Tensor,
            _ => return None,
        })
    }
    pub const fn name(self) -> &'static str {
        match self {
            PayloadKind::Bytes => "bytes",
            PayloadKind::Image => "image",
            PayloadKind::Depth => "depth",
            PayloadKind::Points => "points",
            PayloadKind::Tensor => "tensor",
        }
    }
    /// Allowed number of dimensions.
    pub(super) const fn ndim_range(self) -> (usize, usize) {
        match self {
            PayloadKind::Bytes => (1, 1),
            PayloadKind::Image => (2, 3),
            PayloadKind::Depth | PayloadKind::Points => (2, 2),
            PayloadKind::Tensor => (1, MAX_DIMS),
        }
    }
}
