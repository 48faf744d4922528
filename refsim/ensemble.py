"""Ensembles: one preset over many seeds, in parallel processes, summarised in one table.

The seed-to-seed spread of a statistic is what sets the tolerance of any statistical
comparison between simulators: a difference inside it is not evidence of a bug.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .analysis import statistics
from .params import ConfigError
from .presets import get_preset
from .simulate import simulate

__all__ = ["parse_seeds", "run_ensemble", "summarize"]


def parse_seeds(text: str) -> list[int]:
    """'0:20' -> 0..19 (a Python range, optional step '0:20:2'), '1,5,9' -> [1, 5, 9].

    Parameters
    ----------
    text : str
        ``'start:stop[:step]'`` or a comma-separated list.

    Returns
    -------
    list of int
        Distinct, non-negative, in the order given.

    Raises
    ------
    ConfigError
        Not of either form, empty, negative or repeated seeds.

    Examples
    --------
    >>> from refsim.ensemble import parse_seeds
    >>> parse_seeds("0:20:5"), parse_seeds("1,5,9")
    ([0, 5, 10, 15], [1, 5, 9])
    """
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError(text)
            seeds = list(range(*parts))
        else:
            seeds = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ConfigError(f"seeds = {text!r}: allowed 'start:stop[:step]' or a comma-separated "
                          "list of non-negative ints") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds = {text!r}: allowed a non-empty set of distinct non-negative ints")
    return seeds


def _one(args) -> dict:
    preset, overrides, seed, t_start, engine = args
    r = simulate(get_preset(preset, **overrides), seed, engine=engine, progress=False)
    return {"seed": seed, **statistics(r, t_start, seed=seed), "n_spikes": r.n_spikes,
            "complete": r.complete, "wall_time_s": r.wall_time}


def run_ensemble(preset: str, seeds, jobs: int = 1, overrides: dict | None = None,
                 t_start: float = 0.0, engine: str = "numba") -> list[dict]:
    """Run ``preset`` (with ``overrides``) once per seed and return one row of
    :func:`refsim.analysis.statistics` per seed, ordered by seed. ``jobs`` > 1 runs seeds in
    that many worker processes; the rows do not depend on ``jobs``.

    Parameters
    ----------
    preset : str
        A preset name (:func:`refsim.preset_names`).
    seeds : iterable of int
    jobs : int
        Worker processes, >= 1.
    overrides : dict, optional
        Field values replacing the preset's (units of :class:`~refsim.Config`).
    t_start : float
        Start of the statistics' window (ms).
    engine : {'numba', 'numpy', 'cuda'}

    Returns
    -------
    list of dict
        Per seed: ``seed``, the keys of :func:`refsim.analysis.statistics`, ``n_spikes``,
        ``complete`` and ``wall_time_s`` (s).

    Raises
    ------
    ConfigError
        An unknown preset or override, a bad value, or ``jobs`` < 1.

    Examples
    --------
    >>> from refsim.ensemble import run_ensemble
    >>> rows = run_ensemble("tutorial", [1, 0], overrides=dict(n_exc=8, n_inh=2, duration=20.0))
    >>> [row["seed"] for row in rows], [row["n_spikes"] for row in rows]
    ([0, 1], [10, 11])
    """
    get_preset(preset, **(overrides or {}))  # validate before starting any process
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs = {jobs!r}: allowed an int >= 1")
    tasks = [(preset, dict(overrides or {}), int(s), float(t_start), engine) for s in seeds]
    if jobs == 1:
        rows = [_one(t) for t in tasks]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            rows = list(pool.map(_one, tasks))
    return sorted(rows, key=lambda r: r["seed"])


def summarize(rows: list[dict]) -> dict:
    """Mean, SD (ddof = 1) and standard error of every numeric statistic over the rows.

    Parameters
    ----------
    rows : list of dict
        As :func:`run_ensemble` returns them; the keys of the first row are summarized
        (``seed`` and ``complete`` excepted), NaN values left out.

    Returns
    -------
    dict of str to dict
        Per statistic: ``mean``, ``sd`` (ddof = 1), ``sem`` = sd / sqrt(n) and ``n``, the
        number of finite values (NaN where there are too few).

    Examples
    --------
    >>> from refsim.ensemble import summarize
    >>> summarize([{"seed": 0, "rate_e_hz": 1.0}, {"seed": 1, "rate_e_hz": 3.0}])
    {'rate_e_hz': {'mean': 2.0, 'sd': 1.4142135623730951, 'sem': 1.0, 'n': 2}}
    """
    keys = [k for k in rows[0] if k not in ("seed", "complete") and isinstance(rows[0][k], (int, float))]
    out = {}
    for k in keys:
        v = np.array([r[k] for r in rows], float)
        v = v[np.isfinite(v)]
        sd = float(v.std(ddof=1)) if v.size > 1 else float("nan")
        out[k] = {"mean": float(v.mean()) if v.size else float("nan"), "sd": sd,
                  "sem": sd / math.sqrt(v.size) if v.size > 1 else float("nan"), "n": int(v.size)}
    return out
