"""What a run records while it runs: the spikes, step by step, and the traces of chosen neurons.

:class:`Recorder` is the one interface between an engine and the run. An engine hands over

* the spikes of one step, ``record_step(k, neurons, state)`` (the oracle, step by step), or of a
  whole chunk of steps at once, ``add_block(steps, neurons, k_stop)`` (compiled engines);
* the traces of a chunk by writing into the views ``trace_block(k_start, k_stop)`` gives it.

Nothing else of the recorder is for engines. Compiled engines size their spike buffers with
:func:`spike_capacity`, the one policy for all of them.
"""

from __future__ import annotations

import reprlib

import numpy as np

from .params import ConfigError
from .state import STATE_VARIABLES

__all__ = ["Recorder", "spike_capacity", "check_record", "check_record_vars"]


def spike_capacity(n_neurons: int, n_steps: int) -> int:
    """Spikes a compiled engine's buffer holds at first for ``n_steps`` steps: room for every
    neuron to spike once per 100 steps (1 kHz at dt = 0.1 ms, 20 times the tutorial's rate),
    at least 1024. An engine grows the buffer (Numba) or re-runs the chunk with the count it
    found (CUDA) when a network fires more.

    Examples
    --------
    >>> from refsim.recording import spike_capacity
    >>> spike_capacity(4000, 500), spike_capacity(10, 50)
    (20000, 1024)
    """
    return max(1024, n_neurons * max(1, n_steps // 100))


class Recorder:
    """Collects the spikes (sparse, as step and neuron indices) and traces of one run.

    Parameters
    ----------
    n_steps : int
        Steps of the whole run.
    record_neurons : array_like of int
        Neurons whose traces are kept.
    record_vars : sequence of str
        Traced variables, a subset of ('V', 'g_e', 'g_i').
    dtype : numpy dtype
        The run's float type.

    Attributes
    ----------
    record_neurons : ndarray of int64
    record_vars : tuple of str
        Empty when no neuron is recorded.
    steps_done : int
        Steps handed over so far.
    """

    def __init__(self, n_steps: int, record_neurons, record_vars, dtype):
        self._steps: list[np.ndarray] = []
        self._neurons: list[np.ndarray] = []
        self.record_neurons = np.asarray(record_neurons, dtype=np.int64)
        self.record_vars = tuple(record_vars) if self.record_neurons.size else ()
        self._traces = {v: np.full((n_steps, self.record_neurons.size), np.nan, dtype)
                        for v in self.record_vars}
        self.steps_done = 0

    # -- for engines ---------------------------------------------------------------------
    def record_step(self, k: int, spiking: np.ndarray, state) -> None:
        """Step k is done: ``spiking`` are the indices of its spikes (ascending), ``state`` the
        state after it."""
        if spiking.size:
            self._steps.append(np.full(spiking.size, k, np.int32))
            self._neurons.append(spiking.astype(np.int32))
        for name, trace in self._traces.items():
            trace[k] = getattr(state, name)[self.record_neurons]
        self.steps_done = k + 1

    def add_block(self, steps: np.ndarray, neurons: np.ndarray, k_stop: int) -> None:
        """Steps up to ``k_stop`` - 1 are done; their spikes, ordered by step and neuron."""
        if steps.size:
            self._steps.append(np.asarray(steps, np.int32))
            self._neurons.append(np.asarray(neurons, np.int32))
        self.steps_done = k_stop

    def trace_block(self, k_start: int, k_stop: int) -> dict[str, np.ndarray]:
        """Writable views, shape (k_stop - k_start, len(record_neurons)), of the traces of
        steps k_start .. k_stop-1: row k - k_start is the state after step k. Only the traced
        variables are keys."""
        return {name: trace[k_start:k_stop] for name, trace in self._traces.items()}

    # -- for the run ---------------------------------------------------------------------
    @property
    def n_blocks(self) -> int:
        """How many blocks of spikes have been handed over (see :meth:`spikes_since`)."""
        return len(self._steps)

    def spikes_since(self, n_blocks: int) -> np.ndarray:
        """The spike steps of the blocks handed over after the first ``n_blocks``."""
        new = self._steps[n_blocks:]
        return np.concatenate(new) if new else np.zeros(0, np.int32)

    def truncate(self, k_stop: int) -> None:
        """Forget the spikes of steps k_stop and later: the run is done through k_stop - 1."""
        steps, neurons = self.spikes()
        keep = steps < k_stop
        self._steps, self._neurons = [steps[keep].astype(np.int32)], [neurons[keep]]
        self.steps_done = k_stop

    def spikes(self):
        """(steps int64, neurons int32) of every spike so far."""
        if not self._steps:
            return np.zeros(0, np.int64), np.zeros(0, np.int32)
        # blocks hold int32 steps (half the memory while running); the result holds int64
        return np.concatenate(self._steps, dtype=np.int64), np.concatenate(self._neurons)

    def traces(self) -> dict[str, np.ndarray]:
        """The traces of the steps done."""
        return {k: v[:self.steps_done] for k, v in self._traces.items()}


def check_record_vars(record_vars) -> tuple[str, ...]:
    """``record_vars`` as a tuple of distinct names from STATE_VARIABLES, or ConfigError."""
    if isinstance(record_vars, str):
        record_vars = (record_vars,)
    try:
        names = tuple(record_vars)
    except TypeError:
        raise ConfigError(f"record_vars = {record_vars!r}: allowed a subset of {STATE_VARIABLES}") from None
    bad = [v for v in names if not isinstance(v, str) or v not in STATE_VARIABLES]
    if bad:
        raise ConfigError(f"record_vars {reprlib.repr(bad)}: allowed a subset of {STATE_VARIABLES}")
    return tuple(dict.fromkeys(names))


def check_record(record, n: int) -> np.ndarray:
    """``record`` as int64 neuron indices in 0 .. n-1 (empty for None), or ConfigError."""
    if record is None:
        return np.zeros(0, np.int64)
    allowed = f"allowed a sequence of int neuron indices 0 .. {n - 1}"
    try:
        a = np.asarray(record)
    except (TypeError, ValueError):
        raise ConfigError(f"record = {reprlib.repr(record)}: {allowed}") from None
    if a.size == 0:
        return np.zeros(0, np.int64)
    if a.ndim > 1 or not np.issubdtype(a.dtype, np.integer):
        raise ConfigError(f"record = {reprlib.repr(record)} ({a.dtype}, shape {a.shape}): {allowed}")
    if a.min() < 0 or a.max() >= n:
        raise ConfigError(f"record values {a.min()} .. {a.max()}: {allowed}")
    return a.astype(np.int64).ravel()
