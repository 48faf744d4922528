#!/usr/bin/env python
"""refsim against BrainPy 2.9's tutorial network, as written and with normalized units.

Run with refsim's environment from the repository root, after ``validation.ensembles``
(whose SDs are the statistical tolerance); it runs ``validation.brainpy.run_brainpy`` with the
BrainPy venv (``--brainpy-python``, Python 3.12; default ``$REFSIM_PEER_VENVS/bp312``,
``validation/peer_pythons.py``) and exchanges ``.npz`` files with it::

    python -m validation.brainpy.compare_brainpy            # seeds 0:3, ~2 min
    python -m validation.brainpy.compare_brainpy --seeds 0 --reuse

For each seed:

(a) **tutorial as written** (``run_brainpy --variant tutorial``: R = 1 ohm, mS weights)
    against refsim's ``tutorial`` preset (float32, BrainPy's arithmetic as XLA compiles it) run
    on BrainPy's
    connectivity and BrainPy's V0 (drawn by JAX, so it is imported): spike for spike over the
    whole second (first differing step, :func:`refsim.testing.first_difference`; per-neuron
    counts) and the statistics.
(b) **normalized units** (``--variant normalized``: weights in siemens, R * g = 0.6 / 6.7)
    against

    * ``tutorial-normalized`` with ``dtype=float32, arithmetic='xla', expm1='xla'`` on
      BrainPy's connectivity and V0: the tutorial's XLA arithmetic. Not BrainPy's bit for bit:
      BrainPy keeps g in mS and converts the siemens weights in the jump, which XLA fuses into
      ``fma(x, 1000, g)`` (docs/validation.md); the rasters part after 72-968 ms in 7 of 10 seeds;
    * the same with ``arithmetic='ieee'`` (float32 as the specification writes it);
    * the ``tutorial-normalized`` preset itself (float64) on the same network and V0: float32
      vs float64 in a chaotic network, so the rasters part early and the test is statistical:
      z = (BrainPy - refsim) / seed SD per statistic (``ensembles.json``, t_start = 200 ms;
      :func:`validation.common.judge`), *within* if |z| <= ``--sd-factor`` (2), plus
      :func:`refsim.compare.compare` / ``write_report``.

    The unit check is a trace check: V of the recorded neurons (``run_brainpy --record``)
    after each of the first 2000 steps, BrainPy vs refsim, max |difference|.
(c) **float32 vs float64 as such**: ``tutorial-normalized`` in float32 (IEEE arithmetic, refsim's
    portable expm1) over the ensemble's seeds (``--jobs`` processes) against the float64 ensemble
    of ``ensembles.json``: difference of the means over its standard error, per statistic.

Outputs (``--out-dir``, default ``validation/results/``): ``brainpy.json`` (every number,
versions of both sides), ``brainpy.md`` (tables), ``brainpy_traces.png`` (V of one neuron in
BrainPy and refsim, and |dV| over time), ``brainpy/<variant>_s<seed>/`` (write_report of
BrainPy vs refsim: tutorial vs ``tutorial``, normalized vs float64 ``tutorial-normalized``).
BrainPy's spike files go to ``--work-dir`` (default ``/tmp/refsim_brainpy``).

Runtime: one BrainPy run ~10-20 s (imports, JAX compilation, 2-3 s of loop), refsim ~1 s per
run plus ~2 s of statistics per comparison, the float32 ensemble ~15 s: about 2 min for
seeds 0-2 on 2 cores (3.5 min when the machine is shared with another job).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time

import numpy as np

import refsim
from refsim.analysis import SpikeTrains
from refsim.compare import compare, first_difference_ms, write_report
from refsim.ensemble import parse_seeds, run_ensemble, summarize
from refsim.io import read_npz, write_text
from refsim.network import draw_network
from refsim.testing import first_difference
from validation.common import REPO, RESULTS, ensemble_summaries, judge, markdown_table, pyplot, write_json
from validation.peer_pythons import BRAINPY_PYTHON, module_command, require

N, N_EXC, DT = 4000, 3200, 0.1


@functools.cache
def _require_brainpy(python: str) -> str:
    """The BrainPy interpreter, checked once (it exists and imports brainpy and jax)."""
    return require(python, "brainpy")


def run_brainpy(variant: str, seed: int, args) -> str:
    """BrainPy's run of ``variant`` for ``seed`` (cached in --work-dir with --reuse)."""
    out = os.path.join(args.work_dir, f"brainpy_{variant}_s{seed}.npz")
    if not (args.reuse and os.path.exists(out)):
        _require_brainpy(args.bp_python)
        print(f"  BrainPy {variant} seed {seed}", flush=True)
        p = subprocess.run(module_command(args.bp_python, "validation.brainpy.run_brainpy",
                                          "--variant", variant, "--seed", seed, "--out", out),
                           capture_output=True, text=True, cwd=REPO)
        if p.returncode != 0:
            raise RuntimeError(f"run_brainpy failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return out


def load_brainpy(path: str) -> dict:
    d = read_npz(path, "BrainPy run file")
    d["versions"] = json.loads(str(d["versions"]))
    d["trains"] = SpikeTrains(d["spike_steps"] * DT, d["spike_neurons"], N, N_EXC, 1000.0)
    return d


def run_refsim(preset: str, bp: dict, seed: int, **overrides):
    """refsim on BrainPy's connectivity and V0 (g0 = 0, as in BrainPy)."""
    cfg = refsim.get_preset(preset, **overrides)
    conn = refsim.from_index_arrays(bp["conn_e"], bp["conn_i"])
    own, _ = draw_network(cfg, seed)  # what refsim.simulate(cfg, seed) would draw
    same_conn = bool(np.array_equal(own.indptr, conn.indptr) and np.array_equal(own.indices, conn.indices)
                     and np.array_equal(own.counts, conn.counts))
    res = refsim.simulate(cfg, seed, connectivity=conn, initial={"V": bp["V0"]},
                          record=bp["record"], record_vars=("V",), progress=False)
    return res, same_conn


def exact_row(label: str, bp: dict, res, same_conn: bool) -> dict:
    """Spike-for-spike agreement of a BrainPy run and a refsim run of the same network."""
    k = first_difference(bp["spike_steps"], bp["spike_neurons"], res.spike_steps, res.spike_neurons)
    counts_bp = np.bincount(bp["spike_neurons"], minlength=N)
    counts_rs = np.bincount(res.spike_neurons, minlength=N)
    n_rec = bp["V_trace"].shape[0]
    dv = np.abs(res.traces["V"][:n_rec].astype(np.float64) - bp["V_trace"].astype(np.float64))
    return {"refsim": label, "n_spikes_brainpy": int(bp["spike_steps"].size),
            "n_spikes_refsim": int(res.n_spikes), "first_differing_step": k,
            "identical_1s": k is None, "per_neuron_counts_equal": bool(np.array_equal(counts_bp, counts_rs)),
            "neurons_with_different_count": int(np.count_nonzero(counts_bp != counts_rs)),
            "refsim_conn_from_seed_equals_brainpy": same_conn,
            "trace_max_abs_dV_mV": {f"first_{s}_steps": float(dv[:s].max()) for s in (10, 100, 1000, n_rec)},
            "refsim_wall_s": res.wall_time}


def traces_figure(cases: list, path: str, neuron_col: int = 0, n_steps: int = 1000) -> None:
    """V of one recorded neuron (BrainPy vs refsim float32 and float64), and |dV| over time."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    bp = cases[0][1]
    t = np.arange(1, n_steps + 1) * DT
    axes[0].plot(t, bp["V_trace"][:n_steps, neuron_col], color="k", lw=1.6, label="BrainPy 2.9, normalized")
    for (label, _, res), color, ls in zip(cases, ("#2ca02c", "#e67e22", "#1f77b4"), ("--", ":", "-"),
                                           strict=True):
        v = res.traces["V"][:n_steps, neuron_col]
        axes[0].plot(t, v, color=color, lw=0.9, ls=ls, label=f"refsim {label}")
        dv = np.abs(v.astype(np.float64) - bp["V_trace"][:n_steps, neuron_col].astype(np.float64))
        axes[1].semilogy(t, np.maximum(dv, 1e-9), color=color, lw=0.8, label=f"refsim {label}")
    axes[0].set_ylabel("V (mV)")
    axes[0].set_title(f"neuron {int(bp['record'][neuron_col])}, seed {int(bp['seed'])}: "
                      "tutorial with weights in siemens (R g = 0.6 / 6.7)", fontsize=9)
    axes[0].legend(fontsize=7, frameon=False)
    axes[1].axhline(np.spacing(np.float32(50)), color="grey", lw=0.6, ls="--")
    axes[1].text(t[-1], np.spacing(np.float32(50)) * 1.3, "1 float32 ulp at 50 mV", fontsize=7, ha="right")
    axes[1].set_ylabel("|V_refsim - V_BrainPy| (mV)")
    axes[1].set_xlabel("Time (ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results: dict) -> str:
    exact = []
    for r in results["exact"]:
        k = r["first_differing_step"]
        exact.append([r["brainpy"], r["refsim"], r["seed"],
                      f"{r['n_spikes_brainpy']} / {r['n_spikes_refsim']}",
                      "none (10 000 steps identical)" if k is None else f"{k} ({k * DT:.1f} ms)",
                      "all equal" if r["per_neuron_counts_equal"]
                      else f"{r['neurons_with_different_count']} differ",
                      f"{r['trace_max_abs_dV_mV']['first_2000_steps']:.3g}"])
    keys = results["stat_keys"]
    statistical = [[r["brainpy"], r["refsim"], r["seed"]] + [
        f"{r['judged'][k]['brainpy']:.4g} / {r['judged'][k]['refsim']:.4g} (z {r['judged'][k]['z']:+.2f})"
        + ("" if r["judged"][k]["within"] else " **out**") for k in keys]
        for r in results["statistical"]]
    f32 = [[k, f"{v['float32_mean']:.4g} ± {v['float32_sd']:.2g}",
            f"{v['float64_mean']:.4g} ± {v['float64_sd']:.2g}", f"{v['diff_over_se']:+.2f}"]
           for k, v in results["float32_ensemble"].items()]
    n = len(results["ensemble_seeds"])
    md = ["# refsim vs BrainPy 2.9", "", "## Spike for spike (same connectivity, BrainPy's V0)", "",
          markdown_table(["BrainPy", "refsim", "seed", "spikes BrainPy / refsim",
                          "first differing step", "per-neuron counts",
                          "max abs dV, 2000 steps (mV)"], exact),
          "", f"## Statistics over [{results['t_start_ms']:g}, 1000) ms, z = (BrainPy - refsim) / seed SD",
          "", markdown_table(["BrainPy", "refsim", "seed", *keys], statistical),
          "", f"## float32 vs float64: `tutorial-normalized` ensembles ({n} seeds, refsim's own V0)", "",
          markdown_table(["statistic", "float32", "float64 (the preset)",
                          "difference / its standard error"], f32)]
    return "\n".join(md) + "\n"


def tutorial_as_written(seed: int, args, ens_sd: dict, results: dict) -> None:
    """(a): the tutorial as written vs the ``tutorial`` preset, into ``results``."""
    bp = load_brainpy(run_brainpy("tutorial", seed, args))
    results["versions"] = {"brainpy_side": bp["versions"]}
    res, same = run_refsim("tutorial", bp, seed)
    results["versions"]["refsim_side"] = res.versions
    results["exact"].append({"brainpy": "tutorial as written", "seed": seed,
                             "brainpy_wall_s": float(bp["wall_s"]),
                             **exact_row("`tutorial`", bp, res, same)})
    labels = ("refsim tutorial", "BrainPy tutorial")
    c = compare(res, bp["trains"], t_start=args.t_start, seed=seed, labels=labels)
    results["statistical"].append({
        "brainpy": "tutorial as written", "refsim": "`tutorial`", "seed": seed,
        "judged": judge(c["statistics"][labels[0]], c["statistics"][labels[1]], ens_sd,
                        args.sd_factor, other="brainpy"),
        "comparison": c})
    if seed == args.first_seed:
        write_report(c, res, bp["trains"], os.path.join(args.out_dir, "brainpy", f"tutorial_s{seed}"))


def normalized_units(seed: int, args, ens_sd: dict, results: dict) -> None:
    """(b): the tutorial with weights in siemens vs ``tutorial-normalized`` (float32 with XLA's
    arithmetic, float32 IEEE, and the float64 preset), into ``results``."""
    bp = load_brainpy(run_brainpy("normalized", seed, args))
    cases = []
    for label, over in (("`tutorial-normalized` float32, xla",
                         dict(dtype="float32", arithmetic="xla", expm1="xla")),
                        ("`tutorial-normalized` float32, ieee", dict(dtype="float32")),
                        ("`tutorial-normalized` (float64)", {})):
        res, same = run_refsim("tutorial-normalized", bp, seed, **over)
        cases.append((label.replace("`", ""), bp, res))
        results["exact"].append({"brainpy": "normalized (siemens)", "seed": seed,
                                 "brainpy_wall_s": float(bp["wall_s"]),
                                 **exact_row(label, bp, res, same)})
    res64 = cases[-1][2]
    labels = ("refsim tutorial-normalized", "BrainPy normalized")
    c = compare(res64, bp["trains"], t_start=args.t_start, seed=seed, labels=labels)
    results["statistical"].append({
        "brainpy": "normalized (siemens)", "refsim": "`tutorial-normalized` (float64)",
        "seed": seed, "first_difference_ms": first_difference_ms(res64, bp["trains"]),
        "judged": judge(c["statistics"][labels[0]], c["statistics"][labels[1]], ens_sd,
                        args.sd_factor, other="brainpy"),
        "comparison": c})
    if seed == args.first_seed:
        write_report(c, res64, bp["trains"],
                     os.path.join(args.out_dir, "brainpy", f"normalized_s{seed}"))
        traces_figure(cases, os.path.join(args.out_dir, "brainpy_traces.png"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0:3")
    ap.add_argument("--t-start", type=float, default=200.0)
    ap.add_argument("--sd-factor", type=float, default=2.0)
    ap.add_argument("--brainpy-python", "--bp-python", dest="bp_python", default=BRAINPY_PYTHON,
                    help="the BrainPy venv's interpreter (default: %(default)s, from "
                         "REFSIM_PEER_VENVS)")
    ap.add_argument("--work-dir", default="/tmp/refsim_brainpy")
    ap.add_argument("--out-dir", default=RESULTS)
    ap.add_argument("--ensembles", default=os.path.join(RESULTS, "ensembles.json"))
    ap.add_argument("--jobs", type=int, default=2, help="worker processes of the float32 ensemble")
    ap.add_argument("--reuse", action="store_true", help="keep existing BrainPy spike files")
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    args.first_seed = seeds[0]  # its reports and figure are written
    os.makedirs(args.work_dir, exist_ok=True)
    args.work_dir = os.path.abspath(args.work_dir)  # BrainPy runs in the repository root
    ens, ens_sd = ensemble_summaries(args.ensembles, ("tutorial", "tutorial-normalized"),
                                     args.t_start)

    t_all = time.perf_counter()
    results = {"seeds": seeds, "t_start_ms": args.t_start, "sd_factor": args.sd_factor,
               "ensemble_seeds": ens["seeds"], "exact": [], "statistical": []}
    for seed in seeds:
        tutorial_as_written(seed, args, ens_sd["tutorial"], results)
        normalized_units(seed, args, ens_sd["tutorial-normalized"], results)
        for r in results["exact"][-4:]:
            print(f"seed {seed} BrainPy {r['brainpy']:22s} vs {r['refsim']:38s} spikes "
                  f"{r['n_spikes_brainpy']} / {r['n_spikes_refsim']}, first differing step "
                  f"{r['first_differing_step']}, max|dV| "
                  f"{r['trace_max_abs_dV_mV']['first_2000_steps']:.3g} mV", flush=True)
    # (c) is float32 itself a systematic change? refsim's tutorial-normalized in float32
    # (= BrainPy's arithmetic) over the ensemble's seeds, against the float64 ensemble
    rows32 = run_ensemble("tutorial-normalized", ens["seeds"], jobs=args.jobs, t_start=args.t_start,
                          overrides=dict(dtype="float32"))
    s32, s64 = summarize(rows32), ens_sd["tutorial-normalized"]
    results["float32_ensemble"] = {
        k: {"float32_mean": s32[k]["mean"], "float32_sd": s32[k]["sd"], "float64_mean": s64[k]["mean"],
            "float64_sd": s64[k]["sd"],
            "diff_over_se": (s32[k]["mean"] - s64[k]["mean"]) / np.hypot(s32[k]["sem"], s64[k]["sem"])}
        for k in s64 if k in s32 and k not in ("n_spikes", "wall_time_s")}
    results["stat_keys"] = list(results["statistical"][0]["judged"])
    results["wall_s"] = time.perf_counter() - t_all
    write_json(os.path.join(args.out_dir, "brainpy.json"), results)
    write_text(os.path.join(args.out_dir, "brainpy.md"), markdown(results))
    print(f"wrote {args.out_dir}/brainpy.json, brainpy.md, brainpy_traces.png ({results['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
