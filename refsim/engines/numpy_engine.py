"""The NumPy engine: the oracle. Plain array code, one function per step of the specification.

The formulas are :mod:`refsim.model`'s (``spike_test``, ``integrate_conductance``, ...), the
very functions the compiled engines compile; this module adds what only array code needs (the
scatter as ``np.add.at``, the step factor with refsim's exprel on arrays) and the two step
functions, whose numbered comments are the step order of :mod:`refsim.model`.
"""

from __future__ import annotations

import numpy as np

from .. import elementary
from ..model import (
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
from ..state import State

__all__ = ["csr_entries", "scatter", "integrate_voltage", "step_brainpy",
           "step_brette", "run_steps"]


def csr_entries(indptr, rows):
    """Positions in the CSR arrays of all entries of ``rows``, rows in the given order.

    Parameters
    ----------
    indptr : ndarray of int
        CSR row pointers.
    rows : ndarray of int
        Row (presynaptic neuron) indices.

    Returns
    -------
    ndarray of int
        ``indptr[r] .. indptr[r+1]-1`` for each row r, concatenated.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.engines.numpy_engine import csr_entries
    >>> csr_entries(np.array([0, 2, 3, 5]), np.array([2, 0])).tolist()
    [3, 4, 0, 1]
    """
    starts, stops = indptr[rows], indptr[rows + 1]
    lengths = stops - starts
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(lengths.sum())


def scatter(spiking, first_row, w, conn_arrays, c: Constants):
    """Input of one projection: x[j] = w * (synapses from spiking presynaptic rows onto j).

    Summed synapse by synapse in the float type, presynaptic neurons ascending and each row's
    targets in stored order (``np.add.at`` is unbuffered and sequential), as BrainPy does.

    Parameters
    ----------
    spiking : ndarray of bool
        Spike flags of the projection's presynaptic neurons (rows first_row, first_row + 1,
        ...).
    first_row : int
        The projection's first row: 0 (E) or n_exc (I).
    w : scalar
        The projection's weight ([g]): ``c.w_e`` or ``c.w_i``.
    conn_arrays : tuple of ndarray
        (indptr, indices, counts) of the whole N x N matrix, counts in the run's float type
        (empty when every entry is one synapse: :func:`refsim.engines.engine_inputs`).
    c : Constants

    Returns
    -------
    ndarray, shape (N,)
        x ([g]), in the run's float type.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.engines import engine_inputs
    >>> config = refsim.get_preset("tutorial-normalized", n_exc=2, n_inh=1)
    >>> connectivity = refsim.from_index_arrays([[1, 1], [2, 0]], [[0, 1]])
    >>> c, _, conn = engine_inputs(config, connectivity)
    >>> scatter(np.array([True, False]), 0, c.w_e, conn, c).tolist()   # neuron 0 -> 1 twice
    [0.0, 1.2, 0.0]
    """
    indptr, indices, counts = conn_arrays
    x = np.zeros(c.n_neurons, c.dtype)
    rows = np.flatnonzero(spiking) + first_row
    entries = csr_entries(indptr, rows)
    # w * 1 is w exactly: unit counts (an empty ``counts``) add w itself
    np.add.at(x, indices[entries], w * counts[entries] if counts.size else w)
    return x


def integrate_voltage(v, g_e, g_i, c: Constants):
    """One step of the membrane equation from v with conductances g_e, g_i frozen (step 5).

    Parameters
    ----------
    v : ndarray
        Membrane potential (mV).
    g_e, g_i : ndarray
        Conductances ([g]).
    c : Constants

    Returns
    -------
    ndarray
        ``advance(v, step_factor(J), f)`` (mV), before the refractory clamp.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.model import Constants
    >>> from refsim.engines.numpy_engine import integrate_voltage
    >>> c = Constants.from_config(refsim.get_preset("tutorial-normalized"))
    >>> integrate_voltage(np.array([-60.0]), np.zeros(1), np.zeros(1), c).tolist()
    [-59.90024958385364]
    """
    J = membrane_jacobian(g_e, g_i, c)
    # exprel on arrays: every case of the function is evaluated for every neuron and one kept,
    # as the compiled engines do
    h = step_factor(J, lambda z: elementary.exprel(z, c.expm1), c)
    return advance(v, h, membrane_rhs(v, g_e, g_i, c), c)


def step_brainpy(state: State, t_k, conn, c: Constants):
    """One step in BrainPy's order (spikes act one step later). Returns this step's spikes.

    Parameters
    ----------
    state : refsim.state.State
        Updated in place.
    t_k : scalar
        The step's time (ms).
    conn : tuple of ndarray
        (indptr, indices, counts), counts in the run's float type.
    c : Constants

    Returns
    -------
    ndarray of bool, shape (N,)
        spike_test(V) after the step.

    Examples
    --------
    >>> import refsim
    >>> from refsim.engines import engine_inputs
    >>> from refsim.network import draw_network
    >>> config = refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0)
    >>> connectivity, state = draw_network(config, 0)
    >>> c, times, conn = engine_inputs(config, connectivity)
    >>> state.V[:] = -50.01                   # just below threshold: the drive lifts all above
    >>> int(step_brainpy(state, times[0], conn, c).sum())
    10
    """
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
    state.V = elementary.select(refractory(t_k, state.t_last, c), v, V_candidate)
    # 7. this step's spikes
    spikes = spike_test(state.V, c)
    state.t_last = elementary.select(spikes, t_k, state.t_last)
    return spikes


def step_brette(state: State, t_k, conn, c: Constants):
    """One step in Brette et al.'s order (spikes act in the same step). Returns its spikes.

    Parameters
    ----------
    state, t_k, conn, c
        As for :func:`step_brainpy`.

    Returns
    -------
    ndarray of bool, shape (N,)
        The spikes of step 3 (their neurons are reset).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim import engines, get_preset, network
    >>> config = get_preset("brette2007-coba", n_exc=8, n_inh=2, duration=20.0)
    >>> connectivity, state = network.draw_network(config, 0)
    >>> c, times, conn = engines.engine_inputs(config, connectivity)
    >>> state.V[:] = -45.0
    >>> spikes = step_brette(state, times[0], conn, c)
    >>> int(spikes.sum()), bool(np.all(state.V[spikes] == c.V_reset))
    (7, True)
    """
    # 1. integrate V, g_e, g_i from the old values
    V_new = integrate_voltage(state.V, state.g_e, state.g_i, c)
    g_e = integrate_conductance(state.g_e, c.tau_e, c.r_e, c.a_e, c)
    g_i = integrate_conductance(state.g_i, c.tau_i, c.r_i, c.a_i, c)
    # 2. refractory clamp
    V_new = elementary.select(refractory(t_k, state.t_last, c), c.V_reset, V_new)
    # 3. this step's spikes
    spikes = spike_test(V_new, c)
    # 4. delivered at once
    state.g_e = g_e + scatter(spikes[:c.n_exc], 0, c.w_e, conn, c)
    state.g_i = g_i + scatter(spikes[c.n_exc:], c.n_exc, c.w_i, conn, c)
    # 5. reset
    state.V = reset(V_new, spikes, c)
    state.t_last = elementary.select(spikes, t_k, state.t_last)
    return spikes


def run_steps(state: State, times, k_start, k_stop, conn, c: Constants, recorder):
    """Advance ``state`` through steps k_start .. k_stop-1, handing each step to ``recorder``
    (:meth:`refsim.recording.Recorder.record_step`).

    ``conn`` is the (indptr, indices, counts) triple of the whole N x N matrix, counts already
    in the run's float type; the E projection is rows 0 .. n_exc-1, the I projection the rest.

    Parameters
    ----------
    state : refsim.state.State
        Updated in place.
    times : ndarray
        Step times t_k (ms) of the whole run, :meth:`refsim.model.Constants.step_times`.
    k_start, k_stop : int
        The steps to run.
    conn : tuple of ndarray
    c : Constants
    recorder : refsim.recording.Recorder

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.engines import engine_inputs
    >>> config = refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0)
    >>> connectivity, state = refsim.network.draw_network(config, 0)
    >>> c, times, conn = engine_inputs(config, connectivity)
    >>> from refsim.recording import Recorder
    >>> recorder = Recorder(config.n_steps, [], (), c.dtype)
    >>> run_steps(state, times, 0, config.n_steps, conn, c, recorder)
    >>> run = refsim.simulate(config, 0, progress=False)          # the Numba engine
    >>> np.array_equal(recorder.spikes()[0], run.spike_steps), np.array_equal(state.V, run.final_state["V"])
    (True, True)
    """
    step = step_brainpy if c.brainpy_schedule else step_brette
    for k in range(k_start, k_stop):
        spikes = step(state, times[k], conn, c)
        recorder.record_step(k, np.flatnonzero(spikes), state)
