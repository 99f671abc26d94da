//! Binds `tensorbus_tensor::tensor`: `tb.Tensor`, the general N-d payload (any dtype, 1-8 dims).

use crate::array::array_in;
use crate::errors::{exc, to_py};
use crate::fill::{copy_foreign, copy_in, parse_dtype};
use crate::namespace::default_ns;
use crate::payload::PyPayload;
use pyo3::prelude::*;
use pyo3::PyClassInitializer;
use tensorbus_tensor::{DType, Payload, PayloadKind, PayloadMut};

/// `Tensor(shape, dtype="float32")` loans a writable slot.
#[pyclass(name = "Tensor", module = "tensorbus._native", extends = PyPayload, frozen)]
pub struct PyTensor;

impl PyTensor {
    pub fn wrap(py: Python<'_>, p: Payload) -> PyResult<Py<PyTensor>> {
        Py::new(py, PyClassInitializer::from(PyPayload::shared(p)).add_subclass(PyTensor))
    }
    pub fn loaned(py: Python<'_>, m: PayloadMut) -> PyResult<Py<PyTensor>> {
        Py::new(py, PyClassInitializer::from(PyPayload::loaned(m)).add_subclass(PyTensor))
    }
}

fn shape_arg(shape: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let dims: Vec<i64> = match shape.extract::<i64>() {
        Ok(n) => vec![n],
        Err(_) => shape.extract().map_err(|_| exc::ShapeError::new_err("shape must be an int or a sequence of ints"))?,
    };
    if dims.is_empty() || dims.len() > 8 {
        return Err(exc::ShapeError::new_err(format!("a tensor has 1 to 8 dimensions, got {}", dims.len())));
    }
    let names: Vec<(String, i64)> = dims.iter().enumerate().map(|(i, &d)| (format!("dimension {i}"), d)).collect();
    let refs: Vec<(&str, i64)> = names.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    crate::fill::dims(&refs)
}

#[pymethods]
impl PyTensor {
    #[new]
    #[pyo3(signature = (shape, dtype=None))]
    fn new(shape: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<PyClassInitializer<Self>> {
        let shape = shape_arg(shape)?;
        let dt = match dtype {
            Some(d) => parse_dtype(d)?,
            None => DType::F32,
        };
        let ns = default_ns()?;
        let m = PayloadMut::new(&ns, PayloadKind::Tensor, dt, &shape, 0).map_err(to_py)?;
        Ok(PyClassInitializer::from(PyPayload::loaned(m)).add_subclass(PyTensor))
    }

    /// Copy an array (any supported dtype, 1-8 dims) into a new pool tensor.
    #[staticmethod]
    fn from_numpy(py: Python<'_>, arr: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let a = array_in(arr)?;
        check_shape(&a.shape)?;
        let m = copy_in(py, PayloadKind::Tensor, &a, &a.shape.clone(), 0)?;
        PyTensor::loaned(py, m)
    }

    /// Copy from any DLPack producer in host memory (NumPy, PyTorch, JAX, ...) into a new pool
    /// tensor; strided sources are gathered element by element (one copy either way).
    #[staticmethod]
    fn from_dlpack(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        if crate::device::is_cuda_object(obj) {
            if !tensorbus_gpu::is_available() {
                return Err(exc::DLPackError::new_err("DLPack producer is on a CUDA device, but no CUDA driver or device is available in this process"));
            }
            // GPU results published back: one device-to-host copy into a loaned slot.
            let m = crate::device::copy_device_to_slot(py, obj, PayloadKind::Tensor, 0)?;
            return PyTensor::loaned(py, m);
        }
        let f = crate::dlpack::import(py, obj)?;
        let shape = f.view.shape.clone();
        check_shape(&shape)?;
        let m = copy_foreign(py, &f, PayloadKind::Tensor, &shape, 0)?;
        PyTensor::loaned(py, m)
    }

    /// Copy a torch tensor (CPU or CUDA) into a new pool tensor.
    #[staticmethod]
    fn from_torch(py: Python<'_>, tensor: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let t = tensor.call_method0("detach")?;
        let t = if crate::device::is_cuda_object(&t) { t.call_method0("contiguous")? } else { t };
        PyTensor::from_dlpack(py, &t)
    }

    fn __len__(slf: &Bound<'_, Self>) -> usize {
        slf.as_super().get().meta().shape()[0]
    }
}

fn check_shape(shape: &[usize]) -> PyResult<()> {
    if shape.is_empty() {
        return Err(exc::ShapeError::new_err("0-d arrays (scalars) are not payloads: reshape to (1,)"));
    }
    if shape.len() > 8 {
        return Err(exc::ShapeError::new_err(format!("a tensor has 1 to 8 dimensions, got {}", shape.len())));
    }
    if shape.contains(&0) {
        return Err(exc::ShapeError::new_err(format!("tensor shape {shape:?} has a zero dimension")));
    }
    Ok(())
}
