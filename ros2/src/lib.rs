//! tensorbus-ros2: the ROS 2 message types tensorbus maps, in their wire form, without ROS 2.
//!
//! - `cdr.rs`: the CDR (XCDR1, plain little-endian, what rmw implementations and rosbag2 write)
//!   writer and a reader that treats its input as hostile: every length is checked against the
//!   bytes left, every string must be NUL-terminated UTF-8;
//! - `msgs.rs`: `std_msgs/Header`, `sensor_msgs/Image`, `sensor_msgs/PointCloud2` (+ `PointField`),
//!   `geometry_msgs/Twist` (+ `Vector3`) as plain structs with `encode`/`decode`, the payload bytes
//!   borrowed from the input on decode (the caller copies them once, into a loaned slot);
//! - `hash.rs`: the `RIHS01_...` type hashes of those types (what rmw_zenoh's key expressions and
//!   rosbag2 carry), with a SHA-256 of its own;
//! - `map.rs`: tensorbus payloads and messages ⇄ those types (image encodings, point fields,
//!   timestamps ⇄ `Header.stamp`, `frame_id` kept), decoding straight into a loaned pool slot.
//!
//! Layering: above the pool and the payload types, below the recorder and the bridge (DESIGN.md).

pub mod cdr;
pub mod hash;
pub mod map;
pub mod msgs;

pub use cdr::CdrError;
pub use hash::type_hash;
pub use map::{
    decode_depth, decode_image, decode_image_chunks, decode_points, depth_from_msg, encode_depth, encode_image, encode_points, image_from_msg, image_prefix, points_from_msg,
    ros_encoding, MapError,
};
pub use msgs::{Header, Image, PointCloud2, PointField, Time, Twist, Vector3};
