"""Side by side with peers (Python): runs every (system, scenario) cell, writes the report.

    benches/peers/.venv/bin/python benches/peers/run.py [--quick] [--only SCN,...] [--systems ...]

`make bench-peers` creates the venv (setup.sh) and runs this. Each cell runs in its own
interpreter (harness.py); results go to docs/benchmarks-peers.json, the section
"## Side by side with peers (Python)" of docs/benchmarks.md and docs/peers-*.png.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DOCS = os.path.join(ROOT, "docs")
sys.path.insert(0, HERE)
from report import write_report  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

SYSTEMS = ["tensorbus", "tensorbus_blocking", "horus", "iceoryx2", "pythusa", "shm", "memcpy"]
PEERS = {"horus", "iceoryx2", "pythusa", "shm"}  # "best peer" is picked among these
ONLY_XPROC = {"tensorbus_blocking"}


def busy_processes():
    """Other processes using CPU right now (compilers, tests): the load caveat, named."""
    try:
        out = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu"], capture_output=True,
                             text=True, timeout=5).stdout.splitlines()[1:8]
        return [ln.strip() for ln in out if ln.strip() and float(ln.split()[0]) >= 20.0]
    except Exception:
        return []


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_cell(system, scn, env, timeout):
    t = time.monotonic()
    load = os.getloadavg()[0]
    # a fresh HORUS namespace per cell: HORUS keeps the tensor-pool slots of a dead process
    # (its 1 GiB default pool), so one failed cell would otherwise starve the next ones
    ns = f"tbpeers{os.getpid()}_{system}_{scn}"
    env = dict(env, HORUS_NAMESPACE=ns)
    try:
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "harness.py"), "cell", system,
                              scn], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env, cwd=HERE, start_new_session=True)
        try:
            p.stdout_, p.stderr_ = p.communicate(timeout=timeout)
        finally:
            try:  # the cell and its sink child, whatever state they are in
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.stdout, p.stderr = p.stdout_, p.stderr_
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if lines:
            res = json.loads(lines[-1])
        else:
            tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
            res = {"ok": False, "error": f"crashed (rc={p.returncode}): {' | '.join(tail)[-300:]}"}
    except subprocess.TimeoutExpired:
        res = {"ok": False, "error": f"timed out after {timeout} s"}
    finally:
        shutil.rmtree(f"/dev/shm/horus_{ns}", ignore_errors=True)
    res.pop("trace", None)
    res["load1"] = load
    res["wall_s"] = time.monotonic() - t
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2-minute smoke: fewer repeats and frames")
    ap.add_argument("--only", help="comma-separated scenario ids")
    ap.add_argument("--systems", help="comma-separated systems")
    ap.add_argument("--no-docs", action="store_true", help="print only; do not touch docs/")
    ap.add_argument("--timeout", type=int, default=150, help="seconds per cell")
    args = ap.parse_args()
    scns = args.only.split(",") if args.only else list(SCENARIOS)
    systems = args.systems.split(",") if args.systems else SYSTEMS

    shm_dir = tempfile.mkdtemp(prefix="tensorbus-peers-", dir="/dev/shm")
    env = dict(os.environ, TENSORBUS_SHM_DIR=shm_dir, TENSORBUS_NAMESPACE="peers",
               PEERS_QUICK="1" if args.quick else "0", PYTHONWARNINGS="ignore")
    versions = {}
    for s in systems:
        p = subprocess.run([sys.executable, "-c", f"import sys_{s} as m; print(m.version())"],
                           capture_output=True, text=True, cwd=HERE, env=env)
        versions[s] = p.stdout.strip() or f"import failed: {p.stderr.strip().splitlines()[-1:]}"
    meta = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "cpu": cpu_model(),
            "cores": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release(), "quick": args.quick,
            "command": "make bench-peers" + (" ARGS=--quick" if args.quick else ""),
            "load_start": os.getloadavg(), "busy_start": busy_processes(), "versions": versions}
    print(f"# peers run {meta['date']}  load {meta['load_start'][0]:.2f} on {meta['cores']} cores")
    for b in meta["busy_start"]:
        print(f"#   busy: {b}")

    results = {}
    t0 = time.monotonic()
    for scn in scns:
        for s in systems:
            if s in ONLY_XPROC and not scn.startswith(("xp_", "tp_", "survive")):
                continue
            res = run_cell(s, scn, env, args.timeout)
            results.setdefault(scn, {})[s] = res
            fig = _short(res)
            print(f"{scn:14s} {s:18s} {fig}  [load {res['load1']:.1f}, {res['wall_s']:.1f} s]",
                  flush=True)
    meta["load_end"] = os.getloadavg()
    meta["busy_end"] = busy_processes()
    meta["seconds"] = time.monotonic() - t0
    shutil.rmtree(shm_dir, ignore_errors=True)

    data = {"meta": meta, "results": results, "peers": sorted(PEERS)}
    if not args.no_docs:
        with open(os.path.join(DOCS, "benchmarks-peers.json"), "w") as f:
            json.dump(data, f, indent=1)
        write_report(data, DOCS)
        print("wrote docs/benchmarks.md (section), docs/benchmarks-peers.json, docs/peers-*.png")
    print(f"# done in {meta['seconds']:.0f} s; load {meta['load_end'][0]:.2f} at the end")


def _short(res):
    if not res.get("ok"):
        return res["error"][:110]
    for k in ("median_ns", "p50_ns"):
        if k in res:
            return f"{res[k] / 1000:.2f} us" + (f" p99 {res['p99_ns'] / 1000:.2f} us"
                                                 if "p99_ns" in res else "")
    if "fps" in res:
        return (f"{res['fps']:.0f} fps {res['gbps']:.2f} GB/s sent {res['sent']} "
                f"got {res['received']}" + (f" ERR {res['error']}" if "error" in res else ""))
    if "rate_hz" in res:
        return f"{res['rate_hz']:.0f} Hz, {res['overhead_ns'] / 1000:.2f} us/tick"
    return str(res)[:110]


if __name__ == "__main__":
    main()
