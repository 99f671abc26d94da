//! tensorbus-record: recordings of tensorbus topics as MCAP files that Foxglove, Rerun, rosbag2
//! tools and the `mcap` libraries open, and replays of them (and of rosbag2 MCAP files) into a
//! namespace.
//!
//! - `recorder.rs`: [`Recorder`], an ordinary subscriber on the chosen topics writing MCAP
//!   (chunked, zstd or lz4, split by size or time), counting what it missed;
//! - `codec.rs`: each topic kind's channel: ROS 2 `sensor_msgs` CDR for images, depth and point
//!   clouds, a `tensorbus_msgs/msg/Tensor` of ours, JSON (with a JSON Schema) for POD messages,
//!   JSON or MessagePack for dicts; `pod.rs` and `json.rs` the conversions;
//! - `foxglove.rs`: `foxglove.RawImage` / `foxglove.PointCloud` protobuf and their descriptor
//!   sets, for recordings made with `foxglove` on;
//! - `read.rs`: a file's channels and messages back in tensorbus form; `info.rs` its summary;
//! - `replay.rs`: [`replay`] at the recorded pace (or faster, looped, a window, remapped);
//! - `cli.rs`: the `record`, `record info` and `replay` commands of the `tensorbus` CLI.
//!
//! Layering (DESIGN.md): above the facade and tensorbus-ros2; the facade knows nothing of MCAP.

pub mod cli;
pub mod codec;
pub mod error;
pub mod foxglove;
pub mod info;
pub mod json;
pub mod pod;
pub mod read;
pub mod recorder;
pub mod replay;

pub use codec::DictEncoding;
pub use error::RecordError;
pub use info::{info, Info, TopicInfo};
pub use read::{decode, decode_all, kind_of, Item, Kind, McapFile};
pub use recorder::{glob, RecordOptions, RecordReport, Recorder, TopicReport};
pub use replay::{replay, ReplayOptions, ReplayReport};
