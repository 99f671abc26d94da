//! The host side of CUDA, below the payload classes: device and stream arguments, pinning
//! (page-locking) pool memory, and the way back from a device (`copy_device_to_slot`, used by
//! `Tensor.from_dlpack`, `Image.from_torch` and `tb.cuda.from_device`).

use crate::errors::{exc, to_py};
use crate::payload::PyPayload;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::OnceLock;
use tensorbus_gpu::{self as gpu, StreamRef};
use tensorbus_tensor::dlpack::{self, ForeignView};
use tensorbus_tensor::{PayloadKind, PayloadMut};

/// The device index of `device`: an int, `"cuda"`, `"cuda:N"` or a `torch.device`.
pub fn device_arg(device: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
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
pub fn stream_arg(stream: Option<&Bound<'_, PyAny>>) -> PyResult<Option<StreamRef>> {
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
pub static KEEP: std::sync::Mutex<Vec<tensorbus_pool::Namespace>> = std::sync::Mutex::new(Vec::new());

pub fn keep_namespace_mapped() -> PyResult<()> {
    let ns = crate::namespace::default_ns()?;
    let mut g = KEEP.lock().unwrap_or_else(|e| e.into_inner());
    if !g.iter().any(|k| k.dir() == ns.dir()) {
        g.push(ns);
    }
    Ok(())
}

/// `TENSORBUS_CUDA_PIN`, read once (`register` reads it when `tensorbus._native` is imported).
pub fn pin_requested() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(gpu::pin_from_env)
}

/// With `TENSORBUS_CUDA_PIN` set, page-lock the pool mapping holding `payload` the first time
/// an export sees it (`to_torch`, `__dlpack__`, `to_cuda`); true if it is pinned. Without the
/// variable (one cached load) or without a driver, nothing happens and it returns false.
pub fn auto_pin(payload: &PyPayload) -> bool {
    if !pin_requested() {
        return false;
    }
    let ptr = payload.ptr();
    if gpu::is_pinned(ptr) {
        return true;
    }
    // SAFETY: pool segments stay mapped while their namespace is open, and
    // `keep_namespace_mapped` keeps it open until `unpin_all`.
    gpu::is_available() && keep_namespace_mapped().is_ok() && unsafe { gpu::pin_mapping_forever(ptr) }.is_ok()
}

/// True if `obj` is a DLPack producer on a CUDA device (`__dlpack_device__()[0]` is CUDA or
/// CUDA managed memory): `Tensor.from_dlpack` and `Image.from_torch` route those to
/// [`copy_device_to_slot`].
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
