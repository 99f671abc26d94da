//! Streams named by the caller, and events we own.
//!
//! A [`StreamRef`] is a borrowed driver handle: we never destroy it. Integers follow the array
//! API's DLPack convention for CUDA: `1` is the legacy default stream, `2` the per-thread default
//! stream, `0` the null stream (allowed for `to_cuda`, refused by `__dlpack__`), anything larger
//! a `CUstream` handle (e.g. `torch.cuda.Stream().cuda_stream`, `cupy.cuda.Stream().ptr`).

use crate::driver::Device;
use crate::error::{check, CudaError, Result};
use cudarc::driver::sys;

/// A stream owned by someone else (or one of the special handles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRef(pub(crate) usize);

// SAFETY: a stream handle is an opaque driver pointer usable from any thread.
unsafe impl Send for StreamRef {}
// SAFETY: as above; the handle is never dereferenced on our side.
unsafe impl Sync for StreamRef {}

impl StreamRef {
    pub const NULL: StreamRef = StreamRef(0);
    pub const LEGACY: StreamRef = StreamRef(1);
    pub const PER_THREAD: StreamRef = StreamRef(2);

    /// A stream from an integer handle; negative values are a [`CudaError::BadStream`].
    pub fn from_int(v: i64) -> Result<StreamRef> {
        usize::try_from(v).map(StreamRef).map_err(|_| CudaError::BadStream(format!("stream handle {v} is negative")))
    }

    pub fn as_int(&self) -> usize {
        self.0
    }

    pub(crate) fn raw(&self) -> sys::CUstream {
        self.0 as sys::CUstream
    }

    /// Ask the driver whether the handle is a live stream (`cuStreamQuery`). A handle that is not
    /// a stream at all may still crash the driver: pass handles from a CUDA library only.
    pub fn validate(&self, device: &Device) -> Result<()> {
        let _ctx = device.bind()?;
        // SAFETY: special handles are always valid; others are checked by the driver.
        match unsafe { sys::cuStreamQuery(self.raw()) } {
            sys::CUresult::CUDA_SUCCESS | sys::CUresult::CUDA_ERROR_NOT_READY => Ok(()),
            r => Err(CudaError::BadStream(format!("stream {:#x} rejected by the driver: {}", self.0, crate::error::name(r)))),
        }
    }

    /// Block the host until all work queued on the stream is done.
    pub fn synchronize(&self, device: &Device) -> Result<()> {
        let _ctx = device.bind()?;
        // SAFETY: a validated (or special) stream handle.
        check(unsafe { sys::cuStreamSynchronize(self.raw()) }, "cuStreamSynchronize(stream)")
    }

    /// Make the stream wait (on the device, without blocking the host) for `event`.
    pub fn wait(&self, device: &Device, event: &Event) -> Result<()> {
        let _ctx = device.bind()?;
        // SAFETY: a live event we own and a stream handle of the caller.
        check(unsafe { sys::cuStreamWaitEvent(self.raw(), event.raw, 0) }, "cuStreamWaitEvent(stream)")
    }
}

/// A private, non-blocking stream per device, created once and never destroyed.
pub fn private_stream(device: &Device) -> Result<StreamRef> {
    use std::sync::{Mutex, OnceLock};
    static STREAMS: OnceLock<Mutex<Vec<(usize, usize)>>> = OnceLock::new();
    let streams = STREAMS.get_or_init(|| Mutex::new(Vec::new()));
    let mut g = streams.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&(_, s)) = g.iter().find(|(d, _)| *d == device.index) {
        return Ok(StreamRef(s));
    }
    let _ctx = device.bind()?;
    let mut s: sys::CUstream = std::ptr::null_mut();
    // SAFETY: valid out pointer, context bound.
    check(unsafe { sys::cuStreamCreate(&mut s, sys::CUstream_flags::CU_STREAM_NON_BLOCKING as u32) }, "cuStreamCreate")?;
    g.push((device.index, s as usize));
    Ok(StreamRef(s as usize))
}

/// An event we created (timing disabled); destroyed on drop.
#[derive(Debug)]
pub struct Event {
    raw: sys::CUevent,
    device: Device,
}

// SAFETY: events are driver handles usable from any thread; we destroy it once, in Drop.
unsafe impl Send for Event {}
// SAFETY: as above; the driver's event calls are thread-safe.
unsafe impl Sync for Event {}

impl Event {
    /// Create an event and record it on `stream`.
    pub fn record(device: &Device, stream: StreamRef) -> Result<Event> {
        let _ctx = device.bind()?;
        let mut raw: sys::CUevent = std::ptr::null_mut();
        // SAFETY: valid out pointer, context bound.
        check(unsafe { sys::cuEventCreate(&mut raw, sys::CUevent_flags::CU_EVENT_DISABLE_TIMING as u32) }, "cuEventCreate")?;
        let ev = Event { raw, device: *device };
        // SAFETY: a live event; the stream is the caller's (validated or special).
        check(unsafe { sys::cuEventRecord(raw, stream.raw()) }, "cuEventRecord(stream)")?;
        Ok(ev)
    }

    /// True once the recorded work has completed.
    pub fn query(&self) -> Result<bool> {
        let _ctx = self.device.bind()?;
        // SAFETY: a live event.
        match unsafe { sys::cuEventQuery(self.raw) } {
            sys::CUresult::CUDA_SUCCESS => Ok(true),
            sys::CUresult::CUDA_ERROR_NOT_READY => Ok(false),
            r => check(r, "cuEventQuery").map(|_| false),
        }
    }

    /// Block the host until the recorded work has completed.
    pub fn synchronize(&self) -> Result<()> {
        let _ctx = self.device.bind()?;
        // SAFETY: a live event.
        check(unsafe { sys::cuEventSynchronize(self.raw) }, "cuEventSynchronize")
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        let _ctx = self.device.bind();
        // SAFETY: we own the event; destroying one with pending work is allowed (the driver
        // releases it once the work completes).
        unsafe {
            let _ = sys::cuEventDestroy_v2(self.raw);
        }
    }
}
