"""Typed-message A/B against a bare `struct` and HORUS, in one process (issue 17).

Each figure is a ratio to a `struct.Struct("<Qff")` pack + unpack of the same three fields timed
just before and just after it, the median of 15 rounds (the VM's drift cancels within a round);
HORUS's `CmdVel` runs in the same rounds. Rows: construct + send + recv, the same plus reading
both fields, send alone, construction alone.

Run it in the peers venv (HORUS is there), with the tensorbus build to measure first on the path;
to compare two builds, unzip each wheel and alternate them:

    make bench-peers ARGS=--quick   # once, to create benches/peers/.venv
    maturin build --release -o /tmp/whl && python -m zipfile -e /tmp/whl/*.whl /tmp/new
    PYTHONPATH=/tmp/new benches/peers/.venv/bin/python benches/peers/typed_ab.py new
"""

import gc
import os
import statistics
import struct
import sys
import time

os.environ.setdefault("TENSORBUS_NAMESPACE", f"typedab{os.getpid()}")

import horus  # noqa: E402
import tensorbus as tb  # noqa: E402

N = 20000


def per_call(fn):
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / N


S = struct.Struct("<Qff")


def ref():
    p, u = S.pack, S.unpack
    for _ in range(N):
        u(p(1, 1.0, 0.5))


t = tb.Topic("cmd_vel", tb.CmdVel)
m = tb.CmdVel(1.0, 0.5)
ht = horus.Topic(horus.CmdVel, endpoint=f"tbcmd{os.getpid()}")


def send_recv(topic, cls, read):
    """construct + send + recv of `cls` on `topic`, reading both fields if `read`."""

    def loop():
        s, r = topic.send, topic.recv
        for _ in range(N):
            s(cls(1.0, 0.5))
            x = r()
            if read:
                x.linear  # noqa: B018
                x.angular  # noqa: B018

    return loop


def ctor(cls):
    def loop():
        for _ in range(N):
            cls(1.0, 0.5)

    return loop


def send_only():
    s = t.send
    for _ in range(N):
        s(m)
    while t.recv() is not None:
        pass


def main():
    label = sys.argv[1] if len(sys.argv) > 1 else "tensorbus"
    t.recv()
    gc.disable()
    rows = (
        ("send+recv", send_recv(t, tb.CmdVel, False)),
        ("horus s+r", send_recv(ht, horus.CmdVel, False)),
        ("send+recv+read", send_recv(t, tb.CmdVel, True)),
        ("horus s+r+read", send_recv(ht, horus.CmdVel, True)),
        ("send", send_only),
        ("ctor", ctor(tb.CmdVel)),
        ("horus ctor", ctor(horus.CmdVel)),
    )
    res = {k: [] for k, _ in rows}
    for _ in range(15):
        for k, f in rows:
            a = per_call(ref)
            b = per_call(f)
            c = per_call(ref)
            res[k].append((b / ((a + c) / 2), b))
    print(label, " | ".join(f"{k} {statistics.median(x[0] for x in v):.2f}x ({min(x[1] for x in v):.0f}ns)" for k, v in res.items()), flush=True)


if __name__ == "__main__":
    main()
