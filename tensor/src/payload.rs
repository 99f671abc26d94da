//! The payload core shared by every typed wrapper: metadata ([`PayloadMeta`]), the writable
//! loan ([`PayloadMut`], wraps `SlotMut`) and the shared read-only frame ([`Payload`], wraps
//! `SlotRef`). State machine: `PayloadMut::new` → fill in place → `freeze` → `Payload`
//! (cloned freely, sent as a [`Descriptor`], resolved with [`Payload::from_descriptor`]).
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

use crate::depth::DepthUnit;
use crate::dtype::{DType, Element};
use crate::encoding::Encoding;
use crate::error::PayloadError;
use crate::points::PointFields;
use std::mem::{offset_of, size_of};
use std::time::Duration;
use tensorbus_pool::descriptor::{flags, kind, INLINE_DIMS, MAX_DIMS};
use tensorbus_pool::{Descriptor, Namespace, SlotMut, SlotRef};

/// Longest frame id in bytes.
pub const MAX_FRAME_ID: usize = 31;

/// What a payload is (the descriptor's `kind` byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadKind {
    /// Raw bytes: dtype uint8, one dimension.
    Bytes,
    /// An [`crate::Image`]: `aux` is the [`Encoding`].
    Image,
    /// A [`crate::DepthImage`]: `aux` is the [`DepthUnit`].
    Depth,
    /// A [`crate::PointCloud`]: `aux` is the [`PointFields`].
    Points,
    /// A [`crate::Tensor`]: `aux` is 0.
    Tensor,
}

impl PayloadKind {
    pub const fn code(self) -> u8 {
        match self {
            PayloadKind::Bytes => kind::BYTES,
            PayloadKind::Image => kind::IMAGE,
            PayloadKind::Depth => kind::DEPTH,
            PayloadKind::Points => kind::POINTS,
            PayloadKind::Tensor => kind::TENSOR,
        }
    }
    /// The kind for a descriptor code; None for empty, inline, msgpack and unknown codes.
    pub fn from_code(code: u8) -> Option<PayloadKind> {
        Some(match code {
            kind::BYTES => PayloadKind::Bytes,
            kind::IMAGE => PayloadKind::Image,
            kind::DEPTH => PayloadKind::Depth,
            kind::POINTS => PayloadKind::Points,
            kind::TENSOR => PayloadKind::Tensor,
            _ => return None,
        })
    }
    pub const fn name(self) -> &'static str {
        match self {
            PayloadKind::Bytes => "bytes",
            PayloadKind::Image => "image",
            PayloadKind::Depth => "depth",
            PayloadKind::Points => "points",
            PayloadKind::Tensor => "tensor",
        }
    }
    /// Allowed number of dimensions.
    const fn ndim_range(self) -> (usize, usize) {
        match self {
            PayloadKind::Bytes => (1, 1),
            PayloadKind::Image => (2, 3),
            PayloadKind::Depth | PayloadKind::Points => (2, 2),
            PayloadKind::Tensor => (1, MAX_DIMS),
        }
    }
}

/// The slot metadata area (see the module docs). Byte arrays only: alignment 1, any bit
/// pattern valid, so it can be copied out of shared memory with one unaligned read.
#[repr(C)]
#[derive(Clone, Copy)]
struct MetaArea {
    version: u8,
    frame_id_len: u8,
    reserved0: [u8; 2],
    dims_hi: [[u8; 4]; 2],
    frame_id: [u8; MAX_FRAME_ID],
    reserved1: [u8; 149],
}
const META_VERSION: u8 = 1;
const _: () = {
    assert!(size_of::<MetaArea>() == tensorbus_pool::pool::META_LEN);
    assert!(offset_of!(MetaArea, dims_hi) == 4);
    assert!(offset_of!(MetaArea, frame_id) == 12);
    assert!(INLINE_DIMS + 2 == MAX_DIMS);
};

impl MetaArea {
    fn read(raw: &[u8; tensorbus_pool::pool::META_LEN]) -> MetaArea {
        // SAFETY: MetaArea is 192 bytes of u8 arrays (asserted above): alignment 1, every bit
        // pattern valid. One copy, so later writes by a misbehaving peer cannot change what
        // we validated.
        unsafe { std::ptr::read_unaligned(raw.as_ptr() as *const MetaArea) }
    }
    fn write(&self, raw: &mut [u8; tensorbus_pool::pool::META_LEN]) {
        // SAFETY: as in read; `raw` is exactly size_of::<MetaArea>() writable bytes.
        unsafe { std::ptr::write_unaligned(raw.as_mut_ptr() as *mut MetaArea, *self) }
    }
}

/// Validated payload metadata, held in process memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadMeta {
    kind: PayloadKind,
    dtype: DType,
    ndim: u8,
    dims: [usize; MAX_DIMS],
    aux: u16,
    nbytes: u64,
    /// Capture time, ns since the Unix epoch.
    pub timestamp_ns: u64,
    /// Publisher's sequence number.
    pub sequence: u64,
    frame_len: u8,
    frame_id: [u8; MAX_FRAME_ID],
}

impl PayloadMeta {
    /// Validate a payload description: dims (1..=8 per kind, each > 0 and ≤ u32::MAX), byte
    /// size without overflow, and `aux` for the kind (encoding matching dtype and channels,
    /// depth unit matching dtype, point fields matching width).
    pub fn validate(kind: PayloadKind, dtype: DType, shape: &[usize], aux: u16) -> Result<PayloadMeta, PayloadError> {
        let (min, max) = kind.ndim_range();
        if shape.len() < min || shape.len() > max {
            return Err(PayloadError::BadNdim { kind: kind.name(), ndim: shape.len(), min, max });
        }
        let mut dims = [0usize; MAX_DIMS];
        let mut n: u64 = dtype.itemsize() as u64;
        for (axis, &d) in shape.iter().enumerate() {
            if d == 0 {
                return Err(PayloadError::ZeroDim { axis });
            }
            if d > u32::MAX as usize {
                return Err(PayloadError::DimTooLarge { axis, dim: d });
            }
            dims[axis] = d;
            n = n.checked_mul(d as u64).ok_or(PayloadError::Overflow { shape: shape.to_vec(), dtype })?;
        }
        // Every byte must be addressable in this process (matters on 32-bit targets).
        if n > isize::MAX as u64 {
            return Err(PayloadError::Overflow { shape: shape.to_vec(), dtype });
        }
        let bad_aux = || PayloadError::BadAux { kind: kind.name(), aux };
        let need_dtype = |expected: DType| {
            if dtype == expected {
                Ok(())
            } else {
                Err(PayloadError::DTypeMismatch { kind: kind.name(), expected, found: dtype })
            }
        };
        match kind {
            PayloadKind::Bytes | PayloadKind::Tensor => {
                if aux != 0 {
                    return Err(bad_aux());
                }
                if kind == PayloadKind::Bytes {
                    need_dtype(DType::U8)?;
                }
            }
            PayloadKind::Image => {
                let enc = Encoding::from_code(aux).ok_or_else(bad_aux)?;
                if !enc.matches(shape, dtype) {
                    return Err(PayloadError::EncodingMismatch { encoding: enc, dtype, shape: shape.to_vec() });
                }
            }
            PayloadKind::Depth => need_dtype(DepthUnit::from_code(aux).ok_or_else(bad_aux)?.dtype())?,
            PayloadKind::Points => {
                let fields = PointFields::from_code(aux).ok_or_else(bad_aux)?;
                need_dtype(DType::F32)?;
                if shape[1] != fields.width() {
                    return Err(PayloadError::BadShape { kind: "points", shape: shape.to_vec(), reason: "last axis must equal the number of point fields" });
                }
            }
        }
        Ok(PayloadMeta { kind, dtype, ndim: shape.len() as u8, dims, aux, nbytes: n, timestamp_ns: 0, sequence: 0, frame_len: 0, frame_id: [0; MAX_FRAME_ID] })
    }

    pub fn kind(&self) -> PayloadKind {
        self.kind
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn shape(&self) -> &[usize] {
        &self.dims[..self.ndim as usize]
    }
    pub fn ndim(&self) -> usize {
        self.ndim as usize
    }
    pub fn aux(&self) -> u16 {
        self.aux
    }
    /// Element count.
    pub fn numel(&self) -> usize {
        self.shape().iter().product()
    }
    /// Payload size in bytes (`numel * itemsize`).
    pub fn nbytes(&self) -> u64 {
        self.nbytes
    }
    /// The frame id ("" when unset).
    pub fn frame_id(&self) -> &str {
        // The bytes were checked to be UTF-8 when set or read.
        std::str::from_utf8(&self.frame_id[..self.frame_len as usize]).unwrap_or("")
    }
    /// Set the frame id (at most [`MAX_FRAME_ID`] bytes of UTF-8, no NUL).
    pub fn set_frame_id(&mut self, id: &str) -> Result<(), PayloadError> {
        if id.len() > MAX_FRAME_ID {
            return Err(PayloadError::BadFrameId { reason: "longer than 31 bytes" });
        }
        if id.contains('\0') {
            return Err(PayloadError::BadFrameId { reason: "contains NUL" });
        }
        self.frame_id = [0; MAX_FRAME_ID];
        self.frame_id[..id.len()].copy_from_slice(id.as_bytes());
        self.frame_len = id.len() as u8;
        Ok(())
    }

    fn to_area(&self) -> MetaArea {
        let mut area = MetaArea { version: META_VERSION, frame_id_len: self.frame_len, reserved0: [0; 2], dims_hi: [[0; 4]; 2], frame_id: self.frame_id, reserved1: [0; 149] };
        for i in INLINE_DIMS..self.ndim() {
            area.dims_hi[i - INLINE_DIMS] = (self.dims[i] as u32).to_le_bytes();
        }
        area
    }

    /// Fill the payload fields of `d` (which already names the slot).
    fn fill_descriptor(&self, d: &mut Descriptor) {
        d.kind = self.kind.code();
        d.dtype = self.dtype.code();
        d.ndim = self.ndim;
        d.flags = flags::READONLY;
        d.aux = self.aux;
        d.len = self.nbytes;
        d.timestamp_ns = self.timestamp_ns;
        d.sequence = self.sequence;
        d.shape = [0; INLINE_DIMS];
        for (i, s) in d.shape.iter_mut().enumerate().take(self.ndim()) {
            *s = self.dims[i] as u32;
        }
    }

    /// Validate the descriptor fields alone (before taking a hold on the slot).
    fn check_descriptor(d: &Descriptor) -> Result<(PayloadKind, DType), PayloadError> {
        let kind = PayloadKind::from_code(d.kind).ok_or(PayloadError::BadKind { kind: d.kind })?;
        let dtype = DType::from_code(d.dtype).ok_or(PayloadError::BadDType { code: d.dtype })?;
        let (min, max) = kind.ndim_range();
        let ndim = d.ndim as usize;
        if ndim < min || ndim > max {
            return Err(PayloadError::BadNdim { kind: kind.name(), ndim, min, max });
        }
        Ok((kind, dtype))
    }

    /// Rebuild and validate metadata from a descriptor and the slot's metadata area.
    fn from_shared(d: &Descriptor, raw: &[u8; tensorbus_pool::pool::META_LEN]) -> Result<PayloadMeta, PayloadError> {
        let (kind, dtype) = PayloadMeta::check_descriptor(d)?;
        let area = MetaArea::read(raw);
        let ndim = d.ndim as usize;
        let mut dims = [0usize; MAX_DIMS];
        for (i, dim) in dims.iter_mut().enumerate().take(ndim.min(INLINE_DIMS)) {
            *dim = d.shape[i] as usize;
        }
        match area.version {
            0 if ndim > INLINE_DIMS => return Err(PayloadError::BadMeta { reason: "more than 6 dims but the metadata area was never written" }),
            0 => {}
            META_VERSION => {
                for (dim, raw) in dims[INLINE_DIMS..ndim.max(INLINE_DIMS)].iter_mut().zip(area.dims_hi) {
                    *dim = u32::from_le_bytes(raw) as usize;
                }
            }
            _ => return Err(PayloadError::BadMeta { reason: "unknown metadata version" }),
        }
        let mut meta = PayloadMeta::validate(kind, dtype, &dims[..ndim], d.aux)?;
        if meta.nbytes != d.len {
            return Err(PayloadError::LenMismatch { expected: meta.nbytes, found: d.len });
        }
        if area.version == META_VERSION {
            let n = area.frame_id_len as usize;
            if n > MAX_FRAME_ID {
                return Err(PayloadError::BadFrameId { reason: "length byte exceeds 31" });
            }
            let id = std::str::from_utf8(&area.frame_id[..n]).map_err(|_| PayloadError::BadFrameId { reason: "not UTF-8" })?;
            meta.set_frame_id(id)?;
        }
        meta.timestamp_ns = d.timestamp_ns;
        meta.sequence = d.sequence;
        Ok(meta)
    }
}

/// Typed view of raw bytes, checking dtype and alignment.
fn cast<'a, T: Element>(meta: &PayloadMeta, bytes: &'a [u8]) -> Result<&'a [T], PayloadError> {
    if meta.dtype != T::DTYPE {
        return Err(PayloadError::DTypeMismatch { kind: "typed view", expected: T::DTYPE, found: meta.dtype });
    }
    // SAFETY: T is an Element (any bit pattern valid); align_to only yields aligned T.
    let (pre, mid, post) = unsafe { bytes.align_to::<T>() };
    if !pre.is_empty() || !post.is_empty() {
        return Err(PayloadError::Misaligned { dtype: meta.dtype });
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
    pub fn new(ns: &Namespace, kind: PayloadKind, dtype: DType, shape: &[usize], aux: u16) -> Result<PayloadMut, PayloadError> {
        let meta = PayloadMeta::validate(kind, dtype, shape, aux)?;
        check_fits(ns, &meta)?;
        let slot = ns.try_acquire(meta.nbytes)?;
        Ok(PayloadMut { slot, meta })
    }

    /// As [`PayloadMut::new`], waiting up to `timeout` for a free slot.
    pub fn new_timeout(ns: &Namespace, kind: PayloadKind, dtype: DType, shape: &[usize], aux: u16, timeout: Duration) -> Result<PayloadMut, PayloadError> {
        let meta = PayloadMeta::validate(kind, dtype, shape, aux)?;
        check_fits(ns, &meta)?;
        let slot = ns.acquire_timeout(meta.nbytes, timeout)?;
        Ok(PayloadMut { slot, meta })
    }

    pub fn meta(&self) -> &PayloadMeta {
        &self.meta
    }
    pub fn kind(&self) -> PayloadKind {
        self.meta.kind
    }
    pub fn dtype(&self) -> DType {
        self.meta.dtype
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
        if src.len() as u64 != self.meta.nbytes {
            return Err(PayloadError::LenMismatch { expected: self.meta.nbytes, found: src.len() as u64 });
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
    pub fn freeze(mut self) -> Payload {
        self.meta.to_area().write(self.slot.meta_mut());
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
    if ns.class_for(meta.nbytes).is_none() {
        return Err(PayloadError::TooLarge { len: meta.nbytes, max: ns.max_payload() });
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
        let slot = ns.resolve(d)?;
        let meta = PayloadMeta::from_shared(d, slot.meta())?;
        if slot.len() != meta.nbytes {
            return Err(PayloadError::LenMismatch { expected: meta.nbytes, found: slot.len() });
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
        self.meta.kind
    }
    pub fn dtype(&self) -> DType {
        self.meta.dtype
    }
    pub fn shape(&self) -> &[usize] {
        self.meta.shape()
    }
    pub fn aux(&self) -> u16 {
        self.meta.aux
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
        debug_assert_eq!(meta.nbytes, self.meta.nbytes);
        let mut m = meta;
        m.timestamp_ns = self.meta.timestamp_ns;
        m.sequence = self.meta.sequence;
        m.frame_len = self.meta.frame_len;
        m.frame_id = self.meta.frame_id;
        Payload { slot: self.slot.clone(), meta: m }
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload").field("slot", &self.slot).field("meta", &self.meta).finish()
    }
}
