"""Rust <-> Python on the same topics: the Rust camera driver (examples/camera_driver.rs) publishes
frames Python receives zero-copy; Rust's typed publishers and readers (the facade's cross-process
test binary, tests/cross_process.rs, in its child roles) exchange CmdVel, Imu, dicts and images
with Python, which also proves the layout hashes agree (a mismatch refuses the topic).

The Rust binaries are built once per session with cargo; without cargo (or if the build fails)
these tests skip."""

import json
import os
import shutil
import subprocess
import time

import numpy as np
import pytest
from _children import env_for

pytestmark = pytest.mark.multiprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cargo_executable(args, target, what):
    """Build with cargo and return the executable's path (skip the test on failure)."""
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not available")
    try:
        r = subprocess.run(["cargo", *args, "-q", "--message-format=json"], cwd=ROOT, capture_output=True, text=True, timeout=100)
    except subprocess.TimeoutExpired:
        pytest.skip(f"building {what} took over 100 s (machine busy?)")
    exe = None
    for line in r.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("executable") and msg.get("target", {}).get("name") == target:
            exe = msg["executable"]
    if r.returncode != 0 or exe is None:
        pytest.skip(f"could not build {what}: {r.stderr[-500:]}")
    return exe


@pytest.fixture(scope="session")
def camera_driver():
    return _cargo_executable(["build", "--example", "camera_driver"], "camera_driver", "examples/camera_driver")


@pytest.fixture(scope="session")
def rust_peer():
    """The facade's cross-process test binary; its ignored `child_entry` test is a peer process
    selected by TB_CHILD_ROLE ("send": publishes; "echo": reads CmdVel and answers)."""
    return _cargo_executable(["test", "--no-run", "--test", "cross_process"], "cross_process", "tests/cross_process.rs")


def _spawn_peer(exe, role, ns_dir):
    env = env_for(TB_CHILD_ROLE=role, TB_CHILD_DIR=ns_dir)
    return subprocess.Popen([exe, "--exact", "child_entry", "--nocapture", "--ignored", "--test-threads=1", "-q"],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(p, timeout=30):
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    return p.returncode, err


def _pattern(shift, h=480, w=640):
    """examples/camera_driver.rs's test pattern for frame_no * 4 == shift."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x + shift) % 256, (y + shift // 2) % 256, ((x // 32 + y // 32) % 2) * 255], axis=-1).astype(np.uint8)


def test_rust_camera_driver_frames_arrive_zero_copy_in_python(tb, fresh_ns, camera_driver):
    cam = tb.Topic("cam.rust", tb.Image)
    assert cam.recv() is None
    env = env_for(fresh_ns)
    p = subprocess.Popen([camera_driver, "--rate", "30", "--seconds", "1.5", "--topic", "cam.rust"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    frames = []
    try:
        deadline = time.monotonic() + 30
        while len(frames) < 5 and time.monotonic() < deadline:
            img = cam.recv(timeout=1.0)
            if img is None:
                if p.poll() is not None:
                    break
                continue
            a = img.to_numpy()
            assert isinstance(img, tb.Image) and img.readonly and not a.flags.writeable
            assert (img.height, img.width, img.encoding) == (480, 640, "rgb8")
            assert a.ctypes.data == img.data_ptr  # a view of the Rust-filled slot
            assert img.to_torch().data_ptr() == img.data_ptr
            assert abs(img.timestamp_ns - time.time_ns()) < 30e9
            shift = int(a[0, 0, 0])  # frame_no * 4 mod 256; the frame must match the whole pattern
            assert np.array_equal(a, _pattern(shift)), f"frame seq {img.seq}: pixels differ from the pattern"
            frames.append((img.seq, shift))
            del a, img
    finally:
        rc, err = _finish(p)
    assert len(frames) >= 5, f"only {len(frames)} frames; driver rc={rc} stderr={err}"
    assert rc == 0, err
    seqs = [s for s, _ in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for seq, shift in frames:
        assert shift == ((seq - 1) * 4) % 256, frames  # sequence and pattern agree


def test_rust_publishes_typed_dict_and_image_python_receives(tb, fresh_ns, rust_peer):
    ns_dir = tb.pool_stats()["dir"]
    ready = tb.Topic("ready", tb.Heartbeat)
    cmd = tb.Topic("cmd_vel", tb.CmdVel, depth=8, policy="reliable")
    imu = tb.Topic("imu", tb.Imu, depth=8, policy="reliable")
    status = tb.Topic("status", dict, depth=8, policy="reliable")
    cam = tb.Topic("camera.rgb", tb.Image, depth=2, policy="reliable")
    for t in (ready, cmd, imu, status, cam):
        assert t.recv() is None
    p = _spawn_peer(rust_peer, "send", ns_dir)
    try:
        assert ready.recv(timeout=30.0) is not None, "Rust peer never became ready"
        for i in range(1, 101):
            c = cmd.recv(timeout=20.0)
            assert type(c) is tb.CmdVel and (c.timestamp_ns, c.linear, c.angular) == (i, float(i), 0.0)
            m = imu.recv(timeout=20.0)
            assert type(m) is tb.Imu and m.orientation == (0.0, 0.0, 0.0, float(i)) and m.timestamp_ns == i
            assert status.recv(timeout=20.0) == {"i": i, "name": "robot"}
            img = cam.recv(timeout=20.0)
            assert isinstance(img, tb.Image) and img.timestamp_ns == i and (img.height, img.width) == (48, 64)
            a = img.to_numpy()
            assert a.ctypes.data == img.data_ptr and (a == i).all()
            del a, img
    finally:
        rc, err = _finish(p)
    assert rc == 0, err


def test_python_sends_cmdvel_rust_reads_and_echoes(tb, fresh_ns, rust_peer):
    """Rust opens `cmd_in` as its own CmdVel: Python's layout hash must equal Rust's."""
    ns_dir = tb.pool_stats()["dir"]
    ready = tb.Topic("ready", tb.Heartbeat)
    tx = tb.Topic("cmd_in", tb.CmdVel, depth=8, policy="reliable")
    rx = tb.Topic("cmd_out", tb.CmdVel, depth=8, policy="reliable")
    assert ready.recv() is None and rx.recv() is None
    p = _spawn_peer(rust_peer, "echo", ns_dir)
    try:
        assert ready.recv(timeout=30.0) is not None, "Rust peer never became ready"
        for i in range(1, 101):
            tx.send(tb.CmdVel(float(i), -1.0, timestamp_ns=i))
            m = rx.recv(timeout=20.0)
            assert m is not None, f"no echo for {i}"
            assert (m.timestamp_ns, m.linear, m.angular) == (i, 2.0 * i, -1.0)
    finally:
        rc, err = _finish(p)
    assert rc == 0, err


def test_a_python_type_with_rusts_name_but_another_layout_is_refused_by_rust(tb, fresh_ns, rust_peer):
    """Python opens `cmd_in` with a look-alike CmdVel (same name and size, other fields): the Rust
    peer's open must fail instead of reading garbage."""

    @tb.message(name="CmdVel")
    class FakeCmdVel:
        timestamp_ns: tb.u64
        angular: tb.f32
        linear: tb.f32

    ns_dir = tb.pool_stats()["dir"]
    tb.Topic("cmd_in", FakeCmdVel, depth=8, policy="reliable")
    ready = tb.Topic("ready", tb.Heartbeat)
    ready.recv()
    p = _spawn_peer(rust_peer, "echo", ns_dir)
    rc, err = _finish(p, timeout=60)
    assert rc != 0, "the Rust peer accepted a CmdVel topic with another layout"
    assert "panicked" in err and "CmdVel" in err, err


def test_python_sends_dicts_and_a_custom_message_rust_reads_them(tb, fresh_ns, rust_peer):
    """The Rust peer (tests/cross_process.rs, role echo_dict_custom) reads Python dicts as
    MessagePack values and a Python @tb.message as its own pod_message! struct, and echoes both
    back changed."""

    @tb.message
    class WheelSpeeds:
        timestamp_ns: tb.u64
        left: tb.f32
        right: tb.f32
        gains: tb.array(tb.f64, 2)

    ns_dir = tb.pool_stats()["dir"]
    ready = tb.Topic("ready", tb.Heartbeat)
    din = tb.Topic("dict_in", dict, depth=8, policy="reliable")
    dout = tb.Topic("dict_out", dict, depth=8, policy="reliable")
    win = tb.Topic("wheels_in", WheelSpeeds, depth=8, policy="reliable")
    wout = tb.Topic("wheels_out", WheelSpeeds, depth=8, policy="reliable")
    assert ready.recv() is None and dout.recv() is None and wout.recv() is None
    p = _spawn_peer(rust_peer, "echo_dict_custom", ns_dir)
    try:
        assert ready.recv(timeout=30.0) is not None, "Rust peer never became ready"
        for i in range(20):
            msg = {"i": i, "name": "robot", "pose": [1.5, -2.0, float(i)], "raw": b"\x00\x01", "none": None}
            din.send(msg)
            assert dout.recv(timeout=20.0) == {**msg, "echo": True}
            win.send(WheelSpeeds(left=0.25 * i, right=1.0, gains=(3.0, 4.0), timestamp_ns=i + 1))
            w = wout.recv(timeout=20.0)
            assert (w.timestamp_ns, w.left, w.right, w.gains) == (i + 1, 0.5 * i, 1.0, (4.0, 3.0))
    finally:
        rc, err = _finish(p)
    assert rc == 0, err
