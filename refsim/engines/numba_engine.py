"""The Numba engine: the NumPy engine's step functions as compiled loops, one neuron at a time.

Every function mirrors its namesake in :mod:`refsim.engines.numpy_engine` and performs the same
floating-point operations in the same order, so the two engines give bit-identical rasters (the
tests check this). What differs is only what a loop allows and an array expression does not:

* steps 3-7 of a step are fused into one pass over the neurons (each neuron's update reads only
  its own state and the scattered input, so the order of neurons does not matter);
* refractory neurons skip the voltage update whose result the clamp would discard;
* the spikes of a step are kept as an ascending list of neuron indices, which is step 1 of the
  next step (``spike_test`` of V after step 7 is exactly the spikes recorded in step 7);
* the scatter buffers x_e, x_i are zeroed by the neuron that consumes them.

Compiled with ``cache=True`` (compiled once per float type, then loaded from Numba's on-disk
cache by every later process) and without ``fastmath``: a reference must not reassociate,
contract into FMAs, or flush denormals. ``error_model='numpy'`` only removes the zero-division
checks of Python semantics; no division here can be by zero.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import fields

import numpy as np
from numba import njit
from numba.core.extending import intrinsic

from ..model import Constants
from ..state import State

__all__ = ["spike_test", "exprel", "fma_f32", "scatter", "integrate_conductance",
           "membrane_rhs", "membrane_jacobian", "step_factor", "advance", "integrate_voltage",
           "reset", "step_brainpy", "step_brette", "run_steps",
           "kernel_constants"]

_jit = njit(cache=True, fastmath=False, error_model="numpy", nogil=True)

#: Constants as a namedtuple Numba can pass (a frozen dataclass it cannot), plus ``one`` in the
#: float type: Numba types ``1 + float32`` as float64, where NumPy keeps float32 (NEP 50).
KernelConstants = namedtuple(
    "KernelConstants", [f.name for f in fields(Constants) if f.name != "dtype"] + ["one"])


def kernel_constants(c: Constants) -> KernelConstants:
    """The scalars of ``c`` as a :data:`KernelConstants` tuple."""
    return KernelConstants(*(getattr(c, name) for name in KernelConstants._fields[:-1]),
                           one=c.dtype.type(1))


@_jit
def spike_test(v, c):
    """v > V_th or v >= V_th, by ``threshold_test``."""
    return v > c.V_th if c.strict_threshold else v >= c.V_th


@_jit
def exprel(z, c):
    """(exp(z) - 1) / z with exprel(0) = 1, as :func:`refsim.model.exprel` (the same libm
    ``expm1``/``expm1f`` NumPy calls)."""
    return np.expm1(z) / z if z != 0 else c.one


@intrinsic
def fma_f32(typingctx, a, b, addend):
    """round(a * b + addend) with a single rounding: :func:`refsim.model.fma_f32` for scalars.

    Emitted as LLVM's ``llvm.fma`` (one ``vfmadd`` instruction on x86-64 with FMA, a correctly
    rounded libm ``fmaf`` call elsewhere). IEEE 754 defines the fused multiply-add as exactly the
    single rounding that the NumPy engine emulates with round-to-odd, so both give the same bits.
    """
    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return a(a, b, addend), codegen


@_jit
def scatter(spikes, lo, hi, w, indptr, indices, counts, x):
    """x[j] += w * count for every synapse of the spiking rows spikes[lo:hi], rows ascending,
    each row's targets in stored order (the order of NumPy's sequential ``np.add.at``)."""
    for s in range(lo, hi):
        row = spikes[s]
        for p in range(indptr[row], indptr[row + 1]):
            x[indices[p]] += w * counts[p]


@_jit
def integrate_conductance(g, tau, a):
    """One step of dg/dt = -g/tau: g + a * ((-g) / tau)."""
    return g + a * ((-g) / tau)


@_jit
def membrane_rhs(v, g_e, g_i, c):
    """f = dV/dt at v (mV/ms)."""
    return ((c.V_rest - v) + ((c.RI_ext + c.R_g * (g_e * (c.E_e - v))) + c.R_g * (g_i * (c.E_i - v)))) / c.tau_m


@_jit
def membrane_jacobian(g_e, g_i, c):
    """J = df/dv (1/ms)."""
    return -(c.one + (c.R_g * g_e + c.R_g * g_i)) / c.tau_m


@_jit
def step_factor(J, c):
    """h in v <- v + h * f (ms): dt * exprel(dt * J) for ``exp_euler``, dt for ``euler``."""
    return c.dt * exprel(c.dt * J, c) if c.exp_euler else c.dt


@_jit
def advance(v, h, f, c):
    """v + h * f, rounded once (FMA) when ``fused_update``, else twice."""
    return fma_f32(h, f, v) if c.fused_update else v + h * f


@_jit
def integrate_voltage(v, g_e, g_i, c):
    """One step of the membrane equation from v with conductances g_e, g_i frozen."""
    return advance(v, step_factor(membrane_jacobian(g_e, g_i, c), c), membrane_rhs(v, g_e, g_i, c), c)


@_jit
def reset(v, s, c):
    """Soft: v - (V_th - V_reset) if s; hard: V_reset if s."""
    if not s:
        return v
    return v - c.jump if c.soft_reset else c.V_reset


@_jit
def _split(spikes, n_spikes, n_exc):
    """Number of excitatory (row < n_exc) entries at the front of the ascending spike list."""
    m = 0
    while m < n_spikes and spikes[m] < n_exc:
        m += 1
    return m


@_jit
def _step_factors(h, active, c):
    """h[j] = step_factor(h[j]) for the active neurons: the libm ``expm1`` calls, gathered in one
    tight loop so that the arithmetic around them stays vectorizable."""
    for j in range(h.size):
        if active[j]:
            h[j] = step_factor(h[j], c)


@_jit
def step_brainpy(V, g_e, g_i, t_last, t_k, indptr, indices, counts, c, spikes, n_spikes, work):
    """One step in BrainPy's order. ``spikes[:n_spikes]`` holds step 1's result (the previous
    step's spikes) on entry and this step's spikes on return; returns their number.

    ``work`` = (x_e, x_i, f, h, active): scatter buffers (all zero on entry and on return) and
    per-neuron scratch of the voltage update, which runs in three passes over the neurons.
    """
    x_e, x_i, f, h, active = work
    # 2. scatter
    m = _split(spikes, n_spikes, c.n_exc)
    scatter(spikes, 0, m, c.w_e, indptr, indices, counts, x_e)
    scatter(spikes, m, n_spikes, c.w_i, indptr, indices, counts, x_i)
    for j in range(V.size):
        # 3. conductances: decay, then the jump at full weight
        g_e[j] = integrate_conductance(g_e[j], c.tau_e, c.a_e) + x_e[j]
        g_i[j] = integrate_conductance(g_i[j], c.tau_i, c.a_i) + x_i[j]
        x_e[j] = 0
        x_i[j] = 0
        # 4. reset (step 1's spike test, per neuron)
        V[j] = reset(V[j], spike_test(V[j], c), c)
        # 5. (first part) the candidate's slope and Jacobian; 6. who is clamped
        f[j] = membrane_rhs(V[j], g_e[j], g_i[j], c)
        if c.exp_euler:
            h[j] = membrane_jacobian(g_e[j], g_i[j], c)
        active[j] = not ((t_k - t_last[j]) < c.tau_ref)
    # 5. (second part) h = step_factor(J)
    _step_factors(h, active, c)
    n_new = 0
    for j in range(V.size):
        # 5.-6. the candidate replaces v unless clamped
        if active[j]:
            V[j] = advance(V[j], h[j], f[j], c)
        # 7. this step's spikes
        if spike_test(V[j], c):
            t_last[j] = t_k
            spikes[n_new] = j
            n_new += 1
    return n_new


@_jit
def step_brette(V, g_e, g_i, t_last, t_k, indptr, indices, counts, c, spikes, work):
    """One step in Brette et al.'s order; writes this step's spikes to ``spikes`` and returns
    their number. ``work`` as for :func:`step_brainpy`."""
    x_e, x_i, f, h, active = work
    for j in range(V.size):
        # 1. (first part) slope and Jacobian from the old values; 2. who is clamped
        f[j] = membrane_rhs(V[j], g_e[j], g_i[j], c)
        if c.exp_euler:
            h[j] = membrane_jacobian(g_e[j], g_i[j], c)
        active[j] = not ((t_k - t_last[j]) < c.tau_ref)
        g_e[j] = integrate_conductance(g_e[j], c.tau_e, c.a_e)
        g_i[j] = integrate_conductance(g_i[j], c.tau_i, c.a_i)
    _step_factors(h, active, c)
    n_new = 0
    for j in range(V.size):
        # 1.-2. the new V, or V_reset while clamped
        v = advance(V[j], h[j], f[j], c) if active[j] else c.V_reset
        # 3. this step's spikes; 5. reset
        s = spike_test(v, c)
        V[j] = reset(v, s, c)
        if s:
            t_last[j] = t_k
            spikes[n_new] = j
            n_new += 1
    # 4. delivered at once
    m = _split(spikes, n_new, c.n_exc)
    scatter(spikes, 0, m, c.w_e, indptr, indices, counts, x_e)
    scatter(spikes, m, n_new, c.w_i, indptr, indices, counts, x_i)
    for j in range(V.size):
        g_e[j] = g_e[j] + x_e[j]
        g_i[j] = g_i[j] + x_i[j]
        x_e[j] = 0
        x_i[j] = 0
    return n_new


@_jit
def _record_trace(trace, k, values, neurons):
    if trace.shape[0]:
        for r in range(neurons.size):
            trace[k, r] = values[neurons[r]]


@_jit
def _run(V, g_e, g_i, t_last, times, k_start, k_stop, indptr, indices, counts, c,
         record_neurons, trace_V, trace_g_e, trace_g_i, capacity):
    """Steps k_start .. k_stop-1; returns the spikes as (step, neuron) int32 arrays."""
    n = V.size
    work = (np.zeros(n, V.dtype), np.zeros(n, V.dtype), np.empty(n, V.dtype),
            np.empty(n, V.dtype), np.empty(n, np.bool_))
    spikes = np.empty(n, np.int32)
    n_spikes = 0
    if c.brainpy_schedule:
        # 1. (first step only) the spikes of the step before
        for j in range(n):
            if spike_test(V[j], c):
                spikes[n_spikes] = j
                n_spikes += 1
    out_steps = np.empty(max(capacity, 16), np.int32)
    out_neurons = np.empty(max(capacity, 16), np.int32)
    total = 0
    for k in range(k_start, k_stop):
        if c.brainpy_schedule:
            n_spikes = step_brainpy(V, g_e, g_i, t_last, times[k], indptr, indices, counts, c,
                                    spikes, n_spikes, work)
        else:
            n_spikes = step_brette(V, g_e, g_i, t_last, times[k], indptr, indices, counts, c,
                                   spikes, work)
        if total + n_spikes > out_steps.size:  # grow the buffers geometrically
            size = max(2 * out_steps.size, total + n_spikes)
            grown_steps, grown_neurons = np.empty(size, np.int32), np.empty(size, np.int32)
            grown_steps[:total] = out_steps[:total]
            grown_neurons[:total] = out_neurons[:total]
            out_steps, out_neurons = grown_steps, grown_neurons
        out_steps[total:total + n_spikes] = k
        out_neurons[total:total + n_spikes] = spikes[:n_spikes]
        total += n_spikes
        _record_trace(trace_V, k, V, record_neurons)
        _record_trace(trace_g_e, k, g_e, record_neurons)
        _record_trace(trace_g_i, k, g_i, record_neurons)
    return out_steps[:total], out_neurons[:total]


def run_steps(state: State, times, k_start, k_stop, conn, c: Constants, recorder):
    """Advance ``state`` in place through steps k_start .. k_stop-1 (same contract as
    :func:`refsim.engines.numpy_engine.run_steps`); spikes go to ``recorder`` as one block."""
    indptr, indices, counts = conn
    arrays = [np.ascontiguousarray(getattr(state, name), dtype=c.dtype)
              for name in ("V", "g_e", "g_i", "t_last")]
    for name, array in zip(("V", "g_e", "g_i", "t_last"), arrays):
        setattr(state, name, array)  # the kernel updates these arrays in place
    empty = np.empty((0, 0), c.dtype)
    traces = [recorder.traces.get(name, empty) for name in ("V", "g_e", "g_i")]
    # room for every neuron to spike once per 100 steps before the buffers have to grow
    capacity = c.n_neurons * max(1, (k_stop - k_start) // 100)
    steps, neurons = _run(*arrays, times, k_start, k_stop, indptr, indices, counts,
                          kernel_constants(c), recorder.record_neurons, *traces, capacity)
    recorder.add_block(steps, neurons, k_stop)
