"""The one-process rows again, interleaved: every system's op for a scenario lives in one process
and the systems take turns, batch by batch, so drift of a noisy machine (the table's cells run
one after another, minutes apart) hits all of them alike.

    benches/peers/.venv/bin/python benches/peers/interleaved.py [--rounds 60] [--only copy_480p,typed]
        [--systems tensorbus,iceoryx2,horus,memcpy] [--docs]

`make bench-peers` runs it after `run.py`; with `--docs` it replaces the section
"## Side by side with peers, interleaved (Python)" of docs/benchmarks.md.

For each scenario and round, each system runs one batch (after a warm-up); the figure per
system is the median over rounds of its per-call time, and "vs" is the median over rounds of
tensorbus's time divided by the system's time in the same round (< 1: tensorbus faster). A system
that does not offer the scenario, or fails to set it up, is left out of that row with the reason.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TENSORBUS_NAMESPACE", f"peers-interleaved-{os.getpid()}")

from harness import SHAPES, adapter  # noqa: E402
from report import write_section  # noqa: E402

SECTION = "## Side by side with peers, interleaved (Python)"
DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "benchmarks.md")

# scenario -> (adapter function, takes a shape, calls per batch)
ROWS = {
    "copy_480p": ("publish_copy", True, 50),
    "copy_1080p": ("publish_copy", True, 10),
    "loan_480p": ("publish_loan", True, 2000),
    "loan_1080p": ("publish_loan", True, 2000),
    "typed": ("typed_sendrecv", False, 2000),
}


def build(system, scn):
    """The op for `scn` on `system`, or the reason there is none."""
    fn_name, shaped, _ = ROWS[scn]
    try:
        fn = getattr(adapter(system), fn_name, None)
        if fn is None:
            return None, "not offered"
        op = fn(SHAPES[scn.rsplit("_", 1)[1]]) if shaped else fn()
        for _ in range(20):
            op()  # warm-up, and a failing op fails here
        return op, None
    except Exception as e:  # noqa: BLE001 - a peer's failure is a row note, not a crash
        return None, f"{type(e).__name__}: {str(e)[:80]}"


def run(scn, systems, rounds):
    ops, notes = {}, {}
    for s in systems:
        op, why = build(s, scn)
        if op is None:
            notes[s] = why
        else:
            ops[s] = op
    n = ROWS[scn][2]
    times = {s: [] for s in ops}
    for _ in range(rounds):
        for s, op in list(ops.items()):
            t0 = time.perf_counter_ns()
            try:
                for _ in range(n):
                    op()
            except Exception as e:  # noqa: BLE001 - e.g. a peer's pool running out mid-run
                notes[s] = f"failed after {len(times[s])} rounds: {type(e).__name__}: {str(e)[:80]}"
                del ops[s], times[s]
                continue
            times[s].append((time.perf_counter_ns() - t0) / n)
    med = {s: statistics.median(v) for s, v in times.items()}
    vs = {}
    if "tensorbus" in times:
        for s in times:
            if s != "tensorbus":
                vs[s] = statistics.median(a / b for a, b in zip(times["tensorbus"], times[s]))
    return med, vs, notes


def fmt_ns(ns):
    return f"{ns / 1000:.3g} µs"


def markdown(results, systems, rounds, started, load0, load1, seconds):
    head = [
        SECTION, "",
        "Command: `make bench-peers` (after the table above: `benches/peers/interleaved.py --docs`, "
        f"{rounds} rounds). {started} UTC, {seconds:.0f} s, load average {load0:.2f} at the start and "
        f"{load1:.2f} at the end, on {os.cpu_count()} cores.", "",
        "The one-process rows of the table above measured again with every system's op in one "
        "process, taking turns batch by batch, so that the machine's drift between cells (they run "
        "minutes apart above) hits all systems alike. Each cell: the median per call over the rounds, "
        "then in bold tensorbus's time divided by that system's in the same round, the median of "
        "those ratios (< 1: tensorbus faster). A system missing from a row does not offer it or "
        "failed (the reason is given).", "",
        "| scenario | " + " | ".join(systems) + " |",
        "|---|" + "---|" * len(systems),
    ]
    rows = []
    for scn, (med, vs, notes) in results.items():
        cells = []
        for s in systems:
            if s in med:
                cells.append(fmt_ns(med[s]) + (f" **{vs[s]:.2f}**" if s in vs else ""))
            else:
                cells.append(notes.get(s, "—").replace("|", "/"))
        rows.append(f"| {scn} | " + " | ".join(cells) + " |")
    return "\n".join(head + rows) + "\n\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--only", default=",".join(ROWS))
    ap.add_argument("--systems", default="tensorbus,iceoryx2,horus,memcpy")
    ap.add_argument("--docs", action="store_true", help="write the section of docs/benchmarks.md")
    args = ap.parse_args()
    systems = args.systems.split(",")
    started, load0, t0 = time.strftime("%Y-%m-%d %H:%M", time.gmtime()), os.getloadavg()[0], time.monotonic()
    results = {}
    for scn in args.only.split(","):
        med, vs, notes = results[scn] = run(scn, systems, args.rounds)
        cells = [f"{s} {fmt_ns(t)}" + (f" (tensorbus / {s} {vs[s]:.2f})" if s in vs else "") for s, t in med.items()]
        cells += [f"{s}: {why}" for s, why in notes.items()]
        print(f"{scn:12s} " + " | ".join(cells), flush=True)
    if args.docs:
        text = markdown(results, systems, args.rounds, started, load0, os.getloadavg()[0], time.monotonic() - t0)
        write_section(DOCS, text, SECTION)
        print(f"wrote {SECTION!r} in docs/benchmarks.md")


if __name__ == "__main__":
    main()
