"""Run-time checks made after every chunk of steps: non-finite state and runaway activity.

Both are engine-agnostic: they look only at the state arrays and the spikes an engine hands
back, so every engine stops at the same step for the same reason.

Non-finite state
    V, g_e or g_i NaN or infinite at the end of a chunk. The chunk is then replayed step by
    step from a copy of its initial state with the NumPy oracle's step functions
    (:mod:`refsim.engines.numpy_engine`, bit-identical to the Numba and CUDA engines) to find
    the first step after which some neuron's state is not finite (:func:`first_nonfinite_step`).
Runaway activity
    See :class:`RunawayMonitor`.
"""

from __future__ import annotations

import numpy as np

from .engines import numpy_engine
from .model import refractory_steps
from .params import Config
from .state import STATE_VARIABLES, State

__all__ = ["RunawayMonitor", "nonfinite_neurons", "first_nonfinite_step", "replay",
           "describe_neurons"]


def describe_neurons(idx, limit: int = 10) -> str:
    """'3 neurons (2, 5, 9)': the count and the first ``limit`` indices.

    Parameters
    ----------
    idx : array_like of int
        Neuron indices.
    limit : int
        How many indices to list.

    Returns
    -------
    str

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.checks import describe_neurons
    >>> describe_neurons([2, 5, 9]), describe_neurons(np.arange(12), limit=3)
    ('3 neurons (2, 5, 9)', '12 neurons (0, 1, 2, ...)')
    """
    idx = np.asarray(idx)
    head = ", ".join(str(int(i)) for i in idx[:limit]) + (", ..." if idx.size > limit else "")
    return f"{idx.size} neuron{'s' if idx.size != 1 else ''} ({head})"


def nonfinite_neurons(state: State) -> dict[str, np.ndarray] | None:
    """Indices of the neurons whose V, g_e or g_i is NaN or infinite, per variable; None when
    every value is finite.

    Parameters
    ----------
    state : refsim.state.State

    Returns
    -------
    dict of str to ndarray of int64, or None
        ``V``, ``g_e``, ``g_i``: the indices (ascending) of the non-finite values.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.checks import nonfinite_neurons
    >>> from refsim.state import State
    >>> state = State(np.array([0.0, np.nan]), np.array([np.inf, 0.0]), np.zeros(2), np.zeros(2))
    >>> {name: idx.tolist() for name, idx in nonfinite_neurons(state).items()}
    {'V': [1], 'g_e': [0], 'g_i': []}
    """
    if all(np.isfinite(getattr(state, name)).all() for name in STATE_VARIABLES):
        return None
    return {name: np.flatnonzero(~np.isfinite(getattr(state, name))) for name in STATE_VARIABLES}


def _oracle_step(c):
    return numpy_engine.step_brainpy if c.brainpy_schedule else numpy_engine.step_brette


def first_nonfinite_step(checkpoint: State, times, k_start: int, k_stop: int, conn, c):
    """Replay steps k_start .. k_stop-1 from ``checkpoint`` (left unchanged) with the NumPy
    oracle; return ``(k, bad, before)`` for the first step k after which the state is not
    finite (``bad`` as :func:`nonfinite_neurons` gives it, ``before`` the state after step
    k - 1), or ``(None, None, None)`` if none is.

    Parameters
    ----------
    checkpoint : refsim.state.State
        The state before step k_start.
    times : ndarray
        Step times t_k (ms), :meth:`refsim.model.Constants.step_times`.
    k_start, k_stop : int
        The steps replayed.
    conn : tuple of ndarray
        (indptr, indices, counts) of the connectivity, counts in the run's float type.
    c : refsim.model.Constants

    Returns
    -------
    k : int or None
    bad : dict of str to ndarray, or None
    before : refsim.state.State or None

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.engines import engine_inputs
    >>> from refsim.network import draw_network
    >>> config = refsim.get_preset("tutorial-normalized", n_exc=8, n_inh=2, duration=2.0)
    >>> connectivity, state = draw_network(config, 0)
    >>> c, times, conn = engine_inputs(config, connectivity)
    >>> first_nonfinite_step(state, times, 0, 20, conn, c)
    (None, None, None)
    >>> state.g_e[3] = np.inf
    >>> k, bad, before = first_nonfinite_step(state, times, 0, 20, conn, c)
    >>> k, bad["V"].tolist(), bad["g_e"].tolist()
    (0, [3], [3])
    """
    step = _oracle_step(c)
    state = checkpoint.copy()
    with np.errstate(all="ignore"):
        for k in range(k_start, k_stop):
            before = state.copy()
            step(state, times[k], conn, c)
            bad = nonfinite_neurons(state)
            if bad is not None:
                return k, bad, before
    return None, None, None


def replay(checkpoint: State, times, k_start: int, k_stop: int, conn, c) -> State:
    """The state after steps k_start .. k_stop-1 from ``checkpoint`` (left unchanged),
    computed by the NumPy oracle.

    Parameters
    ----------
    checkpoint, times, k_start, k_stop, conn, c
        As for :func:`first_nonfinite_step`.

    Returns
    -------
    refsim.state.State

    Examples
    --------
    >>> import numpy as np, refsim
    >>> config = refsim.get_preset("tutorial-normalized", n_exc=8, n_inh=2, duration=2.0)
    >>> connectivity, state = refsim.network.draw_network(config, 0)
    >>> c, times, conn = refsim.engines.engine_inputs(config, connectivity)
    >>> run = refsim.simulate(config, 0, progress=False)
    >>> np.array_equal(replay(state, times, 0, 20, conn, c).V, run.final_state["V"])
    True
    """
    step = _oracle_step(c)
    state = checkpoint.copy()
    with np.errstate(all="ignore"):
        for k in range(k_start, k_stop):
            step(state, times[k], conn, c)
    return state


class RunawayMonitor:
    """Detects runaway activity from the spike steps, chunk after chunk.

    Definition: let r = floor(tau_ref / dt) + 1 steps (the longest of
    :func:`refsim.model.refractory_steps`) and W = 10 r steps. The activity *runs
    away at step k* when the population fired at least 9 N spikes in the W steps
    max(0, k - W + 1) .. k, i.e. on average at least 9 of the 10 spikes per neuron that one
    spike every r steps allows in the window. ``update`` returns the first such k, whatever
    the chunking.

    Why r: after a spike at step s the clamp (t_k - t_last) < tau_ref holds for the steps
    s + m with m dt < tau_ref, so the earliest next spike is at s + ceil(tau_ref / dt) (at
    s + 1 when tau_ref = 0). That is r when tau_ref / dt is not a whole number; when it is a
    whole number m, float rounding of t_k - t_last decides between s + m and s + m + 1, and r
    = m + 1 keeps a network firing at the clamp's limit detectable either way.

    Example: the ``tutorial`` preset (tau_ref = 5 ms, dt = 0.1 ms) has r = 51, W = 510 steps:
    runaway means a mean rate of at least 9 spikes in 51 ms (~176 Hz); its tonic firing is
    ~50 Hz. With tau_ref = 0, r = 1: runaway at the 9th consecutive step in which every
    neuron fires.

    Memory: the trailing window is kept as (step, count) pairs of the steps with spikes, fewer
    than 9 N of them while no runaway is found.

    Parameters
    ----------
    config : Config
        ``tau_ref``, ``dt`` (ms), N and the number of steps.

    Attributes
    ----------
    refractory_steps : int
        r (steps).
    window : int
        W = 10 r steps (at most n_steps + 1).
    n_neurons : int
    threshold : int
        9 N spikes.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.checks import RunawayMonitor
    >>> config = refsim.get_preset("tutorial-normalized", n_exc=2, n_inh=0, tau_ref=0.0,
    ...                            duration=5.0)
    >>> monitor = RunawayMonitor(config)                 # r = 1, W = 10 steps, 9 N = 18 spikes
    >>> steps = np.repeat(np.arange(10), 2)              # both neurons fire in every step
    >>> monitor.update(steps[:10], 5), monitor.update(steps[10:], 10)
    (None, 8)
    """

    def __init__(self, config: Config):
        self.refractory_steps = refractory_steps(config.tau_ref, config.dt)[1]
        # a window longer than the run sees the same spikes as one of the run's length; the cap
        # keeps the step arithmetic in int64 when tau_ref / dt is huge
        self.window = min(10 * self.refractory_steps, config.n_steps + 1)
        self.n_neurons = config.n_neurons
        self.threshold = 9 * config.n_neurons
        self._steps = np.zeros(0, np.int64)
        self._counts = np.zeros(0, np.int64)

    def update(self, steps: np.ndarray, k_stop: int) -> int | None:
        """Take the spike steps (non-decreasing) of the steps up to ``k_stop`` - 1 not seen
        yet; return the first step at which the activity runs away, or None.

        Parameters
        ----------
        steps : ndarray of int
            The step of each new spike, non-decreasing (one entry per spike).
        k_stop : int
            One past the last step these spikes cover.

        Returns
        -------
        int or None
            The first step k at which the window ending at k holds at least 9 N spikes.

        Examples
        --------
        See :class:`RunawayMonitor`.
        """
        steps = np.asarray(steps, dtype=np.int64)
        if steps.size:
            starts = np.r_[0, np.flatnonzero(np.diff(steps)) + 1]
            new = steps[starts]
            all_steps = np.concatenate([self._steps, new])
            all_counts = np.concatenate([self._counts, np.diff(np.r_[starts, steps.size])])
            cum = np.r_[0, np.cumsum(all_counts)]
            hi = np.arange(self._steps.size, all_steps.size) + 1
            lo = np.searchsorted(all_steps, new - self.window + 1, side="left")
            hit = np.flatnonzero(cum[hi] - cum[lo] >= self.threshold)
            if hit.size:
                return int(new[hit[0]])
            self._steps, self._counts = all_steps, all_counts
        keep = self._steps >= k_stop - self.window + 1  # steps future windows can contain
        self._steps, self._counts = self._steps[keep], self._counts[keep]
        return None

    def describe(self, k: int, spike_steps, spike_neurons, dt: float, tau_ref: float) -> str:
        """The diagnostic of a runaway at step k, from the spikes of steps 0 .. k.

        Parameters
        ----------
        k : int
            The step :meth:`update` returned.
        spike_steps, spike_neurons : ndarray of int
            The run's raster through step k (at least the window ending at k).
        dt, tau_ref : float
            ms, for the message.

        Returns
        -------
        str
            The message of ``SimulationResult.message``: the step, the spike count in the
            window, the neurons that fired 9 times or more, and how to run on.

        Examples
        --------
        >>> import numpy as np, refsim
        >>> config = refsim.get_preset("tutorial-normalized", n_exc=2, n_inh=0, tau_ref=0.0)
        >>> monitor = refsim.checks.RunawayMonitor(config)   # 9 N = 18 spikes in W = 10 steps
        >>> steps, neurons = np.repeat(np.arange(9), 2), np.tile([0, 1], 9)
        >>> monitor.describe(8, steps, neurons, config.dt, config.tau_ref)[:66]
        'runaway activity at step 8 (t = 0.8 ms): 18 spikes in steps 0 .. 8'
        """
        first = max(0, k - self.window + 1)
        sel = (spike_steps >= first) & (spike_steps <= k)
        per_neuron = np.bincount(spike_neurons[sel], minlength=self.n_neurons)
        hot = np.flatnonzero(per_neuron >= 9)
        return (f"runaway activity at step {k} (t = {k * dt:g} ms): {int(sel.sum())} spikes in "
                f"steps {first} .. {k}, at least 9 N = {self.threshold} (90 % of one spike "
                f"per neuron every {self.refractory_steps} steps, the limit of the "
                f"{tau_ref:g} ms refractory period); {describe_neurons(hot)} fired 9 times or "
                f"more; kept steps 0 .. {k}; pass stop_on_runaway=False (command line: "
                "--allow-runaway) to run on")
