"""Live view (tensorbus/view.py): the Foxglove WebSocket server seen by a real WebSocket client
(serverInfo, advertise, subscribe, binary message data decoded with the schema the server sends),
and the notebook display of a topic (_jupyter.py)."""

import asyncio
import base64
import json
import re
import signal
import struct
import subprocess
import sys
import time

import _protobuf
import numpy as np
import pytest
from _children import env_for, killed_after
from test_jupyter import pixels

# foxglove-sdk 0.30 accepts only the first (its handshake refuses the second with HTTP 400);
# older servers speak the second.
SUBPROTOCOLS = ["foxglove.sdk.v1", "foxglove.websocket.v1"]


# FieldDescriptorProto.type codes whose wire value is raw bytes to unpack, and string.
_FIXED = {1: "<d", 2: "<f", 6: "<Q", 7: "<I", 15: "<i", 16: "<q"}
_STRING = 9


def message_fields(schema_b64: str, message: str) -> dict[str, tuple[int, int]]:
    """Field name -> (number, type code) of ``message`` in a base64 FileDescriptorSet (the
    advertised schema), read with the wire decoder: FileDescriptorSet.file=1,
    FileDescriptorProto.message_type=4, DescriptorProto.name=1 / field=2,
    FieldDescriptorProto.name=1 / number=3 / type=5."""
    for f in _protobuf.fields(base64.b64decode(schema_b64))[1]:
        for m in _protobuf.fields(f).get(4, []):
            d = _protobuf.fields(m)
            if d[1][0].decode() == message:
                return {fd[1][0].decode(): (fd[3][0], fd[5][0]) for fd in map(_protobuf.fields, d.get(2, []))}
    raise KeyError(message)


def decode(schema_b64: str, message: str, payload: bytes) -> dict[str, list]:
    """``payload`` as a ``message`` of the schema: field name -> values (fixed-width numbers
    unpacked, strings decoded, nested messages and bytes as bytes)."""
    raw = _protobuf.fields(payload)
    out = {}
    for name, (num, typ) in message_fields(schema_b64, message).items():
        vals = raw.get(num, [])
        if typ in _FIXED:
            vals = [struct.unpack(_FIXED[typ], v)[0] for v in vals]
        elif typ == _STRING:
            vals = [v.decode() for v in vals]
        out[name] = vals
    return out


class Client:
    """A Foxglove WebSocket client on its own event loop, driven synchronously by the test."""

    def __init__(self, url: str):
        import websockets

        self.loop = asyncio.new_event_loop()
        self.ws = self.loop.run_until_complete(websockets.connect(url, subprotocols=SUBPROTOCOLS, max_size=None))
        # One reader task feeds a queue: a timed-out wait cancels only `queue.get()` (which is
        # cancellation-safe), never a `ws.recv()` in the middle of a frame (under load that
        # cancellation escaped as CancelledError on Python 3.11).
        self.queue: asyncio.Queue = asyncio.Queue()
        self.reader = self.loop.create_task(self._read())
        self.channels: dict[str, dict] = {}
        self.server_info = self.next_json("serverInfo")

    async def _read(self):
        try:
            while True:
                await self.queue.put(await self.ws.recv())
        except Exception as e:  # connection closed: wake a waiting get
            await self.queue.put(e)

    def recv(self, timeout=5.0):
        m = self.loop.run_until_complete(asyncio.wait_for(self.queue.get(), timeout))
        if isinstance(m, Exception):
            raise EOFError(f"the server closed the connection: {m!r}")
        return m

    def next_json(self, op: str, timeout=5.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.01, deadline - time.monotonic()))
            if isinstance(m, str):
                d = json.loads(m)
                if d["op"] == "advertise":
                    self.channels.update({c["topic"]: c for c in d["channels"]})
                if d["op"] == op:
                    return d

    def wait_channel(self, topic: str, timeout=5.0) -> dict:
        deadline = time.monotonic() + timeout
        while topic not in self.channels:
            self.next_json("advertise", max(0.01, deadline - time.monotonic()))
        return self.channels[topic]

    def subscribe(self, sub_id: int, channel: dict) -> None:
        self.send({"op": "subscribe", "subscriptions": [{"id": sub_id, "channelId": channel["id"]}]})

    def send(self, obj) -> None:
        self.loop.run_until_complete(self.ws.send(json.dumps(obj)))

    def next_data(self, sub_id: int, timeout=5.0) -> tuple[int, bytes]:
        """(log time ns, payload) of the next message data frame of subscription ``sub_id``."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.01, deadline - time.monotonic()))
            if isinstance(m, bytes) and m[0] == 1:
                sid, ts = struct.unpack_from("<IQ", m, 1)
                if sid == sub_id:
                    return ts, m[13:]
            elif isinstance(m, str):
                d = json.loads(m)
                if d["op"] == "advertise":
                    self.channels.update({c["topic"]: c for c in d["channels"]})

    def close(self):
        self.reader.cancel()
        self.loop.run_until_complete(asyncio.gather(self.reader, return_exceptions=True))
        self.loop.run_until_complete(self.ws.close())
        self.loop.close()


@pytest.fixture
def viewer(tb, fresh_ns):
    pytest.importorskip("foxglove", reason="the live view needs foxglove-sdk (pip install tensorbus[view])")
    pytest.importorskip("websockets", reason="the test's Foxglove client needs websockets")
    started = []

    def start(*args, **kw):
        v = tb.view.serve(*args, port=0, **kw)
        started.append(v)
        return v

    yield start
    for v in started:
        v.stop()


def publish_until(topic, make, client, sub_id, timeout=5.0):
    """Publish ``make()`` every 50 ms until a data frame arrives (the subscribe travels
    asynchronously); returns the last payload sent and the (log time, bytes) received. The
    tests' topics carry nothing else: typed topics are advertised before their first message."""
    deadline = time.monotonic() + timeout
    while True:
        msg = make()
        topic.send(msg)
        try:
            return msg, client.next_data(sub_id, timeout=0.05)
        except (asyncio.TimeoutError, TimeoutError):
            if time.monotonic() > deadline:
                raise


def test_server_info_and_advertise_list_topics_by_kind(tb, viewer):
    # typed topics are advertised before their first message (the handles stay open for the test)
    _pubs = [tb.Topic(n, t) for n, t in [("cam.rgb", tb.Image), ("lidar", tb.PointCloud), ("cmd_vel", tb.CmdVel), ("status", dict), ("_tb.internal", dict)]]
    v = viewer()
    c = Client(v.url)
    try:
        assert c.server_info["op"] == "serverInfo" and c.server_info["name"] == "tensorbus"
        assert v.url == f"ws://127.0.0.1:{v.port}" and str(v.port) in v.app_url()
        cam, lidar, cmd, status = (c.wait_channel(n) for n in ("cam.rgb", "lidar", "cmd_vel", "status"))
        assert (cam["schemaName"], cam["encoding"]) == ("foxglove.RawImage", "protobuf")
        assert (lidar["schemaName"], lidar["encoding"]) == ("foxglove.PointCloud", "protobuf")
        assert (cmd["schemaName"], cmd["encoding"], cmd["schemaEncoding"]) == ("tensorbus.CmdVel", "json", "jsonschema")
        assert set(json.loads(cmd["schema"])["properties"]) == {"timestamp_ns", "linear", "angular"}
        assert status["encoding"] == "json"
        assert "_tb.internal" not in c.channels  # tensorbus's own topics only when named
    finally:
        c.close()


@pytest.mark.parametrize("encoding,fox", [("rgb8", "rgb8"), ("bgra8", "bgra8"), ("mono16", "mono16"), ("mono32f", "32FC1")])
def test_image_reaches_a_client_byte_for_byte(tb, viewer, encoding, fox):
    pub = tb.Topic("cam", tb.Image)
    v = viewer(["cam"])
    c = Client(v.url)
    try:
        ch = c.wait_channel("cam")
        c.subscribe(1, ch)
        rng = np.random.default_rng(7)
        published = {}  # pixel bytes -> timestamp of every frame sent

        def make():
            img = tb.Image(5, 7, encoding)
            a = img.to_numpy()
            a[:] = (rng.random(a.shape) * 1000).astype(a.dtype)
            img.frame_id = "optical"
            img.timestamp_ns = 1_700_000_000_123_456_789 + len(published)
            published[a.tobytes()] = img.timestamp_ns
            return img

        t0 = time.time_ns()
        img, (log_ns, payload) = publish_until(pub, make, c, 1)
        m = decode(ch["schema"], "RawImage", payload)
        row = img.to_numpy()[0].nbytes
        assert (m["width"], m["height"], m["step"]) == ([7], [5], [row])
        assert m["encoding"] == [fox] and m["frame_id"] == ["optical"]
        # one of the frames published (the newest when the viewer looked), bit for bit
        assert len(m["data"][0]) == 5 * row and m["data"][0] in published
        stamp = decode(ch["schema"], "Timestamp", m["timestamp"][0])
        assert stamp["seconds"][0] * 10**9 + stamp["nanos"][0] == published[m["data"][0]]
        assert t0 <= log_ns <= time.time_ns()
    finally:
        c.close()


@pytest.mark.parametrize("dtype,fox", [("uint16", "16UC1"), ("float32", "32FC1")])
def test_depth_image_as_raw_image(tb, viewer, dtype, fox):
    pub = tb.Topic("depth", tb.DepthImage)
    v = viewer()
    c = Client(v.url)
    try:
        ch = c.wait_channel("depth")
        assert ch["schemaName"] == "foxglove.RawImage"
        c.subscribe(2, ch)
        d = (np.arange(12).reshape(3, 4) * 7).astype(dtype)
        _, (_, payload) = publish_until(pub, lambda: tb.DepthImage.from_numpy(d), c, 2)
        m = decode(ch["schema"], "RawImage", payload)
        assert (m["encoding"], m["width"], m["height"], m["step"]) == ([fox], [4], [3], [4 * d.itemsize])
        assert m["data"] == [d.tobytes()]
    finally:
        c.close()


def test_point_cloud_fields_and_bytes(tb, viewer):
    pub = tb.Topic("cloud", tb.PointCloud)
    v = viewer()
    c = Client(v.url)
    try:
        ch = c.wait_channel("cloud")
        c.subscribe(3, ch)
        pts = np.arange(4 * 6, dtype=np.float32).reshape(4, 6) / 10

        pc, (_, payload) = publish_until(pub, lambda: tb.PointCloud.from_numpy(pts, "xyzrgb"), c, 3)
        m = decode(ch["schema"], "PointCloud", payload)
        assert m["point_stride"] == [24]
        assert m["data"] == [pts.tobytes()]
        fields = [decode(ch["schema"], "PackedElementField", f) for f in m["fields"]]
        names = [f["name"][0] for f in fields]
        offsets = [(f["offset"] or [0])[0] for f in fields]
        assert names == ["x", "y", "z", "red", "green", "blue"] and offsets == [0, 4, 8, 12, 16, 20]
    finally:
        c.close()


def test_pod_dict_and_tensor_as_json(tb, viewer):
    cmd, status, feats = tb.Topic("cmd", tb.CmdVel), tb.Topic("status", dict), tb.Topic("feats", tb.Tensor)
    v = viewer()
    c = Client(v.url)
    try:
        for i, name in enumerate(("cmd", "status", "feats")):
            c.subscribe(10 + i, c.wait_channel(name))
        _, (_, b) = publish_until(cmd, lambda: tb.CmdVel(1.5, -0.25, timestamp_ns=123), c, 10)
        assert json.loads(b) == {"timestamp_ns": 123, "linear": 1.5, "angular": -0.25}
        _, (_, b) = publish_until(status, lambda: {"mode": "auto", "temps": [1.0, float("nan")], "raw": b"\x01\x02"}, c, 11)
        assert json.loads(b) == {"mode": "auto", "temps": [1.0, None], "raw": "0102"}
        arr = np.array([[1, -2, 3], [4, 5, 6]], np.float32)
        _, (_, b) = publish_until(feats, lambda: tb.Tensor.from_numpy(arr), c, 12)
        d = json.loads(b)
        assert (d["shape"], d["dtype"], d["min"], d["max"]) == ([2, 3], "float32", -2.0, 6.0)
    finally:
        c.close()


def test_user_messages_decoded_when_known_else_hex(tb, viewer):
    @tb.message
    class Known:  # not at a module's top level: the viewer learns it from messages=
        a: tb.f32
        b: tb.f32

    @tb.message
    class Unknown:
        x: tb.u32

    known, unknown = tb.Topic("known", Known), tb.Topic("unknown", Unknown)
    v = viewer(messages=[Known])
    c = Client(v.url)
    try:
        k, u = c.wait_channel("known"), c.wait_channel("unknown")
        assert k["schemaName"] == "tensorbus.Known" and u["schemaName"] == "tensorbus.bytes"
        c.subscribe(1, k)
        c.subscribe(2, u)
        _, (_, b) = publish_until(known, lambda: Known(0.5, 2.0), c, 1)
        assert json.loads(b) == {"a": 0.5, "b": 2.0}
        _, (_, b) = publish_until(unknown, lambda: Unknown(7), c, 2)
        assert json.loads(b) == {"size": 4, "hex": "07000000"}
    finally:
        c.close()


def test_topics_appearing_later_are_advertised_and_counted(tb, viewer):
    v = viewer(["late.*"])
    c = Client(v.url)
    try:
        pub = tb.Topic("late.cam", tb.Image)
        pub.send(tb.Image(2, 2, "mono8"))
        tb.Topic("other", dict).send({"x": 1})
        ch = c.wait_channel("late.cam", timeout=5)
        assert "other" not in c.channels
        c.subscribe(5, ch)
        # The viewer finds late topics by polling; under load the first frame can take seconds.
        publish_until(pub, lambda: tb.Image(2, 2, "mono8"), c, 5, timeout=15.0)
        s = v.stats()["late.cam"]
        assert s["type"] == "Image" and s["forwarded"] >= 1 and s["errors"] == 0
        assert s["forwarded"] + s["skipped"] <= pub.sent
    finally:
        c.close()


def test_viewer_never_slows_a_publisher_and_skips_what_it_cannot_send(tb, viewer):
    pub = tb.Topic("fast", tb.Tensor, depth=2)
    pub.send(tb.Tensor.from_numpy(np.zeros(4, np.float32)))
    v = viewer(rate_limit=20)
    c = Client(v.url)
    try:
        c.subscribe(1, c.wait_channel("fast"))
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 0.5:
            pub.send(tb.Tensor.from_numpy(np.full(4, n, np.float32)))
            n += 1
        assert n > 200  # the publisher never waited for the viewer
        time.sleep(0.2)
        s = v.stats()["fast"]
        assert 1 <= s["forwarded"] <= 20  # 20 frames/s for 0.5 s, plus the first
        assert s["skipped"] >= n - s["forwarded"] - 2
    finally:
        c.close()


def test_reliable_topics_are_left_out_unless_asked(tb, viewer):
    tb.Topic("sure", dict, policy="reliable").send({"a": 1})
    tb.Topic("maybe", dict).send({"a": 1})
    v = viewer()
    c = Client(v.url)
    try:
        c.wait_channel("maybe")
        time.sleep(0.3)
        assert "sure" not in c.channels and "sure" not in v.stats()
    finally:
        c.close()
    v2 = viewer(include_reliable=True)
    c2 = Client(v2.url)
    try:
        c2.wait_channel("sure")
    finally:
        c2.close()


def test_missing_foxglove_names_the_extra(tb, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_foxglove(name, *a, **kw):
        if name == "foxglove" or name.startswith("foxglove."):
            raise ImportError("No module named 'foxglove'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_foxglove)
    with pytest.raises(ImportError, match=r"pip install tensorbus\[view\]"):
        tb.view.serve(port=0)


def test_cli_view_help(tb, capsys):
    from tensorbus.__main__ import main

    assert main(["--namespace", "x", "view", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--port" in out and "Foxglove WebSocket" in out


@pytest.mark.multiprocess
def test_cli_view_serves_a_topic_until_interrupted(tb, fresh_ns):
    pytest.importorskip("foxglove", reason="the live view needs foxglove-sdk (pip install tensorbus[view])")
    pytest.importorskip("websockets", reason="the test's Foxglove client needs websockets")
    pub = tb.Topic("cam", tb.Image)
    cmd = [sys.executable, "-m", "tensorbus", "--namespace", fresh_ns, "view", "cam", "--port", "0", "--duration", "30"]
    with subprocess.Popen(cmd, env=env_for(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as p, killed_after(p):
        url = None
        while url is None:
            line = p.stdout.readline()
            assert line, "tensorbus view exited before serving"
            url = re.search(r"ws://[0-9.]+:\d+", line)
        url = url.group(0)
        c = Client(url)
        try:
            c.subscribe(1, c.wait_channel("cam"))
            publish_until(pub, lambda: tb.Image.from_numpy(np.arange(6, dtype=np.uint8).reshape(2, 3)), c, 1)
        finally:
            c.close()
        p.send_signal(signal.SIGINT)
        out = p.communicate(timeout=10)[0]
    assert p.returncode == 0, out
    assert re.search(r"cam\s+Image\s+forwarded\s+[1-9]", out), out


# --- notebook display ---------------------------------------------------------------------------


def test_topic_repr_html_shows_name_rate_and_thumbnail(tb, fresh_ns):
    t = tb.Topic("camera.rgb", tb.Image)
    assert "no message yet" in t._repr_html_()
    a = np.zeros((48, 64, 3), np.uint8)
    a[:, :, 0] = 200
    t.send(tb.Image.from_numpy(a))
    mine = tb.Topic("camera.rgb", tb.Image)
    mine.recv()  # the user's own handle, mid-stream
    t.send(tb.Image.from_numpy(a))
    h = mine._repr_html_()
    assert "camera.rgb" in h and "Image" in h and "msg/s" in h
    src = h.split("data:image/png;base64,")[1].split("'")[0]
    px = pixels(base64.b64decode(src))
    assert px.shape == (48, 64, 3) and (px[:, :, 0] == 200).all()
    assert mine.recv() is not None  # the display read through its own subscriber


def test_topic_repr_html_decodes_pod_and_subsamples_large_frames(tb, fresh_ns):
    tb.Topic("cmd", tb.CmdVel).send(tb.CmdVel(0.5, 0.25))
    assert "linear=0.5" in tb.Topic("cmd")._repr_html_()
    big = tb.Topic("big", tb.Image)
    big.send(tb.Image(480, 1280, "mono8"))
    src = big._repr_html_().split("data:image/png;base64,")[1].split("'")[0]
    assert pixels(base64.b64decode(src)).shape == (120, 320)


def test_widget_updates_live(tb, fresh_ns):
    pytest.importorskip("ipywidgets", reason="tb.view.widget needs ipywidgets")
    t = tb.Topic("cam", tb.Image)
    w = tb.view.widget(t, max_fps=50)
    try:
        deadline = time.monotonic() + 5
        while w.frames < 2 and time.monotonic() < deadline:
            t.send(tb.Image(8, 8, "rgb8"))
            time.sleep(0.02)
        assert w.frames >= 2 and w.image.value[:8] == b"\x89PNG\r\n\x1a\n"
        assert "msg/s" in w.label.value
    finally:
        w.close()
