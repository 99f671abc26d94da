"""ROS 2 wire form without ROS 2: tensorbus payloads and messages as the CDR bytes (XCDR1,
little-endian, with the encapsulation header) that rmw implementations send and rosbag2 records.

    >>> import tensorbus as tb
    >>> data = tb.ros2.to_cdr(img)                              # sensor_msgs/msg/Image
    >>> img2 = tb.ros2.from_cdr("sensor_msgs/msg/Image", data)   # a tb.Image in a pool slot

Mapped types (both directions): ``tb.Image`` ⇄ ``sensor_msgs/msg/Image`` (rgb8, bgr8, rgba8, bgra8,
mono8, mono16, yuv422, 32FC1, 32FC3, bayer_rggb8), ``tb.DepthImage`` ⇄ ``sensor_msgs/msg/Image``
(16UC1 millimetres, 32FC1 metres; ``from_cdr(..., depth=True)``), ``tb.PointCloud`` ⇄
``sensor_msgs/msg/PointCloud2`` (float32 x, y, z [, intensity | r, g, b]), ``tb.Twist`` ⇄
``geometry_msgs/msg/Twist`` (``tb.CmdVel`` encodes as a Twist: linear.x, angular.z). The stamp is
``timestamp_ns``; ``frame_id`` is kept. Decoding copies the pixels once, into a loaned slot;
what cannot be represented (another encoding, big-endian data) raises ``InvalidDescriptorError``.
"""

from typing import Any

from . import _native
from .messages import CmdVel, Twist

__all__ = ["to_cdr", "from_cdr", "type_hash", "TYPES"]

#: The ROS 2 type each tensorbus type is sent as.
TYPES = {
    "Image": "sensor_msgs/msg/Image",
    "DepthImage": "sensor_msgs/msg/Image",
    "PointCloud": "sensor_msgs/msg/PointCloud2",
    "Twist": "geometry_msgs/msg/Twist",
    "CmdVel": "geometry_msgs/msg/Twist",
}


def to_cdr(obj: Any) -> bytes:
    """The CDR of ``obj`` (a payload is frozen, as by a send)."""
    if isinstance(obj, Twist):
        return _native._ros2_twist_encode(list(obj.linear), list(obj.angular))
    if isinstance(obj, CmdVel):
        return _native._ros2_twist_encode([obj.linear, 0.0, 0.0], [0.0, 0.0, obj.angular])
    if isinstance(obj, _native.Payload):
        return _native._ros2_encode(obj)
    raise TypeError(f"no ROS 2 type for {type(obj).__name__}; mapped: {', '.join(TYPES)}")


def from_cdr(ros_type: str, data: bytes, depth: bool = False) -> Any:
    """Decode the CDR of ``ros_type`` (``sensor_msgs/msg/Image``, ``sensor_msgs/msg/PointCloud2``,
    ``geometry_msgs/msg/Twist``; the ``/msg/`` may be left out); ``depth=True`` makes an Image a
    ``tb.DepthImage``."""
    t = ros_type.replace("/msg/", "/")
    if t == "sensor_msgs/Image":
        return _native._ros2_decode("depth" if depth else "image", data)
    if t == "sensor_msgs/PointCloud2":
        return _native._ros2_decode("points", data)
    if t == "geometry_msgs/Twist":
        linear, angular = _native._ros2_twist_decode(data)
        return Twist(timestamp_ns=0, linear=tuple(linear), angular=tuple(angular))
    raise TypeError(f"no tensorbus type for ROS 2 type {ros_type!r}; mapped: {', '.join(sorted(set(TYPES.values())))}")


def type_hash(ros_type: str) -> str:
    """The ``RIHS01_...`` type hash (REP 2011) of a mapped ROS 2 type, what rmw_zenoh's key
    expressions and rosbag2 carry (``sensor_msgs/msg/Image``, ``.../PointCloud2``,
    ``geometry_msgs/msg/Twist`` and the types they use)."""
    h = _native._ros2_type_hash(ros_type if "/msg/" in ros_type else ros_type.replace("/", "/msg/", 1))
    if h is None:
        raise TypeError(f"no type hash for {ros_type!r}: only the mapped types ({', '.join(sorted(set(TYPES.values())))}) and the types they use")
    return h
