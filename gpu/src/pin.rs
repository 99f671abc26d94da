//! Page-locked ("pinned") registration of host memory that is already mapped, e.g. a pool
//! segment, so host↔device copies from it are real asynchronous DMA and PyTorch reports tensors
//! over it as `is_pinned()`.
//!
//! `cuMemHostRegister(PORTABLE)` is called at most once per process per range; the process-global
//! registry maps each range's start to its length and a reference count. A [`Pin`] is one
//! reference; the range is unregistered when the last one drops. [`pin_mapping_forever`] pins the
//! whole mapping (from `/proc/self/maps`) that contains an address for the life of the process —
//! what pool pinning uses, since pool segments stay mapped for as long as the namespace is open.
//!
//! `TENSORBUS_CUDA_PIN=1` asks the bindings to pin pool memory automatically ([`pin_from_env`]).

use crate::driver::any_device;
use crate::error::{CudaError, Result};
use cudarc::driver::sys;
use std::collections::BTreeMap;
use std::sync::Mutex;

struct Entry {
    len: usize,
    refs: usize,
    /// False when someone else (e.g. torch's `cudaHostRegister`) registered the range first:
    /// then we never unregister it.
    owned: bool,
}

static REGISTRY: Mutex<BTreeMap<usize, Entry>> = Mutex::new(BTreeMap::new());

fn registry() -> std::sync::MutexGuard<'static, BTreeMap<usize, Entry>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// True when `TENSORBUS_CUDA_PIN` is set to `1`/`true`/`yes`.
pub fn pin_from_env() -> bool {
    matches!(std::env::var("TENSORBUS_CUDA_PIN").as_deref().map(str::trim), Ok("1" | "true" | "yes" | "on"))
}

/// One reference on a registered range; unregistered when the last reference drops.
#[derive(Debug)]
pub struct Pin {
    base: usize,
    len: usize,
}

impl Pin {
    pub fn base(&self) -> usize {
        self.base
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut g = registry();
        let Some(e) = g.get_mut(&self.base) else { return };
        e.refs -= 1;
        if e.refs == 0 {
            let owned = e.owned;
            g.remove(&self.base);
            if owned {
                if let Ok(_d) = any_device() {
                    // SAFETY: we registered exactly this base address and it is still mapped
                    // (the Pin's holder keeps the mapping alive per `pin`'s contract).
                    unsafe {
                        let _ = sys::cuMemHostUnregister(self.base as *mut std::ffi::c_void);
                    }
                }
            }
        }
    }
}

/// The registered range containing `ptr`, if any: `(base, len)`.
pub fn pinned_range(ptr: usize) -> Option<(usize, usize)> {
    let g = registry();
    g.range(..=ptr).next_back().filter(|(b, e)| ptr < *b + e.len).map(|(b, e)| (*b, e.len))
}

/// True if `ptr` lies in a range this process registered (or found registered).
pub fn is_pinned(ptr: usize) -> bool {
    pinned_range(ptr).is_some()
}

/// Every registered range, `(base, len)`.
pub fn pinned_ranges() -> Vec<(usize, usize)> {
    registry().iter().map(|(b, e)| (*b, e.len)).collect()
}

/// Register `[base, base + len)` (page-aligned) with the driver, or take another reference if it
/// already is.
///
/// # Safety
/// The range must be mapped and stay mapped while the returned [`Pin`] lives.
pub unsafe fn pin(base: usize, len: usize) -> Result<Pin> {
    if base == 0 || len == 0 {
        return Err(CudaError::Invalid("cannot pin an empty or null range".into()));
    }
    let mut g = registry();
    if let Some(e) = g.get_mut(&base) {
        if e.len != len {
            return Err(CudaError::Invalid(format!("range {base:#x} is already pinned with length {} (asked {len})", e.len)));
        }
        e.refs += 1;
        return Ok(Pin { base, len });
    }
    if let Some((b, l)) = g.range(..base + len).next_back().map(|(b, e)| (*b, e.len)) {
        if b + l > base {
            return Err(CudaError::Invalid(format!("range {base:#x}+{len} overlaps the pinned range {b:#x}+{l}")));
        }
    }
    let _ctx = any_device()?;
    let p = base as *mut std::ffi::c_void;
    let portable = sys::CU_MEMHOSTREGISTER_PORTABLE;
    // SAFETY: the caller guarantees the range is mapped; a context is current.
    let mut r = unsafe { sys::cuMemHostRegister_v2(p, len, portable) };
    if r == sys::CUresult::CUDA_ERROR_INVALID_VALUE || r == sys::CUresult::CUDA_ERROR_NOT_PERMITTED {
        // A read-only mapping can only be registered read-only.
        // SAFETY: as above.
        r = unsafe { sys::cuMemHostRegister_v2(p, len, portable | sys::CU_MEMHOSTREGISTER_READ_ONLY) };
    }
    let owned = match r {
        sys::CUresult::CUDA_SUCCESS => true,
        sys::CUresult::CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED => false,
        sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY => {
            return Err(CudaError::OutOfMemory(format!("cuMemHostRegister of {len} bytes: page-locked memory limit reached (see ulimit -l)")))
        }
        r => return Err(CudaError::Driver(format!("cuMemHostRegister({base:#x}, {len}): {}", crate::error::name(r)))),
    };
    g.insert(base, Entry { len, refs: 1, owned });
    Ok(Pin { base, len })
}

/// The mapping of this process that contains `ptr`: `(start, len, path)` from `/proc/self/maps`.
pub fn mapping_of(ptr: usize) -> Option<(usize, usize, String)> {
    mappings().into_iter().find(|(s, l, _)| ptr >= *s && ptr < s + l)
}

/// Every mapping of this process: `(start, len, path)` (path empty for anonymous ones).
pub fn mappings() -> Vec<(usize, usize, String)> {
    let Ok(text) = std::fs::read_to_string("/proc/self/maps") else { return Vec::new() };
    text.lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let (a, b) = it.next()?.split_once('-')?;
            let (s, e) = (usize::from_str_radix(a, 16).ok()?, usize::from_str_radix(b, 16).ok()?);
            let path = it.nth(4).unwrap_or("").to_string();
            (e > s).then_some((s, e - s, path))
        })
        .collect()
}

/// Pin the whole mapping that contains `ptr` for the rest of the process (idempotent). Returns
/// `(base, len, newly_pinned)`.
///
/// # Safety
/// The mapping must stay mapped for as long as the process uses CUDA (pool segments do, while
/// their namespace is open); call [`unpin_all`] before unmapping it.
pub unsafe fn pin_mapping_forever(ptr: usize) -> Result<(usize, usize, bool)> {
    if let Some((b, l)) = pinned_range(ptr) {
        return Ok((b, l, false));
    }
    let (base, len, _) = mapping_of(ptr).ok_or_else(|| CudaError::Invalid(format!("address {ptr:#x} is not mapped in this process")))?;
    // SAFETY: the range is a live mapping; the caller keeps it mapped.
    let p = unsafe { pin(base, len) }?;
    std::mem::forget(p); // the registry keeps refs = 1: never unregistered until unpin_all
    Ok((base, len, true))
}

/// Unregister every range this process pinned (live `Pin`s become no-ops). Returns how many.
pub fn unpin_all() -> usize {
    let mut g = registry();
    let all = std::mem::take(&mut *g);
    let n = all.len();
    if let Ok(_ctx) = any_device() {
        for (base, e) in all {
            if e.owned {
                // SAFETY: we registered this base address.
                unsafe {
                    let _ = sys::cuMemHostUnregister(base as *mut std::ffi::c_void);
                }
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_without_driver_is_an_error() {
        if crate::is_available() {
            return;
        }
        let buf = vec![0u8; 8192];
        // SAFETY: the buffer outlives the (failed) pin.
        let r = unsafe { pin(buf.as_ptr() as usize, buf.len()) };
        assert!(matches!(r, Err(CudaError::NoDriver(_)) | Err(CudaError::NoDevice)), "{r:?}");
        assert!(!is_pinned(buf.as_ptr() as usize));
    }

    #[test]
    fn null_range_rejected() {
        // SAFETY: nothing is registered for a null range.
        assert!(matches!(unsafe { pin(0, 10) }, Err(CudaError::Invalid(_))));
    }

    #[test]
    fn mapping_of_finds_the_heap() {
        let v = vec![1u8; 1 << 20];
        let (s, l, _) = mapping_of(v.as_ptr() as usize).expect("heap is mapped");
        assert!(s <= v.as_ptr() as usize && (v.as_ptr() as usize) < s + l);
    }
}
