//! Standard POD messages. Each starts with `timestamp_ns` (ns since the Unix epoch, 0 if
//! unknown). Sizes: `CmdVel` 16, `Pose2D` 32, `Detection` 32, `Heartbeat` 32 bytes travel inline
//! in the descriptor; `Twist` 56 and `Imu` 88 bytes travel in a pool slot. Units are SI
//! (metres, radians, seconds) unless noted.

crate::pod_message! {
    /// A velocity command for a planar (differential-drive) base.
    pub struct CmdVel {
        /// Time of the command, ns since the Unix epoch.
        pub timestamp_ns: u64,
        /// Forward speed, m/s.
        pub linear: f32,
        /// Turn rate about +z, rad/s (counter-clockwise positive).
        pub angular: f32,
    }

    /// A 3-D velocity: linear and angular parts.
    pub struct Twist {
        /// Time of the measurement or command, ns since the Unix epoch.
        pub timestamp_ns: u64,
        /// Linear velocity (x, y, z), m/s.
        pub linear: [f64; 3],
        /// Angular velocity about (x, y, z), rad/s.
        pub angular: [f64; 3],
    }

    /// A planar pose.
    pub struct Pose2D {
        /// Time of the estimate, ns since the Unix epoch.
        pub timestamp_ns: u64,
        /// Position x, m.
        pub x: f64,
        /// Position y, m.
        pub y: f64,
        /// Heading about +z, rad.
        pub theta: f64,
    }

    /// An inertial measurement.
    pub struct Imu {
        /// Sample time, ns since the Unix epoch.
        pub timestamp_ns: u64,
        /// Orientation quaternion (x, y, z, w).
        pub orientation: [f64; 4],
        /// Angular velocity about (x, y, z), rad/s.
        pub angular_velocity: [f64; 3],
        /// Linear acceleration (x, y, z), m/s².
        pub linear_acceleration: [f64; 3],
    }

    /// One detected object in an image.
    pub struct Detection {
        /// Time of the frame the detection comes from, ns since the Unix epoch.
        pub timestamp_ns: u64,
        /// Class index (model-specific).
        pub class_id: u32,
        /// Confidence in [0, 1].
        pub score: f32,
        /// Bounding box left edge, pixels.
        pub x: f32,
        /// Bounding box top edge, pixels.
        pub y: f32,
        /// Bounding box width, pixels.
        pub w: f32,
        /// Bounding box height, pixels.
        pub h: f32,
    }

    /// A liveness signal from a process or node.
    pub struct Heartbeat {
        /// Time of the beat, ns since the Unix epoch.
        pub timestamp_ns: u64,
        /// Beat counter, +1 per beat.
        pub seq: u64,
        /// Seconds since the sender started.
        pub uptime_s: f64,
        /// Sender's process id.
        pub pid: u32,
        /// Sender-defined state code (0 = ok).
        pub state: u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pod;
    use std::mem::size_of;

    #[test]
    fn sizes_and_names() {
        assert_eq!(size_of::<CmdVel>(), 16);
        assert_eq!(size_of::<Twist>(), 56);
        assert_eq!(size_of::<Pose2D>(), 32);
        assert_eq!(size_of::<Imu>(), 88);
        assert_eq!(size_of::<Detection>(), 32);
        assert_eq!(size_of::<Heartbeat>(), 32);
        assert_eq!(CmdVel::topic_name(), "cmd_vel");
        assert_eq!(Pose2D::topic_name(), "pose2d");
        assert_eq!(Imu::TYPE_NAME, "Imu");
    }
}
