//! The DLPack C ABI (v1.0), export of managed tensors that own a payload hold, and validation
//! of tensors from foreign producers.
//!
//! Export: [`export_legacy`] / [`export_versioned`] build one heap allocation holding the
//! managed tensor, its shape and strides arrays (compact C order, in elements) and an owner
//! (`Box<dyn Any + Send>`, e.g. a [`Payload`] clone keeping the slot held). The consumer's call
//! of `deleter` frees the allocation and drops the owner — on any thread, never unwinding.
//! [`Payload::to_dlpack_versioned`] and [`Payload::to_dlpack`] do this for a frozen payload
//! (read-only flag set on the versioned form).
//!
//! Import: [`view_foreign`] validates every field of a foreign `DLTensor` before use.

use crate::dtype::DType;
use crate::error::DLPackError;
use crate::payload::Payload;
use std::any::Any;
use std::ffi::c_void;
use std::mem::{offset_of, size_of};
use std::ptr::NonNull;
use tensorbus_pool::descriptor::MAX_DIMS;

/// `DLDeviceType` values.
pub mod device {
    pub const CPU: i32 = 1;
    pub const CUDA: i32 = 2;
    pub const CUDA_HOST: i32 = 3;
    pub const OPENCL: i32 = 4;
    pub const VULKAN: i32 = 7;
    pub const METAL: i32 = 8;
    pub const VPI: i32 = 9;
    pub const ROCM: i32 = 10;
    pub const ROCM_HOST: i32 = 11;
    pub const EXT_DEV: i32 = 12;
    pub const CUDA_MANAGED: i32 = 13;
    pub const ONE_API: i32 = 14;
    pub const WEBGPU: i32 = 15;
    pub const HEXAGON: i32 = 16;
    pub const MAIA: i32 = 17;
    /// True for a device type defined by DLPack 1.0.
    pub fn is_known(t: i32) -> bool {
        matches!(t, 1..=4 | 7..=17)
    }
}

/// `DLPACK_FLAG_BITMASK_READ_ONLY`: the consumer must not write through the tensor.
pub const DLPACK_FLAG_BITMASK_READ_ONLY: u64 = 1 << 0;
/// `DLPACK_FLAG_BITMASK_IS_COPIED`: the producer copied the data for this export.
pub const DLPACK_FLAG_BITMASK_IS_COPIED: u64 = 1 << 1;
/// The DLPack version this module speaks.
pub const DLPACK_VERSION: DLPackVersion = DLPackVersion { major: 1, minor: 0 };

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DLDevice {
    pub device_type: i32,
    pub device_id: i32,
}

impl DLDevice {
    pub const CPU: DLDevice = DLDevice { device_type: device::CPU, device_id: 0 };
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DLDataType {
    pub code: u8,
    pub bits: u8,
    pub lanes: u16,
}

impl From<DType> for DLDataType {
    fn from(d: DType) -> DLDataType {
        let (code, bits, lanes) = d.to_dlpack();
        DLDataType { code, bits, lanes }
    }
}

#[repr(C)]
#[derive(Debug)]
pub struct DLTensor {
    pub data: *mut c_void,
    pub device: DLDevice,
    pub ndim: i32,
    pub dtype: DLDataType,
    pub shape: *mut i64,
    pub strides: *mut i64,
    pub byte_offset: u64,
}

#[repr(C)]
pub struct DLManagedTensor {
    pub dl_tensor: DLTensor,
    pub manager_ctx: *mut c_void,
    pub deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DLPackVersion {
    pub major: u32,
    pub minor: u32,
}

#[repr(C)]
pub struct DLManagedTensorVersioned {
    pub version: DLPackVersion,
    pub manager_ctx: *mut c_void,
    pub deleter: Option<unsafe extern "C" fn(*mut DLManagedTensorVersioned)>,
    pub flags: u64,
    pub dl_tensor: DLTensor,
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<DLDevice>() == 8);
    assert!(size_of::<DLDataType>() == 4);
    assert!(size_of::<DLTensor>() == 48);
    assert!(offset_of!(DLTensor, ndim) == 16);
    assert!(offset_of!(DLTensor, dtype) == 20);
    assert!(offset_of!(DLTensor, shape) == 24);
    assert!(offset_of!(DLTensor, byte_offset) == 40);
    assert!(size_of::<DLManagedTensor>() == 64);
    assert!(offset_of!(DLManagedTensor, deleter) == 56);
    assert!(size_of::<DLPackVersion>() == 8);
    assert!(size_of::<DLManagedTensorVersioned>() == 80);
    assert!(offset_of!(DLManagedTensorVersioned, flags) == 24);
    assert!(offset_of!(DLManagedTensorVersioned, dl_tensor) == 32);
};

/// What to export: a data pointer with a compact C-order layout.
#[derive(Debug, Clone, Copy)]
pub struct ExportSpec<'a> {
    /// Start of the data (the export's `byte_offset` is 0).
    pub data: *mut u8,
    /// Dimensions (0..=8 of them).
    pub shape: &'a [usize],
    pub dtype: DType,
    /// Where the data lives: [`DLDevice::CPU`] for pool slots; a CUDA device for staged copies.
    pub device: DLDevice,
    /// Sets `DLPACK_FLAG_BITMASK_READ_ONLY` on a versioned export (ignored by the legacy form,
    /// which cannot express it).
    pub readonly: bool,
}

/// One allocation: the managed struct first (so its pointer is the allocation's), then the
/// arrays it points into, then the owner.
#[repr(C)]
struct Holder<M> {
    managed: M,
    shape: [i64; MAX_DIMS],
    strides: [i64; MAX_DIMS],
    owner: Option<Box<dyn Any + Send>>,
}

fn layout(shape: &[usize]) -> Result<([i64; MAX_DIMS], [i64; MAX_DIMS]), DLPackError> {
    if shape.len() > MAX_DIMS {
        return Err(DLPackError::BadNdim { ndim: shape.len() as i64 });
    }
    let mut sh = [0i64; MAX_DIMS];
    let mut st = [0i64; MAX_DIMS];
    let mut acc: i64 = 1;
    for i in (0..shape.len()).rev() {
        sh[i] = i64::try_from(shape[i]).map_err(|_| DLPackError::BadDim { axis: i, dim: -1 })?;
        st[i] = acc;
        acc = acc.checked_mul(sh[i].max(1)).ok_or(DLPackError::Overflow)?;
    }
    Ok((sh, st))
}

fn dl_tensor(spec: &ExportSpec<'_>, shape: *mut i64, strides: *mut i64) -> DLTensor {
    DLTensor { data: spec.data as *mut c_void, device: spec.device, ndim: spec.shape.len() as i32, dtype: spec.dtype.into(), shape, strides, byte_offset: 0 }
}

/// Build a legacy (unversioned) `DLManagedTensor` owning `owner`.
///
/// # Safety
/// `spec.data` must point to `numel * itemsize` bytes on `spec.device` that stay valid (and,
/// unless the consumer may write, unchanged) for as long as `owner` is alive. The consumer must
/// call the deleter exactly once.
pub unsafe fn export_legacy(spec: ExportSpec<'_>, owner: Box<dyn Any + Send>) -> Result<NonNull<DLManagedTensor>, DLPackError> {
    let (shape, strides) = layout(spec.shape)?;
    let managed = DLManagedTensor { dl_tensor: dl_tensor(&spec, std::ptr::null_mut(), std::ptr::null_mut()), manager_ctx: std::ptr::null_mut(), deleter: Some(delete_legacy) };
    let h = Box::into_raw(Box::new(Holder { managed, shape, strides, owner: Some(owner) }));
    // SAFETY: `h` is a fresh, valid allocation; we only take field addresses inside it, which
    // stay put until the deleter frees it.
    unsafe {
        (*h).managed.dl_tensor.shape = (*h).shape.as_mut_ptr();
        (*h).managed.dl_tensor.strides = (*h).strides.as_mut_ptr();
        (*h).managed.manager_ctx = h as *mut c_void;
        Ok(NonNull::new_unchecked(h as *mut DLManagedTensor))
    }
}

/// Build a `DLManagedTensorVersioned` (DLPack 1.0) owning `owner`; the read-only flag is set
/// when `spec.readonly`.
///
/// # Safety
/// As for [`export_legacy`].
pub unsafe fn export_versioned(spec: ExportSpec<'_>, owner: Box<dyn Any + Send>) -> Result<NonNull<DLManagedTensorVersioned>, DLPackError> {
    let (shape, strides) = layout(spec.shape)?;
    let managed = DLManagedTensorVersioned {
        version: DLPACK_VERSION,
        manager_ctx: std::ptr::null_mut(),
        deleter: Some(delete_versioned),
        flags: if spec.readonly { DLPACK_FLAG_BITMASK_READ_ONLY } else { 0 },
        dl_tensor: dl_tensor(&spec, std::ptr::null_mut(), std::ptr::null_mut()),
    };
    let h = Box::into_raw(Box::new(Holder { managed, shape, strides, owner: Some(owner) }));
    // SAFETY: as in export_legacy.
    unsafe {
        (*h).managed.dl_tensor.shape = (*h).shape.as_mut_ptr();
        (*h).managed.dl_tensor.strides = (*h).strides.as_mut_ptr();
        (*h).managed.manager_ctx = h as *mut c_void;
        Ok(NonNull::new_unchecked(h as *mut DLManagedTensorVersioned))
    }
}

/// Free a holder; a panic in the owner's destructor is caught (the deleter must not unwind).
///
/// # Safety
/// `p` is null or came from `Box::into_raw` of a `Holder<M>` not yet freed.
unsafe fn free_holder<M>(p: *mut Holder<M>) {
    if p.is_null() {
        return;
    }
    // SAFETY: per the contract, `p` is a live allocation we created; this is its only free.
    let holder = unsafe { Box::from_raw(p) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(holder)));
}

unsafe extern "C" fn delete_legacy(p: *mut DLManagedTensor) {
    // SAFETY: our deleter is only installed on tensors from export_legacy, whose managed
    // struct is the first field of a Holder<DLManagedTensor> (repr(C)).
    unsafe { free_holder(p as *mut Holder<DLManagedTensor>) }
}

unsafe extern "C" fn delete_versioned(p: *mut DLManagedTensorVersioned) {
    // SAFETY: as in delete_legacy, for export_versioned.
    unsafe { free_holder(p as *mut Holder<DLManagedTensorVersioned>) }
}

impl Payload {
    /// Export as a DLPack 1.0 versioned tensor, read-only, on the CPU; the tensor holds the
    /// slot until its deleter runs.
    pub fn to_dlpack_versioned(&self) -> NonNull<DLManagedTensorVersioned> {
        let spec = ExportSpec { data: self.as_ptr() as *mut u8, shape: self.shape(), dtype: self.dtype(), device: DLDevice::CPU, readonly: true };
        // SAFETY: the data lives in a frozen slot held by the owner (a clone of self) until
        // the deleter drops it. The shape is 1..=8 validated dims, so export cannot fail.
        unsafe { export_versioned(spec, Box::new(self.clone())) }.expect("validated payload shape")
    }

    /// Export as a legacy DLPack tensor (for consumers without DLPack 1.0). The legacy form
    /// has no read-only flag: consumers must treat it as read-only by contract.
    pub fn to_dlpack(&self) -> NonNull<DLManagedTensor> {
        let spec = ExportSpec { data: self.as_ptr() as *mut u8, shape: self.shape(), dtype: self.dtype(), device: DLDevice::CPU, readonly: true };
        // SAFETY: as in to_dlpack_versioned.
        unsafe { export_legacy(spec, Box::new(self.clone())) }.expect("validated payload shape")
    }
}

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
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    struct SendPtr<T>(NonNull<T>);
    // SAFETY: test only: the managed tensor is handed to exactly one other thread.
    unsafe impl<T> Send for SendPtr<T> {}

    #[test]
    fn deleter_on_another_thread_drops_the_owner() {
        let dropped = Arc::new(AtomicBool::new(false));
        let mut data = vec![0u16; 12];
        let spec = ExportSpec { data: data.as_mut_ptr().cast(), shape: &[3, 4], dtype: DType::U16, device: DLDevice::CPU, readonly: false };
        // SAFETY: `data` outlives the export (the deleter runs before the end of the test).
        let m = SendPtr(unsafe { export_legacy(spec, Box::new(Flag(dropped.clone()))) }.unwrap());
        // SAFETY: the managed tensor is alive until its deleter runs.
        let t = unsafe { &m.0.as_ref().dl_tensor };
        assert_eq!((t.ndim, t.dtype, t.byte_offset), (2, DType::U16.into(), 0));
        // SAFETY: shape/strides point to ndim elements inside the allocation.
        unsafe {
            assert_eq!(std::slice::from_raw_parts(t.shape, 2), &[3, 4]);
            assert_eq!(std::slice::from_raw_parts(t.strides, 2), &[4, 1]);
        }
        assert!(!dropped.load(Ordering::SeqCst));
        std::thread::spawn(move || {
            let m = m;
            // SAFETY: called once, as the consumer would.
            unsafe { (m.0.as_ref().deleter.unwrap())(m.0.as_ptr()) }
        })
        .join()
        .unwrap();
        assert!(dropped.load(Ordering::SeqCst), "the owner was dropped by the deleter");
    }

    #[test]
    fn versioned_export_is_read_only_and_versioned() {
        let dropped = Arc::new(AtomicBool::new(false));
        let mut data = [1u8; 4];
        let spec = ExportSpec { data: data.as_mut_ptr(), shape: &[4], dtype: DType::U8, device: DLDevice { device_type: device::CUDA, device_id: 1 }, readonly: true };
        // SAFETY: `data` outlives the export.
        let m = unsafe { export_versioned(spec, Box::new(Flag(dropped.clone()))) }.unwrap();
        // SAFETY: alive until the deleter runs below.
        let r = unsafe { m.as_ref() };
        assert_eq!(r.version, DLPackVersion { major: 1, minor: 0 });
        assert_eq!(r.flags & DLPACK_FLAG_BITMASK_READ_ONLY, DLPACK_FLAG_BITMASK_READ_ONLY);
        assert_eq!(r.dl_tensor.device, DLDevice { device_type: device::CUDA, device_id: 1 });
        // SAFETY: called once.
        unsafe { (r.deleter.unwrap())(m.as_ptr()) };
        assert!(dropped.load(Ordering::SeqCst));
        // SAFETY: a null pointer is accepted by the deleter.
        unsafe { delete_versioned(std::ptr::null_mut()) };
    }

    #[test]
    fn export_rejects_nine_dims() {
        let spec = ExportSpec { data: std::ptr::null_mut(), shape: &[1; 9], dtype: DType::U8, device: DLDevice::CPU, readonly: true };
        // SAFETY: fails before any pointer is used.
        assert!(matches!(unsafe { export_legacy(spec, Box::new(())) }, Err(DLPackError::BadNdim { ndim: 9 })));
    }

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
