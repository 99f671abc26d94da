"""Baseline: multiprocessing.shared_memory with a polled sequence word (no queue, no types)."""

import os
from multiprocessing import resource_tracker, shared_memory

import numpy as np
from harness import CLEANUP
from scenarios import frame

NOT_OFFERED = {
    "publish_loan": "the segment itself is the buffer; there is nothing to loan or send",
    "typed_sendrecv": "raw bytes only",
    "dict_sendrecv": "raw bytes only",
    "tick_rate": "no scheduler",
}
HDR = 64  # [seq, ack] int64 words, then the payload
_tag = f"sm{os.getpid()}"


def version():
    import sys
    return f"python {sys.version.split()[0]} multiprocessing.shared_memory"


def _seg(name, size, create):
    s = shared_memory.SharedMemory(name=name, create=create, size=size if create else 0)
    if create:
        CLEANUP.append(lambda: s.unlink())
    else:
        try:
            resource_tracker.unregister(s._name, "shared_memory")
        except Exception:
            pass
    return s


def publish_copy(shape):
    src = frame(shape)
    s = _seg(_tag + "c", HDR + src.nbytes, True)
    dst = np.ndarray(shape, np.uint8, buffer=s.buf, offset=HDR)
    hdr = np.ndarray(2, np.int64, buffer=s.buf)
    publish_copy.keep = s

    def op():
        np.copyto(dst, src)
        hdr[0] += 1  # "publish": bump the sequence word
    return op


def received_frame(shape):
    src = frame(shape)
    s = _seg(_tag + "v", HDR + src.nbytes, True)
    r = _seg(_tag + "v", 0, False)  # a second mapping, as a receiver would have
    received_frame.keep = (s, r)
    np.ndarray(shape, np.uint8, buffer=s.buf, offset=HDR)[...] = src
    return (r, shape), np.frombuffer(r.buf, np.uint8).ctypes.data + HDR


def to_numpy(h):
    r, shape = h
    return np.ndarray(shape, np.uint8, buffer=r.buf, offset=HDR)


def to_torch(h):
    import torch
    return torch.from_numpy(to_numpy(h))


class Endpoint:
    """Header words: [seq, ack, stamp]. The sender writes payload and stamp, then bumps seq."""

    def __init__(self, role, kind, shape, tag):
        self.tag = tag
        self.n = int(np.prod(shape)) if kind == "frame" else 8
        self.src = frame(shape).reshape(-1) if kind == "frame" else None
        self.seg = _seg(tag, HDR + self.n, role == "tx")
        self.hdr = np.ndarray(3, np.int64, buffer=self.seg.buf)
        self.body = np.ndarray(self.n, np.uint8, buffer=self.seg.buf, offset=HDR)
        self.seen = int(self.hdr[0])
        self.acked = int(self.hdr[1])

    def send(self, stamp, fill=True):
        if fill and self.src is not None:
            np.copyto(self.body, self.src)
        self.hdr[2] = stamp
        self.hdr[0] += 1

    def recv(self):
        seq = int(self.hdr[0])
        if seq == self.seen:
            return None
        self.seen = seq
        return int(self.hdr[2])

    def send_ack(self):
        self.hdr[1] += 1

    def recv_ack(self):
        a = int(self.hdr[1])
        if a == self.acked:
            return None
        self.acked = a
        return True
