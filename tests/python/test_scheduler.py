"""tb.Scheduler from Python: durations, per-node rates, budget and deadline misses, skip and stop,
compute threads, live statistics, stop(), configuration errors and a clean Ctrl-C
(binding: py/src/node.rs over the facade's scheduler, src/scheduler/).

Bounds are loose on purpose: the test machine is small and shared; exact rates are for the
benchmarks."""

import signal
import subprocess
import textwrap
import threading
import time

import pytest
from _children import env_for, kill, run_python, spawn_python


def test_run_returns_after_roughly_the_duration(tb, fresh_ns):
    s = tb.Scheduler(tick_rate=100)
    s.add(tb.Node("n", lambda: None))
    t0 = time.monotonic()
    s.run(duration=0.5)
    assert 0.45 <= time.monotonic() - t0 <= 2.0
    st = s.get_node_stats("n")
    assert 25 <= st["total_ticks"] <= 55 and not st["running"]


def test_tb_run_returns_its_scheduler(tb, fresh_ns):
    s = tb.run(tb.Node("a", lambda: None, rate=100), tb.Node("b", lambda: None, rate=100), duration=0.2)
    assert isinstance(s, tb.Scheduler)
    assert s.get_node_names() == ["a", "b"]
    assert s.get_node_stats("a")["total_ticks"] > 0


def test_node_rates_are_honoured_whatever_the_tick_rate(tb, fresh_ns):
    counts = {"khz": 0, "fast": 0, "default": 0}

    def counter(key):
        def tick():
            counts[key] += 1
        return tick

    s = tb.Scheduler(tick_rate=10)
    assert s.tick_rate == 10
    s.add(tb.Node("khz", counter("khz"), rate=1000))
    s.add(tb.Node("fast", counter("fast"), rate=200))
    s.add(tb.Node("default", counter("default")))
    s.run(duration=1.0)
    assert 600 <= counts["khz"] <= 1100, counts
    assert 120 <= counts["fast"] <= 220, counts
    assert 5 <= counts["default"] <= 12, counts
    assert s.get_node_stats("khz")["total_ticks"] == counts["khz"]
    assert 500 <= s.get_node_stats("khz")["actual_rate"] <= 1100


def test_stats_fields(tb, fresh_ns):
    s = tb.run(tb.Node("n", lambda: time.sleep(0.001), rate=100), duration=0.2)
    st = s.get_node_stats("n")
    assert {"total_ticks", "avg_tick_duration", "max_tick_duration", "p99_tick_duration", "budget_misses",
            "deadline_misses", "error_count", "last_error"} <= set(st)
    assert st["name"] == "n" and st["error_count"] == 0 and st["last_error"] is None
    assert 0.0005 <= st["avg_tick_duration"] <= st["max_tick_duration"]
    assert st["avg_tick_duration"] <= 0.1 and st["p99_tick_duration"] <= st["max_tick_duration"]


def test_budget_misses_are_counted(tb, fresh_ns, capfd):
    s = tb.run(tb.Node("slow", lambda: time.sleep(0.02), budget=5 * tb.ms, rate=20), tb.Node("ok", lambda: None, budget=0.05, rate=20), duration=0.3)
    slow, ok = s.get_node_stats("slow"), s.get_node_stats("ok")
    assert slow["total_ticks"] >= 3 and slow["budget_misses"] == slow["total_ticks"]
    assert ok["budget_misses"] == 0
    capfd.readouterr()


def test_deadline_misses_are_counted(tb, fresh_ns, capfd):
    s = tb.run(tb.Node("late", lambda: time.sleep(0.02), deadline=5 * tb.ms, rate=20), duration=0.3)
    st = s.get_node_stats("late")
    assert st["total_ticks"] >= 3 and st["deadline_misses"] == st["total_ticks"] and st["budget_misses"] == 0
    assert "miss" in capfd.readouterr().err  # warned (rate-limited)


def _starts_after_a_slow_first_tick(tb, on_miss):
    """Tick start times of a 50 Hz node whose first tick takes 100 ms (5 periods)."""
    starts = []

    def tick():
        starts.append(time.monotonic())
        if len(starts) == 1:
            time.sleep(0.1)

    tb.run(tb.Node("n", tick, rate=50, on_miss=on_miss), duration=0.3)
    return starts


def test_on_miss_warn_catches_up_and_skip_does_not(tb, fresh_ns, capfd):
    warn = _starts_after_a_slow_first_tick(tb, "warn")
    skip = _starts_after_a_slow_first_tick(tb, "skip")
    capfd.readouterr()
    # warn keeps the schedule: the late periods run back to back right after the slow tick.
    assert len(warn) >= 6 and warn[3] - warn[1] < 0.02, [round(b - a, 4) for a, b in zip(warn, warn[1:])]
    # skip drops them: the next ticks are a period apart.
    assert len(skip) >= 4 and skip[3] - skip[1] >= 0.025, [round(b - a, 4) for a, b in zip(skip, skip[1:])]
    assert len(skip) < len(warn)


def test_on_miss_stop_stops_the_node_and_runs_its_shutdown(tb, fresh_ns, capfd):
    calls = {"late": 0, "other": 0, "shutdown": 0}

    def late():
        calls["late"] += 1
        time.sleep(0.02)

    def other():
        calls["other"] += 1

    s = tb.run(tb.Node("late", late, budget=5 * tb.ms, rate=20, on_miss="stop", shutdown=lambda: calls.__setitem__("shutdown", calls["shutdown"] + 1)),
               tb.Node("other", other, rate=50), duration=0.3)
    st = s.get_node_stats("late")
    assert calls["late"] == 1 and st["total_ticks"] == 1 and st["budget_misses"] == 1 and st["stopped"]
    assert calls["shutdown"] == 1
    assert calls["other"] >= 5
    capfd.readouterr()


def test_slow_compute_node_does_not_block_a_fast_main_node(tb, fresh_ns):
    counts = {"fast": 0, "slow": 0}

    def fast():
        counts["fast"] += 1

    def slow():
        counts["slow"] += 1
        time.sleep(0.05)

    s = tb.run(tb.Node("fast", fast, rate=200), tb.Node("slow", slow, rate=100, compute=True), duration=0.6)
    assert counts["fast"] >= 60, counts  # ~120 expected; without compute=True it would get ~12
    assert 4 <= counts["slow"] <= 14, counts
    assert s.get_node_stats("slow")["deadline_misses"] >= 1


def test_main_thread_nodes_share_one_thread(tb, fresh_ns, capfd):
    """The contrast: the same slow node without compute=True does hold the fast one back."""
    counts = {"fast": 0}

    def fast():
        counts["fast"] += 1

    tb.run(tb.Node("fast", fast, rate=200), tb.Node("slow", lambda: time.sleep(0.05), rate=100), duration=0.6)
    assert counts["fast"] < 60, counts
    capfd.readouterr()


def test_stats_are_readable_from_another_thread_while_running(tb, fresh_ns):
    s = tb.Scheduler(tick_rate=200)
    s.add(tb.Node("n", lambda: None))
    snaps, errors = [], []

    def read():
        try:
            snaps.append(s.get_node_stats("n"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    timers = [threading.Timer(d, read) for d in (0.15, 0.3, 0.45)]
    for t in timers:
        t.start()
    s.run(duration=0.6)
    for t in timers:
        t.join()
    assert not errors and len(snaps) == 3
    ticks = [x["total_ticks"] for x in snaps]
    assert 0 < ticks[0] < ticks[1] < ticks[2] <= s.get_node_stats("n")["total_ticks"], ticks
    assert all(x["running"] for x in snaps)


def test_stop_from_inside_a_tick_ends_run(tb, fresh_ns):
    s = tb.Scheduler(tick_rate=100)
    n = {"ticks": 0}

    def tick():
        n["ticks"] += 1
        if n["ticks"] == 5:
            s.stop()

    s.add(tb.Node("n", tick))
    t0 = time.monotonic()
    s.run()  # no duration: only stop() ends it
    assert time.monotonic() - t0 < 5.0
    assert 5 <= n["ticks"] <= 7


def test_stop_from_another_thread_ends_run(tb, fresh_ns):
    s = tb.Scheduler(tick_rate=100)
    s.add(tb.Node("n", lambda: None, compute=True))
    threading.Timer(0.2, s.stop).start()
    t0 = time.monotonic()
    s.run()
    assert 0.15 <= time.monotonic() - t0 < 5.0


def test_duplicate_node_names_raise(tb):
    s = tb.Scheduler()
    s.add(tb.Node("same", lambda: None))
    with pytest.raises(tb.TensorbusError, match="same"):
        s.add(tb.Node("same", lambda: None))
    assert s.get_node_names() == ["same"]


@pytest.mark.parametrize("kw", [{"rate": 0}, {"rate": -5}, {"rate": float("nan")}, {"budget": -1.0}, {"deadline": 0.0},
                                {"budget": float("inf")}, {"on_miss": "explode"}])
def test_bad_node_config_raises(tb, kw):
    s = tb.Scheduler()
    with pytest.raises(tb.TensorbusError):
        s.add(tb.Node("n", lambda: None, **kw))
    assert s.get_node_names() == []


@pytest.mark.parametrize("rate", [0, -1.0, float("nan")])
def test_bad_tick_rate_raises(tb, rate):
    with pytest.raises(tb.TensorbusError):
        tb.Scheduler(tick_rate=rate)


def test_bad_duration_and_unknown_node_raise(tb):
    s = tb.Scheduler()
    with pytest.raises(tb.TensorbusError):
        s.run(duration=-1.0)
    with pytest.raises(tb.TensorbusError, match="nope"):
        s.get_node_stats("nope")


def test_run_with_no_nodes_returns(tb):
    t0 = time.monotonic()
    tb.Scheduler().run(duration=0.1)
    assert time.monotonic() - t0 < 2.0


# --- Ctrl-C -----------------------------------------------------------------------------------

SIGINT_CHILD = textwrap.dedent(
    """
    import sys, time
    import tensorbus as tb

    held = {}
    t = tb.Topic("frames", tb.Image)

    def init():
        img = tb.Image(32, 32, "rgb8")
        img.to_numpy()[:] = 7
        t.send(img)
        held["loaned"] = tb.Image(64, 64, "rgb8")   # a loaned slot never sent
        held["received"] = t.latest()                 # a hold on a received one

    def tick(node):
        if "ready" not in held:
            held["ready"] = True
            print("ready", tb.pool_stats()["used_slots"], flush=True)
        time.sleep(float(sys.argv[1]))               # 0: the signal lands between ticks

    def shutdown():
        print("SHUTDOWN", flush=True)

    s = tb.Scheduler(tick_rate=100)
    s.add(tb.Node("holder", tick, init=init, shutdown=shutdown, rate=float(sys.argv[2])))
    s.add(tb.Node("worker", lambda: time.sleep(0.01), compute=True, shutdown=lambda: print("SHUTDOWN worker", flush=True)))
    try:
        s.run(duration=float(sys.argv[3]))
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        raise
    print("returned normally", flush=True)
    """
)


def _interrupt(tb, ns, tick_sleep=0.0, rate=2.0, duration=30.0):
    """Run SIGINT_CHILD, wait until it holds its slots, send SIGINT; (returncode, stdout lines, stderr)."""
    tb.pool_stats()  # this process has the namespace open while the child exits
    p = spawn_python(SIGINT_CHILD, tick_sleep, rate, duration, namespace=ns, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().split()
        assert line[:1] == ["ready"], (line, p.stderr.read() if p.poll() is not None else "")
        assert int(line[1]) >= 2  # it does hold slots
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            kill(p)
    return p.returncode, out.splitlines(), err


@pytest.mark.multiprocess
def test_sigint_runs_every_shutdown_and_reraises_keyboard_interrupt(tb, fresh_ns):
    rc, lines, err = _interrupt(tb, fresh_ns)
    assert "SHUTDOWN" in lines and "SHUTDOWN worker" in lines, (lines, err)
    assert "KeyboardInterrupt" in lines and "returned normally" not in lines, (lines, err)
    assert lines.index("SHUTDOWN") < lines.index("KeyboardInterrupt")  # shutdowns before the re-raise
    assert rc in (-signal.SIGINT, 128 + signal.SIGINT, 1), (rc, err)
    assert "KeyboardInterrupt" in err


@pytest.mark.multiprocess
def test_sigint_leaves_no_slot_held(tb, fresh_ns):
    _interrupt(tb, fresh_ns)
    st = tb.pool_stats()
    held = {k: v for pool in st["pools"] for k, v in pool["holders"].items() if not k.startswith("topic ")}
    assert held == {}, st
    assert tb.reap()["slots_freed"] == 0


@pytest.mark.multiprocess
def test_exit_with_a_scheduler_alive_releases_holds(tb, fresh_ns):
    tb.pool_stats()
    code = textwrap.dedent(
        """
        import tensorbus as tb
        held = tb.Image(64, 64, "rgb8")
        s = tb.Scheduler(tick_rate=100)
        s.add(tb.Node("n", lambda: None, rate=10))
        s.run(duration=0.1)
        """
    )
    r = run_python(code, namespace=fresh_ns)
    assert r.returncode == 0, r.stderr
    assert tb.pool_stats()["used_slots"] == 0


@pytest.mark.multiprocess
def test_sigint_during_a_python_tick_stops_the_run(tb, fresh_ns):
    rc, lines, err = _interrupt(tb, fresh_ns, tick_sleep=1.0, rate=1.0, duration=4.0)
    assert "KeyboardInterrupt" in lines and "returned normally" not in lines, (lines, err)


LOGGING_CHILD = textwrap.dedent("""
    import time, tensorbus as tb
    def bad():
        raise RuntimeError("boom")
    tb.run(tb.Node("bad", bad, rate=50), tb.Node("slow", lambda: time.sleep(0.03), rate=100, deadline=1 * tb.ms), duration=0.3)
""")


@pytest.mark.multiprocess
@pytest.mark.parametrize("level", [None, "warn", "error", "off"])
def test_messages_go_through_the_log_level(fresh_ns, level):
    # The scheduler's warnings and the callback exceptions share one path (the log facade and
    # its default stderr logger, src/logging.rs): TENSORBUS_LOG hides both or neither.
    env = env_for(fresh_ns)
    env.pop("RUST_LOG", None)
    if level is not None:
        env["TENSORBUS_LOG"] = level
    r = run_python(LOGGING_CHILD, env=env)
    assert r.returncode == 0, r.stderr
    shown = level in (None, "warn")
    assert ("[tensorbus] node bad: exception in tick (#1):" in r.stderr) == shown, r.stderr
    assert ("RuntimeError: boom" in r.stderr) == shown, r.stderr
    assert ("[tensorbus] node slow: deadline miss #1" in r.stderr) == shown, r.stderr
