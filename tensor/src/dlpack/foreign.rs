//! Import: [`view_foreign`] validates every field of a foreign producer's `DLTensor` before
//! use, into a [`ForeignView`] that owns nothing (the caller keeps the producer's tensor alive).

use super::abi::{device, DLDevice, DLTensor};
use crate::dtype::DType;
use crate::error::DLPackError;
use tensorbus_pool::descriptor::MAX_DIMS;

/// A validated view of a foreign DLPack tensor. It borrows nothing: the caller keeps the
/// producer's managed tensor alive while using `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignView {
    /// `data + byte_offset`.
    pub data: *mut u8,
    pub shape: Vec<usize>,
    /// Strides in elements (compact C order if the producer gave none).
    pub strides: Vec<i64>,
    pub dtype: DType,
    pub device: DLDevice,
    /// True if the strides are compact C order (size-1 axes ignored).
    pub contiguous: bool,
}

impl ForeignView {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn nbytes(&self) -> usize {
        self.numel() * self.dtype.itemsize()
    }
}

/// Validate a foreign producer's `DLTensor`: ndim 0..=8, non-negative dims with no overflow,
/// null data only when empty, a known dtype, `byte_offset` aligned to the element size and
/// not overflowing, non-negative strides, a known device type.
///
/// # Safety
/// `t` is null or points to a readable `DLTensor` whose `shape` and `strides` (when non-null)
/// point to `ndim` readable `i64`s.
///
/// ```
/// use tensorbus_tensor::dlpack::{view_foreign, DLDevice, DLTensor};
/// use tensorbus_tensor::DType;
/// let mut data = [0f32; 6];
/// let mut shape = [2i64, 3];
/// let t = DLTensor { data: data.as_mut_ptr().cast(), device: DLDevice::CPU, ndim: 2,
///     dtype: DType::F32.into(), shape: shape.as_mut_ptr(), strides: std::ptr::null_mut(), byte_offset: 0 };
/// let v = unsafe { view_foreign(&t) }.unwrap();
/// assert_eq!((v.shape.as_slice(), v.strides.as_slice(), v.contiguous), (&[2usize, 3][..], &[3i64, 1][..], true));
/// ```
pub unsafe fn view_foreign(t: *const DLTensor) -> Result<ForeignView, DLPackError> {
    // SAFETY: caller guarantees `t` is null or readable.
    let t = unsafe { t.as_ref() }.ok_or(DLPackError::NullTensor)?;
    if t.ndim < 0 || t.ndim as usize > MAX_DIMS {
        return Err(DLPackError::BadNdim { ndim: t.ndim as i64 });
    }
    let ndim = t.ndim as usize;
    if !device::is_known(t.device.device_type) {
        return Err(DLPackError::BadDevice { device_type: t.device.device_type });
    }
    let dtype = DType::from_dlpack(t.dtype.code, t.dtype.bits, t.dtype.lanes).ok_or(DLPackError::BadDType { code: t.dtype.code, bits: t.dtype.bits, lanes: t.dtype.lanes })?;
    if ndim > 0 && t.shape.is_null() {
        return Err(DLPackError::NullShape { ndim });
    }
    let mut shape = Vec::with_capacity(ndim);
    let mut numel: u64 = 1;
    for axis in 0..ndim {
        // SAFETY: shape is non-null with ndim readable elements (caller contract).
        let d = unsafe { *t.shape.add(axis) };
        let du = usize::try_from(d).map_err(|_| DLPackError::BadDim { axis, dim: d })?;
        numel = numel.checked_mul(du as u64).ok_or(DLPackError::Overflow)?;
        shape.push(du);
    }
    let itemsize = dtype.itemsize() as u64;
    numel.checked_mul(itemsize).filter(|&n| n <= isize::MAX as u64).ok_or(DLPackError::Overflow)?;
    if t.data.is_null() && numel > 0 {
        return Err(DLPackError::NullData { numel });
    }
    if t.byte_offset % itemsize != 0 {
        return Err(DLPackError::BadByteOffset { offset: t.byte_offset });
    }
    let base = t.data as usize;
    let start = usize::try_from(t.byte_offset).ok().and_then(|o| base.checked_add(o)).ok_or(DLPackError::BadByteOffset { offset: t.byte_offset })?;
    let compact: Vec<i64> = crate::tensor::compact_strides(&shape).into_iter().map(|s| s as i64).collect();
    // The top of the span must not wrap past the end of the address space either (found by
    // fuzz/dlpack_import: a data pointer near 2^64 with a forward span was accepted).
    let top = |high_elems: i128| numel == 0 || start as i128 + (high_elems + 1) * itemsize as i128 <= usize::MAX as i128 + 1;
    let (strides, contiguous) = if t.strides.is_null() {
        if !top(numel as i128 - 1) {
            return Err(DLPackError::Overflow);
        }
        (compact, true)
    } else {
        let mut s = Vec::with_capacity(ndim);
        // Element offsets reachable below and above `data` (negative strides reach below).
        let (mut low, mut high): (i128, i128) = (0, 0);
        for (axis, &n) in shape.iter().enumerate() {
            // SAFETY: strides is non-null with ndim readable elements (caller contract).
            let st = unsafe { *t.strides.add(axis) };
            if n > 0 {
                let reach = st as i128 * (n as i128 - 1);
                if reach < 0 {
                    low += reach;
                } else {
                    high += reach;
                }
            }
            s.push(st);
        }
        // The whole reachable span, in bytes, must be addressable.
        let bytes = (high - low + 1).checked_mul(itemsize as i128).ok_or(DLPackError::Overflow)?;
        if bytes > isize::MAX as i128 || (low * itemsize as i128) < -(start as i128) || !top(high) {
            return Err(DLPackError::Overflow);
        }
        let contiguous = (0..ndim).all(|i| shape[i] <= 1 || s[i] == compact[i]);
        (s, contiguous)
    };
    Ok(ForeignView { data: start as *mut u8, shape, strides, dtype, device: t.device, contiguous })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlpack::abi::DLDataType;
    use std::ffi::c_void;

    fn foreign(data: *mut c_void, shape: &mut [i64], strides: Option<&mut [i64]>) -> DLTensor {
        DLTensor {
            data,
            device: DLDevice::CPU,
            ndim: shape.len() as i32,
            dtype: DType::F32.into(),
            shape: shape.as_mut_ptr(),
            strides: strides.map_or(std::ptr::null_mut(), |s| s.as_mut_ptr()),
            byte_offset: 0,
        }
    }

    #[test]
    fn bad_foreign_fields_error() {
        let mut buf = [0f32; 64];
        let p = buf.as_mut_ptr() as *mut c_void;
        // SAFETY: every tensor checked below is a valid DLTensor on this stack frame.
        let check = |t: &DLTensor| unsafe { view_foreign(t) };
        // SAFETY: null is allowed.
        assert_eq!(unsafe { view_foreign(std::ptr::null()) }, Err(DLPackError::NullTensor));
        let mut sh = [2i64, 3];
        let mut t = foreign(p, &mut sh, None);
        t.ndim = 9;
        assert_eq!(check(&t), Err(DLPackError::BadNdim { ndim: 9 }));
        t.ndim = -1;
        assert_eq!(check(&t), Err(DLPackError::BadNdim { ndim: -1 }));
        let mut sh = [2i64, -3];
        assert_eq!(check(&foreign(p, &mut sh, None)), Err(DLPackError::BadDim { axis: 1, dim: -3 }));
        let mut sh = [i64::MAX, 4];
        assert_eq!(check(&foreign(p, &mut sh, None)), Err(DLPackError::Overflow));
        let mut sh = [2i64, 3];
        assert!(matches!(check(&foreign(std::ptr::null_mut(), &mut sh, None)), Err(DLPackError::NullData { numel: 6 })));
        let mut sh0 = [0i64, 3];
        assert!(check(&foreign(std::ptr::null_mut(), &mut sh0, None)).is_ok(), "empty tensors may have null data");
        let mut t = foreign(p, &mut sh, None);
        t.dtype = DLDataType { code: 2, bits: 32, lanes: 4 };
        assert!(matches!(check(&t), Err(DLPackError::BadDType { .. })));
        let mut t = foreign(p, &mut sh, None);
        t.byte_offset = 2;
        assert_eq!(check(&t), Err(DLPackError::BadByteOffset { offset: 2 }));
        let mut t = foreign(p, &mut sh, None);
        t.device.device_type = 99;
        assert_eq!(check(&t), Err(DLPackError::BadDevice { device_type: 99 }));
        let mut t = foreign(p, &mut sh, None);
        t.shape = std::ptr::null_mut();
        assert_eq!(check(&t), Err(DLPackError::NullShape { ndim: 2 }));
        // A negative stride reaching below the address space start is refused.
        let mut st = [1i64, -2];
        let mut t = foreign(p, &mut sh, Some(&mut st));
        t.data = 8 as *mut std::ffi::c_void;
        assert_eq!(check(&t), Err(DLPackError::Overflow));
        // Regression (fuzz/dlpack_import): a span running past the top of the address space,
        // strided or compact, is refused too.
        let mut st = [1i64, 2];
        let mut t = foreign(p, &mut sh, Some(&mut st));
        t.data = (usize::MAX - 8) as *mut std::ffi::c_void;
        assert_eq!(check(&t), Err(DLPackError::Overflow));
        let mut t = foreign(p, &mut sh, None);
        t.data = (usize::MAX - 8) as *mut std::ffi::c_void;
        assert_eq!(check(&t), Err(DLPackError::Overflow));
    }

    #[test]
    fn foreign_strides_contiguity() {
        let mut buf = [0f32; 64];
        let p = buf.as_mut_ptr() as *mut c_void;
        let mut sh = [2i64, 3];
        let mut st = [3i64, 1];
        // SAFETY: all pointers are valid locals.
        let v = unsafe { view_foreign(&foreign(p, &mut sh, Some(&mut st))) }.unwrap();
        assert!(v.contiguous);
        assert_eq!(v.nbytes(), 24);
        let mut st = [1i64, 2];
        // SAFETY: as above.
        let v = unsafe { view_foreign(&foreign(p, &mut sh, Some(&mut st))) }.unwrap();
        assert!(!v.contiguous, "Fortran order is reported non-contiguous");
        let mut sh = [1i64, 3];
        let mut st = [99i64, 1];
        // SAFETY: as above.
        assert!(unsafe { view_foreign(&foreign(p, &mut sh, Some(&mut st))) }.unwrap().contiguous, "size-1 axes ignored");
        let mut t = foreign(p, &mut sh, None);
        t.byte_offset = 8;
        // SAFETY: as above.
        assert_eq!(unsafe { view_foreign(&t) }.unwrap().data, (p as usize + 8) as *mut u8);
    }
}
