//! [`DepthImage`] / [`DepthImageMut`]: `H x W` depth maps, float32 metres or uint16
//! millimetres (the descriptor's `aux` is the [`DepthUnit`] code: 1 metres, 2 millimetres).

pub use crate::depth_unit::DepthUnit;

use crate::error::PayloadError;
use crate::payload::{Payload, PayloadKind, PayloadMut};
use std::time::Duration;
use tensorbus_pool::{Descriptor, Namespace};

/// A read-only depth frame in shared memory.
///
/// ```
/// use tensorbus_pool::{Namespace, PoolConfig};
/// use tensorbus_tensor::{DepthImageMut, DepthUnit};
/// let dir = std::env::temp_dir().join(format!("tb-doc-depth-{}", std::process::id()));
/// let ns = Namespace::open_dir(&dir, PoolConfig::parse("4Kx4").unwrap()).unwrap();
/// let mut d = DepthImageMut::new(&ns, 2, 2, DepthUnit::Millimetres).unwrap();
/// d.typed_mut::<u16>().unwrap().copy_from_slice(&[1000, 0, 1500, 2000]);
/// let d = d.freeze();
/// assert_eq!(d.depth_m(1, 0), Some(1.5));
/// assert_eq!(d.depth_m(0, 1), None);
/// # drop((d, ns)); std::fs::remove_dir_all(dir).ok();
/// ```
#[derive(Clone, Debug)]
pub struct DepthImage {
    payload: Payload,
    unit: DepthUnit,
}

frozen_accessors!(DepthImage);

impl DepthImage {
    /// Copy `data` (`h * w * itemsize` bytes) into a fresh slot: one copy.
    pub fn from_bytes(ns: &Namespace, height: usize, width: usize, unit: DepthUnit, data: &[u8]) -> Result<DepthImage, PayloadError> {
        let mut m = DepthImageMut::new(ns, height, width, unit)?;
        m.copy_from(data)?;
        Ok(m.freeze())
    }

    pub fn from_descriptor(ns: &Namespace, d: &Descriptor) -> Result<DepthImage, PayloadError> {
        DepthImage::from_payload(Payload::from_descriptor(ns, d)?)
    }

    pub fn from_payload(p: Payload) -> Result<DepthImage, PayloadError> {
        if p.kind() != PayloadKind::Depth {
            return Err(PayloadError::WrongKind { expected: "depth", found: p.kind().name() });
        }
        Ok(DepthImage::from_payload_unchecked(p))
    }

    pub(crate) fn from_payload_unchecked(p: Payload) -> DepthImage {
        // Validated: a depth payload's aux is a known unit matching its dtype.
        let unit = DepthUnit::from_code(p.aux()).unwrap_or(DepthUnit::Metres);
        DepthImage { payload: p, unit }
    }

    pub fn height(&self) -> usize {
        self.payload.shape()[0]
    }
    pub fn width(&self) -> usize {
        self.payload.shape()[1]
    }
    pub fn unit(&self) -> DepthUnit {
        self.unit
    }

    /// Depth at (row, col) in metres; None outside the image or where there is no reading
    /// (0, NaN).
    pub fn depth_m(&self, row: usize, col: usize) -> Option<f32> {
        if row >= self.height() || col >= self.width() {
            return None;
        }
        let i = row * self.width() + col;
        let m = match self.unit {
            DepthUnit::Metres => *self.payload.typed::<f32>().ok()?.get(i)?,
            DepthUnit::Millimetres => *self.payload.typed::<u16>().ok()?.get(i)? as f32 / 1000.0,
        };
        (m.is_finite() && m > 0.0).then_some(m)
    }
}

/// A writable depth loan.
#[derive(Debug)]
pub struct DepthImageMut {
    payload: PayloadMut,
    unit: DepthUnit,
}

loan_accessors!(DepthImageMut, DepthImage);

impl DepthImageMut {
    pub fn new(ns: &Namespace, height: usize, width: usize, unit: DepthUnit) -> Result<DepthImageMut, PayloadError> {
        let payload = PayloadMut::new(ns, PayloadKind::Depth, unit.dtype(), &[height, width], unit.code())?;
        Ok(DepthImageMut { payload, unit })
    }
    pub fn new_timeout(ns: &Namespace, height: usize, width: usize, unit: DepthUnit, timeout: Duration) -> Result<DepthImageMut, PayloadError> {
        let payload = PayloadMut::new_timeout(ns, PayloadKind::Depth, unit.dtype(), &[height, width], unit.code(), timeout)?;
        Ok(DepthImageMut { payload, unit })
    }
    pub fn unit(&self) -> DepthUnit {
        self.unit
    }
    /// The pixels as `&mut [T]` (`f32` for metres, `u16` for millimetres).
    pub fn typed_mut<T: crate::dtype::Element>(&mut self) -> Result<&mut [T], PayloadError> {
        self.payload.typed_mut::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use tensorbus_testkit::{TempNs, TENSOR_CLASSES};

    #[test]
    fn both_units_round_trip() {
        let t = TempNs::with_classes("depth-units", TENSOR_CLASSES);
        let ns = t.open();
        let mut m = DepthImageMut::new(&ns, 2, 3, DepthUnit::Metres).unwrap();
        m.typed_mut::<f32>().unwrap().copy_from_slice(&[0.5, f32::NAN, 1.0, 2.0, 0.0, 3.0]);
        let d = DepthImage::from_descriptor(&ns, &m.freeze().descriptor()).unwrap();
        assert_eq!((d.unit(), d.dtype(), d.shape()), (DepthUnit::Metres, DType::F32, &[2usize, 3][..]));
        assert_eq!(d.depth_m(0, 0), Some(0.5));
        assert_eq!(d.depth_m(0, 1), None);
        assert_eq!(d.depth_m(9, 0), None);
        let mm = DepthImage::from_bytes(&ns, 1, 2, DepthUnit::Millimetres, &[0xe8, 0x03, 0, 0]).unwrap();
        let got = DepthImage::from_descriptor(&ns, &mm.descriptor()).unwrap();
        assert_eq!(got.depth_m(0, 0), Some(1.0));
        assert!(matches!(got.as_tensor().payload().kind(), PayloadKind::Tensor));
    }

    #[test]
    fn wrong_dtype_for_unit_is_rejected() {
        let t = TempNs::with_classes("depth-dtype", TENSOR_CLASSES);
        let ns = t.open();
        let e = PayloadMut::new(&ns, PayloadKind::Depth, DType::U8, &[2, 2], DepthUnit::Millimetres.code()).unwrap_err();
        assert!(matches!(e, PayloadError::DTypeMismatch { expected: DType::U16, .. }), "{e}");
        let e = PayloadMut::new(&ns, PayloadKind::Depth, DType::F32, &[2, 2], 9).unwrap_err();
        assert!(matches!(e, PayloadError::BadAux { aux: 9, .. }), "{e}");
    }
}
