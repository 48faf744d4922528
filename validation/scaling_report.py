#!/usr/bin/env python
"""The scaling table and figure of docs/performance.md, from one benchmark JSON.

Run with refsim's environment from the repository root, after the benchmark::

    python -m validation.bench_engines --sizes 4000 40000 400000 4000000 --engines numba \
        --presets tutorial brette2007-coba --threads 1,2 --repeats 1 --ensemble \
        --baseline '' --no-c-loop --out validation/results/bench_scaling.json
    python -m validation.scaling_report validation/results/bench_scaling.json

It prints Markdown tables (µs per step, synaptic events per second, peak RSS and refsim's
estimate of it, per preset, N and thread count; the speed-up of two threads; ensemble
throughput) headed by the machine the JSON records, and writes ``docs/figures/scaling.png``.
"""
from __future__ import annotations

import argparse
import json
import os

from validation.common import REPO
from validation.common import machine_line as _machine_line


def load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def numba_rows(report: dict) -> list[dict]:
    return [r for r in report["rows"]
            if r.get("engine") == "numba" and "error" not in r and "loop_s" in r]


def machine_line(report: dict) -> str:
    return _machine_line(report["machine"]) if "machine" in report else "machine not recorded"


def tables(report: dict) -> str:
    rows = numba_rows(report)
    out = [f"Machine: {machine_line(report)}.", "",
           "| preset | N | threads | µs/step | events/s | spikes | peak RSS (MiB) | "
           "estimate at 50 Hz / at the run's rate (MiB) | estimate / measured |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["preset"], r["n"], r.get("threads") or 1)):
        est, at_rate = r.get("est_peak_rss_mib"), r.get("est_peak_rss_at_rate_mib")
        ratio = f"{at_rate / r['peak_rss_mib']:.2f}" if at_rate else "-"
        est_text = f"{est:.0f} / {at_rate:.0f}" if est else "-"
        out.append(f"| `{r['preset']}` | {r['n']:,} | {r.get('threads') or 1} | "
                   f"{r['us_per_step']:.1f} | {r['events_per_s']:.3g} | {r['spikes']:,} | "
                   f"{r['peak_rss_mib']:.0f} | {est_text} | {ratio} |")
    speed = {}
    for r in rows:
        speed.setdefault((r["preset"], r["n"]), {})[r.get("threads") or 1] = r["loop_s"]
    out += ["", "| preset | N | loop 1 thread (s) | loop 2 threads (s) | speed-up |", "|---|---|---|---|---|"]
    for (preset, n), by in sorted(speed.items()):
        if 1 in by and 2 in by:
            out.append(f"| `{preset}` | {n:,} | {by[1]:.2f} | {by[2]:.2f} | {by[1] / by[2]:.2f} |")
    ens = report.get("ensembles") or []
    if ens:
        out += ["", "| ensemble (tutorial, N = 4000, 1 s) | runs | runs/min | runs/min incl. start | "
                "peak RSS, all processes (MiB) |", "|---|---|---|---|---|"]
        for e in ens:
            if "not_measured" in e:
                out.append(f"| {e['ensemble']} | - | - | - | not measured: {e['not_measured']} |")
                continue
            start = e.get("runs_per_min_with_start")
            rss = e.get("peak_tree_rss_mib")
            out.append(f"| {e['ensemble']} | {e['complete']}/{e['seeds']} | {e['runs_per_min']:.0f} | "
                       f"{f'{start:.0f}' if start else '-'} | {f'{rss:.0f}' if rss else '-'} |")
    return "\n".join(out)


def figure(report: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = numba_rows(report)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    styles = {1: "o-", 2: "s--"}
    for preset in sorted({r["preset"] for r in rows}):
        for threads in (1, 2):
            sel = sorted((r for r in rows if r["preset"] == preset and (r.get("threads") or 1) == threads),
                         key=lambda r: r["n"])
            if not sel:
                continue
            n = [r["n"] for r in sel]
            label = f"{preset}, {threads} thread{'s' if threads > 1 else ''}"
            axes[0].loglog(n, [r["us_per_step"] for r in sel], styles[threads], label=label)
            axes[1].loglog(n, [r["events_per_s"] for r in sel], styles[threads], label=label)
            axes[2].loglog(n, [r["peak_rss_mib"] for r in sel], styles[threads], label=label + " (measured)")
            est = [(r["n"], r["est_peak_rss_at_rate_mib"]) for r in sel if r.get("est_peak_rss_at_rate_mib")]
            if est:
                axes[2].loglog([n for n, _ in est], [m for _, m in est], "x", ms=9,
                               color=axes[2].lines[-1].get_color(), label=label + " (estimate)")
    axes[0].set(xlabel="neurons N (out-degree 80)", ylabel="µs per step (dt = 0.1 ms)",
                title="time per step")
    axes[1].set(xlabel="neurons N (out-degree 80)", ylabel="synaptic events per second",
                title="throughput")
    axes[2].set(xlabel="neurons N (out-degree 80)", ylabel="peak RSS (MiB)",
                title="memory: measured and estimated")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=6)
    fig.suptitle(f"refsim numba engine, 1 s of network time; {machine_line(report)}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="a bench_engines JSON file")
    ap.add_argument("--figure", default=os.path.join(REPO, "docs", "figures", "scaling.png"))
    args = ap.parse_args(argv)
    report = load(args.json)
    print(tables(report))
    figure(report, args.figure)
    print(f"\nwrote {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
