#!/usr/bin/env python
"""refsim against Brian2 and NEST on identical networks, judged by the seed-to-seed spread.

Run with refsim's environment from the repository root, after ``validation.ensembles`` (whose
SDs are the tolerance)::

    python -m validation.cross_simulator                         # seeds 0:5, ~12 min
    python -m validation.cross_simulator --seeds 0 --reuse       # recompare only

For each preset (``tutorial-normalized``, ``brette2007-coba``) and seed it

1. exports refsim's network (connectivity and initial state of ``refsim.simulate(cfg, seed)``)
   with :func:`validation.peers.export_network.export`;
2. runs it in the peer venv (``--peer-python``, Python 3.13: Brian2 2.11, NEST 3.10; default
   ``$REFSIM_PEER_VENVS/peer313``, ``validation/peer_pythons.py``; checked before anything runs):

   * ``brian2``: ``validation.peers.brian2_run`` cpp_standalone, native mode (Brian2's own step order and
     refractory counting; ``exponential_euler`` for tutorial-normalized, ``euler`` for
     brette2007-coba, as the presets integrate; Brian2's default ``-ffast-math``);
   * ``brian2-refsim``: ``brian2_run --mode refsim --strict-math``, Brian2 made to step in
     refsim's order with refsim's float-time refractory test (an exact cross-check: expected to
     reproduce refsim spike for spike);
   * ``nest``: ``validation.peers.nest_run``, ``iaf_cond_exp`` (RKF45, hard reset, 1-step minimum delay);

3. reruns refsim on the exported file (:func:`validation.peers.compare.refsim_run`) and
   compares each peer with :func:`refsim.compare.compare` over [``--t-start`` = 200, 1000) ms:
   per-neuron rate correlation, KS / Wasserstein / Cohen's d of rates, ISI CVs and count
   correlations, first raster difference, and every statistic of
   :func:`refsim.analysis.statistics`;
4. judges each statistic (:func:`validation.common.judge`): z = (peer - refsim) / SD, SD = the
   seed-to-seed SD of that statistic for the preset (``validation/results/ensembles.json``,
   t_start = 200 ms); *within* means |z| <= ``--sd-factor`` (2).

Outputs (``--out-dir``, default ``validation/results/``): ``cross_simulator.json`` (every
number and each peer's own timing summary), ``cross_simulator.md`` (tables),
``cross_simulator.png`` (z of every statistic, each peer and preset) and, per comparison,
``cross_simulator/<preset>_s<seed>_<peer>/`` with :func:`refsim.compare.write_report`'s
``report.md``, ``comparison.json``, ``comparison.png``. Exported networks and peer spike files
go to ``--work-dir`` (default ``/tmp/refsim_cross``; ``--reuse`` keeps existing ones).

Runtime: per seed and preset two Brian2 builds (~20 s of C++ compilation each) and one NEST
run (~11 s); ``--jobs 2`` runs two peers at once. Seed 0 (both presets) took 2.3 min on 2
cores; seeds 0-4 took 12 min on the same machine shared with other jobs.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from refsim.compare import compare, load_spikes, write_report
from refsim.ensemble import parse_seeds
from refsim.io import write_text
from validation.common import (
    RESULTS,
    ensemble_summaries,
    judge,
    markdown_table,
    pyplot,
    run_json,
    versions,
    write_json,
)
from validation.peer_pythons import PEER_PYTHON, module_command, require
from validation.peers.compare import refsim_run
from validation.peers.export_network import export

PRESETS = ("tutorial-normalized", "brette2007-coba")
PEERS = {  # name -> (module, extra arguments, label)
    "brian2": ("validation.peers.brian2_run", ["--device", "cpp_standalone"], "Brian2 native"),
    "brian2-refsim": ("validation.peers.brian2_run", ["--device", "cpp_standalone", "--mode",
                                                      "refsim", "--strict-math"],
                      "Brian2 refsim-order"),
    "nest": ("validation.peers.nest_run", [], "NEST iaf_cond_exp"),
}
STAT_LABELS = {"rate_e_hz": "E rate (Hz)", "rate_i_hz": "I rate (Hz)", "cv_isi": "ISI CV",
               "cv2": "CV2", "lv": "LV", "fano": "Fano (10 ms)", "chi": "chi",
               "corr": "count corr.", "peak_hz": "spectral peak (Hz)"}


@functools.cache
def _require_peer(python: str) -> str:
    """The peer interpreter, checked once (it exists and imports brian2 and nest)."""
    return require(python, "peers")


def prepare(preset, seed, args) -> tuple[str, dict]:
    """Export the network and run every peer on it (in parallel up to ``--jobs``); returns the
    network path and each peer's summary."""
    net = os.path.join(args.work_dir, f"{preset}_s{seed}_sonata")
    if not (args.reuse and os.path.exists(os.path.join(net, "circuit_config.json"))):
        export(net, preset, seed)

    def peer(name):
        module, extra, _ = PEERS[name]
        out = os.path.join(args.work_dir, f"{preset}_s{seed}_{name}.npz")
        if args.reuse and os.path.exists(out):
            with np.load(out, allow_pickle=False) as z:
                return name, json.loads(str(z["meta"]))
        _require_peer(args.peer_python)
        print(f"  running {name} on {preset} seed {seed}", flush=True)
        t0 = time.perf_counter()
        summary = run_json(module_command(args.peer_python, module, net, *extra, "--out", out))
        return name, {**summary, "script_wall_s": time.perf_counter() - t0}

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        summaries = dict(pool.map(peer, args.peers))
    return net, summaries


def summary_figure(rows: list[dict], factor: float, path: str) -> None:
    """z = (peer - refsim) / ensemble SD of every statistic, each comparison one marker."""
    plt = pyplot()
    keys = list(STAT_LABELS)
    colors = {"brian2": "#1f77b4", "brian2-refsim": "#2ca02c", "nest": "#d62728"}
    markers = {"tutorial-normalized": "o", "brette2007-coba": "s"}
    fig, ax = plt.subplots(figsize=(10, 4.2))
    ax.axhspan(-factor, factor, color="#eeeeee", zorder=0)
    seen = set()
    for k, r in enumerate(rows):
        x = np.arange(len(keys)) + 0.12 * ((k % 6) - 2.5)
        z = [r["judged"][s]["z"] for s in keys]
        lab = f"{PEERS[r['peer']][2]}, {r['preset']}"
        ax.plot(x, z, markers[r["preset"]], color=colors[r["peer"]], ms=4, alpha=0.75,
                label=None if lab in seen else lab)
        seen.add(lab)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(range(len(keys)), [STAT_LABELS[s] for s in keys], fontsize=8, rotation=20)
    ax.set_ylabel("(peer - refsim) / seed SD")
    ax.set_title(f"Same network, same initial state, [200, 1000) ms; grey band: ±{factor:g} SD "
                 "of refsim over 20 seeds", fontsize=9)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results: dict, factor: float) -> str:
    rows = results["comparisons"]
    table = []
    for r in rows:
        c, j = r["comparison"], r["judged"]
        fd = c["first_difference_ms"]
        n_in = sum(v["within"] for v in j.values())
        table.append([f"`{r['preset']}`", r["seed"], PEERS[r["peer"]][2],
                      f"{j['rate_e_hz']['refsim']:.3f} / {j['rate_e_hz']['peer']:.3f}",
                      f"{j['rate_i_hz']['refsim']:.3f} / {j['rate_i_hz']['peer']:.3f}",
                      f"{c['rate_correlation']:.3f}",
                      f"{c['distributions']['rate_hz']['ks_distance']:.3f}",
                      f"{c['distributions']['cv_isi']['ks_distance']:.3f}",
                      "none (identical)" if fd is None else f"{fd:.1f} ms", f"{n_in}/{len(j)}"])
    z_rows = [[f"`{r['preset']}`", r["seed"], PEERS[r["peer"]][2]]
              + [f"{v['z']:+.2f}" if v["within"] else f"**{v['z']:+.2f}**"
                 for v in r["judged"].values()] for r in rows]
    mean_rows = []
    for preset in results["presets"]:
        for peer in results["peers"]:
            sel = [r for r in rows if r["preset"] == preset and r["peer"] == peer]
            if sel:
                zs = [np.array([r["judged"][k]["z"] for r in sel]) for k in STAT_LABELS]
                mean_rows.append([f"`{preset}`", PEERS[peer][2]] + [
                    f"{z.mean():+.2f}" + (f" ± {z.std(ddof=1):.2f}" if z.size > 1 else "")
                    for z in zs])
    md = ["# refsim vs Brian2 and NEST on identical networks", "",
          f"Window [{results['t_start_ms']:g}, 1000) ms. *within*: |peer - refsim| <= {factor:g} x "
          "the seed-to-seed SD of the statistic (refsim, 20 seeds, `ensembles.json`).", "",
          markdown_table(["preset", "seed", "peer", "E rate (Hz) refsim / peer",
                          "I rate (Hz) refsim / peer", "rate corr.", "KS rates", "KS CV",
                          "first raster difference", "statistics within"], table),
          "", "z = (peer - refsim) / seed SD, per statistic (bold: outside the band):", "",
          markdown_table(["preset", "seed", "peer", *STAT_LABELS.values()], z_rows),
          "", "Mean z over seeds ± its SD (a systematic difference keeps its sign from seed "
          "to seed):", "",
          markdown_table(["preset", "peer", *STAT_LABELS.values()], mean_rows)]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0:5")
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--t-start", type=float, default=200.0)
    ap.add_argument("--sd-factor", type=float, default=2.0)
    ap.add_argument("--jobs", type=int, default=2, help="peer runs at once")
    ap.add_argument("--peer-python", default=PEER_PYTHON,
                    help="the Brian2 / NEST venv's interpreter (default: %(default)s, from "
                         "REFSIM_PEER_VENVS)")
    ap.add_argument("--work-dir", default="/tmp/refsim_cross")
    ap.add_argument("--out-dir", default=RESULTS)
    ap.add_argument("--ensembles", default=os.path.join(RESULTS, "ensembles.json"))
    ap.add_argument("--reuse", action="store_true", help="keep existing exports / peer spikes")
    args = ap.parse_args(argv)
    args.peers = args.peers.split(",")
    if not args.reuse:  # with --reuse, checked before the first peer run it needs
        _require_peer(args.peer_python)
    seeds, presets = parse_seeds(args.seeds), args.presets.split(",")
    args.work_dir = os.path.abspath(args.work_dir)  # the peers run in the repository root
    os.makedirs(args.work_dir, exist_ok=True)
    ens, ens_sd = ensemble_summaries(args.ensembles, presets, args.t_start)

    results = {"versions": {**versions(), "ensembles": ens["versions"]},
               "seeds": seeds, "presets": presets, "peers": args.peers,
               "t_start_ms": args.t_start, "sd_factor": args.sd_factor,
               "ensemble_seeds": ens["seeds"], "comparisons": []}
    t_all = time.perf_counter()
    for preset in presets:
        for seed in seeds:
            net, peer_summaries = prepare(preset, seed, args)
            config, ref = refsim_run(net)
            for name in args.peers:
                spikes = load_spikes(os.path.join(args.work_dir, f"{preset}_s{seed}_{name}.npz"),
                                     n_exc=config.n_exc, n_neurons=config.n_neurons,
                                     t_stop_ms=config.duration)
                c = compare(ref, spikes, t_start=args.t_start, seed=seed, labels=("refsim", name))
                j = judge(c["statistics"]["refsim"], c["statistics"][name], ens_sd[preset],
                          args.sd_factor, keys=STAT_LABELS)
                report_dir = os.path.join(args.out_dir, "cross_simulator", f"{preset}_s{seed}_{name}")
                write_report(c, ref, spikes, report_dir)
                s = peer_summaries[name]
                results["comparisons"].append({
                    "preset": preset, "seed": seed, "peer": name, "label": PEERS[name][2],
                    "comparison": c, "judged": j, "report": os.path.relpath(report_dir, args.out_dir),
                    "peer_summary": {k: v for k, v in s.items() if not isinstance(v, (list, dict))}})
                fd = c["first_difference_ms"]
                print(f"{preset:20s} s{seed} {name:14s} E {j['rate_e_hz']['peer']:7.3f} "
                      f"(refsim {j['rate_e_hz']['refsim']:.3f}) I {j['rate_i_hz']['peer']:7.3f} "
                      f"(refsim {j['rate_i_hz']['refsim']:.3f}) r={c['rate_correlation']:.3f} "
                      f"first diff {fd} ms, within {sum(v['within'] for v in j.values())}/{len(j)}",
                      flush=True)
    results["peer_versions"] = sorted({f"{r['peer_summary'].get('simulator')} "
                                       f"{r['peer_summary'].get('version')}"
                                       for r in results["comparisons"]})
    results["wall_s"] = time.perf_counter() - t_all
    write_json(os.path.join(args.out_dir, "cross_simulator.json"), results)
    write_text(os.path.join(args.out_dir, "cross_simulator.md"), markdown(results, args.sd_factor))
    summary_figure(results["comparisons"], args.sd_factor,
                   os.path.join(args.out_dir, "cross_simulator.png"))
    print(f"wrote {args.out_dir}/cross_simulator.json, .md, .png ({results['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
