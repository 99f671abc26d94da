//! Binds `tensorbus_gpu`: `tb.cuda` — availability, pinned pool memory, `to_cuda` staging into
//! the device pool with a CUDA DLPack export (`CudaPayload`), and the way back
//! ([`copy_device_to_slot`], `tb.cuda.from_device`).
//!
//! Stream semantics follow the array API standard for CUDA producers: `__dlpack__(stream=s)`
//! makes the consumer's stream `s` wait (device-side) on the event recorded after our copy;
//! `None` means the legacy default stream, `1` legacy, `2` per-thread, `-1` no synchronization,
//! `0` is refused.

use crate::errors::{exc, to_py};
use crate::payload::PyPayload;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use std::sync::Arc;
use tensorbus_gpu::{self as gpu, Staged, StreamRef};
use tensorbus_tensor::dlpack::{self, DLDevice, ExportSpec, ForeignView};
use tensorbus_tensor::{DType, PayloadKind, PayloadMut};

/// The device index of `device`: an int, `"cuda"`, `"cuda:N"` or a `torch.device`.
fn device_arg(device: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    let Some(d) = device.filter(|d| !d.is_none()) else { return Ok(0) };
    if let Ok(i) = d.extract::<i64>() {
        return Ok(i);
    }
    let text = if let Ok(s) = d.extract::<String>() {
        s
    } else if let (Ok(t), Ok(i)) = (d.getattr("type"), d.getattr("index")) {
        let t: String = t.extract()?;
        if i.is_none() {
            t
        } else {
            format!("{t}:{}", i.extract::<i64>()?)
        }
    } else {
        return Err(exc::CudaError::new_err(format!("device must be an int, 'cuda', 'cuda:N' or a torch.device, not {}", d.get_type().name()?)));
    };
    match text.split_once(':') {
        None if text == "cuda" => Ok(0),
        Some(("cuda", n)) => n.trim().parse().map_err(|_| exc::CudaError::new_err(format!("bad device {text:?}"))),
        _ => Err(exc::CudaError::new_err(format!("device {text:?} is not a CUDA device (use 'cuda', 'cuda:N' or an index)"))),
    }
}

/// A stream argument: `None`, an int handle, or an object with `.cuda_stream` (torch) or `.ptr`
/// (cupy).
fn stream_arg(stream: Option<&Bound<'_, PyAny>>) -> PyResult<Option<StreamRef>> {
    let Some(s) = stream.filter(|s| !s.is_none()) else { return Ok(None) };
    let v: i64 = if let Ok(v) = s.extract::<i64>() {
        v
    } else if let Ok(v) = s.getattr("cuda_stream").and_then(|v| v.extract::<i64>()) {
        v
    } else if let Ok(v) = s.getattr("ptr").and_then(|v| v.extract::<i64>()) {
        v
    } else {
        return Err(exc::CudaError::new_err(format!("bad CUDA stream: expected an int handle, a torch.cuda.Stream or a cupy Stream, not {}", s.get_type().name()?)));
    };
    StreamRef::from_int(v).map(Some).map_err(to_py)
}

/// Namespaces whose pool segments we pinned: kept open (so their pools stay mapped) until
/// `unpin_all`. A pinned range must never be unmapped while registered: a new mapping at the same
/// address would otherwise be taken for the old, registered pages.
static KEEP: std::sync::Mutex<Vec<tensorbus_pool::Namespace>> = std::sync::Mutex::new(Vec::new());

fn keep_namespace_mapped() -> PyResult<()> {
    let ns = crate::namespace::default_ns()?;
    let mut g = KEEP.lock().unwrap_or_else(|e| e.into_inner());
    if !g.iter().any(|k| k.dir() == ns.dir()) {
        g.push(ns);
    }
    Ok(())
}

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
    let index = device_arg(device)?;
    let stream = stream_arg(stream)?;
    gpu::device(index).map_err(to_py)?; // fail before freezing the payload
    let this = payload.get();
    let p = this.share(py);
    let ptr = this.ptr();
    let meta = p.meta().clone();
    let len = meta.nbytes() as usize;
    let auto_pin = gpu::pin_from_env() && !gpu::is_pinned(ptr) && keep_namespace_mapped().is_ok();
    let staged = py
        .detach(move || {
            if auto_pin {
                // SAFETY: as in `pin`. A failure only costs bandwidth (pageable copy).
                let _ = unsafe { gpu::pin_mapping_forever(ptr) };
            }
            // SAFETY: the slot (frozen, immutable) stays held by the payload clone in `hold`
            // until the copy's event completes.
            unsafe { gpu::stage(ptr as *const u8, len, index, stream, Box::new(p)) }
        })
        .map_err(to_py)?;
    Py::new(py, PyCudaPayload { staged: Arc::new(staged), shape: meta.shape().to_vec(), dtype: meta.dtype(), timestamp_ns: meta.timestamp_ns, seq: meta.sequence })
}

/// A payload copied to a CUDA device buffer (from `Payload.to_cuda()` / `tb.cuda.to_cuda()`):
/// exports `__dlpack__` with device type CUDA; `to_torch()`, `to_cupy()`, `to_jax()`.
#[pyclass(name = "CudaPayload", module = "tensorbus._native", frozen)]
pub struct PyCudaPayload {
    staged: Arc<Staged>,
    shape: Vec<usize>,
    dtype: DType,
    timestamp_ns: u64,
    seq: u64,
}

static TORCH_FROM_DLPACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static CUPY_FROM_DLPACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static JAX_FROM_DLPACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

#[pymethods]
impl PyCudaPayload {
    /// The DLPack protocol for a CUDA producer. `stream` is the consumer's stream (array API:
    /// None = legacy default, 1 legacy, 2 per-thread, -1 no sync, 0 refused); it waits on our
    /// copy's event without blocking the host. `dl_device` must be None or this device.
    #[pyo3(signature = (*, stream=None, max_version=None, dl_device=None, copy=None))]
    fn __dlpack__<'py>(
        &self,
        py: Python<'py>,
        stream: Option<&Bound<'py, PyAny>>,
        max_version: Option<&Bound<'py, PyAny>>,
        dl_device: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let dev = self.staged.device();
        let consumer = match stream.filter(|s| !s.is_none()) {
            None => Some(StreamRef::LEGACY),
            Some(s) => match s.extract::<i64>() {
                Ok(-1) => None,
                Ok(0) => return Err(exc::CudaError::new_err("bad CUDA stream: 0 is ambiguous for __dlpack__ (use 1 for the legacy default stream, 2 for per-thread)")),
                Ok(v) => Some(StreamRef::from_int(v).map_err(to_py)?),
                Err(_) => return Err(exc::CudaError::new_err("bad CUDA stream: __dlpack__(stream=...) takes None or an int")),
            },
        };
        if copy == Some(true) {
            return Err(exc::DLPackError::new_err("copy=True is not supported: the device buffer is exported without copying"));
        }
        if let Some(d) = dl_device.filter(|d| !d.is_none()) {
            let (t, id): (i32, i32) = d.extract().map_err(|_| exc::DLPackError::new_err("dl_device must be a (device_type, device_id) tuple"))?;
            if (t, id) != (dlpack::device::CUDA, dev.index as i32) {
                return Err(exc::DLPackError::new_err(format!("dl_device ({t}, {id}) not supported: the payload is on CUDA device ({}, {})", dlpack::device::CUDA, dev.index)));
            }
        }
        let versioned = match max_version.filter(|v| !v.is_none()) {
            None => false,
            Some(v) => v.extract::<(i64, i64)>().map_err(|_| exc::DLPackError::new_err("max_version must be a (major, minor) tuple"))?.0 >= 1,
        };
        match consumer {
            Some(s) => {
                let staged = self.staged.clone();
                py.detach(move || staged.wait_on(s)).map_err(to_py)?;
            }
            // -1: the consumer orders itself; we cannot know its stream, so the buffer's reuse
            // waits for the whole device.
            None => self.staged.used_untracked(),
        }
        let spec = ExportSpec {
            data: self.staged.device_ptr() as usize as *mut u8,
            shape: &self.shape,
            dtype: self.dtype,
            device: DLDevice { device_type: dlpack::device::CUDA, device_id: dev.index as i32 },
            readonly: false,
        };
        let owner: Box<dyn std::any::Any + Send> = Box::new(self.staged.clone());
        // SAFETY: the device buffer stays claimed while `owner` (an Arc of the staged buffer)
        // lives; the capsule owns the managed tensor until a consumer renames it.
        unsafe { crate::dlpack::capsule(py, spec, owner, versioned) }
    }

    /// `(2, device_index)`: CUDA device memory.
    fn __dlpack_device__(&self) -> (i32, i32) {
        (dlpack::device::CUDA, self.staged.device().index as i32)
    }

    /// A torch CUDA tensor on the device buffer (no copy; ordered on torch's current stream).
    fn to_torch<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::payload::import_attr(&TORCH_FROM_DLPACK, slf.py(), "torch", "from_dlpack", "torch")?.call1((slf,))
    }
    /// A CuPy array on the device buffer (no copy; ordered on CuPy's current stream).
    fn to_cupy<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::payload::import_attr(&CUPY_FROM_DLPACK, slf.py(), "cupy", "from_dlpack", "cupy")?.call1((slf,))
    }
    /// A JAX array from the device buffer (`jax.dlpack.from_dlpack`).
    fn to_jax<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let f = JAX_FROM_DLPACK.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            let m = py.import("jax.dlpack").map_err(|e| exc::TensorbusError::new_err(format!("to_jax needs jax: {e}")))?;
            Ok(m.getattr("from_dlpack")?.unbind())
        })?;
        f.bind(py).call1((slf,))
    }
    /// Block until the host→device copy has completed (and release the host slot).
    fn synchronize(&self, py: Python<'_>) -> PyResult<()> {
        let s = self.staged.clone();
        py.detach(move || s.synchronize()).map_err(to_py)
    }
    /// True once the copy has completed (the host slot is then released).
    #[getter]
    fn ready(&self) -> PyResult<bool> {
        self.staged.ready().map_err(to_py)
    }
    /// True while the source pool slot is still held (the copy may be in flight).
    #[getter]
    fn holds_host(&self) -> bool {
        self.staged.holds_host()
    }
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.shape)
    }
    #[getter]
    fn dtype(&self) -> &'static str {
        self.dtype.name()
    }
    #[getter]
    fn nbytes(&self) -> usize {
        self.staged.len()
    }
    /// Device index.
    #[getter]
    fn device(&self) -> usize {
        self.staged.device().index
    }
    /// Device address of the buffer (for zero-copy checks).
    #[getter]
    fn data_ptr(&self) -> u64 {
        self.staged.device_ptr()
    }
    /// The stream handle the copy was queued on.
    #[getter]
    fn stream(&self) -> usize {
        self.staged.stream().as_int()
    }
    #[getter]
    fn timestamp_ns(&self) -> u64 {
        self.timestamp_ns
    }
    #[getter]
    fn seq(&self) -> u64 {
        self.seq
    }
    fn __repr__(&self) -> String {
        format!("<tensorbus.CudaPayload {:?} {} on cuda:{}, {} B, seq={}>", self.shape, self.dtype.name(), self.staged.device().index, self.staged.len(), self.seq)
    }
}

/// A foreign capsule we consumed: calls the producer's deleter on drop (after our copy).
/// For `tb.Tensor.from_dlpack` (py/src/tensor.rs): route CUDA producers to [`copy_device_to_slot`].
///
/// True if `obj` is a DLPack producer on a CUDA device (`__dlpack_device__()[0]` is CUDA or
/// CUDA managed memory).
#[allow(dead_code)]
pub fn is_cuda_object(obj: &Bound<'_, PyAny>) -> bool {
    obj.call_method0("__dlpack_device__").and_then(|d| d.extract::<(i32, i32)>()).is_ok_and(|(t, _)| t == dlpack::device::CUDA || t == dlpack::device::CUDA_MANAGED)
}

/// The way back: copy a CUDA DLPack producer (a torch/CuPy/JAX GPU array, a `CudaPayload`) into
/// a new pool slot of `kind` (`aux`: the image encoding code, else 0) and return it loaned
/// (writable, not yet sent). The producer orders its work before our copy on our private stream
/// (`__dlpack__(stream=...)`); the copy is synchronous for the caller (GIL released).
///
/// Raises `DLPackError` for a non-CUDA or non-contiguous producer, `CudaError` for driver
/// failures, pool errors as usual.
pub fn copy_device_to_slot(py: Python<'_>, obj: &Bound<'_, PyAny>, kind: PayloadKind, aux: u16) -> PyResult<PayloadMut> {
    let (t, id): (i32, i32) = obj
        .call_method0("__dlpack_device__")
        .and_then(|d| d.extract())
        .map_err(|_| exc::DLPackError::new_err(format!("{} is not a DLPack producer (no __dlpack_device__)", obj.get_type().name().map(|n| n.to_string()).unwrap_or_default())))?;
    if t != dlpack::device::CUDA && t != dlpack::device::CUDA_MANAGED {
        return Err(exc::DLPackError::new_err(format!("expected a CUDA tensor, got DLPack device type {t}")));
    }
    let dev = gpu::device(id as i64).map_err(to_py)?;
    let stream = gpu::stream::private_stream(&dev).map_err(to_py)?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("stream", stream.as_int())?;
    kwargs.set_item("max_version", (1, 0))?;
    let capsule = match obj.call_method("__dlpack__", (), Some(&kwargs)) {
        Ok(c) => c,
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyTypeError>(py) => {
            let kw = PyDict::new(py);
            kw.set_item("stream", stream.as_int())?;
            obj.call_method("__dlpack__", (), Some(&kw))?
        }
        Err(e) => return Err(e),
    };
    // Validated and owned; the producer's deleter runs when `consumed` drops, after the copy.
    let consumed = crate::dlpack::take(capsule)?;
    let view: ForeignView = consumed.view.clone();
    if view.device.device_type != dlpack::device::CUDA && view.device.device_type != dlpack::device::CUDA_MANAGED {
        // Never hand a host pointer to a device-to-host copy as if it were a device address.
        return Err(exc::DLPackError::new_err(format!("producer said CUDA but exported DLPack device type {}", view.device.device_type)));
    }
    if view.device.device_id != id {
        return Err(exc::DLPackError::new_err(format!("producer said device {id} but exported device {}", view.device.device_id)));
    }
    if !view.contiguous {
        return Err(exc::DLPackError::new_err("the CUDA tensor is not contiguous: call .contiguous() on it first"));
    }
    let ns = crate::namespace::default_ns()?;
    let mut m = PayloadMut::new(&ns, kind, view.dtype, &view.shape, aux).map_err(to_py)?;
    let (src, dst, len) = (view.data as usize as u64, m.as_mut_ptr() as usize, view.nbytes());
    let r = py.detach(move || {
        // SAFETY: `src` is the producer's validated, contiguous device range (kept alive by
        // `consumed` until after the synchronous copy); `dst` is our loaned slot of `len` bytes.
        unsafe { gpu::copy_to_host(src, dst as *mut u8, len, id as i64, Some(stream)) }
    });
    // The producer's deleter runs with the GIL held (some producers need it), after the copy.
    drop(consumed);
    r.map_err(to_py)?;
    Ok(m)
}

/// Copy a CUDA array (torch, CuPy, JAX, `CudaPayload`) into a new pool `Tensor` (loaned).
#[pyfunction]
fn from_device(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Py<crate::tensor::PyTensor>> {
    let m = copy_device_to_slot(py, obj, PayloadKind::Tensor, 0)?;
    crate::tensor::PyTensor::loaned(py, m)
}

/// Register `tb._native.cuda_*` functions and the `CudaPayload` class.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let sub = PyModule::new(m.py(), "cuda")?;
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
    m.add_submodule(&sub)?;
    m.add_class::<PyCudaPayload>()?;
    Ok(())
}
