"""Hardening from Python (docs/reliability.md): a subscriber process in a receive loop, holding
NumPy and torch views (and an unconsumed DLPack capsule) of what it received, is SIGKILLed at
random moments while the publisher keeps going; after each kill `tb.reap()` returns its holds, a
verifying subscriber never sees a torn frame, and at the end every slot is back (counted exactly).
test_lifetime.py covers the single kill of a subscriber that holds a fixed set of frames."""

import os
import random
import time

import numpy as np
import pytest
from _children import Child, use_namespace

H, W = 32, 32  # 3 KiB rgb8: the 4 KiB class

# argv: topic.  Receives forever, keeping NumPy and torch views (and a capsule) of its last 3
# frames; prints "got <n>" after each of the first frames so the parent knows it is in the loop.
GREEDY = """
import collections
topic = sys.argv[1]
t = tb.Topic(topic, "Image", depth=4)
print("ready", flush=True)
keep = collections.deque(maxlen=3)
n = 0
while True:
    p = t.recv(timeout=0.05)
    if p is None:
        continue
    keep.append((p.to_numpy(), p.to_torch(), p.__dlpack__()))
    del p
    n += 1
    if n <= 3:
        print("got", n, flush=True)
"""


def _frame(i):
    return np.full((H, W, 3), i % 251, dtype=np.uint8)


@pytest.mark.multiprocess
def test_subscriber_killed_while_holding_views_in_a_receive_loop(tb):
    with use_namespace(tb, "hardening-views") as ns:
        t = tb.Topic("hard.cam", tb.Image, depth=4)
        check = tb.Topic("hard.cam", tb.Image, depth=4)  # a second handle: the verifying reader
        rng = random.Random(int(os.environ.get("TB_SEED", "0")) or None)
        sent = seen = reaped = 0
        for _ in range(3):
            child = Child(GREEDY, "hard.cam", namespace="hardening-views")
            try:
                child.expect("ready")
                while True:  # publish until the child is in its loop, holding views
                    img = tb.Image(H, W, "rgb8")
                    img.to_numpy()[:] = _frame(sent)
                    t.send(img)
                    del img
                    sent += 1
                    got = check.recv()
                    if got is not None:
                        a = got.to_numpy()
                        assert (a == a.flat[0]).all(), "torn frame"
                        seen += 1
                        del a, got
                    try:
                        child.expect("got", timeout=0.01)
                        break
                    except AssertionError:
                        pass
                time.sleep(rng.uniform(0, 0.05))
                child.kill()  # SIGKILL
            finally:
                child.kill()
            r = tb.reap()
            assert r["processes"] == 1, r
            reaped += r["slots_freed"]
            who = f"pid {child.pid} "
            assert not any(k.startswith(who) for p in tb.pool_stats()["pools"] for k in p["holders"])
        assert sent > 0 and seen > 0
        del t, check
        s = tb.pool_stats()
        assert s["used_slots"] == 0, s["pools"]
        assert sum(p["slots"] for p in s["pools"]) > 0
        assert tb.reap() == {"processes": 0, "slots_freed": 0}
    assert ns.endswith("hardening-views")
