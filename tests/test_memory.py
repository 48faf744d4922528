"""Memory: estimates equal what a run allocates, and a run (or a dense raster) that does not
fit is refused before any allocation, with the breakdown and the alternatives.

Reference values: the nbytes of the arrays a run actually allocates; the worst-case spike
count from the refractory limit; the documented messages.
"""
import numpy as np
import pytest
from helpers import network_module, small

import refsim
from refsim import ConfigError, cli, resources
from refsim.testing import tolerance


@pytest.mark.parametrize("rule", ["fixed_out_degree", "fixed_in_degree", "bernoulli"])
def test_memory_estimate_matches_what_a_run_allocates(rule):
    """Connectivity: exactly the bytes of the CSR arrays (int32 row pointers and indices; no
    counts: one synapse per entry) for the fixed-degree rules, within 5 % for Bernoulli (an
    expectation); traces: exactly the bytes of the recorded traces; spikes: 20 bytes per
    spike at the run's own rate; the total: the connectivity plus the larger of the build and
    the rest."""
    kw = dict(conn_rule=rule, conn_rng="pcg64", multapses=rule != "bernoulli")
    cfg = refsim.get_preset("tutorial-normalized", n_exc=400, n_inh=100, duration=10.0, p_conn=0.05, **kw)
    est = refsim.estimate_memory(cfg, record=[0, 3, 7], record_vars=("V", "g_i"))
    conn = refsim.build_connectivity(cfg, np.random.SeedSequence(1))
    assert conn.unit_counts
    actual = conn.indptr.nbytes + conn.indices.nbytes
    if rule == "bernoulli":
        assert abs(est["connectivity"] - actual) < tolerance("memory-bernoulli") * actual
    else:
        assert est["connectivity"] == actual
    r = refsim.simulate(cfg, 1, connectivity=conn, record=[0, 3, 7], record_vars=("V", "g_i"), progress=False)
    # 100 steps x 3 neurons x 2 variables x 8 bytes (float64)
    assert est["traces"] == sum(t.nbytes for t in r.traces.values()) == 100 * 3 * 2 * 8
    rate = r.n_spikes / 500 / 0.010
    at_rate = refsim.estimate_memory(cfg, rate_hz=rate)
    # the result's int64 steps and int32 neurons, and the recorder's int32 blocks beside them
    assert r.n_spikes > 100
    assert at_rate["spikes"] == r.spike_steps.nbytes + r.spike_neurons.nbytes + 8 * r.n_spikes
    run = sum(est[k] for k in ("counts", "partition", "state", "step_times", "traces", "spikes", "dense"))
    assert est["total"] == est["connectivity"] + max(est["build"], run)
    assert est["peak_rss"] == est["process"] + est["total"]
    # worst case: every neuron fires once per ceil(tau_ref/dt) = 50 steps: 2 spikes in 100 steps,
    # for 500 neurons, 12 bytes each (int64 step, int32 neuron)
    assert est["spikes_max"] == 500 * 2 * 12


def test_threads_add_the_partitioned_copy_of_the_connectivity():
    """With threads the Numba engine copies the indices once more, split by target block, with
    threads x (N + 1) int32 row pointers (and threads x N cursors while it is made), and one more
    N-sized int32 spike list: the arrays refsim.engines.numba_engine.partition returns, plus
    the cursors and the list."""
    from refsim.engines import engine_inputs
    from refsim.engines.numba_engine import partition
    cfg = refsim.get_preset("tutorial")
    one, two = (refsim.estimate_memory(cfg, threads=t) for t in (1, 2))
    assert one["partition"] == 0
    conn = engine_inputs(cfg, refsim.build_connectivity(cfg, 0))[2]
    made = sum(a.nbytes for a in partition(conn, 2)[1:])
    assert two["partition"] == made + 2 * 4000 * 4 + 4000 * 4


@pytest.mark.parametrize("rule, multapses, autapses", [
    ("fixed_out_degree", True, True), ("fixed_out_degree", True, False),
    ("fixed_out_degree", False, False), ("fixed_in_degree", True, True),
    ("fixed_in_degree", False, False), ("bernoulli", False, False)])
def test_the_build_estimate_matches_the_temporaries_of_a_build(rule, multapses, autapses):
    """``build``: the peak of a build's temporaries (tracemalloc: NumPy's allocations), besides
    the network's own arrays, within the stated tolerance, at N = 50 000 (out-degree 80)."""
    import tracemalloc
    cfg = refsim.scaled_preset("tutorial-normalized", 50_000).replace(
        conn_rule=rule, multapses=multapses, autapses=autapses, conn_rng="pcg64")
    tracemalloc.start()
    try:
        conn = refsim.build_connectivity(cfg, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    measured = peak - conn.indptr.nbytes - conn.indices.nbytes
    est = refsim.estimate_memory(cfg)["build"]
    assert abs(est - measured) < tolerance("memory-build") * measured


def test_a_run_that_does_not_fit_is_refused_before_any_allocation(monkeypatch):
    """With 1 MB available, the 4000-neuron tutorial (5.4 MB) is refused with the breakdown and
    the alternatives, and neither connectivity nor state is built."""
    monkeypatch.setattr(resources, "available_memory", lambda: 1_000_000)

    def no_work(*a, **k):
        raise AssertionError("allocation started")

    monkeypatch.setattr(network_module, "build_connectivity", no_work)
    monkeypatch.setattr(network_module, "initial_state", no_work)
    with pytest.raises(ConfigError) as e:
        refsim.simulate(refsim.get_preset("tutorial"), 0, progress=False)
    # the numbers are refsim.estimate_memory(get_preset("tutorial")) as the message writes them:
    # connectivity = int32 indptr (4001) and indices (320 000 synapses); building it draws them
    # in one chunk of int32 with int64 row pointers; state: 14 N-sized float32 arrays and 45
    # bytes per neuron (refsim.resources); step times 10 000 float32; spikes 4000 neurons x
    # 50 Hz x 1 s x 20 bytes; 1 000 000 bytes available = 977 KiB
    est = refsim.estimate_memory(refsim.get_preset("tutorial"))
    assert (est["connectivity"], est["build"], est["state"], est["step_times"], est["spikes"]) == \
        (4001 * 4 + 320_000 * 4, 320_000 * 4 + 4001 * 8, 14 * 4000 * 4 + 45 * 4000, 10_000 * 4,
         4000 * 50 * 20)
    assert est["total"] == est["connectivity"] + est["state"] + est["step_times"] + est["spikes"] \
        == 5_740_004
    assert str(e.value) == (
        "memory: the run needs ~5.47 MiB (connectivity 1.24 MiB, build 1.25 MiB, state 395 KiB, "
        "step times 39.1 KiB, spikes 3.81 MiB) but 977 KiB are available: allowed at most the "
        "available memory; record fewer neurons or variables, run a shorter duration (spikes are "
        "kept sparse, so a long run costs only its spikes) or a smaller network")


def test_too_many_synapses_for_int32_indices_are_refused():
    with pytest.raises(ConfigError,
                       match=r"^p_conn = 0.02: allowed a value giving fewer than 2\*\*31 synapses"):
        refsim.simulate(refsim.get_preset("tutorial", n_exc=400_000), 0, progress=False)


def test_dense_matrix_is_refused_when_it_does_not_fit(monkeypatch):
    r = refsim.simulate(small(), 0, progress=False)
    assert r.dense().shape == (200, 50)
    monkeypatch.setattr(resources, "available_memory", lambda: 9999)
    with pytest.raises(ConfigError,
                       match=r"^memory: the dense \(steps_done, N\) spike matrix needs ~9.77 KiB "
                             r".*use the sparse spikes result.spike_steps and result.spike_neurons"):
        r.dense()


def test_cli_refuses_a_run_that_does_not_fit_with_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(resources, "available_memory", lambda: 10**6)
    assert cli.main(["run", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("refsim: error: memory: the run needs ~5.47 MiB")
    assert not (tmp_path / "spikes.npz").exists()


def test_available_memory_reads_the_system():
    avail = refsim.available_memory()
    assert avail is None or 0 < avail < 2**60

