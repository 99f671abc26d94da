"""`tensorbus node list` and `tensorbus monitor` against a Python scheduler in a child process:
the scheduler publishes its nodes' statistics about once per second (src/scheduler/live.rs) and the
CLI reads them (src/cli/nodes.rs). tests/cli.rs covers the same against a Rust scheduler."""

import functools
import json
import subprocess
import time

import pytest
from _children import cli as _cli
from _children import kill, killed_after, spawn_python, wait_until

pytestmark = pytest.mark.multiprocess

NS = "node-monitor-py"

SCHEDULER = """
import tensorbus as tb

def boom():
    raise RuntimeError("boom")

def feed(node):
    node.send("frames", {"n": 1})

def react(node):
    node.recv_all("frames")

tb.run(tb.Node("camera", feed, rate=50, pubs={"frames": dict}), tb.Node("flaky", boom, rate=5),
       tb.Node("react", react, on={"frames": dict}), duration=30)
"""


cli = functools.partial(_cli, namespace=NS)  # `python -m tensorbus` on this module's namespace


def nodes_of(pid):
    r = cli("node", "list", "--json")
    if r.returncode != 0:
        return None
    for s in json.loads(r.stdout):
        if s["scheduler"] == pid:
            return {n["name"]: n for n in s["nodes"]}
    return None


@pytest.fixture
def scheduler():
    with killed_after(spawn_python(SCHEDULER, namespace=NS, stderr=subprocess.DEVNULL)) as p:
        yield p


def test_node_list_shows_a_running_python_scheduler(scheduler):
    def ticking():
        nodes = nodes_of(scheduler.pid)
        return nodes if nodes and nodes["camera"]["ticks"] != 0 else None

    first = wait_until(ticking, timeout=20, message="no statistics from the scheduler")
    assert set(first) == {"camera", "flaky", "react"}
    assert first["camera"]["target_rate"] == 50 and first["camera"]["running"]
    time.sleep(1.3)
    second = nodes_of(scheduler.pid)
    assert second["camera"]["ticks"] > first["camera"]["ticks"]
    assert second["camera"]["rate_hz"] > 10
    assert second["flaky"]["errors"] > 0 and "boom" in second["flaky"]["last_error"]
    react = second["react"]
    assert react["on"] == ["frames"] and react["target_rate"] == 0 and react["ticks"] > 0, react
    assert 0 < react["wake_p50_us"] <= react["wake_p99_us"] <= react["wake_max_us"], react

    table = cli("node", "list").stdout
    assert table.startswith("PID") and any("camera" in line and "running" in line for line in table.splitlines()), table
    assert "WAKE P50" in table and any("react" in line and "on frames" in line for line in table.splitlines()), table
    r = cli("monitor", "--count", "2", "--interval", "0.2")
    assert r.returncode == 0 and r.stdout.count("tensorbus monitor") == 2 and "\x1b" not in r.stdout, r.stdout

    kill(scheduler)
    assert "no running schedulers" in cli("node", "list").stdout
