"""Comparisons of runs and ensembles over seeds.

Reference values: Cohen's d and its interval by hand from their definitions; a run compared
with itself must give zero distances; constructed rasters differ at a known time; the
ensemble's rows must not depend on the number of worker processes.
"""
import json

import numpy as np
import pytest

import refsim
from refsim.analysis import SpikeTrains
from refsim.compare import cohens_d, compare, first_difference_ms, load_spikes, write_report
from refsim.ensemble import parse_seeds, run_ensemble, summarize
from refsim.params import ConfigError
from refsim.testing import tolerance

REL = tolerance("rounding-relative")


def small_run(seed=0, **kw):
    cfg = refsim.get_preset("tutorial-normalized", n_exc=80, n_inh=20, p_conn=0.2, w_e=2.0,
                            w_i=10.0, duration=200.0, **kw)
    return refsim.simulate(cfg, seed, progress=False)


def test_cohens_d_and_its_interval_by_hand():
    """x = (1, 2, 3), y = (2, 3, 4): pooled SD 1, d = -1, SE = sqrt(6/9 + 1/12) = 0.866."""
    d, (lo, hi) = cohens_d([1, 2, 3], [2, 3, 4])
    se = np.sqrt(6 / 9 + 1 / 12)
    z = 1.959963984540054  # the 97.5 % quantile of the standard normal
    assert d == pytest.approx(-1.0, rel=REL) and lo == pytest.approx(-1 - z * se, rel=REL)
    assert hi == pytest.approx(-1 + z * se, rel=REL)


def test_a_run_compared_with_itself_has_zero_distance():
    """Identical inputs: KS distance 0 (p = 1), Wasserstein 0, d = 0, rate correlation 1 and
    no raster difference."""
    r = small_run()
    c = compare(r, r)
    for name, d in c["distributions"].items():
        assert d["ks_distance"] == 0.0 and d["ks_pvalue"] == 1.0 and d["wasserstein"] == 0.0, name
        assert d["cohens_d"] == 0.0, name
    assert c["rate_correlation"] == pytest.approx(1.0, rel=REL) and c["first_difference_ms"] is None


def test_first_difference_is_the_earliest_differing_spike():
    """Rasters equal up to 3.0 ms; B moves the spike at 4.0 ms of neuron 1 to 4.5 ms: first
    difference 4.0 ms. A missing last spike is a difference at its time."""
    a = SpikeTrains(np.array([1.0, 3.0, 4.0, 9.0]), np.array([0, 1, 1, 0]), 2, 1, 10.0)
    b = SpikeTrains(np.array([1.0, 3.0, 4.5, 9.0]), np.array([0, 1, 1, 0]), 2, 1, 10.0)
    c = SpikeTrains(np.array([1.0, 3.0, 4.0]), np.array([0, 1, 1]), 2, 1, 10.0)
    assert first_difference_ms(a, b) == 4.0
    assert first_difference_ms(a, c) == 9.0
    assert first_difference_ms(a, a) is None


def test_peer_spike_files_load_with_their_meta_and_report_is_written(tmp_path):
    """A peer file (t_ms, i, meta JSON) loads as SpikeTrains; without n_exc the error names it;
    the report has the three distribution rows and the same-network section."""
    r = small_run()
    meta = {"n_neurons": 100, "duration_ms": 200.0}
    np.savez(tmp_path / "peer.npz", t_ms=r.spike_times, i=r.spike_neurons, meta=json.dumps(meta))
    with pytest.raises(ConfigError, match="n_exc: required"):
        load_spikes(tmp_path / "peer.npz")
    peer = load_spikes(tmp_path / "peer.npz", n_exc=80)
    assert peer.n_neurons == 100 and peer.times_ms.size == r.n_spikes
    r.save(tmp_path / "run.npz")
    own = load_spikes(tmp_path / "run.npz")
    np.testing.assert_array_equal(own.times_ms, peer.times_ms)
    c = compare(own, peer, labels=("refsim", "peer"))
    paths = write_report(c, own, peer, tmp_path / "out")
    text = open(paths[1]).read()
    assert text.count("| per-neuron") == 2 and "rasters: identical" in text
    assert json.load(open(paths[0]))["first_difference_ms"] is None


def test_seed_lists_are_parsed_and_checked():
    assert parse_seeds("0:4") == [0, 1, 2, 3] and parse_seeds("1,5,9") == [1, 5, 9]
    assert parse_seeds("0:10:5") == [0, 5]
    for bad in ("", "a:b", "3,3", "-1:2", "1:2:3:4"):
        with pytest.raises(ConfigError, match="seeds = "):
            parse_seeds(bad)


def test_ensemble_rows_do_not_depend_on_the_number_of_processes():
    """Seeds 0-2 of a small network with 1 and with 2 worker processes: identical rows
    (ordered by seed); the summary's mean and SD equal NumPy's over the rows."""
    over = dict(n_exc=40, n_inh=10, duration=100.0, p_conn=0.2)
    one = run_ensemble("tutorial-normalized", [2, 0, 1], jobs=1, overrides=over)
    two = run_ensemble("tutorial-normalized", [0, 1, 2], jobs=2, overrides=over)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows]  # noqa: E731
    assert [r["seed"] for r in one] == [0, 1, 2]
    assert json.dumps(strip(one)) == json.dumps(strip(two))
    s = summarize(one)
    rates = [r["rate_e_hz"] for r in one]
    assert s["rate_e_hz"]["mean"] == pytest.approx(np.mean(rates), rel=REL)
    assert s["rate_e_hz"]["sd"] == pytest.approx(np.std(rates, ddof=1), rel=REL)
    assert s["rate_e_hz"]["n"] == 3
    with pytest.raises(ConfigError, match="jobs = 0"):
        run_ensemble("tutorial-normalized", [0], jobs=0, overrides=over)
