"""tensorbus (this repository), installed from its wheel into the peers' venv."""

import os
import struct

import numpy as np
import tensorbus as tb
from harness import NotAvailable, now_ns
from scenarios import frame

NOT_OFFERED = {}
BLOCKING = False  # sys_tensorbus_blocking sleeps on the topic futex instead of polling
_tag = f"tb{os.getpid()}"
# Frames are published on history-0 topics (no frame kept for late joiners), the semantics of
# iceoryx2's default service (publisher-history-size 0): the next loan reuses the slot the
# readers just dropped. The default history 1 (the newest kept) is measured beside it in
# `make bench-compare` (docs/benchmarks.md).
HISTORY = int(os.environ.get("TB_PEERS_HISTORY", "0"))


def version():
    return f"tensorbus {tb.__version__}"


def _api(name):
    try:
        return getattr(tb, name)
    except AttributeError as e:
        raise NotAvailable(f"{type(e).__name__}: {e}") from None


def publish_copy(shape):
    src, t = frame(shape), tb.Topic(_tag + ".copy", tb.Image, history=HISTORY)
    return lambda: t.send(tb.Image.from_numpy(src))


def publish_loan(shape):
    t = tb.Topic(_tag + ".loan", tb.Image, history=HISTORY)

    def op():
        img = tb.Image(shape[0], shape[1], "rgb8")
        img.to_numpy()[0, 0, 0] = 1
        t.send(img)
    return op


def received_frame(shape):
    t = tb.Topic(_tag + ".view", tb.Image)
    t.send(tb.Image.from_numpy(frame(shape)))
    r = t.recv()
    return r, r.data_ptr


def to_numpy(img):
    return img.to_numpy()


def to_torch(img):
    return img.to_torch()


def typed_sendrecv():
    CmdVel = _api("CmdVel")
    try:
        t = tb.Topic("cmd_vel", CmdVel)
        t.send(CmdVel(1.0, 0.5))
    except (TypeError, ValueError, tb.TensorbusError) as e:
        raise NotAvailable(f"{type(e).__name__}: {e}") from None

    def op():
        t.send(CmdVel(1.0, 0.5))
        if t.recv() is None:
            raise RuntimeError("CmdVel lost")
    return op


def dict_sendrecv():
    t = tb.Topic(_tag + ".d")
    msg = {"a": 1, "b": 2.0, "c": "x"}
    try:
        t.send(msg)
        t.recv()
    except (TypeError, ValueError, tb.TensorbusError) as e:
        raise NotAvailable(f"{type(e).__name__}: {e}") from None

    def op():
        t.send(msg)
        if t.recv() is None:
            raise RuntimeError("dict lost")
    return op


class Endpoint:
    """Small: 8 bytes inline in the ring. Frame: a loaned Image, stamp in its first 8 bytes."""

    def __init__(self, role, kind, shape, tag):
        self.tag, self.kind, self.shape = tag, kind, shape
        self.data = tb.Topic(tag + ".d", tb.Image, history=HISTORY) if kind == "frame" else tb.Topic(tag + ".d")
        self.ack = tb.Topic(tag + ".a")
        self.src = frame(shape) if kind == "frame" else None
        self.timeout = 0.05 if BLOCKING else 0.0

    def send(self, stamp, fill=True):
        if self.kind == "small":
            self.data.send(struct.pack("<q", stamp))
            return
        img = tb.Image(self.shape[0], self.shape[1], "rgb8")
        a = img.to_numpy()
        if fill:
            np.copyto(a, self.src)
        a.reshape(-1)[:8].view("<i8")[0] = stamp
        self.data.send(img)

    def recv(self):
        m = self.data.recv(self.timeout)
        if m is None:
            return None
        if self.kind == "small":
            return struct.unpack("<q", m)[0]
        return int(m.to_numpy().reshape(-1)[:8].view("<i8")[0])

    def send_ack(self):
        self.ack.send(b"a")

    def recv_ack(self):
        return True if self.ack.recv(self.timeout) is not None else None


def tick_rate(seconds):
    Node, Scheduler = _api("Node"), _api("Scheduler")

    def tick(*_):
        return None
    node = Node(name="triv", tick=tick, rate=1_000_000)
    sched = Scheduler()
    sched.add(node)
    t = now_ns()
    sched.run(duration=seconds)
    wall = (now_ns() - t) / 1e9
    return sched.get_node_stats("triv")["total_ticks"], f"asked 1 MHz; run took {wall:.2f} s"
