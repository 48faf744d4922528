r"""Accurate event-driven solution of the continuous-time COBA network: the ground truth for dt.

Every time-stepped engine approximates one continuous-time model. This module solves that
model to near machine precision for small and medium networks (up to a few hundred neurons),
so that the difference between a time-stepped run and the truth can be measured instead of
guessed (``validation/dt_convergence.py``, ``docs/accuracy.md``).

The continuous model
--------------------
Between events every neuron obeys (times in ms, voltages in mV, conductances in ``[g]``)

.. math::

    \tau_m \frac{dV}{dt} = (V_{rest} - V) + RI_{ext} + R_g g_e(t) (E_e - V) + R_g g_i(t) (E_i - V),
    \qquad g_x(t) = g_x(t_0)\, e^{-(t - t_0)/\tau_x},

so the conductances are known in closed form and only V needs an ODE. That ODE is linear in
V with time-dependent coefficients, :math:`\tau_m \dot V = a(t) - b(t) V`; the integrating
factor gives :math:`V(t) = e^{-\Lambda(t)} [V(t_0) + \int_{t_0}^t e^{\Lambda(s)} a(s)/\tau_m ds]`
with :math:`\Lambda(t) = \int_{t_0}^t b/\tau_m`, available in closed form, but the remaining
integral of :math:`\exp(c_e e^{-s/\tau_e} + c_i e^{-s/\tau_i})` times exponentials has no
elementary antiderivative (incomplete-gamma / exponential-integral-type terms for one
conductance, none in closed form for two with different time constants). It is integrated
numerically here. With constant conductances the solution is the closed form
:math:`V(t) = V_\infty + (V_0 - V_\infty) e^{-t/\tau_{eff}}`,
:math:`V_\infty = (V_{rest} + RI_{ext} + R_g(g_e E_e + g_i E_i)) / (1 + R_g(g_e + g_i))`,
:math:`\tau_{eff} = \tau_m / (1 + R_g(g_e + g_i))`, which the tests use to check the solver.

Events, all applied at their exact times:

* **threshold crossing**: V of a non-refractory neuron reaches V_th from below at t*. The
  spike is recorded at t*; V is set to V_reset and held there for tau_ref (refractory until
  t* + tau_ref); each target j of the neuron receives g_x[j] += w_x * (synapse count) at
  t* + ``delay``.
* **refractory end**: the neuron's V starts to evolve again from V_reset.
* **delivery** (``delay`` > 0 only): the conductance jumps of a spike arrive.

The continuous limit of each schedule (what a time-stepped run converges to as dt -> 0)
-----------------------------------------------------------------------------------------
``schedule='brainpy'``: the spike detected at the end of step k (time (k+1) dt) enters g at
step k+1, whose V update uses it from time (k+1) dt on: the delivery lag is at most one step
and vanishes with dt. The soft reset happens at the start of the next step, i.e. at the same
time (k+1) dt. In the limit the crossing is at V = V_th exactly, so the soft reset
V - (V_th - V_reset) and the hard reset both give V_reset: **delay 0, reset to V_reset at the
crossing, refractory for tau_ref**. ``schedule='brette'`` delivers in the step that detects
the spike: the same limit. The threshold test (``>=`` or ``>``) differs only on a set of
measure zero, and ``integrator``, ``dtype``, ``arithmetic``, ``expm1`` and ``dt`` do not enter the
continuous model; this solver ignores them and computes in float64.

"The preset's synaptic delay" is therefore 0 for every built-in preset, which is the default
of ``delay``. A positive ``delay`` (ms) models a network with a true transmission delay
(e.g. to compare with a simulator that imposes one, as NEST imposes at least one step).

Initial state (t = 0): a neuron with spike_test(V0) true (the config's ``threshold_test``)
fires at t = 0. This follows the t = 0 behaviour of each schedule: ``brainpy``: the spike is
delivered but **not recorded**, the reset (soft: V0 - (V_th - V_reset); hard: V_reset) is
applied and there is no refractory period (BrainPy treats V0 as the spikes of step -1);
``brette``: the spike is recorded at t = 0, reset as configured, refractory until tau_ref.
A given ``t_last`` (initial state) holds a neuron refractory until t_last + tau_ref, at its
initial V (brainpy) or at V_reset (brette), as the engines' clamps do.

Sampled values are right-continuous: V sampled exactly at a spike time is the reset value.

Numerical method
----------------
The network is advanced from event to event. Between two events the V of all non-refractory
neurons (independent of each other while no event happens) is integrated as one vector ODE
by SciPy's 8th-order Dormand-Prince method, :class:`scipy.integrate.DOP853`, the integrator
that ``scipy.integrate.solve_ivp(method='DOP853')`` runs, stepped directly so that the
threshold of every neuron can be watched after every step (``solve_ivp``'s event mechanism
takes one Python callback per neuron per step and only sees sign changes at step ends).
Defaults rtol = atol = 1e-12; the next scheduled event is the integration bound. After each
step the 7th-order dense output is sampled at 16 points per neuron; the first sample at or
above V_th brackets the crossing, which :func:`scipy.optimize.brentq` then locates on the
dense output to 1e-13 ms. A neuron whose samples come within the curvature-based margin of
V_th without reaching it gets its interior maximum located (bounded Brent search), so that a
grazing crossing shorter than the sample spacing is not missed. The earliest crossing in the
network ends the step; integration restarts there (from the dense-output state) after the
event. The conductances are updated in closed form at every event.

Accuracy (tests/test_exact.py): V within 1e-8 mV of the closed forms, spike times within
1e-9 ms, on single neurons and a small network with frozen conductances, and within 1e-8 mV
of the integrating-factor solution (adaptive quadrature) for decaying conductances.

Cost: O(N) per solver step and one restart per event; a few hundred neurons for 200 ms take
seconds to a minute (see ``docs/accuracy.md``).
"""

from __future__ import annotations

import math
import reprlib
import time
from dataclasses import dataclass, field

import numpy as np

from ..connectivity import Connectivity
from ..network import check_network_args, check_seed, draw_checked
from ..params import Config, ConfigError, plain_scalar
from ..recording import check_record, check_record_vars
from ..state import STATE_FIELDS, STATE_VARIABLES
from .events import EventLoop, SynapticTargets

__all__ = ["ExactResult", "simulate_exact"]

_TOL_RANGE = (1e-13, 1e-10)


@dataclass
class ExactResult:
    """Spikes and sampled state of an accurate event-driven run.

    Attributes
    ----------
    spike_times : ndarray of float64
        Spike times in ms (exact threshold-crossing times), non-decreasing.
    spike_neurons : ndarray of int32
        Neuron index of each spike.
    config : Config
        The configuration (its integrator, dt, dtype, arithmetic and expm1 are not used).
    seed : int or None
        A plain ``int`` whatever integer type was given.
    delay : float
        Synaptic delay, ms (0: conductances jump at the spike time).
    sample_times : ndarray of float64
        Times (ms) at which ``traces`` were sampled (right-continuous values).
    traces : dict of str to ndarray
        ``traces['V'][j, i]``: V (mV) of neuron ``record_neurons[i]`` at ``sample_times[j]``;
        likewise ``g_e``, ``g_i`` ([g]). float64.
    record_neurons : ndarray of int64
    initial_spikes : ndarray of int32
        Neurons that fired at t = 0 from the initial state without being recorded
        (``schedule='brainpy'``; empty for ``brette``, whose t = 0 spikes are recorded).
    final_state : dict of str to ndarray
        V (mV), g_e, g_i ([g]) at t = duration and t_last (ms, last spike time, -1e7 if
        none), float64.
    stats : dict
        Solver work: ``steps`` (accepted DOP853 steps), ``rhs_evaluations``, ``segments``
        (integrations between consecutive events), ``grazing_checks`` (interior maxima
        searched), ``rtol``, ``atol``.
    wall_time : float
        Seconds.

    Examples
    --------
    >>> import refsim
    >>> config = refsim.get_preset("tutorial-normalized", n_exc=1, n_inh=0, w_e=0.0, w_i=0.0,
    ...                            V0_mean=-60.0, V0_std=0.0, duration=30.0)
    >>> refsim.simulate_exact(config, seed=0)
    <ExactResult: 1 spikes, 1 neurons, 30.0 ms, delay 0.0 ms>
    """

    spike_times: np.ndarray
    spike_neurons: np.ndarray
    config: Config
    seed: int | None
    delay: float
    sample_times: np.ndarray
    traces: dict = field(default_factory=dict)
    record_neurons: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    initial_spikes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    final_state: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    wall_time: float = 0.0

    @property
    def n_spikes(self) -> int:
        """Number of recorded spikes.

        Returns
        -------
        int
            The length of ``spike_times``.

        Examples
        --------
        See :meth:`spike_counts`.
        """
        return int(self.spike_times.size)

    def spike_counts(self) -> np.ndarray:
        """Spikes per neuron, shape (N,).

        Returns
        -------
        ndarray of int64, shape (N,)
            Neuron i's number of spikes in the run.

        Examples
        --------
        >>> import refsim
        >>> config = refsim.get_preset("tutorial-normalized", n_exc=1, n_inh=0, w_e=0.0, w_i=0.0,
        ...                            V0_mean=-60.0, V0_std=0.0, duration=30.0)
        >>> r = refsim.simulate_exact(config, seed=0)
        >>> r.n_spikes, r.spike_counts().tolist()
        (1, [1])
        """
        return np.bincount(self.spike_neurons, minlength=self.config.n_neurons)

    def __repr__(self):
        return (f"<ExactResult: {self.n_spikes} spikes, {self.config.n_neurons} neurons, "
                f"{self.config.duration} ms, delay {self.delay} ms>")


def _real(name, value, allowed: str, ok) -> float:
    """``value`` as a Python float if it is a real number (Python or NumPy, not a bool) for
    which ``ok(float)`` holds, else ConfigError ``<name> = <value>: allowed <allowed>``."""
    v = plain_scalar(value)
    if not isinstance(v, bool) and isinstance(v, (int, float)):
        try:
            v = float(v)
        except OverflowError:  # an int beyond the float range
            v = math.inf
        if math.isfinite(v) and ok(v):
            return v
    raise ConfigError(f"{name} = {reprlib.repr(value)}: allowed {allowed}")


def _check_tol(name, value) -> float:
    lo, hi = _TOL_RANGE
    return _real(name, value, f"{lo} <= {name} <= {hi}", lambda v: lo <= v <= hi)


def _check_sample_times(sample_times, duration: float) -> np.ndarray:
    """``sample_times`` as a 1-d float64 array of non-decreasing times in [0, duration] ms
    (empty for None; a single number is one time), else ConfigError naming the first bad one."""
    if sample_times is None:
        return np.zeros(0)
    allowed = f"allowed a sequence of non-decreasing times in [0, duration = {duration}] ms"
    try:
        a = np.asarray(sample_times)
    except (TypeError, ValueError):  # ragged
        raise ConfigError(f"sample_times = {reprlib.repr(sample_times)}: {allowed}") from None
    if a.size == 0:
        return np.zeros(0)
    if a.ndim > 1 or a.dtype.kind not in "iuf":  # not bool, complex, timedelta64, str, object
        raise ConfigError(f"sample_times = {reprlib.repr(sample_times)} ({a.dtype}, shape "
                          f"{a.shape}): {allowed}")
    times = a.astype(np.float64).ravel()
    bad = np.flatnonzero(~np.isfinite(times) | (times < 0) | (times > duration))
    if bad.size:
        i = int(bad[0])
        raise ConfigError(f"sample_times[{i}] = {float(times[i])!r}: {allowed}")
    down = np.flatnonzero(np.diff(times) < 0)
    if down.size:
        i = int(down[0])
        raise ConfigError(f"sample_times[{i + 1}] = {float(times[i + 1])!r} < sample_times[{i}] = "
                          f"{float(times[i])!r}: {allowed}")
    return times


def simulate_exact(config: Config, seed: int | None = 0, *,
                   connectivity: Connectivity | None = None, initial: dict | None = None,
                   delay: float = 0.0, sample_times=None, record=None,
                   record_vars=STATE_VARIABLES, rtol: float = 1e-12,
                   atol: float = 1e-12) -> ExactResult:
    """Solve the continuous-time network of ``config`` accurately, event by event.

    The model, the events and the continuous limit of each schedule are defined in the
    module docstring. Connectivity and initial state are drawn exactly as
    :func:`refsim.simulate` draws them from ``seed`` (or taken from ``connectivity`` and
    ``initial``), so a time-stepped run and this one start from the same network and state.

    Parameters
    ----------
    config : Config
        Any preset, possibly with overrides. ``dt`` only matters for drawing nothing: the
        run covers [0, ``config.duration``] ms.
    seed : int, optional
        As in :func:`refsim.simulate` (None only with ``connectivity`` and a complete
        ``initial``).
    connectivity : Connectivity, optional
    initial : dict of array_like, optional
        Initial V (mV), g_e, g_i ([g]), t_last (ms), shape (N,); missing ones are drawn.
    delay : float
        Synaptic delay in ms, finite and >= 0 (0, the continuous limit of both schedules, by
        default).
    sample_times : array_like of float, optional
        Non-decreasing times in [0, duration] ms at which the state of ``record`` neurons is
        sampled (1-d; real numbers, not bools).
    record : sequence of int, optional
        Neurons whose ``record_vars`` are sampled.
    record_vars : str or sequence of str
        Subset of ('V', 'g_e', 'g_i').
    rtol, atol : float
        DOP853 tolerances (relative; absolute in mV), each in [1e-13, 1e-10].

    Returns
    -------
    ExactResult

    Raises
    ------
    ConfigError
        A parameter outside its allowed range (named in the message), or an initial V so far
        above threshold that it is still above after the t = 0 reset.

    Notes
    -----
    Every argument is checked before anything is built. ``config``, ``seed``,
    ``connectivity``, ``initial``, ``record`` and ``record_vars`` are checked by the functions
    :func:`refsim.simulate` calls (:func:`refsim.network.check_network_args`,
    :func:`~refsim.network.check_seed`, :func:`refsim.recording.check_record`,
    :func:`~refsim.recording.check_record_vars`), so both accept and refuse the same values.
    Every number may be a Python or NumPy scalar (stored as the Python one,
    :func:`refsim.params.plain_scalar`); bools are refused where a number is meant.

    Examples
    --------
    >>> import refsim
    >>> from refsim.exact import simulate_exact
    >>> config = refsim.get_preset("tutorial-normalized", n_exc=1, n_inh=0, w_e=0.0, w_i=0.0,
    ...                            V0_mean=-60.0, V0_std=0.0, duration=30.0)
    >>> r = simulate_exact(config, seed=0)
    >>> round(float(r.spike_times[0]), 10)   # 20 ms * ln 2: from V_reset to V_th, V_inf = -40 mV
    13.8629436112
    """
    t_wall = time.perf_counter()
    # every argument, before anything is built: the network's and the recording's with the
    # checks refsim.simulate makes, then this solver's own
    given = check_network_args(config, seed, connectivity, initial)
    seed = check_seed(seed, config, connectivity)
    record_vars = check_record_vars(record_vars)
    record = check_record(record, config.n_neurons)
    delay = _real("delay", delay, "a finite delay >= 0 ms", lambda v: v >= 0)
    rtol = _check_tol("rtol", rtol)
    atol = _check_tol("atol", atol)
    samples = _check_sample_times(sample_times, float(config.duration))

    # the same network, and the same (possibly float32-rounded) initial values, as a
    # time-stepped run of this config
    connectivity, st = draw_checked(config, seed, connectivity, given)
    solver = EventLoop(config, SynapticTargets(connectivity, config), delay, rtol, atol,
                       samples, record, record_vars,
                       *(np.asarray(getattr(st, name), np.float64)
                         for name in STATE_FIELDS))
    solver.run()

    times = np.asarray(solver.spike_t, np.float64)
    neurons = np.asarray(solver.spike_i, np.int32)
    order = np.argsort(times, kind="stable")
    return ExactResult(
        spike_times=times[order], spike_neurons=neurons[order], config=config, seed=seed,
        delay=delay, sample_times=samples,
        traces={k: v for k, v in solver.traces.items()}, record_neurons=record,
        initial_spikes=np.asarray(solver.initial_spikes, np.int32),
        final_state=solver.final_state, stats=solver.stats,
        wall_time=time.perf_counter() - t_wall)
