"""The Zenoh bridge (`tb.Bridge`, `tensorbus bridge`) between two "hosts" on this machine: two
TENSORBUS_SHM_DIR directories with the same namespace name (this process and child processes),
joined over loopback TCP (multicast scouting off), each test on a scope of its own.

The independent oracle is `eclipse-zenoh` (a plain Zenoh session, no tensorbus code on the wire
path) with the attachment packed and parsed by `struct` code written here from the table in
bridge/src/wire.rs, not by `tensorbus.bridge.header`/`parse` (which are only compared with it)."""

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import numpy as np
import pytest
from _children import env_for, wait_until

zenoh = pytest.importorskip("zenoh", reason="eclipse-zenoh (make test installs it)")

# --- The wire format, from the table in bridge/src/wire.rs -------------------------------------

#: magic, form, kind, dtype, ndim, aux, compression, policy, depth, timestamp_ns, sequence,
#: bridge_seq, raw_len, type_hash, msg_size, reserved, origin (80 bytes, little-endian).
WIRE = struct.Struct("<4s B B B B H B B I Q Q Q Q Q I I 16s")
WIRE_FIELDS = ("magic", "form", "kind", "dtype", "ndim", "aux", "compression", "policy", "depth", "timestamp_ns", "sequence",
               "bridge_seq", "raw_len", "type_hash", "msg_size", "reserved", "origin")
assert WIRE.size == 80
FORM_PAYLOAD, FORM_POD, FORM_DICT = 1, 2, 3
KIND_IMAGE = 2
DTYPE_U8 = 1  # tensor/src/dtype.rs
ENC_RGB8 = 3  # tensor/src/encoding.rs
COMP_NONE, COMP_LZ4, COMP_ZSTD = 0, 1, 2


def pack_header(form, raw_len, *, kind=0, dtype=0, shape=(), aux=0, compression=COMP_NONE, policy=0, depth=0, timestamp_ns=0,
                sequence=0, bridge_seq=0, type_hash=0, msg_size=0, origin=bytes(16), type_name=b"", frame_id=b"", ndim=None):
    """An attachment as the table describes it (`ndim` overrides len(shape), for lies)."""
    fixed = WIRE.pack(b"TBZ1", form, kind, dtype, len(shape) if ndim is None else ndim, aux, compression, policy, depth, timestamp_ns,
                      sequence, bridge_seq, raw_len, type_hash, msg_size, 0, origin)
    return fixed + b"".join(struct.pack("<Q", d) for d in shape) + bytes([len(type_name)]) + type_name + bytes([len(frame_id)]) + frame_id


def unpack_header(a):
    """An attachment's fields as a dict (plus `shape`, `type_name`, `frame_id`, `rest`)."""
    h = dict(zip(WIRE_FIELDS, WIRE.unpack_from(a)))
    at = WIRE.size
    h["shape"] = list(struct.unpack_from(f"<{h['ndim']}Q", a, at))
    at += 8 * h["ndim"]
    for field in ("type_name", "frame_id"):
        n = a[at]
        assert at + 1 + n <= len(a), f"{field} runs past the attachment"
        h[field] = a[at + 1:at + 1 + n].decode()
        at += 1 + n
    h["rest"] = a[at:]
    return h


# --- Frames and messages, shared with the child processes (exec'd here and sent as source) -----

COMMON = '''
import json, queue, sys, threading, time
import numpy as np
BASE_NS = 1_700_000_000_000_000_000
_bases = {}

def frame(i, h, w):
    """rgb8 frame i: every byte differs from frame i-1's."""
    if (h, w) not in _bases:
        _bases[(h, w)] = ((np.arange(h * w * 3, dtype=np.uint32) * 7 + h) % 251).astype(np.uint8).reshape(h, w, 3)
    return _bases[(h, w)] + np.uint8((i * 13 + 1) % 256)

def state(i, who="A"):
    return {"i": i, "from": who, "names": ["a", "b"], "x": i * 0.25, "nested": {"ok": True, "none": None}}

def check_image(m, h, w):
    """None if m is frame i (its frame_id f<i>, timestamp BASE_NS + i) of h x w, else what is wrong."""
    if type(m).__name__ != "Image" or m.encoding != "rgb8":
        return f"not an rgb8 Image: {m!r}"
    if not m.frame_id.startswith("f"):
        return f"frame_id {m.frame_id!r}"
    i = int(m.frame_id[1:])
    if m.timestamp_ns != BASE_NS + i:
        return f"frame {i}: timestamp {m.timestamp_ns}"
    a = m.to_numpy()
    if a.shape != (h, w, 3) or not np.array_equal(a, frame(i, h, w)):
        return f"frame {i}: pixels differ (shape {a.shape})"
    return None

def stdin_closed_event():
    """An event set when the parent writes a line (or closes stdin)."""
    ev = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), ev.set()), daemon=True).start()
    return ev

def have_topics(tb):
    """Names of the topics of this namespace that have sent something."""
    return {t["name"] for t in tb.pool_stats()["topics"] if t["sent"] > 0}
'''
_common: dict = {}
exec(COMMON, _common)  # the same helpers here  # noqa: S102
BASE_NS, frame, state, check_image, have_topics = (_common[k] for k in ("BASE_NS", "frame", "state", "check_image", "have_topics"))


def new_image(tb, i, h, w):
    img = tb.Image(h, w, "rgb8")
    img.to_numpy()[:] = frame(i, h, w)
    img.frame_id, img.timestamp_ns = f"f{i}", BASE_NS + i
    return img


# --- Hosts, processes, endpoints ----------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scope_name():
    return "t" + uuid.uuid4().hex[:10]


class Proc:
    """A child process: stdout read line by line by a thread (never a blocking read here), stderr
    kept in a file for failure messages. `close()` SIGKILLs it if still running and reaps it."""

    def __init__(self, argv, env, stdin=True):
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)
        self.lines = queue.Queue()
        self.seen = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @property
    def pid(self):
        return self.proc.pid

    def _read(self):
        try:
            for line in self.proc.stdout:
                self.lines.put(line.rstrip("\n"))
        except (OSError, ValueError):
            pass
        self.lines.put(None)

    def stderr(self):
        self.err.seek(0)
        return self.err.read()[-4000:]

    def describe(self):
        return f"pid {self.pid} rc {self.proc.poll()}; stdout {self.seen[-20:]}; stderr:\n{self.stderr()}"

    def next_line(self, timeout):
        """The next stdout line, None at EOF, "" when nothing came within `timeout`. A line
        starting with "bad" fails the test."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return ""
        if line is None:
            self.lines.put(None)  # EOF stays EOF
            return None
        self.seen.append(line)
        assert not line.startswith("bad"), f"child reported: {line}\n{self.describe()}"
        return line

    def expect(self, prefix, timeout=15.0):
        """Skip lines until one starts with `prefix`; return it."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no {prefix!r} within {timeout}s: {self.describe()}"
            line = self.next_line(left)
            assert line is not None, f"child exited before {prefix!r}: {self.describe()}"
            if line.startswith(prefix):
                return line

    def say(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def signal_and_wait(self, sig=signal.SIGTERM, timeout=15.0):
        """Send `sig`, wait for the exit; (returncode, the rest of stdout as lines)."""
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self.reader.join(5)
        rest = []
        while True:
            line = self.lines.get_nowait() if not self.lines.empty() else None
            if line is None:
                break
            rest.append(line)
        self.seen += rest
        return rc, rest

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()
        self.reader.join(5)
        self.err.close()


@contextlib.contextmanager
def started(argv, env, stdin=True):
    p = Proc(argv, env, stdin)
    try:
        yield p
    finally:
        p.close()


class Host:
    """Another "host": a TENSORBUS_SHM_DIR of its own, the same namespace name as this process."""

    def __init__(self, shm_dir, namespace):
        self.shm_dir, self.namespace = shm_dir, namespace
        self.env = env_for(namespace, TENSORBUS_SHM_DIR=shm_dir)

    def python(self, script, *args):
        """A `python -c COMMON+script args...` on this host (tensorbus imported as tb)."""
        code = "import tensorbus as tb\n" + COMMON + script
        return started([sys.executable, "-c", code, *map(str, args)], self.env)

    def tensorbus(self, *args, wrap=()):
        """`tensorbus --namespace NS args...` (the CLI) on this host, running (stdin closed)."""
        return started([*wrap, sys.executable, "-m", "tensorbus", "--namespace", self.namespace, *args], self.env, stdin=False)

    def cli(self, *args):
        """`tensorbus --namespace NS args...` to the end, output as text."""
        return subprocess.run([sys.executable, "-m", "tensorbus", "--namespace", self.namespace, *args], env=self.env,
                              capture_output=True, text=True, timeout=60)


def _new_shm_dir(tag):
    return tempfile.mkdtemp(prefix=f"tensorbus-test-{tag}-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)


@pytest.fixture
def host_b(fresh_ns):
    d = _new_shm_dir("b")
    try:
        yield Host(d, fresh_ns)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def zenoh_session(connect=None, listen=None):
    """A plain eclipse-zenoh peer: no multicast scouting, listening on loopback only."""
    conf = zenoh.Config()
    conf.insert_json5("mode", '"peer"')
    conf.insert_json5("scouting/multicast/enabled", "false")
    conf.insert_json5("listen/endpoints", json.dumps(listen or ["tcp/127.0.0.1:0"]))
    if connect:
        conf.insert_json5("connect/endpoints", json.dumps(connect))
    s = zenoh.open(conf)
    try:
        yield s
    finally:
        s.close()


def put(z, key, payload, attachment=None):
    """A reliable, in-order put (congestion: block) from the plain Zenoh client."""
    kw = {"congestion_control": zenoh.CongestionControl.BLOCK}
    if attachment is not None:
        kw["attachment"] = attachment
    z.put(key, payload, **kw)


def topic_stats(tb, name):
    return next((t for t in tb.pool_stats()["topics"] if t["name"] == name), None)


# --- 1. Two hosts, both directions ---------------------------------------------------------------

SIZES = {"rgb480": (480, 640), "rgb1080": (1080, 1920)}

# argv: endpoint scope n.  Host B: imports a2b.*, checks every message, sends it back on b2a.*
# (a new message with the received fields); prints "verified <kind>" after n good ones of a kind,
# "bad ..." for a wrong one, and its bridge's report when the parent writes a line.
ECHO_B = '''
ep, scope, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
SIZES = {"rgb480": (480, 640), "rgb1080": (1080, 1920)}
TYPES = {"rgb480": tb.Image, "rgb1080": tb.Image, "cmd": tb.CmdVel, "state": dict}

def check(k, m):
    if k in SIZES:
        return check_image(m, *SIZES[k])
    if k == "cmd":
        i = m.timestamp_ns - BASE_NS
        ok = type(m) is tb.CmdVel and 0 <= i < 10**6 and m.linear == i * 0.5 and m.angular == -1.25
        return None if ok else f"cmd {m!r}"
    return None if isinstance(m, dict) and m == state(m.get("i")) else f"state {m!r}"

def echo(k, m):
    if k in SIZES:
        img = tb.Image.from_numpy(np.array(m.to_numpy()), "rgb8")
        img.frame_id, img.timestamp_ns = m.frame_id, m.timestamp_ns
        return img
    if k == "cmd":
        return tb.CmdVel(timestamp_ns=m.timestamp_ns, linear=m.linear, angular=m.angular)
    return dict(m)

done = stdin_closed_event()
with tb.Bridge(connect=[ep], import_=["a2b.*"], export=["b2a.*"], scope=scope) as br:
    out = {k: tb.Topic("b2a." + k, t) for k, t in TYPES.items()}
    print("ready", br.zid, flush=True)
    subs, good = {}, {k: 0 for k in TYPES}
    while not done.is_set():
        if len(subs) < len(TYPES):
            have = have_topics(tb)
            for k, t in TYPES.items():
                if k not in subs and "a2b." + k in have:
                    subs[k] = tb.Topic("a2b." + k, t)
        got = False
        for k, sub in subs.items():
            m = sub.recv(timeout=0)
            if m is None:
                continue
            got = True
            err = check(k, m)
            if err:
                print("bad", k, err, flush=True)
                continue
            out[k].send(echo(k, m))
            good[k] += 1
            if good[k] == n:
                print("verified", k, flush=True)
        if not got:
            time.sleep(0.005)
    print("report", json.dumps(br.report()), flush=True)
'''


@pytest.mark.multiprocess
def test_images_messages_and_dicts_cross_between_two_hosts_both_ways(tb, host_b):
    """480p and 1080p rgb8 frames, CmdVel and a dict go A→B (checked on B: pixels, frame_id,
    timestamp, fields) and come back B→A (checked again here)."""
    n, scope, ep = 5, scope_name(), f"tcp/127.0.0.1:{free_port()}"
    types = {"rgb480": tb.Image, "rgb1080": tb.Image, "cmd": tb.CmdVel, "state": dict}
    with tb.Bridge(listen=[ep], export=["a2b.*"], import_=["b2a.*"], scope=scope) as br, host_b.python(ECHO_B, ep, scope, n) as b:
        b_zid = b.expect("ready").split()[1]
        pubs = {k: tb.Topic("a2b." + k, t) for k, t in types.items()}
        subs, back, verified_on_b = {}, {k: 0 for k in types}, set()
        deadline = time.monotonic() + 15
        i = 0
        while min(back.values()) < n or len(verified_on_b) < len(types):
            assert time.monotonic() < deadline, f"back here: {back}, verified on B: {verified_on_b}; {br.report()}; {b.describe()}"
            for k, (h, w) in SIZES.items():
                pubs[k].send(new_image(tb, i, h, w))
            pubs["cmd"].send(tb.CmdVel(timestamp_ns=BASE_NS + i, linear=i * 0.5, angular=-1.25))
            pubs["state"].send(state(i))
            i += 1
            have = have_topics(tb)
            for k, t in types.items():
                if k not in subs and "b2a." + k in have:
                    subs[k] = tb.Topic("b2a." + k, t)
            t_end = time.monotonic() + 0.1
            while time.monotonic() < t_end:
                for k, sub in subs.items():
                    m = sub.recv(timeout=0)
                    while m is not None:
                        if k in SIZES:
                            err = check_image(m, *SIZES[k])
                            assert err is None, f"b2a.{k}: {err}"
                        elif k == "cmd":
                            j = m.timestamp_ns - BASE_NS
                            assert type(m) is tb.CmdVel and 0 <= j < i and (m.linear, m.angular) == (j * 0.5, -1.25), m
                        else:
                            assert m == state(m["i"]), m
                        back[k] += 1
                        m = sub.recv(timeout=0)
                line = b.next_line(0.01)
                if line and line.startswith("verified"):
                    verified_on_b.add(line.split()[1])
        assert b_zid in br.peers()
        report = br.report()
        b.say("bye")
        b_report = json.loads(b.expect("report")[len("report "):])
    assert report["malformed"] == 0 and b_report["malformed"] == 0, (report, b_report)
    for k in types:
        assert report["exported"]["a2b." + k]["messages"] >= n, report
        assert report["imported"]["b2a." + k]["messages"] >= n, report
        assert b_zid in report["imported"]["b2a." + k]["remote"], report
        assert b_report["imported"]["a2b." + k]["messages"] >= n, b_report
    assert report["exported"]["a2b.rgb1080"]["bytes"] >= n * 1080 * 1920 * 3
    assert topic_stats(tb, "b2a.rgb1080")["type"] == "Image"
    assert topic_stats(tb, "b2a.cmd")["type"] == "CmdVel"


# --- 2. and 3. A plain Zenoh client ---------------------------------------------------------------


def test_a_plain_zenoh_client_publishes_a_dict_and_an_image_into_the_namespace(tb, fresh_ns):
    """eclipse-zenoh puts MessagePack and rgb8 pixels with hand-packed attachments; tensorbus
    subscribers here receive the dict and a tb.Image equal to the array sent."""
    scope, ep = scope_name(), f"tcp/127.0.0.1:{free_port()}"
    h, w = 48, 64
    with tb.Bridge(listen=[ep], import_=["zin.*"], scope=scope) as br, zenoh_session(connect=[ep]) as z:
        wait_until(br.peers, timeout=10, message="the Zenoh client never connected")
        got, subs, i = {}, {}, 0
        deadline = time.monotonic() + 10
        while len(got) < 2:
            assert time.monotonic() < deadline, f"received {sorted(got)}; {br.report()}"
            i += 1
            body = tb.packb(state(i, "zenoh"))
            put(z, f"tensorbus/{scope}/zin.state", body, pack_header(FORM_DICT, len(body)))
            px = frame(i, h, w)
            att = pack_header(FORM_PAYLOAD, px.nbytes, kind=KIND_IMAGE, dtype=DTYPE_U8, shape=(h, w, 3), aux=ENC_RGB8,
                              timestamp_ns=BASE_NS + i, frame_id=f"f{i}".encode())
            put(z, f"tensorbus/{scope}/zin.cam", px.tobytes(), att)
            time.sleep(0.05)
            have = have_topics(tb)
            for name, t in (("zin.state", dict), ("zin.cam", tb.Image)):
                if name not in subs and name in have:
                    subs[name] = tb.Topic(name, t)
            for name, sub in subs.items():
                m = sub.recv(timeout=0.2)
                if m is not None:
                    got[name] = m
        d, img = got["zin.state"], got["zin.cam"]
        assert isinstance(d, dict) and d == state(d["i"], "zenoh"), d
        assert type(img) is tb.Image and img.encoding == "rgb8" and (img.height, img.width) == (h, w)
        assert check_image(img, h, w) is None, check_image(img, h, w)
        j = int(img.frame_id[1:])
        assert np.array_equal(img.to_numpy(), frame(j, h, w))
        assert topic_stats(tb, "zin.cam")["type"] == "Image" and topic_stats(tb, "zin.state")["type"] == "dict"
        r = br.report()
    assert r["malformed"] == 0, r
    assert r["imported"]["zin.cam"]["messages"] >= 1 and r["imported"]["zin.state"]["messages"] >= 1, r
    assert r["imported"]["zin.cam"]["bytes"] >= h * w * 3, r


def test_a_plain_zenoh_client_receives_images_pod_messages_and_dicts(tb, fresh_ns):
    """tensorbus publishes on exported topics; a plain Zenoh subscriber on tensorbus/<scope>/**
    gets the documented attachment (parsed here with struct) and the message bytes."""
    import tensorbus.bridge as tbb

    scope, ep = scope_name(), f"tcp/127.0.0.1:{free_port()}"
    h, w = 30, 40
    got, lock = [], threading.Lock()

    def on_sample(s):
        a = s.attachment
        with lock:
            got.append((str(s.key_expr), s.payload.to_bytes(), None if a is None else a.to_bytes()))

    def keys():
        with lock:
            return {k for k, _, _ in got}

    want = {f"tensorbus/{scope}/zout.cam", f"tensorbus/{scope}/zout.cmd_vel", f"tensorbus/{scope}/zout.state"}
    with tb.Bridge(listen=[ep], export=["zout.*"], scope=scope) as br, zenoh_session(connect=[ep]) as z:
        sub = z.declare_subscriber(f"tensorbus/{scope}/**", on_sample)
        wait_until(br.peers, timeout=10, message="the Zenoh client never connected")
        cam, cmd, st = tb.Topic("zout.cam", tb.Image), tb.Topic("zout.cmd_vel", tb.CmdVel), tb.Topic("zout.state", dict)
        seqs = {"zout.cam": {}, "zout.cmd_vel": {}, "zout.state": {}}  # topic: {i: the sequence number send returned}
        i, deadline = 0, time.monotonic() + 10
        while not want <= keys() or i < 5:
            assert time.monotonic() < deadline, f"got {keys()}; {br.report()}"
            seqs["zout.cam"][i] = cam.send(new_image(tb, i, h, w))
            seqs["zout.cmd_vel"][i] = cmd.send(tb.CmdVel(timestamp_ns=BASE_NS + i, linear=i * 0.5, angular=-1.25))
            seqs["zout.state"][i] = st.send(state(i))
            i += 1
            time.sleep(0.05)
        time.sleep(0.2)
        sub.undeclare()
        zid = br.zid
    with lock:
        samples = list(got)
    assert {k for k, _, _ in samples} == want
    last, wrong_sequence = {}, []
    for key, payload, att in samples:
        assert att is not None, key
        hd = unpack_header(att)
        assert hd["magic"] == b"TBZ1" and hd["reserved"] == 0 and hd["compression"] == COMP_NONE, hd
        assert hd["raw_len"] == len(payload), hd
        assert hd["policy"] == 0 and hd["depth"] == 4, hd
        assert hd["origin"] != bytes(16) and hd["rest"] == b"", hd
        # The Python helpers agree with the table, byte for byte.
        mine = tbb.header({1: "payload", 2: "pod", 3: "dict"}[hd["form"]], hd["raw_len"], kind=hd["kind"], dtype=hd["dtype"],
                          shape=hd["shape"], aux=hd["aux"], timestamp_ns=hd["timestamp_ns"], sequence=hd["sequence"],
                          bridge_seq=hd["bridge_seq"], type_name=hd["type_name"], type_hash=hd["type_hash"], msg_size=hd["msg_size"],
                          frame_id=hd["frame_id"], reliable=bool(hd["policy"]), depth=hd["depth"], origin=hd["origin"])
        assert mine == att
        assert tbb.parse(att)["shape"] == hd["shape"] and tbb.parse(att)["frame_id"] == hd["frame_id"]
        # Each topic's counter runs 1, 2, 3 ... (the first samples may precede the subscription).
        prev = last.get(key)
        assert hd["bridge_seq"] == (prev + 1 if prev is not None else hd["bridge_seq"]) >= 1, (key, prev, hd)
        last[key] = hd["bridge_seq"]
        topic = key.rsplit("/", 1)[1]
        if topic == "zout.cam":
            assert (hd["form"], hd["kind"], hd["dtype"], hd["aux"], hd["ndim"]) == (FORM_PAYLOAD, KIND_IMAGE, DTYPE_U8, ENC_RGB8, 3), hd
            assert hd["shape"] == [h, w, 3] and hd["type_name"] == "Image" and hd["type_hash"] == 0 and hd["msg_size"] == 0, hd
            j = int(hd["frame_id"][1:])
            assert hd["frame_id"] == f"f{j}" and hd["timestamp_ns"] == BASE_NS + j, hd
            assert payload == frame(j, h, w).tobytes()
            sent_seq = seqs[topic][j]
        elif topic == "zout.cmd_vel":
            assert (hd["form"], hd["kind"], hd["dtype"], hd["ndim"], hd["shape"]) == (FORM_POD, 0, 0, 0, []), hd
            assert hd["type_name"] == "CmdVel" and hd["msg_size"] == 16 == tb.CmdVel._tb_size, hd
            assert hd["type_hash"] == tb.CmdVel._tb_hash != 0, hd
            ts, lin, ang = struct.unpack("<Qff", payload)
            j = ts - BASE_NS
            assert 0 <= j < i and (lin, ang) == (j * 0.5, -1.25), (ts, lin, ang)
            sent_seq = seqs[topic][j]
        else:
            assert (hd["form"], hd["ndim"], hd["type_name"]) == (FORM_DICT, 0, "dict"), hd
            d = tb.unpackb(payload)
            assert d == state(d["i"]), d
            sent_seq = seqs[topic][d["i"]]
        # "sequence: the sequence number the message had in its own namespace" (what send returned).
        if hd["sequence"] != sent_seq:
            wrong_sequence.append((topic, sent_seq, hd["sequence"]))
        # origin: the sending bridge's Zenoh id, as a little-endian 128-bit number.
        assert hd["origin"] == int(zid, 16).to_bytes(16, "little"), (hd["origin"].hex(), zid)
    assert not wrong_sequence, f"(topic, sent as, header says): {wrong_sequence}"


def test_the_reported_remote_is_the_sending_bridges_zenoh_id(tb, fresh_ns, tmp_path):
    """`imported[topic]["remote"]` (and so `topic list`'s "in from ...") names the sender by the
    Zenoh id it reports itself, also when that id's top byte is below 0x10 (Zenoh writes such an
    id without a leading zero: an id of 31 hex digits, fixed here through the config file)."""
    scope, ep = scope_name(), f"tcp/127.0.0.1:{free_port()}"
    zid = "a" + uuid.uuid4().hex[2:]  # 31 hex digits: the top byte is 0x0a
    cfg = tmp_path / "zenoh.json5"
    cfg.write_text(json.dumps({"id": zid, "scouting": {"multicast": {"enabled": False}}}))
    with tb.Bridge(listen=[ep], export=["zid.*"], scope=scope, config=cfg) as sender:
        assert sender.zid == zid
        tb.use_namespace(fresh_ns + "-rx")  # the receiver bridges a namespace of its own
        try:
            receiver = tb.Bridge(connect=[ep], import_=["zid.*"], scope=scope)
        finally:
            tb.use_namespace(fresh_ns)
        with receiver:
            wait_until(receiver.peers, timeout=10, message="the bridges never connected")
            t = tb.Topic("zid.x", dict)

            def arrived():
                t.send({"hello": 1})
                return receiver.report()["imported"].get("zid.x", {}).get("messages")

            wait_until(arrived, timeout=10, interval=0.1, message=lambda: receiver.report())
            remote = receiver.report()["imported"]["zid.x"]["remote"]
    assert remote == zid, f"the receiver names the sender {remote!r}, the sender calls itself {zid!r}"


# --- 4. Bad input from the network ------------------------------------------------------------------


@contextlib.contextmanager
def importing_bridge(tb, prefix):
    """An importing bridge on `prefix`.* with a plain Zenoh client connected to it and a route that
    is known to work (a sample on <prefix>.warm got through)."""
    scope, ep = scope_name(), f"tcp/127.0.0.1:{free_port()}"
    warm = pack_header(FORM_PAYLOAD, 12, kind=KIND_IMAGE, dtype=DTYPE_U8, shape=(2, 2, 3), aux=ENC_RGB8)
    with tb.Bridge(listen=[ep], import_=[prefix + ".*"], scope=scope) as br, zenoh_session(connect=[ep]) as z:
        wait_until(br.peers, timeout=10, message="the Zenoh client never connected")

        def warmed():
            put(z, f"tensorbus/{scope}/{prefix}.warm", bytes(12), warm)
            return prefix + ".warm" in have_topics(tb)

        wait_until(warmed, timeout=10, interval=0.1, message=lambda: f"no sample got through: {br.report()}")
        yield br, z, scope


def _bad_samples(scope, topic):
    """(what, key, payload, attachment) samples the bridge must refuse at the door."""
    key = f"tensorbus/{scope}/{topic}"
    px = bytes(range(12))
    img = dict(kind=KIND_IMAGE, dtype=DTYPE_U8, shape=(2, 2, 3), aux=ENC_RGB8, frame_id=b"cam")
    good = pack_header(FORM_PAYLOAD, 12, **img)
    bad = [
        ("no attachment", key, px, None),
        ("empty attachment", key, px, b""),
        ("text", key, px, b"hello, bridge"),
        ("79 bytes", key, px, good[:79]),
        ("zeros", key, px, bytes(120)),
        ("bad magic", key, px, b"TBZ2" + good[4:]),
        ("form 0", key, px, good[:4] + b"\x00" + good[5:]),
        ("form 9", key, px, good[:4] + b"\x09" + good[5:]),
        ("compression 7", key, px, pack_header(FORM_PAYLOAD, 12, compression=7, **img)),
        ("policy 2", key, px, pack_header(FORM_PAYLOAD, 12, policy=2, **img)),
        ("payload ndim 0", key, px, pack_header(FORM_PAYLOAD, 12, ndim=0, **{**img, "shape": ()})),
        ("ndim 9", key, px, pack_header(FORM_PAYLOAD, 12, ndim=9, **img)),
        ("dict with ndim 1", key, b"\x80", pack_header(FORM_DICT, 1, ndim=1, shape=(1,))),
        ("shape cut short", key, px, good[:80 + 16]),
        ("no frame-id length", key, px, good[:80 + 24 + 1]),
        ("frame id longer than the attachment", key, px, good[:-3]),
        ("type name of 65 bytes", key, px, pack_header(FORM_PAYLOAD, 12, type_name=b"T" * 65, **img)),
        ("frame id of 32 bytes", key, px, pack_header(FORM_PAYLOAD, 12, **{**img, "frame_id": b"f" * 32})),
        ("frame id not UTF-8", key, px, pack_header(FORM_PAYLOAD, 12, **{**img, "frame_id": b"\xff\xfe"})),
        ("payload one byte short", key, px[:11], good),
        ("payload one byte long", key, px + b"x", good),
        ("empty payload", key, b"", good),
        ("raw_len over 2 GiB", key, px, pack_header(FORM_PAYLOAD, (1 << 31) + 1, **img)),
        ("raw_len 2**64-1", key, px, pack_header(FORM_PAYLOAD, (1 << 64) - 1, **img)),
        ("POD shorter than raw_len", key, bytes(8), pack_header(FORM_POD, 16, type_name=b"CmdVel", msg_size=16)),
        ("dict longer than raw_len", key, b"\x81\xa1a\x01", pack_header(FORM_DICT, 3)),
        ("not a topic name", f"tensorbus/{scope}/bad.a b", px, good),
    ]
    return bad


def test_malformed_samples_are_counted_and_never_reach_a_topic(tb, fresh_ns):
    """Garbage, missing and truncated attachments and lying lengths from a plain Zenoh client:
    each is counted in `malformed`, nothing is published, and a good sample afterwards arrives."""
    topic = "bad.img"
    with importing_bridge(tb, "bad") as (br, z, scope):
        assert br.report()["malformed"] == 0
        bad = _bad_samples(scope, topic)
        for _what, key, payload, att in bad:
            put(z, key, payload, att)
        good_px = bytes(range(100, 112))
        put(z, f"tensorbus/{scope}/{topic}", good_px, pack_header(FORM_PAYLOAD, 12, kind=KIND_IMAGE, dtype=DTYPE_U8, shape=(2, 2, 3),
                                                                  aux=ENC_RGB8, frame_id=b"good", timestamp_ns=42))
        wait_until(lambda: topic in have_topics(tb), timeout=10, message=lambda: f"the good sample never arrived: {br.report()}")
        r = br.report()
        assert r["malformed"] == len(bad), (r["malformed"], len(bad), r)
        st = topic_stats(tb, topic)
        assert st["sent"] == 1 and st["type"] == "Image", st
        assert {t["name"] for t in tb.pool_stats()["topics"] if t["name"].startswith("bad.")} == {"bad.warm", "bad.img"}
        sub = tb.Topic(topic, tb.Image)
        m = sub.recv(timeout=1.0)  # a late subscriber gets the newest message: the good one
        assert m is not None and m.frame_id == "good" and m.timestamp_ns == 42 and m.to_numpy().tobytes() == good_px
        assert sub.recv(timeout=0.2) is None
        assert r["imported"][topic]["messages"] == 1 and r["imported"][topic]["dropped"] == 0, r
        time.sleep(0.3)
        assert br.report()["malformed"] == len(bad)


def test_samples_that_decode_but_lie_are_refused_and_counted_as_malformed(tb, fresh_ns):
    """Attachments that parse but do not fit what they carry (a corrupt lz4 or zstd stream, a shape
    that is not raw_len bytes, an unknown dtype or kind, a POD shorter than its type): never a
    message in the pool, each counted once, and good samples afterwards arrive. The bad attachments
    and bad payloads count as `malformed` ("Samples refused as malformed (bad attachment, bad
    payload)", src/cli/bridges.rs); the POD of the wrong size as the topic's `dropped` ("a type
    mismatch")."""
    img = dict(kind=KIND_IMAGE, dtype=DTYPE_U8, shape=(2, 2, 3), aux=ENC_RGB8)
    junk = bytes(range(200, 212))
    lies = [
        ("lie.lz4", junk, pack_header(FORM_PAYLOAD, 12, compression=COMP_LZ4, **img)),
        ("lie.zstd", junk, pack_header(FORM_PAYLOAD, 12, compression=COMP_ZSTD, **img)),
        ("lie.shape", junk, pack_header(FORM_PAYLOAD, 12, **{**img, "shape": (2, 3, 3)})),
        ("lie.dtype", junk, pack_header(FORM_PAYLOAD, 12, **{**img, "dtype": 99})),
        ("lie.kind", junk, pack_header(FORM_PAYLOAD, 12, **{**img, "kind": 77})),
    ]
    cmd_hash = tb.CmdVel._tb_hash
    short_pod = ("lie.cmd_vel", bytes(8), pack_header(FORM_POD, 8, type_name=b"CmdVel", type_hash=cmd_hash, msg_size=16))
    goods = {
        "lie.lz4": (bytes(range(12)), pack_header(FORM_PAYLOAD, 12, frame_id=b"good", **img), tb.Image),
        "lie.shape": (bytes(range(12)), pack_header(FORM_PAYLOAD, 12, frame_id=b"good", **img), tb.Image),
        "lie.cmd_vel": (struct.pack("<Qff", 7, 1.5, -0.5), pack_header(FORM_POD, 16, type_name=b"CmdVel", type_hash=cmd_hash, msg_size=16),
                        tb.CmdVel),
    }
    with importing_bridge(tb, "lie") as (br, z, scope):
        subs = {name: tb.Topic(name, t) for name, (_, _, t) in goods.items()}
        for sub in subs.values():
            assert sub.recv() is None
        for name, payload, att in [*lies, short_pod]:
            put(z, f"tensorbus/{scope}/{name}", payload, att)
        for name, (payload, att, _) in goods.items():
            put(z, f"tensorbus/{scope}/{name}", payload, att)
        received = {}
        for name, sub in subs.items():
            m = sub.recv(timeout=5.0)
            assert m is not None, f"the good sample on {name} never arrived: {br.report()}"
            received[name] = m
            assert sub.recv(timeout=0.1) is None, name
        for name in ("lie.lz4", "lie.shape"):
            assert received[name].to_numpy().tobytes() == bytes(range(12)) and received[name].frame_id == "good"
        assert received["lie.cmd_vel"] == tb.CmdVel(timestamp_ns=7, linear=1.5, angular=-0.5)
        time.sleep(0.3)
        r = br.report()
        sent = {t["name"]: t["sent"] for t in tb.pool_stats()["topics"] if t["name"].startswith("lie.") and t["sent"]}
    # Only the good samples were published, one each.
    assert sent == {"lie.warm": sent["lie.warm"], **{k: 1 for k in goods}}, sent
    dropped = sum(t["dropped"] for t in r["imported"].values())
    assert r["malformed"] + dropped == len(lies) + 1, f"refused {len(lies) + 1}, counted {r['malformed']} + {dropped}: {r}"
    assert r["imported"]["lie.cmd_vel"]["dropped"] == 1, r
    assert r["malformed"] == len(lies), f"malformed {r['malformed']}, dropped per topic " + str(
        {k: v["dropped"] for k, v in r["imported"].items() if v["dropped"]})


def test_a_dict_sample_that_is_not_messagepack_never_reaches_a_subscriber(tb, fresh_ns):
    """A plain client's "dict" whose bytes are not MessagePack: refused and counted as malformed,
    not published for subscribers to fail on (`recv` would raise InvalidDescriptorError); a good
    dict (MessagePack packed by hand) afterwards arrives."""
    with importing_bridge(tb, "mp") as (br, z, scope):
        sub = tb.Topic("mp.state", dict)
        assert sub.recv() is None
        for bad in (b"\xc1", b"\xc1\xc1\xc1", b"\x82\xa1a", b"\x81\xa1a\x01\x01"):  # never-used marker; truncated map; trailing byte
            put(z, f"tensorbus/{scope}/mp.state", bad, pack_header(FORM_DICT, len(bad)))
        good = b"\x82\xa1a\x01\xa1b\x92\xc3\xc0"  # {"a": 1, "b": [True, None]}
        put(z, f"tensorbus/{scope}/mp.state", good, pack_header(FORM_DICT, len(good)))
        got = []
        deadline = time.monotonic() + 5
        while {"a": 1, "b": [True, None]} not in got and time.monotonic() < deadline:
            try:
                m = sub.recv(timeout=0.2)
            except tb.InvalidDescriptorError as e:
                got.append(f"recv raised {e}")
                continue
            if m is not None:
                got.append(m)
        r = br.report()
    assert got == [{"a": 1, "b": [True, None]}], f"the subscriber got {got}; {r}"
    assert r["malformed"] == 4, r


# --- 5. A bridge that dies and comes back ------------------------------------------------------------

# Host B's subscriber.  argv: topic h w.  Waits for the topic, prints "got <i>" per frame checked.
WATCH_B = '''
topic, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
done = stdin_closed_event()
print("ready", flush=True)
while topic not in have_topics(tb):
    if done.wait(0.02):
        sys.exit(0)
sub = tb.Topic(topic, tb.Image)
while not done.is_set():
    m = sub.recv(timeout=0.1)
    if m is None:
        continue
    err = check_image(m, h, w)
    print(f"bad {err}" if err else f"got {int(m.frame_id[1:])}", flush=True)
'''


class Frames:
    """Publishes rgb8 frames i = 0, 1, 2 ... on a topic of this process from a thread."""

    def __init__(self, tb, topic, h, w, period=0.03):
        self.tb, self.topic, self.h, self.w, self.period = tb, tb.Topic(topic, tb.Image), h, w, period
        self.i, self.stop, self.error = 0, threading.Event(), None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            while not self.stop.wait(self.period):
                self.topic.send(new_image(self.tb, self.i, self.h, self.w))
                self.i += 1
        except Exception as e:  # reported by __exit__
            self.error = e

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        assert self.error is None, self.error


def frames_seen(watcher, count, timeout, after=-1):
    """Wait for `count` frames with an index above `after`; the indices seen."""
    seen, deadline = [], time.monotonic() + timeout
    while sum(i > after for i in seen) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"{sum(i > after for i in seen)} of {count} frames after {after} within {timeout}s: {watcher.describe()}"
        line = watcher.next_line(min(left, 0.2))
        assert line is not None, watcher.describe()
        if line.startswith("got "):
            seen.append(int(line.split()[1]))
    return seen


def drain(watcher, quiet=0.3):
    """Read lines until none came for `quiet` s; the frame indices among them."""
    seen = []
    while True:
        line = watcher.next_line(quiet)
        if not line:
            return seen
        if line.startswith("got "):
            seen.append(int(line.split()[1]))


@pytest.mark.multiprocess
def test_a_receiving_bridge_killed_and_restarted_resumes(tb, host_b):
    """The importing side runs `tensorbus bridge --connect` on host B; after kill -9 and a restart
    (twice) frames arrive again on B within a few seconds, pixel-exact."""
    scope, ep = scope_name(), f"tcp/127.0.0.1:{free_port()}"
    h, w = 120, 160
    argv = ("bridge", "--connect", ep, "--import", "rs.*", "--scope", scope)
    with tb.Bridge(listen=[ep], export=["rs.*"], scope=scope) as br, Frames(tb, "rs.cam", h, w) as pub, \
            host_b.python(WATCH_B, "rs.cam", h, w) as watcher:
        watcher.expect("ready")
        last = -1
        for attempt in range(3):
            with host_b.tensorbus(*argv) as bridge_b:
                t0 = time.monotonic()
                seen = frames_seen(watcher, 5, timeout=10, after=last)
                resumed_s = time.monotonic() - t0
                assert resumed_s < 8, f"attempt {attempt}: frames resumed after {resumed_s:.1f}s"
                assert seen == sorted(seen) and len(set(seen)) == len(seen), seen
                bridge_b.proc.kill()  # kill -9, mid-stream
                bridge_b.proc.wait(10)
                assert bridge_b.proc.returncode == -signal.SIGKILL
            last = max(seen + drain(watcher))
            assert not drain(watcher, 0.5), "frames arrived with the receiving bridge dead"
        assert pub.i > last
        r = br.report()
    assert r["exported"]["rs.cam"]["messages"] > 0 and r["malformed"] == 0, r


# --- 6. Two bridges, both ways, on the same topics -------------------------------------------------

# Host B's chat participant.  argv: topic.  Publishes "hello" messages (i < 0) until the parent
# writes "go N", saying "synced" once one from A arrived; then sends N numbered messages; on "end"
# prints all it received as JSON.
CHAT_B = '''
topic = sys.argv[1]
t = tb.Topic(topic, dict, depth=64)
assert t.recv() is None
lines = queue.Queue()
threading.Thread(target=lambda: [lines.put(x.strip()) for x in iter(sys.stdin.readline, "")], daemon=True).start()
print("ready", flush=True)
got, k, synced = [], 0, False

def take(timeout):
    """Everything unread (waiting up to `timeout` for the first); how many were had before."""
    before = len(got)
    m = t.recv(timeout=timeout)
    while m is not None:
        got.append([m["from"], m["i"]])
        m = t.recv(timeout=0)
    return before

while lines.empty():
    k += 1
    t.send({"from": "B", "i": -k})
    time.sleep(0.1)
    take(0)
    if not synced and any(f == "A" for f, _ in got):
        synced = True
        print("synced", flush=True)
cmd = lines.get().split()
assert cmd[0] == "go", cmd
for i in range(int(cmd[1])):
    t.send({"from": "B", "i": i})
    take(0.01)
assert lines.get() == "end"
while take(1.0) != len(got):  # until nothing came for 1 s
    pass
print("received", json.dumps(got), flush=True)
lines.get()
'''


@pytest.mark.multiprocess
def test_two_bridges_both_ways_deliver_each_message_once_and_show_in_the_cli(tb, host_b):
    """Both bridges forward `chat.*` both ways and both hosts publish on chat.x: every subscriber
    sees every message exactly once (no echo); on B `topic list` shows the topic as bridged in
    from A and `doctor` the connected bridge."""
    scope, ep, topic, n = scope_name(), f"tcp/127.0.0.1:{free_port()}", "chat.x", 10
    mine = tb.Topic(topic, dict, depth=64)
    assert mine.recv() is None
    got = []

    def take(timeout=0.0):
        m = mine.recv(timeout=timeout)
        while m is not None:
            got.append((m["from"], m["i"]))
            m = mine.recv(timeout=0)

    with tb.Bridge(listen=[ep], topics=["chat.*"], scope=scope) as br, host_b.python(CHAT_B, topic) as chat, \
            host_b.tensorbus("bridge", "--connect", ep, "--topics", "chat.*", "--scope", scope) as bridge_b:
        chat.expect("ready")
        # Hellos both ways until each side has one from the other (both routes are up).
        k, synced, deadline = 0, False, time.monotonic() + 15
        while not (synced and any(f == "B" for f, _ in got)):
            assert time.monotonic() < deadline, f"synced {synced}, got {len(got)} ({got[-3:]}): {br.report()}; {bridge_b.describe()}"
            k += 1
            mine.send({"from": "A", "i": -k})
            time.sleep(0.1)
            take()
            synced = synced or chat.next_line(0) == "synced"
        chat.say(f"go {n}")
        for i in range(n):
            mine.send({"from": "A", "i": i})
            take(0.01)
        chat.say("end")
        received_b = [tuple(x) for x in json.loads(chat.expect("received", timeout=10)[len("received "):])]
        deadline = time.monotonic() + 5
        while sum(f == "B" and i >= 0 for f, i in got) < n and time.monotonic() < deadline:
            take(0.1)
        time.sleep(0.3)
        take()
        report = br.report()

        # B's CLI sees the bridge: topic list's BRIDGED column, doctor's bridge line.
        def listed():
            r = host_b.cli("topic", "list")
            line = next((x for x in r.stdout.splitlines() if x.split()[:1] == [topic]), "")
            return r if "in from" in line and br.zid in line and "BRIDGED" in r.stdout else None

        r = wait_until(listed, timeout=8, interval=0.5, message=lambda: host_b.cli("topic", "list").stdout)
        line = next(x for x in r.stdout.splitlines() if x.split()[:1] == [topic])
        assert f"out (pid {bridge_b.pid})" in line, line
        pattern = rf"bridge pid {bridge_b.pid} .*connected to 1 peer\(s\), 1 topic\(s\) out, 1 in"
        wait_until(lambda: re.search(pattern, host_b.cli("doctor").stdout), timeout=8, interval=0.5,
                   message=lambda: host_b.cli("doctor").stdout)
        chat.say("bye")
        rc, out = bridge_b.signal_and_wait(signal.SIGINT)
    assert rc == 0, bridge_b.describe()
    assert any(x.startswith(f"in {topic}: ") for x in out) and any(x.startswith(f"out {topic}: ") for x in out), out
    tests = {(f, i) for f in "AB" for i in range(n)}
    for who, seen in (("A", got), ("B", received_b)):
        dup = {x for x in seen if seen.count(x) > 1}
        assert not dup, f"{who} saw these more than once (an echo): {sorted(dup)}"
        assert tests <= set(seen), f"{who} missed {sorted(tests - set(seen))}; saw {seen[-30:]}; A: {report}; B: {out}"
    # Everything A imported was one of B's messages, delivered once.
    assert report["imported"][topic]["messages"] == sum(f == "B" for f, _ in got), report
    assert report["imported"][topic]["lost"] == 0 and report["malformed"] == 0, report


# --- 7. Two network namespaces ----------------------------------------------------------------------


def _ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)


@pytest.fixture
def netns_pair():
    """Two network namespaces of this test's own joined by a veth pair, 10.213.<n>.1/30 and .2/30
    (lo up in both); deleted afterwards. Skipped unless root and `ip netns add` works."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 (`ip netns add`)")
    tag = uuid.uuid4().hex[:8]
    names = [f"tb-{tag}-a", f"tb-{tag}-b"]
    n = int(tag, 16) % 250 + 1
    addrs = [f"10.213.{n}.1", f"10.213.{n}.2"]
    made = []
    try:
        for name in names:
            r = _ip("netns", "add", name)
            if r.returncode != 0:
                pytest.skip(f"`ip netns add` does not work here: {r.stderr.strip()}")
            made.append(name)
        r = _ip("-n", names[0], "link", "add", "tbv0", "type", "veth", "peer", "name", "tbv1", "netns", names[1])
        if r.returncode != 0:
            pytest.skip(f"no veth pair between network namespaces here: {r.stderr.strip()}")
        for name, dev, addr in zip(names, ("tbv0", "tbv1"), addrs):
            for step in (("addr", "add", addr + "/30", "dev", dev), ("link", "set", dev, "up"), ("link", "set", "lo", "up")):
                r = _ip("-n", name, *step)
                assert r.returncode == 0, (name, step, r.stderr)
        yield names, addrs
    finally:
        for name in made:
            _ip("netns", "del", name)


@pytest.mark.multiprocess
def test_bridges_in_two_network_namespaces(tb, host_b, netns_pair):
    """`tensorbus bridge` in one network namespace listens on its veth address, the other's
    connects to it: frames published on host A arrive on host B pixel-exact over the veth link."""
    (ns_a, ns_b), (addr_a, _addr_b) = netns_pair
    scope, h, w, topic = scope_name(), 240, 320, "nx.cam"
    ep = f"tcp/{addr_a}:7447"
    host_a = Host(os.environ["TENSORBUS_SHM_DIR"], host_b.namespace)
    with Frames(tb, topic, h, w, period=0.05) as pub, host_b.python(WATCH_B, topic, h, w) as watcher, \
            host_a.tensorbus("bridge", "--listen", ep, "--export", "nx.*", "--scope", scope, wrap=("ip", "netns", "exec", ns_a)) as bridge_a, \
            host_b.tensorbus("bridge", "--connect", ep, "--import", "nx.*", "--scope", scope, wrap=("ip", "netns", "exec", ns_b)) as bridge_b:
        watcher.expect("ready")
        seen = frames_seen(watcher, 10, timeout=15)
        assert seen == sorted(seen) and len(set(seen)) == len(seen), seen
        rc_b, out_b = bridge_b.signal_and_wait(signal.SIGTERM)
        rc_a, out_a = bridge_a.signal_and_wait(signal.SIGTERM)
        assert pub.i > max(seen)
    assert rc_a == 0 and rc_b == 0, (bridge_a.describe(), bridge_b.describe())
    m = re.search(rf"^in {re.escape(topic)}: (\d+) messages, .* 0 lost", "\n".join(out_b), re.M)
    assert m and int(m.group(1)) >= 10, out_b
    assert re.search(rf"^out {re.escape(topic)}: (\d+) messages", "\n".join(out_a), re.M), out_a
