"""What the refsim-side validation scripts share: judging a statistic against the seed-to-seed
spread, markdown tables, result files, versions, and running a peer module.

refsim's environment only (it imports refsim); the modules that run in the peers' interpreters
use :mod:`validation.peer_pythons` and :mod:`validation.machine`, which do not.
"""
from __future__ import annotations

import json
import math
import os
import subprocess

from refsim.io import write_text
from refsim.result import versions
from validation import REPO, RESULTS
from validation.machine import cpu_flags, cpu_name

__all__ = ["REPO", "RESULTS", "judge", "z_score", "markdown_table", "write_json", "versions",
           "cpu_name", "cpu_flags", "run_json", "ensemble_summaries", "pyplot"]


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


# -- other processes ----------------------------------------------------------------------

def run_json(cmd: list[str], env=None, timeout=None, cwd: str = REPO) -> dict:
    """Run ``cmd`` (in the repository root unless ``cwd``) and return the JSON of its last
    non-empty stdout line.

    Raises RuntimeError with the end of its output when it fails, times out or does not end
    with a line of JSON.
    """
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                           cwd=cwd)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(cmd)} timed out after {timeout} s") from None
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-1000:]}\n"
                           f"{p.stderr[-3000:]}")
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"{' '.join(cmd)}: the last line of its output is not JSON: "
                           f"{lines[-3:]}") from None
