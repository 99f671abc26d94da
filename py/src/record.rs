//! Binds tensorbus-record for `tensorbus/record.py`: a recorder running in the background
//! (`_Recorder`), a blocking replay (`_replay`, Ctrl-C stops it), a recording's summary
//! (`_record_info`), and a reader (`_McapReader`) whose thread decodes messages ahead (at most a
//! few: payloads sit in loaned slots until the iterator hands them out).

use crate::convert::wrap_any;
use crate::errors::exc;
use crate::namespace::default_ns;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;
use std::time::Duration;
use tensorbus_record::{DictEncoding, Item, RecordError, RecordOptions, RecordReport, Recorder, ReplayOptions};

fn rec_err(e: RecordError) -> PyErr {
    match e {
        RecordError::Io { .. } => pyo3::exceptions::PyOSError::new_err(e.to_string()),
        RecordError::Usage(_) => pyo3::exceptions::PyValueError::new_err(e.to_string()),
        other => exc::TensorbusError::new_err(other.to_string()),
    }
}

fn report_dict<'py>(py: Python<'py>, r: &RecordReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("files", r.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>())?;
    let topics = PyDict::new(py);
    for (name, t) in &r.topics {
        let e = PyDict::new(py);
        e.set_item("messages", t.messages)?;
        e.set_item("misses", t.misses)?;
        e.set_item("skipped", t.skipped)?;
        e.set_item("bytes", t.bytes)?;
        topics.set_item(name, e)?;
    }
    d.set_item("topics", topics)?;
    Ok(d)
}

/// A recording in progress (see `tb.Recorder`).
#[pyclass(name = "_Recorder", module = "tensorbus._native", frozen)]
pub struct PyRecorder {
    inner: Mutex<Option<Recorder>>,
}

#[pymethods]
impl PyRecorder {
    #[new]
    #[pyo3(signature = (path, topics=None, compression="zstd", split_bytes=None, split_seconds=None, dicts="json", layouts=None, foxglove=false))]
    #[allow(clippy::too_many_arguments)] // the Python keyword arguments, one to one
    fn new(
        py: Python<'_>,
        path: std::path::PathBuf,
        topics: Option<Vec<String>>,
        compression: &str,
        split_bytes: Option<u64>,
        split_seconds: Option<f64>,
        dicts: &str,
        layouts: Option<Vec<(String, u64, String)>>,
        foxglove: bool,
    ) -> PyResult<PyRecorder> {
        let compression = match compression {
            "zstd" => Some(mcap_compression::ZSTD),
            "lz4" => Some(mcap_compression::LZ4),
            "none" => None,
            o => return Err(pyo3::exceptions::PyValueError::new_err(format!("compression must be \"zstd\", \"lz4\" or \"none\", not {o:?}"))),
        };
        let dicts = match dicts {
            "json" => DictEncoding::Json,
            "msgpack" => DictEncoding::Msgpack,
            o => return Err(pyo3::exceptions::PyValueError::new_err(format!("dicts must be \"json\" or \"msgpack\", not {o:?}"))),
        };
        let split_every = match split_seconds {
            Some(s) if s > 0.0 && s.is_finite() => Some(Duration::from_secs_f64(s)),
            Some(s) => return Err(pyo3::exceptions::PyValueError::new_err(format!("split_seconds must be > 0, got {s}"))),
            None => None,
        };
        let opts = RecordOptions {
            topics: topics.unwrap_or_default(),
            compression,
            split_bytes,
            split_every,
            dicts,
            layouts: layouts.unwrap_or_default(),
            foxglove,
            ..Default::default()
        };
        let ns = default_ns()?;
        let r = py.detach(|| Recorder::start(&ns, path, opts)).map_err(rec_err)?;
        Ok(PyRecorder { inner: Mutex::new(Some(r)) })
    }

    /// What has been recorded so far: {"files": [...], "topics": {name: {messages, misses, skipped, bytes}}}.
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_ref() {
            Some(r) => report_dict(py, &r.report()),
            None => Err(exc::TensorbusError::new_err("the recorder is stopped")),
        }
    }

    /// Finish the file(s); the final report.
    fn stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or_else(|| exc::TensorbusError::new_err("the recorder is stopped already"))?;
        let rep = py.detach(|| r.stop()).map_err(rec_err)?;
        report_dict(py, &rep)
    }
}

/// The mcap crate's compression choices, named (keeps the feature-gated enum out of signatures).
mod mcap_compression {
    pub const ZSTD: mcap::Compression = mcap::Compression::Zstd;
    pub const LZ4: mcap::Compression = mcap::Compression::Lz4;
}

/// Replay `path` into the current namespace (blocking, without the GIL; Ctrl-C stops it).
#[pyfunction]
#[pyo3(signature = (path, rate=1.0, looped=false, start=None, end=None, topics=None, remap=None, restamp=false))]
#[allow(clippy::too_many_arguments)]
pub fn _replay<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    rate: f64,
    looped: bool,
    start: Option<f64>,
    end: Option<f64>,
    topics: Option<Vec<String>>,
    remap: Option<Vec<(String, String)>>,
    restamp: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let secs = |v: Option<f64>, what: &str| -> PyResult<Option<Duration>> {
        match v {
            None => Ok(None),
            Some(s) if s >= 0.0 && s.is_finite() => Ok(Some(Duration::from_secs_f64(s))),
            Some(s) => Err(pyo3::exceptions::PyValueError::new_err(format!("{what} must be >= 0 seconds, got {s}"))),
        }
    };
    let opts = ReplayOptions { rate, looped, start: secs(start, "start")?, end: secs(end, "end")?, topics: topics.unwrap_or_default(), remap: remap.unwrap_or_default(), restamp };
    let ns = default_ns()?;
    let stop = AtomicBool::new(false);
    let mut signal: Option<PyErr> = None;
    let r = std::thread::scope(|s| {
        let h = s.spawn(|| tensorbus_record::replay(&ns, &path, &opts, &stop));
        while !h.is_finished() {
            py.detach(|| std::thread::sleep(Duration::from_millis(20)));
            if let Err(e) = py.check_signals() {
                signal.get_or_insert(e);
                // Relaxed: a stop flag the replay polls.
                stop.store(true, Ordering::Relaxed);
            }
        }
        h.join().unwrap_or(Err(RecordError::Panicked))
    });
    if let Some(e) = signal {
        return Err(e);
    }
    let r = r.map_err(rec_err)?;
    let d = PyDict::new(py);
    d.set_item("messages", r.messages)?;
    d.set_item("skipped", r.skipped)?;
    d.set_item("topics", r.topics.into_iter().collect::<std::collections::BTreeMap<_, _>>())?;
    Ok(d)
}

/// A recording's summary: {"messages", "duration_s", "start_ns", "end_ns", "chunks", "topics": [{topic, schema, encoding, messages, rate_hz, misses}]}.
#[pyfunction]
pub fn _record_info<'py>(py: Python<'py>, path: std::path::PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let f = tensorbus_record::McapFile::open(&path).map_err(rec_err)?;
    let i = tensorbus_record::info(&f).map_err(rec_err)?;
    let d = PyDict::new(py);
    d.set_item("messages", i.messages)?;
    d.set_item("duration_s", i.duration_s())?;
    d.set_item("start_ns", i.start_ns)?;
    d.set_item("end_ns", i.end_ns)?;
    d.set_item("chunks", i.chunks)?;
    let mut topics = Vec::new();
    for t in &i.topics {
        let e = PyDict::new(py);
        e.set_item("topic", &t.topic)?;
        e.set_item("schema", &t.schema)?;
        e.set_item("encoding", &t.message_encoding)?;
        e.set_item("messages", t.messages)?;
        e.set_item("rate_hz", t.rate_hz)?;
        e.set_item("misses", t.misses)?;
        topics.push(e);
    }
    d.set_item("topics", topics)?;
    Ok(d)
}

/// What the iterator yields: topic, log time, kind, value.
type Yielded = (String, u64, &'static str, Py<PyAny>);

/// One message read ahead: topic, log time, the decoded item (or why it did not decode).
type Ahead = (String, u64, Result<Item, String>);

/// Reads a recording message by message (see `tb.read_mcap`); yields `(topic, log_time_ns,
/// kind, value)` with kind "payload" (a tb.Image/...), "pod" ((type name, hash, bytes)), "dict"
/// (MessagePack bytes) or "error" (why the message did not decode).
#[pyclass(name = "_McapReader", module = "tensorbus._native", frozen)]
pub struct PyMcapReader {
    rx: Mutex<Receiver<Result<Ahead, String>>>,
}

#[pymethods]
impl PyMcapReader {
    #[new]
    #[pyo3(signature = (path, topics=None))]
    fn new(path: std::path::PathBuf, topics: Option<Vec<String>>) -> PyResult<PyMcapReader> {
        let file = tensorbus_record::McapFile::open(&path).map_err(rec_err)?;
        // Fail here, not in the thread, on a file that is not MCAP at all.
        file.messages().map_err(rec_err)?;
        let ns = default_ns()?;
        let topics = topics.unwrap_or_default();
        let (tx, rx) = sync_channel::<Result<Ahead, String>>(2);
        std::thread::Builder::new()
            .name("tb-mcap-read".into())
            .spawn(move || {
                let stream = match file.messages() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let mut kinds = std::collections::HashMap::new();
                for m in stream {
                    let m = match m {
                        Ok(m) => m,
                        Err(e) => {
                            let _ = tx.send(Err(format!("{}: {e}", file.path.display())));
                            return;
                        }
                    };
                    if !topics.is_empty() && !topics.iter().any(|p| tensorbus_record::glob(p, &m.channel.topic)) {
                        continue;
                    }
                    let kind = kinds.entry(m.channel.id).or_insert_with(|| tensorbus_record::kind_of(&m.channel));
                    let item = tensorbus_record::decode(&ns, kind, &m.data, None);
                    if tx.send(Ok((m.channel.topic.clone(), m.log_time, item))).is_err() {
                        return; // the iterator was dropped
                    }
                }
            })
            .map_err(|e| exc::TensorbusError::new_err(format!("could not start the reader thread: {e}")))?;
        Ok(PyMcapReader { rx: Mutex::new(rx) })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Yielded>> {
        let got = py.detach(|| self.rx.lock().unwrap_or_else(|e| e.into_inner()).recv());
        let Ok(next) = got else { return Ok(None) };
        let (topic, t, item) = next.map_err(exc::InvalidDescriptorError::new_err)?;
        Ok(Some(match item {
            Ok(Item::Payload(p)) => (topic, t, "payload", wrap_any(py, p)?),
            Ok(Item::Pod(ty, b)) => (topic, t, "pod", (ty.name, ty.hash, PyBytes::new(py, &b)).into_pyobject(py)?.into_any().unbind()),
            Ok(Item::Dict(b)) => (topic, t, "dict", PyBytes::new(py, &b).into_any().unbind()),
            Err(why) => (topic, t, "error", why.into_pyobject(py)?.into_any().unbind()),
        }))
    }
}
