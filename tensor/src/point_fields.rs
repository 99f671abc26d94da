//! [`PointFields`]: the per-point fields of a point cloud (xyz, xyzi, xyzrgb), carried as the
//! descriptor's `aux` code of a points payload; the width is the float32 values per point.
//!
//! A file of its own (re-exported as `points::PointFields`) because the payload core validates
//! `aux` codes without depending on the point cloud wrapper.

/// The per-point fields of a point cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum PointFields {
    /// x, y, z.
    Xyz = 1,
    /// x, y, z, intensity.
    Xyzi = 2,
    /// x, y, z, r, g, b (colour as three floats).
    Xyzrgb = 3,
}

impl PointFields {
    pub const ALL: [PointFields; 3] = [PointFields::Xyz, PointFields::Xyzi, PointFields::Xyzrgb];
    pub const fn code(self) -> u16 {
        self as u16
    }
    pub fn from_code(code: u16) -> Option<PointFields> {
        match code {
            1 => Some(PointFields::Xyz),
            2 => Some(PointFields::Xyzi),
            3 => Some(PointFields::Xyzrgb),
            _ => None,
        }
    }
    /// float32 values per point.
    pub const fn width(self) -> usize {
        match self {
            PointFields::Xyz => 3,
            PointFields::Xyzi => 4,
            PointFields::Xyzrgb => 6,
        }
    }
    pub const fn name(self) -> &'static str {
        match self {
            PointFields::Xyz => "xyz",
            PointFields::Xyzi => "xyzi",
            PointFields::Xyzrgb => "xyzrgb",
        }
    }
    pub fn parse(s: &str) -> Option<PointFields> {
        PointFields::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(s.trim()))
    }
}
