#!/usr/bin/env python
"""The chaos baseline of ``refsim validate --same-network``, measured for every preset.

Run from the repository root with refsim's environment::

    python -m validation.chaos_envelope                 # ~5 min on 2 cores

For each preset and network seed, :func:`refsim.validate.chaos_baseline` (``--runs`` runs per
perturbation: one neuron's V0 up by one ulp; one neuron's V0 above threshold, an extra spike
at t = 0) gives each perturbed run's first differing spike and decorrelation time
(:func:`refsim.validate.decorrelation_ms`) against the unperturbed run; and, to see where the
network starts to amplify, runs with one neuron's V0 moved by ``--sizes`` mV. Writes
``validation/results/chaos_envelope.json`` and ``chaos_envelope.md`` (median and 5-95 %
of each time, "never" = identical rasters for the whole run).
"""
from __future__ import annotations

import argparse
import math
import os
import sys

from refsim import get_preset, network_inputs, preset_names, simulate
from refsim.compare import first_difference_ms
from refsim.io import write_text
from refsim.validate import DEFAULT_BASELINE_RUNS, DEFAULT_T_START, chaos_baseline, envelope
from validation.common import RESULTS, versions, write_json


def shifted(config, seed, runs, size_mv) -> list[float]:
    """First differing spike (ms; inf: never) of ``runs`` runs with neuron k N // runs's V0
    moved up by ``size_mv`` against the unperturbed run."""
    base = simulate(config, seed, progress=False)
    out = []
    for k in range(runs):
        conn, init = network_inputs(config, seed)
        init["V"][(k * config.n_neurons) // runs] += size_mv
        other = simulate(config, None, connectivity=conn, initial=init, progress=False)
        fd = first_difference_ms(base, other)
        out.append(math.inf if fd is None else fd)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", action="append", help="default: every preset")
    p.add_argument("--seeds", type=int, default=2, help="network seeds 0 .. n-1")
    p.add_argument("--runs", type=int, default=DEFAULT_BASELINE_RUNS)
    p.add_argument("--sizes", type=float, nargs="*", default=[1e-9, 1e-6, 1e-3, 0.1])
    p.add_argument("--out-dir", default=RESULTS)
    args = p.parse_args(argv)
    results = {"versions": versions(), "runs": args.runs, "seeds": args.seeds, "presets": {}}
    lines = ["| preset | one ulp: first difference | extra spike: first difference | "
             "extra spike: decorrelated (10 ms bins) | "
             + " | ".join(f"V0 + {s:g} mV: first difference" for s in args.sizes) + " |",
             "|---|---|---|---|" + "---|" * len(args.sizes)]
    for preset in args.preset or preset_names():
        config = get_preset(preset)
        times = {"ulp": [], "spike": [], "spike_decorrelation": [], **{str(s): [] for s in args.sizes}}
        for seed in range(args.seeds):
            b = chaos_baseline(config, seed, args.runs, DEFAULT_T_START)
            times["ulp"] += b.values["ulp"]["first_difference_ms"].tolist()
            times["spike"] += b.values["spike"]["first_difference_ms"].tolist()
            times["spike_decorrelation"] += b.values["spike"]["decorrelation_ms"].tolist()
            for s in args.sizes:
                times[str(s)] += shifted(config, seed, args.runs, s)
        results["presets"][preset] = times
        cells = [envelope(times[k]) for k in ("ulp", "spike", "spike_decorrelation")]
        cells += [envelope(times[str(s)]) for s in args.sizes]
        lines.append(f"| `{preset}` | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    write_json(os.path.join(args.out_dir, "chaos_envelope.json"), results)
    write_text(os.path.join(args.out_dir, "chaos_envelope.md"), "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
