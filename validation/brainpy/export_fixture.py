#!/usr/bin/env python
"""Export a small test fixture from BrainPy 2.9 itself (Tutorial 3, the COBA E/I network).

Run with the BrainPy venv's interpreter (see README.md beside this file), NOT with refsim's
environment, from the repository root::

    .venvs/bp312/bin/python -m validation.brainpy.export_fixture --seed 0

It builds the tutorial's ``EINet`` as in the tutorial text (``validation.brainpy.tutorial``:
same class, same parameters, dt = 0.1 ms, 1000 ms, 20 mA input, JAX's default float32),
seeded from ``--seed``:

* ``np.random.seed(seed)``: ``brainstate.nn.EventFixedProb`` (= ``EventFixedNumConn``) with
  ``seed=None`` draws its target indices with the legacy global NumPy RNG,
  ``np.random.randint(0, n_post, size=(n_pre, conn_num))``, E projection first, then I.
* ``brainstate.random.seed(seed)``: ``braintools.init.Normal`` draws V0 from
  ``brainstate.random`` (JAX's RNG) inside ``init_all_states``.

It checks that the connectivity held by the two projections equals the legacy NumPy draw,
runs the 10 000 steps twice (the second time after re-seeding and re-initialising, to time the
run without compilation and to check determinism) and writes
``tests/data/brainpy29_tutorial_seed<seed>.npz`` (no object arrays; loadable with
``allow_pickle=False``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import brainstate
import brainunit as u
import jax
import numpy as np

from validation import REPO
from validation.brainpy.tutorial import (
    N_EXC,
    N_INH,
    N_STEPS,
    N,
    build,
    collect_versions,
    legacy_numpy_targets,
    mantissa,
    reinit,
    run,
)

N_STEPS_STORED = 3000


def sha256_int64(a) -> str:
    a = np.ascontiguousarray(np.asarray(a), dtype=np.int64)
    return hashlib.sha256(a.tobytes(order="C")).hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None,
                    help="output .npz (default: tests/data/brainpy29_tutorial_seed<seed>.npz)")
    ap.add_argument("--pbar", action="store_true",
                    help="use the tutorial's ProgressBar(10) (numerically irrelevant; slows the run)")
    args = ap.parse_args(argv)
    seed = args.seed
    out = args.out or os.path.join(REPO, "tests", "data", f"brainpy29_tutorial_seed{seed}.npz")

    versions = collect_versions()
    print("versions:", json.dumps(versions))
    print("default float dtype:", brainstate.environ.dftype(), "| jax x64:", jax.config.jax_enable_x64)

    # ---------------------------------------------------------------- build + checks
    net = build(seed)

    idx_e = np.asarray(net.E.comm.conn.indices)
    idx_i = np.asarray(net.I.comm.conn.indices)
    ref_e, ref_i = legacy_numpy_targets(seed)
    conn_ok = (idx_e.shape == (3200, 80) and idx_i.shape == (800, 80)
               and np.array_equal(idx_e.astype(np.int64), ref_e.astype(np.int64))
               and np.array_equal(idx_i.astype(np.int64), ref_i.astype(np.int64)))
    sha_e, sha_i = sha256_int64(idx_e), sha256_int64(idx_i)
    print(f"connectivity: E {idx_e.shape} {idx_e.dtype}, I {idx_i.shape} {idx_i.dtype}; "
          f"equals np.random.seed({seed}); randint(0,4000,(3200,80)); randint(0,4000,(800,80)): {conn_ok}")
    print(f"  sha256(int64 C-order) E={sha_e}\n  sha256(int64 C-order) I={sha_i}")

    w_e, w_i = net.E.comm.weight.value, net.I.comm.weight.value
    w_e_m, w_i_m = mantissa(w_e), mantissa(w_i)
    print(f"weights: E {w_e_m.dtype} shape {w_e_m.shape} = {w_e_m!r} [{u.get_unit(w_e)}]; "
          f"I {w_i_m.dtype} shape {w_i_m.shape} = {w_i_m!r} [{u.get_unit(w_i)}]")

    V0 = mantissa(net.N.V.value).astype(np.float32, copy=True)
    assert str(u.get_unit(net.N.V.value)) == "mV", u.get_unit(net.N.V.value)
    assert V0.shape == (N,), V0.shape
    g0_e = mantissa(net.E.syn.g.value).astype(np.float32, copy=True)
    g0_i = mantissa(net.I.syn.g.value).astype(np.float32, copy=True)
    tlast0 = mantissa(net.N.last_spike_time.value)
    print(f"V0: dtype {mantissa(net.N.V.value).dtype}, mean {V0.mean():.4f} mV, sd {V0.std():.4f} mV, "
          f"min {V0.min():.4f}, max {V0.max():.4f}; #(V0 >= -50) = {int((V0 >= -50).sum())}")
    print(f"g0: E all zero {not g0_e.any()} ({g0_e.dtype}), I all zero {not g0_i.any()}; "
          f"t_last0 = {np.unique(tlast0)} ms ({tlast0.dtype})")

    # ---------------------------------------------------------------- run 1 (incl. compile)
    times, spikes, _, wall1, comp1 = run(net, pbar=args.pbar)
    times_ms = mantissa(times)
    times_ok = bool(times_ms.dtype == np.float32 and
                    np.array_equal(times_ms, np.arange(0, 1000, 0.1, dtype=np.float32)))
    S = np.asarray(spikes)
    print(f"run 1 (incl. tracing+compile): {wall1:.2f} s wall, of which JAX trace/lower/compile "
          f"{comp1:.2f} s; spike matrix {S.shape} {S.dtype}; "
          f"times {times_ms.dtype}, == np.arange(0,1000,0.1,dtype=float32): {times_ok}")
    assert S.shape == (N_STEPS, N), S.shape

    # ---------------------------------------------------------------- run 2 (re-init)
    reinit(net, seed)
    V0b = mantissa(net.N.V.value)
    _, spikes2, _, wall2, comp2 = run(net, pbar=args.pbar)
    S2 = np.asarray(spikes2)
    rerun_identical = bool(np.array_equal(V0b, V0) and np.array_equal(S2, S))
    print(f"run 2 (after re-seed + init_all_states): {wall2:.2f} s wall, of which JAX "
          f"trace/lower/compile {comp2:.2f} s (so ~{wall2 - comp2:.2f} s execution); "
          f"identical V0 and spikes: {rerun_identical}")

    # ---------------------------------------------------------------- summary
    steps, neurons = np.nonzero(S)
    n_total = int(steps.size)
    counts = np.bincount(neurons, minlength=N).astype(np.int32)
    rate_e = counts[:N_EXC].sum() / N_EXC / 1.0   # Hz over 1 s
    rate_i = counts[N_EXC:].sum() / N_INH / 1.0
    keep = steps < N_STEPS_STORED
    sp_steps = steps[keep].astype(np.int32)
    sp_neurons = neurons[keep].astype(np.int32)
    print(f"spikes: total {n_total} over 1000 ms; first {N_STEPS_STORED} steps: {sp_steps.size}; "
          f"E rate {rate_e:.3f} Hz, I rate {rate_i:.3f} Hz; spikes in row 0: {int(S[0].sum())}")

    data = dict(
        seed=np.int64(seed),
        V0=V0,
        g0_e=g0_e,
        g0_i=g0_i,
        spike_steps=sp_steps,
        spike_neurons=sp_neurons,
        n_steps_stored=np.int64(N_STEPS_STORED),
        n_steps_total=np.int64(N_STEPS),
        n_spikes_total=np.int64(n_total),
        spike_count_per_neuron=counts,
        rate_e_hz=np.float64(rate_e),
        rate_i_hz=np.float64(rate_i),
        conn_matches_legacy_numpy=np.bool_(conn_ok),
        conn_sha256_e=np.array(sha_e),
        conn_sha256_i=np.array(sha_i),
        weight_e=np.asarray(w_e_m, dtype=np.float32).reshape(()) if w_e_m.size == 1 else w_e_m,
        weight_i=np.asarray(w_i_m, dtype=np.float32).reshape(()) if w_i_m.size == 1 else w_i_m,
        weight_unit=np.array(str(u.get_unit(w_e))),
        weight_dtype=np.array(str(w_e_m.dtype)),
        times_match_np_arange_f32=np.bool_(times_ok),
        rerun_identical=np.bool_(rerun_identical),
        wall_s_first_run=np.float64(wall1),
        wall_s_second_run=np.float64(wall2),
        compile_s_first_run=np.float64(comp1),
        compile_s_second_run=np.float64(comp2),
        versions=np.array(json.dumps(versions, sort_keys=True)),
    )
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.savez_compressed(out, **data)
    with np.load(out, allow_pickle=False) as z:     # round-trip check: no object arrays
        assert all(z[k].dtype != object for k in z.files)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")
    return 0 if (conn_ok and rerun_identical) else 1


if __name__ == "__main__":
    sys.exit(main())
