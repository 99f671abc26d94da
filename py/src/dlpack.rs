//! DLPack capsules: export of pool payloads (`__dlpack__`, `to_torch`) and import from any
//! DLPack producer (`Tensor.from_dlpack`, `Image.from_torch`).
//!
//! Export: the capsule is named `dltensor` or `dltensor_versioned`; a consumer renames it
//! `used_...` and calls the managed tensor's deleter when done. If nobody consumes it, the
//! capsule's destructor calls the deleter. The deleter drops the owner: a clone of the shared
//! payload (no GIL needed) or, for a loaned payload, a reference to the Python object.
//!
//! Import: we ask the producer for a versioned capsule (`max_version=(1, 0)`), fall back to the
//! legacy protocol, validate every field of its `DLTensor` (`view_foreign`), copy out (strided
//! sources element by element), then mark the capsule used and call the producer's deleter.

use crate::errors::{exc, to_py};
use crate::payload::{Cell, PyPayload};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::ffi::{c_void, CStr};
use tensorbus_tensor::dlpack::{self, DLDevice, DLManagedTensor, DLManagedTensorVersioned, ExportSpec, ForeignView};

const LEGACY: &CStr = c"dltensor";
const VERSIONED: &CStr = c"dltensor_versioned";
const USED_LEGACY: &CStr = c"used_dltensor";
const USED_VERSIONED: &CStr = c"used_dltensor_versioned";

/// Run `f` with the exception in flight (if any) set aside, and put it back afterwards: a
/// capsule is often destroyed while an exception propagates (a frame holding it unwinds), and
/// a destructor must not clear or replace it (the DLPack spec's example destructor does the
/// same). Anything `f` leaves raised is dropped: a destructor has nobody to report it to.
///
/// # Safety
/// The GIL is held.
unsafe fn keeping_exception(f: impl FnOnce()) {
    let (mut ty, mut value, mut tb) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: GIL held (caller contract). Fetch moves the indicator (possibly empty) into our
    // three owned references, Restore gives them back (and clears whatever `f` left set).
    unsafe {
        ffi::PyErr_Fetch(&mut ty, &mut value, &mut tb);
        f();
        ffi::PyErr_Restore(ty, value, tb);
    }
}

unsafe extern "C" fn capsule_destructor_legacy(capsule: *mut ffi::PyObject) {
    // SAFETY: called by Python with the capsule being destroyed (GIL held). If it still carries
    // our name it was never consumed, so we own the managed tensor and must delete it.
    unsafe {
        keeping_exception(|| {
            if ffi::PyCapsule_IsValid(capsule, LEGACY.as_ptr()) == 1 {
                let m = ffi::PyCapsule_GetPointer(capsule, LEGACY.as_ptr()) as *mut DLManagedTensor;
                if let Some(del) = m.as_ref().and_then(|m| m.deleter) {
                    del(m);
                }
            }
        })
    }
}

unsafe extern "C" fn capsule_destructor_versioned(capsule: *mut ffi::PyObject) {
    // SAFETY: as in capsule_destructor_legacy, for the versioned struct.
    unsafe {
        keeping_exception(|| {
            if ffi::PyCapsule_IsValid(capsule, VERSIONED.as_ptr()) == 1 {
                let m = ffi::PyCapsule_GetPointer(capsule, VERSIONED.as_ptr()) as *mut DLManagedTensorVersioned;
                if let Some(del) = m.as_ref().and_then(|m| m.deleter) {
                    del(m);
                }
            }
        })
    }
}

/// Export `slf` as a DLPack capsule (CPU device). The read-only flag is set on versioned
/// exports of shared payloads.
pub fn export<'py>(slf: &Bound<'py, PyPayload>, versioned: bool) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    let g = slf.get().lock();
    let meta = g.meta().clone();
    // Read under the lock with the state: a shared payload's address is in the read-only alias.
    let ptr = g.ptr();
    let (owner, readonly): (Box<dyn std::any::Any + Send>, bool) = match &*g {
        Cell::Shared(p) => (Box::new(p.clone()), true),
        // A loaned slot cannot be cloned: the export keeps the Python object (and so the
        // lease) alive instead. Dropping a Py<..> without the GIL is deferred by PyO3.
        _ => (Box::new(slf.clone().into_any().unbind()), false),
    };
    drop(g);
    let spec = ExportSpec { data: ptr as *mut u8, shape: meta.shape(), dtype: meta.dtype(), device: DLDevice::CPU, readonly };
    // SAFETY: the data is the payload's slot, kept held (and, when shared, immutable) by the
    // owner until the consumer's deleter drops it.
    unsafe { capsule(py, spec, owner, versioned) }
}

/// Export `spec`, owning `owner`, as a DLPack capsule (`dltensor_versioned` or `dltensor`). The
/// capsule's destructor deletes the managed tensor unless a consumer took it (renamed it).
///
/// # Safety
/// As for `tensorbus_tensor::dlpack::export_versioned`: `spec.data` stays valid while `owner`
/// lives.
pub unsafe fn capsule<'py>(py: Python<'py>, spec: ExportSpec<'_>, owner: Box<dyn std::any::Any + Send>, versioned: bool) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: forwarded contract; PyCapsule_New takes the pointer, and its destructor frees it
    // exactly once if no consumer renamed the capsule.
    unsafe {
        let cap = if versioned {
            let m = dlpack::export_versioned(spec, owner).map_err(to_py)?;
            ffi::PyCapsule_New(m.as_ptr() as *mut c_void, VERSIONED.as_ptr(), Some(capsule_destructor_versioned))
        } else {
            let m = dlpack::export_legacy(spec, owner).map_err(to_py)?;
            ffi::PyCapsule_New(m.as_ptr() as *mut c_void, LEGACY.as_ptr(), Some(capsule_destructor_legacy))
        };
        Bound::from_owned_ptr_or_err(py, cap)
    }
}

/// A foreign DLPack tensor: its capsule (consumed on drop) and validated view.
pub struct Foreign<'py> {
    capsule: Bound<'py, PyAny>,
    versioned: bool,
    managed: *mut c_void,
    pub view: ForeignView,
}

impl Drop for Foreign<'_> {
    fn drop(&mut self) {
        // SAFETY: we renamed the capsule to "used_..." (we own the managed tensor) and call its
        // deleter exactly once, with the GIL held (we hold a Bound).
        unsafe {
            if self.versioned {
                let m = self.managed as *mut DLManagedTensorVersioned;
                if let Some(del) = (*m).deleter {
                    del(m);
                }
            } else {
                let m = self.managed as *mut DLManagedTensor;
                if let Some(del) = (*m).deleter {
                    del(m);
                }
            }
        }
        let _ = &self.capsule;
    }
}

/// Ask `obj` for a DLPack capsule (versioned if it can) and validate it.
pub fn import<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Foreign<'py>> {
    if !obj.hasattr("__dlpack__")? {
        return Err(exc::DLPackError::new_err(format!("{} does not implement the DLPack protocol (__dlpack__)", obj.get_type().name()?)));
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("max_version", (1, 0))?;
    let capsule = match obj.call_method("__dlpack__", (), Some(&kwargs)) {
        Ok(c) => c,
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyTypeError>(py) => obj.call_method0("__dlpack__")?,
        Err(e) => return Err(e),
    };
    let foreign = take(capsule)?;
    let dev = foreign.view.device.device_type;
    if dev != dlpack::device::CPU && dev != dlpack::device::CUDA_HOST {
        return Err(exc::DLPackError::new_err(format!(
            "DLPack producer is on device type {dev} (id {}); tensorbus copies from host memory only: move it to the CPU first",
            foreign.view.device.device_id
        )));
    }
    Ok(foreign)
}

/// Take a producer's unused DLPack capsule (either name): validate the managed struct and
/// every field of its `DLTensor`, then rename it `used_...` so we own it; the returned
/// `Foreign` calls the producer's deleter when dropped. On any error before the rename the
/// capsule stays the producer's (its destructor frees it).
pub fn take(capsule: Bound<'_, PyAny>) -> PyResult<Foreign<'_>> {
    let ptr = capsule.as_ptr();
    // SAFETY: `ptr` is a live object (we hold `capsule`). We only read a capsule's pointer
    // under the name we check, and rename it to take ownership as the protocol prescribes.
    let (versioned, managed) = unsafe {
        if ffi::PyCapsule_IsValid(ptr, VERSIONED.as_ptr()) == 1 {
            (true, ffi::PyCapsule_GetPointer(ptr, VERSIONED.as_ptr()))
        } else if ffi::PyCapsule_IsValid(ptr, LEGACY.as_ptr()) == 1 {
            (false, ffi::PyCapsule_GetPointer(ptr, LEGACY.as_ptr()))
        } else {
            ffi::PyErr_Clear();
            return Err(exc::DLPackError::new_err("__dlpack__ returned something other than an unused dltensor capsule"));
        }
    };
    if managed.is_null() {
        return Err(exc::DLPackError::new_err("DLPack capsule holds a null pointer"));
    }
    // SAFETY: a valid capsule of this name holds the matching managed struct.
    let tensor = unsafe {
        if versioned {
            let m = &*(managed as *const DLManagedTensorVersioned);
            if m.version.major != 1 {
                return Err(exc::DLPackError::new_err(format!("unsupported DLPack version {}.{}", m.version.major, m.version.minor)));
            }
            &m.dl_tensor as *const dlpack::DLTensor
        } else {
            &(*(managed as *const DLManagedTensor)).dl_tensor as *const dlpack::DLTensor
        }
    };
    // SAFETY: the producer guarantees the DLTensor and its shape/strides arrays are readable
    // while the capsule is unconsumed; every field is validated by view_foreign.
    let view = unsafe { dlpack::view_foreign(tensor) }.map_err(|e| exc::DLPackError::new_err(format!("invalid DLPack tensor: {e}")))?;
    // SAFETY: take ownership: rename so the producer's capsule destructor leaves it to us.
    unsafe {
        ffi::PyCapsule_SetName(ptr, if versioned { USED_VERSIONED.as_ptr() } else { USED_LEGACY.as_ptr() });
    }
    Ok(Foreign { capsule, versioned, managed, view })
}

/// Copy a validated foreign view into `dst` (C order), strided sources element by element.
///
/// # Safety
/// `dst` has `v.nbytes()` writable bytes; `v.data` is readable per its shape and strides.
pub unsafe fn copy_out(v: &ForeignView, dst: *mut u8) {
    let n = v.nbytes();
    if n == 0 {
        return;
    }
    if v.contiguous {
        // SAFETY: per the contract, both ranges are n bytes and distinct memory.
        unsafe { std::ptr::copy_nonoverlapping(v.data, dst, n) };
        return;
    }
    let item = v.dtype.itemsize();
    let nd = v.shape.len();
    let mut idx = vec![0usize; nd];
    for k in 0..v.numel() {
        let off: i64 = (0..nd).map(|a| idx[a] as i64 * v.strides[a]).sum();
        // SAFETY: idx is within shape, so the (possibly negative, for negative strides) source
        // offset is within the span view_foreign validated.
        unsafe { std::ptr::copy_nonoverlapping(v.data.offset(off as isize * item as isize), dst.add(k * item), item) };
        for a in (0..nd).rev() {
            idx[a] += 1;
            if idx[a] < v.shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
}
