"""Engines: interchangeable implementations of the same step functions.

An engine is a function ``run_steps(state, times, k_start, k_stop, conn, constants, recorder)``
that advances ``state`` in place through steps ``k_start .. k_stop-1`` and hands the spikes of
every step to ``recorder``. The NumPy engine is the oracle the others are tested against.
"""

from __future__ import annotations

from ..params import ConfigError

ENGINES = ("numpy",)


def get_engine(name: str):
    """The ``run_steps`` function of engine ``name``."""
    if name == "numpy":
        from .numpy_engine import run_steps
        return run_steps
    raise ConfigError(f"engine = {name!r}: allowed one of {', '.join(ENGINES)}")
