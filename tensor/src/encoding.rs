//! Image pixel encodings: what the descriptor's `aux` field holds for `kind == IMAGE`.
//!
//! Each encoding fixes the element type and the channel count. One-channel images have shape
//! `H x W`; all others `H x W x C`.
//!
//! ```text
//! aux name         dtype    channels
//!  1  mono8        uint8    1
//!  2  mono16       uint16   1
//!  3  rgb8         uint8    3
//!  4  bgr8         uint8    3
//!  5  rgba8        uint8    4
//!  6  bgra8        uint8    4
//!  7  yuv422       uint8    2   (packed YUYV: H x W x 2)
//!  8  mono32f      float32  1
//!  9  rgb32f       float32  3
//! 10  bayer_rggb8  uint8    1
//! ```
//! Code 0 is reserved (no encoding). Codes are wire format and never change.

use crate::dtype::DType;
use std::fmt;
use std::str::FromStr;

/// A pixel encoding (names follow ROS `sensor_msgs/image_encodings`).
///
/// ```
/// use tensorbus_tensor::{DType, Encoding};
/// let e: Encoding = "rgb8".parse().unwrap();
/// assert_eq!((e.dtype(), e.channels()), (DType::U8, 3));
/// assert_eq!(Encoding::infer(&[480, 640, 3], DType::U8), Some(Encoding::Rgb8));
/// assert_eq!(Encoding::infer(&[480, 640, 2], DType::U8), None); // ambiguous
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Encoding {
    Mono8 = 1,
    Mono16 = 2,
    Rgb8 = 3,
    Bgr8 = 4,
    Rgba8 = 5,
    Bgra8 = 6,
    Yuv422 = 7,
    Mono32F = 8,
    Rgb32F = 9,
    BayerRggb8 = 10,
}

impl Encoding {
    /// Every encoding, in code order.
    pub const ALL: [Encoding; 10] = [
        Encoding::Mono8,
        Encoding::Mono16,
        Encoding::Rgb8,
        Encoding::Bgr8,
        Encoding::Rgba8,
        Encoding::Bgra8,
        Encoding::Yuv422,
        Encoding::Mono32F,
        Encoding::Rgb32F,
        Encoding::BayerRggb8,
    ];

    /// The stable code carried in the descriptor's `aux` field.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The encoding for an `aux` code, or None if unknown (including 0).
    pub fn from_code(code: u16) -> Option<Encoding> {
        match code {
            1..=10 => Some(Encoding::ALL[code as usize - 1]),
            _ => None,
        }
    }

    /// Element type of each channel.
    pub const fn dtype(self) -> DType {
        match self {
            Encoding::Mono16 => DType::U16,
            Encoding::Mono32F | Encoding::Rgb32F => DType::F32,
            _ => DType::U8,
        }
    }

    /// Channels per pixel (the size of the last axis, or 1 for `H x W` images).
    pub const fn channels(self) -> usize {
        match self {
            Encoding::Mono8 | Encoding::Mono16 | Encoding::Mono32F | Encoding::BayerRggb8 => 1,
            Encoding::Yuv422 => 2,
            Encoding::Rgb8 | Encoding::Bgr8 | Encoding::Rgb32F => 3,
            Encoding::Rgba8 | Encoding::Bgra8 => 4,
        }
    }

    /// Bytes per pixel.
    pub const fn bytes_per_pixel(self) -> usize {
        self.channels() * self.dtype().itemsize()
    }

    /// The name (`"rgb8"`, `"mono32f"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Encoding::Mono8 => "mono8",
            Encoding::Mono16 => "mono16",
            Encoding::Rgb8 => "rgb8",
            Encoding::Bgr8 => "bgr8",
            Encoding::Rgba8 => "rgba8",
            Encoding::Bgra8 => "bgra8",
            Encoding::Yuv422 => "yuv422",
            Encoding::Mono32F => "mono32f",
            Encoding::Rgb32F => "rgb32f",
            Encoding::BayerRggb8 => "bayer_rggb8",
        }
    }

    /// Parse a name, case-insensitively; ROS spellings `8UC1`/`16UC1`/`32FC1`/`yuyv` accepted.
    pub fn parse(name: &str) -> Option<Encoding> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "mono8" | "8uc1" | "gray" | "l" => Encoding::Mono8,
            "mono16" | "16uc1" => Encoding::Mono16,
            "rgb8" | "rgb" => Encoding::Rgb8,
            "bgr8" | "bgr" => Encoding::Bgr8,
            "rgba8" | "rgba" => Encoding::Rgba8,
            "bgra8" | "bgra" => Encoding::Bgra8,
            "yuv422" | "yuyv" | "yuv422_yuy2" => Encoding::Yuv422,
            "mono32f" | "32fc1" => Encoding::Mono32F,
            "rgb32f" | "32fc3" => Encoding::Rgb32F,
            "bayer_rggb8" => Encoding::BayerRggb8,
            _ => return None,
        })
    }

    /// The image shape for `height x width` pixels: `[h, w]` for one channel, else `[h, w, c]`.
    pub fn shape(self, height: usize, width: usize) -> Vec<usize> {
        let (dims, n) = self.dims(height, width);
        dims[..n].to_vec()
    }

    /// [`Encoding::shape`] without the allocation: the dims and how many of them are used.
    pub(crate) fn dims(self, height: usize, width: usize) -> ([usize; 3], usize) {
        match self.channels() {
            1 => ([height, width, 0], 2),
            c => ([height, width, c], 3),
        }
    }

    /// True if an array of `shape` and `dtype` can carry this encoding: dtype matches and the
    /// shape is `H x W` (one channel) or `H x W x C` with `C == channels()`.
    pub fn matches(self, shape: &[usize], dtype: DType) -> bool {
        if dtype != self.dtype() {
            return false;
        }
        match shape.len() {
            2 => self.channels() == 1,
            3 => shape[2] == self.channels(),
            _ => false,
        }
    }

    /// The encoding a NumPy array of `shape`/`dtype` most likely carries, where unambiguous:
    /// HxW u8 → mono8, HxWx3 u8 → rgb8, HxWx4 u8 → rgba8, HxW u16 → mono16, HxW f32 → mono32f,
    /// HxWx3 f32 → rgb32f. Anything else (BGR, YUV, Bayer cannot be told apart) is None.
    pub fn infer(shape: &[usize], dtype: DType) -> Option<Encoding> {
        match (shape.len(), shape.get(2).copied(), dtype) {
            (2, _, DType::U8) => Some(Encoding::Mono8),
            (3, Some(1), DType::U8) => Some(Encoding::Mono8),
            (3, Some(3), DType::U8) => Some(Encoding::Rgb8),
            (3, Some(4), DType::U8) => Some(Encoding::Rgba8),
            (2, _, DType::U16) => Some(Encoding::Mono16),
            (3, Some(1), DType::U16) => Some(Encoding::Mono16),
            (2, _, DType::F32) => Some(Encoding::Mono32F),
            (3, Some(1), DType::F32) => Some(Encoding::Mono32F),
            (3, Some(3), DType::F32) => Some(Encoding::Rgb32F),
            _ => None,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown encoding name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown image encoding {0:?} (expected mono8, mono16, rgb8, bgr8, rgba8, bgra8, yuv422, mono32f, rgb32f, bayer_rggb8)")]
pub struct ParseEncodingError(pub String);

impl FromStr for Encoding {
    type Err = ParseEncodingError;
    fn from_str(s: &str) -> Result<Encoding, ParseEncodingError> {
        Encoding::parse(s).ok_or_else(|| ParseEncodingError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for e in Encoding::ALL {
            assert_eq!(Encoding::from_code(e.code()), Some(e));
            assert_eq!(Encoding::parse(e.name()), Some(e));
            assert!(e.matches(&e.shape(4, 5), e.dtype()), "{e}");
        }
        assert_eq!(Encoding::from_code(0), None);
        assert_eq!(Encoding::from_code(11), None);
        assert!("nv12".parse::<Encoding>().is_err());
    }

    #[test]
    fn infer_only_when_unambiguous() {
        assert_eq!(Encoding::infer(&[4, 5], DType::U8), Some(Encoding::Mono8));
        assert_eq!(Encoding::infer(&[4, 5, 4], DType::U8), Some(Encoding::Rgba8));
        assert_eq!(Encoding::infer(&[4, 5], DType::U16), Some(Encoding::Mono16));
        assert_eq!(Encoding::infer(&[4, 5], DType::F32), Some(Encoding::Mono32F));
        assert_eq!(Encoding::infer(&[4, 5, 3], DType::F32), Some(Encoding::Rgb32F));
        assert_eq!(Encoding::infer(&[4, 5, 2], DType::U8), None);
        assert_eq!(Encoding::infer(&[4, 5, 3], DType::U16), None);
        assert_eq!(Encoding::infer(&[4], DType::U8), None);
        assert_eq!(Encoding::infer(&[4, 5, 3, 1], DType::U8), None);
    }

    #[test]
    fn matches_checks_dtype_and_channels() {
        assert!(!Encoding::Rgb8.matches(&[4, 5, 3], DType::F32));
        assert!(!Encoding::Rgb8.matches(&[4, 5, 4], DType::U8));
        assert!(!Encoding::Rgb8.matches(&[4, 5], DType::U8));
        assert!(Encoding::Mono8.matches(&[4, 5, 1], DType::U8));
    }
}
