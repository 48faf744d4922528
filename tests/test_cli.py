"""The command line: files written, summary consistent with the spikes, bad input rejected."""
import json
import subprocess
import sys

import refsim


def run(*args):
    return subprocess.run([sys.executable, "-m", "refsim", *args], capture_output=True, text=True)


def test_run_writes_three_files_and_summary_matches_spikes(tmp_path):
    p = run("run", "--preset", "tutorial", "--duration", "50", "--set", "n_exc=160",
            "--set", "n_inh=40", "--out", str(tmp_path), "--no-progress")
    assert p.returncode == 0, p.stderr
    assert {f.name for f in tmp_path.iterdir()} == {"spikes.npz", "summary.json", "raster.png"}
    res = refsim.SimulationResult.load(tmp_path / "spikes.npz")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_spikes"] == res.n_spikes
    assert abs(summary["rate_e_hz"] - res.spike_counts()[:160].mean() / 0.05) < 1e-9
    assert res.config.n_exc == 160 and res.steps_done == 500


def test_bad_input_exits_nonzero_with_one_line_message(tmp_path):
    p = run("run", "--set", "tau_ref=-5", "--out", str(tmp_path))
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["refsim: error: tau_ref = -5.0: allowed tau_ref >= 0 ms"]
