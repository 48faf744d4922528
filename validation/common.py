"""What the refsim-side validation scripts share: judging a statistic against the seed-to-seed
spread, markdown tables, result files, versions, and running a peer module.

refsim's environment only (it imports refsim); the modules that run in the peers' interpreters
use :mod:`validation.peer_pythons` and :mod:`validation.machine`, which do not.
"""
from __future__ import annotations

import json
import math
import os
import platform
import signal
import subprocess
import sys
import threading
import time

from refsim.io import write_text
from refsim.result import versions
from validation import REPO, RESULTS
from validation.machine import cpu_flags, cpu_name

__all__ = ["REPO", "RESULTS", "judge", "z_score", "markdown_table", "write_json", "versions",
           "cpu_name", "cpu_flags", "machine", "run_json", "run_measured", "ensemble_summaries",
           "pyplot"]


# -- judging against the seed-to-seed spread ---------------------------------------------

def z_score(diff: float, sd: float) -> float:
    """diff / sd, the difference in units of the seed-to-seed SD.

    When the ensemble's SD is 0 (e.g. the ``tutorial``'s spectral peak, the same frequency for
    every seed), any difference is infinitely many SDs: z = 0 if ``diff == 0``, else +-inf.
    NaN when ``diff`` or ``sd`` is NaN (a statistic undefined in one run, or an ensemble too
    small for an SD).
    """
    if math.isnan(diff) or math.isnan(sd):
        return float("nan")
    if sd > 0:
        return diff / sd
    return 0.0 if diff == 0 else math.copysign(float("inf"), diff)


def judge(stats_ref: dict, stats_other: dict, ensemble: dict, factor: float,
          other: str = "peer", keys=None) -> dict:
    """Per statistic: refsim's value, the other run's, their difference, the ensemble SD, z and
    whether the other run is *within* ``factor`` SDs of refsim's.

    ``ensemble``: :func:`refsim.ensemble.summarize` of refsim's seeds (``ensemble[key]['sd']``);
    ``other``: the name of the other run's field (``'peer'``, ``'brainpy'``); ``keys``: the
    statistics judged (default: every key of ``stats_ref``). *within* is |z| <= ``factor``, so
    with an SD of 0 only an equal value passes, and a NaN z never does (:func:`z_score`).
    """
    out = {}
    for key in stats_ref if keys is None else keys:
        a, b, sd = stats_ref[key], stats_other[key], ensemble[key]["sd"]
        z = z_score(b - a, sd)
        out[key] = {"refsim": a, other: b, "diff": b - a, "ensemble_sd": sd, "z": z,
                    "within": bool(abs(z) <= factor)}
    return out


def ensemble_summaries(path: str, presets, t_start: float) -> tuple[dict, dict]:
    """The ensembles file written by ``validation.ensembles`` and, per preset, its summary over
    [t_start, 1000) ms (mean, sd, sem, n of each statistic)."""
    with open(path) as fh:
        ens = json.load(fh)
    return ens, {p: ens["presets"][p][f"t_start_{t_start:g}"]["summary"] for p in presets}


# -- output -------------------------------------------------------------------------------

def markdown_table(header, rows) -> str:
    """A markdown table: ``header`` (cells) and ``rows`` (lists of cells, ``str()`` of each)."""
    line = lambda cells: "|" + "|".join(f" {c} " if str(c) else " " for c in cells) + "|"
    return "\n".join([line(header), "|" + "---|" * len(header)] + [line(r) for r in rows])


def write_json(path: str, obj) -> None:
    """``obj`` as indented JSON (one space, a final newline), written atomically; the
    directory is made if needed."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_text(path, json.dumps(obj, indent=1) + "\n")


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend (figures go to files)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


# -- the machine --------------------------------------------------------------------------

def machine() -> dict:
    """The machine timings are measured on, as every timing file records it: CPU model,
    logical cores (and those this process may use), NumPy's SIMD level at run time
    (``np.show_runtime()``: the baseline it was built for and the dispatch targets this CPU
    has; ``simd`` is the highest of them), Python and the platform."""
    import numpy as np
    out = {"cpu": cpu_name(), "cores": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        out["cores_usable"] = len(os.sched_getaffinity(0))
    try:
        from numpy._core._multiarray_umath import (
            __cpu_baseline__,
            __cpu_dispatch__,
            __cpu_features__,
        )
        found = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
        out.update(simd=(found or list(__cpu_baseline__) or ["none"])[-1],
                   simd_baseline=list(__cpu_baseline__), simd_found=found,
                   simd_not_found=[f for f in __cpu_dispatch__ if f not in found])
    except ImportError:  # NumPy < 2 keeps them in numpy.core
        out["simd"] = "unknown"
    flags = cpu_flags()
    if flags is not None:
        out["fma"] = "fma" in flags
    out.update(python=platform.python_version(), platform=platform.platform(),
               numpy=np.__version__)
    return out


def machine_line(m: dict) -> str:
    """One line of :func:`machine`'s record, for a table header."""
    usable = m.get("cores_usable", m["cores"])
    cores = f"{m['cores']} cores" + (f" ({usable} usable)" if usable != m["cores"] else "")
    return (f"{m['cpu']}, {cores}, NumPy SIMD {m['simd']} (baseline "
            f"{'/'.join(m.get('simd_baseline', [])) or '-'}), Python {m['python']}, "
            f"{m['platform']}")


# -- other processes ----------------------------------------------------------------------

def _maxrss_mib(ru_maxrss: int) -> float:
    """``ru_maxrss`` in MiB (KiB on Linux, bytes on macOS)."""
    return ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)


def run_measured(cmd: list[str], env=None, timeout=None, cwd: str = REPO):
    """Run ``cmd`` like ``subprocess.run(..., capture_output=True, text=True)`` and also
    measure it: returns ``(CompletedProcess, wall_s, peak_rss_mib)``.

    ``peak_rss_mib`` is this child's own maximum resident set size, from ``os.wait4`` on it:
    the largest of the child and of the processes it started and waited for (a compiler,
    a standalone binary, pool workers), not their sum; per child, so earlier children do not
    mix in (``getrusage(RUSAGE_CHILDREN)`` is a maximum over all of them). None where
    ``os.wait4`` does not exist. Raises ``subprocess.TimeoutExpired`` after killing the
    child's process group when it runs longer than ``timeout``.
    """
    if not hasattr(os, "wait4"):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
        return p, time.perf_counter() - t0, None
    import tempfile
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env, cwd=cwd,
                                 start_new_session=True)
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except OSError:
                pass
        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            while True:
                try:
                    _, status, usage = os.wait4(child.pid, 0)
                    break
                except InterruptedError:
                    continue
                except BaseException:  # Ctrl-C: do not leave the child running
                    kill()
                    os.wait4(child.pid, 0)
                    raise
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        if timed_out.is_set() and child.returncode == -signal.SIGKILL:
            raise subprocess.TimeoutExpired(cmd, timeout)
        out.seek(0)
        err.seek(0)
        p = subprocess.CompletedProcess(cmd, child.returncode, out.read(), err.read())
    return p, wall, _maxrss_mib(usage.ru_maxrss)


def run_json(cmd: list[str], env=None, timeout=None, cwd: str = REPO, measure=False) -> dict:
    """Run ``cmd`` (in the repository root unless ``cwd``) and return the JSON of its last
    non-empty stdout line; with ``measure``, :func:`run_measured`'s ``peak_rss_mib`` of the
    child is added to it (replacing one the child reported; kept where it cannot be measured).

    Raises RuntimeError with the end of its output when it fails, times out or does not end
    with a line of JSON.
    """
    try:
        p, _, rss = run_measured(cmd, env=env, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(cmd)} timed out after {timeout} s") from None
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-1000:]}\n"
                           f"{p.stderr[-3000:]}")
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    try:
        out = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"{' '.join(cmd)}: the last line of its output is not JSON: "
                           f"{lines[-3:]}") from None
    if measure and isinstance(out, dict) and rss is not None:
        out["peak_rss_mib"] = rss
    return out
