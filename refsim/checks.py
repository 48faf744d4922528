"""Run-time checks made after every chunk of steps: non-finite state and runaway activity.

Both are engine-agnostic: they look only at the state arrays and the spikes an engine hands
back, so every engine stops at the same step for the same reason.

Non-finite state
    V, g_e or g_i NaN or infinite at the end of a chunk. The chunk is then replayed step by
    step from a copy of its initial state with the NumPy oracle's step functions
    (:mod:`refsim.engines.numpy_engine`, bit-identical to the Numba engine) to find the first
    step after which some neuron's state is not finite (:func:`first_nonfinite_step`).
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
    """'3 neurons (2, 5, 9)': the count and the first ``limit`` indices."""
    idx = np.asarray(idx)
    head = ", ".join(str(int(i)) for i in idx[:limit]) + (", ..." if idx.size > limit else "")
    return f"{idx.size} neuron{'s' if idx.size != 1 else ''} ({head})"


def nonfinite_neurons(state: State) -> dict[str, np.ndarray] | None:
    """Indices of the neurons whose V, g_e or g_i is NaN or infinite, per variable; None when
    every value is finite."""
    if all(np.isfinite(getattr(state, name)).all() for name in STATE_VARIABLES):
        return None
    return {name: np.flatnonzero(~np.isfinite(getattr(state, name))) for name in STATE_VARIABLES}


def _oracle_step(constants):
    return numpy_engine.step_brainpy if constants.brainpy_schedule else numpy_engine.step_brette


def first_nonfinite_step(checkpoint: State, times, k_start: int, k_stop: int, conn, constants):
    """Replay steps k_start .. k_stop-1 from ``checkpoint`` (left unchanged) with the NumPy
    oracle; return ``(k, bad, before)`` for the first step k after which the state is not
    finite (``bad`` as :func:`nonfinite_neurons` gives it, ``before`` the state after step
    k - 1), or ``(None, None, None)`` if none is."""
    step = _oracle_step(constants)
    state = checkpoint.copy()
    with np.errstate(all="ignore"):
        for k in range(k_start, k_stop):
            before = state.copy()
            step(state, times[k], conn, constants)
            bad = nonfinite_neurons(state)
            if bad is not None:
                return k, bad, before
    return None, None, None


def replay(checkpoint: State, times, k_start: int, k_stop: int, conn, constants) -> State:
    """The state after steps k_start .. k_stop-1 from ``checkpoint`` (left unchanged),
    computed by the NumPy oracle."""
    step = _oracle_step(constants)
    state = checkpoint.copy()
    with np.errstate(all="ignore"):
        for k in range(k_start, k_stop):
            step(state, times[k], conn, constants)
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
        yet; return the first step at which the activity runs away, or None."""
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
        """The diagnostic of a runaway at step k, from the spikes of steps 0 .. k."""
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
