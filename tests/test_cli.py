"""The command line: files written, summary consistent with the spikes, bad input rejected."""
import json
import subprocess
import sys

import numpy as np

import refsim
from refsim.testing import tolerance


def run(*args):
    return subprocess.run([sys.executable, "-m", "refsim", *args], capture_output=True, text=True)


def test_run_writes_its_files_and_a_manifest_and_summary_matches_spikes(tmp_path):
    """The files of one run (spikes, summary, raster, benchmark figure), listed in its
    manifest with one run id, also in the spikes and the summary."""
    p = run("run", "--preset", "tutorial", "--duration", "50", "--set", "n_exc=160",
            "--set", "n_inh=40", "--out", str(tmp_path), "--no-progress")
    assert p.returncode == 0, p.stderr
    assert {f.name for f in tmp_path.iterdir()} == {"spikes.npz", "summary.json", "raster.png",
                                                    "benchmark.png", "manifest.json"}
    res = refsim.SimulationResult.load(tmp_path / "spikes.npz")
    summary = json.loads((tmp_path / "summary.json").read_text())
    manifest = refsim.outputs.check_output_dir(tmp_path)
    assert sorted(manifest["files"]) == ["benchmark.png", "raster.png", "spikes.npz", "summary.json"]
    assert len(res.run_id) == 32 and manifest["run_id"] == summary["run_id"] == res.run_id
    assert summary["n_spikes"] == res.n_spikes
    assert abs(summary["rate_e_hz"] - res.spike_counts()[:160].mean() / 0.05) < tolerance("rounding-absolute")
    assert res.config.n_exc == 160 and res.steps_done == 500


def test_run_record_stores_the_traces_the_api_records(tmp_path):
    """--record 0,45 --record-vars V,g_i stores exactly simulate(record=[0, 45],
    record_vars=('V', 'g_i'))'s traces (bit for bit) in spikes.npz; a bad list exits 2 naming
    the option."""
    cfg = refsim.get_preset("tutorial-normalized", n_exc=40, n_inh=10, duration=30.0)
    expected = refsim.simulate(cfg, seed=3, record=[0, 45], record_vars=("V", "g_i"), progress=False)
    p = run("run", "--preset", "tutorial-normalized", "--duration", "30", "--set", "n_exc=40",
            "--set", "n_inh=10", "--seed", "3", "--record", "0,45", "--record-vars", "V,g_i",
            "--out", str(tmp_path / "o"), "--no-progress")
    assert p.returncode == 0, p.stderr
    got = refsim.SimulationResult.load(tmp_path / "o" / "spikes.npz")
    assert sorted(got.traces) == ["V", "g_i"] and got.traces["V"].shape == (300, 2)
    for k in ("V", "g_i"):
        np.testing.assert_array_equal(got.traces[k], expected.traces[k])
    bad = run("run", "--record", "0,x", "--out", str(tmp_path / "b"))
    assert bad.returncode == 2 and "--record 0,x: allowed comma-separated" in bad.stderr


def test_bad_input_exits_nonzero_with_one_line_message(tmp_path):
    p = run("run", "--set", "tau_ref=-5", "--out", str(tmp_path))
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["refsim: error: tau_ref = -5.0: allowed tau_ref >= 0 ms"]


def test_run_with_connectivity_and_initial_state_files_reproduces_the_api(tmp_path):
    """--connectivity and --initial-state give the same spikes as simulate() with the same data."""
    cfg = refsim.get_preset("tutorial", n_exc=160, n_inh=40, duration=30.0)
    conn = refsim.build_connectivity(cfg, 11)
    conn.save(tmp_path / "conn.npz")
    V0 = np.linspace(-60.0, -49.0, 200)
    np.savez(tmp_path / "init.npz", V=V0)
    expected = refsim.simulate(cfg, seed=0, connectivity=conn, initial={"V": V0}, progress=False)
    p = run("run", "--preset", "tutorial", "--duration", "30", "--set", "n_exc=160",
            "--set", "n_inh=40", "--connectivity", str(tmp_path / "conn.npz"),
            "--initial-state", str(tmp_path / "init.npz"), "--out", str(tmp_path / "o"),
            "--no-progress")
    assert p.returncode == 0, p.stderr
    got = refsim.SimulationResult.load(tmp_path / "o" / "spikes.npz")
    np.testing.assert_array_equal(got.spike_steps, expected.spike_steps)
    np.testing.assert_array_equal(got.spike_neurons, expected.spike_neurons)


def test_compare_and_ensemble_commands(tmp_path):
    """`refsim compare` of a run with itself reports identical rasters and zero KS distance;
    `refsim ensemble` writes one row per seed whose rates match a direct run of that seed;
    a bad seed range exits 2 naming --seeds' value."""
    common = ["--set", "n_exc=80", "--set", "n_inh=20", "--set", "duration=300",
              "--set", "p_conn=0.2"]
    assert run("run", "--preset", "tutorial-normalized", *common, "--out", str(tmp_path / "r"),
               "--no-progress").returncode == 0
    spikes = str(tmp_path / "r" / "spikes.npz")
    p = run("compare", spikes, spikes, "--out", str(tmp_path / "c"), "--t-start", "100")
    assert p.returncode == 0, p.stderr
    assert "rasters identical" in p.stdout and "rate_hz  KS 0.000" in p.stdout
    report = json.loads((tmp_path / "c" / "comparison.json").read_text())
    assert report["first_difference_ms"] is None and report["t_start_ms"] == 100.0
    p = run("ensemble", "--preset", "tutorial-normalized", "--seeds", "0,2", *common,
            "--t-start", "0", "--out", str(tmp_path / "e"))
    assert p.returncode == 0, p.stderr
    rows = json.loads((tmp_path / "e" / "ensemble.json").read_text())["rows"]
    direct = refsim.simulate(refsim.get_preset("tutorial-normalized", n_exc=80, n_inh=20,
                                               duration=300.0, p_conn=0.2), 2, progress=False)
    assert [r["seed"] for r in rows] == [0, 2]
    assert rows[1]["rate_e_hz"] == direct.summary()["rate_e_hz"]
    p = run("ensemble", "--seeds", "5:1", "--out", str(tmp_path / "bad"))
    assert p.returncode == 2 and "seeds = '5:1'" in p.stderr
