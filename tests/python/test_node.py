"""tb.Node from Python: tick/init/shutdown signatures, topics given as names, message classes or
a dict, send/recv/recv_all in callbacks, exceptions, async ticks and tb.budget_remaining
(python: tensorbus/node.py, binding: py/src/node.rs)."""

import asyncio
import threading

import pytest

# Timings are loose on purpose: the test machine is small and shared. Exact rates are measured
# by the benchmarks, not asserted here.


def run_until(tb, *nodes, duration=0.3, tick_rate=100):
    s = tb.Scheduler(tick_rate=tick_rate)
    for n in nodes:
        s.add(n)
    s.run(duration=duration)
    return s


def test_tick_with_and_without_node_argument(tb, fresh_ns):
    seen = {"a": [], "b": 0}

    def with_node(node):
        seen["a"].append(node)

    def without():
        seen["b"] += 1

    a = tb.Node("a", with_node, rate=100)
    b = tb.Node("b", without, rate=100)
    s = run_until(tb, a, b, duration=0.3)
    assert seen["a"] and all(n is a for n in seen["a"])
    assert seen["b"] > 0
    assert s.get_node_stats("a")["total_ticks"] == len(seen["a"])
    assert s.get_node_stats("b")["total_ticks"] == seen["b"]


def test_bound_method_and_default_args_are_fine(tb, fresh_ns):
    class Counter:
        n = 0

        def tick(self, node):
            self.n += 1

    c = Counter()
    hits = []
    run_until(tb, tb.Node("m", c.tick, rate=100), tb.Node("d", lambda x=1: hits.append(x), rate=100), duration=0.2)
    assert c.n > 0 and hits and set(hits) == {1}


def test_init_and_shutdown_called_once(tb, fresh_ns):
    calls = []
    node = tb.Node(
        "n",
        lambda: calls.append("tick"),
        init=lambda node: calls.append("init"),
        shutdown=lambda: calls.append("shutdown"),
        rate=100,
    )
    run_until(tb, node, duration=0.2)
    assert calls[0] == "init" and calls[-1] == "shutdown"
    assert calls.count("init") == 1 and calls.count("shutdown") == 1 and calls.count("tick") > 1


def test_shutdown_runs_on_stop(tb, fresh_ns):
    calls = []
    s = tb.Scheduler(tick_rate=100)
    s.add(tb.Node("n", lambda: None, shutdown=lambda: calls.append("shutdown")))
    threading.Timer(0.2, s.stop).start()
    s.run()
    assert calls == ["shutdown"]


def test_node_name_defaults_to_function_name(tb):
    def camera_tick():
        pass

    assert tb.Node(tick=camera_tick).name == "camera_tick"


def test_node_without_tick_raises(tb):
    with pytest.raises(TypeError):
        tb.Node("x")


def test_bad_on_error_raises(tb):
    with pytest.raises(ValueError):
        tb.Node("x", lambda: None, on_error="explode")


# --- topics in callbacks ----------------------------------------------------------------------


def test_pubs_and_subs_as_names_send_recv_recv_all(tb, fresh_ns):
    got = []
    state = {"i": 0}

    def producer(node):
        for _ in range(3):
            node.send("numbers", {"i": state["i"]})
            state["i"] += 1

    def consumer(node):
        got.extend(m["i"] for m in node.recv_all("numbers"))

    cons = tb.Node("cons", consumer, subs=["numbers"], rate=200)
    prod = tb.Node("prod", producer, pubs="numbers", rate=50)
    run_until(tb, cons, prod, duration=0.4)
    assert len(got) >= 6
    assert got == list(range(len(got)))  # in order, none lost (3 per tick < depth)


def test_pubs_as_message_class_use_the_type_topic_name(tb, fresh_ns):
    received = []

    def drive(node):
        node.send("cmd_vel", tb.CmdVel(1.0, 0.5))

    def base(node):
        m = node.recv("cmd_vel")
        if m is not None:
            received.append(m)

    d = tb.Node("drive", drive, pubs=[tb.CmdVel], rate=50)
    b = tb.Node("base", base, subs=[tb.CmdVel], rate=200)
    assert "cmd_vel" in d.topics() and "cmd_vel" in b.topics()
    run_until(tb, b, d, duration=0.3)
    assert received and all(type(m) is tb.CmdVel and (m.linear, m.angular) == (1.0, 0.5) for m in received)
    with pytest.raises(tb.TopicTypeError):
        tb.Topic("cmd_vel", tb.Twist)  # the node opened it typed


def test_pubs_subs_as_dict_name_to_type(tb, fresh_ns):
    out = []

    def tick(node):
        node.send("pose_out", tb.Pose2D(1.0, 2.0, 3.0))
        node.send("status", {"ok": True})
        out.append((node.recv("pose_out"), node.recv("status")))

    n = tb.Node("n", tick, pubs={"pose_out": tb.Pose2D, "status": dict}, rate=50)
    assert set(n.topics()) == {"pose_out", "status"}
    run_until(tb, n, duration=0.15)
    assert out and out[0][0].theta == 3.0 and out[0][1] == {"ok": True}
    with pytest.raises(tb.TopicTypeError):
        tb.Topic("pose_out", tb.CmdVel)


def test_send_on_undeclared_topic_opens_it_untyped(tb, fresh_ns):
    got = []

    def tick(node):
        node.send("adhoc", {"x": 1})
        got.append(node.recv("adhoc"))

    n = tb.Node("n", tick, rate=50)
    run_until(tb, n, duration=0.1)
    assert {"x": 1} in got


def test_recv_all_on_empty_topic_is_empty(tb, fresh_ns):
    seen = []
    run_until(tb, tb.Node("n", lambda node: seen.append(node.recv_all("nothing")), subs=["nothing"], rate=50), duration=0.1)
    assert seen and all(x == [] for x in seen)


def test_bad_topic_spec_raises(tb):
    with pytest.raises(TypeError):
        tb.Node("n", lambda: None, pubs=[42])


# --- errors -----------------------------------------------------------------------------------


def test_exceptions_in_tick_are_counted_and_the_node_goes_on(tb, fresh_ns, capfd):
    n = {"ticks": 0}

    def tick():
        n["ticks"] += 1
        if n["ticks"] % 2:
            raise RuntimeError(f"boom {n['ticks']}")

    s = run_until(tb, tb.Node("flaky", tick, rate=100), duration=0.3)
    st = s.get_node_stats("flaky")
    assert n["ticks"] >= 6
    assert st["error_count"] == (n["ticks"] + 1) // 2
    assert "boom" in st["last_error"]
    assert "RuntimeError" in capfd.readouterr().err  # logged with its traceback


def test_on_error_stop_stops_the_node_only(tb, fresh_ns, capfd):
    calls = {"bad": 0, "good": 0, "shutdown": 0}

    def bad():
        calls["bad"] += 1
        raise ValueError("fatal")

    def good():
        calls["good"] += 1

    s = run_until(tb, tb.Node("bad", bad, on_error="stop", rate=100, shutdown=lambda: calls.__setitem__("shutdown", 1)),
                  tb.Node("good", good, rate=100), duration=0.3)
    st = s.get_node_stats("bad")
    assert calls["bad"] == 1 and st["error_count"] == 1 and st["stopped"]
    assert "fatal" in st["last_error"]
    assert calls["good"] > 5
    assert calls["shutdown"] == 1
    capfd.readouterr()


def test_exception_in_init_is_reported(tb, fresh_ns, capfd):
    def init():
        raise RuntimeError("no camera")

    s = run_until(tb, tb.Node("n", lambda: None, init=init, rate=100), duration=0.1)
    st = s.get_node_stats("n")
    assert st["error_count"] >= 1 and "no camera" in st["last_error"]
    capfd.readouterr()


# --- async ticks and budget_remaining ---------------------------------------------------------


def test_async_tick_runs_on_an_event_loop(tb, fresh_ns):
    seen = []

    async def tick(node):
        await asyncio.sleep(0.001)
        seen.append(asyncio.get_running_loop())

    s = run_until(tb, tb.Node("aio", tick, rate=50), duration=0.3)
    assert len(seen) >= 3 and s.get_node_stats("aio")["total_ticks"] == len(seen)
    assert s.get_node_stats("aio")["error_count"] == 0


def test_async_tick_without_node_argument_and_async_init(tb, fresh_ns):
    calls = []

    async def init():
        calls.append("init")

    async def tick():
        calls.append("tick")

    run_until(tb, tb.Node("aio", tick, init=init, rate=50), duration=0.2)
    assert calls[0] == "init" and "tick" in calls


def test_budget_remaining_inside_and_outside_a_tick(tb, fresh_ns):
    seen = []
    budget = 20 * tb.ms
    run_until(tb, tb.Node("b", lambda: seen.append(tb.budget_remaining()), budget=budget, rate=50), duration=0.2)
    assert seen
    assert all(isinstance(x, float) and 0.0 < x <= budget for x in seen)
    assert tb.budget_remaining() is None


def test_budget_remaining_without_a_budget_counts_to_the_deadline(tb, fresh_ns):
    """Rust's budget_remaining falls back to the deadline (the period by default)."""
    seen = []
    run_until(tb, tb.Node("b", lambda: seen.append(tb.budget_remaining()), rate=50), duration=0.1)
    assert seen and all(x is not None and 0.0 <= x <= 1 / 50 for x in seen)


def test_budget_remaining_in_a_compute_node(tb, fresh_ns):
    seen = []
    run_until(tb, tb.Node("b", lambda: seen.append(tb.budget_remaining()), budget=0.05, rate=50, compute=True), duration=0.2)
    assert seen and all(x is not None and 0.0 < x <= 0.05 for x in seen)


def test_units(tb):
    assert tb.ms == 1e-3 and tb.us == 1e-6 and 30 * tb.ms == pytest.approx(0.03)
