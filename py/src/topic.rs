//! Binds the facade's untyped topics (`tensorbus::raw`): `tb.Topic(name, type=None, depth=4,
//! policy="latest")` carrying pool payloads (by descriptor, zero-copy), POD messages (`tb.CmdVel`
//! or any `@tb.message` class: their bytes, inline when ≤ 104 bytes), dicts (MessagePack), or small
//! `bytes`. The type decides the topic's `TopicType` (name, size, layout hash), so opening a topic
//! with another type is a `TopicTypeError` naming both, in any language.

use crate::convert::wrap_any;
use crate::errors::{exc, to_py};
use crate::message;
use crate::namespace::default_ns;
use crate::payload::PyPayload;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyType};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tensorbus::raw::{RawMessage, RawPublisher, RawSubscriber, TopicConfig, DICT_TYPE};
use tensorbus::{Policy, TopicType};
use tensorbus_pool::Topic;

/// What a topic carries.
enum Mode {
    /// No type given: payloads, dicts and bytes are all accepted.
    Any,
    /// A payload class (`Image`, `DepthImage`, `PointCloud`, `Tensor`), by name.
    Payload(String),
    /// A POD message class, packed and unpacked in Rust.
    Pod(message::PodCodec),
    /// MessagePack dicts.
    Dict,
}

/// A named topic in the current namespace.
#[pyclass(name = "Topic", module = "tensorbus._native", frozen)]
pub struct PyTopic {
    topic: Topic,
    ty: TopicType,
    mode: Mode,
    publisher: OnceLock<RawPublisher>,
    subscriber: Mutex<Option<RawSubscriber>>,
    /// How long a reliable send waits for the slowest subscriber (and a large message for a slot).
    send_timeout: Duration,
    /// Spin window of the subscriber's blocking receives, ns (`u64::MAX`: the default).
    spin_ns: std::sync::atomic::AtomicU64,
}

/// `PyTopic::spin_ns` of a subscriber that spins and never sleeps.
const SPIN_FOREVER: u64 = u64::MAX - 1;

/// `tensorbus._aio`, the coroutine side of the asyncio bridge (`aio.rs`).
fn aio_module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("tensorbus._aio")
}

/// The facade's errors as typed exceptions (`ToPyErr for tensorbus::Error`, errors.rs).
fn tb_err(e: tensorbus::Error) -> PyErr {
    to_py(e)
}

impl PyTopic {
    /// Resolve `type=` into a mode and a TopicType.
    fn mode_of(ty: Option<&Bound<'_, PyAny>>) -> PyResult<(Mode, TopicType)> {
        let Some(ty) = ty.filter(|t| !t.is_none()) else { return Ok((Mode::Any, TopicType::default())) };
        let py = ty.py();
        if ty.is(py.get_type::<PyDict>()) || ty.extract::<String>().is_ok_and(|s| s == DICT_TYPE) {
            return Ok((Mode::Dict, TopicType { name: DICT_TYPE.into(), hash: 0, size: 0 }));
        }
        if let Ok(cls) = ty.cast::<PyType>() {
            if cls.is_subclass_of::<PyPayload>()? {
                let name = cls.name()?.to_string();
                return Ok((Mode::Payload(name.clone()), TopicType { name, hash: 0, size: 0 }));
            }
            if cls.hasattr("_tb_pack")? {
                let name: String = cls.getattr("_tb_type_name")?.extract()?;
                let size: u32 = cls.getattr("_tb_size")?.extract()?;
                let hash: u64 = cls.getattr("_tb_hash")?.extract()?;
                let mode = Mode::Pod(message::PodCodec::from_class(cls)?);
                return Ok((mode, TopicType { name, hash, size }));
            }
        }
        if let Ok(s) = ty.extract::<String>() {
            return Ok((Mode::Payload(s.clone()), TopicType { name: s, hash: 0, size: 0 }));
        }
        Err(exc::TopicTypeError::new_err(format!("type must be a payload class, a @tb.message class, dict, or None; got {}", ty.repr()?)))
    }

    fn publisher(&self) -> &RawPublisher {
        self.publisher.get_or_init(|| {
            let mut p = RawPublisher::new(&self.topic, self.ty.clone());
            p.set_timeout(self.send_timeout);
            p
        })
    }

    fn with_sub<R: Send>(&self, py: Python<'_>, block: bool, f: impl FnOnce(&mut RawSubscriber) -> R + Send) -> PyResult<R> {
        let mut g = self.subscriber.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            let mut sub = RawSubscriber::new(&self.topic, self.ty.clone()).map_err(tb_err)?;
            // Relaxed: a setting read under the subscriber lock, written under it too (`spin`).
            let spin = self.spin_ns.load(std::sync::atomic::Ordering::Relaxed);
            match spin {
                u64::MAX => {}
                SPIN_FOREVER => sub.set_spin_window(Duration::MAX),
                n => sub.set_spin_window(Duration::from_nanos(n)),
            }
            *g = Some(sub);
        }
        let sub = g.as_mut().expect("set above");
        Ok(if block { py.detach(|| f(sub)) } else { f(sub) })
    }

    fn deliver(&self, py: Python<'_>, m: Option<RawMessage>) -> PyResult<Option<Py<PyAny>>> {
        let Some(m) = m else { return Ok(None) };
        if m.is_payload() {
            let ns = default_ns()?;
            let p = m.into_payload(&ns).map_err(to_py)?;
            return Ok(Some(wrap_any(py, p)?));
        }
        if m.is_msgpack() {
            return Ok(Some(message::decode(py, m.bytes())?.unbind()));
        }
        match &self.mode {
            Mode::Pod(codec) => {
                if self.ty.size > 0 && m.bytes().len() != self.ty.size as usize {
                    return Err(exc::InvalidDescriptorError::new_err(format!(
                        "topic {}: message of {} bytes, {} needs {}",
                        self.topic.name(),
                        m.bytes().len(),
                        self.ty.name,
                        self.ty.size
                    )));
                }
                Ok(Some(codec.unpack(py, m.bytes())?.unbind()))
            }
            _ => Ok(Some(PyBytes::new(py, m.bytes()).into_any().unbind())),
        }
    }

    /// Send one message (the typed fast path used by `Node.send` too).
    pub fn send_obj(&self, py: Python<'_>, msg: &Bound<'_, PyAny>) -> PyResult<u64> {
        let publisher = self.publisher();
        if let Ok(payload) = msg.cast::<PyPayload>() {
            if let Mode::Payload(want) = &self.mode {
                let got = msg.get_type().name()?.to_string();
                if &got != want && want != "Payload" {
                    return Err(exc::TopicTypeError::new_err(format!("topic {} carries {want}, not {got}", self.topic.name())));
                }
            } else if !matches!(self.mode, Mode::Any) {
                return Err(exc::TopicTypeError::new_err(format!("topic {} carries {}, not a payload", self.topic.name(), self.ty.name)));
            }
            let p = payload.get().share(py);
            let seq = py.detach(|| publisher.send_payload(&p)).map_err(to_py)?;
            payload.get().set_sent_seq(seq);
            return Ok(seq);
        }
        match &self.mode {
            Mode::Pod(codec) => {
                let want = &self.ty.name;
                // Same class object (fast), or a class of the same name and layout (e.g. the
                // module was reloaded).
                let ok = codec.is_instance(msg) || {
                    let t = msg.get_type();
                    t.getattr("_tb_type_name").ok().and_then(|n| n.extract::<String>().ok()).is_some_and(|n| &n == want)
                        && t.getattr("_tb_hash").ok().and_then(|h| h.extract::<u64>().ok()) == Some(self.ty.hash)
                };
                if !ok {
                    return Err(exc::TopicTypeError::new_err(format!("topic {} carries {want}, not {}", self.topic.name(), msg.get_type().name()?)));
                }
                codec.with_packed(msg, |bytes| publisher.send_bytes(bytes))?.map_err(to_py)
            }
            Mode::Dict | Mode::Any if msg.cast::<PyDict>().is_ok() => {
                let blob = message::encode(msg)?;
                publisher.send_msgpack(&blob).map_err(to_py)
            }
            Mode::Any if msg.cast::<PyBytes>().is_ok() => {
                let b = msg.cast::<PyBytes>()?.as_bytes();
                if b.len() > tensorbus::raw::INLINE_MAX {
                    return Err(exc::PayloadTooLargeError::new_err(format!("bytes messages carry at most {} bytes; use a Tensor for more", tensorbus::raw::INLINE_MAX)));
                }
                publisher.send_bytes(b).map_err(to_py)
            }
            Mode::Dict => {
                let blob = message::encode(msg)?;
                publisher.send_msgpack(&blob).map_err(to_py)
            }
            _ => Err(exc::TopicTypeError::new_err(format!(
                "topic {} carries {}, not {}",
                self.topic.name(),
                if self.ty.name.is_empty() { "payloads, dicts or bytes" } else { &self.ty.name },
                msg.get_type().name()?
            ))),
        }
    }

    /// This handle's subscriber's trigger (the subscriber starts now if it had none): ready
    /// while `recv()` would return a message.
    pub fn trigger(&self, py: Python<'_>) -> PyResult<tensorbus_pool::Trigger> {
        self.with_sub(py, false, |s| s.trigger())?.map_err(tb_err)
    }

    pub fn recv_obj(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<Py<PyAny>>> {
        let t = Duration::from_secs_f64(timeout.max(0.0));
        let got = if t.is_zero() { self.with_sub(py, false, |s| s.try_recv())? } else { self.with_sub(py, true, |s| s.recv_timeout(t))? };
        self.deliver(py, got.map_err(tb_err)?)
    }

    #[allow(clippy::too_many_arguments)] // the constructor's keyword arguments, one by one
    pub fn open(py: Python<'_>, name: &str, ty: Option<&Bound<'_, PyAny>>, depth: u32, policy: &str, timeout: f64, history: u32, max_subscribers: u32) -> PyResult<PyTopic> {
        if !(timeout >= 0.0 && timeout.is_finite()) {
            return Err(exc::TopicError::new_err(format!("timeout must be >= 0 seconds, got {timeout}")));
        }
        let policy = match policy {
            "latest" => Policy::Latest,
            "reliable" => Policy::Reliable,
            other => return Err(exc::TopicError::new_err(format!("policy must be \"latest\" or \"reliable\", not {other:?}"))),
        };
        if depth == 0 || depth > tensorbus_pool::ring::MAX_DEPTH {
            return Err(exc::TopicError::new_err(format!("depth must be 1..={}, got {depth}", tensorbus_pool::ring::MAX_DEPTH)));
        }
        if history > 1 {
            return Err(exc::TopicError::new_err(format!("history must be 0 (keep no frame for late joiners) or 1 (keep the newest), got {history}")));
        }
        let (mode, tt) = Self::mode_of(ty)?;
        let ns = default_ns()?;
        if max_subscribers == 0 || max_subscribers as usize > tensorbus_pool::ring::MAX_SUBS {
            return Err(exc::TopicError::new_err(format!("max_subscribers must be 1..={}, got {max_subscribers}", tensorbus_pool::ring::MAX_SUBS)));
        }
        let cfg = TopicConfig { depth, policy, history, max_subscribers };
        let topic = py.detach(|| tensorbus::raw::open_topic(&ns, name, &tt, cfg)).map_err(to_py)?;
        Ok(PyTopic {
            topic,
            ty: tt,
            mode,
            publisher: OnceLock::new(),
            subscriber: Mutex::new(None),
            send_timeout: Duration::from_secs_f64(timeout),
            spin_ns: std::sync::atomic::AtomicU64::new(u64::MAX),
        })
    }
}

#[pymethods]
impl PyTopic {
    #[new]
    #[pyo3(signature = (name, r#type=None, depth=4, policy="latest", timeout=1.0, history=1, max_subscribers=64))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn new(py: Python<'_>, name: &str, r#type: Option<&Bound<'_, PyAny>>, depth: u32, policy: &str, timeout: f64, history: u32, max_subscribers: u32) -> PyResult<PyTopic> {
        PyTopic::open(py, name, r#type, depth, policy, timeout, history, max_subscribers)
    }

    /// Publish a message; returns its sequence number. Payloads travel by descriptor (a loaned
    /// payload is frozen by sending it), POD messages as their bytes, dicts as MessagePack.
    fn send(&self, py: Python<'_>, msg: &Bound<'_, PyAny>) -> PyResult<u64> {
        self.send_obj(py, msg)
    }

    /// The next unread message, or None; waits up to `timeout` seconds: spin-then-sleep (right
    /// after a receive that got a message it spins up to `spin` seconds, then sleeps).
    #[pyo3(signature = (timeout=0.0))]
    fn recv(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<Py<PyAny>>> {
        self.recv_obj(py, timeout)
    }

    /// Awaitable: the next message, waiting without blocking the running event loop (at most
    /// `timeout` seconds, then None; None: no limit). Cancelling the awaiting task ends the wait.
    #[pyo3(signature = (timeout=None))]
    fn recv_async<'py>(slf: &Bound<'py, Self>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        aio_module(slf.py())?.call_method1("recv_async", (slf, timeout))
    }

    /// `async for msg in topic:` every message, as it arrives (ends only when cancelled).
    fn __aiter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        aio_module(slf.py())?.call_method1("TopicIterator", (slf,))
    }

    /// The newest message (skipping older unread ones), or None.
    fn latest(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let got = self.with_sub(py, false, |s| s.latest())?.map_err(tb_err)?;
        self.deliver(py, got)
    }

    /// Seconds a blocking `recv` spins before sleeping when the previous one got a message
    /// (default 50 µs; 0: always sleep at once; `float("inf")`: spin, never sleep).
    #[getter]
    fn get_spin(&self) -> f64 {
        // Relaxed: a setting.
        match self.spin_ns.load(std::sync::atomic::Ordering::Relaxed) {
            u64::MAX => tensorbus_pool::ring::DEFAULT_SPIN.as_secs_f64(),
            SPIN_FOREVER => f64::INFINITY,
            n => n as f64 * 1e-9,
        }
    }
    #[setter]
    fn set_spin(&self, seconds: f64) -> PyResult<()> {
        if seconds.is_nan() || seconds < 0.0 {
            return Err(exc::TopicError::new_err(format!("spin must be >= 0 seconds, got {seconds}")));
        }
        let d = if seconds.is_infinite() { Duration::MAX } else { Duration::from_secs_f64(seconds) };
        let mut g = self.subscriber.lock().unwrap_or_else(|e| e.into_inner());
        // Relaxed: read under the same lock (`with_sub`).
        self.spin_ns.store(d.as_nanos().min(SPIN_FOREVER as u128) as u64, std::sync::atomic::Ordering::Relaxed);
        if let Some(sub) = g.as_mut() {
            sub.set_spin_window(d);
        }
        Ok(())
    }

    #[getter]
    pub fn name(&self) -> &str {
        self.topic.name()
    }
    /// The carried type's name ("" when untyped).
    #[getter]
    fn type_name(&self) -> String {
        self.topic.type_name()
    }
    #[getter]
    fn depth(&self) -> u32 {
        self.topic.depth()
    }
    #[getter]
    fn policy(&self) -> &'static str {
        if self.topic.policy() == Policy::Reliable {
            "reliable"
        } else {
            "latest"
        }
    }
    /// Frames kept for late joiners and `latest()` once every subscriber has read them (0 or 1).
    #[getter]
    fn history(&self) -> u32 {
        self.topic.history()
    }
    /// Subscribers the topic can have at once (fixed when it was created).
    #[getter]
    fn max_subscribers(&self) -> u32 {
        self.topic.ring().max_subscribers()
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
