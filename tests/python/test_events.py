"""Event-driven receiving: `tb.wait` and `tb.WaitSet` (several topics, deadlines, timeouts,
interrupts), asyncio (`await topic.recv_async()`, `async for`, cancellation, a responsive loop),
event nodes (`tb.Node(on=...)`), and a waiter SIGKILLed in its sleep. Senders in other processes
where it matters; timing bounds are loose (the latency figures are in docs/benchmarks.md)."""

import asyncio
import os
import threading
import time

import pytest
from _children import Child, wait_until

# A child that publishes one dict on the topic it is told, each time it reads a line.
PUBLISH_ON_CUE = """
import time
topics = {}
for line in sys.stdin:
    name = line.strip()
    if name == "bye":
        break
    t = topics.setdefault(name, tb.Topic(name, dict))
    t.send({"t": time.monotonic_ns()})
    print("sent", flush=True)
"""


@pytest.fixture
def publisher(fresh_ns):
    c = Child(PUBLISH_ON_CUE, namespace=fresh_ns)
    yield c
    c.finish()


def later(delay, fn, *args):
    t = threading.Timer(delay, fn, args)
    t.start()
    return t


def test_wait_returns_the_topic_another_process_sent_on(tb, publisher):
    a, b, c = tb.Topic("ev.a", dict), tb.Topic("ev.b", dict), tb.Topic("ev.c", dict)
    assert tb.wait([a, b, c], timeout=0.05) == []
    later(0.1, publisher.say, "ev.b")
    t0 = time.monotonic()
    ready = tb.wait([a, b, c], timeout=10)
    assert ready == [b]
    assert 0.05 < time.monotonic() - t0 < 5
    assert tb.wait([a, b, c], timeout=0) == [b], "level-triggered: ready until received"
    assert b.recv()["t"] > 0
    assert tb.wait([a, b, c], timeout=0.05) == []


def test_waitset_reports_deadlines_and_ready_topics(tb, fresh_ns):
    cam, imu = tb.Topic("ev.cam", dict), tb.Topic("ev.imu", dict)
    ws = tb.WaitSet([imu])
    ws.add(cam, deadline=0.1)
    assert len(ws) == 2
    t0 = time.monotonic()
    assert ws.wait(timeout=5) == [(cam, "deadline")]
    assert time.monotonic() - t0 >= 0.09
    imu.send({"a": 1})
    assert ws.wait(timeout=5) == [(imu, "ready")]
    imu.recv()
    cam.send({"f": 1})
    assert ws.wait(timeout=5) == [(cam, "ready")]
    ws.remove(cam)
    assert len(ws) == 1
    assert ws.wait(timeout=0.2) == [], "a removed topic reports nothing"
    with pytest.raises(tb.TopicError, match="deadline"):
        ws.add(cam, deadline=-1)


def test_waitset_interrupt_and_busy_error(tb, fresh_ns):
    ws = tb.WaitSet([tb.Topic("ev.never", dict)])
    later(0.1, ws.interrupt)
    t0 = time.monotonic()
    errors = []

    def meanwhile():
        time.sleep(0.03)
        try:
            ws.add(tb.Topic("ev.other", dict))
        except tb.TopicError as e:
            errors.append(str(e))

    th = threading.Thread(target=meanwhile)
    th.start()
    assert ws.wait(timeout=30) == []
    th.join()
    assert time.monotonic() - t0 < 5
    assert errors and "interrupt() it first" in errors[0]


def test_recv_async_keeps_the_loop_responsive(tb, publisher):
    topic = tb.Topic("ev.async", dict)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick_task = asyncio.create_task(ticker())
        later(0.3, publisher.say, "ev.async")
        t0 = time.monotonic()
        msg = await topic.recv_async(timeout=10)
        waited = time.monotonic() - t0
        tick_task.cancel()
        return msg, waited, ticks

    msg, waited, ticks = asyncio.run(main())
    assert msg is not None and msg["t"] > 0
    assert 0.2 < waited < 5
    assert ticks >= 10, f"the event loop ran only {ticks} ticker steps while waiting {waited:.2f}s"


def test_recv_async_timeout_and_cancellation(tb, fresh_ns):
    topic = tb.Topic("ev.cancel", dict)

    async def main():
        t0 = time.monotonic()
        assert await topic.recv_async(timeout=0.1) is None
        assert time.monotonic() - t0 >= 0.09
        task = asyncio.create_task(topic.recv_async())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The cancelled watch is gone; a new receive still wakes.
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, topic.send, {"k": 2})
        return await topic.recv_async(timeout=5)

    assert asyncio.run(main()) == {"k": 2}


def test_async_for_receives_every_message(tb, publisher):
    topic = tb.Topic("ev.iter", dict)

    async def main():
        got = []

        async def consume():
            async for msg in topic:
                got.append(msg["t"])
                if len(got) == 3:
                    return

        task = asyncio.create_task(consume())
        for _ in range(3):
            await asyncio.sleep(0.05)
            publisher.say("ev.iter")
        await asyncio.wait_for(task, 10)
        return got

    got = asyncio.run(main())
    assert len(got) == 3 and got == sorted(got)


def test_event_node_ticks_on_data_with_the_messages(tb, publisher):
    seen, batches = [], []

    def on_cmd(node):
        assert node.ready == ("ev.cmd",)
        msg = node.recv("ev.cmd")
        seen.append(msg)

    def on_batch(node, msgs):
        batches.append({k: len(v) for k, v in msgs.items()})

    sched = tb.Scheduler()
    sched.add(tb.Node(name="cmd", on="ev.cmd", tick=on_cmd))
    sched.add(tb.Node(name="batch", on=["ev.x", "ev.y"], tick=on_batch))

    def drive():
        time.sleep(0.3)
        for _ in range(3):
            publisher.say("ev.cmd")
            publisher.expect("sent")
            time.sleep(0.05)
        publisher.say("ev.y")
        publisher.expect("sent")
        time.sleep(0.2)
        sched.stop()

    th = threading.Thread(target=drive)
    th.start()
    sched.run(duration=20)
    th.join()
    assert len(seen) == 3 and all(m is not None for m in seen)
    assert batches == [{"ev.y": 1}]
    st = sched.get_node_stats("cmd")
    assert st["total_ticks"] == 3, st
    assert st["on"] == ["ev.cmd"]
    assert 0 < st["p50_wake_latency"] < 0.5, st


def test_event_node_takes_no_rate(tb, fresh_ns):
    with pytest.raises(ValueError, match="takes no rate"):
        tb.Node(name="bad", on="ev.r", tick=lambda: None, rate=10)
    assert "on=['ev.r']" in repr(tb.Node(name="ok", on="ev.r", tick=lambda: None))


def test_a_waiter_killed_in_its_sleep_leaves_nothing_stuck(tb, fresh_ns):
    waiter = Child(
        """
a, b = tb.Topic("ev.ka", tb.Image), tb.Topic("ev.kb", dict)
print("waiting", flush=True)
tb.wait([a, b], timeout=600)
""",
        namespace=fresh_ns,
    )
    waiter.expect("waiting")
    a, b = tb.Topic("ev.ka", tb.Image), tb.Topic("ev.kb", dict)
    time.sleep(0.3)  # asleep in futex_waitv
    waiter.kill()
    for i in range(3):
        img = tb.Image(4, 4, "rgb8")
        img.to_numpy()[:] = i
        a.send(img)
        del img
    # Another waiter still wakes on the same topics.
    later(0.05, b.send, {"x": 1})
    assert tb.wait([a, b], timeout=10) in ([a], [b], [a, b])
    assert tb.reap()["processes"] >= 0
    del a, b
    wait_until(lambda: tb.pool_stats()["used_slots"] == 0, message=lambda: f"slots held: {tb.pool_stats()}")


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux")
def test_an_idle_event_node_sleeps(tb, fresh_ns):
    sched = tb.Scheduler()
    sched.add(tb.Node(name="idle", on="ev.idle", tick=lambda: None, compute=True))
    t0 = time.process_time()
    sched.run(duration=1.0)
    used = time.process_time() - t0
    assert sched.get_node_stats("idle")["total_ticks"] == 0
    # Loose (the figure is in docs/benchmarks.md): the whole process, polling for Ctrl-C too.
    assert used < 0.1, f"an idle event node's process used {used:.3f}s of CPU in 1 s"


def test_spin_settings(tb, fresh_ns):
    t = tb.Topic("ev.spin", dict)
    assert t.spin == pytest.approx(50e-6)
    t.spin = 0
    t.send({"a": 1})
    assert t.recv(timeout=1) == {"a": 1}
    # After a receive that got a message, spin=0 still sleeps at once: little CPU while waiting.
    c0 = time.thread_time()
    assert t.recv(timeout=0.2) is None
    assert time.thread_time() - c0 < 0.05
    t.spin = float("inf")
    assert t.spin == float("inf")
    c0, w0 = time.thread_time(), time.monotonic()
    assert t.recv(timeout=0.2) is None  # spins the whole timeout
    assert time.thread_time() - c0 > 0.5 * (time.monotonic() - w0)
    with pytest.raises(tb.TopicError, match="spin"):
        t.spin = -1
    tb.Scheduler(spin=0)
    with pytest.raises(tb.TensorbusError, match="spin"):
        tb.Scheduler(spin=-1)


def test_a_process_that_used_recv_async_exits_cleanly(tb, fresh_ns):
    """The watcher thread is stopped and joined at exit: it once took the GIL while the interpreter
    finalized and aborted the process (SIGABRT, about one exit in six)."""
    code = """
import asyncio, tensorbus as tb
t = tb.Topic("ev.exit", dict)
while t.recv() is not None:  # the earlier runs' newest message
    pass
async def main():
    for i in range(20):
        task = asyncio.create_task(t.recv_async(timeout=1))
        await asyncio.sleep(0)
        t.send({"i": i})
        assert (await task) == {"i": i}
asyncio.run(main())
"""
    from _children import run_python

    for _ in range(8):
        r = run_python(code, namespace=fresh_ns)
        assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
