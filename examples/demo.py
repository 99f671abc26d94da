"""make demo: a camera process publishes 480x640 RGB frames into pool slots at 30 Hz; this
process runs a small PyTorch "inference node" on them, zero-copy, and reports the rate, the
end-to-end latency and the proof that the tensor it computed on *is* the camera's memory.

Run directly: python examples/demo.py [--seconds 5] [--rate 30]
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import tensorbus as tb

TOPIC = "camera.rgb"


def camera(seconds: float, rate: float) -> None:
    """The publisher: loan a slot, draw in place, send. No copies."""
    topic = tb.Topic(TOPIC, tb.Image, depth=4)
    period = 1.0 / rate
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        img = tb.Image(480, 640, "rgb8")            # a writable pool slot
        a = img.to_numpy()                           # a view of it
        a[:] = 0
        x = (n * 8) % 640
        a[:, x : x + 32, 0] = 255                    # a moving red bar
        a[200:280, :, 1] = n % 256
        img.frame_id = "cam0"
        img.timestamp_ns = time.time_ns()
        seq = topic.send(img)                        # only the 64-byte descriptor travels
        if n < 3:
            print(f"[camera] seq {seq} written into pool slot {img.slot} (pool, slot, generation)", flush=True)
        n += 1
        time.sleep(max(0.0, start + n * period - time.monotonic()))
    print(f"[camera] sent {n} frames", flush=True)


def inference(seconds: float, rate: float) -> int:
    import torch

    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5, stride=4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 4))
    topic = tb.Topic(TOPIC, tb.Image, depth=4)
    child = subprocess.Popen([sys.executable, __file__, "--role", "camera", "--seconds", str(seconds), "--rate", str(rate)])
    latencies, compute, frames, zero_copy, proof = [], [], 0, True, None
    t0 = t_last = None
    deadline = time.monotonic() + seconds + 5
    while time.monotonic() < deadline:
        img = topic.recv(timeout=0.5)
        if img is None:
            if child.poll() is not None:
                break
            continue
        arrived = time.time_ns()
        t = img.to_torch()                           # zero-copy: shares the camera's slot
        same = t.data_ptr() == img.data_ptr
        zero_copy &= same
        if proof is None:
            proof = (img.seq, img.slot, hex(t.data_ptr()), same)
        with torch.no_grad():
            x = t.permute(2, 0, 1).unsqueeze(0).float().div_(255)
            model(x)
        done = time.time_ns()
        latencies.append((arrived - img.timestamp_ns) / 1e3)
        compute.append((done - arrived) / 1e3)
        frames += 1
        t_last = time.monotonic()
        t0 = t0 or t_last
    elapsed = (t_last - t0) if frames > 1 else float("nan")
    child.wait(timeout=10)
    del img, t
    held_open = tb.pool_stats()["used_slots"]
    del topic  # the last handle on the topic: its ring releases the frames it pinned
    lat = np.array(latencies) if latencies else np.array([float("nan")])
    comp = np.array(compute) if compute else np.array([float("nan")])
    print()
    print(f"frames received     {frames}  ({(frames - 1) / elapsed:.1f} frames/s, camera at {rate:g} Hz)")
    print(f"camera -> node      p50 {np.percentile(lat, 50):.0f} us   p99 {np.percentile(lat, 99):.0f} us   (capture timestamp to tensor in hand)")
    print(f"inference           p50 {np.percentile(comp, 50) / 1e3:.2f} ms  p99 {np.percentile(comp, 99) / 1e3:.2f} ms  (conv net on the shared frame, 1 CPU thread)")
    print(f"end-to-end          p50 {np.percentile(lat + comp, 50) / 1e3:.2f} ms  p99 {np.percentile(lat + comp, 99) / 1e3:.2f} ms")
    if proof:
        seq, slot, ptr, same = proof
        print(f"zero-copy proof     first frame received: seq {seq} in pool slot {slot} (compare the camera's lines above);")
        print(f"                    torch tensor data_ptr {ptr} == the slot's address in this process: {same}")
    print(f"every frame zero-copy: {zero_copy};  slots in use: {held_open} while the topic was open (its depth), {tb.pool_stats()['used_slots']} after closing it")
    return 0 if frames > 0 and zero_copy else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--role", default="inference", choices=["inference", "camera"])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=30.0)
    args = ap.parse_args()
    os.environ.setdefault("TENSORBUS_NAMESPACE", "demo")
    if args.role == "camera":
        camera(args.seconds, args.rate)
        return 0
    return inference(args.seconds, args.rate)


if __name__ == "__main__":
    sys.exit(main())
