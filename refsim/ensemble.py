"""Ensembles: one preset over many seeds, in parallel processes, summarised in one table.

The seed-to-seed spread of a statistic is what sets the tolerance of any statistical
comparison between simulators: a difference inside it is not evidence of a bug.
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, ProcessPoolExecutor, wait

import numpy as np

from .analysis import statistics
from .engines import get_engine
from .network import check_seed
from .params import ConfigError
from .presets import get_preset
from .simulate import simulate

__all__ = ["parse_seeds", "check_ensemble", "run_ensemble", "summarize", "failed_seeds"]


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
    if r.stop_reason == "interrupted":  # Ctrl-C or SIGTERM: stop the ensemble, not just this run
        raise KeyboardInterrupt(r.message)
    return {"seed": seed, **statistics(r, t_start, seed=seed), "n_spikes": r.n_spikes,
            "complete": r.complete, "wall_time_s": r.wall_time}


def check_ensemble(preset: str, seeds, jobs: int = 1, overrides: dict | None = None,
                   t_start: float = 0.0, engine: str = "numba") -> list[tuple]:
    """Check every argument of :func:`run_ensemble` in this process, before any worker
    starts: the preset and overrides, each seed against the configuration, the window, the
    job count and that the engine is available. Returns the workers' tasks.

    Parameters
    ----------
    preset, seeds, jobs, overrides, t_start, engine
        As :func:`run_ensemble` takes them.

    Returns
    -------
    list of tuple
        One ``(preset, overrides, seed, t_start, engine)`` per seed.

    Raises
    ------
    ConfigError
        Naming the first bad argument.

    Examples
    --------
    >>> from refsim.ensemble import check_ensemble
    >>> check_ensemble("tutorial", [0], t_start=2000.0)
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: t_start = 2000.0: allowed 0 <= t_start < duration = 1000.0 ms
    """
    config = get_preset(preset, **(overrides or {}))
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ConfigError(f"jobs = {jobs!r}: allowed an int >= 1")
    if (isinstance(t_start, bool) or not isinstance(t_start, (int, float, np.integer, np.floating))
            or not 0 <= t_start < config.duration):
        raise ConfigError(f"t_start = {t_start!r}: allowed 0 <= t_start < duration = "
                          f"{config.duration} ms")
    seeds = list(seeds)
    if not seeds:
        raise ConfigError("seeds = []: allowed at least one seed")
    seeds = [check_seed(seed, config) for seed in seeds]
    get_engine(engine)  # e.g. 'cuda' without a GPU
    return [(preset, dict(overrides or {}), s, float(t_start), engine) for s in seeds]


def run_ensemble(preset: str, seeds, jobs: int = 1, overrides: dict | None = None,
                 t_start: float = 0.0, engine: str = "numba", executor=None) -> list[dict]:
    """Run ``preset`` (with ``overrides``) once per seed and return one row of
    :func:`refsim.analysis.statistics` per seed, ordered by seed. ``jobs`` > 1 runs seeds in
    that many worker processes (started with ``spawn``); the rows do not depend on ``jobs``.

    Every argument is checked before any worker starts (:func:`check_ensemble`). A seed
    that cannot run costs only itself (and, when a worker process dies, the seeds running
    beside it): its row says why, the other seeds' rows are kept, and the failed seeds can
    be run again (``seeds=[...]``). Ctrl-C likewise keeps the seeds already done.

    Parameters
    ----------
    preset : str
        A preset name (:func:`refsim.preset_names`).
    seeds : iterable of int
    jobs : int
        Worker processes, >= 1 (at most this many seeds run at once).
    overrides : dict, optional
        Field values replacing the preset's (units of :class:`~refsim.Config`).
    t_start : float
        Start of the statistics' window (ms), 0 <= t_start < duration.
    engine : {'numba', 'numpy', 'cuda'}
    executor : concurrent.futures.Executor, optional
        Run the seeds on it (e.g. a cluster's) instead of local processes; not shut down.

    Returns
    -------
    list of dict
        Per seed: ``seed``, the keys of :func:`refsim.analysis.statistics`, ``n_spikes``,
        ``complete`` and ``wall_time_s`` (s); for a seed that could not run, ``seed``,
        ``complete`` (False) and ``error`` (why) only.

    Raises
    ------
    ConfigError
        An unknown preset or override, a bad value, a seed the configuration cannot use,
        ``jobs`` < 1, or an engine that is not available.

    Examples
    --------
    >>> from refsim.ensemble import run_ensemble
    >>> rows = run_ensemble("tutorial", [1, 0], overrides=dict(n_exc=8, n_inh=2, duration=20.0))
    >>> [row["seed"] for row in rows], [row["n_spikes"] for row in rows]
    ([0, 1], [10, 11])
    """
    tasks = check_ensemble(preset, seeds, jobs, overrides, t_start, engine)
    rows: dict[int, dict] = {}
    try:
        if jobs == 1 and executor is None:
            for t in tasks:
                rows[t[2]] = _one(t)
        else:
            _run_on_pools(tasks, jobs, executor, rows)
    except KeyboardInterrupt:  # keep the seeds done; the others are marked below
        pass
    for t in tasks:
        rows.setdefault(t[2], {"seed": t[2], "complete": False, "error": "not run: interrupted"})
    return [rows[s] for s in sorted(rows)]


def _new_pool(jobs: int) -> ProcessPoolExecutor:
    """Local worker processes, started with ``spawn`` (a fork of a multi-threaded process
    may deadlock; Python 3.14 no longer forks by default)."""
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def _run_on_pools(tasks, jobs, executor, rows) -> None:
    """Run ``tasks`` with at most ``jobs`` in flight, filling ``rows``. When a local worker
    dies, the seeds in flight get an error row and a fresh pool takes the rest. On Ctrl-C or
    SIGTERM the seeds already done are kept and local workers are stopped at once."""
    pending = list(tasks)
    while pending:
        pool, in_flight = executor or _new_pool(jobs), {}
        interrupted = submit_broke = False
        try:
            while pending or in_flight:
                while pending and len(in_flight) < jobs:
                    t = pending.pop(0)
                    try:
                        in_flight[pool.submit(_one, t)] = t
                    except BrokenExecutor as e:
                        if executor is not None:  # nothing can run any more
                            rows[t[2]] = _failed(t, e)
                            continue
                        pending.insert(0, t)      # the pool broke meanwhile: a fresh one runs it
                        submit_broke = True
                        break
                if submit_broke and not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                broken = _collect(done, in_flight, rows)
                if (broken or submit_broke) and executor is None:
                    for t in in_flight.values():  # they died with the pool
                        rows[t[2]] = _failed(t, BrokenExecutor("its worker pool broke"))
                    break
        except KeyboardInterrupt:
            interrupted = True
            _collect([f for f in in_flight if f.done()], in_flight, rows)
            raise
        finally:
            if executor is None:
                if interrupted:  # a scheduler's grace period may be shorter than one seed
                    workers = list((getattr(pool, "_processes", None) or {}).values())
                    for p in workers:
                        p.terminate()
                    for p in workers:
                        p.join(5)
                pool.shutdown(wait=True, cancel_futures=True)
        if executor is not None:
            break


def _collect(done, in_flight, rows) -> bool:
    """Move the finished futures ``done`` out of ``in_flight`` into ``rows``; True when one
    failed because its pool broke."""
    broken = False
    for f in done:
        t = in_flight.pop(f)
        try:
            rows[t[2]] = f.result()
        except BrokenExecutor as e:
            rows[t[2]], broken = _failed(t, e), True
        except KeyboardInterrupt:  # the worker's run was interrupted (Ctrl-C reaches it too)
            pass
        except Exception as e:  # one seed's failure is that seed's only
            rows[t[2]] = _failed(t, e)
    return broken


def _failed(task, error) -> dict:
    reason = ("worker process died (killed, or out of memory?)"
              if isinstance(error, BrokenExecutor) else f"{type(error).__name__}: {error}")
    return {"seed": task[2], "complete": False, "error": reason}


def summarize(rows: list[dict]) -> dict:
    """Mean, SD (ddof = 1) and standard error of every numeric statistic over the rows.

    Parameters
    ----------
    rows : list of dict
        As :func:`run_ensemble` returns them. Only complete runs count (a run that stopped
        early, or a seed that could not run, is left out); the keys of the first of them are
        summarized (``seed`` and ``complete`` excepted), NaN values left out.

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
    rows = [r for r in rows if r.get("complete", True)]
    if not rows:
        return {}
    keys = [k for k in rows[0] if k not in ("seed", "complete") and isinstance(rows[0][k], (int, float))]
    out = {}
    for k in keys:
        v = np.array([r[k] for r in rows], float)
        v = v[np.isfinite(v)]
        sd = float(v.std(ddof=1)) if v.size > 1 else float("nan")
        out[k] = {"mean": float(v.mean()) if v.size else float("nan"), "sd": sd,
                  "sem": sd / math.sqrt(v.size) if v.size > 1 else float("nan"), "n": int(v.size)}
    return out


def failed_seeds(rows: list[dict]) -> list[int]:
    """The seeds of ``rows`` that could not run (rows with an ``error``), to run again.

    Parameters
    ----------
    rows : list of dict
        As :func:`run_ensemble` returns them.

    Returns
    -------
    list of int

    Examples
    --------
    >>> from refsim.ensemble import failed_seeds
    >>> failed_seeds([{"seed": 0, "complete": True}, {"seed": 3, "complete": False, "error": "x"}])
    [3]
    """
    return [r["seed"] for r in rows if "error" in r]
