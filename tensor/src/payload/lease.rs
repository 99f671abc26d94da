//! The two leases of a payload: [`PayloadMut`], the writable, exclusive loan (wraps `SlotMut`),
//! and [`Payload`], the frozen, shared, read-only frame (wraps `SlotRef`). `freeze` writes the
//! metadata area and turns the one into the other; `Payload::from_descriptor` validates a
//! descriptor from shared memory and takes a hold.

use super::kind::PayloadKind;
use super::meta::PayloadMeta;
use crate::dtype::{DType, Element};
use crate::error::PayloadError;
use std::time::Duration;
use tensorbus_pool::{Descriptor, DescriptorError, Namespace, SlotMut, SlotRef};

/// Typed view of raw bytes, checking dtype and alignment.
fn cast<'a, T: Element>(meta: &PayloadMeta, bytes: &'a [u8]) -> Result<&'a [T], PayloadError> {
    if meta.dtype() != T::DTYPE {
        return Err(PayloadError::DTypeMismatch { kind: "typed view", expected: T::DTYPE, found: meta.dtype() });
    }
    // SAFETY: T is an Element (any bit pattern valid); align_to only yields aligned T.
    let (pre, mid, post) = unsafe { bytes.align_to::<T>() };
    if !pre.is_empty() || !post.is_empty() {
        return Err(PayloadError::Misaligned { dtype: meta.dtype() });
    }
    Ok(mid)
}

/// A writable, exclusive loan on a pool slot holding one payload (not yet visible to anyone).
///
/// ```
/// use tensorbus_pool::{Namespace, PoolConfig};
/// use tensorbus_tensor::{DType, Payload, PayloadKind, PayloadMut};
/// let dir = std::env::temp_dir().join(format!("tb-doc-payload-{}", std::process::id()));
/// let ns = Namespace::open_dir(&dir, PoolConfig::parse("4Kx4").unwrap()).unwrap();
/// let mut p = PayloadMut::new(&ns, PayloadKind::Tensor, DType::F32, &[2, 3], 0).unwrap();
/// p.typed_mut::<f32>().unwrap().copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// p.set_frame_id("base_link").unwrap();
/// let frozen = p.freeze();
/// let got = Payload::from_descriptor(&ns, &frozen.descriptor()).unwrap();
/// assert_eq!(got.typed::<f32>().unwrap()[5], 6.0);
/// assert_eq!(got.frame_id(), "base_link");
/// # drop((frozen, got, ns)); std::fs::remove_dir_all(dir).ok();
/// ```
pub struct PayloadMut {
    slot: SlotMut,
    meta: PayloadMeta,
}

impl PayloadMut {
    /// Loan a slot for a payload of this description (fails at once if the pool is full).
    #[inline]
    pub fn new(ns: &Namespace, kind: PayloadKind, dtype: DType, shape: &[usize], aux: u16) -> Result<PayloadMut, PayloadError> {
        let meta = PayloadMeta::validate(kind, dtype, shape, aux)?;
        check_fits(ns, &meta)?;
        let slot = ns.try_acquire(meta.nbytes())?;
        Ok(PayloadMut { slot, meta })
    }

    /// As [`PayloadMut::new`], waiting up to `timeout` for a free slot.
    pub fn new_timeout(ns: &Namespace, kind: PayloadKind, dtype: DType, shape: &[usize], aux: u16, timeout: Duration) -> Result<PayloadMut, PayloadError> {
        let meta = PayloadMeta::validate(kind, dtype, shape, aux)?;
        check_fits(ns, &meta)?;
        let slot = ns.acquire_timeout(meta.nbytes(), timeout)?;
        Ok(PayloadMut { slot, meta })
    }

    pub fn meta(&self) -> &PayloadMeta {
        &self.meta
    }
    pub fn kind(&self) -> PayloadKind {
        self.meta.kind()
    }
    pub fn dtype(&self) -> DType {
        self.meta.dtype()
    }
    pub fn shape(&self) -> &[usize] {
        self.meta.shape()
    }
    /// The payload bytes, in the slot (zero copy).
    pub fn data(&self) -> &[u8] {
        self.slot.as_slice()
    }
    /// The payload bytes, writable in place (zero copy).
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.slot.as_mut_slice()
    }
    /// Start of the payload (256-byte aligned).
    pub fn as_ptr(&self) -> *const u8 {
        self.slot.as_ptr()
    }
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.slot.as_mut_ptr()
    }
    /// Start of the payload once frozen (the slot in the read-only alias; see `SlotMut`).
    pub fn frozen_ptr(&self) -> *const u8 {
        self.slot.frozen_ptr()
    }
    /// The payload as `&mut [T]`; `T` must match the dtype.
    pub fn typed_mut<T: Element>(&mut self) -> Result<&mut [T], PayloadError> {
        let n = cast::<T>(&self.meta, self.slot.as_slice())?.len();
        let ptr = self.slot.as_mut_ptr() as *mut T;
        // SAFETY: `cast` checked dtype, size and alignment of the same bytes; we hold the
        // slot exclusively and borrow self mutably for the slice's lifetime.
        Ok(unsafe { std::slice::from_raw_parts_mut(ptr, n) })
    }
    /// Copy `src` into the slot (one copy); `src.len()` must equal the payload size.
    pub fn copy_from(&mut self, src: &[u8]) -> Result<(), PayloadError> {
        if src.len() as u64 != self.meta.nbytes() {
            return Err(PayloadError::LenMismatch { expected: self.meta.nbytes(), found: src.len() as u64 });
        }
        self.slot.as_mut_slice().copy_from_slice(src);
        Ok(())
    }
    pub fn set_timestamp_ns(&mut self, t: u64) {
        self.meta.timestamp_ns = t;
    }
    pub fn set_sequence(&mut self, s: u64) {
        self.meta.sequence = s;
    }
    /// Set the frame id (≤ 31 bytes UTF-8).
    pub fn set_frame_id(&mut self, id: &str) -> Result<(), PayloadError> {
        self.meta.set_frame_id(id)
    }
    /// The underlying lease.
    pub fn slot(&self) -> &SlotMut {
        &self.slot
    }
    /// Write the metadata area and freeze: the payload becomes read-only and shareable.
    #[inline]
    pub fn freeze(mut self) -> Payload {
        self.meta.write_area(self.slot.meta_mut());
        Payload { slot: self.slot.freeze(), meta: self.meta }
    }
}

impl std::fmt::Debug for PayloadMut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadMut").field("slot", &self.slot).field("meta", &self.meta).finish()
    }
}

fn check_fits(ns: &Namespace, meta: &PayloadMeta) -> Result<(), PayloadError> {
    // By the pools in force (their real geometry), as the claim will choose.
    if ns.class_for(meta.nbytes()).is_none() {
        return Err(PayloadError::TooLarge { len: meta.nbytes(), max: ns.max_payload() });
    }
    Ok(())
}

/// A frozen, read-only payload in a pool slot. Cloning takes another hold on the same slot;
/// the slot is freed when the last hold in any process is dropped.
#[derive(Clone)]
pub struct Payload {
    slot: SlotRef,
    meta: PayloadMeta,
}

impl Payload {
    /// Copy `data` once into a fresh slot and freeze it.
    pub fn from_bytes(ns: &Namespace, kind: PayloadKind, dtype: DType, shape: &[usize], aux: u16, data: &[u8]) -> Result<Payload, PayloadError> {
        let mut m = PayloadMut::new(ns, kind, dtype, shape, aux)?;
        m.copy_from(data)?;
        Ok(m.freeze())
    }

    /// Take a read-only hold on the payload a descriptor (read from shared memory) names,
    /// validating every field; see the module docs.
    pub fn from_descriptor(ns: &Namespace, d: &Descriptor) -> Result<Payload, PayloadError> {
        // Reject what we can before taking a hold.
        PayloadMeta::check_descriptor(d)?;
        Payload::from_hold(ns.resolve(d)?, d)
    }

    /// Wrap a hold already taken on the slot `d` names (a received message's, see
    /// `tensorbus::raw::RawMessage::into_payload`), validating the descriptor and the slot's
    /// metadata as [`Payload::from_descriptor`] does, without taking a second hold (a receive
    /// used to resolve the descriptor again: two more atomic operations and a pool lookup per
    /// frame).
    #[inline]
    pub fn from_hold(slot: SlotRef, d: &Descriptor) -> Result<Payload, PayloadError> {
        PayloadMeta::check_descriptor(d)?;
        if (slot.pool(), slot.slot()) != (d.pool, d.slot) || slot.generation() != d.generation {
            return Err(DescriptorError::Stale { pool: d.pool, slot: d.slot, expected: d.generation, found: slot.generation() }.into());
        }
        let meta = PayloadMeta::from_shared(d, slot.meta())?;
        if slot.len() != meta.nbytes() {
            return Err(PayloadError::LenMismatch { expected: meta.nbytes(), found: slot.len() });
        }
        Ok(Payload { slot, meta })
    }

    /// The descriptor to send (read-only flag set).
    pub fn descriptor(&self) -> Descriptor {
        let mut d = self.slot.descriptor();
        self.meta.fill_descriptor(&mut d);
        d
    }

    pub fn meta(&self) -> &PayloadMeta {
        &self.meta
    }
    pub fn kind(&self) -> PayloadKind {
        self.meta.kind()
    }
    pub fn dtype(&self) -> DType {
        self.meta.dtype()
    }
    pub fn shape(&self) -> &[usize] {
        self.meta.shape()
    }
    pub fn aux(&self) -> u16 {
        self.meta.aux()
    }
    pub fn timestamp_ns(&self) -> u64 {
        self.meta.timestamp_ns
    }
    pub fn sequence(&self) -> u64 {
        self.meta.sequence
    }
    pub fn frame_id(&self) -> &str {
        self.meta.frame_id()
    }
    /// The payload bytes, in shared memory (zero copy).
    pub fn data(&self) -> &[u8] {
        self.slot.as_slice()
    }
    /// Start of the payload (256-byte aligned).
    pub fn as_ptr(&self) -> *const u8 {
        self.slot.as_ptr()
    }
    /// The payload as `&[T]`; `T` must match the dtype.
    pub fn typed<T: Element>(&self) -> Result<&[T], PayloadError> {
        cast::<T>(&self.meta, self.slot.as_slice())
    }
    /// The underlying hold.
    pub fn slot(&self) -> &SlotRef {
        &self.slot
    }
    /// Same metadata, different kind/aux/shape over the same slot (for typed views); the
    /// caller guarantees the byte size is unchanged.
    pub(crate) fn with_meta(&self, meta: PayloadMeta) -> Payload {
        debug_assert_eq!(meta.nbytes(), self.meta.nbytes());
        let mut m = meta;
        m.keep_stamps(&self.meta);
        Payload { slot: self.slot.clone(), meta: m }
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload").field("slot", &self.slot).field("meta", &self.meta).finish()
    }
}
