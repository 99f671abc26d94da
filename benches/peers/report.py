"""Markdown tables and matplotlib plots from one run's results (docs/benchmarks-peers.json).

    benches/peers/.venv/bin/python benches/peers/report.py   # re-render without re-running
"""

import json
import os
import re

from scenarios import SCENARIOS

SECTION = "## Side by side with peers (Python)"
LOWER_IS_BETTER = {"copy", "peer", "lat", "tick"}


def primary(scn, res):
    """The figure ratios are taken on (lower is better except throughput)."""
    if not res or not res.get("ok"):
        return None
    g = SCENARIOS[scn][0]
    if g in ("copy", "peer"):
        return res["median_ns"]
    if g == "lat":
        return res["p50_ns"]
    if g == "tp":
        return res["fps"]
    if g == "tick":
        return res.get("overhead_ns")
    return None


def reference(scn, row, peers):
    g = SCENARIOS[scn][0]
    if g == "copy":
        v = primary(scn, row.get("memcpy"))
        return ("memcpy", v) if v else (None, None)
    # a peer whose run ended in an error (e.g. pool exhausted mid-stream) is no reference
    cands = [(s, primary(scn, row.get(s))) for s in peers
             if primary(scn, row.get(s)) and "error" not in row.get(s, {})]
    if not cands:
        return None, None
    pick = min if g in LOWER_IS_BETTER else max
    return pick(cands, key=lambda c: c[1])


def _us(ns):
    return f"{ns / 1000:.3g} µs" if ns < 1e6 else f"{ns / 1e6:.3g} ms"


def cell(scn, res, ref):
    if res is None:
        return "—"
    if not res.get("ok"):
        return res["error"].replace("|", "/").replace("\n", " ")
    g = SCENARIOS[scn][0]
    v = primary(scn, res)
    if g in ("copy", "peer"):
        txt = _us(res["median_ns"])
        if "p99_ns" in res:
            txt += f" (p99 {_us(res['p99_ns'])})"
        if "zero_copy" in res:
            txt += f"; zero-copy: {res['zero_copy']}"
    elif g == "lat":
        txt = f"p50 {_us(res['p50_ns'])}, p99 {_us(res['p99_ns'])}"
    elif g == "tp":
        txt = f"{res['fps']:.0f} fps, {res['gbps']:.2f} GB/s (sent {res['sent']}, got {res['received']})"
        if "error" in res:
            txt += f"; {res['error']}"
    elif g == "survive":
        ok = res.get("survived")
        txt = (f"{'yes' if ok else 'NO'}: {res['received']}/{res['target']} in "
               f"{res['seconds']:.1f} s") + (f"; {res['error']}" if "error" in res else "")
        return txt.replace("|", "/")
    elif g == "tick":
        txt = f"{res['rate_hz'] / 1000:.1f} kHz, {_us(res['overhead_ns'])}/tick ({res['note']})"
    if ref and v:
        r = v / ref if g in LOWER_IS_BETTER else ref / v
        txt += f" **{r:.2f}x**"
    return txt.replace("|", "/")


def table(data):
    res, peers = data["results"], data["peers"]
    systems = []
    for row in res.values():
        for s in row:
            if s not in systems:
                systems.append(s)
    out = ["| scenario | reference | " + " | ".join(systems) + " |",
           "|---|---|" + "---|" * len(systems)]
    for scn, row in res.items():
        ref_name, ref_v = reference(scn, row, peers)
        refcell = ref_name or "(none)"
        cells = [cell(scn, row.get(s), ref_v) for s in systems]
        out.append(f"| {SCENARIOS[scn][1]} | {refcell} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def section(data):
    m = data["meta"]
    vers = "; ".join(v for v in m["versions"].values())
    busy = m.get("busy_start", []) + m.get("busy_end", [])
    load = (f"load average {m['load_start'][0]:.2f} at the start, {m['load_end'][0]:.2f} at the "
            f"end, on {m['cores']} cores")
    noisy = max(m["load_start"][0], m["load_end"][0]) > 0.5 * (m["cores"] or 1)
    lines = [
        SECTION, "",
        f"Command: `{m['command']}` (scenarios and parameters: `benches/peers/README.md`). "
        f"Machine: {m['cores']} cores, \"{m['cpu']}\", Linux {m['kernel']}, Python {m['python']}; "
        f"{m['date']}; {m['seconds']:.0f} s. Versions: {vers}.", "",
        f"**Load:** {load}." + (" Other work was running on the same cores during this run, so "
                                "every figure (above all the cross-process and spinning ones) is "
                                "noisy; re-run on an idle machine for numbers to quote."
                                if noisy else "")
        + (f" Busy processes seen: {', '.join(sorted(set(busy)))[:400]}." if busy else ""), "",
        "Each cell: median over repeats (p99 of single calls where it is a latency), then in bold "
        "the ratio to the row's reference measured in the same run (memcpy for copies, the best "
        "peer otherwise; >1 means slower than the reference, for throughput too). A system that "
        "lacks a feature says \"not offered\"; tensorbus APIs still being built say \"not "
        "available\" with the exception, and a re-run picks them up. "
        + ("This was a `--quick` run (fewer repeats and frames). " if m.get("quick") else ""), "",
        table(data), "",
        "![copy-in and loaned publish](peers-publish.png)",
        "![one-process message and view costs](peers-small.png)",
        "![cross-process one-way latency](peers-latency.png)",
        "![sustained throughput](peers-throughput.png)", "",
    ]
    return "\n".join(lines)


def write_section(md_path, text, section=SECTION):
    """Replace the `section` heading's section of `md_path` with `text` (appended if absent)."""
    old = open(md_path).read() if os.path.exists(md_path) else "# Benchmarks\n"
    text = text.rstrip("\n") + "\n\n"  # a blank line before the next heading
    pat = re.compile(r"^" + re.escape(section) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    new = pat.sub(lambda _: text, old) if pat.search(old) else old.rstrip("\n") + "\n\n" + text
    with open(md_path, "w") as f:
        f.write(new)


def plots(data, docs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = data["results"]

    def bars(fname, scns, key, ylabel, log=True, title=""):
        scns = [s for s in scns if s in res]
        if not scns:
            return
        systems = [s for s in data["meta"]["versions"] if any(
            res[c].get(s, {}).get("ok") for c in scns)]
        fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(scns)), 4))
        w = 0.8 / max(1, len(systems))
        for i, s in enumerate(systems):
            ys = [key(res[c].get(s)) or 0 for c in scns]
            ax.bar([j + i * w for j in range(len(scns))], ys, w, label=s)
        ax.set_xticks([j + 0.4 - w / 2 for j in range(len(scns))])
        ax.set_xticklabels([c.replace("_", "\n") for c in scns])
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        ax.set_title(f"{title}  (load {data['meta']['load_start'][0]:.1f} on "
                     f"{data['meta']['cores']} cores)", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(docs, fname), dpi=110)
        plt.close(fig)

    def ok(f):
        return lambda r: f(r) if r and r.get("ok") else None

    bars("peers-publish.png", ["copy_480p", "copy_1080p", "loan_480p", "loan_1080p"],
         ok(lambda r: r["median_ns"] / 1000), "µs per publish (median)", title="publish")
    bars("peers-small.png", ["numpy_480p", "numpy_1080p", "torch_480p", "torch_1080p", "typed",
                             "dict3"], ok(lambda r: r["median_ns"] / 1000), "µs (median)",
         title="views and small messages, one process")
    bars("peers-latency.png", ["xp_small", "xp_480p"], ok(lambda r: r["p50_ns"] / 1000),
         "µs one-way (p50)", title="cross-process one-way latency")
    bars("peers-throughput.png", ["tp_480p", "tp_1080p"], ok(lambda r: r["fps"]),
         "frames/s delivered", log=False, title="source -> sink throughput")


def write_report(data, docs):
    write_section(os.path.join(docs, "benchmarks.md"), section(data))
    plots(data, docs)


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    docs = os.path.join(os.path.dirname(os.path.dirname(here)), "docs")
    with open(os.path.join(docs, "benchmarks-peers.json")) as f:
        write_report(json.load(f), docs)
