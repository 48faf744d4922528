"""Closed forms for one neuron without synapses (weights zero, N = 1).

Reference values are computed in the tests from the formulas stated in each docstring (and,
for the refractory clamp, from the specification's rule in the run's float type, docs/model.md,
step order, step 6); tolerances are refsim.testing's (``tolerance(key)``, each with its reason).
"""
import math

import numpy as np
import pytest

import refsim
from refsim.testing import tolerance


def one_neuron(preset="tutorial-normalized", **kw):
    base = dict(n_exc=1, n_inh=0, w_e=0.0, w_i=0.0, duration=200.0)
    base.update(kw)
    return refsim.get_preset(preset, **base)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_passive_relaxation_to_V_rest_plus_RI(dtype):
    """Subthreshold drive: V(t) = V_inf + (V0 - V_inf) exp(-t/tau_m), V_inf = V_rest + RI_ext,
    at t = (k + 1) dt after step k (exponential Euler is exact with g = 0), to rounding
    (``closed-form-V`` of the float type), over 2000 steps."""
    cfg = one_neuron(RI_ext=5.0, V0_std=0.0, V0_mean=-60.0, dtype=dtype)
    r = refsim.simulate(cfg, seed=0, record=[0], progress=False)
    t = (np.arange(cfg.n_steps) + 1) * cfg.dt
    expected = -55.0 + (-60.0 + 55.0) * np.exp(-t / 20.0)
    assert np.max(np.abs(r.traces["V"][:, 0] - expected)) < tolerance("closed-form-V", dtype)
    assert r.n_spikes == 0


def test_constant_conductance_steady_state():
    """V_inf = (V_rest + R(I + g_e E_e + g_i E_i)) / (1 + R(g_e + g_i)) with g held constant
    (tau_e, tau_i huge so g does not decay over 200 ms to 1e-9 relative)."""
    g_e, g_i = 0.3, 0.5
    cfg = one_neuron(RI_ext=2.0, g_e0_mean=g_e, g_e0_std=0.0, g_i0_mean=g_i, g_i0_std=0.0,
                     tau_e=1e12, tau_i=1e12, V0_std=0.0, duration=400.0)
    r = refsim.simulate(cfg, seed=0, record=[0], progress=False)
    v_inf = (-60.0 + 2.0 + g_e * 0.0 + g_i * -80.0) / (1 + g_e + g_i)
    assert abs(r.traces["V"][-1, 0] - v_inf) < tolerance("steady-state-V")


def test_conductance_decays_exactly_exponentially():
    """g(t) = g0 exp(-t/tau_e) to float64 rounding (exp_euler is exact for dg/dt = -g/tau)."""
    cfg = one_neuron(g_e0_mean=2.0, g_e0_std=0.0)
    r = refsim.simulate(cfg, seed=0, record=[0], progress=False)
    t = (np.arange(cfg.n_steps) + 1) * cfg.dt
    np.testing.assert_allclose(r.traces["g_e"][:, 0], 2.0 * np.exp(-t / 5.0),
                               rtol=tolerance("conductance-decay"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_first_spike_time_from_reset(dtype):
    """From V0 = V_reset = -60 mV under V_inf = -40 mV, V(t) = V_inf + (V0 - V_inf)
    exp(-t/tau_m) reaches V_th at t* = tau_m ln((V_inf - V_reset)/(V_inf - V_th)) = 20 ln 2
    = 13.86 ms. Exponential Euler with g = 0 is exact at the grid times, and step k's spike
    test sees V after k + 1 updates, at t = (k + 1) dt: the first spike is at the first step
    whose end is past t*, k = ceil(t*/dt) - 1 = 138 (t* is 0.37 steps from a grid point, far
    from a rounding tie)."""
    cfg = one_neuron(RI_ext=20.0, V0_mean=-60.0, V0_std=0.0, dtype=dtype, arithmetic="ieee",
                     expm1="portable")
    r = refsim.simulate(cfg, seed=0, progress=False)
    t_star = cfg.tau_m * math.log((cfg.V_rest + cfg.RI_ext - cfg.V_reset)
                                  / (cfg.V_rest + cfg.RI_ext - cfg.V_th))
    k = math.ceil(t_star / cfg.dt) - 1
    assert 0.1 < t_star / cfg.dt - k < 0.9  # t* is not near a grid time (no rounding tie)
    assert int(r.spike_steps[0]) == k
    assert r.spike_steps[0] * cfg.dt < t_star <= (r.spike_steps[0] + 1) * cfg.dt


def expected_refractory_raster(n_steps, dt, tau_ref, dtype):
    """The spike steps of a neuron that fires at the first step it is free, from step 0 on:
    after a spike at step s the clamp holds while (t_k - t_s) < tau_ref with the float-type
    step times t_k = k dt (``np.arange(n, dtype=dtype) * dt``) and the comparison in that
    type (docs/model.md, step order, step 6)."""
    f = np.dtype(dtype).type
    t = np.arange(n_steps, dtype=dtype) * f(dt)
    steps, s = [0], 0
    while True:
        free = np.flatnonzero((t[s + 1:] - t[s]) >= f(tau_ref))
        if not free.size:
            return np.array(steps)
        s = s + 1 + int(free[0])
        steps.append(s)


@pytest.mark.parametrize("tau_ref", [5.0, 4.9])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_refractory_clamp_length_in_steps(dtype, tau_ref):
    """After a spike V stays clamped while (t_k - t_last) < tau_ref in the float type; with a
    hard reset and a drive that crosses threshold in one step (dV = +500 mV per step), the
    neuron fires at every first free step, so its raster is the clamp's rule applied to the
    float-type step times (expected_refractory_raster), over 10 000 steps of 0.1 ms. For the
    presets' tau_ref = 5 ms every ISI is 50 steps in both float types; for 4.9 ms the rounding
    of t_k - t_last makes ISIs of 49 and 50 steps, in patterns that differ between float32 and
    float64 (checked: the per-type computation matters)."""
    cfg = one_neuron(RI_ext=1e4, V0_mean=-60.0, V0_std=0.0, dtype=dtype, arithmetic="ieee",
                     expm1="portable", reset="hard", duration=1000.0, tau_ref=tau_ref)
    # firing at the refractory limit is "runaway activity" by definition: run on
    r = refsim.simulate(cfg, seed=0, progress=False, stop_on_runaway=False)
    expected = expected_refractory_raster(cfg.n_steps, cfg.dt, cfg.tau_ref, dtype)
    np.testing.assert_array_equal(r.spike_steps, expected)
    lengths = set(np.diff(expected).tolist())
    if tau_ref == 5.0:
        assert lengths == {50}
    else:
        assert lengths == {49, 50}
        other = "float64" if dtype == "float32" else "float32"
        assert not np.array_equal(expected, expected_refractory_raster(cfg.n_steps, cfg.dt,
                                                                       cfg.tau_ref, other))


def test_soft_and_hard_reset_values():
    """Soft reset subtracts V_th - V_reset = 10 mV from the spiking V (one float64
    subtraction, so exactly V - 10.0); hard reset sets V_reset. The step after a spike is
    clamped (tau_ref = 5 ms), so its recorded V is the reset value itself."""
    for reset, expected in (("soft", lambda v_spk: v_spk - 10.0), ("hard", lambda v_spk: -60.0)):
        cfg = one_neuron(RI_ext=20.0, V0_mean=-60.0, V0_std=0.0, reset=reset, duration=20.0)
        r = refsim.simulate(cfg, seed=0, record=[0], progress=False)
        k = int(r.spike_steps[0])
        V = r.traces["V"][:, 0]
        assert V[k] >= -50.0
        assert V[k + 1] == expected(V[k])
