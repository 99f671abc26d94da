"""Topic and node benchmarks from Python (issue: typed topics, messages, nodes, scheduler).

    python benches/python/bench_topic.py [--markdown]

- typed CmdVel send+recv in one process (16 B, inline in the descriptor);
- a 3-key dict send+recv (MessagePack, inline);
- Python node tick overhead: a trivial node at an unbounded rate, seconds / ticks;
- the highest sustained trivial tick rate, and a 200 kHz node's achieved rate.
References measured in the same run: a Python function call and `struct.pack`+`unpack` of the
same 16 bytes (the floor any Python-side typed message pays).
"""

import argparse
import os
import platform
import statistics
import struct
import sys
import tempfile
import time

if "TENSORBUS_SHM_DIR" not in os.environ:
    os.environ["TENSORBUS_SHM_DIR"] = tempfile.mkdtemp(prefix="tensorbus-bench-", dir="/dev/shm")
os.environ.setdefault("TENSORBUS_NAMESPACE", "bench")

import tensorbus as tb  # noqa: E402


def per_call(fn, number, repeat=9):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t) / number)
    return statistics.median(times)


def paired(fn, ref, number, repeat=15):
    """Medians of `fn` and `ref` per call, batches interleaved so drift hits both alike."""
    fn()
    ref()
    a, b = [], []
    for _ in range(repeat):
        for f, out in ((fn, a), (ref, b)):
            t = time.perf_counter()
            for _ in range(number):
                f()
            out.append((time.perf_counter() - t) / number)
    return statistics.median(a), statistics.median(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    rows = []

    t = tb.Topic("bench.cmd_vel", tb.CmdVel)
    t.recv()
    msg = tb.CmdVel(1.0, 0.5)

    def typed():
        t.send(msg)
        t.recv()

    s = struct.Struct("<Qff")

    def ref_struct():
        s.unpack(s.pack(1, 1.0, 0.5))

    def noop():
        pass

    ref_call = per_call(noop, 200000)
    ours, ref = paired(typed, ref_struct, 20000)
    rows.append(("typed CmdVel send+recv", ours, ref, "struct pack+unpack of 16 B", "≤ 0.4 µs"))

    d = tb.Topic("bench.dict", dict)
    d.recv()
    m = {"a": 1, "b": 2.0, "c": "x"}

    def dicts():
        d.send(m)
        d.recv()

    ours, ref = paired(dicts, lambda: tb.unpackb(tb.packb(m)), 20000)
    rows.append(("3-key dict send+recv", ours, ref, "packb+unpackb only", "≤ 2 µs"))

    n = tb.Node(name="trivial", tick=noop, rate=float("inf"))
    sched = tb.run(n, duration=2.0)
    st = sched.get_node_stats("trivial")
    per_tick = 2.0 / max(st["total_ticks"], 1)
    rows.append(("Python node tick (unbounded rate)", per_tick, ref_call, "a Python function call", "≤ 2 µs"))
    n2 = tb.Node(name="r200k", tick=noop, rate=200_000)
    st2 = tb.run(n2, duration=2.0).get_node_stats("r200k")

    print(f"# tensorbus topic/node benchmarks — {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d')}")
    if args.markdown:
        print("| scenario | tensorbus | reference | ratio | reference is | target |")
        print("| --- | ---: | ---: | ---: | --- | --- |")
    for label, v, ref, refname, target in rows:
        if args.markdown:
            print(f"| {label} | {v * 1e6:.2f} µs | {ref * 1e6:.2f} µs | {v / ref:.1f}× | {refname} | {target} |")
        else:
            print(f"{label:36s} {v * 1e6:8.2f} us  ref {ref * 1e6:7.2f} us ({refname})  {target}")
    print(f"\ntrivial node, unbounded: {st['total_ticks'] / 2.0 / 1e3:.0f} k ticks/s (avg tick {st['avg_tick_duration'] * 1e6:.2f} µs inside the callback)")
    print(f"200 kHz node: {st2['total_ticks'] / 2.0 / 1e3:.0f} k ticks/s achieved, deadline misses {st2['deadline_misses']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
