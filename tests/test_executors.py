"""Where ensembles and sweeps run: any executor (a Dask cluster's, threads) gives the rows of
one process; local jobs are capped at the cores and checked against the memory of that many
runs at once; a failed seed is run again with ``refsim ensemble --resume``.

Reference values: the rows of ``run_ensemble(..., jobs=1)`` in this process (the same bits
wherever a configuration and seed run, their wall time aside); the memory of one run from
refsim.resources.estimate_memory; the cores from os.sched_getaffinity; the messages and exit
statuses documented in refsim.ensemble and refsim.cli.
"""
import json
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import refsim
import refsim.cli
import refsim.ensemble
import refsim.resources
import refsim.sweep
from refsim import ConfigError, ConfigWarning
from refsim.ensemble import available_cores, check_ensemble, plan_jobs, run_ensemble, scheduler_executor
from refsim.outputs import check_output_dir
from refsim.resources import estimate_memory, format_bytes

#: The tutorial network at 100 neurons for 100 ms (tonic firing near 50 Hz: ~500 spikes a seed).
SMALL = dict(n_exc=80, n_inh=20, duration=100.0)
SEEDS = [0, 1, 2, 3]
CLI_SMALL = ["--preset", "tutorial", "--set", "n_exc=80", "--set", "n_inh=20", "--set", "duration=100",
             "--t-start", "20"]
REAL_ONE = refsim.ensemble._one


def strip(rows):
    """Rows without the wall time, as JSON (NaN equal to NaN)."""
    return json.dumps([{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows], sort_keys=True)


@pytest.fixture(scope="module")
def serial_rows():
    """The reference: SEEDS run one after another in this process."""
    rows = run_ensemble("tutorial", SEEDS, jobs=1, overrides=SMALL, t_start=20.0)
    assert all(r["complete"] and r["n_spikes"] > 400 for r in rows)
    return rows


@pytest.fixture(scope="module")
def dask_client():
    """A Dask cluster of two worker processes on this machine (skipped without distributed)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


class CountingOne:
    """refsim.ensemble._one counting the seeds it runs; ``fail`` seeds raise."""

    def __init__(self, fail=()):
        self.seeds, self.fail = [], set(fail)

    def __call__(self, task):
        self.seeds.append(task[2])
        if task[2] in self.fail:
            raise RuntimeError("this seed fails")
        return REAL_ONE(task)


# -- executors -------------------------------------------------------------------------------

def test_a_dask_cluster_gives_the_rows_of_one_process(dask_client, serial_rows):
    """The 4 seeds on a Dask LocalCluster (2 worker processes) through client.get_executor():
    every row equal to the one-process row (spike counts, every statistic), ordered by seed,
    and all 4 tasks ran on the cluster's workers."""
    import distributed
    with distributed.get_task_stream(dask_client) as stream:
        rows = run_ensemble("tutorial", [3, 1, 2, 0], jobs=None, overrides=SMALL, t_start=20.0,
                            executor=dask_client.get_executor())
    assert strip(rows) == strip(serial_rows)
    assert [r["n_spikes"] for r in rows] == [r["n_spikes"] for r in serial_rows]
    workers = set(dask_client.scheduler_info()["workers"])
    assert len(stream.data) == 4 and {t["worker"] for t in stream.data} <= workers


def test_the_commands_run_on_a_dask_scheduler_address(dask_client, serial_rows, tmp_path, monkeypatch):
    """`refsim ensemble --scheduler ADDRESS` and `refsim sweep --scheduler ADDRESS` connect a
    Client there: the ensemble's rows are the one-process rows, the sweep's table that of a
    sweep in this process."""
    address = dask_client.scheduler.address
    assert refsim.cli.main(["ensemble", *CLI_SMALL, "--seeds", "0:4", "--scheduler", address,
                            "--out", str(tmp_path / "e")]) == 0
    assert strip(json.loads((tmp_path / "e" / "ensemble.json").read_text())["rows"]) == strip(serial_rows)
    monkeypatch.setattr(refsim.sweep, "sweep_figure", lambda d, c, path: open(path, "wb").write(b"PNG"))
    argv = ["sweep", *CLI_SMALL, "--grid", "w_e=0,6", "--seeds", "0:2", "--no-progress"]
    assert refsim.cli.main([*argv, "--scheduler", address, "--out", str(tmp_path / "d")]) == 0
    assert refsim.cli.main([*argv, "--out", str(tmp_path / "l")]) == 0
    assert (tmp_path / "d" / "sweep.csv").read_text() == (tmp_path / "l" / "sweep.csv").read_text()


def test_any_executor_gives_the_same_rows_and_a_failing_seed_costs_only_itself(serial_rows, monkeypatch):
    """Threads, every seed submitted at once (jobs=None); then a seed that raises, in this
    process (jobs=1) and on the threads: its row says why, the others are the reference's."""
    with ThreadPoolExecutor(3) as pool:
        rows = run_ensemble("tutorial", SEEDS, jobs=None, overrides=SMALL, t_start=20.0, executor=pool)
    assert strip(rows) == strip(serial_rows)
    for executor in (None, ThreadPoolExecutor(2)):
        monkeypatch.setattr(refsim.ensemble, "_one", CountingOne(fail={2}))
        rows = run_ensemble("tutorial", SEEDS, overrides=SMALL, t_start=20.0, executor=executor)
        assert rows[2] == {"seed": 2, "complete": False, "error": "RuntimeError: this seed fails"}
        assert strip(rows[:2] + rows[3:]) == strip(serial_rows[:2] + serial_rows[3:])
        if executor is not None:
            executor.shutdown()


def test_a_scheduler_that_cannot_be_used_is_bad_input(tmp_path, monkeypatch, capsys):
    """Without the distributed package, and where no scheduler answers: one ConfigError naming
    the scheduler, exit 2, before --out is created."""
    with pytest.raises(ConfigError, match="scheduler = '': allowed 'local' or the address"):
        with scheduler_executor(""):
            pass
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "distributed", None)          # import distributed fails
        with pytest.raises(ConfigError) as e:
            with scheduler_executor("tcp://127.0.0.1:8786"):
                pass
        assert str(e.value) == ("scheduler = 'tcp://127.0.0.1:8786': needs the 'distributed' package "
                                "(pip install 'refsim[distributed]'): allowed 'local' without it")
        assert refsim.cli.main(["ensemble", *CLI_SMALL, "--scheduler", "tcp://127.0.0.1:8786",
                                "--out", str(tmp_path / "e")]) == 2
        assert capsys.readouterr().err == f"refsim: error: {e.value}\n" and not (tmp_path / "e").exists()
    dask = pytest.importorskip("dask")
    with socket.socket() as s:                               # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ConfigError, match=rf"scheduler = 'tcp://127.0.0.1:{port}': cannot connect \("):
            with scheduler_executor(f"tcp://127.0.0.1:{port}"):
                pass


# -- jobs: cores and memory --------------------------------------------------------------------

def test_available_cores_are_the_affinity_mask_or_the_cpu_count(monkeypatch):
    if hasattr(os, "sched_getaffinity"):
        assert available_cores() == len(os.sched_getaffinity(0))
        monkeypatch.delattr(os, "sched_getaffinity")
    assert available_cores() == os.cpu_count()


def test_jobs_above_the_cores_are_capped_with_a_warning(monkeypatch, serial_rows, tmp_path, capsys):
    """With 2 cores, jobs=5 starts a pool of 2 workers (recorded here; threads stand in for
    the processes), warns once naming the cap, and gives the reference rows."""
    monkeypatch.setattr(refsim.ensemble, "available_cores", lambda: 2)
    pools = []

    def new_pool(jobs):
        pools.append(jobs)
        return ThreadPoolExecutor(jobs)

    monkeypatch.setattr(refsim.ensemble, "_new_pool", new_pool)
    message = "jobs = 5: more than the 2 cores this process may use: capped at 2"
    with pytest.warns(ConfigWarning, match=message):
        rows = run_ensemble("tutorial", SEEDS, jobs=5, overrides=SMALL, t_start=20.0)
    assert pools == [2] and strip(rows) == strip(serial_rows)
    assert plan_jobs(2, [], warn=False) == 2 and plan_jobs(1, []) == 1
    assert refsim.cli.main(["ensemble", *CLI_SMALL, "--seeds", "0:2", "--jobs", "5",
                            "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().err.count(f"refsim: warning: {message}\n") == 1


def test_memory_is_checked_for_all_the_jobs_at_once(monkeypatch, tmp_path, capsys):
    """Room for 2.5 runs (each a worker process's baseline plus its run's estimate): 2 jobs
    pass, 3 are refused naming jobs, the memory and how many fit; room for half a run in this
    process: refused as for one run; on an executor (its workers' memory) nothing is refused
    here. The command line exits 2 before --out is created."""
    run = estimate_memory(refsim.get_preset("tutorial", **SMALL), engine="numba")["total"]
    one = run + refsim.resources.worker_baseline("numba")
    monkeypatch.setattr(refsim.ensemble, "available_cores", lambda: 8)
    monkeypatch.setattr(refsim.resources, "available_memory", lambda: int(2.5 * one))
    assert len(check_ensemble("tutorial", SEEDS, 2, SMALL)) == 4
    message = (f"jobs = 3: 3 runs at once need ~{format_bytes(3 * one)} ({format_bytes(one)} each, a "
               f"worker process's own included) but {format_bytes(int(2.5 * one))} are available: "
               "allowed jobs <= 2 here")
    with pytest.raises(ConfigError) as e:
        check_ensemble("tutorial", SEEDS, 3, SMALL)
    assert str(e.value) == message
    with ThreadPoolExecutor(1) as pool:
        assert len(check_ensemble("tutorial", SEEDS, 3, SMALL, executor=pool)) == 4
    assert refsim.cli.main(["ensemble", *CLI_SMALL, "--jobs", "3", "--out", str(tmp_path / "e")]) == 2
    assert capsys.readouterr().err == f"refsim: error: {message}\n" and not (tmp_path / "e").exists()
    with pytest.raises(ConfigError, match="jobs = 3: .* allowed jobs <= 2 here"):
        refsim.sweep.run_sweep("tutorial", {"w_e": [1.0, 2.0]}, [0], SMALL, jobs=3)
    monkeypatch.setattr(refsim.resources, "available_memory", lambda: run // 2)
    with pytest.raises(ConfigError, match=rf"memory: one run needs ~{format_bytes(run)} \("):
        check_ensemble("tutorial", SEEDS, 1, SMALL)


# -- resuming an ensemble --------------------------------------------------------------------------

def test_an_ensemble_resumed_runs_only_the_seeds_without_a_row(tmp_path, monkeypatch, capsys, serial_rows):
    """Seed 2 fails: exit 3, its row says why, the message says how to run it again. The same
    command with --resume runs seed 2 only and gives the reference rows; --resume with more
    seeds runs only the new ones; another window or parameter is refused naming it."""
    argv = ["ensemble", *CLI_SMALL, "--seeds", "0:4", "--out", str(tmp_path)]
    first = CountingOne(fail={2})
    monkeypatch.setattr(refsim.ensemble, "_one", first)
    assert refsim.cli.main(argv) == 3 and first.seeds == SEEDS
    rows = json.loads((tmp_path / "ensemble.json").read_text())["rows"]
    assert rows[2] == {"seed": 2, "complete": False, "error": "RuntimeError: this seed fails"}
    assert capsys.readouterr().err.endswith("the same command with --resume keeps the rows done and runs "
                                            "only these: --seeds 2\n")
    again = CountingOne()
    monkeypatch.setattr(refsim.ensemble, "_one", again)
    assert refsim.cli.main([*argv, "--resume"]) == 0 and again.seeds == [2]
    assert strip(json.loads((tmp_path / "ensemble.json").read_text())["rows"]) == strip(serial_rows)
    assert "4 seeds, from 20.0 ms (3 kept from" in capsys.readouterr().out
    more = CountingOne()
    monkeypatch.setattr(refsim.ensemble, "_one", more)
    assert refsim.cli.main([*argv[:-4], "--seeds", "2:6", "--out", str(tmp_path), "--resume"]) == 0
    assert more.seeds == [4, 5]
    assert [r["seed"] for r in json.loads((tmp_path / "ensemble.json").read_text())["rows"]] == list(range(6))
    capsys.readouterr()
    for extra, difference in [(["--t-start", "10"], "t_start_ms = 20.0 there, 10.0 now"),
                              (["--set", "p_conn=0.1"], "p_conn = 0.02 there, 0.1 now")]:
        assert refsim.cli.main([*argv, *extra, "--resume"]) == 2
        assert capsys.readouterr().err == (f"refsim: error: out = {str(tmp_path)!r}: holds another "
                                           f"ensemble ({difference}): allowed the same definition to "
                                           "continue it, or another --out\n")
    assert more.seeds == [4, 5] and check_output_dir(tmp_path)["command"] == "ensemble"


def test_an_interrupt_after_the_last_run_is_not_lost():
    """Ctrl-C during the last run's on_done (e.g. while a sweep saves its last cell): every
    row is there, and the rows say they were interrupted (the command then exits 130, not 0)."""
    tasks = check_ensemble("tutorial", [0, 1], overrides=SMALL)

    def on_done(i, row):
        if i == len(tasks) - 1:
            raise KeyboardInterrupt

    rows = refsim.ensemble.run_tasks(tasks, on_done=on_done)
    assert [r["seed"] for r in rows] == [0, 1] and all("error" not in r for r in rows)
    assert rows.interrupted
    assert not refsim.ensemble.run_tasks(tasks[:1]).interrupted


def test_the_ensemble_table_is_valid_csv_when_an_error_holds_commas(tmp_path, monkeypatch):
    """A failed seed's error (ConfigError messages hold commas) stays one field: every line of
    ensemble.csv parses to as many fields as the header has."""
    import csv

    original = refsim.ensemble._one

    def failing(task):
        if task[2] == 1:
            raise ValueError("a, b, and c went wrong")
        return original(task)

    monkeypatch.setattr(refsim.ensemble, "_one", failing)
    assert refsim.cli.main(["ensemble", *CLI_SMALL, "--seeds", "0:2", "--out", str(tmp_path)]) == 3
    with open(tmp_path / "ensemble.csv", newline="") as f:
        table = list(csv.reader(f))
    assert len(table) == 3 and {len(row) for row in table} == {len(table[0])}
    assert table[2][table[0].index("error")] == "ValueError: a, b, and c went wrong"
