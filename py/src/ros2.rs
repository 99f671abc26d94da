//! Binds tensorbus-ros2 for `tensorbus.ros2` (py/python/tensorbus/ros2.py): the CDR of
//! `sensor_msgs/Image`, `PointCloud2` and `geometry_msgs/Twist` from and to tensorbus payloads,
//! decoded straight into a loaned slot (one copy).

use crate::convert::wrap_any;
use crate::errors::exc;
use crate::namespace::default_ns;
use crate::payload::PyPayload;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tensorbus_ros2::{msgs, MapError};
use tensorbus_tensor::{DepthImage, Image, PayloadKind, PointCloud};

fn map_err(e: MapError) -> PyErr {
    match e {
        MapError::Payload(p) => crate::errors::to_py(p),
        other => exc::InvalidDescriptorError::new_err(other.to_string()),
    }
}

/// The CDR of a payload (`Image` → sensor_msgs/Image, `DepthImage` → sensor_msgs/Image 16UC1 or
/// 32FC1, `PointCloud` → sensor_msgs/PointCloud2); a loaned payload is frozen, as by a send.
#[pyfunction]
pub fn _ros2_encode<'py>(py: Python<'py>, payload: &Bound<'py, PyPayload>) -> PyResult<Bound<'py, PyBytes>> {
    let p = payload.get().share(py);
    let kind = p.kind();
    let bytes = py.detach(|| -> Result<Vec<u8>, String> {
        Ok(match kind {
            PayloadKind::Image => tensorbus_ros2::encode_image(&Image::from_payload(p).map_err(|e| e.to_string())?),
            PayloadKind::Depth => tensorbus_ros2::encode_depth(&DepthImage::from_payload(p).map_err(|e| e.to_string())?),
            PayloadKind::Points => tensorbus_ros2::encode_points(&PointCloud::from_payload(p).map_err(|e| e.to_string())?),
            other => return Err(format!("{other:?} payloads have no ROS 2 message type (Image, DepthImage and PointCloud do)")),
        })
    });
    let bytes = bytes.map_err(exc::TopicTypeError::new_err)?;
    Ok(PyBytes::new(py, &bytes))
}

/// A payload from CDR: `kind` is "image", "depth" (sensor_msgs/Image) or "points"
/// (sensor_msgs/PointCloud2).
#[pyfunction]
pub fn _ros2_decode(py: Python<'_>, kind: &str, data: &[u8]) -> PyResult<Py<PyAny>> {
    let ns = default_ns()?;
    let p = py
        .detach(|| -> Result<Option<tensorbus_tensor::Payload>, MapError> {
            Ok(Some(match kind {
                "image" => tensorbus_ros2::decode_image(&ns, data, None)?.into_payload(),
                "depth" => tensorbus_ros2::decode_depth(&ns, data, None)?.into_payload(),
                "points" => tensorbus_ros2::decode_points(&ns, data, None)?.into_payload(),
                _ => return Ok(None),
            }))
        })
        .map_err(map_err)?
        .ok_or_else(|| exc::TopicTypeError::new_err(format!("kind must be \"image\", \"depth\" or \"points\", not {kind:?}")))?;
    wrap_any(py, p)
}

/// The CDR of a geometry_msgs/Twist.
#[pyfunction]
pub fn _ros2_twist_encode<'py>(py: Python<'py>, linear: [f64; 3], angular: [f64; 3]) -> Bound<'py, PyBytes> {
    let v = |a: [f64; 3]| msgs::Vector3 { x: a[0], y: a[1], z: a[2] };
    PyBytes::new(py, &msgs::Twist { linear: v(linear), angular: v(angular) }.encode())
}

/// A geometry_msgs/Twist from CDR: (linear, angular).
#[pyfunction]
pub fn _ros2_twist_decode(data: &[u8]) -> PyResult<([f64; 3], [f64; 3])> {
    let t = msgs::Twist::decode(data).map_err(|e| exc::InvalidDescriptorError::new_err(e.to_string()))?;
    Ok(([t.linear.x, t.linear.y, t.linear.z], [t.angular.x, t.angular.y, t.angular.z]))
}

/// The `RIHS01_...` type hash of a mapped ROS 2 type (None for others).
#[pyfunction]
pub fn _ros2_type_hash(type_name: &str) -> Option<String> {
    tensorbus_ros2::type_hash(type_name)
}
