"""`tb.ros2`: the CDR of the mapped ROS 2 types, checked against an independent implementation, the
`rosbags` package: what tensorbus encodes decodes there to the same field values, and what rosbags
serializes decodes in tensorbus to the same pixels and points, for every supported encoding and odd
sizes (string and row padding). Hostile bytes raise, never crash."""

import numpy as np
import pytest

rosbags_typesys = pytest.importorskip("rosbags.typesys", reason="rosbags (make test installs it)")

TS = rosbags_typesys.get_typestore(rosbags_typesys.Stores.ROS2_HUMBLE)
T = TS.types
IMAGE, CLOUD, TWIST = "sensor_msgs/msg/Image", "sensor_msgs/msg/PointCloud2", "geometry_msgs/msg/Twist"

# (tensorbus encoding, ROS encoding, numpy dtype, channels)
ENCODINGS = [
    ("rgb8", "rgb8", np.uint8, 3),
    ("bgr8", "bgr8", np.uint8, 3),
    ("rgba8", "rgba8", np.uint8, 4),
    ("bgra8", "bgra8", np.uint8, 4),
    ("mono8", "mono8", np.uint8, 1),
    ("mono16", "mono16", np.uint16, 1),
    ("mono32f", "32FC1", np.float32, 1),
    ("rgb32f", "32FC3", np.float32, 3),
    ("bayer_rggb8", "bayer_rggb8", np.uint8, 1),
]
SIZES = [(1, 1), (3, 5), (7, 2)]


def header(sec, nanosec, frame_id):
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id=frame_id)


def pixels(h, w, dtype, c, seed=0):
    shape = (h, w) if c == 1 else (h, w, c)
    return (np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) * 7 + seed).astype(dtype)


@pytest.mark.parametrize("tb_enc,ros_enc,dtype,c", ENCODINGS)
@pytest.mark.parametrize("h,w", SIZES)
def test_images_decode_in_rosbags_and_back(tb, fresh_ns, tb_enc, ros_enc, dtype, c, h, w):
    a = pixels(h, w, dtype, c)
    img = tb.Image.from_numpy(a, tb_enc)
    img.frame_id = "c" * (h + w)  # odd lengths: the string pads what follows
    img.timestamp_ns = 1_700_000_000_123_456_789
    raw = tb.ros2.to_cdr(img)
    m = TS.deserialize_cdr(raw, IMAGE)
    assert (m.height, m.width, m.encoding, m.is_bigendian, m.step) == (h, w, ros_enc, 0, w * c * a.itemsize)
    assert (m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id) == (1_700_000_000, 123_456_789, img.frame_id)
    assert bytes(m.data) == a.tobytes()
    # And rosbags' bytes, with rows padded by 3 bytes, decode into a tensorbus Image.
    step = w * c * a.itemsize + 3
    padded = np.zeros((h, step), np.uint8)
    padded[:, : w * c * a.itemsize] = a.reshape(h, -1).view(np.uint8)
    msg = T[IMAGE](header=header(5, 6, "cam"), height=h, width=w, encoding=ros_enc, is_bigendian=0, step=step, data=padded.ravel())
    back = tb.ros2.from_cdr(IMAGE, bytes(TS.serialize_cdr(msg, IMAGE)))
    assert isinstance(back, tb.Image) and back.encoding == tb_enc
    np.testing.assert_array_equal(back.to_numpy(), a)
    assert (back.timestamp_ns, back.frame_id) == (5_000_000_006, "cam")


@pytest.mark.parametrize("ros_enc,unit,dtype", [("16UC1", "mm", np.uint16), ("32FC1", "m", np.float32)])
def test_depth_both_ways(tb, fresh_ns, ros_enc, unit, dtype):
    a = pixels(4, 3, dtype, 1, seed=1)
    d = tb.DepthImage.from_numpy(a)
    assert d.unit == unit
    m = TS.deserialize_cdr(tb.ros2.to_cdr(d), IMAGE)
    assert m.encoding == ros_enc and bytes(m.data) == a.tobytes()
    msg = T[IMAGE](header=header(1, 2, "depth"), height=4, width=3, encoding=ros_enc, is_bigendian=0, step=3 * a.itemsize, data=np.frombuffer(a.tobytes(), np.uint8))
    back = tb.ros2.from_cdr(IMAGE, bytes(TS.serialize_cdr(msg, IMAGE)), depth=True)
    assert isinstance(back, tb.DepthImage)
    np.testing.assert_array_equal(back.to_numpy(), a)


FIELD_NAMES = {"xyz": ["x", "y", "z"], "xyzi": ["x", "y", "z", "intensity"], "xyzrgb": ["x", "y", "z", "r", "g", "b"]}


@pytest.mark.parametrize("fields", list(FIELD_NAMES))
def test_point_clouds_both_ways(tb, fresh_ns, fields):
    names = FIELD_NAMES[fields]
    pts = (np.arange(5 * len(names), dtype=np.float32).reshape(5, len(names)) * 0.25).astype(np.float32)
    pc = tb.PointCloud.from_numpy(pts, fields)
    pc.frame_id = "lidar"
    m = TS.deserialize_cdr(tb.ros2.to_cdr(pc), CLOUD)
    assert [f.name for f in m.fields] == names and all(f.datatype == 7 and f.count == 1 for f in m.fields)
    assert (m.height, m.width, m.point_step, m.row_step, m.header.frame_id) == (1, 5, 4 * len(names), 20 * len(names), "lidar")
    assert bytes(m.data) == pts.tobytes()
    # rosbags' cloud: 2 rows, one spare float per point (point_step padding), fields in another order.
    step = 4 * (len(names) + 1)
    rows = np.zeros((10, len(names) + 1), np.float32)
    order = list(reversed(range(len(names))))
    big = np.concatenate([pts, pts * 2])
    for k, col in enumerate(order):
        rows[:, col] = big[:, k]
    PF = T["sensor_msgs/msg/PointField"]
    pfs = [PF(name=n, offset=4 * order[k], datatype=7, count=1) for k, n in enumerate(names)]
    msg = T[CLOUD](header=header(3, 4, "l"), height=2, width=5, fields=pfs, is_bigendian=False, point_step=step, row_step=5 * step,
                   data=np.frombuffer(rows.tobytes(), np.uint8), is_dense=True)
    back = tb.ros2.from_cdr(CLOUD, bytes(TS.serialize_cdr(msg, CLOUD)))
    assert back.fields == fields
    np.testing.assert_array_equal(back.to_numpy(), big)


def test_twist_and_cmd_vel(tb):
    t = tb.Twist(timestamp_ns=0, linear=(1.0, 2.0, 3.0), angular=(-1.0, 0.5, 0.25))
    m = TS.deserialize_cdr(tb.ros2.to_cdr(t), TWIST)
    assert (m.linear.x, m.linear.y, m.linear.z, m.angular.x, m.angular.y, m.angular.z) == (1.0, 2.0, 3.0, -1.0, 0.5, 0.25)
    m = TS.deserialize_cdr(tb.ros2.to_cdr(tb.CmdVel(linear=0.5, angular=-0.25)), TWIST)
    assert (m.linear.x, m.angular.z, m.linear.y) == (0.5, -0.25, 0.0)
    V = T["geometry_msgs/msg/Vector3"]
    raw = bytes(TS.serialize_cdr(T[TWIST](linear=V(x=4.0, y=5.0, z=6.0), angular=V(x=7.0, y=8.0, z=9.0)), TWIST))
    back = tb.ros2.from_cdr("geometry_msgs/Twist", raw)
    assert tuple(back.linear) == (4.0, 5.0, 6.0) and tuple(back.angular) == (7.0, 8.0, 9.0)


def test_hostile_cdr_raises_and_leaks_nothing(tb, fresh_ns):
    img = tb.Image.from_numpy(pixels(3, 4, np.uint8, 3), "rgb8")
    img.frame_id = "cam"
    raw = tb.ros2.to_cdr(img)
    for n in range(len(raw)):
        with pytest.raises(tb.InvalidDescriptorError):
            tb.ros2.from_cdr(IMAGE, raw[:n])
    bad = bytearray(raw)
    bad[0:2] = b"\x00\x00"  # big-endian encapsulation
    with pytest.raises(tb.InvalidDescriptorError, match="encapsulation"):
        tb.ros2.from_cdr(IMAGE, bytes(bad))
    msg = T[IMAGE](header=header(0, 0, ""), height=2, width=2, encoding="jpeg", is_bigendian=0, step=2, data=np.zeros(4, np.uint8))
    with pytest.raises(tb.InvalidDescriptorError, match="jpeg"):
        tb.ros2.from_cdr(IMAGE, bytes(TS.serialize_cdr(msg, IMAGE)))
    with pytest.raises(TypeError, match="no tensorbus type"):
        tb.ros2.from_cdr("std_msgs/msg/String", raw)
    del img
    assert tb.pool_stats()["used_slots"] == 0


@pytest.mark.parametrize("typ", ["sensor_msgs/msg/Image", "sensor_msgs/msg/PointCloud2", "sensor_msgs/msg/PointField", "geometry_msgs/msg/Twist",
                                 "geometry_msgs/msg/Vector3", "std_msgs/msg/Header", "builtin_interfaces/msg/Time"])
def test_type_hashes_match_rosbags(tb, typ):
    jazzy = rosbags_typesys.get_typestore(rosbags_typesys.Stores.ROS2_JAZZY)
    assert tb.ros2.type_hash(typ) == jazzy.hash_rihs01(typ)


def test_type_hash_of_an_unmapped_type_is_an_error(tb):
    assert tb.ros2.type_hash("sensor_msgs/Image") == tb.ros2.type_hash("sensor_msgs/msg/Image")
    with pytest.raises(TypeError, match="no type hash"):
        tb.ros2.type_hash("std_msgs/msg/String")
