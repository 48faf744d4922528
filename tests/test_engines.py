"""The compiled engines (Numba, and the CUDA kernels) against the NumPy oracle: the same bits,
not merely close numbers.

Reference values come from the NumPy engine itself (``engine="numpy"``) run on the same
configuration, seed and arguments; every comparison is exact (:func:`refsim.testing.
assert_same_run`: spikes, traces and final state byte for byte), as the tolerance table
promises (``numba-vs-numpy``, ``cuda-vs-numpy``: 0). The ``engine`` fixture (tests/conftest.py)
runs each comparison for the engines it names; ``cuda`` runs the kernels in Numba's CUDA
simulator (about 1000x slower than Numba, so its cases are small) or, with REFSIM_REAL_GPU=1,
on the device.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, event, given, settings

import refsim
from refsim import elementary
from refsim.engines import (
    ENGINES,
    get_engine,
    numba_primitives,  # noqa: F401  (registers refsim.elementary with Numba)
)
from refsim.params import ConfigError
from refsim.testing import assert_same_run
from refsim.testing.strategies import SWITCHES, networks

REAL_GPU = os.environ.get("REFSIM_REAL_GPU") == "1"


def run_pair(cfg, seed, engine, **kw):
    """The run of ``engine`` and the oracle's run (numpy) of the same arguments."""
    return tuple(refsim.simulate(cfg, seed, engine=e, progress=False, **kw)
                 for e in (engine, "numpy"))


def spikes_with_synaptic_input(cfg, seed, result):
    """How many of the run's spikes reach a target with a nonzero weight: the spikes the
    scatter adds to conductances (the network is the one ``seed`` draws)."""
    conn, _ = refsim.network_inputs(cfg, seed)
    weight = np.where(np.arange(cfg.n_neurons) < cfg.n_exc, cfg.w_e, cfg.w_i)
    reaches = (conn.out_degree() > 0) & (weight > 0)
    return int(reaches[result.spike_neurons].sum())


#: Per compared engine: examples and the sizes of the drawn networks. The CUDA simulator runs
#: every thread as Python (~10-40 ms per step at these sizes): fewer, shorter runs there, and
#: refractory periods of at most 2 ms (the active strategy lengthens a run to 3 tau_ref + 8 ms).
PROPERTY_RUNS = {
    "numba": dict(max_examples=25, sizes={}),
    "cuda": dict(max_examples=6, sizes=dict(n_exc=(1, 24), n_inh=(1, 8), steps=(40, 100),
                                            dts=(0.1, 0.25), tau_refs=(0.0, 0.3, 2.0),
                                            # the device's expm1 of 'libm' is libdevice's
                                            **({"expm1": "portable"} if REAL_GPU else {}))),
}
#: Fewest spikes of an example that counts, and the share of examples whose spikes reach
#: targets more than N times (the scatter's input), that the property demands.
MIN_SPIKES, SCATTER_SHARE = 5, 0.8


@pytest.mark.engines("numba", "cuda")
def test_compiled_engines_match_numpy_bit_for_bit_on_random_active_networks(engine):
    """Property: for every combination of the model's switches (preset, schedule, integrator,
    reset, threshold test, float type, arithmetic, expm1, refractory period, dt, sizes,
    connectivity rule and generator; :func:`refsim.testing.strategies.configs`), the compiled
    engine reproduces the oracle's spikes, traces and final state bit for bit.

    The networks are drawn active (``networks(active=True)``: driven above threshold, started
    near it, weights never zero, inhibition bounded), and the property shows that they are:
    an example counts only with at least max(5, N) spikes (``assume``: silent networks prove
    nothing); at most 10 % of the drawn examples may fall short, and in at least 80 % of them
    the spikes reach targets with nonzero weight more than N times, so the scatter, the
    conductance jumps and the resets are exercised, not only the free membrane equation."""
    runs = []
    plan = PROPERTY_RUNS[engine]

    @settings(max_examples=plan["max_examples"])
    @given(networks(active=True, **plan["sizes"]))
    def prop(network):
        cfg, seed = network
        a, b = run_pair(cfg, seed, engine, record=[0, cfg.n_neurons - 1])
        through_synapses = spikes_with_synaptic_input(cfg, seed, b)
        runs.append((b.n_spikes, through_synapses, cfg.n_neurons))
        assume(b.n_spikes >= max(MIN_SPIKES, cfg.n_neurons))
        for field in SWITCHES:
            event(f"{field}={getattr(cfg, field)}")  # the mix, with --hypothesis-show-statistics
        event(f"stop: {b.stop_reason or 'complete'}")
        event(f"spikes reaching targets > N: {through_synapses > cfg.n_neurons}")
        assert_same_run(a, b)

    prop()
    spikes, through, n = np.array(runs).T
    assert len(runs) >= plan["max_examples"]
    assert np.mean(spikes >= np.maximum(MIN_SPIKES, n)) >= 0.9, sorted(spikes)
    assert np.mean(through > n) >= SCATTER_SHARE, sorted(zip(through, n, strict=True))


@pytest.mark.parametrize("schedule", ["brainpy", "brette"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_several_blocks_with_a_partial_one(schedule, dtype):
    """N = 1300 = 2 x 512 + 276 neurons: the block loop's full and partial blocks, with expm1's
    general path in each (g_i = 150 on every third neuron), give the oracle's bits in both
    schedules and float types."""
    from refsim.engines.numba_engine import BLOCK
    cfg = refsim.get_preset("tutorial-normalized", n_exc=1040, n_inh=260, duration=40.0,
                            schedule=schedule, dtype=dtype)
    assert cfg.n_neurons > 2 * BLOCK and cfg.n_neurons % BLOCK
    init = {"g_i": np.where(np.arange(cfg.n_neurons) % 3 == 0, 150.0, 0.0)}
    rec = [0, 511, 512, 1023, 1024, cfg.n_neurons - 1]  # both ends of every block
    a, b = run_pair(cfg, 8, "numba", initial=init, record=rec)
    assert b.n_spikes > 500
    assert_same_run(a, b)


def test_blocks_on_both_paths_of_expm1_agree():
    """The Numba engine takes the k = 0 arm of expm1 for every neuron and recomputes those with
    |dt J| >= 0.5 ln 2 with the whole function; with strong conductances on every other neuron
    every block has both kinds at first, then (as they decay) only small ones. Both engines
    agree bit for bit, and the premise holds: the recorded neurons' |dt J| (computed from the
    oracle's conductances) are on both sides of the limit, and on one side only later."""
    from refsim.elementary import NEAR_LIMIT
    cfg = refsim.get_preset("tutorial-normalized", n_exc=800, n_inh=200, duration=60.0)
    g_i = np.where(np.arange(cfg.n_neurons) % 2 == 0, 150.0, 0.0)
    init = {"g_i": g_i}
    rec = list(range(0, cfg.n_neurons, 97))
    a, b = run_pair(cfg, 4, "numba", initial=init, record=rec)
    z = np.abs(cfg.dt * (1 + b.traces["g_e"] + b.traces["g_i"]) / cfg.tau_m)
    assert (z >= NEAR_LIMIT).any() and (z < NEAR_LIMIT).any()
    assert (z.max(axis=1) < NEAR_LIMIT).any(), "the fast path is taken in later steps"
    assert b.n_spikes > 1000
    assert_same_run(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("preset", refsim.preset_names())
def test_numba_matches_numpy_on_the_full_network(preset):
    """The whole 1 s of every preset at N = 4000, seed 0: identical rasters (tens of thousands
    of spikes, so any difference of one ulp that flips a spike would show)."""
    cfg = refsim.get_preset(preset)
    a, b = run_pair(cfg, 0, "numba")
    assert a.n_spikes > 50_000  # the network is active, so the comparison means something
    assert_same_run(a, b)


def test_compiled_fma_equals_the_numpy_fma():
    """fma32 in the Numba engine (the CPU's FMA instruction where it has one, refsim's own
    round-to-odd algorithm compiled where not) and in the oracle (that algorithm on arrays)
    are the same correctly rounded a*b+c; checked on random triples and float32 rounding ties,
    where a plain float64 evaluation double-rounds."""
    from numba import njit

    @njit
    def fused(a, b, c, out):
        for i in range(a.size):
            out[i] = elementary.fma32(a[i], b[i], c[i])

    rng = np.random.default_rng(7)
    a = rng.standard_normal(200_000).astype(np.float32)
    b = rng.standard_normal(200_000).astype(np.float32)
    c = (rng.standard_normal(200_000) * 10.0 ** rng.integers(-8, 2, 200_000)).astype(np.float32)
    # ties: a*b exactly halfway between two float32 with c tiny and of either sign
    a[:4] = np.float32(1 + 2**-12)
    b[:4] = np.float32(1 + 2**-12)  # a*b = 1 + 2^-11 + 2^-24: a tie in float32
    c[:4] = np.float32([2**-60, -(2**-60), 0.0, 2**-50])
    # and IEEE 754's special cases: infinities, nan, signed zeros, overflow
    a[4:14] = [-np.inf, 1, np.inf, np.inf, 0, -0.0, 3e38, 1, np.nan, -1]
    b[4:14] = [1, 1, 0, 1, 5, 1, 3e38, -0.0, 1, 0]
    c[4:14] = [0, -np.inf, 1, -np.inf, -0.0, -0.0, 0, 0, 0, -0.0]
    out = np.empty_like(a)
    fused(a, b, c, out)
    ref = elementary.fma_f32(a, b, c)
    assert np.array_equal(out.view(np.uint32)[~np.isnan(ref)], ref.view(np.uint32)[~np.isnan(ref)])
    assert np.array_equal(np.isnan(out), np.isnan(ref)) and np.isnan(ref).sum() == 3
    assert np.isneginf(out[4]) and np.isneginf(out[5]) and str(out[9]) == "-0.0"
    # and the emulation is not a plain float32 evaluation on these inputs (which overflows
    # where the exact sum does not)
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.count_nonzero(out != a * b + c) > 1000
    assert out[0] == np.float32(1 + 2**-11 + 2**-23) and out[1] == np.float32(1 + 2**-11)


def test_engine_choice_is_validated():
    assert ENGINES == ("numba", "numpy", "cuda")
    with pytest.raises(ConfigError, match=r"engine = 'jax': allowed one of numba, numpy, cuda"):
        get_engine("jax")
    assert refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=1.0),
                           progress=False).engine == "numba"


@pytest.mark.engines("numba", "cuda")
def test_spike_buffers_grow_inside_a_chunk(engine):
    """Every neuron spikes at every step (tau_ref = 0, huge drive: dV = +50 mV per step from
    V_reset; runaway activity on purpose, its stop switched off), 32 x 150 = 4800 spikes: the
    Numba loop's buffers start far too small and grow inside the compiled loop; the CUDA
    engine's first buffer (1024 spikes) overflows and the chunk is re-run with a larger one.
    The raster is the oracle's, N spikes per step."""
    cfg = refsim.get_preset("brette2007-coba", n_exc=24, n_inh=8, duration=15.0, tau_ref=0.0,
                            RI_ext=1e4, w_e=0.0, w_i=0.0)
    a, b = run_pair(cfg, 1, engine, stop_on_runaway=False)
    assert a.n_spikes == cfg.n_steps * cfg.n_neurons
    assert_same_run(a, b)


@pytest.mark.engines("numba", "cuda")
def test_a_neuron_recorded_twice_gets_two_identical_trace_columns(engine):
    """record=[3, 3, 1]: every engine fills three columns, the first two equal, all equal to
    the oracle's (the CUDA engine traces each distinct neuron once and expands the columns)."""
    cfg = refsim.get_preset("tutorial-normalized", n_exc=16, n_inh=4, duration=5.0)
    a, b = run_pair(cfg, 2, engine, record=[3, 3, 1])
    assert_same_run(a, b)
    assert b.traces["V"].shape == (cfg.n_steps, 3)
    assert np.array_equal(b.traces["V"][:, 0], b.traces["V"][:, 1])
    assert not np.array_equal(b.traces["V"][:, 0], b.traces["V"][:, 2])


@pytest.mark.slow
def test_a_new_process_loads_the_compiled_engine_from_the_cache(tmp_path):
    """Numba's on-disk cache: the first process compiles the kernel (a cache miss), a second
    process with the same cache directory loads it (hits only, no miss)."""
    code = (
        "import json, refsim\n"
        "from refsim.engines import numba_engine as ne\n"
        "refsim.simulate(refsim.get_preset('tutorial-normalized', n_exc=40, n_inh=10,"
        " duration=5.0), 0, progress=False)\n"
        "s = ne._run.stats\n"
        "print(json.dumps([sum(s.cache_hits.values()), sum(s.cache_misses.values())]))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                      capture_output=True, text=True).stdout.splitlines()[-1])
            for _ in range(2)]
    assert runs[0] == [0, 1]   # compiled
    assert runs[1] == [1, 0]   # loaded, not recompiled


@pytest.mark.slow
def test_an_edit_of_a_compiled_source_invalidates_the_cache(tmp_path):
    """Numba's cache checks only the file of a cached function; refsim keys it to every source
    compiled into the engine (numba_primitives.COMPILED_SOURCES). A copy of the package is run
    twice (compiled, then loaded), then once after a comment is added to elementary.py: it
    compiles again instead of loading machine code built from the old source."""
    import shutil
    pkg = tmp_path / "refsim"
    shutil.copytree(os.path.join(os.path.dirname(refsim.__file__)), pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "import json, refsim\n"
        "from refsim.engines import numba_engine as ne\n"
        f"assert refsim.__file__.startswith({str(tmp_path)!r})\n"
        "refsim.simulate(refsim.get_preset('tutorial-normalized', n_exc=40, n_inh=10,"
        " duration=5.0), 0, progress=False)\n"
        "s = ne._run.stats\n"
        "print(json.dumps([sum(s.cache_hits.values()), sum(s.cache_misses.values())]))\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(tmp_path)

    def run():
        p = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, check=True,
                           capture_output=True, text=True)
        return json.loads(p.stdout.splitlines()[-1])
    assert run() == [0, 1]  # compiled into the copy's __pycache__
    assert run() == [1, 0]  # loaded
    with open(pkg / "elementary.py", "a") as fh:
        fh.write("\n# an edit\n")
    assert run() == [0, 1]  # compiled again


@pytest.mark.engines("numba", "cuda")
@pytest.mark.parametrize("integrator", ["euler", "exp_euler"])
def test_negative_zero_conductances_in_brettes_order(integrator, engine):
    """The compiled engines add Brette's step 4 (g + x) in the next step's pass, so a given
    initial g of -0.0 enters as +0.0; the sign of a zero conductance cancels in every formula,
    so the raster, traces and final state are still the oracle's (here with -0.0 everywhere,
    32 neurons for 30 ms, each firing at least once)."""
    cfg = refsim.get_preset("brette2007-coba", n_exc=24, n_inh=8, duration=30.0, RI_ext=25.0,
                            integrator=integrator)
    init = {"g_e": np.full(cfg.n_neurons, -0.0), "g_i": np.full(cfg.n_neurons, -0.0)}
    a, b = run_pair(cfg, 2, engine, initial=init, record=[0, 5, 31])
    assert b.n_spikes >= cfg.n_neurons
    assert_same_run(a, b)


# the preset's initial g_i ~ N(20, 12) silences a 15 ms run; start from weaker conductances
WEAK_G0 = dict(g_e0_mean=1.0, g_e0_std=0.5, g_i0_mean=2.0, g_i0_std=1.0)

# Small (32-neuron) versions of the presets with every switch exercised at least once, and
# enough drive that neurons spike and interact within 150 steps (cheap in the CUDA simulator).
CASES = {
    "tutorial (float32, XLA's arithmetic and expm1)": ("tutorial", dict(R_g=0.5, w_e=4.0, w_i=16.0)),
    "tutorial-normalized (float64)": ("tutorial-normalized", dict(w_e=3.0, w_i=10.0)),
    "brette2007-coba (Euler, hard reset, >)": ("brette2007-coba", dict(RI_ext=40.0, **WEAK_G0)),
    "brette order, exp. Euler, float32": ("brette2007-coba", dict(RI_ext=40.0, integrator="exp_euler",
                                                                  dtype="float32", **WEAK_G0)),
}


@pytest.mark.engines("numba", "cuda")
@pytest.mark.parametrize("case", list(CASES))
def test_small_presets_match_numpy(case, engine):
    """Each preset at N = 32 for 150 steps (for the CUDA kernels: scatter as a gather, step order,
    spike compaction, traces): the oracle's raster, traces and final state exactly, with at
    least 20 spikes (the case is active, so the comparison tests something)."""
    preset, kw = CASES[case]
    cfg = refsim.get_preset(preset, n_exc=24, n_inh=8, p_conn=0.25, duration=15.0, **kw)
    a, b = run_pair(cfg, 3, engine, record=[0, 30])
    assert b.n_spikes >= 20
    assert_same_run(a, b)
