//! Rust payloads to Python objects: a shared payload (received, loaded) becomes the class of
//! its kind (`Image`, `DepthImage`, `PointCloud`, `Tensor`). The one place that knows every
//! payload class, above all of them (so none of them depends on another through it).

use crate::image::{PyDepthImage, PyImage};
use crate::points::PyPointCloud;
use crate::tensor::PyTensor;
use pyo3::prelude::*;
use tensorbus_tensor::{Payload, PayloadKind};

/// Wrap a shared payload in the Python class matching its kind.
pub fn wrap_any(py: Python<'_>, p: Payload) -> PyResult<Py<PyAny>> {
    Ok(match p.kind() {
        PayloadKind::Image => PyImage::wrap(py, p)?.into_any(),
        PayloadKind::Depth => PyDepthImage::wrap(py, p)?.into_any(),
        PayloadKind::Points => PyPointCloud::wrap(py, p)?.into_any(),
        PayloadKind::Tensor | PayloadKind::Bytes => PyTensor::wrap(py, p)?.into_any(),
        #[allow(unreachable_patterns)]
        _ => PyTensor::wrap(py, p)?.into_any(),
    })
}
