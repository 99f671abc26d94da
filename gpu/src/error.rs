//! The crate's one error enum. Every driver failure becomes a value, never a panic: a machine
//! without libcuda gets [`CudaError::NoDriver`] from every entry point.

use cudarc::driver::sys::CUresult;

/// What can go wrong talking to the CUDA driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CudaError {
    /// libcuda could not be loaded (no NVIDIA driver installed) or `cuInit` failed.
    #[error("no CUDA driver: {0}")]
    NoDriver(String),
    /// The driver loaded but reports no device.
    #[error("no CUDA device: the driver reports 0 devices")]
    NoDevice,
    /// A device index past the number of devices.
    #[error("CUDA device {index} out of range: {count} device(s) present")]
    DeviceOutOfRange { index: i64, count: usize },
    /// Device memory (or the device pool's slots) could not hold the request.
    #[error("out of CUDA device memory: {0}")]
    OutOfMemory(String),
    /// A stream argument the driver rejects or the protocol does not allow.
    #[error("bad CUDA stream: {0}")]
    BadStream(String),
    /// A bad argument on our side (a null pointer, a length past a buffer, ...).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// Any other driver error, with the call that failed and the driver's name for it.
    #[error("CUDA driver error: {0}")]
    Driver(String),
}

pub type Result<T, E = CudaError> = std::result::Result<T, E>;

/// The driver's name for `r` (only call once the library is loaded).
pub(crate) fn name(r: CUresult) -> String {
    let e = cudarc::driver::DriverError(r);
    match e.error_name() {
        Ok(n) => n.to_string_lossy().into_owned(),
        Err(_) => format!("{r:?}"),
    }
}

/// Map a driver status to our error, naming the call.
pub(crate) fn check(r: CUresult, what: &str) -> Result<()> {
    match r {
        CUresult::CUDA_SUCCESS => Ok(()),
        CUresult::CUDA_ERROR_OUT_OF_MEMORY => Err(CudaError::OutOfMemory(format!("{what}: {}", name(r)))),
        CUresult::CUDA_ERROR_NO_DEVICE => Err(CudaError::NoDevice),
        CUresult::CUDA_ERROR_INVALID_HANDLE if what.contains("stream") => Err(CudaError::BadStream(format!("{what}: {}", name(r)))),
        _ => Err(CudaError::Driver(format!("{what}: {}", name(r)))),
    }
}
