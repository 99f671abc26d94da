//! Binds tensorbus-bridge for `tensorbus/bridge.py`: a bridge running in the background
//! (`_Bridge`) and its report as a dict (the same record `tensorbus topic list` reads).

use crate::errors::exc;
use crate::namespace::default_ns;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Mutex;
use std::time::Duration;
use tensorbus_bridge::{Bridge, BridgeError, BridgeOptions, BridgeStatus, Compression, Ros2Options, Ros2Topic};

fn bridge_err(e: BridgeError) -> PyErr {
    match e {
        BridgeError::Usage(_) | BridgeError::Config(_) => pyo3::exceptions::PyValueError::new_err(e.to_string()),
        BridgeError::Io { .. } => pyo3::exceptions::PyOSError::new_err(e.to_string()),
        BridgeError::Zenoh(_) => pyo3::exceptions::PyConnectionError::new_err(e.to_string()),
        other => exc::TensorbusError::new_err(other.to_string()),
    }
}

fn report_dict<'py>(py: Python<'py>, r: &BridgeStatus) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("zid", &r.zid)?;
    d.set_item("scope", &r.scope)?;
    d.set_item("peers", &r.peers)?;
    d.set_item("malformed", r.malformed)?;
    let out = PyDict::new(py);
    let inn = PyDict::new(py);
    for t in &r.topics {
        let e = PyDict::new(py);
        e.set_item("messages", t.messages)?;
        e.set_item("bytes", t.bytes)?;
        e.set_item("lost", t.lost)?;
        e.set_item("dropped", t.dropped)?;
        e.set_item("misses", t.misses)?;
        e.set_item("remote", &t.remote)?;
        if t.direction == "in" { &inn } else { &out }.set_item(&t.name, e)?;
    }
    d.set_item("exported", out)?;
    d.set_item("imported", inn)?;
    Ok(d)
}

/// A bridge to other hosts (see `tb.Bridge`).
#[pyclass(name = "_Bridge", module = "tensorbus._native", frozen)]
pub struct PyBridge {
    inner: Mutex<Option<Bridge>>,
}

#[pymethods]
impl PyBridge {
    #[new]
    #[pyo3(signature = (connect=None, listen=None, export=None, import_=None, scope=None, compression=None, config=None, mode="peer", multicast=false, zenoh_shm=false, queue=None, block_timeout=1.0, ros2=false, domain=0, humble=false, node=None, ros2_map=None))]
    #[allow(clippy::too_many_arguments)] // the Python keyword arguments, one to one
    fn new(
        py: Python<'_>,
        connect: Option<Vec<String>>,
        listen: Option<Vec<String>>,
        export: Option<Vec<String>>,
        import_: Option<Vec<String>>,
        scope: Option<String>,
        compression: Option<Vec<(String, String)>>,
        config: Option<std::path::PathBuf>,
        mode: &str,
        multicast: bool,
        zenoh_shm: bool,
        queue: Option<usize>,
        block_timeout: f64,
        ros2: bool,
        domain: u32,
        humble: bool,
        node: Option<String>,
        ros2_map: Option<String>,
    ) -> PyResult<PyBridge> {
        let mut comp = Vec::new();
        for (glob, how) in compression.unwrap_or_default() {
            let c = Compression::parse(&how).ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("compression must be \"lz4\", \"zstd\" or \"none\", not {how:?}")))?;
            comp.push((glob, c));
        }
        if !(block_timeout >= 0.0 && block_timeout.is_finite()) {
            return Err(pyo3::exceptions::PyValueError::new_err(format!("block_timeout must be >= 0 seconds, got {block_timeout}")));
        }
        let (mut export, mut import_) = (export.unwrap_or_default(), import_.unwrap_or_default());
        let ros2 = if ros2 {
            let mut r = Ros2Options { domain, humble, ..Default::default() };
            if let Some(text) = &ros2_map {
                r.load(text).map_err(bridge_err)?;
            }
            if let Some(n) = node {
                r.node = n;
            }
            for (list, out) in [(&export, true), (&import_, false)] {
                for spec in list {
                    r.topics.push(Ros2Topic::parse(spec, out).map_err(bridge_err)?);
                }
            }
            export.clear();
            import_.clear();
            Some(r)
        } else {
            None
        };
        let opts = BridgeOptions {
            connect: connect.unwrap_or_default(),
            listen: listen.unwrap_or_default(),
            config_file: config,
            mode: mode.to_string(),
            multicast,
            zenoh_shm,
            scope,
            export,
            import: import_,
            compression: comp,
            queue,
            block_timeout: Duration::from_secs_f64(block_timeout),
            ros2,
        };
        let ns = default_ns()?;
        let b = py.detach(|| Bridge::start(&ns, opts)).map_err(bridge_err)?;
        Ok(PyBridge { inner: Mutex::new(Some(b)) })
    }

    /// The bridge's Zenoh id.
    #[getter]
    fn zid(&self) -> PyResult<String> {
        self.with(|b| b.zid())
    }

    /// Zenoh ids of the peers and routers connected now.
    fn peers(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let b = g.as_ref().ok_or_else(|| exc::TensorbusError::new_err("the bridge is stopped"))?;
        Ok(py.detach(|| b.peers()))
    }

    /// {"zid", "scope", "peers", "malformed", "exported": {topic: counts}, "imported": {...}}.
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = {
            let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let b = g.as_ref().ok_or_else(|| exc::TensorbusError::new_err("the bridge is stopped"))?;
            py.detach(|| b.report())
        };
        report_dict(py, &r)
    }

    /// Stop forwarding and close the session; the final report.
    fn stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let b = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or_else(|| exc::TensorbusError::new_err("the bridge is stopped already"))?;
        let r = py.detach(|| b.stop()).map_err(bridge_err)?;
        report_dict(py, &r)
    }
}

impl PyBridge {
    fn with<T>(&self, f: impl FnOnce(&Bridge) -> T) -> PyResult<T> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.as_ref().map(f).ok_or_else(|| exc::TensorbusError::new_err("the bridge is stopped"))
    }
}
