//! Binds `tensorbus_gpu`: `tb.cuda` — availability, pinned pool memory, `to_cuda` staging into
//! the device pool with a CUDA DLPack export (`CudaPayload`), and the way back
//! ([`copy_device_to_slot`], `tb.cuda.from_device`).
//!
//! The submodule `tensorbus._native.cuda` (registered in `sys.modules` so that it imports by
//! name); `tensorbus.cuda` re-exports it. The pieces live below: device.rs (arguments, pinning,
//! the way back), cuda_payload.rs (`CudaPayload`); `Payload.to_cuda` is in payload_methods.rs.

use crate::cuda_payload::{stage, PyCudaPayload};
use crate::device::{copy_device_to_slot, device_arg, keep_namespace_mapped, KEEP};
use crate::errors::to_py;
use crate::payload::PyPayload;
use crate::tensor::PyTensor;
use pyo3::prelude::*;
use tensorbus_gpu as gpu;
use tensorbus_tensor::PayloadKind;

/// True if a CUDA driver is loaded and reports at least one device (never raises).
#[pyfunction]
fn is_available() -> bool {
    gpu::is_available()
}

/// The number of CUDA devices (0 without a driver; never raises).
#[pyfunction]
fn device_count() -> usize {
    gpu::device_count()
}

/// The name of device `device`.
#[pyfunction]
#[pyo3(signature = (device=None))]
fn device_name(device: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
    gpu::device(device_arg(device)?).and_then(|d| d.name()).map_err(to_py)
}

/// Pin (page-lock) pool memory: the mapping holding `payload`, or with no argument every pool
/// segment of the default namespace this process has mapped. Returns the bytes newly pinned.
#[pyfunction]
#[pyo3(signature = (payload=None))]
fn pin(py: Python<'_>, payload: Option<&Bound<'_, PyPayload>>) -> PyResult<u64> {
    gpu::driver::driver().map_err(to_py)?;
    keep_namespace_mapped()?;
    let ptrs: Vec<usize> = match payload {
        Some(p) => vec![p.get().ptr()],
        None => {
            let ns = crate::namespace::default_ns()?;
            let dir = ns.dir().to_path_buf();
            gpu::pin::mappings()
                .into_iter()
                .filter(|(_, _, path)| {
                    let p = std::path::Path::new(path);
                    p.parent() == Some(dir.as_path()) && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("pool-"))
                })
                .map(|(s, _, _)| s)
                .collect()
        }
    };
    py.detach(|| {
        let mut total = 0u64;
        for ptr in ptrs {
            // SAFETY: pool segments stay mapped while their namespace is open; `unpin_all`
            // is the documented way out before switching namespaces.
            let (_, len, new) = unsafe { gpu::pin_mapping_forever(ptr) }?;
            if new {
                total += len as u64;
            }
        }
        Ok::<_, gpu::CudaError>(total)
    })
    .map_err(to_py)
}

/// Pin the mapping of `payload` if `TENSORBUS_CUDA_PIN` is set (used by the auto-pin hooks);
/// a no-op returning False otherwise or without a driver.
#[pyfunction]
fn _auto_pin(payload: &Bound<'_, PyPayload>) -> bool {
    let ptr = payload.get().ptr();
    if gpu::is_pinned(ptr) {
        return true;
    }
    // SAFETY: as in `pin`.
    gpu::pin_from_env() && gpu::is_available() && keep_namespace_mapped().is_ok() && unsafe { gpu::pin_mapping_forever(ptr) }.is_ok()
}

/// True if `payload`'s memory is page-locked (registered with the driver by this process).
#[pyfunction]
fn is_pinned(payload: &Bound<'_, PyPayload>) -> bool {
    gpu::is_pinned(payload.get().ptr())
}

/// Unregister every range this process pinned (and let go of the namespaces kept mapped for
/// them); returns how many ranges. Registered at exit by `tensorbus.cuda`.
#[pyfunction]
fn unpin_all(py: Python<'_>) -> usize {
    let n = py.detach(gpu::unpin_all);
    let kept = std::mem::take(&mut *KEEP.lock().unwrap_or_else(|e| e.into_inner()));
    drop(kept);
    n
}

/// `[(size, total, free)]` of the device pool's size classes on `device`.
#[pyfunction]
#[pyo3(signature = (device=None))]
fn pool_usage(device: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(usize, usize, usize)>> {
    gpu::device_pool(device_arg(device)?).map(|p| p.usage()).map_err(to_py)
}

/// Copy `payload` into a buffer of the device pool, asynchronously on `stream` (a private stream
/// when None). The payload's slot stays held until the copy completes.
#[pyfunction]
#[pyo3(signature = (payload, device=None, stream=None))]
fn to_cuda(py: Python<'_>, payload: &Bound<'_, PyPayload>, device: Option<&Bound<'_, PyAny>>, stream: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyCudaPayload>> {
    stage(py, payload.get(), device, stream)
}

/// Copy a CUDA array (torch, CuPy, JAX, `CudaPayload`) into a new pool `Tensor` (loaned).
#[pyfunction]
fn from_device(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
    let m = copy_device_to_slot(py, obj, PayloadKind::Tensor, 0)?;
    PyTensor::loaned(py, m)
}

/// Add the submodule `cuda` (importable as `tensorbus._native.cuda`) and the `CudaPayload` class.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    crate::device::pin_requested(); // read TENSORBUS_CUDA_PIN at import, as tensorbus.cuda did
    let sub = PyModule::new(py, "tensorbus._native.cuda")?;
    sub.add_function(wrap_pyfunction!(is_available, &sub)?)?;
    sub.add_function(wrap_pyfunction!(device_count, &sub)?)?;
    sub.add_function(wrap_pyfunction!(device_name, &sub)?)?;
    sub.add_function(wrap_pyfunction!(pin, &sub)?)?;
    sub.add_function(wrap_pyfunction!(_auto_pin, &sub)?)?;
    sub.add_function(wrap_pyfunction!(is_pinned, &sub)?)?;
    sub.add_function(wrap_pyfunction!(unpin_all, &sub)?)?;
    sub.add_function(wrap_pyfunction!(pool_usage, &sub)?)?;
    sub.add_function(wrap_pyfunction!(to_cuda, &sub)?)?;
    sub.add_function(wrap_pyfunction!(from_device, &sub)?)?;
    sub.add_class::<PyCudaPayload>()?;
    // `add_submodule` binds it as `cuda` (and in `__all__`); `sys.modules` makes
    // `import tensorbus._native.cuda` (and so stubtest) find it.
    m.add_submodule(&sub)?;
    py.import("sys")?.getattr("modules")?.set_item("tensorbus._native.cuda", &sub)?;
    m.add_class::<PyCudaPayload>()?;
    Ok(())
}
