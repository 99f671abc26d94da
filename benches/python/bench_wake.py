"""Cross-process wake latency from Python (issue 16), and the CPU an idle event node uses.

    python benches/python/bench_wake.py [--markdown] [--rounds N] [--no-ref]

A driver process (this one) pings a peer process that sleeps until the ping arrives; the peer
stamps CLOCK_MONOTONIC as soon as it runs with the message in hand and answers with the delay
since the driver's stamp (taken just before its send). That delay is the one-way wake figure;
the driver's own round trip is shown as RTT/2 beside it. Each round the driver first sleeps
1 ms, so the peer is truly asleep. Peers (each a fresh interpreter, `--peer ROLE`):

- `node`: a `tb.Scheduler` with `tb.Node(on="wake.ping", tick=...)`; the tick stamps first;
- `wait`: a loop on `tb.wait([ping], timeout)`, stamp, `recv()`;
- `recv`: a loop on the blocking `ping.recv(timeout)`;
- `async`: an asyncio loop on `await ping.recv_async()`.

The scenarios take turns in blocks of 250 rounds, so drift and a neighbour's load hit them
alike. The reference is the bare futex ping-pong between two Rust processes measured by
`cargo bench --bench wake -- --only ref --json` (benches/wake.rs), run once before and once
after the Python scenarios (both shown; ratios use their mean). benches/peers/wake_peers.py
reuses this driver for iceoryx2 and HORUS.
"""

import argparse
import asyncio
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

if "TENSORBUS_SHM_DIR" not in os.environ:
    os.environ["TENSORBUS_SHM_DIR"] = tempfile.mkdtemp(prefix="tensorbus-wake-", dir="/dev/shm")
os.environ.setdefault("TENSORBUS_NAMESPACE", "wake")

import tensorbus as tb  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WARMUP, BLOCK, PAUSE = 200, 250, 0.001
QUIT = 2**64 - 1  # a seq that ends a peer
IDLE_SETTLE, IDLE_WINDOW = 0.5, 3.0
now_ns = time.monotonic_ns  # CLOCK_MONOTONIC: the clock the Rust side stamps with
ROLE = "driver"  # a peer's role: its topics are wake.<role>.ping and wake.<role>.pong


@tb.message
class Ping:
    sent_ns: tb.u64  # a ping: the driver's stamp; a pong: the measured one-way delay
    seq: tb.u64


# ---------------------------------------------------------------- peers (the sleeping side)

def ready():
    print("ready", flush=True)


def exit_with_parent():
    """A peer ends when its driver is gone (a driver that failed leaves no sleepers behind)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def one_way(t, sent):
    """The one-way figure for a message sent at `sent` that the peer holds, its wake stamped `t`.
    A wake that came before the send (a leftover notification: the message arrived while the
    peer was already running) counts from now, when the peer has the message in hand."""
    return t - sent if t >= sent else now_ns() - sent


def peer_node():
    pong = tb.Topic(f"wake.{ROLE}.pong", Ping)
    sched = tb.Scheduler()

    def tick(node):
        t = now_ns()
        while (m := ping.recv()) is not None:
            if m.seq == QUIT:
                sched.stop()
                return
            pong.send(Ping(one_way(t, m.sent_ns), m.seq))

    node = tb.Node(name="echo", on={f"wake.{ROLE}.ping": Ping}, tick=tick)
    ping = node.topics()[f"wake.{ROLE}.ping"]  # the topic whose subscriber the trigger watches
    sched.add(node)
    ready()
    sched.run()
    st = sched.get_node_stats("echo")
    print(f"stats {st['p50_wake_latency'] * 1e9:.0f} {st['p99_wake_latency'] * 1e9:.0f}", flush=True)


def peer_wait():
    ping, pong = tb.Topic(f"wake.{ROLE}.ping", Ping), tb.Topic(f"wake.{ROLE}.pong", Ping)
    ping.recv()  # creates the subscriber before the driver sends
    ready()
    while True:
        if not tb.wait([ping], timeout=5):
            continue
        t = now_ns()
        m = ping.recv()
        if m.seq == QUIT:
            return
        pong.send(Ping(one_way(t, m.sent_ns), m.seq))


def peer_recv():
    ping, pong = tb.Topic(f"wake.{ROLE}.ping", Ping), tb.Topic(f"wake.{ROLE}.pong", Ping)
    ping.recv()
    ready()
    while True:
        m = ping.recv(timeout=5)
        if m is None:
            continue
        t = now_ns()
        if m.seq == QUIT:
            return
        pong.send(Ping(one_way(t, m.sent_ns), m.seq))


def peer_async():
    ping, pong = tb.Topic(f"wake.{ROLE}.ping", Ping), tb.Topic(f"wake.{ROLE}.pong", Ping)
    ping.recv()

    async def main():
        ready()
        while True:
            m = await ping.recv_async(timeout=5)
            if m is None:
                continue
            t = now_ns()
            if m.seq == QUIT:
                return
            pong.send(Ping(one_way(t, m.sent_ns), m.seq))

    asyncio.run(main())


def peer_idle_node():
    node = tb.Node(name="idle", on={f"wake.{ROLE}.ping": Ping}, tick=lambda n: None)
    sched = tb.Scheduler().add(node)
    ready()
    sched.run(duration=IDLE_SETTLE + IDLE_WINDOW + 2)


def peer_idle_async():
    ping = tb.Topic(f"wake.{ROLE}.ping", Ping)

    async def main():
        ready()
        await ping.recv_async(timeout=IDLE_SETTLE + IDLE_WINDOW + 2)

    asyncio.run(main())


PEERS = {"node": peer_node, "wait": peer_wait, "recv": peer_recv, "async": peer_async,
         "idle-node": peer_idle_node, "idle-async": peer_idle_async}


# ---------------------------------------------------------------- the driver side

class Peer:
    """A peer interpreter running `script --peer role`; killed if still running at close."""

    def __init__(self, role, script=__file__, python=sys.executable):
        self.p = subprocess.Popen([python, script, "--peer", role], stdout=subprocess.PIPE, text=True)
        seen = []  # a peer library may log to stdout before the peer is ready
        while (line := self.p.stdout.readline()) and line.strip() != "ready":
            seen.append(line.strip())
        if not line:
            self.p.kill()
            raise RuntimeError(f"peer {role} ended before 'ready' (exit {self.p.wait()}): {seen[-5:]}")
        # Keep reading (the last lines are kept for error reports), so a peer that logs a lot
        # never blocks on a full pipe.
        self.log = collections.deque(seen, maxlen=200)
        threading.Thread(target=lambda: self.log.extend(ln.rstrip() for ln in self.p.stdout), daemon=True).start()

    @property
    def pid(self):
        return self.p.pid

    def close(self, wait=5.0):
        try:
            self.p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


class TensorbusDriver:
    """The driver's side for every tensorbus peer: send on wake.ping, blocking recv on wake.pong."""

    def __init__(self, role):
        self.ping, self.pong = tb.Topic(f"wake.{role}.ping", Ping), tb.Topic(f"wake.{role}.pong", Ping)
        self.pong.recv()  # the subscriber exists before the first answer
        # The driver sleeps at once while it waits (spin 0): a blocking recv() would spin first
        # (after a receive that got a message), holding the core the peer may be woken onto.
        self.waits = tb.WaitSet([self.pong], spin=0.0)
        self.peer = Peer(role)
        self.note = ""

    def round(self, i):
        t0 = now_ns()
        self.ping.send(Ping(t0, i))
        m = self.pong.recv()
        if m is None and self.waits.wait(timeout=2.0):
            m = self.pong.recv()
        rtt = now_ns() - t0
        if m is None or m.seq != i:
            raise RuntimeError(f"round {i}: answer {m!r}")
        return m.sent_ns, rtt

    def close(self):
        self.ping.send(Ping(0, QUIT))
        self.peer.close()
        time.sleep(0.1)  # the log thread reads the peer's last line
        got = [ln.split()[1:] for ln in self.peer.log if ln.startswith("stats ")]
        if got:
            p50, p99 = (int(x) / 1e3 for x in got[-1])
            self.note = f"its own NodeStats (arrival → the Rust side's tick start, before Python is entered): p50 {p50:.1f} µs, p99 {p99:.1f} µs"


def interleaved(drivers, rounds, pause=PAUSE):
    """{label: (one_way list, rtt list)}: warm-up each, then blocks of BLOCK rounds in turn."""
    out = {label: ([], []) for label in drivers}
    i = 0
    for d in drivers.values():
        for _ in range(WARMUP):
            time.sleep(pause)
            d.round(i)
            i += 1
    done = 0
    while done < rounds:
        n = min(BLOCK, rounds - done)
        for label, d in drivers.items():
            one, rtt = out[label]
            for _ in range(n):
                time.sleep(pause)
                a, b = d.round(i)
                one.append(a)
                rtt.append(b)
                i += 1
        done += n
    for d in drivers.values():
        d.close()
    return out


def pct(v, p):
    v = sorted(v)
    return v[max(0, min(len(v) - 1, -(-len(v) * p // 100) - 1))]


def figures(one, rtt):
    return {"p50_ns": pct(one, 50), "p90_ns": pct(one, 90), "p99_ns": pct(one, 99), "max_ns": max(one),
            "rtt_half_p50_ns": pct(rtt, 50) / 2, "rounds": len(one)}


def cpu_ns(pid):
    """CPU time of every thread of `pid` so far (ns): /proc/<pid>/task/*/schedstat."""
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread ended
    return total


def idle_cpu(role, script=__file__, python=sys.executable):
    """Percent of one core a peer uses over IDLE_WINDOW with no traffic."""
    peer = Peer(role, script, python)
    time.sleep(IDLE_SETTLE)
    c0, t0 = cpu_ns(peer.pid), time.monotonic()
    time.sleep(IDLE_WINDOW)
    pct_core = (cpu_ns(peer.pid) - c0) / ((time.monotonic() - t0) * 1e9) * 100
    peer.close(wait=IDLE_WINDOW)
    return pct_core


def rust_reference(rounds):
    """The Rust bench's bare futex ping-pong (same machine, moments apart): its figures dict."""
    cmd = ["cargo", "bench", "-q", "--bench", "wake", "--", "--only", "ref", "--json", "--rounds", str(rounds)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            if row["id"] == "ref":
                return row
    raise RuntimeError(f"no reference row in the output of {' '.join(cmd)}")


def machine():
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    return (f"{os.cpu_count()} cores, {cpu}, Linux {platform.release()}, Python {platform.python_version()}, "
            f"load {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M')}")


def table(rows, ref, markdown, title):
    """rows: [(label, figures)]; ref: figures of the reference (or None)."""
    print(title)
    us = lambda ns: f"{ns / 1e3:.1f}"  # noqa: E731
    if markdown:
        print("| scenario | p50 µs | p90 µs | p99 µs | max µs | p50 vs futex ref | RTT/2 p50 µs |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, f in rows:
        ratio = f"{f['p50_ns'] / ref['p50_ns']:.2f}×" if ref else "–"
        cells = [us(f["p50_ns"]), us(f["p90_ns"]), us(f["p99_ns"]), us(f["max_ns"]), ratio, us(f["rtt_half_p50_ns"])]
        if markdown:
            print(f"| {label} | " + " | ".join(cells) + " |")
        else:
            print(f"{label:58s} " + "  ".join(f"{c:>8s}" for c in cells))


def notes(drivers):
    for label, d in drivers.items():
        if getattr(d, "note", ""):
            print(f"\n{label}: {d.note}")


def reference_pair(rounds, when):
    """The reference before or after; None (with a note) if it cannot run."""
    try:
        return rust_reference(rounds)
    except (OSError, subprocess.CalledProcessError, RuntimeError) as e:
        print(f"(reference {when} not measured: {e})", file=sys.stderr)
        return None


def mean_ref(before, after):
    got = [r for r in (before, after) if r]
    if not got:
        return None
    return {k: sum(r[k] for r in got) / len(got) for k in ("p50_ns", "p90_ns", "p99_ns", "max_ns", "rtt_half_p50_ns")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--no-ref", action="store_true", help="skip the Rust futex reference (no cargo)")
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    args = ap.parse_args()
    # TB_WAKE_PIN=1: the driver on CPU 0, every peer on CPU 1 (a diagnostic: no wake-affine
    # placement of the woken peer on the driver's core).
    pin = os.environ.get("TB_WAKE_PIN") == "1" and hasattr(os, "sched_setaffinity") and os.cpu_count() >= 2
    if args.peer:
        if pin:
            os.sched_setaffinity(0, {1})
        global ROLE
        ROLE = args.peer
        exit_with_parent()
        PEERS[args.peer]()
        return 0
    if pin:
        os.sched_setaffinity(0, {0})
    before = None if args.no_ref else reference_pair(args.rounds, "before")
    labels = {"node": "event node `tb.Node(on=...)` in `tb.Scheduler`", "wait": "`tb.wait([ping])` loop",
              "recv": "blocking `ping.recv(timeout)` loop", "async": "asyncio `await ping.recv_async()`"}
    drivers = {labels[r]: TensorbusDriver(r) for r in labels}
    got = interleaved(drivers, args.rounds)
    after = None if args.no_ref else reference_pair(args.rounds, "after")
    ref = mean_ref(before, after)
    rows = []
    for name, r in (("before", before), ("after", after)):
        if r:
            rows.append((f"reference: bare futex ping-pong, Rust (run {name})", r))
    rows += [(label, figures(*v)) for label, v in got.items()]
    title = (f"# Python wake latency, one way — {machine()}\n\n{args.rounds} rounds per scenario after {WARMUP} warm-up, "
             f"1 ms pause before each ping, blocks of {BLOCK} in turn; peer stamps when it runs with the message.\n")
    table(rows, ref, args.markdown, title)
    notes(drivers)
    node_cpu, async_cpu = idle_cpu("idle-node"), idle_cpu("idle-async")
    print(f"\nIdle (no traffic, {IDLE_WINDOW:.0f} s): Python event node in a tb.Scheduler {node_cpu:.2f} % of one core; "
          f"asyncio `await recv_async()` {async_cpu:.2f} % (schedstat, all threads).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
