"""Results: save/load round trip, dense matrix, interruption keeps the partial spikes."""
import numpy as np
import pytest

import refsim
from refsim import ConfigError
from refsim.engines import numpy_engine
from refsim.testing import tolerance


def small(**kw):
    return refsim.get_preset("tutorial", n_exc=160, n_inh=40, duration=50.0, **kw)


def test_save_load_round_trip_is_exact(tmp_path):
    r = refsim.simulate(small(), seed=3, record=[0, 5], progress=False)
    r.save(tmp_path / "r.npz")
    back = refsim.SimulationResult.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.spike_steps, r.spike_steps)
    np.testing.assert_array_equal(back.spike_neurons, r.spike_neurons)
    np.testing.assert_array_equal(back.traces["V"], r.traces["V"])
    np.testing.assert_array_equal(back.final_state["V"], r.final_state["V"])
    assert back.config == r.config and back.seed == 3 and back.versions == r.versions


def test_dense_matrix_has_one_true_per_spike():
    r = refsim.simulate(small(), seed=1, progress=False)
    d = r.dense()
    assert d.shape == (500, 200) and d.sum() == r.n_spikes
    assert np.array_equal(np.argwhere(d), np.c_[r.spike_steps, r.spike_neurons])


def test_keyboard_interrupt_keeps_partial_spikes(monkeypatch):
    """Interrupt at step 120: the first 120 steps' spikes equal an uninterrupted run's."""
    full = refsim.simulate(small(), seed=2, engine="numpy", progress=False)
    original = numpy_engine.step_brainpy
    calls = {"n": 0}

    def interrupting(*args):
        if calls["n"] == 120:
            raise KeyboardInterrupt
        calls["n"] += 1
        return original(*args)

    monkeypatch.setattr(numpy_engine, "step_brainpy", interrupting)
    part = refsim.simulate(small(), seed=2, engine="numpy", progress=False)
    assert not part.complete and part.steps_done == 120 and "120" in part.message
    keep = full.spike_steps < 120
    np.testing.assert_array_equal(part.spike_steps, full.spike_steps[keep])
    np.testing.assert_array_equal(part.spike_neurons, full.spike_neurons[keep])


def test_initial_state_file_is_used_and_checked(tmp_path):
    cfg = small()
    V = np.full(200, -45.0)  # everyone above threshold at t = 0
    np.savez(tmp_path / "s.npz", V=V)
    r = refsim.simulate(cfg, seed=0, initial=refsim.load_initial_state(tmp_path / "s.npz"),
                        record=[0], progress=False)
    # all spike at step 0 (not recorded), are soft-reset to -55 mV and receive input: one
    # step of 0.1 ms from there (``one-step-V``)
    assert abs(r.traces["V"][0, 0] - -55.0) < tolerance("one-step-V")
    np.savez(tmp_path / "bad.npz", V=np.zeros(3))
    with pytest.raises(ConfigError, match=r"initial state V shape = \(3,\): allowed \(200,\)"):
        refsim.simulate(cfg, initial=refsim.load_initial_state(tmp_path / "bad.npz"), progress=False)
