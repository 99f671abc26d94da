//! How each kind of topic is written into MCAP and read back: the schema and message encoding of
//! its channel, the bytes of one message, and the channel metadata that lets a replay restore the
//! topic exactly (type name, layout hash, size, POD field list).
//!
//! | tensorbus            | schema (encoding)                              | messages    |
//! |----------------------|------------------------------------------------|-------------|
//! | Image, DepthImage    | `sensor_msgs/msg/Image` (`ros2msg`)            | `cdr`       |
//! | PointCloud           | `sensor_msgs/msg/PointCloud2` (`ros2msg`)      | `cdr`       |
//! | Tensor, byte payload | `tensorbus_msgs/msg/Tensor` (`ros2msg`, ours)  | `cdr`       |
//! | the first three, `foxglove` on | `foxglove.RawImage` / `foxglove.PointCloud` (`protobuf`) | `protobuf` |
//! | standard POD message | its JSON Schema (`jsonschema`)                 | `json`      |
//! | other POD message    | none                                           | `tensorbus.pod` (its bytes) |
//! | dict                 | none                                           | `json` (default) or `msgpack` |
//!
//! `tensorbus_msgs/msg/Tensor` is `std_msgs/Header header, string dtype, uint32[] shape, uint8[] data`
//! (C order, little-endian elements): any ROS 2 MCAP reader decodes it from the schema text.

use crate::pod::{standard_fields, Layout};
use std::collections::BTreeMap;
use tensorbus_tensor::{DType, Payload, PayloadKind};

/// Schema encoding of ROS 2 message definitions, message encoding of CDR.
pub const ROS2MSG: &str = "ros2msg";
pub const CDR: &str = "cdr";

/// `sensor_msgs/msg/Image` with its dependencies, as rosbag2 stores it.
pub const IMAGE_MSG: &str = "std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\nuint8 is_bigendian\nuint32 step\nuint8[] data\n";
pub const POINTCLOUD2_MSG: &str =
    "std_msgs/Header header\nuint32 height\nuint32 width\nPointField[] fields\nbool is_bigendian\nuint32 point_step\nuint32 row_step\nuint8[] data\nbool is_dense\n";
pub const TENSOR_MSG: &str = "std_msgs/Header header\nstring dtype\nuint32[] shape\nuint8[] data\n";
const SEP: &str = "================================================================================\n";
const HEADER_DEP: &str = "MSG: std_msgs/Header\nbuiltin_interfaces/Time stamp\nstring frame_id\n";
const TIME_DEP: &str = "MSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n";
const POINTFIELD_DEP: &str = "MSG: sensor_msgs/PointField\nuint8 INT8=1\nuint8 UINT8=2\nuint8 INT16=3\nuint8 UINT16=4\nuint8 INT32=5\nuint8 UINT32=6\nuint8 FLOAT32=7\nuint8 FLOAT64=8\nstring name\nuint32 offset\nuint8 datatype\nuint32 count\n";

/// The full ros2msg schema text of `main` (its own definition, then each dependency).
pub fn ros2msg(main: &str, point_field: bool) -> String {
    let mut s = String::from(main);
    for dep in [HEADER_DEP, TIME_DEP].into_iter().chain(point_field.then_some(POINTFIELD_DEP)) {
        s.push_str(SEP);
        s.push_str(dep);
    }
    s
}

/// How dict topics are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DictEncoding {
    /// JSON (what Foxglove shows; bytes values become arrays of numbers).
    #[default]
    Json,
    /// The MessagePack blobs as sent (lossless).
    Msgpack,
}

/// What a channel carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Codec {
    Image,
    Depth,
    Points,
    /// `foxglove.RawImage` (images and depth images) and `foxglove.PointCloud` (protobuf).
    FoxgloveImage,
    FoxgloveDepth,
    FoxglovePoints,
    Tensor,
    /// A POD message with a known layout (JSON), or without (its bytes).
    Pod {
        type_name: String,
        hash: u64,
        size: u32,
        layout: Option<Layout>,
        fields: Option<String>,
    },
    Dict(DictEncoding),
}

/// A channel's schema: (name, encoding, data); None for channels without one.
pub type Schema = Option<(String, &'static str, Vec<u8>)>;

impl Codec {
    /// The codec of a payload of kind `kind` (`foxglove`: Foxglove's protobuf schemas for
    /// images, depth images and point clouds instead of the ROS 2 types).
    pub fn for_payload(kind: PayloadKind, foxglove: bool) -> Codec {
        match (kind, foxglove) {
            (PayloadKind::Image, false) => Codec::Image,
            (PayloadKind::Depth, false) => Codec::Depth,
            (PayloadKind::Points, false) => Codec::Points,
            (PayloadKind::Image, true) => Codec::FoxgloveImage,
            (PayloadKind::Depth, true) => Codec::FoxgloveDepth,
            (PayloadKind::Points, true) => Codec::FoxglovePoints,
            _ => Codec::Tensor,
        }
    }

    /// The codec of a POD topic type (`fields`: its field list, when known beyond the standard
    /// messages').
    pub fn for_pod(type_name: &str, hash: u64, size: u32, fields: Option<&str>) -> Codec {
        let fields = standard_fields(type_name, hash).or(fields).map(str::to_string);
        let layout = fields.as_deref().and_then(Layout::parse).filter(|l| l.size() == size as usize);
        Codec::Pod { type_name: type_name.to_string(), hash, size, layout, fields }
    }

    pub fn schema(&self) -> Schema {
        Some(match self {
            Codec::Image | Codec::Depth => ("sensor_msgs/msg/Image".into(), ROS2MSG, ros2msg(IMAGE_MSG, false).into_bytes()),
            Codec::Points => ("sensor_msgs/msg/PointCloud2".into(), ROS2MSG, ros2msg(POINTCLOUD2_MSG, true).into_bytes()),
            Codec::Tensor => ("tensorbus_msgs/msg/Tensor".into(), ROS2MSG, ros2msg(TENSOR_MSG, false).into_bytes()),
            Codec::FoxgloveImage | Codec::FoxgloveDepth => ("foxglove.RawImage".into(), "protobuf", crate::foxglove::raw_image_schema()),
            Codec::FoxglovePoints => ("foxglove.PointCloud".into(), "protobuf", crate::foxglove::point_cloud_schema()),
            Codec::Pod { type_name, layout: Some(l), .. } => (type_name.clone(), "jsonschema", l.json_schema(type_name).to_string().into_bytes()),
            Codec::Pod { layout: None, .. } | Codec::Dict(_) => return None,
        })
    }

    pub fn message_encoding(&self) -> &'static str {
        match self {
            Codec::Image | Codec::Depth | Codec::Points | Codec::Tensor => CDR,
            Codec::FoxgloveImage | Codec::FoxgloveDepth | Codec::FoxglovePoints => "protobuf",
            Codec::Pod { layout: Some(_), .. } | Codec::Dict(DictEncoding::Json) => "json",
            Codec::Pod { layout: None, .. } => "tensorbus.pod",
            Codec::Dict(DictEncoding::Msgpack) => "msgpack",
        }
    }

    /// The channel metadata a replay restores the topic from.
    pub fn metadata(&self, type_name: &str, depth: u32, reliable: bool) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let kind = match self {
            Codec::Image | Codec::FoxgloveImage => "image",
            Codec::Depth | Codec::FoxgloveDepth => "depth",
            Codec::Points | Codec::FoxglovePoints => "points",
            Codec::Tensor => "tensor",
            Codec::Pod { .. } => "pod",
            Codec::Dict(_) => "dict",
        };
        m.insert("tensorbus.kind".into(), kind.into());
        m.insert("tensorbus.type".into(), type_name.into());
        m.insert("tensorbus.depth".into(), depth.to_string());
        m.insert("tensorbus.policy".into(), if reliable { "reliable" } else { "latest" }.into());
        if let Codec::Pod { hash, size, fields, .. } = self {
            m.insert("tensorbus.type_hash".into(), format!("{hash:#x}"));
            m.insert("tensorbus.size".into(), size.to_string());
            if let Some(f) = fields {
                m.insert("tensorbus.fields".into(), f.clone());
            }
        }
        m
    }
}

/// The CDR of a tensor payload as `tensorbus_msgs/msg/Tensor`.
pub fn encode_tensor(p: &Payload) -> Vec<u8> {
    let mut w = tensorbus_ros2::cdr::Writer::new(p.data().len() + 64);
    let t = tensorbus_ros2::Time::from_ns(p.timestamp_ns());
    w.i32(t.sec);
    w.u32(t.nanosec);
    w.string(p.frame_id());
    w.string(p.dtype().name());
    w.len(p.shape().len());
    for &d in p.shape() {
        w.u32(d as u32);
    }
    w.bytes(p.data());
    w.finish()
}

/// A decoded `tensorbus_msgs/msg/Tensor`: stamp (ns), frame id, dtype, shape, data.
pub struct TensorMsg<'a> {
    pub stamp_ns: u64,
    pub frame_id: &'a str,
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: &'a [u8],
}

/// Decode a `tensorbus_msgs/msg/Tensor` (hostile input: every length checked).
pub fn decode_tensor(b: &[u8]) -> Result<TensorMsg<'_>, tensorbus_ros2::CdrError> {
    use tensorbus_ros2::CdrError;
    let mut r = tensorbus_ros2::cdr::Reader::new(b)?;
    let sec = r.i32("header.stamp.sec")?;
    let nanosec = r.u32("header.stamp.nanosec")?;
    let frame_id = r.string("header.frame_id")?;
    let dt = r.string("dtype")?;
    let dtype = dt.parse::<DType>().map_err(|_| CdrError::Invalid { what: "dtype", why: format!("unknown dtype {dt:?}") })?;
    let n = r.len(4, "shape")?;
    let mut shape = Vec::with_capacity(n);
    for _ in 0..n {
        shape.push(r.u32("shape")? as usize);
    }
    let data = r.bytes("data")?;
    let want = shape.iter().try_fold(dtype.itemsize(), |a, &d| a.checked_mul(d));
    if want != Some(data.len()) {
        return Err(CdrError::Invalid { what: "data", why: format!("{} bytes for shape {shape:?} of {dt}", data.len()) });
    }
    Ok(TensorMsg { stamp_ns: tensorbus_ros2::Time { sec, nanosec }.to_ns(), frame_id, dtype, shape, data })
}
