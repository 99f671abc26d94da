//! Optional Python libraries (torch, JAX, CuPy): an attribute imported on first use and cached,
//! with an error that names the missing package.

use crate::errors::exc;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// `module.attr` (dotted `attr` allowed), imported once into `cell`; a missing module raises
/// `TensorbusError("{what} needs {module}: ...")`.
pub fn import_attr<'py>(cell: &'static PyOnceLock<Py<PyAny>>, py: Python<'py>, module: &str, attr: &str, what: &str) -> PyResult<&'py Bound<'py, PyAny>> {
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
