"""CUDA benchmarks (issue 5): host→device bandwidth and to_cuda latency, with references.

    python benches/python/bench_cuda.py [--markdown]

Skips cleanly (exit 0, one line) without a CUDA driver/device or without torch.cuda.

Scenarios, each at 480x640x3 and 1080x1920x3 uint8 (median of repeated timings):
- H2D GB/s into a preallocated torch CUDA tensor (`dst.copy_(src, non_blocking=True)`, timed with
  CUDA events over a batch) from
  - a pinned pool slot (`tb.cuda.pin(img)`; `img.to_torch()` is the source),
  - a pageable NumPy array (`torch.from_numpy`),
  - a torch pinned tensor (`pin_memory=True`), the reference; target: pinned pool ≥ 90% of it;
- `img.to_cuda()` H2D GB/s through the device pool (copy + event, synchronized), pinned;
- `to_cuda` latency: the enqueue-only call (claim, async copy, event) and call + synchronize.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

if "TENSORBUS_SHM_DIR" not in os.environ:
    os.environ["TENSORBUS_SHM_DIR"] = tempfile.mkdtemp(prefix="tensorbus-bench-", dir="/dev/shm")
os.environ.setdefault("TENSORBUS_NAMESPACE", "bench")

import tensorbus as tb  # noqa: E402

SIZES = [("480p", (480, 640, 3)), ("1080p", (1080, 1920, 3))]


def gbps_torch(torch, dst, src, iters, repeat=9):
    """Median GB/s of `dst.copy_(src, non_blocking=True)` timed with CUDA events."""
    nbytes = src.numel() * src.element_size()
    dst.copy_(src, non_blocking=True)
    torch.cuda.synchronize()
    rates = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            dst.copy_(src, non_blocking=True)
        end.record()
        end.synchronize()
        rates.append(nbytes * iters / (start.elapsed_time(end) / 1e3) / 1e9)
    return statistics.median(rates)


def to_cuda_stats(img, iters, repeat=9):
    """(GB/s of to_cuda+synchronize, median enqueue seconds, median call+sync seconds)."""
    img.to_cuda().synchronize()
    enqueue, total = [], []
    for _ in range(repeat):
        for _ in range(iters):
            t0 = time.perf_counter()
            d = img.to_cuda()
            t1 = time.perf_counter()
            d.synchronize()
            t2 = time.perf_counter()
            enqueue.append(t1 - t0)
            total.append(t2 - t0)
            del d
    med_total = statistics.median(total)
    return img.nbytes / med_total / 1e9, statistics.median(enqueue), med_total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = ap.parse_args()
    if not tb.cuda.is_available():
        print("bench_cuda: skipped: no CUDA driver or device on this machine")
        return 0
    try:
        import torch
    except ImportError:
        print("bench_cuda: skipped: torch is not installed")
        return 0
    if not torch.cuda.is_available():
        print("bench_cuda: skipped: torch has no CUDA support here")
        return 0

    rows = []
    for name, shape in SIZES:
        iters = 200 if name == "480p" else 50
        frame = np.random.randint(0, 255, shape, dtype=np.uint8)
        img = tb.Image.from_numpy(frame)
        img.freeze()
        tb.cuda.pin(img)
        assert tb.cuda.is_pinned(img)
        src_pool = img.to_torch()
        assert src_pool.is_pinned()
        src_page = torch.from_numpy(frame.copy())
        src_pin = torch.from_numpy(frame).pin_memory()
        dst = torch.empty(shape, dtype=torch.uint8, device="cuda")
        ref = gbps_torch(torch, dst, src_pin, iters)
        pool = gbps_torch(torch, dst, src_pool, iters)
        page = gbps_torch(torch, dst, src_page, iters)
        staged, enq, tot = to_cuda_stats(img, iters // 5)
        rows += [
            (f"H2D {name} pinned pool slot", f"{pool:.1f} GB/s", f"{pool / ref:.0%} of torch pinned", "≥ 90%"),
            (f"H2D {name} pageable NumPy", f"{page:.1f} GB/s", f"{page / ref:.0%} of torch pinned", ""),
            (f"H2D {name} torch pinned tensor", f"{ref:.1f} GB/s", "reference", ""),
            (f"to_cuda {name} (pinned, + sync)", f"{staged:.1f} GB/s", f"{staged / ref:.0%} of torch pinned", ""),
            (f"to_cuda {name} enqueue", f"{enq * 1e6:.1f} µs", "claim + async copy + event", ""),
            (f"to_cuda {name} call + synchronize", f"{tot * 1e6:.1f} µs", "", ""),
        ]
        del src_pool, img

    print(f"# tensorbus CUDA benchmarks — {tb.cuda.device_name(0)}, {platform.node()}, Python {platform.python_version()},"
          f" torch {torch.__version__}, {time.strftime('%Y-%m-%d')}")
    if args.markdown:
        print("| scenario | result | relative | target |")
        print("| --- | ---: | --- | --- |")
    for label, result, rel, target in rows:
        if args.markdown:
            print(f"| {label} | {result} | {rel} | {target} |")
        else:
            print(f"{label:38s} {result:>12s}   {rel:28s} {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
