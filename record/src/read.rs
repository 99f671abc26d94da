//! Reading recordings: what each channel of an MCAP file holds ([`kind_of`], from tensorbus's
//! channel metadata, else from the ROS 2 schema names rosbag2 writes), and each message decoded
//! back into tensorbus form ([`decode`]): a payload in a slot loaned from a namespace (one copy),
//! the bytes of a POD message, or a dict as MessagePack.
//!
//! A file is untrusted input: a message that does not decode is an error naming the topic, and
//! the caller decides whether to skip it (replay counts and skips).

use crate::codec::{decode_tensor, DictEncoding};
use crate::error::RecordError;
use crate::json;
use crate::pod::Layout;
use std::path::{Path, PathBuf};
use tensorbus::msgs::Twist;
use tensorbus::{Namespace, Pod, TopicType};
use tensorbus_tensor::{Payload, TensorMut};

/// A recording, mapped.
pub struct McapFile {
    pub path: PathBuf,
    map: memmap2::Mmap,
}

impl McapFile {
    pub fn open(path: impl AsRef<Path>) -> Result<McapFile, RecordError> {
        let path = path.as_ref().to_path_buf();
        let f = std::fs::File::open(&path).map_err(|e| RecordError::io(path.display().to_string(), e))?;
        // SAFETY: a read-only private mapping of a regular file; a file truncated under us while
        // mapped would fault (SIGBUS), which is what every mmap-based MCAP reader accepts: do not
        // replay a file that is still being written.
        let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| RecordError::io(path.display().to_string(), e))?;
        Ok(McapFile { path, map })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Every message, in file order.
    pub fn messages(&self) -> Result<mcap::MessageStream<'_>, RecordError> {
        Ok(mcap::MessageStream::new(&self.map)?)
    }
}

/// What a channel holds, in tensorbus terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Image,
    Depth,
    Points,
    /// `foxglove.RawImage` (as an Image, or a DepthImage when the channel says so) and
    /// `foxglove.PointCloud` (protobuf).
    FoxgloveImage {
        depth: bool,
    },
    FoxglovePoints,
    Tensor,
    /// A POD message: its topic type, and its layout when the messages are JSON.
    Pod {
        ty: TopicType,
        layout: Option<Layout>,
    },
    /// `geometry_msgs/msg/Twist` from a ROS 2 recording: becomes a `Twist`.
    RosTwist,
    Dict(DictEncoding),
    /// Not replayable: why.
    Unsupported(String),
}

/// The kind of `ch`.
pub fn kind_of(ch: &mcap::Channel<'_>) -> Kind {
    let md = |k: &str| ch.metadata.get(k).map(String::as_str);
    let schema = ch.schema.as_ref().map(|s| s.name.as_str()).unwrap_or("");
    let enc = ch.message_encoding.as_str();
    let dict = || match enc {
        "json" => Kind::Dict(DictEncoding::Json),
        "msgpack" => Kind::Dict(DictEncoding::Msgpack),
        _ => Kind::Unsupported(format!("dict messages encoded {enc:?}")),
    };
    if enc == "protobuf" {
        return match schema {
            "foxglove.RawImage" => Kind::FoxgloveImage { depth: md("tensorbus.kind") == Some("depth") },
            "foxglove.PointCloud" => Kind::FoxglovePoints,
            _ => Kind::Unsupported(format!("protobuf schema {schema:?}")),
        };
    }
    match md("tensorbus.kind") {
        Some("image") => return Kind::Image,
        Some("depth") => return Kind::Depth,
        Some("points") => return Kind::Points,
        Some("tensor") => return Kind::Tensor,
        Some("dict") => return dict(),
        Some("pod") => {
            let name = md("tensorbus.type").unwrap_or("").to_string();
            let hash = md("tensorbus.type_hash").and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok()).unwrap_or(0);
            let size = md("tensorbus.size").and_then(|s| s.parse().ok()).unwrap_or(0);
            let layout = if enc == "json" { md("tensorbus.fields").and_then(Layout::parse) } else { None };
            if enc == "json" && layout.is_none() {
                return Kind::Unsupported(format!("POD {name} as JSON without a field list"));
            }
            return Kind::Pod { ty: TopicType { name, hash, size }, layout };
        }
        _ => {}
    }
    match (schema, enc) {
        ("sensor_msgs/msg/Image" | "sensor_msgs/Image", "cdr") => Kind::Image,
        ("sensor_msgs/msg/PointCloud2" | "sensor_msgs/PointCloud2", "cdr") => Kind::Points,
        ("geometry_msgs/msg/Twist" | "geometry_msgs/Twist", "cdr") => Kind::RosTwist,
        ("tensorbus_msgs/msg/Tensor", "cdr") => Kind::Tensor,
        (_, "json" | "msgpack") if schema.is_empty() || ch.schema.as_ref().is_some_and(|s| s.encoding == "jsonschema") => dict(),
        _ => Kind::Unsupported(format!("schema {schema:?} with messages encoded {enc:?}")),
    }
}

/// A decoded message.
pub enum Item {
    Payload(Payload),
    /// A POD message's bytes and its topic type.
    Pod(TopicType, Vec<u8>),
    /// A dict, as MessagePack.
    Dict(Vec<u8>),
}

impl Item {
    /// The type of the topic it is published on.
    pub fn topic_type(&self) -> TopicType {
        match self {
            Item::Payload(p) => TopicType { name: payload_type_name(p).into(), hash: 0, size: 0 },
            Item::Pod(ty, _) => ty.clone(),
            Item::Dict(_) => TopicType { name: tensorbus::raw::DICT_TYPE.into(), hash: 0, size: 0 },
        }
    }
}

fn payload_type_name(p: &Payload) -> &'static str {
    match p.kind() {
        tensorbus_tensor::PayloadKind::Image => "Image",
        tensorbus_tensor::PayloadKind::Depth => "DepthImage",
        tensorbus_tensor::PayloadKind::Points => "PointCloud",
        _ => "Tensor",
    }
}

/// Decode one message of a channel of `kind` (payloads into slots loaned from `ns`; `stamp`
/// replaces the recorded timestamp).
pub fn decode(ns: &Namespace, kind: &Kind, data: &[u8], stamp: Option<u64>) -> Result<Item, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    Ok(match kind {
        Kind::Image => Item::Payload(tensorbus_ros2::decode_image(ns, data, stamp).map_err(|x| e(&x))?.into_payload()),
        Kind::Depth => Item::Payload(tensorbus_ros2::decode_depth(ns, data, stamp).map_err(|x| e(&x))?.into_payload()),
        Kind::Points => Item::Payload(tensorbus_ros2::decode_points(ns, data, stamp).map_err(|x| e(&x))?.into_payload()),
        Kind::FoxgloveImage { depth } => {
            let f = crate::foxglove::decode_raw_image(data)?;
            let m = tensorbus_ros2::Image {
                header: tensorbus_ros2::Header { stamp: tensorbus_ros2::Time::from_ns(f.stamp_ns), frame_id: f.frame_id },
                height: f.height,
                width: f.width,
                encoding: if f.encoding == "yuyv" { "yuv422" } else { f.encoding },
                is_bigendian: 0,
                step: f.step,
                data: f.data,
            };
            let stamp = Some(stamp.unwrap_or(f.stamp_ns));
            if *depth {
                Item::Payload(tensorbus_ros2::depth_from_msg(ns, &m, stamp).map_err(|x| e(&x))?.into_payload())
            } else {
                Item::Payload(tensorbus_ros2::image_from_msg(ns, &m, stamp).map_err(|x| e(&x))?.into_payload())
            }
        }
        Kind::FoxglovePoints => {
            let f = crate::foxglove::decode_point_cloud(data)?;
            fn name(n: &str) -> &str {
                match n {
                    "red" => "r",
                    "green" => "g",
                    "blue" => "b",
                    other => other,
                }
            }
            let fields = f
                .fields
                .iter()
                .map(|&(n, offset, ty)| tensorbus_ros2::PointField { name: name(n), offset, datatype: if ty == 7 { tensorbus_ros2::PointField::FLOAT32 } else { 0 }, count: 1 })
                .collect();
            let stride = f.stride.max(1);
            let n = (f.data.len() / stride as usize) as u32;
            let m = tensorbus_ros2::PointCloud2 {
                header: tensorbus_ros2::Header { stamp: tensorbus_ros2::Time::from_ns(f.stamp_ns), frame_id: f.frame_id },
                height: 1,
                width: n,
                fields,
                is_bigendian: false,
                point_step: f.stride,
                row_step: f.stride * n,
                data: f.data,
                is_dense: false,
            };
            Item::Payload(tensorbus_ros2::points_from_msg(ns, &m, Some(stamp.unwrap_or(f.stamp_ns))).map_err(|x| e(&x))?.into_payload())
        }
        Kind::Tensor => {
            let t = decode_tensor(data).map_err(|x| e(&x))?;
            let mut m = TensorMut::new(ns, t.dtype, &t.shape).map_err(|x| e(&x))?;
            m.data_mut().copy_from_slice(t.data);
            m.set_timestamp_ns(stamp.unwrap_or(t.stamp_ns));
            m.set_frame_id(t.frame_id).map_err(|x| e(&x))?;
            Item::Payload(m.freeze().into_payload())
        }
        Kind::Pod { ty, layout } => {
            let bytes = match layout {
                Some(l) => {
                    let v: serde_json::Value = serde_json::from_slice(data).map_err(|x| e(&x))?;
                    l.from_json(&v).ok_or_else(|| format!("JSON {v} does not fit {}", ty.name))?
                }
                None => data.to_vec(),
            };
            if ty.size > 0 && bytes.len() != ty.size as usize {
                return Err(format!("{} bytes, {} has {}", bytes.len(), ty.name, ty.size));
            }
            Item::Pod(ty.clone(), bytes)
        }
        Kind::RosTwist => {
            let t = tensorbus_ros2::Twist::decode(data).map_err(|x| e(&x))?;
            let tw = Twist { timestamp_ns: stamp.unwrap_or(0), linear: [t.linear.x, t.linear.y, t.linear.z], angular: [t.angular.x, t.angular.y, t.angular.z] };
            Item::Pod(TopicType { name: Twist::TYPE_NAME.into(), hash: Twist::LAYOUT_HASH, size: std::mem::size_of::<Twist>() as u32 }, tw.as_bytes().to_vec())
        }
        Kind::Dict(DictEncoding::Msgpack) => {
            rmpv::decode::read_value(&mut &data[..]).map_err(|x| e(&x))?;
            Item::Dict(data.to_vec())
        }
        Kind::Dict(DictEncoding::Json) => {
            let v: serde_json::Value = serde_json::from_slice(data).map_err(|x| e(&x))?;
            let mut out = Vec::new();
            rmpv::encode::write_value(&mut out, &json::to_msgpack(&v)).map_err(|x| e(&x))?;
            Item::Dict(out)
        }
        Kind::Unsupported(why) => return Err(why.clone()),
    })
}

/// Decode every message of the MCAP bytes `bytes` into `ns` (what the `mcap_read` fuzz target
/// runs; payloads are dropped at once): how many decoded and how many did not. An error only
/// when the bytes are not MCAP at all; never a panic, whatever they are.
pub fn decode_all(ns: &Namespace, bytes: &[u8]) -> Result<(usize, usize), RecordError> {
    let _ = mcap::Summary::read(bytes);
    let (mut ok, mut bad) = (0, 0);
    for m in mcap::MessageStream::new(bytes)? {
        let m = match m {
            Ok(m) => m,
            Err(e) if ok + bad == 0 => return Err(e.into()),
            Err(_) => break,
        };
        match decode(ns, &kind_of(&m.channel), &m.data, None) {
            Ok(_) => ok += 1,
            Err(_) => bad += 1,
        }
    }
    Ok((ok, bad))
}
