"""refsim sweep: grids over Config fields x seeds, checked before the first run, resumable,
with the phase diagram.

Reference values: an uninterrupted sweep's own table (what an interrupted and continued one
must equal byte for byte); the rows of refsim.ensemble.run_ensemble for the same cell and
seed (a sweep runs its seeds through the same machinery); numpy.linspace for the grid
syntax; the thresholds stated in refsim.sweep's docstring for the regimes; the exit statuses
documented in refsim.cli.
"""
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import refsim
import refsim.cli
import refsim.ensemble
import refsim.sweep
from refsim import ConfigError
from refsim.outputs import check_output_dir
from refsim.sweep import (
    IRREGULAR_CV,
    SILENT_RATE_HZ,
    SYNCHRONY_CHI,
    check_grid,
    classify,
    grid_cells,
    parse_grid,
    run_sweep,
    sweep_figure,
)

#: A 100-neuron network dense enough to interact: w_i = 0 with w_e = 0.6 runs away, the other
#: cells fire (about 20 to 120 Hz); 2 x 2 cells x 2 seeds = 8 runs of ~0.05 s.
SMALL = dict(n_exc=80, n_inh=20, duration=100.0, p_conn=0.2)
GRID = {"w_e": [0.1, 0.6], "w_i": [2.0, 20.0]}
SEEDS = [0, 1]
CLI_SMALL = ["--set", "n_exc=80", "--set", "n_inh=20", "--set", "p_conn=0.2", "--seeds", "0:2",
             "--t-start", "20", "--no-progress"]
#: The real run function (CountingOne wraps it, whatever a test has put in its place).
REAL_ONE = refsim.ensemble._one


def strip(rows):
    """Rows without the wall time (the one value that differs between two runs)."""
    return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows]


def same(a, b):
    """Equal rows, NaN equal to NaN (as JSON writes them)."""
    return json.dumps(strip(a), sort_keys=True) == json.dumps(strip(b), sort_keys=True)


class CountingOne:
    """refsim.ensemble._one, counting its calls and raising KeyboardInterrupt (what a run
    does after Ctrl-C) at call number ``interrupt_at``; ``before(call)`` runs first."""

    def __init__(self, interrupt_at=None, before=None):
        self.real, self.calls, self.tasks = REAL_ONE, 0, []
        self.interrupt_at, self.before = interrupt_at, before

    def __call__(self, task):
        self.calls += 1
        if self.before:
            self.before(self.calls)
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt("Ctrl-C")
        self.tasks.append(task)
        return self.real(task)


@pytest.fixture
def no_figure(monkeypatch):
    """sweep.png as a stub (drawing the real one takes about a second; the figure tests draw
    it): the files are still published, in the same order."""
    monkeypatch.setattr(refsim.sweep, "sweep_figure",
                        lambda definition, cells, path: open(path, "wb").write(b"PNG stub"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted sweep of GRID x SEEDS into a directory: (result, its sweep.csv, the
    directory)."""
    out = tmp_path_factory.mktemp("reference")
    result = run_sweep("tutorial-normalized", GRID, SEEDS, SMALL, t_start=20.0, out=out, progress=False)
    return result, (out / "sweep.csv").read_text(), out


# -- the grid ------------------------------------------------------------------------------

def test_grid_items_are_linspace_ranges_or_lists():
    """start:stop:num is numpy.linspace with both ends (rounded to 12 digits: 0.3, not
    0.30000000000000004); a comma list stays strings until check_grid converts them."""
    assert parse_grid(["w_e=0.2:1.0:9"])["w_e"] == [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert np.linspace(0.2, 1.0, 9)[1] != 0.3                     # what the rounding is for
    assert parse_grid(["w_i=2:12:11"])["w_i"] == [float(v) for v in range(2, 13)]
    assert parse_grid(["tau_ref = 2,5", "x=7:7:1"]) == {"tau_ref": ["2", "5"], "x": [7.0]}
    for item, message in [("w_e", "--grid 'w_e': allowed name=start:stop:num"),
                          ("w_e=1:2", "--grid 'w_e=1:2': allowed"), ("w_e=1:2:0", "num >= 1"),
                          ("w_e=a:2:3", "--grid 'w_e=a:2:3'"), ("w_e=1,,2", "an empty value")]:
        with pytest.raises(ConfigError, match=message):
            parse_grid([item])
    with pytest.raises(ConfigError, match="--grid w_e: given twice"):
        parse_grid(["w_e=1,2", "w_e=3"])


def test_grid_values_are_converted_and_checked_by_field():
    """Values get their field's type (400.0 -> 400 for an int field, 'no' -> False); an
    unknown field, a non-integral int, a repeated value or a field also in the overrides is
    refused, naming it."""
    assert check_grid({"n_exc": ["400", 800.0], "tau_ref": ["2", "5"]}) == {"n_exc": [400, 800],
                                                                           "tau_ref": [2.0, 5.0]}
    bad = [({"n_exc": [150.5]}, "n_exc = 150.5: allowed a value of type int"),
           ({"tau": [1.0]}, "unknown parameter 'tau'"),
           ({"w_e": [0.5, 0.5]}, r"grid w_e = \[0.5, 0.5\]: 0.5 twice: allowed distinct values"),
           ({"w_e": []}, r"grid w_e = \[\]: allowed at least one value"),
           ({"integrator": "euler"}, "grid integrator = 'euler': allowed a sequence of values"),
           ({}, "grid = {}: allowed a dict")]
    for grid, message in bad:
        with pytest.raises(ConfigError, match=message):
            check_grid(grid)
    with pytest.raises(ConfigError, match=r"grid w_e: also set to 0.3 \(--set\)"):
        check_grid({"w_e": [0.1]}, overrides={"w_e": 0.3})
    assert grid_cells({"a": [1, 2], "b": ["x", "y", "z"]})[3] == {"a": 2, "b": "x"}  # a slowest


def test_a_bad_value_in_any_cell_is_refused_before_the_first_run(tmp_path, monkeypatch):
    """The last cell's w_i is negative, or t_start lies beyond one cell's duration: refused
    naming the field, its value and the cell, before any run and before --out is created."""
    one = CountingOne()
    monkeypatch.setattr(refsim.ensemble, "_one", one)
    out = tmp_path / "new"
    with pytest.raises(ConfigError) as e:
        run_sweep("tutorial-normalized", {"w_e": [0.1, 0.6], "w_i": [2.0, -1.0]}, SEEDS, SMALL, out=out)
    assert str(e.value) == "w_i = -1.0: allowed w_i >= 0 [g] (grid cell w_e=0.1, w_i=-1.0)"
    with pytest.raises(ConfigError, match=r"t_start = 150.0: allowed 0 <= t_start < duration = 100.0 "
                                          r"ms \(grid cell duration=100.0\)"):
        run_sweep("tutorial-normalized", {"duration": [200.0, 100.0]}, SEEDS, {"n_exc": 80, "n_inh": 20},
                  t_start=150.0, out=out)
    with pytest.raises(ConfigError, match="jobs = 0: allowed an int >= 1"):
        run_sweep("tutorial-normalized", GRID, SEEDS, SMALL, jobs=0, out=out)
    assert one.calls == 0 and not out.exists()
    p = subprocess.run([sys.executable, "-m", "refsim", "sweep", "--grid", "w_i=2,-1", *CLI_SMALL,
                        "--set", "duration=100", "--out", str(out)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and p.stderr == ("refsim: error: w_i = -1.0: allowed w_i >= 0 [g] "
                                              "(grid cell w_i=-1.0)\n"), p.stderr
    assert not out.exists()


# -- the regimes ---------------------------------------------------------------------------

def test_regimes_follow_the_documented_thresholds():
    """silent below 0.1 Hz (or without a CV), S above chi 0.5, I from CV 0.5 (at the
    thresholds themselves: not silent, asynchronous, irregular)."""
    assert (SILENT_RATE_HZ, SYNCHRONY_CHI, IRREGULAR_CV) == (0.1, 0.5, 0.5)
    assert classify(0.099, 1.0, 0.1) == "silent" and classify(5.0, float("nan"), 0.1) == "silent"
    assert classify(0.1, 0.5, 0.5) == "AI"
    assert [classify(10.0, cv, chi) for cv, chi in [(0.9, 0.1), (0.2, 0.1), (0.9, 0.8), (0.2, 0.8)]] \
        == ["AI", "AR", "SI", "SR"]
    assert classify(float("nan"), float("nan"), float("nan")) == "not run"


def test_cells_are_the_means_over_seeds_and_rows_those_of_the_ensemble(reference):
    """Each cell's mean rate is the mean of its seeds' rows, and each row is the row
    run_ensemble gives for that cell and seed; the runaway cell is 'stopped'."""
    result = reference[0]
    assert [(c["w_e"], c["w_i"]) for c in result.cells] == [(0.1, 2.0), (0.1, 20.0), (0.6, 2.0), (0.6, 20.0)]
    for k, cell in enumerate(result.cells):
        rows = result.rows[2 * k:2 * k + 2]
        assert [r["seed"] for r in rows] == SEEDS and all(r["w_e"] == cell["w_e"] for r in rows)
        assert cell["rate_e_hz"] == np.mean([r["rate_e_hz"] for r in rows]) and cell["n"] == 2
        assert cell["regime"] == classify(cell["rate_e_hz"], cell["cv_isi"], cell["chi"])
    ensemble = refsim.ensemble.run_ensemble("tutorial-normalized", SEEDS, t_start=20.0,
                                            overrides={**SMALL, "w_e": 0.6, "w_i": 20.0})
    assert same([{k: v for k, v in r.items() if k not in GRID} for r in result.rows[6:]], ensemble)
    # w_i = 0: runaway at 47.9 ms (refsim.simulate's message), before the window from 60 ms
    stopped = run_sweep("tutorial-normalized", {"w_i": [0.0]}, [0], {**SMALL, "w_e": 0.6},
                        t_start=60.0, progress=False)
    assert stopped.cells[0]["regime"] == "stopped" and stopped.rows[0]["stop_reason"] == "runaway"
    assert stopped.cells[0]["n"] == 0 and np.isnan(stopped.rows[0]["rate_e_hz"])
    assert "error" not in stopped.rows[0] and stopped.rows[0]["n_spikes"] == 900


# -- resuming ------------------------------------------------------------------------------

def test_an_interrupted_sweep_keeps_its_cells_and_continues_where_it_stopped(tmp_path, monkeypatch,
                                                                             reference, no_figure):
    """Ctrl-C in the 6th of 8 runs: the 2 cells finished before it were on disk already (each
    cell is published when done), the 5th run is kept too. The same sweep again runs only
    the 3 runs missing, and its sweep.csv equals the uninterrupted sweep's byte for byte."""
    ref_result, ref_csv, _ = reference
    seen = {}

    def before(call):  # what is on disk when the 5th run starts: cells 0 and 1
        if call == 5:
            seen["rows"] = json.loads((tmp_path / "sweep.json").read_text())["rows"]
            seen["manifest"] = check_output_dir(tmp_path)

    monkeypatch.setattr(refsim.sweep, "SAVE_INTERVAL_S", 0.0)   # save each cell as it completes
    monkeypatch.setattr(refsim.sweep, "SAVE_OVERHEAD", 0.0)
    first = CountingOne(interrupt_at=6, before=before)
    monkeypatch.setattr(refsim.ensemble, "_one", first)
    result = run_sweep("tutorial-normalized", GRID, SEEDS, SMALL, t_start=20.0, out=tmp_path,
                       progress=False)
    assert result.interrupted and result.n_run == 5 and first.calls == 6
    assert [r.get("error") for r in seen["rows"]] == [None] * 4 + ["not run"] * 4
    assert sorted(seen["manifest"]["files"]) == ["sweep.csv", "sweep.json"]
    on_disk = json.loads((tmp_path / "sweep.json").read_text())
    assert [r.get("error") for r in on_disk["rows"]] == [None] * 5 + ["not run: interrupted"] * 3
    assert sorted(check_output_dir(tmp_path)["files"]) == ["sweep.csv", "sweep.json", "sweep.png"]
    assert same(on_disk["rows"][:5], ref_result.rows[:5])

    again = CountingOne()
    monkeypatch.setattr(refsim.ensemble, "_one", again)
    result = run_sweep("tutorial-normalized", GRID, SEEDS, SMALL, t_start=20.0, out=tmp_path,
                       progress=False)
    assert again.calls == 3 and [(t[1]["w_e"], t[1]["w_i"], t[2]) for t in again.tasks] == \
        [(0.6, 2.0, 1), (0.6, 20.0, 0), (0.6, 20.0, 1)]
    assert (result.n_run, result.n_kept, result.interrupted) == (3, 5, False)
    assert (tmp_path / "sweep.csv").read_text() == ref_csv
    assert same(json.loads((tmp_path / "sweep.json").read_text())["rows"], ref_result.rows)
    assert json.loads((tmp_path / "sweep.json").read_text())["cells"] == \
        json.loads(json.dumps(ref_result.cells))

    third = CountingOne()        # a finished sweep: nothing to run, the same table
    monkeypatch.setattr(refsim.ensemble, "_one", third)
    assert run_sweep("tutorial-normalized", GRID, SEEDS, SMALL, t_start=20.0, out=tmp_path,
                     progress=False).n_kept == 8 and third.calls == 0
    assert (tmp_path / "sweep.csv").read_text() == ref_csv


def test_a_failed_run_is_run_again_by_the_same_sweep(tmp_path, monkeypatch, reference, no_figure):
    """A run that raises costs only its row (error, exit 3 on the command line); the same
    sweep again runs only it."""
    real = refsim.ensemble._one

    def one(task):
        if task[1]["w_i"] == 20.0 and task[2] == 1:
            raise RuntimeError("this run fails")
        return real(task)

    monkeypatch.setattr(refsim.ensemble, "_one", one)
    result = run_sweep("tutorial-normalized", GRID, SEEDS, SMALL, t_start=20.0, out=tmp_path,
                       progress=False)
    assert [r["error"] for r in result.failed()] == ["RuntimeError: this run fails"] * 2
    again = CountingOne()
    monkeypatch.setattr(refsim.ensemble, "_one", again)
    run_sweep("tutorial-normalized", GRID, SEEDS, SMALL, t_start=20.0, out=tmp_path, progress=False)
    assert again.calls == 2 and (tmp_path / "sweep.csv").read_text() == reference[1]


@pytest.mark.parametrize("interval, overhead, saves", [(0.0, 0.0, 4 + 1), (3600.0, 0.1, 1),
                                                      (0.0, 1e-9, 1 + 1)])
def test_cells_are_saved_as_they_complete_at_most_as_often_as_allowed(tmp_path, monkeypatch, no_figure,
                                                                       interval, overhead, saves):
    """Without limits each of the 4 cells is published as it completes, then the end; with an
    hour between saves only the end; with a publish allowed a negligible share of the time,
    the first cell (no publish has taken time yet) and the end."""
    monkeypatch.setattr(refsim.sweep, "SAVE_INTERVAL_S", interval)
    monkeypatch.setattr(refsim.sweep, "SAVE_OVERHEAD", overhead)
    published = []
    real = refsim.sweep.publish
    monkeypatch.setattr(refsim.sweep, "publish", lambda *a, **kw: published.append(1) or real(*a, **kw))
    run_sweep("tutorial-normalized", GRID, SEEDS, SMALL, t_start=20.0, out=tmp_path, progress=False)
    assert len(published) == saves


@pytest.mark.parametrize("change, message", [
    (dict(grid={"w_e": [0.1, 0.6], "w_i": [2.0, 30.0]}),
     "grid = {'w_e': [0.1, 0.6], 'w_i': [2.0, 20.0]} there, {'w_e': [0.1, 0.6], 'w_i': [2.0, 30.0]} now"),
    (dict(overrides={**SMALL, "p_conn": 0.3}), "p_conn = 0.2 there, 0.3 now"),
    (dict(seeds=[0, 1, 2]), "seeds = [0, 1] there, [0, 1, 2] now"),
    (dict(t_start=10.0), "t_start_ms = 20.0 there, 10.0 now"),
])
def test_an_out_holding_another_sweep_is_refused_naming_the_difference(tmp_path, monkeypatch,
                                                                       reference, change, message):
    """Continuing a sweep with another grid, parameter, seeds or window would mix two sweeps in
    one table: refused before any run, naming what differs; the files there are untouched."""
    args = dict(preset="tutorial-normalized", grid=GRID, seeds=SEEDS, overrides=SMALL, t_start=20.0)
    shutil.copytree(reference[2], tmp_path, dirs_exist_ok=True)   # the reference sweep's directory
    before = check_output_dir(tmp_path)
    one = CountingOne()
    monkeypatch.setattr(refsim.ensemble, "_one", one)
    with pytest.raises(ConfigError) as e:
        run_sweep(**{**args, **change}, out=tmp_path, progress=False)
    assert str(e.value).startswith(f"out = {str(tmp_path)!r}: holds another sweep (")
    assert message in str(e.value)
    assert str(e.value).endswith("): allowed the same definition to continue it, or another --out")
    assert one.calls == 0 and check_output_dir(tmp_path) == before


# -- the command line ------------------------------------------------------------------------

def test_the_sweep_command_writes_the_table_and_the_phase_diagram(tmp_path, reference, capsys):
    """`refsim sweep` gives the API's table (the same bytes), a manifest of three files,
    exit 0; with a runaway cell exit 3 and a message naming it."""
    status = refsim.cli.main(["sweep", "--grid", "w_e=0.1,0.6", "--grid", "w_i=2:20:2", *CLI_SMALL,
                              "--set", "duration=100", "--out", str(tmp_path / "a")])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert (tmp_path / "a" / "sweep.csv").read_text() == reference[1]
    assert sorted(check_output_dir(tmp_path / "a")["files"]) == ["sweep.csv", "sweep.json", "sweep.png"]
    counts = {k: sum(c["regime"] == k for c in reference[0].cells) for k in refsim.sweep.REGIMES}
    counts = {k: n for k, n in counts.items() if n}
    assert captured.out.splitlines()[0] == ("refsim sweep --preset tutorial-normalized: 2 x 2 cells "
                                           "(w_e, w_i) x 2 seeds, from 20.0 ms")
    assert captured.out.splitlines()[1].startswith("  8 runs: 8 run now, 0 kept from --out, in ")
    assert captured.out.splitlines()[2] == "  regimes: " + ", ".join(f"{k} {n}" for k, n in counts.items())
    status = refsim.cli.main(["sweep", "--grid", "w_i=0,20", "--set", "w_e=0.6", *CLI_SMALL,
                              "--set", "duration=100", "--out", str(tmp_path / "b")])
    assert status == 3
    assert "refsim: 2 of 4 runs stopped early (runaway activity or a non-finite state): their " \
           "cells are 'stopped'" in capsys.readouterr().err


@pytest.mark.parametrize("sig, status, name", [(signal.SIGINT, 130, "interrupted (Ctrl-C)"),
                                               (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_a_signal_stops_the_sweep_command_and_the_same_command_continues_it(tmp_path, monkeypatch, capsys,
                                                                          no_figure, sig, status, name):
    """Ctrl-C or SIGTERM (a real signal, to this process, during the 3rd of 8 runs): exit 130
    or 143, the 2 runs done saved with a valid manifest and the message says what is left;
    the same command then runs only the 6 others and exits 0."""
    def before(call):
        if call == 3:
            os.kill(os.getpid(), sig)   # the command's handler turns SIGTERM into an interrupt

    argv = ["sweep", "--grid", "w_e=0.1,0.6", "--grid", "w_i=2,20", *CLI_SMALL, "--set", "duration=100",
            "--out", str(tmp_path)]
    monkeypatch.setattr(refsim.ensemble, "_one", CountingOne(before=before))
    assert refsim.cli.main(argv) == status
    assert capsys.readouterr().err.endswith(f"refsim: {name}: the runs done are saved, 6 of 8 are not; "
                                            "the same command continues the sweep\n")
    rows = json.loads((tmp_path / "sweep.json").read_text())["rows"]
    assert [r.get("error") for r in rows] == [None] * 2 + ["not run: interrupted"] * 6
    assert check_output_dir(tmp_path)["command"] == "sweep"
    again = CountingOne()
    monkeypatch.setattr(refsim.ensemble, "_one", again)
    assert refsim.cli.main(argv) == 0 and again.calls == 6
    assert "  8 runs: 6 run now, 2 kept from --out, in " in capsys.readouterr().out


def test_the_progress_bar_ticks_once_per_run_on_stderr(capsys):
    run_sweep("tutorial-normalized", {"w_i": [2.0, 20.0]}, [0], SMALL, t_start=20.0)
    err = capsys.readouterr().err
    assert "refsim sweep" in err and "2/2" in err
    run_sweep("tutorial-normalized", {"w_i": [2.0, 20.0]}, [0], SMALL, t_start=20.0, progress=False)
    assert capsys.readouterr().err == ""


# -- figures -----------------------------------------------------------------------------------

def test_the_phase_diagram_labels_its_axes_colorbars_and_regimes(reference):
    """2-D: four panels (rate, CV, chi heatmaps with colour bars; the regime map with a legend
    of the regimes present), axes named with units; 1-D: lines against the grid value; a
    3-D grid gets no figure (sweep.csv and sweep.json only)."""
    result = reference[0]
    axes = sweep_figure(result.definition, result.cells)
    fig = axes[0].figure
    assert [ax.get_title() for ax in axes] == ["mean E rate (Hz)", "mean CV(ISI)", "synchrony chi", "regime"]
    # conductances in g_L: tutorial-normalized has R_g = 1 ([g] = g_L)
    assert all((ax.get_xlabel(), ax.get_ylabel()) == ("w_i (g_L)", "w_e (g_L)") for ax in axes)
    rates = [c["rate_e_hz"] for c in result.cells]     # 18 .. 122 Hz: less than 10x, linear
    assert max(rates) < 10 * min(rates)
    assert [ax.get_ylabel() for ax in fig.axes[4:]] == ["mean E rate (Hz)", "mean CV(ISI)", "synchrony chi"]
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["2", "20"]
    spread = [{**c, "rate_e_hz": 1.5} if k == 0 else c for k, c in enumerate(result.cells)]
    axes = sweep_figure(result.definition, spread)        # 1.5 .. 122 Hz: a log scale
    assert axes[0].figure.axes[4].get_ylabel() == "mean E rate (Hz), log scale"
    regimes = sorted({c["regime"] for c in result.cells})
    legend = [t.get_text().split(":")[0] for t in axes[3].get_legend().get_texts()]
    assert sorted(legend) == regimes
    one_d = run_sweep("tutorial-normalized", {"w_i": [2.0, 20.0]}, [0], SMALL, t_start=20.0, progress=False)
    axes = sweep_figure(one_d.definition, one_d.cells)
    assert [line.get_label() for line in axes[0].get_lines()] == ["E", "I"]
    assert list(axes[0].get_lines()[0].get_xdata()) == [2.0, 20.0]
    with pytest.raises(ConfigError, match="a figure needs 1 or 2 fields of numbers"):
        sweep_figure({**one_d.definition, "grid": {"integrator": ["euler"]}}, one_d.cells)


def test_a_three_field_grid_writes_the_table_without_a_figure(tmp_path):
    result = run_sweep("tutorial-normalized", {"w_e": [0.1], "w_i": [20.0], "tau_ref": [2.0, 5.0]}, [0],
                       SMALL, t_start=20.0, out=tmp_path, progress=False)
    assert sorted(check_output_dir(tmp_path)["files"]) == ["sweep.csv", "sweep.json"]
    header = (tmp_path / "sweep.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["w_e", "w_i", "tau_ref", "seed"] and header[-4:] == ["n_spikes", "complete",
                                                                               "stop_reason", "error"]
    assert [r["tau_ref"] for r in result.rows] == [2.0, 5.0] and os.path.getsize(tmp_path / "sweep.json")
