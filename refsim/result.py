"""The outcome of a run: sparse spikes, optional traces, and everything needed to reproduce it."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
from dataclasses import dataclass, field

import numpy as np

from ._version import __version__
from .analysis import firing_rates, isi_cv
from .io import RESULT_FORMAT, STOP_REASONS, read_result, write_npz
from .params import Config
from .resources import check_memory
from .state import STATE_FIELDS

__all__ = ["SimulationResult", "versions", "STOP_REASONS"]


def versions() -> dict[str, str]:
    """Versions of Python, refsim and the numerical libraries, stored in every result.

    Returns
    -------
    dict of str to str
        ``python``, ``refsim``, ``numpy``, ``scipy``, ``numba``, ``llvmlite`` (from the
        installed distributions' metadata: nothing is imported) and ``machine`` (system and
        architecture).

    Examples
    --------
    >>> from refsim.result import versions
    >>> sorted(versions())
    ['llvmlite', 'machine', 'numba', 'numpy', 'python', 'refsim', 'scipy']
    """
    out = {"python": platform.python_version(), "refsim": __version__}
    for name in ("numpy", "scipy", "numba", "llvmlite"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    out["machine"] = f"{platform.system()} {platform.machine()}"
    return out


@dataclass
class SimulationResult:
    """Spikes of a run as (step, neuron) index pairs, plus provenance.

    Made by :func:`refsim.simulate` (or :meth:`load`); the raster is ``(spike_steps,
    spike_neurons)``, spike k at time ``spike_steps[k] * dt`` ms.

    Attributes
    ----------
    spike_steps : ndarray of int64
        Time-step index k of each spike (time k * dt ms), non-decreasing.
    spike_neurons : ndarray of int32
        Neuron index of each spike, ascending within a step.
    config : Config
        The full configuration of the run.
    seed : int or None
        The seed the connectivity and initial state were drawn from (None if both were given).
    steps_done : int
        Steps completed: ``config.n_steps`` unless the run stopped early (``complete`` False).
    complete : bool
        False when the run stopped early; the spikes of the steps done are kept.
    message : str
        Why the run stopped early (naming the step, and the neurons for a non-finite state
        or runaway activity), else empty.
    stop_reason : str
        '' for a complete run, else one of ``STOP_REASONS``: 'interrupted' (Ctrl-C, SIGTERM),
        'non-finite' (NaN or infinite state), 'runaway' (see
        :class:`refsim.checks.RunawayMonitor`).
    engine : str
        The engine that ran it: 'numba', 'numpy' or 'cuda'.
    wall_time : float
        Seconds spent in the time loop.
    traces : dict of str to ndarray
        ``traces['V'][k, i]``: V of neuron ``record_neurons[i]`` after step k (likewise g_e, g_i).
    record_neurons : ndarray of int64
        The traced neurons (empty when none).
    final_state : dict of str to ndarray
        V, g_e, g_i, t_last after the last step done (to continue or compare a run); empty
        after an interrupt, which may land inside a step.
    versions : dict of str to str
        :func:`versions` of the process that ran it.
    run_id : str
        A random id that :func:`refsim.simulate` gives each run (:func:`refsim.outputs.new_run_id`),
        also written into its output directory's manifest; '' when unknown (files of refsim
        before 0.4).

    Examples
    --------
    >>> import refsim
    >>> run = refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0),
    ...                       seed=0, progress=False)
    >>> run
    <SimulationResult: 10 spikes, 10 neurons, 200/200 steps, complete>
    >>> run.spike_steps[:3].tolist(), run.spike_neurons[:3].tolist()
    ([43, 54, 58], [4, 3, 0])
    """

    spike_steps: np.ndarray
    spike_neurons: np.ndarray
    config: Config
    seed: int | None
    steps_done: int
    complete: bool = True
    message: str = ""
    engine: str = "numpy"
    wall_time: float = 0.0
    traces: dict = field(default_factory=dict)
    record_neurons: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    final_state: dict = field(default_factory=dict)
    versions: dict = field(default_factory=versions)
    stop_reason: str = ""
    run_id: str = ""

    # -- views ---------------------------------------------------------------------------
    @property
    def dt(self) -> float:
        """The time step, ``config.dt``.

        Returns
        -------
        float
            ms.

        Examples
        --------
        >>> import refsim
        >>> run = refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0),
        ...                       seed=0, progress=False)
        >>> run.dt, run.n_spikes, run.duration_done
        (0.1, 10, 20.0)
        """
        return self.config.dt

    @property
    def n_spikes(self) -> int:
        """Number of spikes.

        Returns
        -------
        int
            Over the steps done (``spike_steps.size``).

        Examples
        --------
        See :attr:`dt`.
        """
        return int(self.spike_steps.size)

    @property
    def spike_times(self) -> np.ndarray:
        """Spike times in ms (k * dt, float64).

        k * dt is the start of the step that recorded the spike (BrainPy's label; see
        :func:`refsim.compare.step_end_spike_times` for the end of the step).

        Returns
        -------
        ndarray of float64
            ms, one per spike.

        Examples
        --------
        >>> import refsim
        >>> run = refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0),
        ...                       seed=0, progress=False)
        >>> run.spike_times[:3].tolist()
        [4.3, 5.4, 5.800000000000001]
        """
        return self.spike_steps * self.config.dt

    @property
    def duration_done(self) -> float:
        """Simulated time actually covered, ms.

        Returns
        -------
        float
            ``steps_done * dt`` (ms).

        Examples
        --------
        See :attr:`dt`.
        """
        return self.steps_done * self.config.dt

    def dense(self) -> np.ndarray:
        """The (steps_done, N) boolean spike matrix, as BrainPy's ``for_loop`` returns it.

        Memory: steps_done * N bytes (40 MB for the 1 s, 4000-neuron tutorial); refused with
        a ConfigError, before allocating, when that exceeds the available memory.

        Returns
        -------
        ndarray of bool, shape (steps_done, N)
            ``m[k, i]``: neuron i spiked in step k.

        Raises
        ------
        ConfigError
            The matrix would not fit in the available memory.

        Examples
        --------
        >>> import refsim
        >>> run = refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0),
        ...                       seed=0, progress=False)
        >>> m = run.dense()
        >>> m.shape, int(m.sum()) == run.n_spikes
        ((200, 10), True)
        """
        size = self.steps_done * self.config.n_neurons
        check_memory({"dense": size, "total": size}, "the dense (steps_done, N) spike matrix",
                     "use the sparse spikes result.spike_steps and result.spike_neurons "
                     "instead of dense(), or dense() of a shorter window")
        m = np.zeros((self.steps_done, self.config.n_neurons), dtype=bool)
        m[self.spike_steps, self.spike_neurons] = True
        return m

    def digest(self) -> dict[str, str]:
        """SHA-256 digests (hex) of the raster and of the final state: what "the same bits"
        means, in a form any simulator can compute.

        * ``raster``: the spikes in order (steps non-decreasing, neurons ascending within a
          step), as the little-endian int64 steps followed by the little-endian int32 neurons;
        * ``state``: the final V, g_e, g_i and t_last, each as little-endian numbers of the run's
          float type, concatenated in that order (empty for an interrupted run).

        Returns
        -------
        dict of str to str
            ``raster`` and ``state``, 64 hex digits each.

        Examples
        --------
        >>> import refsim
        >>> config = refsim.get_preset("brette2007-coba", n_exc=40, n_inh=10, duration=20.0)
        >>> d = refsim.simulate(config, seed=0, progress=False).digest()
        >>> sorted(d), len(d["raster"])
        (['raster', 'state'], 64)
        """
        raster = hashlib.sha256()
        raster.update(np.ascontiguousarray(self.spike_steps, "<i8").tobytes())
        raster.update(np.ascontiguousarray(self.spike_neurons, "<i4").tobytes())
        state = hashlib.sha256()
        dtype = np.dtype(self.config.dtype).newbyteorder("<")
        for name in STATE_FIELDS:
            if name in self.final_state:
                state.update(np.ascontiguousarray(self.final_state[name], dtype).tobytes())
        return {"raster": raster.hexdigest(), "state": state.hexdigest()}

    def spike_counts(self) -> np.ndarray:
        """Spikes per neuron, shape (N,).

        Returns
        -------
        ndarray of int64, shape (N,)

        Examples
        --------
        >>> import refsim
        >>> run = refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0),
        ...                       seed=0, progress=False)
        >>> run.spike_counts().tolist()
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        """
        return np.bincount(self.spike_neurons, minlength=self.config.n_neurons)

    def summary(self) -> dict:
        """E and I rates (Hz), mean ISI CV, spike count and wall time, as a JSON-able dict.

        Returns
        -------
        dict
            ``rate_e_hz``, ``rate_i_hz`` (mean :func:`refsim.analysis.firing_rates` of E and
            I over the steps done, Hz), ``cv_isi_mean``, ``cv_isi_mean_e``, ``cv_isi_mean_i``
            (mean :func:`refsim.analysis.isi_cv` over the neurons where it is defined; NaN
            if none), ``n_spikes``, ``steps_done``, ``complete``, ``stop_reason``,
            ``message``, ``duration_ms`` (:attr:`duration_done`), ``wall_time_s`` (s),
            ``engine``, ``seed`` and ``run_id``.

        Examples
        --------
        >>> import refsim
        >>> config = refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0)
        >>> s = refsim.simulate(config, seed=0, progress=False).summary()
        >>> s["rate_e_hz"], s["n_spikes"], s["complete"]
        (50.0, 10, True)
        """
        if self.steps_done:
            rates, cv = firing_rates(self), isi_cv(self)
        else:  # stopped before its first step: no window to measure in
            rates = cv = np.full(self.config.n_neurons, np.nan)
        ne = self.config.n_exc
        mean = lambda a: float(np.mean(a)) if a.size else float("nan")  # noqa: E731
        nanmean = lambda a: float(np.mean(a[np.isfinite(a)])) if np.isfinite(a).any() else float("nan")  # noqa: E731
        return {
            "rate_e_hz": mean(rates[:ne]), "rate_i_hz": mean(rates[ne:]),
            "cv_isi_mean": nanmean(cv), "cv_isi_mean_e": nanmean(cv[:ne]),
            "cv_isi_mean_i": nanmean(cv[ne:]),
            "n_spikes": self.n_spikes, "steps_done": self.steps_done, "complete": self.complete,
            "stop_reason": self.stop_reason, "message": self.message,
            "duration_ms": self.duration_done, "wall_time_s": self.wall_time,
            "engine": self.engine, "seed": self.seed, "run_id": self.run_id,
        }

    def __repr__(self):
        state = "complete" if self.complete else f"PARTIAL ({self.message})"
        return (f"<SimulationResult: {self.n_spikes} spikes, {self.config.n_neurons} neurons, "
                f"{self.steps_done}/{self.config.n_steps} steps, {state}>")

    # -- files ---------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write an ``.npz`` (no pickles: loadable with ``allow_pickle=False``), atomically.

        Any file name works (``numpy.savez`` would append ``.npz`` to a name without it).

        Parameters
        ----------
        path : str or os.PathLike
            The file to create or replace (:func:`refsim.io.write_npz`).

        Examples
        --------
        >>> import os, tempfile, numpy as np, refsim
        >>> run = refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0),
        ...                       seed=0, progress=False)
        >>> path = os.path.join(tempfile.mkdtemp(), "run.npz")
        >>> run.save(path)
        >>> back = refsim.SimulationResult.load(path)
        >>> np.array_equal(back.spike_steps, run.spike_steps), back.config == run.config
        (True, True)
        """
        arrays = {
            "spike_steps": self.spike_steps, "spike_neurons": self.spike_neurons,
            "record_neurons": self.record_neurons,
            "meta": np.array(json.dumps({
                "format": RESULT_FORMAT, "config": self.config.to_dict(),
                "seed": self.seed, "steps_done": self.steps_done, "complete": self.complete,
                "stop_reason": self.stop_reason,
                "message": self.message, "engine": self.engine, "wall_time": self.wall_time,
                "versions": self.versions, "run_id": self.run_id})),
        }
        arrays.update({f"trace_{k}": v for k, v in self.traces.items()})
        arrays.update({f"final_{k}": v for k, v in self.final_state.items()})
        write_npz(path, arrays)

    @classmethod
    def load(cls, path) -> SimulationResult:
        """Read a file written by :meth:`save`.

        Never executes code (``allow_pickle=False``); checks every array's dtype, shape and
        range and every metadata field's type against the stored configuration
        (:func:`refsim.io.read_result`).

        Parameters
        ----------
        path : str or os.PathLike
            Written by :meth:`save`.

        Returns
        -------
        SimulationResult

        Raises
        ------
        ConfigError
            As :func:`refsim.io.read_result` raises it.

        Examples
        --------
        >>> import os, tempfile, refsim
        >>> path = os.path.join(tempfile.mkdtemp(), "missing.npz")
        >>> refsim.SimulationResult.load(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        refsim.params.ConfigError: result file '...missing.npz': cannot be read as .npz (FileNotFoundError...
        """
        return cls(**read_result(path))
