"""Timing, statistics and the cross-process drivers shared by every system adapter.

A *cell* is one (system, scenario) pair. `run.py` runs each cell in a fresh interpreter
(`python harness.py cell SYSTEM SCENARIO`), so a peer that crashes, hangs or leaks its pool
spoils only its own cell. A cell prints one JSON line: ``{"ok": true, ...figures}`` or
``{"ok": false, "error": "<exact exception text>"}``.

Cross-process cells start a second interpreter (`python harness.py child SYSTEM SCENARIO`)
that plays the sink; both sides talk only through the system under test, plus the child's
stdout for "READY" and its final JSON.
"""

import importlib
import json
import os
import statistics
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = {"480p": (480, 640, 3), "1080p": (1080, 1920, 3)}
QUICK = os.environ.get("PEERS_QUICK") == "1"
now_ns = time.perf_counter_ns  # CLOCK_MONOTONIC: comparable across processes on Linux


STOP = 0  # stamp that ends a stream (perf_counter_ns is never 0)
CLEANUP = []  # callables run before the cell exits (unlink segments)


class NotOffered(Exception):
    """The system has no such feature; the table says so instead of a number."""


class NotAvailable(Exception):
    """tensorbus API not landed yet (issue 4); a re-run picks it up once it lands."""


def adapter(system):
    return importlib.import_module(f"sys_{system}")


def scale(full, quick):
    return quick if QUICK else full


# ---------------------------------------------------------------- in-process timing

def time_op(op, number, repeat, samples=0):
    """Median over `repeat` batches of the per-call time (ns); p99 over `samples` single calls."""
    for _ in range(min(number, 50)):
        op()  # warm-up
    means = []
    for _ in range(repeat):
        t = now_ns()
        for _ in range(number):
            op()
        means.append((now_ns() - t) / number)
    out = {"median_ns": statistics.median(means), "min_ns": min(means), "repeats": repeat,
           "batch": number}
    if samples:
        overhead = min(_timer_overhead() for _ in range(3))
        single = []
        for _ in range(samples):
            t = now_ns()
            op()
            single.append(now_ns() - t - overhead)
        out["p99_ns"] = percentile(single, 99)
    return out


def _timer_overhead():
    t = now_ns()
    for _ in range(1000):
        now_ns()
        now_ns()
    return (now_ns() - t) / 1000 / 2


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def in_shm(ptr):
    """Path of the mapping that holds `ptr` in this process, from /proc/self/maps."""
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= ptr < hi:
                path = parts[5].strip() if len(parts) > 5 else "[anonymous]"
                return path or "[anonymous]"
    return "[unmapped]"


def zero_copy_verdict(view_ptr, shm_ptr):
    """'yes' when the view points into a shared-memory file mapping (and at the sample)."""
    where = in_shm(view_ptr)
    shared = where.startswith("/dev/shm") or "shm" in where or where.startswith("/tmp")
    if shm_ptr is not None and view_ptr != shm_ptr:
        return f"no: view at {view_ptr:#x} != sample at {shm_ptr:#x} ({where})"
    where = where if len(where) < 40 else where[:37] + "..."
    return f"yes ({where})" if shared else f"no: view in {where}"


# ---------------------------------------------------------------- cross-process drivers

def spawn_child(system, scenario, extra=()):
    env = dict(os.environ)
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "harness.py"), "child", system,
                          scenario, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env, cwd=HERE)
    line = p.stdout.readline()
    if line.strip() != "READY":
        out, err = p.communicate(timeout=10)
        raise RuntimeError(f"sink did not start: {(line + out + err).strip()[-400:]}")
    return p


def child_result(p, timeout=60):
    out, err = p.communicate(timeout=timeout)
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"sink gave no result (rc={p.returncode}): {err.strip()[-400:]}")
    res = json.loads(lines[-1])
    if not res.get("ok", True):
        raise RuntimeError(f"sink: {res['error']}")
    return res


def wait_for(fn, timeout, what):
    t_end = time.monotonic() + timeout
    while True:
        v = fn()
        if v is not None:
            return v
        if time.monotonic() > t_end:
            raise TimeoutError(f"{what}: nothing within {timeout} s")


def latency_source(system, kind, shape):
    """Lockstep ping: stamp, publish, wait for the sink's ack. The sink measures one-way."""
    a = adapter(system)
    n = scale(3000 if kind == "small" else 1000, 300)
    ep = a.Endpoint("tx", kind, shape, tag=f"lat{os.getpid()}")
    p = spawn_child(system, f"latsink_{kind}", [ep.tag, str(n)])
    try:
        time.sleep(0.2)  # let the sink's subscription settle
        for i in range(n):
            ep.send(now_ns())
            wait_for(ep.recv_ack, 5.0, f"ack {i}")
        ep.send(STOP)
    except BaseException:
        p.kill()
        raise
    res = child_result(p)
    lat = res["lat_ns"][n // 10:]  # drop warm-up
    return {"p50_ns": percentile(lat, 50), "p99_ns": percentile(lat, 99), "n": len(lat)}


def latency_sink(system, kind, tag, n):
    a = adapter(system)
    ep = a.Endpoint("rx", kind, SHAPES.get("480p") if kind == "frame" else None, tag=tag)
    print("READY", flush=True)
    lat = []
    while True:
        t0 = wait_for(ep.recv, 10.0, f"message {len(lat)}")
        if t0 <= STOP:
            break
        lat.append(now_ns() - t0)
        ep.send_ack()
    return {"lat_ns": lat}


def throughput_source(system, res_name, frames=None, seconds=None, lockstep=False):
    """Stream frames to a sink in another process; the sink counts what it got."""
    a = adapter(system)
    shape = SHAPES[res_name]
    ep = a.Endpoint("tx", "frame", shape, tag=f"tp{os.getpid()}")
    p = spawn_child(system, "tpsink", [ep.tag, res_name, "1" if lockstep else "0"])
    sent = 0
    err = None
    try:
        time.sleep(0.2)
        t0 = now_ns()
        t_end = t0 + int((seconds or 1e9) * 1e9)
        while (frames is None or sent < frames) and now_ns() < t_end:
            ep.send(sent + 1, fill=not lockstep)
            sent += 1
            if lockstep:
                wait_for(ep.recv_ack, 5.0, f"ack {sent}")
        t1 = now_ns()
    except Exception as e:  # the survival scenario reports where the system gave out
        err = f"after {sent} frames: {type(e).__name__}: {e}"
        t1 = now_ns()
    for _ in range(50):
        try:
            ep.send(STOP, fill=False)
        except Exception:
            pass
        if p.poll() is not None:
            break
        time.sleep(0.02)
    try:
        res = child_result(p)
    except Exception as e:
        if not err:
            raise
        res = {"received": sent}
        err += f"; {e}"
    secs = (t1 - t0) / 1e9
    nbytes = shape[0] * shape[1] * shape[2]
    got = res["received"]
    out = {"sent": sent, "received": got, "seconds": secs,
           "fps": got / secs if secs else None,
           "gbps": got * nbytes / secs / 1e9 if secs else None,
           "send_fps": sent / secs if secs else None}
    if err:
        out["error"] = err
    return out


def throughput_sink(system, tag, res_name, lockstep):
    a = adapter(system)
    ep = a.Endpoint("rx", "frame", SHAPES[res_name], tag=tag)
    print("READY", flush=True)
    got = 0
    t_idle = time.monotonic() + 20.0
    while True:
        s = ep.recv()
        if s is None:
            if time.monotonic() > t_idle:
                raise TimeoutError(f"no frame for 20 s after {got}")
            continue
        t_idle = time.monotonic() + 20.0
        if s <= STOP:
            break
        got += 1
        if lockstep == "1":
            ep.send_ack()
    return {"received": got}


# ---------------------------------------------------------------- entry points

def main(argv):
    mode, system, scenario, *rest = argv
    try:
        if mode == "cell":
            from scenarios import run_cell
            res = run_cell(system, scenario)
        elif scenario.startswith("latsink_"):
            res = latency_sink(system, scenario.split("_", 1)[1], rest[0], int(rest[1]))
        elif scenario == "tpsink":
            res = throughput_sink(system, *rest)
        else:
            raise ValueError(f"unknown child scenario {scenario}")
        res = {"ok": True, **res}
    except NotAvailable as e:
        res = {"ok": False, "na": True, "error": f"not available: {e}"}
    except NotOffered as e:
        res = {"ok": False, "na": True, "error": f"not offered: {e}"}
    except Exception as e:  # the exact error goes into the table
        res = {"ok": False, "error": f"{type(e).__name__}: {e}".strip(),
               "trace": traceback.format_exc()[-1500:]}
    for fn in CLEANUP:
        try:
            fn()
        except Exception:
            pass
    print(json.dumps(res), flush=True)
    sys.stdout.flush()
    os._exit(0)  # skip peers' atexit hooks that may hang or crash after the figures are out


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    import harness  # one copy of the module, so the adapters' exception classes match

    harness.main(sys.argv[1:])
