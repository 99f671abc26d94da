//! tensorbus-gpu: CUDA support for tensorbus pools, with the driver loaded at run time.
//!
//! - [`driver`]: [`is_available`], [`device_count`] (0 without a driver — never a panic), the
//!   devices' primary contexts;
//! - [`pin`]: page-locked registration of mapped host ranges (pool segments), once per process;
//! - [`pool`]: the fixed-slot device pool (buffers allocated once per size class, reused);
//! - [`stage`]: asynchronous host→device staging holding the host side until the copy's event
//!   completes, and [`copy_to_host`] for the way back;
//! - [`stream`]: caller streams ([`StreamRef`], array-API integers) and our events.
//!
//! cudarc is built with `dynamic-loading` and a fixed CUDA API version: the crate builds and its
//! tests run on machines without CUDA, where every entry point returns [`CudaError::NoDriver`].
//!
//! ```
//! // Runs everywhere: with no driver there are simply no devices.
//! let n = tensorbus_gpu::device_count();
//! assert_eq!(tensorbus_gpu::is_available(), n > 0);
//! ```

pub mod driver;
pub mod error;
pub mod pin;
pub mod pool;
pub mod stage;
pub mod stream;

pub use driver::{device, device_count, is_available, Device};
pub use error::{CudaError, Result};
pub use pin::{is_pinned, pin_from_env, pin_mapping_forever, pinned_range, unpin_all, Pin};
pub use pool::{device_pool, DeviceBuffer, DevicePool};
pub use stage::{copy_to_host, stage, Staged};
pub use stream::{Event, StreamRef};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_driver_means_zero_devices() {
        if driver::driver().is_err() {
            assert_eq!(device_count(), 0);
            assert!(!is_available());
            assert!(matches!(device(0), Err(CudaError::NoDriver(_))));
        }
    }

    #[test]
    fn device_index_checked() {
        match device(-1) {
            Err(CudaError::DeviceOutOfRange { index: -1, .. }) | Err(CudaError::NoDriver(_)) | Err(CudaError::NoDevice) => {}
            other => panic!("unexpected {other:?}"),
        }
        if is_available() {
            let n = device_count();
            assert!(matches!(device(n as i64), Err(CudaError::DeviceOutOfRange { .. })));
        }
    }

    #[test]
    fn errors_read_clearly() {
        assert_eq!(CudaError::DeviceOutOfRange { index: 3, count: 1 }.to_string(), "CUDA device 3 out of range: 1 device(s) present");
        assert!(CudaError::NoDriver("x".into()).to_string().starts_with("no CUDA driver"));
    }
}
