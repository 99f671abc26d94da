"""Recording and replay figures (issue 20): a 30 Hz 1080p camera plus a 1 kHz CmdVel topic
recorded by `tensorbus record` for N seconds, with the disk's own sequential write (dd) as the
reference, and replay / reading throughput against the official `mcap` reader.

    python benches/python/bench_record.py [--markdown] [--seconds 60 | --quick] [--dir DIR]
                                          [--compressions zstd,lz4,none] [--contents pattern,noise]
                                          [--no-max] [--keep]

Processes (each a fresh interpreter of this script, `--peer ROLE`, or the CLI):

- `camera`: a `tb.Node(rate=30)` in a `tb.Scheduler` loans `tb.Image(1080, 1920, "rgb8")`, writes
  a 16-row moving bar and the frame counter into it and sends it on `camera.rgb` (depth 4, latest).
  Every slot of the 8 MiB class is filled once with the content's base frame before the run, so a
  tick rewrites ~100 KB, not the frame. Contents: `pattern` (smooth gradients: very compressible,
  like a synthetic scene) and `noise` (uniform random bytes: incompressible, the worst case for
  the compressors). A real camera's frames compress somewhere in between; zstd's ratio (and CPU)
  depend on it.
- `cmdvel`: a `tb.Node(rate=1000)` sending `tb.CmdVel` on `cmd_vel` (16 B inline); the achieved
  rate is measured and printed.
- the recorder: `target/release/tensorbus record -o FILE camera.rgb cmd_vel --compression X
  --duration S+3` as its own process; its CPU is the `wait4` rusage (user + system) over its whole
  life, divided by the publishing window. The publishers start when it has subscribed.
- `drain`: one subscriber on `camera.rgb` that receives every frame a replay publishes (reading
  one byte of it).

Per compression: frames published / recorded / missed (the CLI's per-topic report), CmdVel
messages, recorder CPU (% of one core), file size, bytes per frame, write rate (file bytes over
the publishing window) and the fsync tail (the dirty pages still to write when the recorder has
exited; the effective on-disk rate counts it). The reference is `dd if=/dev/zero bs=8M
conv=fdatasync` onto the same filesystem, run before and after the recordings. A `max` row
offers the recorder a 240 Hz camera (no compression) to find what it sustains.

Replay (the `pattern` recordings): `tb.replay(path, rate=0)` into the namespace with the `drain`
subscriber, versus reading the same file with the `mcap` package alone (`make_reader(f)
.iter_messages()`, one byte of each message read), with `tb.read_mcap` (each frame back in a
pool slot), and with a plain sequential `read()` of the file (the floor). All from the page
cache (the plain read runs first and last, and shows it).

Disk: a raw 1080p30 recording takes ~187 MB/s (11 GB for 60 s); the script checks `df` first,
shortens the run if the space is not there (and says so), and deletes each file after measuring.
"""

import argparse
import os
import platform
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

OWN_SHM = "TENSORBUS_SHM_DIR" not in os.environ and "--peer" not in sys.argv
if OWN_SHM:
    os.environ["TENSORBUS_SHM_DIR"] = tempfile.mkdtemp(prefix="tensorbus-record-", dir="/dev/shm")
os.environ.setdefault("TENSORBUS_NAMESPACE", "record")
POOL_CLASSES = "64Kx64,8Mx16"  # the 8 MiB class holds a 1080p rgb8 frame (6.2 MB)
os.environ.setdefault("TENSORBUS_POOL_CLASSES", POOL_CLASSES)

import numpy as np  # noqa: E402
import tensorbus as tb  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "target", "release", "tensorbus")
H, W, BAR = 1080, 1920, 16
FRAME_BYTES = H * W * 3
CAMERA, CMDVEL = "camera.rgb", "cmd_vel"
SLOTS_8M = int(re.search(r"8Mx(\d+)", os.environ["TENSORBUS_POOL_CLASSES"]).group(1))
MAX_RATE = 240.0  # the camera rate of the saturation row (1.5 GB/s offered)


# ---------------------------------------------------------------- peers

def ready_and_wait_go():
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(0)


def base_frame(content):
    if content == "noise":
        return np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([(x // 8) % 256, (y // 4) % 256, ((x + y) // 16) % 256], axis=-1).astype(np.uint8)


def peer_camera(seconds, rate, content):
    cam = tb.Topic(CAMERA, tb.Image)
    base = base_frame(content)
    # Fill every slot of the class once, so a tick only rewrites the bar and the counter.
    held = [tb.Image(H, W, "rgb8") for _ in range(SLOTS_8M)]
    for img in held:
        np.copyto(img.to_numpy(), base)
    bar_at = {img.slot[:2]: 0 for img in held}
    del held, img
    stamps = []

    def tick():
        i = len(stamps)
        img = tb.Image(H, W, "rgb8")
        a = img.to_numpy()
        key = img.slot[:2]
        if key not in bar_at:  # a slot not seen at startup (should not happen)
            np.copyto(a, base)
        else:
            r = bar_at[key]
            a[r:r + BAR] = base[r:r + BAR]
        r = (i * 8) % (H - BAR)
        a[r:r + BAR] = 255
        a[0, :8, 0] = np.frombuffer(struct.pack("<Q", i), np.uint8)
        bar_at[key] = r
        del a
        img.frame_id, img.timestamp_ns = "cam0", time.time_ns()
        cam.send(img)
        stamps.append(time.monotonic())

    sched = tb.Scheduler(spin=0).add(tb.Node(name="camera", rate=rate, tick=tick))
    ready_and_wait_go()
    cpu = time.process_time()
    sched.run(duration=seconds)
    cpu = time.process_time() - cpu
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    print(f"sent {len(stamps)} {span:.6f} {cpu:.4f}", flush=True)


def peer_cmdvel(seconds, depth):
    cmd = tb.Topic(CMDVEL, tb.CmdVel, depth=depth)
    stamps = []

    def tick():
        cmd.send(tb.CmdVel(linear=len(stamps) * 1e-3, angular=0.5))
        stamps.append(time.monotonic())

    sched = tb.Scheduler(spin=0).add(tb.Node(name="cmdvel", rate=1000.0, tick=tick))
    ready_and_wait_go()
    cpu = time.process_time()
    sched.run(duration=seconds)
    cpu = time.process_time() - cpu
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    gaps = np.diff(np.array(stamps)) * 1e3 if len(stamps) > 2 else np.zeros(1)
    print(f"sent {len(stamps)} {span:.6f} {cpu:.4f} {np.percentile(gaps, 50):.4f} {np.percentile(gaps, 99):.4f}", flush=True)


def peer_drain():
    cam = tb.Topic(CAMERA, tb.Image)
    cam.recv()  # the subscriber exists before the replay starts
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    n, touched = 0, 0
    while not stop.is_set():
        img = cam.recv(timeout=0.1)
        if img is None:
            continue
        touched += int(img.to_numpy()[H - 1, W - 1, 2])
        n += 1
    print(f"drained {n} {cam.misses}", flush=True)


# ---------------------------------------------------------------- driver

class Peer:
    """`script --peer ROLE ...`; `go()` starts its run, `result()` its last line. Its stderr (the
    scheduler's deadline-miss log lines) goes to a file, shown only if it fails."""

    def __init__(self, *args, env=None):
        self.err = tempfile.TemporaryFile("w+")
        self.p = subprocess.Popen([sys.executable, __file__, "--peer", *args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.err, text=True, env=env)
        line = self.p.stdout.readline()
        if line.strip() != "ready":
            self.p.kill()
            raise RuntimeError(f"peer {args} ended before 'ready' (exit {self.p.wait()}): {line!r} {self.stderr()}")

    def stderr(self):
        self.err.seek(0)
        return self.err.read()[-2000:]

    def go(self, word="go"):
        self.p.stdin.write(word + "\n")
        self.p.stdin.flush()

    def result(self):
        out = self.p.stdout.read().split()
        _, status, _ = os.wait4(self.p.pid, 0)
        self.p.returncode = os.waitstatus_to_exitcode(status)
        if self.p.returncode != 0:
            raise RuntimeError(f"peer exited {self.p.returncode}: {out[-8:]} {self.stderr()}")
        return out


def run_dd(directory, mib):
    path = os.path.join(directory, "dd.bin")
    t = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=8M", f"count={mib // 8}", "conv=fdatasync"],
                   check=True, capture_output=True)
    dt = time.perf_counter() - t
    os.unlink(path)
    return mib * (1 << 20) / dt


def fsync_time(path):
    t = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - t


RECORD_LINE = re.compile(r"^(\S+): (\d+) messages, (\d+) missed, (\d+) skipped")


def record_once(directory, compression, content, seconds, rate=30.0, cmd_depth=4):
    """One recording, in a fresh namespace (removed afterwards); the figures of its row and the
    file's path."""
    name = f"{content}-{compression}-{int(rate)}hz-{cmd_depth}"
    path = os.path.join(directory, name + ".mcap")
    env = dict(os.environ, TENSORBUS_NAMESPACE=name)
    cam = Peer("camera", str(seconds), str(rate), content, env=env)
    cmd = Peer("cmdvel", str(seconds), str(cmd_depth), env=env)
    rec = subprocess.Popen([CLI, "record", "-o", path, CAMERA, CMDVEL, "--compression", compression,
                            "--duration", str(seconds + 3)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    rec.stderr.readline()  # "recording into ..." once the recorder runs
    time.sleep(0.3)  # its first topic scan (at start) has subscribed both topics
    cam.go()
    cmd.go()
    _, n_cam, cam_span, cam_cpu = cam.result()
    _, n_cmd, cmd_span, cmd_cpu, gap50, gap99 = cmd.result()
    out = rec.stdout.read()
    _, status, ru = os.wait4(rec.pid, 0)
    rec.returncode = os.waitstatus_to_exitcode(status)
    if rec.returncode != 0:
        raise RuntimeError(f"tensorbus record exited {rec.returncode}: {out} {rec.stderr.read()}")
    topics = {m.group(1): (int(m.group(2)), int(m.group(3)), int(m.group(4)))
              for m in map(RECORD_LINE.match, out.splitlines()) if m}
    shutil.rmtree(os.path.join(os.environ["TENSORBUS_SHM_DIR"], name), ignore_errors=True)
    window = float(cam_span)
    size = os.path.getsize(path)
    sync = fsync_time(path)
    return path, {
        "compression": compression, "content": content, "rate": rate, "window": window, "cmd_depth": cmd_depth,
        "published": int(n_cam), "recorded": topics[CAMERA][0], "missed": topics[CAMERA][1],
        "cmd_published": int(n_cmd), "cmd_recorded": topics[CMDVEL][0], "cmd_missed": topics[CMDVEL][1],
        "cmd_rate": (int(n_cmd) - 1) / float(cmd_span), "cmd_gap50": float(gap50), "cmd_gap99": float(gap99),
        "cam_rate": (int(n_cam) - 1) / window,
        "rec_cpu": (ru.ru_utime + ru.ru_stime) / window, "cam_cpu": float(cam_cpu) / window, "cmd_cpu": float(cmd_cpu) / window,
        "size": size, "write_rate": size / window, "sync": sync, "disk_rate": size / (window + sync),
    }


def timed(fn):
    t = time.perf_counter()
    n = fn()
    return n, time.perf_counter() - t


def plain_read(path):
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(8 << 20)
        n = 0
        while (k := f.readinto(buf)):
            n += k
    return n


def mcap_read(path):
    from mcap.reader import make_reader

    frames, touched = 0, 0
    with open(path, "rb") as f:
        for _, channel, message in make_reader(f).iter_messages():
            touched += message.data[-1]
            frames += channel.topic == CAMERA
    return frames


def tb_read(path):
    frames, touched = 0, 0
    for topic, value in tb.read_mcap(path):
        if topic == CAMERA:
            touched += int(value.to_numpy()[H - 1, W - 1, 2])
            frames += 1
    return frames


def replay_measure(path):
    """`tb.replay` into a fresh namespace whose one subscriber is the `drain` peer."""
    name = "replay-" + os.path.basename(path).removesuffix(".mcap")
    tb.use_namespace(name)
    drain = Peer("drain", env=dict(os.environ, TENSORBUS_NAMESPACE=name))
    r, dt = timed(lambda: tb.replay(path, rate=0.0))
    time.sleep(0.3)
    drain.go("stop")
    _, n, misses = drain.result()
    return r["topics"].get(CAMERA, 0), dt, int(n), int(misses)


def replay_rows(path):
    size = os.path.getsize(path)
    rows = []
    _, t0 = timed(lambda: plain_read(path))
    rows.append(("plain `read()` of the file, 8 MiB blocks (first)", None, t0, size))
    frames, t = timed(lambda: mcap_read(path))
    rows.append(("`mcap` reader: `make_reader(f).iter_messages()`, one byte of each message", frames, t, size))
    frames, t = timed(lambda: tb_read(path))
    rows.append(("`tb.read_mcap(path)` (each frame into a pool slot)", frames, t, size))
    frames, t, drained, misses = replay_measure(path)
    rows.append((f"`tb.replay(path, rate=0)`, one subscriber (received {drained}, missed {misses})", frames, t, size))
    _, t1 = timed(lambda: plain_read(path))
    rows.append(("plain `read()` of the file (last)", None, t1, size))
    return rows


def machine(directory):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    fs = subprocess.run(["findmnt", "-no", "SOURCE,FSTYPE", "-T", directory], capture_output=True, text=True).stdout.split()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Linux {platform.release()}, Python {platform.python_version()}; "
            f"recordings in {directory} on {' '.join(fs) or '?'}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--quick", action="store_true", help="10 s recordings")
    ap.add_argument("--dir", default=None, help="where the recordings go (default: target/ of the repo; not a tmpfs)")
    ap.add_argument("--compressions", default="zstd,lz4,none")
    ap.add_argument("--contents", default="pattern,noise")
    ap.add_argument("--no-max", action="store_true", help="skip the 240 Hz saturation row")
    ap.add_argument("--deep-cmd", type=int, default=64, metavar="DEPTH",
                    help="one more pattern/zstd row with cmd_vel at this depth (0: none)")
    ap.add_argument("--keep", action="store_true", help="keep the recordings")
    ap.add_argument("--dd-mib", type=int, default=2048)
    ap.add_argument("--peer", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        role, *rest = args.peer
        {"camera": lambda: peer_camera(float(rest[0]), float(rest[1]), rest[2]),
         "cmdvel": lambda: peer_cmdvel(float(rest[0]), int(rest[1])), "drain": peer_drain}[role]()
        return
    seconds = 10.0 if args.quick else args.seconds
    if not os.path.exists(CLI):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "tensorbus-cli"], cwd=ROOT, check=True)
    os.makedirs(os.path.join(ROOT, "target"), exist_ok=True)
    directory = tempfile.mkdtemp(prefix="bench-record-", dir=args.dir or os.path.join(ROOT, "target"))
    notes = []
    # Space: the largest file (raw, or the 240 Hz row) plus dd's, one at a time.
    free = shutil.disk_usage(directory).free
    max_s = 0.0 if args.no_max else min(seconds, 20.0)
    need = lambda s: max(FRAME_BYTES * 30 * s, FRAME_BYTES * MAX_RATE * max_s) * 1.1 + args.dd_mib * (1 << 20)  # noqa: E731
    if need(seconds) > free * 0.9:
        short = max(5.0, (free * 0.9 - args.dd_mib * (1 << 20)) / (FRAME_BYTES * 30 * 1.1))
        notes.append(f"only {free / 1e9:.1f} GB free in {directory}: {short:.0f} s recordings instead of {seconds:.0f} s")
        seconds, max_s = short, min(max_s, short / 8)
    print(f"# recording benchmark: {machine(directory)}; {seconds:.0f} s per recording, "
          f"{free / 1e9:.0f} GB free; pool classes {os.environ['TENSORBUS_POOL_CLASSES']}", flush=True)
    for n in notes:
        print(f"# {n}", flush=True)
    rows, replays = [], {}
    try:
        dd = [run_dd(directory, args.dd_mib) for _ in range(2)]
        for content in args.contents.split(","):
            for comp in args.compressions.split(","):
                if content != "pattern" and comp == "none":
                    continue  # the same bytes as pattern/none
                path, row = record_once(directory, comp, content, seconds)
                rows.append(row)
                print(f"# {content}/{comp}: {row['recorded']}/{row['published']} frames, {row['rec_cpu'] * 100:.0f} % CPU, "
                      f"{row['size'] / 1e9:.2f} GB", file=sys.stderr, flush=True)
                if content == "pattern":
                    replays[comp] = replay_rows(path)
                if not args.keep:
                    os.unlink(path)
        if args.deep_cmd:
            path, row = record_once(directory, "zstd", "pattern", seconds, cmd_depth=args.deep_cmd)
            rows.append(row)
            if not args.keep:
                os.unlink(path)
        if max_s:
            path, row = record_once(directory, "none", "pattern", max_s, rate=MAX_RATE)
            rows.append(row)
            if not args.keep:
                os.unlink(path)
        dd += [run_dd(directory, args.dd_mib) for _ in range(2)]
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
        if OWN_SHM:
            shutil.rmtree(os.environ["TENSORBUS_SHM_DIR"], ignore_errors=True)
    report(rows, replays, dd, args.markdown)


def report(rows, replays, dd, markdown):
    ref = statistics.median(dd)
    print(f"\nReference: dd if=/dev/zero bs=8M conv=fdatasync onto the same filesystem, twice before and twice after: "
          f"{', '.join(f'{d / 1e6:.0f}' for d in dd)} MB/s (median {ref / 1e6:.0f} MB/s; ratios against it)\n")
    head = ["content", "compression", "camera Hz", "cmd_vel depth", "frames published", "recorded", "missed", "CmdVel sent (Hz)",
            "CmdVel recorded / missed", "recorder CPU", "file", "bytes/frame", "ratio", "write rate", "vs dd",
            "fsync tail", "on disk vs dd"]
    cells = []
    for r in rows:
        per = r["size"] / max(r["recorded"], 1)
        cells.append([r["content"], r["compression"], f"{r['cam_rate']:.1f}", str(r["cmd_depth"]), str(r["published"]), str(r["recorded"]),
                      str(r["missed"]), f"{r['cmd_published']} ({r['cmd_rate']:.0f})", f"{r['cmd_recorded']} / {r['cmd_missed']}",
                      f"{r['rec_cpu'] * 100:.1f} %", f"{r['size'] / 1e9:.2f} GB", f"{per / 1e6:.2f} MB",
                      f"{FRAME_BYTES / per:.2f}×", f"{r['write_rate'] / 1e6:.0f} MB/s", f"{r['write_rate'] / ref:.2f}×",
                      f"{r['sync']:.2f} s", f"{r['disk_rate'] / ref:.2f}×"])
    table(head, cells, markdown)
    print()
    for r in rows:
        print(f"{r['content']}/{r['compression']} @ {r['rate']:.0f} Hz over {r['window']:.1f} s: camera process "
              f"{r['cam_cpu'] * 100:.1f} % CPU, CmdVel process {r['cmd_cpu'] * 100:.1f} % (period p50 {r['cmd_gap50']:.3f} ms, "
              f"p99 {r['cmd_gap99']:.3f} ms)")
    for comp, rr in replays.items():
        mcap_t = next(t for label, _, t, _ in rr if label.startswith("`mcap`"))
        print(f"\nReplay / reading, the pattern/{comp} recording ({rr[0][3] / 1e9:.2f} GB):\n")
        cells = []
        for label, frames, t, size in rr:
            fps = f"{frames / t:.0f}" if frames is not None else ""
            cells.append([label, f"{t:.2f} s", fps, f"{frames * FRAME_BYTES / t / 1e9:.2f}" if frames else "",
                          f"{size / t / 1e9:.2f}", f"{t / mcap_t:.2f}×"])
        table(["reader", "time", "frames/s", "frame GB/s", "file GB/s", "time vs `mcap` reader"], cells, markdown)


def table(head, cells, markdown):
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("| " + " | ".join("---" if i < 2 else "---:" for i in range(len(head))) + " |")
        for c in cells:
            print("| " + " | ".join(c) + " |")
    else:
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for c in cells:
            print("  ".join(v.ljust(w) for v, w in zip(c, widths)))


if __name__ == "__main__":
    main()
