#!/usr/bin/env python
"""Is XLA's float32 ``expm1`` the cause of the last spike differences with BrainPy 2.9?

Run with refsim's environment from the repository root, after ``compare_brainpy.py`` (it reads
BrainPy's spike files from its ``--work-dir``)::

    /work/venvs/dev311/bin/python validation/brainpy/replay_xla_expm1.py --seeds 1,2

refsim's NumPy oracle engine computes the voltage step factor ``dt * exprel(dt * J)`` with
libm's ``expm1``; XLA:CPU uses its own float32 ``expm1``, which differs by 1 ulp on ~0.2 % of
arguments (``xla_expm1.py``, verified bit for bit against jax 0.12). This script reruns the
``tutorial`` preset (or ``--variant normalized``: ``tutorial-normalized`` in float32 with FMA)
on BrainPy's connectivity and V0 with the NumPy engine twice: as is, and with the engine's
``exprel`` replaced *in this process only* (``refsim.engines.numpy_engine.exprel``, a
monkeypatch; refsim's files are untouched) by ``xla_expm1_f32(z) / z``. If the second run
matches BrainPy spike for spike where the first does not, the remaining differences are
XLA's ``expm1`` and nothing else. The conductance decay constants are computed once, outside
the loop, and are left as refsim computes them.

Writes ``validation/results/brainpy_xla_expm1.json``. Runtime: ~1 min per seed and variant
(the NumPy engine with the emulated expm1 and FMA, 10 000 steps).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

import refsim
import refsim.engines.numpy_engine as ne
from refsim.ensemble import parse_seeds

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xla_expm1 import xla_expm1_f32  # noqa: E402

N = 4000


def xla_exprel(z):
    """expm1(z) / z with XLA's float32 expm1 (exprel(0) = 1), as ``refsim.model.exprel``."""
    z = np.asarray(z)
    if z.dtype != np.float32:
        raise TypeError("the XLA emulation is float32 only")
    out = np.ones_like(z)
    return np.divide(xla_expm1_f32(z), z, out=out, where=z != 0)


def first_step(bp, res):
    ka = np.sort(bp["spike_steps"].astype(np.int64) * N + bp["spike_neurons"])
    kb = np.sort(res.spike_steps.astype(np.int64) * N + res.spike_neurons)
    m = min(ka.size, kb.size)
    diff = np.flatnonzero(ka[:m] != kb[:m])
    if diff.size:
        return int(min(ka[diff[0]], kb[diff[0]]) // N), int(np.setxor1d(ka, kb).size)
    return (None, 0) if ka.size == kb.size else (int((ka if ka.size > m else kb)[m] // N), abs(ka.size - kb.size))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--variant", choices=("tutorial", "normalized"), default="tutorial")
    ap.add_argument("--work-dir", default="/tmp/refsim_brainpy")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "results", "brainpy_xla_expm1.json"))
    args = ap.parse_args(argv)
    preset, over = (("tutorial", {}) if args.variant == "tutorial"
                    else ("tutorial-normalized", dict(dtype="float32", fused_update=True)))
    cfg = refsim.get_preset(preset, **over)
    rows = []
    for seed in parse_seeds(args.seeds):
        with np.load(os.path.join(args.work_dir, f"brainpy_{args.variant}_s{seed}.npz"), allow_pickle=False) as z:
            bp = {k: z[k] for k in ("spike_steps", "spike_neurons", "V0", "conn_e", "conn_i")}
        conn = refsim.from_index_arrays(bp["conn_e"], bp["conn_i"])
        row = {"variant": args.variant, "preset": preset, "overrides": over, "seed": seed}
        for label, fn in (("libm_expm1", ne.exprel), ("xla_expm1", xla_exprel)):
            saved, ne.exprel = ne.exprel, fn
            try:
                t0 = time.perf_counter()
                res = refsim.simulate(cfg, seed, engine="numpy", connectivity=conn,
                                      initial={"V": bp["V0"]}, progress=False)
            finally:
                ne.exprel = saved
            k, n_diff = first_step(bp, res)
            row[label] = {"first_differing_step": k, "spike_events_differing": n_diff,
                          "n_spikes": int(res.n_spikes), "wall_s": time.perf_counter() - t0}
            print(f"{args.variant} seed {seed}, refsim numpy engine with {label}: first differing step "
                  f"{k}, {n_diff} (step, neuron) events differ, {res.n_spikes} spikes "
                  f"(BrainPy {bp['spike_steps'].size})", flush=True)
        rows.append(row)
    existing = []
    if os.path.exists(args.out):
        with open(args.out) as fh:
            existing = [r for r in json.load(fh)["rows"] if r["variant"] != args.variant]
    with open(args.out, "w") as fh:
        json.dump({"rows": existing + rows}, fh, indent=1)
        fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
