#!/usr/bin/env python
"""Which of XLA's rewrites decide BrainPy's spikes: refsim's arithmetic variants, seeds 0-9.

Run with refsim's environment from the repository root, after
``validation.brainpy.compare_brainpy`` (whose BrainPy runs of the tutorial it reuses from
``--work-dir``)::

    python -m validation.brainpy.variants --seeds 0:10        # ~3 min

Each variant is the ``tutorial`` preset with another ``arithmetic`` or ``expm1``, run on
BrainPy's connectivity and V0; for each seed it reports the first step whose spikes differ
from BrainPy's (:func:`refsim.testing.first_difference`) and the number of (step, neuron)
events found in only one of the two rasters. Writes ``--out`` (default
``validation/results/brainpy_variants.json``) and a markdown table on stdout. The ``libm``
rows depend on the machine's C library (here: glibc's FMA build on an AVX-512 CPU).
"""
from __future__ import annotations

import argparse
import os
import sys

from refsim.ensemble import parse_seeds
from refsim.testing import first_difference
from validation.brainpy.compare_brainpy import load_brainpy, run_refsim
from validation.common import RESULTS, markdown_table, write_json

VARIANTS = {
    "XLA's arithmetic and expm1 (the `tutorial` preset)": {},
    "XLA's expm1, IEEE arithmetic with the V update fused (refsim 0.1's arithmetic)":
        dict(arithmetic="fused-update"),
    "XLA's expm1, IEEE arithmetic": dict(arithmetic="ieee"),
    "XLA's arithmetic, refsim's portable expm1": dict(expm1="portable"),
    "XLA's arithmetic, the C library's expm1": dict(expm1="libm"),
    "IEEE arithmetic with the V update fused, the C library's expm1 (refsim 0.1's Numba engine)":
        dict(arithmetic="fused-update", expm1="libm"),
}


def differing(bp: dict, res) -> tuple[int | None, int]:
    """The first differing step and the number of events in one raster only."""
    a = set(zip(bp["spike_steps"].tolist(), bp["spike_neurons"].tolist(), strict=True))
    b = set(zip(res.spike_steps.tolist(), res.spike_neurons.tolist(), strict=True))
    first = first_difference(bp["spike_steps"], bp["spike_neurons"], res.spike_steps,
                             res.spike_neurons)
    return first, len(a ^ b)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0:10")
    ap.add_argument("--work-dir", default="/tmp/refsim_brainpy")
    ap.add_argument("--out", default=os.path.join(RESULTS, "brainpy_variants.json"))
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    rows = {}
    for name, over in VARIANTS.items():
        rows[name] = {}
        for seed in seeds:
            bp = load_brainpy(os.path.join(args.work_dir, f"brainpy_tutorial_s{seed}.npz"))
            res, _ = run_refsim("tutorial", bp, seed, **over)
            first, n = differing(bp, res)
            rows[name][seed] = {"first_differing_step": first, "differing_events": n}
        print(name, rows[name], flush=True)
    write_json(args.out, {"seeds": seeds, "variants": rows})
    cell = lambda r: "same" if r["first_differing_step"] is None else \
        f"{r['first_differing_step']}/{r['differing_events']}"
    print("\n" + markdown_table(["variant", *(f"s{s}" for s in seeds)],
                                [[name, *(cell(by_seed[s]) for s in seeds)]
                                 for name, by_seed in rows.items()]))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
