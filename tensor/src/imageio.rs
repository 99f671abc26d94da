//! PNG and JPEG files to and from pool images (the `image` crate, png + jpeg only).
//!
//! Loading decodes straight into a loaned slot where the file's pixel format is one of ours
//! (8-bit gray → mono8, 16-bit gray → mono16, rgb8, rgba8): the decoder's output is the only
//! write, no intermediate buffer. Other formats (gray+alpha, 16-bit colour) are converted to
//! rgb8/rgba8 first and then copied once. Saving writes mono8, mono16, rgb8 and rgba8 as they
//! are; bgr8/bgra8 are swapped to RGB(A) in a temporary buffer.

use crate::encoding::Encoding;
use crate::error::ImageIoError;
use crate::image::{Image, ImageMut};
use image::{ColorType, DynamicImage, ExtendedColorType, ImageDecoder, ImageReader};
use std::io::{BufRead, Cursor, Seek};
use std::path::Path;
use tensorbus_pool::Namespace;

/// Load a PNG or JPEG file into a fresh pool image (format guessed from the content).
///
/// ```
/// use tensorbus_pool::{Namespace, PoolConfig};
/// use tensorbus_tensor::{imageio, Encoding, Image};
/// let dir = std::env::temp_dir().join(format!("tb-doc-imageio-{}", std::process::id()));
/// let ns = Namespace::open_dir(&dir, PoolConfig::parse("4Kx4").unwrap()).unwrap();
/// let img = Image::from_bytes(&ns, 2, 2, Encoding::Rgb8, &[10, 20, 30].repeat(4)).unwrap();
/// let file = dir.join("frame.png");
/// imageio::save(&img, &file).unwrap();
/// let back = imageio::load(&ns, &file).unwrap();
/// assert_eq!((back.encoding(), back.data()), (Encoding::Rgb8, img.data()));
/// # drop((img, back, ns)); std::fs::remove_dir_all(dir).ok();
/// ```
pub fn load(ns: &Namespace, path: impl AsRef<Path>) -> Result<Image, ImageIoError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let reader = ImageReader::open(path).map_err(|source| ImageIoError::Io { path: name.clone(), source })?;
    decode_reader(ns, reader, &name)
}

/// Decode an in-memory PNG or JPEG into a fresh pool image.
pub fn decode(ns: &Namespace, bytes: &[u8]) -> Result<Image, ImageIoError> {
    decode_reader(ns, ImageReader::new(Cursor::new(bytes)), "<memory>")
}

fn decode_reader<R: BufRead + Seek>(ns: &Namespace, reader: ImageReader<R>, name: &str) -> Result<Image, ImageIoError> {
    let img_err = |source| ImageIoError::Image { path: name.to_string(), source };
    let reader = reader.with_guessed_format().map_err(|source| ImageIoError::Io { path: name.to_string(), source })?;
    let decoder = reader.into_decoder().map_err(img_err)?;
    let (w, h) = decoder.dimensions();
    let (w, h) = (w as usize, h as usize);
    let direct = match decoder.color_type() {
        ColorType::L8 => Some(Encoding::Mono8),
        ColorType::L16 => Some(Encoding::Mono16),
        ColorType::Rgb8 => Some(Encoding::Rgb8),
        ColorType::Rgba8 => Some(Encoding::Rgba8),
        _ => None,
    };
    if let Some(enc) = direct {
        let mut m = ImageMut::new(ns, h, w, enc)?;
        if decoder.total_bytes() == m.data().len() as u64 {
            // Decode into the slot itself; 16-bit samples come out native-endian, as mono16 is.
            decoder.read_image(m.data_mut()).map_err(img_err)?;
            return Ok(m.freeze());
        }
        // Cannot happen for these colour types; if it does, the converting path below decides.
    }
    let dynimg = DynamicImage::from_decoder(decoder).map_err(img_err)?;
    let (enc, buf) = if dynimg.color().has_alpha() { (Encoding::Rgba8, dynimg.to_rgba8().into_raw()) } else { (Encoding::Rgb8, dynimg.to_rgb8().into_raw()) };
    Ok(Image::from_bytes(ns, h, w, enc, &buf)?)
}

/// Save an image; the format follows the extension (`.png`; `.jpg`/`.jpeg` for mono8 and rgb8).
/// mono8, mono16, rgb8, rgba8 are written as they are, bgr8/bgra8 converted to RGB(A); other
/// encodings are [`ImageIoError::Unsupported`].
pub fn save(img: &Image, path: impl AsRef<Path>) -> Result<(), ImageIoError> {
    let path = path.as_ref();
    let (w, h) = (img.width() as u32, img.height() as u32);
    let swapped;
    let (buf, color): (&[u8], ExtendedColorType) = match img.encoding() {
        Encoding::Mono8 => (img.data(), ExtendedColorType::L8),
        Encoding::Mono16 => (img.data(), ExtendedColorType::L16),
        Encoding::Rgb8 => (img.data(), ExtendedColorType::Rgb8),
        Encoding::Rgba8 => (img.data(), ExtendedColorType::Rgba8),
        Encoding::Bgr8 | Encoding::Bgra8 => {
            let c = img.channels();
            let mut v = img.data().to_vec();
            v.chunks_exact_mut(c).for_each(|px| px.swap(0, 2));
            swapped = v;
            (&swapped[..], if c == 3 { ExtendedColorType::Rgb8 } else { ExtendedColorType::Rgba8 })
        }
        other => return Err(ImageIoError::Unsupported(other)),
    };
    image::save_buffer(path, buf, w, h, color).map_err(|source| ImageIoError::Image { path: path.display().to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensorbus_testkit::{TempNs, TENSOR_CLASSES};

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 37 % 251) as u8).collect()
    }

    #[test]
    fn png_round_trip_each_saveable_encoding() {
        let t = TempNs::with_classes("imageio-png", TENSOR_CLASSES);
        let ns = t.open();
        let file = ns.dir().join("x.png");
        for enc in [Encoding::Mono8, Encoding::Mono16, Encoding::Rgb8, Encoding::Rgba8] {
            let img = Image::from_bytes(&ns, 7, 9, enc, &pattern(7 * 9 * enc.bytes_per_pixel())).unwrap();
            save(&img, &file).unwrap();
            let back = load(&ns, &file).unwrap();
            assert_eq!((back.encoding(), back.height(), back.width()), (enc, 7, 9));
            assert_eq!(back.data(), img.data(), "{enc}");
        }
    }

    #[test]
    fn bgr_is_saved_as_rgb() {
        let t = TempNs::with_classes("imageio-bgr", TENSOR_CLASSES);
        let ns = t.open();
        let file = ns.dir().join("bgr.png");
        let img = Image::from_bytes(&ns, 1, 2, Encoding::Bgra8, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        save(&img, &file).unwrap();
        let back = load(&ns, &file).unwrap();
        assert_eq!((back.encoding(), back.data()), (Encoding::Rgba8, &[3, 2, 1, 4, 7, 6, 5, 8][..]));
        let f32img = Image::from_bytes(&ns, 1, 1, Encoding::Mono32F, &[0; 4]).unwrap();
        assert!(matches!(save(&f32img, &file), Err(ImageIoError::Unsupported(Encoding::Mono32F))));
    }

    #[test]
    fn jpeg_loads_as_rgb8_and_garbage_errors() {
        let t = TempNs::with_classes("imageio-jpeg", TENSOR_CLASSES);
        let ns = t.open();
        let file = ns.dir().join("x.jpg");
        let img = Image::from_bytes(&ns, 8, 8, Encoding::Rgb8, &[128; 192]).unwrap();
        save(&img, &file).unwrap();
        let back = load(&ns, &file).unwrap();
        assert_eq!((back.encoding(), back.height(), back.width()), (Encoding::Rgb8, 8, 8));
        assert!(back.data().iter().all(|&v| v.abs_diff(128) <= 2), "lossy but close");
        assert!(decode(&ns, b"not an image").is_err());
        assert!(matches!(load(&ns, ns.dir().join("missing.png")), Err(ImageIoError::Io { .. })));
    }

    #[test]
    fn gray_alpha_png_is_converted_to_rgba8() {
        let t = TempNs::with_classes("imageio-la", TENSOR_CLASSES);
        let ns = t.open();
        let file = ns.dir().join("la.png");
        image::save_buffer(&file, &[10, 255, 20, 128], 2, 1, ExtendedColorType::La8).unwrap();
        let back = load(&ns, &file).unwrap();
        assert_eq!((back.encoding(), back.data()), (Encoding::Rgba8, &[10, 10, 10, 255, 20, 20, 20, 128][..]));
    }
}
