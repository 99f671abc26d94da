"""The scenarios: one workload, the same for every system; `run_cell` measures one of them.

Each adapter module (`sys_<system>.py`) offers what the system has:
  publish_copy(shape) -> op       copy a prefilled NumPy frame in and publish it
  publish_loan(shape) -> op       loan a slot, take a writable view, touch it, publish
  received_frame(shape) -> (handle, shm_ptr)   a frame received in this process
  to_numpy(handle), to_torch(handle)           the views, timed
  typed_sendrecv() -> op          a CmdVel-like record (2 x f64 + u64 stamp) send + recv
  dict_sendrecv() -> op           {"a": 1, "b": 2.0, "c": "x"} send + recv
  Endpoint(role, kind, shape, tag)             the cross-process ends (see harness.py)
  tick_rate(seconds) -> (ticks, note)          a trivial Python node under the scheduler
A missing function is "not offered"; `NotOffered`/`NotAvailable` carry a reason.
"""

import time

import numpy as np
from harness import SHAPES, NotOffered, adapter, latency_source, scale, throughput_source, time_op, zero_copy_verdict

# id -> (group, label); the order is the order of the tables
SCENARIOS = {
    "copy_480p": ("copy", "publish from NumPy, 480x640x3 (copy in)"),
    "copy_1080p": ("copy", "publish from NumPy, 1080x1920x3 (copy in)"),
    "loan_480p": ("peer", "publish by loaning a slot, 480p"),
    "loan_1080p": ("peer", "publish by loaning a slot, 1080p"),
    "numpy_480p": ("peer", "received frame as NumPy, 480p"),
    "numpy_1080p": ("peer", "received frame as NumPy, 1080p"),
    "torch_480p": ("peer", "received frame as torch, 480p"),
    "torch_1080p": ("peer", "received frame as torch, 1080p"),
    "typed": ("peer", "typed small message send+recv, one process"),
    "dict3": ("peer", "3-key dict send+recv, one process"),
    "xp_small": ("lat", "cross-process one-way, small message"),
    "xp_480p": ("lat", "cross-process one-way, 480p frame"),
    "tp_480p": ("tp", "throughput source->sink, 480p"),
    "tp_1080p": ("tp", "throughput source->sink, 1080p"),
    "survive_1080p": ("survive", "10,000 1080p frames, sink keeps up"),
    "tick": ("tick", "trivial Python node: max tick rate / overhead"),
}


def _fn(a, name):
    fn = getattr(a, name, None)
    if fn is None:
        raise NotOffered(getattr(a, "NOT_OFFERED", {}).get(name, "no such API"))
    return fn


def _shape(scn):
    return SHAPES[scn.rsplit("_", 1)[1]]


def run_cell(system, scn):
    a = adapter(system)
    big = scn.endswith("1080p")
    if scn.startswith(("copy_", "loan_")):
        op = _fn(a, "publish_copy" if scn.startswith("copy") else "publish_loan")(_shape(scn))
        return time_op(op, number=scale(20 if big else 100, 5 if big else 20),
                       repeat=scale(15, 5))
    if scn.startswith(("numpy_", "torch_")):
        kind = scn.split("_")[0]
        conv = _fn(a, "to_" + kind)
        if kind == "torch":
            import torch  # noqa: F401  (import cost stays out of the timing)
        handle, shm_ptr = _fn(a, "received_frame")(_shape(scn))
        view = conv(handle)
        ptr = view.ctypes.data if kind == "numpy" else view.data_ptr()
        shape_ok = tuple(view.shape) == _shape(scn)
        res = time_op(lambda: conv(handle), number=scale(2000, 300), repeat=scale(15, 5))
        res["zero_copy"] = zero_copy_verdict(ptr, shm_ptr)
        if not shape_ok:
            res["zero_copy"] += f"; shape {tuple(view.shape)}"
        return res
    if scn in ("typed", "dict3"):
        op = _fn(a, "typed_sendrecv" if scn == "typed" else "dict_sendrecv")()
        return time_op(op, number=scale(2000, 300), repeat=scale(15, 5), samples=scale(5000, 500))
    if scn.startswith("xp_"):
        _fn(a, "Endpoint")
        kind = "small" if scn == "xp_small" else "frame"
        return latency_source(system, kind, SHAPES["480p"])
    if scn.startswith("tp_"):
        _fn(a, "Endpoint")
        return throughput_source(system, scn.split("_")[1], seconds=scale(3.0, 1.0))
    if scn == "survive_1080p":
        _fn(a, "Endpoint")
        n = scale(10000, 2000)
        res = throughput_source(system, "1080p", frames=n, lockstep=True)
        res["target"] = n
        res["survived"] = res["received"] >= n and "error" not in res
        return res
    if scn == "tick":
        seconds = scale(3.0, 1.0)
        fn = _fn(a, "tick_rate")
        cpu = time.process_time_ns()
        ticks, note = fn(seconds)
        cpu = time.process_time_ns() - cpu
        rate = ticks / seconds
        call = time_op(lambda: _trivial(), number=10000, repeat=5)["median_ns"]
        # per tick: wall time at the highest rate, or CPU time where the API caps the rate
        per_tick = min(1e9 / rate, cpu / ticks) if ticks else None
        return {"ticks": ticks, "rate_hz": rate, "cpu_ns_per_tick": cpu / ticks if ticks else None,
                "overhead_ns": per_tick - call if per_tick else None, "note": note}
    raise ValueError(f"unknown scenario {scn}")


def _trivial(*_):
    return None


def frame(shape):
    """The same pseudo-random frame for every system."""
    return np.random.default_rng(7).integers(0, 255, shape, dtype=np.uint8)
