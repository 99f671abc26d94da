//! Binds the pool's wait-sets: `tb.WaitSet` (several topics, deadlines, one thread, no
//! polling) and `tb.wait(topics, timeout)`. A topic's readiness is its own subscriber's: ready
//! while `topic.recv()` would return a message.
//!
//! Waits run without the GIL, in slices of at most 100 ms between which pending signals are
//! delivered (Ctrl-C ends a long wait with KeyboardInterrupt).

use crate::errors::{exc, to_py};
use crate::topic::PyTopic;
use pyo3::prelude::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tensorbus_pool::{EventKind, Interrupter, WaitSet};

/// Longest wait between two checks for Ctrl-C.
const SLICE: Duration = Duration::from_millis(100);

fn seconds(what: &str, v: Option<f64>) -> PyResult<Option<Duration>> {
    match v {
        None => Ok(None),
        Some(t) if t >= 0.0 && t.is_finite() => Ok(Some(Duration::from_secs_f64(t))),
        Some(t) => Err(exc::TopicError::new_err(format!("{what} must be >= 0 seconds or None, got {t}"))),
    }
}

/// Wait on `ws` for `timeout` (None: until something happens) in slices, delivering signals in
/// between; the (key, kind) of what happened.
fn wait_sliced(py: Python<'_>, ws: &mut WaitSet, timeout: Option<Duration>) -> PyResult<Vec<(usize, EventKind)>> {
    let start = Instant::now();
    loop {
        let left = timeout.map(|t| t.saturating_sub(start.elapsed()));
        let slice = left.map_or(SLICE, |l| l.min(SLICE));
        let got: Vec<(usize, EventKind)> = py.detach(|| ws.wait(slice).iter().map(|e| (e.key, e.kind)).collect());
        if !got.is_empty() || ws.was_interrupted() || left.is_some_and(|l| l <= slice) {
            return Ok(got);
        }
        py.check_signals()?;
    }
}

/// Several topics watched at once: `ws = tb.WaitSet([cam, lidar])`, `ws.add(imu, deadline=0.1)`,
/// `for topic, what in ws.wait(timeout=1.0): ...` where `what` is `"ready"` (the topic has
/// unread messages) or `"deadline"` (it delivered nothing for its deadline period).
#[pyclass(name = "WaitSet", module = "tensorbus._native", frozen)]
pub struct PyWaitSet {
    /// The wait-set (out while a thread waits on it: the lock is only ever held briefly) and
    /// the topic of each key.
    inner: Mutex<(Option<WaitSet>, Vec<Py<PyTopic>>)>,
    interrupter: Interrupter,
}

const BUSY: &str = "another thread is inside this WaitSet's wait(); interrupt() it first";

impl PyWaitSet {
    fn state(&self) -> std::sync::MutexGuard<'_, (Option<WaitSet>, Vec<Py<PyTopic>>)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyWaitSet {
    #[new]
    #[pyo3(signature = (topics=None, spin=None))]
    fn new(topics: Option<Vec<Bound<'_, PyTopic>>>, spin: Option<f64>) -> PyResult<PyWaitSet> {
        let mut ws = WaitSet::new();
        if let Some(s) = spin {
            if !(s >= 0.0 && s.is_finite()) {
                return Err(exc::TopicError::new_err(format!("spin must be >= 0 seconds, got {s}")));
            }
            ws.set_spin(Duration::from_secs_f64(s));
        }
        let me = PyWaitSet { interrupter: ws.interrupter(), inner: Mutex::new((Some(ws), Vec::new())) };
        for t in topics.unwrap_or_default() {
            me.add(&t, None)?;
        }
        Ok(me)
    }

    /// Watch `topic` (its subscriber starts now if it had none); with `deadline` (seconds), a
    /// `"deadline"` event whenever it delivers nothing for that long.
    #[pyo3(signature = (topic, deadline=None))]
    fn add(&self, topic: &Bound<'_, PyTopic>, deadline: Option<f64>) -> PyResult<()> {
        let trigger = topic.get().trigger(topic.py())?;
        let deadline = seconds("deadline", deadline)?;
        let mut g = self.state();
        let (ws, topics) = &mut *g;
        let ws = ws.as_mut().ok_or_else(|| exc::TopicError::new_err(BUSY))?;
        let key = match deadline {
            Some(d) if !d.is_zero() => ws.attach_deadline(trigger, d),
            Some(_) => return Err(exc::TopicError::new_err("deadline must be > 0 seconds")),
            None => ws.attach(trigger),
        }
        .map_err(to_py)?;
        debug_assert_eq!(key, topics.len());
        topics.push(topic.clone().unbind());
        Ok(())
    }

    /// Stop watching `topic` (every entry that is this very object).
    fn remove(&self, topic: &Bound<'_, PyTopic>) -> PyResult<()> {
        let mut g = self.state();
        let (ws, topics) = &mut *g;
        let ws = ws.as_mut().ok_or_else(|| exc::TopicError::new_err(BUSY))?;
        for (k, t) in topics.iter().enumerate() {
            if t.bind(topic.py()).is(topic) {
                ws.detach(k);
            }
        }
        Ok(())
    }

    /// Wait up to `timeout` seconds (None: until something happens) and return
    /// `[(topic, "ready" | "deadline"), ...]`; empty after a timeout or `interrupt()`. A topic
    /// stays ready until its messages are received.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Vec<(Py<PyTopic>, &'static str)>> {
        let t = seconds("timeout", timeout)?;
        let (mut ws, topics) = {
            let mut g = self.state();
            let ws = g.0.take().ok_or_else(|| exc::TopicError::new_err(BUSY))?;
            (ws, g.1.iter().map(|t| t.clone_ref(py)).collect::<Vec<_>>())
        };
        let got = wait_sliced(py, &mut ws, t);
        self.state().0 = Some(ws);
        Ok(got?.into_iter().map(|(k, kind)| (topics[k].clone_ref(py), if kind == EventKind::Ready { "ready" } else { "deadline" })).collect())
    }

    /// End a `wait()` in progress (from another thread).
    fn interrupt(&self) {
        self.interrupter.interrupt();
    }

    /// Topics watched (raises while another thread waits).
    fn __len__(&self) -> PyResult<usize> {
        Ok(self.state().0.as_ref().ok_or_else(|| exc::TopicError::new_err(BUSY))?.len())
    }

    fn __repr__(&self) -> String {
        let g = self.state();
        let names: Vec<&str> = g.1.iter().enumerate().filter(|(k, _)| g.0.as_ref().is_none_or(|ws| ws.trigger(*k).is_some())).map(|(_, t)| t.get().name()).collect();
        format!("<tensorbus.WaitSet {names:?}>")
    }
}

/// Wait until any of `topics` has unread messages, at most `timeout` seconds (None: no limit);
/// returns the ready ones, in the order given (empty after a timeout).
#[pyfunction]
#[pyo3(signature = (topics, timeout=None))]
pub fn wait(py: Python<'_>, topics: Vec<Bound<'_, PyTopic>>, timeout: Option<f64>) -> PyResult<Vec<Py<PyTopic>>> {
    let t = seconds("timeout", timeout)?;
    let mut ws = WaitSet::new();
    for topic in &topics {
        ws.attach(topic.get().trigger(py)?).map_err(to_py)?;
    }
    let got = wait_sliced(py, &mut ws, t)?;
    let mut keys: Vec<usize> = got.into_iter().map(|(k, _)| k).collect();
    keys.sort_unstable();
    keys.dedup();
    Ok(keys.into_iter().map(|k| topics[k].clone().unbind()).collect())
}
