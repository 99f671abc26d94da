//! The fixed-slot device pool: per device and size class, `N` buffers allocated once with
//! `cuMemAlloc` on first use of the class, then claimed and released like host pool slots —
//! never an allocation per frame.
//!
//! Size classes are powers of two from 64 KiB; `N` is `TENSORBUS_CUDA_SLOTS` (default 8). The pool
//! lives in this process only, so a mutex-guarded free list is enough (no shared memory).
//!
//! Reuse is ordered on the device, not the host: a released buffer carries the events recorded on
//! the streams that last used it (the consumers' streams given to `__dlpack__`, else our copy
//! stream); the next claim makes its stream wait on them before writing.

use crate::driver::{device, Device};
use crate::error::{check, CudaError, Result};
use crate::stream::{Event, StreamRef};
use cudarc::driver::sys;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

/// Smallest device size class.
pub const MIN_CLASS: usize = 64 << 10;
/// Buffers per class when `TENSORBUS_CUDA_SLOTS` is unset.
pub const DEFAULT_SLOTS: usize = 8;

fn slots_per_class() -> usize {
    std::env::var("TENSORBUS_CUDA_SLOTS").ok().and_then(|s| s.trim().parse().ok()).filter(|&n: &usize| (1..=1024).contains(&n)).unwrap_or(DEFAULT_SLOTS)
}

/// The size class for `len` bytes.
pub fn class_size(len: usize) -> Option<usize> {
    len.max(MIN_CLASS).checked_next_power_of_two()
}

struct Free {
    index: usize,
    /// Work that may still read or write the buffer; the next claimer's stream waits on it.
    after: Vec<Event>,
}

struct Class {
    device: Device,
    size: usize,
    bufs: Vec<sys::CUdeviceptr>,
    free: Mutex<VecDeque<Free>>,
}

/// One device's pool: its size classes, created on first use.
pub struct DevicePool {
    device: Device,
    classes: Mutex<Vec<Arc<Class>>>,
}

static POOLS: OnceLock<Mutex<Vec<&'static DevicePool>>> = OnceLock::new();

/// The pool of device `index` (created on first use, lives for the process).
pub fn device_pool(index: i64) -> Result<&'static DevicePool> {
    let dev = device(index)?;
    let pools = POOLS.get_or_init(|| Mutex::new(Vec::new()));
    let mut g = pools.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = g.iter().find(|p| p.device.index == dev.index) {
        return Ok(p);
    }
    let p: &'static DevicePool = Box::leak(Box::new(DevicePool { device: dev, classes: Mutex::new(Vec::new()) }));
    g.push(p);
    Ok(p)
}

impl DevicePool {
    pub fn device(&self) -> Device {
        self.device
    }

    fn class(&self, size: usize) -> Result<Arc<Class>> {
        let mut g = self.classes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = g.iter().find(|c| c.size == size) {
            return Ok(c.clone());
        }
        let _ctx = self.device.bind()?;
        let n = slots_per_class();
        let mut bufs = Vec::with_capacity(n);
        for _ in 0..n {
            let mut p: sys::CUdeviceptr = 0;
            // SAFETY: valid out pointer, context bound.
            let r = check(unsafe { sys::cuMemAlloc_v2(&mut p, size) }, "cuMemAlloc");
            if let Err(e) = r {
                for b in bufs {
                    // SAFETY: buffers we just allocated, never handed out.
                    unsafe { sys::cuMemFree_v2(b) };
                }
                return Err(match e {
                    CudaError::OutOfMemory(_) => CudaError::OutOfMemory(format!("device {}: cannot allocate {n} buffers of {size} bytes for the device pool", self.device.index)),
                    e => e,
                });
            }
            bufs.push(p);
        }
        let free = (0..n).map(|index| Free { index, after: Vec::new() }).collect();
        let c = Arc::new(Class { device: self.device, size, bufs, free: Mutex::new(free) });
        g.push(c.clone());
        Ok(c)
    }

    /// Claim a buffer of at least `len` bytes whose previous users are ordered before any work
    /// `stream` does next.
    pub fn claim(&self, len: usize, stream: StreamRef) -> Result<DeviceBuffer> {
        let size = class_size(len).ok_or_else(|| CudaError::OutOfMemory(format!("{len} bytes is too large for a device buffer")))?;
        let class = self.class(size)?;
        let f = class.free.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
        let Some(f) = f else {
            return Err(CudaError::OutOfMemory(format!(
                "device {} pool: all {} buffers of {size} bytes are held (drop device payloads and the tensors made from them, or raise TENSORBUS_CUDA_SLOTS)",
                self.device.index,
                class.bufs.len()
            )));
        };
        for ev in &f.after {
            if let Err(e) = stream.wait(&self.device, ev) {
                // Keep the ordering for the next claimer: back to the free list, unchanged.
                class.free.lock().unwrap_or_else(|e| e.into_inner()).push_front(f);
                return Err(e);
            }
        }
        Ok(DeviceBuffer { class, index: f.index, len, used_on: Mutex::new(Vec::new()), untracked: false.into() })
    }

    /// `(size, total, free)` per class.
    pub fn usage(&self) -> Vec<(usize, usize, usize)> {
        let g = self.classes.lock().unwrap_or_else(|e| e.into_inner());
        g.iter().map(|c| (c.size, c.bufs.len(), c.free.lock().unwrap_or_else(|e| e.into_inner()).len())).collect()
    }
}

/// A claimed device buffer; back to its class's free list on drop.
pub struct DeviceBuffer {
    class: Arc<Class>,
    index: usize,
    len: usize,
    /// Streams that read the buffer (consumers); an event is recorded on each at release.
    used_on: Mutex<Vec<StreamRef>>,
    /// A reader we cannot order by stream (per-thread default stream, or no stream given):
    /// release synchronizes the device instead.
    untracked: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for DeviceBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceBuffer(device {}, {:#x}, {} of {} bytes)", self.class.device.index, self.ptr(), self.len, self.class.size)
    }
}

impl DeviceBuffer {
    /// The device address.
    pub fn ptr(&self) -> u64 {
        self.class.bufs[self.index]
    }
    /// Bytes in use (the capacity is the class size).
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn capacity(&self) -> usize {
        self.class.size
    }
    pub fn device(&self) -> Device {
        self.class.device
    }
    /// Note that `stream` reads the buffer: the release waits for its work queued until then.
    pub fn used_on(&self, stream: StreamRef) {
        if stream == StreamRef::PER_THREAD {
            // Handle 2 is the *calling thread's* default stream: an event recorded at release
            // (maybe on another thread) would not order this reader's work.
            self.used_untracked();
            return;
        }
        let mut g = self.used_on.lock().unwrap_or_else(|e| e.into_inner());
        if !g.contains(&stream) {
            g.push(stream);
        }
    }
}

impl DeviceBuffer {
    /// Note a reader whose stream we cannot order after: release synchronizes the device.
    pub fn used_untracked(&self) {
        // Relaxed: read in drop, which the caller's last use happens before.
        self.untracked.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        // Relaxed: see `used_untracked`.
        if self.untracked.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(_ctx) = self.class.device.bind() {
                // SAFETY: context bound; waits for all work on the device, that reader's included.
                unsafe { sys::cuCtxSynchronize() };
            }
        }
        let streams = std::mem::take(&mut *self.used_on.lock().unwrap_or_else(|e| e.into_inner()));
        let mut after = Vec::new();
        for s in streams {
            match Event::record(&self.class.device, s) {
                Ok(ev) => after.push(ev),
                // The stream is gone: order conservatively with the whole device.
                Err(_) => {
                    if let Ok(_ctx) = self.class.device.bind() {
                        // SAFETY: context bound.
                        unsafe { sys::cuCtxSynchronize() };
                    }
                }
            }
        }
        self.class.free.lock().unwrap_or_else(|e| e.into_inner()).push_back(Free { index: self.index, after });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_sizes_are_powers_of_two() {
        assert_eq!(class_size(1), Some(MIN_CLASS));
        assert_eq!(class_size(640 * 480 * 3), Some(1 << 20));
        assert_eq!(class_size(1920 * 1080 * 3), Some(8 << 20));
        assert_eq!(class_size(usize::MAX), None);
    }

    #[test]
    fn pool_without_driver_is_an_error() {
        if crate::is_available() {
            return;
        }
        assert!(matches!(device_pool(0), Err(CudaError::NoDriver(_)) | Err(CudaError::NoDevice)));
    }
}
