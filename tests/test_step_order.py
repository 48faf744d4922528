"""A spike recorded at step k reaches its targets at step k+1 (brainpy) or k (brette)."""
import numpy as np
import scipy.sparse as sp

import refsim


def two_neurons(schedule):
    cfg = refsim.get_preset("tutorial-normalized", n_exc=2, n_inh=0, duration=30.0,
                            schedule=schedule, V0_std=0.0, V0_mean=-60.0)
    conn = refsim.from_sparse(sp.csr_matrix(np.array([[0, 1], [0, 0]])), n_exc=2)
    # neuron 0 driven to fire, neuron 1 silent without input
    return cfg, conn


def first_input_step(schedule):
    cfg, conn = two_neurons(schedule)
    cfg = cfg.replace(RI_ext=0.0)
    V0 = np.array([-45.0, -60.0])  # neuron 0 above threshold at t = 0
    r = refsim.simulate(cfg, seed=0, connectivity=conn, initial={"V": V0}, record=[1],
                        progress=False)
    g = r.traces["g_e"][:, 0]
    return r, int(np.flatnonzero(g > 0)[0])


def test_brainpy_schedule_spike_acts_one_step_later():
    cfg, conn = two_neurons("brainpy")
    cfg = cfg.replace(RI_ext=30.0)
    r = refsim.simulate(cfg, seed=0, connectivity=conn, initial={"V": np.array([-60.0, -60.0])},
                        record=[1], progress=False)
    k = int(r.spike_steps[r.spike_neurons == 0][0])
    g = r.traces["g_e"][:, 0]
    assert g[k] == 0.0 or np.isclose(g[k], g[k - 1] * np.exp(-0.1 / 5.0))
    assert np.isclose(g[k + 1], g[k] * np.exp(-0.1 / 5.0) + 0.6, rtol=1e-12)


def test_brette_schedule_spike_acts_in_the_same_step():
    cfg, conn = two_neurons("brette")
    cfg = cfg.replace(RI_ext=30.0, threshold_test=">", reset="hard")
    r = refsim.simulate(cfg, seed=0, connectivity=conn, initial={"V": np.array([-60.0, -60.0])},
                        record=[1], progress=False)
    k = int(r.spike_steps[r.spike_neurons == 0][0])
    g = r.traces["g_e"][:, 0]
    assert g[k - 1] == 0.0
    assert g[k] == 0.6
