"""Wake latency side by side (issue 16): the same cross-process wake as
benches/python/bench_wake.py, for tensorbus, iceoryx2 and HORUS, in one run.

    benches/peers/.venv/bin/python benches/peers/wake_peers.py [--markdown] [--rounds N] [--no-ref]

(`make bench-wake-peers` creates the venv first.) The driver and the stamping are bench_wake's:
each round the driver sleeps 1 ms, stamps CLOCK_MONOTONIC, sends a 16-byte record (stamp, seq)
and waits for the answer; the peer process, asleep until the record arrives, stamps as soon as
it runs and answers with the difference (the one-way figure). Scenarios take turns in blocks.

- tensorbus: `tb.Node(on=...)` in a `tb.Scheduler` (bench_wake's `node` peer); the driver waits
  with a blocking `recv(timeout)`.
- iceoryx2: publish-subscribe for the record plus an Event service for the wake, the pattern of
  its `event_based_communication` example. The peer sleeps in `WaitSet.wait_and_process()` with
  the ping Listener attached (`attach_notification`); on waking it stamps, drains the listener
  (`try_wait`), receives the sample, answers with `send_copy` + `Notifier.notify()`. The driver
  waits with `Listener.timed_wait`.
- HORUS: an event node, `horus.Node(on="<topic>", subs={...: horus.CmdVel})` in a
  `horus.Scheduler`, the record in a CmdVel (timestamp_ns = stamp, linear = seq); HORUS topics
  have no blocking receive, so the driver polls `recv()` with 20 µs sleeps. If the node never
  answers, the row says so with the exact symptom instead of a figure.
"""

import argparse
import ctypes
import os
import signal
import sys
import time
from importlib.metadata import version as pkg_version

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import bench_wake as bw  # noqa: E402

TAG = os.environ.setdefault("TB_WAKE_TAG", f"tbwake{os.getpid()}")
ANSWER_TIMEOUT = 2.0


class IxPing(ctypes.Structure):
    _fields_ = [("sent_ns", ctypes.c_uint64), ("seq", ctypes.c_uint64)]


# ---------------------------------------------------------------- iceoryx2

class Iceoryx2Ports:
    """Both directions: a publish-subscribe service for the record, an event service for the wake."""

    def __init__(self, send_dir, recv_dir):
        import iceoryx2 as iox2
        iox2.set_log_level_from_env_or(iox2.LogLevel.Error)
        self.iox2 = iox2
        self.node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)

        def services(direction):
            data = self.node.service_builder(iox2.ServiceName.new(f"{TAG}/{direction}")).publish_subscribe(IxPing).open_or_create()
            event = self.node.service_builder(iox2.ServiceName.new(f"{TAG}/{direction}_ev")).event().open_or_create()
            return data, event

        (self.out_data, self.out_ev), (self.in_data, self.in_ev) = services(send_dir), services(recv_dir)
        self.pub = self.out_data.publisher_builder().create()
        self.notifier = self.out_ev.notifier_builder().create()
        self.sub = self.in_data.subscriber_builder().create()
        self.listener = self.in_ev.listener_builder().create()

    def send(self, a, b):
        self.pub.send_copy(IxPing(a, b))
        self.notifier.notify()

    def take(self):
        """The next record (sent_ns, seq), or None."""
        s = self.sub.receive()
        if s is None:
            return None
        m = s.payload().contents
        return m.sent_ns, m.seq


def peer_iceoryx2():
    ports = Iceoryx2Ports("pong", "ping")
    iox2 = ports.iox2
    ws = iox2.WaitSetBuilder.new().create(iox2.ServiceType.Ipc)
    guard = ws.attach_notification(ports.listener)  # noqa: F841 (detaches when dropped)
    bw.ready()
    while True:
        _, result = ws.wait_and_process()
        t = bw.now_ns()
        if result in (iox2.WaitSetRunResult.TerminationRequest, iox2.WaitSetRunResult.Interrupt):
            return
        ports.listener.try_wait()  # consume the notification, or the WaitSet fires again at once
        while (m := ports.take()) is not None:
            sent, seq = m
            if seq == bw.QUIT:
                return
            ports.send(bw.one_way(t, sent), seq)


class Iceoryx2Driver:
    def __init__(self):
        self.ports = Iceoryx2Ports("ping", "pong")
        self.timeout = self.ports.iox2.Duration.from_millis(int(ANSWER_TIMEOUT * 1000))
        self.peer = bw.Peer("iceoryx2", script=__file__)

    def round(self, i):
        t0 = bw.now_ns()
        self.ports.send(t0, i)
        m = self.ports.take()
        while m is None:
            if not self.ports.listener.timed_wait(self.timeout):
                raise RuntimeError(f"round {i}: no answer within {ANSWER_TIMEOUT} s")
            m = self.ports.take()
        rtt = bw.now_ns() - t0
        if m[1] != i:
            raise RuntimeError(f"round {i}: answer {m}")
        return m[0], rtt

    def close(self):
        self.ports.send(0, bw.QUIT)
        self.peer.close()


# ---------------------------------------------------------------- HORUS

def peer_horus():
    import horus

    def tick(node):
        t = bw.now_ns()
        while (m := node.recv(f"{TAG}.ping")) is not None:
            node.send(f"{TAG}.pong", horus.CmdVel(float(m.linear), 0.0, timestamp_ns=bw.one_way(t, m.timestamp_ns)))

    node = horus.Node(name="echo", on=f"{TAG}.ping", subs={f"{TAG}.ping": horus.CmdVel}, pubs={f"{TAG}.pong": horus.CmdVel}, tick=tick)
    sched = horus.Scheduler()
    sched.add(node)
    bw.ready()
    sched.run(duration=600)


class HorusDriver:
    def __init__(self):
        import horus
        self.horus = horus
        self.ping = horus.Topic(horus.CmdVel, endpoint=f"{TAG}.ping")
        self.pong = horus.Topic(horus.CmdVel, endpoint=f"{TAG}.pong")
        self.peer = bw.Peer("horus", script=__file__)
        time.sleep(0.5)  # the scheduler starts after "ready"

    def round(self, i):
        t0 = bw.now_ns()
        self.ping.send(self.horus.CmdVel(float(i), 0.0, timestamp_ns=t0))
        end = time.monotonic() + ANSWER_TIMEOUT
        while (m := self.pong.recv()) is None:
            if time.monotonic() > end:
                raise RuntimeError(f"round {i}: no answer within {ANSWER_TIMEOUT} s")
            time.sleep(20e-6)
        rtt = bw.now_ns() - t0
        if int(m.linear) != i:
            raise RuntimeError(f"round {i}: answer for {m.linear}")
        return m.timestamp_ns, rtt

    def close(self):
        self.peer.p.send_signal(signal.SIGINT)
        self.peer.close()


PEERS = {"iceoryx2": peer_iceoryx2, "horus": peer_horus}


def probe(label, make):
    """A driver whose first round answered, or the exact reason it did not (and no driver)."""
    d = None
    try:
        d = make()
        d.round(10**9)  # outside the seq range of the measured rounds
        return d, None
    except Exception as e:  # noqa: BLE001 (the text goes into the table)
        why = f"{type(e).__name__}: {e}"
        if d is not None:
            d.peer.p.send_signal(signal.SIGINT)  # a clean shutdown: the peer logs what it saw
            d.peer.close()
            said = [ln for ln in d.peer.log if "Event" in ln or "rror" in ln]
            if said:
                why += "; the peer logged: " + " / ".join(said[-4:])
        return None, why


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--no-ref", action="store_true")
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        bw.exit_with_parent()
        PEERS[args.peer]()
        return 0
    before = None if args.no_ref else bw.reference_pair(args.rounds, "before")
    systems = [
        (f"tensorbus {pkg_version('tensorbus')}: event node `tb.Node(on=...)`", lambda: bw.TensorbusDriver("node")),
        (f"iceoryx2 {pkg_version('iceoryx2')}: Event + WaitSet (`wait_and_process`)", Iceoryx2Driver),
        (f"horus-robotics {pkg_version('horus-robotics')}: event node `horus.Node(on=...)`", HorusDriver),
    ]
    drivers, failed = {}, []
    for label, make in systems:
        d, why = probe(label, make)
        if d is None:
            failed.append((label, why))
        else:
            drivers[label] = d
    got = bw.interleaved(drivers, args.rounds)
    after = None if args.no_ref else bw.reference_pair(args.rounds, "after")
    ref = bw.mean_ref(before, after)
    rows = [(f"reference: bare futex ping-pong, Rust (run {n})", r) for n, r in (("before", before), ("after", after)) if r]
    rows += [(label, bw.figures(*v)) for label, v in got.items()]
    title = (f"# Wake latency side by side, one way — {bw.machine()}\n\n{args.rounds} rounds per system after {bw.WARMUP} warm-up, "
             f"1 ms pause before each ping, blocks of {bw.BLOCK} in turn; the peer stamps when it runs with the message.\n")
    bw.table(rows, ref, args.markdown, title)
    bw.notes(drivers)
    for label, why in failed:
        print(f"\n{label}: not measured — {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
