//! Binds the facade's `Node` and `Scheduler`: Python nodes are `tensorbus::Node`s whose
//! callbacks take the GIL only while they run; the scheduling loop (rates, budgets, deadlines,
//! miss policies, compute threads, statistics) is Rust and runs without the GIL.
//!
//! The Python-facing `tb.Node` lives in `tensorbus/node.py` (topics, `send`/`recv`, async ticks);
//! it hands this module plain callables.

use crate::errors::{exc, to_py};
use crate::topic::PyTopic;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tensorbus::{Context, Node, NodeConfig, NodeResult, OnMiss, Scheduler};

/// A Python node as the Rust scheduler sees it.
struct PyNodeAdapter {
    init: Option<Py<PyAny>>,
    tick: Py<PyAny>,
    shutdown: Option<Py<PyAny>>,
    /// An event node's trigger topic names (interned Python strings): its tick is called with a
    /// tuple of those ready; `all_on` is the tuple of all of them, reused when every one fired
    /// (always, for a node on one topic: no tuple is built per tick).
    on: Vec<Py<pyo3::types::PyString>>,
    all_on: Option<Py<pyo3::types::PyTuple>>,
    report: Report,
    /// The ticking thread's Python thread state, kept from init to shutdown.
    kept: Option<KeptThreadState>,
}

/// A Python thread state kept alive on the thread that runs a node, from its init to its
/// shutdown (both run on the thread that ticks it).
///
/// `Python::attach` on a thread that has none (a compute or event node's own thread) creates a
/// thread state and destroys it again on every call: 8 µs of every tick here (an infinite-rate
/// compute node ticked 124 k/s against 4.8 M/s on the main thread), paid after every wake of an
/// event node. With one kept (`PyGILState_Ensure` once, the GIL then released by
/// `PyEval_SaveThread`), each attach is a plain GIL acquire.
struct KeptThreadState {
    gil: pyo3::ffi::PyGILState_STATE,
    saved: *mut pyo3::ffi::PyThreadState,
    thread: std::thread::ThreadId,
}

// SAFETY: the pointer is only used again by `drop` on the thread that made it (checked); moved
// to another thread, the state is leaked, never touched there.
unsafe impl Send for KeptThreadState {}

impl KeptThreadState {
    /// Keep a thread state on the calling thread (which must not hold the GIL: the scheduler's
    /// threads never do).
    fn keep() -> KeptThreadState {
        // SAFETY: Ensure/SaveThread are paired with RestoreThread/Release in `drop`, on this
        // thread, after every attach of this node's callbacks has ended (attach nests inside).
        let (gil, saved) = unsafe {
            let gil = pyo3::ffi::PyGILState_Ensure();
            (gil, pyo3::ffi::PyEval_SaveThread())
        };
        KeptThreadState { gil, saved, thread: std::thread::current().id() }
    }
}

impl Drop for KeptThreadState {
    fn drop(&mut self) {
        if std::thread::current().id() == self.thread {
            // SAFETY: the reverse of `keep`, on the same thread, with no attach in progress.
            unsafe {
                pyo3::ffi::PyEval_RestoreThread(self.saved);
                pyo3::ffi::PyGILState_Release(self.gil);
            }
        }
    }
}

/// How a node's callback exceptions are counted and passed on.
struct Report {
    name: String,
    errors: u64,
    /// Shared with the scheduler: a KeyboardInterrupt/SystemExit raised inside a callback.
    pending: Pending,
}

type Pending = Arc<Mutex<Option<PyErr>>>;

fn call(py: Python<'_>, f: &Py<PyAny>, args: Option<Bound<'_, pyo3::types::PyTuple>>, what: &str, report: &mut Report, ctx: &Context) -> NodeResult {
    let Report { name, errors, pending } = report;
    let r = match args {
        Some(ready) => f.bind(py).call1((ready,)),
        None => f.bind(py).call0(),
    };
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) || e.is_instance_of::<pyo3::exceptions::PySystemExit>(py) => {
            // Ctrl-C (or sys.exit) inside a callback ends the run, not just this tick: stop the
            // scheduler (every shutdown still runs) and re-raise from run().
            pending.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
            ctx.stop_scheduler();
            Ok(())
        }
        Err(e) => {
            // Logged with its traceback (the 1st, 2nd, 4th, 8th, ... time, so a node failing
            // at 1 kHz does not flood the log); the scheduler counts every one and applies the
            // node's policy.
            *errors += 1;
            // Through the log facade like the scheduler's own messages (TENSORBUS_LOG=off hides
            // both); the traceback follows on stderr only when the warning is shown.
            if errors.is_power_of_two() && log::log_enabled!(target: "tensorbus::python", log::Level::Warn) {
                log::warn!(target: "tensorbus::python", "node {name}: exception in {what} (#{errors}):");
                e.display(py);
            }
            Err(format!("{what}: {}", e.value(py).repr().map(|r| r.to_string()).unwrap_or_else(|_| "exception".into())).into())
        }
    }
}

impl Node for PyNodeAdapter {
    fn name(&self) -> &str {
        &self.report.name
    }
    fn init(&mut self, ctx: &mut Context) -> NodeResult {
        self.kept = Some(KeptThreadState::keep());
        let r = match &self.init {
            Some(f) => Python::attach(|py| call(py, f, None, "init", &mut self.report, ctx)),
            None => Ok(()),
        };
        if r.is_err() {
            self.kept = None; // no shutdown follows a failed init
        }
        r
    }
    fn tick(&mut self, ctx: &mut Context) -> NodeResult {
        Python::attach(|py| {
            let ready = match &self.all_on {
                None => None,
                Some(all) if ctx.ready().len() == self.on.len() => Some(all.bind(py).clone()),
                Some(_) => {
                    let names: Vec<&Bound<'_, pyo3::types::PyString>> = ctx.ready().iter().filter_map(|&i| self.on.get(i).map(|s| s.bind(py))).collect();
                    Some(pyo3::types::PyTuple::new(py, names)?)
                }
            };
            call(py, &self.tick, ready, "tick", &mut self.report, ctx)
        })
    }
    fn shutdown(&mut self, ctx: &mut Context) -> NodeResult {
        let r = match &self.shutdown {
            Some(f) => Python::attach(|py| call(py, f, None, "shutdown", &mut self.report, ctx)),
            None => Ok(()),
        };
        self.kept = None;
        r
    }
}

/// The scheduler: `Scheduler(tick_rate=100)`; `tick_rate` is the default rate of nodes that
/// set none.
#[pyclass(name = "Scheduler", module = "tensorbus._native", frozen, subclass)]
pub struct PyScheduler {
    inner: Arc<Scheduler>,
    /// An exception raised while running (KeyboardInterrupt), re-raised after clean shutdown.
    pending: Pending,
}

fn secs(v: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    match v {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(exc::TensorbusError::new_err(format!("{what} must be a positive number of seconds, got {s}"))),
    }
}

#[pymethods]
impl PyScheduler {
    #[new]
    #[pyo3(signature = (tick_rate=100.0, spin=None))]
    fn new(tick_rate: f64, spin: Option<f64>) -> PyResult<PyScheduler> {
        if tick_rate.is_nan() || tick_rate <= 0.0 {
            return Err(exc::TensorbusError::new_err(format!("tick_rate must be > 0 Hz, got {tick_rate}")));
        }
        let sched = Scheduler::new(tick_rate);
        if let Some(w) = secs(spin.filter(|&s| s != 0.0), "spin")? {
            sched.set_spin_window(w);
        } else if spin == Some(0.0) {
            sched.set_spin_window(Duration::ZERO);
        }
        Ok(PyScheduler { inner: Arc::new(sched), pending: Pending::default() })
    }

    /// Add a node (low level: name, callables and config; `tb.Scheduler.add` passes a
    /// `tb.Node`). With `on` (topics) it is an event node: `tick(ready_topic_names)` runs
    /// whenever one of them has new messages.
    #[pyo3(signature = (name, tick, init=None, shutdown=None, rate=None, budget=None, deadline=None, on_miss="warn", compute=false, stop_on_error=false, on=None))]
    #[allow(clippy::too_many_arguments)]
    fn _add(
        &self,
        py: Python<'_>,
        name: String,
        tick: Py<PyAny>,
        init: Option<Py<PyAny>>,
        shutdown: Option<Py<PyAny>>,
        rate: Option<f64>,
        budget: Option<f64>,
        deadline: Option<f64>,
        on_miss: &str,
        compute: bool,
        stop_on_error: bool,
        on: Option<Vec<Bound<'_, PyTopic>>>,
    ) -> PyResult<()> {
        let on_miss: OnMiss = on_miss.parse().map_err(|e: String| exc::TensorbusError::new_err(e))?;
        if let Some(r) = rate {
            if r.is_nan() || r <= 0.0 {
                return Err(exc::TensorbusError::new_err(format!("node {name:?}: rate must be > 0 Hz, got {r}")));
            }
        }
        let on = on.unwrap_or_default();
        if !on.is_empty() && rate.is_some() {
            return Err(exc::TensorbusError::new_err(format!("node {name:?}: an event node (on=...) ticks when its topics have data; it takes no rate")));
        }
        let triggers = on.iter().map(|t| t.get().trigger(t.py())).collect::<PyResult<Vec<_>>>()?;
        let names: Vec<Py<pyo3::types::PyString>> = on.iter().map(|t| pyo3::types::PyString::intern(py, t.get().name()).unbind()).collect();
        let all_on = if names.is_empty() { None } else { Some(pyo3::types::PyTuple::new(py, names.iter().map(|n| n.bind(py)))?.unbind()) };
        let config = NodeConfig { rate_hz: rate, budget: secs(budget, "budget")?, deadline: secs(deadline, "deadline")?, on_miss, compute, stop_on_error, triggers };
        let node = PyNodeAdapter { init, tick, shutdown, on: names, all_on, report: Report { name, errors: 0, pending: self.pending.clone() }, kept: None };
        self.inner.add_boxed(Box::new(node), config).map_err(to_py)
    }

    /// Run until `duration` seconds pass, `stop()` is called, or Ctrl-C. Every node's shutdown
    /// runs before it returns; a KeyboardInterrupt is re-raised after that.
    #[pyo3(signature = (duration=None))]
    fn run(&self, py: Python<'_>, duration: Option<f64>) -> PyResult<()> {
        let d = match duration {
            None => None,
            Some(s) if s >= 0.0 && s.is_finite() => Some(Duration::from_secs_f64(s)),
            Some(s) => return Err(exc::TensorbusError::new_err(format!("duration must be >= 0 seconds, got {s}"))),
        };
        let sched = self.inner.clone();
        // Live statistics go to the namespace this process uses now (`tb.use_namespace`).
        if let Ok(ns) = crate::namespace::default_ns() {
            sched.set_namespace(ns);
        }
        let pending = &self.pending;
        let result = py.detach(|| {
            // Polled by the scheduler every ~20 ms: deliver Python signals (Ctrl-C).
            let mut keep_going = || {
                Python::attach(|py| match py.check_signals() {
                    Ok(()) => pending.lock().unwrap_or_else(|p| p.into_inner()).is_none(),
                    Err(e) => {
                        pending.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                        false
                    }
                })
            };
            sched.run_with(d, &mut keep_going)
        });
        result.map_err(to_py)?;
        if let Some(e) = self.pending.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(e);
        }
        Ok(())
    }

    /// Ask the running scheduler to stop (from a callback or another thread).
    fn stop(&self) {
        self.inner.stop();
    }

    fn get_node_names(&self) -> Vec<String> {
        self.inner.node_names()
    }

    /// Statistics of a node (readable while running): total_ticks, avg/max/p99 tick duration
    /// (seconds), budget and deadline misses, error_count, last_error, actual rate, state.
    fn get_node_stats<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.node_stats(name).ok_or_else(|| exc::TensorbusError::new_err(format!("no node named {name:?}")))?;
        let d = PyDict::new(py);
        d.set_item("name", &s.name)?;
        d.set_item("total_ticks", s.total_ticks)?;
        d.set_item("avg_tick_duration", s.avg_tick.as_secs_f64())?;
        d.set_item("max_tick_duration", s.max_tick.as_secs_f64())?;
        d.set_item("p99_tick_duration", s.p99_tick.as_secs_f64())?;
        d.set_item("p50_wake_latency", s.p50_wake.as_secs_f64())?;
        d.set_item("p99_wake_latency", s.p99_wake.as_secs_f64())?;
        d.set_item("max_wake_latency", s.max_wake.as_secs_f64())?;
        d.set_item("on", &s.triggers)?;
        d.set_item("budget_misses", s.budget_misses)?;
        d.set_item("deadline_misses", s.deadline_misses)?;
        d.set_item("error_count", s.error_count)?;
        d.set_item("last_error", s.last_error)?;
        d.set_item("actual_rate", s.actual_rate_hz)?;
        d.set_item("running", s.running)?;
        d.set_item("stopped", s.stopped)?;
        Ok(d)
    }

    #[getter]
    fn tick_rate(&self) -> f64 {
        self.inner.tick_rate_hz()
    }
}

/// Seconds left in the current tick: until its budget, else until its deadline (None outside
/// a tick).
#[pyfunction]
pub fn budget_remaining() -> Option<f64> {
    tensorbus::budget_remaining().map(|d| d.as_secs_f64())
}
