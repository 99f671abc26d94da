"""PYTHUSA: a byte ring (SharedRingBuffer over multiprocessing.shared_memory) for NumPy arrays."""

import os
from multiprocessing import resource_tracker

import numpy as np
import pythusa
from harness import CLEANUP
from pythusa import SharedRingBuffer
from scenarios import frame

NOT_OFFERED = {
    "dict_sendrecv": "the ring moves raw bytes; no message/dict type",
    "tick_rate": "workers are processes run by a Manager; no tick scheduler",
}
_tag = f"py{os.getpid()}"
RECORD = np.dtype([("linear", "<f8"), ("angular", "<f8"), ("timestamp_ns", "<i8")])


def version():
    return f"pythusa {pythusa.__version__}"


def _ring(name, size, reader, create):
    r = SharedRingBuffer(name, create=create, size=size, num_readers=1, reader=reader,
                         cache_align=True)
    if not create:  # the creator unlinks; stop the opener's resource tracker from doing it too
        try:
            resource_tracker.unregister(r._name, "shared_memory")
        except Exception:
            pass
    else:
        CLEANUP.append(lambda: r.unlink())
    return r


def _pair(name, size):
    return _ring(name, size, -1, True), _ring(name, size, 0, False)


def publish_copy(shape):
    src = frame(shape)
    w, _ = _pair(_tag + "c", 4 * src.nbytes)
    publish_copy.keep = _

    def op():
        if w.write_array(src) == 0:  # the writer's cached reader position is stale: rescan
            w.compute_max_amount_writable(force_rescan=True)
            if w.write_array(src) == 0:
                raise RuntimeError("ring full")
    return op


def publish_loan(shape):
    n = int(np.prod(shape))
    w, _ = _pair(_tag + "l", 4 * n)
    publish_loan.keep = _

    def op():
        mv1, _mv2, got, _wrap = w.expose_writer_mem_view(n)
        if got < n:
            w.compute_max_amount_writable(force_rescan=True)
            mv1, _mv2, got, _wrap = w.expose_writer_mem_view(n)
            if got < n:
                raise RuntimeError("ring full")
        mv1[0] = 1
        w.inc_writer_pos(n)
    return op


def received_frame(shape):
    src = frame(shape)
    w, r = _pair(_tag + "v", 4 * src.nbytes)
    received_frame.keep = (w, r)
    w.write_array(src)
    base = np.frombuffer(r.ring_buffer, np.uint8).ctypes.data
    return (r, shape, src.nbytes), base + r.int_to_pos(int(r.header[r.reader_pos_index]))


def to_numpy(h):
    r, shape, n = h  # a view of the unread bytes (read_array would also advance the reader)
    mv1, _mv2, got, _wrap = r.expose_reader_mem_view(n)
    return np.frombuffer(mv1, np.uint8).reshape(shape)


def to_torch(h):
    import torch
    return torch.from_numpy(to_numpy(h))


def typed_sendrecv():
    w, r = _pair(_tag + "t", 64 * RECORD.itemsize)
    typed_sendrecv.keep = (w, r)
    msg = np.array([(1.0, 0.5, 0)], RECORD)
    n = RECORD.itemsize

    def op():
        w.write_array(msg)
        got = r.read_array(n, RECORD)
        if not len(got):
            raise RuntimeError("record lost")
        got[0]["linear"]
    return op


class Endpoint:
    """A data ring (4 frames or 64 records) and an ack ring; the sender creates both.

    Frames are written in place (expose_writer_mem_view) and read in place; the ring is
    reliable: a full ring makes the sender wait for the reader.
    """

    def __init__(self, role, kind, shape, tag):
        self.tag = tag
        self.kind = kind
        self.n = int(np.prod(shape)) if kind == "frame" else 8
        self.src = frame(shape) if kind == "frame" else None
        size = 4 * self.n if kind == "frame" else 64 * 8
        tx = role == "tx"
        self.data = _ring(tag + "d", size, -1 if tx else 0, tx)
        self.ack = _ring(tag + "a", 64 * 8, 0 if tx else -1, tx)
        (self.ack if tx else self.data).set_reader_active(True)
        self.one = np.zeros(1, "<i8")

    def send(self, stamp, fill=True):
        while True:
            mv1, _mv2, got, _wrap = self.data.expose_writer_mem_view(self.n)
            if got == self.n:
                break
        a = np.frombuffer(mv1, np.uint8)
        if fill and self.src is not None:
            np.copyto(a, self.src.reshape(-1))
        a[:8].view("<i8")[0] = stamp
        self.data.inc_writer_pos(self.n)

    def recv(self):
        mv1, _mv2, got, _wrap = self.data.expose_reader_mem_view(self.n)
        if got < self.n:
            return None
        stamp = int(np.frombuffer(mv1, np.uint8)[:8].view("<i8")[0])
        self.data.inc_reader_pos(self.n)
        return stamp

    def send_ack(self):
        while self.ack.write_array(self.one) == 0:
            pass

    def recv_ack(self):
        return True if len(self.ack.read_array(8, np.int64)) else None
