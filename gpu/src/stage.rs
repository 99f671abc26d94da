//! Host → device staging and the way back.
//!
//! [`stage`] claims a buffer from the device pool, queues an asynchronous `cuMemcpyHtoDAsync` on
//! the caller's stream (or the device's private stream) and records an event after it. The host
//! side stays held (`hold`, e.g. a pool payload) until the copy has completed: a host function
//! queued behind the copy (`cuLaunchHostFunc`) drops it as soon as the DMA is done, whether or
//! not anyone asks; [`Staged::ready`], [`Staged::synchronize`] and drop release it too (drop
//! synchronizes first). A consumer orders its own stream after the copy with
//! [`Staged::wait_on`] — no host blocking.
//!
//! [`copy_to_host`] is the way back: device memory into a host slot, ordered on a stream and
//! synchronized before returning.

use crate::driver::{device, Device};
use crate::error::{check, CudaError, Result};
use crate::pool::{device_pool, DeviceBuffer};
use crate::stream::{private_stream, Event, StreamRef};
use cudarc::driver::sys;
use std::any::Any;
use std::sync::{Arc, Mutex};

/// What keeps the host range alive, shared with the release callback.
type HoldCell = Mutex<Option<Box<dyn Any + Send>>>;

/// A device buffer being (or having been) filled from host memory.
pub struct Staged {
    buf: DeviceBuffer,
    stream: StreamRef,
    event: Event,
    hold: Arc<HoldCell>,
}

/// Host function queued behind the copy: drops the host hold. Runs once, on a driver thread, and
/// makes no CUDA calls (dropping a pool payload is atomics and at most a futex wake).
unsafe extern "C" fn release_hold_cb(p: *mut std::ffi::c_void) {
    // SAFETY: `p` is the reference `stage` leaked with Arc::into_raw for exactly this call.
    let cell = unsafe { Arc::from_raw(p as *const HoldCell) };
    let held = cell.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(held);
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged").field("buf", &self.buf).field("stream", &self.stream).finish()
    }
}

/// Copy `len` bytes at `host` to a pooled buffer on `device`, asynchronously on `stream` (the
/// device's private stream when `None`). `hold` is dropped once the copy has completed.
///
/// # Safety
/// `host` must point to `len` readable bytes that stay valid and unchanged while `hold` lives.
pub unsafe fn stage(host: *const u8, len: usize, device_index: i64, stream: Option<StreamRef>, hold: Box<dyn Any + Send>) -> Result<Staged> {
    if host.is_null() && len > 0 {
        return Err(CudaError::Invalid("null host pointer".into()));
    }
    let pool = device_pool(device_index)?;
    let dev = pool.device();
    let stream = match stream {
        Some(s) => {
            s.validate(&dev)?;
            s
        }
        None => private_stream(&dev)?,
    };
    let buf = pool.claim(len, stream)?;
    let _ctx = dev.bind()?;
    if len > 0 {
        // SAFETY: `buf` has at least `len` bytes; the caller guarantees the host range. The
        // host stays held (`hold`) until the copy has completed (see below).
        check(unsafe { sys::cuMemcpyHtoDAsync_v2(buf.ptr(), host as *const std::ffi::c_void, len, stream.raw()) }, "cuMemcpyHtoDAsync(stream)")?;
    }
    buf.used_on(stream);
    let event = match Event::record(&dev, stream) {
        Ok(e) => e,
        Err(e) => {
            // The copy may be queued: it must finish before `hold` (dropped on return) goes.
            let _ = stream.synchronize(&dev);
            return Err(e);
        }
    };
    let hold: Arc<HoldCell> = Arc::new(Mutex::new(Some(hold)));
    let raw = Arc::into_raw(hold.clone()) as *mut std::ffi::c_void;
    // SAFETY: a live stream in the bound context; the callback takes over the reference `raw`.
    let r = unsafe { sys::cuLaunchHostFunc(stream.raw(), Some(release_hold_cb), raw) };
    if r != sys::CUresult::CUDA_SUCCESS {
        // Not queued: take the reference back; `ready`, `synchronize` or drop release the hold.
        // SAFETY: `raw` came from Arc::into_raw above and the callback will not run.
        drop(unsafe { Arc::from_raw(raw as *const HoldCell) });
    }
    Ok(Staged { buf, stream, event, hold })
}

impl Staged {
    pub fn buffer(&self) -> &DeviceBuffer {
        &self.buf
    }
    pub fn device_ptr(&self) -> u64 {
        self.buf.ptr()
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn device(&self) -> Device {
        self.buf.device()
    }
    /// The stream the copy was queued on.
    pub fn stream(&self) -> StreamRef {
        self.stream
    }

    /// A consumer reads the buffer on a stream we cannot name (`__dlpack__(stream=-1)`): its
    /// reuse waits for the whole device.
    pub fn used_untracked(&self) {
        self.buf.used_untracked();
    }

    fn release_hold(&self) {
        let h = self.hold.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(h);
    }

    /// True if the host side is still held (the copy may still be running).
    pub fn holds_host(&self) -> bool {
        self.hold.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// True once the copy has completed (and then the host hold is released).
    pub fn ready(&self) -> Result<bool> {
        let done = self.event.query()?;
        if done {
            self.release_hold();
        }
        Ok(done)
    }

    /// Block until the copy has completed; releases the host hold.
    pub fn synchronize(&self) -> Result<()> {
        self.event.synchronize()?;
        self.release_hold();
        Ok(())
    }

    /// Order `consumer` after the copy (device-side wait, the host does not block) and remember
    /// that it reads the buffer, so reuse waits for its work. Always a wait, even for the copy's
    /// own stream handle: the per-thread handle (2) names a different stream on each thread.
    pub fn wait_on(&self, consumer: StreamRef) -> Result<()> {
        let dev = self.device();
        consumer.wait(&dev, &self.event)?;
        self.buf.used_on(consumer);
        let _ = self.ready();
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // The host range must outlive the DMA: wait for the copy before releasing the hold.
        let _ = self.event.synchronize();
        self.release_hold();
    }
}

/// Copy `len` bytes from device address `src` into host memory at `dst`, ordered on `stream`
/// (the device's private stream when `None`), and wait for it.
///
/// # Safety
/// `src` must be a device allocation of `device_index` with `len` readable bytes, ready to read on
/// `stream` (the producer ordered it, e.g. via `__dlpack__(stream=...)`); `dst` must have `len`
/// writable bytes not otherwise accessed during the call.
pub unsafe fn copy_to_host(src: u64, dst: *mut u8, len: usize, device_index: i64, stream: Option<StreamRef>) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    if dst.is_null() || src == 0 {
        return Err(CudaError::Invalid("null pointer in device-to-host copy".into()));
    }
    let dev = device(device_index)?;
    let stream = match stream {
        Some(s) => {
            s.validate(&dev)?;
            s
        }
        None => private_stream(&dev)?,
    };
    let _ctx = dev.bind()?;
    // SAFETY: per the contract; we synchronize before returning, so `dst` is written when we do.
    check(unsafe { sys::cuMemcpyDtoHAsync_v2(dst as *mut std::ffi::c_void, src, len, stream.raw()) }, "cuMemcpyDtoHAsync(stream)")?;
    stream.synchronize(&dev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_without_driver_is_an_error_and_drops_nothing_held() {
        if crate::is_available() {
            return;
        }
        let data = vec![7u8; 4096];
        // SAFETY: the vector outlives the call.
        let r = unsafe { stage(data.as_ptr(), data.len(), 0, None, Box::new(())) };
        assert!(matches!(r, Err(CudaError::NoDriver(_)) | Err(CudaError::NoDevice)), "{r:?}");
    }

    #[test]
    fn copy_back_without_driver_is_an_error() {
        if crate::is_available() {
            return;
        }
        let mut out = vec![0u8; 16];
        // SAFETY: the call fails before touching memory.
        let r = unsafe { copy_to_host(0x1000, out.as_mut_ptr(), out.len(), 0, None) };
        assert!(matches!(r, Err(CudaError::NoDriver(_)) | Err(CudaError::NoDevice)), "{r:?}");
    }

    #[test]
    fn negative_stream_rejected() {
        assert!(matches!(StreamRef::from_int(-3), Err(CudaError::BadStream(_))));
        assert_eq!(StreamRef::from_int(1).unwrap(), StreamRef::LEGACY);
    }
}
