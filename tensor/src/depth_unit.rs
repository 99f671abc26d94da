//! [`DepthUnit`]: the unit (and element type) of a depth image, carried as the descriptor's
//! `aux` code of a depth payload (1 metres as float32, 2 millimetres as uint16).
//!
//! A file of its own (re-exported as `depth::DepthUnit`) because the payload core validates
//! `aux` codes without depending on the depth image wrapper.

use crate::dtype::DType;

/// Unit (and element type) of a depth image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum DepthUnit {
    /// float32 metres (NaN or 0 = no reading, by convention).
    Metres = 1,
    /// uint16 millimetres (0 = no reading), as most RGB-D cameras deliver.
    Millimetres = 2,
}

impl DepthUnit {
    pub const fn code(self) -> u16 {
        self as u16
    }
    pub fn from_code(code: u16) -> Option<DepthUnit> {
        match code {
            1 => Some(DepthUnit::Metres),
            2 => Some(DepthUnit::Millimetres),
            _ => None,
        }
    }
    pub const fn dtype(self) -> DType {
        match self {
            DepthUnit::Metres => DType::F32,
            DepthUnit::Millimetres => DType::U16,
        }
    }
    /// The unit stored as `dtype`, if any.
    pub fn for_dtype(dtype: DType) -> Option<DepthUnit> {
        match dtype {
            DType::F32 => Some(DepthUnit::Metres),
            DType::U16 => Some(DepthUnit::Millimetres),
            _ => None,
        }
    }
    pub const fn name(self) -> &'static str {
        match self {
            DepthUnit::Metres => "m",
            DepthUnit::Millimetres => "mm",
        }
    }
    /// Metres per stored unit.
    pub const fn scale(self) -> f32 {
        match self {
            DepthUnit::Metres => 1.0,
            DepthUnit::Millimetres => 0.001,
        }
    }
}
