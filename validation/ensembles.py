#!/usr/bin/env python
"""Seed-to-seed spread of every summary statistic, for each of refsim's three presets.

Run with refsim's environment from the repository root::

    python -m validation.ensembles              # 20 seeds, 1.5-3 min on 2 cores
    python -m validation.ensembles --seeds 0:10 --jobs 1

For each preset (``tutorial``, ``tutorial-normalized``, ``brette2007-coba``; full network,
N = 4000, 1 s, dt = 0.1 ms) it runs every seed of ``--seeds`` with
:func:`refsim.ensemble.run_ensemble` (``--jobs`` worker processes, Numba engine) and
computes :func:`refsim.analysis.statistics` of each run, twice: over [200, 1000) ms
(``t_start = 200``: the initial transient dropped; this is the reference) and over the whole
second (``t_start = 0``). A different seed is a different network (connectivity) and a
different initial state, so the spread is that of the model itself, not of a simulator.

:func:`refsim.ensemble.summarize` gives the mean, SD (ddof = 1) and standard error of each
statistic over the seeds. These SDs are the tolerance used by ``validation.cross_simulator``
and ``validation.brainpy.compare_brainpy``: a peer-minus-refsim difference inside a few SDs is not
evidence of a modelling difference.

Outputs (``--out-dir``, default ``validation/results/``):

* ``ensembles.json``: versions (:func:`refsim.result.versions`), seeds, the per-seed rows and
  the summaries, per preset and window;
* ``ensembles.md``: the mean +- SD table (also shown in ``docs/validation.md``);
* ``ensembles.png``: every statistic per seed, one panel per statistic, one column of dots
  per preset.

Runtime: one 1 s run takes 0.3-0.8 s of loop time and the statistics ~1 s, so
20 seeds x 3 presets x 2 windows took 83 s with ``--jobs 2`` on an idle 2-core machine (3 min
while another job shared it).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from refsim.ensemble import parse_seeds, run_ensemble, summarize
from refsim.io import write_text
from validation.common import RESULTS, markdown_table, pyplot, versions, write_json

PRESETS = ("tutorial", "tutorial-normalized", "brette2007-coba")
STATISTICS = {  # key of refsim.analysis.statistics -> (label, format)
    "rate_e_hz": ("E rate (Hz)", "{:.3f}"), "rate_i_hz": ("I rate (Hz)", "{:.3f}"),
    "cv_isi": ("ISI CV", "{:.4f}"), "cv2": ("CV2", "{:.4f}"), "lv": ("LV", "{:.4f}"),
    "fano": ("Fano factor (10 ms)", "{:.3f}"), "chi": ("synchrony chi", "{:.4f}"),
    "corr": ("count correlation (2 ms)", "{:.4f}"), "peak_hz": ("spectral peak (Hz)", "{:.1f}"),
}


def summary_table(summaries: dict, window: str, n_seeds: int) -> str:
    """Mean +- SD of each statistic (rows) for each preset (columns)."""
    rows = []
    for key, (label, fmt) in STATISTICS.items():
        rows.append([label] + [
            f"{fmt.format(s[key]['mean'])} ± {s[key]['sd']:.2g}"
            + ("" if s[key]["n"] == n_seeds else f" (n={s[key]['n']})") for s in summaries.values()])
    return markdown_table([f"statistic ({window}, {n_seeds} seeds)", *(f"`{p}`" for p in summaries)],
                          rows)


def figure(rows: dict, path: str) -> None:
    """One panel per statistic: the value of every seed (dots) and mean +- SD (bar)."""
    plt = pyplot()
    keys = list(STATISTICS)
    fig, axes = plt.subplots(3, 3, figsize=(11, 8))
    rng = np.random.default_rng(0)
    for ax, key in zip(axes.flat, keys, strict=True):
        for k, p in enumerate(rows):
            v = np.array([r[key] for r in rows[p]], float)
            ax.plot(k + 0.08 * rng.standard_normal(v.size), v, "o", ms=3, alpha=0.6, color="#555")
            ax.errorbar(k + 0.3, np.nanmean(v), yerr=np.nanstd(v, ddof=1), fmt="s", color="#c0392b",
                        ms=4, capsize=3)
        ax.set_xticks(range(len(rows)), [p.replace("-", "-\n", 1) for p in rows], fontsize=8)
        ax.set_title(STATISTICS[key][0], fontsize=9)
    fig.suptitle("refsim: statistics per seed over [200, 1000) ms (dots), mean ± SD (red)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0:20", help="'start:stop' or 'a,b,c' (default 0:20)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--windows", default="200,0", help="t_start values in ms (default '200,0')")
    ap.add_argument("--out-dir", default=RESULTS)
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    presets = args.presets.split(",")
    windows = [float(w) for w in args.windows.split(",")]
    os.makedirs(args.out_dir, exist_ok=True)

    out = {"versions": versions(), "seeds": seeds, "n_neurons": 4000, "duration_ms": 1000.0,
           "windows_t_start_ms": windows, "presets": {}}
    t_all = time.perf_counter()
    for p in presets:
        out["presets"][p] = {}
        for t_start in windows:
            t0 = time.perf_counter()
            rows = run_ensemble(p, seeds, jobs=args.jobs, t_start=t_start)
            wall = time.perf_counter() - t0
            out["presets"][p][f"t_start_{t_start:g}"] = {
                "t_start_ms": t_start, "rows": rows, "summary": summarize(rows), "wall_s": wall}
            s = out["presets"][p][f"t_start_{t_start:g}"]["summary"]
            print(f"{p:20s} t_start={t_start:5g} ms: E {s['rate_e_hz']['mean']:.3f} ± "
                  f"{s['rate_e_hz']['sd']:.3f} Hz, I {s['rate_i_hz']['mean']:.3f} ± "
                  f"{s['rate_i_hz']['sd']:.3f} Hz, CV {s['cv_isi']['mean']:.3f} ± "
                  f"{s['cv_isi']['sd']:.3f}  ({len(seeds)} seeds, {wall:.1f} s)", flush=True)
    out["wall_s"] = time.perf_counter() - t_all

    write_json(os.path.join(args.out_dir, "ensembles.json"), out)
    md = [f"# refsim ensembles: {len(seeds)} seeds (seeds {seeds[0]}..{seeds[-1]}), N = 4000, 1 s", "",
          "Mean ± SD (ddof = 1) over seeds; each seed is a new network and initial state.", ""]
    for t_start in windows:
        key = f"t_start_{t_start:g}"
        window = f"[{t_start:g}, 1000) ms"
        md += [summary_table({p: out["presets"][p][key]["summary"] for p in presets}, window,
                             len(seeds)), ""]
    md.append(f"Versions: {json.dumps(out['versions'])}")
    write_text(os.path.join(args.out_dir, "ensembles.md"), "\n".join(md) + "\n")
    if 200.0 in windows:
        figure({p: out["presets"][p]["t_start_200"]["rows"] for p in presets},
               os.path.join(args.out_dir, "ensembles.png"))
    print(f"wrote {args.out_dir}/ensembles.json, ensembles.md, ensembles.png ({out['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
