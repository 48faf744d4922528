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
from hypothesis import given
from hypothesis import strategies as st

import refsim
from refsim.engines import ENGINES, get_engine, numba_engine
from refsim.model import fma_f32
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


# Every switch of the model, drawn independently; weights large enough that neurons interact.
networks = st.fixed_dictionaries({
    "preset": st.sampled_from(refsim.preset_names()),
    "n_exc": st.integers(1, 40), "n_inh": st.integers(1, 12),
    "p_conn": st.floats(0.05, 0.6),
    "RI_ext": st.floats(0.0, 40.0), "R_g": st.sampled_from([1e-3, 0.1, 1.0]),
    "w_e": st.floats(0.0, 20.0), "w_i": st.floats(0.0, 60.0),
    "schedule": st.sampled_from(["brainpy", "brette"]),
    "integrator": st.sampled_from(["exp_euler", "euler"]),
    "reset": st.sampled_from(["soft", "hard"]),
    "threshold_test": st.sampled_from([">=", ">"]),
    "dtype": st.sampled_from(["float32", "float64"]),
    "fused": st.booleans(),
    "tau_ref": st.sampled_from([0.0, 0.3, 5.0]),
    "dt": st.sampled_from([0.05, 0.1, 0.25]),
})


def make(d):
    d = dict(d)
    fused = d.pop("fused") and d["dtype"] == "float32"
    return refsim.get_preset(d.pop("preset"), duration=round(d["dt"] * 200, 9), fused_update=fused, **d)


@given(networks, st.integers(0, 2**31 - 1))
def test_numba_matches_numpy_bit_for_bit_on_random_networks(d, seed):
    """Property: for every combination of schedule, integrator, reset, threshold test, dtype
    and FMA switch, the Numba engine reproduces the oracle's spikes, traces and final state."""
    cfg = make(d)
    record = [0, cfg.n_neurons - 1]
    a, b = (refsim.simulate(cfg, seed, engine=e, record=record, progress=False)
            for e in ("numba", "numpy"))
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


def test_hardware_fma_equals_the_emulated_fma():
    """fma_f32 in the Numba engine (llvm.fma) and in the NumPy oracle (float64 round-to-odd)
    are both the correctly rounded a*b+c; checked on random triples and on exact float32
    rounding ties, where a naive float64 evaluation double-rounds."""
    from numba import njit

    @njit
    def fused(a, b, c, out):
        for i in range(a.size):
            out[i] = numba_engine.fma_f32(a[i], b[i], c[i])

    rng = np.random.default_rng(7)
    a = rng.standard_normal(200_000).astype(np.float32)
    b = rng.standard_normal(200_000).astype(np.float32)
    c = (rng.standard_normal(200_000) * 10.0 ** rng.integers(-8, 2, 200_000)).astype(np.float32)
    # ties: a*b exactly halfway between two float32 with c tiny and of either sign
    a[:4] = np.float32(1 + 2**-12)
    b[:4] = np.float32(1 + 2**-12)  # a*b = 1 + 2^-11 + 2^-24: a tie in float32
    c[:4] = np.float32([2**-60, -(2**-60), 0.0, 2**-50])
    out = np.empty_like(a)
    fused(a, b, c, out)
    np.testing.assert_array_equal(out, fma_f32(a, b, c))
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


def test_numpy_expm1_is_the_libm_expm1_the_numba_engine_calls():
    """The premise of bit equality in exponential Euler: NumPy's expm1 is the C library's (the
    function Numba's compiled code calls, and Python's math.expm1). NumPy builds that dispatch
    expm1 to SIMD code (SVML on AVX-512 CPUs) break this premise; then this test names the
    cause before the engine comparisons fail. Checked on the arguments exponential Euler sees,
    dt * J in [-0.5, 0], in float64 and float32."""
    import math

    from numba import njit

    @njit
    def libm(x, out):
        for i in range(x.size):
            out[i] = math.expm1(x[i])

    for dtype in (np.float64, np.float32):
        z = -np.linspace(0.0, 0.5, 100_001).astype(dtype)
        out = np.empty_like(z)
        libm(z, out)
        mismatches = np.count_nonzero(out != np.expm1(z))
        assert mismatches == 0, f"{mismatches} of {z.size} {dtype.__name__} expm1 values differ"
    assert np.expm1(np.float64(-0.01)) == math.expm1(-0.01)
