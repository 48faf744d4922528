"""Engines: interchangeable implementations of the same step functions.

An engine is a function ``run_steps(state, times, k_start, k_stop, conn, constants, recorder)``
that advances ``state`` through steps ``k_start .. k_stop-1`` and hands the spikes of every
step to ``recorder``.

* ``numpy``: the oracle, plain array code (:mod:`refsim.engines.numpy_engine`).
* ``numba``: the same functions compiled as loops over neurons, bit-identical to the oracle
  (:mod:`refsim.engines.numba_engine`); the default.
* ``cuda``: the same step order as kernels on an NVIDIA GPU (:mod:`refsim.engines.cuda_engine`);
  optional (``pip install 'refsim[cuda]'``), checked for before any work starts.
"""

from __future__ import annotations

from ..params import ConfigError

ENGINES = ("numba", "numpy", "cuda")
DEFAULT_ENGINE = "numba"


def get_engine(name: str):
    """The ``run_steps`` function of engine ``name`` (imported on first use)."""
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
