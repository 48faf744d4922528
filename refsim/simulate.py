"""``simulate``: validate, build (or take) connectivity and initial state, run an engine."""

from __future__ import annotations

import reprlib
import time
from collections.abc import Mapping

import numpy as np

from .checks import (RunawayMonitor, describe_neurons, first_nonfinite_step, nonfinite_neurons,
                     replay)
from .connectivity import Connectivity, check_matches, build_connectivity
from .elementary import check_fp_environment
from .engines import DEFAULT_ENGINE, get_engine
from .model import Constants
from .params import Config, ConfigError
from .resources import check_run
from .result import Recorder, SimulationResult
from .state import STATE_VARIABLES, initial_state

__all__ = ["simulate", "derive_seeds", "network_inputs"]

_CHUNK_STEPS = 500  # progress-bar granularity, how often Ctrl-C is honoured cleanly and how
#                     often non-finite state and runaway activity are checked


def derive_seeds(seed: int):
    """The seeds of connectivity and initial state derived from one integer ``seed``.

    Connectivity: ``seed`` itself when ``conn_rng='numpy-legacy'`` (BrainPy's
    ``np.random.seed(seed)``), else the first child of ``SeedSequence(seed)``; initial state:
    the second child. The two streams are independent, so giving one never changes the other.
    """
    children = np.random.SeedSequence(seed).spawn(2)
    return children[0], children[1]


def _draw_connectivity(config: Config, seed: int) -> Connectivity:
    legacy = config.conn_rng == "numpy-legacy"
    return build_connectivity(config, int(seed) if legacy else derive_seeds(seed)[0])


def network_inputs(config: Config, seed: int):
    """The connectivity and initial state that ``simulate(config, seed)`` draws, to export
    them for another simulator (or to reuse them).

    Returns
    -------
    connectivity : Connectivity
    initial : dict of ndarray
        ``V`` (mV), ``g_e``, ``g_i`` ([g]) and ``t_last`` (ms), shape (N,), float64.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> cfg = refsim.get_preset("tutorial-normalized", n_exc=80, n_inh=20, duration=20.0)
    >>> conn, init = refsim.network_inputs(cfg, seed=3)
    >>> a = refsim.simulate(cfg, seed=3, progress=False)
    >>> b = refsim.simulate(cfg, seed=None, connectivity=conn, initial=init, progress=False)
    >>> np.array_equal(a.spike_neurons, b.spike_neurons) and a.n_spikes == b.n_spikes
    True
    """
    if not isinstance(config, Config):
        raise ConfigError(f"config type = {type(config).__name__}: allowed refsim.Config")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed = {seed!r}: allowed a non-negative int")
    state = initial_state(config, derive_seeds(int(seed))[1])
    return _draw_connectivity(config, int(seed)), {k: np.asarray(v, np.float64) for k, v in state.as_dict().items()}


def simulate(config: Config, seed: int | None = 0, *, engine: str = DEFAULT_ENGINE,
             connectivity: Connectivity | None = None, initial: dict | None = None,
             record: "np.ndarray | list[int] | None" = None,
             record_vars=STATE_VARIABLES, progress: bool = True,
             stop_on_runaway: bool = True) -> SimulationResult:
    """Run the network of ``config`` and return its spikes.

    Every argument is checked before anything is built, and so is the memory the run needs
    (:func:`refsim.resources.check_run`): bad input raises :class:`~refsim.ConfigError`
    naming the argument, its value and what is allowed.

    Parameters
    ----------
    config : Config
        From :func:`refsim.get_preset`, possibly with overrides.
    seed : int, optional
        Seeds the connectivity and the initial state (see :func:`derive_seeds`); 0 .. 2**32-1
        when ``conn_rng='numpy-legacy'`` draws the connectivity. May be None only when both
        ``connectivity`` and a complete ``initial`` state are given.
    engine : {'numba', 'numpy'}
        ``numba`` (default): compiled loops; ``numpy``: the oracle. Both give the same bits.
    connectivity : Connectivity, optional
        Use this network instead of drawing one (e.g. another simulator's, via
        :func:`refsim.load_connectivity`).
    initial : dict of array_like, optional
        Initial values of state variables (``V``, ``g_e``, ``g_i``), shape (N,); the others
        are drawn from the config's distributions.
    record : sequence of int, optional
        Neurons whose ``record_vars`` are stored after every step (``result.traces``).
    record_vars : str or sequence of str
        Subset of ('V', 'g_e', 'g_i').
    progress : bool
        Show a tqdm progress bar.
    stop_on_runaway : bool
        Stop at the first step where the activity runs away (every neuron firing about as
        fast as the refractory period allows; defined in
        :class:`refsim.checks.RunawayMonitor`). False runs on.

    Returns
    -------
    SimulationResult
        ``complete=False`` when the run stopped early, with the spikes (and traces) of the
        steps done, ``steps_done``, ``stop_reason`` and a ``message`` naming the step:

        * ``'interrupted'``: Ctrl-C (KeyboardInterrupt);
        * ``'non-finite'``: V, g_e or g_i became NaN or infinite; the message names the first
          such step and the neurons; the steps before it are kept;
        * ``'runaway'``: runaway activity; the message names the step and the neurons firing
          at the limit; the steps up to it are kept.

        ``final_state`` is the state after the last step kept (recomputed from the start of
        its chunk by the NumPy oracle when the stop falls inside a chunk), except after an
        interrupt, which may land inside a step: then it is empty.

        Both conditions are checked after every chunk of 500 steps, identically for every
        engine (:mod:`refsim.checks`).

    Examples
    --------
    >>> import refsim
    >>> cfg = refsim.get_preset("tutorial", n_exc=80, n_inh=20, duration=50.0)
    >>> res = refsim.simulate(cfg, seed=1, progress=False)
    >>> res.steps_done, res.complete
    (500, True)
    """
    if not isinstance(config, Config):
        raise ConfigError(f"config type = {type(config).__name__}: allowed refsim.Config "
                          "(use refsim.get_preset)")
    run_engine = get_engine(engine)
    if seed is not None and (isinstance(seed, (bool, np.bool_))
                             or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ConfigError(f"seed = {seed!r}: allowed a non-negative int")
    if connectivity is not None and not isinstance(connectivity, Connectivity):
        raise ConfigError(f"connectivity type = {type(connectivity).__name__}: allowed "
                          "refsim.Connectivity (see refsim.load_connectivity, from_sparse)")
    if (connectivity is None and config.conn_rng == "numpy-legacy" and seed is not None
            and seed > 2**32 - 1):
        raise ConfigError(f"seed = {seed!r}: allowed 0 .. 2**32 - 1 when conn_rng = "
                          "'numpy-legacy' draws the connectivity (np.random.RandomState)")
    if initial is not None and not isinstance(initial, Mapping):
        raise ConfigError(f"initial type = {type(initial).__name__}: allowed a dict of arrays "
                          "named V, g_e, g_i, t_last")
    given = {} if initial is None else dict(initial)
    if seed is None and (connectivity is None or not set(STATE_VARIABLES) <= set(given)):
        raise ConfigError("seed = None: allowed only with both connectivity and a complete "
                          "initial state (V, g_e, g_i) given")
    record_vars = _check_record_vars(record_vars)
    record = _check_record(record, config.n_neurons)
    if not isinstance(stop_on_runaway, (bool, np.bool_)):
        raise ConfigError(f"stop_on_runaway = {stop_on_runaway!r}: allowed True or False")
    if connectivity is not None:
        check_matches(connectivity, config)
    check_run(config, record, record_vars, connectivity)  # before anything large is allocated
    check_fp_environment()  # the bits below assume IEEE default rounding, subnormals kept

    state_seed = derive_seeds(0 if seed is None else int(seed))[1]
    state = initial_state(config, state_seed, given)  # checks the given arrays: O(N), cheap
    if connectivity is None:
        connectivity = _draw_connectivity(config, int(seed))
    check_matches(connectivity, config)

    c = Constants.from_config(config)
    conn = (connectivity.indptr, connectivity.indices, connectivity.counts.astype(c.dtype))
    times = c.step_times(config.n_steps)
    recorder = Recorder(config.n_steps, record, record_vars, c.dtype)
    monitor = RunawayMonitor(config)

    reason, message = "", ""
    bar = _progress_bar(config.n_steps, progress)
    t0 = time.perf_counter()
    try:
        for k0 in range(0, config.n_steps, _CHUNK_STEPS):
            k1 = min(k0 + _CHUNK_STEPS, config.n_steps)
            checkpoint, n_blocks = state.copy(), len(recorder.steps)
            with np.errstate(all="ignore"):  # non-finite values are diagnosed below instead
                run_engine(state, times, k0, k1, conn, c, recorder)
            reason, message = _check_chunk(state, checkpoint, n_blocks, k0, k1, times, conn, c,
                                           recorder, monitor, stop_on_runaway, config)
            bar.update(recorder.steps_done - k0)
            if reason:
                break
    except KeyboardInterrupt:
        reason = "interrupted"
        message = f"interrupted (KeyboardInterrupt) after step {recorder.steps_done}"
    finally:
        wall = time.perf_counter() - t0
        bar.close()

    steps, neurons = recorder.spikes()
    return SimulationResult(
        spike_steps=steps, spike_neurons=neurons, config=config, seed=seed,
        steps_done=recorder.steps_done, complete=not reason, message=message, engine=engine,
        wall_time=wall, traces={k: v[:recorder.steps_done] for k, v in recorder.traces.items()},
        record_neurons=record, stop_reason=reason,
        # an interrupt may land inside a step: then the state is not that of any step
        final_state=({} if reason == "interrupted"
                     else {k: v.copy() for k, v in state.as_dict().items()}),
    )


def _check_chunk(state, checkpoint, n_blocks, k0, k1, times, conn, c, recorder, monitor,
                 stop_on_runaway, config):
    """After steps k0 .. k1-1: ``('', '')`` if the run may go on; else ``(stop_reason,
    message)`` with the recorder truncated to the steps kept and ``state`` set to the state
    after the last of them (recomputed by the NumPy oracle when that is inside the chunk)."""
    reason, message, k_stop, at_stop = "", "", k1, state
    if nonfinite_neurons(state) is not None:
        k_bad, bad, before = first_nonfinite_step(checkpoint, times, k0, k1, conn, c)
        if k_bad is None:  # an engine whose bits differ from the oracle's: drop the chunk
            k_bad, bad, before = k0, nonfinite_neurons(state), checkpoint
            where = f"in steps {k0} .. {k1 - 1} (the oracle's replay stayed finite)"
        else:
            where = f"at step {k_bad} (t = {k_bad * config.dt:g} ms)"
        union = np.unique(np.concatenate(list(bad.values())))
        per_var = ", ".join(f"{name}: {idx.size}" for name, idx in bad.items())
        reason, k_stop, at_stop = "non-finite", k_bad, before
        message = (f"non-finite state {where}: {describe_neurons(union)} with NaN or infinite "
                   f"V, g_e or g_i ({per_var}); kept steps 0 .. {k_bad - 1}")
    if stop_on_runaway:
        new = recorder.steps[n_blocks:]
        new = np.concatenate(new) if new else np.zeros(0, np.int32)
        k_run = monitor.update(new[new < k_stop], k_stop)
        if k_run is not None:
            reason, k_stop = "runaway", k_run + 1
            at_stop = state if k_stop == k1 else replay(checkpoint, times, k0, k_stop, conn, c)
            recorder.truncate(k_stop)
            steps, neurons = recorder.spikes()
            message = monitor.describe(k_run, steps, neurons, config.dt, config.tau_ref)
    if reason:
        recorder.truncate(k_stop)
        for name, value in at_stop.as_dict().items():
            setattr(state, name, value)
    return reason, message


def _check_record_vars(record_vars):
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


def _check_record(record, n):
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


def _progress_bar(total, enabled):
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="step", disable=not enabled, desc="refsim", leave=False)
