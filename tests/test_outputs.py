"""Output directories, early checks and signals: one run's outputs are one unit, every input
and the output path is checked before the first step, and SIGINT/SIGTERM never cost a run
that has been computed.

Reference values: the exit statuses and messages documented in refsim.cli; the manifest
(refsim.outputs.check_output_dir) and the run id stored in spikes.npz and summary.json; a
run's spikes from the API (simulate) for the runs the CLI makes.
"""
import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context

import numpy as np
import pytest

import refsim
import refsim.cli
import refsim.ensemble
import refsim.outputs
from refsim import ConfigError
from refsim.io import write_text
from refsim.outputs import check_output_dir, publish

SMALL = ["--set", "n_exc=80", "--set", "n_inh=20", "--duration", "50", "--engine", "numpy",
         "--no-progress"]


def cli(*argv):
    return subprocess.run([sys.executable, "-m", "refsim", *argv], capture_output=True, text=True,
                          timeout=300)


def run_id_of(out):
    """The run ids stored in the files of ``out`` that hold one: {file: id}."""
    ids = {}
    if (out / "spikes.npz").exists():
        ids["spikes.npz"] = refsim.SimulationResult.load(out / "spikes.npz").run_id
    if (out / "summary.json").exists():
        ids["summary.json"] = json.loads((out / "summary.json").read_text())["run_id"]
    return ids


# -- one run, one unit ---------------------------------------------------------------------

def test_a_failed_save_leaves_no_file_of_the_previous_run(tmp_path, monkeypatch, capsys):
    """Seed 1, then seed 2 into the same directory with the plot failing: the directory has
    no manifest (no complete run), what is there is seed 2's, never seed 1's, and the error
    is one line that says where the spikes are."""
    assert refsim.cli.main(["run", *SMALL, "--seed", "1", "--out", str(tmp_path)]) == 0
    first = check_output_dir(tmp_path)["run_id"]

    def broken_raster(result, path):
        raise RuntimeError("the plot failed")

    monkeypatch.setattr(refsim.cli, "raster", broken_raster)
    assert refsim.cli.main(["run", *SMALL, "--seed", "2", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"refsim: error: {tmp_path}/raster.png: cannot be written (RuntimeError: the plot failed); "
        f"{tmp_path}/spikes.npz holds the run's spikes (the directory has no manifest)\n")
    assert sorted(os.listdir(tmp_path)) == ["spikes.npz", "summary.json"]
    ids = run_id_of(tmp_path)
    assert len(set(ids.values())) == 1 and first not in ids.values()
    with pytest.raises(ConfigError, match="manifest.json: missing"):
        check_output_dir(tmp_path)


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("during", ["spikes.npz", "raster.png"])
def test_a_signal_during_the_save_lets_the_save_complete(tmp_path, monkeypatch, sig, status, during):
    """Ctrl-C or SIGTERM while a finished run is saved lost the whole run; now the save
    completes (the signal is held back), then the command exits 130 or 143."""
    assert refsim.cli.main(["run", *SMALL, "--seed", "1", "--out", str(tmp_path)]) == 0
    real_raster, real_save = refsim.cli.raster, refsim.SimulationResult.save

    def raster(result, path):
        if during == "raster.png":
            os.kill(os.getpid(), sig)
        return real_raster(result, path)

    def save(self, path):
        if during == "spikes.npz":
            os.kill(os.getpid(), sig)
        return real_save(self, path)

    monkeypatch.setattr(refsim.cli, "raster", raster)
    monkeypatch.setattr(refsim.SimulationResult, "save", save)
    assert refsim.cli.main(["run", *SMALL, "--seed", "2", "--out", str(tmp_path)]) == status
    manifest = check_output_dir(tmp_path)
    assert set(run_id_of(tmp_path).values()) == {manifest["run_id"]} and manifest["seed"] == 2
    assert sorted(os.listdir(tmp_path)) == ["benchmark.png", "manifest.json", "raster.png", "spikes.npz",
                                            "summary.json"]


@pytest.mark.parametrize("delay, sig", [(0.5, signal.SIGINT), (1.0, signal.SIGTERM), (1.5, signal.SIGINT),
                                        (2.0, signal.SIGTERM), (2.5, signal.SIGINT), (3.0, signal.SIGTERM)])
def test_signals_at_random_times_never_mix_two_runs(tmp_path, delay, sig):
    """A real process, seed 2 written over seed 1, sent SIGTERM or SIGINT after ``delay``
    seconds (while importing, running, saving or exiting). Afterwards the directory holds
    one complete run, seed 1's or seed 2's (its manifest matches every file), or no
    manifest and only seed 2's files; never a mix, never a temporary file."""
    out = tmp_path / "out"
    assert cli("run", *SMALL, "--seed", "1", "--out", str(out)).returncode == 0
    first = check_output_dir(out)["run_id"]
    p = subprocess.Popen([sys.executable, "-m", "refsim", "run", *SMALL, "--duration", "300",
                          "--seed", "2", "--out", str(out)], stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode in (0, 130, 143, -signal.SIGINT, -signal.SIGTERM), err
    assert not [n for n in os.listdir(out) if n.startswith(".tmp-")]
    ids = run_id_of(out)
    try:
        manifest = check_output_dir(out)
    except ConfigError:  # no complete run: the save of seed 2 was cut short; only its files
        assert len(set(ids.values())) <= 1 and first not in ids.values(), ids
        return
    # one complete run: seed 1 untouched (the signal came before the save), or seed 2
    assert set(ids.values()) == {manifest["run_id"]}
    assert manifest["run_id"] == first or manifest["seed"] == 2


def _publish_five_times(out, name):
    def writer(k):
        def write(path):
            time.sleep(0.01)
            write_text(path, f"{name} {k}")
        return write

    for k in range(5):
        publish(out, {f: writer(k) for f in ("a.txt", "b.txt", "c.txt")}, run_id=f"{name}-{k}")


@pytest.mark.parametrize("how", ["threads", "processes"])
def test_concurrent_runs_into_one_directory_take_turns(tmp_path, how):
    """Two writers (threads, or processes as two refsim commands are) publishing into one
    directory at once, 5 times each, slowly: at the end the manifest matches every file,
    all of one run."""
    if how == "threads":
        workers = [threading.Thread(target=_publish_five_times, args=(tmp_path, n)) for n in "xy"]
    else:
        workers = [get_context("fork").Process(target=_publish_five_times, args=(tmp_path, n)) for n in "xy"]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert how == "threads" or all(w.exitcode == 0 for w in workers)
    manifest = check_output_dir(tmp_path)
    name, k = manifest["run_id"].split("-")
    assert {(tmp_path / f).read_text() for f in ("a.txt", "b.txt", "c.txt")} == {f"{name} {k}"}


def test_a_file_changed_after_the_run_no_longer_passes(tmp_path):
    """check_output_dir compares every listed file with its SHA-256."""
    publish(tmp_path, {"a.txt": lambda p: write_text(p, "A")}, run_id="r")
    (tmp_path / "a.txt").write_text("B")
    with pytest.raises(ConfigError, match=r"a.txt: differs from .*manifest.json \(run r\)"):
        check_output_dir(tmp_path)
    os.remove(tmp_path / "a.txt")
    with pytest.raises(ConfigError, match=r"a.txt: missing, but listed"):
        check_output_dir(tmp_path)


# -- checks before the first step ------------------------------------------------------------

@pytest.mark.parametrize("out, reason", [
    ("/sys/kernel", None),           # exists, not writable even for root
    ("/sys/refsim-out", None),       # cannot be created (the reason depends on the mount)
    ("{file}/sub", "Not a directory"),
    ("{file}", "a file"),
])
def test_an_unwritable_out_is_refused_before_the_run(tmp_path, out, reason):
    """A read-only --out used to be found after the whole run, naming a temp file."""
    (tmp_path / "file").write_text("x")
    out = out.format(file=tmp_path / "file")
    for argv in (["run", *SMALL, "--duration", "100000"],
                 ["ensemble", "--set", "n_exc=8", "--set", "n_inh=2", "--seeds", "0:50"]):
        t0 = time.perf_counter()
        p = cli(*argv, "--out", out)
        assert p.returncode == 2 and p.stdout == "", p.stderr
        assert p.stderr.startswith(f"refsim: error: out = {out!r}: {reason or ''}")
        assert p.stderr.endswith(": allowed a directory that can be created and written\n"), p.stderr
        assert time.perf_counter() - t0 < 30  # a 100 s run or 50 seeds would take far longer


@pytest.mark.parametrize("argv, message", [
    (["--t-start", "2000"], "t_start = 2000.0: allowed 0 <= t_start < duration = 1000.0 ms"),
    (["--preset", "tutorial", "--seeds", f"{2**32}:{2**32 + 1}"],
     f"seed = {2**32}: allowed 0 .. 2**32 - 1 when conn_rng = 'numpy-legacy'"),
    (["--engine", "cuda"], "engine = 'cuda'"),
    (["--jobs", "0"], "jobs = 0: allowed an int >= 1"),
])
def test_ensemble_arguments_are_checked_before_any_worker(tmp_path, argv, message):
    """These were found only inside the workers (after the others had run)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}  # a real GPU only
    if "cuda" in argv and subprocess.run([sys.executable, "-c", "import refsim.engines as e; "
                                          "e.get_engine('cuda')"], env=env).returncode == 0:
        pytest.skip("a GPU is available here")
    p = subprocess.run([sys.executable, "-m", "refsim", "ensemble", "--jobs", "2", "--seeds", "0:4", *argv,
                        "--out", str(tmp_path / "e")], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("refsim: error: ") and message in p.stderr, p.stderr
    assert not (tmp_path / "e").exists()


def test_a_full_disk_names_the_file_and_rescues_the_spikes(tmp_path, monkeypatch, capsys):
    """ENOSPC while saving used to print 'None: No space left on device' and lose the run."""
    out = tmp_path / "out"
    real = refsim.io.tempfile.mkstemp

    def mkstemp(dir=None, prefix=None, **kw):   # the output files, not the early probe
        if os.path.abspath(dir) == str(out) and prefix == ".tmp-":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(dir=dir, prefix=prefix, **kw)

    monkeypatch.setattr(refsim.io.tempfile, "mkstemp", mkstemp)
    assert refsim.cli.main(["run", *SMALL, "--seed", "4", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    head = f"refsim: error: {out}/spikes.npz: cannot be written (No space left on device); "
    assert err.startswith(head + "the run's spikes were saved to ") and err.endswith("/spikes.npz instead")
    rescued = refsim.SimulationResult.load(err.removeprefix(head + "the run's spikes were saved to ")
                                           .removesuffix(" instead"))
    cfg = refsim.get_preset("tutorial", n_exc=80, n_inh=20, duration=50.0)
    expected = refsim.simulate(cfg, 4, progress=False, engine="numpy")
    np.testing.assert_array_equal(rescued.spike_steps, expected.spike_steps)
    np.testing.assert_array_equal(rescued.spike_neurons, expected.spike_neurons)


# -- exit statuses and messages ----------------------------------------------------------------

def test_a_state_non_finite_from_step_0_exits_3_with_the_partial_result(tmp_path):
    """Exited 2 with 't_stop_ms = 0.0: allowed a finite time > 0 ms'."""
    np.savez(tmp_path / "init.npz", V=np.full(100, -60.0), g_e=np.r_[3e38, np.zeros(99)])
    p = cli("run", *SMALL, "--initial-state", str(tmp_path / "init.npz"), "--out", str(tmp_path / "o"))
    assert p.returncode == 3, p.stderr
    assert "PARTIAL RESULT (non-finite, 0 of 500 steps saved)" in p.stderr
    assert "at step 0 (t = 0 ms)" in p.stderr and p.stderr.rstrip().endswith("kept no steps")
    manifest = check_output_dir(tmp_path / "o")
    assert sorted(manifest["files"]) == ["spikes.npz", "summary.json"]
    assert refsim.SimulationResult.load(tmp_path / "o" / "spikes.npz").steps_done == 0


@pytest.mark.parametrize("duration, undefined", [(15.0, {"fano"}), (5.0, {"fano"}), (1.5, {"fano", "corr"}),
                                                 (0.5, {"fano", "corr", "chi", "peak_hz"})])
def test_statistics_of_a_short_run_are_nan_where_their_bins_do_not_fit(duration, undefined):
    """Raised 'bin_ms = 10.0: allowed <= the window length', a parameter nobody gave; a
    window of one 10 ms bin gave a Fano factor of 0 (one bin has no variance)."""
    cfg = refsim.get_preset("tutorial-normalized", n_exc=80, n_inh=20, duration=duration)
    s = refsim.analysis.statistics(refsim.simulate(cfg, 0, progress=False, engine="numpy"))
    assert {k for k in undefined if np.isnan(s[k])} == undefined
    assert np.isfinite(s["rate_e_hz"]) and np.isfinite(s["rate_i_hz"])


@pytest.mark.parametrize("argv, message", [
    (["--set", "n_exc=8", "--set", "n_exc=9"], "--set n_exc: given twice (8 and '9'): allowed each "
                                                "parameter once"),
    (["--duration", "5", "--set", "duration=6"], "--duration 5.0 and --set duration=6.0: allowed "
                                                  "each parameter once"),
])
def test_a_parameter_given_twice_is_refused(tmp_path, argv, message):
    """A repeated --set key silently kept the last value."""
    p = cli("run", *argv, "--out", str(tmp_path))
    assert p.returncode == 2 and p.stderr == f"refsim: error: {message}\n"


def test_sigterm_stops_a_run_and_saves_it(tmp_path):
    """SIGTERM (timeout, kill, schedulers) gave rc -15 and saved nothing; now it is Ctrl-C:
    exit 143, the partial result saved with its manifest, and the message names the steps."""
    argv = [a for a in SMALL if a != "--no-progress"]
    p = subprocess.Popen([sys.executable, "-m", "refsim", "run", *argv, "--duration", "20000",
                          "--out", str(tmp_path)], stderr=subprocess.PIPE)
    seen = b""
    while b"1000/200000" not in seen and p.poll() is None:  # the time loop is running
        seen += p.stderr.read1(4096)
    p.send_signal(signal.SIGTERM)
    err = (seen + p.communicate(timeout=120)[1]).decode()
    assert p.returncode == 143, err
    res = refsim.SimulationResult.load(tmp_path / "spikes.npz")
    assert res.stop_reason == "interrupted" and 0 < res.steps_done < 200_000
    assert res.message == (f"interrupted (SIGTERM) after {res.steps_done} steps; kept steps 0 .. "
                           f"{res.steps_done - 1}")
    assert check_output_dir(tmp_path)["run_id"] == res.run_id


def test_with_stderr_closed_a_run_still_completes(tmp_path):
    """With ``2>&-`` the progress bar raised AttributeError."""
    cmd = " ".join([sys.executable, "-m", "refsim", "run", *SMALL[:-1], "--out", str(tmp_path)])
    p = subprocess.run(["bash", "-c", cmd + " 2>&-"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout
    files = ["benchmark.png", "raster.png", "spikes.npz", "summary.json"]
    assert sorted(check_output_dir(tmp_path)["files"]) == files


# -- ensemble workers ----------------------------------------------------------------------------

KILL_SEED = 3
ENSEMBLE = dict(overrides=dict(n_exc=40, n_inh=10, duration=30.0), engine="numpy")


def _die_on(fn, task):
    if task[2] == KILL_SEED:
        os.kill(os.getpid(), signal.SIGKILL)
    return fn(task)


def _default_signals():
    """In a forked worker: the default SIGTERM action, not the parent CLI's handler (which
    would turn the pool's own SIGTERM to its workers into a traceback)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class KillingPool(ProcessPoolExecutor):
    """Local workers (forked, so the test's function is known to them) of which the one
    running seed 3 is killed by SIGKILL."""

    def __init__(self, jobs):
        super().__init__(max_workers=jobs, mp_context=get_context("fork"), initializer=_default_signals)

    def submit(self, fn, task):
        return super().submit(_die_on, fn, task)


def same_row(a, b):
    """Equal rows, NaN equal to NaN, wall time aside."""
    strip = lambda r: json.dumps({k: v for k, v in r.items() if k != "wall_time_s"}, sort_keys=True)  # noqa: E731
    return strip(a) == strip(b)


@pytest.fixture(scope="module")
def reference_rows():
    return {r["seed"]: r for r in refsim.ensemble.run_ensemble("tutorial", range(8), **ENSEMBLE)}


def test_a_killed_worker_costs_only_the_seeds_it_was_running(monkeypatch, reference_rows):
    """BrokenProcessPool used to end the ensemble with a traceback, losing the seeds done."""
    monkeypatch.setattr(refsim.ensemble, "_new_pool", KillingPool)
    rows = refsim.ensemble.run_ensemble("tutorial", range(8), jobs=2, **ENSEMBLE)
    failed = refsim.ensemble.failed_seeds(rows)
    assert KILL_SEED in failed and len(failed) <= 2, failed       # at most the 2 in flight
    for r in rows:
        if r["seed"] in failed:
            assert r == {"seed": r["seed"], "complete": False,
                         "error": "worker process died (killed, or out of memory?)"}
        else:
            assert same_row(r, reference_rows[r["seed"]])


def test_the_cli_saves_the_seeds_done_and_says_how_to_rerun_the_others(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(refsim.ensemble, "_new_pool", KillingPool)
    status = refsim.cli.main(["ensemble", "--preset", "tutorial", "--set", "n_exc=40", "--set", "n_inh=10",
                              "--set", "duration=30", "--engine", "numpy", "--seeds", "0:8", "--jobs", "2",
                              "--t-start", "0", "--out", str(tmp_path)])
    assert status == 3
    doc = json.loads((tmp_path / "ensemble.json").read_text())
    failed = [r["seed"] for r in doc["rows"] if "error" in r]
    err = capsys.readouterr().err
    assert err.endswith("the same command with --resume keeps the rows done and runs only these: "
                        f"--seeds {','.join(map(str, failed))}\n"), err
    assert check_output_dir(tmp_path)["command"] == "ensemble"


def test_a_seed_that_raises_costs_only_itself(monkeypatch, reference_rows):
    """On any executor (here threads), an exception in one seed is that seed's row only, and
    the rows of the others are those of a one-process run."""
    real = refsim.ensemble._one

    def one(task):
        if task[2] == 4:
            raise RuntimeError("this seed fails")
        return real(task)

    monkeypatch.setattr(refsim.ensemble, "_one", one)
    with ThreadPoolExecutor(2) as pool:
        rows = refsim.ensemble.run_ensemble("tutorial", range(8), jobs=2, executor=pool, **ENSEMBLE)
    assert rows[4] == {"seed": 4, "complete": False, "error": "RuntimeError: this seed fails"}
    assert all(same_row(r, reference_rows[r["seed"]]) for r in rows if r["seed"] != 4)


def test_a_refused_dtype_says_how_to_proceed_and_the_advice_works(tmp_path):
    """``--preset tutorial --dtype float64`` was refused with a message about fused_update
    that did not say what to do. The message names the settings to change, and a run with
    them goes through."""
    p = cli("run", "--preset", "tutorial", "--dtype", "float64", "--out", str(tmp_path / "a"))
    assert p.returncode == 2
    assert p.stderr.strip().endswith("with dtype = 'float64' set arithmetic='ieee', expm1='portable'")
    q = cli("run", "--preset", "tutorial", "--dtype", "float64", "--set", "arithmetic=ieee",
            "--set", "expm1=portable", *SMALL, "--out", str(tmp_path / "b"))
    assert q.returncode == 0, q.stderr
    assert refsim.SimulationResult.load(tmp_path / "b" / "spikes.npz").config.dtype == "float64"


# -- found by review: more ways to lose a run or the user's files ------------------------------

def test_an_out_holding_another_commands_outputs_is_refused(tmp_path):
    """`compare r1/spikes.npz r2/spikes.npz --out r1` replaced the run in r1 by the report
    (deleting its own inputs); now it is refused before any work, and r1 is left whole."""
    for seed in (1, 2):
        assert cli("run", *SMALL, "--seed", str(seed), "--out", str(tmp_path / f"r{seed}")).returncode == 0
    before = check_output_dir(tmp_path / "r1")
    p = cli("compare", str(tmp_path / "r1" / "spikes.npz"), str(tmp_path / "r2" / "spikes.npz"),
            "--out", str(tmp_path / "r1"))
    assert p.returncode == 2 and p.stderr == (
        f"refsim: error: out = '{tmp_path / 'r1'}': holds the outputs of `refsim run` (manifest.json): "
        "allowed a new directory, or one that `refsim compare` wrote (whose files are then replaced)\n")
    assert check_output_dir(tmp_path / "r1") == before
    p = cli("ensemble", "--set", "n_exc=8", "--set", "n_inh=2", "--seeds", "0:2",
            "--out", str(tmp_path / "r2"))
    assert p.returncode == 2 and "holds the outputs of `refsim run`" in p.stderr


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_a_special_manifest_in_out_neither_hangs_nor_eats_memory(tmp_path, kind):
    """A FIFO named manifest.json hung the finished run (with SIGTERM held); a symlink to
    /dev/zero read without end. Both are treated as no manifest, and replaced."""
    out = tmp_path / "out"
    out.mkdir()
    {"fifo": lambda: os.mkfifo(out / "manifest.json"),
     "dev-zero": lambda: (out / "manifest.json").symlink_to("/dev/zero"),
     "directory": lambda: (out / "manifest.json").mkdir()}[kind]()
    p = cli("run", *SMALL, "--out", str(out))
    if kind == "directory":   # cannot be replaced: one line, and the spikes rescued
        assert p.returncode == 2 and "manifest.json: cannot be replaced" in p.stderr, p.stderr
        assert "the run's spikes were saved to " in p.stderr
        return
    assert p.returncode == 0, p.stderr
    files = ["benchmark.png", "raster.png", "spikes.npz", "summary.json"]
    assert sorted(check_output_dir(out)["files"]) == files


def test_a_save_that_fails_after_a_signal_reports_the_failure(tmp_path, monkeypatch, capsys):
    """Ctrl-C, then the plot failing: this was reported as 'the save was completed first'
    (exit 130) while the directory had no manifest. The failure is what is reported."""
    def raster(result, path):
        os.kill(os.getpid(), signal.SIGINT)
        raise RuntimeError("the plot failed")

    monkeypatch.setattr(refsim.cli, "raster", raster)
    assert refsim.cli.main(["run", *SMALL, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "raster.png: cannot be written (RuntimeError: the plot failed)" in err and "completed" not in err


def test_an_interrupted_serial_ensemble_stops_and_keeps_the_seeds_done(monkeypatch, tmp_path, capsys):
    """With --jobs 1, Ctrl-C during seed 1 of 0:4 went on with seeds 2 and 3 and kept the
    interrupted run as an ordinary row; now seed 0 is kept, 1 .. 3 are 'not run', exit 130."""
    real = refsim.ensemble.simulate

    def simulate(config, seed, **kw):
        r = real(config, seed, **kw)
        if seed == 1:  # what simulate returns after Ctrl-C in its time loop
            r = dataclasses.replace(r, complete=False, stop_reason="interrupted")
        return r

    monkeypatch.setattr(refsim.ensemble, "simulate", simulate)
    status = refsim.cli.main(["ensemble", "--set", "n_exc=8", "--set", "n_inh=2",
                              "--set", "duration=20", "--seeds", "0:4", "--t-start", "0",
                              "--engine", "numpy", "--out", str(tmp_path)])
    assert status == 130
    rows = json.loads((tmp_path / "ensemble.json").read_text())["rows"]
    assert rows[0]["complete"] and [r.get("error") for r in rows[1:]] == ["not run: interrupted"] * 3


def test_waiting_for_another_writer_can_be_interrupted(tmp_path):
    """publish waits for the directory's lock outside the region where signals are held:
    Ctrl-C while another refsim writes there stops the wait at once, and nothing is written."""
    import fcntl
    fd = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)                      # another writer
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            publish(tmp_path, {"a.txt": lambda p: write_text(p, "A")})
    finally:
        timer.cancel()
        os.close(fd)
    assert time.perf_counter() - t0 < 5 and os.listdir(tmp_path) == []


def test_a_file_system_without_locks_gets_a_warning_not_an_error(tmp_path, monkeypatch):
    """flock fails with ENOSYS on some network file systems (Lustre without -o flock): the
    files are still published, with one ConfigWarning."""
    def no_flock(fd, op):
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    monkeypatch.setattr(refsim.outputs.fcntl, "flock", no_flock)
    with pytest.warns(refsim.ConfigWarning, match="its file system cannot lock"):
        publish(tmp_path, {"a.txt": lambda p: write_text(p, "A")}, run_id="r")
    assert check_output_dir(tmp_path)["run_id"] == "r"


def test_a_stale_name_that_cannot_be_replaced_is_one_line_and_keeps_the_run(tmp_path, capsys):
    """A directory named raster.png in --out: before, a raw OSError lost the finished run."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "raster.png").mkdir()
    assert refsim.cli.main(["run", *SMALL, "--seed", "5", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"refsim: error: {out}/raster.png: cannot be replaced (Is a directory); "
                          "the run's spikes were saved to ")
    rescued = refsim.SimulationResult.load(err.split("saved to ")[1].split(" instead")[0])
    assert rescued.seed == 5 and rescued.complete


def test_a_run_refused_for_its_seed_creates_no_output_directory(tmp_path):
    """The seed, engine and memory checks come before --out is created."""
    p = cli("run", "--preset", "tutorial", "--seed", str(2**32), "--out", str(tmp_path / "new" / "x"))
    assert p.returncode == 2 and "seed = 4294967296" in p.stderr
    assert not (tmp_path / "new").exists()


def test_sigterm_to_a_parallel_ensemble_stops_its_workers_at_once(tmp_path):
    """SIGTERM to the parent waited for the running seeds (a scheduler's grace period before
    SIGKILL can be shorter than one seed), then threw their results away. Now the workers
    are stopped at once, the seeds done are saved with a manifest, the rest marked."""
    p = subprocess.Popen([sys.executable, "-m", "refsim", "ensemble", "--jobs", "2", "--seeds", "0:4",
                          "--set", "n_exc=400", "--set", "n_inh=100", "--set", "duration=30000",
                          "--engine", "numpy", "--t-start", "0", "--out", str(tmp_path)],
                         stderr=subprocess.PIPE, text=True)
    time.sleep(6.0)                       # the workers have started their (30 s) seeds
    p.send_signal(signal.SIGTERM)
    t0 = time.perf_counter()
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err
    assert time.perf_counter() - t0 < 10, "waited for the running seeds"
    rows = json.loads((tmp_path / "ensemble.json").read_text())["rows"]
    assert [r["seed"] for r in rows] == [0, 1, 2, 3]
    assert all(r["complete"] or r["error"] == "not run: interrupted" for r in rows)
    assert check_output_dir(tmp_path)["command"] == "ensemble"


@pytest.mark.parametrize("files", [["../precious.txt"], "abc", [[1]], {"../precious.txt": {}},
                                   {"/abs/precious.txt": {}}])
def test_a_manifest_cannot_make_refsim_delete_files_outside_out(tmp_path, files):
    """The previous run's files are those its manifest lists, but only plain names inside
    --out count: a damaged or hostile manifest deleted files elsewhere (a string deleted one
    file per character) or raised a TypeError."""
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "precious.txt").write_text("keep")
    for name in "abc":
        (out / name).write_text("keep")
    (out / "manifest.json").write_text(json.dumps({"format": refsim.outputs.MANIFEST_FORMAT,
                                                    "command": "run", "files": files}))
    assert refsim.cli.main(["run", *SMALL, "--out", str(out)]) == 0
    assert (tmp_path / "precious.txt").read_text() == "keep"
    assert all((out / name).read_text() == "keep" for name in "abc")


@pytest.mark.parametrize("command", ["run", "ensemble", "compare"])
def test_an_interrupt_while_waiting_for_the_lock_keeps_the_work(tmp_path, command, capsys):
    """Ctrl-C while another refsim holds the directory: the run's spikes (the ensemble's
    rows) are rescued to a temporary directory, exit 130, one line, no traceback."""
    import fcntl
    out = tmp_path / "out"
    out.mkdir()
    argv = {"run": ["run", *SMALL],
            "ensemble": ["ensemble", "--set", "n_exc=8", "--set", "n_inh=2", "--set", "duration=20",
                         "--seeds", "0:2", "--t-start", "0", "--engine", "numpy"],
            "compare": ["compare", str(tmp_path / "a.npz"), str(tmp_path / "a.npz"), "--labels", "x", "y"]}
    if command == "compare":
        refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0), 0,
                        progress=False, engine="numpy").save(tmp_path / "a.npz")
    fd = os.open(out, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)                     # another refsim is writing there
    real_publish = refsim.outputs.publish

    def publish(*args, **kw):                           # Ctrl-C while it waits for the lock
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        return real_publish(*args, **kw)

    try:
        with pytest.MonkeyPatch.context() as m:
            m.setattr(refsim.cli, "publish", publish)
            m.setattr(refsim.compare, "publish", publish)
            assert refsim.cli.main([*argv[command], "--out", str(out)]) == 130
    finally:
        os.close(fd)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("refsim: interrupted (Ctrl-C) before the ")
    if command == "compare":
        assert err.endswith("nothing was saved")
        return
    kind = {"run": "spikes.npz", "ensemble": "ensemble.json"}[command]
    path = err.split(" saved to ")[1].removesuffix(" instead")
    assert path.endswith(kind) and os.path.getsize(path) > 0 and os.listdir(out) == []


def test_initial_values_not_finite_in_the_run_type_are_refused_before_out_is_created(tmp_path):
    """V = 1e39 is finite in float64 but not in the tutorial's float32."""
    np.savez(tmp_path / "init.npz", V=np.full(100, 1e39))
    p = cli("run", *SMALL, "--initial-state", str(tmp_path / "init.npz"), "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and "NaN or infinite in float32" in p.stderr, p.stderr
    assert not (tmp_path / "o").exists()
