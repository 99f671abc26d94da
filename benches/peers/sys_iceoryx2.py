"""iceoryx2 Python bindings: Slice[c_uint8] services for frames, ctypes structs for messages."""

import ctypes
import os
from importlib.metadata import version as _pkg_version

import iceoryx2 as iox2
import numpy as np
from harness import CLEANUP
from scenarios import frame

NOT_OFFERED = {
    "dict_sendrecv": "payloads are ctypes types, Slice or Flatbuffer; no dict/serialized type",
    "tick_rate": "no scheduler; an iceoryx2 Node is a participant, the loop is user code",
}
_tag = f"ix{os.getpid()}"
iox2.set_log_level_from_env_or(iox2.LogLevel.Error)
_node = None


class CmdVel(ctypes.Structure):
    _fields_ = [("linear", ctypes.c_double), ("angular", ctypes.c_double),
                ("timestamp_ns", ctypes.c_int64)]


def version():
    return f"iceoryx2 {_pkg_version('iceoryx2')}"


def node():
    global _node
    if _node is None:
        _node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)
        CLEANUP.append(lambda: _node.__del__() if hasattr(_node, "__del__") else None)
    return _node


def _service(name, payload):
    return node().service_builder(iox2.ServiceName.new(name)).publish_subscribe(
        payload).open_or_create()


def _frame_pub(name, nbytes):
    svc = _service(name, iox2.Slice[ctypes.c_uint8])
    return svc, svc.publisher_builder().initial_max_slice_len(nbytes).create()


def _loan_send(pub, nbytes, src_ptr=None, stamp=None):
    s = pub.loan_slice_uninit(nbytes)
    if src_ptr is not None:
        ctypes.memmove(s.payload_ptr, src_ptr, nbytes)
    if stamp is not None:
        ctypes.c_int64.from_address(s.payload_ptr).value = stamp
    s.assume_init().send()


def publish_copy(shape):
    src = frame(shape)
    n, ptr = src.nbytes, src.ctypes.data
    svc, pub = _frame_pub(_tag + "/copy", n)
    publish_copy.keep = (src, svc)  # src must outlive the raw pointer
    return lambda: _loan_send(pub, n, src_ptr=ptr)


def publish_loan(shape):
    n = int(np.prod(shape))
    svc, pub = _frame_pub(_tag + "/loan", n)
    publish_loan.keep = svc

    def op():
        s = pub.loan_slice_uninit(n)
        ctypes.c_uint8.from_address(s.payload_ptr).value = 1
        s.assume_init().send()
    return op


def received_frame(shape):
    src = frame(shape)
    svc, pub = _frame_pub(_tag + "/view", src.nbytes)
    sub = svc.subscriber_builder().create()
    _loan_send(pub, src.nbytes, src_ptr=src.ctypes.data)
    sample = sub.receive()
    if sample is None:
        raise RuntimeError("receive() returned None right after send")
    received_frame.keep = (svc, pub, sub)
    return (sample, shape), sample.payload().as_ptr()


def to_numpy(h):
    sample, shape = h
    # the memoryview does not keep the sample alive: the caller must hold `sample`
    return np.frombuffer(sample.payload().as_memory_view(), np.uint8).reshape(shape)


def to_torch(h):
    import torch
    return torch.from_numpy(to_numpy(h))


def typed_sendrecv():
    svc = _service(_tag + "/cmd", CmdVel)
    pub, sub = svc.publisher_builder().create(), svc.subscriber_builder().create()
    typed_sendrecv.keep = svc
    msg = CmdVel(1.0, 0.5, 0)

    def op():
        pub.send_copy(msg)
        s = sub.receive()
        if s is None:
            raise RuntimeError("CmdVel lost")
        _ = s.payload().contents.linear  # touch the payload, as a subscriber would
    return op


class Endpoint:
    """Small: CmdVel struct, stamp in timestamp_ns. Frame: Slice[c_uint8], stamp in first 8 B."""

    def __init__(self, role, kind, shape, tag):
        self.kind, self.tag = kind, tag
        self.n = int(np.prod(shape)) if kind == "frame" else 0
        self.src = frame(shape) if kind == "frame" else None
        if kind == "frame":
            self.svc, self.pub = _frame_pub(tag + "/d", self.n)
        else:
            self.svc = _service(tag + "/d", CmdVel)
            self.pub = self.svc.publisher_builder().create()
        self.asvc = _service(tag + "/a", CmdVel)
        self.apub = self.asvc.publisher_builder().create()
        self.sub = self.svc.subscriber_builder().create()
        self.asub = self.asvc.subscriber_builder().create()

    def send(self, stamp, fill=True):
        if self.kind == "small":
            self.pub.send_copy(CmdVel(1.0, 0.5, stamp))
        else:
            _loan_send(self.pub, self.n, self.src.ctypes.data if fill else None, stamp)

    def recv(self):
        s = self.sub.receive()
        if s is None:
            return None
        if self.kind == "small":
            return s.payload().contents.timestamp_ns
        a = np.frombuffer(s.payload().as_memory_view(), np.uint8)
        return int(a[:8].view("<i8")[0])

    def send_ack(self):
        self.apub.send_copy(CmdVel(0.0, 0.0, 0))

    def recv_ack(self):
        return True if self.asub.receive() is not None else None
