#!/usr/bin/env python
"""Digests of BrainPy 2.9's tutorial rasters for seeds 0-9: the fixture of the 10-seed test.

Runs ``validation.brainpy.run_brainpy --variant tutorial`` with the BrainPy venv
(``--brainpy-python``, default ``$REFSIM_PEER_VENVS/bp312``, ``validation/peer_pythons.py``) for each seed
(or reads the files such runs wrote, ``--runs-dir``) and writes
``tests/data/brainpy29_tutorial_seeds.npz`` (no pickles), which
``tests/test_brainpy_fixture.py`` compares refsim's ``tutorial`` preset against. Run from the
repository root with any Python that has NumPy (it never imports refsim: the digests are
computed from BrainPy's own arrays)::

    python -m validation.brainpy.export_seed_digests                        # runs BrainPy
    python -m validation.brainpy.export_seed_digests --runs-dir /tmp/runs   # reuses run files

Contents: ``seeds`` (10,), ``V0`` (10, 4000) float32 (BrainPy's initial V, drawn by JAX's RNG,
so refsim cannot redraw it), ``n_spikes`` (10,), ``raster_sha256`` (10,): SHA-256 of BrainPy's
whole-second raster in the byte layout of ``refsim.SimulationResult.digest`` (spike steps as
little-endian int64, then neurons as little-endian int32, steps non-decreasing and neurons
ascending within a step, as ``np.nonzero`` of BrainPy's spike matrix gives them),
``record`` (6,) and ``V_trace_sha256`` (10,): SHA-256 of V (float32, little-endian) of the
recorded neurons after each of the first 2000 steps, ``versions`` (JSON of the BrainPy side).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys

import numpy as np

from validation import REPO
from validation.peer_pythons import BRAINPY_PYTHON, module_command, require

OUT = os.path.join(REPO, "tests", "data", "brainpy29_tutorial_seeds.npz")


def raster_sha256(steps, neurons) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(steps, "<i8").tobytes())
    h.update(np.ascontiguousarray(neurons, "<i4").tobytes())
    return h.hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--brainpy-python", "--bp-python", dest="bp_python", default=BRAINPY_PYTHON,
                    help="the BrainPy venv's interpreter (default: %(default)s, from "
                         "REFSIM_PEER_VENVS)")
    ap.add_argument("--runs-dir", default="/tmp/refsim_brainpy_seeds")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args(argv)
    args.runs_dir = os.path.abspath(args.runs_dir)  # BrainPy runs in the repository root
    os.makedirs(args.runs_dir, exist_ok=True)
    rows, checked = [], None
    for seed in args.seeds:
        path = os.path.join(args.runs_dir, f"bp_tutorial_s{seed}.npz")
        if not os.path.exists(path):
            checked = checked or require(args.bp_python, "brainpy")  # once
            subprocess.run(module_command(args.bp_python, "validation.brainpy.run_brainpy",
                                          "--variant", "tutorial", "--seed", seed, "--out", path),
                           check=True, cwd=REPO)
        with np.load(path, allow_pickle=False) as z:
            if str(z["variant"]) != "tutorial" or int(z["seed"]) != seed:
                raise SystemExit(f"{path}: not the tutorial variant of seed {seed}")
            if not bool(z["conn_matches_legacy_numpy"]):
                raise SystemExit(f"{path}: BrainPy's connectivity is not the legacy NumPy draw")
            rows.append(dict(V0=z["V0"].astype(np.float32), n=z["spike_steps"].size,
                             raster=raster_sha256(z["spike_steps"], z["spike_neurons"]),
                             record=z["record"].astype(np.int32),
                             trace=hashlib.sha256(np.ascontiguousarray(z["V_trace"], "<f4")
                                                  .tobytes()).hexdigest(),
                             versions=str(z["versions"])))
        print(f"seed {seed}: {rows[-1]['n']} spikes, raster {rows[-1]['raster'][:16]}", flush=True)
    if any(not np.array_equal(r["record"], rows[0]["record"]) for r in rows):
        raise SystemExit("the runs recorded different neurons")
    np.savez_compressed(
        args.out, seeds=np.array(args.seeds, np.int64), V0=np.stack([r["V0"] for r in rows]),
        n_spikes=np.array([r["n"] for r in rows], np.int64),
        raster_sha256=np.array([r["raster"] for r in rows]), record=rows[0]["record"],
        V_trace_sha256=np.array([r["trace"] for r in rows]),
        versions=np.array(rows[0]["versions"]))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
