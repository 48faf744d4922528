"""A spike recorded at step k reaches its targets at step k+1 (brainpy) or k (brette).

Reference values: the step order of docs/model.md (refsim.model's docstring). Neuron 0
projects one excitatory synapse (w_e = 0.6) onto neuron 1, whose conductance starts at
exactly 0 (tutorial-normalized: g0 = 0, no other input), so g_e of neuron 1 is exactly 0
until the spike arrives, exactly w_e in the step it arrives (0 decays to 0, plus the jump),
and then decays by exponential Euler's factor (``conductance-decay``).
"""
import math

import numpy as np
import scipy.sparse as sp

import refsim
from refsim.testing import tolerance

W_E, TAU_E, DT = 0.6, 5.0, 0.1


def two_neurons(schedule, **kw):
    cfg = refsim.get_preset("tutorial-normalized", n_exc=2, n_inh=0, duration=30.0,
                            schedule=schedule, V0_std=0.0, V0_mean=-60.0, **kw)
    assert (cfg.w_e, cfg.tau_e, cfg.dt, cfg.g_e0_mean, cfg.g_e0_std) == (W_E, TAU_E, DT, 0, 0)
    conn = refsim.from_sparse(sp.csr_matrix(np.array([[0, 1], [0, 0]])), n_exc=2)
    return cfg, conn


def neuron_1_conductance(schedule, V0, **kw):
    """Neuron 0's first spike step and neuron 1's g_e after every step."""
    cfg, conn = two_neurons(schedule, **kw)
    r = refsim.simulate(cfg, seed=0, connectivity=conn, initial={"V": V0}, record=[1],
                        progress=False)
    spikes_0 = r.spike_steps[r.spike_neurons == 0]
    return (int(spikes_0[0]) if spikes_0.size else None), r.traces["g_e"][:, 0]


def assert_arrives_at(g, k):
    """g is exactly 0 before step k, exactly w_e at step k, then decays by exp(-dt/tau_e)."""
    assert np.all(g[:k] == 0.0), np.flatnonzero(g[:k])
    assert g[k] == W_E
    decay = math.exp(-DT / TAU_E)
    assert abs(g[k + 1] - W_E * decay) <= tolerance("conductance-decay") * W_E


def test_brainpy_schedule_spike_acts_one_step_later():
    """Neuron 0 driven to fire (RI = 30 mV) from V0 = -60 mV: its first spike, recorded at
    step k, enters neuron 1's g_e at step k + 1 (spikes act one step later)."""
    k, g = neuron_1_conductance("brainpy", np.array([-60.0, -60.0]), RI_ext=30.0)
    assert k is not None and k > 0
    assert_arrives_at(g, k + 1)


def test_brette_schedule_spike_acts_in_the_same_step():
    """The same in Brette's order (hard reset, V > V_th): the spike of step k enters neuron 1's
    g_e in step k itself."""
    k, g = neuron_1_conductance("brette", np.array([-60.0, -60.0]), RI_ext=30.0,
                                threshold_test=">", reset="hard")
    assert k is not None and k > 0
    assert_arrives_at(g, k)


def test_an_initial_V_above_threshold_acts_at_step_0_in_both_schedules():
    """V0 = -45 mV >= V_th for neuron 0, no drive: brainpy treats V0 as the spikes of step -1
    (delivered at step 0, not recorded); brette integrates V0 first (-45.075 mV, still above
    threshold), records the spike at step 0 and delivers it in that step. Either way neuron
    1's g_e is w_e after step 0."""
    V0 = np.array([-45.0, -60.0])
    k, g = neuron_1_conductance("brainpy", V0, RI_ext=0.0)
    assert k is None  # the step -1 spike is not recorded, and V then decays below threshold
    assert_arrives_at(g, 0)
    k, g = neuron_1_conductance("brette", V0, RI_ext=0.0)
    assert k == 0
    assert_arrives_at(g, 0)
