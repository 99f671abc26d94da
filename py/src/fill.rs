//! Caller memory into new pool slots: argument checks shared by the payload constructors
//! (positive dimensions, dtype arguments) and the one copy from a NumPy array or a host DLPack
//! tensor into a loaned slot, with the GIL released during the copy.

use crate::array::ArrayIn;
use crate::dlpack::Foreign;
use crate::errors::{exc, to_py};
use crate::namespace::default_ns;
use pyo3::prelude::*;
use tensorbus_tensor::{DType, PayloadKind, PayloadMut};

/// Check user dimensions: positive integers.
pub fn dims(values: &[(&str, i64)]) -> PyResult<Vec<usize>> {
    values.iter().map(|&(name, v)| if v <= 0 { Err(exc::ShapeError::new_err(format!("{name} must be positive, got {v}"))) } else { Ok(v as usize) }).collect()
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

/// Loan a slot for `kind`/`dtype`/`shape`/`aux` and copy the caller's array into it, without
/// the GIL during the copy. `nbytes` must already match.
pub fn copy_in(py: Python<'_>, kind: PayloadKind, a: &ArrayIn<'_>, shape: &[usize], aux: u16) -> PyResult<PayloadMut> {
    let ns = default_ns()?;
    let mut m = PayloadMut::new(&ns, kind, a.dtype, shape, aux).map_err(to_py)?;
    let (src, n, dst) = (a.ptr as usize, a.nbytes, m.as_mut_ptr() as usize);
    if n != m.meta().nbytes() as usize {
        return Err(exc::ShapeError::new_err(format!("array has {n} bytes, payload needs {}", m.meta().nbytes())));
    }
    py.detach(|| {
        // SAFETY: src is the caller's C-contiguous array of n bytes, kept alive by `a` (we hold
        // a reference, so it cannot be freed or resized); dst is our exclusive slot of n bytes.
        unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, n) }
    });
    Ok(m)
}

/// Loan a slot and copy a foreign DLPack tensor into it (GIL released during the copy).
pub fn copy_foreign(py: Python<'_>, f: &Foreign<'_>, kind: PayloadKind, shape: &[usize], aux: u16) -> PyResult<PayloadMut> {
    let ns = default_ns()?;
    let mut m = PayloadMut::new(&ns, kind, f.view.dtype, shape, aux).map_err(to_py)?;
    if m.meta().nbytes() as usize != f.view.nbytes() {
        return Err(exc::ShapeError::new_err(format!("source has {} bytes, payload needs {}", f.view.nbytes(), m.meta().nbytes())));
    }
    struct SendView(tensorbus_tensor::dlpack::ForeignView, usize);
    // SAFETY: the raw pointers inside are only used by copy_out on the other side of
    // `detach`, while this thread waits; the producer's memory stays valid (capsule held).
    unsafe impl Send for SendView {}
    let job = SendView(f.view.clone(), m.as_mut_ptr() as usize);
    py.detach(move || {
        let job = job;
        // SAFETY: dst is our exclusive slot of nbytes (checked above); the source view was
        // validated by view_foreign and its producer keeps it alive.
        unsafe { crate::dlpack::copy_out(&job.0, job.1 as *mut u8) }
    });
    Ok(m)
}
