"""The `tensorbus` console command (`python -m tensorbus`, i.e. the Rust CLI through `_native`)
against a live publisher in a child process. tests/cli.rs covers every subcommand in depth."""

import json

import pytest
from _children import cli, killed_after, spawn_python, wait_until

pytestmark = pytest.mark.multiprocess

PUBLISHER = """
import time, tensorbus as tb
cmd = tb.Topic("cmd_vel", tb.CmdVel)
status = tb.Topic("status", dict)
t0 = time.monotonic()
i = 0
while time.monotonic() - t0 < 30:
    i += 1
    cmd.send(tb.CmdVel(timestamp_ns=i, linear=0.5, angular=-1.25))
    status.send({"i": i, "name": "robot"})
    time.sleep(0.01)
"""


@pytest.fixture
def publisher():
    ns = "cli-py"

    def moving():
        r = cli("topic", "list", "--json", namespace=ns)
        return r.returncode == 0 and sum(t["sent"] > 0 for t in json.loads(r.stdout)) == 2

    with killed_after(spawn_python(PUBLISHER, namespace=ns)):
        wait_until(moving, timeout=20, message=lambda: cli("topic", "list", "--json", namespace=ns).stderr)
        yield ns


def test_topic_list_echo_hz(publisher):
    topics = {t["name"]: t for t in json.loads(cli("topic", "list", "--json", namespace=publisher).stdout)}
    assert topics["cmd_vel"]["type"] == "CmdVel" and topics["cmd_vel"]["publishers"] == 1
    assert topics["status"]["type"] == "dict"
    r = cli("topic", "echo", "cmd_vel", "--count", "3", "--timeout", "10", namespace=publisher)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("CmdVel {") and "angular: -1.25" in line for line in lines), r.stdout
    r = cli("topic", "echo", "status", "--count", "1", "--timeout", "10", namespace=publisher)
    assert '"name": "robot"' in r.stdout, r.stdout
    r = cli("topic", "hz", "cmd_vel", "--count", "20", "--timeout", "10", namespace=publisher)
    assert r.returncode == 0 and r.stdout.splitlines()[-1].startswith("rate: "), r.stdout + r.stderr
    r = cli("pool", "stat", namespace=publisher)
    assert r.returncode == 0 and "INDEX" in r.stdout, r.stdout + r.stderr


def test_errors_are_one_line_with_exit_code_1():
    r = cli("topic", "info", "nothing-here", namespace="no-such-namespace")
    assert r.returncode == 1
    assert r.stderr.strip().startswith('error: namespace "no-such-namespace" not found')
    assert len(r.stderr.strip().splitlines()) == 1


def test_doctor_and_help():
    r = cli("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "RLIMIT_MEMLOCK" in r.stdout
    r = cli("--help")
    assert r.returncode == 0 and "topic hz" in r.stdout


def test_main_function_returns_the_exit_code():
    from tensorbus.__main__ import main

    assert main(["topic", "frobnicate"]) == 2
