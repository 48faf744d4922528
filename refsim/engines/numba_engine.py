"""The Numba engine: the oracle's step as compiled loops over neurons.

The formulas are not copied but shared: this engine compiles the very functions of
:mod:`refsim.model` (``spike_test``, ``integrate_conductance``, ``membrane_rhs``, ...) and of
:mod:`refsim.elementary` that the NumPy oracle calls on arrays
(:mod:`refsim.engines.numba_primitives` compiles each primitive to the one IEEE operation it
names), so the two engines perform the same floating-point operations in the same order and
give bit-identical rasters (the tests check this). What differs is only what a loop allows and
an array expression does not:

* the neurons are updated in blocks of :data:`BLOCK` (array views, indexed from 0), each in a
  few passes that are separately compiled functions: vector loops with no call and no branch
  on data (the choices of the oracle's ``np.where`` are LLVM ``select`` instructions). In
  BrainPy's order: steps 3-5 up to the slope, the Jacobians, the step factors, steps 5-7; in
  Brette's: the Jacobians and step factors, then one pass;
* refsim's portable expm1 is evaluated for every lane by its k = 0 arm alone
  (:func:`refsim.elementary.expm1_near_f64`, a third of the work), which is the whole function
  where |dt J| < 0.5 ln 2; the few other lanes are then recomputed with the whole function;
* the spikes of a step are kept as an ascending list of neuron indices, which is step 1 of the
  next step (``spike_test`` of V after step 7 is exactly the spikes recorded in step 7);
* the scatter buffers x_e, x_i are zeroed by the neuron that consumes them.

Compiled with ``cache=True`` (compiled once per float type, then loaded from Numba's on-disk
cache, in ``__pycache__`` or ``NUMBA_CACHE_DIR``, by every later process, on the first call of
:func:`run_steps`), each cache file checked before it is used
(:func:`refsim.engines.numba_primitives.cached_jit`: a damaged file is compiled again and
rewritten, with one :class:`~refsim.engines.numba_primitives.NumbaCacheWarning`), and without
``fastmath``: a reference must not reassociate, contract into FMAs, or flush denormals.
``error_model='numpy'`` only removes the zero-division checks of Python semantics; no division
here can be by zero. With ``NUMBA_DISABLE_JIT=1`` nothing is compiled: the same passes run as
Python on NumPy scalars (slowly, for debugging) and give the same bits.
"""

from __future__ import annotations

import threading
import weakref
from collections import namedtuple
from dataclasses import fields

import numba
import numpy as np
from numba import prange, types
from numba.core.extending import overload, register_jitable

from .. import elementary as el
from ..model import (
    FORMULAS,
    Constants,
    advance,
    integrate_conductance,
    membrane_jacobian,
    membrane_rhs,
    refractory,
    reset,
    spike_test,
    step_factor,
)
from ..recording import spike_capacity
from ..state import STATE_FIELDS, State
from .numba_primitives import cached_jit  # (importing it registers refsim.elementary with Numba)

__all__ = ["step_factors", "scatter", "step_brainpy", "step_brette", "run_steps",
           "kernel_constants", "BLOCK", "EXPM1_CODES"]

_jit = cached_jit(fastmath=False, error_model="numpy", nogil=True)
#: The threaded steps: the same options, and ``prange`` loops run on Numba's thread pool.
_parallel = cached_jit(fastmath=False, error_model="numpy", nogil=True, parallel=True)
#: How refsim.elementary's functions are compiled (numba_primitives): inlined by LLVM into the
#: loops that call them (``forceinline``), with no zero-division checks that would branch.
_INLINED = {"forceinline": True, "error_model": "numpy"}

#: Neurons per block of the neuron passes: the scratch of a block stays in the L1 cache (256,
#: 512 and 1024 measured within noise of each other at N = 4000).
BLOCK = 512

#: ``Constants.expm1`` as the integer the compiled code branches on (once per block).
EXPM1_CODES = {name: code for code, name in enumerate(el.IMPLEMENTATIONS)}
_PORTABLE, _XLA, _LIBM = (EXPM1_CODES[name] for name in ("portable", "xla", "libm"))

#: Constants as a namedtuple Numba can pass (a frozen dataclass it cannot), with ``expm1`` as
#: its integer code. The CUDA engine passes the same tuple to its kernels.
KernelConstants = namedtuple(
    "KernelConstants", [f.name for f in fields(Constants) if f.name != "dtype"])


def kernel_constants(c: Constants) -> KernelConstants:
    """The scalars of ``c`` as a :data:`KernelConstants` tuple.

    Parameters
    ----------
    c : Constants

    Returns
    -------
    KernelConstants
        Every field of ``c`` but ``dtype``, with ``expm1`` as its code in :data:`EXPM1_CODES`;
        the compiled passes call this tuple ``c`` too.

    Examples
    --------
    >>> import refsim
    >>> from refsim.model import Constants
    >>> from refsim.engines.numba_engine import kernel_constants
    >>> kc = kernel_constants(Constants.from_config(refsim.get_preset("tutorial")))
    >>> len(kc), kc.expm1, kc.xla, float(kc.tau_m)
    (31, 1, True, 20.0)
    """
    values = {name: getattr(c, name) for name in KernelConstants._fields}
    values["expm1"] = EXPM1_CODES[c.expm1]
    return KernelConstants(**values)


# refsim.model's formulas, compiled from their one source and inlined into the loops below
for _formula in FORMULAS:
    register_jitable(**_INLINED)(_formula)


# -- exprel, by float type: refsim.elementary's functions, chosen when Numba types the call --

# Compiled code calls the overloads below; the bodies are what runs where Numba compiles
# nothing (NUMBA_DISABLE_JIT=1: the passes run as Python on NumPy scalars): the oracle's own
# exprel, refsim.elementary.exprel, which gives the same bits (the near arm is the whole
# function where it is used).

def _exprel_portable(z):
    """exprel_f32 or exprel_f64 by the type of z."""
    return el.exprel(z, "portable")


def _exprel_portable_near(z):
    """exprel_near_f32 or exprel_near_f64 by the type of z (|z| < NEAR_LIMIT)."""
    return el.exprel(z, "portable")


def _exprel_xla(z):
    """exprel_xla_f32 (float32 only: Config refuses expm1='xla' in float64)."""
    return el.exprel(z, "xla")


def _exprel_libm(z):
    """exprel with the C library's expm1 (machine-dependent on purpose)."""
    return el.exprel(z, "libm")


@overload(_exprel_portable, jit_options=_INLINED)
def _ov_exprel_portable(z):
    return (lambda z: el.exprel_f32(z)) if z == types.float32 else (lambda z: el.exprel_f64(z))


@overload(_exprel_portable_near, jit_options=_INLINED)
def _ov_exprel_portable_near(z):
    if z == types.float32:
        return lambda z: el.exprel_near_f32(z)
    return lambda z: el.exprel_near_f64(z)


@overload(_exprel_libm, jit_options=_INLINED)
def _ov_exprel_libm(z):
    one = np.float32(1) if z == types.float32 else np.float64(1)
    return lambda z: el.exprel_libm(z, one)


@overload(_exprel_xla, jit_options=_INLINED)
def _ov_exprel_xla(z):
    if z == types.float32:
        return lambda z: el.exprel_xla_f32(z)
    return lambda z: z * np.nan  # unreachable: no float64 emulation of XLA exists


# -- the step, one neuron at a time: refsim.model's formulas, plus what a loop needs ----------

@_jit
def scatter(spikes, lo, hi, w, indptr, indices, counts, x):
    """x[j] += w * count for every synapse of the spiking rows spikes[lo:hi], rows ascending,
    each row's targets in stored order (the order of NumPy's sequential ``np.add.at``).

    Parameters
    ----------
    spikes : ndarray of int32
        Spiking neurons (rows), ascending.
    lo, hi : int
        The slice of ``spikes`` of this projection.
    w : scalar
        The projection's weight ([g]).
    indptr, indices : ndarray of int32
        CSR arrays.
    counts : ndarray
        Synapses per entry, in the run's float type, or empty when every entry is one.
    x : ndarray, shape (N,)
        Input ([g]), added to in place.
    """
    if counts.size:
        for s in range(lo, hi):
            row = spikes[s]
            for p in range(indptr[row], indptr[row + 1]):
                x[indices[p]] += w * counts[p]
    else:  # every entry one synapse: w * 1 is w exactly
        for s in range(lo, hi):
            row = spikes[s]
            for p in range(indptr[row], indptr[row + 1]):
                x[indices[p]] += w


# The passes below run over one block of neurons, given as array views, with the index j from
# 0: LLVM then knows that j is never negative (Numba wraps negative indices around), so that the
# accesses are consecutive and the loop vectorizes.

@_jit
def _factors_portable(h, z, far, lanes, c):
    """h[j] <- dt * exprel(dt * h[j]) with refsim's portable exprel (z, far, lanes: scratch).

    Every lane first takes the k = 0 arm of expm1 alone, which *is* the whole function where
    |dt J| < 0.5 ln 2 (nearly every neuron, nearly always); the few other lanes are then
    listed and recomputed one by one with the whole function. The bits are those of the
    whole function everywhere, at the cost of the k = 0 arm. (The list keeps the recomputation
    scalar: a loop over all lanes with an ``if`` would be vectorized with masked stores,
    evaluating the whole function for every lane.)
    """
    n_far = 0
    for j in range(h.size):
        z[j] = h[j]  # J, kept for the far lanes
        far[j] = not (abs(el.mul(c.dt, z[j])) < el.NEAR_LIMIT)  # exprel's argument; nan is far
        n_far += far[j]
        h[j] = step_factor(z[j], _exprel_portable_near, c)
    if n_far:
        m = 0
        for j in range(h.size):
            if far[j]:
                lanes[m] = j
                m += 1
        for k in range(m):
            j = lanes[k]
            h[j] = step_factor(z[j], _exprel_portable, c)


@_jit
def _factors_xla(h, c):
    for j in range(h.size):
        h[j] = step_factor(h[j], _exprel_xla, c)


@_jit
def _factors_libm(h, c):
    for j in range(h.size):
        h[j] = step_factor(h[j], _exprel_libm, c)


@_jit
def step_factors(h, z, far, lanes, c):
    """h[j] <- step_factor(h[j]) for a block of ``exp_euler`` neurons, in place: the Jacobian J
    in, dt * exprel(dt * J) out, with the expm1 of ``c.expm1`` (z, far, lanes: scratch).

    The implementation is chosen once per block, outside the loops, so that each main loop is
    straight-line vector code (the libm one excepted: it calls the C library; the portable
    one's recomputation of its few far lanes is scalar on purpose).

    Parameters
    ----------
    h : ndarray
        J (1/ms) in, h (ms) out, one block.
    z : ndarray
        Scratch, the block's length: J (kept for the far lanes).
    far : ndarray of bool
        Scratch, the block's length: lanes outside the k = 0 arm of expm1.
    lanes : ndarray of intp
        Scratch, :data:`BLOCK` long: the far lanes' indices.
    c : KernelConstants
    """
    if c.expm1 == _PORTABLE:
        _factors_portable(h, z, far, lanes, c)
    elif c.expm1 == _XLA:
        _factors_xla(h, c)
    else:  # libm: machine-dependent on purpose
        _factors_libm(h, c)


@_jit
def _collect(flags, lo, hi, out, at):
    """Write the indices j in lo .. hi-1 (lo a multiple of 8) where ``flags`` is set to
    ``out[at:]``, ascending; return how many. ``flags`` is padded with zeros to a multiple of 8
    and read 8 at a time."""
    n = 0
    words = flags.view(np.uint64)
    for w in range(lo // 8, min(-(-hi // 8), words.size)):
        if words[w] != 0:
            for j in range(8 * w, 8 * w + 8):
                if flags[j]:
                    out[at + n] = j
                    n += 1
    return n


@_jit
def _split(spikes, n_spikes, n_exc):
    """Number of excitatory (row < n_exc) entries at the front of the ascending spike list."""
    m = 0
    while m < n_spikes and spikes[m] < n_exc:
        m += 1
    return m


# The neuron passes: each loop is its own compiled function, optimized (and vectorized) on its
# own; written as one function with several loops, the same code ran at half the speed.

@_jit
def _conductances_reset_slope(V, g_e, g_i, x_e, x_i, v, f, c):
    """BrainPy's steps 3, 4 and the slope of 5 for a block of neurons."""
    for j in range(V.size):
        # 3. conductances: decay, then the jump at full weight
        g_e[j] = integrate_conductance(g_e[j], c.tau_e, c.r_e, c.a_e, c) + x_e[j]
        g_i[j] = integrate_conductance(g_i[j], c.tau_i, c.r_i, c.a_i, c) + x_i[j]
        x_e[j] = 0
        x_i[j] = 0
        # 4. reset (step 1's spike test, per neuron)
        v[j] = reset(V[j], spike_test(V[j], c), c)
        # 5. (first part) the candidate's slope
        f[j] = membrane_rhs(v[j], g_e[j], g_i[j], c)


@_jit
def _jacobians(g_e, g_i, h, c):
    """h[j] <- J of neuron j (the step factors' input)."""
    for j in range(h.size):
        h[j] = membrane_jacobian(g_e[j], g_i[j], c)


@_jit
def _deliver_and_jacobians(g_e, g_i, x_e, x_i, h, c):
    """Brette's order: the previous step's g <- g + x, then J (the main pass adds x = 0)."""
    for j in range(h.size):
        g_e[j] = g_e[j] + x_e[j]
        g_i[j] = g_i[j] + x_i[j]
        x_e[j] = 0
        x_i[j] = 0
        h[j] = membrane_jacobian(g_e[j], g_i[j], c)


@_jit
def _candidate_clamp_spikes(V, t_last, t_k, v, f, h, flags, c):
    """BrainPy's steps 5 (the candidate), 6 and 7 for a block of neurons."""
    for j in range(V.size):
        # 5.-6. the candidate replaces v unless clamped
        step = h[j] if c.exp_euler else c.dt
        V[j] = el.select(refractory(t_k, t_last[j], c), v[j], advance(v[j], step, f[j], c))
        # 7. this step's spikes
        s = spike_test(V[j], c)
        t_last[j] = el.select(s, t_k, t_last[j])
        flags[j] = s


@_jit
def _brette_neurons(V, g_e, g_i, x_e, x_i, t_last, t_k, h, flags, c):
    """Brette et al.'s steps 1-3 and 5 for a block of neurons, the step factors given; first the
    previous step's step 4, g <- g + x (see :func:`step_brette`)."""
    for j in range(V.size):
        ge = g_e[j] + x_e[j]
        gi = g_i[j] + x_i[j]
        x_e[j] = 0
        x_i[j] = 0
        # 1. V from the old values (or V_reset while clamped, 2.); conductances decay
        f = membrane_rhs(V[j], ge, gi, c)
        g_e[j] = integrate_conductance(ge, c.tau_e, c.r_e, c.a_e, c)
        g_i[j] = integrate_conductance(gi, c.tau_i, c.r_i, c.a_i, c)
        step = h[j] if c.exp_euler else c.dt
        vn = el.select(refractory(t_k, t_last[j], c), c.V_reset, advance(V[j], step, f, c))
        # 3. this step's spikes; 5. reset
        s = spike_test(vn, c)
        V[j] = reset(vn, s, c)
        t_last[j] = el.select(s, t_k, t_last[j])
        flags[j] = s


@_jit
def step_brainpy(V, g_e, g_i, t_last, t_k, indptr, indices, counts, c, spikes, n_spikes, work,
                 tmp):
    """One step in BrainPy's order. ``spikes[:n_spikes]`` holds step 1's result (the previous
    step's spikes) on entry and this step's spikes on return; returns their number.

    ``work`` = (x_e, x_i, flags): the scatter buffers (all zero on entry and on return) and
    the spike flags, N long (flags padded to a multiple of 8); ``tmp`` = (v, f, h, z, lanes):
    one thread's scratch of the voltage update, :data:`BLOCK` long each (reused block after
    block, so it stays in the L1 cache).

    Parameters
    ----------
    V, g_e, g_i, t_last : ndarray, shape (N,)
        The state (mV, [g], [g], ms), updated in place.
    t_k : scalar
        The step's time (ms).
    indptr, indices, counts : ndarray
        CSR arrays, counts in the run's float type.
    c : KernelConstants
    spikes : ndarray of int32, shape (N,)
        The previous step's spiking neurons in, this step's out (ascending).
    n_spikes : int
        How many of ``spikes`` are the previous step's.
    work, tmp : tuple of ndarray

    Returns
    -------
    int
        This step's number of spikes.
    """
    x_e, x_i, flags = work
    # 2. scatter
    m = _split(spikes, n_spikes, c.n_exc)
    scatter(spikes, 0, m, c.w_e, indptr, indices, counts, x_e)
    scatter(spikes, m, n_spikes, c.w_i, indptr, indices, counts, x_i)
    _neurons_brainpy(0, V.size, V, g_e, g_i, t_last, t_k, c, work, tmp)  # 3.-7.
    return _collect(flags, 0, V.size, spikes, 0)


@_jit
def _neurons_brainpy(lo, hi, V, g_e, g_i, t_last, t_k, c, work, tmp):
    """BrainPy's steps 3-7 for neurons lo .. hi-1, :data:`BLOCK` at a time, in one thread's
    scratch ``tmp``."""
    x_e, x_i, flags = work
    v_, f_, h_, z_, lanes = tmp
    for b0 in range(lo, hi, BLOCK):
        b = slice(b0, min(b0 + BLOCK, hi))
        v, f, h, z = v_[:b.stop - b0], f_[:b.stop - b0], h_[:b.stop - b0], z_[:b.stop - b0]
        _conductances_reset_slope(V[b], g_e[b], g_i[b], x_e[b], x_i[b], v, f, c)
        if c.exp_euler:
            _jacobians(g_e[b], g_i[b], h, c)  # 5. h = step_factor(J), new conductances
            step_factors(h, z, flags[b], lanes, c)
        _candidate_clamp_spikes(V[b], t_last[b], t_k, v, f, h, flags[b], c)


@_jit
def step_brette(V, g_e, g_i, t_last, t_k, indptr, indices, counts, c, spikes, work, tmp):
    """One step in Brette et al.'s order; writes this step's spikes to ``spikes`` and returns
    their number. ``work`` and ``tmp`` as for :func:`step_brainpy`.

    Step 4's sums g + x are *pending* on return: x holds this step's input, and the next step
    adds it as its first operation on each neuron, in the same pass (the oracle's separate pass
    over all neurons cost a fifth of the step). The state is g + x: :func:`_run` adds what is
    pending after a chunk's last step and records g + x in the traces. The values are the
    oracle's; only a g of exactly -0.0 in a given initial state becomes +0.0, which changes no
    later value (the sign of a zero conductance cancels in every formula).

    Parameters
    ----------
    V, g_e, g_i, t_last, t_k, indptr, indices, counts, c
        As for :func:`step_brainpy`.
    spikes : ndarray of int32, shape (N,)
        This step's spiking neurons out (ascending).
    work, tmp : tuple of ndarray
        As for :func:`step_brainpy`; x_e, x_i hold the pending input on entry and on return.

    Returns
    -------
    int
        This step's number of spikes.
    """
    x_e, x_i, flags = work
    _neurons_brette(0, V.size, V, g_e, g_i, t_last, t_k, c, work, tmp)  # 1.-3. and 5.
    n_new = _collect(flags, 0, V.size, spikes, 0)
    # 4. delivered at once (the sums g + x pending: see above)
    m = _split(spikes, n_new, c.n_exc)
    scatter(spikes, 0, m, c.w_e, indptr, indices, counts, x_e)
    scatter(spikes, m, n_new, c.w_i, indptr, indices, counts, x_i)
    return n_new


@_jit
def _neurons_brette(lo, hi, V, g_e, g_i, t_last, t_k, c, work, tmp):
    """Brette et al.'s steps 1-3 and 5 for neurons lo .. hi-1, :data:`BLOCK` at a time (the
    pending step 4 added first), in one thread's scratch ``tmp``."""
    x_e, x_i, flags = work
    h_, z_, lanes = tmp[2], tmp[3], tmp[4]
    for b0 in range(lo, hi, BLOCK):
        b = slice(b0, min(b0 + BLOCK, hi))
        h, z = h_[:b.stop - b0], z_[:b.stop - b0]
        if c.exp_euler:  # 1. h = step_factor(J), old conductances
            _deliver_and_jacobians(g_e[b], g_i[b], x_e[b], x_i[b], h, c)
            step_factors(h, z, flags[b], lanes, c)
        _brette_neurons(V[b], g_e[b], g_i[b], x_e[b], x_i[b], t_last[b], t_k, h, flags[b], c)


# -- threads: the neurons in contiguous target blocks, one parallel loop over the blocks -------

@_parallel
def step_brainpy_threaded(V, g_e, g_i, t_last, t_k, part, c, spikes, n_spikes, work, tmp, lists):
    """:func:`step_brainpy` with the blocks of ``part`` (:func:`partition`) in parallel.

    Each block scatters the spiking rows into its own neurons only, through its own copy of
    the CSR (each row's entries onto the block, in stored order): every x[j] receives the
    same additions in the same order as in the oracle, so the bits do not depend on the
    number of blocks or threads. Then it updates its neurons and lists its spikes.

    Parameters
    ----------
    V, g_e, g_i, t_last, t_k, c, spikes, n_spikes, work
        As for :func:`step_brainpy`.
    part : tuple
        ``(bounds, b_indptr, b_indices, b_counts)`` from :func:`partition`.
    tmp : tuple of ndarray
        As for :func:`step_brainpy`, with a first axis of one row per block.
    lists : tuple of ndarray
        ``(found, listed)``: (blocks,) spike counts and an (N,) list of each block's spikes
        at the block's start.

    Returns
    -------
    int
        This step's number of spikes.
    """
    bounds, b_indptr, b_indices, b_counts = part
    found, listed = lists
    x_e, x_i, flags = work
    v, f, h, z, lanes = tmp
    m = _split(spikes, n_spikes, c.n_exc)
    for b in prange(bounds.size - 1):
        lo, hi = bounds[b], bounds[b + 1]
        scatter(spikes, 0, m, c.w_e, b_indptr[b], b_indices, b_counts, x_e)
        scatter(spikes, m, n_spikes, c.w_i, b_indptr[b], b_indices, b_counts, x_i)
        _neurons_brainpy(lo, hi, V, g_e, g_i, t_last, t_k, c, work, (v[b], f[b], h[b], z[b], lanes[b]))
        found[b] = _collect(flags, lo, hi, listed, lo)
    return _gather(bounds, found, listed, spikes)


@_parallel
def step_brette_threaded(V, g_e, g_i, t_last, t_k, part, c, spikes, work, tmp, lists):
    """:func:`step_brette` with the blocks of ``part`` in parallel: first each block's
    neurons, then (all spikes known) each block's scatter, as in
    :func:`step_brainpy_threaded`.

    Parameters
    ----------
    V, g_e, g_i, t_last, t_k, c, spikes, work
        As for :func:`step_brette`.
    part, tmp, lists
        As for :func:`step_brainpy_threaded`.

    Returns
    -------
    int
        This step's number of spikes.
    """
    bounds, b_indptr, b_indices, b_counts = part
    found, listed = lists
    x_e, x_i, flags = work
    v, f, h, z, lanes = tmp
    for b in prange(bounds.size - 1):
        lo, hi = bounds[b], bounds[b + 1]
        _neurons_brette(lo, hi, V, g_e, g_i, t_last, t_k, c, work, (v[b], f[b], h[b], z[b], lanes[b]))
        found[b] = _collect(flags, lo, hi, listed, lo)
    n_new = _gather(bounds, found, listed, spikes)
    m = _split(spikes, n_new, c.n_exc)
    for b in prange(bounds.size - 1):  # 4. delivered at once (pending, as in step_brette)
        scatter(spikes, 0, m, c.w_e, b_indptr[b], b_indices, b_counts, x_e)
        scatter(spikes, m, n_new, c.w_i, b_indptr[b], b_indices, b_counts, x_i)
    return n_new


@_jit
def _gather(bounds, found, listed, spikes):
    """Concatenate the blocks' spike lists (each at its block's start in ``listed``) into
    ``spikes``, ascending; return the total."""
    n = 0
    for b in range(bounds.size - 1):
        for q in range(found[b]):
            spikes[n + q] = listed[bounds[b] + q]
        n += found[b]
    return n


@_jit
def _partition_arrays(indptr, indices, counts, width, b_indptr, b_indices, b_counts):
    """Fill the blocks' CSR copies: entries onto block b = target // width, each row's in
    stored order; b_indptr[b, i] .. b_indptr[b, i + 1] are row i's entries in block b."""
    n = indptr.size - 1
    n_blocks = b_indptr.shape[0]
    for i in range(n):  # entries per (block, row)
        for p in range(indptr[i], indptr[i + 1]):
            b_indptr[indices[p] // width, i + 1] += 1
    total = 0
    for b in range(n_blocks):  # block-major offsets into one array
        b_indptr[b, 0] = total
        for i in range(n):
            total += b_indptr[b, i + 1]
            b_indptr[b, i + 1] = total
    cursor = b_indptr[:, :n].copy()
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            b = indices[p] // width
            q = cursor[b, i]
            cursor[b, i] = q + 1
            b_indices[q] = indices[p]
            if counts.size:
                b_counts[q] = counts[p]


def partition(conn, n_blocks: int):
    """The connectivity split by target block for the threaded steps.

    Parameters
    ----------
    conn : tuple of ndarray
        ``(indptr, indices, counts)`` as :func:`refsim.engines.engine_inputs` makes them.
    n_blocks : int
        Blocks of contiguous neurons, >= 1; each :data:`BLOCK` wide but the last.

    Returns
    -------
    tuple
        ``(bounds, b_indptr, b_indices, b_counts)``: block b is neurons bounds[b] ..
        bounds[b+1]-1; the entries of row i onto block b are b_indices[b_indptr[b, i]:
        b_indptr[b, i + 1]] (counts likewise; empty for unit counts), in stored order.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.engines.numba_engine import partition
    >>> indptr = np.r_[0, 3, np.full(1023, 4)].astype(np.int32)  # 0 -> 1023, 0, 600; 1 -> 2
    >>> indices = np.array([1023, 0, 600, 2], np.int32)
    >>> bounds, b_indptr, b_indices, _ = partition((indptr, indices, np.zeros(0)), 2)
    >>> bounds.tolist(), b_indices.tolist(), b_indptr[:, :3].tolist()
    ([0, 512, 1024], [0, 2, 1023, 600], [[0, 1, 2], [2, 4, 4]])
    """
    indptr, indices, counts = conn
    n = indptr.size - 1
    width = BLOCK * max(1, -(-n // (BLOCK * n_blocks)))  # a multiple of BLOCK (and of 8)
    n_blocks = max(1, -(-n // width))
    bounds = np.minimum(np.arange(n_blocks + 1, dtype=np.int64) * width, n)
    b_indptr = np.zeros((n_blocks, n + 1), np.int32)
    b_indices = np.empty(indices.size, np.int32)
    b_counts = np.empty(counts.size, counts.dtype)
    _partition_arrays(indptr, indices, counts, width, b_indptr, b_indices, b_counts)
    return bounds, b_indptr, b_indices, b_counts


@_jit
def _record_trace(trace, k, values, neurons):
    if trace.shape[0]:
        for r in range(neurons.size):
            trace[k, r] = values[neurons[r]]


@_jit
def _record_trace_pending(trace, k, g, x, neurons):
    """trace[k] <- g + x of the recorded neurons: Brette's order's pending step 4."""
    if trace.shape[0]:
        for r in range(neurons.size):
            trace[k, r] = g[neurons[r]] + x[neurons[r]]


@_jit
def _run(V, g_e, g_i, t_last, times, k_start, k_stop, indptr, indices, counts, part, c,
         record_neurons, trace_V, trace_g_e, trace_g_i, capacity):
    """Steps k_start .. k_stop-1; returns the spikes as (step, neuron) int32 arrays. With
    more than one block in ``part`` the threaded steps run, else the serial ones."""
    n = V.size
    threaded = part[0].size > 2
    n_blocks = part[0].size - 1
    work = (np.zeros(n, V.dtype), np.zeros(n, V.dtype), np.zeros(-(-n // 8) * 8, np.bool_))
    tmp = (np.empty((n_blocks, BLOCK), V.dtype), np.empty((n_blocks, BLOCK), V.dtype),
           np.empty((n_blocks, BLOCK), V.dtype), np.empty((n_blocks, BLOCK), V.dtype),
           np.empty((n_blocks, BLOCK), np.intp))
    lists = (np.zeros(n_blocks, np.int64), np.empty(n if threaded else 0, np.int32))
    spikes = np.empty(n, np.int32)
    n_spikes = 0
    if c.brainpy_schedule:
        # 1. (first step only) the spikes of the step before
        for j in range(n):
            if spike_test(V[j], c):
                spikes[n_spikes] = j
                n_spikes += 1
    out_steps = np.empty(capacity, np.int32)
    out_neurons = np.empty(capacity, np.int32)
    total = 0
    for k in range(k_start, k_stop):
        if threaded and c.brainpy_schedule:
            n_spikes = step_brainpy_threaded(V, g_e, g_i, t_last, times[k], part, c, spikes,
                                             n_spikes, work, tmp, lists)
        elif threaded:
            n_spikes = step_brette_threaded(V, g_e, g_i, t_last, times[k], part, c, spikes, work,
                                            tmp, lists)
        elif c.brainpy_schedule:
            first = (tmp[0][0], tmp[1][0], tmp[2][0], tmp[3][0], tmp[4][0])
            n_spikes = step_brainpy(V, g_e, g_i, t_last, times[k], indptr, indices, counts, c,
                                    spikes, n_spikes, work, first)
        else:
            first = (tmp[0][0], tmp[1][0], tmp[2][0], tmp[3][0], tmp[4][0])
            n_spikes = step_brette(V, g_e, g_i, t_last, times[k], indptr, indices, counts, c,
                                   spikes, work, first)
        if total + n_spikes > out_steps.size:  # grow the buffers geometrically
            size = max(2 * out_steps.size, total + n_spikes)
            grown_steps, grown_neurons = np.empty(size, np.int32), np.empty(size, np.int32)
            grown_steps[:total] = out_steps[:total]
            grown_neurons[:total] = out_neurons[:total]
            out_steps, out_neurons = grown_steps, grown_neurons
        out_steps[total:total + n_spikes] = k
        out_neurons[total:total + n_spikes] = spikes[:n_spikes]
        total += n_spikes
        row = k - k_start  # the trace arrays hold this chunk's steps
        _record_trace(trace_V, row, V, record_neurons)
        if c.brainpy_schedule:
            _record_trace(trace_g_e, row, g_e, record_neurons)
            _record_trace(trace_g_i, row, g_i, record_neurons)
        else:
            _record_trace_pending(trace_g_e, row, g_e, work[0], record_neurons)
            _record_trace_pending(trace_g_i, row, g_i, work[1], record_neurons)
    if not c.brainpy_schedule:  # the last step's pending step 4
        for j in range(n):
            g_e[j] = g_e[j] + work[0][j]
            g_i[j] = g_i[j] + work[1][j]
    return out_steps[:total], out_neurons[:total]


def run_steps(state: State, times, k_start, k_stop, conn, c: Constants, recorder, threads=1):
    """Advance ``state`` in place through steps k_start .. k_stop-1 (same contract as
    :func:`refsim.engines.numpy_engine.run_steps`); spikes go to ``recorder`` as one block.

    Parameters
    ----------
    state : refsim.state.State
        Its arrays are replaced by contiguous ones of the run's float type, updated in place.
    times, k_start, k_stop, conn, c, recorder
        As :func:`refsim.engines.numpy_engine.run_steps` takes them.
    threads : int
        Threads, 1 .. ``numba.config.NUMBA_NUM_THREADS``. Above 1 the neurons are split into
        ``threads`` contiguous blocks, each with its copy of the connectivity onto it
        (:func:`partition`, made once per run and kept for its next chunks: it costs the
        indices, and counts, once more), stepped in parallel with the same bits.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.engines import engine_inputs, numba_engine, numpy_engine
    >>> from refsim.network import draw_network
    >>> from refsim.recording import Recorder
    >>> config = refsim.get_preset("brette2007-coba", n_exc=40, n_inh=10, duration=20.0)
    >>> connectivity, state = draw_network(config, 0)
    >>> c, times, conn = engine_inputs(config, connectivity)
    >>> runs = []
    >>> for engine in (numba_engine, numpy_engine):
    ...     recorder, s = Recorder(config.n_steps, [], (), c.dtype), state.copy()
    ...     engine.run_steps(s, times, 0, config.n_steps, conn, c, recorder)
    ...     runs.append((recorder.spikes(), s.V))
    >>> (a, V_a), (b, V_b) = runs
    >>> np.array_equal(a[0], b[0]), np.array_equal(a[1], b[1]), np.array_equal(V_a, V_b)
    (True, True, True)
    """
    indptr, indices, counts = conn
    arrays = [np.ascontiguousarray(getattr(state, name), dtype=c.dtype)
              for name in STATE_FIELDS]
    for name, array in zip(STATE_FIELDS, arrays, strict=True):
        setattr(state, name, array)  # the kernel updates these arrays in place
    empty = np.empty((0, 0), c.dtype)
    block = recorder.trace_block(k_start, k_stop)
    traces = [block.get(name, empty) for name in ("V", "g_e", "g_i")]
    part = _partition_for(conn, threads)
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        steps, neurons = _run(*arrays, times, k_start, k_stop, indptr, indices, counts, part,
                              kernel_constants(c), recorder.record_neurons, *traces,
                              spike_capacity(c.n_neurons, k_stop - k_start))
    finally:
        numba.set_num_threads(previous)
    # copies: the kernel's buffers have room for up to twice as many spikes
    recorder.add_block(steps.copy(), neurons.copy(), k_stop)


#: The partition of the current threaded run, kept for its next chunks; dropped when its
#: connectivity's indices are freed (a weak reference), so it never outlives its run's network.
_partitions: dict = {}
_partitions_lock = threading.Lock()


def _partition_for(conn, threads: int):
    """:func:`partition` of ``conn`` into ``threads`` blocks, made once per run; for one thread
    a single block on the arrays themselves."""
    indptr, indices, counts = conn
    if threads == 1:
        return (np.array([0, indptr.size - 1], np.int64), indptr.reshape(1, -1), indices, counts)
    key = (id(indptr), id(indices), id(counts), counts.dtype.str, counts.size, threads)
    with _partitions_lock:  # runs in Python threads must not swap each other's partition
        if _partitions.get("key") == key:
            return _partitions["part"]
        _partitions.clear()  # one at a time: the copy is as large as the connectivity
        part = partition(conn, threads)
        _partitions.update(key=key, part=part)
        weakref.finalize(indices, _forget, key)
        return part


def _forget(key):
    with _partitions_lock:
        if _partitions.get("key") == key:
            _partitions.clear()
