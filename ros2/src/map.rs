//! tensorbus payloads ⇄ ROS 2 messages: `Image` ⇄ `sensor_msgs/Image` (rgb8, bgr8, rgba8, bgra8,
//! mono8, mono16, yuv422, 32FC1, 32FC3, bayer_rggb8), `DepthImage` ⇄ `sensor_msgs/Image` (16UC1
//! millimetres, 32FC1 metres), `PointCloud` ⇄ `sensor_msgs/PointCloud2` (float32 fields x, y, z
//! [, intensity | r, g, b]). `timestamp_ns` ⇄ `header.stamp`, `frame_id` kept.
//!
//! Decoding copies the pixels once, from the CDR bytes straight into a slot loaned from the
//! namespace (row by row when the sender padded its rows), and refuses what it cannot represent
//! (an unknown encoding, big-endian data, other point fields) with an error that names it.

use crate::cdr::CdrError;
use crate::msgs::{Header, Image as RosImage, PointCloud2, PointField, Time};
use tensorbus_pool::Namespace;
use tensorbus_tensor::{DepthImage, DepthImageMut, DepthUnit, Encoding, Image, ImageMut, PayloadError, PointCloud, PointCloudMut, PointFields};

/// Why a ROS 2 message does not map to a tensorbus payload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    #[error(transparent)]
    Cdr(#[from] CdrError),
    #[error("{what}: encoding {encoding:?} has no tensorbus equivalent (supported: {supported})")]
    Encoding { what: &'static str, encoding: String, supported: &'static str },
    #[error("sensor_msgs/PointCloud2 with fields {found}: tensorbus point clouds are float32 x,y,z, x,y,z,intensity or x,y,z,r,g,b")]
    Fields { found: String },
    #[error("{what}: big-endian data is not supported")]
    BigEndian { what: &'static str },
    #[error("{what}: {why}")]
    Shape { what: &'static str, why: String },
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

const IMAGE_ENCODINGS: &str = "rgb8, bgr8, rgba8, bgra8, mono8, mono16, yuv422, 32FC1, 32FC3, bayer_rggb8";

/// The `sensor_msgs/image_encodings` name of a tensorbus encoding: tensorbus's own name, but for
/// the float encodings, which ROS spells `32FC1` / `32FC3`.
pub fn ros_encoding(e: Encoding) -> &'static str {
    match e {
        Encoding::Mono32F => "32FC1",
        Encoding::Rgb32F => "32FC3",
        other => other.name(),
    }
}

fn header(timestamp_ns: u64, frame_id: &str) -> Header<'_> {
    Header { stamp: Time::from_ns(timestamp_ns), frame_id }
}

fn ros_image<'a>(h: usize, w: usize, encoding: &'a str, bpp: usize, ts: u64, frame_id: &'a str, data: &'a [u8]) -> Vec<u8> {
    RosImage { header: header(ts, frame_id), height: h as u32, width: w as u32, encoding, is_bigendian: 0, step: (w * bpp) as u32, data }.encode()
}

/// The CDR of a `sensor_msgs/msg/Image` of `p` (an `Image` or a `DepthImage`) up to its pixels:
/// followed by `p.data()` it is the whole message ([`encode_image`] / [`encode_depth`]).
pub fn image_prefix(p: &tensorbus_tensor::Payload) -> Result<Vec<u8>, MapError> {
    let (enc, bpp) = match p.kind() {
        tensorbus_tensor::PayloadKind::Image => {
            let e = Encoding::from_code(p.aux()).ok_or_else(|| MapError::Shape { what: "image", why: format!("encoding code {}", p.aux()) })?;
            (ros_encoding(e), e.bytes_per_pixel())
        }
        tensorbus_tensor::PayloadKind::Depth => match DepthUnit::from_code(p.aux()) {
            Some(DepthUnit::Millimetres) => ("16UC1", 2),
            Some(DepthUnit::Metres) => ("32FC1", 4),
            None => return Err(MapError::Shape { what: "depth image", why: format!("unit code {}", p.aux()) }),
        },
        k => return Err(MapError::Shape { what: "sensor_msgs/Image", why: format!("a {} payload", k.name()) }),
    };
    let (h, w) = (p.shape()[0], p.shape()[1]);
    let m = RosImage { header: header(p.timestamp_ns(), p.frame_id()), height: h as u32, width: w as u32, encoding: enc, is_bigendian: 0, step: (w * bpp) as u32, data: &[] };
    Ok(m.encode_prefix(p.data().len(), 0))
}

/// `img` as the CDR of a `sensor_msgs/msg/Image`.
pub fn encode_image(img: &Image) -> Vec<u8> {
    let e = img.encoding();
    ros_image(img.height(), img.width(), ros_encoding(e), e.bytes_per_pixel(), img.timestamp_ns(), img.frame_id(), img.data())
}

/// `d` as the CDR of a `sensor_msgs/msg/Image` (16UC1 millimetres or 32FC1 metres).
pub fn encode_depth(d: &DepthImage) -> Vec<u8> {
    let (enc, bpp) = match d.unit() {
        DepthUnit::Millimetres => ("16UC1", 2),
        DepthUnit::Metres => ("32FC1", 4),
    };
    ros_image(d.height(), d.width(), enc, bpp, d.timestamp_ns(), d.frame_id(), d.data())
}

/// Copy `rows` rows of `row` bytes each from `src` (rows `step` apart) into `dst` (packed).
fn copy_rows(dst: &mut [u8], src: &[u8], rows: usize, row: usize, step: usize) {
    if step == row {
        dst[..rows * row].copy_from_slice(&src[..rows * row]);
        return;
    }
    for (d, s) in dst.chunks_exact_mut(row).zip(src.chunks(step)).take(rows) {
        d.copy_from_slice(&s[..row]);
    }
}

/// Check an image's geometry: the rows hold `width` pixels of `bpp` bytes.
fn check_image(m: &RosImage<'_>, bpp: usize, what: &'static str) -> Result<(usize, usize, usize), MapError> {
    if m.is_bigendian != 0 && bpp > 1 {
        return Err(MapError::BigEndian { what });
    }
    let (h, w, step) = (m.height as usize, m.width as usize, m.step as usize);
    let row = w.checked_mul(bpp).ok_or(MapError::Shape { what, why: "width overflows".into() })?;
    if step < row {
        return Err(MapError::Shape { what, why: format!("step {step} is shorter than a row of {w} pixels ({row} bytes)") });
    }
    if h == 0 || w == 0 {
        return Err(MapError::Shape { what, why: format!("empty image {h}x{w}") });
    }
    Ok((h, w, step))
}

/// A `sensor_msgs/msg/Image` (CDR) as an `Image` in a slot loaned from `ns` (one copy); its
/// `timestamp_ns` is the header stamp, or `stamp_ns` (a replay that re-stamps).
pub fn decode_image(ns: &Namespace, cdr: &[u8], stamp_ns: Option<u64>) -> Result<Image, MapError> {
    image_from_msg(ns, &RosImage::decode(cdr)?, stamp_ns)
}

/// The first `n` bytes of a message held in `chunks` (borrowed when the first chunk holds them).
fn prefix<'c>(chunks: &[&'c [u8]], n: usize) -> std::borrow::Cow<'c, [u8]> {
    match chunks.first() {
        Some(c) if c.len() >= n => std::borrow::Cow::Borrowed(&c[..n]),
        _ => std::borrow::Cow::Owned(chunks.iter().flat_map(|c| c.iter().copied()).take(n).collect()),
    }
}

/// Copy `dst.len()` bytes starting at `at` of the message held in `chunks` into `dst`.
fn copy_from_chunks(chunks: &[&[u8]], mut at: usize, dst: &mut [u8]) {
    let mut done = 0;
    for c in chunks {
        if done == dst.len() {
            return;
        }
        if at >= c.len() {
            at -= c.len();
            continue;
        }
        let n = (c.len() - at).min(dst.len() - done);
        dst[done..done + n].copy_from_slice(&c[at..at + n]);
        done += n;
        at = 0;
    }
}

/// How much of a message's start [`decode_image_chunks`] reads for the fields before the pixels
/// (a frame id and an encoding name take far less).
const PREFIX: usize = 4096;

/// [`decode_image`] (or, `depth`, [`decode_depth`]) of a message held in several buffers (a
/// network sample received in fragments), with the pixels copied once, from the buffers into the
/// slot. Returns the payload of an `Image` or a `DepthImage`.
pub fn decode_image_chunks(ns: &Namespace, chunks: &[&[u8]], depth: bool, stamp_ns: Option<u64>) -> Result<tensorbus_tensor::Payload, MapError> {
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let head = prefix(chunks, total.min(PREFIX));
    let (m, off, n) = RosImage::decode_prefix(&head)?;
    let need = m.step as u64 * m.height as u64;
    if (n as u64) < need || off as u64 + n as u64 > total as u64 {
        return Err(MapError::Shape { what: "sensor_msgs/Image", why: format!("{n} bytes at {off} of {total} for {} rows of step {}", m.height, m.step) });
    }
    let rows = |dst: &mut [u8], row: usize, step: usize| {
        for (i, d) in dst.chunks_exact_mut(row).enumerate() {
            copy_from_chunks(chunks, off + i * step, d);
        }
    };
    if depth {
        let unit = match m.encoding.to_ascii_lowercase().as_str() {
            "16uc1" | "mono16" => DepthUnit::Millimetres,
            "32fc1" => DepthUnit::Metres,
            _ => return Err(MapError::Encoding { what: "depth sensor_msgs/Image", encoding: m.encoding.to_string(), supported: "16UC1, mono16, 32FC1" }),
        };
        let bpp = unit.dtype().itemsize();
        let (h, w, step) = check_image(&m, bpp, "depth sensor_msgs/Image")?;
        let mut d = DepthImageMut::new(ns, h, w, unit)?;
        rows(d.data_mut(), w * bpp, step);
        d.set_timestamp_ns(stamp_ns.unwrap_or(m.header.stamp.to_ns()));
        d.set_frame_id(m.header.frame_id)?;
        return Ok(d.freeze().into_payload());
    }
    let enc = Encoding::parse(m.encoding).ok_or_else(|| MapError::Encoding { what: "sensor_msgs/Image", encoding: m.encoding.to_string(), supported: IMAGE_ENCODINGS })?;
    let (h, w, step) = check_image(&m, enc.bytes_per_pixel(), "sensor_msgs/Image")?;
    let mut img = ImageMut::new(ns, h, w, enc)?;
    rows(img.data_mut(), w * enc.bytes_per_pixel(), step);
    img.set_timestamp_ns(stamp_ns.unwrap_or(m.header.stamp.to_ns()));
    img.set_frame_id(m.header.frame_id)?;
    Ok(img.freeze().into_payload())
}

/// [`decode_image`] of the fields of an image (decoded from CDR or from another encoding).
pub fn image_from_msg(ns: &Namespace, m: &RosImage<'_>, stamp_ns: Option<u64>) -> Result<Image, MapError> {
    if (m.data.len() as u64) < m.step as u64 * m.height as u64 {
        return Err(MapError::Shape { what: "sensor_msgs/Image", why: format!("{} bytes for {} rows of step {}", m.data.len(), m.height, m.step) });
    }
    let enc = Encoding::parse(m.encoding).ok_or_else(|| MapError::Encoding { what: "sensor_msgs/Image", encoding: m.encoding.to_string(), supported: IMAGE_ENCODINGS })?;
    let (h, w, step) = check_image(m, enc.bytes_per_pixel(), "sensor_msgs/Image")?;
    let mut img = ImageMut::new(ns, h, w, enc)?;
    copy_rows(img.data_mut(), m.data, h, w * enc.bytes_per_pixel(), step);
    img.set_timestamp_ns(stamp_ns.unwrap_or(m.header.stamp.to_ns()));
    img.set_frame_id(m.header.frame_id)?;
    Ok(img.freeze())
}

/// A depth `sensor_msgs/msg/Image` (16UC1 or mono16: millimetres; 32FC1: metres) as a
/// `DepthImage` in a slot loaned from `ns` (one copy).
pub fn decode_depth(ns: &Namespace, cdr: &[u8], stamp_ns: Option<u64>) -> Result<DepthImage, MapError> {
    depth_from_msg(ns, &RosImage::decode(cdr)?, stamp_ns)
}

/// [`decode_depth`] of the fields of a depth image.
pub fn depth_from_msg(ns: &Namespace, m: &RosImage<'_>, stamp_ns: Option<u64>) -> Result<DepthImage, MapError> {
    if (m.data.len() as u64) < m.step as u64 * m.height as u64 {
        return Err(MapError::Shape { what: "depth sensor_msgs/Image", why: format!("{} bytes for {} rows of step {}", m.data.len(), m.height, m.step) });
    }
    let unit = match m.encoding.to_ascii_lowercase().as_str() {
        "16uc1" | "mono16" => DepthUnit::Millimetres,
        "32fc1" => DepthUnit::Metres,
        _ => return Err(MapError::Encoding { what: "depth sensor_msgs/Image", encoding: m.encoding.to_string(), supported: "16UC1, mono16, 32FC1" }),
    };
    let bpp = unit.dtype().itemsize();
    let (h, w, step) = check_image(m, bpp, "depth sensor_msgs/Image")?;
    let mut d = DepthImageMut::new(ns, h, w, unit)?;
    copy_rows(d.data_mut(), m.data, h, w * bpp, step);
    d.set_timestamp_ns(stamp_ns.unwrap_or(m.header.stamp.to_ns()));
    d.set_frame_id(m.header.frame_id)?;
    Ok(d.freeze())
}

fn field_names(f: PointFields) -> &'static [&'static str] {
    match f {
        PointFields::Xyz => &["x", "y", "z"],
        PointFields::Xyzi => &["x", "y", "z", "intensity"],
        PointFields::Xyzrgb => &["x", "y", "z", "r", "g", "b"],
    }
}

/// `pc` as the CDR of a `sensor_msgs/msg/PointCloud2` (one row, float32 fields).
pub fn encode_points(pc: &PointCloud) -> Vec<u8> {
    let names = field_names(pc.fields());
    let fields = names.iter().enumerate().map(|(i, n)| PointField { name: n, offset: 4 * i as u32, datatype: PointField::FLOAT32, count: 1 }).collect();
    let point_step = 4 * names.len() as u32;
    PointCloud2 {
        header: header(pc.timestamp_ns(), pc.frame_id()),
        height: 1,
        width: pc.len() as u32,
        fields,
        is_bigendian: false,
        point_step,
        row_step: point_step * pc.len() as u32,
        data: pc.data(),
        // NaN points (no return) are allowed in a tensorbus cloud.
        is_dense: false,
    }
    .encode()
}

/// A `sensor_msgs/msg/PointCloud2` (CDR) with float32 x, y, z [, intensity | r, g, b] fields
/// (at any offsets, other fields ignored) as a `PointCloud` in a slot loaned from `ns`.
pub fn decode_points(ns: &Namespace, cdr: &[u8], stamp_ns: Option<u64>) -> Result<PointCloud, MapError> {
    points_from_msg(ns, &PointCloud2::decode(cdr)?, stamp_ns)
}

/// [`decode_points`] of the fields of a point cloud.
pub fn points_from_msg(ns: &Namespace, m: &PointCloud2<'_>, stamp_ns: Option<u64>) -> Result<PointCloud, MapError> {
    if (m.data.len() as u64) < m.row_step as u64 * m.height as u64 || m.point_step as u64 * m.width as u64 > m.row_step as u64 {
        return Err(MapError::Shape { what: "sensor_msgs/PointCloud2", why: format!("{} bytes for {} rows of row_step {}", m.data.len(), m.height, m.row_step) });
    }
    if m.is_bigendian {
        return Err(MapError::BigEndian { what: "sensor_msgs/PointCloud2" });
    }
    let offset = |name: &str| m.fields.iter().find(|f| f.name == name && f.datatype == PointField::FLOAT32 && f.count == 1).map(|f| f.offset as usize);
    let has = |names: &[&str]| names.iter().all(|n| offset(n).is_some());
    let fields = if has(&["x", "y", "z", "r", "g", "b"]) {
        PointFields::Xyzrgb
    } else if has(&["x", "y", "z", "intensity"]) {
        PointFields::Xyzi
    } else if has(&["x", "y", "z"]) {
        PointFields::Xyz
    } else {
        let found: Vec<String> = m.fields.iter().map(|f| format!("{}:{}x{}", f.name, f.datatype, f.count)).collect();
        return Err(MapError::Fields { found: found.join(",") });
    };
    let offsets: Vec<usize> = field_names(fields).iter().map(|n| offset(n).expect("checked above")).collect();
    let (step, row_step) = (m.point_step as usize, m.row_step as usize);
    if offsets.iter().any(|&o| o + 4 > step) {
        return Err(MapError::Shape { what: "sensor_msgs/PointCloud2", why: format!("a field lies past point_step {step}") });
    }
    let n = m.height as usize * m.width as usize;
    let mut pc = PointCloudMut::new(ns, n, fields)?;
    let out = pc.points_mut();
    let width = fields.width();
    for row in 0..m.height as usize {
        for col in 0..m.width as usize {
            let base = row * row_step + col * step;
            let p = &mut out[(row * m.width as usize + col) * width..][..width];
            for (v, &o) in p.iter_mut().zip(&offsets) {
                let b = &m.data[base + o..base + o + 4];
                *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
    }
    pc.set_timestamp_ns(stamp_ns.unwrap_or(m.header.stamp.to_ns()));
    pc.set_frame_id(m.header.frame_id)?;
    Ok(pc.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensorbus_testkit::{TempNs, TENSOR_CLASSES};

    #[test]
    fn images_depth_and_points_round_trip_through_cdr() {
        let t = TempNs::with_classes("ros2-map", TENSOR_CLASSES);
        let ns = t.open();
        let mut m = ImageMut::new(&ns, 3, 5, Encoding::Bgr8).unwrap();
        m.data_mut().iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        m.set_timestamp_ns(1_700_000_000_123_456_789);
        m.set_frame_id("cam0").unwrap();
        let img = m.freeze();
        let back = decode_image(&ns, &encode_image(&img), None).unwrap();
        assert_eq!(
            (back.height(), back.width(), back.encoding(), back.data(), back.timestamp_ns(), back.frame_id()),
            (3, 5, Encoding::Bgr8, img.data(), img.timestamp_ns(), "cam0")
        );

        let mut d = DepthImageMut::new(&ns, 2, 2, DepthUnit::Millimetres).unwrap();
        d.data_mut().copy_from_slice(&[1, 0, 2, 0, 3, 0, 4, 0]);
        let d = d.freeze();
        let db = decode_depth(&ns, &encode_depth(&d), None).unwrap();
        assert_eq!((db.unit(), db.data()), (DepthUnit::Millimetres, d.data()));

        let pts: Vec<f32> = (0..12).map(|i| i as f32 * 0.5).collect();
        let pc = PointCloud::from_points(&ns, PointFields::Xyzi, &pts).unwrap();
        let pb = decode_points(&ns, &encode_points(&pc), None).unwrap();
        assert_eq!((pb.fields(), pb.points()), (PointFields::Xyzi, &pts[..]));
    }

    #[test]
    fn the_prefix_and_the_pixels_are_the_whole_message() {
        let t = TempNs::with_classes("ros2-prefix", TENSOR_CLASSES);
        let ns = t.open();
        for (enc, w) in [(Encoding::Rgb8, 5), (Encoding::Mono16, 3), (Encoding::Mono32F, 1)] {
            let mut m = ImageMut::new(&ns, 3, w, enc).unwrap();
            m.data_mut().iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
            m.set_timestamp_ns(1_700_000_000_000_000_007);
            m.set_frame_id("odd").unwrap();
            let img = m.freeze();
            let mut whole = image_prefix(img.payload()).unwrap();
            whole.extend_from_slice(img.data());
            assert_eq!(whole, encode_image(&img), "{enc:?}");
        }
        let mut d = DepthImageMut::new(&ns, 2, 3, DepthUnit::Metres).unwrap();
        d.data_mut().fill(7);
        let d = d.freeze();
        let mut whole = image_prefix(d.payload()).unwrap();
        whole.extend_from_slice(d.data());
        assert_eq!(whole, encode_depth(&d));
    }

    #[test]
    fn an_image_in_fragments_decodes_as_a_whole_one() {
        let t = TempNs::with_classes("ros2-chunks", TENSOR_CLASSES);
        let ns = t.open();
        // 3 rows of 5 bgr8 pixels, step 17 (two pad bytes a row), an odd-length frame id.
        let data: Vec<u8> = (0..51).map(|i| (i * 7) as u8).collect();
        let h = Header { stamp: Time::from_ns(5_000_000_006), frame_id: "cam" };
        let b = RosImage { header: h, height: 3, width: 5, encoding: "bgr8", step: 17, data: &data, ..Default::default() }.encode();
        let whole = decode_image(&ns, &b, None).unwrap();
        for i in 0..=b.len() {
            for j in i..=b.len() {
                let parts = [&b[..i], &b[i..j], &b[j..]];
                let p = decode_image_chunks(&ns, &parts, false, None).unwrap();
                let img = Image::from_payload(p).unwrap();
                assert_eq!((img.data(), img.timestamp_ns(), img.frame_id()), (whole.data(), 5_000_000_006, "cam"), "split at {i}, {j}");
            }
        }
        // A message cut short, or one whose data length lies, is an error.
        assert!(decode_image_chunks(&ns, &[&b[..b.len() - 1]], false, None).is_err());
        let mut lying = b.clone();
        let at = b.len() - 51 - 4;
        lying[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(decode_image_chunks(&ns, &[&lying], false, None).is_err());
        // Depth, too.
        let dd = [1u8, 0, 2, 0, 3, 0, 4, 0];
        let d = RosImage { height: 2, width: 2, encoding: "16UC1", step: 4, data: &dd, ..Default::default() }.encode();
        let p = decode_image_chunks(&ns, &[&d[..10], &d[10..]], true, None).unwrap();
        assert_eq!(DepthImage::from_payload(p).unwrap().data(), &dd);
        assert_eq!(ns.stats().used_slots(), 1, "only `whole` holds a slot");
    }

    #[test]
    fn padded_rows_and_points_are_packed_on_decode() {
        let t = TempNs::with_classes("ros2-pad", TENSOR_CLASSES);
        let ns = t.open();
        // 2 rows of 3 mono8 pixels, step 4 (one pad byte per row).
        let data = [1, 2, 3, 99, 4, 5, 6, 99];
        let b = RosImage { height: 2, width: 3, encoding: "mono8", step: 4, data: &data, ..Default::default() }.encode();
        assert_eq!(decode_image(&ns, &b, None).unwrap().data(), &[1, 2, 3, 4, 5, 6]);
        // xyz at offsets 0, 4, 8 with point_step 16 (the usual padding), plus a field we skip.
        let mut raw = Vec::new();
        for p in [[1.0f32, 2.0, 3.0, 9.0], [4.0, 5.0, 6.0, 9.0]] {
            raw.extend(p.iter().flat_map(|v| v.to_le_bytes()));
        }
        let f = |name, offset| PointField { name, offset, datatype: PointField::FLOAT32, count: 1 };
        let b =
            PointCloud2 { height: 1, width: 2, fields: vec![f("x", 0), f("y", 4), f("z", 8), f("t", 12)], point_step: 16, row_step: 32, data: &raw, ..Default::default() }.encode();
        let pc = decode_points(&ns, &b, None).unwrap();
        assert_eq!((pc.fields(), pc.points()), (PointFields::Xyz, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0][..]));
    }

    #[test]
    fn what_cannot_be_represented_is_a_named_error() {
        let t = TempNs::with_classes("ros2-bad", TENSOR_CLASSES);
        let ns = t.open();
        let px = [0u8; 8];
        let enc = |encoding, is_bigendian, step| RosImage { height: 1, width: 2, encoding, is_bigendian, step, data: &px, ..Default::default() }.encode();
        assert!(matches!(decode_image(&ns, &enc("jpeg", 0, 2), None), Err(MapError::Encoding { .. })));
        assert!(matches!(decode_image(&ns, &enc("mono16", 1, 4), None), Err(MapError::BigEndian { .. })));
        assert!(matches!(decode_image(&ns, &enc("rgb8", 0, 5), None), Err(MapError::Shape { .. })), "step shorter than a row");
        assert!(matches!(decode_depth(&ns, &enc("rgb8", 0, 6), None), Err(MapError::Encoding { .. })));
        let f = PointField { name: "x", offset: 0, datatype: PointField::FLOAT64, count: 1 };
        let b = PointCloud2 { height: 1, width: 1, fields: vec![f], point_step: 8, row_step: 8, data: &px, ..Default::default() }.encode();
        let e = decode_points(&ns, &b, None).unwrap_err();
        assert!(matches!(e, MapError::Fields { .. }) && e.to_string().contains("x:8x1"), "{e}");
        assert!(matches!(decode_image(&ns, &[0, 1, 0, 0, 1], None), Err(MapError::Cdr(_))));
        assert_eq!(ns.stats().used_slots(), 0, "nothing leaked by the failed decodes");
    }
}
