#!/usr/bin/env python
"""Run BrainPy 2.9's Tutorial 3 network, as written or with normalized units, and save spikes.

Run with the BrainPy venv's interpreter (see README.md beside this file), NOT with refsim's
environment; ``compare_brainpy.py`` (refsim's environment) calls it and reads its files::

    $REFSIM_BRAINPY_PYTHON validation/brainpy/run_brainpy.py --variant tutorial --seed 0 --out /tmp/bp_tut_s0.npz
    $REFSIM_BRAINPY_PYTHON validation/brainpy/run_brainpy.py --variant normalized --seed 0 --out /tmp/bp_norm_s0.npz

Variants
--------
``tutorial``
    The tutorial's ``EINet`` verbatim (``export_fixture.EINet``): R = 1 ohm (LIFRef's
    default), weights 0.6 mS / 6.7 mS, 20 mA input. R * g = 1e-3 per mS: what refsim's
    ``tutorial`` preset computes.
``normalized``
    The same network with the weights in **siemens**: ``conn_weight=0.6 * u.siemens`` and
    ``6.7 * u.siemens``, everything else unchanged (R = 1 ohm, 20 mA). Then
    R * g_e = 1 ohm x 0.6 S = 0.6 (dimensionless), i.e. the weights are in units of the leak
    conductance 1/R, R * g = 1 per unit of weight: refsim's ``tutorial-normalized``
    (R_g = 1, w = 0.6 / 6.7). The weight mantissas stay 0.6 and 6.7 (float32) and every unit
    conversion factor in the traced step becomes 1.0 (exact), so the float32 arithmetic is
    the tutorial's with R_g = 1 (the alternative, 600 mS / 6700 mS, would insert 1e-3
    factors and round differently). This is the only change; the V0 draw, connectivity draw,
    soft reset, refractoriness and step order are the tutorial's.

Seeding is the tutorial's (see ``export_fixture.py``): ``np.random.seed(seed)`` for the
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
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_fixture as fx  # noqa: E402  (the tutorial's EINet, build/run helpers, versions)
from export_fixture import brainpy, brainstate, braintools, jax, np, u  # noqa: E402


class NormalizedEINet(fx.EINet):
    """The tutorial's EINet with weights in siemens: R * g = 0.6 / 6.7 (units of 1/R).

    Written out in full on purpose: ``export_fixture.EINet`` stays the tutorial's text verbatim,
    and this copy differs from it only in the two ``conn_weight`` units (mS -> siemens).
    """

    def __init__(self):
        brainstate.nn.Module.__init__(self)
        self.n_exc = 3200
        self.n_inh = 800
        self.num = self.n_exc + self.n_inh
        self.N = brainpy.state.LIFRef(
            self.num,
            V_rest=-60. * u.mV, V_th=-50. * u.mV, V_reset=-60. * u.mV,
            tau=20. * u.ms, tau_ref=5. * u.ms,
            V_initializer=braintools.init.Normal(-55., 2., unit=u.mV),
        )
        self.E = brainpy.state.AlignPostProj(
            comm=brainstate.nn.EventFixedProb(
                self.n_exc, self.num, conn_num=0.02, conn_weight=0.6 * u.siemens),
            syn=brainpy.state.Expon.desc(self.num, tau=5. * u.ms),
            out=brainpy.state.COBA.desc(E=0. * u.mV),
            post=self.N,
        )
        self.I = brainpy.state.AlignPostProj(
            comm=brainstate.nn.EventFixedProb(
                self.n_inh, self.num, conn_num=0.02, conn_weight=6.7 * u.siemens),
            syn=brainpy.state.Expon.desc(self.num, tau=10. * u.ms),
            out=brainpy.state.COBA.desc(E=-80. * u.mV),
            post=self.N,
        )


def build(variant: str, seed: int):
    np.random.seed(seed)                 # connectivity (legacy global NumPy RNG)
    brainstate.random.seed(seed)         # V0 (JAX RNG)
    net = fx.EINet() if variant == "tutorial" else NormalizedEINet()
    brainstate.nn.init_all_states(net)
    return net


def run(net, record, n_record_steps: int):
    """The tutorial's simulation cell, also returning V of ``record`` after every step."""
    fx._JAX_EVENTS.clear()
    rec = jax.numpy.asarray(record)
    with brainstate.environ.context(dt=fx.DT_MS * u.ms):
        t0 = time.perf_counter()
        times = u.math.arange(0. * u.ms, 1000. * u.ms, brainstate.environ.get_dt())

        def step(t):
            spk = net.update(t, 20. * u.mA)
            return spk, u.get_mantissa(net.N.V.value)[rec]

        spikes, trace = brainstate.transform.for_loop(step, times)
        spikes, trace = jax.block_until_ready((spikes, trace))
        wall = time.perf_counter() - t0
    compile_s = sum(fx._JAX_EVENTS.get(k, 0.0) for k in fx._COMPILE_EVENTS)
    return np.asarray(spikes), np.asarray(trace)[:n_record_steps], wall, compile_s


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

    net = build(args.variant, args.seed)
    V0 = np.asarray(u.get_mantissa(net.N.V.value)).astype(np.float32, copy=True)
    conn_e = np.asarray(net.E.comm.conn.indices).astype(np.int32)
    conn_i = np.asarray(net.I.comm.conn.indices).astype(np.int32)
    np.random.seed(args.seed)
    conn_ok = (np.array_equal(conn_e, np.random.randint(0, 4000, (3200, 80)))
               and np.array_equal(conn_i, np.random.randint(0, 4000, (800, 80))))
    w_unit = str(u.get_unit(net.E.comm.weight.value))
    S, trace, wall, comp = run(net, record, args.record_steps)
    steps, neurons = np.nonzero(S)
    versions = fx.collect_versions()
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
