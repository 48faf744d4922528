#!/usr/bin/env python
"""The golden digests: SHA-256 of the raster and final state of fixed runs, on any machine.

Run with refsim's environment from the repository root::

    python -m validation.golden_digests            # recompute with every CPU engine, compare
    python -m validation.golden_digests --quick    # only the quick cases (a smoke test)
    python -m validation.golden_digests --write    # (re)write tests/data/golden_digests.json

Each case is a preset, overrides and a seed; its digests (``SimulationResult.digest``: the
raster as little-endian int64 steps then int32 neurons, the final V, g_e, g_i, t_last as
little-endian numbers of the run's float type) are computed by the NumPy oracle and the Numba
engine, which must agree, and compared with ``--golden`` (default
``tests/data/golden_digests.json``; exit status 1 when the engines disagree or a digest
changed); ``--write`` writes them there, with the machine they were made on.
``tests/test_golden.py`` recomputes them with every CPU engine (and the small ones with the
CUDA engine in Numba's simulator), and ``tests/test_machine_independence.py`` in processes
that see another CPU: any IEEE-754 machine, OS, NumPy build or engine must
reproduce them bit for bit. A digest that changes is a change of refsim's arithmetic, never
noise: rewrite the file only together with the change that explains it.

The cases: every preset at N = 4 000 for the full second at three seeds; the presets in the
other float type and with the other expm1; a run whose conductances put every block of
neurons on expm1's general path (|dt J| > 0.5 ln 2, recomputed lane by lane in the Numba
engine); and small networks that cover both
schedules, both integrators, both resets, both threshold tests, both float types and every
arithmetic, XLA's only where it is verified against BrainPy (R_g != 1, RI_ext != 0). Never
``expm1='libm'``: that one is machine-dependent on purpose. The ``quick`` cases are short
enough for the subprocess tests.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import refsim
from validation.common import REPO, cpu_name, write_json

OUT = os.path.join(REPO, "tests", "data", "golden_digests.json")

SMALL = dict(n_exc=80, n_inh=20, p_conn=0.2, duration=200.0)


def cases() -> list[dict]:
    """Every golden case: name, preset, overrides, seed, and whether it is quick (< 1 s)."""
    out = []
    for preset in ("tutorial", "tutorial-normalized", "brette2007-coba"):
        for seed in (0, 1, 2):
            out.append(dict(name=f"{preset} s{seed}", preset=preset, overrides={}, seed=seed))
    out += [
        dict(name="tutorial-normalized float32 s0", preset="tutorial-normalized",
             overrides=dict(dtype="float32"), seed=0),
        dict(name="tutorial-normalized float32 fused-update xla-expm1 s1",
             preset="tutorial-normalized",
             overrides=dict(dtype="float32", arithmetic="fused-update", expm1="xla"), seed=1),
        dict(name="tutorial fused-update s1", preset="tutorial",
             overrides=dict(arithmetic="fused-update", expm1="portable"), seed=1),
        dict(name="tutorial portable expm1 s0", preset="tutorial",
             overrides=dict(expm1="portable"), seed=0),
        dict(name="brette2007-coba float32 s0", preset="brette2007-coba",
             overrides=dict(dtype="float32"), seed=0),
        dict(name="brette2007-coba exp_euler s0", preset="brette2007-coba",
             overrides=dict(integrator="exp_euler"), seed=0),
        # g_i ~ N(150, 30): |dt J| ~ 0.75 at first, expm1's reduction with k = -1 and -2
        dict(name="tutorial-normalized far expm1 s0", preset="tutorial-normalized",
             overrides=dict(g_i0_mean=150.0, g_i0_std=30.0, duration=300.0), seed=0),
    ]
    small = [
        ("brainpy exp_euler soft >= float32 xla", "tutorial", dict(R_g=0.5, w_e=4.0, w_i=16.0)),
        ("brainpy exp_euler soft >= float64", "tutorial-normalized", dict(w_e=3.0, w_i=10.0)),
        ("brainpy euler hard > float64", "tutorial-normalized",
         dict(integrator="euler", reset="hard", threshold_test=">", w_e=3.0, w_i=10.0)),
        ("brainpy euler soft > float32", "tutorial-normalized",
         dict(integrator="euler", threshold_test=">", dtype="float32", w_e=3.0, w_i=10.0)),
        ("brette euler hard > float64", "brette2007-coba", dict(RI_ext=25.0, w_e=2.0)),
        ("brette exp_euler soft >= float64", "brette2007-coba",
         dict(RI_ext=25.0, integrator="exp_euler", reset="soft", threshold_test=">=")),
        ("brette exp_euler hard > float32", "brette2007-coba",
         dict(RI_ext=25.0, integrator="exp_euler", dtype="float32", w_e=3.0)),
        ("brette euler soft >= float32 xla", "brette2007-coba",
         dict(RI_ext=25.0, R_g=0.5, w_e=1.2, w_i=13.4, reset="soft", threshold_test=">=",
              dtype="float32", arithmetic="xla")),
        ("brainpy exp_euler hard > float32 xla", "tutorial",
         dict(R_g=0.5, w_e=4.0, w_i=16.0, reset="hard", threshold_test=">")),
    ]
    for name, preset, over in small:
        for seed in (0, 7):
            out.append(dict(name=f"small {name} s{seed}", preset=preset,
                            overrides={**SMALL, **over}, seed=seed, quick=True))
    # tiny networks (32 neurons, 150 steps), short enough for the CUDA simulator
    tiny = [("tiny brainpy xla float32", "tutorial", dict(R_g=0.5, w_e=4.0, w_i=16.0)),
            ("tiny brainpy ieee float64", "tutorial-normalized", dict(w_e=3.0, w_i=10.0)),
            ("tiny brette euler float64", "brette2007-coba",
             dict(RI_ext=40.0, g_e0_mean=1.0, g_e0_std=0.5, g_i0_mean=2.0, g_i0_std=1.0)),
            ("tiny brette exp_euler float32", "brette2007-coba",
             dict(RI_ext=40.0, integrator="exp_euler", dtype="float32", g_e0_mean=1.0,
                  g_e0_std=0.5, g_i0_mean=2.0, g_i0_std=1.0)),
            ("tiny brainpy far expm1 float64", "tutorial-normalized",
             dict(w_e=3.0, w_i=10.0, g_e0_mean=150.0, g_e0_std=30.0))]
    for name, preset, over in tiny:
        out.append(dict(name=f"{name} s3", preset=preset, seed=3, quick=True,
                        overrides=dict(n_exc=24, n_inh=8, p_conn=0.25, duration=15.0, **over)))
    out.append(dict(name="tutorial 200 ms s3", preset="tutorial", overrides=dict(duration=200.0),
                    seed=3, quick=True))
    out.append(dict(name="tutorial-normalized 200 ms s3", preset="tutorial-normalized",
                    overrides=dict(duration=200.0), seed=3, quick=True))
    for c in out:
        c.setdefault("quick", False)
    return out


def run_case(case: dict, engine: str) -> dict:
    """The digests and spike count of one case with one engine."""
    cfg = refsim.get_preset(case["preset"], **case["overrides"])
    r = refsim.simulate(cfg, case["seed"], engine=engine, progress=False)
    if not r.complete:
        raise RuntimeError(f"{case['name']}: {r.message}")
    return {**r.digest(), "n_spikes": r.n_spikes}


def machine() -> dict:
    import numba
    import numpy as np
    from numpy._core._multiarray_umath import __cpu_features__ as features
    return {"cpu": cpu_name(), "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__,
            "numpy_cpu_features": sorted(k for k, v in features.items() if v)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--golden", default=OUT, help="the digests file (default: %(default)s)")
    ap.add_argument("--write", action="store_true", help="write the digests to --golden")
    ap.add_argument("--quick", action="store_true", help="only the quick cases (not with --write)")
    ap.add_argument("--engines", nargs="+", default=["numpy", "numba"])
    args = ap.parse_args(argv)
    if args.write and args.quick:
        ap.error("--write writes every case: not with --quick")
    golden = {}
    if os.path.exists(args.golden):
        with open(args.golden) as fh:
            golden = {c["name"]: c for c in json.load(fh)["cases"]}
    out, failures = [], 0
    for case in cases():
        if args.quick and not case["quick"]:
            continue
        t0 = time.perf_counter()
        results = {e: run_case(case, e) for e in args.engines}
        first = results[args.engines[0]]
        agree = all(r == first for r in results.values())
        known = golden.get(case["name"])
        same = known is not None and all(known[k] == first[k] for k in ("raster", "state"))
        failures += (not agree) + (known is not None and not same and not args.write)
        print(f"{case['name']:45s} {first['n_spikes']:7d} spikes  raster {first['raster'][:16]}  "
              f"state {first['state'][:16]}  engines {'agree' if agree else 'DIFFER'}  "
              f"{'golden ok' if same else ('NEW' if known is None else 'CHANGED')}  "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
        out.append({**case, **first})
    if args.write:
        if failures:
            print("engines disagree: nothing written")
            return 1
        write_json(args.golden, {"made_on": machine(), "date": time.strftime("%Y-%m-%d"),
                                 "cases": out})
        print(f"wrote {args.golden}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
