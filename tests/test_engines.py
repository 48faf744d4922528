"""The Numba engine against the NumPy oracle: the same bits, not merely close numbers.

Reference values come from the NumPy engine itself (``engine="numpy"``); every comparison is
exact (``np.array_equal`` on spikes, traces and final state), as the tolerance table in the
README promises for engines that perform the same IEEE operations in the same order.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

import refsim
from refsim import elementary
from refsim.engines import ENGINES, get_engine
from refsim.engines import numba_primitives as primitives
from refsim.params import ConfigError


def assert_same_run(a, b):
    np.testing.assert_array_equal(a.spike_steps, b.spike_steps)
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    assert a.steps_done == b.steps_done
    for name in ("V", "g_e", "g_i", "t_last"):
        assert a.final_state[name].dtype == b.final_state[name].dtype
        # bit equality, NaN-safe: compare the raw bytes
        assert a.final_state[name].tobytes() == b.final_state[name].tobytes(), name
    for name in a.traces:
        assert a.traces[name].tobytes() == b.traces[name].tobytes(), name


# Every switch of the model, drawn independently; drive and weights large enough that neurons
# spike and interact, conductances large enough that some neurons take expm1's general path.
networks = st.fixed_dictionaries({
    "preset": st.sampled_from(refsim.preset_names()),
    "n_exc": st.integers(1, 40), "n_inh": st.integers(1, 12),
    "p_conn": st.floats(0.05, 0.6),
    "RI_ext": st.floats(12.0, 40.0), "R_g": st.sampled_from([1e-3, 0.1, 1.0]),
    "w_e": st.floats(0.0, 20.0), "w_i": st.floats(0.0, 60.0),
    "schedule": st.sampled_from(["brainpy", "brette"]),
    "integrator": st.sampled_from(["exp_euler", "euler"]),
    "reset": st.sampled_from(["soft", "hard"]),
    "threshold_test": st.sampled_from([">=", ">"]),
    "dtype": st.sampled_from(["float32", "float64"]),
    "arithmetic": st.sampled_from(["ieee", "fused-update", "xla"]),
    "expm1": st.sampled_from(["portable", "xla", "libm"]),
    "tau_ref": st.sampled_from([0.0, 0.3, 5.0]),
    "dt": st.sampled_from([0.05, 0.1, 0.25]),
})


def make(d):
    """The Config of a drawn dict; XLA's float32 forms fall back to the float64 defaults."""
    d = dict(d)
    if d["dtype"] == "float64":
        d["arithmetic"] = "ieee"
        d["expm1"] = "portable" if d["expm1"] == "xla" else d["expm1"]
    return refsim.get_preset(d.pop("preset"), duration=round(d["dt"] * 200, 9), **d)


@given(networks, st.integers(0, 2**31 - 1))
def test_numba_matches_numpy_bit_for_bit_on_random_networks(d, seed):
    """Property: for every combination of schedule, integrator, reset, threshold test, dtype,
    arithmetic and expm1, the Numba engine reproduces the oracle's spikes, traces and final
    state. Silent networks prove nothing and are discarded (assume)."""
    cfg = make(d)
    record = [0, cfg.n_neurons - 1]
    a, b = (refsim.simulate(cfg, seed, engine=e, record=record, progress=False)
            for e in ("numba", "numpy"))
    assume(b.n_spikes >= cfg.n_neurons)
    for field in ("schedule", "integrator", "dtype", "arithmetic", "expm1"):
        event(f"{field}={getattr(cfg, field)}")  # the mix, with --hypothesis-show-statistics
    assert_same_run(a, b)


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
    a, b = (refsim.simulate(cfg, 8, engine=e, initial=init, record=rec, progress=False)
            for e in ("numba", "numpy"))
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
    a, b = (refsim.simulate(cfg, 4, engine=e, initial=init, record=rec, progress=False)
            for e in ("numba", "numpy"))
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
    a, b = (refsim.simulate(cfg, 0, engine=e, progress=False) for e in ("numba", "numpy"))
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
    # and the emulation is not a plain float32 evaluation on these inputs
    assert np.count_nonzero(out != a * b + c) > 1000
    assert out[0] == np.float32(1 + 2**-11 + 2**-23) and out[1] == np.float32(1 + 2**-11)


def test_engine_choice_is_validated():
    assert ENGINES == ("numba", "numpy", "cuda")
    with pytest.raises(ConfigError, match=r"engine = 'jax': allowed one of numba, numpy, cuda"):
        get_engine("jax")
    assert refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=1.0),
                           progress=False).engine == "numba"


def test_spike_buffers_grow_inside_a_chunk():
    """Every neuron spikes at every step (tau_ref = 0, huge drive): the compiled loop's buffers
    start far too small and must grow; the raster is still the oracle's, N spikes per step."""
    cfg = refsim.get_preset("brette2007-coba", n_exc=30, n_inh=10, duration=20.0, tau_ref=0.0,
                            RI_ext=1e4, w_e=0.0, w_i=0.0)  # dV = +50 mV per step from V_reset
    a, b = (refsim.simulate(cfg, 1, engine=e, progress=False, stop_on_runaway=False) for e in ("numba", "numpy"))
    assert a.n_spikes == cfg.n_steps * cfg.n_neurons
    assert_same_run(a, b)


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
        "assert refsim.__file__.startswith(%r)\n"
        "refsim.simulate(refsim.get_preset('tutorial-normalized', n_exc=40, n_inh=10,"
        " duration=5.0), 0, progress=False)\n"
        "s = ne._run.stats\n"
        "print(json.dumps([sum(s.cache_hits.values()), sum(s.cache_misses.values())]))\n"
        % str(tmp_path))
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


@pytest.mark.parametrize("integrator", ["euler", "exp_euler"])
def test_negative_zero_conductances_in_brettes_order(integrator):
    """The Numba engine adds Brette's step 4 (g + x) in the next step's pass, so a given
    initial g of -0.0 enters as +0.0; the sign of a zero conductance cancels in every formula,
    so the raster, traces and final state are still the oracle's (here with -0.0 everywhere)."""
    cfg = refsim.get_preset("brette2007-coba", n_exc=80, n_inh=20, duration=50.0, RI_ext=25.0,
                            integrator=integrator)
    init = {"g_e": np.full(cfg.n_neurons, -0.0), "g_i": np.full(cfg.n_neurons, -0.0)}
    a, b = (refsim.simulate(cfg, 2, engine=e, initial=init, record=[0, 5, 99], progress=False)
            for e in ("numba", "numpy"))
    assert b.n_spikes > 100
    assert_same_run(a, b)
