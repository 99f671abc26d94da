//! Foxglove's own schemas, `foxglove.RawImage` and `foxglove.PointCloud`, as a recording encoding
//! (`--foxglove`): protobuf messages, and their compiled `FileDescriptorSet` as the channel's
//! schema data (what MCAP's protobuf profile asks for), both written here with a minimal protobuf
//! writer (no protoc, no protobuf crate). The field numbers and types are Foxglove's published
//! schemas (foxglove/schemas, `RawImage.proto`, `PointCloud.proto` and their imports).

use tensorbus_tensor::{DepthImage, DepthUnit, Image, PointCloud, PointFields};

/// Appends protobuf wire format.
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint(((field as u64) << 3) | wire as u64);
    }
    fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, 0);
            self.varint(v);
        }
    }
    fn fixed32(&mut self, field: u32, v: u32) {
        if v != 0 {
            self.key(field, 5);
            self.0.extend(v.to_le_bytes());
        }
    }
    fn double(&mut self, field: u32, v: f64) {
        if v != 0.0 {
            self.key(field, 1);
            self.0.extend(v.to_le_bytes());
        }
    }
    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }
    fn message(&mut self, field: u32, m: Pb) {
        self.bytes(field, &m.0);
    }
}

/// `google.protobuf.Timestamp` of ns since the Unix epoch.
fn timestamp(ns: u64) -> Pb {
    let mut t = Pb::default();
    t.uint(1, ns / 1_000_000_000);
    t.uint(2, ns % 1_000_000_000);
    t
}

fn raw_image(ts: u64, frame_id: &str, w: usize, h: usize, encoding: &str, step: usize, data: &[u8]) -> Vec<u8> {
    let mut m = Pb::default();
    m.message(1, timestamp(ts));
    m.fixed32(2, w as u32);
    m.fixed32(3, h as u32);
    m.string(4, encoding);
    m.fixed32(5, step as u32);
    m.bytes(6, data);
    m.string(7, frame_id);
    m.0
}

/// `img` as a `foxglove.RawImage` (encodings as Foxglove names them: rgb8, bgr8, rgba8, bgra8,
/// mono8, mono16, 32FC1, yuyv; the others as their ROS names).
pub fn encode_image(img: &Image) -> Vec<u8> {
    let e = img.encoding();
    let name = match tensorbus_ros2::ros_encoding(e) {
        "yuv422" => "yuyv",
        other => other,
    };
    raw_image(img.timestamp_ns(), img.frame_id(), img.width(), img.height(), name, img.width() * e.bytes_per_pixel(), img.data())
}

/// `d` as a `foxglove.RawImage` (16UC1 millimetres, 32FC1 metres).
pub fn encode_depth(d: &DepthImage) -> Vec<u8> {
    let (enc, bpp) = match d.unit() {
        DepthUnit::Millimetres => ("16UC1", 2),
        DepthUnit::Metres => ("32FC1", 4),
    };
    raw_image(d.timestamp_ns(), d.frame_id(), d.width(), d.height(), enc, d.width() * bpp, d.data())
}

/// `pc` as a `foxglove.PointCloud`: identity pose, float32 fields (r, g, b as `red`, `green`,
/// `blue`, the names Foxglove colours by).
pub fn encode_points(pc: &PointCloud) -> Vec<u8> {
    let names: &[&str] = match pc.fields() {
        PointFields::Xyz => &["x", "y", "z"],
        PointFields::Xyzi => &["x", "y", "z", "intensity"],
        PointFields::Xyzrgb => &["x", "y", "z", "red", "green", "blue"],
    };
    let mut m = Pb::default();
    m.message(1, timestamp(pc.timestamp_ns()));
    m.string(2, pc.frame_id());
    let mut pose = Pb::default();
    pose.message(1, Pb::default());
    let mut q = Pb::default();
    q.double(4, 1.0);
    pose.message(2, q);
    m.message(3, pose);
    m.fixed32(4, 4 * names.len() as u32);
    for (i, n) in names.iter().enumerate() {
        let mut f = Pb::default();
        f.string(1, n);
        f.fixed32(2, 4 * i as u32);
        f.uint(3, 7); // NumericType.FLOAT32
        m.message(5, f);
    }
    m.bytes(6, pc.data());
    m.0
}

// ---- descriptors ------------------------------------------------------------------------------

/// FieldDescriptorProto.Type codes used here.
const T_DOUBLE: u64 = 1;
const T_INT64: u64 = 3;
const T_INT32: u64 = 5;
const T_FIXED32: u64 = 7;
const T_STRING: u64 = 9;
const T_MESSAGE: u64 = 11;
const T_BYTES: u64 = 12;
const T_ENUM: u64 = 14;

/// A field: name, number, type, the referenced type (`.pkg.Name`) for messages and enums, repeated.
type F = (&'static str, u64, u64, &'static str, bool);

fn message_type(name: &str, fields: &[F], nested_enum: Option<(&str, &[(&str, u64)])>) -> Pb {
    let mut d = Pb::default();
    d.string(1, name);
    for &(fname, number, ty, type_name, repeated) in fields {
        let mut f = Pb::default();
        f.string(1, fname);
        f.uint(3, number);
        f.uint(4, if repeated { 3 } else { 1 });
        f.uint(5, ty);
        f.string(6, type_name);
        f.string(10, fname);
        d.message(2, f);
    }
    if let Some((ename, values)) = nested_enum {
        let mut e = Pb::default();
        e.string(1, ename);
        for &(vname, number) in values {
            let mut v = Pb::default();
            v.string(1, vname);
            v.uint(2, number);
            e.message(2, v);
        }
        d.message(4, e);
    }
    d
}

fn file(name: &str, package: &str, deps: &[&str], msg: Pb) -> Pb {
    let mut f = Pb::default();
    f.string(1, name);
    f.string(2, package);
    for d in deps {
        f.string(3, d);
    }
    f.message(4, msg);
    f.string(12, "proto3");
    f
}

fn set(files: Vec<Pb>) -> Vec<u8> {
    let mut s = Pb::default();
    for f in files {
        s.message(1, f);
    }
    s.0
}

fn timestamp_file() -> Pb {
    file("google/protobuf/timestamp.proto", "google.protobuf", &[], message_type("Timestamp", &[("seconds", 1, T_INT64, "", false), ("nanos", 2, T_INT32, "", false)], None))
}

/// The `FileDescriptorSet` of `foxglove.RawImage`.
pub fn raw_image_schema() -> Vec<u8> {
    let ts = ".google.protobuf.Timestamp";
    let fields: [F; 7] = [
        ("timestamp", 1, T_MESSAGE, ts, false),
        ("frame_id", 7, T_STRING, "", false),
        ("width", 2, T_FIXED32, "", false),
        ("height", 3, T_FIXED32, "", false),
        ("encoding", 4, T_STRING, "", false),
        ("step", 5, T_FIXED32, "", false),
        ("data", 6, T_BYTES, "", false),
    ];
    set(vec![timestamp_file(), file("foxglove/RawImage.proto", "foxglove", &["google/protobuf/timestamp.proto"], message_type("RawImage", &fields, None))])
}

/// The `FileDescriptorSet` of `foxglove.PointCloud` (with Pose, Vector3, Quaternion,
/// PackedElementField).
pub fn point_cloud_schema() -> Vec<u8> {
    let xyz = |extra: bool| -> Vec<F> {
        let mut v = vec![("x", 1, T_DOUBLE, "", false), ("y", 2, T_DOUBLE, "", false), ("z", 3, T_DOUBLE, "", false)];
        if extra {
            v.push(("w", 4, T_DOUBLE, "", false));
        }
        v
    };
    let numeric: [(&str, u64); 9] = [("UNKNOWN", 0), ("UINT8", 1), ("INT8", 2), ("UINT16", 3), ("INT16", 4), ("UINT32", 5), ("INT32", 6), ("FLOAT32", 7), ("FLOAT64", 8)];
    let packed: [F; 3] = [("name", 1, T_STRING, "", false), ("offset", 2, T_FIXED32, "", false), ("type", 3, T_ENUM, ".foxglove.PackedElementField.NumericType", false)];
    let pose: [F; 2] = [("position", 1, T_MESSAGE, ".foxglove.Vector3", false), ("orientation", 2, T_MESSAGE, ".foxglove.Quaternion", false)];
    let cloud: [F; 6] = [
        ("timestamp", 1, T_MESSAGE, ".google.protobuf.Timestamp", false),
        ("frame_id", 2, T_STRING, "", false),
        ("pose", 3, T_MESSAGE, ".foxglove.Pose", false),
        ("point_stride", 4, T_FIXED32, "", false),
        ("fields", 5, T_MESSAGE, ".foxglove.PackedElementField", true),
        ("data", 6, T_BYTES, "", false),
    ];
    set(vec![
        timestamp_file(),
        file("foxglove/Vector3.proto", "foxglove", &[], message_type("Vector3", &xyz(false), None)),
        file("foxglove/Quaternion.proto", "foxglove", &[], message_type("Quaternion", &xyz(true), None)),
        file("foxglove/Pose.proto", "foxglove", &["foxglove/Quaternion.proto", "foxglove/Vector3.proto"], message_type("Pose", &pose, None)),
        file("foxglove/PackedElementField.proto", "foxglove", &[], message_type("PackedElementField", &packed, Some(("NumericType", &numeric)))),
        file(
            "foxglove/PointCloud.proto",
            "foxglove",
            &["foxglove/PackedElementField.proto", "foxglove/Pose.proto", "google/protobuf/timestamp.proto"],
            message_type("PointCloud", &cloud, None),
        ),
    ])
}

// ---- reading ----------------------------------------------------------------------------------

/// One field of a protobuf message: number and value (varint, or the bytes of a fixed or
/// length-delimited field).
enum Val<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

/// The fields of protobuf message `b`, or None when it is not well-formed (hostile input: every
/// length checked).
fn fields(b: &[u8]) -> Option<Vec<(u32, Val<'_>)>> {
    fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *b.get(*pos)?;
            *pos += 1;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let (mut out, mut pos) = (Vec::new(), 0usize);
    while pos < b.len() {
        let key = varint(b, &mut pos)?;
        let (num, wire) = ((key >> 3) as u32, key & 7);
        let take = |pos: &mut usize, n: usize| -> Option<&[u8]> {
            let s = b.get(*pos..pos.checked_add(n)?)?;
            *pos += n;
            Some(s)
        };
        let v = match wire {
            0 => Val::Int(varint(b, &mut pos)?),
            1 => Val::Bytes(take(&mut pos, 8)?),
            2 => {
                let n = usize::try_from(varint(b, &mut pos)?).ok()?;
                Val::Bytes(take(&mut pos, n)?)
            }
            5 => Val::Bytes(take(&mut pos, 4)?),
            _ => return None,
        };
        out.push((num, v));
    }
    Some(out)
}

fn fixed32(v: &Val<'_>) -> u32 {
    match v {
        Val::Bytes(b) if b.len() == 4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        Val::Int(i) => *i as u32,
        _ => 0,
    }
}

fn stamp_of(b: &[u8]) -> u64 {
    let f = fields(b).unwrap_or_default();
    let get = |n| f.iter().find_map(|(k, v)| (*k == n).then_some(if let Val::Int(i) = v { *i } else { 0 })).unwrap_or(0);
    get(1).saturating_mul(1_000_000_000).saturating_add(get(2).min(999_999_999))
}

/// A `foxglove.RawImage`'s fields: stamp (ns), frame id, width, height, encoding, step, data.
pub struct RawImageMsg<'a> {
    pub stamp_ns: u64,
    pub frame_id: &'a str,
    pub width: u32,
    pub height: u32,
    pub encoding: &'a str,
    pub step: u32,
    pub data: &'a [u8],
}

/// Decode a `foxglove.RawImage`.
pub fn decode_raw_image(b: &[u8]) -> Result<RawImageMsg<'_>, String> {
    let f = fields(b).ok_or("foxglove.RawImage: malformed protobuf")?;
    let mut m = RawImageMsg { stamp_ns: 0, frame_id: "", width: 0, height: 0, encoding: "", step: 0, data: &[] };
    for (k, v) in &f {
        match (k, v) {
            (1, Val::Bytes(t)) => m.stamp_ns = stamp_of(t),
            (2, v) => m.width = fixed32(v),
            (3, v) => m.height = fixed32(v),
            (4, Val::Bytes(s)) => m.encoding = std::str::from_utf8(s).map_err(|_| "foxglove.RawImage: encoding is not UTF-8")?,
            (5, v) => m.step = fixed32(v),
            (6, Val::Bytes(d)) => m.data = d,
            (7, Val::Bytes(s)) => m.frame_id = std::str::from_utf8(s).map_err(|_| "foxglove.RawImage: frame_id is not UTF-8")?,
            _ => {}
        }
    }
    Ok(m)
}

/// A `foxglove.PointCloud`'s fields that tensorbus keeps: stamp, frame id, stride, the float32
/// fields (name, offset), data.
pub struct PointCloudMsg<'a> {
    pub stamp_ns: u64,
    pub frame_id: &'a str,
    pub stride: u32,
    pub fields: Vec<(&'a str, u32, u64)>,
    pub data: &'a [u8],
}

/// Decode a `foxglove.PointCloud`.
pub fn decode_point_cloud(b: &[u8]) -> Result<PointCloudMsg<'_>, String> {
    let f = fields(b).ok_or("foxglove.PointCloud: malformed protobuf")?;
    let mut m = PointCloudMsg { stamp_ns: 0, frame_id: "", stride: 0, fields: Vec::new(), data: &[] };
    for (k, v) in &f {
        match (k, v) {
            (1, Val::Bytes(t)) => m.stamp_ns = stamp_of(t),
            (2, Val::Bytes(s)) => m.frame_id = std::str::from_utf8(s).map_err(|_| "foxglove.PointCloud: frame_id is not UTF-8")?,
            (4, v) => m.stride = fixed32(v),
            (5, Val::Bytes(e)) => {
                let ef = fields(e).ok_or("foxglove.PointCloud: malformed field")?;
                let (mut name, mut offset, mut ty) = ("", 0, 0);
                for (k, v) in &ef {
                    match (k, v) {
                        (1, Val::Bytes(s)) => name = std::str::from_utf8(s).map_err(|_| "foxglove.PointCloud: field name is not UTF-8")?,
                        (2, v) => offset = fixed32(v),
                        (3, Val::Int(t)) => ty = *t,
                        _ => {}
                    }
                }
                m.fields.push((name, offset, ty));
            }
            (6, Val::Bytes(d)) => m.data = d,
            _ => {}
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_fields() {
        let mut p = Pb::default();
        p.uint(1, 300);
        p.fixed32(2, 1);
        p.string(3, "ab");
        assert_eq!(p.0, [0x08, 0xac, 0x02, 0x15, 1, 0, 0, 0, 0x1a, 2, b'a', b'b']);
        assert!(raw_image_schema().len() > 100 && point_cloud_schema().len() > raw_image_schema().len());
    }
}
