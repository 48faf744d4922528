#!/usr/bin/env python
"""Engine benchmark: wall time, µs per step, synaptic events per second and peak memory.

Run with refsim's environment from the repository root::

    python -m validation.bench_engines --out validation/results/bench_engines.json
                                          # the full table, refreshing the committed one (~25 min)
    python -m validation.bench_engines --sizes 4000 --repeats 1      # a quick look (~8 min)
    python -m validation.bench_engines --sizes 4000 --presets brette2007-coba --repeats 1 \
        --no-peers --no-c-loop --baseline '' --no-compile --no-end-to-end   # a smoke test (~20 s)

Without ``--out`` the results go to a new file ``bench_engines-<date>-<time>.json`` in the
temporary directory (``$TMPDIR``, else ``/tmp``), printed at the start and the end: only an
explicit ``--out validation/results/bench_engines.json`` replaces the committed table.

**The machine.** Every timing depends on it, so the JSON (``machine``) and the printed
tables' header state it: CPU model, logical cores (and those this process may use), NumPy's
SIMD level at run time (``np.show_runtime()``'s dispatch targets found on this CPU; the
highest is ``simd``), FMA, Python and the platform (:func:`validation.common.machine`). The
peers run on the same machine in the same invocation.

For every engine, preset and network size N it runs 1 s of network time (dt = 0.1 ms) in a
fresh worker process (``validation.bench_worker``), so that each row's peak RSS is its own,
and reports:

* ``loop_s``: the time loop only (``SimulationResult.wall_time``; connectivity build and
  compilation excluded), the best of ``--repeats`` runs (one run above N = 4 000);
  ``us_per_step`` = loop_s / steps;
* ``events_per_s``: synaptic events delivered (spikes x their synapse counts) per second of
  wall time; ``spikes_per_s``: spikes per second of wall time;
* ``build_s``: drawing the connectivity and initial state;
* ``peak_rss_mib``: the worker's maximum resident set size (build, run and result together;
  the ISI statistics of ``summary()`` are not computed, their temporaries are the
  analysis's, not the engine's), measured from outside with ``os.wait4`` on that one process
  (:func:`validation.common.run_measured`), the same way for every row and every peer;
* ``threads``: with ``--threads 1,2`` the ``numba`` rows are run once per thread count, with
  ``refsim.simulate(..., threads=n)``; without it the keyword is not passed (``default``).
  The other engines have no thread option (``-``); refsim 0.1's Numba engine and the C loop
  are single-threaded (``1``);
* ``compile_s`` (Numba only; ``--no-compile`` skips it): the first call in a process with an
  empty Numba cache directory, minus the same call once the cache is warm. The rows
  themselves do not compile: before the first ``numba`` row of each refsim, preset and thread
  count, a one-step run in a process of its own fills Numba's cache, so the rows' times and
  RSS exclude compilation.

**Before and after, side by side.** Every engine row is also run with the refsim of
``--baseline`` (a git revision, default the last commit before refsim computed its own
``expm1``; ``''`` skips them), exported with ``git archive`` to a temporary directory and put
first on the workers' ``sys.path`` (``validation.bench_worker`` explains how): rows
``numba@before`` and ``numpy@before``. The ratio after/before is printed per preset and N.

**A hand-written C loop** of the same step (``validation/c_loop/coba.c``, libm's ``expm1``,
``gcc -O3 -march=native -ffp-contract=off``) runs on the identical network in the same
invocation (``--no-c-loop`` skips it); refsim / C is printed per preset and N.

The ``cuda`` engine (when a real GPU is usable, or with ``--engines cuda``) adds rows for N in
``--gpu-sizes`` (4 000 to 4 000 000); its warm-up run compiles the kernels.

At N = 4 000 each preset's own network is used; at larger N the connectivity is fixed
out-degree 80 (``p_conn = 80 / N``, the preset's generator), weights unchanged, so the cost per
spike stays comparable. The NumPy oracle runs 100 ms instead of 1 s above N = 40 000 (its
µs per step is what matters; ``loop_s`` is then scaled to 1 s and flagged ``scaled``).

**End to end** (``--no-end-to-end`` skips it): ``refsim run --preset tutorial`` in a fresh
process (interpreter start, build, loop, files, raster PNG), three times with one new,
empty ``NUMBA_CACHE_DIR``: the first process compiles the engine (``cold_s``: an empty Numba
cache; the operating system's file cache is not emptied), the best of the other two is
``wall_s`` (warm cache).

**Ensembles** (``--ensemble``): runs per minute of ``refsim.ensemble.run_ensemble`` on the
``tutorial`` preset (N = 4 000, 1 s, ``--ensemble-seeds`` seeds) with ``jobs=1``, ``jobs=2``
(local worker processes, started inside the call) and on a Dask
``distributed.LocalCluster(n_workers=2, threads_per_worker=1)`` through
``executor=client.get_executor()`` (the cluster's start is timed apart, ``start_s``). Each in
a fresh process; ``peak_rss_mib`` is its largest single process (``os.wait4``), and
``peak_tree_rss_mib`` the largest sum over the process and its workers (sampled every
0.1 s with psutil; shared pages count once per process). Without ``distributed`` the Dask
row says so.

**Peers**, on the same machine in the same invocation (``--no-peers`` skips them; a peer that
is not measured has a row saying why: no interpreter given, interpreter not found, import
failed, its preset not in ``--presets``):

* BrainPy 2.9's tutorial as written (``validation.brainpy.time_tutorial``, the Python 3.12
  venv, ``--brainpy-python``), against the ``tutorial`` preset;
* Brian2 ``cpp_standalone`` (``validation.peers.brian2_run``, the Python 3.13 venv,
  ``--peer-python`` or its alias ``--brian2-python``) on the identical network and initial
  state: ``exponential_euler`` for ``tutorial-normalized`` and ``euler`` for
  ``brette2007-coba``; once with Brian2's default compiler flags (``-ffast-math``:
  reassociation, reciprocal multiplication, vectorized ``exp``) and once with
  ``--strict-math`` (IEEE arithmetic as refsim's, no FMA contraction), the fair comparison
  for a bit-reproducible reference. Its ``peak_rss_mib`` is the largest process of the run,
  which may be the C++ compiler; the Python side and the compiler / binary are in the JSON
  (``peak_rss_self_mib``, ``peak_rss_children_mib``).

The interpreters default to the venvs in ``$REFSIM_PEER_VENVS`` (default ``.venvs`` at the
repository root; ``validation/peer_pythons.py``, made by ``validation/make_peer_venvs.sh``).

Ratios are peer time / refsim time measured in this one invocation: these machines are noisy,
numbers from different runs should not be divided by each other. Results go to a JSON file
(``--out``) and tables on stdout.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from validation.common import (
    REPO,
    RESULTS,
    machine,
    machine_line,
    run_json,
    run_measured,
    versions,
    write_json,
)
from validation.peer_pythons import BRAINPY_PYTHON, PEER_PYTHON, module_command, unavailable
from validation.peers.export_network import export

PRESETS = ("tutorial", "tutorial-normalized", "brette2007-coba")
#: The last commit before refsim computed its own expm1 (numba engine calling libm; 0.1.0).
BASELINE = "6131547"
#: The committed table, written only when ``--out`` names it.
COMMITTED = os.path.join(RESULTS, "bench_engines.json")
#: The peer rows: name -> (preset, venv option, its integrator, strict math).
PEERS = {"brainpy": ("tutorial", "--brainpy-python", None, False),
         "brian2-exp_euler": ("tutorial-normalized", "--peer-python", "exponential_euler", False),
         "brian2-exp_euler-strict": ("tutorial-normalized", "--peer-python", "exponential_euler", True),
         "brian2-euler": ("brette2007-coba", "--peer-python", "euler", False),
         "brian2-euler-strict": ("brette2007-coba", "--peer-python", "euler", True)}
PEER_PRESET = {name: p[0] for name, p in PEERS.items()}
ENSEMBLES = ("jobs1", "jobs2", "dask")


def _run_json(cmd, env=None, timeout=1800, cwd=REPO) -> dict:
    """:func:`validation.common.run_json` with the child's peak RSS (``measure``), and a
    failure as an error record (a failing row must not lose the table)."""
    try:
        return run_json(cmd, env=env, timeout=timeout, cwd=cwd, measure=True)
    except RuntimeError as e:
        return {"error": str(e)[-500:]}


def _where(refsim_path: str, refsim_dir: str | None) -> str:
    """The refsim a worker imported, without this machine's absolute paths."""
    if refsim_dir is not None:
        return "baseline export/" + os.path.relpath(refsim_path, refsim_dir)
    return os.path.relpath(refsim_path, REPO)


def _worker(*args, env=None, refsim_dir=None) -> dict:
    """``validation.bench_worker`` in a fresh process, importing the refsim in ``refsim_dir``
    (default: this repository's)."""
    cmd = module_command(sys.executable, "validation.bench_worker", *args)
    if refsim_dir is None:
        r = _run_json(cmd, env=env)
    else:
        env = {**(env or os.environ), "PYTHONPATH": os.pathsep.join([refsim_dir, REPO])}
        r = _run_json(cmd, env=env, cwd=refsim_dir)
        if "error" not in r and not r["refsim_path"].startswith(refsim_dir):
            return {"error": f"the worker imported {r['refsim_path']}, not the refsim of "
                             f"{refsim_dir}"}
    if "refsim_path" in r:
        r["refsim_path"] = _where(r["refsim_path"], refsim_dir)
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
    return {"engine": "C loop", "preset": preset, "n": n, "threads": 1, "loop_s": r["loop_s"],
            "us_per_step": r["us_per_step"], "spikes": r["n_spikes"], "flags": r["compile_flags"],
            "gcc": r["gcc_version"]}


def end_to_end() -> dict:
    """``refsim run --preset tutorial`` in a fresh process, three times with one new, empty
    NUMBA_CACHE_DIR: the first compiles (``cold_s``), the best of the other two is
    ``wall_s`` (warm cache)."""
    exe = shutil.which("refsim", path=os.path.dirname(sys.executable)) or "refsim"
    times, rss = [], []
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for _ in range(3):
            try:
                p, wall, peak = run_measured([exe, "run", "--preset", "tutorial", "--out", out,
                                              "--no-progress"], env=env, timeout=1800)
            except (OSError, subprocess.TimeoutExpired) as e:
                return {"error": repr(e)[-300:]}
            if p.returncode != 0:
                return {"error": p.stderr.strip()[-300:]}
            times.append(wall)
            rss.append(peak)
    return {"command": "refsim run --preset tutorial", "wall_s": min(times[1:]),
            "cold_s": times[0], "cold": "first process with an empty NUMBA_CACHE_DIR",
            "peak_rss_mib": max(rss[1:]) if None not in rss else None}


def _not_measured(name: str, why: str) -> dict:
    return {"peer": name, "preset": PEER_PRESET[name], "not_measured": why}


def peers(args) -> list[dict]:
    """Peer timings on the same machine, now (see the module docstring); one row per entry of
    :data:`PEERS`, measured or saying why not."""
    if args.no_peers:
        return [_not_measured(name, "--no-peers") for name in PEERS]
    out = []
    why = {"--brainpy-python": unavailable(args.brainpy_python, ("brainpy", "jax"),
                                           "--brainpy-python"),
           "--peer-python": unavailable(args.brian2_python, ("brian2",), "--peer-python")}
    todo = []
    for name, (preset, option, _, _) in PEERS.items():
        if preset not in args.presets:
            out.append(_not_measured(name, f"its preset {preset} is not in --presets"))
        elif why[option]:
            out.append(_not_measured(name, why[option]))
        else:
            todo.append(name)
    if "brainpy" in todo:
        r = _run_json(module_command(args.brainpy_python, "validation.brainpy.time_tutorial",
                                     "--repeats", args.repeats))
        out.append({"peer": "brainpy", "preset": "tutorial", **r})
    with tempfile.TemporaryDirectory() as tmp:
        nets = {}
        for name in [n for n in todo if n.startswith("brian2")]:
            preset, _, integrator, strict = PEERS[name]
            if preset not in nets:
                nets[preset] = os.path.join(tmp, f"{preset}.npz")
                try:
                    export(nets[preset], preset, 0)
                except Exception as e:  # a failing peer must not lose the table
                    nets[preset] = f"export failed: {e!r}"[-300:]
            if not nets[preset].endswith(".npz"):
                out.append({"peer": name, "preset": preset, "error": nets[preset]})
                continue
            r = _run_json(module_command(
                args.brian2_python, "validation.peers.brian2_run", nets[preset],
                "--device", "cpp_standalone", "--integrator", integrator,
                "--build-dir", os.path.join(tmp, "build-" + name),
                "--out", os.path.join(tmp, name + ".npz"),
                *(["--strict-math"] if strict else [])))
            if "network" in r:  # a temporary file: its name only
                r["network"] = os.path.basename(r["network"])
            out.append({"peer": name, **r, "preset": preset})
    order = list(PEERS)
    return sorted(out, key=lambda r: order.index(r["peer"]))


def ensembles(args) -> list[dict]:
    """Runs per minute of run_ensemble: jobs=1, jobs=2 and a Dask LocalCluster, each in a
    fresh worker process (see the module docstring)."""
    out = []
    for how in ENSEMBLES:
        if how == "dask" and importlib.util.find_spec("distributed") is None:
            r = {"ensemble": how, "not_measured": "distributed is not installed "
                                                  "(pip install distributed)"}
        else:
            r = _worker("ensemble", how, args.ensemble_seeds, "--preset", "tutorial")
            r.setdefault("ensemble", how)
        out.append(r)
        print(json.dumps(r), flush=True)
    return out


def table(rows, head):
    """Columns right-aligned, a last column ``note`` left-aligned."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(head)]
    just = [str.ljust if h == "note" else str.rjust for h in head]
    line = lambda cells: "  ".join(j(str(c), w) for c, w, j in zip(cells, widths, just,
                                                                   strict=True)).rstrip()
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _threads_list(text: str) -> list[int]:
    try:
        out = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: thread counts as 1,2,4") from None
    if not out or min(out) < 1 or len(set(out)) != len(out):
        raise argparse.ArgumentTypeError(f"{text!r}: distinct thread counts >= 1, as 1,2,4")
    return out


def default_out() -> str:
    """A new file in the temporary directory, so that a trial run never overwrites the
    committed table."""
    return os.path.join(tempfile.gettempdir(),
                        time.strftime("bench_engines-%Y%m%d-%H%M%S.json"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 40000, 400000])
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    ap.add_argument("--engines", nargs="+", choices=["numba", "numpy", "cuda"],
                    help="default: numba, numpy, and cuda when a real GPU is usable")
    ap.add_argument("--gpu-sizes", type=int, nargs="+", default=[4000, 40000, 400000, 4000000],
                    help="N for the cuda engine")
    ap.add_argument("--threads", type=_threads_list, default=None, metavar="N[,N...]",
                    help="numba rows for each thread count, refsim.simulate(..., threads=N) "
                         "(default: the keyword is not passed)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per row; the best counts")
    ap.add_argument("--numpy-max-n", type=int, default=40000,
                    help="above this N the NumPy engine runs 100 ms, scaled to 1 s")
    ap.add_argument("--brainpy-python", default=BRAINPY_PYTHON, metavar="PYTHON",
                    help="BrainPy 2.9's interpreter (default: %(default)s, from REFSIM_PEER_VENVS; "
                         "'' to leave it out)")
    ap.add_argument("--peer-python", "--brian2-python", dest="brian2_python", default=PEER_PYTHON,
                    metavar="PYTHON",
                    help="Brian2 2.11's interpreter (default: %(default)s, from REFSIM_PEER_VENVS; "
                         "'' to leave it out)")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--baseline", default=BASELINE,
                    help="git revision of the 'before' rows ('' to skip them)")
    ap.add_argument("--before-max-n", type=int, default=40000,
                    help="largest N of the 'before' rows")
    ap.add_argument("--no-c-loop", action="store_true")
    ap.add_argument("--c-loop-max-n", type=int, default=40000)
    ap.add_argument("--no-compile", action="store_true",
                    help="skip the Numba compile-time measurement (two empty-cache processes)")
    ap.add_argument("--no-end-to-end", action="store_true",
                    help="skip the end-to-end `refsim run` timing")
    ap.add_argument("--ensemble", action="store_true",
                    help="also runs per minute of run_ensemble (jobs=1, jobs=2, Dask)")
    ap.add_argument("--ensemble-seeds", type=int, default=20, help="seeds per ensemble row")
    ap.add_argument("--out", default=None,
                    help="JSON file (default: a new bench_engines-<date>-<time>.json in $TMPDIR; "
                         f"the committed table: --out {os.path.relpath(COMMITTED, REPO)})")
    args = ap.parse_args(argv)
    args.out = os.path.abspath(args.out or default_out())
    threads = args.threads or [None]

    if args.engines is None:
        args.engines = ["numba", "numpy"] + (["cuda"] if _real_gpu() else [])
    report = {"machine": machine(), "versions": versions(),
              "date": time.strftime("%Y-%m-%d %H:%M"),
              "threads": args.threads, "no_compile": args.no_compile, "compile": [], "rows": [],
              "peers": []}
    print(f"machine: {machine_line(report['machine'])}")
    print(f"writing {args.out}" + ("" if args.out == COMMITTED else
                                   f" (the committed table: --out {os.path.relpath(COMMITTED)})"),
          flush=True)
    if "numba" in args.engines and not args.no_compile:
        for dtype in ("float32", "float64"):
            with tempfile.TemporaryDirectory() as cache:
                r = _worker("compile", dtype, env={**os.environ, "NUMBA_CACHE_DIR": cache})
            r.setdefault("dtype", dtype)
            report["compile"].append(r)
            print(f"compile numba {dtype}: {r.get('compile_s', r.get('error'))}", flush=True)
    before_dir = tempfile.mkdtemp(prefix="refsim_before_") if args.baseline else None
    warm = {}
    if before_dir:
        report["baseline"] = export_baseline(args.baseline, before_dir)
    for n in sorted(set(args.sizes) | (set(args.gpu_sizes) if "cuda" in args.engines else set())):
        for preset in args.presets:
            for engine in args.engines:
                if n not in (args.gpu_sizes if engine == "cuda" else args.sizes):
                    continue
                duration = 100.0 if engine == "numpy" and n > args.numpy_max_n else 1000.0
                repeats = args.repeats if n <= 4000 else 1  # large runs: one repeat
                runs = [("", None, t) for t in (threads if engine == "numba" else [None])]
                if before_dir and engine != "cuda" and n <= args.before_max_n:
                    runs.append(("@before", before_dir, None))
                for label, refsim_dir, t in runs:  # after, then before: side by side
                    if engine == "numba" and (label, preset, t) not in warm:
                        # compile (or load) into the Numba cache in a process of its own, so
                        # that no row's time or RSS includes compilation
                        warm[(label, preset, t)] = _worker(
                            "row", engine, preset, 4000, 0.1, "--repeats", 1,
                            *([] if t is None else ["--threads", t]), refsim_dir=refsim_dir)
                    r = _worker("row", engine, preset, n, duration, "--repeats", repeats,
                                *([] if t is None else ["--threads", t]), refsim_dir=refsim_dir)
                    r["engine"] = engine + label
                    r["threads"] = (t if t is not None else "default" if engine == "numba" and
                                    not label else 1 if engine == "numba" else "-")
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
    if not args.no_end_to_end:
        report["end_to_end"] = end_to_end()
        print(json.dumps(report["end_to_end"]), flush=True)
        write_json(args.out, report)
    if args.ensemble:
        report["ensembles"] = ensembles(args)
        write_json(args.out, report)
    report["peers"] = peers(args)
    for r in report["peers"]:
        print(json.dumps(r), flush=True)

    write_json(args.out, report)
    print_report(report)
    print(f"\nwrote {args.out}")
    return 0


def _num(r, k, f):
    return format(r[k], f) if isinstance(r.get(k), (int, float)) else "-"


def print_report(report):
    print(f"\nmachine: {machine_line(report['machine'])}")
    rows = [r for r in report["rows"] if "error" not in r and r["engine"] != "C loop"]
    if rows:
        print("\n" + table([[r["engine"], r.get("threads", "-"), r["preset"], r["n"], r["spikes"],
                             f"{r['loop_s']:.3f}" + ("*" if r.get("scaled") else ""),
                             f"{r['us_per_step']:.1f}", _num(r, "events_per_s", ".3g"),
                             _num(r, "spikes_per_s", ".3g"), _num(r, "build_s", ".2f"),
                             _num(r, "peak_rss_mib", ".0f")] for r in rows],
                           ["engine", "threads", "preset", "N", "spikes", "loop_s", "us/step",
                            "events/s", "spikes/s", "build_s", "RSS MiB"]))
    print_comparison(report)
    print_threads(report)
    if any(r.get("scaled") for r in rows):
        print("* NumPy engine run for 100 ms, loop_s scaled to 1 s")
    for r in report["rows"]:
        if "error" in r:
            print(f"row failed ({r.get('engine')}, threads {r.get('threads')}):", r["error"])
    if not report["compile"]:
        print("Numba compile time: not measured" + (" (--no-compile)" if report.get("no_compile")
                                                    else ""))
    for c in report["compile"]:
        if "compile_s" in c:
            print(f"Numba compile time ({c['dtype']}), empty cache: {c['compile_s']:.1f} s")
        else:
            print(f"Numba compile time ({c['dtype']}) failed: {c.get('error', '?')[-200:]}")
    e = report.get("end_to_end")
    if e is None:
        print("end to end: not measured (--no-end-to-end)")
    elif "wall_s" in e:
        print(f"end to end, `{e['command']}`: {e['wall_s']:.2f} s with a warm Numba cache; "
              f"{e['cold_s']:.2f} s for the first process with an empty Numba cache "
              "(compiles the engine)")
    else:
        print(f"end to end failed: {e.get('error')}")
    print_ensembles(report)
    print_peers(report)


def _numba_row(report, preset, n=4000):
    """The numba row of (preset, n) the peers are compared with: the first thread count."""
    first = report["threads"][0] if report.get("threads") else "default"
    for r in report["rows"]:
        if ("error" not in r and r["engine"] == "numba" and r["preset"] == preset
                and r["n"] == n and r.get("threads") == first):
            return r
    return None


def print_peers(report):
    if not report["peers"]:
        return
    out = []
    for p in report["peers"]:
        ref = _numba_row(report, p["preset"])
        if "not_measured" in p or "error" in p:
            note = (f"not measured: {p['not_measured']}" if "not_measured" in p
                    else f"failed: {p['error'].splitlines()[0][:120]}")
            out.append([p["peer"], p["preset"], "-", "-", "-", "-", "-", note])
            continue
        out.append([p["peer"], p["preset"], f"{p['loop_s']:.3f}", _num(p, "compile_s", ".1f"),
                    "-" if ref is None else f"{ref['loop_s']:.3f}",
                    "-" if ref is None else f"{p['loop_s'] / ref['loop_s']:.2f}",
                    _num(p, "peak_rss_mib", ".0f"),
                    "" if ref is not None else "no refsim numba row at N = 4000"])
    print("\npeers, N = 4000, seed 0, same machine and invocation (loop s; RSS: largest process "
          "of the peer's run, for Brian2 possibly its C++ compiler):")
    print(table(out, ["peer", "preset", "loop_s", "compile_s", "refsim numba", "peer/refsim",
                      "RSS MiB", "note"]))


def print_ensembles(report):
    if "ensembles" not in report:
        return
    out = []
    for e in report["ensembles"]:
        if "not_measured" in e or "error" in e:
            note = (f"not measured: {e['not_measured']}" if "not_measured" in e
                    else f"failed: {e['error'].splitlines()[0][:120]}")
            out.append([e["ensemble"], "-", "-", "-", "-", "-", "-", note])
            continue
        note = "; ".join(e.get("errors", [])) or ("" if e["complete"] == e["seeds"] else
                                                  f"{e['seeds'] - e['complete']} seeds incomplete")
        out.append([e["ensemble"], f"{e['complete']}/{e['seeds']}", f"{e['wall_s']:.1f}",
                    f"{e['runs_per_min']:.0f}", _num(e, "runs_per_min_with_start", ".0f"),
                    _num(e, "peak_rss_mib", ".0f"), _num(e, "peak_tree_rss_mib", ".0f"), note])
    e0 = next((e for e in report["ensembles"] if "preset" in e), {})
    print(f"\nensembles, run_ensemble('{e0.get('preset', 'tutorial')}', N = {e0.get('n', 4000)}, "
          "1 s per seed), each in a fresh process; dask: LocalCluster(n_workers=2, "
          "threads_per_worker=1), its start timed apart:")
    print(table(out, ["how", "runs", "wall_s", "runs/min", "runs/min incl. start",
                      "max RSS/process MiB", "total RSS MiB", "note"]))


def print_comparison(report):
    """us/step side by side per (preset, N): after, before, the C loop, and the ratios (the
    numba rows of the first thread count)."""
    first = report["threads"][0] if report.get("threads") else "default"
    by = {}
    for r in report["rows"]:
        if "error" not in r and not (r["engine"] == "numba" and r.get("threads") != first):
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
        print(f"\nus per step, this refsim (numba: threads {first}) vs refsim "
              f"{report.get('baseline', '(no baseline)')} and the C loop (libm expm1), one "
              "invocation:")
        print(table(out, ["preset", "N", "numba", "numba before", "after/before", "numpy",
                          "numpy before", "after/before", "C loop", "numba/C"]))


def print_threads(report):
    """us/step of the numba rows per thread count, and the speed-up over the first."""
    counts = report.get("threads") or []
    if len(counts) < 2:
        return
    by = {(r["preset"], r["n"], r.get("threads")): r["us_per_step"] for r in report["rows"]
          if "error" not in r and r["engine"] == "numba"}
    keys = sorted({(p, n) for p, n, _ in by}, key=lambda k: (k[1], PRESETS.index(k[0])))
    out = []
    for p, n in keys:
        base = by.get((p, n, counts[0]))
        cells = []
        for t in counts:
            v = by.get((p, n, t))
            cells.append("-" if v is None else f"{v:.1f}" + (
                "" if t == counts[0] or base is None else f" ({base / v:.2f}x)"))
        out.append([p, n, *cells])
    print(f"\nnumba us per step by thread count (speed-up over {counts[0]} thread"
          f"{'s' if counts[0] > 1 else ''}):")
    print(table(out, ["preset", "N", *[f"threads={t}" for t in counts]]))


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
