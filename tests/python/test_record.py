"""Recording, replay and reading (`tb.Recorder`, `tb.replay`, `tb.read_mcap`, `tensorbus record`),
with external readers as the oracle: the official `mcap` package reads the files (summary,
channels, schemas, every message), `mcap-ros2-support` and `rosbags` decode the ROS 2 encodings
(field values and pixel bytes equal what was published); a file written by the `mcap` writer the way
rosbag2 writes it replays into tensorbus as Images; corrupt and truncated files raise, never crash."""

import json
import os
import subprocess
import sys
import time

import _protobuf
import numpy as np
import pytest
from _children import Child, env_for

mcap_reader = pytest.importorskip("mcap.reader", reason="mcap (make test installs it)")
mcap_writer = pytest.importorskip("mcap.writer", reason="mcap (make test installs it)")
mcap_ros2 = pytest.importorskip("mcap_ros2.decoder", reason="mcap-ros2-support (make test installs it)")
rosbags_typesys = pytest.importorskip("rosbags.typesys", reason="rosbags (make test installs it)")
TS = rosbags_typesys.get_typestore(rosbags_typesys.Stores.ROS2_HUMBLE)


def frame(i, h=6, w=10, c=3, dtype=np.uint8):
    shape = (h, w) if c == 1 else (h, w, c)
    return ((np.arange(int(np.prod(shape))).reshape(shape) * 3 + i) % 251).astype(dtype)


def record_everything(tb, path, n=8, **kw):
    """Publish n messages on every kind of topic while a Recorder records them; the report and
    what was sent."""

    @tb.message
    class Wheels:
        timestamp_ns: tb.u64
        left: tb.f32
        right: tb.f32

    topics = {
        "cam.rgb": tb.Topic("cam.rgb", tb.Image), "cam.mono16": tb.Topic("cam.mono16", tb.Image),
        "depth": tb.Topic("depth", tb.DepthImage), "lidar": tb.Topic("lidar", tb.PointCloud),
        "cmd_vel": tb.Topic("cmd_vel", tb.CmdVel), "twist": tb.Topic("twist", tb.Twist),
        "wheels": tb.Topic("wheels", Wheels), "status": tb.Topic("status", dict), "feat": tb.Topic("feat", tb.Tensor),
    }
    sent = {k: [] for k in topics}
    with tb.Recorder(path, **kw) as rec:
        time.sleep(0.7)  # the recorder discovers topics every 0.5 s
        for i in range(n):
            img = tb.Image.from_numpy(frame(i), "rgb8")
            img.frame_id, img.timestamp_ns = "cam0", 1_700_000_000_000_000_000 + i
            m16 = tb.Image.from_numpy(frame(i, c=1, dtype=np.uint16), "mono16")
            d = tb.DepthImage.from_numpy(frame(i, 4, 5, 1, np.uint16))
            pc = tb.PointCloud.from_numpy(frame(i, 7, 4, 1, np.float32) * 0.5, "xyzi")
            msgs = {"cam.rgb": img, "cam.mono16": m16, "depth": d, "lidar": pc, "cmd_vel": tb.CmdVel(linear=i * 0.5, angular=-1.0),
                    "twist": tb.Twist(timestamp_ns=i + 1, linear=(1.0, 2.0, float(i)), angular=(0.0, 0.5, 0.25)),
                    "wheels": Wheels(left=float(i), right=-float(i)), "status": {"i": i, "ok": True, "names": ["a", "b"]},
                    "feat": tb.Tensor.from_numpy(np.arange(12, dtype=np.float32).reshape(3, 4) * i)}
            for k, m in msgs.items():
                topics[k].send(m)
                sent[k].append(m)
            time.sleep(0.01)
        time.sleep(0.3)
    return rec.report(), sent, Wheels


def test_a_recording_reads_back_in_the_mcap_package_and_ros_decoders(tb, fresh_ns, tmp_path):
    path = tmp_path / "run.mcap"
    report, sent, Wheels = record_everything(tb, path)
    assert {k: v["messages"] for k, v in report["topics"].items()} == {k: 8 for k in sent}, report
    assert all(v["misses"] == 0 and v["skipped"] == 0 for v in report["topics"].values())
    with open(path, "rb") as f:
        r = mcap_reader.make_reader(f)
        factory, decoders = mcap_ros2.DecoderFactory(), {}
        s = r.get_summary()
        ch = {c.topic: c for c in s.channels.values()}
        schema = {c.topic: s.schemas[c.schema_id].name if c.schema_id else "" for c in s.channels.values()}
        assert schema == {"cam.rgb": "sensor_msgs/msg/Image", "cam.mono16": "sensor_msgs/msg/Image", "depth": "sensor_msgs/msg/Image",
                          "lidar": "sensor_msgs/msg/PointCloud2", "cmd_vel": "CmdVel", "twist": "Twist", "wheels": "Wheels",
                          "status": "", "feat": "tensorbus_msgs/msg/Tensor"}
        assert ch["cam.rgb"].message_encoding == "cdr" and ch["cmd_vel"].message_encoding == "json" and ch["status"].message_encoding == "json"
        assert s.statistics.message_count == 8 * len(sent)
        got = {}
        for sch, c, m in r.iter_messages():
            decoded = None
            if c.message_encoding == "cdr":  # mcap-ros2-support decodes from the schema text alone
                dec = decoders.setdefault(c.id, factory.decoder_for("cdr", sch))
                decoded = dec(m.data)
            got.setdefault(c.topic, []).append((m, decoded))
    for i, (m, img) in enumerate(got["cam.rgb"]):
        assert (img.height, img.width, img.encoding, img.step, img.header.frame_id) == (6, 10, "rgb8", 30, "cam0")
        assert bytes(img.data) == frame(i).tobytes()
        assert m.publish_time == 1_700_000_000_000_000_000 + i and m.log_time > 0
        # rosbags decodes the very same bytes.
        rb = TS.deserialize_cdr(m.data, "sensor_msgs/msg/Image")
        assert bytes(rb.data) == frame(i).tobytes() and rb.encoding == "rgb8"
    assert [d.encoding for _, d in got["depth"]] == ["16UC1"] * 8 and [d.encoding for _, d in got["cam.mono16"]] == ["mono16"] * 8
    assert bytes(got["cam.mono16"][3][1].data) == frame(3, c=1, dtype=np.uint16).tobytes()
    pc = got["lidar"][5][1]
    assert [f.name for f in pc.fields] == ["x", "y", "z", "intensity"] and pc.width == 7 and pc.point_step == 16
    np.testing.assert_array_equal(np.frombuffer(bytes(pc.data), np.float32).reshape(7, 4), frame(5, 7, 4, 1, np.float32) * 0.5)
    t = got["feat"][2][1]
    assert (t.dtype, list(t.shape)) == ("float32", [3, 4])
    np.testing.assert_array_equal(np.frombuffer(bytes(t.data), np.float32).reshape(3, 4), np.arange(12, dtype=np.float32).reshape(3, 4) * 2)
    cmd = [json.loads(m.data) for m, _ in got["cmd_vel"]]
    assert [c["linear"] for c in cmd] == [i * 0.5 for i in range(8)] and all(c["angular"] == -1.0 for c in cmd)
    assert json.loads(got["twist"][4][0].data) == {"timestamp_ns": 5, "linear": [1.0, 2.0, 4.0], "angular": [0.0, 0.5, 0.25]}
    assert json.loads(got["wheels"][7][0].data)["right"] == -7.0
    assert [json.loads(m.data) for m, _ in got["status"]] == [{"i": i, "ok": True, "names": ["a", "b"]} for i in range(8)]
    js = json.loads(s.schemas[ch["wheels"].schema_id].data)
    assert js["title"] == "Wheels" and js["properties"]["left"] == {"type": "number"}


def test_read_mcap_and_replay_give_back_what_was_published(tb, fresh_ns, tmp_path):
    path = tmp_path / "run.mcap"
    _, sent, Wheels = record_everything(tb, path, n=5)
    back = {}
    for topic, v in tb.read_mcap(path):
        back.setdefault(topic, []).append(v)
    np.testing.assert_array_equal(back["cam.rgb"][4].to_numpy(), frame(4))
    assert back["cam.rgb"][4].frame_id == "cam0" and back["cam.rgb"][4].timestamp_ns == 1_700_000_000_000_000_004
    assert isinstance(back["depth"][0], tb.DepthImage) and isinstance(back["lidar"][0], tb.PointCloud) and isinstance(back["feat"][0], tb.Tensor)
    # A timestamp left at 0 is stamped at send: the recording holds the stamped one.
    assert [(w.left, w.right) for w in back["wheels"]] == [(w.left, w.right) for w in sent["wheels"]] and all(w.timestamp_ns > 0 for w in back["wheels"])
    assert isinstance(back["wheels"][0], Wheels) and [c.linear for c in back["cmd_vel"]] == [c.linear for c in sent["cmd_vel"]]
    assert back["status"] == sent["status"]
    assert back["twist"] == sent["twist"]
    # Replay into a namespace of its own: the same types, shapes, values on ordinary subscribers.
    with tb_namespace(tb, fresh_ns + "-replay"):
        subs = {"cam.rgb": tb.Topic("cam.rgb", tb.Image, depth=8), "wheels": tb.Topic("wheels", Wheels, depth=8), "status": tb.Topic("status", dict, depth=8)}
        for s in subs.values():
            s.recv()
        r = tb.replay(path, rate=0, remap={"status": "status"}, topics=["cam.*", "wheels", "status"])
        assert r["messages"] == 5 * 4 and r["skipped"] == 0, r
        imgs = [subs["cam.rgb"].recv() for _ in range(5)]
        np.testing.assert_array_equal(imgs[2].to_numpy(), frame(2))
        assert [subs["wheels"].recv() for _ in range(5)] == back["wheels"]
        assert [subs["status"].recv() for _ in range(5)] == sent["status"]


class tb_namespace:
    def __init__(self, tb, name):
        self.tb, self.name = tb, name

    def __enter__(self):
        self.prev = os.environ.get("TENSORBUS_NAMESPACE")
        self.tb.use_namespace(self.name)

    def __exit__(self, *exc):
        self.tb.use_namespace(self.prev)


def test_a_rosbag2_style_file_replays_as_images(tb, fresh_ns, tmp_path):
    """Written with the `mcap` writer the way rosbag2 does (ros2msg schema, CDR from rosbags)."""
    T = TS.types
    path = tmp_path / "rosbag.mcap"
    schema_text = ("std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\nuint8 is_bigendian\nuint32 step\nuint8[] data\n"
                   + "=" * 80 + "\nMSG: std_msgs/Header\nbuiltin_interfaces/Time stamp\nstring frame_id\n"
                   + "=" * 80 + "\nMSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n")
    with open(path, "wb") as f:
        w = mcap_writer.Writer(f)
        w.start(profile="ros2", library="rosbag2-like")
        sid = w.register_schema(name="sensor_msgs/msg/Image", encoding="ros2msg", data=schema_text.encode())
        cid = w.register_channel(topic="/camera/image_raw", message_encoding="cdr", schema_id=sid)
        for i in range(4):
            a = frame(i, 5, 7, 3)
            msg = T["sensor_msgs/msg/Image"](header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=100 + i, nanosec=5), frame_id="camera"),
                                             height=5, width=7, encoding="bgr8", is_bigendian=0, step=21, data=a.ravel())
            w.add_message(channel_id=cid, log_time=(100 + i) * 10**9, publish_time=(100 + i) * 10**9, data=bytes(TS.serialize_cdr(msg, "sensor_msgs/msg/Image")))
        w.finish()
    got = [v for _, v in tb.read_mcap(path)]
    assert [g.encoding for g in got] == ["bgr8"] * 4 and got[1].timestamp_ns == 101 * 10**9 + 5 and got[1].frame_id == "camera"
    np.testing.assert_array_equal(got[3].to_numpy(), frame(3, 5, 7, 3))
    sub = tb.Topic("cam", tb.Image, depth=8)
    sub.recv()
    r = tb.replay(path, rate=0, remap={"/camera/image_raw": "cam"})
    assert r["messages"] == 4
    np.testing.assert_array_equal(sub.recv(timeout=1).to_numpy(), frame(0, 5, 7, 3))


def test_the_cli_records_splits_reports_and_replays(tb, fresh_ns, tmp_path):
    pub = Child(
        """
cam = tb.Topic("cli.cam", tb.Image)
print("ready", flush=True)
for i in range(60):
    cam.send(tb.Image.from_numpy(np.full((64, 64, 3), i % 250, np.uint8), "rgb8"))
    time.sleep(0.02)
print("done", flush=True)
sys.stdin.readline()
""".replace("time.sleep", "__import__('time').sleep"),
        namespace=fresh_ns,
    )
    pub.expect("ready")
    out = tmp_path / "cli.mcap"
    rec = subprocess.run([sys.executable, "-m", "tensorbus", "record", "-o", str(out), "--duration", "2.5", "--split", "40KiB", "--compression", "lz4", "cli.*"],
                         env=env_for(fresh_ns), capture_output=True, text=True, timeout=60)
    pub.expect("done")
    pub.finish()
    assert rec.returncode == 0, rec.stderr
    files = sorted(tmp_path.glob("cli*.mcap"))
    assert len(files) >= 2, (rec.stdout, files)  # 12 KiB frames, 40 KiB per file
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            total += mcap_reader.make_reader(fh).get_summary().statistics.message_count
    assert 30 <= total <= 60, total
    info = subprocess.run([sys.executable, "-m", "tensorbus", "record", "info", str(files[0]), "--json"], env=env_for(fresh_ns), capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    j = json.loads(info.stdout)
    assert j["topics"][0]["topic"] == "cli.cam" and j["topics"][0]["schema"] == "sensor_msgs/msg/Image" and j["topics"][0]["misses"] is not None
    rp = subprocess.run([sys.executable, "-m", "tensorbus", "replay", str(files[0]), "--rate", "0", "--remap", "cli.cam:=cli.again"],
                        env=env_for(fresh_ns), capture_output=True, text=True, timeout=60)
    assert rp.returncode == 0 and "cli.again" in rp.stdout, rp.stdout + rp.stderr


def test_replay_keeps_the_recorded_intervals(tb, fresh_ns, tmp_path):
    """At rate 1.0 the intervals between frames match the recorded ones (median within 2 ms: the
    gaps are 5-50 ms, so a replay that ignored them would be off by far more; 1 ms failed once on
    this 2-core VM)."""
    path = tmp_path / "pace.mcap"
    gaps = [0.01, 0.03, 0.005, 0.02, 0.05, 0.015, 0.04, 0.01, 0.025, 0.02]
    with open(path, "wb") as f:
        w = mcap_writer.Writer(f)
        w.start()
        cid = w.register_channel(topic="pace", message_encoding="json", schema_id=0)
        t = 10**18
        for i, g in enumerate([0.0] + gaps):
            t += int(g * 1e9)
            w.add_message(channel_id=cid, log_time=t, publish_time=t, data=json.dumps({"i": i}).encode())
        w.finish()
    sub = tb.Topic("pace", dict, depth=16)
    sub.recv()
    arrivals = []

    def collect():
        while len(arrivals) < len(gaps) + 1:
            m = sub.recv(timeout=5)
            assert m is not None
            arrivals.append(time.monotonic())

    import threading

    th = threading.Thread(target=collect)
    th.start()
    tb.replay(path, rate=1.0)
    th.join()
    err = np.abs(np.diff(arrivals) - np.array(gaps))
    assert np.median(err) < 0.002, err
    # rate 2.0 halves them
    arrivals.clear()
    th = threading.Thread(target=collect)
    th.start()
    tb.replay(path, rate=2.0)
    th.join()
    assert abs(sum(np.diff(arrivals)) - sum(gaps) / 2) < 0.02


def test_corrupt_and_truncated_files_raise(tb, fresh_ns, tmp_path):
    path = tmp_path / "ok.mcap"
    record_everything(tb, path, n=3)
    data = path.read_bytes()
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(tb.TensorbusError):
        tb.record_info(junk)
    with pytest.raises(tb.TensorbusError):
        list(tb.read_mcap(junk))
    with pytest.raises(tb.TensorbusError):
        tb.replay(junk, rate=0)
    for cut in (len(data) // 3, len(data) - 40, 20):
        bad = tmp_path / f"cut{cut}.mcap"
        bad.write_bytes(data[:cut])
        with pytest.raises((tb.TensorbusError, OSError)):
            tb.record_info(bad)
        try:
            n = sum(1 for _ in tb.read_mcap(bad, errors="skip"))
        except tb.TensorbusError:
            n = -1  # a clean error is fine
        assert n < 27
    # Flipped bytes inside the data section: still no crash.
    flipped = bytearray(data)
    for k in range(200, len(flipped) - 200, 97):
        flipped[k] ^= 0x5A
    fb = tmp_path / "flipped.mcap"
    fb.write_bytes(bytes(flipped))
    try:
        list(tb.read_mcap(fb, errors="skip"))
    except tb.TensorbusError:
        pass
    assert tb.pool_stats()["used_slots"] >= 0
    with pytest.raises(OSError):
        tb.record_info(tmp_path / "missing.mcap")


# ---- foxglove protobuf encoding (foxglove-sdk's own descriptors as the oracle) ----------------

def _messages(descriptor_set):
    """{".pkg.Message": {field name: (number, type, type_name, repeated)}} of a FileDescriptorSet."""
    out = {}
    for f in _protobuf.fields(descriptor_set).get(1, []):
        fd = _protobuf.fields(f)
        pkg = fd.get(2, [b""])[0].decode()
        for m in fd.get(4, []):
            md = _protobuf.fields(m)
            fields = {}
            for fl in md.get(2, []):
                x = _protobuf.fields(fl)
                fields[x[1][0].decode()] = (x[3][0], x[5][0], x.get(6, [b""])[0].decode(), x.get(4, [1])[0] == 3)
            out[f".{pkg}.{md[1][0].decode()}"] = fields
    return out


def _decode(msgs, name, buf):
    """Decode `buf` as message `name` with the field table of a descriptor set (nested messages too)."""
    import struct
    raw, out = _protobuf.fields(buf), {}
    for fname, (num, typ, tname, repeated) in msgs[name].items():
        vals = raw.get(num, [])
        conv = []
        for v in vals:
            if typ == 11:
                conv.append(_decode(msgs, tname, v))
            elif typ == 9:
                conv.append(v.decode())
            elif typ == 7:
                conv.append(struct.unpack("<I", v)[0])
            elif typ == 1:
                conv.append(struct.unpack("<d", v)[0])
            else:
                conv.append(v)
        out[fname] = conv if repeated else (conv[0] if conv else None)
    return out


def test_foxglove_encoding_matches_foxglove_sdk_schemas(tb, fresh_ns, tmp_path):
    fg = pytest.importorskip("foxglove.messages", reason="foxglove-sdk (make test installs it)")
    path = tmp_path / "fg.mcap"
    cam, lidar, depth = tb.Topic("fg.cam", tb.Image), tb.Topic("fg.lidar", tb.PointCloud), tb.Topic("fg.depth", tb.DepthImage)
    with tb.Recorder(path, foxglove=True):
        time.sleep(0.7)
        img = tb.Image.from_numpy(frame(3), "bgr8")
        img.frame_id, img.timestamp_ns = "cam", 5_000_000_007
        cam.send(img)
        pts = (np.arange(15, dtype=np.float32).reshape(5, 3) * 0.5).astype(np.float32)
        lidar.send(tb.PointCloud.from_numpy(pts, "xyz"))
        depth.send(tb.DepthImage.from_numpy(frame(1, 3, 4, 1, np.uint16)))
        time.sleep(0.3)
    theirs = {"foxglove.RawImage": _messages(fg.RawImage().get_schema().data), "foxglove.PointCloud": _messages(fg.PointCloud().get_schema().data)}
    with open(path, "rb") as f:
        r = mcap_reader.make_reader(f)
        got = {}
        for schema, ch, m in r.iter_messages():
            assert schema.encoding == "protobuf" and ch.message_encoding == "protobuf"
            ours = _messages(schema.data)
            # Our descriptor set declares the same messages, fields, numbers and types as Foxglove's.
            want = theirs[schema.name]
            for msg, fields in want.items():
                if msg in ours:
                    assert {k: v[:2] for k, v in ours[msg].items()} == {k: v[:2] for k, v in fields.items()}, msg
            assert "." + schema.name in ours
            got[ch.topic] = _decode(want, "." + schema.name, m.data)  # decoded with Foxglove's schema
    ri = got["fg.cam"]
    assert (ri["width"], ri["height"], ri["encoding"], ri["step"], ri["frame_id"]) == (10, 6, "bgr8", 30, "cam")
    assert ri["data"] == frame(3).tobytes()
    assert ri["timestamp"] == {"seconds": 5, "nanos": 7}
    pc = got["fg.lidar"]
    assert pc["point_stride"] == 12 and [f["name"] for f in pc["fields"]] == ["x", "y", "z"] and pc["data"] == pts.tobytes()
    assert got["fg.depth"]["encoding"] == "16UC1"
    # And they read back as tensorbus objects.
    back = dict(tb.read_mcap(path))
    np.testing.assert_array_equal(back["fg.cam"].to_numpy(), frame(3))
    assert back["fg.cam"].timestamp_ns == 5_000_000_007 and back["fg.cam"].frame_id == "cam"
    np.testing.assert_array_equal(back["fg.lidar"].to_numpy(), pts)
    assert isinstance(back["fg.depth"], tb.DepthImage)


def test_foxglove_messages_parse_with_the_protobuf_library(tb, fresh_ns, tmp_path):
    """The `protobuf` package builds message classes from the FileDescriptorSet in the file and
    parses every message with them."""
    pytest.importorskip("google.protobuf", reason="protobuf (make test installs it)")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    path = tmp_path / "pb.mcap"
    cam, lidar = tb.Topic("pb.cam", tb.Image), tb.Topic("pb.lidar", tb.PointCloud)
    pts = (np.arange(18, dtype=np.float32).reshape(3, 6) * 0.25).astype(np.float32)
    with tb.Recorder(path, foxglove=True, compression="lz4"):
        time.sleep(0.7)
        img = tb.Image.from_numpy(frame(2, 4, 6, 4), "rgba8")
        img.frame_id, img.timestamp_ns = "front", 1_234_567_890_123
        cam.send(img)
        lidar.send(tb.PointCloud.from_numpy(pts, "xyzrgb"))
        time.sleep(0.3)
    with open(path, "rb") as f:
        r = mcap_reader.make_reader(f)
        parsed = {}
        for schema, ch, m in r.iter_messages():
            fds = descriptor_pb2.FileDescriptorSet.FromString(schema.data)
            pool = descriptor_pool.DescriptorPool()
            for fd in fds.file:
                pool.Add(fd)
            cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(schema.name))
            parsed[ch.topic] = cls.FromString(m.data)
    ri = parsed["pb.cam"]
    assert (ri.width, ri.height, ri.encoding, ri.step, ri.frame_id) == (6, 4, "rgba8", 24, "front")
    assert (ri.timestamp.seconds, ri.timestamp.nanos) == (1234, 567_890_123) and ri.data == frame(2, 4, 6, 4).tobytes()
    pc = parsed["pb.lidar"]
    assert [(f.name, f.offset, f.type) for f in pc.fields] == [("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("red", 12, 7), ("green", 16, 7), ("blue", 20, 7)]
    assert pc.point_stride == 24 and pc.data == pts.tobytes() and pc.pose.orientation.w == 1.0


def test_bad_arguments_are_clear_errors(tb, fresh_ns, tmp_path):
    with pytest.raises(ValueError, match="compression"):
        tb.Recorder(tmp_path / "x.mcap", compression="gzip")
    with pytest.raises(ValueError, match="dicts"):
        tb.Recorder(tmp_path / "x.mcap", dicts="yaml")
    with pytest.raises(ValueError, match="split"):
        tb.Recorder(tmp_path / "x.mcap", split="3 parsecs")
    with pytest.raises(OSError):
        tb.Recorder(tmp_path / "no" / "such" / "dir.mcap")
    path = tmp_path / "ok.mcap"
    tb.Recorder(path).stop()
    with pytest.raises(ValueError, match="rate"):
        tb.replay(path, rate=-1)
    with pytest.raises(ValueError, match="start"):
        tb.replay(path, start=-2)
    assert tb.replay(path, rate=0)["messages"] == 0
