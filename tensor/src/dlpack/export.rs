//! Export: [`export_legacy`] / [`export_versioned`] build one heap allocation holding the
//! managed tensor, its shape and strides arrays (compact C order, in elements) and an owner
//! (`Box<dyn Any + Send>`, e.g. a [`Payload`] clone keeping the slot held). The consumer's call
//! of `deleter` frees the allocation and drops the owner — on any thread, never unwinding.
//! [`Payload::to_dlpack_versioned`] and [`Payload::to_dlpack`] do this for a frozen payload.

use super::abi::{DLDevice, DLManagedTensor, DLManagedTensorVersioned, DLTensor, DLPACK_FLAG_BITMASK_READ_ONLY, DLPACK_VERSION};
use crate::dtype::DType;
use crate::error::DLPackError;
use crate::payload::Payload;
use std::any::Any;
use std::ffi::c_void;
use std::ptr::NonNull;
use tensorbus_pool::descriptor::MAX_DIMS;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlpack::abi::{device, DLPackVersion};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// Set when dropped. SeqCst everywhere: a test flag, read after the dropping thread joined
    /// (the join orders it anyway).
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
}
