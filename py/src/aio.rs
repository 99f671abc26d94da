//! The asyncio bridge: `await topic.recv_async()` and `async for msg in topic`.
//!
//! One background thread per process (started on first use) waits, in one [`WaitSet`], on every
//! topic a coroutine awaits, and when one has unread messages calls that coroutine's wake-up
//! callback (`loop.call_soon_threadsafe(...)`, made in `tensorbus/_aio.py`): no polling, no
//! thread per topic, and the event loop never blocks. A watch is registered with [`_watch`] after
//! a `recv()` found nothing and removed with [`_unwatch`] when the coroutine resumes, times out or
//! is cancelled; every change interrupts the thread's wait so it re-reads the list.
//!
//! The thread takes the GIL only to call callbacks. At interpreter exit (`_shutdown`) it stops
//! calling them (`_aio_shutdown`); in a forked child (no thread) the first watch starts a new one.

use crate::errors::exc;
use crate::topic::PyTopic;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tensorbus_pool::ring::MAX_WATCHED;
use tensorbus_pool::{Interrupter, Trigger, WaitSet};

struct Watch {
    id: u64,
    trigger: Trigger,
    wake: Py<PyAny>,
}

struct Watcher {
    pid: u32,
    watches: Mutex<Vec<Watch>>,
    /// Bumped on every change of `watches` (the thread rebuilds its wait-set when it moved).
    changes: AtomicU64,
    next_id: AtomicU64,
    stopped: AtomicBool,
    interrupter: Interrupter,
    /// The thread, joined at interpreter exit (`_aio_shutdown`).
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

static WATCHER: Mutex<Option<Arc<Watcher>>> = Mutex::new(None);
static SHUTDOWN: OnceLock<()> = OnceLock::new();

/// This process's watcher, starting its thread if needed (a fork child's inherited one has no
/// thread: replaced).
fn watcher() -> PyResult<Arc<Watcher>> {
    let mut g = WATCHER.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if let Some(w) = g.as_ref().filter(|w| w.pid == pid) {
        return Ok(w.clone());
    }
    let ws = WaitSet::new();
    let w = Arc::new(Watcher {
        pid,
        watches: Mutex::new(Vec::new()),
        changes: AtomicU64::new(0),
        next_id: AtomicU64::new(1),
        stopped: AtomicBool::new(false),
        interrupter: ws.interrupter(),
        thread: Mutex::new(None),
    });
    let thread_w = w.clone();
    let handle = std::thread::Builder::new()
        .name("tb-asyncio".into())
        .spawn(move || run(&thread_w, ws))
        .map_err(|e| exc::TensorbusError::new_err(format!("could not start the asyncio watcher thread: {e}")))?;
    *w.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    *g = Some(w.clone());
    Ok(w)
}

/// The watcher thread: wait on every watched trigger; resolve and drop the ready watches.
fn run(w: &Watcher, mut ws: WaitSet) {
    let mut ids: Vec<u64> = Vec::new();
    let mut seen = u64::MAX;
    // Relaxed: a stop flag; the interrupt that follows it ends the wait.
    while !w.stopped.load(Ordering::Relaxed) {
        // Acquire: pairs with the Release bump in `changed`, so the list read below is current.
        let c = w.changes.load(Ordering::Acquire);
        if c != seen {
            seen = c;
            ws.clear();
            ids.clear();
            for watch in w.watches.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                if ws.attach(watch.trigger.clone()).is_ok() {
                    ids.push(watch.id);
                }
            }
        }
        let ready: Vec<u64> = ws.wait(Duration::from_secs(1)).iter().map(|e| ids[e.key]).collect();
        if ready.is_empty() {
            continue;
        }
        let fired: Vec<Py<PyAny>> = {
            let mut list = w.watches.lock().unwrap_or_else(|e| e.into_inner());
            let (hit, keep): (Vec<Watch>, Vec<Watch>) = std::mem::take(&mut *list).into_iter().partition(|x| ready.contains(&x.id));
            *list = keep;
            hit.into_iter().map(|x| x.wake).collect()
        };
        changed(w);
        // Relaxed: see the loop condition (interpreter exit: call nothing any more).
        if fired.is_empty() || w.stopped.load(Ordering::Relaxed) {
            continue;
        }
        Python::attach(|py| {
            for f in fired {
                // A closed event loop raises RuntimeError: its coroutine is gone anyway.
                let _ = f.bind(py).call0();
            }
        });
    }
}

/// The watch list changed: let the thread rebuild its wait-set.
fn changed(w: &Watcher) {
    // Release: publishes the list change to the thread's Acquire load.
    w.changes.fetch_add(1, Ordering::Release);
    w.interrupter.interrupt();
}

/// Call `wake()` (from the watcher thread, with the GIL) once `topic` has unread messages;
/// returns the watch's id for `_unwatch`.
#[pyfunction]
pub fn _watch(py: Python<'_>, topic: &Bound<'_, PyTopic>, wake: Py<PyAny>) -> PyResult<u64> {
    if SHUTDOWN.get().is_some() {
        return Err(exc::TensorbusError::new_err("the interpreter is exiting: no more asyncio receives"));
    }
    let trigger = topic.get().trigger(py)?;
    let w = watcher()?;
    // Relaxed: a unique id; nothing is published through it.
    let id = w.next_id.fetch_add(1, Ordering::Relaxed);
    {
        let mut list = w.watches.lock().unwrap_or_else(|e| e.into_inner());
        if list.len() >= MAX_WATCHED {
            return Err(exc::TopicError::new_err(format!(
                "topic {}: at most {MAX_WATCHED} recv_async() can wait at once in one process (one per topic handle is the usual need)",
                topic.get().name()
            )));
        }
        list.push(Watch { id, trigger, wake });
    }
    changed(&w);
    Ok(id)
}

/// Remove watch `id` (a no-op once it fired).
#[pyfunction]
pub fn _unwatch(id: u64) {
    let w = WATCHER.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(w) = w.filter(|w| w.pid == std::process::id()) {
        let removed = {
            let mut list = w.watches.lock().unwrap_or_else(|e| e.into_inner());
            let n = list.len();
            list.retain(|x| x.id != id);
            n != list.len()
        };
        if removed {
            changed(&w);
        }
    }
}

/// Interpreter exit (registered with `atexit` by `tensorbus/__init__.py`): stop the watcher
/// thread and wait for it, so it never takes the GIL while the interpreter finalizes (CPython
/// ends a thread that does inside the GIL acquire, an unwind through Rust frames that aborts
/// the process: seen once in six runs of the wake bench).
#[pyfunction]
pub fn _aio_shutdown(py: Python<'_>) {
    let _ = SHUTDOWN.set(());
    let Some(w) = WATCHER.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
    // Relaxed: see `run`; the interrupt wakes the thread to read it.
    w.stopped.store(true, Ordering::Relaxed);
    w.interrupter.interrupt();
    let handle = w.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(h) = handle.filter(|_| w.pid == std::process::id()) {
        // Without the GIL: the thread may be waiting for it to call the last callbacks.
        py.detach(|| {
            let _ = h.join();
        });
    }
    // Drop the callbacks here, with the GIL.
    std::mem::take(&mut *w.watches.lock().unwrap_or_else(|e| e.into_inner()));
}
