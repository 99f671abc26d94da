//! Binds `tensorbus_pool::ring`: `tb.Topic(name, type=None, depth=4, policy="latest")`, carrying
//! pool payloads by descriptor (zero-copy) across processes.

use crate::errors::{exc, payload_err, recv_err, send_err, topic_err};
use crate::namespace::default_ns;
use crate::payload::{wrap_any, PyPayload};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tensorbus_pool::{Policy, Publisher, Subscriber, Topic, TopicOptions, TopicType};
use tensorbus_tensor::Payload;

/// A named topic in the current namespace.
#[pyclass(name = "Topic", module = "tensorbus._native", frozen)]
pub struct PyTopic {
    topic: Topic,
    type_name: String,
    publisher: OnceLock<Publisher>,
    subscriber: Mutex<Option<Subscriber>>,
}

fn type_name_of(ty: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = ty.extract::<String>() {
        return Ok(s);
    }
    Ok(ty.getattr("__name__")?.extract::<String>()?)
}

impl PyTopic {
    fn with_sub<R>(&self, py: Python<'_>, f: impl FnOnce(&mut Subscriber) -> R + Send) -> PyResult<R>
    where
        R: Send,
    {
        let mut g = self.subscriber.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            *g = Some(self.topic.subscriber().map_err(topic_err)?);
        }
        let sub = g.as_mut().expect("set above");
        Ok(py.detach(|| f(sub)))
    }

    fn deliver(&self, py: Python<'_>, got: Option<tensorbus_pool::Received>) -> PyResult<Option<Py<PyAny>>> {
        let Some((d, _hold)) = got else { return Ok(None) };
        if let Some((raw, n)) = d.inline_bytes() {
            return Ok(Some(PyBytes::new(py, &raw[..n]).into_any().unbind()));
        }
        let ns = default_ns()?;
        let p = Payload::from_descriptor(&ns, &d).map_err(payload_err)?;
        Ok(Some(wrap_any(py, p)?))
    }
}

#[pymethods]
impl PyTopic {
    #[new]
    #[pyo3(signature = (name, r#type=None, depth=4, policy="latest"))]
    fn new(py: Python<'_>, name: &str, r#type: Option<&Bound<'_, PyAny>>, depth: u32, policy: &str) -> PyResult<PyTopic> {
        let policy = match policy {
            "latest" => Policy::Latest,
            "reliable" => Policy::Reliable,
            other => return Err(exc("TopicError", format!("policy must be \"latest\" or \"reliable\", not {other:?}"))),
        };
        if depth == 0 || depth > tensorbus_pool::ring::MAX_DEPTH {
            return Err(exc("TopicError", format!("depth must be 1..={}, got {depth}", tensorbus_pool::ring::MAX_DEPTH)));
        }
        let type_name = match r#type {
            Some(t) if !t.is_none() => type_name_of(t)?,
            _ => String::new(),
        };
        let ns = default_ns()?;
        let opts = TopicOptions { ty: TopicType { name: type_name.clone(), hash: 0, size: 0 }, depth, policy };
        let topic = py.detach(|| ns.topic(name, &opts)).map_err(topic_err)?;
        Ok(PyTopic { topic, type_name, publisher: OnceLock::new(), subscriber: Mutex::new(None) })
    }

    /// Publish a payload (zero-copy: only its descriptor travels) or a small `bytes` message
    /// (at most 48 bytes, inline). A loaned payload is frozen (read-only) by sending it.
    /// Returns the sequence number.
    fn send(&self, py: Python<'_>, msg: &Bound<'_, PyAny>) -> PyResult<u64> {
        let publisher = self.publisher.get_or_init(|| self.topic.publisher());
        if let Ok(b) = msg.cast::<PyBytes>() {
            let bytes = b.as_bytes().to_vec();
            return py.detach(|| publisher.send_inline(&bytes)).map_err(send_err);
        }
        let payload = msg.cast::<PyPayload>().map_err(|_| {
            exc("TopicTypeError", format!("topic {} carries payloads or bytes, not {}", self.topic.name(), msg.get_type().name().map(|n| n.to_string()).unwrap_or_default()))
        })?;
        if !self.type_name.is_empty() {
            let got = msg.get_type().name()?.to_string();
            if got != self.type_name && self.type_name != "Payload" {
                return Err(exc("TopicTypeError", format!("topic {} carries {}, not {got}", self.topic.name(), self.type_name)));
            }
        }
        let p = payload.get().share(py);
        let d = p.descriptor();
        py.detach(|| publisher.send(d, p.slot())).map_err(send_err)
    }

    /// The next unread message, or None; waits up to `timeout` seconds (sleeping, no spin).
    #[pyo3(signature = (timeout=0.0))]
    fn recv(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<Py<PyAny>>> {
        let t = Duration::from_secs_f64(timeout.max(0.0));
        let got = self.with_sub(py, |s| if t.is_zero() { s.try_recv() } else { s.recv_timeout(t) })?.map_err(recv_err)?;
        self.deliver(py, got)
    }

    /// The newest message (skipping older unread ones), or None.
    fn latest(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let got = self.with_sub(py, |s| s.latest())?.map_err(recv_err)?;
        self.deliver(py, got)
    }

    #[getter]
    fn name(&self) -> &str {
        self.topic.name()
    }
    #[getter]
    fn depth(&self) -> u32 {
        self.topic.depth()
    }
    #[getter]
    fn policy(&self) -> &'static str {
        if self.topic.policy() == Policy::Reliable { "reliable" } else { "latest" }
    }
    /// Messages sent on this topic (all publishers).
    #[getter]
    fn sent(&self) -> u64 {
        self.topic.sent()
    }
    /// Messages this handle's subscriber missed.
    #[getter]
    fn misses(&self) -> u64 {
        self.subscriber.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|s| s.misses()).unwrap_or(0)
    }
    /// Messages this handle's subscriber received.
    #[getter]
    fn received(&self) -> u64 {
        self.subscriber.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|s| s.received()).unwrap_or(0)
    }
    fn __repr__(&self) -> String {
        format!("<tensorbus.Topic {:?} type={:?} depth={} {}>", self.topic.name(), self.topic.type_name(), self.topic.depth(), self.policy())
    }
}
