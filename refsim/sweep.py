"""Parameter sweeps: a grid over any :class:`~refsim.Config` fields x seeds, one table of
statistics, and the phase diagram of the balanced network.

:func:`run_sweep` builds the configuration of every grid cell and checks it (and every seed
against it) before the first run, then runs every cell x seed through
:func:`refsim.ensemble.run_tasks`: in this process, in local worker processes or on any
executor (a Dask cluster's, MPI's), exactly as :func:`refsim.ensemble.run_ensemble` does.

Given an output directory it writes, through :func:`refsim.outputs.publish` (one unit, with
``manifest.json``):

* ``sweep.csv``: one row per cell x seed, in grid order: the grid values, ``seed``, every key
  of :func:`refsim.analysis.statistics`, ``n_spikes``, ``complete``, ``stop_reason`` and
  ``error`` (empty when the run ran);
* ``sweep.json``: the definition (preset, overrides, the base configuration, grid, seeds,
  window), the thresholds of :func:`classify`, the rows (with their wall times) and one
  summary per cell (means over its seeds and its regime);
* ``sweep.png``: for a 2-D grid the heatmaps of E rate, CV(ISI) and synchrony chi (means
  over seeds) and the regime of each cell; for a 1-D grid the same as lines.

The files are published again as cells complete (at most once every :data:`SAVE_INTERVAL_S`
seconds, and so that writing them takes at most :data:`SAVE_OVERHEAD` of the time) and when
the sweep ends or is interrupted: Ctrl-C or SIGTERM keeps every run done, a killed job the
cells saved before. Running the same sweep into the same directory again continues it: the
rows done are kept, only the missing ones (and those whose run failed) run, and the table is
then the one an uninterrupted sweep writes. A directory holding a sweep of another
definition is refused, naming what differs.

Regimes (Brunel 2000, J. Comput. Neurosci. 8:183)
--------------------------------------------------
Each cell is labelled from the means over its complete runs of the E rate, the mean CV of
the interspike intervals and the synchrony chi of :func:`refsim.analysis.statistics`
(window from ``t_start``), in this order:

* ``silent``: E rate < :data:`SILENT_RATE_HZ` (0.1 Hz), or too few spikes for a CV (no
  neuron fired 3 spikes in the window);
* synchronous (``S*``) when chi > :data:`SYNCHRONY_CHI` (0.5), else asynchronous (``A*``);
* irregular (``*I``) when CV >= :data:`IRREGULAR_CV` (0.5), else regular (``*R``);

so ``AI`` (asynchronous irregular, the balanced state), ``AR``, ``SI`` and ``SR``. A cell
any of whose runs stopped early (runaway activity, a non-finite state) is ``stopped``; one
with no run done is ``not run``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import sys
import time

import numpy as np
from tqdm.auto import tqdm

from ._version import __version__
from .ensemble import NOT_RUN, check_ensemble, plan_jobs, previous_rows, row_keys, run_tasks, summarize
from .io import write_text
from .outputs import new_run_id, prepare_output_dir, publish, published_run_id
from .params import ConfigError, coerce, describe_fields, plain_scalar
from .plot import _pyplot, _save
from .presets import get_preset

__all__ = ["parse_grid", "check_grid", "grid_cells", "classify", "run_sweep", "SweepResult",
           "sweep_csv", "sweep_figure", "REGIMES", "SILENT_RATE_HZ", "SYNCHRONY_CHI", "IRREGULAR_CV"]

#: Below this mean E rate (Hz) a cell is ``silent``.
SILENT_RATE_HZ = 0.1
#: Above this synchrony chi a cell is synchronous.
SYNCHRONY_CHI = 0.5
#: At or above this mean CV(ISI) a cell is irregular.
IRREGULAR_CV = 0.5

#: The regimes of :func:`classify` and of a cell: label -> (description, colour).
REGIMES = {
    "silent": ("silent", "#d0d0d0"),
    "AI": ("asynchronous irregular", "#2ca25f"),
    "AR": ("asynchronous regular", "#3182bd"),
    "SI": ("synchronous irregular", "#fd8d3c"),
    "SR": ("synchronous regular", "#cb181d"),
    "stopped": ("stopped early (runaway or non-finite state)", "#252525"),
    "not run": ("not run", "#ffffff"),
}

#: While a sweep runs, the files are published when a cell completes, at most once every
#: SAVE_INTERVAL_S seconds and only when the last publish took at most SAVE_OVERHEAD of the
#: time since (a large sweep's table takes a while to write): so an interrupted or killed
#: sweep loses at most the cells of about that long.
SAVE_INTERVAL_S = 1.0
SAVE_OVERHEAD = 0.1

#: sweep.json's ``format``.
SWEEP_FORMAT = "refsim.sweep/1"


def parse_grid(items) -> dict[str, list]:
    """``--grid`` items as {field: values}: ``name=start:stop:num`` is ``numpy.linspace(start,
    stop, num)`` (both ends included), ``name=v1,v2,...`` a list; values are converted to the
    field's type by :func:`check_grid`.

    Parameters
    ----------
    items : list of str

    Returns
    -------
    dict of str to list
        In the order given (the first field varies slowest in the table). linspace values are
        rounded to 12 significant digits, so that ``0.2:1.0:9`` gives 0.3, not
        0.30000000000000004.

    Raises
    ------
    ConfigError
        An item without ``=``, a range that is not ``start:stop:num`` with num >= 1, an empty
        value, or a field given twice.

    Examples
    --------
    >>> from refsim.sweep import parse_grid
    >>> parse_grid(["w_e=0.2:1.0:5", "tau_ref=2,5"])
    {'w_e': [0.2, 0.4, 0.6, 0.8, 1.0], 'tau_ref': ['2', '5']}
    """
    grid: dict[str, list] = {}
    allowed = "allowed name=start:stop:num (numpy.linspace, ends included) or name=v1,v2,..."
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--grid {item!r}: {allowed}")
        name, spec = (part.strip() for part in item.split("=", 1))
        if name in grid:
            raise ConfigError(f"--grid {name}: given twice: allowed each parameter once")
        if ":" in spec:
            parts = spec.split(":")
            try:
                if len(parts) != 3:
                    raise ValueError(spec)
                start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
                if num < 1 or not (math.isfinite(start) and math.isfinite(stop)):
                    raise ValueError(spec)
            except ValueError:
                raise ConfigError(f"--grid {item!r}: {allowed}, num >= 1") from None
            grid[name] = [float(f"{v:.12g}") for v in np.linspace(start, stop, num)]
        else:
            values = [v.strip() for v in spec.split(",")]
            if not all(values):
                raise ConfigError(f"--grid {item!r}: an empty value: {allowed}")
            grid[name] = values
    return grid


def check_grid(grid, overrides: dict | None = None) -> dict[str, list]:
    """The grid with every value converted to its field's type (:func:`refsim.params.coerce`);
    ranges are checked when the cells' configurations are built (:func:`run_sweep`).

    Parameters
    ----------
    grid : dict of str to sequence
        Field name -> its values (at least one field, each with at least one value, distinct).
    overrides : dict, optional
        The fixed fields: a field may not be in both.

    Returns
    -------
    dict of str to list
        Plain Python values (JSON-able).

    Raises
    ------
    ConfigError
        Naming the field: unknown, no values, a value of the wrong type, a value twice, or a
        field also in ``overrides``.

    Examples
    --------
    >>> from refsim.sweep import check_grid
    >>> check_grid({"n_exc": [400.0, 800], "autapses": ["no", "yes"]})
    {'n_exc': [400, 800], 'autapses': [False, True]}
    >>> check_grid({"w_e": [0.5, 0.5]})
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: grid w_e = [0.5, 0.5]: 0.5 twice: allowed distinct values
    """
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"grid = {grid!r}: allowed a dict of at least one field name to its values")
    out = {}
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ConfigError(f"grid {name} = {values!r}: allowed a sequence of values")
        values = [coerce(name, plain_scalar(v)) for v in values]
        if not values:
            raise ConfigError(f"grid {name} = []: allowed at least one value")
        for v in values:
            if values.count(v) > 1:
                raise ConfigError(f"grid {name} = {values}: {v!r} twice: allowed distinct values")
        if overrides and name in overrides:
            raise ConfigError(f"grid {name}: also set to {overrides[name]!r} (--set): allowed each "
                              "parameter once")
        out[name] = values
    return out


def grid_cells(grid: dict) -> list[dict]:
    """Every cell of ``grid``, the first field varying slowest.

    Examples
    --------
    >>> from refsim.sweep import grid_cells
    >>> grid_cells({"w_e": [0.5, 1.0], "w_i": [4.0, 8.0]})[:3]
    [{'w_e': 0.5, 'w_i': 4.0}, {'w_e': 0.5, 'w_i': 8.0}, {'w_e': 1.0, 'w_i': 4.0}]
    """
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def classify(rate_e_hz: float, cv_isi: float, chi: float) -> str:
    """The regime of a cell from its mean E rate (Hz), mean CV(ISI) and synchrony chi (rule in
    the module docstring; thresholds :data:`SILENT_RATE_HZ`, :data:`SYNCHRONY_CHI`,
    :data:`IRREGULAR_CV`).

    Returns
    -------
    str
        ``'silent'``, ``'AI'``, ``'AR'``, ``'SI'`` or ``'SR'``; ``'not run'`` when the rate is
        NaN (no complete run).

    Examples
    --------
    >>> from refsim.sweep import classify
    >>> classify(0.05, float("nan"), float("nan")), classify(8.0, 0.9, 0.1), classify(50.0, 0.02, 0.04)
    ('silent', 'AI', 'AR')
    >>> classify(20.0, 0.7, 0.8), classify(14.0, 0.3, 0.9)
    ('SI', 'SR')
    """
    if not math.isfinite(rate_e_hz):
        return "not run"
    if rate_e_hz < SILENT_RATE_HZ or not math.isfinite(cv_isi) or not math.isfinite(chi):
        return "silent"
    return ("S" if chi > SYNCHRONY_CHI else "A") + ("I" if cv_isi >= IRREGULAR_CV else "R")


@dataclasses.dataclass
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes
    ----------
    definition : dict
        ``preset``, ``overrides``, ``config`` (the base configuration, :meth:`Config.to_dict`),
        ``grid``, ``seeds``, ``t_start_ms``: what must be the same to continue a sweep.
    rows : list of dict
        One per cell x seed, in grid order: the cell's grid values, then the row of
        :func:`refsim.ensemble.run_ensemble` (one not finished has ``error`` =
        :data:`refsim.ensemble.NOT_RUN`).
    cells : list of dict
        One per cell: its grid values, ``n`` (complete runs), the mean over them of every
        statistic (``n_spikes`` and wall time aside), and ``regime``.
    n_run, n_kept : int
        Runs made by this call, and rows taken over from the output directory.
    interrupted : bool
        Ctrl-C or SIGTERM stopped the sweep (the rows done are kept, and saved).
    files : list of str
        The paths last written (empty without ``out``).
    """

    definition: dict
    rows: list = dataclasses.field(default_factory=list)
    cells: list = dataclasses.field(default_factory=list)
    n_run: int = 0
    n_kept: int = 0
    interrupted: bool = False
    files: list = dataclasses.field(default_factory=list)

    def failed(self) -> list[dict]:
        """The rows of runs that could not run (an ``error`` other than an interrupt's)."""
        return [r for r in self.rows if r.get("error") not in (None, NOT_RUN)]

    def stopped(self) -> list[dict]:
        """The rows of runs that stopped early (runaway activity, a non-finite state)."""
        return [r for r in self.rows if "error" not in r and not r["complete"]]


def _check_sweep(preset, grid, seeds, overrides, jobs, executor, t_start, engine):
    """Every check before a sweep runs: the grid, each cell's configuration and seeds (naming
    the cell), the window, the engine, and ``jobs`` runs of the largest cell in the memory.
    Returns ``(definition, cells, tasks)``, the tasks cell by cell, seed by seed."""
    overrides = dict(overrides or {})
    base = get_preset(preset, **overrides)
    grid = check_grid(grid, overrides)
    cells = grid_cells(grid)
    plan_jobs(jobs, [], executor, warn=False)  # a bad job count, before any cell is named
    tasks, configs = [], []
    for cell in cells:
        try:
            tasks += check_ensemble(preset, seeds, 1, {**overrides, **cell}, t_start, engine, executor)
            configs.append(get_preset(preset, **overrides, **cell))
        except ConfigError as e:
            where = ", ".join(f"{k}={v!r}" for k, v in cell.items())
            raise ConfigError(f"{e} (grid cell {where})") from None
    plan_jobs(jobs, configs, executor, warn=False, engine=engine)  # jobs x the largest cell
    definition = {"preset": preset, "overrides": overrides, "config": base.to_dict(), "grid": grid,
                  "seeds": [t[2] for t in tasks[:len(tasks) // len(cells)]],
                  "t_start_ms": float(t_start), "engine": engine, "refsim_version": __version__}
    return definition, cells, tasks


def run_sweep(preset: str, grid: dict, seeds, overrides: dict | None = None, jobs: int | None = 1,
              executor=None, t_start: float = 0.0, engine: str = "numba", out=None,
              progress: bool = True) -> SweepResult:
    """Run ``preset`` (with ``overrides``) at every cell of ``grid`` for every seed; with
    ``out``, write ``sweep.csv``, ``sweep.json`` and ``sweep.png`` there, cell by cell, and
    continue the sweep already there (see the module docstring).

    Parameters
    ----------
    preset : str
    grid : dict of str to sequence
        Field -> values (:func:`check_grid`); the first field varies slowest.
    seeds : iterable of int
        Distinct; every cell runs every seed.
    overrides : dict, optional
        Fixed field values (not in ``grid``).
    jobs, executor, engine
        As :func:`refsim.ensemble.run_ensemble` takes them (local processes at most the
        cores, as many as fit in the memory with the largest cell's runs).
    t_start : float
        Start of the statistics' window (ms), below every cell's duration.
    out : str or os.PathLike, optional
        Output directory (:func:`refsim.outputs.prepare_output_dir`); one holding this very
        sweep is continued: its rows without ``error`` are kept, the others run.
    progress : bool
        A tqdm bar on stderr, one tick per finished run (none without a stderr).

    Returns
    -------
    SweepResult

    Raises
    ------
    ConfigError
        Before any run: a bad grid, a cell whose configuration is not allowed (naming the
        field, its value and the cell), a bad seed, window, job count or engine, ``jobs``
        runs that do not fit in the memory, an ``out`` that cannot be written or that holds
        another sweep (naming what differs). During the sweep: an output that cannot be
        written (the cells saved before stay).

    Warns
    -----
    ConfigWarning
        ``jobs`` above the cores available: capped there.

    Examples
    --------
    >>> from refsim.sweep import run_sweep
    >>> s = run_sweep("tutorial-normalized", {"RI_ext": [5.0, 20.0]}, seeds=[0, 1], t_start=50.0,
    ...               overrides=dict(n_exc=80, n_inh=20, duration=200.0), progress=False)
    >>> [(c["RI_ext"], c["n"], round(c["rate_e_hz"], 2), c["regime"]) for c in s.cells], s.n_run
    ([(5.0, 2, 0.0, 'silent'), (20.0, 2, 60.46, 'AR')], 4)
    """
    definition, cells, tasks = _check_sweep(preset, grid, seeds, overrides, jobs, executor,
                                            t_start, engine)
    names, per_cell = list(definition["grid"]), len(definition["seeds"])
    key = lambda cell, seed: (json.dumps([cell.get(k) for k in names]), seed)  # noqa: E731
    rows: list = [None] * len(tasks)
    if out is not None:
        out = prepare_output_dir(out, "sweep")
        same = {k: v for k, v in definition.items() if k != "overrides"}  # the config says it
        kept = {key(r, r.get("seed")): r for r in previous_rows(out, "sweep.json", same)
                if "error" not in r}
        rows = [kept.get(key(cells[i // per_cell], t[2])) for i, t in enumerate(tasks)]
    todo = [i for i, r in enumerate(rows) if r is None]
    result = SweepResult(definition, n_kept=len(tasks) - len(todo))
    left = [0] * len(cells)
    for i in todo:
        left[i // per_cell] += 1

    def snapshot(final: bool, run_id=None):
        result.rows = [r if r is not None else
                       {**cells[i // per_cell], "seed": tasks[i][2], "complete": False,
                        "error": NOT_RUN if final else "not run"} for i, r in enumerate(rows)]
        result.cells = _cell_summaries(cells, result.rows, per_cell)
        if out is not None:
            result.files = _publish(out, result, final, run_id or new_run_id())

    saved = {"at": time.monotonic(), "took": 0.0}

    def on_done(k, row):
        i = todo[k]
        rows[i] = {**cells[i // per_cell], **row}
        result.n_run += 1
        bar.update(1)
        left[i // per_cell] -= 1
        wait = max(SAVE_INTERVAL_S, saved["took"] / SAVE_OVERHEAD if SAVE_OVERHEAD else 0.0)
        if not left[i // per_cell] and out is not None and time.monotonic() - saved["at"] >= wait:
            t0 = time.monotonic()  # a cell is complete: save it (publishing at most ~10 % of the time)
            snapshot(final=False)
            saved.update(at=time.monotonic(), took=time.monotonic() - t0)

    enabled = progress and sys.stderr is not None and not getattr(sys.stderr, "closed", False)
    bar = tqdm(total=len(tasks), initial=result.n_kept, unit="run", desc="refsim sweep",
               disable=not enabled, file=sys.stderr)
    try:
        done = run_tasks([tasks[i] for i in todo], jobs, executor, on_done) if todo else []
    finally:
        bar.close()
    for i, row in zip(todo, done, strict=True):
        if rows[i] is None and row.get("error") != NOT_RUN:  # finished as the runs were stopped
            rows[i] = {**cells[i // per_cell], **row}
            result.n_run += 1
    result.interrupted = getattr(done, "interrupted", False) or any(row.get("error") == NOT_RUN
                                                                      for row in done)
    run_id = new_run_id()
    try:
        snapshot(final=True, run_id=run_id)
    except KeyboardInterrupt:  # held back while the files were written: are they?
        if out is None or published_run_id(out) != run_id:
            raise
        result.interrupted = True
    return result


def _cell_summaries(cells, rows, per_cell) -> list[dict]:
    """Per cell: its grid values, ``n`` (complete runs), the means of the statistics over them
    (:func:`refsim.ensemble.summarize`) and ``regime``."""
    out = []
    for c, cell in enumerate(cells):
        ran = [r for r in rows[c * per_cell:(c + 1) * per_cell] if "error" not in r]
        stats = summarize([{k: v for k, v in r.items() if k not in cell} for r in ran])
        means = {k: stats[k]["mean"] if k in stats else math.nan for k in _STATISTICS()}
        n = sum(1 for r in ran if r["complete"])
        if n < len(ran):
            regime = "stopped"
        elif not ran:
            regime = "not run"
        else:
            regime = classify(means["rate_e_hz"], means["cv_isi"], means["chi"])
        out.append({**cell, "n": n, **means, "regime": regime})
    return out


def _STATISTICS() -> list[str]:
    """The keys of :func:`refsim.analysis.statistics`, in order."""
    return row_keys()[1:-4]


def sweep_csv(grid_names, rows) -> str:
    """The table ``sweep.csv``: a header, then one line per row; the columns are the grid
    fields, then :func:`refsim.ensemble.row_keys` without the wall time (so that one sweep
    always gives the same file), then ``error``.

    Examples
    --------
    >>> from refsim.sweep import sweep_csv
    >>> table = sweep_csv(["w_e"], [{"w_e": 0.5, "seed": 1, "complete": False, "error": "x, y"}])
    >>> print(table.splitlines()[0][:40], table.splitlines()[1], sep="\\n")
    w_e,seed,rate_e_hz,rate_i_hz,cv_isi,cv2,
    0.5,1,,,,,,,,,,,False,,"x, y"
    """
    keys = [*grid_names, *(k for k in row_keys() if k != "wall_time_s"), "error"]
    lines = [",".join(keys)] + [",".join(_csv_field(r.get(k, "")) for k in keys) for r in rows]
    return "\n".join(lines) + "\n"


def _csv_field(value) -> str:
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\n') else text


def _publish(out, result: SweepResult, figure: bool, run_id: str) -> list[str]:
    """Write sweep.json, sweep.csv (and with ``figure`` sweep.png) as one unit."""
    grid = result.definition["grid"]
    document = {"format": SWEEP_FORMAT, "run_id": run_id, **result.definition,
                "thresholds": {"silent_rate_hz": SILENT_RATE_HZ, "synchrony_chi": SYNCHRONY_CHI,
                               "irregular_cv": IRREGULAR_CV},
                "cells": result.cells, "rows": result.rows}
    text = json.dumps(document, indent=1) + "\n"
    files = {"sweep.json": lambda p: write_text(p, text),
             "sweep.csv": lambda p: write_text(p, sweep_csv(grid, result.rows))}
    if figure and _plottable(grid):
        files["sweep.png"] = lambda p: sweep_figure(result.definition, result.cells, p)
    info = {"command": "sweep", "preset": result.definition["preset"],
            "grid": {k: len(v) for k, v in grid.items()}, "seeds": result.definition["seeds"]}
    return publish(out, files, run_id=run_id, info=info)


def _plottable(grid) -> bool:
    """1 or 2 fields, all of numbers."""
    return 1 <= len(grid) <= 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                       for values in grid.values() for v in values)


def _axis_label(name: str, definition: dict) -> str:
    """``name (unit)``; conductances in g_L where the configuration's R_g is 1 ([g] = g_L)."""
    unit = {n: u for n, u, _ in describe_fields()}.get(name, "1")
    if unit == "[g]" and definition.get("config", {}).get("R_g") == 1.0 and "R_g" not in definition["grid"]:
        unit = "g_L"
    return name if unit in ("1", "-") else f"{name} ({unit})"


def _edges(values) -> np.ndarray:
    """Cell edges around the sorted ``values``: midpoints, and half a spacing beyond the ends."""
    v = np.asarray(values, float)
    if v.size == 1:
        half = 0.5 * (abs(v[0]) or 1.0)
        return np.array([v[0] - half, v[0] + half])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])


def _value_ticks(axis, values) -> None:
    """A tick at each grid value (up to 40), labelled at most about 12 of them."""
    if len(values) > 40:
        return
    step = math.ceil(len(values) / 12)
    axis.set_ticks(values, [f"{v:g}" if k % step == 0 else "" for k, v in enumerate(values)], fontsize=8)


def _rate_norm(z):
    """A log colour scale for rates spanning more than a factor 10 (from the silent threshold
    up), else linear: ``(norm, lowest value drawn)``."""
    finite = z[np.isfinite(z)]
    low = max(float(finite.min()), SILENT_RATE_HZ) if finite.size else SILENT_RATE_HZ
    if finite.size and float(finite.max()) > 10 * low:
        return "log", low
    return None, None


def _rgb(hex_color: str) -> tuple:
    return tuple(int(hex_color[k:k + 2], 16) / 255 for k in (1, 3, 5))


PANELS = [("rate_e_hz", "mean E rate (Hz)"), ("cv_isi", "mean CV(ISI)"), ("chi", "synchrony chi")]


def sweep_figure(definition: dict, cells: list[dict], path=None):
    """The phase diagram of a sweep: for a 2-D grid of numbers, heatmaps of the mean E rate
    (Hz), CV(ISI) and synchrony chi per cell (means over its complete runs) and the map of the
    regimes (:func:`classify`, with a legend); for a 1-D grid, the same against the grid value.

    Parameters
    ----------
    definition : dict
        :attr:`SweepResult.definition` (``grid``, ``preset``, ``overrides``, ``config``,
        ``seeds``, ``t_start_ms``).
    cells : list of dict
        :attr:`SweepResult.cells`.
    path : str or os.PathLike, optional
        PNG written atomically.

    Returns
    -------
    ndarray of matplotlib.axes.Axes
        The four panels: rate, CV, chi, regimes.

    Raises
    ------
    ConfigError
        A grid of more than 2 fields, or of values that are not numbers.

    Examples
    --------
    >>> from refsim.sweep import sweep_figure
    >>> definition = {"preset": "p", "overrides": {}, "grid": {"w_e": [0.5, 1.0], "w_i": [4.0]},
    ...               "seeds": [0], "t_start_ms": 0.0, "config": {"duration": 100.0}}
    >>> cells = [{"w_e": 0.5, "w_i": 4.0, "rate_e_hz": 3.0, "cv_isi": 0.9, "chi": 0.1, "regime": "AI"},
    ...          {"w_e": 1.0, "w_i": 4.0, "rate_e_hz": 9.0, "cv_isi": 0.2, "chi": 0.8, "regime": "SR"}]
    >>> axes = sweep_figure(definition, cells)
    >>> [ax.get_title() for ax in axes], axes[0].get_xlabel(), axes[0].get_ylabel()
    (['mean E rate (Hz)', 'mean CV(ISI)', 'synchrony chi', 'regime'], 'w_i ([g])', 'w_e ([g])')
    """
    grid = definition["grid"]
    if not _plottable(grid):
        raise ConfigError(f"grid fields {list(grid)}: a figure needs 1 or 2 fields of numbers")
    plt = _pyplot()
    names, labels = list(grid), list(REGIMES)
    fig, axes = plt.subplots(2, 2, figsize=(12, 9.5))
    axes = axes.ravel()
    config = definition.get("config", {})
    fixed = " ".join(f"--set {k}={v:g}" if isinstance(v, float) else f"--set {k}={v}"
                     for k, v in definition.get("overrides", {}).items())
    window = (f"from {definition['t_start_ms']:g} ms" if "duration" in grid or "duration" not in config
              else f"over {definition['t_start_ms']:g} .. {config['duration']:g} ms")
    fig.suptitle(f"refsim sweep --preset {definition['preset']} {fixed}\nmeans over the "
                 f"{len(definition['seeds'])} seed(s) of each cell, statistics {window}; blank: no "
                 "complete run", fontsize=10)
    label = {name: _axis_label(name, definition) for name in names}
    if len(names) == 2:
        ys, xs = sorted(grid[names[0]]), sorted(grid[names[1]])
        at = {(cell[names[0]], cell[names[1]]): cell for cell in cells}
        X, Y = _edges(xs), _edges(ys)
        for ax, (key, title) in zip(axes, PANELS, strict=False):
            z = np.array([[at.get((y, x), {}).get(key, np.nan) for x in xs] for y in ys], float)
            norm, low = _rate_norm(z) if key == "rate_e_hz" else (None, None)
            if norm == "log":  # rates below the silent threshold drawn in its colour
                z = np.where(z < low, low, z)
                title = f"{title}, log scale"
            mesh = ax.pcolormesh(X, Y, np.ma.masked_invalid(z), cmap="viridis", shading="flat",
                                 norm=norm)
            fig.colorbar(mesh, ax=ax, label=title, format="%g")
        regime = [[at.get((y, x), {}).get("regime", "not run") for x in xs] for y in ys]
        axes[3].pcolormesh(X, Y, np.array([[_rgb(REGIMES[r][1]) for r in row] for row in regime]),
                           shading="flat", edgecolors="#bbbbbb", linewidth=0.3)
        if len(xs) * len(ys) <= 200:  # the label in each cell, where it can be read
            for iy, y in enumerate(ys):
                for ix, x in enumerate(xs):
                    r = regime[iy][ix]
                    axes[3].text(x, y, {"stopped": "x", "not run": ""}.get(r, r), ha="center",
                                 va="center", fontsize=7,
                                 color="white" if r in ("SR", "stopped", "AR") else "black")
        for ax in axes:
            ax.set_xlabel(label[names[1]])
            ax.set_ylabel(label[names[0]])
            _value_ticks(ax.xaxis, xs)
            _value_ticks(ax.yaxis, ys)
    else:
        order = sorted(cells, key=lambda cell: cell[names[0]])
        x = [cell[names[0]] for cell in order]
        for ax, (key, title) in zip(axes, PANELS, strict=False):
            ax.plot(x, [cell.get(key, np.nan) for cell in order], color="#1f4e9a", marker="o",
                    ms=3, label="E" if key == "rate_e_hz" else None)
            ax.set_ylabel(title)
        axes[0].plot(x, [cell.get("rate_i_hz", np.nan) for cell in order], color="#c0392b",
                     marker="o", ms=3, label="I")
        axes[0].set_ylabel("mean rate (Hz)")
        axes[0].legend(frameon=False)
        axes[1].axhline(IRREGULAR_CV, color="#999999", ls="--", lw=0.8)
        axes[2].axhline(SYNCHRONY_CHI, color="#999999", ls="--", lw=0.8)
        edges = _edges(x)
        for lo, hi, cell in zip(edges[:-1], edges[1:], order, strict=True):
            r = cell["regime"]
            axes[3].axvspan(lo, hi, color=REGIMES[r][1], ec="#bbbbbb", lw=0.3)
            axes[3].text((lo + hi) / 2, 0.5, {"stopped": "x", "not run": ""}.get(r, r), ha="center",
                         va="center", fontsize=7, color="white" if r in ("SR", "stopped", "AR") else "black")
        axes[3].set_yticks([])
        axes[3].set_box_aspect(0.15)   # a strip
        for ax in axes:
            ax.set_xlabel(label[names[0]])
            ax.set_xlim(edges[0], edges[-1])
            _value_ticks(ax.xaxis, x)
    for ax, title in zip(axes, [t for _, t in PANELS] + ["regime"], strict=True):
        ax.set_title(title, fontsize=10)
    shown = [k for k in labels if any(cell["regime"] == k for cell in cells)]
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=REGIMES[k][1], edgecolor="#999999",
                             label=REGIMES[k][0].replace(" (", "\n(") if k in ("silent", "not run") else
                             f"{'x' if k == 'stopped' else k}: {REGIMES[k][0].replace(' (', chr(10) + '(')}")
               for k in shown]
    axes[3].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.03, 1.0), frameon=False,
                   fontsize=8, title=f"S: chi > {SYNCHRONY_CHI:g}\nI: CV >= {IRREGULAR_CV:g}\n"
                                     f"silent: E rate < {SILENT_RATE_HZ:g} Hz",
                   title_fontsize=8, alignment="left")
    if path is not None:
        _save(fig, path)
    else:
        plt.close(fig)
    return axes
