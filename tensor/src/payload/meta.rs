//! [`PayloadMeta`]: validated payload metadata in process memory, and its two shared forms —
//! the descriptor's fields and the slot's 192-byte metadata area (`MetaArea`, laid out as
//! drawn in the `payload` module docs and pinned by compile-time asserts).
//!
//! Every value read back from shared memory passes [`PayloadMeta::validate`] before a payload
//! exists; see the `payload` module docs for what is checked.

use super::kind::PayloadKind;
use crate::depth_unit::DepthUnit;
use crate::dtype::DType;
use crate::encoding::Encoding;
use crate::error::PayloadError;
use crate::point_fields::PointFields;
use std::mem::{offset_of, size_of};
use tensorbus_pool::descriptor::{flags, INLINE_DIMS, MAX_DIMS};
use tensorbus_pool::Descriptor;

/// Longest frame id in bytes.
pub const MAX_FRAME_ID: usize = 31;

/// The slot metadata area (drawn in the `payload` module docs). Byte arrays only: alignment 1,
/// any bit pattern valid, so it can be copied out of shared memory with one unaligned read.
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
            n = n.checked_mul(d as u64).ok_or_else(|| PayloadError::Overflow { shape: shape.to_vec(), dtype })?;
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

    /// Write the metadata area of a slot (once, before it is frozen).
    pub(super) fn write_area(&self, raw: &mut [u8; tensorbus_pool::pool::META_LEN]) {
        self.to_area().write(raw);
    }

    fn to_area(&self) -> MetaArea {
        let mut area = MetaArea { version: META_VERSION, frame_id_len: self.frame_len, reserved0: [0; 2], dims_hi: [[0; 4]; 2], frame_id: self.frame_id, reserved1: [0; 149] };
        for i in INLINE_DIMS..self.ndim() {
            area.dims_hi[i - INLINE_DIMS] = (self.dims[i] as u32).to_le_bytes();
        }
        area
    }

    /// Fill the payload fields of `d` (which already names the slot).
    pub(super) fn fill_descriptor(&self, d: &mut Descriptor) {
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
    pub(super) fn check_descriptor(d: &Descriptor) -> Result<(PayloadKind, DType), PayloadError> {
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
    pub(super) fn from_shared(d: &Descriptor, raw: &[u8; tensorbus_pool::pool::META_LEN]) -> Result<PayloadMeta, PayloadError> {
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
            // `validate` left the frame id empty: only a non-empty one needs checking and copying.
            if n > 0 {
                let id = std::str::from_utf8(&area.frame_id[..n]).map_err(|_| PayloadError::BadFrameId { reason: "not UTF-8" })?;
                meta.set_frame_id(id)?;
            }
        }
        meta.timestamp_ns = d.timestamp_ns;
        meta.sequence = d.sequence;
        Ok(meta)
    }

    /// Take over `from`'s timestamp, sequence and frame id (a typed view of the same frame).
    pub(super) fn keep_stamps(&mut self, from: &PayloadMeta) {
        self.timestamp_ns = from.timestamp_ns;
        self.sequence = from.sequence;
        self.frame_len = from.frame_len;
        self.frame_id = from.frame_id;
    }
}
