//! The DLPack C ABI (v1.0), export of managed tensors that own a payload hold, and validation
//! of tensors from foreign producers.
//!
//! Export: [`export_legacy`] / [`export_versioned`] build one heap allocation holding the
//! managed tensor, its shape and strides arrays (compact C order, in elements) and an owner
//! (`Box<dyn Any + Send>`, e.g. a [`Payload`](crate::Payload) clone keeping the slot held). The
//! consumer's call of `deleter` frees the allocation and drops the owner — on any thread, never
//! unwinding.
//! [`Payload::to_dlpack_versioned`](crate::Payload::to_dlpack_versioned) and
//! [`Payload::to_dlpack`](crate::Payload::to_dlpack) do this for a frozen payload
//! (read-only flag set on the versioned form).
//!
//! Import: [`view_foreign`] validates every field of a foreign `DLTensor` before use.
//!
//! Files: `abi.rs` the C structs and constants, `export.rs` the managed tensors we produce,
//! `foreign.rs` the validation of those we are given.

mod abi;
mod export;
mod foreign;

pub use abi::{
    device, DLDataType, DLDevice, DLManagedTensor, DLManagedTensorVersioned, DLPackVersion, DLTensor, DLPACK_FLAG_BITMASK_IS_COPIED, DLPACK_FLAG_BITMASK_READ_ONLY, DLPACK_VERSION,
};
pub use export::{export_legacy, export_versioned, ExportSpec};
pub use foreign::{view_foreign, ForeignView};
