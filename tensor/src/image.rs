//! [`Image`] (a frozen frame) and [`ImageMut`] (a writable loan): `H x W x C` pixels, or `H x W`
//! for one-channel encodings, in a pool slot. The descriptor's `aux` is the [`Encoding`].

use crate::dtype::DType;
use crate::encoding::Encoding;
use crate::error::PayloadError;
use crate::payload::{Payload, PayloadKind, PayloadMut};
use std::time::Duration;
use tensorbus_pool::{Descriptor, Namespace};

/// A read-only image frame in shared memory. Cheap to clone (another hold on the slot).
///
/// ```
/// use tensorbus_pool::{Namespace, PoolConfig};
/// use tensorbus_tensor::{Encoding, Image};
/// let dir = std::env::temp_dir().join(format!("tb-doc-image-{}", std::process::id()));
/// let ns = Namespace::open_dir(&dir, PoolConfig::parse("4Kx4").unwrap()).unwrap();
/// let pixels = vec![9u8; 4 * 5 * 3];
/// let img = Image::from_bytes(&ns, 4, 5, Encoding::Rgb8, &pixels).unwrap();   // one copy
/// let got = Image::from_descriptor(&ns, &img.descriptor()).unwrap();          // zero copy
/// assert_eq!((got.height(), got.width(), got.encoding()), (4, 5, Encoding::Rgb8));
/// assert_eq!(got.as_ptr(), img.as_ptr());
/// # drop((img, got, ns)); std::fs::remove_dir_all(dir).ok();
/// ```
#[derive(Clone, Debug)]
pub struct Image {
    payload: Payload,
    encoding: Encoding,
}

frozen_accessors!(Image);

impl Image {
    /// Copy `data` (exactly `h * w * bytes_per_pixel` bytes) into a fresh slot: one copy.
    pub fn from_bytes(ns: &Namespace, height: usize, width: usize, encoding: Encoding, data: &[u8]) -> Result<Image, PayloadError> {
        let mut m = ImageMut::new(ns, height, width, encoding)?;
        m.copy_from(data)?;
        Ok(m.freeze())
    }

    /// Copy an array of `shape`/`dtype` with an inferred encoding ([`Encoding::infer`]), or
    /// with `encoding` when given (it must match the shape and dtype).
    pub fn from_array(ns: &Namespace, shape: &[usize], dtype: DType, encoding: Option<Encoding>, data: &[u8]) -> Result<Image, PayloadError> {
        let enc = match encoding {
            Some(e) => e,
            None => {
                Encoding::infer(shape, dtype).ok_or_else(|| PayloadError::BadShape { kind: "image", shape: shape.to_vec(), reason: "encoding cannot be inferred; pass one" })?
            }
        };
        Ok(Image::from_payload_unchecked(Payload::from_bytes(ns, PayloadKind::Image, dtype, shape, enc.code(), data)?))
    }

    /// Resolve a received descriptor (validated; must be an image).
    pub fn from_descriptor(ns: &Namespace, d: &Descriptor) -> Result<Image, PayloadError> {
        Image::from_payload(Payload::from_descriptor(ns, d)?)
    }

    /// Wrap a payload of kind image.
    #[inline]
    pub fn from_payload(p: Payload) -> Result<Image, PayloadError> {
        if p.kind() != PayloadKind::Image {
            return Err(PayloadError::WrongKind { expected: "image", found: p.kind().name() });
        }
        Ok(Image::from_payload_unchecked(p))
    }

    #[inline]
    pub(crate) fn from_payload_unchecked(p: Payload) -> Image {
        // A payload of kind image has a valid encoding in aux (PayloadMeta::validate).
        let encoding = Encoding::from_code(p.aux()).unwrap_or(Encoding::Mono8);
        Image { payload: p, encoding }
    }

    pub fn height(&self) -> usize {
        self.payload.shape()[0]
    }
    pub fn width(&self) -> usize {
        self.payload.shape()[1]
    }
    pub fn channels(&self) -> usize {
        self.encoding.channels()
    }
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }
    /// Bytes per row (rows are packed: `width * bytes_per_pixel`).
    pub fn row_bytes(&self) -> usize {
        self.width() * self.encoding.bytes_per_pixel()
    }
}

/// A writable image loan: fill it in place, then [`ImageMut::freeze`].
///
/// ```
/// use tensorbus_pool::{Namespace, PoolConfig};
/// use tensorbus_tensor::{Encoding, ImageMut};
/// let dir = std::env::temp_dir().join(format!("tb-doc-imagemut-{}", std::process::id()));
/// let ns = Namespace::open_dir(&dir, PoolConfig::parse("4Kx4").unwrap()).unwrap();
/// let mut img = ImageMut::new(&ns, 2, 3, Encoding::Mono8).unwrap();  // loans a slot
/// img.data_mut().copy_from_slice(&[1, 2, 3, 4, 5, 6]);                // written in place
/// let img = img.freeze();
/// assert_eq!(img.shape(), &[2, 3]);
/// # drop((img, ns)); std::fs::remove_dir_all(dir).ok();
/// ```
#[derive(Debug)]
pub struct ImageMut {
    payload: PayloadMut,
    encoding: Encoding,
}

loan_accessors!(ImageMut, Image);

impl ImageMut {
    /// Loan a slot for a `height x width` image (fails at once when the pool is full).
    #[inline]
    pub fn new(ns: &Namespace, height: usize, width: usize, encoding: Encoding) -> Result<ImageMut, PayloadError> {
        let (dims, n) = encoding.dims(height, width);
        let payload = PayloadMut::new(ns, PayloadKind::Image, encoding.dtype(), &dims[..n], encoding.code())?;
        Ok(ImageMut { payload, encoding })
    }

    /// As [`ImageMut::new`], waiting up to `timeout` for a free slot.
    pub fn new_timeout(ns: &Namespace, height: usize, width: usize, encoding: Encoding, timeout: Duration) -> Result<ImageMut, PayloadError> {
        let (dims, n) = encoding.dims(height, width);
        let payload = PayloadMut::new_timeout(ns, PayloadKind::Image, encoding.dtype(), &dims[..n], encoding.code(), timeout)?;
        Ok(ImageMut { payload, encoding })
    }

    pub fn height(&self) -> usize {
        self.payload.shape()[0]
    }
    pub fn width(&self) -> usize {
        self.payload.shape()[1]
    }
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensorbus_testkit::{TempNs, TENSOR_CLASSES};

    #[test]
    fn every_encoding_round_trips_through_a_descriptor() {
        let t = TempNs::with_classes("image-enc", TENSOR_CLASSES);
        let ns = t.open();
        for enc in Encoding::ALL {
            let mut m = ImageMut::new(&ns, 3, 5, enc).unwrap();
            for (i, b) in m.data_mut().iter_mut().enumerate() {
                *b = i as u8;
            }
            m.set_frame_id("cam").unwrap();
            let (ptr, frozen) = (m.as_mut_ptr() as *const u8, m.frozen_ptr());
            let img = m.freeze();
            assert_ne!(ptr, frozen, "a frozen image is read through the read-only alias");
            assert_eq!(img.as_ptr(), frozen, "freeze copies nothing: same slot, read-only alias");
            let d = img.descriptor();
            assert_eq!(d.aux, enc.code());
            let got = Image::from_descriptor(&ns, &d).unwrap();
            assert_eq!((got.height(), got.width(), got.encoding(), got.channels()), (3, 5, enc, enc.channels()));
            assert_eq!(got.shape(), &enc.shape(3, 5)[..]);
            assert_eq!(got.data(), img.data());
            assert_eq!(got.frame_id(), "cam");
            assert_eq!(got.row_bytes(), 5 * enc.bytes_per_pixel());
        }
    }

    #[test]
    fn from_array_infers_or_rejects() {
        let t = TempNs::with_classes("image-infer", TENSOR_CLASSES);
        let ns = t.open();
        let img = Image::from_array(&ns, &[2, 2, 4], DType::U8, None, &[0; 16]).unwrap();
        assert_eq!(img.encoding(), Encoding::Rgba8);
        let e = Image::from_array(&ns, &[2, 2, 2], DType::U8, None, &[0; 8]).unwrap_err();
        assert!(matches!(e, PayloadError::BadShape { .. }), "{e}");
        let e = Image::from_array(&ns, &[2, 2, 3], DType::F32, Some(Encoding::Rgb8), &[0; 48]).unwrap_err();
        assert!(matches!(e, PayloadError::EncodingMismatch { .. }), "{e}");
    }

    #[test]
    fn image_as_tensor_shares_the_slot() {
        let t = TempNs::with_classes("image-tensor", TENSOR_CLASSES);
        let ns = t.open();
        let img = Image::from_bytes(&ns, 2, 2, Encoding::Bgr8, &[7; 12]).unwrap();
        let ten = img.as_tensor();
        assert_eq!(ten.as_ptr(), img.as_ptr());
        assert_eq!(ten.shape(), &[2, 2, 3]);
        assert!(img.payload().slot().same_slot(ten.payload().slot()));
    }
}
