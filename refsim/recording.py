"""What a run records while it runs: the spikes, step by step, and the traces of chosen neurons.

:class:`Recorder` is the one interface between an engine and the run. An engine hands over

* the spikes of one step, ``record_step(k, spike_neurons, state)`` (the oracle, step by step),
  or of a whole chunk of steps at once, ``add_block(spike_steps, spike_neurons, k_stop)``
  (compiled engines);
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
    neuron to spike once per 100 steps (100 Hz at dt = 0.1 ms, twice the tutorial's rate),
    at least 1024. An engine grows the buffer (Numba) or re-runs the chunk with the count it
    found (CUDA) when a network fires more.

    Parameters
    ----------
    n_neurons : int
        N.
    n_steps : int
        Steps of the chunk.

    Returns
    -------
    int
        max(1024, N max(1, n_steps // 100)).

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

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.recording import Recorder
    >>> recorder = Recorder(n_steps=3, record_neurons=[1], record_vars=("V",), dtype=np.float64)
    >>> recorder.add_block(np.array([0, 2, 2]), np.array([1, 0, 1]), k_stop=3)
    >>> recorder.spikes(), recorder.steps_done
    ((array([0, 2, 2]), array([1, 0, 1], dtype=int32)), 3)
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
    def record_step(self, k: int, spike_neurons: np.ndarray, state) -> None:
        """Step k is done: ``spike_neurons`` are the indices of its spikes (ascending),
        ``state`` the state after it.

        Parameters
        ----------
        k : int
            The step.
        spike_neurons : ndarray of int
            The neurons that spiked in step k, ascending.
        state : refsim.state.State
            The state after step k (the traced neurons' values are copied).

        Examples
        --------
        >>> import numpy as np
        >>> from refsim.recording import Recorder
        >>> from refsim.state import State
        >>> recorder = Recorder(3, record_neurons=[1], record_vars=("V",), dtype=np.float64)
        >>> state = State(np.array([-60.0, -55.0]), np.zeros(2), np.zeros(2), np.zeros(2))
        >>> recorder.record_step(0, np.array([0]), state)
        >>> recorder.steps_done, recorder.traces()["V"].tolist()
        (1, [[-55.0]])
        """
        if spike_neurons.size:
            self._steps.append(np.full(spike_neurons.size, k, np.int32))
            self._neurons.append(spike_neurons.astype(np.int32))
        for name, trace in self._traces.items():
            trace[k] = getattr(state, name)[self.record_neurons]
        self.steps_done = k + 1

    def add_block(self, spike_steps: np.ndarray, spike_neurons: np.ndarray, k_stop: int) -> None:
        """Steps up to ``k_stop`` - 1 are done; their spikes, ordered by step and neuron.

        Parameters
        ----------
        spike_steps, spike_neurons : ndarray of int
            The spikes of the steps not handed over yet, as (step, neuron) pairs ordered by
            step, then neuron.
        k_stop : int
            One past the last step done.

        Examples
        --------
        >>> import numpy as np
        >>> from refsim.recording import Recorder
        >>> recorder = Recorder(4, record_neurons=[], record_vars=(), dtype=np.float32)
        >>> recorder.add_block(np.array([1, 1]), np.array([0, 3]), k_stop=2)
        >>> recorder.add_block(np.array([], int), np.array([], int), k_stop=4)
        >>> recorder.steps_done, recorder.n_blocks
        (4, 1)
        """
        if spike_steps.size:
            self._steps.append(np.asarray(spike_steps, np.int32))
            self._neurons.append(np.asarray(spike_neurons, np.int32))
        self.steps_done = k_stop

    def trace_block(self, k_start: int, k_stop: int) -> dict[str, np.ndarray]:
        """Writable views, shape (k_stop - k_start, len(record_neurons)), of the traces of
        steps k_start .. k_stop-1: row k - k_start is the state after step k. Only the traced
        variables are keys.

        Parameters
        ----------
        k_start, k_stop : int
            The chunk's steps.

        Returns
        -------
        dict of str to ndarray
            Views into the recorder's traces (writing into them records the values).

        Examples
        --------
        >>> import numpy as np
        >>> from refsim.recording import Recorder
        >>> recorder = Recorder(3, record_neurons=[1, 4], record_vars=("V", "g_e"), dtype=np.float32)
        >>> {name: view.shape for name, view in recorder.trace_block(1, 3).items()}
        {'V': (2, 2), 'g_e': (2, 2)}
        """
        return {name: trace[k_start:k_stop] for name, trace in self._traces.items()}

    # -- for the run ---------------------------------------------------------------------
    @property
    def n_blocks(self) -> int:
        """How many blocks of spikes have been handed over (see :meth:`spikes_since`).

        Returns
        -------
        int
            Steps and blocks without spikes add none.

        Examples
        --------
        See :meth:`spikes_since`.
        """
        return len(self._steps)

    def spikes_since(self, n_blocks: int) -> np.ndarray:
        """The spike steps of the blocks handed over after the first ``n_blocks``.

        Parameters
        ----------
        n_blocks : int
            A value of :attr:`n_blocks` taken earlier.

        Returns
        -------
        ndarray of int32
            The steps of the spikes handed over since, non-decreasing.

        Examples
        --------
        >>> import numpy as np
        >>> from refsim.recording import Recorder
        >>> recorder = Recorder(4, record_neurons=[], record_vars=(), dtype=np.float32)
        >>> recorder.add_block(np.array([0]), np.array([2]), k_stop=2)
        >>> before = recorder.n_blocks
        >>> recorder.add_block(np.array([2, 3]), np.array([0, 1]), k_stop=4)
        >>> recorder.spikes_since(before).tolist()
        [2, 3]
        """
        new = self._steps[n_blocks:]
        return np.concatenate(new) if new else np.zeros(0, np.int32)

    def truncate(self, k_stop: int) -> None:
        """Forget the spikes of steps k_stop and later: the run is done through k_stop - 1.

        Parameters
        ----------
        k_stop : int
            The first step forgotten (at most :attr:`steps_done`).

        Examples
        --------
        >>> import numpy as np
        >>> from refsim.recording import Recorder
        >>> recorder = Recorder(4, record_neurons=[], record_vars=(), dtype=np.float32)
        >>> recorder.add_block(np.array([0, 2, 3]), np.array([1, 0, 1]), k_stop=4)
        >>> recorder.truncate(3)
        >>> recorder.spikes()[0].tolist(), recorder.steps_done
        ([0, 2], 3)
        """
        spike_steps, spike_neurons = self.spikes()
        keep = spike_steps < k_stop
        self._steps, self._neurons = [spike_steps[keep].astype(np.int32)], [spike_neurons[keep]]
        self.steps_done = k_stop

    def spikes(self):
        """The raster so far: ``(spike_steps, spike_neurons)``.

        Returns
        -------
        spike_steps : ndarray of int64
            Step of each spike, non-decreasing.
        spike_neurons : ndarray of int32
            Neuron of each spike, ascending within a step.

        Examples
        --------
        >>> import numpy as np
        >>> from refsim.recording import Recorder
        >>> recorder = Recorder(3, record_neurons=[1], record_vars=("V",), dtype=np.float64)
        >>> recorder.add_block(np.array([0, 2]), np.array([4, 1]), k_stop=3)
        >>> [a.tolist() for a in recorder.spikes()]
        [[0, 2], [4, 1]]
        """
        if not self._steps:
            return np.zeros(0, np.int64), np.zeros(0, np.int32)
        # blocks hold int32 steps (half the memory while running); the result holds int64
        return np.concatenate(self._steps, dtype=np.int64), np.concatenate(self._neurons)

    def traces(self) -> dict[str, np.ndarray]:
        """The traces of the steps done.

        Returns
        -------
        dict of str to ndarray
            ``traces[name][k, i]``: the variable (V in mV, g_e, g_i in [g]) of
            ``record_neurons[i]`` after step k, k < :attr:`steps_done` (views, not copies).

        Examples
        --------
        >>> import numpy as np
        >>> from refsim.recording import Recorder
        >>> recorder = Recorder(3, record_neurons=[1], record_vars=("V",), dtype=np.float64)
        >>> recorder.trace_block(0, 2)["V"][:] = [[-60.0], [-59.0]]
        >>> recorder.add_block(np.zeros(0, int), np.zeros(0, int), k_stop=2)
        >>> recorder.traces()["V"].tolist()
        [[-60.0], [-59.0]]
        """
        return {k: v[:self.steps_done] for k, v in self._traces.items()}


def check_record_vars(record_vars) -> tuple[str, ...]:
    """``record_vars`` as a tuple of distinct names from STATE_VARIABLES, or ConfigError.

    Parameters
    ----------
    record_vars : str or iterable of str

    Returns
    -------
    tuple of str
        In the order given, repeats dropped; plain ``str`` (NumPy strings converted).

    Raises
    ------
    ConfigError
        Not iterable, or a name that is not one of 'V', 'g_e', 'g_i'.

    Examples
    --------
    >>> from refsim.recording import check_record_vars
    >>> check_record_vars("V"), check_record_vars(["g_e", "V", "g_e"])
    (('V',), ('g_e', 'V'))
    """
    if isinstance(record_vars, str):
        record_vars = (record_vars,)
    try:
        names = tuple(record_vars)
    except TypeError:
        raise ConfigError(f"record_vars = {record_vars!r}: allowed a subset of {STATE_VARIABLES}") from None
    bad = [v for v in names if not isinstance(v, str) or v not in STATE_VARIABLES]
    if bad:
        raise ConfigError(f"record_vars {reprlib.repr(bad)}: allowed a subset of {STATE_VARIABLES}")
    return tuple(str(v) for v in dict.fromkeys(names))


def check_record(record, n: int) -> np.ndarray:
    """``record`` as int64 neuron indices in 0 .. n-1 (empty for None), or ConfigError.

    Parameters
    ----------
    record : sequence of int, int or None
        Python or NumPy integers (an integer array too); a single int is one neuron. Bools
        and floats, even whole ones, are refused.
    n : int
        N.

    Returns
    -------
    ndarray of int64
        1-d, in the order given.

    Raises
    ------
    ConfigError
        Not integers, more than one dimension, or an index outside 0 .. n-1.

    Examples
    --------
    >>> from refsim.recording import check_record
    >>> check_record([3, 1], 5).tolist(), check_record(None, 5).tolist()
    ([3, 1], [])
    >>> check_record([5], 5)
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: record values 5 .. 5: allowed a sequence of int neuron indices 0 .. 4
    """
    if record is None:
        return np.zeros(0, np.int64)
    allowed = f"allowed a sequence of int neuron indices 0 .. {n - 1}"
    try:
        a = np.asarray(record)
    except (TypeError, ValueError):
        raise ConfigError(f"record = {reprlib.repr(record)}: {allowed}") from None
    if a.size == 0:
        return np.zeros(0, np.int64)
    if a.ndim > 1 or a.dtype.kind not in "iu":  # not bool, float, timedelta64 (an np.integer)
        raise ConfigError(f"record = {reprlib.repr(record)} ({a.dtype}, shape {a.shape}): {allowed}")
    if a.min() < 0 or a.max() >= n:
        raise ConfigError(f"record values {a.min()} .. {a.max()}: {allowed}")
    return a.astype(np.int64).ravel()
