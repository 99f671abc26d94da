"""ROS 2 mode of the bridge (`tb.Bridge(ros2=True, ...)`), checked without ROS 2 against two
independent implementations: `eclipse-zenoh` (a plain Zenoh session that subscribes and publishes
the way an rmw_zenoh node does: data keys, the 33-byte attachment, liveliness tokens under
`@ros2_lv/`) and `rosbags` (the CDR of sensor_msgs/Image, PointCloud2 and geometry_msgs/Twist)."""

import socket
import struct
import time

import numpy as np
import pytest
from _children import wait_until

zenoh = pytest.importorskip("zenoh", reason="eclipse-zenoh (make test installs it)")
rosbags_typesys = pytest.importorskip("rosbags.typesys", reason="rosbags (make test installs it)")

TS = rosbags_typesys.get_typestore(rosbags_typesys.Stores.ROS2_JAZZY)
T = TS.types
IMAGE, CLOUD, TWIST = "sensor_msgs/msg/Image", "sensor_msgs/msg/PointCloud2", "geometry_msgs/msg/Twist"
DDS = {IMAGE: "sensor_msgs::msg::dds_::Image_", CLOUD: "sensor_msgs::msg::dds_::PointCloud2_", TWIST: "geometry_msgs::msg::dds_::Twist_"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(port):
    c = zenoh.Config()
    c.insert_json5("connect/endpoints", f'["tcp/127.0.0.1:{port}"]')
    c.insert_json5("scouting/multicast/enabled", "false")
    return zenoh.open(c)


def attachment(seq, ts, gid):
    """rmw_zenoh's attachment: i64 sequence, i64 source timestamp, the GID's length (16), the GID."""
    return struct.pack("<qqB16s", seq, ts, 16, gid)


def tokens(z, domain):
    return [str(r.ok.key_expr) for r in z.liveliness().get(f"@ros2_lv/{domain}/**", timeout=1.0) if r.ok is not None]


@pytest.fixture
def ros(tb, fresh_ns):
    """A ROS 2 mode bridge on a fresh port (listening) and a plain Zenoh client connected to it."""
    made = []

    def make(domain, export=(), import_=(), humble=False):
        port = free_port()
        b = tb.Bridge(listen=[f"tcp/127.0.0.1:{port}"], ros2=True, domain=domain, humble=humble, node="tb_py",
                      export=list(export), import_=list(import_))
        z = client(port)
        made.append((b, z))
        wait_until(lambda: b.peers(), message="the client never connected")
        return b, z

    yield make
    for b, z in made:
        b.stop()
        z.close()


def test_a_ros_node_graph_sees_the_bridge(tb, ros):
    cam = tb.Topic("camera.rgb", tb.Image)
    cam.send(tb.Image(4, 4, "rgb8"))  # the topic exists: its type decides the ROS type
    b, z = ros(11, export=["camera.rgb=/camera/image_raw"], import_=["cmd_vel=/cmd_vel:geometry_msgs/msg/Twist"])
    found = []
    wait_until(lambda: len(found.extend(tokens(z, 11)) or found) >= 3, message=f"tokens: {found}")
    zid = b.zid
    assert f"@ros2_lv/11/{zid}/0/0/NN/%/%/tb_py" in found
    pub = [k for k in found if "/MP/" in k]
    sub = [k for k in found if "/MS/" in k]
    assert pub and sub, found
    # @ros2_lv/<domain>/<zid>/<nid>/<eid>/MP/<enclave>/<namespace>/<node>/<topic>/<type>/<hash>/<qos>
    f = pub[0].split("/")
    assert f[:3] == ["@ros2_lv", "11", zid] and f[5:12] == ["MP", "%", "%", "tb_py", "%camera%image_raw", DDS[IMAGE], tb.ros2.type_hash(IMAGE)]
    assert f[12].split(",")[0].startswith("2:")  # a latest topic is best effort
    assert sub[0].split("/")[9:11] == ["%cmd_vel", DDS[TWIST]]


def test_images_and_clouds_reach_a_ros_subscriber_as_cdr(tb, ros):
    cam = tb.Topic("camera.rgb", tb.Image)
    pts = tb.Topic("lidar", tb.PointCloud)
    b, z = ros(12, export=["camera.rgb=/camera/image_raw", "lidar=/lidar/points"])
    got = []
    s1 = z.declare_subscriber(f"12/camera/image_raw/{DDS[IMAGE]}/*", lambda s: got.append(("img", s)))
    s2 = z.declare_subscriber(f"12/lidar/points/{DDS[CLOUD]}/*", lambda s: got.append(("pts", s)))
    time.sleep(0.5)
    frame = (np.arange(5 * 7 * 3) % 251).astype(np.uint8).reshape(5, 7, 3)  # odd sizes: padding
    img = tb.Image.from_numpy(frame, "rgb8")
    img.frame_id = "cam_optical"
    img.timestamp_ns = 1_700_000_000_000_000_042
    cam.send(img)
    xyz = np.arange(9, dtype=np.float32).reshape(3, 3)
    pts.send(tb.PointCloud.from_numpy(xyz))
    wait_until(lambda: len(got) >= 2, message=f"got {len(got)} samples")
    by = dict(got)
    for kind, s in by.items():
        seq, ts, n, gid = struct.unpack("<qqB16s", bytes(s.attachment.to_bytes()))
        assert (seq, n) == (1, 16) and ts > 0 and gid != bytes(16), kind
        assert str(s.key_expr).endswith(tb.ros2.type_hash(IMAGE if kind == "img" else CLOUD))
    m = TS.deserialize_cdr(bytes(by["img"].payload.to_bytes()), IMAGE)
    assert (m.height, m.width, m.encoding, m.step, m.header.frame_id) == (5, 7, "rgb8", 21, "cam_optical")
    assert (m.header.stamp.sec, m.header.stamp.nanosec) == (1_700_000_000, 42)
    assert bytes(m.data) == frame.tobytes()
    c = TS.deserialize_cdr(bytes(by["pts"].payload.to_bytes()), CLOUD)
    assert (c.width * c.height, [f.name for f in c.fields]) == (3, ["x", "y", "z"])
    np.testing.assert_array_equal(np.frombuffer(bytes(c.data), np.float32).reshape(3, -1)[:, :3], xyz)
    s1.undeclare()
    s2.undeclare()


def test_a_ros_publisher_reaches_tensorbus(tb, ros):
    b, z = ros(13, import_=["camera.in=/camera/in:sensor_msgs/msg/Image", "cmd_vel=/cmd_vel:geometry_msgs/msg/Twist"])
    # Mimic an rmw_zenoh publisher: its liveliness token, its key, the attachment, rosbags' CDR.
    gid = bytes(range(16))
    tok = z.liveliness().declare_token(f"@ros2_lv/13/{z.zid()}/0/1/MP/%/%/fake/%cmd_vel/{DDS[TWIST]}/{tb.ros2.type_hash(TWIST)}/::,10:,:,:,,")
    v3 = T["geometry_msgs/msg/Vector3"]
    twist = TS.serialize_cdr(T[TWIST](linear=v3(x=0.75, y=0.0, z=0.0), angular=v3(x=0.0, y=0.0, z=-1.5)), TWIST)
    key = f"13/cmd_vel/{DDS[TWIST]}/{tb.ros2.type_hash(TWIST)}"
    z.put(key, bytes(twist), attachment=attachment(1, time.time_ns(), gid))
    wait_until(lambda: b.report()["imported"].get("cmd_vel", {}).get("messages", 0) == 1, message=str(b.report()))
    cmd_topic = tb.Topic("cmd_vel", tb.CmdVel)
    cmd = cmd_topic.recv(timeout=2.0)
    assert (cmd.linear, cmd.angular) == (0.75, -1.5)

    frame = (np.arange(3 * 5 * 3) * 5 % 256).astype(np.uint8).reshape(3, 5, 3)
    step = 5 * 3 + 1  # a padded row
    padded = np.zeros((3, step), np.uint8)
    padded[:, :15] = frame.reshape(3, -1)
    t = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=9, nanosec=7), frame_id="ros_cam")
    msg = T[IMAGE](header=t, height=3, width=5, encoding="bgr8", is_bigendian=0, step=step, data=padded.ravel())
    z.put(f"13/camera/in/{DDS[IMAGE]}/{tb.ros2.type_hash(IMAGE)}", bytes(TS.serialize_cdr(msg, IMAGE)), attachment=attachment(1, 0, gid))
    wait_until(lambda: b.report()["imported"].get("camera.in", {}).get("messages", 0) == 1, message=str(b.report()))
    img = tb.Topic("camera.in", tb.Image).recv(timeout=2.0)
    assert (img.encoding, img.frame_id, img.timestamp_ns) == ("bgr8", "ros_cam", 9_000_000_007)
    np.testing.assert_array_equal(img.to_numpy(), frame)

    # Bad CDR and bad attachments from the network: counted, nothing published, no crash.
    z.put(key, b"\x00\x01\x00\x00\x01", attachment=attachment(2, 0, gid))
    z.put(key, bytes(twist))
    z.put(key, bytes(twist), attachment=b"short")
    wait_until(lambda: b.report()["malformed"] == 3, message=str(b.report()))
    assert b.report()["imported"]["cmd_vel"]["dropped"] == 0
    assert cmd_topic.recv(timeout=0.2) is None
    tok.undeclare()


def test_humble_keys(tb, ros):
    cam = tb.Topic("cam", tb.Image)
    b, z = ros(14, export=["cam=/cam"], humble=True)
    got = []
    s = z.declare_subscriber(f"14/cam/{DDS[IMAGE]}/TypeHashNotSupported", got.append)
    time.sleep(0.5)
    cam.send(tb.Image.from_numpy(np.full((2, 2), 7, np.uint8), "mono8"))
    wait_until(lambda: got, message="nothing on the Humble key")
    assert TS.deserialize_cdr(bytes(got[0].payload.to_bytes()), IMAGE).encoding == "mono8"
    found = []
    wait_until(lambda: any("/MP/" in k for k in found.extend(tokens(z, 14)) or found), message=str(found))
    assert any(k.split("/")[11] == "TypeHashNotSupported" for k in found if "/MP/" in k), found
    s.undeclare()


def test_an_unmapped_type_is_refused_at_start(tb, fresh_ns):
    tb.Topic("status").send({"ok": True})
    with pytest.raises(ValueError, match="status.*no ROS 2 mapping"):
        tb.Bridge(listen=[f"tcp/127.0.0.1:{free_port()}"], ros2=True, export=["status=/status"])
    with pytest.raises(ValueError, match="no mapping"):
        tb.Bridge(listen=[f"tcp/127.0.0.1:{free_port()}"], ros2=True, import_=["s=/s:std_msgs/msg/String"])
