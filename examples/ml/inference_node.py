"""An inference node: receives `camera.rgb` frames, views each one as a torch tensor without a copy
(`img.to_torch()` shares the camera's pool slot), runs a small conv net defined below (random
weights, no downloads), and publishes a `tb.Detection` on `detections` plus its latency on
`inference.latency` (a dict topic).

It is an event node (`tb.Node(on=...)`): its tick runs when a frame arrives, woken by the
camera's send, instead of polling at a rate (`--rate 200` polls, for comparison). A 2 Hz rate
node beside it gives up when no camera shows up.

    python examples/ml/inference_node.py --seconds 10
    tensorbus launch examples/ml/pipeline.toml          # with the Rust camera driver

On exit it prints frames/s, latency percentiles and the zero-copy proof.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import tensorbus as tb
import torch


class TinyDetector(torch.nn.Module):
    """A heat-map "detector": a few strided convolutions, the hottest cell becomes one box."""

    def __init__(self, classes: int = 4):
        super().__init__()
        torch.manual_seed(0)
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 5, stride=4, padding=2), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
        )
        self.heat = torch.nn.Conv2d(16, 1, 1)
        self.cls = torch.nn.Linear(16, classes)
        self.stride = 8

    def forward(self, x: torch.Tensor):
        f = self.features(x)
        heat = self.heat(f)[0, 0]
        idx = int(torch.argmax(heat))
        gy, gx = divmod(idx, heat.shape[1])
        score = float(torch.sigmoid(heat[gy, gx]))
        cls = int(torch.argmax(self.cls(f.mean(dim=(2, 3)))[0]))
        return cls, score, gx * self.stride, gy * self.stride


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--topic", default="camera.rgb")
    ap.add_argument("--seconds", type=float, default=None, help="run this long after the first frame (default: until Ctrl-C)")
    ap.add_argument("--wait", type=float, default=60.0, help="give up if no frame arrives within this many seconds")
    ap.add_argument("--rate", type=float, default=None, help="poll for frames at this rate instead of waking on each one")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    model = TinyDetector().eval()
    stats = {"frames": 0, "latency_us": [], "compute_us": [], "zero_copy": True, "proof": None, "first": None, "last": None}

    sched = tb.Scheduler()
    started = time.monotonic()

    def tick(node: tb.Node) -> None:
        frames = node.recv_all(args.topic)
        if not frames:
            return
        img = frames[-1]  # newest; older ones are dropped (they stay counted as frames seen)
        arrived = time.time_ns()
        t = img.to_torch()  # zero-copy: the camera's slot, read-only
        same = t.data_ptr() == img.data_ptr
        stats["zero_copy"] &= same
        if stats["proof"] is None:
            stats["proof"] = (img.seq, img.slot, hex(t.data_ptr()), same)
        with torch.no_grad():
            x = t.permute(2, 0, 1).unsqueeze(0).float().div_(255)
            cls, score, x0, y0 = model(x)
        done = time.time_ns()
        latency_us = (arrived - img.timestamp_ns) / 1e3 if img.timestamp_ns else float("nan")
        node.send("detections", tb.Detection(timestamp_ns=img.timestamp_ns, class_id=cls, score=score, x=float(x0), y=float(y0), w=32.0, h=32.0))
        node.send("inference.latency", {"seq": img.seq, "latency_us": latency_us, "compute_us": (done - arrived) / 1e3})
        stats["frames"] += len(frames)
        stats["latency_us"].append(latency_us)
        stats["compute_us"].append((done - arrived) / 1e3)
        now = time.monotonic()
        stats["first"] = stats["first"] or now
        stats["last"] = now
        if args.seconds is not None and now - stats["first"] >= args.seconds:
            sched.stop()  # measured long enough (counted from the first frame, not from start-up)

    def watchdog() -> None:
        if stats["first"] is None and time.monotonic() - started > args.wait:
            print(f"inference: no frame within {args.wait:g} s", flush=True)
            sched.stop()  # no camera

    trigger = {"rate": args.rate} if args.rate else {"on": args.topic}
    node = tb.Node(
        name="inference",
        subs={args.topic: tb.Image},
        pubs={"detections": tb.Detection, "inference.latency": dict},
        tick=tick,
        compute=True,
        **trigger,
    )
    print(f"inference: waiting for frames on {args.topic!r} ({'polling at %g Hz' % args.rate if args.rate else 'woken by each frame'})", flush=True)
    sched.add(node)
    sched.add(tb.Node(name="watchdog", tick=watchdog, rate=2))
    sched.run()
    wake = sched.get_node_stats("inference")

    n = len(stats["latency_us"])
    if n == 0:
        print("inference: no frames received", flush=True)
        return 1
    lat = np.array(stats["latency_us"])
    comp = np.array(stats["compute_us"])
    span = (stats["last"] - stats["first"]) if n > 1 else float("nan")
    print(f"frames          {stats['frames']} received, {n} inferred ({(n - 1) / span:.1f} frames/s)")
    print(f"camera -> node  p50 {np.nanpercentile(lat, 50):.0f} us  p99 {np.nanpercentile(lat, 99):.0f} us  (capture timestamp to tensor in hand)")
    if not args.rate:
        print(f"wake latency    p50 {wake['p50_wake_latency'] * 1e6:.0f} us  p99 {wake['p99_wake_latency'] * 1e6:.0f} us  (the camera's send to the tick's start, node stats)")
    print(f"inference       p50 {np.percentile(comp, 50) / 1e3:.2f} ms  p99 {np.percentile(comp, 99) / 1e3:.2f} ms")
    print(f"end-to-end      p50 {np.nanpercentile(lat + comp, 50) / 1e3:.2f} ms  p99 {np.nanpercentile(lat + comp, 99) / 1e3:.2f} ms")
    seq, slot, ptr, same = stats["proof"]
    print(f"zero-copy       first frame seq {seq} in pool slot {slot}: torch data_ptr {ptr} is the slot's address: {same}")
    print(f"every frame zero-copy: {stats['zero_copy']}", flush=True)
    return 0 if stats["zero_copy"] else 1


if __name__ == "__main__":
    sys.exit(main())
