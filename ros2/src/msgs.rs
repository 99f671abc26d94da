//! The ROS 2 message types tensorbus maps, field for field as their `.msg` files declare them, with
//! CDR `encode` and `decode` (see `cdr.rs`). Decoded payload bytes (`Image::data`,
//! `PointCloud2::data`) borrow from the input.

use crate::cdr::{CdrError, Reader, Writer};

/// `builtin_interfaces/msg/Time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    pub sec: i32,
    pub nanosec: u32,
}

impl Time {
    /// From ns since the Unix epoch (seconds saturate at `i32::MAX`, as ROS 2's do in 2038).
    pub fn from_ns(ns: u64) -> Time {
        Time { sec: (ns / 1_000_000_000).min(i32::MAX as u64) as i32, nanosec: (ns % 1_000_000_000) as u32 }
    }
    /// ns since the Unix epoch (0 for a negative time).
    pub fn to_ns(self) -> u64 {
        if self.sec < 0 {
            return 0;
        }
        self.sec as u64 * 1_000_000_000 + self.nanosec.min(999_999_999) as u64
    }
}

/// `std_msgs/msg/Header`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header<'a> {
    pub stamp: Time,
    pub frame_id: &'a str,
}

impl<'a> Header<'a> {
    fn write(&self, w: &mut Writer) {
        w.i32(self.stamp.sec);
        w.u32(self.stamp.nanosec);
        w.string(self.frame_id);
    }
    fn read(r: &mut Reader<'a>) -> Result<Header<'a>, CdrError> {
        let sec = r.i32("header.stamp.sec")?;
        let nanosec = r.u32("header.stamp.nanosec")?;
        Ok(Header { stamp: Time { sec, nanosec }, frame_id: r.string("header.frame_id")? })
    }
}

/// `sensor_msgs/msg/Image`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Image<'a> {
    pub header: Header<'a>,
    pub height: u32,
    pub width: u32,
    /// `rgb8`, `mono16`, `32FC1`, ... (sensor_msgs/image_encodings.hpp).
    pub encoding: &'a str,
    pub is_bigendian: u8,
    /// Bytes per row.
    pub step: u32,
    pub data: &'a [u8],
}

impl<'a> Image<'a> {
    pub const TYPE: &'static str = "sensor_msgs/msg/Image";

    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.encode_prefix(self.data.len(), self.data.len());
        b.extend_from_slice(self.data);
        b
    }

    /// The message up to its pixels, saying they are `data_len` bytes (`data` itself is not
    /// written): the pixels, which are the last field, follow as they are, so a sender can hand
    /// the network this prefix and the pixels' own buffer without copying them (`spare`: extra
    /// capacity to reserve).
    pub fn encode_prefix(&self, data_len: usize, spare: usize) -> Vec<u8> {
        let mut w = Writer::new(spare + 64 + self.header.frame_id.len() + self.encoding.len());
        self.header.write(&mut w);
        w.u32(self.height);
        w.u32(self.width);
        w.string(self.encoding);
        w.u8(self.is_bigendian);
        w.u32(self.step);
        w.len(data_len);
        w.finish()
    }

    /// Decode every field but the pixels from the start of a message whose rest may be elsewhere
    /// (a sample received in fragments): the image with empty `data`, and where its pixels start
    /// in the whole message and how many bytes the message says they take.
    pub fn decode_prefix(prefix: &'a [u8]) -> Result<(Image<'a>, usize, usize), CdrError> {
        let mut r = Reader::new(prefix)?;
        let header = Header::read(&mut r)?;
        let img = Image {
            header,
            height: r.u32("height")?,
            width: r.u32("width")?,
            encoding: r.string("encoding")?,
            is_bigendian: r.u8("is_bigendian")?,
            step: r.u32("step")?,
            data: &[],
        };
        let n = r.u32("data")? as usize;
        Ok((img, r.position(), n))
    }

    /// Decode, and check that the pixels fill `height` rows of `step` bytes.
    pub fn decode(data: &'a [u8]) -> Result<Image<'a>, CdrError> {
        let (mut img, at, n) = Image::decode_prefix(data)?;
        img.data = data.get(at..at.saturating_add(n)).ok_or(CdrError::Short { what: "data", need: n, have: data.len().saturating_sub(at) })?;
        let need = img.step as u64 * img.height as u64;
        if (img.data.len() as u64) < need {
            return Err(CdrError::Invalid { what: "data", why: format!("{} bytes, {} rows of step {} need {need}", img.data.len(), img.height, img.step) });
        }
        Ok(img)
    }
}

/// `sensor_msgs/msg/PointField`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointField<'a> {
    pub name: &'a str,
    pub offset: u32,
    /// One of the `PointField::*` datatype constants.
    pub datatype: u8,
    pub count: u32,
}

impl PointField<'_> {
    pub const INT8: u8 = 1;
    pub const UINT8: u8 = 2;
    pub const INT16: u8 = 3;
    pub const UINT16: u8 = 4;
    pub const INT32: u8 = 5;
    pub const UINT32: u8 = 6;
    pub const FLOAT32: u8 = 7;
    pub const FLOAT64: u8 = 8;
}

/// `sensor_msgs/msg/PointCloud2`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PointCloud2<'a> {
    pub header: Header<'a>,
    pub height: u32,
    pub width: u32,
    pub fields: Vec<PointField<'a>>,
    pub is_bigendian: bool,
    pub point_step: u32,
    pub row_step: u32,
    pub data: &'a [u8],
    pub is_dense: bool,
}

impl<'a> PointCloud2<'a> {
    pub const TYPE: &'static str = "sensor_msgs/msg/PointCloud2";

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(self.data.len() + 64 + 32 * self.fields.len() + self.header.frame_id.len());
        self.header.write(&mut w);
        w.u32(self.height);
        w.u32(self.width);
        w.len(self.fields.len());
        for f in &self.fields {
            w.string(f.name);
            w.u32(f.offset);
            w.u8(f.datatype);
            w.u32(f.count);
        }
        w.bool(self.is_bigendian);
        w.u32(self.point_step);
        w.u32(self.row_step);
        w.bytes(self.data);
        w.bool(self.is_dense);
        w.finish()
    }

    /// Decode, and check that the points fill `height` rows of `row_step` bytes.
    pub fn decode(data: &'a [u8]) -> Result<PointCloud2<'a>, CdrError> {
        let mut r = Reader::new(data)?;
        let header = Header::read(&mut r)?;
        let height = r.u32("height")?;
        let width = r.u32("width")?;
        // A field is at least 4 (name length) + 1 (NUL) + 4 + 1 + 4 bytes.
        let n = r.len(14, "fields")?;
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            fields.push(PointField { name: r.string("fields.name")?, offset: r.u32("fields.offset")?, datatype: r.u8("fields.datatype")?, count: r.u32("fields.count")? });
        }
        let pc = PointCloud2 {
            header,
            height,
            width,
            fields,
            is_bigendian: r.bool("is_bigendian")?,
            point_step: r.u32("point_step")?,
            row_step: r.u32("row_step")?,
            data: r.bytes("data")?,
            is_dense: r.bool("is_dense")?,
        };
        let need = pc.row_step as u64 * pc.height as u64;
        if (pc.data.len() as u64) < need || (pc.point_step as u64 * pc.width as u64) > pc.row_step as u64 {
            return Err(CdrError::Invalid {
                what: "data",
                why: format!("{} bytes for {} rows of row_step {} ({} points of point_step {})", pc.data.len(), pc.height, pc.row_step, pc.width, pc.point_step),
            });
        }
        Ok(pc)
    }
}

/// `geometry_msgs/msg/Vector3`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vector3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// `geometry_msgs/msg/Twist`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Twist {
    pub linear: Vector3,
    pub angular: Vector3,
}

impl Twist {
    pub const TYPE: &'static str = "geometry_msgs/msg/Twist";

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(48);
        for v in [self.linear, self.angular] {
            w.f64(v.x);
            w.f64(v.y);
            w.f64(v.z);
        }
        w.finish()
    }

    pub fn decode(data: &[u8]) -> Result<Twist, CdrError> {
        let mut r = Reader::new(data)?;
        let mut v = || -> Result<Vector3, CdrError> { Ok(Vector3 { x: r.f64("x")?, y: r.f64("y")?, z: r.f64("z")? }) };
        Ok(Twist { linear: v()?, angular: v()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_round_trip_and_layout() {
        let px = [1u8, 2, 3, 4, 5, 6];
        let img = Image { header: Header { stamp: Time { sec: 7, nanosec: 8 }, frame_id: "cam" }, height: 1, width: 2, encoding: "rgb8", is_bigendian: 0, step: 6, data: &px };
        let b = img.encode();
        // header: sec, nanosec, "cam\0" (len 4); height, width; "rgb8\0" (len 5); u8; pad; step; data.
        assert_eq!(&b[4..24], &[7, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, b'c', b'a', b'm', 0, 1, 0, 0, 0]);
        assert_eq!(Image::decode(&b).unwrap(), img);
        let mut short = b.clone();
        short.truncate(b.len() - 1);
        assert!(Image::decode(&short).is_err());
    }

    #[test]
    fn a_lying_step_is_refused() {
        let px = [0u8; 6];
        let img = Image { height: 2, width: 2, encoding: "rgb8", step: 6, data: &px, ..Default::default() };
        assert!(matches!(Image::decode(&img.encode()), Err(CdrError::Invalid { .. })));
    }

    #[test]
    fn point_cloud_and_twist_round_trip() {
        let data: Vec<u8> = (0..24).collect();
        let fields = ["x", "y", "z"].iter().enumerate().map(|(i, n)| PointField { name: n, offset: 4 * i as u32, datatype: PointField::FLOAT32, count: 1 }).collect();
        let pc = PointCloud2 {
            header: Header { stamp: Time::from_ns(1_500_000_000), frame_id: "lidar" },
            height: 1,
            width: 2,
            fields,
            is_bigendian: false,
            point_step: 12,
            row_step: 24,
            data: &data,
            is_dense: true,
        };
        assert_eq!(PointCloud2::decode(&pc.encode()).unwrap(), pc);
        let t = Twist { linear: Vector3 { x: 1.0, y: 2.0, z: 3.0 }, angular: Vector3 { x: -1.0, y: 0.5, z: 0.25 } };
        let b = t.encode();
        assert_eq!(b.len(), 4 + 48);
        assert_eq!(Twist::decode(&b).unwrap(), t);
        assert_eq!(Time::from_ns(1_500_000_000), Time { sec: 1, nanosec: 500_000_000 });
        assert_eq!(Time { sec: 1, nanosec: 500_000_000 }.to_ns(), 1_500_000_000);
    }
}
