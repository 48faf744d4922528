"""Engines: interchangeable implementations of the same step functions.

An engine is a function ``run_steps(state, times, k_start, k_stop, conn, c, recorder)``
that advances ``state`` (:class:`refsim.state.State`, in place) through steps
``k_start .. k_stop-1`` at the step times ``times`` (ms), on the connectivity ``conn`` (the
CSR arrays ``(indptr, indices, counts)``, counts in the run's float type) with the constants
``c`` (:class:`refsim.model.Constants`), and hands the spikes of every step to ``recorder``
(:class:`refsim.recording.Recorder`). All three give the same bits (``expm1='libm'``, the
machine's own expm1, aside).

* ``numpy``: the oracle, plain array code (:mod:`refsim.engines.numpy_engine`).
* ``numba``: the same functions compiled as loops over neurons, bit-identical to the oracle
  (:mod:`refsim.engines.numba_engine`); the default.
* ``cuda``: the same step order as kernels on an NVIDIA GPU (:mod:`refsim.engines.cuda_engine`);
  optional (``pip install 'refsim[cuda]'``), checked for before any work starts.
"""

from __future__ import annotations

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
        ``(indptr, indices, counts)``.

    Examples
    --------
    >>> import refsim
    >>> from refsim.engines import engine_inputs
    >>> config = refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=1.0)
    >>> c, times, conn = engine_inputs(config, refsim.network_inputs(config, 0)[0])
    >>> times.dtype, conn[2].dtype, times.size
    (dtype('float32'), dtype('float32'), 10)
    """
    c = Constants.from_config(config)
    conn = (connectivity.indptr, connectivity.indices, connectivity.counts.astype(c.dtype))
    return c, c.step_times(config.n_steps), conn


def get_engine(name: str):
    """The ``run_steps`` function of engine ``name`` (imported on first use).

    Parameters
    ----------
    name : {'numba', 'numpy', 'cuda'}
        One of :data:`ENGINES`.

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
    if name == "numpy":
        from .numpy_engine import run_steps
        return run_steps
    if name == "numba":
        from .numba_engine import run_steps
        return run_steps
    if name == "cuda":
        from .cuda_engine import require_cuda, run_steps
        require_cuda()
        return run_steps
    raise ConfigError(f"engine = {name!r}: allowed one of {', '.join(ENGINES)}")
