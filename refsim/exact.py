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

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import DOP853
from scipy.optimize import brentq, minimize_scalar

from .connectivity import Connectivity, build_connectivity, check_matches
from .params import Config, ConfigError
from .result import SimulationResult
from .simulate import derive_seeds
from .state import STATE_VARIABLES, initial_state

__all__ = ["ExactResult", "simulate_exact", "step_end_spike_times", "divergence_time",
           "pair_spikes"]

_SAMPLES_PER_STEP = 16  # dense-output samples per solver step for crossing detection
_ROOT_XTOL = 1e-13      # ms, bracket width at which brentq stops
_MAX_STEP = 1.0         # ms, largest solver step (bounds the sample spacing)
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
        return int(self.spike_times.size)

    def spike_counts(self) -> np.ndarray:
        """Spikes per neuron, shape (N,)."""
        return np.bincount(self.spike_neurons, minlength=self.config.n_neurons)

    def __repr__(self):
        return (f"<ExactResult: {self.n_spikes} spikes, {self.config.n_neurons} neurons, "
                f"{self.config.duration} ms, delay {self.delay} ms>")


def _check_tol(name, value):
    lo, hi = _TOL_RANGE
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)
            and lo <= value <= hi):
        raise ConfigError(f"{name} = {value!r}: allowed {lo} <= {name} <= {hi}")


class _Network:
    """Connectivity as per-presynaptic-neuron (targets, conductance increments) arrays."""

    def __init__(self, conn: Connectivity, c: Config):
        self.n_exc = c.n_exc
        self.indptr, self.indices = conn.indptr, conn.indices
        w = np.where(np.arange(conn.n_neurons) < c.n_exc, c.w_e, c.w_i)
        # increment of the target's g per stored entry: w * count
        rows = np.repeat(np.arange(conn.n_neurons), np.diff(conn.indptr))
        self.increments = w[rows] * conn.counts

    def deliver(self, neurons, g_e, g_i):
        """Add the conductance jumps of spikes of ``neurons`` to g_e, g_i (in place)."""
        for i in np.atleast_1d(neurons):
            lo, hi = self.indptr[i], self.indptr[i + 1]
            target = g_e if i < self.n_exc else g_i
            np.add.at(target, self.indices[lo:hi], self.increments[lo:hi])


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
        Synaptic delay in ms, >= 0 (0, the continuous limit of both schedules, by default).
    sample_times : array_like of float, optional
        Non-decreasing times in [0, duration] ms at which the state of ``record`` neurons is
        sampled.
    record : sequence of int, optional
        Neurons whose ``record_vars`` are sampled.
    record_vars : sequence of str
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

    Examples
    --------
    >>> import refsim
    >>> from refsim.exact import simulate_exact
    >>> cfg = refsim.get_preset("tutorial-normalized", n_exc=1, n_inh=0, w_e=0.0, w_i=0.0,
    ...                         V0_mean=-60.0, V0_std=0.0, duration=30.0)
    >>> r = simulate_exact(cfg, seed=0)
    >>> round(float(r.spike_times[0]), 10)   # 20 ms * ln 2: from V_reset to V_th, V_inf = -40 mV
    13.8629436112
    """
    t_wall = time.perf_counter()
    if not isinstance(config, Config):
        raise ConfigError(f"config type = {type(config).__name__}: allowed refsim.Config "
                          "(use refsim.get_preset)")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ConfigError(f"seed = {seed!r}: allowed a non-negative int")
    given = {} if initial is None else dict(initial)
    if seed is None and (connectivity is None or not set(STATE_VARIABLES) <= set(given)):
        raise ConfigError("seed = None: allowed only with both connectivity and a complete "
                          "initial state (V, g_e, g_i) given")
    if (isinstance(delay, bool) or not isinstance(delay, (int, float, np.floating))
            or not math.isfinite(delay) or delay < 0):
        raise ConfigError(f"delay = {delay!r}: allowed a finite delay >= 0 ms")
    _check_tol("rtol", rtol)
    _check_tol("atol", atol)
    bad_vars = sorted(set(record_vars) - set(STATE_VARIABLES))
    if bad_vars:
        raise ConfigError(f"record_vars {bad_vars}: allowed a subset of {STATE_VARIABLES}")
    n = config.n_neurons
    record = np.zeros(0, np.int64) if record is None else np.asarray(record, np.int64).ravel()
    if record.size and (record.min() < 0 or record.max() >= n):
        raise ConfigError(f"record: allowed neuron indices 0 .. {n - 1}")
    T = float(config.duration)
    samples = np.zeros(0) if sample_times is None else np.asarray(sample_times, np.float64).ravel()
    if samples.size and (not np.all(np.isfinite(samples)) or samples.min() < 0
                         or samples.max() > T or np.any(np.diff(samples) < 0)):
        raise ConfigError(f"sample_times: allowed non-decreasing times in [0, duration = {T}] ms")

    conn_seed, state_seed = derive_seeds(0 if seed is None else int(seed))
    if connectivity is None:
        legacy = config.conn_rng == "numpy-legacy"
        connectivity = build_connectivity(config, int(seed) if legacy else conn_seed)
    check_matches(connectivity, config)
    # the same (possibly float32-rounded) values a time-stepped run of this config starts from
    st = initial_state(config, state_seed, given)

    solver = _EventSolver(config, _Network(connectivity, config), delay, rtol, atol,
                          samples, record, tuple(record_vars))
    solver.run(st.V.astype(np.float64), st.g_e.astype(np.float64),
               st.g_i.astype(np.float64), st.t_last.astype(np.float64))

    times = np.asarray(solver.spike_t, np.float64)
    neurons = np.asarray(solver.spike_i, np.int32)
    order = np.argsort(times, kind="stable")
    return ExactResult(
        spike_times=times[order], spike_neurons=neurons[order], config=config, seed=seed,
        delay=float(delay), sample_times=samples,
        traces={k: v for k, v in solver.traces.items()}, record_neurons=record,
        initial_spikes=np.asarray(solver.initial_spikes, np.int32),
        final_state=solver.final_state, stats=solver.stats,
        wall_time=time.perf_counter() - t_wall)


class _EventSolver:
    """The event loop of :func:`simulate_exact` (state, events, sampling)."""

    def __init__(self, c: Config, net: _Network, delay, rtol, atol, samples, record, rvars):
        self.c, self.net, self.delay = c, net, float(delay)
        self.rtol, self.atol = rtol, atol
        self.samples, self.record, self.rvars = samples, record, rvars
        self.traces = {v: np.full((samples.size, record.size), np.nan) for v in rvars} \
            if record.size else {}
        self.next_sample = 0
        self.spike_t: list[float] = []
        self.spike_i: list[int] = []
        self.initial_spikes: list[int] = []
        self.pending: list[tuple[float, int, int]] = []  # (time, sequence, neuron) deliveries
        self.seq = 0
        self.stats = {"steps": 0, "rhs_evaluations": 0, "segments": 0, "grazing_checks": 0,
                      "rtol": rtol, "atol": atol}
        self.h_last = None

    # -- state helpers -------------------------------------------------------------------
    def _g_at(self, t):
        """Conductances of all neurons at time t >= t_g (closed form)."""
        c = self.c
        return (self.g_e * math.exp(-(t - self.t_g) / c.tau_e),
                self.g_i * math.exp(-(t - self.t_g) / c.tau_i))

    def _advance_g(self, t):
        self.g_e, self.g_i = self._g_at(t)
        self.t_g = t

    def _sample(self, t_stop, V_of, inclusive=False):
        """Record samples with time < t_stop (<= when inclusive); V_of(ts) -> (N, len(ts))."""
        s, j0 = self.samples, self.next_sample
        if not self.traces or j0 >= s.size:
            return
        j1 = np.searchsorted(s, t_stop, side="right" if inclusive else "left")
        if j1 <= j0:
            return
        ts = s[j0:j1]
        rec = self.record
        if "V" in self.traces:
            self.traces["V"][j0:j1] = V_of(ts)[rec].T
        c = self.c
        if "g_e" in self.traces:
            self.traces["g_e"][j0:j1] = self.g_e[rec][None, :] * np.exp(-(ts - self.t_g) / c.tau_e)[:, None]
        if "g_i" in self.traces:
            self.traces["g_i"][j0:j1] = self.g_i[rec][None, :] * np.exp(-(ts - self.t_g) / c.tau_i)[:, None]
        self.next_sample = j1

    def _spike(self, t, neurons, recorded=True, refractory=True, reset_to=None):
        """Fire ``neurons`` at time t (g already advanced to t)."""
        c = self.c
        neurons = np.atleast_1d(neurons)
        if recorded:
            self.spike_t.extend([t] * neurons.size)
            self.spike_i.extend(int(i) for i in neurons)
        self.V[neurons] = c.V_reset if reset_to is None else reset_to
        if recorded:
            self.t_last[neurons] = t
        if refractory and c.tau_ref > 0:
            self.refractory[neurons] = True
            self.ref_until[neurons] = t + c.tau_ref
        if self.delay == 0:
            self.net.deliver(neurons, self.g_e, self.g_i)
        else:
            for i in neurons:
                heapq.heappush(self.pending, (t + self.delay, self.seq, int(i)))
                self.seq += 1

    # -- the loop ------------------------------------------------------------------------
    def run(self, V, g_e, g_i, t_last):
        c = self.c
        T = float(c.duration)
        self.V, self.g_e, self.g_i, self.t_g = V, g_e, g_i, 0.0
        self.t_last = t_last
        self.ref_until = t_last + c.tau_ref
        self.refractory = self.ref_until > 0
        if c.schedule == "brette":
            self.V[self.refractory] = c.V_reset
        above = V > c.V_th if c.threshold_test == ">" else V >= c.V_th
        fired = np.flatnonzero(above & ~self.refractory)
        V0 = V.copy()
        if fired.size:
            reset_to = V[fired] - (c.V_th - c.V_reset) if c.reset == "soft" else c.V_reset
            if c.schedule == "brainpy":
                self.initial_spikes = [int(i) for i in fired]
                self._spike(0.0, fired, recorded=False, refractory=False, reset_to=reset_to)
            else:
                self._spike(0.0, fired, reset_to=reset_to)
            if np.any(self.V[fired] >= c.V_th):
                bad = fired[self.V[fired] >= c.V_th][0]
                raise ConfigError(
                    f"initial V[{bad}] = {V0[bad]!r} mV: allowed below V_th + (V_th - V_reset)"
                    f" = {2 * c.V_th - c.V_reset} mV (it would still be at or above threshold"
                    " after the t = 0 soft reset)")

        t = 0.0
        while t < T:
            # events due at t: deliveries and refractory ends
            while self.pending and self.pending[0][0] <= t:
                _, _, i = heapq.heappop(self.pending)
                self._advance_g(t)
                self.net.deliver(i, self.g_e, self.g_i)
            ended = self.refractory & (self.ref_until <= t)
            self.refractory[ended] = False
            # an active neuron at or above threshold fires now (initial state, or two
            # crossings closer than the root tolerance)
            active = ~self.refractory
            now = np.flatnonzero(active & (self.V >= c.V_th))
            if now.size:
                self._advance_g(t)
                self._spike(t, now)
                continue
            t_next = T
            if self.pending:
                t_next = min(t_next, self.pending[0][0])
            if self.refractory.any():
                t_next = min(t_next, float(self.ref_until[self.refractory].min()))
            t = self._integrate(t, t_next, np.flatnonzero(active))
        self._advance_g(T)
        self._sample(T, lambda ts: np.repeat(self.V[:, None], ts.size, axis=1), inclusive=True)
        self.final_state = {"V": self.V.copy(), "g_e": self.g_e.copy(), "g_i": self.g_i.copy(),
                            "t_last": self.t_last.copy()}

    def _integrate(self, t0, t_bound, act):
        """Integrate V of the active neurons from t0 towards t_bound; stop at the first
        threshold crossing and fire it. Returns the time reached."""
        c = self.c
        self._advance_g(t0)
        self.stats["segments"] += 1
        if act.size == 0:
            V_now = self.V.copy()
            self._sample(t_bound, lambda ts: np.repeat(V_now[:, None], ts.size, axis=1))
            return t_bound
        drive = c.V_rest + c.RI_ext
        ge0, gi0 = c.R_g * self.g_e[act], c.R_g * self.g_i[act]
        tau_e, tau_i, E_e, E_i, tau_m = c.tau_e, c.tau_i, c.E_e, c.E_i, c.tau_m

        def rhs(t, v):
            ge = ge0 * math.exp(-(t - t0) / tau_e)
            gi = gi0 * math.exp(-(t - t0) / tau_i)
            return (drive - v + ge * (E_e - v) + gi * (E_i - v)) / tau_m

        first = None if self.h_last is None else min(self.h_last, t_bound - t0)
        ode = DOP853(rhs, t0, self.V[act].copy(), t_bound, rtol=self.rtol, atol=self.atol,
                     max_step=_MAX_STEP, first_step=first)
        V_full = self.V

        def V_of_dense(dense):
            def f(ts):
                out = np.repeat(V_full[:, None], ts.size, axis=1)
                out[act] = dense(ts).reshape(act.size, ts.size)
                return out
            return f

        V_th = c.V_th
        while True:
            ode.step()
            if ode.status == "failed":  # cannot happen for this linear ODE; kept loud
                raise RuntimeError(f"DOP853 failed at t = {ode.t} ms: {ode.status}")
            self.stats["steps"] += 1
            self.h_last = ode.step_size
            dense = ode.dense_output()
            ta, tb = ode.t_old, ode.t
            xs = ta + (tb - ta) * np.arange(1, _SAMPLES_PER_STEP + 1) / _SAMPLES_PER_STEP
            xs[-1] = tb
            Vs = np.concatenate([dense.y_old[:, None], dense(xs)], axis=1)  # (n_act, m+1)
            grid = np.r_[ta, xs]
            crossing = self._first_crossing(dense, Vs, grid, V_th)
            if crossing is not None:
                t_star, r = crossing
                self._sample(t_star, V_of_dense(dense))
                self.V[act] = dense(t_star)
                self.stats["rhs_evaluations"] += ode.nfev
                self._advance_g(t_star)
                self._spike(t_star, act[r])
                return t_star
            self._sample(tb, V_of_dense(dense))
            if ode.status == "finished":
                self.V[act] = ode.y
                self.stats["rhs_evaluations"] += ode.nfev
                return t_bound

    def _first_crossing(self, dense, Vs, grid, V_th):
        """Earliest (t*, row) at which a row of the dense output reaches V_th, or None."""
        best = None
        above = Vs >= V_th
        hit = above.any(axis=1)
        brackets = []
        for r in np.flatnonzero(hit):
            k = int(np.argmax(above[r]))
            brackets.append((grid[k - 1], grid[k], r))
        # grazing: rows that come within a curvature margin of V_th without a sample above
        d2 = np.abs(np.diff(Vs, n=2, axis=1)).max(axis=1) if Vs.shape[1] > 2 else np.zeros(len(Vs))
        top = Vs.max(axis=1)
        for r in np.flatnonzero(~hit & (top >= V_th - d2 - self.atol)):
            k = int(np.argmax(Vs[r]))
            lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
            self.stats["grazing_checks"] += 1
            one = _row_dense(dense, r)
            m = minimize_scalar(lambda s: -one(s), bounds=(lo, hi), method="bounded",
                                options={"xatol": _ROOT_XTOL})
            if -m.fun >= V_th:
                brackets.append((lo, float(m.x), r))
        for a, b, r in brackets:
            if best is not None and a >= best[0]:
                continue
            one = _row_dense(dense, r)
            if one(a) >= V_th:  # only at the start of a step after a tie: fire at a
                t_star = a
            elif one(b) < V_th:  # cannot happen: b was found at or above threshold
                continue
            else:
                t_star = brentq(lambda s: one(s) - V_th, a, b, xtol=_ROOT_XTOL,
                                rtol=4 * np.finfo(float).eps, maxiter=200)
            if best is None or t_star < best[0]:
                best = (t_star, r)
        return best


def _row_dense(dense, r):
    """A scalar function s -> V_r(s) on one step's DOP853 dense output (one component)."""
    F = dense.F[:, r]
    y0, t_old, h = dense.y_old[r], dense.t_old, dense.h

    def f(s):
        x = (s - t_old) / h
        y = 0.0
        for i, fi in enumerate(F[::-1]):
            y += fi
            y *= x if i % 2 == 0 else 1 - x
        return y + y0
    return f


# -- comparing a time-stepped run with the accurate one ----------------------------------

def step_end_spike_times(result: SimulationResult) -> np.ndarray:
    """Physical spike times (ms) of a time-stepped run: (k + 1) * dt for a spike at step k.

    Step k integrates the state from k*dt to (k+1)*dt (the state after step k is the state
    at (k+1)*dt in both schedules), so a spike recorded at step k is the first grid time at
    which V was found at or above threshold: the crossing lies in (k*dt, (k+1)*dt].
    (``result.spike_times`` = k*dt is BrainPy's label, the start of the step.)
    """
    return (result.spike_steps + 1) * result.config.dt


def pair_spikes(times_a, neurons_a, times_b, neurons_b, n_neurons):
    """Pair the n-th spike of each neuron in raster a with its n-th spike in raster b.

    Returns
    -------
    paired_a, paired_b : ndarray of float64
        Times (ms) of the paired spikes (same neuron, same rank), in the order of a.
    neuron : ndarray of int64
        Their neuron.
    unpaired_first : float
        Earliest time (ms) of a spike of either raster without a partner (inf if none).
    """
    ta, na = np.asarray(times_a, float), np.asarray(neurons_a, np.int64)
    tb, nb = np.asarray(times_b, float), np.asarray(neurons_b, np.int64)

    def ranks(t, nrn):
        order = np.lexsort((t, nrn))
        sorted_n = nrn[order]
        starts = np.searchsorted(sorted_n, np.arange(n_neurons))
        rank = np.empty(t.size, np.int64)
        rank[order] = np.arange(t.size) - starts[sorted_n]
        return rank

    ra, rb = ranks(ta, na), ranks(tb, nb)
    key_a = na * (max(ra.max(initial=0), rb.max(initial=0)) + 1) + ra
    key_b = nb * (max(ra.max(initial=0), rb.max(initial=0)) + 1) + rb
    lookup = dict(zip(key_b.tolist(), range(tb.size)))
    idx_b = np.array([lookup.get(k, -1) for k in key_a.tolist()], np.int64)
    has = idx_b >= 0
    matched_b = np.zeros(tb.size, bool)
    matched_b[idx_b[has]] = True
    unpaired = np.r_[ta[~has], tb[~matched_b]]
    return (ta[has], tb[idx_b[has]], na[has],
            float(unpaired.min()) if unpaired.size else math.inf)


def divergence_time(times_a, neurons_a, times_b, neurons_b, n_neurons, tolerance=1.0,
                    duration=math.inf):
    """Time (ms) at which two rasters first disagree.

    The n-th spike of each neuron in one raster is paired with the n-th spike of the same
    neuron in the other (:func:`pair_spikes`). The rasters disagree from the earliest time
    at which a spike has no partner, or a pair is more than ``tolerance`` ms apart (the
    earlier spike of that pair).

    Parameters
    ----------
    times_a, neurons_a, times_b, neurons_b : array_like
        Spike times (ms) and neuron indices of the two rasters.
    n_neurons : int
    tolerance : float
        Largest time difference (ms) of two spikes that still agree, > 0.
    duration : float
        Length of both runs (ms): a spike later than duration - tolerance whose partner may
        lie beyond the end of the run does not count as unpaired.

    Returns
    -------
    float
        The divergence time in ms; inf when the rasters never disagree.
    """
    if not tolerance > 0:
        raise ConfigError(f"tolerance = {tolerance!r}: allowed tolerance > 0 ms")
    pa, pb, _, _ = pair_spikes(times_a, neurons_a, times_b, neurons_b, n_neurons)
    far = np.abs(pa - pb) > tolerance
    t_far = float(np.minimum(pa, pb)[far].min()) if far.any() else math.inf
    # unpaired spikes: rank beyond the other raster's count for that neuron
    ta, na = np.asarray(times_a, float), np.asarray(neurons_a, np.int64)
    tb, nb = np.asarray(times_b, float), np.asarray(neurons_b, np.int64)
    ca, cb = np.bincount(na, minlength=n_neurons), np.bincount(nb, minlength=n_neurons)
    t_unpaired = math.inf
    for t, nrn, own, other in ((ta, na, ca, cb), (tb, nb, cb, ca)):
        order = np.lexsort((t, nrn))
        rank = np.empty(t.size, np.int64)
        starts = np.searchsorted(nrn[order], np.arange(n_neurons))
        rank[order] = np.arange(t.size) - starts[nrn[order]]
        lone = (rank >= other[nrn]) & (t <= duration - tolerance)
        if lone.any():
            t_unpaired = min(t_unpaired, float(t[lone].min()))
    return min(t_far, t_unpaired)
