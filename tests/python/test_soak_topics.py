"""Short soak of the message paths the Rust soak (pool/tests/hardening_soak.rs) does not drive:
a typed (CmdVel) and a dict topic at 1 kHz between two processes, scheduled by tb.Node, with a
subscriber that is SIGKILLed and restarted; ends by checking counts, order and zero held slots.
`TB_SOAK_TOPICS_SECS` lengthens it (default 6 s)."""

import os
import subprocess
import textwrap
import time

import pytest
from _children import kill, spawn_python

SECS = float(os.environ.get("TB_SOAK_TOPICS_SECS", "6"))

PUBLISHER = textwrap.dedent(
    """
    import sys, tensorbus as tb
    n = {"i": 0}
    def tick(node):
        n["i"] += 1
        node.send("cmd_vel", tb.CmdVel(float(n["i"]), 0.5))
        node.send("soak.status", {"i": n["i"], "ok": True, "name": "robot"})
    node = tb.Node(name="pub", tick=tick, pubs=[tb.CmdVel, "soak.status"], rate=1000)
    print("READY", flush=True)
    s = tb.run(node, duration=float(sys.argv[1]))
    st = s.get_node_stats("pub")
    print("SENT", n["i"], st["error_count"], flush=True)
    """
)

SUBSCRIBER = textwrap.dedent(
    """
    import tensorbus as tb
    cmd = tb.Topic("cmd_vel", tb.CmdVel, depth=64)
    st = tb.Topic("soak.status", depth=64)
    print("READY", flush=True)
    while True:
        c = cmd.recv(timeout=0.05)
        d = st.recv()
    """
)


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_typed_and_dict_topics_at_1khz_with_a_crashing_subscriber(tb, fresh_ns):
    cmd = tb.Topic("cmd_vel", tb.CmdVel, depth=64)
    status = tb.Topic("soak.status", depth=64)
    cmd.recv(), status.recv()  # subscribe before the publisher starts
    pub = spawn_python(PUBLISHER, SECS, namespace=fresh_ns, stdout=subprocess.PIPE, text=True)
    assert pub.stdout.readline().strip() == "READY"
    last_c = last_d = 0
    got_c = got_d = backwards = 0
    kills = 0
    crashy = None
    next_kill = time.monotonic() + 1.0
    end = time.monotonic() + SECS + 2
    while time.monotonic() < end and pub.poll() is None:
        for m in iter(cmd.recv, None):
            got_c += 1
            backwards += m.linear <= last_c
            last_c = m.linear
        for d in iter(status.recv, None):
            got_d += 1
            backwards += d["i"] <= last_d
            last_d = d["i"]
            assert d["ok"] is True and d["name"] == "robot"
        if time.monotonic() >= next_kill:
            if crashy is not None:
                kill(crashy)
                kills += 1
            crashy = spawn_python(SUBSCRIBER, namespace=fresh_ns, stdout=subprocess.DEVNULL)
            next_kill = time.monotonic() + 1.0
        time.sleep(0.002)
    out = pub.communicate(timeout=30)[0]
    if crashy is not None:
        kill(crashy)
        kills += 1
    sent, errors = [int(x) for x in out.split("SENT", 1)[1].split()]
    for _ in iter(cmd.recv, None):
        got_c += 1
    for _ in iter(status.recv, None):
        got_d += 1
    print(f"\nSOAK topics: sent {sent} x2 at 1 kHz, received cmd {got_c} dict {got_d}, {kills} subscriber kills, {backwards} out of order")
    assert errors == 0
    assert sent >= 0.5 * 1000 * SECS, "the publisher node did not keep its 1 kHz rate"
    assert backwards == 0
    # A depth-64 ring read every ~2 ms keeps up: nearly everything arrives.
    assert got_c >= 0.95 * sent and got_d >= 0.95 * sent
    tb.reap()
    del cmd, status
    assert tb.pool_stats()["used_slots"] == 0
