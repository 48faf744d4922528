#!/usr/bin/env python
"""refsim's values for the configurations whose statistics have been published (docs/published.md).

Run from the repository root with refsim's environment::

    python -m validation.published            # ~3 min on 2 cores

Each entry of :data:`CONFIGURATIONS` is the configuration a published number refers to, as
its source states it (docs/published.md gives the source and the quoted text), written as
overrides of a refsim preset; refsim runs it over ``seeds`` and reports the quantity the
source printed, mean and SD (ddof = 1) over the seeds. Writes
``validation/results/published.json``.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from refsim import get_preset, simulate
from refsim.analysis import firing_rates
from validation.common import RESULTS, versions, write_json

# ANNarchy's docs notebook "COBA and CUBA networks" (notebooks/COBA.ipynb): BrainPy's
# tutorial-normalized equations and parameters, fixed-probability connectivity without
# self-connections, and a random initial v, g_exc and g_inh.
_ANNARCHY = {"conn_rule": "bernoulli", "multapses": False, "autapses": False, "conn_rng": "pcg64",
             "V0_mean": -55.0, "V0_std": 5.0, "g_e0_mean": 4.0, "g_e0_std": 1.5,
             "g_i0_mean": 20.0, "g_i0_std": 12.0}

#: name -> (preset, overrides, seeds, quantity, description). Quantities: 'rate_all' (spikes of
#: all neurons / N / duration, Hz), 'rate_e' (mean rate of the E neurons, Hz).
CONFIGURATIONS = {
    "annarchy_coba_euler": ("tutorial-normalized", {**_ANNARCHY, "integrator": "euler"}, 20, "rate_all",
                            "ANNarchy COBA notebook, explicit Euler (ANNarchy's default method)"),
    "annarchy_coba_exp_euler": ("tutorial-normalized", _ANNARCHY, 20, "rate_all",
                                "ANNarchy COBA notebook, exponential Euler"),
    "snn_comparison": ("tutorial-normalized",
                       {"w_e": 0.4, "w_i": 5.1, "V0_mean": -60.0, "V0_std": 0.0, "conn_rule": "bernoulli",
                        "multapses": False, "conn_rng": "pcg64", "duration": 100_000.0},
                       3, "rate_e", "SNNSimulatorComparison Vogels-Abbott benchmark, 100 s"),
    "tutorial_normalized": ("tutorial-normalized", {}, 20, "rate_all", "refsim's preset"),
    "brette2007_coba": ("brette2007-coba", {}, 20, "rate_all", "refsim's preset"),
}


def quantity(run, name) -> float:
    rates = firing_rates(run)
    return float(rates.mean() if name == "rate_all" else rates[:run.config.n_exc].mean())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", help="names of CONFIGURATIONS (default all)")
    p.add_argument("--out-dir", default=RESULTS)
    args = p.parse_args(argv)
    out = {"versions": versions(), "configurations": {}}
    for name in args.only or CONFIGURATIONS:
        preset, overrides, seeds, what, description = CONFIGURATIONS[name]
        config = get_preset(preset, **overrides)
        values = [quantity(simulate(config, seed, progress=False), what) for seed in range(seeds)]
        out["configurations"][name] = {
            "preset": preset, "overrides": overrides, "seeds": seeds, "quantity": what,
            "description": description, "values": values, "mean": float(np.mean(values)),
            "sd": float(np.std(values, ddof=1)), "min": float(np.min(values)), "max": float(np.max(values))}
        r = out["configurations"][name]
        print(f"{name:26s} {what}: {r['mean']:.3f} +- {r['sd']:.3f} Hz "
              f"[{r['min']:.3f}, {r['max']:.3f}] over {seeds} seeds", flush=True)
    write_json(os.path.join(args.out_dir, "published.json"), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
