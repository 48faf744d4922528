#!/usr/bin/env python
"""Run BrainPy 2.9's Tutorial 3 network, as written or with normalized units, and save spikes.

Run with the BrainPy venv's interpreter (see README.md beside this file), NOT with refsim's
environment, from the repository root; ``compare_brainpy`` (refsim's environment) calls it and
reads its files::

    P=.venvs/bp312/bin/python      # the BrainPy venv (validation/peer_pythons.py)
    $P -m validation.brainpy.run_brainpy --variant tutorial --seed 0 --out /tmp/bp_tut_s0.npz
    $P -m validation.brainpy.run_brainpy --variant normalized --seed 0 --out /tmp/bp_norm_s0.npz

Variants
--------
``tutorial``
    The tutorial's ``EINet`` (``tutorial.EINet`` with the tutorial's mS): R = 1 ohm (LIFRef's
    default), weights 0.6 mS / 6.7 mS, 20 mA input. R * g = 1e-3 per mS: what refsim's
    ``tutorial`` preset computes.
``normalized``
    The same network with the weights in **siemens** (``tutorial.EINet(u.siemens)``):
    ``conn_weight=0.6 * u.siemens`` and ``6.7 * u.siemens``, everything else unchanged
    (R = 1 ohm, 20 mA). Then R * g_e = 1 ohm x 0.6 S = 0.6 (dimensionless), i.e. the weights
    are in units of the leak conductance 1/R, R * g = 1 per unit of weight: refsim's ``tutorial-normalized``
    (R_g = 1, w = 0.6 / 6.7). The weight mantissas stay 0.6 and 6.7 (float32) and every unit
    conversion factor in the traced step becomes 1.0 (exact), so the float32 arithmetic is
    the tutorial's with R_g = 1 (the alternative, 600 mS / 6700 mS, would insert 1e-3
    factors and round differently). This is the only change; the V0 draw, connectivity draw,
    soft reset, refractoriness and step order are the tutorial's.

Seeding is the tutorial's (``tutorial.build``): ``np.random.seed(seed)`` for the
connectivity (legacy NumPy RNG, E then I targets) and ``brainstate.random.seed(seed)`` for V0.

Output ``.npz`` (no pickles): ``spike_steps``, ``spike_neurons`` (int32; step = row of
BrainPy's spike matrix, as in the fixture), ``V0`` (float32, mV), ``record`` (int32 neuron
ids) and ``V_trace`` (float32, (n_record_steps, n_record), V after each step in mV, the first
``--record-steps`` steps), ``conn_e``, ``conn_i`` (int32 target index arrays), ``weight_unit``,
``wall_s``, ``compile_s``, ``versions`` (JSON).

One run takes ~10 s (imports ~5 s, the 10 000-step loop 2-3 s including JAX compilation).
"""
from __future__ import annotations

import argparse
import json
import sys

import brainunit as u
import numpy as np

from validation.brainpy import tutorial as bp


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", choices=("tutorial", "normalized"), required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--record", default="0,1,2,3,3200,3201",
                    help="neurons whose V is saved (comma-separated)")
    ap.add_argument("--record-steps", type=int, default=2000)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    record = np.array([int(x) for x in args.record.split(",")], dtype=np.int32)

    net = bp.build(args.seed, args.variant)
    V0 = bp.mantissa(net.N.V.value).astype(np.float32, copy=True)
    conn_e = np.asarray(net.E.comm.conn.indices).astype(np.int32)
    conn_i = np.asarray(net.I.comm.conn.indices).astype(np.int32)
    ref_e, ref_i = bp.legacy_numpy_targets(args.seed)
    conn_ok = np.array_equal(conn_e, ref_e) and np.array_equal(conn_i, ref_i)
    w_unit = str(u.get_unit(net.E.comm.weight.value))
    _, spikes, trace, wall, comp = bp.run(net, record)
    trace = np.asarray(trace)[:args.record_steps]
    steps, neurons = np.nonzero(np.asarray(spikes))
    versions = bp.collect_versions()
    np.savez_compressed(
        args.out, spike_steps=steps.astype(np.int32), spike_neurons=neurons.astype(np.int32),
        V0=V0, record=record, V_trace=trace.astype(np.float32), conn_e=conn_e, conn_i=conn_i,
        conn_matches_legacy_numpy=np.bool_(conn_ok), weight_unit=np.array(w_unit),
        variant=np.array(args.variant), seed=np.int64(args.seed), wall_s=np.float64(wall),
        compile_s=np.float64(comp), versions=np.array(json.dumps(versions, sort_keys=True)))
    print(json.dumps({"variant": args.variant, "seed": args.seed, "n_spikes": int(steps.size),
                      "rate_e_hz": float((neurons < 3200).sum() / 3200),
                      "rate_i_hz": float((neurons >= 3200).sum() / 800),
                      "weight_unit": w_unit, "conn_ok": bool(conn_ok), "wall_s": wall,
                      "compile_s": comp, "out": args.out}))
    return 0 if conn_ok else 1


if __name__ == "__main__":
    sys.exit(main())
