#!/usr/bin/env python
"""Calibration of ``refsim validate``: its false-alarm rate and its power against known defects.

Run with refsim's environment from the repository root::

    python -m validation.calibrate_validate                         # both AI presets, N = 4000, 1 s
    python -m validation.calibrate_validate --held-out 20 --defect-runs 5 --set n_exc=320 --set n_inh=80

For each preset (default ``tutorial-normalized`` and ``brette2007-coba``) it builds the
reference ensemble of ``refsim validate`` (seeds 0 .. ``--seeds``-1) and then, every run through
the command line (:func:`refsim.cli.main`, in worker processes):

* **false alarms**: ``refsim run --seed S`` for ``--held-out`` seeds S = 10 000, 10 001, ...
  (never in the reference), each judged by ``refsim validate spikes.npz --preset P``; a run
  judged inconsistent (exit 1) is a false alarm;
* **power**: ``refsim run --seed S --set <defect>`` for ``--defect-runs`` seeds S = 20 000, ...
  per defect of :func:`defects`, judged against the preset *without* the defect; exit 1 is a
  detection;
* **same network** (``--same-network-runs`` n > 0): the candidate ran the network and
  initial state of seed S = k mod 10 (``refsim validate --same-network --seed S``). Correct
  candidates are refsim runs of that network in which one neuron (not one the chaos
  baseline kicks) fires an extra spike at t = 0 (``--initial-state``): a correct simulator
  whose raster has come apart from refsim's; the defect runs are ``refsim run --seed S --set
  <defect>`` for the first n seeds.

The rates come with their Clopper-Pearson 95 % intervals (``scipy.stats.binomtest``).
Outputs (``--out-dir``, default ``validation/results/``): ``calibration.json`` (every run's
exit status and failing tests) and ``calibration.md`` (the table of ``docs/validation.md``).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from refsim.cli import main as refsim_main
from refsim.cli import parse_set
from refsim.io import write_text
from refsim.presets import get_preset
from refsim.simulate import simulate
from refsim.validate import DEFAULT_BASELINE_RUNS, DEFAULT_SEEDS, perturbed_inputs, reference, validate
from validation.common import RESULTS, versions, write_json

PRESETS = ("tutorial-normalized", "brette2007-coba")
HELD_OUT_START, DEFECT_START = 10_000, 20_000


#: The known defects of issue 13: id -> the row of the table.
DEFECTS = {
    "refractory": "refractory period one step too long",
    "delay": "synaptic delay one step off (the other step order)",
    "w_i": "inhibitory weight 5 % low",
    "threshold": "threshold test flipped (`>` for `>=`, or back)",
    "integrator": "integrator flipped (forward for exponential Euler, or back)",
    "float32": "float32 instead of float64",
}


def defects(config) -> dict[str, dict]:
    """The overrides of each defect of :data:`DEFECTS` for ``config``: each is the other value of
    one choice the specification makes (docs/model.md), so every preset has all six. For the
    brette step order the delay defect is one step *longer* (spikes act a step later, BrainPy's
    order); for the brainpy order, one step *shorter*."""
    return {
        "refractory": {"tau_ref": round(config.tau_ref + config.dt, 12)},
        "delay": {"schedule": "brainpy" if config.schedule == "brette" else "brette"},
        "w_i": {"w_i": round(config.w_i * 0.95, 12)},
        "threshold": {"threshold_test": ">" if config.threshold_test == ">=" else ">="},
        "integrator": {"integrator": "euler" if config.integrator == "exp_euler" else "exp_euler"},
        "float32": {"dtype": "float32"},
    }


def _cli(argv) -> tuple[int, str]:
    """``refsim ARGV`` in this process: (exit status, its stdout)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = refsim_main(argv)
    return status, out.getvalue()


def one(job) -> dict:
    """Run one job ``(preset, base overrides, seed, defect overrides, seeds, cache)`` through the
    CLI: ``refsim run`` then ``refsim validate``; its row."""
    preset, base, seed, defect, n_seeds, cache, kick = job
    sets = [f"--set={k}={v}" for k, v in {**base, **defect}.items()]
    same = [] if kick is None else ["--same-network", "--seed", str(seed)]
    with tempfile.TemporaryDirectory() as d:
        start = []
        if kick is not None and kick >= 0:     # one extra spike of neuron `kick` at t = 0
            _, init = perturbed_inputs(get_preset(preset, **base), seed, kick, "spike")
            np.savez(os.path.join(d, "init.npz"), **init)
            start = ["--initial-state", os.path.join(d, "init.npz")]
        t0 = time.perf_counter()
        status, _ = _cli(["run", "--preset", preset, "--seed", str(seed), *sets, *start,
                          "--out", os.path.join(d, "run"), "--no-progress", "--no-figures"])
        if status != 0:
            return {"seed": seed, "error": f"refsim run exit {status}"}
        t1 = time.perf_counter()
        base_sets = [f"--set={k}={v}" for k, v in base.items()]
        status, text = _cli(["validate", os.path.join(d, "run", "spikes.npz"), "--preset", preset,
                             *base_sets, *same, "--seeds", str(n_seeds), "--cache-dir", cache,
                             "--no-progress"])
    failed = [line[:58].strip() for line in text.splitlines()  # the label column of FAIL lines
              if line.rstrip().endswith("FAIL") or "  FAIL  (" in line]
    return {"seed": seed, "kick": kick, "status": status, "failed": failed, "run_s": t1 - t0,
            "validate_s": time.perf_counter() - t1}


def effect_sizes(preset, base, n_runs, n_seeds, cache) -> dict:
    """Per defect, the mean over ``n_runs`` defect runs (seeds DEFECT_START + k, the power
    runs' seeds) of each test's t (the candidate's distance from the reference mean in units
    of the prediction SD, :func:`refsim.validate.validate`), and the same for correct runs
    (held-out seeds): how far each defect moves each statistic."""
    config = get_preset(preset, **base)
    cases = {"correct": {}, **defects(config)}
    out = {}
    for name, defect in cases.items():
        ts = {}
        for k in range(n_runs):
            seed = (HELD_OUT_START if name == "correct" else DEFECT_START) + k
            run = simulate(get_preset(preset, **{**base, **defect}), seed, progress=False)
            verdict = validate(run, preset, base, seeds=n_seeds, cache=cache, progress=False)
            for t in verdict.tests:
                ts.setdefault(t["name"], []).append(t["t"])
        out[name] = {k: float(np.nanmean(v)) for k, v in ts.items()}
    return out


def rate(rows) -> dict:
    """Fraction of rows with exit 1, with its Clopper-Pearson 95 % interval."""
    from scipy.stats import binomtest
    n = sum(1 for r in rows if r.get("status") in (0, 1))
    k = sum(1 for r in rows if r.get("status") == 1)
    ci = binomtest(k, n).proportion_ci(0.95) if n else None
    return {"k": k, "n": n, "rate": k / n if n else float("nan"),
            "ci95": [ci.low, ci.high] if ci else [float("nan")] * 2}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", action="append", help=f"default: {', '.join(PRESETS)}")
    p.add_argument("--held-out", type=int, default=100)
    p.add_argument("--defect-runs", type=int, default=20)
    p.add_argument("--same-network-runs", type=int, default=0,
                   help="correct runs of the same-network mode (defects: min(n, 10) each)")
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="reference seeds")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter of every run (e.g. a smaller network)")
    p.add_argument("--effect-runs", type=int, default=0,
                   help="runs per defect of the effect sizes (mean t of every test), in this process")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out-dir", default=RESULTS)
    args = p.parse_args(argv)
    base = parse_set(args.set)
    results = {"versions": versions(), "seeds": args.seeds, "overrides": base, "presets": {}}
    cache = tempfile.mkdtemp(prefix="refsim-calibration-")
    context = multiprocessing.get_context("spawn")
    for preset in args.preset or PRESETS:
        config = get_preset(preset, **base)
        t0 = time.perf_counter()
        reference(preset, base, args.seeds, engine="numba", jobs=args.jobs, cache=cache)
        build_s = time.perf_counter() - t0
        jobs = {"correct": [(preset, base, HELD_OUT_START + k, {}, args.seeds, cache, None)
                            for k in range(args.held_out)]}
        for name, defect in defects(config).items():
            jobs[name] = [(preset, base, DEFECT_START + k, defect, args.seeds, cache, None)
                          for k in range(args.defect_runs)]
        if args.same_network_runs:
            kicked = {(k * config.n_neurons) // DEFAULT_BASELINE_RUNS for k in range(DEFAULT_BASELINE_RUNS)}
            free = [i for i in range(1, config.n_neurons, 7) if i not in kicked]
            # by seed, so that each worker's memoized chaos baseline serves its next jobs
            jobs["same:correct"] = sorted(((preset, base, k % 10, {}, args.seeds, cache, free[k % len(free)])
                                           for k in range(args.same_network_runs)), key=lambda j: j[2])
            for name, defect in defects(config).items():
                jobs[f"same:{name}"] = [(preset, base, k, defect, args.seeds, cache, -1)
                                        for k in range(min(args.same_network_runs, 10))]
        out = {"reference_build_s": build_s, "rows": {}, "rates": {}, "defects": defects(config)}
        with ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
            for name, batch in jobs.items():
                if not batch:
                    continue
                rows = list(pool.map(one, batch))
                out["rows"][name], out["rates"][name] = rows, rate(rows)
                r = out["rates"][name]
                print(f"{preset:20s} {name:12s} {r['k']:3d} / {r['n']:3d} = {r['rate']:.2f} "
                      f"[{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]", flush=True)
        if args.effect_runs:
            out["effects"] = effect_sizes(preset, base, args.effect_runs, args.seeds, cache)
        results["presets"][preset] = out
    write_json(os.path.join(args.out_dir, "calibration.json"), results)
    write_text(os.path.join(args.out_dir, "calibration.md"), table(results))
    print(table(results))
    return 0


def table(results) -> str:
    """The calibration table: per preset and case, the fraction judged inconsistent."""
    presets = list(results["presets"])
    lines = ["| case | " + " | ".join(f"`{p}`" for p in presets) + " |",
             "|---|" + "---|" * len(presets)]
    names = []
    for p in presets:
        names += [n for n in results["presets"][p]["rates"] if n not in names]
    for name in names:
        mode, _, case = name.rpartition(":")
        label = ("correct runs: false alarms" if case == "correct" else DEFECTS[case]) + (
            " (same network)" if mode else "")
        cells = []
        for p in presets:
            r = results["presets"][p]["rates"].get(name)
            cells.append("-" if r is None else f"{r['k']} / {r['n']} = {100 * r['rate']:.0f} % "
                         f"[{100 * r['ci95'][0]:.0f}, {100 * r['ci95'][1]:.0f}]")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += effects_table(results)
    return "\n".join(lines) + "\n"


def effects_table(results, top=3) -> list[str]:
    """Per preset and case, the ``top`` tests with the largest mean |t| (``--effect-runs``)."""
    out = []
    for p, d in results["presets"].items():
        if "effects" not in d:
            continue
        out += ["", f"Mean t over the effect runs, `{p}`: the {top} statistics each case moves most "
                    "(t: candidate minus reference mean, in prediction SDs)", "",
                "| case | statistics (mean t) |", "|---|---|"]
        for name, ts in d["effects"].items():
            best = sorted(ts, key=lambda k: -abs(ts[k]) if np.isfinite(ts[k]) else 0)[:top]
            label = "correct runs" if name == "correct" else DEFECTS[name]
            out.append(f"| {label} | " + ", ".join(f"`{k}` {ts[k]:+.2f}" for k in best) + " |")
    return out


if __name__ == "__main__":
    sys.exit(main())
