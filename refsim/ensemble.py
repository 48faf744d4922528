"""Ensembles: one preset over many seeds, run on local processes or any executor, summarised
in one table.

The seed-to-seed spread of a statistic is what sets the tolerance of any statistical
comparison between simulators: a difference inside it is not evidence of a bug.

Where the runs execute
----------------------
:func:`run_tasks` runs the tasks of :func:`run_ensemble` (one per seed) and of
:func:`refsim.sweep.run_sweep` (one per grid cell and seed):

* ``jobs=1``: one after another in this process;
* ``jobs`` > 1: in that many local worker processes, started with ``spawn``; at most the
  cores this process may use (:func:`available_cores`; more are capped, with a
  :class:`~refsim.ConfigWarning`) and at most as many runs as fit in the available memory at
  once (:func:`plan_jobs`);
* ``executor=``: on any :class:`concurrent.futures.Executor`, e.g. a Dask cluster's
  (``distributed.Client(address).get_executor()``, what ``--scheduler ADDRESS`` uses, see
  :func:`scheduler_executor`), an MPI pool (``mpi4py.futures.MPIPoolExecutor``) or a batch
  system's through dask-jobqueue (``docs/sweep.md``). Its workers need refsim installed.

A row does not depend on where it ran (its ``wall_time_s`` aside): the same configuration and
seed give the same bits on any machine.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import multiprocessing
import os
import warnings
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, ProcessPoolExecutor, wait

import numpy as np

from . import resources
from .analysis import SpikeTrains, statistics
from .engines import ENGINES, get_engine
from .network import check_seed
from .outputs import check_output_dir, published_run_id
from .params import ConfigError, ConfigWarning, _caller_level
from .presets import get_preset
from .simulate import simulate

__all__ = ["parse_seeds", "check_ensemble", "run_ensemble", "run_tasks", "plan_jobs",
           "available_cores", "scheduler_executor", "previous_rows", "row_keys", "summarize",
           "failed_seeds", "NOT_RUN", "Rows"]

#: The ``error`` of a task's row when Ctrl-C or SIGTERM stopped the runs before it finished.
NOT_RUN = "not run: interrupted"


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
    """Run one task ``(preset, overrides, seed, t_start, engine)`` (in a worker): its row."""
    preset, overrides, seed, t_start, engine = args
    r = simulate(get_preset(preset, **overrides), seed, engine=engine, progress=False)
    if r.stop_reason == "interrupted":  # Ctrl-C or SIGTERM: stop the ensemble, not just this run
        raise KeyboardInterrupt(r.message)
    # a run stopped early (runaway, non-finite state) before the window has no statistics
    stats = statistics(r, t_start, seed=seed) if t_start < r.duration_done else _undefined()
    return {"seed": seed, **stats, "n_spikes": r.n_spikes, "complete": r.complete,
            "stop_reason": r.stop_reason, "wall_time_s": r.wall_time}


def _undefined() -> dict:
    """The statistics' keys, every value NaN (those of an empty 1 ms window)."""
    return dict.fromkeys(_statistics_keys(), float("nan"))


@functools.cache
def _statistics_keys() -> tuple:
    empty = SpikeTrains(np.zeros(0), np.zeros(0, np.int64), n_neurons=1, n_exc=1, t_stop_ms=1.0)
    return tuple(statistics(empty))


def row_keys() -> list[str]:
    """The keys of the row of a run that ran, in order (a row of a run that could not run has
    ``seed``, ``complete`` and ``error`` only).

    Examples
    --------
    >>> from refsim.ensemble import row_keys
    >>> row_keys()[:3], row_keys()[-4:]
    (['seed', 'rate_e_hz', 'rate_i_hz'], ['n_spikes', 'complete', 'stop_reason', 'wall_time_s'])
    """
    return ["seed", *_undefined(), "n_spikes", "complete", "stop_reason", "wall_time_s"]


def available_cores() -> int:
    """The CPU cores this process may run on: ``len(os.sched_getaffinity(0))`` where the
    system has it (Linux: what ``taskset``, cgroups' cpusets and batch schedulers allow),
    else ``os.cpu_count()``.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> from refsim.ensemble import available_cores
    >>> available_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def _check_jobs(jobs, executor) -> None:
    if jobs is None:
        return
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ConfigError(f"jobs = {jobs!r}: allowed an int >= 1"
                          + (" or None (all at once)" if executor is not None else ""))
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise ConfigError(f"executor = {executor!r}: allowed a concurrent.futures.Executor (with "
                          "submit) or None (local processes)")


def plan_jobs(jobs, configs, executor=None, warn: bool = True, engine: str = "numba") -> int | None:
    """How many runs go at once: ``jobs`` checked, and for local processes capped at the cores
    available and checked against the memory that many runs need together.

    Parameters
    ----------
    jobs : int or None
        Runs at once, >= 1. None: 1 for local processes; with an executor, all tasks are
        submitted at once (the executor queues them).
    configs : iterable of Config
        The runs' configurations: the largest :func:`refsim.resources.estimate_memory` is the
        memory of one run.
    executor : concurrent.futures.Executor, optional
        The runs go there: its workers' cores and memory are not this machine's, so neither
        is checked here.
    warn : bool
        Warn when ``jobs`` is capped.
    engine : str
        The runs' engine (its memory differs a little).

    Returns
    -------
    int or None
        Local: ``min(jobs, available_cores())``. With an executor: ``jobs`` (None: all).

    Raises
    ------
    ConfigError
        ``jobs`` not an int >= 1; or ``jobs`` local runs at once (after the cap) need more than
        :func:`refsim.resources.available_memory` (naming ``jobs``, the memory and how many
        fit; ``memory: ...`` when not even one run fits).

    Warns
    -----
    ConfigWarning
        ``jobs`` above :func:`available_cores`: capped there (more processes than cores only
        take turns, each holding its memory).

    Examples
    --------
    >>> import refsim
    >>> from refsim.ensemble import plan_jobs
    >>> plan_jobs(1, [refsim.get_preset("tutorial")])
    1
    >>> plan_jobs(0, [])
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: jobs = 0: allowed an int >= 1
    """
    _check_jobs(jobs, executor)
    if executor is not None:
        return None if jobs is None else int(jobs)
    jobs = 1 if jobs is None else int(jobs)
    cores = available_cores()
    if jobs > cores:
        if warn:
            warnings.warn(f"jobs = {jobs}: more than the {cores} cores this process may use: "
                          f"capped at {cores}", ConfigWarning, stacklevel=_caller_level())
        jobs = cores
    estimates = [resources.estimate_memory(c, engine=engine) for c in configs]
    if not estimates:
        return jobs
    one = max(estimates, key=lambda m: m["total"])
    # each worker process also holds its interpreter, refsim and the engine's code
    per = one["total"] + (resources.worker_baseline(engine) if jobs > 1 else 0)
    avail = resources.available_memory()
    if avail is not None and jobs * per > avail:
        fit = avail // max(per, 1)
        if fit < 1:  # names what takes the memory
            resources.check_memory(one, "one run", "run a smaller network or a shorter duration")
        if jobs > max(fit, 1):
            fmt = resources.format_bytes
            raise ConfigError(f"jobs = {jobs}: {jobs} runs at once need ~{fmt(jobs * per)} "
                              f"({fmt(per)} each, a worker process's own included) but "
                              f"{fmt(avail)} are available: allowed jobs <= {max(fit, 1)} here")
    return jobs


def check_ensemble(preset: str, seeds, jobs: int | None = 1, overrides: dict | None = None,
                   t_start: float = 0.0, engine: str = "numba", executor=None) -> list[tuple]:
    """Check every argument of :func:`run_ensemble` in this process, before any worker
    starts: the preset and overrides, each seed against the configuration, the window, the
    job count (capped at the cores, within the memory: :func:`plan_jobs`) and that the
    engine is available. Returns the workers' tasks.

    Parameters
    ----------
    preset, seeds, jobs, overrides, t_start, engine, executor
        As :func:`run_ensemble` takes them. With an executor, the engine's name is checked
        but not that it runs here (a cluster's workers may have the GPU this machine lacks).

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
    _check_jobs(jobs, executor)
    if (isinstance(t_start, bool) or not isinstance(t_start, (int, float, np.integer, np.floating))
            or not 0 <= t_start < config.duration):
        raise ConfigError(f"t_start = {t_start!r}: allowed 0 <= t_start < duration = "
                          f"{config.duration} ms")
    seeds = list(seeds)
    if not seeds:
        raise ConfigError("seeds = []: allowed at least one seed")
    seeds = [check_seed(seed, config) for seed in seeds]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds = {seeds}: allowed distinct seeds (a seed gives the same run "
                          "every time)")
    if executor is None or engine not in ENGINES:
        get_engine(engine)  # e.g. 'cuda' without a GPU
    plan_jobs(jobs, [config], executor, warn=False, engine=engine)
    return [(preset, dict(overrides or {}), s, float(t_start), engine) for s in seeds]


def run_ensemble(preset: str, seeds, jobs: int | None = 1, overrides: dict | None = None,
                 t_start: float = 0.0, engine: str = "numba", executor=None) -> list[dict]:
    """Run ``preset`` (with ``overrides``) once per seed and return one row of
    :func:`refsim.analysis.statistics` per seed, ordered by seed. ``jobs`` > 1 runs seeds in
    that many local worker processes (started with ``spawn``; at most :func:`available_cores`,
    and only as many as fit in the memory at once, :func:`plan_jobs`); ``executor`` runs
    them on any :class:`concurrent.futures.Executor` instead. The rows do not depend on
    either (the wall time aside).

    Every argument is checked before any worker starts (:func:`check_ensemble`). A seed
    that cannot run costs only itself (and, when a local worker process dies, the seeds
    running beside it): its row says why, the other seeds' rows are kept, and the failed
    seeds can be run again (``seeds=failed_seeds(rows)``; ``refsim ensemble --resume`` does
    it for a saved ensemble). Ctrl-C likewise keeps the seeds already done.

    Parameters
    ----------
    preset : str
        A preset name (:func:`refsim.preset_names`).
    seeds : iterable of int
        Distinct.
    jobs : int or None
        Local worker processes, >= 1 (None: 1). With an executor: at most this many seeds
        submitted at once (None: all of them).
    overrides : dict, optional
        Field values replacing the preset's (units of :class:`~refsim.Config`).
    t_start : float
        Start of the statistics' window (ms), 0 <= t_start < duration.
    engine : {'numba', 'numpy', 'cuda'}
    executor : concurrent.futures.Executor, optional
        Run the seeds on it instead of local processes; it is not shut down. Its workers
        must be able to import refsim. For a cluster:

        * Dask (``pip install 'refsim[distributed]'``): ``distributed.Client(address)
          .get_executor()``, or from a batch system with dask-jobqueue::

              from dask_jobqueue import SLURMCluster       # or PBSCluster, SGECluster, ...
              from distributed import Client
              cluster = SLURMCluster(cores=1, processes=1, memory="4GB", walltime="01:00:00")
              cluster.scale(jobs=20)                       # 20 batch jobs, one worker each
              with Client(cluster) as client:
                  rows = run_ensemble("tutorial-normalized", range(100),
                                      executor=client.get_executor())

        * MPI (mpi4py; started as ``mpiexec -n 21 python -m mpi4py.futures script.py``)::

              from mpi4py.futures import MPIPoolExecutor
              with MPIPoolExecutor() as pool:
                  rows = run_ensemble("tutorial-normalized", range(100), executor=pool)

    Returns
    -------
    list of dict
        Per seed: ``seed``, the keys of :func:`refsim.analysis.statistics` (NaN when the run
        stopped before ``t_start``), ``n_spikes``, ``complete``, ``stop_reason`` ('' when
        complete, else e.g. 'runaway') and ``wall_time_s`` (s); for a seed that could not run,
        ``seed``, ``complete`` (False) and ``error`` (why) only.

    Raises
    ------
    ConfigError
        An unknown preset or override, a bad value, a seed the configuration cannot use,
        repeated seeds, ``jobs`` < 1, ``jobs`` runs that do not fit in the memory together,
        or an engine that is not available.

    Warns
    -----
    ConfigWarning
        ``jobs`` above the cores available: capped there.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from refsim.ensemble import run_ensemble
    >>> small = dict(n_exc=40, n_inh=10, duration=20.0)
    >>> rows = run_ensemble("tutorial", [1, 0], overrides=small)
    >>> [row["seed"] for row in rows], [row["n_spikes"] for row in rows]
    ([0, 1], [50, 51])
    >>> with ThreadPoolExecutor(2) as pool:      # any executor: the same rows
    ...     [row["n_spikes"] for row in run_ensemble("tutorial", [1, 0], overrides=small,
    ...                                              executor=pool)]
    [50, 51]
    """
    tasks = check_ensemble(preset, seeds, jobs, overrides, t_start, engine, executor)
    rows = run_tasks(tasks, jobs, executor)
    return Rows(sorted(rows, key=lambda row: row["seed"]), interrupted=rows.interrupted)


class Rows(list):
    """A list of rows that knows whether the runs were interrupted (Ctrl-C or SIGTERM), even
    when the interrupt came after the last run finished (e.g. during ``on_done``'s save)."""

    def __init__(self, rows=(), interrupted: bool = False):
        super().__init__(rows)
        self.interrupted = interrupted


def run_tasks(tasks, jobs: int | None = 1, executor=None, on_done=None, work=None) -> Rows:
    """Run ``tasks`` (as :func:`check_ensemble` makes them, from any presets and overrides)
    and return their rows, in the order of ``tasks``: what :func:`run_ensemble` and
    :func:`refsim.sweep.run_sweep` run seeds with.

    ``jobs=1`` (and no executor) runs them in this process, ``jobs`` > 1 in local worker
    processes, ``executor`` on it (see :func:`run_ensemble`). A task that raises, or whose
    worker dies, gets an error row; Ctrl-C or SIGTERM stops the runs (local workers at once)
    and keeps the rows done.

    Parameters
    ----------
    tasks : sequence of tuple
        ``(preset, overrides, seed, t_start, engine)`` each, already checked.
    jobs : int or None
        As :func:`run_ensemble` takes it (checked by :func:`plan_jobs`, which warns when it
        is capped).
    executor : concurrent.futures.Executor, optional
    on_done : callable, optional
        ``on_done(index, row)``, called in this thread as each task finishes (not for the
        rows of an interrupt); what it raises stops the runs (a KeyboardInterrupt as Ctrl-C).
    work : callable, optional
        What runs one task and returns its row (default: simulate and
        :func:`refsim.analysis.statistics`); a module-level function, so that worker
        processes can import it (e.g. :mod:`refsim.validate`'s reference runs).

    Returns
    -------
    Rows
        One row per task, as :func:`run_ensemble` describes them; a task not finished when
        the runs were interrupted has ``error`` = :data:`NOT_RUN`; ``.interrupted`` says
        whether they were.

    Examples
    --------
    >>> from refsim.ensemble import check_ensemble, run_tasks
    >>> small = dict(n_exc=40, n_inh=10)
    >>> tasks = (check_ensemble("tutorial", [0], overrides=dict(small, duration=20.0))
    ...          + check_ensemble("tutorial", [0], overrides=dict(small, duration=40.0)))
    >>> done = []
    >>> rows = run_tasks(tasks, on_done=lambda i, row: done.append(i))
    >>> [row["n_spikes"] for row in rows], done
    ([50, 101], [0, 1])
    """
    tasks, work = list(tasks), work or _one
    distinct = {json.dumps([t[0], t[1]], sort_keys=True, default=str): t for t in tasks}
    limit = plan_jobs(jobs, [get_preset(t[0], **t[1]) for t in distinct.values()], executor,
                      engine=tasks[0][4] if tasks else "numba")
    rows: dict[int, dict] = {}
    interrupted = False
    try:
        if executor is None and jobs in (1, None):
            for i, t in enumerate(tasks):
                try:
                    row = work(t)
                except KeyboardInterrupt:
                    raise
                except Exception as e:  # one seed's failure is that seed's only
                    row = _failed(t, e)
                _record(rows, on_done, i, row)
        elif tasks:
            _run_on_pools(tasks, limit, executor, rows, on_done, work)
    except KeyboardInterrupt:  # keep the tasks done; the others are marked below
        interrupted = True
    return Rows([rows[i] if i in rows else {"seed": t[2], "complete": False, "error": NOT_RUN}
                 for i, t in enumerate(tasks)], interrupted=interrupted)


def _record(rows, on_done, i, row) -> None:
    rows[i] = row
    if on_done is not None:
        on_done(i, row)


def _new_pool(jobs: int) -> ProcessPoolExecutor:
    """Local worker processes, started with ``spawn`` (a fork of a multi-threaded process
    may deadlock; Python 3.14 no longer forks by default)."""
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def _run_on_pools(tasks, jobs, executor, rows, on_done, work=_one) -> None:
    """Run ``tasks`` with at most ``jobs`` in flight (None: all), filling ``rows`` by task
    index. When a local worker dies, the tasks in flight get an error row and a fresh pool
    takes the rest. On Ctrl-C or SIGTERM the tasks already done are kept, local workers are
    stopped at once and an executor's futures cancelled."""
    pending = list(enumerate(tasks))
    limit = jobs or len(tasks)
    while pending:
        pool, in_flight = executor or _new_pool(jobs), {}
        interrupted = submit_broke = False
        try:
            while pending or in_flight:
                while pending and len(in_flight) < limit:
                    i, t = pending.pop(0)
                    try:
                        in_flight[pool.submit(work, t)] = (i, t)
                    except BrokenExecutor as e:
                        if executor is not None:  # nothing can run any more
                            _record(rows, on_done, i, _failed(t, e))
                            continue
                        pending.insert(0, (i, t))  # the pool broke meanwhile: a fresh one runs it
                        submit_broke = True
                        break
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                broken = _collect(done, in_flight, rows, on_done)
                if (broken or submit_broke) and executor is None:
                    for i, t in in_flight.values():  # they died with the pool
                        _record(rows, on_done, i, _failed(t, BrokenExecutor("its worker pool broke")))
                    in_flight.clear()
                    break
        except KeyboardInterrupt:
            interrupted = True
            _collect([f for f in in_flight if f.done()], in_flight, rows, None)
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
            elif interrupted:  # e.g. a Dask future: cancelled on the cluster too
                for f in in_flight:
                    f.cancel()
        if executor is not None:
            break


def _collect(done, in_flight, rows, on_done) -> bool:
    """Move the finished futures ``done`` out of ``in_flight`` into ``rows``; True when one
    failed because its pool broke."""
    broken = False
    for f in done:
        i, t = in_flight.pop(f)
        try:
            row = f.result()
        except BrokenExecutor as e:
            row, broken = _failed(t, e), True
        except KeyboardInterrupt:  # the worker's run was interrupted (Ctrl-C reaches it too)
            continue
        except Exception as e:  # one seed's failure is that seed's only
            row = _failed(t, e)
        _record(rows, on_done, i, row)
    return broken


def _failed(task, error) -> dict:
    reason = ("worker process died (killed, or out of memory?)"
              if isinstance(error, BrokenExecutor) else f"{type(error).__name__}: {error}")
    return {"seed": task[2], "complete": False, "error": reason}


@contextlib.contextmanager
def scheduler_executor(scheduler: str = "local"):
    """The executor of ``--scheduler``: None for ``'local'`` (local processes), else the
    executor of a Dask client connected to the scheduler at that address, closed on exit.

    Parameters
    ----------
    scheduler : str
        ``'local'``, or a Dask scheduler's address (``tcp://host:8786``; ``dask scheduler``
        prints it, and ``dask worker tcp://host:8786`` adds workers; with dask-jobqueue,
        ``cluster.scheduler_address``).

    Yields
    ------
    concurrent.futures.Executor or None

    Raises
    ------
    ConfigError
        Not a non-empty string; the ``distributed`` package is missing (``pip install
        'refsim[distributed]'``); or no scheduler answers at the address.

    Examples
    --------
    >>> from refsim.ensemble import scheduler_executor
    >>> with scheduler_executor("local") as executor:
    ...     print(executor)
    None
    """
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ConfigError(f"scheduler = {scheduler!r}: allowed 'local' or the address of a Dask "
                          "scheduler (e.g. tcp://host:8786)")
    if scheduler == "local":
        yield None
        return
    try:
        import distributed  # optional: only a cluster's runs need it
    except ImportError:
        raise ConfigError(f"scheduler = {scheduler!r}: needs the 'distributed' package (pip install "
                          "'refsim[distributed]'): allowed 'local' without it") from None
    try:
        client = distributed.Client(scheduler)
    except Exception as e:  # OSError, TimeoutError, ValueError: one line naming the address
        raise ConfigError(f"scheduler = {scheduler!r}: cannot connect ({type(e).__name__}: {e}): "
                          "allowed 'local' or the address of a running Dask scheduler") from None
    try:
        yield client.get_executor()
    finally:
        client.close()


def previous_rows(out_dir, name: str, definition: dict) -> list[dict]:
    """The rows of the complete ensemble or sweep in ``out_dir`` (its file ``name``), when it
    has the same ``definition``, to continue it; ``[]`` when the directory holds none.

    Parameters
    ----------
    out_dir : str or os.PathLike
    name : str
        ``'ensemble.json'`` or ``'sweep.json'``.
    definition : dict
        What must be the same, as the file stores it: e.g. ``preset``, ``config`` (compared
        field by field), ``t_start_ms``, ``grid``, ``seeds``.

    Returns
    -------
    list of dict
        The file's ``rows``, all of them (the caller keeps those without ``error``).

    Raises
    ------
    ConfigError
        A file that differs from its manifest (:func:`refsim.outputs.check_output_dir`), or
        a different definition (naming each difference).

    Examples
    --------
    >>> import json, os, tempfile
    >>> from refsim.io import write_text
    >>> from refsim.outputs import publish
    >>> from refsim import ConfigError
    >>> from refsim.ensemble import previous_rows
    >>> d = tempfile.mkdtemp()
    >>> doc = {"preset": "tutorial", "t_start_ms": 0.0, "rows": [{"seed": 0, "complete": True}]}
    >>> _ = publish(d, {"ensemble.json": lambda p: write_text(p, json.dumps(doc))})
    >>> previous_rows(d, "ensemble.json", {"preset": "tutorial", "t_start_ms": 0.0})
    [{'seed': 0, 'complete': True}]
    >>> try:
    ...     previous_rows(d, "ensemble.json", {"preset": "tutorial", "t_start_ms": 200.0})
    ... except ConfigError as e:
    ...     print(str(e).split(": holds ")[1].split(": allowed")[0])
    another ensemble (t_start_ms = 0.0 there, 200.0 now)
    """
    out_dir = os.fspath(out_dir)
    if published_run_id(out_dir) is None:
        return []
    if name not in check_output_dir(out_dir)["files"]:
        return []
    path = os.path.join(out_dir, name)
    try:
        with open(path) as f:
            stored = json.load(f)
        rows = stored["rows"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) and type(r.get("seed")) is int
                                                 for r in rows):
            raise ValueError("rows: not a list of objects with a seed")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: cannot be read ({e}): allowed a file refsim wrote") from None
    want = json.loads(json.dumps(definition))  # as JSON stores it: tuples as lists
    differences = []
    for key, value in want.items():
        have = stored.get(key)
        if key not in stored:
            differences.append(f"{key}: not recorded there (an older refsim's file)")
        elif key == "config" and isinstance(have, dict) and isinstance(value, dict):
            differences += [f"{f} = {have.get(f)!r} there, {v!r} now" for f, v in value.items()
                            if have.get(f) != v]
        elif have != value:
            differences.append(f"{key} = {have!r} there, {value!r} now")
    if differences:
        what = name.removesuffix(".json")
        raise ConfigError(f"out = {out_dir!r}: holds another {what} ({'; '.join(differences)}): "
                          "allowed the same definition to continue it, or another --out")
    return rows


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
