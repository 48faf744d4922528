"""The NumPy engine: the oracle. Plain array code, one function per step of the specification.

Every function here has a namesake in the Numba engine, which must give bit-identical results.
The numbered comments refer to the step order in :mod:`refsim.model`.
"""

from __future__ import annotations

import numpy as np

from .. import elementary
from ..model import Constants
from ..state import State

__all__ = ["spike_test", "scatter", "integrate_conductance", "membrane_rhs",
           "membrane_jacobian", "step_factor", "advance", "integrate_voltage", "reset",
           "step_brainpy", "step_brette", "run_steps"]


def spike_test(V, c: Constants):
    """V > V_th or V >= V_th, by ``threshold_test``."""
    return V > c.V_th if c.strict_threshold else V >= c.V_th


def csr_entries(indptr, rows):
    """Positions in the CSR arrays of all entries of ``rows``, rows in the given order."""
    starts, stops = indptr[rows], indptr[rows + 1]
    lengths = stops - starts
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(lengths.sum())


def scatter(spiking, first_row, w, conn_arrays, c: Constants):
    """Input of one projection: x[j] = w * (synapses from spiking presynaptic rows onto j).

    Summed synapse by synapse in the float type, presynaptic neurons ascending and each row's
    targets in stored order (``np.add.at`` is unbuffered and sequential), as BrainPy does.
    """
    indptr, indices, counts = conn_arrays
    x = np.zeros(c.n_neurons, c.dtype)
    rows = np.flatnonzero(spiking) + first_row
    entries = csr_entries(indptr, rows)
    np.add.at(x, indices[entries], w * counts[entries])
    return x


def integrate_conductance(g, tau, r, a, c: Constants):
    """One step of dg/dt = -g/tau (a from Constants: a_e or a_i; r = 1/tau: r_e or r_i).

    ``ieee``: g + a * ((-g) / tau); ``xla``: fma(-(g * r), a, g).
    """
    if c.xla:
        return elementary.fma_f32(-(g * r), a, g)
    return g + a * ((-g) / tau)


def membrane_rhs(v, g_e, g_i, c: Constants):
    """f = dV/dt at v (mV/ms).

    ``ieee``: ((V_rest - v) + ((RI_ext + R_g (g_e (E_e - v))) + R_g (g_i (E_i - v)))) / tau_m;
    ``xla``: ((V_rest - v) + fma(g_i (E_i - v), R_g, fma(g_e (E_e - v), R_g, RI_ext))) * r_m.
    """
    if c.xla:
        current = elementary.fma_f32(g_e * (c.E_e - v), c.R_g, c.RI_ext)
        current = elementary.fma_f32(g_i * (c.E_i - v), c.R_g, current)
        return ((c.V_rest - v) + current) * c.r_m
    return ((c.V_rest - v) + ((c.RI_ext + c.R_g * (g_e * (c.E_e - v))) + c.R_g * (g_i * (c.E_i - v)))) / c.tau_m


def membrane_jacobian(g_e, g_i, c: Constants):
    """J = df/dv (1/ms).

    ``ieee``: -(1 + (R_g g_e + R_g g_i)) / tau_m; ``xla``: fma(g_e, -C, g_i (-C)) + (-r_m).
    """
    if c.xla:
        return elementary.fma_f32(g_e, -c.C, g_i * -c.C) + (-c.r_m)
    return -(1 + (c.R_g * g_e + c.R_g * g_i)) / c.tau_m


def step_factor(J, c: Constants):
    """h in v <- v + h * f (ms): dt * exprel(dt * J) for ``exp_euler``, dt for ``euler``.

    exprel is :func:`refsim.elementary.exprel` with the ``expm1`` of the config (every case of
    the function is evaluated for every neuron and one kept, as the compiled engines do).
    """
    return c.dt * elementary.exprel(c.dt * J, c.expm1) if c.exp_euler else c.dt


def advance(v, h, f, c: Constants):
    """v + h * f, rounded once (FMA) for ``arithmetic`` 'xla' and 'fused-update', else twice."""
    return elementary.fma_f32(h, f, v) if c.fused_update else v + h * f


def integrate_voltage(v, g_e, g_i, c: Constants):
    """One step of the membrane equation from v with conductances g_e, g_i frozen."""
    return advance(v, step_factor(membrane_jacobian(g_e, g_i, c), c), membrane_rhs(v, g_e, g_i, c), c)


def reset(V, s, c: Constants):
    """Soft: V - (V_th - V_reset) where s; hard: V_reset where s."""
    return np.where(s, V - c.jump if c.soft_reset else c.V_reset, V)


def step_brainpy(state: State, t_k, conn, c: Constants):
    """One step in BrainPy's order (spikes act one step later). Returns this step's spikes."""
    # 1. the spikes recorded at the previous step
    s = spike_test(state.V, c)
    # 2. scatter
    x_e = scatter(s[:c.n_exc], 0, c.w_e, conn, c)
    x_i = scatter(s[c.n_exc:], c.n_exc, c.w_i, conn, c)
    # 3. conductances: decay, then the jump at full weight
    state.g_e = integrate_conductance(state.g_e, c.tau_e, c.r_e, c.a_e, c) + x_e
    state.g_i = integrate_conductance(state.g_i, c.tau_i, c.r_i, c.a_i, c) + x_i
    # 4. reset
    v = reset(state.V, s, c)
    # 5. candidate
    V_candidate = integrate_voltage(v, state.g_e, state.g_i, c)
    # 6. refractory clamp
    refractory = (t_k - state.t_last) < c.tau_ref
    state.V = np.where(refractory, v, V_candidate)
    # 7. this step's spikes
    spikes = spike_test(state.V, c)
    state.t_last = np.where(spikes, t_k, state.t_last)
    return spikes


def step_brette(state: State, t_k, conn, c: Constants):
    """One step in Brette et al.'s order (spikes act in the same step). Returns its spikes."""
    # 1. integrate V, g_e, g_i from the old values
    V_new = integrate_voltage(state.V, state.g_e, state.g_i, c)
    g_e = integrate_conductance(state.g_e, c.tau_e, c.r_e, c.a_e, c)
    g_i = integrate_conductance(state.g_i, c.tau_i, c.r_i, c.a_i, c)
    # 2. refractory clamp
    refractory = (t_k - state.t_last) < c.tau_ref
    V_new = np.where(refractory, c.V_reset, V_new)
    # 3. this step's spikes
    spikes = spike_test(V_new, c)
    # 4. delivered at once
    state.g_e = g_e + scatter(spikes[:c.n_exc], 0, c.w_e, conn, c)
    state.g_i = g_i + scatter(spikes[c.n_exc:], c.n_exc, c.w_i, conn, c)
    # 5. reset
    state.V = reset(V_new, spikes, c)
    state.t_last = np.where(spikes, t_k, state.t_last)
    return spikes


def run_steps(state: State, times, k_start, k_stop, conn, c: Constants, recorder):
    """Advance ``state`` through steps k_start .. k_stop-1, handing each step to ``recorder``.

    ``conn`` is the (indptr, indices, counts) triple of the whole N x N matrix, counts already
    in the run's float type; the E projection is rows 0 .. n_exc-1, the I projection the rest.
    """
    step = step_brainpy if c.brainpy_schedule else step_brette
    for k in range(k_start, k_stop):
        spikes = step(state, times[k], conn, c)
        recorder.record(k, np.flatnonzero(spikes), state)
