"""Engines: interchangeable implementations of the same step functions.

An engine is a function ``run_steps(state, times, k_start, k_stop, conn, c, recorder)``
that advances ``state`` (:class:`refsim.state.State`, in place) through steps
``k_start .. k_stop-1`` at the step times ``times`` (ms), on the connectivity ``conn`` (the
CSR arrays ``(indptr, indices, counts)``, counts in the run's float type, or empty where every
entry is one synapse) with the constants
``c`` (:class:`refsim.model.Constants`), and hands the spikes of every step to ``recorder``
(:class:`refsim.recording.Recorder`). All three give the same bits (``expm1='libm'``, the
machine's own expm1, aside).

* ``numpy``: the oracle, plain array code (:mod:`refsim.engines.numpy_engine`).
* ``numba``: the same functions compiled as loops over neurons, bit-identical to the oracle
  (:mod:`refsim.engines.numba_engine`); the default. ``threads`` > 1 steps contiguous blocks
  of neurons in parallel, with the same bits.
* ``cuda``: the same step order as kernels on an NVIDIA GPU (:mod:`refsim.engines.cuda_engine`);
  optional (``pip install 'refsim[cuda]'``), checked for before any work starts.
"""

from __future__ import annotations

import functools

import numpy as np

from ..model import Constants
from ..params import ConfigError

#: The engines, as ``simulate(engine=...)`` and ``--engine`` take them.
ENGINES = ("numba", "numpy", "cuda")
DEFAULT_ENGINE = "numba"


def engine_inputs(config, connectivity):
    """What every engine's ``run_steps`` takes besides the state: the constants, the step
    times and the CSR arrays, with the synapse counts in the run's float type.

    Parameters
    ----------
    config : Config
    connectivity : Connectivity

    Returns
    -------
    c : Constants
    times : ndarray
        t_k = k dt (ms), k = 0 .. n_steps - 1, in the run's float type.
    conn : tuple of ndarray
        ``(indptr, indices, counts)``; ``counts`` is empty when every entry is one synapse
        (:attr:`Connectivity.unit_counts`, every network the built-in rules draw): w * 1 is
        w exactly, so the engines then add the weight itself, with the same bits, and the
        run holds no per-entry array but the int32 indices.

    Examples
    --------
    >>> import refsim
    >>> from refsim.engines import engine_inputs
    >>> config = refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=1.0)
    >>> c, times, conn = engine_inputs(config, refsim.network_inputs(config, 0)[0])
    >>> times.dtype, conn[2].dtype, conn[2].size, times.size    # unit counts: none stored
    (dtype('float32'), dtype('float32'), 0, 10)
    """
    c = Constants.from_config(config)
    counts = (np.zeros(0, c.dtype) if connectivity.unit_counts
              else connectivity.counts.astype(c.dtype))
    conn = (connectivity.indptr, connectivity.indices, counts)
    return c, c.step_times(config.n_steps), conn


def check_threads(threads, engine: str = DEFAULT_ENGINE) -> int:
    """``threads`` as an int, if the engine can use that many threads.

    Parameters
    ----------
    threads : int
        1 .. ``numba.config.NUMBA_NUM_THREADS`` (the size of Numba's thread pool: the cores
        available unless the environment variable ``NUMBA_NUM_THREADS`` sets it) for the
        ``numba`` engine; 1 for the others.
    engine : str

    Returns
    -------
    int

    Raises
    ------
    ConfigError
        Not an int, below 1, above the pool, or above 1 for an engine without threads.

    Examples
    --------
    >>> from refsim.engines import check_threads
    >>> check_threads(1, "numpy")
    1
    >>> check_threads(2, "numpy")
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: threads = 2: allowed 1 for engine 'numpy' (threads are the numba engine's)
    """
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ConfigError(f"threads = {threads!r}: allowed an int >= 1")
    threads = int(threads)
    if threads > 1 and engine != "numba":
        raise ConfigError(f"threads = {threads}: allowed 1 for engine {engine!r} (threads are the "
                          "numba engine's)")
    if threads > 1:
        import numba
        pool = numba.config.NUMBA_NUM_THREADS
        if threads > pool:
            raise ConfigError(f"threads = {threads}: allowed 1 .. {pool} (Numba's thread pool; "
                              "set the environment variable NUMBA_NUM_THREADS for more)")
    return threads


def get_engine(name: str, threads: int = 1):
    """The ``run_steps`` function of engine ``name`` (imported on first use).

    Parameters
    ----------
    name : {'numba', 'numpy', 'cuda'}
        One of :data:`ENGINES`.
    threads : int
        Threads of the ``numba`` engine (:func:`check_threads`); the bits do not depend on it.

    Returns
    -------
    callable
        ``run_steps(state, times, k_start, k_stop, conn, c, recorder)``.

    Raises
    ------
    ConfigError
        An unknown engine, or ``'cuda'`` without numba-cuda or a usable GPU (or Numba's CUDA
        simulator).

    Examples
    --------
    >>> from refsim.engines import get_engine
    >>> get_engine("numpy").__module__
    'refsim.engines.numpy_engine'
    >>> get_engine("jax")
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: engine = 'jax': allowed one of numba, numpy, cuda
    """
    if name not in ENGINES:
        raise ConfigError(f"engine = {name!r}: allowed one of {', '.join(ENGINES)}")
    threads = check_threads(threads, name)
    if name == "numpy":
        from .numpy_engine import run_steps
        return run_steps
    if name == "numba":
        from .numba_engine import run_steps
        return run_steps if threads == 1 else functools.partial(run_steps, threads=threads)
    if name == "cuda":
        from .cuda_engine import require_cuda, run_steps
        require_cuda()
        return run_steps
