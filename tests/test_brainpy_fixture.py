"""The ``tutorial`` preset reproduces BrainPy 2.9 itself.

Reference: tests/data/brainpy29_tutorial_seed0.npz, exported by
validation/brainpy/export_fixture.py (brainpy 2.9.0, brainstate 0.6.0, jax 0.12.0.1, Python
3.12; see validation/brainpy/README.md): BrainPy's V0 (JAX RNG), its spikes of the first 3000
steps, its per-neuron spike counts over the full 1 s, and hashes of its connectivity.
"""
import hashlib
from pathlib import Path

import numpy as np
import pytest

import refsim

FIXTURE = Path(__file__).parent / "data" / "brainpy29_tutorial_seed0.npz"


@pytest.fixture(scope="module")
def bp():
    with np.load(FIXTURE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_connectivity_rebuilt_from_seed_has_brainpy_hashes(bp):
    conn = refsim.build_connectivity(refsim.get_preset("tutorial"), int(bp["seed"]))
    te = conn.indices[:3200 * 80].astype(np.int64).reshape(3200, 80)
    ti = conn.indices[3200 * 80:].astype(np.int64).reshape(800, 80)
    assert hashlib.sha256(te.tobytes()).hexdigest() == str(bp["conn_sha256_e"])
    assert hashlib.sha256(ti.tobytes()).hexdigest() == str(bp["conn_sha256_i"])


@pytest.mark.brainpy
def test_tutorial_float32_raster_equals_brainpy_spike_for_spike(bp):
    n = int(bp["n_steps_stored"])  # 3000 steps = 300 ms
    cfg = refsim.get_preset("tutorial", duration=n * 0.1)
    r = refsim.simulate(cfg, seed=int(bp["seed"]), initial={"V": bp["V0"]}, progress=False)
    assert r.n_spikes == bp["spike_steps"].size
    np.testing.assert_array_equal(r.spike_steps, bp["spike_steps"])
    np.testing.assert_array_equal(r.spike_neurons, bp["spike_neurons"])


@pytest.mark.slow
def test_tutorial_full_second_spike_counts_equal_brainpy(bp):
    r = refsim.simulate(refsim.get_preset("tutorial"), seed=int(bp["seed"]),
                        initial={"V": bp["V0"]}, progress=False)
    np.testing.assert_array_equal(r.spike_counts(), bp["spike_count_per_neuron"])
    assert r.n_spikes == int(bp["n_spikes_total"])
