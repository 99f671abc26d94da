//! Accessors shared by the typed wrappers (`Image`, `DepthImage`, `PointCloud`, `Tensor` and
//! their `...Mut` loans), which all wrap a `payload` field.

/// Read-only accessors of a frozen typed wrapper around `self.payload: Payload`.
macro_rules! frozen_accessors {
    ($t:ident) => {
        impl $t {
            /// The underlying payload (shared hold on the slot).
            pub fn payload(&self) -> &$crate::Payload {
                &self.payload
            }
            /// Unwrap into the payload.
            pub fn into_payload(self) -> $crate::Payload {
                self.payload
            }
            /// The descriptor to send.
            pub fn descriptor(&self) -> tensorbus_pool::Descriptor {
                self.payload.descriptor()
            }
            pub fn dtype(&self) -> $crate::DType {
                self.payload.dtype()
            }
            pub fn shape(&self) -> &[usize] {
                self.payload.shape()
            }
            /// The bytes in shared memory (zero copy).
            pub fn data(&self) -> &[u8] {
                self.payload.data()
            }
            /// Start of the data (256-byte aligned).
            pub fn as_ptr(&self) -> *const u8 {
                self.payload.as_ptr()
            }
            pub fn timestamp_ns(&self) -> u64 {
                self.payload.timestamp_ns()
            }
            pub fn sequence(&self) -> u64 {
                self.payload.sequence()
            }
            pub fn frame_id(&self) -> &str {
                self.payload.frame_id()
            }
            /// A `Tensor` view of the same slot (no copy).
            pub fn as_tensor(&self) -> $crate::Tensor {
                $crate::Tensor::view(&self.payload)
            }
        }
        impl AsRef<$crate::Payload> for $t {
            fn as_ref(&self) -> &$crate::Payload {
                &self.payload
            }
        }
    };
}

/// Accessors of a writable loan around `self.payload: PayloadMut`; `$frozen` is the type
/// `freeze` returns, built with `$frozen { payload, .. }` via `$build`.
macro_rules! loan_accessors {
    ($t:ident, $frozen:ident) => {
        impl $t {
            /// The underlying loan.
            pub fn payload(&self) -> &$crate::PayloadMut {
                &self.payload
            }
            pub fn dtype(&self) -> $crate::DType {
                self.payload.dtype()
            }
            pub fn shape(&self) -> &[usize] {
                self.payload.shape()
            }
            pub fn data(&self) -> &[u8] {
                self.payload.data()
            }
            /// The slot's bytes, writable in place (zero copy).
            pub fn data_mut(&mut self) -> &mut [u8] {
                self.payload.data_mut()
            }
            pub fn as_mut_ptr(&mut self) -> *mut u8 {
                self.payload.as_mut_ptr()
            }
            /// Start of the data once frozen (read-only alias of the same slot).
            pub fn frozen_ptr(&self) -> *const u8 {
                self.payload.frozen_ptr()
            }
            /// Copy `src` (exactly the payload size) into the slot: one copy.
            pub fn copy_from(&mut self, src: &[u8]) -> Result<(), $crate::PayloadError> {
                self.payload.copy_from(src)
            }
            pub fn set_timestamp_ns(&mut self, t: u64) {
                self.payload.set_timestamp_ns(t)
            }
            pub fn set_sequence(&mut self, s: u64) {
                self.payload.set_sequence(s)
            }
            pub fn set_frame_id(&mut self, id: &str) -> Result<(), $crate::PayloadError> {
                self.payload.set_frame_id(id)
            }
            /// Freeze: read-only and shareable from now on.
            #[inline]
            pub fn freeze(self) -> $frozen {
                $frozen::from_payload_unchecked(self.payload.freeze())
            }
        }
    };
}
