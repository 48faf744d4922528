"""Hypothesis properties on small random networks and parameters.

Strategies: :mod:`refsim.testing.strategies` (every switch of the model). Reference values:
the same run again (determinism); the specification's refractory clamp evaluated on the
float-type step times (docs/model.md, step 6); the closed-form membrane solution of a
neuron without synaptic input, computed here in float64 independently of refsim's step
functions (``closed_form_run``); the run of the permuted network (relabelling).
"""
import math

import numpy as np
from hypothesis import assume, event, given
from hypothesis import strategies as st

import refsim
from refsim.testing import assert_same_run, tolerance
from refsim.testing.strategies import configs, networks, seeds

#: Small networks of the kind these properties were first written for: the presets' 5 ms
#: refractory period and 0.1 ms step, weak weights, moderate drive, 30 ms; every switch drawn.
#: (Drive and weights keep a step's rise of V well below V_th - V_reset = 10 mV, so that a
#: soft reset never leaves V above threshold.)
SMALL = dict(n_exc=(2, 30), n_inh=(1, 10), p_conn=st.floats(0.05, 0.5),
             RI_ext=st.floats(0.0, 40.0), w_e=st.floats(0.0, 1.0), w_i=st.floats(0.0, 5.0),
             tau_ref=5.0, dt=0.1, duration=30.0)


@given(networks())
def test_same_seed_bit_identical_and_finite(network):
    """Property: the same configuration and seed give the same bits (spikes, state, traces),
    and the state stays finite, for any switches and wide ranges of drive and weights."""
    cfg, seed = network
    a = refsim.simulate(cfg, seed=seed, record=[0], progress=False)
    b = refsim.simulate(cfg, seed=seed, record=[0], progress=False)
    assert_same_run(a, b)
    for name in ("V", "g_e", "g_i"):
        assert np.all(np.isfinite(a.final_state[name]))


@given(configs(**SMALL), seeds())
def test_spikes_of_a_neuron_are_a_refractory_period_apart(cfg, seed):
    """Property: two spikes of one neuron are at least tau_ref apart on the float-type step
    times (the clamp (t_k - t_last) < tau_ref holds V below threshold: BrainPy's order clamps V
    at its reset value, Brette's at V_reset), hence at most 1 + floor(duration / (tau_ref + dt))
    spikes per neuron."""
    r = refsim.simulate(cfg, seed=seed, progress=False)
    t = np.arange(cfg.n_steps, dtype=cfg.dtype) * np.dtype(cfg.dtype).type(cfg.dt)
    order = np.lexsort((r.spike_steps, r.spike_neurons))
    k, i = r.spike_steps[order], r.spike_neurons[order]
    same = i[1:] == i[:-1]
    event(f"pairs of spikes of one neuron: {'some' if same.any() else 'none'}")
    assert np.all(t[k[1:]][same] - t[k[:-1]][same] >= np.dtype(cfg.dtype).type(cfg.tau_ref))
    bound = int(cfg.duration / (cfg.tau_ref + cfg.dt)) + 1
    assert r.spike_counts().max(initial=0) <= bound


def closed_form_run(cfg, V0):
    """Spikes and V after each step of neurons without synaptic input (w = 0, g = 0), in closed
    form, in float64, from the specification's step order (docs/model.md).

    With g = 0 the membrane equation is linear with constant coefficients: between resets and
    clamps, after n steps from v0, V = V_inf + (v0 - V_inf) r^n with V_inf = V_rest + RI_ext and
    r = exp(-dt / tau_m) (exponential Euler, exact) or 1 - dt / tau_m (Euler); the parameters
    are those of the run's float type. Each neuron's segment (v0, first step) restarts at a
    reset and after a clamp; the clamp's condition and the step times are evaluated in the run's
    float type, as the specification states them.

    Returns
    -------
    spikes : list of (step, neuron)
    V : ndarray, shape (n_steps, N)
        V after each step (BrainPy's order: before that step's reset; Brette's: after it).
    nearest : float
        The closest any threshold-tested value came to V_th (mV): where it is within the
        tolerance of the float type, the float rounding decides the spike.
    """
    f = np.dtype(cfg.dtype).type
    V_rest, V_th, V_reset, tau_m, RI, dt = (float(f(getattr(cfg, k))) for k in
                                            ("V_rest", "V_th", "V_reset", "tau_m", "RI_ext", "dt"))
    V_inf = V_rest + RI
    r = math.exp(-dt / tau_m) if cfg.integrator == "exp_euler" else 1.0 - dt / tau_m
    jump = V_th - V_reset

    def test(x):
        return x > V_th if cfg.threshold_test == ">" else x >= V_th

    def reset(x, s):
        return np.where(s, x - jump if cfg.reset == "soft" else V_reset, x)

    t = np.arange(cfg.n_steps, dtype=cfg.dtype) * f(cfg.dt)
    tau_ref = f(cfg.tau_ref)
    n = V0.size
    v0, k0 = V0.astype(float).copy(), np.zeros(n, int)  # the segments
    t_last = np.full(n, -1e7, dtype=cfg.dtype)
    V = V0.astype(float).copy()
    trace, spikes, tested = np.empty((cfg.n_steps, n)), [], [V]
    for k in range(cfg.n_steps):
        clamp = (t[k] - t_last) < tau_ref
        if cfg.schedule == "brainpy":
            s = test(V)  # the previous step's spikes (at k = 0: V0, not recorded)
            v = reset(V, s)
            v0, k0 = np.where(s, v, v0), np.where(s, k, k0)
            free = V_inf + (v0 - V_inf) * r ** (k - k0 + 1)
            V = np.where(clamp, v, free)
            v0, k0 = np.where(clamp, v, v0), np.where(clamp, k + 1, k0)
            fired = test(V)
            tested.append(V)
            trace[k] = V
        else:
            free = V_inf + (v0 - V_inf) * r ** (k - k0 + 1)
            V = np.where(clamp, V_reset, free)
            v0, k0 = np.where(clamp, V_reset, v0), np.where(clamp, k + 1, k0)
            fired = test(V)
            tested.append(V)
            V = reset(V, fired)
            v0, k0 = np.where(fired, V, v0), np.where(fired, k + 1, k0)
            trace[k] = V
        t_last = np.where(fired, t[k], t_last)
        spikes += [(k, int(i)) for i in np.flatnonzero(fired)]
    return spikes, trace, float(np.abs(np.array(tested) - V_th).min())


@given(networks(active=True, w_e=0.0, w_i=0.0, g_e0_mean=0.0, g_e0_std=0.0))
def test_zero_weights_every_neuron_follows_the_single_neuron_solution(network):
    """Property: with w = 0 and g = 0 the neurons are independent and each follows the
    closed-form solution (closed_form_run): for EVERY neuron, the same spikes and V after
    every step within rounding (``closed-form-V`` of the float type), for every schedule,
    integrator, reset, threshold test, float type, arithmetic, refractory period and dt
    (active networks: the neurons fire, reset and are clamped). An example where a tested
    value lies within that tolerance of V_th is discarded: there the rounding decides."""
    cfg, seed = network
    r = refsim.simulate(cfg, seed=seed, record=np.arange(cfg.n_neurons), record_vars=("V",),
                        progress=False, stop_on_runaway=False)
    _, init = refsim.network_inputs(cfg, seed)
    spikes, V, nearest = closed_form_run(cfg, init["V"])
    tol = tolerance("closed-form-V", cfg.dtype)
    assume(nearest > tol)
    event(f"spikes: {'none' if not spikes else 'some'}")
    assert r.n_spikes >= cfg.n_neurons  # active: the resets and clamps are exercised
    assert list(zip(r.spike_steps.tolist(), r.spike_neurons.tolist(), strict=True)) == sorted(spikes)
    assert np.max(np.abs(r.traces["V"] - V)) <= tol


@given(configs(**SMALL), seeds(), st.randoms(use_true_random=False))
def test_relabelling_neurons_permutes_the_output(cfg, seed, rnd):
    """Permuting neurons within E and within I, with connectivity and initial state permuted
    alike, permutes the raster."""
    ne, n = cfg.n_exc, cfg.n_neurons
    perm = np.r_[rnd.sample(range(ne), ne), rnd.sample(range(ne, n), n - ne)]
    r = refsim.simulate(cfg, seed=seed, progress=False)
    conn, init = refsim.network_inputs(cfg, seed)
    inv = np.argsort(perm)  # new index of old neuron i is inv[i]
    m = conn.matrix
    pm = m[perm][:, perm]  # row/col reindexing keeps each row's stored order
    conn_p = refsim.from_sparse(pm, n_exc=ne)
    rp = refsim.simulate(cfg, seed=None, connectivity=conn_p, progress=False,
                         initial={"V": init["V"][perm], "g_e": init["g_e"][perm], "g_i": init["g_i"][perm]})
    a = sorted(zip(r.spike_steps.tolist(), inv[r.spike_neurons].tolist(), strict=True))
    b = sorted(zip(rp.spike_steps.tolist(), rp.spike_neurons.tolist(), strict=True))
    assert a == b
