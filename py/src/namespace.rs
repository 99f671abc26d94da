//! Binds `tensorbus_pool::Namespace`: the process's default namespace, `pool_stats()`, `reap()`.

use crate::errors::to_py;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::Mutex;
use tensorbus_pool::Namespace;

static DEFAULT: Mutex<Option<Namespace>> = Mutex::new(None);
/// Every namespace this process used, so interpreter exit can leave them all.
static USED: Mutex<Vec<Namespace>> = Mutex::new(Vec::new());
/// In a forked child: the directory of the parent's default namespace, opened under the child's
/// own registration on first use (see `_after_fork`).
static INHERITED_DIR: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);

fn remember(ns: &Namespace) {
    let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
    if !used.iter().any(|n| n.dir() == ns.dir()) {
        used.push(ns.clone());
    }
}

/// The namespace payloads and topics use (opened on first use from the environment, or, in a
/// forked child, the parent's default namespace under the child's own registration).
pub fn default_ns() -> PyResult<Namespace> {
    let mut g = DEFAULT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(ns) = g.as_ref() {
        return Ok(ns.clone());
    }
    let inherited = INHERITED_DIR.lock().unwrap_or_else(|e| e.into_inner()).take();
    let ns = match inherited {
        Some(dir) => Namespace::open_dir(&dir, tensorbus_pool::PoolConfig::default()),
        None => Namespace::open(None),
    }
    .map_err(to_py)?;
    remember(&ns);
    *g = Some(ns.clone());
    Ok(ns)
}

/// Switch the default namespace (by name, and optionally the base directory).
#[pyfunction]
#[pyo3(signature = (name=None, shm_dir=None))]
pub fn use_namespace(py: Python<'_>, name: Option<String>, shm_dir: Option<String>) -> PyResult<String> {
    let dir = match shm_dir {
        Some(d) => {
            let name = name.as_deref().unwrap_or("default");
            tensorbus_pool::segment::check_namespace(name).map_err(to_py)?;
            std::path::PathBuf::from(d).join(name)
        }
        None => tensorbus_pool::segment::namespace_dir(name.as_deref()).map_err(to_py)?,
    };
    let ns = py.detach(|| Namespace::open_dir(&dir, tensorbus_pool::PoolConfig::default())).map_err(to_py)?;
    remember(&ns);
    *DEFAULT.lock().unwrap_or_else(|e| e.into_inner()) = Some(ns);
    Ok(dir.display().to_string())
}

/// Called in a forked child (`os.register_at_fork(after_in_child=...)`): forget the parent's
/// handles, so the child's default namespace is its own registration, made on first use, and
/// interpreter exit leaves only what the child registered. (Without this the inherited handles
/// are still safe: the core routes every claim, receive and send of an inherited handle through
/// the child's own registration, and dropping one releases nothing.)
#[pyfunction]
pub fn _after_fork() {
    // try_lock: a lock a parent thread held at fork stays locked in the child; then keep the
    // inherited handle (safe, see above) rather than deadlock.
    if let Ok(mut g) = DEFAULT.try_lock() {
        if let Some(parent) = g.take() {
            if let Ok(mut d) = INHERITED_DIR.try_lock() {
                *d = Some(parent.dir().to_path_buf());
            }
        }
    }
    if let Ok(mut used) = USED.try_lock() {
        used.clear();
    }
}

/// Leave every namespace this process used (called at interpreter exit): all holds are
/// released and the process is unregistered now, not at the next reap. Payload objects that
/// outlive this become inert.
#[pyfunction]
pub fn _shutdown() {
    DEFAULT.lock().unwrap_or_else(|e| e.into_inner()).take();
    for ns in std::mem::take(&mut *USED.lock().unwrap_or_else(|e| e.into_inner())) {
        ns.leave();
    }
}

/// Release the holds of dead processes; returns {"processes": n, "slots_freed": n}.
#[pyfunction]
pub fn reap(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let ns = default_ns()?;
    let r = py.detach(|| ns.reap());
    let d = PyDict::new(py);
    d.set_item("processes", r.processes)?;
    d.set_item("slots_freed", r.slots_freed)?;
    Ok(d)
}

/// The namespace report: pools, participants, topics.
#[pyfunction]
pub fn pool_stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let ns = default_ns()?;
    let s = py.detach(|| ns.stats());
    let d = PyDict::new(py);
    d.set_item("dir", &s.dir)?;
    d.set_item("used_slots", s.used_slots())?;
    d.set_item("reaps", s.reaps)?;
    let pools = PyList::empty(py);
    for p in &s.pools {
        let pd = PyDict::new(py);
        pd.set_item("id", p.id)?;
        pd.set_item("slot_size", p.slot_size)?;
        pd.set_item("slots", p.slots)?;
        pd.set_item("used", p.used)?;
        pd.set_item("free", p.slots - p.used)?;
        let holders = PyDict::new(py);
        for (who, n) in &p.holders {
            holders.set_item(who, n)?;
        }
        pd.set_item("holders", holders)?;
        pools.append(pd)?;
    }
    d.set_item("pools", pools)?;
    let parts = PyList::empty(py);
    for p in &s.participants {
        let pd = PyDict::new(py);
        pd.set_item("index", p.index)?;
        pd.set_item("pid", p.pid)?;
        pd.set_item("name", &p.name)?;
        pd.set_item("kind", if p.is_topic { "topic" } else { "process" })?;
        pd.set_item("alive", p.alive)?;
        parts.append(pd)?;
    }
    d.set_item("participants", parts)?;
    let topics = PyList::empty(py);
    for t in &s.topics {
        let td = PyDict::new(py);
        td.set_item("name", &t.name)?;
        td.set_item("type", &t.type_name)?;
        td.set_item("depth", t.depth)?;
        td.set_item("policy", if t.policy == tensorbus_pool::Policy::Reliable { "reliable" } else { "latest" })?;
        td.set_item("publishers", t.publishers)?;
        td.set_item("subscribers", t.subscribers)?;
        td.set_item("sent", t.sent)?;
        td.set_item("misses", t.misses)?;
        topics.append(td)?;
    }
    d.set_item("topics", topics)?;
    Ok(d)
}
