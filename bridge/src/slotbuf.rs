//! [`SlotBuf`]: a received payload handed to Zenoh as the buffer of a sample without copying
//! it. The buffer owns the [`Payload`] (so the pool slot stays held) until Zenoh has written the
//! sample out and drops it; then the slot goes back to the pool like any subscriber's.

use tensorbus_tensor::Payload;

/// A payload whose bytes are a Zenoh sample's.
pub struct SlotBuf(Payload);

impl AsRef<[u8]> for SlotBuf {
    fn as_ref(&self) -> &[u8] {
        self.0.data()
    }
}

impl SlotBuf {
    pub fn new(p: Payload) -> SlotBuf {
        SlotBuf(p)
    }

    /// The bytes as a [`zenoh::bytes::ZBytes`] (one reference-counted buffer, no copy).
    pub fn into_zbytes(self) -> zenoh::bytes::ZBytes {
        bytes::Bytes::from_owner(self).into()
    }
}
