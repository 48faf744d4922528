#!/usr/bin/env python
"""Run refsim's step as a hand-written C loop (``coba.c``, libm's expm1) and optionally check it.

Run with refsim's environment from the repository root::

    python -m validation.c_loop.run_c_loop --preset tutorial-normalized --seed 0
    python -m validation.c_loop.run_c_loop --preset tutorial --seed 1 --check
    python -m validation.c_loop.run_c_loop --preset brette2007-coba --n 40000
    python -m validation.c_loop.run_c_loop --preset tutorial --set arithmetic=fused-update --check

The config is refsim's preset with ``expm1='libm'`` (the C library's expm1, which is what the
C program calls); for ``--n`` other than 4000 it is the benchmark's network
(``validation.bench_worker.bench_config``: n_exc = 4n/5, fixed out-degree 80). The network
and initial state are ``refsim.network_inputs(cfg, seed)``, the constants
``refsim.model.Constants.from_config(cfg)`` (so a_e, a_i are refsim's bits). ``coba.c`` is
compiled with gcc (IEEE arithmetic, no FMA contraction) into the work directory, cached by a
hash of the source, flags and gcc version.

``--set FIELD=VALUE`` overrides any other Config field (schedule, integrator, reset,
threshold_test, dtype, arithmetic, ...); expm1 stays 'libm'.

``--check`` also runs ``refsim.simulate(cfg, seed, engine='numba')`` (``--engine numpy``: the
oracle, slow with libm's expm1; ``stop_on_runaway=False``, so that both run every step) and
reports whether the C raster and final state (V, g_e, g_i, t_last, compared as bits) are
identical to refsim's, and where they first differ if not (the raster:
:func:`refsim.testing.first_difference`).

The last stdout line is a JSON dict (loop_s and cpu_s of the C time loop, us_per_step,
n_spikes, compile flags, gcc version, and with --check the comparison).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import refsim
from refsim.cli import parse_set
from refsim.model import Constants
from refsim.testing import first_difference
from validation.bench_worker import bench_config

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "coba.c")
CC = "gcc"
CFLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-std=c99"]
LDFLAGS = ["-lm"]
MAGIC, VERSION = 0x4C435352, 1
#: constants.real, in coba.c's order (refsim.model.Constants field names)
CONSTANTS = ("dt", "V_rest", "V_th", "V_reset", "tau_m", "tau_ref", "RI_ext", "R_g", "tau_e",
             "tau_i", "E_e", "E_i", "w_e", "w_i", "a_e", "a_i", "jump", "r_m", "r_e", "r_i", "C")
#: header.i32's arithmetic code
ARITHMETIC = {"ieee": 0, "fused-update": 1, "xla": 2}
STATE = ("V", "g_e", "g_i", "t_last")


def make_config(preset: str, n: int | None = None, duration: float | None = None,
                overrides: dict | None = None):
    """refsim's config of the preset (bench_config's network for n != 4000), then
    ``overrides`` (any Config fields), then expm1='libm'."""
    base = refsim.get_preset(preset)
    duration = base.duration if duration is None else float(duration)
    if n is None:
        cfg = base.replace(duration=duration)
    else:
        cfg = bench_config(preset, int(n), duration)
    return cfg.replace(**(overrides or {})).replace(expm1="libm")


def gcc_version() -> str:
    return subprocess.run([CC, "--version"], capture_output=True, text=True,
                          check=True).stdout.splitlines()[0]


def compile_binary(dtype: str, workdir: str) -> str:
    """coba.c compiled for ``dtype`` into ``workdir`` (reused when source, flags and gcc match)."""
    flags = CFLAGS + (["-DREAL_IS_FLOAT"] if dtype == "float32" else [])
    with open(SOURCE, "rb") as f:
        key = hashlib.sha256(f.read() + repr((flags, LDFLAGS, gcc_version())).encode()).hexdigest()
    exe = os.path.join(workdir, f"coba_{dtype}_{key[:16]}")
    if not os.path.exists(exe):
        tmp = exe + f".tmp{os.getpid()}"
        subprocess.run([CC, *flags, "-o", tmp, SOURCE, *LDFLAGS], check=True)
        os.replace(tmp, exe)
    return exe


def write_inputs(cfg, seed: int, directory: str) -> None:
    """The network, initial state and constants of (cfg, seed) in coba.c's input format."""
    c = Constants.from_config(cfg)
    conn, init = refsim.network_inputs(cfg, seed)
    dt = c.dtype
    header = np.array([
        MAGIC, VERSION, dt.itemsize, cfg.n_neurons, cfg.n_exc, cfg.n_steps, conn.indices.size,
        0 if c.brainpy_schedule else 1, 0 if c.exp_euler else 1, 0 if c.soft_reset else 1,
        1 if c.strict_threshold else 0, ARITHMETIC[cfg.arithmetic]], "<i4")
    values = [getattr(c, name) for name in CONSTANTS]
    constants = np.array(values, dt)
    # exact: every Constants field is already a scalar of the float type
    assert all(np.asarray(v).dtype == dt and constants[i] == v for i, v in enumerate(values))
    le = dt.newbyteorder("<")
    files = {
        "header.i32": header,
        "constants.real": constants.astype(le),
        "indptr.i32": conn.indptr.astype("<i4"),
        "indices.i32": conn.indices.astype("<i4"),
        "counts.real": conn.counts.astype(le),  # simulate: connectivity.counts.astype(c.dtype)
    }
    for name in STATE:  # simulate: initial_state casts the drawn float64 values to the dtype
        files[name + ".real"] = np.asarray(init[name]).astype(le)
    os.makedirs(directory, exist_ok=True)
    for name, a in files.items():
        a.tofile(os.path.join(directory, name))


def read_outputs(directory: str, dtype, n: int):
    pairs = np.fromfile(os.path.join(directory, "spikes.i32"), "<i4").reshape(-1, 2)
    le = np.dtype(dtype).newbyteorder("<")
    state = {name: np.fromfile(os.path.join(directory, name + ".real"), le).astype(dtype)
             for name in STATE}
    assert all(a.size == n for a in state.values())
    return pairs[:, 0].copy(), pairs[:, 1].copy(), state


def _raster_difference(steps_c, neurons_c, steps_r, neurons_r) -> dict:
    """The first step at which the C and refsim rasters differ, and who spiked then in each."""
    k = first_difference(steps_c, neurons_c, steps_r, neurons_r)
    at = lambda steps, neurons: sorted(int(i) for i in neurons[steps == k])
    return {"step": k, "c_neurons": at(steps_c, neurons_c), "refsim_neurons": at(steps_r, neurons_r)}


def check_against_refsim(cfg, seed: int, steps, neurons, state, engine: str = "numba") -> dict:
    """Compare the C raster and final state bit for bit with refsim.simulate(cfg, seed)."""
    t0 = time.perf_counter()
    res = refsim.simulate(cfg, seed, engine=engine, progress=False, stop_on_runaway=False)
    out = {"engine": engine, "refsim_loop_s": res.wall_time,
           "refsim_n_spikes": int(res.n_spikes), "refsim_complete": bool(res.complete),
           "refsim_total_s": time.perf_counter() - t0}
    same_raster = (np.array_equal(steps, res.spike_steps)
                   and np.array_equal(neurons, res.spike_neurons))
    out["raster_identical"] = bool(same_raster)
    if not same_raster:
        out["first_raster_difference"] = _raster_difference(
            steps, neurons, np.asarray(res.spike_steps), np.asarray(res.spike_neurons))
    uint = {4: np.uint32, 8: np.uint64}[np.dtype(cfg.dtype).itemsize]
    state_same = {}
    for name in STATE:
        a = np.asarray(state[name]).view(uint)
        b = np.asarray(res.final_state[name], cfg.dtype).view(uint)
        state_same[name] = bool(np.array_equal(a, b))
        if not state_same[name]:
            j = int(np.flatnonzero(a != b)[0])
            out.setdefault("first_state_difference", {})[name] = {
                "neuron": j, "c": float(state[name][j]), "refsim": float(res.final_state[name][j]),
                "n_differ": int(np.count_nonzero(a != b))}
    out["final_state_identical"] = state_same
    out["bit_identical"] = bool(same_raster and all(state_same.values()))
    return out


def run_c_loop(preset: str, seed: int = 0, n: int | None = None, duration: float | None = None,
               workdir: str | None = None, check: bool = False, engine: str = "numba",
               overrides: dict | None = None) -> dict:
    """Build the inputs of (preset, seed), run coba.c on them and return a JSON-able summary.

    ``n``: network size (None: the preset's own network, 4000); ``duration`` in ms (None: the
    preset's); ``workdir``: where the binary (cached) and the input/output files go (default
    ``$TMPDIR/refsim_c_loop``); ``check``: compare with ``refsim.simulate(cfg, seed, engine)``;
    ``overrides``: other Config fields (e.g. ``{'reset': 'hard'}``; expm1 is always 'libm').
    """
    cfg = make_config(preset, n, duration, overrides)
    workdir = os.path.abspath(workdir or os.path.join(tempfile.gettempdir(), "refsim_c_loop"))
    os.makedirs(workdir, exist_ok=True)
    exe = compile_binary(cfg.dtype, workdir)
    tag = f"{preset}_s{seed}_n{cfg.n_neurons}_d{cfg.duration:g}"
    if overrides:
        tag += "_" + hashlib.sha256(repr(sorted(overrides.items())).encode()).hexdigest()[:8]
    in_dir, out_dir = os.path.join(workdir, "in_" + tag), os.path.join(workdir, "out_" + tag)
    t0 = time.perf_counter()
    write_inputs(cfg, seed, in_dir)
    build_s = time.perf_counter() - t0
    os.makedirs(out_dir, exist_ok=True)
    p = subprocess.run([exe, in_dir, out_dir], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{exe} exited {p.returncode}: {p.stderr.strip()}")
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    steps, neurons, state = read_outputs(out_dir, cfg.dtype, cfg.n_neurons)
    assert steps.size == summary["n_spikes"]
    result = {
        "preset": preset, "seed": seed, "n": cfg.n_neurons, "n_exc": cfg.n_exc,
        "duration_ms": cfg.duration, "n_steps": cfg.n_steps, "dtype": cfg.dtype,
        "schedule": cfg.schedule, "integrator": cfg.integrator, "arithmetic": cfg.arithmetic,
        "expm1": cfg.expm1, "overrides": dict(overrides or {}), "loop_s": summary["loop_s"],
        "cpu_s": summary["cpu_s"], "us_per_step": summary["us_per_step"],
        "n_spikes": summary["n_spikes"], "build_inputs_s": build_s,
        "compiler": CC,
        "compile_flags": CFLAGS + (["-DREAL_IS_FLOAT"] if cfg.dtype == "float32" else []) + LDFLAGS,
        "gcc_version": gcc_version(), "binary": exe, "out_dir": out_dir,
    }
    if check:
        result["check"] = check_against_refsim(cfg, seed, steps, neurons, state, engine)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", required=True, choices=refsim.preset_names())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, help="network size (default: the preset's, 4000)")
    p.add_argument("--duration", type=float, help="ms (default: the preset's, 1000)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a Config field (repeatable; expm1 stays 'libm')")
    p.add_argument("--workdir", help="binary cache and files (default $TMPDIR/refsim_c_loop)")
    p.add_argument("--check", action="store_true",
                   help="compare bit for bit with refsim.simulate(cfg, seed, engine)")
    p.add_argument("--engine", default="numba", choices=["numba", "numpy"],
                   help="refsim engine of --check (numpy: the oracle; slow with expm1='libm')")
    args = p.parse_args(argv)
    try:
        overrides = parse_set(args.set)
    except refsim.ConfigError as e:
        p.error(str(e))
    r = run_c_loop(args.preset, args.seed, args.n, args.duration, args.workdir, args.check,
                   args.engine, overrides)
    line = f"C loop: {r['preset']} seed {r['seed']} N = {r['n']}: {r['loop_s']:.4f} s " \
           f"({r['us_per_step']:.1f} us/step), {r['n_spikes']} spikes"
    if "check" in r:
        line += f"; refsim {r['check']['engine']}: {r['check']['refsim_n_spikes']} spikes, " \
                f"{'BIT-IDENTICAL' if r['check']['bit_identical'] else 'DIFFERENT'}"
    print(line)
    print(json.dumps(r))
    return 0 if not args.check or r["check"]["bit_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
