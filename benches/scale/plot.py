"""Plots of `cargo bench --bench scale -- --json FILE` (issue 15): one PNG per row.

Each figure has two panels: on the left the cost of every series against the growing dimension
(log-log, the median with its quartiles as error bars; points past a limit of the crate are
marked on the axis with the reason below the plot), on the right the bytes of the namespace's
segments at each point. Written as docs/scale-<row>.png.

    python benches/scale/plot.py docs/scale.json [--docs docs]
"""

import argparse
import json
import os
import textwrap


def integer_ticks(ax, xs):
    """The measured points as the x ticks of a log axis, written as plain numbers."""
    from matplotlib.ticker import NullLocator

    ax.set_xticks(xs)
    ax.set_xticklabels([f"{x:,}" for x in xs], fontsize=7)
    ax.xaxis.set_minor_locator(NullLocator())


def plot_row(row, meta, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, mem) = plt.subplots(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [2.2, 1]})
    ns = row["unit"] == "ns"
    scale = 1e3 if ns else 1e6  # µs, or M ops/s
    for s in row["series"]:
        if not s["x"]:
            continue
        med = [v / scale for v in s["med"]]
        lo = [(m - q / scale) for m, q in zip(med, s["q1"])]
        hi = [(q / scale - m) for m, q in zip(med, s["q3"])]
        slope = f" (slope {s['slope']:.2f}, last two {s['tail_slope']:.2f})" if s.get("slope") is not None else ""
        ax.errorbar(s["x"], med, yerr=[lo, hi], marker="o", ms=4, capsize=3, label=s["name"] + slope)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(row["x_label"])
    ax.set_ylabel("µs (median, quartiles)" if ns else "M ops/s (median, quartiles)")
    skipped = sorted({sk["x"] for sk in row["skipped"]})
    for x in skipped:
        ax.axvline(x, color="0.6", ls=":", lw=1)
        ax.annotate(
            "skipped",
            (x, 0.98),
            xycoords=("data", "axes fraction"),
            rotation=90,
            fontsize=7,
            color="0.4",
            ha="right",
            va="top",
        )
    if skipped:
        lo_x = min(min(s["x"]) for s in row["series"] if s["x"])
        ax.set_xlim(lo_x / 1.5, max(skipped) * 1.5)
    measured = {x for s in row["series"] for x in s["x"]}
    ticks = sorted(measured | {x for x in skipped if all(abs(x / m - 1) > 0.3 for m in measured)})
    integer_ticks(ax, ticks)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.25)
    ax.set_title(f"{row['title']}\n{meta['date']}, {meta['cores']}", fontsize=9)
    reasons = sorted({sk["reason"] for sk in row["skipped"]})
    if reasons:
        text = "\n".join(textwrap.fill("skipped: " + r, 130) for r in reasons)
        fig.text(0.01, 0.01, text, fontsize=6.5, va="bottom", color="0.3")

    if row["memory"]:
        xs = [m["x"] for m in row["memory"]]
        mem.plot(xs, [m["bytes"] / 2**20 for m in row["memory"]], marker="s", ms=4, label="file sizes")
        mem.plot(
            xs,
            [m["allocated"] / 2**20 for m in row["memory"]],
            marker="x",
            ms=5,
            ls="--",
            label="allocated (tmpfs blocks)",
        )
        mem.set_xscale("log")
        top = max(m["allocated"] for m in row["memory"])
        bottom = min(m["bytes"] for m in row["memory"])
        kib = top < 2**20
        unit = 2**10 if kib else 2**20
        for line, key in zip(mem.get_lines(), ("bytes", "allocated")):
            line.set_ydata([m[key] / unit for m in row["memory"]])
        if top > 8 * max(bottom, 1):
            mem.set_yscale("log")
        else:
            mem.set_ylim(0, top / unit * 1.15)
        integer_ticks(mem, xs)
        mem.set_xlabel(row["x_label"])
        mem.set_ylabel(("KiB" if kib else "MiB") + " of the namespace's segments")
        mem.set_title("memory", fontsize=9)
        mem.legend(fontsize=7)
        mem.grid(True, which="both", alpha=0.25)
    fig.tight_layout(rect=(0, 0.06 * len(reasons) ** 0.5 if reasons else 0, 1, 1))
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--docs", default=os.path.join(os.path.dirname(os.path.dirname(here)), "docs"))
    a = ap.parse_args()
    with open(a.json) as f:
        data = json.load(f)
    meta = {"date": data["date"], "cores": data["machine"].split(",")[0]}
    for row in data["rows"]:
        out = os.path.join(a.docs, f"scale-{row['id']}.png")
        plot_row(row, meta, out)
        print(out)


if __name__ == "__main__":
    main()
