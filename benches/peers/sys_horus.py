"""HORUS Python bindings (`horus-robotics` on PyPI): Image/Topic/CmdVel/Node/Scheduler."""

import os

import horus
import numpy as np
from harness import now_ns
from scenarios import frame

NOT_OFFERED = {}
_tag = f"hb{os.getpid()}"


def version():
    return f"horus-robotics {horus.get_version()}"


def _topic(kind, name):
    return horus.Topic(kind, endpoint=name) if kind is not None else horus.Topic(name)


def publish_copy(shape):
    src, t = frame(shape), _topic(horus.Image, _tag + ".copy")
    return lambda: t.send(horus.Image.from_numpy(src))


def publish_loan(shape):
    t = _topic(horus.Image, _tag + ".loan")

    def op():
        img = horus.Image(shape[0], shape[1], "rgb8")
        img.to_numpy()[0, 0, 0] = 1
        t.send(img)
    return op


def received_frame(shape):
    t = _topic(horus.Image, _tag + ".view")
    t.send(horus.Image.from_numpy(frame(shape)))
    r = t.recv()
    if r is None:
        raise RuntimeError("Topic(Image).recv() returned None right after send")
    return r, r.__array_interface__["data"][0]


def to_numpy(img):
    return img.to_numpy()


def to_torch(img):
    import torch
    # Image has no to_torch/__dlpack__, and torch.from_dlpack(img.as_tensor()) fails
    # ("invalid capsule"); the NumPy view is the working path
    return torch.from_numpy(img.to_numpy())


def typed_sendrecv():
    t = _topic(horus.CmdVel, _tag + ".cmd")
    CmdVel = horus.CmdVel

    def op():
        t.send(CmdVel(1.0, 0.5))
        if t.recv() is None:
            raise RuntimeError("CmdVel lost")
    return op


def dict_sendrecv():
    t = _topic(None, _tag + ".dict")

    def op():
        t.send({"a": 1, "b": 2.0, "c": "x"})
        if t.recv() is None:
            raise RuntimeError("dict lost")
    return op


class Endpoint:
    """Small: CmdVel with the stamp in timestamp_ns. Frame: Image, stamp in its first 8 bytes."""

    def __init__(self, role, kind, shape, tag):
        self.tag, self.kind, self.shape = tag, kind, shape
        self.data = _topic(horus.CmdVel if kind == "small" else horus.Image, tag + ".d")
        self.ack = _topic(horus.CmdVel, tag + ".a")
        self.src = frame(shape) if kind == "frame" else None

    def send(self, stamp, fill=True):
        if self.kind == "small":
            self.data.send(horus.CmdVel(1.0, 0.5, timestamp_ns=stamp))
            return
        img = horus.Image(self.shape[0], self.shape[1], "rgb8")
        a = img.to_numpy()
        if fill:
            np.copyto(a, self.src)
        a.reshape(-1)[:8].view("<i8")[0] = stamp
        self.data.send(img)

    def recv(self):
        m = self.data.recv()
        if m is None:
            return None
        if self.kind == "small":
            return m.timestamp_ns
        return int(m.to_numpy().reshape(-1)[:8].view("<i8")[0])

    def send_ack(self):
        self.ack.send(horus.CmdVel(0.0, 0.0))

    def recv_ack(self):
        return True if self.ack.recv() is not None else None


def tick_rate(seconds):
    """Highest rate the API accepts; ticks counted by the scheduler's own stats."""
    count = [0]

    def tick(node):
        count[0] += 1

    note = ""
    # compute=True: a plain rate makes it an RT node that the safety monitor kills after
    # 20 deadline misses at high rates (observed: 20 ticks in 1 s at 1 MHz)
    for rate in (1_000_000, 100_000, 10_000):
        try:
            node = horus.Node(name="triv", tick=tick, rate=rate, compute=True)
            sched = horus.Scheduler(tick_rate=rate)
            sched.add(node)
            break
        except Exception as e:
            note = f"rate {rate} refused: {type(e).__name__}: {e}"
    t = now_ns()
    sched.run(duration=seconds)
    wall = (now_ns() - t) / 1e9
    stats = sched.get_node_stats("triv")
    ticks = stats.get("total_ticks", count[0]) or count[0]
    note = (note + f"; asked {rate} Hz; run took {wall:.2f} s").lstrip("; ")
    return ticks, note
