"""``simulate``: validate, build (or take) connectivity and initial state, run an engine."""

from __future__ import annotations

import time

import numpy as np

from .connectivity import Connectivity, check_matches, build_connectivity
from .engines import DEFAULT_ENGINE, get_engine
from .model import Constants
from .params import Config, ConfigError
from .result import Recorder, SimulationResult
from .state import STATE_VARIABLES, initial_state

__all__ = ["simulate", "derive_seeds"]

_CHUNK_STEPS = 500  # progress-bar granularity; also how often Ctrl-C is honoured cleanly


def derive_seeds(seed: int):
    """The seeds of connectivity and initial state derived from one integer ``seed``.

    Connectivity: ``seed`` itself when ``conn_rng='numpy-legacy'`` (BrainPy's
    ``np.random.seed(seed)``), else the first child of ``SeedSequence(seed)``; initial state:
    the second child. The two streams are independent, so giving one never changes the other.
    """
    children = np.random.SeedSequence(seed).spawn(2)
    return children[0], children[1]


def simulate(config: Config, seed: int | None = 0, *, engine: str = DEFAULT_ENGINE,
             connectivity: Connectivity | None = None, initial: dict | None = None,
             record: "np.ndarray | list[int] | None" = None,
             record_vars=STATE_VARIABLES, progress: bool = True) -> SimulationResult:
    """Run the network of ``config`` and return its spikes.

    Parameters
    ----------
    config : Config
        From :func:`refsim.get_preset`, possibly with overrides.
    seed : int, optional
        Seeds the connectivity and the initial state (see :func:`derive_seeds`). May be None
        only when both ``connectivity`` and a complete ``initial`` state are given.
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
    record_vars : sequence of str
        Subset of ('V', 'g_e', 'g_i').
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    SimulationResult
        If the run is interrupted (Ctrl-C), the spikes computed so far, ``complete=False``.

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
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ConfigError(f"seed = {seed!r}: allowed a non-negative int")
    given = {} if initial is None else dict(initial)
    if seed is None and (connectivity is None or not set(STATE_VARIABLES) <= set(given)):
        raise ConfigError("seed = None: allowed only with both connectivity and a complete "
                          "initial state (V, g_e, g_i) given")
    bad_vars = sorted(set(record_vars) - set(STATE_VARIABLES))
    if bad_vars:
        raise ConfigError(f"record_vars {bad_vars}: allowed a subset of {STATE_VARIABLES}")
    record = np.zeros(0, np.int64) if record is None else np.asarray(record, dtype=np.int64).ravel()
    if record.size and (record.min() < 0 or record.max() >= config.n_neurons):
        raise ConfigError(f"record: allowed neuron indices 0 .. {config.n_neurons - 1}")

    conn_seed, state_seed = derive_seeds(0 if seed is None else int(seed))
    if connectivity is None:
        legacy = config.conn_rng == "numpy-legacy"
        connectivity = build_connectivity(config, int(seed) if legacy else conn_seed)
    check_matches(connectivity, config)
    state = initial_state(config, state_seed, given)

    c = Constants.from_config(config)
    conn = (connectivity.indptr, connectivity.indices, connectivity.counts.astype(c.dtype))
    times = c.step_times(config.n_steps)
    recorder = Recorder(config.n_steps, record, record_vars, c.dtype)

    complete, message = True, ""
    bar = _progress_bar(config.n_steps, progress)
    t0 = time.perf_counter()
    try:
        for k0 in range(0, config.n_steps, _CHUNK_STEPS):
            k1 = min(k0 + _CHUNK_STEPS, config.n_steps)
            run_engine(state, times, k0, k1, conn, c, recorder)
            bar.update(k1 - k0)
    except KeyboardInterrupt:
        complete, message = False, f"interrupted (KeyboardInterrupt) after step {recorder.steps_done}"
    finally:
        wall = time.perf_counter() - t0
        bar.close()

    steps, neurons = recorder.spikes()
    return SimulationResult(
        spike_steps=steps, spike_neurons=neurons, config=config, seed=seed,
        steps_done=recorder.steps_done, complete=complete, message=message, engine=engine,
        wall_time=wall, traces={k: v[:recorder.steps_done] for k, v in recorder.traces.items()},
        record_neurons=record,
        # an interrupt may land inside a step, so only a complete run's state is trustworthy
        final_state={k: v.copy() for k, v in state.as_dict().items()} if complete else {},
    )


def _progress_bar(total, enabled):
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="step", disable=not enabled, desc="refsim", leave=False)
