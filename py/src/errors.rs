//! Every Rust error as a specific Python exception of `tensorbus._errors`, in one place.
//!
//! The classes are defined in Python (py/python/tensorbus/_errors.py) so that they can also derive
//! from `ValueError`, `TimeoutError`, `BufferError`, ...; [`exc`] holds one Rust type per class
//! (`pyo3::import_exception!`: the class object is imported once and cached in a `PyOnceLock`),
//! so a call site names its class as a type (`exc::ShapeError::new_err(msg)`), never as a string.
//! The error is lazy: the class is looked up when it is raised, not where it is built; if
//! `tensorbus._errors` cannot be imported (a broken install) that lookup panics, which PyO3
//! raises as `PanicException`.
//!
//! Each error enum of the core crates maps to a class in one [`ToPyErr`] impl below, variant by
//! variant (`.map_err(to_py)` at the call sites; `impl From<_> for PyErr` is not allowed here:
//! both types are foreign). The enums are `#[non_exhaustive]`, so stable Rust demands a `_` arm
//! in a match from another crate; that arm only catches a variant added later, and
//! `make lint` builds this crate with `--cfg tensorbus_exhaustive`, which turns on rustc's
//! `non_exhaustive_omitted_patterns` lint: a variant not named here is then a compile error.
//! Messages are the Rust `Display` text, unchanged.

use pyo3::prelude::*;
use tensorbus::SchedulerError;
use tensorbus_gpu::CudaError;
use tensorbus_pool::{AcquireError, DescriptorError, OpenError, RecvError, SendError, TopicError};
use tensorbus_tensor::{DLPackError, ImageIoError, PayloadError};

/// The exception classes of `tensorbus._errors`, one cached type each.
pub mod exc {
    pyo3::import_exception!(tensorbus._errors, TensorbusError);
    pyo3::import_exception!(tensorbus._errors, SegmentError);
    pyo3::import_exception!(tensorbus._errors, LayoutMismatchError);
    pyo3::import_exception!(tensorbus._errors, ShmFullError);
    pyo3::import_exception!(tensorbus._errors, PoolExhaustedError);
    pyo3::import_exception!(tensorbus._errors, AcquireTimeoutError);
    pyo3::import_exception!(tensorbus._errors, PayloadTooLargeError);
    pyo3::import_exception!(tensorbus._errors, StaleDescriptorError);
    pyo3::import_exception!(tensorbus._errors, InvalidDescriptorError);
    pyo3::import_exception!(tensorbus._errors, ShapeError);
    pyo3::import_exception!(tensorbus._errors, DTypeError);
    pyo3::import_exception!(tensorbus._errors, EncodingError);
    pyo3::import_exception!(tensorbus._errors, FrameIdError);
    pyo3::import_exception!(tensorbus._errors, ReadOnlyError);
    pyo3::import_exception!(tensorbus._errors, DLPackError);
    pyo3::import_exception!(tensorbus._errors, TopicError);
    pyo3::import_exception!(tensorbus._errors, TopicTypeError);
    pyo3::import_exception!(tensorbus._errors, SendTimeoutError);
    pyo3::import_exception!(tensorbus._errors, ImageIOError);
    pyo3::import_exception!(tensorbus._errors, CudaError);
}

/// A Rust error that becomes one specific Python exception.
pub trait ToPyErr {
    fn to_py(self) -> PyErr;
}

/// `e` as its Python exception (for `.map_err(to_py)`).
pub fn to_py<E: ToPyErr>(e: E) -> PyErr {
    e.to_py()
}

/// The class of a variant added to a core enum after this file was written (see the module
/// doc: `make lint` refuses to build while one exists).
fn unmapped(e: impl std::fmt::Display) -> PyErr {
    exc::TensorbusError::new_err(e.to_string())
}

impl ToPyErr for OpenError {
    fn to_py(self) -> PyErr {
        let msg = self.to_string();
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            OpenError::NoSpace { .. } => exc::ShmFullError::new_err(msg),
            OpenError::BadMagic { .. } | OpenError::BadVersion { .. } | OpenError::LayoutMismatch { .. } => exc::LayoutMismatchError::new_err(msg),
            OpenError::TooManyHolders { .. } => exc::TensorbusError::new_err(msg),
            OpenError::Io { .. }
            | OpenError::Truncated { .. }
            | OpenError::BadHeader { .. }
            | OpenError::Geometry { .. }
            | OpenError::Abandoned { .. }
            | OpenError::Symlink { .. }
            | OpenError::NotOwned { .. }
            | OpenError::NotPrivate { .. }
            | OpenError::NotRegular { .. }
            | OpenError::BadNamespace { .. } => exc::SegmentError::new_err(msg),
            _ => exc::SegmentError::new_err(msg),
        }
    }
}

impl ToPyErr for AcquireError {
    fn to_py(self) -> PyErr {
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            AcquireError::NoClass { .. } => exc::PayloadTooLargeError::new_err(self.to_string()),
            AcquireError::Exhausted { .. } => exc::PoolExhaustedError::new_err(self.to_string()),
            AcquireError::Timeout { .. } => exc::AcquireTimeoutError::new_err(self.to_string()),
            AcquireError::Closed => exc::TensorbusError::new_err(self.to_string()),
            AcquireError::Open(o) => o.to_py(),
            other => unmapped(other),
        }
    }
}

impl ToPyErr for DescriptorError {
    fn to_py(self) -> PyErr {
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            DescriptorError::Stale { .. } => exc::StaleDescriptorError::new_err(self.to_string()),
            DescriptorError::BadPool { .. } | DescriptorError::BadSlot { .. } | DescriptorError::BadLength { .. } | DescriptorError::BadField { .. } | DescriptorError::Inline => {
                exc::InvalidDescriptorError::new_err(self.to_string())
            }
            _ => exc::InvalidDescriptorError::new_err(self.to_string()),
        }
    }
}

impl ToPyErr for SendError {
    fn to_py(self) -> PyErr {
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            SendError::Timeout { .. } | SendError::Locked { .. } => exc::SendTimeoutError::new_err(self.to_string()),
            SendError::InlineTooLarge { .. } => exc::PayloadTooLargeError::new_err(self.to_string()),
            // The descriptor's own message (without the topic), as it always was.
            SendError::Descriptor { source, .. } => source.to_py(),
            SendError::Open(o) => o.to_py(),
            other => unmapped(other),
        }
    }
}

impl ToPyErr for RecvError {
    fn to_py(self) -> PyErr {
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            RecvError::Corrupt { .. } => exc::InvalidDescriptorError::new_err(self.to_string()),
            // A forked child could not register its inherited subscriber (too many
            // subscribers, no participant entry, ...): a topic failure, not a bad descriptor
            // (this was InvalidDescriptorError through a catch-all before the typed mapping).
            RecvError::Inherited { .. } => exc::TopicError::new_err(self.to_string()),
            other => unmapped(other),
        }
    }
}

impl ToPyErr for TopicError {
    fn to_py(self) -> PyErr {
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            TopicError::TypeMismatch { .. } => exc::TopicTypeError::new_err(self.to_string()),
            TopicError::BadName(_)
            | TopicError::TooManySubscribers { .. }
            | TopicError::TooManyWatched { .. }
            | TopicError::BadHistory { .. }
            | TopicError::BadMaxSubscribers { .. } => exc::TopicError::new_err(self.to_string()),
            TopicError::Open(o) => o.to_py(),
            other => exc::TopicError::new_err(other.to_string()),
        }
    }
}

impl ToPyErr for tensorbus_pool::Error {
    fn to_py(self) -> PyErr {
        use tensorbus_pool::Error as E;
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            E::Open(e) => e.to_py(),
            E::Acquire(e) => e.to_py(),
            E::Descriptor(e) => e.to_py(),
            E::Send(e) => e.to_py(),
            E::Recv(e) => e.to_py(),
            E::Topic(e) => e.to_py(),
            other => unmapped(other),
        }
    }
}

impl ToPyErr for PayloadError {
    fn to_py(self) -> PyErr {
        let msg = self.to_string();
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            PayloadError::Pool(a) => a.to_py(),
            PayloadError::Descriptor(d) => d.to_py(),
            PayloadError::BadDType { .. } | PayloadError::DTypeMismatch { .. } | PayloadError::Misaligned { .. } | PayloadError::EncodingMismatch { .. } => {
                exc::DTypeError::new_err(msg)
            }
            PayloadError::BadAux { .. } => exc::EncodingError::new_err(msg),
            PayloadError::TooLarge { .. } => exc::PayloadTooLargeError::new_err(msg),
            PayloadError::BadKind { .. } | PayloadError::BadMeta { .. } | PayloadError::LenMismatch { .. } => exc::InvalidDescriptorError::new_err(msg),
            PayloadError::BadFrameId { .. } => exc::FrameIdError::new_err(msg),
            PayloadError::WrongKind { .. } => exc::TensorbusError::new_err(msg),
            PayloadError::BadNdim { .. } | PayloadError::ZeroDim { .. } | PayloadError::DimTooLarge { .. } | PayloadError::Overflow { .. } | PayloadError::BadShape { .. } => {
                exc::ShapeError::new_err(msg)
            }
            _ => exc::ShapeError::new_err(msg),
        }
    }
}

impl ToPyErr for DLPackError {
    fn to_py(self) -> PyErr {
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            DLPackError::NullTensor
            | DLPackError::BadNdim { .. }
            | DLPackError::NullShape { .. }
            | DLPackError::BadDim { .. }
            | DLPackError::Overflow
            | DLPackError::NullData { .. }
            | DLPackError::BadDType { .. }
            | DLPackError::BadByteOffset { .. }
            | DLPackError::BadDevice { .. }
            | DLPackError::BadStride { .. } => exc::DLPackError::new_err(self.to_string()),
            _ => exc::DLPackError::new_err(self.to_string()),
        }
    }
}

impl ToPyErr for ImageIoError {
    fn to_py(self) -> PyErr {
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            ImageIoError::Payload(p) => p.to_py(),
            ImageIoError::Unsupported(_) => exc::EncodingError::new_err(self.to_string()),
            ImageIoError::Image { .. } | ImageIoError::Io { .. } => exc::ImageIOError::new_err(self.to_string()),
            other => exc::ImageIOError::new_err(other.to_string()),
        }
    }
}

impl ToPyErr for tensorbus_tensor::Error {
    fn to_py(self) -> PyErr {
        use tensorbus_tensor::Error as E;
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            E::Payload(e) => e.to_py(),
            E::DLPack(e) => e.to_py(),
            E::ImageIo(e) => e.to_py(),
            other => unmapped(other),
        }
    }
}

impl ToPyErr for CudaError {
    fn to_py(self) -> PyErr {
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            CudaError::NoDriver(_)
            | CudaError::NoDevice
            | CudaError::DeviceOutOfRange { .. }
            | CudaError::OutOfMemory(_)
            | CudaError::BadStream(_)
            | CudaError::Invalid(_)
            | CudaError::Driver(_) => exc::CudaError::new_err(self.to_string()),
            _ => exc::CudaError::new_err(self.to_string()),
        }
    }
}

impl ToPyErr for tensorbus::Error {
    fn to_py(self) -> PyErr {
        use tensorbus::Error as E;
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            E::Topic(t) => t.to_py(),
            E::Send(s) => s.to_py(),
            E::Recv(r) => r.to_py(),
            E::Acquire(a) => a.to_py(),
            E::Open(o) => o.to_py(),
            E::Payload(p) => p.to_py(),
            E::WrongSize { .. } | E::WrongKind { .. } => exc::TopicTypeError::new_err(self.to_string()),
            E::Msgpack { .. } => exc::InvalidDescriptorError::new_err(self.to_string()),
            other => unmapped(other),
        }
    }
}

impl ToPyErr for SchedulerError {
    fn to_py(self) -> PyErr {
        #[cfg_attr(tensorbus_exhaustive, deny(non_exhaustive_omitted_patterns))]
        match self {
            SchedulerError::DuplicateName(_) | SchedulerError::BadRate { .. } | SchedulerError::AlreadyRunning | SchedulerError::TooManyTriggers { .. } => {
                exc::TensorbusError::new_err(self.to_string())
            }
            other => unmapped(other),
        }
    }
}
