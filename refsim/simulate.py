"""``simulate``: check every input, draw (or take) the network, run an engine chunk by chunk."""

from __future__ import annotations

import sys
import time

import numpy as np
from tqdm.auto import tqdm

from .checks import RunawayMonitor, describe_neurons, first_nonfinite_step, nonfinite_neurons, replay
from .connectivity import Connectivity
from .elementary import check_fp_environment
from .engines import DEFAULT_ENGINE, engine_inputs, get_engine
from .network import check_network_args, check_seed, draw_checked
from .outputs import new_run_id
from .params import Config, ConfigError
from .recording import Recorder, check_record, check_record_vars
from .resources import check_run
from .result import SimulationResult
from .state import STATE_VARIABLES, initial_state

__all__ = ["simulate", "check_simulate_args", "Terminated"]


class Terminated(KeyboardInterrupt):
    """SIGTERM (what ``timeout``, ``kill`` and cluster schedulers send), raised by the
    command line's handler in the main thread. A KeyboardInterrupt, so a run treats it as
    Ctrl-C: it stops and keeps its partial result."""

_CHUNK_STEPS = 500  # progress-bar granularity, how often Ctrl-C is honoured cleanly and how
#                     often non-finite state and runaway activity are checked


def simulate(config: Config, seed: int | None = 0, *, engine: str = DEFAULT_ENGINE,
             connectivity: Connectivity | None = None, initial: dict | None = None,
             record: np.ndarray | list[int] | None = None,
             record_vars=STATE_VARIABLES, progress: bool = True,
             stop_on_runaway: bool = True, threads: int = 1) -> SimulationResult:
    """Run the network of ``config`` and return its spikes.

    Every argument is checked before anything is built, and so is the memory the run needs
    (:func:`refsim.resources.check_run`): bad input raises :class:`~refsim.ConfigError`
    naming the argument, its value and what is allowed.

    Parameters
    ----------
    config : Config
        From :func:`refsim.get_preset`, possibly with overrides.
    seed : int, optional
        Seeds the connectivity and the initial state (:mod:`refsim.network`); 0 .. 2**32-1
        when ``conn_rng='numpy-legacy'`` draws the connectivity. May be None only when both
        ``connectivity`` and a complete ``initial`` state are given.
    engine : {'numba', 'numpy', 'cuda'}
        ``numba`` (default): compiled loops; ``numpy``: the oracle; ``cuda``: kernels on an
        NVIDIA GPU (optional). All give the same bits.
    connectivity : Connectivity, optional
        Use this network instead of drawing one (e.g. another simulator's, via
        :func:`refsim.load_connectivity`).
    initial : dict of array_like, optional
        Initial values of state variables (``V`` in mV, ``g_e``, ``g_i`` in [g], ``t_last``
        in ms), shape (N,); the others are drawn from the config's distributions.
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
    threads : int
        Threads of the ``numba`` engine, 1 (default) .. ``numba.config.NUMBA_NUM_THREADS``:
        the neurons are stepped in that many blocks in parallel, with the same bits
        (:mod:`refsim.engines.numba_engine`): measured, no gain at N = 4 000, 1.4-1.6x from
        N = 40 000 on two idle cores (docs/performance.md).

    Returns
    -------
    SimulationResult
        ``complete=False`` when the run stopped early, with the spikes (and traces) of the
        steps done, ``steps_done``, ``stop_reason`` and a ``message`` naming the step:

        * ``'interrupted'``: Ctrl-C (KeyboardInterrupt), or SIGTERM under the command line
          (:class:`Terminated`);
        * ``'non-finite'``: V, g_e or g_i became NaN or infinite; the message names the first
          such step and the neurons; the steps before it are kept;
        * ``'runaway'``: runaway activity; the message names the step and the neurons firing
          at the limit; the steps up to it are kept.

        ``final_state`` is the state after the last step kept (recomputed from the start of
        its chunk by the NumPy oracle when the stop falls inside a chunk), except after an
        interrupt, which may land inside a step: then it is empty.

        Both conditions are checked after every chunk of 500 steps, identically for every
        engine (:mod:`refsim.checks`).

    Raises
    ------
    ConfigError
        Any bad argument (naming it, its value and what is allowed), an engine that is not
        available, or a run that would not fit in the available memory.
    FloatingPointModeError
        The process does not compute IEEE 754's default arithmetic (flush-to-zero, or
        another rounding mode).

    Examples
    --------
    >>> import refsim
    >>> config = refsim.get_preset("tutorial", n_exc=80, n_inh=20, duration=50.0)
    >>> res = refsim.simulate(config, seed=1, progress=False)
    >>> res.steps_done, res.complete
    (500, True)
    """
    given, seed, run_engine, record, record_vars = check_simulate_args(
        config, seed, engine, connectivity, initial, record, record_vars, progress, stop_on_runaway,
        threads)
    connectivity, state = draw_checked(config, seed, connectivity, given)

    c, times, conn = engine_inputs(config, connectivity)
    recorder = Recorder(config.n_steps, record, record_vars, c.dtype)
    monitor = RunawayMonitor(config)

    reason, message = "", ""
    bar = _progress_bar(config.n_steps, progress)
    t0 = time.perf_counter()
    try:
        for k0 in range(0, config.n_steps, _CHUNK_STEPS):
            k1 = min(k0 + _CHUNK_STEPS, config.n_steps)
            checkpoint, n_blocks = state.copy(), recorder.n_blocks
            with np.errstate(all="ignore"):  # non-finite values are diagnosed below instead
                run_engine(state, times, k0, k1, conn, c, recorder)
            reason, message = _check_chunk(state, checkpoint, n_blocks, k0, k1, times, conn, c,
                                           recorder, monitor, stop_on_runaway, config)
            bar.update(recorder.steps_done - k0)
            if reason:
                break
    except KeyboardInterrupt as e:
        reason, done = "interrupted", recorder.steps_done
        message = (f"interrupted ({'SIGTERM' if isinstance(e, Terminated) else 'Ctrl-C'}) after "
                   f"{done} steps; {_kept(done)}")
    finally:
        wall = time.perf_counter() - t0
        bar.close()

    spike_steps, spike_neurons = recorder.spikes()
    return SimulationResult(
        spike_steps=spike_steps, spike_neurons=spike_neurons, config=config, seed=seed,
        steps_done=recorder.steps_done, complete=not reason, message=message, engine=engine,
        wall_time=wall, traces=recorder.traces(),
        record_neurons=record, stop_reason=reason, run_id=new_run_id(),
        # an interrupt may land inside a step: then the state is not that of any step
        final_state=({} if reason == "interrupted"
                     else {k: v.copy() for k, v in state.as_dict().items()}),
    )


def check_simulate_args(config, seed=0, engine=DEFAULT_ENGINE, connectivity=None, initial=None,
                        record=None, record_vars=STATE_VARIABLES, progress=True,
                        stop_on_runaway=True, threads=1):
    """Every check :func:`simulate` makes before it builds anything: the arguments, that the
    engine is available, the memory the run needs and the floating-point environment. The
    command line calls it before it creates the output directory.

    Parameters
    ----------
    config, seed, engine, connectivity, initial, record, record_vars, progress, stop_on_runaway, threads
        As :func:`simulate` takes them.

    Returns
    -------
    given : dict
        ``initial`` as a plain dict.
    seed : int or None
        As a Python int.
    run_engine : callable
        The engine's ``run_steps``.
    record : ndarray of int64
    record_vars : tuple of str

    Raises
    ------
    ConfigError, FloatingPointModeError
        As :func:`simulate` raises them.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.simulate import check_simulate_args
    >>> config = refsim.get_preset("tutorial", n_exc=8, n_inh=2)
    >>> check_simulate_args(config, np.int64(3), "numpy")[1]
    3
    >>> check_simulate_args(config, 0, "numpy", progress="no")
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: progress = 'no': allowed True or False
    """
    given = check_network_args(config, seed, connectivity, initial)  # config, seed, inputs
    seed = check_seed(seed, config, connectivity)  # a plain int (or None), as results store it
    run_engine = get_engine(engine, threads)
    threads = int(threads)
    record_vars = check_record_vars(record_vars)
    record = check_record(record, config.n_neurons)
    for name, flag in (("progress", progress), ("stop_on_runaway", stop_on_runaway)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ConfigError(f"{name} = {flag!r}: allowed True or False")
    check_run(config, record, record_vars, connectivity, engine, threads)  # before anything large
    check_fp_environment()  # the bits below assume IEEE default rounding, subnormals kept
    if given:  # the given values in the run's float type (finite, t_last <= 0): N-sized, cheap
        initial_state(config, 0, given)
    return given, seed, run_engine, record, record_vars


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
                   f"V, g_e or g_i ({per_var}); {_kept(k_bad)}")
    if stop_on_runaway:
        new = recorder.spikes_since(n_blocks)
        k_run = monitor.update(new[new < k_stop], k_stop)
        if k_run is not None:
            reason, k_stop = "runaway", k_run + 1
            at_stop = state if k_stop == k1 else replay(checkpoint, times, k0, k_stop, conn, c)
            recorder.truncate(k_stop)
            spike_steps, spike_neurons = recorder.spikes()
            message = monitor.describe(k_run, spike_steps, spike_neurons, config.dt, config.tau_ref)
    if reason:
        recorder.truncate(k_stop)
        for name, value in at_stop.as_dict().items():
            setattr(state, name, value)
    return reason, message


def _kept(n_steps: int) -> str:
    return f"kept steps 0 .. {n_steps - 1}" if n_steps else "kept no steps"


def _progress_bar(total, enabled):
    # no bar where there is no stderr to draw it on (a daemon, ``2>&-``)
    enabled = enabled and sys.stderr is not None and not getattr(sys.stderr, "closed", False)
    return tqdm(total=total, unit="step", disable=not enabled, desc="refsim", leave=False)
