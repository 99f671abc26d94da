//! Binds `tensorbus_tensor::points`: `tb.PointCloud`.

use crate::array::array_in;
use crate::errors::{exc, to_py};
use crate::fill::{copy_in, dims};
use crate::namespace::default_ns;
use crate::payload::PyPayload;
use pyo3::prelude::*;
use pyo3::PyClassInitializer;
use tensorbus_tensor::{DType, Payload, PayloadKind, PayloadMut, PointFields};

/// N points of float32 fields `xyz`, `xyzi` or `xyzrgb` (shape N×3, N×4, N×6).
#[pyclass(name = "PointCloud", module = "tensorbus._native", extends = PyPayload, frozen)]
pub struct PyPointCloud;

impl PyPointCloud {
    pub fn wrap(py: Python<'_>, p: Payload) -> PyResult<Py<PyPointCloud>> {
        Py::new(py, PyClassInitializer::from(PyPayload::shared(p)).add_subclass(PyPointCloud))
    }
}

fn fields(name: &str) -> PyResult<PointFields> {
    PointFields::parse(name).ok_or_else(|| exc::ShapeError::new_err(format!("unknown point fields {name:?}: use xyz, xyzi or xyzrgb")))
}

#[pymethods]
impl PyPointCloud {
    #[new]
    #[pyo3(signature = (n, fields="xyz"))]
    fn new(n: i64, fields: &str) -> PyResult<PyClassInitializer<Self>> {
        let n = dims(&[("n", n)])?[0];
        let f = self::fields(fields)?;
        let ns = default_ns()?;
        let m = PayloadMut::new(&ns, PayloadKind::Points, DType::F32, &[n, f.width()], f.code()).map_err(to_py)?;
        Ok(PyClassInitializer::from(PyPayload::loaned(m)).add_subclass(PyPointCloud))
    }

    /// Copy an N×3 / N×4 / N×6 float32 array; `fields` defaults by width.
    #[staticmethod]
    #[pyo3(signature = (arr, fields=None))]
    fn from_numpy(py: Python<'_>, arr: &Bound<'_, PyAny>, fields: Option<&str>) -> PyResult<Py<PyPointCloud>> {
        let a = array_in(arr)?;
        if a.dtype != DType::F32 {
            return Err(exc::DTypeError::new_err(format!("point clouds are float32, got {}", a.dtype.name())));
        }
        if a.shape.len() != 2 || a.shape[0] == 0 {
            return Err(exc::ShapeError::new_err(format!("a point cloud is N×F with N > 0, got {:?}", a.shape)));
        }
        let f = match fields {
            Some(f) => self::fields(f)?,
            None => match a.shape[1] {
                3 => PointFields::Xyz,
                4 => PointFields::Xyzi,
                6 => PointFields::Xyzrgb,
                w => return Err(exc::ShapeError::new_err(format!("{w} fields per point: expected 3 (xyz), 4 (xyzi) or 6 (xyzrgb)"))),
            },
        };
        if a.shape[1] != f.width() {
            return Err(exc::ShapeError::new_err(format!("fields {} need {} columns, the array has {}", f.name(), f.width(), a.shape[1])));
        }
        let m = copy_in(py, PayloadKind::Points, &a, &a.shape.clone(), f.code())?;
        Py::new(py, PyClassInitializer::from(PyPayload::loaned(m)).add_subclass(PyPointCloud))
    }

    #[getter]
    fn fields(slf: &Bound<'_, Self>) -> &'static str {
        PointFields::from_code(slf.as_super().get().meta().aux()).map(|f| f.name()).unwrap_or("?")
    }
    fn __len__(slf: &Bound<'_, Self>) -> usize {
        slf.as_super().get().meta().shape()[0]
    }
}
