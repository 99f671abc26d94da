//! The common base class of every pool payload (`Image`, `DepthImage`, `PointCloud`, `Tensor`):
//! a loaned (writable) or shared (read-only) slot, exported zero-copy to NumPy, PyTorch and JAX.
//!
//! State machine: `Loaned(PayloadMut)` — writable, only this object sees it — becomes
//! `Shared(Payload)` on `freeze()` or when sent; NumPy arrays handed out while loaned are
//! switched to read-only at that moment.
//!
//! A shared payload lives at a different address from the loan it came from: the slot's start
//! in the pool's read-only alias (see `tensorbus_pool::pool`), so every view of it (NumPy,
//! torch, JAX, a memoryview, raw pointers) faults on a write. `data_ptr` follows the state.
//! A torch tensor or DLPack capsule taken from the *loan* keeps the writable address after the
//! send (DLPack has no way to revoke it): drop it before sending.
//!
//! This file holds the class and its state; its Python methods are in payload_methods.rs (they
//! reach the subclasses, DLPack and CUDA, which all build on this state).

use crate::array;
use pyo3::prelude::*;
use std::sync::{Mutex, MutexGuard};
use tensorbus_tensor::{Payload, PayloadKind, PayloadMeta, PayloadMut};

pub enum Cell {
    Loaned(PayloadMut),
    Shared(Payload),
    /// Only while `freeze` swaps the state (never observed outside the lock).
    Moving,
}

impl Cell {
    pub fn meta(&self) -> &PayloadMeta {
        match self {
            Cell::Loaned(m) => m.meta(),
            Cell::Shared(p) => p.meta(),
            Cell::Moving => unreachable!("Cell::Moving is never visible outside freeze"),
        }
    }
    /// Start of the payload (see [`PyPayload::ptr`]).
    pub fn ptr(&self) -> usize {
        match self {
            Cell::Loaned(m) => m.as_ptr() as usize,
            Cell::Shared(p) => p.as_ptr() as usize,
            Cell::Moving => unreachable!("Cell::Moving is never visible outside freeze"),
        }
    }
}

/// Base class of pool payloads.
#[pyclass(name = "Payload", module = "tensorbus._native", subclass, frozen)]
pub struct PyPayload {
    cell: Mutex<Cell>,
    /// Weak references to writable NumPy arrays handed out while loaned.
    exported: Mutex<Vec<Py<PyAny>>>,
    /// The sequence number the last send returned (the sender's own view of `seq`).
    /// Relaxed: a value, no ordering with other memory.
    sent_seq: std::sync::atomic::AtomicU64,
}

impl PyPayload {
    pub fn loaned(mut m: PayloadMut) -> PyPayload {
        if m.meta().timestamp_ns == 0 {
            // Default capture time: when the slot was loaned (callers may overwrite it).
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
            m.set_timestamp_ns(now);
        }
        PyPayload { cell: Mutex::new(Cell::Loaned(m)), exported: Mutex::new(Vec::new()), sent_seq: Default::default() }
    }
    pub fn shared(p: Payload) -> PyPayload {
        PyPayload { cell: Mutex::new(Cell::Shared(p)), exported: Mutex::new(Vec::new()), sent_seq: Default::default() }
    }
    pub fn lock(&self) -> MutexGuard<'_, Cell> {
        self.cell.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Start of the payload in this process: the read-write mapping while loaned, the
    /// read-only alias once shared.
    pub fn ptr(&self) -> usize {
        self.lock().ptr()
    }
    /// Remember the sequence number a send assigned.
    pub fn set_sent_seq(&self, seq: u64) {
        self.sent_seq.store(seq, std::sync::atomic::Ordering::Relaxed);
    }
    /// The sequence number the last send assigned (0 before any).
    pub fn sent_seq(&self) -> u64 {
        self.sent_seq.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// Keep `weak` (a weak reference to a writable NumPy view of the loan) so that `share` can
    /// turn the array read-only; dead references are dropped on the way.
    pub fn remember_export(&self, py: Python<'_>, weak: Py<PyAny>) {
        let mut ex = self.exported.lock().unwrap_or_else(|e| e.into_inner());
        ex.retain(|w| w.bind(py).call0().map(|o| !o.is_none()).unwrap_or(false));
        ex.push(weak);
    }
    pub fn meta(&self) -> PayloadMeta {
        self.lock().meta().clone()
    }

    /// Freeze (if loaned) and return the shared payload, e.g. to send it.
    pub fn share(&self, py: Python<'_>) -> Payload {
        let mut g = self.lock();
        if let Cell::Shared(p) = &*g {
            return p.clone();
        }
        let Cell::Loaned(m) = std::mem::replace(&mut *g, Cell::Moving) else { unreachable!("checked above") };
        let p = m.freeze();
        *g = Cell::Shared(p.clone());
        drop(g);
        let weak = std::mem::take(&mut *self.exported.lock().unwrap_or_else(|e| e.into_inner()));
        array::make_readonly(py, weak);
        p
    }

    pub fn kind(&self) -> PayloadKind {
        self.lock().meta().kind()
    }
}
