//! [`PointCloud`] / [`PointCloudMut`]: `N` points as an `N x F` float32 array, where `F` is set
//! by the [`PointFields`] (the descriptor's `aux`): xyz (3), xyzi (4), xyzrgb (6).
//!
//! Colour in `xyzrgb` is stored as three float32 channels (r, g, b), not PCL's packed float;
//! the value range is the producer's choice, conventionally 0.0–1.0.

pub use crate::point_fields::PointFields;

use crate::dtype::DType;
use crate::error::PayloadError;
use crate::payload::{Payload, PayloadKind, PayloadMut};
use std::time::Duration;
use tensorbus_pool::{Descriptor, Namespace};

/// A read-only point cloud in shared memory.
///
/// ```
/// use tensorbus_pool::{Namespace, PoolConfig};
/// use tensorbus_tensor::{PointCloudMut, PointFields};
/// let dir = std::env::temp_dir().join(format!("tb-doc-points-{}", std::process::id()));
/// let ns = Namespace::open_dir(&dir, PoolConfig::parse("4Kx4").unwrap()).unwrap();
/// let mut pc = PointCloudMut::new(&ns, 2, PointFields::Xyz).unwrap();
/// pc.points_mut().copy_from_slice(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
/// let pc = pc.freeze();
/// assert_eq!(pc.point(1), Some(&[3.0, 4.0, 5.0][..]));
/// # drop((pc, ns)); std::fs::remove_dir_all(dir).ok();
/// ```
#[derive(Clone, Debug)]
pub struct PointCloud {
    payload: Payload,
    fields: PointFields,
}

frozen_accessors!(PointCloud);

impl PointCloud {
    /// Copy `n * width` float32 values (as bytes) into a fresh slot: one copy.
    pub fn from_bytes(ns: &Namespace, n: usize, fields: PointFields, data: &[u8]) -> Result<PointCloud, PayloadError> {
        let mut m = PointCloudMut::new(ns, n, fields)?;
        m.copy_from(data)?;
        Ok(m.freeze())
    }

    /// Copy `points` (`n * width` values) into a fresh slot: one copy.
    pub fn from_points(ns: &Namespace, fields: PointFields, points: &[f32]) -> Result<PointCloud, PayloadError> {
        let n = points.len() / fields.width();
        if n * fields.width() != points.len() {
            return Err(PayloadError::BadShape { kind: "points", shape: vec![points.len()], reason: "value count is not a multiple of the field count" });
        }
        let mut m = PointCloudMut::new(ns, n, fields)?;
        m.points_mut().copy_from_slice(points);
        Ok(m.freeze())
    }

    pub fn from_descriptor(ns: &Namespace, d: &Descriptor) -> Result<PointCloud, PayloadError> {
        PointCloud::from_payload(Payload::from_descriptor(ns, d)?)
    }

    pub fn from_payload(p: Payload) -> Result<PointCloud, PayloadError> {
        if p.kind() != PayloadKind::Points {
            return Err(PayloadError::WrongKind { expected: "points", found: p.kind().name() });
        }
        Ok(PointCloud::from_payload_unchecked(p))
    }

    pub(crate) fn from_payload_unchecked(p: Payload) -> PointCloud {
        // Validated: a points payload's aux is known fields matching its width.
        let fields = PointFields::from_code(p.aux()).unwrap_or(PointFields::Xyz);
        PointCloud { payload: p, fields }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.payload.shape()[0]
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn fields(&self) -> PointFields {
        self.fields
    }
    /// All values, point after point.
    pub fn points(&self) -> &[f32] {
        // A points payload is float32 in a 256-byte aligned slot (validated).
        self.payload.typed::<f32>().unwrap_or(&[])
    }
    /// The values of point `i`.
    pub fn point(&self, i: usize) -> Option<&[f32]> {
        let w = self.fields.width();
        self.points().get(i * w..(i + 1) * w)
    }
}

/// A writable point cloud loan.
#[derive(Debug)]
pub struct PointCloudMut {
    payload: PayloadMut,
    fields: PointFields,
}

loan_accessors!(PointCloudMut, PointCloud);

impl PointCloudMut {
    /// Loan a slot for `n` points.
    pub fn new(ns: &Namespace, n: usize, fields: PointFields) -> Result<PointCloudMut, PayloadError> {
        let payload = PayloadMut::new(ns, PayloadKind::Points, DType::F32, &[n, fields.width()], fields.code())?;
        Ok(PointCloudMut { payload, fields })
    }
    pub fn new_timeout(ns: &Namespace, n: usize, fields: PointFields, timeout: Duration) -> Result<PointCloudMut, PayloadError> {
        let payload = PayloadMut::new_timeout(ns, PayloadKind::Points, DType::F32, &[n, fields.width()], fields.code(), timeout)?;
        Ok(PointCloudMut { payload, fields })
    }
    pub fn fields(&self) -> PointFields {
        self.fields
    }
    /// The values, writable in place.
    pub fn points_mut(&mut self) -> &mut [f32] {
        // float32 payload in a 256-byte aligned slot: the cast cannot fail.
        self.payload.typed_mut::<f32>().unwrap_or(&mut [])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensorbus_testkit::{TempNs, TENSOR_CLASSES};

    #[test]
    fn every_field_set_round_trips() {
        let t = TempNs::with_classes("points-fields", TENSOR_CLASSES);
        let ns = t.open();
        for f in PointFields::ALL {
            let vals: Vec<f32> = (0..5 * f.width()).map(|i| i as f32).collect();
            let pc = PointCloud::from_points(&ns, f, &vals).unwrap();
            let got = PointCloud::from_descriptor(&ns, &pc.descriptor()).unwrap();
            assert_eq!((got.len(), got.fields(), got.shape()), (5, f, &[5, f.width()][..]));
            assert_eq!(got.points(), &vals[..]);
            assert_eq!(PointFields::parse(f.name()), Some(f));
        }
    }

    #[test]
    fn width_must_match_fields() {
        let t = TempNs::with_classes("points-width", TENSOR_CLASSES);
        let ns = t.open();
        let e = PayloadMut::new(&ns, PayloadKind::Points, DType::F32, &[4, 4], PointFields::Xyz.code()).unwrap_err();
        assert!(matches!(e, PayloadError::BadShape { .. }), "{e}");
        let e = PayloadMut::new(&ns, PayloadKind::Points, DType::F64, &[4, 3], PointFields::Xyz.code()).unwrap_err();
        assert!(matches!(e, PayloadError::DTypeMismatch { .. }), "{e}");
        assert!(PointCloud::from_points(&ns, PointFields::Xyzi, &[0.0; 7]).is_err());
    }
}
