//! ROS 2 mode: the bridge speaks rmw_zenoh's dialect, so ROS 2 nodes on rmw_zenoh (`ros2 topic
//! echo`, rviz2, any node) see tensorbus topics and tensorbus nodes receive ROS 2 topics, with no
//! ROS 2 installation on the tensorbus side. What follows rmw_zenoh's design document
//! (`docs/design.md` of ros2/rmw_zenoh, as of Jazzy/Kilted; `docs/ros2.md` says what was checked):
//!
//! - **Data key:** `<domain>/<name>/<dds type>/<type hash>`: the ROS name without its leading
//!   `/` (inner `/` kept), the DDS type name `sensor_msgs::msg::dds_::Image_`, and the
//!   `RIHS01_<sha256>` hash (REP 2011; `tensorbus_ros2::type_hash`) or, for Humble,
//!   `TypeHashNotSupported`.
//! - **Attachment** (33 bytes on every sample): the publisher's sequence number (i64, from 1),
//!   the source timestamp (i64 ns since the Unix epoch), the byte 16 (the length of what
//!   follows) and the publisher's 16-byte GID.
//! - **Liveliness tokens** (the ROS graph: `ros2 node list`, `ros2 topic list`): one for the node,
//!   `@ros2_lv/<domain>/<zid>/<nid>/<nid>/NN/<enclave>/<namespace>/<node>`, and one per publisher
//!   (`MP`) or subscriber (`MS`), the same with `/<eid>/MP/...` and then the topic, type, hash and
//!   QoS; every `/` inside a field is written `%`.
//! - **Payload:** the CDR (XCDR1, little-endian) of the message (`tensorbus_ros2`).
//!
//! GIDs are the first 16 bytes of the SHA-256 of the entity's liveliness key (rmw_zenoh hashes
//! it with XXH3; a GID only has to be unique and stable, nothing recomputes it).

use crate::error::BridgeError;
use crate::wire::Refusal;
use std::time::{SystemTime, UNIX_EPOCH};
use tensorbus::msgs::{CmdVel, Twist as TbTwist};
use tensorbus::{Namespace, Pod};
use tensorbus_tensor::Payload;

/// Mapped ROS 2 types.
pub const IMAGE: &str = "sensor_msgs/msg/Image";
pub const POINT_CLOUD2: &str = "sensor_msgs/msg/PointCloud2";
pub const TWIST: &str = "geometry_msgs/msg/Twist";
/// The hash Humble's rmw_zenoh puts where later distributions put `RIHS01_...`.
pub const HUMBLE_HASH: &str = "TypeHashNotSupported";

/// The ROS 2 side of the bridge.
#[derive(Debug, Clone)]
pub struct Ros2Options {
    /// `ROS_DOMAIN_ID` (0..=232).
    pub domain: u32,
    /// Humble's rmw_zenoh: `TypeHashNotSupported` instead of `RIHS01_...` type hashes.
    pub humble: bool,
    /// The node name the ROS graph shows.
    pub node: String,
    /// The topics, each one way.
    pub topics: Vec<Ros2Topic>,
}

/// A mapping file (`tensorbus bridge --ros2 --ros2-map FILE`):
///
/// ```toml
/// domain = 0                    # optional: ROS_DOMAIN_ID
/// humble = false                # optional: Humble's TypeHashNotSupported
/// node = "tensorbus_bridge"     # optional: the node name in the ROS graph
/// [[topic]]
/// tensorbus = "camera.rgb"
/// ros = "/camera/image_raw"     # optional: default /camera/rgb
/// type = "sensor_msgs/msg/Image"   # optional for "out": from the topic's type
/// tensorbus_type = "Image"      # optional for "in": Image, DepthImage, PointCloud, CmdVel, Twist
/// direction = "out"             # "out" (tensorbus -> ROS 2) or "in"
/// ```
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    domain: Option<u32>,
    humble: Option<bool>,
    node: Option<String>,
    #[serde(default)]
    topic: Vec<MapEntry>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MapEntry {
    tensorbus: String,
    ros: Option<String>,
    #[serde(rename = "type")]
    ros_type: Option<String>,
    tensorbus_type: Option<String>,
    direction: String,
}

impl Ros2Options {
    /// Apply a mapping file (its settings, then its topics added to these).
    pub fn load(&mut self, text: &str) -> Result<(), BridgeError> {
        let f: MapFile = toml::from_str(text).map_err(|e| BridgeError::Usage(format!("ROS 2 mapping file: {e}")))?;
        self.domain = f.domain.unwrap_or(self.domain);
        self.humble = f.humble.unwrap_or(self.humble);
        if let Some(n) = f.node {
            self.node = n;
        }
        for e in f.topic {
            let export = match e.direction.as_str() {
                "out" => true,
                "in" => false,
                o => return Err(BridgeError::Usage(format!("ROS 2 mapping of {}: direction must be \"out\" or \"in\", not {o:?}", e.tensorbus))),
            };
            let mut t = Ros2Topic::parse(&e.tensorbus, export)?;
            if let Some(r) = e.ros {
                t.ros_name = r;
            }
            t.ros_type = e.ros_type.unwrap_or_default();
            t.tb_type = e.tensorbus_type.unwrap_or_default();
            t.check()?;
            self.topics.push(t);
        }
        Ok(())
    }
}

impl Default for Ros2Options {
    fn default() -> Self {
        Ros2Options { domain: 0, humble: false, node: "tensorbus_bridge".into(), topics: Vec::new() }
    }
}

/// One mapped topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ros2Topic {
    /// The tensorbus topic.
    pub topic: String,
    /// The ROS 2 name (`/camera/image_raw`).
    pub ros_name: String,
    /// The ROS 2 type (`sensor_msgs/msg/Image`); empty: from the tensorbus topic's type.
    pub ros_type: String,
    /// The tensorbus type on this side (`Image`, `DepthImage`, `PointCloud`, `CmdVel`, `Twist`);
    /// empty: the usual one for the ROS type.
    pub tb_type: String,
    /// true: tensorbus → ROS 2; false: ROS 2 → tensorbus.
    pub export: bool,
}

impl Ros2Topic {
    /// `TOPIC[=ROS_NAME[:ROS_TYPE]]` (`camera.rgb=/camera/image_raw:sensor_msgs/msg/Image`);
    /// without a name, the topic's `.` become `/` (`camera.rgb` → `/camera/rgb`).
    pub fn parse(spec: &str, export: bool) -> Result<Ros2Topic, BridgeError> {
        let (topic, rest) = spec.split_once('=').unwrap_or((spec, ""));
        let (name, ty) = rest.split_once(':').unwrap_or((rest, ""));
        let topic = topic.trim().to_string();
        tensorbus_pool::ring::check_name(&topic).map_err(|e| BridgeError::Usage(format!("ROS 2 mapping {spec:?}: {e}")))?;
        let ros_name = if name.is_empty() { format!("/{}", topic.replace('.', "/")) } else { name.trim().to_string() };
        let t = Ros2Topic { topic, ros_name, ros_type: ty.trim().to_string(), tb_type: String::new(), export };
        t.check()?;
        Ok(t)
    }

    /// A valid ROS name and, when given, a mapped type.
    pub fn check(&self) -> Result<(), BridgeError> {
        let n = self.ros_name.trim_start_matches('/');
        let ok_name = !n.is_empty() && n.split('/').all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') && !p.as_bytes()[0].is_ascii_digit());
        if !ok_name {
            return Err(BridgeError::Usage(format!("{:?} is not a ROS 2 topic name (letters, digits and _ between /; no leading digit)", self.ros_name)));
        }
        if !self.ros_type.is_empty() && ![IMAGE, POINT_CLOUD2, TWIST].contains(&self.ros_type.as_str()) {
            return Err(BridgeError::Usage(format!("ROS 2 type {:?} has no mapping (supported: {IMAGE}, {POINT_CLOUD2}, {TWIST})", self.ros_type)));
        }
        if !self.tb_type.is_empty() && ros_type_of(&self.tb_type).is_none() {
            return Err(BridgeError::Usage(format!("tensorbus type {:?} has no ROS 2 mapping (Image, DepthImage, PointCloud, CmdVel, Twist)", self.tb_type)));
        }
        Ok(())
    }

    /// The ROS type, given or derived from the tensorbus type.
    pub fn ros_type_for(&self, tb_type: &str) -> Result<String, BridgeError> {
        if !self.ros_type.is_empty() {
            return Ok(self.ros_type.clone());
        }
        ros_type_of(tb_type)
            .map(String::from)
            .ok_or_else(|| BridgeError::Usage(format!("topic {} carries {tb_type:?}, which has no ROS 2 mapping (Image, DepthImage, PointCloud, CmdVel, Twist)", self.topic)))
    }

    /// The tensorbus type for received messages of `ros_type`.
    pub fn tb_type_for(&self, ros_type: &str) -> &str {
        if !self.tb_type.is_empty() {
            return &self.tb_type;
        }
        match ros_type {
            IMAGE => "Image",
            POINT_CLOUD2 => "PointCloud",
            _ => "CmdVel",
        }
    }
}

/// The ROS 2 type a tensorbus type maps to.
pub fn ros_type_of(tb_type: &str) -> Option<&'static str> {
    match tb_type {
        "Image" | "DepthImage" => Some(IMAGE),
        "PointCloud" => Some(POINT_CLOUD2),
        "CmdVel" | "Twist" => Some(TWIST),
        _ => None,
    }
}

/// `sensor_msgs/msg/Image` → `sensor_msgs::msg::dds_::Image_`.
pub fn dds_type(ros_type: &str) -> String {
    let mut parts: Vec<&str> = ros_type.split('/').collect();
    let name = parts.pop().unwrap_or_default();
    format!("{}::dds_::{name}_", parts.join("::"))
}

/// The type hash rmw_zenoh puts in keys and tokens.
pub fn hash_of(ros_type: &str, humble: bool) -> String {
    if humble {
        return HUMBLE_HASH.into();
    }
    tensorbus_ros2::type_hash(ros_type).unwrap_or_else(|| HUMBLE_HASH.into())
}

/// The data key expression: `<domain>/<name>/<dds type>/<hash>`.
pub fn data_key(domain: u32, ros_name: &str, ros_type: &str, hash: &str) -> String {
    format!("{domain}/{}/{}/{hash}", ros_name.trim_matches('/'), dds_type(ros_type))
}

/// `/` → `%` inside one field of a liveliness key.
pub fn mangle(s: &str) -> String {
    s.replace('/', "%")
}

/// rmw_zenoh's QoS field: reliability (empty: reliable, `2`: best effort), durability
/// (volatile: empty), history keep-last (empty) with `depth`; the deadline, lifespan and
/// liveliness fields empty (their defaults).
pub fn qos(reliable: bool, depth: u32) -> String {
    format!("{}::,{depth}:,:,:,,", if reliable { "" } else { "2" })
}

/// The node's liveliness token.
pub fn node_token(domain: u32, zid: &str, node: &str) -> String {
    format!("@ros2_lv/{domain}/{zid}/0/0/NN/%/%/{}", mangle(node))
}

/// A publisher's (`MP`) or subscriber's (`MS`) liveliness token.
#[allow(clippy::too_many_arguments)] // the fields of the key, in order
pub fn entity_token(domain: u32, zid: &str, eid: u32, kind: &str, node: &str, ros_name: &str, ros_type: &str, hash: &str, qos: &str) -> String {
    let name = if ros_name.starts_with('/') { ros_name.to_string() } else { format!("/{ros_name}") };
    format!("@ros2_lv/{domain}/{zid}/0/{eid}/{kind}/%/%/{}/{}/{}/{}/{qos}", mangle(node), mangle(&name), dds_type(ros_type), mangle(hash))
}

/// A GID for an entity: 16 bytes derived from its liveliness key.
pub fn gid(token: &str) -> [u8; 16] {
    let d = tensorbus_ros2::hash::sha256(token.as_bytes());
    d[..16].try_into().expect("16 bytes")
}

/// Bytes of rmw_zenoh's attachment.
pub const ATTACHMENT_LEN: usize = 33;

/// The attachment of one sample.
pub fn attachment(seq: i64, timestamp_ns: i64, gid: &[u8; 16]) -> [u8; ATTACHMENT_LEN] {
    let mut a = [0u8; ATTACHMENT_LEN];
    a[..8].copy_from_slice(&seq.to_le_bytes());
    a[8..16].copy_from_slice(&timestamp_ns.to_le_bytes());
    a[16] = 16;
    a[17..].copy_from_slice(gid);
    a
}

/// A received attachment: (sequence, source timestamp, GID).
pub fn parse_attachment(a: &[u8]) -> Result<(i64, i64, [u8; 16]), String> {
    if a.len() != ATTACHMENT_LEN || a[16] != 16 {
        return Err(format!("rmw_zenoh attachment of {} bytes (expected 33: sequence, timestamp, 16-byte GID)", a.len()));
    }
    let seq = i64::from_le_bytes(a[..8].try_into().expect("8 bytes"));
    let ts = i64::from_le_bytes(a[8..16].try_into().expect("8 bytes"));
    Ok((seq, ts, a[17..].try_into().expect("16 bytes")))
}

pub(crate) fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// A tensorbus message as the CDR of `ros_type`.
pub enum Outgoing<'a> {
    Payload(&'a Payload),
    Pod { type_name: &'a str, bytes: &'a [u8] },
}

/// Encode a tensorbus message as the CDR of `ros_type` (one copy of the pixels into the CDR).
pub fn encode(m: Outgoing<'_>, ros_type: &str) -> Result<Vec<u8>, String> {
    match (m, ros_type) {
        (Outgoing::Payload(p), IMAGE) => match p.kind() {
            tensorbus_tensor::PayloadKind::Image => Ok(tensorbus_ros2::encode_image(&tensorbus_tensor::Image::from_payload(p.clone()).map_err(|e| e.to_string())?)),
            tensorbus_tensor::PayloadKind::Depth => Ok(tensorbus_ros2::encode_depth(&tensorbus_tensor::DepthImage::from_payload(p.clone()).map_err(|e| e.to_string())?)),
            k => Err(format!("a {} payload is not a {IMAGE}", k.name())),
        },
        (Outgoing::Payload(p), POINT_CLOUD2) => Ok(tensorbus_ros2::encode_points(&tensorbus_tensor::PointCloud::from_payload(p.clone()).map_err(|e| e.to_string())?)),
        (Outgoing::Pod { type_name, bytes }, TWIST) => {
            let v = |a: [f64; 3]| tensorbus_ros2::Vector3 { x: a[0], y: a[1], z: a[2] };
            let t = match type_name {
                "CmdVel" => {
                    let c = CmdVel::from_bytes(bytes).ok_or("a CmdVel of the wrong size")?;
                    tensorbus_ros2::Twist { linear: v([c.linear as f64, 0.0, 0.0]), angular: v([0.0, 0.0, c.angular as f64]) }
                }
                "Twist" => {
                    let t = TbTwist::from_bytes(bytes).ok_or("a Twist of the wrong size")?;
                    tensorbus_ros2::Twist { linear: v(t.linear), angular: v(t.angular) }
                }
                o => return Err(format!("a {o} message is not a {TWIST}")),
            };
            Ok(t.encode())
        }
        (_, t) => Err(format!("no mapping of this message to {t}")),
    }
}

/// A decoded ROS 2 message, in tensorbus form.
pub enum Incoming {
    Payload(Payload),
    Pod(Vec<u8>),
}

/// Decode the CDR of `ros_type`, held in `chunks` (a sample's buffers, in order), into a
/// tensorbus `tb_type`. Images go straight from the buffers into a slot loaned from `ns` (one
/// copy); point clouds and twists are read from one contiguous buffer.
pub fn decode(ns: &Namespace, ros_type: &str, tb_type: &str, chunks: &[&[u8]]) -> Result<Incoming, Refusal> {
    // No pool slot (or none big enough) is a drop; anything else the message's fault.
    let e = |x: tensorbus_ros2::MapError| match x {
        tensorbus_ros2::MapError::Payload(p) => Refusal::dropped(p),
        other => Refusal::malformed(other),
    };
    if ros_type == IMAGE {
        return Ok(Incoming::Payload(tensorbus_ros2::decode_image_chunks(ns, chunks, tb_type == "DepthImage", None).map_err(e)?));
    }
    let joined;
    let cdr: &[u8] = match chunks {
        [one] => one,
        _ => {
            joined = chunks.concat();
            &joined
        }
    };
    match (ros_type, tb_type) {
        (POINT_CLOUD2, _) => Ok(Incoming::Payload(tensorbus_ros2::decode_points(ns, cdr, None).map_err(e)?.into_payload())),
        (TWIST, ty) => {
            let t = tensorbus_ros2::Twist::decode(cdr).map_err(Refusal::malformed)?;
            let stamp = now_ns();
            Ok(Incoming::Pod(match ty {
                "Twist" => TbTwist { timestamp_ns: stamp, linear: [t.linear.x, t.linear.y, t.linear.z], angular: [t.angular.x, t.angular.y, t.angular.z] }.as_bytes().to_vec(),
                _ => CmdVel { timestamp_ns: stamp, linear: t.linear.x as f32, angular: t.angular.z as f32 }.as_bytes().to_vec(),
            }))
        }
        (t, _) => Err(Refusal::malformed(format!("ROS 2 type {t} has no mapping"))),
    }
}

/// The tensorbus topic type of `tb_type`.
pub fn topic_type(tb_type: &str) -> tensorbus::TopicType {
    match tb_type {
        "CmdVel" => tensorbus::TopicType { name: CmdVel::TYPE_NAME.into(), hash: CmdVel::LAYOUT_HASH, size: std::mem::size_of::<CmdVel>() as u32 },
        "Twist" => tensorbus::TopicType { name: TbTwist::TYPE_NAME.into(), hash: TbTwist::LAYOUT_HASH, size: std::mem::size_of::<TbTwist>() as u32 },
        other => tensorbus::TopicType { name: other.into(), hash: 0, size: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_tokens_follow_rmw_zenoh() {
        assert_eq!(dds_type(IMAGE), "sensor_msgs::msg::dds_::Image_");
        assert_eq!(dds_type(TWIST), "geometry_msgs::msg::dds_::Twist_");
        let h = hash_of(IMAGE, false);
        assert!(h.starts_with("RIHS01_") && h.len() == 7 + 64, "{h}");
        assert_eq!(hash_of(IMAGE, true), "TypeHashNotSupported");
        assert_eq!(data_key(0, "/camera/image_raw", IMAGE, "H"), "0/camera/image_raw/sensor_msgs::msg::dds_::Image_/H");
        assert_eq!(node_token(2, "abc", "tensorbus_bridge"), "@ros2_lv/2/abc/0/0/NN/%/%/tensorbus_bridge");
        assert_eq!(
            entity_token(0, "abc", 3, "MP", "n", "/chatter", "std_msgs/msg/String", "RIHS01_x", &qos(true, 7)),
            "@ros2_lv/0/abc/0/3/MP/%/%/n/%chatter/std_msgs::msg::dds_::String_/RIHS01_x/::,7:,:,:,,"
        );
        assert_eq!(qos(false, 1), "2::,1:,:,:,,");
    }

    #[test]
    fn attachment_round_trips() {
        let a = attachment(5, -3, &[7; 16]);
        assert_eq!(a.len(), 33);
        assert_eq!(a[16], 16);
        assert_eq!(parse_attachment(&a).unwrap(), (5, -3, [7; 16]));
        assert!(parse_attachment(&a[..32]).is_err());
        let mut b = a;
        b[16] = 15;
        assert!(parse_attachment(&b).is_err());
    }

    #[test]
    fn mappings_parse_and_refuse_what_has_none() {
        let t = Ros2Topic::parse("camera.rgb", true).unwrap();
        assert_eq!((t.ros_name.as_str(), t.ros_type.as_str()), ("/camera/rgb", ""));
        let t = Ros2Topic::parse("cmd=/robot/cmd_vel:geometry_msgs/msg/Twist", false).unwrap();
        assert_eq!((t.ros_name.as_str(), t.ros_type.as_str()), ("/robot/cmd_vel", TWIST));
        assert!(Ros2Topic::parse("x=/a:std_msgs/msg/String", false).unwrap_err().to_string().contains("no mapping"));
        assert!(Ros2Topic::parse("x=/1bad", false).is_err());
        assert!(Ros2Topic::parse("x=/a//b", false).is_err());
        assert!(Ros2Topic { tb_type: "dict".into(), ..Ros2Topic::parse("x", true).unwrap() }.ros_type_for("dict").is_err());
    }

    #[test]
    fn mapping_files_load_and_bad_ones_say_why() {
        let mut o = Ros2Options::default();
        o.load(
            r#"
domain = 3
humble = true
[[topic]]
tensorbus = "camera.rgb"
ros = "/camera/image_raw"
direction = "out"
[[topic]]
tensorbus = "cmd"
ros = "/cmd_vel"
type = "geometry_msgs/msg/Twist"
tensorbus_type = "Twist"
direction = "in"
"#,
        )
        .unwrap();
        assert_eq!((o.domain, o.humble, o.topics.len()), (3, true, 2));
        assert_eq!(o.topics[1].tb_type_for(TWIST), "Twist");
        assert_eq!(o.topics[0].ros_type_for("Image").unwrap(), IMAGE);
        for bad in ["[[topic]]\ntensorbus = \"x\"\ndirection = \"up\"", "[[topic]]\ntensorbus = \"x\"\ndirection = \"in\"\ntype = \"std_msgs/msg/String\"", "colour = 1"] {
            assert!(Ros2Options::default().load(bad).is_err(), "{bad}");
        }
    }
}
