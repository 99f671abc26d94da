//! Loading the driver and the per-device primary contexts.
//!
//! libcuda is opened at run time (cudarc `dynamic-loading`). [`driver`] probes for the library
//! first (`is_culib_present`) so that a machine without it gets [`CudaError::NoDriver`] instead
//! of cudarc's panic, then runs `cuInit` once per process; the outcome is cached.
//!
//! Each device's *primary* context is retained once and never released (it is the context
//! PyTorch, CuPy and JAX use, so device pointers are valid in theirs too). Every operation pushes
//! it onto the calling thread's context stack for its own duration ([`Device::bind`] returns a
//! guard that pops it), so the caller's current context — the one the CUDA runtime, and with it
//! torch's current device, follows — is the same afterwards as before.

use crate::error::{check, CudaError, Result};
use cudarc::driver::sys;
use std::sync::OnceLock;

/// The loaded driver: the device count and each device's lazily retained primary context.
pub struct Driver {
    devices: Vec<OnceLock<Result<Device>>>,
}

/// A device with its primary context.
#[derive(Debug, Clone, Copy)]
pub struct Device {
    pub index: usize,
    pub(crate) dev: sys::CUdevice,
    pub(crate) ctx: sys::CUcontext,
}

// SAFETY: CUcontext and CUdevice are driver handles valid from any thread; the primary context is
// never released, so the handle stays valid for the life of the process.
unsafe impl Send for Device {}
// SAFETY: as above; binding is per-thread and done by each user.
unsafe impl Sync for Device {}

impl Device {
    /// Make this device's primary context current on the calling thread until the returned
    /// guard drops (push now, pop then).
    pub fn bind(&self) -> Result<CtxGuard> {
        // SAFETY: `ctx` is a retained primary context (never released).
        check(unsafe { sys::cuCtxPushCurrent_v2(self.ctx) }, "cuCtxPushCurrent")?;
        Ok(CtxGuard { _not_send: std::marker::PhantomData })
    }

    /// The device's name (e.g. "NVIDIA H100 80GB HBM3").
    pub fn name(&self) -> Result<String> {
        let mut buf = [0 as std::ffi::c_char; 256];
        // SAFETY: the buffer holds 256 bytes; the driver NUL-terminates within `len`.
        check(unsafe { sys::cuDeviceGetName(buf.as_mut_ptr(), buf.len() as i32, self.dev) }, "cuDeviceGetName")?;
        // SAFETY: NUL-terminated by the driver (and the last byte is still 0).
        Ok(unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned())
    }
}

/// A device context pushed on this thread by [`Device::bind`]; popped on drop. Not `Send`: the
/// context stack is per thread.
#[must_use = "the context is current only while the guard lives"]
pub struct CtxGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for CtxGuard {
    fn drop(&mut self) {
        let mut popped = std::ptr::null_mut();
        // SAFETY: pops the context our `bind` pushed on this thread (guards drop in reverse
        // order of creation, so it is on top); `popped` is a valid out pointer.
        let _ = unsafe { sys::cuCtxPopCurrent_v2(&mut popped) };
    }
}

static DRIVER: OnceLock<Result<Driver>> = OnceLock::new();

fn load() -> Result<Driver> {
    // SAFETY: probing only dlopens candidate library names.
    if !unsafe { sys::is_culib_present() } {
        return Err(CudaError::NoDriver("libcuda.so could not be loaded (is the NVIDIA driver installed?)".into()));
    }
    // cudarc panics on a missing symbol; a driver too old for the functions we use is a NoDriver.
    let init = std::panic::catch_unwind(|| {
        // SAFETY: cuInit may be called any number of times, from any thread.
        let r = unsafe { sys::cuInit(0) };
        if r != sys::CUresult::CUDA_SUCCESS {
            return Err(r);
        }
        let mut n = 0;
        // SAFETY: `n` is a valid out pointer.
        let r = unsafe { sys::cuDeviceGetCount(&mut n) };
        if r != sys::CUresult::CUDA_SUCCESS {
            return Err(r);
        }
        Ok(n)
    });
    match init {
        Err(_) => Err(CudaError::NoDriver("libcuda lacks a required entry point (driver too old)".into())),
        Ok(Err(sys::CUresult::CUDA_ERROR_NO_DEVICE)) => Ok(Driver { devices: Vec::new() }),
        Ok(Err(r)) => Err(CudaError::NoDriver(format!("cuInit failed: {}", crate::error::name(r)))),
        Ok(Ok(n)) => Ok(Driver { devices: (0..n.max(0)).map(|_| OnceLock::new()).collect() }),
    }
}

/// The process's driver, loaded on first use.
pub fn driver() -> Result<&'static Driver> {
    DRIVER.get_or_init(load).as_ref().map_err(Clone::clone)
}

/// True if a CUDA driver is loaded and at least one device is present. Never panics.
pub fn is_available() -> bool {
    device_count() > 0
}

/// The number of CUDA devices; 0 without a driver. Never panics.
pub fn device_count() -> usize {
    driver().map(|d| d.devices.len()).unwrap_or(0)
}

/// Device `index` with its primary context retained (once per process).
pub fn device(index: i64) -> Result<Device> {
    let d = driver()?;
    if d.devices.is_empty() {
        return Err(CudaError::NoDevice);
    }
    let count = d.devices.len();
    let i = usize::try_from(index).ok().filter(|&i| i < count).ok_or(CudaError::DeviceOutOfRange { index, count })?;
    d.devices[i]
        .get_or_init(|| {
            let mut dev = 0;
            // SAFETY: valid out pointers; `i` is below the device count.
            check(unsafe { sys::cuDeviceGet(&mut dev, i as i32) }, "cuDeviceGet")?;
            let mut ctx = std::ptr::null_mut();
            // SAFETY: as above; the retained context is intentionally never released.
            check(unsafe { sys::cuDevicePrimaryCtxRetain(&mut ctx, dev) }, "cuDevicePrimaryCtxRetain")?;
            Ok(Device { index: i, dev, ctx })
        })
        .clone()
}

/// The first device, bound to this thread while the guard lives (for operations that need any
/// context).
pub(crate) fn any_device() -> Result<(Device, CtxGuard)> {
    let d = device(0)?;
    let g = d.bind()?;
    Ok((d, g))
}
