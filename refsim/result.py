"""The outcome of a run: sparse spikes, optional traces, and everything needed to reproduce it."""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .params import Config, ConfigError
from .state import STATE_VARIABLES

__all__ = ["SimulationResult", "Recorder", "versions", "atomic_write", "write_text", "STOP_REASONS"]

#: Why a run stopped before its last step (``SimulationResult.stop_reason``).
STOP_REASONS = ("interrupted", "non-finite", "runaway")
_FORMAT = "refsim.SimulationResult/1"


def versions() -> dict[str, str]:
    """Versions of Python, refsim and the numerical libraries, stored in every result."""
    import scipy

    from . import __version__
    out = {"python": platform.python_version(), "refsim": __version__,
           "numpy": np.__version__, "scipy": scipy.__version__}
    try:
        import llvmlite
        import numba
        out["numba"] = numba.__version__
        out["llvmlite"] = llvmlite.__version__
    except ImportError:
        pass
    out["machine"] = f"{platform.system()} {platform.machine()}"
    return out


def atomic_write(path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: an interrupted write leaves no
    corrupt file, only the previous one (or none).

    The temporary file is in the same directory (so the rename is atomic), flushed to disk
    before the rename, removed if ``write`` raises (KeyboardInterrupt included), and gets the
    permissions a new file would get (or those of the file it replaces).
    """
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _new_file_mode(path) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    atomic_write(path, write)


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

    def truncate(self, k_stop: int) -> None:
        """Forget the spikes of steps k_stop and later: the run is done through k_stop - 1."""
        steps, neurons = self.spikes()
        keep = steps < k_stop
        self.steps, self.neurons = [steps[keep].astype(np.int32)], [neurons[keep]]
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
        False when the run stopped early; the spikes of the steps done are kept.
    message : str
        Why the run stopped early (naming the step, and the neurons for a non-finite state
        or runaway activity), else empty.
    stop_reason : str
        '' for a complete run, else one of ``STOP_REASONS``: 'interrupted' (Ctrl-C),
        'non-finite' (NaN or infinite state), 'runaway' (see
        :class:`refsim.checks.RunawayMonitor`).
    engine : str
    wall_time : float
        Seconds spent in the time loop.
    traces : dict of str to ndarray
        ``traces['V'][k, i]``: V of neuron ``record_neurons[i]`` after step k (likewise g_e, g_i).
    record_neurons : ndarray of int64
    final_state : dict of str to ndarray
        V, g_e, g_i, t_last after the last step done (to continue or compare a run); empty
        after an interrupt, which may land inside a step.
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
    stop_reason: str = ""

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

        Memory: steps_done * N bytes (40 MB for the 1 s, 4000-neuron tutorial); refused with
        a ConfigError, before allocating, when that exceeds the available memory.
        """
        from .resources import check_memory
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

        Examples
        --------
        >>> import refsim
        >>> cfg = refsim.get_preset("brette2007-coba", n_exc=40, n_inh=10, duration=20.0)
        >>> d = refsim.simulate(cfg, seed=0, progress=False).digest()
        >>> sorted(d), len(d["raster"])
        (['raster', 'state'], 64)
        """
        import hashlib
        raster = hashlib.sha256()
        raster.update(np.ascontiguousarray(self.spike_steps, "<i8").tobytes())
        raster.update(np.ascontiguousarray(self.spike_neurons, "<i4").tobytes())
        state = hashlib.sha256()
        dtype = np.dtype(self.config.dtype).newbyteorder("<")
        for name in (*STATE_VARIABLES, "t_last"):
            if name in self.final_state:
                state.update(np.ascontiguousarray(self.final_state[name], dtype).tobytes())
        return {"raster": raster.hexdigest(), "state": state.hexdigest()}

    def spike_counts(self) -> np.ndarray:
        """Spikes per neuron, shape (N,)."""
        return np.bincount(self.spike_neurons, minlength=self.config.n_neurons)

    def summary(self) -> dict:
        """E and I rates (Hz), mean ISI CV, spike count and wall time, as a JSON-able dict."""
        from .analysis import firing_rates, isi_cv
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
            "engine": self.engine, "seed": self.seed,
        }

    def __repr__(self):
        state = "complete" if self.complete else f"PARTIAL ({self.message})"
        return (f"<SimulationResult: {self.n_spikes} spikes, {self.config.n_neurons} neurons, "
                f"{self.steps_done}/{self.config.n_steps} steps, {state}>")

    # -- files ---------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write an ``.npz`` (no pickles: loadable with ``allow_pickle=False``), atomically.

        Any file name works (``numpy.savez`` would append ``.npz`` to a name without it).

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
                "format": _FORMAT, "config": self.config.to_dict(),
                "seed": self.seed, "steps_done": self.steps_done, "complete": self.complete,
                "stop_reason": self.stop_reason,
                "message": self.message, "engine": self.engine, "wall_time": self.wall_time,
                "versions": self.versions})),
        }
        arrays.update({f"trace_{k}": v for k, v in self.traces.items()})
        arrays.update({f"final_{k}": v for k, v in self.final_state.items()})

        def write(tmp):
            with open(tmp, "wb") as f:  # a file object: savez adds no suffix
                np.savez_compressed(f, **arrays)
        atomic_write(path, write)

    @classmethod
    def load(cls, path) -> "SimulationResult":
        """Read a file written by :meth:`save`.

        Never executes code (``allow_pickle=False``); checks every array's dtype, shape and
        range and every metadata field's type against the stored configuration, and raises
        ConfigError naming the file and the first thing wrong.
        """
        from .files import check_array, read_npz
        arrays = read_npz(path, "result file")
        label = f"result file {os.fspath(path)!r}"
        meta = _read_meta(label, arrays.pop("meta", None))
        try:
            config = Config.from_dict(meta["config"])
        except ConfigError as e:
            raise ConfigError(f"{label}: config: {e}") from None
        n, steps_done = config.n_neurons, meta["steps_done"]
        if not 0 <= steps_done <= config.n_steps:
            raise ConfigError(f"{label}: steps_done = {steps_done}: allowed 0 .. {config.n_steps}")
        if meta["complete"] != (steps_done == config.n_steps and meta["stop_reason"] == ""):
            raise ConfigError(f"{label}: complete = {meta['complete']} with steps_done = "
                              f"{steps_done} of {config.n_steps} and stop_reason = "
                              f"{meta['stop_reason']!r}: allowed complete exactly when all "
                              "steps are done and stop_reason is ''")
        missing = sorted({"spike_steps", "spike_neurons"} - set(arrays))
        if missing:
            raise ConfigError(f"{label}: arrays {missing} missing: allowed a file written by "
                              "SimulationResult.save")
        steps = check_array(f"{label}: spike_steps", arrays.pop("spike_steps"), "int", (None,),
                            low=0, high=steps_done - 1)
        neurons = check_array(f"{label}: spike_neurons", arrays.pop("spike_neurons"), "int",
                              (steps.size,), low=0, high=n - 1)
        if steps.size > 1 and np.any(np.diff(steps) < 0):
            raise ConfigError(f"{label}: spike_steps: allowed non-decreasing steps")
        record = check_array(f"{label}: record_neurons",
                             arrays.pop("record_neurons", np.zeros(0, np.int64)), "int", (None,),
                             low=0, high=n - 1)
        dtype = np.dtype(config.dtype)
        traces, final = {}, {}
        for key, a in arrays.items():
            kind, _, name = key.partition("_")
            if kind == "trace" and name in STATE_VARIABLES and record.size:
                traces[name] = check_array(f"{label}: {key}", a, "float", (steps_done, record.size))
            elif kind == "final" and name in (*STATE_VARIABLES, "t_last"):
                final[name] = check_array(f"{label}: {key}", a, "float", (n,))
            else:
                raise ConfigError(f"{label}: array {key!r}: allowed spike_steps, spike_neurons, "
                                  "record_neurons, meta, trace_<V|g_e|g_i> (with record_neurons), "
                                  "final_<V|g_e|g_i|t_last>")
            if a.dtype != dtype:
                raise ConfigError(f"{label}: {key} dtype = {a.dtype}: allowed {dtype} "
                                  f"(the run's dtype)")
        if final and set(final) != {*STATE_VARIABLES, "t_last"}:
            raise ConfigError(f"{label}: final state {sorted(final)}: allowed all of V, g_e, "
                              "g_i, t_last or none")
        return cls(
            spike_steps=steps.astype(np.int64), spike_neurons=neurons.astype(np.int32),
            config=config, seed=meta["seed"], steps_done=steps_done, complete=meta["complete"],
            message=meta["message"], engine=meta["engine"], wall_time=float(meta["wall_time"]),
            traces=traces, record_neurons=record.astype(np.int64), final_state=final,
            versions=meta["versions"], stop_reason=meta["stop_reason"],
        )


_META_TYPES = {"format": str, "config": dict, "seed": (int, type(None)), "steps_done": int,
               "complete": bool, "message": str, "engine": str, "wall_time": (int, float),
               "versions": dict, "stop_reason": str}


def _read_meta(label: str, meta) -> dict:
    """The metadata of a result file: a JSON object with the fields of ``_META_TYPES``."""
    if meta is None or meta.shape != () or meta.dtype.kind != "U":
        raise ConfigError(f"{label}: meta = {None if meta is None else f'{meta.dtype} array {meta.shape}'}: "
                          "allowed a JSON string (a file written by SimulationResult.save)")
    try:
        meta = json.loads(str(meta))
    except ValueError as e:
        raise ConfigError(f"{label}: meta: not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ConfigError(f"{label}: meta = {type(meta).__name__}: allowed a JSON object")
    if meta.get("format") != _FORMAT:
        raise ConfigError(f"{label}: format = {meta.get('format')!r}: allowed {_FORMAT!r}")
    # files written before stop_reason existed: an incomplete run was an interrupted one
    meta.setdefault("stop_reason", "" if meta.get("complete") is True else "interrupted")
    for key, typ in _META_TYPES.items():
        v = meta.get(key)
        if key not in meta or not isinstance(v, typ) or (isinstance(v, bool) and typ is not bool):
            allowed = " or ".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
            raise ConfigError(f"{label}: meta {key} = {v!r}: allowed a value of type {allowed}")
    if meta["stop_reason"] not in ("", *STOP_REASONS):
        raise ConfigError(f"{label}: stop_reason = {meta['stop_reason']!r}: allowed one of "
                          f"'', {', '.join(map(repr, STOP_REASONS))}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta["versions"].items()):
        raise ConfigError(f"{label}: meta versions: allowed a mapping of str to str")
    if meta["seed"] is not None and meta["seed"] < 0:
        raise ConfigError(f"{label}: seed = {meta['seed']}: allowed a non-negative int or None")
    if not math.isfinite(meta["wall_time"]) or meta["wall_time"] < 0:
        raise ConfigError(f"{label}: wall_time = {meta['wall_time']!r}: allowed a finite number >= 0")
    return meta
