"""The Zenoh bridge (issues 18 and 19) against plain Zenoh pub/sub of the same bytes, in one run.

    python benches/python/bench_bridge.py [--markdown] [--seconds 6 | --quick] [--reps 2]
                                          [--rounds 1000] [--frames 90] [--gap S]
                                          [--only throughput,latency,frame-latency,compress] [--json FILE]

Two "hosts" on this machine: two process trees with their own `TENSORBUS_SHM_DIR` (fresh
directories under /dev/shm, removed at the end), the same pool classes (`4Kx64,1Mx16,8Mx16`: a
1080p rgb8 frame, 6.2 MB, fits the 8 MiB class). Every Zenoh session is a peer on loopback TCP
with multicast scouting off; one side listens on a free port, the other connects.

Systems:
  tensorbus (5 processes):
    publisher (host A, Python) -> `tensorbus bridge --listen EP --export T` (host A)
    -> Zenoh TCP -> `tensorbus bridge --connect EP --import T` (host B) -> subscriber (host B, Python)
  tensorbus ROS 2 (issue 19; the same 5 processes, the bridges in ROS 2 mode):
    `tensorbus bridge --ros2 --domain 42 --listen EP --export camera.rgb=/camera/image_raw` (A) and
    `... --connect EP --import camera.rgb=/camera/image_raw:sensor_msgs/msg/Image` (B): the frame
    crosses as sensor_msgs/Image CDR on rmw_zenoh's key and lands as a tb.Image; cmd_vel likewise
    as geometry_msgs/Twist (`--export cmd_vel=/cmd_vel`, `--import cmd_vel=/cmd_vel:geometry_msgs/msg/Twist`)
  plain zenoh (2 processes), the reference:
    publisher (`eclipse-zenoh`, listens) -> Zenoh TCP -> subscriber (`eclipse-zenoh`, connects).
    Zenoh shared memory off, as in the bridge by default; `plain zenoh + SHM` (the wheel's
    default) and `tensorbus + Zenoh SHM` (both bridges with `--zenoh-shm`; the camera sleeps
    250 µs), one 1080p run each, are shown for information only.

Scenarios (fresh processes each time, `--peer ROLE`; the systems take turns, `--reps` times):

- throughput, 480p and 1080p rgb8 (ROS 2 mode at 1080p): the tensorbus publisher fills every slot
  of the frame's size class once, then loans `tb.Image(h, w, "rgb8")` and sends it on `camera.rgb`
  (depth 4, latest) with a sleep after each send (`--gap`; by default 250 µs at 480p, 2 ms at
  1080p): it offers ~2700 / ~450 frames/s, about 3× what the link carries, at 0.03–0.1 core (a
  camera process, not part of the transport; unpaced it spins at ~400 k sends/s on the core the
  bridges need, and with 100 µs sleeps, ~4000 offers/s at 0.15 core, 1080p came out ~15 % lower
  and noisier). The plain publisher puts one prebuilt `zenoh.ZBytes` of the same size back to
  back (no copy per put either; its `put` is the transport's work and paces itself: a sleep after
  it only lowers its rate). Both with Zenoh's `CongestionControl.DROP` (the bridge's choice for
  latest-policy topics) and priority `DATA`: a congested link drops whole frames on both. The subscribers count frames and bytes (the
  tensorbus one `recv(timeout)`s each frame, a zero-copy view of the slot the importing bridge
  wrote; the plain one counts `len(sample.payload)` in its callback); neither reads the pixels
  in the window. Before the window each subscriber checks the pixels of the first frame it got.
  Delivered frames/s and GB/s at the subscriber between the driver's `go` and `stop`
  (`--seconds`). Both publishers send at 50 Hz before `go` (warm-up: the first frame through says
  the path is up).
- latency, one 16-byte message one way: the sender sleeps 1 ms, stamps CLOCK_MONOTONIC
  (`time.monotonic_ns`, kept on the sending side by message number) and sends
  `tb.CmdVel(linear=n)` (tensorbus, ROS 2 mode: a geometry_msgs/Twist on the wire) or
  `struct.pack("<Qff", stamp, n, 0)` (plain Zenoh, put with the QoS the bridge gives a POD topic:
  `express=True`, priority `DATA_HIGH`, `DROP`); the receiver stamps when it holds the message
  (after `recv(timeout)` returns; first thing in the Zenoh callback) and keeps (n, stamp); the
  driver matches them. `--rounds` per block, two blocks per system, blocks alternate.
- frame latency, 1080p one way at 30 Hz: the publisher sets the frame's `timestamp_ns` to
  `time.time_ns()` just before the send (tensorbus: the Image's own field, carried in the bridge
  header or the CDR header.stamp; plain: a 16-byte attachment); the receiver takes
  `time.time_ns()` when it holds the frame. `--frames` per block, two blocks per system.
- compression, 1080p "camera-like" frames (a smooth gradient plus +-3 of noise, a different
  noise per slot) and one lz4 run with the gradient alone: the throughput scenario through the
  bridges with no compression, `--compress 'camera.*=lz4'` and `'camera.*=zstd'` (level 1). Bytes
  sent per frame: the TCP bytes the exporting bridge sent on the Zenoh link over its whole life
  (`ss -ti`: bytes_sent) divided by the frames that crossed (the importing bridge's messages +
  dropped); the same frame compressed by the Python `lz4`/`zstandard` packages (when installed)
  is a cross-check of the ratio and its one-core cost.

CPU: each process's utime + stime (/proc/PID/stat) over the measured window, in cores.
"""

import argparse
import collections
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POOL_CLASSES = "4Kx64,1Mx16,8Mx16"
SCOPE = "bench"
DOMAIN = 42
SIZES = {"480p": (480, 640), "1080p": (1080, 1920)}
GAPS = {"480p": 0.00025, "1080p": 0.002}  # the tensorbus publisher's sleep after each send
FRAMES = "camera.rgb"  # the tensorbus topic (key tensorbus/bench/camera.rgb)
PINGS = "cmd_vel"
ROS = {FRAMES: ("/camera/image_raw", "sensor_msgs/msg/Image"), PINGS: ("/cmd_vel", "geometry_msgs/msg/Twist")}
PLAIN_FRAMES, PLAIN_PINGS = "plain/camera", "plain/cmd_vel"
WARMUP_PERIOD = 0.02  # 50 Hz before `go`
PAUSE = 0.001  # between latency messages
FRAME_RATE = 30.0  # frame latency
TB, ROS2, ZN, ZN_SHM = "tensorbus", "tensorbus ROS 2", "plain zenoh", "plain zenoh + SHM"
TB_SHM = "tensorbus + Zenoh SHM"
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- peers

class Control:
    """The driver's words on stdin: `go` (start measuring), `stop` (report and end). EOF (the
    driver is gone) counts as stop."""

    def __init__(self):
        self.go, self.stop = threading.Event(), threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in sys.stdin:
            word = line.strip()
            if word == "go":
                self.go.set()
            elif word == "stop":
                break
        self.go.set()
        self.stop.set()


def say(*words):
    print(*words, flush=True)


def frame(h, w, content, seed=0):
    import numpy as np

    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) // 8) % 256], axis=-1)
    if content == "camera":  # a smooth gradient and a little sensor noise
        base = base + np.random.default_rng(seed).integers(-3, 4, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def check_pixels(a, h, w, content):
    """None if `a` (h, w, 3 uint8) is a frame of `content`, else what is wrong. Camera-like frames
    differ per slot: each must lie within +-3 of the gradient."""
    import numpy as np

    if a.shape != (h, w, 3) or a.dtype != np.uint8:
        return f"shape {a.shape} {a.dtype}"
    ref = frame(h, w, "pattern")
    diff = int(np.abs(a.astype(np.int16) - ref).max())
    limit = 3 if content == "camera" else 0
    return None if diff <= limit else f"pixels differ from the sent frame by up to {diff}"


def zenoh_session(listen=None, connect=None, shm=False):
    import zenoh

    conf = zenoh.Config()
    conf.insert_json5("mode", '"peer"')
    conf.insert_json5("scouting/multicast/enabled", "false")
    # The eclipse-zenoh wheel has shared memory on by default, and with it the transport's
    # "optimization": a put over 3 KiB between two processes of one machine goes through a Zenoh
    # SHM pool, not the socket. The bridge has it off unless `--zenoh-shm`, so the reference is
    # TCP too; `shm=True` keeps the wheel's default (an extra, labelled row).
    conf.insert_json5("transport/shared_memory/enabled", "true" if shm else "false")
    if listen:
        conf.insert_json5("listen/endpoints", json.dumps([listen]))
    if connect:
        conf.insert_json5("connect/endpoints", json.dumps([connect]))
        conf.insert_json5("connect/timeout_ms", "-1")
    return zenoh.open(conf)


def prefill(h, w, content):
    """Fill every slot the frame's size class lends once: a loan then finds its pixels in place."""
    import numpy as np
    import tensorbus as tb

    held = []
    while len(held) < 64:
        try:
            held.append(tb.Image(h, w, "rgb8"))
        except tb.PoolExhaustedError:
            break
    for i, img in enumerate(held):
        np.copyto(img.to_numpy(), frame(h, w, content, seed=i))
    return len(held)


def peer_tb_pub(h, w, content, gap):
    import tensorbus as tb

    topic = tb.Topic(FRAMES, tb.Image)
    slots = prefill(h, w, content)
    ctl = Control()
    say("ready")
    while not ctl.go.is_set():
        topic.send(tb.Image(h, w, "rgb8"))
        ctl.go.wait(WARMUP_PERIOD)
    n, full = 0, 0
    t0, cpu0 = time.perf_counter(), time.process_time()
    while not ctl.stop.is_set():
        try:
            img = tb.Image(h, w, "rgb8")
        except tb.PoolExhaustedError:
            full += 1
            time.sleep(0.0001)
            continue
        topic.send(img)
        del img
        n += 1
        if gap:
            time.sleep(gap)
    say("sent", n, time.perf_counter() - t0, time.process_time() - cpu0, full, slots)


def peer_tb_sub(h, w, content):
    import tensorbus as tb

    topic = tb.Topic(FRAMES, tb.Image)
    topic.recv()  # the subscriber exists from here
    ctl = Control()
    say("ready")
    first = None
    while first is None and not ctl.stop.is_set():
        first = topic.recv(timeout=0.1)
    bad = check_pixels(first.to_numpy(), h, w, content) if first is not None else "no frame"
    del first
    say("first", "ok" if bad is None else "BAD: " + bad)
    while not ctl.go.is_set():
        topic.recv(timeout=0.01)
    n, nbytes, misses0 = 0, 0, topic.misses
    t0 = time.perf_counter()
    while not ctl.stop.is_set():
        img = topic.recv(timeout=0.05)
        if img is not None:
            n += 1
            nbytes += img.nbytes
            del img
    say("got", n, nbytes, time.perf_counter() - t0, topic.misses - misses0)


def peer_zn_pub(h, w, content, listen, shm, gap, nbuf):
    import zenoh

    s = zenoh_session(listen=listen, shm=shm)
    pub = s.declare_publisher(PLAIN_FRAMES, congestion_control=zenoh.CongestionControl.DROP,
                              priority=zenoh.Priority.DATA, express=False)
    # `nbuf` distinct buffers in turn, as the tensorbus publisher's loans go round the pool's
    # slots: one buffer sent again and again stays in the cache, a camera's frames do not.
    raw = frame(h, w, content).tobytes()
    payloads = [zenoh.ZBytes(bytearray(raw)) for _ in range(max(1, nbuf))]
    ctl = Control()
    say("ready")
    while not ctl.go.is_set():
        pub.put(payloads[0])
        ctl.go.wait(WARMUP_PERIOD)
    n = 0
    t0, cpu0 = time.perf_counter(), time.process_time()
    while not ctl.stop.is_set():
        pub.put(payloads[n % len(payloads)])
        n += 1
        if gap:
            time.sleep(gap)
    say("sent", n, time.perf_counter() - t0, time.process_time() - cpu0, 0, 0)
    s.close()


def peer_zn_sub(h, w, content, connect, shm):
    import numpy as np

    st = {"first": None, "on": False, "n": 0, "bytes": 0}
    got_first = threading.Event()

    def on_sample(sample):
        if st["first"] is None:
            st["first"] = sample.payload.to_bytes()
            got_first.set()
        if st["on"]:
            st["n"] += 1
            st["bytes"] += len(sample.payload)

    s = zenoh_session(connect=connect, shm=shm)
    sub = s.declare_subscriber(PLAIN_FRAMES, on_sample)
    ctl = Control()
    say("ready")
    while not got_first.wait(0.1) and not ctl.stop.is_set():
        pass
    if st["first"] is None:
        bad = "no frame"
    elif len(st["first"]) != h * w * 3:
        bad = f"{len(st['first'])} bytes"
    else:
        bad = check_pixels(np.frombuffer(st["first"], np.uint8).reshape(h, w, 3), h, w, content)
    say("first", "ok" if bad is None else "BAD: " + bad)
    ctl.go.wait()
    st["on"] = True
    t0 = time.perf_counter()
    ctl.stop.wait()
    st["on"] = False
    say("got", st["n"], st["bytes"], time.perf_counter() - t0, 0)
    sub.undeclare()
    s.close()


def ping_loop(ctl, rounds, send):
    """Warm-up at 50 Hz (number 0) until `go`, then `rounds` messages 1 ms apart; the send stamps."""
    while not ctl.go.is_set():
        send(0, time.monotonic_ns())
        ctl.go.wait(WARMUP_PERIOD)
    stamps = []
    for i in range(1, rounds + 1):
        time.sleep(PAUSE)
        t = time.monotonic_ns()
        send(i, t)
        stamps.append(t)
    say("sent", *stamps)


def peer_tb_ping(rounds):
    import tensorbus as tb

    topic = tb.Topic(PINGS, tb.CmdVel)
    ctl = Control()
    say("ready")
    # The number travels in `linear` (f32: exact up to 2^24); the ROS 2 mode's Twist keeps it,
    # not the timestamp (the importing bridge stamps the receive time).
    ping_loop(ctl, rounds, lambda i, t: topic.send(tb.CmdVel(linear=float(i), angular=0.0, timestamp_ns=t)))
    ctl.stop.wait()


def peer_tb_pong():
    import tensorbus as tb

    topic = tb.Topic(PINGS, tb.CmdVel)
    topic.recv()
    ctl = Control()
    say("ready")
    while topic.recv(timeout=0.1) is None and not ctl.stop.is_set():
        pass
    say("first")
    got = []
    while not ctl.stop.is_set():
        m = topic.recv(timeout=0.05)
        if m is None:
            continue
        t = time.monotonic_ns()
        if m.linear > 0:
            got.append(f"{int(m.linear)}:{t}")
    say("got", *got)


def peer_zn_ping(rounds, listen):
    import zenoh

    s = zenoh_session(listen=listen)
    # The QoS the bridge gives a POD topic's samples (bridge/src/export.rs).
    pub = s.declare_publisher(PLAIN_PINGS, congestion_control=zenoh.CongestionControl.DROP,
                              priority=zenoh.Priority.DATA_HIGH, express=True)
    ctl = Control()
    say("ready")
    ping_loop(ctl, rounds, lambda i, t: pub.put(struct.pack("<Qff", t, float(i), 0.0)))
    ctl.stop.wait()
    s.close()


def peer_zn_pong(connect):
    first, got = threading.Event(), []

    def on_sample(sample):
        t = time.monotonic_ns()
        _, seq, _ = struct.unpack("<Qff", sample.payload.to_bytes())
        first.set()
        if seq > 0:
            got.append(f"{int(seq)}:{t}")

    s = zenoh_session(connect=connect)
    sub = s.declare_subscriber(PLAIN_PINGS, on_sample)
    ctl = Control()
    say("ready")
    while not first.wait(0.1) and not ctl.stop.is_set():
        pass
    say("first")
    ctl.stop.wait()
    sub.undeclare()
    say("got", *got)
    s.close()


def frame_loop(ctl, n, send):
    """Warm-up at 50 Hz (number -1) until `go`, then `n` frames at FRAME_RATE (absolute ticks)."""
    while not ctl.go.is_set():
        send(-1)
        ctl.go.wait(WARMUP_PERIOD)
    t0 = time.monotonic()
    for i in range(n):
        time.sleep(max(0.0, t0 + i / FRAME_RATE - time.monotonic()))
        send(i)
    say("done")


def peer_tb_fpub(h, w):
    import tensorbus as tb

    topic = tb.Topic(FRAMES, tb.Image)
    prefill(h, w, "pattern")
    ctl = Control()
    say("ready")

    def send(i):
        img = tb.Image(h, w, "rgb8")
        img.frame_id = str(i)
        img.timestamp_ns = time.time_ns()
        topic.send(img)

    frame_loop(ctl, FRAMES_N[0], send)
    ctl.stop.wait()


def peer_tb_fsub():
    import tensorbus as tb

    topic = tb.Topic(FRAMES, tb.Image)
    topic.recv()
    ctl = Control()
    say("ready")
    while topic.recv(timeout=0.1) is None and not ctl.stop.is_set():
        pass
    say("first")
    delays = []
    while not ctl.stop.is_set():
        m = topic.recv(timeout=0.05)
        if m is None:
            continue
        t = time.time_ns()
        if m.frame_id != "-1":
            delays.append(t - m.timestamp_ns)
        del m
    say("lat", *delays)


def peer_zn_fpub(h, w, listen):
    import zenoh

    s = zenoh_session(listen=listen)
    pub = s.declare_publisher(PLAIN_FRAMES, congestion_control=zenoh.CongestionControl.DROP,
                              priority=zenoh.Priority.DATA, express=False)
    payload = zenoh.ZBytes(frame(h, w, "pattern").tobytes())
    ctl = Control()
    say("ready")
    frame_loop(ctl, FRAMES_N[0], lambda i: pub.put(payload, attachment=struct.pack("<qq", i, time.time_ns())))
    ctl.stop.wait()
    s.close()


def peer_zn_fsub(connect):
    first, delays = threading.Event(), []

    def on_sample(sample):
        t = time.time_ns()
        i, sent = struct.unpack("<qq", sample.attachment.to_bytes())
        first.set()
        if i >= 0:
            delays.append(t - sent)

    s = zenoh_session(connect=connect)
    sub = s.declare_subscriber(PLAIN_FRAMES, on_sample)
    ctl = Control()
    say("ready")
    while not first.wait(0.1) and not ctl.stop.is_set():
        pass
    say("first")
    ctl.stop.wait()
    sub.undeclare()
    say("lat", *delays)
    s.close()


FRAMES_N = [90]  # frames per frame-latency block (a peer gets it as its last argument)


def with_n(fn, a):
    FRAMES_N[0] = int(a[-1])
    return fn(*a[:-1])


PEERS = {
    "tb-pub": lambda a: peer_tb_pub(int(a[0]), int(a[1]), a[2], float(a[3])),
    "tb-sub": lambda a: peer_tb_sub(int(a[0]), int(a[1]), a[2]),
    "zn-pub": lambda a: peer_zn_pub(int(a[0]), int(a[1]), a[2], a[3], a[4] == "shm", float(a[5]), int(a[6])),
    "zn-sub": lambda a: peer_zn_sub(int(a[0]), int(a[1]), a[2], a[3], a[4] == "shm"),
    "tb-ping": lambda a: peer_tb_ping(int(a[0])),
    "tb-pong": lambda a: peer_tb_pong(),
    "zn-ping": lambda a: peer_zn_ping(int(a[0]), a[1]),
    "zn-pong": lambda a: peer_zn_pong(a[0]),
    "tb-fpub": lambda a: with_n(lambda h, w: peer_tb_fpub(int(h), int(w)), a),
    "tb-fsub": lambda a: peer_tb_fsub(),
    "zn-fpub": lambda a: with_n(lambda h, w, ep: peer_zn_fpub(int(h), int(w), ep), a),
    "zn-fsub": lambda a: peer_zn_fsub(a[0]),
}


# ---------------------------------------------------------------- driver

def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def tcp_sent(port):
    """Bytes sent so far on the established TCP connections whose local port is `port` (the
    listening bridge's side of the Zenoh link), from `ss -ti` (bytes_sent); 0 without ss."""
    try:
        out = subprocess.run(["ss", "-tinH", "state", "established", f"( sport = :{port} )"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(int(w.split(":", 1)[1]) for w in out.split() if w.startswith("bytes_sent:"))


INFO = ("[tensorbus] bridge: exporting ", "[tensorbus] bridge: importing ", "bridge ")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process: stdout read line by line (a thread keeps the lines), stderr likewise
    (shown if it fails); ended by `stop` on stdin (peers) or SIGINT (bridges)."""

    def __init__(self, name, argv, env):
        self.name = name
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env, cwd=ROOT)
        self.lines = collections.deque()
        self.errs = []
        self.cv = threading.Condition()
        self.eof = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_err(self):
        for line in self.p.stderr:
            with self.cv:
                self.errs.append(line)

    def _read(self):
        for line in self.p.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.lines.append(None)
            self.eof = True
            self.cv.notify_all()

    def stderr(self):
        with self.cv:
            return "".join(self.errs)[-3000:]

    def expect(self, word, timeout=30.0):
        """The next stdout line starting with `word` (others are skipped), split."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                while self.lines:
                    line = self.lines.popleft()
                    if line is None:
                        raise RuntimeError(f"{self.name} ended (exit {self.p.wait()}) waiting for {word!r}: {self.stderr()}")
                    if line.split()[:1] == [word]:
                        return line.split()[1:]
                left = end - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{self.name}: no {word!r} within {timeout:.0f} s: {self.stderr()}")
                self.cv.wait(left)

    def rest(self, timeout=10.0):
        """Every stdout line up to EOF (after the process ended)."""
        end = time.monotonic() + timeout
        with self.cv:
            while not self.eof and time.monotonic() < end:
                self.cv.wait(0.1)
            return [ln for ln in self.lines if ln is not None]

    def stderr_has(self, text, timeout=30.0):
        end = time.monotonic() + timeout
        while text not in self.stderr():
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.p.returncode}: {self.stderr()}")
            if time.monotonic() > end:
                raise RuntimeError(f"{self.name}: not started within {timeout:.0f} s: {self.stderr()}")
            time.sleep(0.05)

    def send(self, word):
        try:
            self.p.stdin.write(word + "\n")
            self.p.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def wait(self, timeout=20.0):
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise RuntimeError(f"{self.name} did not end within {timeout:.0f} s: {self.stderr()}") from None
        if self.p.returncode != 0:
            raise RuntimeError(f"{self.name} exited {self.p.returncode}: {self.stderr()}")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


class Hosts:
    """The two hosts' environments (A publishes, B subscribes) and every process started."""

    def __init__(self, gap, nbuf=16):
        self.gap, self.nbuf = gap, nbuf
        self.dirs = {h: tempfile.mkdtemp(prefix=f"tensorbus-bridge-{h}-", dir="/dev/shm") for h in "AB"}
        self.procs = []
        self.bridge_stops = []  # seconds from SIGINT to exit, per bridge

    def env(self, host):
        return dict(os.environ, TENSORBUS_SHM_DIR=self.dirs[host], TENSORBUS_NAMESPACE="bridge",
                    TENSORBUS_POOL_CLASSES=POOL_CLASSES)

    def peer(self, host, role, *args):
        p = Proc(f"{role} ({host})", [sys.executable, os.path.abspath(__file__), "--peer", role, *map(str, args)], self.env(host))
        self.procs.append(p)
        p.expect("ready")
        return p

    def bridge(self, host, way, endpoint, topic, compress=None, ros=False, zshm=False):
        argv = [sys.executable, "-m", "tensorbus", "bridge", "--listen" if way == "export" else "--connect", endpoint]
        if ros:
            name, ros_type = ROS[topic]
            spec = f"{topic}={name}" if way == "export" else f"{topic}={name}:{ros_type}"
            argv += ["--ros2", "--domain", str(DOMAIN), f"--{way}", spec, "--json"]
        else:
            argv += [f"--{way}", topic, "--scope", SCOPE, "--json"]
        if compress:
            argv += ["--compress", f"{topic}={compress}"]
        if zshm:
            argv += ["--zenoh-shm"]
        p = Proc(f"bridge {way} ({host})", argv, self.env(host))
        self.procs.append(p)
        p.stderr_has("bridge ")  # its first line: the session is open
        return p

    def stop_bridge(self, p):
        """SIGINT; its JSON report, with `log` (its stderr less the start-up lines) added."""
        t = time.monotonic()
        p.p.send_signal(signal.SIGINT)
        p.wait()
        self.bridge_stops.append(time.monotonic() - t)
        report = json.loads("\n".join(p.rest()))
        report["log"] = [ln for ln in p.stderr().splitlines() if not ln.startswith(INFO)]
        return report

    def reset(self):
        """End what is left and empty both namespaces for the next scenario."""
        for p in self.procs:
            p.kill()
        self.procs = []
        for d in self.dirs.values():
            for e in os.listdir(d):
                shutil.rmtree(os.path.join(d, e), ignore_errors=True)

    def close(self):
        self.reset()
        for d in self.dirs.values():
            shutil.rmtree(d, ignore_errors=True)


def topic_counts(report, name, direction):
    for t in report.get("topics", []):
        if t.get("name") == name and t.get("direction") == direction:
            return t
    return {}


def first_ok(sub, what):
    words = sub.expect("first")
    if words[:1] != ["ok"]:
        raise RuntimeError(f"{what}: the first frame at the subscriber is wrong: {' '.join(words)}")


def measure_window(procs, seconds, pub, sub):
    """`go` to publisher and subscriber, `seconds`, `stop`; the figures of both and each process's CPU."""
    cpu0 = {p.name: cpu_seconds(p.p.pid) for p in procs}
    sub.send("go")
    pub.send("go")
    t0 = time.perf_counter()
    time.sleep(seconds)
    cpu1 = {p.name: cpu_seconds(p.p.pid) for p in procs}
    window = time.perf_counter() - t0
    sub.send("stop")
    pub.send("stop")
    n_sub, nbytes, sub_window, sub_misses = sub.expect("got")
    n_pub, pub_span, pub_cpu, pub_full, slots = pub.expect("sent")
    sub.wait()
    pub.wait()
    cpu = {k: (cpu1[k] - cpu0[k]) / window for k in cpu0}
    return {"frames": int(n_sub), "bytes": int(nbytes), "window": float(sub_window), "sub_misses": int(sub_misses),
            "sent": int(n_pub), "pub_span": float(pub_span), "pub_full": int(pub_full), "slots": int(slots), "cpu": cpu}


def run_tensorbus_frames(hosts, size, seconds, content="pattern", compress=None, ros=False, zshm=False, gap=None):
    h, w = SIZES[size]
    ep = f"tcp/127.0.0.1:{free_port()}"
    shm_before = zenoh_shm_files()
    sub = hosts.peer("B", "tb-sub", h, w, content)
    ba = hosts.bridge("A", "export", ep, FRAMES, compress, ros, zshm)
    bb = hosts.bridge("B", "import", ep, FRAMES, None, ros, zshm)
    gap = gap if gap is not None else GAPS[size] if hosts.gap is None else hosts.gap
    pub = hosts.peer("A", "tb-pub", h, w, content, gap)
    first_ok(sub, f"{size} {ROS2 if ros else TB} {compress or ''}")
    r = measure_window([pub, ba, bb, sub], seconds, pub, sub)
    sent = tcp_sent(int(ep.rsplit(":", 1)[1]))
    ra, rb = hosts.stop_bridge(ba), hosts.stop_bridge(bb)
    hosts.reset()
    if zshm:
        remove_zenoh_shm(shm_before)
    out, inn = topic_counts(ra, FRAMES, "out"), topic_counts(rb, FRAMES, "in")
    crossed = inn.get("messages", 0) + inn.get("dropped", 0)
    r.update(system=ROS2 if ros else TB_SHM if zshm else TB, size=size, compress=compress or "none", content=content,
             exported=out.get("messages", 0), export_misses=out.get("misses", 0), export_dropped=out.get("dropped", 0),
             imported=inn.get("messages", 0), lost=inn.get("lost", 0), import_dropped=inn.get("dropped", 0),
             import_misses=inn.get("misses", 0), malformed=ra.get("malformed", 0) + rb.get("malformed", 0),
             out_bytes=out.get("bytes", 0), in_bytes=inn.get("bytes", 0),
             wire_per_frame=sent / crossed if crossed else 0.0, reports=[ra, rb],
             log=ra["log"] + rb["log"])
    if r["exported"] == 0 or r["imported"] == 0 or r["frames"] == 0:
        raise RuntimeError(f"{size} {r['system']}: nothing crossed: {ra} {rb} {r}")
    if r["bytes"] != r["frames"] * h * w * 3:
        raise RuntimeError(f"{size} {r['system']}: {r['bytes']} bytes in {r['frames']} frames")
    return r


def zenoh_shm_files():
    return {e for e in os.listdir("/dev/shm") if e.endswith(".zenoh")}


def remove_zenoh_shm(before):
    """eclipse-zenoh's SHM provider leaves its segments (/dev/shm/<n>.zenoh) behind when its
    process exits: remove those our run created that no process maps any more."""
    new = zenoh_shm_files() - before
    if not new:
        return
    mapped = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/maps") as f:
                mapped.update(e for e in new if f"/dev/shm/{e}" in f.read())
        except OSError:
            pass
    for e in new - mapped:
        try:
            os.unlink(f"/dev/shm/{e}")
        except OSError:
            pass


def run_plain_frames(hosts, size, seconds, shm=False):
    h, w = SIZES[size]
    ep = f"tcp/127.0.0.1:{free_port()}"
    mem = "shm" if shm else "tcp"
    shm_before = zenoh_shm_files()
    try:
        pub = hosts.peer("A", "zn-pub", h, w, "pattern", ep, mem, 0, hosts.nbuf)
        sub = hosts.peer("B", "zn-sub", h, w, "pattern", ep, mem)
        first_ok(sub, f"{size} plain")
        r = measure_window([pub, sub], seconds, pub, sub)
    finally:
        hosts.reset()
        if shm:
            remove_zenoh_shm(shm_before)
    r.update(system=ZN_SHM if shm else ZN, size=size, compress="none", content="pattern")
    if r["frames"] == 0 or r["bytes"] != r["frames"] * h * w * 3:
        raise RuntimeError(f"{size} {r['system']}: {r['bytes']} bytes in {r['frames']} frames")
    return r


def stop_pair(hosts, ping, pong, ba, bb, word):
    pong.send("stop")
    got = pong.expect(word)
    ping.send("stop")
    pong.wait()
    ping.wait()
    reports = [hosts.stop_bridge(b) for b in (ba, bb) if b is not None]
    hosts.reset()
    return got, reports


def run_latency(hosts, system, rounds):
    """One block: (one-way delays in ns, messages lost, the bridges' reports)."""
    ep = f"tcp/127.0.0.1:{free_port()}"
    ba = bb = None
    if system in (TB, ROS2):
        pong = hosts.peer("B", "tb-pong")
        ba = hosts.bridge("A", "export", ep, PINGS, ros=system == ROS2)
        bb = hosts.bridge("B", "import", ep, PINGS, ros=system == ROS2)
        ping = hosts.peer("A", "tb-ping", rounds)
    else:
        ping = hosts.peer("A", "zn-ping", rounds, ep)
        pong = hosts.peer("B", "zn-pong", ep)
    pong.expect("first", timeout=30)
    time.sleep(0.2)  # the warm-up messages still in flight arrive
    ping.send("go")
    sent = [int(x) for x in ping.expect("sent", timeout=rounds * 0.01 + 30)]
    time.sleep(0.3)
    got, reports = stop_pair(hosts, ping, pong, ba, bb, "got")
    delays = []
    for pair in got:
        i, t = map(int, pair.split(":"))
        delays.append(t - sent[i - 1])
    return delays, rounds - len(delays), reports


def run_frame_latency(hosts, system, n):
    ep = f"tcp/127.0.0.1:{free_port()}"
    h, w = SIZES["1080p"]
    ba = bb = None
    if system in (TB, ROS2):
        sub = hosts.peer("B", "tb-fsub")
        ba = hosts.bridge("A", "export", ep, FRAMES, ros=system == ROS2)
        bb = hosts.bridge("B", "import", ep, FRAMES, ros=system == ROS2)
        pub = hosts.peer("A", "tb-fpub", h, w, n)
    else:
        pub = hosts.peer("A", "zn-fpub", h, w, ep, n)
        sub = hosts.peer("B", "zn-fsub", ep)
    sub.expect("first", timeout=30)
    time.sleep(0.3)
    pub.send("go")
    pub.expect("done", timeout=n / FRAME_RATE + 30)
    time.sleep(0.3)
    got, reports = stop_pair(hosts, pub, sub, ba, bb, "lat")
    delays = [int(x) for x in got]
    return delays, n - len(delays), reports


def compress_reference(h, w):
    """The python `lz4` / `zstandard` packages on one camera-like frame: (name, bytes, seconds)."""
    raw = frame(h, w, "camera", seed=0).tobytes()
    out = []
    try:
        import lz4.block

        t = time.perf_counter()
        n = len(lz4.block.compress(raw, store_size=False))
        out.append(("lz4", n, time.perf_counter() - t))
    except ImportError:
        pass
    try:
        import zstandard

        c = zstandard.ZstdCompressor(level=1)
        t = time.perf_counter()
        n = len(c.compress(raw))
        out.append(("zstd", n, time.perf_counter() - t))
    except ImportError:
        pass
    return len(raw), out


def pct(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))] if s else float("nan")


def zenoh_version():
    try:
        from importlib.metadata import version

        return version("eclipse-zenoh")
    except Exception:  # noqa: BLE001 - informational only
        return "?"


def machine():
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Linux {platform.release()}, Python {platform.python_version()}, "
            f"eclipse-zenoh {zenoh_version()}, load {os.getloadavg()[0]:.2f} at start, {time.strftime('%Y-%m-%d %H:%M %Z')}")


def table(head, cells, markdown):
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("| " + " | ".join("---" if i < 2 else "---:" for i in range(len(head))) + " |")
        for c in cells:
            print("| " + " | ".join(c) + " |")
    else:
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for c in cells:
            print("  ".join(v.ljust(w) for v, w in zip(c, widths)))
    print()


def cores(cpu):
    return sum(cpu.values())


def cpu_detail(cpu):
    short = {"tb-pub (A)": "pub", "tb-sub (B)": "sub", "bridge export (A)": "bridge A", "bridge import (B)": "bridge B",
             "zn-pub (A)": "pub", "zn-sub (B)": "sub"}
    return ", ".join(f"{short.get(k, k)} {v:.2f}" for k, v in cpu.items())


def fps(r):
    return r["frames"] / r["window"] if r["window"] else 0.0


def gbs(r):
    return r["bytes"] / r["window"] / 1e9 if r["window"] else 0.0


def bridge_cell(r):
    """The bridges' counters over their whole life (warm-up included): exported (A), imported,
    dropped (B's queue and write errors; A's failed puts) and lost (B's count of gaps in the
    numbering), then exported - imported - dropped: the frames that never reached B."""
    if "exported" not in r:
        return "–"
    dropped = r["import_dropped"] + r["export_dropped"]
    return f"{r['exported']} / {r['imported']} / {dropped} / {r['lost']} ({r['exported'] - r['imported'] - dropped})"


def ratio_cell(a, b, target, higher_is_better):
    if not b:
        return "–", "–"
    x = a / b
    ok = x >= target if higher_is_better else x <= target
    return f"{x:.2f}×", "met" if ok else "missed"


def report_throughput(rows, markdown):
    print("Throughput (frames and GB/s delivered to the subscriber; CPU in cores over the window):\n")
    head = ["size", "system", "run", "frames/s", "GB/s", "offered/s (publisher)", "bridges: exported / imported / dropped / lost (never arrived)",
            "subscriber misses", "CPU total", "CPU by process"]
    cells = []
    for r in rows:
        cells.append([r["size"], r["system"], str(r["rep"]), f"{fps(r):.1f}", f"{gbs(r):.2f}", f"{r['sent'] / r['pub_span']:.0f}",
                      bridge_cell(r), str(r["sub_misses"]), f"{cores(r['cpu']):.2f}", cpu_detail(r["cpu"])])
    table(head, cells, markdown)
    print("Ratios, delivered frames/s (median of each system's runs; target: tensorbus ≥ 0.9× plain Zenoh over TCP):\n")
    cells = []
    for size in dict.fromkeys(r["size"] for r in rows):
        med = {}
        for system in (TB, ROS2, ZN, ZN_SHM, TB_SHM):
            xs = [fps(r) for r in rows if r["size"] == size and r["system"] == system]
            if xs:
                med[system] = statistics.median(xs)
        for system, ref, target in ((TB, ZN, 0.9), (ROS2, ZN, 0.9), (ROS2, TB, None), (TB_SHM, ZN_SHM, None)):
            if system in med and ref in med:
                x, status = ratio_cell(med[system], med[ref], target or 0, True)
                cells.append([size, f"{system} / {ref}", f"{med[system]:.1f}", f"{med[ref]:.1f}", x,
                              status if target else "(for information)"])
    table(["size", "ratio of", "frames/s", "reference frames/s", "ratio", "target ≥ 0.9×"], cells, markdown)


def report_latency(title, lat, markdown, ref_note):
    print(title + "\n")
    head = ["system", "messages", "lost", "p50", "p90", "p99", "max"]
    cells, p = [], {}
    for system, (delays, lost) in lat.items():
        us = [d / 1e3 for d in delays]
        p[system] = (pct(us, 50), pct(us, 99))
        cells.append([system, str(len(us)), str(lost), f"{pct(us, 50):.1f}", f"{pct(us, 90):.1f}", f"{pct(us, 99):.1f}",
                      f"{max(us):.1f}" if us else "–"])
    table(head, cells, markdown)
    for system in (TB, ROS2):
        if system in p and ZN in p:
            r50, r99 = p[system][0] / p[ZN][0], p[system][1] / p[ZN][1]
            print(f"Ratio {system} / plain Zenoh: p50 {r50:.2f}×, p99 {r99:.2f}×{ref_note(r50, r99)}")
    print()


def report_compress(rows, ref, markdown):
    raw, refs = ref
    print(f"Compression, 1080p frames ({raw / 1e6:.2f} MB raw) through the bridges:\n")
    base = next((r for r in rows if r["compress"] == "none"), None)
    head = ["frames", "compression", "frames/s", "vs none", "GB/s (raw, at the subscriber)", "sent bytes/frame", "ratio",
            "exported / imported / dropped / lost (never arrived)", "CPU total", "CPU by process"]
    cells = []
    for r in rows:
        vs = f"{fps(r) / fps(base):.2f}×" if base and fps(base) else "–"
        cells.append([r["content"], r["compress"], f"{fps(r):.1f}", vs, f"{gbs(r):.2f}", f"{r['wire_per_frame'] / 1e6:.2f} MB",
                      f"{raw / r['wire_per_frame']:.2f}×" if r["wire_per_frame"] else "–",
                      bridge_cell(r), f"{cores(r['cpu']):.2f}", cpu_detail(r["cpu"])])
    table(head, cells, markdown)
    if refs:
        print("Cross-check, one camera-like frame compressed in this process by the Python packages (lz4 block; zstandard level 1): "
              + "; ".join(f"{n} {b / 1e6:.2f} MB ({raw / b:.2f}×) in {t * 1e3:.1f} ms" for n, b, t in refs) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--quick", action="store_true", help="2 s windows, one run each, 300 latency rounds, 30 frames")
    ap.add_argument("--seconds", type=float, default=6.0, help="measured window of each throughput run")
    ap.add_argument("--reps", type=int, default=2, help="runs of each system per throughput size (they alternate)")
    ap.add_argument("--rounds", type=int, default=1000, help="latency messages per block (two blocks per system)")
    ap.add_argument("--frames", type=int, default=90, help="1080p frames per frame-latency block (30 Hz)")
    ap.add_argument("--gap", type=float, help="the tensorbus publisher's sleep after each frame (default: 250 µs at 480p, 2 ms at 1080p)")
    ap.add_argument("--only", default="throughput,latency,frame-latency,compress")
    ap.add_argument("--json", help="also write every figure (and the bridges' reports) to this file")
    ap.add_argument("--peer", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        PEERS[args.peer[0]](args.peer[1:])
        return
    seconds, reps, rounds, nframes, blocks = args.seconds, args.reps, args.rounds, args.frames, 2
    if args.quick:
        seconds, reps, rounds, nframes, blocks = 2.0, 1, 300, 30, 1
    only = set(args.only.split(","))
    gaps = (f"{args.gap * 1e6:.0f} µs" if args.gap is not None
            else ", ".join(f"{g * 1e6:.0f} µs at {k}" for k, g in GAPS.items()))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the `finally` below still cleans up
    host = machine()
    print(f"Machine: {host}")
    print(f"Command: {' '.join([os.path.relpath(sys.executable, ROOT), *sys.argv])}; window {seconds:g} s, {reps} run(s) per "
          f"system and size, {blocks} × {rounds} latency messages and {blocks} × {nframes} frames per system; the tensorbus "
          f"publisher sleeps {gaps} after each frame, the plain one puts back to back\n")
    t_start = time.monotonic()
    hosts = Hosts(args.gap)
    thr, lat, flat, comp = [], {}, {}, []
    reports = []

    def note(what, r):
        print(f"# {what}: {fps(r):.1f} frames/s", file=sys.stderr, flush=True)

    try:
        if "throughput" in only:
            for size in SIZES:
                systems = [TB, ROS2, ZN] if size == "1080p" else [TB, ZN]
                for rep in range(1, reps + 1):
                    for system in systems:
                        if system == ZN:
                            r = run_plain_frames(hosts, size, seconds)
                        else:
                            r = run_tensorbus_frames(hosts, size, seconds, ros=system == ROS2)
                            reports.append((f"throughput {size} {system} {rep}", r.pop("reports")))
                        r["rep"] = rep
                        thr.append(r)
                        note(f"{size} {system} run {rep}", r)
            r = run_plain_frames(hosts, "1080p", seconds, shm=True)
            r["rep"] = 1
            thr.append(r)
            note(f"1080p {ZN_SHM}", r)
            # Zenoh SHM carries far more than 450 frames/s: the camera offers ~2700/s here.
            r = run_tensorbus_frames(hosts, "1080p", seconds, zshm=True, gap=GAPS["480p"])
            reports.append((f"throughput 1080p {TB_SHM}", r.pop("reports")))
            r["rep"] = 1
            thr.append(r)
            note(f"1080p {TB_SHM}", r)
        if "latency" in only:
            lat = {TB: ([], 0), ROS2: ([], 0), ZN: ([], 0)}
            for _ in range(blocks):
                for system in lat:
                    d, lost, rep_ = run_latency(hosts, system, rounds)
                    reports.append((f"latency {system}", rep_))
                    lat[system] = (lat[system][0] + d, lat[system][1] + lost)
                    print(f"# latency {system}: p50 {pct(d, 50) / 1e3:.1f} µs, {lost} lost", file=sys.stderr, flush=True)
        if "frame-latency" in only:
            flat = {TB: ([], 0), ROS2: ([], 0), ZN: ([], 0)}
            for _ in range(blocks):
                for system in flat:
                    d, lost, rep_ = run_frame_latency(hosts, system, nframes)
                    reports.append((f"frame latency {system}", rep_))
                    flat[system] = (flat[system][0] + d, flat[system][1] + lost)
                    print(f"# frame latency {system}: p50 {pct(d, 50) / 1e3:.1f} µs, {lost} lost", file=sys.stderr, flush=True)
        if "compress" in only:
            for content, c in (("camera", None), ("camera", "lz4"), ("camera", "zstd"), ("pattern", "lz4")):
                r = run_tensorbus_frames(hosts, "1080p", seconds, content=content, compress=c)
                reports.append((f"compress {content} {c}", r.pop("reports")))
                comp.append(r)
                note(f"compress {content} {r['compress']}", r)
    finally:
        hosts.close()
    print(f"Total time {time.monotonic() - t_start:.0f} s; the bridges took {min(hosts.bridge_stops, default=0):.2f}–"
          f"{max(hosts.bridge_stops, default=0):.2f} s from SIGINT to exit.\n")
    if thr:
        report_throughput(thr, args.markdown)
    if lat:
        report_latency("Latency, 16-byte message one way (sender sleeps 1 ms between messages; µs):", lat, args.markdown,
                       lambda r50, r99: f" (target ≤ 1.2×: {'met' if r50 <= 1.2 else 'missed'} at p50, "
                                        f"{'met' if r99 <= 1.2 else 'missed'} at p99)")
    if flat:
        report_latency(f"Frame latency, 1080p rgb8 one way at {FRAME_RATE:g} Hz (µs):", flat, args.markdown, lambda *_: "")
    if comp:
        report_compress(comp, compress_reference(*SIZES["1080p"]), args.markdown)
    logs = [(what, line) for what, reps_ in reports for rep_ in reps_ for line in rep_.get("log", [])]
    print("Bridge warnings: " + ("none" if not logs else "; ".join(f"{w}: {ln}" for w, ln in logs)) + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": host, "load_at_end": os.getloadavg()[0], "throughput": thr, "latency": lat, "frame_latency": flat, "compress": comp,
                       "bridge_reports": reports, "bridge_stop_s": hosts.bridge_stops}, f, indent=1)


if __name__ == "__main__":
    main()
