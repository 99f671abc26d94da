//! The common base class of every pool payload (`Image`, `DepthImage`, `PointCloud`, `Tensor`):
//! a loaned (writable) or shared (read-only) slot, exported zero-copy to NumPy, PyTorch and JAX.
//!
//! State machine: `Loaned(PayloadMut)` — writable, only this object sees it — becomes
//! `Shared(Payload)` on `freeze()` or when sent; NumPy arrays handed out while loaned are
//! switched to read-only at that moment.
//!
//! A shared payload lives at a different address from the loan it came from: the slot's start
//! in the pool's read-only alias (see `tensorbus_pool::pool`), so every view of it (NumPy,
//! torch, JAX, a memoryview, raw pointers) faults on a write. `data_ptr` follows the state.
//! A torch tensor or DLPack capsule taken from the *loan* keeps the writable address after the
//! send (DLPack has no way to revoke it): drop it before sending.

use crate::array;
use crate::errors::{exc, to_py};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyTuple, PyWeakrefReference};
use std::sync::{Mutex, MutexGuard};
use tensorbus_tensor::{DType, Encoding, Payload, PayloadKind, PayloadMeta, PayloadMut};

pub enum Cell {
    Loaned(PayloadMut),
    Shared(Payload),
    /// Only while `freeze` swaps the state (never observed outside the lock).
    Moving,
}

impl Cell {
    pub fn meta(&self) -> &PayloadMeta {
        match self {
            Cell::Loaned(m) => m.meta(),
            Cell::Shared(p) => p.meta(),
            Cell::Moving => unreachable!("Cell::Moving is never visible outside freeze"),
        }
    }
    /// Start of the payload (see [`PyPayload::ptr`]).
    pub fn ptr(&self) -> usize {
        match self {
            Cell::Loaned(m) => m.as_ptr() as usize,
            Cell::Shared(p) => p.as_ptr() as usize,
            Cell::Moving => unreachable!("Cell::Moving is never visible outside freeze"),
        }
    }
}

/// Base class of pool payloads.
#[pyclass(name = "Payload", module = "tensorbus._native", subclass, frozen)]
pub struct PyPayload {
    cell: Mutex<Cell>,
    /// Weak references to writable NumPy arrays handed out while loaned.
    exported: Mutex<Vec<Py<PyAny>>>,
    /// The sequence number the last send returned (the sender's own view of `seq`).
    /// Relaxed: a value, no ordering with other memory.
    sent_seq: std::sync::atomic::AtomicU64,
}

impl PyPayload {
    pub fn loaned(mut m: PayloadMut) -> PyPayload {
        if m.meta().timestamp_ns == 0 {
            // Default capture time: when the slot was loaned (callers may overwrite it).
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
            m.set_timestamp_ns(now);
        }
        PyPayload { cell: Mutex::new(Cell::Loaned(m)), exported: Mutex::new(Vec::new()), sent_seq: Default::default() }
    }
    pub fn shared(p: Payload) -> PyPayload {
        PyPayload { cell: Mutex::new(Cell::Shared(p)), exported: Mutex::new(Vec::new()), sent_seq: Default::default() }
    }
    pub fn lock(&self) -> MutexGuard<'_, Cell> {
        self.cell.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Start of the payload in this process: the read-write mapping while loaned, the
    /// read-only alias once shared.
    pub fn ptr(&self) -> usize {
        self.lock().ptr()
    }
    /// Remember the sequence number a send assigned.
    pub fn set_sent_seq(&self, seq: u64) {
        self.sent_seq.store(seq, std::sync::atomic::Ordering::Relaxed);
    }
    pub fn meta(&self) -> PayloadMeta {
        self.lock().meta().clone()
    }

    /// Freeze (if loaned) and return the shared payload, e.g. to send it.
    pub fn share(&self, py: Python<'_>) -> Payload {
        let mut g = self.lock();
        if let Cell::Shared(p) = &*g {
            return p.clone();
        }
        let Cell::Loaned(m) = std::mem::replace(&mut *g, Cell::Moving) else { unreachable!("checked above") };
        let p = m.freeze();
        *g = Cell::Shared(p.clone());
        drop(g);
        let weak = std::mem::take(&mut *self.exported.lock().unwrap_or_else(|e| e.into_inner()));
        array::make_readonly(py, weak);
        p
    }

    fn kind(&self) -> PayloadKind {
        self.lock().meta().kind()
    }
}

static TORCH_FROM_DLPACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static TORCH_FROM_DLPACK_PUBLIC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static JAX_FROM_DLPACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

pub(crate) fn import_attr<'py>(cell: &'static PyOnceLock<Py<PyAny>>, py: Python<'py>, module: &str, attr: &str, what: &str) -> PyResult<&'py Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || {
        let m = py.import(module).map_err(|e| exc::TensorbusError::new_err(format!("{what} needs {module}: {e}")))?;
        let mut obj = m.into_any();
        for part in attr.split('.') {
            obj = obj.getattr(part)?;
        }
        Ok(obj.unbind())
    })
    .map(|o| o.bind(py))
}

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
            let weak = PyWeakrefReference::new(&arr)?;
            {
                let mut ex = this.exported.lock().unwrap_or_else(|e| e.into_inner());
                ex.retain(|w| w.bind(py).call0().map(|o| !o.is_none()).unwrap_or(false));
                ex.push(weak.into_any().unbind());
            }
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
            0 => self.sent_seq.load(std::sync::atomic::Ordering::Relaxed),
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

/// Parse a dtype argument: a string ("float32"), a NumPy dtype or type, or a torch dtype.
pub fn parse_dtype(obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    let s: String = if let Ok(s) = obj.extract::<String>() {
        s
    } else if let Ok(name) = obj.getattr("name").and_then(|n| n.extract::<String>()) {
        name // numpy dtype
    } else if let Ok(name) = obj.getattr("__name__").and_then(|n| n.extract::<String>()) {
        name // numpy scalar type
    } else {
        obj.str()?.to_string().trim_start_matches("torch.").to_string() // torch.float32
    };
    DType::parse(&s).ok_or_else(|| exc::DTypeError::new_err(format!("unknown dtype {s:?}")))
}

/// Wrap a shared payload in the Python class matching its kind.
pub fn wrap_any(py: Python<'_>, p: Payload) -> PyResult<Py<PyAny>> {
    Ok(match p.kind() {
        PayloadKind::Image => crate::image::PyImage::wrap(py, p)?.into_any(),
        PayloadKind::Depth => crate::image::PyDepthImage::wrap(py, p)?.into_any(),
        PayloadKind::Points => crate::points::PyPointCloud::wrap(py, p)?.into_any(),
        PayloadKind::Tensor | PayloadKind::Bytes => crate::tensor::PyTensor::wrap(py, p)?.into_any(),
        #[allow(unreachable_patterns)]
        _ => crate::tensor::PyTensor::wrap(py, p)?.into_any(),
    })
}

impl PyPayload {
    pub fn kind_of(&self) -> PayloadKind {
        self.kind()
    }
}
