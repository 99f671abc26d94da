//! [`Tensor`] / [`TensorMut`]: any [`DType`], 1 to 8 dimensions, compact C order, in a pool
//! slot. Every typed payload can be viewed as a `Tensor` of the same slot (`as_tensor`).

use crate::dtype::{DType, Element};
use crate::error::PayloadError;
use crate::payload::{Payload, PayloadKind, PayloadMeta, PayloadMut};
use std::time::Duration;
use tensorbus_pool::{Descriptor, Namespace};

/// A read-only n-dimensional array in shared memory.
///
/// ```
/// use tensorbus_pool::{Namespace, PoolConfig};
/// use tensorbus_tensor::{DType, Tensor};
/// let dir = std::env::temp_dir().join(format!("tb-doc-tensor-{}", std::process::id()));
/// let ns = Namespace::open_dir(&dir, PoolConfig::parse("4Kx4").unwrap()).unwrap();
/// let t = Tensor::from_slice(&ns, &[2, 2], &[1i64, 2, 3, 4]).unwrap();
/// let got = Tensor::from_descriptor(&ns, &t.descriptor()).unwrap();
/// assert_eq!((got.dtype(), got.shape()), (DType::I64, &[2usize, 2][..]));
/// assert_eq!(got.typed::<i64>().unwrap(), &[1, 2, 3, 4]);
/// assert_eq!(got.strides(), vec![2, 1]);
/// # drop((t, got, ns)); std::fs::remove_dir_all(dir).ok();
/// ```
#[derive(Clone, Debug)]
pub struct Tensor {
    payload: Payload,
}

frozen_accessors!(Tensor);

impl Tensor {
    /// Copy `data` (`numel * itemsize` bytes) into a fresh slot: one copy.
    pub fn from_bytes(ns: &Namespace, dtype: DType, shape: &[usize], data: &[u8]) -> Result<Tensor, PayloadError> {
        Ok(Tensor { payload: Payload::from_bytes(ns, PayloadKind::Tensor, dtype, shape, 0, data)? })
    }

    /// Copy typed values into a fresh slot: one copy.
    pub fn from_slice<T: Element>(ns: &Namespace, shape: &[usize], values: &[T]) -> Result<Tensor, PayloadError> {
        let mut m = TensorMut::new(ns, T::DTYPE, shape)?;
        let dst = m.typed_mut::<T>()?;
        if dst.len() != values.len() {
            return Err(PayloadError::LenMismatch { expected: std::mem::size_of_val(dst) as u64, found: std::mem::size_of_val(values) as u64 });
        }
        dst.copy_from_slice(values);
        Ok(m.freeze())
    }

    /// Resolve a received descriptor of any payload kind as a tensor view (validated).
    pub fn from_descriptor(ns: &Namespace, d: &Descriptor) -> Result<Tensor, PayloadError> {
        Ok(Tensor::view(&Payload::from_descriptor(ns, d)?))
    }

    /// View any payload as a tensor: same slot, same shape and dtype, kind `Tensor`.
    pub fn view(p: &Payload) -> Tensor {
        if p.kind() == PayloadKind::Tensor {
            return Tensor { payload: p.clone() };
        }
        match PayloadMeta::validate(PayloadKind::Tensor, p.dtype(), p.shape(), 0) {
            Ok(meta) => Tensor { payload: p.with_meta(meta) },
            // Unreachable: every payload's shape is 1..=8 positive dims, which a tensor accepts.
            Err(_) => Tensor { payload: p.clone() },
        }
    }

    pub(crate) fn from_payload_unchecked(p: Payload) -> Tensor {
        Tensor { payload: p }
    }

    pub fn ndim(&self) -> usize {
        self.payload.shape().len()
    }
    pub fn numel(&self) -> usize {
        self.payload.meta().numel()
    }
    pub fn nbytes(&self) -> usize {
        self.payload.meta().nbytes() as usize
    }
    /// Compact C-order strides, in elements.
    pub fn strides(&self) -> Vec<usize> {
        compact_strides(self.payload.shape())
    }
    /// The data as `&[T]`; `T` must match the dtype.
    pub fn typed<T: Element>(&self) -> Result<&[T], PayloadError> {
        self.payload.typed::<T>()
    }
}

/// Compact C-order strides (in elements) for `shape`.
pub fn compact_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1].saturating_mul(shape[i + 1]);
    }
    s
}

/// A writable tensor loan.
#[derive(Debug)]
pub struct TensorMut {
    payload: PayloadMut,
}

loan_accessors!(TensorMut, Tensor);

impl TensorMut {
    /// Loan a slot for a tensor of `dtype` and `shape` (1..=8 dims, each > 0).
    pub fn new(ns: &Namespace, dtype: DType, shape: &[usize]) -> Result<TensorMut, PayloadError> {
        Ok(TensorMut { payload: PayloadMut::new(ns, PayloadKind::Tensor, dtype, shape, 0)? })
    }
    pub fn new_timeout(ns: &Namespace, dtype: DType, shape: &[usize], timeout: Duration) -> Result<TensorMut, PayloadError> {
        Ok(TensorMut { payload: PayloadMut::new_timeout(ns, PayloadKind::Tensor, dtype, shape, 0, timeout)? })
    }
    /// The data as `&mut [T]`; `T` must match the dtype.
    pub fn typed_mut<T: Element>(&mut self) -> Result<&mut [T], PayloadError> {
        self.payload.typed_mut::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensorbus_testkit::{TempNs, TENSOR_CLASSES};

    #[test]
    fn every_dtype_round_trips_through_a_descriptor() {
        let t = TempNs::with_classes("tensor-dtypes", TENSOR_CLASSES);
        let ns = t.open();
        for dt in DType::ALL {
            let shape = [2, 3, 1];
            let n = 6 * dt.itemsize();
            let bytes: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
            let ten = Tensor::from_bytes(&ns, dt, &shape, &bytes).unwrap();
            let d = ten.descriptor();
            assert_eq!((d.dtype, d.ndim, d.len), (dt.code(), 3, n as u64));
            let got = Tensor::from_descriptor(&ns, &d).unwrap();
            assert_eq!((got.dtype(), got.shape(), got.data()), (dt, &shape[..], &bytes[..]));
            assert_eq!(got.as_ptr(), ten.as_ptr());
        }
    }

    #[test]
    fn eight_dims_spill_into_the_meta_area() {
        let t = TempNs::with_classes("tensor-8d", TENSOR_CLASSES);
        let ns = t.open();
        let shape = [1, 2, 1, 2, 1, 2, 3, 5];
        let mut m = TensorMut::new(&ns, DType::U16, &shape).unwrap();
        m.set_frame_id("lidar/top").unwrap();
        m.set_timestamp_ns(42);
        m.set_sequence(7);
        let ten = m.freeze();
        let got = Tensor::from_descriptor(&ns, &ten.descriptor()).unwrap();
        assert_eq!(got.shape(), &shape);
        assert_eq!((got.frame_id(), got.timestamp_ns(), got.sequence()), ("lidar/top", 42, 7));
        assert_eq!(got.strides(), vec![120, 60, 60, 30, 30, 15, 5, 1]);
        assert_eq!(got.numel(), 120);
    }

    #[test]
    fn typed_access_checks_dtype() {
        let t = TempNs::with_classes("tensor-typed", TENSOR_CLASSES);
        let ns = t.open();
        let ten = Tensor::from_slice(&ns, &[3], &[1.0f64, 2.0, 3.0]).unwrap();
        assert_eq!(ten.typed::<f64>().unwrap(), &[1.0, 2.0, 3.0]);
        assert!(matches!(ten.typed::<f32>(), Err(PayloadError::DTypeMismatch { .. })));
        assert!(Tensor::from_slice(&ns, &[4], &[1u8, 2]).is_err());
    }
}
