//! Binds `tensorbus_tensor::image` and `depth`: `tb.Image` and `tb.DepthImage`.

use crate::array::array_in;
use crate::errors::{exc, to_py};
use crate::fill::{copy_foreign, copy_in, dims, parse_dtype};
use crate::namespace::default_ns;
use crate::payload::PyPayload;
use pyo3::prelude::*;
use pyo3::PyClassInitializer;
use tensorbus_tensor::{DepthUnit, Encoding, Payload, PayloadKind, PayloadMut};

/// Check an array's shape and dtype against `encoding` (or infer it); returns the encoding and
/// the payload shape (H×W for one channel, H×W×C otherwise).
pub fn image_layout(shape: &[usize], dtype: tensorbus_tensor::DType, encoding: Option<&str>) -> PyResult<(Encoding, Vec<usize>)> {
    if !(shape.len() == 2 || shape.len() == 3) {
        return Err(exc::ShapeError::new_err(format!("an image array is H×W or H×W×C, got {} dimensions {:?}", shape.len(), shape)));
    }
    if shape.contains(&0) {
        return Err(exc::ShapeError::new_err(format!("image shape {shape:?} has a zero dimension")));
    }
    let enc = match encoding {
        Some(e) => self::encoding(e)?,
        None => {
            Encoding::infer(shape, dtype).ok_or_else(|| exc::EncodingError::new_err(format!("cannot infer an encoding for shape {shape:?} of {}: pass encoding=", dtype.name())))?
        }
    };
    if dtype != enc.dtype() {
        return Err(exc::DTypeError::new_err(format!("encoding {} needs dtype {}, got {}", enc.name(), enc.dtype().name(), dtype.name())));
    }
    let channels = if shape.len() == 3 { shape[2] } else { 1 };
    if channels != enc.channels() {
        return Err(exc::ShapeError::new_err(format!("encoding {} has {} channel(s), the array has {channels}", enc.name(), enc.channels())));
    }
    Ok((enc, enc.shape(shape[0], shape[1])))
}

/// A pool image: `Image(height, width, encoding="rgb8")` loans a writable slot.
#[pyclass(name = "Image", module = "tensorbus._native", extends = PyPayload, frozen)]
pub struct PyImage;

impl PyImage {
    pub fn wrap(py: Python<'_>, p: Payload) -> PyResult<Py<PyImage>> {
        Py::new(py, PyClassInitializer::from(PyPayload::shared(p)).add_subclass(PyImage))
    }
    fn loaned(py: Python<'_>, m: PayloadMut) -> PyResult<Py<PyImage>> {
        Py::new(py, PyClassInitializer::from(PyPayload::loaned(m)).add_subclass(PyImage))
    }
}

fn encoding(name: &str) -> PyResult<Encoding> {
    Encoding::parse(name).ok_or_else(|| {
        let all: Vec<_> = Encoding::ALL.iter().map(|e| e.name()).collect();
        exc::EncodingError::new_err(format!("unknown encoding {name:?}; known: {}", all.join(", ")))
    })
}

#[pymethods]
impl PyImage {
    #[new]
    #[pyo3(signature = (height, width, encoding="rgb8"))]
    fn new(height: i64, width: i64, encoding: &str) -> PyResult<PyClassInitializer<Self>> {
        let d = dims(&[("height", height), ("width", width)])?;
        let enc = self::encoding(encoding)?;
        let ns = default_ns()?;
        let m = PayloadMut::new(&ns, PayloadKind::Image, enc.dtype(), &enc.shape(d[0], d[1]), enc.code()).map_err(to_py)?;
        Ok(PyClassInitializer::from(PyPayload::loaned(m)).add_subclass(PyImage))
    }

    /// Copy an array (H×W or H×W×C) into a new pool image; `encoding` is inferred from the
    /// shape and dtype where unambiguous (u8: mono8/rgb8/rgba8, u16: mono16, f32: mono32f/rgb32f).
    #[staticmethod]
    #[pyo3(signature = (arr, encoding=None))]
    fn from_numpy(py: Python<'_>, arr: &Bound<'_, PyAny>, encoding: Option<&str>) -> PyResult<Py<PyImage>> {
        let a = array_in(arr)?;
        let (enc, shape) = image_layout(&a.shape, a.dtype, encoding)?;
        let m = copy_in(py, PayloadKind::Image, &a, &shape, enc.code())?;
        PyImage::loaned(py, m)
    }

    /// Copy a torch tensor (H×W or H×W×C; CPU, or CUDA through the host) into a new pool image.
    #[staticmethod]
    #[pyo3(signature = (tensor, encoding=None))]
    fn from_torch(py: Python<'_>, tensor: &Bound<'_, PyAny>, encoding: Option<&str>) -> PyResult<Py<PyImage>> {
        let t = tensor.call_method0("detach")?;
        if crate::device::is_cuda_object(&t) {
            // A GPU image: validate its layout, then one device-to-host copy into the slot.
            let t = t.call_method0("contiguous")?;
            let shape: Vec<usize> = t.getattr("shape")?.extract()?;
            let dtype = parse_dtype(&t.getattr("dtype")?)?;
            let (enc, _) = image_layout(&shape, dtype, encoding)?;
            let m = crate::device::copy_device_to_slot(py, &t, PayloadKind::Image, enc.code())?;
            return PyImage::loaned(py, m);
        }
        let f = crate::dlpack::import(py, &t)?;
        let (enc, shape) = image_layout(&f.view.shape, f.view.dtype, encoding)?;
        let m = copy_foreign(py, &f, PayloadKind::Image, &shape, enc.code())?;
        PyImage::loaned(py, m)
    }

    /// Load a PNG or JPEG file into a new pool image (one copy).
    #[staticmethod]
    fn from_file(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Py<PyImage>> {
        let ns = default_ns()?;
        let img = py.detach(|| tensorbus_tensor::imageio::load(&ns, &path)).map_err(to_py)?;
        // Loaded images are frozen by the loader; their timestamp is the load time if unset.
        PyImage::wrap(py, img.into_payload())
    }

    /// Save as PNG (mono8, mono16, rgb8, bgr8, rgba8, bgra8).
    fn save(slf: &Bound<'_, Self>, path: std::path::PathBuf) -> PyResult<()> {
        let py = slf.py();
        let p = slf.as_super().get().share(py);
        let img = tensorbus_tensor::Image::from_payload(p).map_err(to_py)?;
        py.detach(|| tensorbus_tensor::imageio::save(&img, &path)).map_err(to_py)
    }

    #[getter]
    fn height(slf: &Bound<'_, Self>) -> usize {
        slf.as_super().get().meta().shape()[0]
    }
    #[getter]
    fn width(slf: &Bound<'_, Self>) -> usize {
        slf.as_super().get().meta().shape()[1]
    }
    #[getter]
    fn channels(slf: &Bound<'_, Self>) -> usize {
        Encoding::from_code(slf.as_super().get().meta().aux()).map(|e| e.channels()).unwrap_or(1)
    }
    #[getter]
    fn encoding(slf: &Bound<'_, Self>) -> &'static str {
        Encoding::from_code(slf.as_super().get().meta().aux()).map(|e| e.name()).unwrap_or("?")
    }
}

/// A depth image: float32 metres or uint16 millimetres, H×W.
#[pyclass(name = "DepthImage", module = "tensorbus._native", extends = PyPayload, frozen)]
pub struct PyDepthImage;

impl PyDepthImage {
    pub fn wrap(py: Python<'_>, p: Payload) -> PyResult<Py<PyDepthImage>> {
        Py::new(py, PyClassInitializer::from(PyPayload::shared(p)).add_subclass(PyDepthImage))
    }
}

fn depth_unit(dtype: tensorbus_tensor::DType) -> PyResult<DepthUnit> {
    DepthUnit::for_dtype(dtype).ok_or_else(|| exc::DTypeError::new_err(format!("a depth image is float32 (metres) or uint16 (millimetres), not {}", dtype.name())))
}

#[pymethods]
impl PyDepthImage {
    #[new]
    #[pyo3(signature = (height, width, dtype=None))]
    fn new(height: i64, width: i64, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<PyClassInitializer<Self>> {
        let d = dims(&[("height", height), ("width", width)])?;
        let dt = match dtype {
            Some(t) => parse_dtype(t)?,
            None => tensorbus_tensor::DType::F32,
        };
        let unit = depth_unit(dt)?;
        let ns = default_ns()?;
        let m = PayloadMut::new(&ns, PayloadKind::Depth, dt, &d, unit.code()).map_err(to_py)?;
        Ok(PyClassInitializer::from(PyPayload::loaned(m)).add_subclass(PyDepthImage))
    }

    /// Copy an H×W float32 (metres) or uint16 (millimetres) array into a new depth image.
    #[staticmethod]
    fn from_numpy(py: Python<'_>, arr: &Bound<'_, PyAny>) -> PyResult<Py<PyDepthImage>> {
        let a = array_in(arr)?;
        let unit = depth_unit(a.dtype)?;
        if a.shape.len() != 2 || a.shape.contains(&0) {
            return Err(exc::ShapeError::new_err(format!("a depth image is H×W with positive sizes, got {:?}", a.shape)));
        }
        let m = copy_in(py, PayloadKind::Depth, &a, &a.shape.clone(), unit.code())?;
        Py::new(py, PyClassInitializer::from(PyPayload::loaned(m)).add_subclass(PyDepthImage))
    }

    #[getter]
    fn height(slf: &Bound<'_, Self>) -> usize {
        slf.as_super().get().meta().shape()[0]
    }
    #[getter]
    fn width(slf: &Bound<'_, Self>) -> usize {
        slf.as_super().get().meta().shape()[1]
    }
    /// "m" (float32 metres) or "mm" (uint16 millimetres).
    #[getter]
    fn unit(slf: &Bound<'_, Self>) -> &'static str {
        DepthUnit::from_code(slf.as_super().get().meta().aux()).map(|u| u.name()).unwrap_or("?")
    }
}
