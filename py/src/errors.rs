//! Maps every Rust error to a specific Python exception from `tensorbus._errors` (defined in
//! Python so that they can also derive from `ValueError`, `TimeoutError`, `BufferError`, ...).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use tensorbus_pool::{AcquireError, DescriptorError, OpenError, RecvError, SendError, TopicError};
use tensorbus_tensor::{ImageIoError, PayloadError};

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Build the exception `name` (a class in `tensorbus._errors`) with `msg`.
pub fn exc(name: &str, msg: impl Into<String>) -> PyErr {
    let msg = msg.into();
    Python::attach(|py| {
        let module = match MODULE.get_or_try_init(py, || PyModule::import(py, "tensorbus._errors").map(|m| m.unbind())) {
            Ok(m) => m.bind(py).clone(),
            Err(e) => return e,
        };
        match module.getattr(name).and_then(|c| c.cast_into::<PyType>().map_err(Into::into)) {
            Ok(cls) => PyErr::from_type(cls, msg),
            Err(e) => e,
        }
    })
}

pub fn open_err(e: OpenError) -> PyErr {
    let name = match &e {
        OpenError::NoSpace { .. } => "ShmFullError",
        OpenError::BadMagic { .. } | OpenError::BadVersion { .. } | OpenError::LayoutMismatch { .. } => "LayoutMismatchError",
        OpenError::TooManyHolders { .. } => "TensorbusError",
        _ => "SegmentError",
    };
    exc(name, e.to_string())
}

pub fn acquire_err(e: AcquireError) -> PyErr {
    match e {
        AcquireError::NoClass { .. } => exc("PayloadTooLargeError", e.to_string()),
        AcquireError::Exhausted { .. } => exc("PoolExhaustedError", e.to_string()),
        AcquireError::Timeout { .. } => exc("AcquireTimeoutError", e.to_string()),
        AcquireError::Closed => exc("TensorbusError", e.to_string()),
        AcquireError::Open(o) => open_err(o),
        other => exc("TensorbusError", other.to_string()),
    }
}

pub fn descriptor_err(e: DescriptorError) -> PyErr {
    match e {
        DescriptorError::Stale { .. } => exc("StaleDescriptorError", e.to_string()),
        other => exc("InvalidDescriptorError", other.to_string()),
    }
}

pub fn send_err(e: SendError) -> PyErr {
    match e {
        SendError::Timeout { .. } | SendError::Locked { .. } => exc("SendTimeoutError", e.to_string()),
        SendError::InlineTooLarge { .. } => exc("PayloadTooLargeError", e.to_string()),
        SendError::Descriptor { source, .. } => descriptor_err(source),
        SendError::Open(o) => open_err(o),
        other => exc("TensorbusError", other.to_string()),
    }
}

pub fn recv_err(e: RecvError) -> PyErr {
    exc("InvalidDescriptorError", e.to_string())
}

pub fn topic_err(e: TopicError) -> PyErr {
    match e {
        TopicError::TypeMismatch { .. } => exc("TopicTypeError", e.to_string()),
        TopicError::Open(o) => open_err(o),
        other => exc("TopicError", other.to_string()),
    }
}

pub fn payload_err(e: PayloadError) -> PyErr {
    let name = match &e {
        PayloadError::Pool(_) | PayloadError::Descriptor(_) => {
            return match e {
                PayloadError::Pool(a) => acquire_err(a),
                PayloadError::Descriptor(d) => descriptor_err(d),
                _ => unreachable!(),
            }
        }
        PayloadError::BadDType { .. } | PayloadError::DTypeMismatch { .. } | PayloadError::Misaligned { .. } => "DTypeError",
        PayloadError::EncodingMismatch { .. } => "DTypeError",
        PayloadError::BadAux { .. } => "EncodingError",
        PayloadError::TooLarge { .. } => "PayloadTooLargeError",
        PayloadError::BadKind { .. } | PayloadError::BadMeta { .. } | PayloadError::LenMismatch { .. } => "InvalidDescriptorError",
        PayloadError::BadFrameId { .. } => "FrameIdError",
        PayloadError::WrongKind { .. } => "TensorbusError",
        _ => "ShapeError",
    };
    exc(name, e.to_string())
}

pub fn image_io_err(e: ImageIoError) -> PyErr {
    match e {
        ImageIoError::Payload(p) => payload_err(p),
        ImageIoError::Unsupported(_) => exc("EncodingError", e.to_string()),
        other => exc("ImageIOError", other.to_string()),
    }
}
