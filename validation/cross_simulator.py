#!/usr/bin/env python
"""refsim against Brian2 and NEST on identical networks, judged by the seed-to-seed spread.

Run with refsim's environment from the repository root, after ``ensembles.py`` (whose SDs
are the tolerance)::

    python validation/cross_simulator.py                 # seeds 0:5, ~12 min
    python validation/cross_simulator.py --seeds 0 --reuse   # recompare only

For each preset (``tutorial-normalized``, ``brette2007-coba``) and seed it

1. exports refsim's network (connectivity and initial state of ``refsim.simulate(cfg, seed)``)
   with ``validation/peers/export_network.py``;
2. runs it in the peer venv (``--peer-python``, Python 3.13: Brian2 2.11, NEST 3.10):

   * ``brian2``: ``brian2_run.py`` cpp_standalone, native mode (Brian2's own step order and
     refractory counting; ``exponential_euler`` for tutorial-normalized, ``euler`` for
     brette2007-coba, as the presets integrate; Brian2's default ``-ffast-math``);
   * ``brian2-refsim``: ``brian2_run.py --mode refsim --strict-math``, Brian2 made to step in
     refsim's order with refsim's float-time refractory test (an exact cross-check: expected to
     reproduce refsim spike for spike);
   * ``nest``: ``nest_run.py``, ``iaf_cond_exp`` (RKF45, hard reset, 1-step minimum delay);

3. reruns refsim on the exported file (``validation/peers/compare.py: refsim_run``) and
   compares each peer with :func:`refsim.compare.compare` over [``--t-start`` = 200, 1000) ms:
   per-neuron rate correlation, KS / Wasserstein / Cohen's d of rates, ISI CVs and count
   correlations, first raster difference, and every statistic of
   :func:`refsim.analysis.statistics`;
4. judges each statistic: z = (peer - refsim) / SD, SD = the seed-to-seed SD of that
   statistic for the preset (``validation/results/ensembles.json``, t_start = 200 ms);
   *within* means |z| <= ``--sd-factor`` (2).

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
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import refsim
from refsim.compare import compare, load_spikes, write_report
from refsim.ensemble import parse_seeds

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
from compare import refsim_run  # noqa: E402  (validation/peers/compare.py)
from peer_pythons import PEER_PYTHON  # noqa: E402  (validation/, the script's directory)

PRESETS = ("tutorial-normalized", "brette2007-coba")
PEERS = {  # name -> (script, extra arguments, label)
    "brian2": ("brian2_run.py", ["--device", "cpp_standalone"], "Brian2 native"),
    "brian2-refsim": ("brian2_run.py", ["--device", "cpp_standalone", "--mode", "refsim",
                                        "--strict-math"], "Brian2 refsim-order"),
    "nest": ("nest_run.py", [], "NEST iaf_cond_exp"),
}
STAT_LABELS = {"rate_e_hz": "E rate (Hz)", "rate_i_hz": "I rate (Hz)", "cv_isi": "ISI CV",
               "cv2": "CV2", "lv": "LV", "fano": "Fano (10 ms)", "chi": "chi",
               "corr": "count corr.", "peak_hz": "spectral peak (Hz)"}


def sh(cmd: list[str]) -> dict:
    """Run a command; return the JSON of its last stdout line (raise with its stderr if it fails)."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    try:
        out = json.loads(lines[-1])
    except (IndexError, ValueError):
        out = {"stdout_tail": lines[-3:]}
    if isinstance(out, dict):
        out["script_wall_s"] = time.perf_counter() - t0
    return out


def prepare(preset, seed, args) -> tuple[str, dict]:
    """Export the network and run every peer on it (in parallel up to ``--jobs``); returns the
    network path and each peer's summary."""
    net = os.path.join(args.work_dir, f"{preset}_s{seed}.npz")
    if not (args.reuse and os.path.exists(net)):
        sh([sys.executable, os.path.join(HERE, "peers", "export_network.py"), "--preset", preset,
            "--seed", str(seed), "--out", net, "--no-check"])

    def peer(name):
        script, extra, _ = PEERS[name]
        out = os.path.join(args.work_dir, f"{preset}_s{seed}_{name}.npz")
        if args.reuse and os.path.exists(out):
            with np.load(out, allow_pickle=False) as z:
                return name, json.loads(str(z["meta"]))
        print(f"  running {name} on {preset} seed {seed}", flush=True)
        return name, sh([args.peer_python, os.path.join(HERE, "peers", script), net, *extra,
                         "--out", out])

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        summaries = dict(pool.map(peer, args.peers))
    return net, summaries


def judge(stats_ref: dict, stats_peer: dict, ensemble: dict, factor: float) -> dict:
    """Per statistic: refsim, peer, difference, ensemble SD, z and whether |z| <= factor."""
    out = {}
    for key in STAT_LABELS:
        a, b, sd = stats_ref[key], stats_peer[key], ensemble[key]["sd"]
        z = (b - a) / sd if sd > 0 else float("nan")
        out[key] = {"refsim": a, "peer": b, "diff": b - a, "ensemble_sd": sd, "z": z,
                    "within": bool(abs(z) <= factor)}
    return out


def summary_figure(rows: list[dict], factor: float, path: str) -> None:
    """z = (peer - refsim) / ensemble SD of every statistic, each comparison one marker."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
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
    md = ["# refsim vs Brian2 and NEST on identical networks", "",
          f"Window [{results['t_start_ms']:g}, 1000) ms. *within*: |peer - refsim| <= {factor:g} x "
          "the seed-to-seed SD of the statistic (refsim, 20 seeds, `ensembles.json`).", "",
          "| preset | seed | peer | E rate (Hz) refsim / peer | I rate (Hz) refsim / peer | "
          "rate corr. | KS rates | KS CV | first raster difference | statistics within |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c, j = r["comparison"], r["judged"]
        fd = c["first_difference_ms"]
        n_in = sum(v["within"] for v in j.values())
        md.append(f"| `{r['preset']}` | {r['seed']} | {PEERS[r['peer']][2]} | "
                  f"{j['rate_e_hz']['refsim']:.3f} / {j['rate_e_hz']['peer']:.3f} | "
                  f"{j['rate_i_hz']['refsim']:.3f} / {j['rate_i_hz']['peer']:.3f} | "
                  f"{c['rate_correlation']:.3f} | {c['distributions']['rate_hz']['ks_distance']:.3f} | "
                  f"{c['distributions']['cv_isi']['ks_distance']:.3f} | "
                  f"{'none (identical)' if fd is None else f'{fd:.1f} ms'} | {n_in}/{len(j)} |")
    md += ["", "z = (peer - refsim) / seed SD, per statistic (bold: outside the band):", "",
           "| preset | seed | peer | " + " | ".join(STAT_LABELS.values()) + " |",
           "|---" * (3 + len(STAT_LABELS)) + "|"]
    for r in rows:
        cells = []
        for v in r["judged"].values():
            cell = f"{v['z']:+.2f}"
            cells.append(cell if v["within"] else f"**{cell}**")
        md.append(f"| `{r['preset']}` | {r['seed']} | {PEERS[r['peer']][2]} | " + " | ".join(cells) + " |")
    md += ["", "Mean z over seeds ± its SD (a systematic difference keeps its sign from seed "
           "to seed):", "",
           "| preset | peer | " + " | ".join(STAT_LABELS.values()) + " |",
           "|---" * (2 + len(STAT_LABELS)) + "|"]
    for preset in results["presets"]:
        for peer in results["peers"]:
            sel = [r for r in rows if r["preset"] == preset and r["peer"] == peer]
            if sel:
                zs = {k: np.array([r["judged"][k]["z"] for r in sel]) for k in STAT_LABELS}
                md.append(f"| `{preset}` | {PEERS[peer][2]} | " + " | ".join(
                    f"{z.mean():+.2f}" + (f" ± {z.std(ddof=1):.2f}" if z.size > 1 else "")
                    for z in zs.values()) + " |")
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0:5")
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--t-start", type=float, default=200.0)
    ap.add_argument("--sd-factor", type=float, default=2.0)
    ap.add_argument("--jobs", type=int, default=2, help="peer runs at once")
    ap.add_argument("--peer-python", default=PEER_PYTHON)
    ap.add_argument("--work-dir", default="/tmp/refsim_cross")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--ensembles", default=os.path.join(HERE, "results", "ensembles.json"))
    ap.add_argument("--reuse", action="store_true", help="keep existing exports / peer spikes")
    args = ap.parse_args(argv)
    args.peers = args.peers.split(",")
    seeds, presets = parse_seeds(args.seeds), args.presets.split(",")
    os.makedirs(args.work_dir, exist_ok=True)
    with open(args.ensembles) as fh:
        ens = json.load(fh)
    ens_sd = {p: ens["presets"][p][f"t_start_{args.t_start:g}"]["summary"] for p in presets}

    results = {"versions": {"refsim": refsim.__version__, "ensembles": ens["versions"]},
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
                          args.sd_factor)
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
    with open(os.path.join(args.out_dir, "cross_simulator.json"), "w") as fh:
        json.dump(results, fh, indent=1)
        fh.write("\n")
    with open(os.path.join(args.out_dir, "cross_simulator.md"), "w") as fh:
        fh.write(markdown(results, args.sd_factor))
    summary_figure(results["comparisons"], args.sd_factor,
                   os.path.join(args.out_dir, "cross_simulator.png"))
    print(f"wrote {args.out_dir}/cross_simulator.json, .md, .png ({results['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
