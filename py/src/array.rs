//! NumPy interop: zero-copy views of pool memory (NumPy C API, base object keeps the hold
//! alive) and validated reads of caller arrays for the one-copy `from_numpy` paths.

use crate::errors::exc;
use numpy::npyffi::{self, NPY_TYPES, PY_ARRAY_API};
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tensorbus_tensor::DType;

fn npy_type(d: DType) -> Option<NPY_TYPES> {
    Some(match d {
        DType::U8 => NPY_TYPES::NPY_UBYTE,
        DType::I8 => NPY_TYPES::NPY_BYTE,
        DType::U16 => NPY_TYPES::NPY_USHORT,
        DType::I16 => NPY_TYPES::NPY_SHORT,
        DType::U32 => NPY_TYPES::NPY_UINT,
        DType::I32 => NPY_TYPES::NPY_INT,
        DType::U64 => NPY_TYPES::NPY_ULONGLONG,
        DType::I64 => NPY_TYPES::NPY_LONGLONG,
        DType::F16 => NPY_TYPES::NPY_HALF,
        DType::F32 => NPY_TYPES::NPY_FLOAT,
        DType::F64 => NPY_TYPES::NPY_DOUBLE,
        DType::Bool => NPY_TYPES::NPY_BOOL,
        DType::BF16 => return None,
    })
}

static BF16: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn bf16_dtype(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    BF16.get_or_try_init(py, || {
        let m = py.import("ml_dtypes").map_err(|_| exc::DTypeError::new_err("bfloat16 arrays need the ml_dtypes package (pip install ml_dtypes)"))?;
        Ok(m.getattr("bfloat16")?.unbind())
    })
    .map(|o| o.bind(py))
}

/// A NumPy array over `ptr` (`shape`, C-contiguous `dtype`) whose base is `owner`, so the
/// memory (a pool slot hold) lives as long as the array.
pub fn view<'py>(py: Python<'py>, owner: &Bound<'py, PyAny>, ptr: *mut u8, shape: &[usize], dtype: DType, writable: bool) -> PyResult<Bound<'py, PyAny>> {
    let Some(ty) = npy_type(dtype) else {
        // bfloat16: a uint16 view reinterpreted by ml_dtypes (still zero-copy).
        let raw = view(py, owner, ptr, shape, DType::U16, writable)?;
        return raw.call_method1("view", (bf16_dtype(py)?,));
    };
    let mut dims: Vec<npyffi::npy_intp> = shape.iter().map(|&d| d as npyffi::npy_intp).collect();
    let flags = if writable { npyffi::NPY_ARRAY_CARRAY } else { npyffi::NPY_ARRAY_CARRAY_RO };
    // SAFETY: the NumPy API is initialised by PY_ARRAY_API on first use (under the GIL, which
    // `py` proves). `ptr` points at `prod(shape) * itemsize` bytes of a pool slot that `owner`
    // keeps held; strides NULL means C-contiguous. PyArray_SetBaseObject steals the reference
    // we pass it (hence into_ptr) and the new array reference is owned by the Bound we return.
    unsafe {
        let descr = PY_ARRAY_API.PyArray_DescrFromType(py, ty as i32);
        let arr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            npyffi::get_type_object(py, npyffi::NpyTypes::PyArray_Type),
            descr,
            dims.len() as i32,
            dims.as_mut_ptr(),
            std::ptr::null_mut(),
            ptr as *mut std::ffi::c_void,
            flags,
            std::ptr::null_mut(),
        );
        let arr = Bound::from_owned_ptr_or_err(py, arr)?;
        if PY_ARRAY_API.PyArray_SetBaseObject(py, arr.as_ptr() as *mut npyffi::PyArrayObject, owner.clone().into_ptr()) != 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(arr)
    }
}

/// A caller's array, validated, C-contiguous, ready to be copied from.
pub struct ArrayIn<'py> {
    pub ptr: *const u8,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub nbytes: usize,
    /// Keeps the (possibly contiguous copy of the) array alive while we read it.
    pub _keep: Bound<'py, PyAny>,
}

fn dtype_of(descr: &Bound<'_, numpy::PyArrayDescr>) -> PyResult<DType> {
    let py = descr.py();
    if descr.has_object() || descr.has_fields() || descr.has_subarray() {
        return Err(exc::DTypeError::new_err(format!("arrays of dtype {} cannot live in the pool: use a numeric dtype", descr.str()?)));
    }
    if descr.is_native_byteorder() == Some(false) {
        return Err(exc::DTypeError::new_err(format!("dtype {} is not in native byte order: use arr.astype(arr.dtype.newbyteorder('='))", descr.str()?)));
    }
    // The common numeric kinds are decided from the descriptor's C fields alone; `str(dtype)`
    // runs Python code in NumPy (≈ 7 µs per call in a profile of `from_numpy`), so it is only
    // asked for a dtype that is none of them (bfloat16 from ml_dtypes, or an unsupported one).
    let d = match (descr.kind(), descr.itemsize()) {
        (b'u', 1) => DType::U8,
        (b'u', 2) => DType::U16,
        (b'u', 4) => DType::U32,
        (b'u', 8) => DType::U64,
        (b'i', 1) => DType::I8,
        (b'i', 2) => DType::I16,
        (b'i', 4) => DType::I32,
        (b'i', 8) => DType::I64,
        (b'f', 2) => DType::F16,
        (b'f', 4) => DType::F32,
        (b'f', 8) => DType::F64,
        (b'b', 1) => DType::Bool,
        _ => {
            let name = descr.str()?.to_string();
            if name == "bfloat16" {
                let _ = bf16_dtype(py)?;
                return Ok(DType::BF16);
            }
            return Err(exc::DTypeError::new_err(format!("unsupported dtype {name}: use one of uint8..64, int8..64, float16/32/64, bfloat16, bool")));
        }
    };
    Ok(d)
}

/// Read `obj` as an array: anything `numpy.asarray` accepts. Non-contiguous or negatively
/// strided arrays are first copied contiguous (one extra copy); object and structured dtypes
/// are refused with `DTypeError`.
pub fn array_in<'py>(obj: &Bound<'py, PyAny>) -> PyResult<ArrayIn<'py>> {
    let py = obj.py();
    // `numpy` is imported only off the fast path (an ndarray that is already C-contiguous).
    let arr = match obj.cast::<PyUntypedArray>() {
        Ok(a) => a.clone(),
        Err(_) => py.import("numpy")?.call_method1("asarray", (obj,))?.cast_into::<PyUntypedArray>()?,
    };
    let dtype = dtype_of(&arr.dtype())?;
    let arr = if arr.is_c_contiguous() { arr } else { py.import("numpy")?.call_method1("ascontiguousarray", (&arr,))?.cast_into::<PyUntypedArray>()? };
    let shape = arr.shape().to_vec();
    let nbytes = shape.iter().product::<usize>() * dtype.itemsize();
    // SAFETY: `arr` is a live ndarray (type-checked by the cast); reading its data pointer
    // field is how NumPy's own PyArray_DATA macro works.
    let ptr = unsafe { (*arr.as_array_ptr()).fields.data as *const u8 };
    Ok(ArrayIn { ptr, shape, dtype, nbytes, _keep: arr.into_any() })
}

/// Turn weakly-referenced arrays read-only (a loaned payload was just sent).
pub fn make_readonly(py: Python<'_>, weakrefs: Vec<Py<PyAny>>) {
    for w in weakrefs {
        if let Ok(arr) = w.bind(py).call0() {
            if !arr.is_none() {
                let _ = arr.getattr("flags").and_then(|f| f.setattr("writeable", false));
            }
        }
    }
}
