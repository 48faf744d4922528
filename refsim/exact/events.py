"""The event loop of :func:`refsim.simulate_exact` (see :mod:`refsim.exact` for the method)."""

from __future__ import annotations

import heapq
import math

import numpy as np
from scipy.integrate import DOP853

from ..connectivity import Connectivity
from ..params import Config, ConfigError
from .crossing import dense_row, first_crossing

__all__ = ["SynapticTargets", "EventLoop"]

_SAMPLES_PER_STEP = 16  # dense-output samples per solver step for crossing detection
_MAX_STEP = 1.0         # ms, largest solver step (bounds the sample spacing)


class SynapticTargets:
    """Connectivity as per-presynaptic-neuron (targets, conductance increments) arrays.

    Parameters
    ----------
    conn : Connectivity
    config : Config
        ``n_exc``, ``w_e`` and ``w_i`` ([g]).

    Attributes
    ----------
    indptr, indices : ndarray of int32
        The CSR arrays of ``conn``.
    increments : ndarray of float64
        w_e or w_i (by the row's population) times the entry's synapse count ([g]).

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.exact.events import SynapticTargets
    >>> config = refsim.get_preset("tutorial-normalized", n_exc=2, n_inh=1)
    >>> conn = refsim.from_index_arrays([[1, 1], [2, 0]], [[0, 1]])
    >>> SynapticTargets(conn, config).increments.tolist()       # w_e = 0.6, w_i = 6.7
    [0.6, 0.6, 0.6, 0.6, 6.7, 6.7]
    """

    def __init__(self, conn: Connectivity, config: Config):
        self.n_exc = config.n_exc
        self.indptr, self.indices = conn.indptr, conn.indices
        w = np.where(np.arange(conn.n_neurons) < config.n_exc, config.w_e, config.w_i)
        # increment of the target's g per stored entry: w * count
        rows = np.repeat(np.arange(conn.n_neurons), np.diff(conn.indptr))
        self.increments = w[rows] * conn.counts

    def deliver(self, neurons, g_e, g_i):
        """Add the conductance jumps of spikes of ``neurons`` to g_e, g_i (in place).

        Parameters
        ----------
        neurons : int or array_like of int
            The presynaptic neurons that spiked; each row's increments are added in stored
            order.
        g_e, g_i : ndarray of float64, shape (N,)
            Conductances ([g]); an excitatory row adds to g_e, an inhibitory one to g_i.

        Examples
        --------
        >>> import numpy as np, refsim
        >>> from refsim.exact.events import SynapticTargets
        >>> config = refsim.get_preset("tutorial-normalized", n_exc=2, n_inh=1)
        >>> net = SynapticTargets(refsim.from_index_arrays([[1, 1], [2, 0]], [[0, 1]]), config)
        >>> g_e, g_i = np.zeros(3), np.zeros(3)
        >>> net.deliver([0, 2], g_e, g_i)
        >>> g_e.tolist(), g_i.tolist()
        ([0.0, 1.2, 0.0], [6.7, 6.7, 0.0])
        """
        for i in np.atleast_1d(neurons):
            lo, hi = self.indptr[i], self.indptr[i + 1]
            target = g_e if i < self.n_exc else g_i
            np.add.at(target, self.indices[lo:hi], self.increments[lo:hi])


class EventLoop:
    """The event loop of :func:`refsim.simulate_exact`: the network's state, its pending
    events and the samples taken, advanced from event to event by :meth:`run`.

    Parameters
    ----------
    config : Config
    net : SynapticTargets
    delay : float
        Synaptic delay (ms).
    rtol, atol : float
        DOP853 tolerances.
    samples : ndarray of float64
        Non-decreasing sample times (ms).
    record : ndarray of int64
        Sampled neurons.
    rvars : tuple of str
        Sampled variables.
    V, g_e, g_i, t_last : ndarray of float64
        The initial state (mV, [g], [g], ms), updated in place.

    Attributes
    ----------
    spike_t, spike_i : list
        The recorded spikes, times (ms) and neurons, in the order found.
    initial_spikes : list of int
        Neurons fired at t = 0 without being recorded (``schedule='brainpy'``).
    traces : dict of str to ndarray
        ``traces[name][j, i]``: the sampled variable of ``record[i]`` at ``samples[j]``.
    final_state : dict of str to ndarray
        V, g_e, g_i, t_last at ``config.duration`` (after :meth:`run`).
    stats : dict
        Solver work, as :class:`refsim.exact.ExactResult` reports it.

    :func:`refsim.simulate_exact` builds and runs one; see :meth:`run` for an example.
    """

    def __init__(self, config: Config, net: SynapticTargets, delay, rtol, atol, samples,
                 record, rvars, V, g_e, g_i, t_last):
        self.config, self.net, self.delay = config, net, float(delay)
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
        self.V, self.g_e, self.g_i, self.t_g = V, g_e, g_i, 0.0
        self.t_last = t_last
        self.ref_until = t_last + config.tau_ref
        self.refractory = self.ref_until > 0
        self.final_state: dict = {}

    # -- state helpers -------------------------------------------------------------------
    def _g_at(self, t):
        """Conductances of all neurons at time t >= t_g (closed form)."""
        config = self.config
        return (self.g_e * math.exp(-(t - self.t_g) / config.tau_e),
                self.g_i * math.exp(-(t - self.t_g) / config.tau_i))

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
        config = self.config
        if "g_e" in self.traces:
            self.traces["g_e"][j0:j1] = (self.g_e[rec][None, :]
                                         * np.exp(-(ts - self.t_g) / config.tau_e)[:, None])
        if "g_i" in self.traces:
            self.traces["g_i"][j0:j1] = (self.g_i[rec][None, :]
                                         * np.exp(-(ts - self.t_g) / config.tau_i)[:, None])
        self.next_sample = j1

    def _spike(self, t, neurons, recorded=True, refractory=True, reset_to=None):
        """Fire ``neurons`` at time t (g already advanced to t)."""
        config = self.config
        neurons = np.atleast_1d(neurons)
        if recorded:
            self.spike_t.extend([t] * neurons.size)
            self.spike_i.extend(int(i) for i in neurons)
        self.V[neurons] = config.V_reset if reset_to is None else reset_to
        if recorded:
            self.t_last[neurons] = t
        if refractory and config.tau_ref > 0:
            self.refractory[neurons] = True
            self.ref_until[neurons] = t + config.tau_ref
        if self.delay == 0:
            self.net.deliver(neurons, self.g_e, self.g_i)
        else:
            for i in neurons:
                heapq.heappush(self.pending, (t + self.delay, self.seq, int(i)))
                self.seq += 1

    # -- the loop ------------------------------------------------------------------------
    def run(self):
        """Fire the t = 0 spikes of the initial state, then advance to ``config.duration``.

        Raises
        ------
        ConfigError
            An initial V still at or above threshold after the t = 0 reset.
        RuntimeError
            DOP853 fails (it cannot for this linear ODE).

        Examples
        --------
        >>> import numpy as np, refsim
        >>> from refsim.exact.events import EventLoop, SynapticTargets
        >>> config = refsim.get_preset("tutorial-normalized", n_exc=1, n_inh=0, duration=30.0)
        >>> net = SynapticTargets(refsim.from_index_arrays([[]], np.zeros((0, 0), int)), config)
        >>> loop = EventLoop(config, net, 0.0, 1e-12, 1e-12, np.zeros(0), np.zeros(0, np.int64),
        ...                  (), np.array([-60.0]), np.zeros(1), np.zeros(1), np.array([-1e7]))
        >>> loop.run()
        >>> round(loop.spike_t[0], 10)           # 20 ms * ln 2: from V_reset to V_th
        13.8629436112
        """
        config = self.config
        T = float(config.duration)
        V = self.V
        if config.schedule == "brette":
            self.V[self.refractory] = config.V_reset
        above = V > config.V_th if config.threshold_test == ">" else V >= config.V_th
        fired = np.flatnonzero(above & ~self.refractory)
        V0 = V.copy()
        if fired.size:
            reset_to = (V[fired] - (config.V_th - config.V_reset) if config.reset == "soft"
                        else config.V_reset)
            if config.schedule == "brainpy":
                self.initial_spikes = [int(i) for i in fired]
                self._spike(0.0, fired, recorded=False, refractory=False, reset_to=reset_to)
            else:
                self._spike(0.0, fired, reset_to=reset_to)
            if np.any(self.V[fired] >= config.V_th):
                bad = fired[self.V[fired] >= config.V_th][0]
                raise ConfigError(
                    f"initial V[{bad}] = {V0[bad]!r} mV: allowed below V_th + (V_th - V_reset)"
                    f" = {2 * config.V_th - config.V_reset} mV (it would still be at or above threshold"
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
            now = np.flatnonzero(active & (self.V >= config.V_th))
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
        config = self.config
        self._advance_g(t0)
        self.stats["segments"] += 1
        if act.size == 0:
            V_now = self.V.copy()
            self._sample(t_bound, lambda ts: np.repeat(V_now[:, None], ts.size, axis=1))
            return t_bound
        drive = config.V_rest + config.RI_ext
        ge0, gi0 = config.R_g * self.g_e[act], config.R_g * self.g_i[act]
        tau_e, tau_i, E_e, E_i, tau_m = (config.tau_e, config.tau_i, config.E_e, config.E_i,
                                         config.tau_m)

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

        V_th = config.V_th
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
            crossing, grazing = first_crossing(lambda r, dense=dense: dense_row(dense, r), Vs, grid, V_th,
                                               self.atol)
            self.stats["grazing_checks"] += grazing
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
