#!/usr/bin/env python
"""Engine benchmark: wall time, µs per step, synaptic events per second and peak memory.

Run with refsim's environment from the repository root::

    python -m validation.bench_engines                      # the full table (~25 min)
    python -m validation.bench_engines --sizes 4000 --repeats 1 --no-peers   # a quick look
    python -m validation.bench_engines --sizes 4000 --presets brette2007-coba --repeats 1 \
        --no-peers --out /tmp/bench.json                     # a smoke test (~2 min)

For every engine, preset and network size N it runs 1 s of network time (dt = 0.1 ms) in a
fresh worker process (``validation.bench_worker``), so that each row's peak RSS is its own,
and reports:

* ``loop_s``: the time loop only (``SimulationResult.wall_time``; connectivity build and
  compilation excluded), the best of ``--repeats`` runs (one run above N = 4 000);
  ``us_per_step`` = loop_s / steps;
* ``events_per_s``: synaptic events delivered (spikes x their synapse counts) per second of
  wall time; ``spikes_per_s``: spikes per second of wall time;
* ``build_s``: drawing the connectivity and initial state; ``peak_rss_mib``: the worker's
  maximum resident set size (build, run and result together; the ISI statistics of
  ``summary()`` are not computed, their temporaries are the analysis's, not the engine's);
* ``compile_s`` (Numba only): the first call in a process with an empty Numba cache directory,
  minus the same call once the cache is warm.

**Before and after, side by side.** Every engine row is also run with the refsim of
``--baseline`` (a git revision, default the last commit before refsim computed its own
``expm1``), exported with ``git archive`` to a temporary directory and put first on the
workers' ``sys.path`` (``validation.bench_worker`` explains how): rows ``numba@before`` and
``numpy@before``. The ratio after/before
is printed per preset and N.

**A hand-written C loop** of the same step (``validation/c_loop/coba.c``, libm's ``expm1``,
``gcc -O3 -march=native -ffp-contract=off``) runs on the identical network in the same
invocation (``--no-c-loop`` skips it); refsim / C is printed per preset and N.

The ``cuda`` engine (when a real GPU is usable, or with ``--engines cuda``) adds rows for N in
``--gpu-sizes`` (4 000 to 4 000 000); its warm-up run compiles the kernels.

At N = 4 000 each preset's own network is used; at larger N the connectivity is fixed
out-degree 80 (``p_conn = 80 / N``, the preset's generator), weights unchanged, so the cost per
spike stays comparable. The NumPy oracle runs 100 ms instead of 1 s above N = 40 000 (its
µs per step is what matters; ``loop_s`` is then scaled to 1 s and flagged ``scaled``).

It also times ``refsim run --preset tutorial`` end to end in a fresh process (interpreter
start, build, loop, files, raster PNG) with a warm cache, and, when their environments exist,
the peers on the same machine in the same invocation:

* BrainPy 2.9's tutorial as written (``validation.brainpy.time_tutorial``, Python 3.12 venv,
  ``--brainpy-python``), against the ``tutorial`` preset;
* Brian2 ``cpp_standalone`` (``validation.peers.brian2_run``, Python 3.13 venv,
  ``--brian2-python``) on the identical network and initial state: ``exponential_euler`` for
  ``tutorial-normalized`` and ``euler`` for ``brette2007-coba``; once with Brian2's default
  compiler flags (``-ffast-math``: reassociation, reciprocal multiplication, vectorized ``exp``)
  and once with ``--strict-math`` (IEEE arithmetic as refsim's, no FMA contraction), the fair
  comparison for a bit-reproducible reference.

Ratios are peer time / refsim time measured in this one invocation: these machines are noisy,
numbers from different runs should not be divided by each other. Results go to a JSON file
(``--out``) and a table on stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

from validation.common import REPO, RESULTS, cpu_name, run_json, versions, write_json
from validation.peer_pythons import BRAINPY_PYTHON, PEER_PYTHON, module_command
from validation.peers.export_network import export

PRESETS = ("tutorial", "tutorial-normalized", "brette2007-coba")
#: The last commit before refsim computed its own expm1 (numba engine calling libm; 0.1.0).
BASELINE = "6131547"
PEER_PRESET = {"brainpy": "tutorial", "brian2-exp_euler": "tutorial-normalized",
               "brian2-euler": "brette2007-coba", "brian2-exp_euler-strict": "tutorial-normalized",
               "brian2-euler-strict": "brette2007-coba"}


def _run_json(cmd, env=None, timeout=1800, cwd=REPO) -> dict:
    """:func:`validation.common.run_json`, with a failure as an error record (a failing row
    must not lose the table)."""
    try:
        return run_json(cmd, env=env, timeout=timeout, cwd=cwd)
    except RuntimeError as e:
        return {"error": str(e)[-500:]}


def _worker(*args, env=None, refsim_dir=None) -> dict:
    """``validation.bench_worker`` in a fresh process, importing the refsim in ``refsim_dir``
    (default: this repository's)."""
    cmd = module_command(sys.executable, "validation.bench_worker", *args)
    if refsim_dir is None:
        return _run_json(cmd, env=env)
    env = {**(env or os.environ), "PYTHONPATH": os.pathsep.join([refsim_dir, REPO])}
    r = _run_json(cmd, env=env, cwd=refsim_dir)
    if "error" not in r and not r["refsim_path"].startswith(refsim_dir):
        return {"error": f"the worker imported {r['refsim_path']}, not the refsim of {refsim_dir}"}
    return r


def export_baseline(rev: str, directory: str) -> str:
    """The refsim of git revision ``rev``, as files in ``directory`` (for PYTHONPATH)."""
    archive = subprocess.run(["git", "-C", REPO, "archive", rev, "refsim"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
    return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", rev], capture_output=True,
                          text=True, check=True).stdout.strip()


def c_loop_row(preset: str, n: int) -> dict:
    """The C loop on the preset's network at size n (validation.c_loop.run_c_loop)."""
    from validation.c_loop.run_c_loop import run_c_loop
    try:
        r = run_c_loop(preset, 0, None if n == 4000 else n)
    except Exception as e:  # a failing row must not lose the table
        return {"engine": "C loop", "preset": preset, "n": n, "error": repr(e)[-300:]}
    return {"engine": "C loop", "preset": preset, "n": n, "loop_s": r["loop_s"],
            "us_per_step": r["us_per_step"], "spikes": r["n_spikes"], "flags": r["compile_flags"],
            "gcc": r["gcc_version"]}


def end_to_end() -> dict:
    """``refsim run --preset tutorial`` in a fresh process, warm cache: best of 2 after one."""
    exe = shutil.which("refsim", path=os.path.dirname(sys.executable)) or "refsim"
    times = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(3):
            t0 = time.perf_counter()
            p = subprocess.run([exe, "run", "--preset", "tutorial", "--out", out, "--no-progress"],
                               capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if p.returncode != 0:
                return {"error": p.stderr.strip()[-300:]}
    return {"command": "refsim run --preset tutorial", "wall_s": min(times[1:]),
            "first_s": times[0]}


def peers(args) -> list[dict]:
    """Peer timings on the same machine, now (see the module docstring)."""
    out = []
    if args.brainpy_python and os.path.exists(args.brainpy_python):
        r = _run_json(module_command(args.brainpy_python, "validation.brainpy.time_tutorial",
                                     "--repeats", args.repeats))
        out.append({"peer": "brainpy", **r})
    if args.brian2_python and os.path.exists(args.brian2_python):
        with tempfile.TemporaryDirectory() as tmp:
            for integrator, preset in (("exp_euler", "tutorial-normalized"), ("euler", "brette2007-coba")):
                net = os.path.join(tmp, f"{preset}.npz")
                try:
                    export(net, preset, 0)
                except Exception as e:  # a failing peer must not lose the table
                    out.append({"peer": f"brian2-{integrator}", "error": f"export failed: {e!r}"[-300:]})
                    continue
                for strict in (False, True):  # Brian2's default -ffast-math, and without it
                    name = f"brian2-{integrator}" + ("-strict" if strict else "")
                    r = _run_json(module_command(
                        args.brian2_python, "validation.peers.brian2_run", net,
                        "--device", "cpp_standalone",
                        "--integrator", "exponential_euler" if integrator == "exp_euler" else "euler",
                        "--build-dir", os.path.join(tmp, "build-" + name),
                        "--out", os.path.join(tmp, name + ".npz"),
                        *(["--strict-math"] if strict else [])))
                    out.append({"peer": name, **r})
    return out


def table(rows, head):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True))
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 40000, 400000])
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    ap.add_argument("--engines", nargs="+", choices=["numba", "numpy", "cuda"],
                    help="default: numba, numpy, and cuda when a real GPU is usable")
    ap.add_argument("--gpu-sizes", type=int, nargs="+", default=[4000, 40000, 400000, 4000000],
                    help="N for the cuda engine")
    ap.add_argument("--repeats", type=int, default=3, help="runs per row; the best counts")
    ap.add_argument("--numpy-max-n", type=int, default=40000,
                    help="above this N the NumPy engine runs 100 ms, scaled to 1 s")
    ap.add_argument("--brainpy-python", default=BRAINPY_PYTHON)
    ap.add_argument("--brian2-python", default=PEER_PYTHON)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--baseline", default=BASELINE,
                    help="git revision of the 'before' rows ('' to skip them)")
    ap.add_argument("--before-max-n", type=int, default=40000,
                    help="largest N of the 'before' rows")
    ap.add_argument("--no-c-loop", action="store_true")
    ap.add_argument("--c-loop-max-n", type=int, default=40000)
    ap.add_argument("--out", default=os.path.join(RESULTS, "bench_engines.json"))
    args = ap.parse_args(argv)

    if args.engines is None:
        args.engines = ["numba", "numpy"] + (["cuda"] if _real_gpu() else [])
    report = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                          "cpu": cpu_name(), "cores": os.cpu_count()},
              "versions": versions(),
              "date": time.strftime("%Y-%m-%d %H:%M"), "compile": [], "rows": [], "peers": []}
    if "numba" in args.engines:
        for dtype in ("float32", "float64"):
            with tempfile.TemporaryDirectory() as cache:
                r = _worker("compile", dtype, env={**os.environ, "NUMBA_CACHE_DIR": cache})
            report["compile"].append(r)
            print(f"compile numba {dtype}: {r.get('compile_s', r.get('error'))}", flush=True)
    before_dir = tempfile.mkdtemp(prefix="refsim_before_") if args.baseline else None
    if before_dir:
        report["baseline"] = export_baseline(args.baseline, before_dir)
    for n in sorted(set(args.sizes) | (set(args.gpu_sizes) if "cuda" in args.engines else set())):
        for preset in args.presets:
            for engine in args.engines:
                if n not in (args.gpu_sizes if engine == "cuda" else args.sizes):
                    continue
                duration = 100.0 if engine == "numpy" and n > args.numpy_max_n else 1000.0
                repeats = args.repeats if n <= 4000 else 1  # large runs: one repeat
                refsims = [("", None)]
                if before_dir and engine != "cuda" and n <= args.before_max_n:
                    refsims.append(("@before", before_dir))
                for label, refsim_dir in refsims:  # after, then before: side by side
                    r = _worker("row", engine, preset, n, duration, "--repeats", repeats,
                                refsim_dir=refsim_dir)
                    r["engine"] = engine + label
                    if "error" not in r and duration != 1000.0:
                        r.update(loop_s=r["loop_s"] * 1000.0 / duration, scaled=True)
                    report["rows"].append(r)
                    print(json.dumps(r), flush=True)
                    write_json(args.out, report)  # a late failure never loses the rows measured
            if not args.no_c_loop and n <= args.c_loop_max_n:
                r = c_loop_row(preset, n)
                report["rows"].append(r)
                print(json.dumps(r), flush=True)
                write_json(args.out, report)
    if before_dir:
        shutil.rmtree(before_dir, ignore_errors=True)
    report["end_to_end"] = end_to_end()
    print(json.dumps(report["end_to_end"]), flush=True)
    write_json(args.out, report)
    if not args.no_peers:
        report["peers"] = peers(args)
        for r in report["peers"]:
            print(json.dumps(r), flush=True)

    write_json(args.out, report)
    print_report(report)
    print(f"\nwrote {args.out}")
    return 0


def print_report(report):
    rows = [r for r in report["rows"] if "error" not in r and r["engine"] != "C loop"]
    num = lambda r, k, f: format(r[k], f) if k in r else "-"  # noqa: E731
    print("\n" + table([[r["engine"], r["preset"], r["n"], r["spikes"], f"{r['loop_s']:.3f}"
                         + ("*" if r.get("scaled") else ""), f"{r['us_per_step']:.1f}",
                         num(r, "events_per_s", ".3g"), num(r, "spikes_per_s", ".3g"),
                         num(r, "build_s", ".2f"), num(r, "peak_rss_mib", ".0f")] for r in rows],
                       ["engine", "preset", "N", "spikes", "loop_s", "us/step", "events/s",
                        "spikes/s", "build_s", "RSS MiB"]))
    print_comparison(report)
    if any(r.get("scaled") for r in rows):
        print("* NumPy engine run for 100 ms, loop_s scaled to 1 s")
    for r in report["rows"]:
        if "error" in r:
            print("row failed:", r["error"])
    for c in report["compile"]:
        print(f"Numba compile time ({c.get('dtype')}): {c.get('compile_s', float('nan')):.1f} s")
    e = report.get("end_to_end", {})
    if "wall_s" in e:
        print(f"end to end, `{e['command']}`, warm cache: {e['wall_s']:.2f} s "
              f"(first process: {e['first_s']:.2f} s)")
    numba4k = {r["preset"]: r["loop_s"] for r in rows if r["engine"] == "numba" and r["n"] == 4000}
    for p in report["peers"]:
        preset = PEER_PRESET.get(p["peer"])
        if "error" in p or preset not in numba4k:
            print(f"peer {p['peer']}: {p.get('error', 'no matching refsim row')}")
            continue
        print(f"peer {p['peer']} on {preset}: loop {p['loop_s']:.3f} s "
              f"(compile {p.get('compile_s', 0):.1f} s) vs refsim numba {numba4k[preset]:.3f} s: "
              f"ratio peer/refsim = {p['loop_s'] / numba4k[preset]:.2f}")


def print_comparison(report):
    """us/step side by side per (preset, N): after, before, the C loop, and the ratios."""
    by = {}
    for r in report["rows"]:
        if "error" not in r:
            by[(r["preset"], r["n"], r["engine"])] = r["us_per_step"]
    keys = sorted({(p, n) for p, n, _ in by}, key=lambda k: (k[1], PRESETS.index(k[0])))
    out = []
    for p, n in keys:
        g = lambda e, p=p, n=n: by.get((p, n, e))
        f = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        ratio = lambda a, b: "-" if a is None or b is None else f"{a / b:.2f}"  # noqa: E731
        out.append([p, n, f(g("numba")), f(g("numba@before")), ratio(g("numba"), g("numba@before")),
                    f(g("numpy")), f(g("numpy@before")), ratio(g("numpy"), g("numpy@before")),
                    f(g("C loop")), ratio(g("numba"), g("C loop"))])
    if out:
        print(f"\nus per step, this refsim vs refsim {report.get('baseline', '(no baseline)')} and "
              "the C loop (libm expm1), one invocation:")
        print(table(out, ["preset", "N", "numba", "numba before", "after/before", "numpy",
                          "numpy before", "after/before", "C loop", "numba/C"]))


def _real_gpu() -> bool:
    """A usable NVIDIA GPU, not Numba's simulator."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    try:
        from numba import cuda
        return bool(cuda.is_available())
    except ImportError:
        return False


if __name__ == "__main__":
    sys.exit(main())
