"""Threads: the Numba engine's blocks in parallel give the oracle's bits for any thread count.

Reference values: the committed golden digests (tests/data/golden_digests.json, made by the
NumPy oracle and checked on other CPUs by test_machine_independence) and the NumPy oracle run
in the same process; the partition's expected arrays are worked out by hand in the docstrings.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refsim
from refsim import ConfigError
from refsim.engines import check_threads, engine_inputs, numba_engine
from refsim.network import draw_network

GOLDEN = {c["name"]: c for c in
          json.loads((Path(__file__).parent / "data" / "golden_digests.json").read_text())["cases"]}

#: Run in a child with NUMBA_NUM_THREADS=3 (three threads whatever the machine's cores): for
#: each case, the raster and final state digests with 1, 2 and 3 threads, how many blocks the
#: threaded runs used, and whether the parallel steps were compiled and run.
CHILD = textwrap.dedent("""
    import hashlib, json, sys, numba, numpy as np, refsim
    from refsim.engines import engine_inputs, numba_engine
    cases = json.loads(sys.argv[1])
    sha = lambda r: [hashlib.sha256(r.traces[k].tobytes()).hexdigest() for k in ("V", "g_e")]
    out = {"pool": numba.config.NUMBA_NUM_THREADS, "cases": {}}
    for name, (preset, overrides, seed) in cases.items():
        config = refsim.get_preset(preset, **overrides)
        row = {}
        for threads in (1, 2, 3):
            r = refsim.simulate(config, seed, progress=False, threads=threads, record=[0, 3999],
                                record_vars=("V", "g_e"))
            conn = engine_inputs(config, refsim.network_inputs(config, seed)[0])[2]
            blocks = numba_engine.partition(conn, threads)[0].size - 1
            row[threads] = dict(digest=r.digest(), blocks=int(blocks), n_spikes=r.n_spikes,
                                traces=sha(r))
        oracle = refsim.simulate(config, seed, progress=False, engine="numpy", record=[0, 3999],
                                 record_vars=("V", "g_e"))
        row["oracle"] = dict(digest=oracle.digest(), n_spikes=oracle.n_spikes, traces=sha(oracle))
        out["cases"][name] = row
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_one_two_and_three_threads_give_the_oracles_bits_in_a_child_with_numba_num_threads_3():
    """In a process with NUMBA_NUM_THREADS=3, both schedules (BrainPy's, float32 XLA and
    float64; Brette's, float64 and float32 exponential Euler) with 1, 2 and 3 threads give the
    oracle's raster, final state and traces, and the committed golden digests where there are
    any. The runs are active (thousands of spikes), 2 and 3 threads split the 4000 neurons into
    2 and 3 blocks (so spikes cross blocks)."""
    cases = {
        "tutorial 200 ms s3": ("tutorial", {"duration": 200.0}, 3),
        "tutorial-normalized 200 ms s3": ("tutorial-normalized", {"duration": 200.0}, 3),
        "brette 200 ms s1": ("brette2007-coba", {"duration": 200.0}, 1),
        "brette exp_euler float32 far expm1 s2": (
            "brette2007-coba", {"duration": 100.0, "integrator": "exp_euler", "dtype": "float32",
                                "g_e0_mean": 150.0, "g_e0_std": 30.0}, 2),
    }
    env = {**os.environ, "NUMBA_NUM_THREADS": "3"}
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    p = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cases)], env=env,
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stderr[-4000:]
    out = json.loads(p.stdout.splitlines()[-1])
    assert out["pool"] == 3
    for name, row in out["cases"].items():
        oracle = row["oracle"]
        assert oracle["n_spikes"] > 1000, name  # an active network, not a silent one
        for threads in ("1", "2", "3"):
            assert row[threads]["digest"] == oracle["digest"], (name, threads)
            assert row[threads]["traces"] == oracle["traces"], (name, threads)
        assert (row["2"]["blocks"], row["3"]["blocks"]) == (2, 3), name
        if name in GOLDEN:
            assert oracle["digest"] == {"raster": GOLDEN[name]["raster"],
                                        "state": GOLDEN[name]["state"]}, name


@pytest.mark.parametrize("preset, counts", [("tutorial-normalized", "unit"), ("brette2007-coba", "unit"),
                                            ("brette2007-coba", "doubled")])
def test_two_threads_in_this_process_give_the_oracles_bits(preset, counts):
    """The same in this process where the pool allows two threads (skipped on one core): 2003
    neurons (not a multiple of 8: the last block's flags end inside a word), BrainPy's and
    Brette's orders, with one synapse per entry or two (the blocks' copies of the counts),
    recording the neurons at the block boundary (1023, 1024) and the last one."""
    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba's pool has one thread here (see the subprocess test)")
    config = refsim.get_preset(preset, n_exc=1603, n_inh=400, duration=100.0,
                               **({"w_e": 0.3, "w_i": 4.0} if counts == "doubled" else {}))
    connectivity, _ = refsim.network_inputs(config, 5)
    if counts == "doubled":
        connectivity = refsim.Connectivity(connectivity.matrix * 2.0, config.n_exc)
        assert not connectivity.unit_counts
    runs = [refsim.simulate(config, 5, engine=engine, threads=threads, progress=False,
                            connectivity=connectivity, record=[0, 1023, 1024, 2002])
            for engine, threads in (("numpy", 1), ("numba", 2))]
    assert runs[0].n_spikes > 1000
    assert runs[0].digest() == runs[1].digest()
    for name in ("V", "g_e", "g_i"):
        assert np.array_equal(runs[0].traces[name], runs[1].traces[name])
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS  # restored after the run


def test_the_partition_of_a_tiny_network_by_hand():
    """Rows 0 -> (1023, 0, 600, 0) and 1 -> (2,), N = 1024, two blocks of 512: block 0 holds
    row 0's entries 0, 0 and row 1's 2; block 1 row 0's 1023, 600, each in stored order, with
    the counts along."""
    indptr = np.r_[0, 4, np.full(1023, 5)].astype(np.int32)
    indices = np.array([1023, 0, 600, 0, 2], np.int32)
    counts = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    bounds, b_indptr, b_indices, b_counts = numba_engine.partition((indptr, indices, counts), 2)
    assert bounds.tolist() == [0, 512, 1024]
    assert b_indices.tolist() == [0, 0, 2, 1023, 600]
    assert b_counts.tolist() == [2.0, 4.0, 5.0, 1.0, 3.0]
    assert b_indptr[:, :3].tolist() == [[0, 2, 3], [3, 5, 5]]
    assert b_indptr[:, -1].tolist() == [3, 5]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3000), blocks=st.integers(1, 5), degree=st.integers(0, 6),
       seed=st.integers(0, 2**32 - 1))
def test_every_entry_is_in_its_targets_block_in_stored_order(n, blocks, degree, seed):
    """For random CSR matrices with repeated targets: each block's copy holds, row by row,
    exactly the row's entries onto the block's neurons, in stored order, and nothing else
    (so each x[j] receives the oracle's additions in the oracle's order)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, degree + 1, n)
    indptr = np.r_[0, np.cumsum(sizes)].astype(np.int32)
    indices = rng.integers(0, n, indptr[-1]).astype(np.int32)
    bounds, b_indptr, b_indices, _ = numba_engine.partition((indptr, indices, np.zeros(0)), blocks)
    assert bounds[0] == 0 and bounds[-1] == n and np.all(np.diff(bounds) > 0)
    assert np.all(bounds[:-1] % 8 == 0)  # each block's flags start a 64-bit word
    assert b_indptr.shape == (bounds.size - 1, n + 1) and b_indptr[-1, -1] == indices.size
    for b in range(bounds.size - 1):
        for i in rng.choice(n, min(n, 20), replace=False):
            row = indices[indptr[i]:indptr[i + 1]]
            mine = row[(row >= bounds[b]) & (row < bounds[b + 1])]
            assert b_indices[b_indptr[b, i]:b_indptr[b, i + 1]].tolist() == mine.tolist()


def test_the_partition_is_made_once_per_run_and_costs_no_extra_step(monkeypatch):
    """A 3-chunk run with two threads partitions its connectivity once (the chunks reuse it)."""
    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba's pool has one thread here")
    calls = []
    original = numba_engine.partition
    monkeypatch.setattr(numba_engine, "partition", lambda *a: calls.append(1) or original(*a))
    config = refsim.get_preset("brette2007-coba", n_exc=800, n_inh=200, duration=150.0)
    r = refsim.simulate(config, 0, threads=2, progress=False)
    assert r.steps_done == 1500 and len(calls) == 1


@pytest.mark.parametrize("threads, engine_name, message", [
    (0, "numba", "threads = 0: allowed an int >= 1"),
    (True, "numba", "threads = True: allowed an int >= 1"),
    (1.5, "numba", "threads = 1.5: allowed an int >= 1"),
    (2, "numpy", "threads = 2: allowed 1 for engine 'numpy' (threads are the numba engine's)"),
    (10**6, "numba", "threads = 1000000: allowed 1 .. "),
])
def test_bad_thread_counts_are_refused_before_any_work(threads, engine_name, message):
    with pytest.raises(ConfigError) as e:
        refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2), 0, engine=engine_name,
                        threads=threads, progress=False)
    assert str(e.value).startswith(message)
    assert check_threads(1, engine_name) == 1


def test_unit_counts_store_no_per_entry_array_and_give_the_same_bits():
    """The built-in rules' networks store no counts (one synapse per entry); the engines then
    add the weight itself (w * 1 is w): the same raster as with an explicit array of ones."""
    config = refsim.get_preset("tutorial", n_exc=400, n_inh=100, duration=100.0)
    connectivity, state = draw_network(config, 0)
    assert connectivity.unit_counts and engine_inputs(config, connectivity)[2][2].size == 0
    doubled = refsim.Connectivity(connectivity.matrix * 1.0, config.n_exc)
    assert doubled.unit_counts  # made from a matrix of ones: detected as unit counts too
    explicit = refsim.Connectivity(connectivity.matrix, config.n_exc)
    explicit._counts = np.ones(connectivity.indices.size)  # force the per-entry path
    a = refsim.simulate(config, 0, connectivity=connectivity, progress=False)
    for engine in ("numba", "numpy"):
        b = refsim.simulate(config, 0, connectivity=explicit, engine=engine, progress=False)
        assert a.n_spikes > 100 and a.digest() == b.digest()


def test_the_partition_does_not_outlive_its_network():
    """The partition (as large as the connectivity) is kept while the run's connectivity lives
    and dropped when it is freed: a finished run holds no copy of its network."""
    import gc

    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba's pool has one thread here")
    config = refsim.get_preset("brette2007-coba", n_exc=800, n_inh=200, duration=20.0)
    refsim.simulate(config, 0, threads=2, progress=False)
    gc.collect()
    assert numba_engine._partitions == {}
    connectivity, _ = refsim.network_inputs(config, 0)
    refsim.simulate(config, 0, connectivity=connectivity, threads=2, progress=False)
    assert numba_engine._partitions["part"][2].size == connectivity.indices.size
    del connectivity
    gc.collect()
    assert numba_engine._partitions == {}


def test_the_run_command_takes_threads_and_a_scaled_size(tmp_path, capsys):
    """`refsim run --neurons 5000 --threads 2` runs the preset at 5000 neurons with out-degree
    80 (refsim.scaled_preset) on two threads, and saves the spikes of the one-thread run;
    --threads 0 is bad input (exit 2, before --out exists)."""
    import numba

    from refsim import cli
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba's pool has one thread here")
    runs = []
    for threads in ("1", "2"):
        out = tmp_path / f"t{threads}"
        assert cli.main(["run", "--preset", "brette2007-coba", "--neurons", "5000", "--threads",
                         threads, "--duration", "50", "--no-progress", "--out", str(out)]) == 0
        runs.append(refsim.SimulationResult.load(out / "spikes.npz"))
    header = capsys.readouterr().out.splitlines()[-4]
    assert header.startswith("refsim run --preset brette2007-coba: 5000 neurons, 500 steps")
    assert header.endswith("engine numba, 2 threads)")
    assert runs[0].config == refsim.scaled_preset("brette2007-coba", 5000, duration=50.0)
    assert runs[0].n_spikes > 1000 and runs[0].digest() == runs[1].digest()
    assert cli.main(["run", "--threads", "0", "--out", str(tmp_path / "bad")]) == 2
    assert "threads = 0: allowed an int >= 1" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
