//! The Python methods of `Payload` (py/src/payload.rs holds the class and its state): zero-copy
//! exports to NumPy, PyTorch, JAX and DLPack, the copy to a CUDA device (`to_cuda`, `to_cupy`),
//! `as_tensor`, and the metadata getters and setters.
//!
//! With `TENSORBUS_CUDA_PIN=1`, `to_torch`, `__dlpack__` and `to_cuda` page-lock the payload's
//! pool segment the first time they see it (py/src/device.rs, [`crate::device::auto_pin`]).

use crate::array;
use crate::cuda_payload::{stage, PyCudaPayload};
use crate::errors::{exc, to_py};
use crate::imports::import_attr;
use crate::payload::{Cell, PyPayload};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyTuple, PyWeakrefReference};
use tensorbus_tensor::{Encoding, PayloadKind};

static TORCH_FROM_DLPACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static TORCH_FROM_DLPACK_PUBLIC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static JAX_FROM_DLPACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

#[pymethods]
impl PyPayload {
    /// A NumPy view of the payload (no copy). Writable while loaned, read-only once shared.
    fn to_numpy<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let (shape, dtype, writable, ptr) = {
            let g = this.lock();
            let m = g.meta();
            (m.shape().to_vec(), m.dtype(), matches!(&*g, Cell::Loaned(_)), g.ptr())
        };
        let arr = array::view(py, slf.as_any(), ptr as *mut u8, &shape, dtype, writable)?;
        if writable {
            this.remember_export(py, PyWeakrefReference::new(&arr)?.into_any().unbind());
            // `share` marks the cell shared before it takes the list: if it ran since we looked,
            // it may have missed this array, so turn it read-only here.
            if matches!(&*this.lock(), Cell::Shared(_)) {
                arr.getattr("flags")?.setattr("writeable", false)?;
            }
        }
        Ok(arr)
    }

    /// A PyTorch tensor sharing the slot (no copy). `device="cuda"` copies to the GPU.
    #[pyo3(signature = (device=None))]
    fn to_torch<'py>(slf: &Bound<'py, Self>, device: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        crate::device::auto_pin(slf.get());
        // torch._C._from_dlpack is what torch.utils.dlpack.from_dlpack calls after its Python
        // checks (about 1 µs less per call); fall back to the public name if it moves.
        let from_dlpack = match import_attr(&TORCH_FROM_DLPACK, py, "torch", "_C._from_dlpack", "to_torch") {
            Ok(f) => f,
            Err(_) => import_attr(&TORCH_FROM_DLPACK_PUBLIC, py, "torch", "utils.dlpack.from_dlpack", "to_torch")?,
        };
        let capsule = crate::dlpack::export(slf, false)?;
        let t = from_dlpack.call1((capsule,))?;
        match device {
            None => Ok(t),
            Some(d) => t.call_method1("to", (d,)),
        }
    }

    /// A JAX array sharing the slot (no copy on CPU: payloads are 256-byte aligned and compact).
    fn to_jax<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let from_dlpack = import_attr(&JAX_FROM_DLPACK, py, "jax", "numpy.from_dlpack", "to_jax")?;
        from_dlpack.call1((slf,))
    }

    /// The DLPack protocol. `max_version >= (1, 0)` gets a versioned capsule (read-only flag set
    /// on shared payloads); otherwise a legacy one. Only the CPU device and `copy` in
    /// (None, False) are supported; anything else raises `DLPackError`.
    #[pyo3(signature = (*, stream=None, max_version=None, dl_device=None, copy=None))]
    fn __dlpack__<'py>(
        slf: &Bound<'py, Self>,
        stream: Option<&Bound<'py, PyAny>>,
        max_version: Option<&Bound<'py, PyAny>>,
        dl_device: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::device::auto_pin(slf.get());
        if let Some(s) = stream {
            if !s.is_none() {
                // CPU data: the array API allows stream=None or -1 only for CPU producers... we
                // accept any integer and ignore it (there is nothing to synchronise on the host).
                s.extract::<i64>().map_err(|_| exc::DLPackError::new_err("stream must be None or an integer"))?;
            }
        }
        if copy == Some(true) {
            return Err(exc::DLPackError::new_err("copy=True is not supported: tensorbus exports pool memory without copying; copy on the consumer side"));
        }
        if let Some(dev) = dl_device {
            if !dev.is_none() {
                let (t, id): (i32, i32) = dev.extract().map_err(|_| exc::DLPackError::new_err("dl_device must be a (device_type, device_id) tuple"))?;
                if (t, id) != (1, 0) {
                    return Err(exc::DLPackError::new_err(format!("dl_device ({t}, {id}) not supported: the payload is host memory, device (1, 0)")));
                }
            }
        }
        let versioned = match max_version {
            None => false,
            Some(v) if v.is_none() => false,
            Some(v) => {
                let (major, _minor): (i64, i64) = v.extract().map_err(|_| exc::DLPackError::new_err("max_version must be a (major, minor) tuple"))?;
                if major < 0 {
                    return Err(exc::DLPackError::new_err(format!("max_version {v} is invalid")));
                }
                major >= 1
            }
        };
        crate::dlpack::export(slf, versioned)
    }

    /// `(device_type, device_id)`: `(1, 0)`, host memory.
    fn __dlpack_device__(&self) -> (i32, i32) {
        (1, 0)
    }

    /// Copy the payload into a buffer of the CUDA device pool on `device` (an index, `"cuda"`,
    /// `"cuda:N"` or a `torch.device`; None: 0), asynchronously on `stream` (None: a private
    /// stream; an int handle, a `torch.cuda.Stream` or a CuPy stream). A loaned payload is
    /// frozen; its slot stays held until the copy completes. Raises `CudaError` (no driver, no
    /// device, index out of range, bad stream, out of device memory or pool buffers).
    #[pyo3(signature = (device=None, stream=None))]
    fn to_cuda(&self, py: Python<'_>, device: Option<&Bound<'_, PyAny>>, stream: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyCudaPayload>> {
        stage(py, self, device, stream)
    }

    /// A CuPy array on the GPU holding a copy of the payload (`to_cuda(...).to_cupy()`).
    #[pyo3(signature = (device=None, stream=None))]
    fn to_cupy<'py>(&self, py: Python<'py>, device: Option<&Bound<'py, PyAny>>, stream: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        PyCudaPayload::to_cupy(stage(py, self, device, stream)?.bind(py))
    }

    /// Make the payload read-only and shareable (sending does this implicitly).
    fn freeze(&self, py: Python<'_>) {
        self.share(py);
    }

    /// A `Tensor` view of the same slot (no copy). A loaned payload is frozen first.
    fn as_tensor(&self, py: Python<'_>) -> PyResult<Py<crate::tensor::PyTensor>> {
        let p = self.share(py);
        crate::tensor::PyTensor::wrap(py, tensorbus_tensor::Tensor::view(&p).into_payload())
    }

    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.meta().shape())
    }
    #[getter]
    fn dtype(&self) -> &'static str {
        self.meta().dtype().name()
    }
    #[getter]
    fn ndim(&self) -> usize {
        self.meta().ndim()
    }
    #[getter]
    fn nbytes(&self) -> u64 {
        self.meta().nbytes()
    }
    #[getter]
    fn timestamp_ns(&self) -> u64 {
        self.meta().timestamp_ns
    }
    #[setter]
    fn set_timestamp_ns(&self, t: u64) -> PyResult<()> {
        match &mut *self.lock() {
            Cell::Loaned(m) => {
                m.set_timestamp_ns(t);
                Ok(())
            }
            _ => Err(exc::ReadOnlyError::new_err("timestamp_ns of a shared payload cannot change")),
        }
    }
    #[getter]
    fn frame_id(&self) -> String {
        self.meta().frame_id().to_string()
    }
    #[setter]
    fn set_frame_id(&self, id: &str) -> PyResult<()> {
        match &mut *self.lock() {
            Cell::Loaned(m) => m.set_frame_id(id).map_err(to_py),
            _ => Err(exc::ReadOnlyError::new_err("frame_id of a shared payload cannot change")),
        }
    }
    /// Sequence number: as received, or as assigned by the last send (0 before).
    #[getter]
    fn seq(&self) -> u64 {
        match self.meta().sequence {
            0 => self.sent_seq(),
            s => s,
        }
    }
    /// True once the payload is shared (sent, received or frozen).
    #[getter]
    fn readonly(&self) -> bool {
        matches!(&*self.lock(), Cell::Shared(_))
    }
    /// Address of the payload in this process (for zero-copy checks): in the writable mapping
    /// while loaned, in the read-only alias of the same slot once shared.
    #[getter]
    fn data_ptr(&self) -> usize {
        self.ptr()
    }
    /// `(pool, slot, generation)` of the backing slot.
    #[getter]
    fn slot(&self) -> (u8, u32, u32) {
        let g = self.lock();
        let d = match &*g {
            Cell::Loaned(m) => m.slot().descriptor(),
            Cell::Shared(p) => p.slot().descriptor(),
            Cell::Moving => unreachable!(),
        };
        (d.pool, d.slot, d.generation)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let this = slf.get();
        let m = this.meta();
        let cls = slf.get_type().name()?;
        let state = if this.readonly() { "shared" } else { "loaned" };
        let extra = match m.kind() {
            PayloadKind::Image => Encoding::from_code(m.aux()).map(|e| format!(", {}", e.name())).unwrap_or_default(),
            _ => String::new(),
        };
        let fid = if m.frame_id().is_empty() { String::new() } else { format!(", frame_id={:?}", m.frame_id()) };
        Ok(format!("<tensorbus.{cls} {:?} {}{extra}, {} B, seq={}, t={}ns{fid}, {state}>", m.shape(), m.dtype().name(), m.nbytes(), m.sequence, m.timestamp_ns))
    }
}
