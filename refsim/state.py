"""The network's dynamic state and where its initial value comes from.

State variables (all shape (N,), the run's float type):

======== ===== =============================================================
name     unit  meaning
======== ===== =============================================================
V        mV    membrane potential
g_e      [g]   excitatory conductance (post-aligned: one per neuron)
g_i      [g]   inhibitory conductance
t_last   ms    time of the last spike (-1e7 ms before the first)
======== ===== =============================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import Config, ConfigError

__all__ = ["State", "initial_state", "load_initial_state", "STATE_VARIABLES"]

STATE_VARIABLES = ("V", "g_e", "g_i")


@dataclass
class State:
    """Mutable state arrays, updated in place by the engines."""

    V: np.ndarray
    g_e: np.ndarray
    g_i: np.ndarray
    t_last: np.ndarray

    def copy(self) -> "State":
        return State(self.V.copy(), self.g_e.copy(), self.g_i.copy(), self.t_last.copy())

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"V": self.V, "g_e": self.g_e, "g_i": self.g_i, "t_last": self.t_last}


def initial_state(config: Config, seed, given: dict | None = None) -> State:
    """The state before step 0.

    Drawn from ``numpy.random.default_rng(seed)`` in a fixed order (V, then g_e, then g_i, each
    ``Normal(mean, std)`` of the config, whatever ``given`` contains, so that giving one
    variable never changes the others); any variable in ``given`` replaces the drawn one.

    Parameters
    ----------
    config : Config
    seed : int or numpy.random.SeedSequence
    given : dict of array_like, optional
        Arrays named after state variables (``V``, ``g_e``, ``g_i``), shape (N,), e.g. another
        simulator's initial state. ``t_last`` may be given too (default -1e7 ms).
    """
    n, dtype = config.n_neurons, np.dtype(config.dtype)
    rng = np.random.default_rng(seed)
    drawn = {
        "V": rng.normal(config.V0_mean, config.V0_std, n),
        "g_e": rng.normal(config.g_e0_mean, config.g_e0_std, n),
        "g_i": rng.normal(config.g_i0_mean, config.g_i0_std, n),
        "t_last": np.full(n, -1e7),
    }
    given = {} if given is None else dict(given)
    unknown = sorted(set(given) - set(drawn))
    if unknown:
        raise ConfigError(f"initial state variables {unknown}: allowed {sorted(drawn)}")
    out = {}
    for name, default in drawn.items():
        a = given.get(name, default)
        a = np.asarray(a)
        if a.shape != (n,):
            raise ConfigError(f"initial state {name} shape = {a.shape}: allowed ({n},)")
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise ConfigError(f"initial state {name} dtype = {a.dtype}: allowed a real number type")
        if not np.all(np.isfinite(a)):
            raise ConfigError(f"initial state {name}: allowed finite values only")
        out[name] = np.array(a, dtype=dtype)  # a copy: the engines update it in place
    return State(**out)


def load_initial_state(path) -> dict[str, np.ndarray]:
    """Read an ``.npz`` whose arrays are named after state variables (``V``; optionally
    ``g_e``, ``g_i``, ``t_last``), with ``allow_pickle=False``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ConfigError(f"initial-state file {path}: cannot be read as .npz ({e})") from None
    unknown = sorted(set(arrays) - {"V", "g_e", "g_i", "t_last"})
    if unknown or "V" not in arrays:
        raise ConfigError(f"initial-state file {path}: arrays {sorted(arrays)}; allowed 'V' "
                          "and optionally 'g_e', 'g_i', 't_last'")
    return arrays
