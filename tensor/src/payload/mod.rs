//! The payload core shared by every typed wrapper: metadata ([`PayloadMeta`]), the writable
//! loan ([`PayloadMut`], wraps `SlotMut`) and the shared read-only frame ([`Payload`], wraps
//! `SlotRef`). State machine: `PayloadMut::new` → fill in place → `freeze` → `Payload`
//! (cloned freely, sent as a [`Descriptor`](tensorbus_pool::Descriptor), resolved with
//! [`Payload::from_descriptor`]).
//!
//! Metadata travels in the descriptor (kind, dtype, ndim, aux, len, timestamp, sequence, the
//! first six dims) and in the slot's 192-byte metadata area, written once before freezing:
//!
//! ```text
//! offset size field
//!  0      1   version       1 (0: area never written: no frame id, at most 6 dims)
//!  1      1   frame_id_len  0..=31
//!  2      2   reserved      0
//!  4      8   dims[6..8]    dimensions 7 and 8 (u32 little-endian each), 0 when unused
//! 12     31   frame_id      UTF-8, not NUL terminated
//! 43    149   reserved      0
//! ```
//!
//! Everything read back from shared memory is validated ([`PayloadMeta::validate`]) before a
//! `Payload` exists: known kind and dtype, 1..=8 positive dims, `product * itemsize == len`
//! without overflow, `aux` valid for the kind, frame id UTF-8.
//!
//! Files: `kind.rs` the [`PayloadKind`], `meta.rs` the validated [`PayloadMeta`] and the
//! metadata area above, `lease.rs` the loan [`PayloadMut`] and the frozen [`Payload`].

mod kind;
mod lease;
mod meta;

pub use kind::PayloadKind;
pub use lease::{Payload, PayloadMut};
pub use meta::{PayloadMeta, MAX_FRAME_ID};
