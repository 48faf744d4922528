"""The outcome of a run: sparse spikes, optional traces, and everything needed to reproduce it."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .params import Config, ConfigError

__all__ = ["SimulationResult", "Recorder", "versions", "atomic_write"]


def versions() -> dict[str, str]:
    """Versions of Python, refsim and the numerical libraries, stored in every result."""
    import scipy

    from . import __version__
    out = {"python": platform.python_version(), "refsim": __version__,
           "numpy": np.__version__, "scipy": scipy.__version__}
    try:
        import numba
        out["numba"] = numba.__version__
    except ImportError:
        pass
    return out


def atomic_write(path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: an interrupted write leaves no
    corrupt file, only the previous one (or none)."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class Recorder:
    """Collects spikes (sparse, step by step) and the traces of chosen neurons during a run."""

    def __init__(self, n_steps: int, record_neurons, record_vars, dtype):
        self.steps: list[np.ndarray] = []
        self.neurons: list[np.ndarray] = []
        self.record_neurons = np.asarray(record_neurons, dtype=np.int64)
        self.traces = {v: np.full((n_steps, self.record_neurons.size), np.nan, dtype)
                       for v in record_vars} if self.record_neurons.size else {}
        self.steps_done = 0

    def record(self, k: int, spiking: np.ndarray, state) -> None:
        if spiking.size:
            self.steps.append(np.full(spiking.size, k, np.int32))
            self.neurons.append(spiking.astype(np.int32))
        for name, trace in self.traces.items():
            trace[k] = getattr(state, name)[self.record_neurons]
        self.steps_done = k + 1

    def add_block(self, steps: np.ndarray, neurons: np.ndarray, k_stop: int) -> None:
        """Spikes of several steps at once (from a compiled engine)."""
        if steps.size:
            self.steps.append(np.asarray(steps, np.int32))
            self.neurons.append(np.asarray(neurons, np.int32))
        self.steps_done = k_stop

    def spikes(self):
        if not self.steps:
            return np.zeros(0, np.int64), np.zeros(0, np.int32)
        # blocks hold int32 steps (half the memory while running); the result holds int64
        return np.concatenate(self.steps, dtype=np.int64), np.concatenate(self.neurons)


@dataclass
class SimulationResult:
    """Spikes of a run as (step, neuron) index pairs, plus provenance.

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
        False when the run was interrupted; the spikes of the steps done are kept.
    message : str
        Why the run stopped early, else empty.
    engine : str
    wall_time : float
        Seconds spent in the time loop.
    traces : dict of str to ndarray
        ``traces['V'][k, i]``: V of neuron ``record_neurons[i]`` after step k (likewise g_e, g_i).
    record_neurons : ndarray of int64
    final_state : dict of str to ndarray
        V, g_e, g_i, t_last after the last step done (to continue or compare a run).
    versions : dict of str to str
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

    # -- views ---------------------------------------------------------------------------
    @property
    def dt(self) -> float:
        return self.config.dt

    @property
    def n_spikes(self) -> int:
        return int(self.spike_steps.size)

    @property
    def spike_times(self) -> np.ndarray:
        """Spike times in ms (k * dt, float64)."""
        return self.spike_steps * self.config.dt

    @property
    def duration_done(self) -> float:
        """Simulated time actually covered, ms."""
        return self.steps_done * self.config.dt

    def dense(self) -> np.ndarray:
        """The (steps_done, N) boolean spike matrix, as BrainPy's ``for_loop`` returns it.

        Memory: steps_done * N bytes (40 MB for the 1 s, 4000-neuron tutorial).
        """
        m = np.zeros((self.steps_done, self.config.n_neurons), dtype=bool)
        m[self.spike_steps, self.spike_neurons] = True
        return m

    def spike_counts(self) -> np.ndarray:
        """Spikes per neuron, shape (N,)."""
        return np.bincount(self.spike_neurons, minlength=self.config.n_neurons)

    def summary(self) -> dict:
        """E and I rates (Hz), mean ISI CV, spike count and wall time, as a JSON-able dict."""
        from .analysis import firing_rates, isi_cv
        rates = firing_rates(self)
        cv = isi_cv(self)
        ne = self.config.n_exc
        mean = lambda a: float(np.mean(a)) if a.size else float("nan")  # noqa: E731
        nanmean = lambda a: float(np.mean(a[np.isfinite(a)])) if np.isfinite(a).any() else float("nan")  # noqa: E731
        return {
            "rate_e_hz": mean(rates[:ne]), "rate_i_hz": mean(rates[ne:]),
            "cv_isi_mean": nanmean(cv), "cv_isi_mean_e": nanmean(cv[:ne]),
            "cv_isi_mean_i": nanmean(cv[ne:]),
            "n_spikes": self.n_spikes, "steps_done": self.steps_done, "complete": self.complete,
            "duration_ms": self.duration_done, "wall_time_s": self.wall_time,
            "engine": self.engine, "seed": self.seed,
        }

    def __repr__(self):
        state = "complete" if self.complete else f"PARTIAL ({self.message})"
        return (f"<SimulationResult: {self.n_spikes} spikes, {self.config.n_neurons} neurons, "
                f"{self.steps_done}/{self.config.n_steps} steps, {state}>")

    # -- files ---------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write an ``.npz`` (no pickles: loadable with ``allow_pickle=False``), atomically."""
        arrays = {
            "spike_steps": self.spike_steps, "spike_neurons": self.spike_neurons,
            "record_neurons": self.record_neurons,
            "meta": np.array(json.dumps({
                "format": "refsim.SimulationResult/1", "config": self.config.to_dict(),
                "seed": self.seed, "steps_done": self.steps_done, "complete": self.complete,
                "message": self.message, "engine": self.engine, "wall_time": self.wall_time,
                "versions": self.versions})),
        }
        arrays.update({f"trace_{k}": v for k, v in self.traces.items()})
        arrays.update({f"final_{k}": v for k, v in self.final_state.items()})
        atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))

    @classmethod
    def load(cls, path) -> "SimulationResult":
        """Read a file written by :meth:`save` (never executes code: ``allow_pickle=False``)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError) as e:
            raise ConfigError(f"result file {path}: not a refsim result ({e})") from None
        if meta.get("format") != "refsim.SimulationResult/1":
            raise ConfigError(f"result file {path}: format {meta.get('format')!r}, "
                              "allowed 'refsim.SimulationResult/1'")
        config = Config.from_dict(meta["config"])
        steps, neurons = arrays.pop("spike_steps"), arrays.pop("spike_neurons")
        if steps.shape != neurons.shape or (steps.size and (
                steps.min() < 0 or steps.max() >= meta["steps_done"]
                or neurons.min() < 0 or neurons.max() >= config.n_neurons)):
            raise ConfigError(f"result file {path}: spike indices out of range")
        return cls(
            spike_steps=steps, spike_neurons=neurons, config=config, seed=meta["seed"],
            steps_done=meta["steps_done"], complete=meta["complete"], message=meta["message"],
            engine=meta["engine"], wall_time=meta["wall_time"],
            traces={k[6:]: v for k, v in arrays.items() if k.startswith("trace_")},
            record_neurons=arrays.get("record_neurons", np.zeros(0, np.int64)),
            final_state={k[6:]: v for k, v in arrays.items() if k.startswith("final_")},
            versions=meta["versions"],
        )
