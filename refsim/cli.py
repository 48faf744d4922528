"""Command line: ``refsim run``, ``compare``, ``validate``, ``ensemble``, ``sweep``,
``export``, ``convert``, ``presets`` (also ``python -m refsim``).

Exit status
-----------
0   the run completed (``validate``: the spikes are consistent with the preset)
1   ``validate``: the spikes are not consistent with the preset
2   bad input (one line on stderr: ``refsim: error: <field> = <value>: allowed ...``),
    including a run refused because it would not fit in memory, or an output that cannot
    be written
3   the run stopped on a non-finite state or runaway activity (or, for ``ensemble`` and
    ``sweep``, a seed could not run); the partial result is saved
130 interrupted (Ctrl-C); a partial result is saved when the time loop had started (an
    ensemble's or a sweep's runs done; ``--resume``, or the same ``refsim sweep`` again,
    continues them)
143 terminated (SIGTERM, as ``timeout`` and cluster schedulers send it): as for Ctrl-C

Every input, and the output directory, is checked before the first step. A save that has
started completes before an interrupt is honoured, and an output directory holds one
complete run or says that it does not (:mod:`refsim.outputs`).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter

from tqdm.auto import tqdm

from . import formats
from ._version import __version__
from .compare import check_labels, compare, write_report
from .connectivity import load_connectivity
from .elementary import FloatingPointModeError
from .engines import DEFAULT_ENGINE, ENGINES
from .ensemble import (
    check_ensemble,
    failed_seeds,
    parse_seeds,
    previous_rows,
    run_ensemble,
    scheduler_executor,
    summarize,
)
from .formats import FORMATS, read_spikes, write_spikes
from .io import OutputError, load_initial_state, read_npz, write_network, write_text
from .network import network_inputs
from .outputs import new_run_id, prepare_output_dir, publish, published_run_id
from .params import ConfigError, ConfigWarning, coerce, describe_fields
from .plot import benchmark_figure, raster
from .presets import OUT_DEGREE, PRESETS, get_preset, scaled_preset
from .simulate import Terminated, check_simulate_args, simulate
from .state import STATE_VARIABLES
from .sweep import REGIMES, parse_grid, run_sweep
from .validate import DEFAULT_BASELINE_RUNS, DEFAULT_SEEDS, DEFAULT_T_START, validate
from .validate import write_report as write_validation_report

EXIT_INCONSISTENT, EXIT_BAD_INPUT, EXIT_STOPPED, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 2, 3, 130, 143


def parse_set(items):
    """``--set name=value`` items as {field: value}, each converted to the field's type.

    Parameters
    ----------
    items : list of str
        ``'name=value'`` strings (spaces around the name are ignored).

    Returns
    -------
    dict of str to value
        Converted by :func:`refsim.params.coerce`.

    Raises
    ------
    ConfigError
        An item without ``=``, an unknown field, a value that cannot be converted, or a
        field given twice.

    Examples
    --------
    >>> from refsim.cli import parse_set
    >>> parse_set(["n_exc=400", "dt = 0.05", "autapses=false"])
    {'n_exc': 400, 'dt': 0.05, 'autapses': False}
    """
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: allowed the form name=value")
        name, value = item.split("=", 1)
        name = name.strip()
        if name in out:
            raise ConfigError(f"--set {name}: given twice ({out[name]!r} and {value.strip()!r}): "
                              "allowed each parameter once")
        out[name] = coerce(name, value)
    return out


def _csv_table(keys, rows) -> str:
    """``rows`` as CSV text (quoted where a value holds a comma, a quote or a line break)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(keys)
    writer.writerows([[r.get(k, "") for k in keys] for r in rows])
    return buffer.getvalue()


#: Runs (or partial runs) shorter than this (ms) get no benchmark.png: its population-rate and
#: spectrum panels need a window of whole 1 ms bins after the first fifth is dropped.
MIN_BENCHMARK_MS = 10.0


def _int_list(text, option):
    """'0,1,5' as [0, 1, 5] (None for None or ''); ConfigError naming ``option`` otherwise."""
    if not text:
        return None
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise ConfigError(f"{option} {text}: allowed comma-separated neuron indices, e.g. 0,1") from None


def run_overrides(args) -> dict:
    """The ``--set`` items and the shortcut options (``--duration``, ``--dt``, ``--dtype``)
    of ``refsim run`` as one dict; a parameter given both ways is refused."""
    overrides = parse_set(args.set)
    for name in ("duration", "dt", "dtype"):
        value = getattr(args, name)
        if value is not None:
            if name in overrides:
                raise ConfigError(f"--{name} {value} and --set {name}={overrides[name]!r}: allowed "
                                  "each parameter once")
            overrides[name] = value
    return overrides


def cmd_run(args) -> int:
    """``refsim run``: simulate a preset; write ``spikes.npz``, ``summary.json``, ``raster.png``.

    Parameters
    ----------
    args : argparse.Namespace
        The ``run`` subcommand's arguments (:func:`build_parser`).

    Returns
    -------
    int
        Exit status: 0 complete, 3 stopped (non-finite state or runaway), 130 interrupted
        (Ctrl-C), 143 terminated (SIGTERM); the partial result is saved in each case.

    Raises
    ------
    ConfigError
        Bad input (:func:`main` reports it and returns 2).

    Examples
    --------
    >>> import tempfile
    >>> from refsim.cli import build_parser, cmd_run
    >>> args = build_parser().parse_args(["run", "--set", "n_exc=8", "--set", "n_inh=2",
    ...     "--duration", "20", "--no-progress", "--out", tempfile.mkdtemp()])
    >>> status = cmd_run(args)  # doctest: +ELLIPSIS
    refsim run --preset tutorial: 10 neurons, 200 steps of 0.1 ms (float32, engine numba)
      rate E 50.000 Hz   rate I 50.000 Hz   mean CV(ISI) nan
      spikes 10   wall time ... s
      wrote .../spikes.npz, summary.json, raster.png, benchmark.png, manifest.json (run ...)
    >>> status
    0
    """
    config = (get_preset(args.preset, **run_overrides(args)) if args.neurons is None
              else scaled_preset(args.preset, args.neurons, **run_overrides(args)))
    conn = (load_connectivity(args.connectivity, n_exc=config.n_exc, n_neurons=config.n_neurons)
            if args.connectivity else None)
    initial = (load_initial_state(args.initial_state, n_neurons=config.n_neurons)
               if args.initial_state else None)
    options = dict(seed=args.seed, engine=args.engine, connectivity=conn, initial=initial,
                   progress=not args.no_progress, stop_on_runaway=not args.allow_runaway,
                   threads=args.threads, record=_int_list(args.record, "--record"),
                   record_vars=tuple(v for v in args.record_vars.split(",") if v))
    check_simulate_args(config, **options)  # every input, then the output path, then the run
    out = prepare_output_dir(args.out, "run")

    result = simulate(config, **options)
    summary = {"preset": args.preset}

    def write_summary(path):  # inside the save, where an interrupt is held back
        summary.update(result.summary())
        write_text(path, json.dumps(summary, indent=2) + "\n")

    files = {"spikes.npz": result.save,  # spikes first: a failed plot never loses the run
             "summary.json": write_summary}
    if result.steps_done and not args.no_figures:  # a raster needs at least one step
        files["raster.png"] = lambda p: raster(result, p)
        if result.steps_done * config.dt >= MIN_BENCHMARK_MS:
            files["benchmark.png"] = lambda p: benchmark_figure(
                result, p, t_start=min(DEFAULT_T_START, 0.2 * result.steps_done * config.dt))
    held, saved = _save(out, files, result.run_id,
                        {"command": "run", "preset": args.preset, "seed": args.seed,
                         "threads": args.threads},
                        _keep_spikes(out, result))
    if not saved:
        return _interrupt_status()
    print(f"refsim run --preset {args.preset}: {config.n_neurons} neurons, "
          f"{result.steps_done} steps of {config.dt} ms ({config.dtype}, engine {result.engine}"
          + (f", {args.threads} threads)" if args.threads > 1 else ")"))
    print(f"  rate E {summary['rate_e_hz']:.3f} Hz   rate I {summary['rate_i_hz']:.3f} Hz   "
          f"mean CV(ISI) {summary['cv_isi_mean']:.4f}")
    print(f"  spikes {summary['n_spikes']}   wall time {summary['wall_time_s']:.2f} s")
    print(f"  wrote {out}/{', '.join(files)}, manifest.json (run {result.run_id[:8]})")
    if held is not None:
        print(f"refsim: {_signal_name()} while saving: the save was completed first "
              f"({out}/manifest.json lists the files)", file=sys.stderr)
        return _interrupt_status()
    if result.complete:
        return 0
    print(f"refsim: PARTIAL RESULT ({result.stop_reason}, {result.steps_done} of "
          f"{config.n_steps} steps saved): {result.message}", file=sys.stderr)
    return _interrupt_status() if result.stop_reason == "interrupted" else EXIT_STOPPED


def _save(out, files, run_id, info, rescue=None):
    """:func:`refsim.outputs.publish` the files as run ``run_id``.

    Returns ``(held, saved)``: the interrupt that arrived (held back while the files were
    written) or None, and whether the files are in ``out``. An interrupt can come before
    the save starts (while waiting for another refsim's lock): then ``rescue()`` keeps
    what can be kept and says where, in the message printed here. When the save fails (a
    full disk, a plot that raises), the OutputError says the same."""
    try:
        publish(out, files, run_id=run_id, info=info)
    except KeyboardInterrupt as e:
        saved = published_run_id(out) == run_id
        if not saved:
            kept = rescue() if rescue else "nothing was saved"
            print(f"refsim: {_signal_name()} before the save: {kept}", file=sys.stderr)
        return e, saved
    except OutputError as e:
        if rescue is None:
            raise
        raise OutputError(f"{e}; {rescue()}") from None
    return None, True


def _keep_spikes(out, result):
    """What ``_save`` calls when a run's save failed: the spikes are kept in ``out`` if its
    ``spikes.npz`` (this run's, by the id in its metadata) was written, else rescued."""
    def rescue():
        path = os.path.join(out, "spikes.npz")
        try:
            meta = json.loads(str(read_npz(path, "result file", names=("meta",))["meta"]))
            if meta.get("run_id") == result.run_id:
                return f"{path} holds the run's spikes (the directory has no manifest)"
        except (ConfigError, ValueError, KeyError):
            pass
        return _rescue(result)
    return rescue


def _rescue(result) -> str:
    """Save the run's spikes to a new temporary directory; say where (or that it failed)."""
    try:
        path = os.path.join(tempfile.mkdtemp(prefix="refsim-rescue-"), "spikes.npz")
        result.save(path)
    except (OSError, ConfigError):
        return "the run could not be saved anywhere else either"
    return f"the run's spikes were saved to {path} instead"


#: Set by the SIGTERM handler of :func:`main`: which signal interrupted the command.
_SIGTERM_RECEIVED = threading.Event()


def _interrupt_status() -> int:
    return EXIT_TERMINATED if _SIGTERM_RECEIVED.is_set() else EXIT_INTERRUPTED


def _signal_name() -> str:
    return "terminated (SIGTERM)" if _SIGTERM_RECEIVED.is_set() else "interrupted (Ctrl-C)"


def cmd_compare(args) -> int:
    """``refsim compare``: compare two spike files; write ``report.md``, ``comparison.json``,
    ``comparison.png`` (:func:`refsim.compare.compare`, :func:`refsim.compare.write_report`).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by :func:`build_parser`: the two spike files ``a`` and ``b``, ``out``,
        ``t_start``, ``labels``, ``seed``, and ``n_exc``, ``n_neurons``, ``t_stop`` for a file
        without metadata.

    Returns
    -------
    int
        Exit status 0, or 130 (143) when Ctrl-C (SIGTERM) came while the report was
        written (it is completed first).

    Raises
    ------
    ConfigError
        An unreadable spike file, missing sizes, a bad window or labels, or an output
        directory that cannot be written.

    Examples
    --------
    >>> import json, os, tempfile, numpy as np
    >>> from refsim.cli import build_parser, cmd_compare
    >>> d, rng = tempfile.mkdtemp(), np.random.default_rng(0)
    >>> meta = json.dumps({"n_neurons": 10, "n_exc": 8, "duration_ms": 100.0})
    >>> for name in ("a.npz", "b.npz"):
    ...     np.savez(os.path.join(d, name), t_ms=np.sort(rng.uniform(0, 100, 200)),
    ...              i=rng.integers(0, 10, 200), meta=meta)
    >>> args = build_parser().parse_args(["compare", os.path.join(d, "a.npz"),
    ...                                   os.path.join(d, "b.npz"), "--out", d])
    >>> status = cmd_compare(args)  # doctest: +ELLIPSIS
    rate_hz  KS 0.200 (p 0.99)  Wasserstein 10  Cohen's d +0.000
    ...
    rate correlation -0.1080; rasters first differ at 0.27385 ms
    wrote .../comparison.json, .../report.md, .../comparison.png, .../manifest.json
    >>> status
    0
    """
    labels = check_labels(args.labels if args.labels else ("A", "B"))
    a = _read(args, args.a, args.format_a or args.format)
    b = _read(args, args.b, args.format_b or args.format)
    out = prepare_output_dir(args.out, "compare")
    comparison = compare(a, b, t_start=args.t_start, seed=args.seed, labels=labels)
    run_id = new_run_id()
    try:
        paths, held = write_report(comparison, a, b, out, run_id=run_id), None
    except KeyboardInterrupt as e:  # held back until the report was complete, or before it
        paths, held = [os.path.join(out, "manifest.json")], e
        if published_run_id(out) != run_id:
            print(f"refsim: {_signal_name()} before the report was written: nothing was saved",
                  file=sys.stderr)
            return _interrupt_status()
    for name, d in comparison["distributions"].items():
        if "ks_distance" in d:
            print(f"{name:8s} KS {d['ks_distance']:.3f} (p {d['ks_pvalue']:.2g})  "
                  f"Wasserstein {d['wasserstein']:.4g}  Cohen's d {d['cohens_d']:+.3f}")
    if "rate_correlation" in comparison:
        fd = comparison["first_difference_ms"]
        print(f"rate correlation {comparison['rate_correlation']:.4f}; rasters "
              + ("identical" if fd is None else f"first differ at {fd} ms"))
    print("wrote " + ", ".join(paths))
    if held is not None:
        print(f"refsim: {_signal_name()} while saving: the report was completed first",
              file=sys.stderr)
        return _interrupt_status()
    return 0


def _read(args, path, fmt, fallback=None):
    """The spikes of ``path`` with the spike-file options of :func:`_spike_options`."""
    return read_spikes(path, fmt, n_neurons=args.n_neurons, n_exc=args.n_exc, t_stop_ms=args.t_stop,
                       dt_ms=args.dt, population=args.population, first_id=args.first_id,
                       fallback=fallback)


def cmd_convert(args) -> int:
    """``refsim convert IN OUT``: a spike file from one format to another
    (:func:`refsim.formats.read_spikes`, :func:`refsim.formats.write_spikes`).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by :func:`build_parser`: ``input``, ``output``, ``--from``, ``--to`` and the
        spike-file options.

    Returns
    -------
    int
        Exit status 0.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from refsim.cli import main
    >>> d = tempfile.mkdtemp()
    >>> np.savez(os.path.join(d, "b.npz"), i=np.array([1, 0]), t=np.array([0.0005, 0.0012]))
    >>> main(["convert", os.path.join(d, "b.npz"), os.path.join(d, "s.h5"), "--n-neurons", "2",
    ...       "--n-exc", "1", "--t-stop", "5"])   # doctest: +ELLIPSIS
    read 2 spikes of 2 neurons (brian2 ...b.npz'); wrote sonata .../s.h5
    0
    """
    fmt = args.from_format or formats.detect_format(args.input)
    spikes = _read(args, args.input, fmt)
    written = write_spikes(spikes, args.output, args.to, dt_ms=args.dt)
    print(f"read {spikes.times_ms.size} spikes of {spikes.n_neurons} neurons ({fmt} "
          f"{os.fspath(args.input)!r}); wrote {written} {args.output}")
    return 0


def cmd_export(args) -> int:
    """``refsim export``: the network (and parameters) that ``refsim run`` would simulate, for
    another simulator: ``--to sonata`` (the exact network as SONATA,
    :func:`refsim.formats.write_sonata_network`), ``npz`` (one ``network.npz`` of plain
    arrays, :func:`refsim.io.write_network`) or ``json`` (``parameters.json`` with units).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by :func:`build_parser`: ``preset``, ``seed``, ``set``, ``neurons``, ``to``,
        ``out``, ``g_L``.

    Returns
    -------
    int
        Exit status 0.

    Examples
    --------
    >>> import tempfile
    >>> from refsim.cli import main
    >>> main(["export", "--preset", "brette2007-coba", "--neurons", "400", "--to", "json",
    ...       "--out", tempfile.mkdtemp()])   # doctest: +ELLIPSIS
    wrote .../parameters.json (brette2007-coba, seed 0, N = 400)
    0
    """
    overrides = parse_set(args.set)
    config = (scaled_preset(args.preset, args.neurons, **overrides) if args.neurons
              else get_preset(args.preset, **overrides))
    meta = {"preset": args.preset, "seed": args.seed, "overrides": overrides}
    os.makedirs(args.out, exist_ok=True)
    if args.to == "json":
        paths = [os.path.join(args.out, "parameters.json")]
        formats.write_parameters(paths[0], config, **meta)
    else:
        connectivity, initial = network_inputs(config, args.seed)
        if args.to == "sonata":
            paths = formats.write_sonata_network(args.out, config, connectivity, initial, meta,
                                                 g_L_nS=args.g_L)
        else:
            paths = [os.path.join(args.out, "network.npz")]
            write_network(paths[0], config, connectivity, initial,
                          {**meta, "refsim_version": __version__})
    print(f"wrote {', '.join(paths)} ({args.preset}, seed {args.seed}, N = {config.n_neurons})")
    return 0


def cmd_validate(args) -> int:
    """``refsim validate``: is a spike file what refsim computes for a preset?

    Prints one line per statistic and the verdict (:func:`refsim.validate.validate`); with
    ``--out`` also writes ``report.md``, ``verdict.json`` and the figures
    (:func:`refsim.validate.write_report`).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by :func:`build_parser`.

    Returns
    -------
    int
        0 consistent, 1 inconsistent, 3 a reference run could not run, 130 (143) Ctrl-C
        (SIGTERM).

    Raises
    ------
    ConfigError
        An unreadable spike file, spikes of another size or duration than the
        configuration's, or a bad option (:func:`main` reports it and returns 2).
    """
    overrides = parse_set(args.set)
    config = get_preset(args.preset, **overrides)
    spikes = _read(args, args.spikes, args.format,
                   fallback={"n_neurons": config.n_neurons, "n_exc": config.n_exc,
                             "duration_ms": config.duration, "dt_ms": config.dt})
    out = prepare_output_dir(args.out, "validate") if args.out else None
    t0 = time.perf_counter()
    try:
        verdict = validate(spikes, args.preset, overrides, seeds=args.seeds, t_start=args.t_start,
                           alpha=args.alpha, engine=args.engine, jobs=args.jobs, cache=args.cache_dir,
                           same_network=args.seed if args.same_network else None,
                           baseline_runs=args.baseline_runs, progress=not args.no_progress)
    except RuntimeError as e:  # a reference seed failed: no reference to judge by
        print(f"refsim: error: {e}", file=sys.stderr)
        return EXIT_STOPPED
    print("\n".join(verdict.lines()))
    print(f"({time.perf_counter() - t0:.1f} s; reference " +
          (f"built in {verdict.reference.build_s:.1f} s" if verdict.reference.build_s else "from the cache")
          + (f", {verdict.reference.path}" if verdict.reference.path else "") + ")")
    if out is not None:
        try:
            paths = write_validation_report(verdict, spikes, out)
        except KeyboardInterrupt:
            print(f"refsim: {_signal_name()} while the report was written", file=sys.stderr)
            return _interrupt_status()
        print("wrote " + ", ".join(paths))
    return 0 if verdict.consistent else EXIT_INCONSISTENT


def cmd_ensemble(args) -> int:
    """``refsim ensemble``: run a preset over many seeds; write ``ensemble.json`` and
    ``ensemble.csv`` (:func:`refsim.ensemble.run_ensemble`, :func:`refsim.ensemble.summarize`).

    The seeds run in local processes (``--jobs``, at most the cores available) or on a Dask
    cluster (``--scheduler ADDRESS``). With ``--resume`` the rows without an error of the
    ensemble already in ``--out`` (same preset, configuration and window) are kept, and only
    the seeds of ``--seeds`` without one run; the table written holds both.

    Parameters
    ----------
    args : argparse.Namespace
        The ``refsim ensemble`` options as :func:`build_parser` parses them: preset, seeds,
        jobs, scheduler, t_start, engine, the ``--set`` overrides, resume and out.

    Returns
    -------
    int
        Exit status: 0; 3 when a run stopped early or a seed could not run (the others are
        saved, and the message says how to run the failed ones again); 130 (143) when
        interrupted by Ctrl-C (SIGTERM), with the seeds done saved.

    Raises
    ------
    ConfigError
        Bad seeds, overrides, job count or scheduler; with ``--resume``, an ``--out`` holding
        an ensemble of another preset, configuration or window.

    Examples
    --------
    >>> import tempfile
    >>> from refsim.cli import build_parser, cmd_ensemble
    >>> args = build_parser().parse_args(["ensemble", "--set", "n_exc=8", "--set", "n_inh=2",
    ...     "--set", "duration=20", "--seeds", "0:2", "--t-start", "0", "--out", tempfile.mkdtemp()])
    >>> status = cmd_ensemble(args)  # doctest: +ELLIPSIS
    refsim ensemble --preset tutorial-normalized: 2 seeds, from 0.0 ms
      rate_e_hz         53.12 ± 4.42 (SD over seeds)
    ...
      wrote .../ensemble.json, ensemble.csv, manifest.json
    >>> status
    0
    """
    overrides = parse_set(args.set)
    seeds = parse_seeds(args.seeds)
    config = get_preset(args.preset, **overrides)  # the cheap checks before any connection
    definition = {"preset": args.preset, "config": config.to_dict(), "t_start_ms": args.t_start,
                  "engine": args.engine, "refsim_version": __version__}
    with scheduler_executor(args.scheduler) as executor:
        check_ensemble(args.preset, seeds, args.jobs, overrides, args.t_start, args.engine, executor)
        out = prepare_output_dir(args.out, "ensemble")  # before the first seed
        kept = ([r for r in previous_rows(out, "ensemble.json", definition) if "error" not in r]
                if args.resume else [])
        todo = [s for s in seeds if s not in {r["seed"] for r in kept}]
        new = (run_ensemble(args.preset, todo, jobs=args.jobs, overrides=overrides,
                            t_start=args.t_start, engine=args.engine, executor=executor)
               if todo else [])
    rows = sorted(kept + new, key=lambda r: r["seed"])
    summary = summarize(rows)
    done = [r for r in rows if "error" not in r]
    keys = list(done[0]) if done else ["seed", "complete"]
    keys = [k for k in keys if k != "complete"] + ["complete", "error"]
    table = _csv_table(keys, rows)
    run_id = new_run_id()
    document = {"run_id": run_id, **definition, "overrides": overrides, "rows": rows, "summary": summary}
    text = json.dumps(document, indent=1) + "\n"

    def rescue():  # the rows are the work: keep them somewhere
        try:
            path = os.path.join(tempfile.mkdtemp(prefix="refsim-rescue-"), "ensemble.json")
            write_text(path, text)
        except (OSError, ConfigError):
            return "the rows could not be saved anywhere else either"
        return f"the rows were saved to {path} instead"

    all_seeds = [r["seed"] for r in rows]
    held, saved = _save(out, {"ensemble.json": lambda p: write_text(p, text),
                              "ensemble.csv": lambda p: write_text(p, table)},
                        run_id, {"command": "ensemble", "preset": args.preset, "seeds": all_seeds},
                        rescue)
    if not saved:
        return _interrupt_status()
    resumed = f" ({len(kept)} kept from {out}, {len(todo)} run now)" if args.resume else ""
    print(f"refsim ensemble --preset {args.preset}: {len(rows)} seeds, from {args.t_start} ms{resumed}")
    for k, v in summary.items():
        print(f"  {k:12s} {v['mean']:10.4g} ± {v['sd']:.3g} (SD over seeds)")
    print(f"  wrote {out}/ensemble.json, ensemble.csv, manifest.json")
    failed = failed_seeds(rows)
    if failed:
        reasons = sorted({r["error"] for r in rows if "error" in r})
        print(f"refsim: {len(failed)} of {len(rows)} seeds could not run ({'; '.join(reasons)}); "
              "the same command with --resume keeps the rows done and runs only these: "
              f"--seeds {','.join(map(str, failed))}", file=sys.stderr)
    if held is not None or getattr(new, "interrupted", False) or any(
            r.get("error", "").startswith("not run") for r in rows):
        return _interrupt_status()
    return 0 if not failed and all(r["complete"] for r in rows) else EXIT_STOPPED


def cmd_sweep(args) -> int:
    """``refsim sweep``: a grid over any parameters x seeds; write ``sweep.csv``, ``sweep.json``
    and (for 1-D and 2-D grids) ``sweep.png``, the phase diagram (:func:`refsim.sweep.run_sweep`).

    Each ``--grid NAME=START:STOP:NUM`` (numpy.linspace, both ends included) or
    ``NAME=V1,V2,...`` adds a field. Every cell's configuration is checked before the first
    run; the files are published as each cell completes, and the same command again (same
    ``--out``) continues an interrupted sweep: only the missing runs (and those that failed)
    run. An ``--out`` holding a sweep of another definition is refused, naming what differs.

    Parameters
    ----------
    args : argparse.Namespace
        The ``refsim sweep`` options (:func:`build_parser`): preset, grid, seeds, jobs,
        scheduler, t_start, engine, the ``--set`` overrides, out, no_progress.

    Returns
    -------
    int
        Exit status: 0; 3 when a run stopped early (runaway activity, a non-finite state: the
        cell is 'stopped' in the map) or could not run; 130 (143) when interrupted by Ctrl-C
        (SIGTERM), with the runs done saved.

    Raises
    ------
    ConfigError
        A bad grid, cell, seed, window, job count, scheduler or output directory (before any
        run).

    Examples
    --------
    >>> import tempfile
    >>> from refsim.cli import build_parser, cmd_sweep
    >>> args = build_parser().parse_args(["sweep", "--set", "n_exc=80", "--set", "n_inh=20",
    ...     "--set", "duration=200", "--grid", "RI_ext=5,20", "--seeds", "0:2", "--t-start", "50",
    ...     "--no-progress", "--out", tempfile.mkdtemp()])
    >>> status = cmd_sweep(args)  # doctest: +ELLIPSIS
    refsim sweep --preset tutorial-normalized: 2 cells (RI_ext) x 2 seeds, from 50.0 ms
      4 runs: 4 run now, 0 kept from --out, in ... s
      regimes: silent 1, AR 1
      wrote .../sweep.json, sweep.csv, sweep.png, manifest.json
    >>> status
    0
    """
    overrides = parse_set(args.set)
    grid = parse_grid(args.grid)
    seeds = parse_seeds(args.seeds)
    get_preset(args.preset, **overrides)  # the cheap checks before any connection
    t0 = time.perf_counter()
    with scheduler_executor(args.scheduler) as executor:
        result = run_sweep(args.preset, grid, seeds, overrides, jobs=args.jobs, executor=executor,
                           t_start=args.t_start, engine=args.engine, out=args.out,
                           progress=not args.no_progress)
    shape = " x ".join(str(len(v)) for v in result.definition["grid"].values())
    n = len(result.rows)
    print(f"refsim sweep --preset {args.preset}: {shape} cells ({', '.join(grid)}) x {len(seeds)} "
          f"seeds, from {args.t_start} ms")
    print(f"  {n} runs: {result.n_run} run now, {result.n_kept} kept from --out, in "
          f"{time.perf_counter() - t0:.1f} s")
    counts = Counter(c["regime"] for c in result.cells)
    print("  regimes: " + ", ".join(f"{k} {counts[k]}" for k in REGIMES if counts[k]))
    print(f"  wrote {args.out}/{', '.join(os.path.basename(p) for p in result.files)}")
    failed, stopped = result.failed(), result.stopped()
    if stopped:
        print(f"refsim: {len(stopped)} of {n} runs stopped early (runaway activity or a non-finite "
              "state): their cells are 'stopped'", file=sys.stderr)
    if failed:
        reasons = sorted({r["error"] for r in failed})
        print(f"refsim: {len(failed)} of {n} runs could not run ({'; '.join(reasons)}); the same "
              "command runs them again (the rows done are kept)", file=sys.stderr)
    if result.interrupted:
        left = sum(1 for r in result.rows if "error" in r)
        print(f"refsim: {_signal_name()}: the runs done are saved, {left} of {n} are not; the same "
              "command continues the sweep", file=sys.stderr)
        return _interrupt_status()
    return EXIT_STOPPED if failed or stopped else 0


def cmd_presets(args) -> int:
    """``refsim presets``: list the presets, or (``--describe``) every parameter with its unit.

    Parameters
    ----------
    args : argparse.Namespace
        Only ``args.describe`` is read.

    Returns
    -------
    int
        Exit status 0.

    Examples
    --------
    >>> from refsim.cli import build_parser, cmd_presets
    >>> status = cmd_presets(build_parser().parse_args(["presets", "--describe"]))  # doctest: +ELLIPSIS
    n_exc            [1   ] number of excitatory neurons (indices 0 .. n_exc-1)
    ...
    duration         [ms  ] simulated time; must be a whole number of steps
    """
    if args.describe:
        for name, unit, doc in describe_fields():
            print(f"{name:16s} [{unit:4s}] {doc}")
        return 0
    for name, (line, _) in PRESETS.items():
        print(f"{name:22s} {line}")
    return 0


def _spike_options(p, both: bool = True) -> None:
    """The options of a command that reads spike files (refsim.formats.read_spikes)."""
    if both:
        p.add_argument("--format", choices=FORMATS, help="force the format (default: recognized "
                                                         "by content)")
    p.add_argument("--n-exc", type=int, help="excitatory neurons, for a file that does not state them")
    p.add_argument("--n-neurons", type=int, help="N, for a file that does not state it")
    p.add_argument("--t-stop", type=float, help="ms, the end of the observation, likewise")
    p.add_argument("--dt", type=float, help="ms, the step: needed for NEST files (end-of-step stamps)")
    p.add_argument("--population", help="SONATA: the population to read, or E,I for two")
    p.add_argument("--first-id", type=int, help="the file's id of neuron 0 (default: 1 for NEST, 0 else)")


def build_parser() -> argparse.ArgumentParser:
    """The ``refsim`` argument parser, one subparser per command (``run``, ``compare``,
    ``validate``, ``ensemble``, ``sweep``, ``export``, ``convert``, ``presets``), each with its
    ``cmd_*`` function as ``func``.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> from refsim.cli import build_parser
    >>> args = build_parser().parse_args(["run", "--engine", "numpy", "--set", "dt=0.05"])
    >>> args.command, args.engine, args.set, args.func.__name__
    ('run', 'numpy', ['dt=0.05'], 'cmd_run')
    """
    p = argparse.ArgumentParser(prog="refsim", description="Reference COBA E/I network simulator")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a preset, write spikes.npz, summary.json, raster.png",
                       epilog=__doc__[__doc__.index("Exit status"):],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--preset", default="tutorial", help="see `refsim presets`")
    r.add_argument("--duration", type=float, help="ms (default: the preset's, 1000)")
    r.add_argument("--dt", type=float, help="ms (default: the preset's, 0.1)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--dtype", choices=("float32", "float64"))
    r.add_argument("--engine", default=DEFAULT_ENGINE, choices=ENGINES,
                   help="numba (default, compiled), numpy (the oracle) or cuda (NVIDIA GPU, "
                        "optional); all give the same bits")
    r.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override any parameter (see `refsim presets --describe`)")
    r.add_argument("--neurons", type=int, metavar="N",
                   help=f"the preset at N neurons, 4:1 E/I, out-degree kept at {OUT_DEGREE} "
                        "(p_conn = 80 / N; refsim.scaled_preset)")
    r.add_argument("--threads", type=int, default=1,
                   help="threads of the numba engine (default 1; same bits for any number; pays "
                        "from about 40 000 neurons on otherwise idle cores)")
    r.add_argument("--connectivity", help="scipy.sparse save_npz file or .npz with targets_e/targets_i")
    r.add_argument("--initial-state", help=".npz with V (and optionally g_e, g_i)")
    r.add_argument("--out", default="out", help="output directory (default: out)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--record", metavar="I,J,...",
                   help="neurons whose state is recorded every step (traces in spikes.npz, V drawn "
                        "in benchmark.png), e.g. 0,1")
    r.add_argument("--record-vars", default=",".join(STATE_VARIABLES), metavar="VARS",
                   help="state variables of --record, comma-separated from V,g_e,g_i (default all)")
    r.add_argument("--no-figures", action="store_true", help="write the spikes and the summary only "
                                                             "(batch runs)")
    r.add_argument("--allow-runaway", action="store_true",
                   help="run on when every neuron fires about as fast as the refractory period "
                        "allows (by default the run stops there and saves the partial result)")
    r.set_defaults(func=cmd_run)
    cmp = sub.add_parser("compare", help="compare two runs' spikes: report.md, comparison.json/.png")
    cmp.add_argument("a", help="spike file of refsim or another simulator (any format of "
                               "refsim.formats, recognized by content; a NEST .dat directory too)")
    cmp.add_argument("b")
    cmp.add_argument("--out", default="compare", help="output directory (default: compare)")
    cmp.add_argument("--t-start", type=float, default=0.0, help="ms; drop the transient before it")
    cmp.add_argument("--labels", nargs=2, metavar=("A", "B"))
    cmp.add_argument("--seed", type=int, default=0, help="seed of the correlation pair sample")
    _spike_options(cmp)
    cmp.add_argument("--format-a", choices=FORMATS, help="the format of A only")
    cmp.add_argument("--format-b", choices=FORMATS, help="the format of B only")
    cmp.set_defaults(func=cmd_compare)
    v = sub.add_parser("validate", help="are these spikes what refsim computes for the preset? a "
                                        "calibrated verdict: exit 0 consistent, 1 not, 2 bad input",
                       epilog=__doc__[__doc__.index("Exit status"):],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("spikes", help="spike file of refsim or another simulator (any format of "
                                  "refsim.formats; sizes and dt default to the preset's)")
    v.add_argument("--preset", default="tutorial", help="see `refsim presets`")
    v.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter the spikes were run with (see `refsim presets --describe`)")
    v.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                   help=f"reference seeds 0 .. SEEDS-1 (default {DEFAULT_SEEDS}), cached on disk")
    v.add_argument("--t-start", type=float, default=DEFAULT_T_START,
                   help=f"ms (default {DEFAULT_T_START:g}: drop the transient)")
    v.add_argument("--alpha", type=float, default=0.05, help="family-wise false-alarm rate (default 0.05)")
    v.add_argument("--same-network", action="store_true",
                   help="the spikes come from refsim's network and initial state of --seed: add the "
                        "same-network tests against the chaos baseline")
    v.add_argument("--seed", type=int, default=0, help="with --same-network: the seed (default 0)")
    v.add_argument("--baseline-runs", type=int, default=DEFAULT_BASELINE_RUNS,
                   help=f"runs of the chaos baseline (default {DEFAULT_BASELINE_RUNS})")
    v.add_argument("--engine", default=DEFAULT_ENGINE, choices=ENGINES, help="engine of the reference runs")
    v.add_argument("--jobs", type=int, default=1, help="worker processes for the reference runs")
    v.add_argument("--cache-dir", help="where references are cached (default $REFSIM_CACHE_DIR, "
                                       "$XDG_CACHE_HOME/refsim or ~/.cache/refsim; '' for none)")
    v.add_argument("--out", help="also write report.md, verdict.json and the figures here")
    _spike_options(v)
    v.add_argument("--no-progress", action="store_true", help="say nothing while the reference is built")
    v.set_defaults(func=cmd_validate)
    e = sub.add_parser("ensemble", help="run a preset over many seeds and summarize the statistics")
    e.add_argument("--preset", default="tutorial-normalized")
    e.add_argument("--seeds", default="0:10", help="start:stop[:step] or a comma list (default 0:10)")
    _executor_options(e)
    e.add_argument("--t-start", type=float, default=200.0, help="ms (default 200: drop the transient)")
    e.add_argument("--engine", default=DEFAULT_ENGINE, choices=ENGINES)
    e.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    e.add_argument("--out", default="ensemble", help="output directory (default: ensemble)")
    e.add_argument("--resume", action="store_true",
                   help="keep the rows without an error of the ensemble in --out (same preset, "
                        "parameters and --t-start) and run only the seeds without one")
    e.set_defaults(func=cmd_ensemble)
    w = sub.add_parser("sweep", help="a grid over parameters x seeds: sweep.csv, sweep.json and the "
                                     "phase diagram sweep.png; the same command continues it",
                       epilog=__doc__[__doc__.index("Exit status"):],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("--preset", default="tutorial-normalized")
    w.add_argument("--grid", action="append", required=True, metavar="NAME=START:STOP:NUM|NAME=V1,V2",
                   help="a parameter and its values: numpy.linspace(START, STOP, NUM), ends "
                        "included, or a comma list; once per parameter (the first varies slowest)")
    w.add_argument("--seeds", default="0:2", help="seeds of every cell: start:stop[:step] or a comma "
                                                  "list (default 0:2)")
    _executor_options(w)
    w.add_argument("--t-start", type=float, default=200.0, help="ms (default 200: drop the transient)")
    w.add_argument("--engine", default=DEFAULT_ENGINE, choices=ENGINES)
    w.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a fixed parameter (see `refsim presets --describe`)")
    w.add_argument("--out", default="sweep", help="output directory (default: sweep); one holding "
                                                  "the same sweep is continued")
    w.add_argument("--no-progress", action="store_true", help="no progress bar")
    w.set_defaults(func=cmd_sweep)
    x = sub.add_parser("export", help="the network and parameters of a preset and seed for another "
                                      "simulator: SONATA, one .npz, or parameters JSON")
    x.add_argument("--preset", default="tutorial", help="see `refsim presets`")
    x.add_argument("--seed", type=int, default=0)
    x.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    x.add_argument("--neurons", type=int, metavar="N", help="the preset at N neurons (as `run --neurons`)")
    x.add_argument("--to", choices=("sonata", "npz", "json"), default="sonata",
                   help="sonata (default): nodes, edges, configs, parameters; npz: network.npz; "
                        "json: parameters.json only")
    x.add_argument("--g-L", type=float, default=10.0,
                   help="nS: the leak conductance that scales the model to NEST's units (sonata)")
    x.add_argument("--out", default="export", help="output directory (default: export)")
    x.set_defaults(func=cmd_export)
    c = sub.add_parser("convert", help="a spike file from one format to another")
    c.add_argument("input", help="spike file (or NEST .dat directory)")
    c.add_argument("output", help="format by extension: .h5 sonata, .nwb, .dat nest-ascii, .json "
                                  "nest-memory, .csv brian2, .npz npz (or --to)")
    c.add_argument("--from", dest="from_format", choices=FORMATS, help="the input's format "
                                                                      "(default: recognized)")
    c.add_argument("--to", choices=[k for k, f in FORMATS.items() if f.write], help="output format")
    _spike_options(c, both=False)
    c.set_defaults(func=cmd_convert)
    s = sub.add_parser("presets", help="list the presets, one line each")
    s.add_argument("--describe", action="store_true", help="list every parameter with its unit")
    s.set_defaults(func=cmd_presets)
    return p


def _executor_options(p) -> None:
    """``--jobs`` and ``--scheduler`` of ``ensemble`` and ``sweep``."""
    p.add_argument("--jobs", type=int, default=None,
                   help="local worker processes (default 1; at most the cores available, and as "
                        "many as fit in the memory); with --scheduler ADDRESS, runs submitted at "
                        "once (default all)")
    p.add_argument("--scheduler", default="local", metavar="local|ADDRESS",
                   help="local (default): local processes; ADDRESS (tcp://host:8786): the Dask "
                        "scheduler whose workers run the seeds (pip install 'refsim[distributed]')")


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see the module docstring).

    Errors are reported as one line on stderr (``refsim: error: ...``), each distinct
    :class:`~refsim.ConfigWarning` once (``refsim: warning: ...``).

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``refsim``; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 done, 2 bad input (ConfigError, FloatingPointModeError, or an output that cannot be
        written), 3 a run stopped on a non-finite state or runaway activity (or a seed of an
        ensemble or a sweep could not run), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

    Examples
    --------
    >>> import tempfile
    >>> from refsim.cli import main
    >>> main(["run", "--set", "dt=-1", "--out", tempfile.mkdtemp()])   # the error goes to stderr
    2
    """
    args = build_parser().parse_args(argv)
    shown: set[str] = set()
    default_show = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, ConfigWarning):
            return default_show(message, category, filename, lineno, file, line)
        if str(message) not in shown and sys.stderr is not None:  # each distinct one once
            shown.add(str(message))
            tqdm.write(f"refsim: warning: {message}", file=sys.stderr)  # on its own line, above a bar

    with warnings.catch_warnings(), _sigterm_as_interrupt():
        warnings.simplefilter("always", ConfigWarning)
        warnings.showwarning = show
        try:
            return args.func(args)
        except (ConfigError, FloatingPointModeError) as e:
            print(f"refsim: error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except OSError as e:  # an output refsim.io did not name (refsim.io.OutputError does)
            where = e.filename if e.filename is not None else getattr(args, "out", "?")
            print(f"refsim: error: {where}: {e.strerror or e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print(f"refsim: {_signal_name()} before this command's outputs were written: "
                  "nothing was saved", file=sys.stderr)
            return _interrupt_status()


class _sigterm_as_interrupt:
    """While the command runs, SIGTERM raises :class:`refsim.simulate.Terminated` (a
    KeyboardInterrupt) in the main thread: a run stops and saves what it has, as on Ctrl-C."""

    def __enter__(self):
        self.previous = None
        _SIGTERM_RECEIVED.clear()
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        _SIGTERM_RECEIVED.set()
        raise Terminated("SIGTERM")

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False
