//! `CudaPayload`: a payload copied into a buffer of the device pool (`Payload.to_cuda()`,
//! `tb.cuda.to_cuda()`), exported with a CUDA DLPack capsule.
//!
//! Stream semantics follow the array API standard for CUDA producers: `__dlpack__(stream=s)`
//! makes the consumer's stream `s` wait (device-side) on the event recorded after our copy;
//! `None` means the legacy default stream, `1` legacy, `2` per-thread, `-1` no synchronization,
//! `0` is refused.

use crate::device::{device_arg, keep_namespace_mapped, pin_requested, stream_arg};
use crate::errors::{exc, to_py};
use crate::imports::import_attr;
use crate::payload::PyPayload;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;
use std::sync::Arc;
use tensorbus_gpu::{self as gpu, Staged, StreamRef};
use tensorbus_tensor::dlpack::{self, DLDevice, ExportSpec};
use tensorbus_tensor::DType;

/// Copy `payload` into a buffer of the device pool, asynchronously on `stream` (a private stream
/// when None). The payload's slot stays held until the copy completes.
///
/// `device`: an index, `"cuda"`, `"cuda:N"` or a `torch.device` (None: 0); `stream`: None, an int
/// handle, a `torch.cuda.Stream` or a CuPy stream. Fails (`CudaError`) before freezing a loaned
/// payload when the device is unusable.
pub fn stage(py: Python<'_>, payload: &PyPayload, device: Option<&Bound<'_, PyAny>>, stream: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyCudaPayload>> {
    let index = device_arg(device)?;
    let stream = stream_arg(stream)?;
    gpu::device(index).map_err(to_py)?; // fail before freezing the payload
    let this = payload;
    let p = this.share(py);
    let ptr = this.ptr();
    let meta = p.meta().clone();
    let len = meta.nbytes() as usize;
    let auto_pin = pin_requested() && !gpu::is_pinned(ptr) && keep_namespace_mapped().is_ok();
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
        import_attr(&TORCH_FROM_DLPACK, slf.py(), "torch", "from_dlpack", "torch")?.call1((slf,))
    }
    /// A CuPy array on the device buffer (no copy; ordered on CuPy's current stream).
    pub fn to_cupy<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        import_attr(&CUPY_FROM_DLPACK, slf.py(), "cupy", "from_dlpack", "cupy")?.call1((slf,))
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
