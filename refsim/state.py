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

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .params import Config, ConfigError

__all__ = ["State", "initial_state", "STATE_VARIABLES", "STATE_FIELDS", "T_LAST_INIT"]

#: The state variables that are integrated (t_last is bookkeeping).
STATE_VARIABLES = ("V", "g_e", "g_i")
#: Every field of :class:`State`, in the order of a result file and of a digest.
STATE_FIELDS = (*STATE_VARIABLES, "t_last")
#: t_last before a neuron's first spike (ms): far enough back that no clamp holds at t = 0.
T_LAST_INIT = -1e7
_DRAWN_FROM = {"V": ("V0_mean", "V0_std"), "g_e": ("g_e0_mean", "g_e0_std"),
               "g_i": ("g_i0_mean", "g_i0_std")}


@dataclass
class State:
    """Mutable state arrays, updated in place by the engines.

    Parameters
    ----------
    V : ndarray, shape (N,)
        Membrane potential (mV).
    g_e, g_i : ndarray, shape (N,)
        Excitatory and inhibitory conductances ([g]).
    t_last : ndarray, shape (N,)
        Time of each neuron's last spike (ms; :data:`T_LAST_INIT` before the first).

    All four in the run's float type (:func:`initial_state` makes them so).

    Examples
    --------
    >>> import refsim
    >>> from refsim.state import initial_state
    >>> state = initial_state(refsim.get_preset("tutorial", n_exc=3, n_inh=1), seed=0)
    >>> state.V.dtype, state.t_last.tolist()
    (dtype('float32'), [-10000000.0, -10000000.0, -10000000.0, -10000000.0])
    """

    V: np.ndarray
    g_e: np.ndarray
    g_i: np.ndarray
    t_last: np.ndarray

    def copy(self) -> State:
        """A copy with copies of the four arrays.

        Returns
        -------
        State
            Independent of this one: changing either leaves the other as it was.

        Examples
        --------
        >>> import refsim
        >>> from refsim.state import initial_state
        >>> state = initial_state(refsim.get_preset("tutorial", n_exc=3, n_inh=1), seed=0)
        >>> copy = state.copy()
        >>> copy.V[0] = 0.0
        >>> float(state.V[0]) != 0.0
        True
        """
        return State(self.V.copy(), self.g_e.copy(), self.g_i.copy(), self.t_last.copy())

    def as_dict(self) -> dict[str, np.ndarray]:
        """The arrays by name (not copied).

        Returns
        -------
        dict of str to ndarray
            ``V``, ``g_e``, ``g_i``, ``t_last``, in that order.

        Examples
        --------
        >>> import refsim
        >>> from refsim.state import initial_state
        >>> state = initial_state(refsim.get_preset("tutorial", n_exc=3, n_inh=1), seed=0)
        >>> list(state.as_dict())
        ['V', 'g_e', 'g_i', 't_last']
        """
        return {"V": self.V, "g_e": self.g_e, "g_i": self.g_i, "t_last": self.t_last}


def initial_state(config: Config, seed, given: dict | None = None) -> State:
    """The state before step 0.

    Drawn from ``numpy.random.default_rng(seed)`` in a fixed order (V, then g_e, then g_i, each
    ``Normal(mean, std)`` of the config, whatever ``given`` contains, so that giving one
    variable never changes the others); any variable in ``given`` replaces the drawn one.

    Parameters
    ----------
    config : Config
        The means and standard deviations ``V0_mean``, ``V0_std`` (mV), ``g_e0_mean``, ...
        ([g]), N and the float type.
    seed : int or numpy.random.SeedSequence
        The state's stream (:func:`refsim.network.seeds` says which one a run's seed means).
    given : dict of array_like, optional
        Arrays named after state variables (``V`` in mV, ``g_e``, ``g_i`` in [g]), shape (N,),
        e.g. another simulator's initial state. ``t_last`` (ms) may be given too (default
        :data:`T_LAST_INIT`).

    Returns
    -------
    State
        New arrays in the run's float type (the given ones converted, i.e. copied).

    Raises
    ------
    ConfigError
        ``given`` is not a mapping, names an unknown variable, or holds an array of the wrong
        shape or type, or NaN or infinite values; or the config's distributions draw values
        that are not finite in the float type.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.state import initial_state
    >>> config = refsim.get_preset("tutorial", n_exc=3, n_inh=1)
    >>> a = initial_state(config, 0)
    >>> b = initial_state(config, 0, given={"g_e": np.ones(4)})
    >>> np.array_equal(a.V, b.V), b.g_e.tolist()     # giving g_e leaves the V draw alone
    (True, [1.0, 1.0, 1.0, 1.0])
    """
    n, dtype = config.n_neurons, np.dtype(config.dtype)
    rng = np.random.default_rng(seed)
    drawn = {
        "V": rng.normal(config.V0_mean, config.V0_std, n),
        "g_e": rng.normal(config.g_e0_mean, config.g_e0_std, n),
        "g_i": rng.normal(config.g_i0_mean, config.g_i0_std, n),
        "t_last": np.full(n, T_LAST_INIT),
    }
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise ConfigError(f"initial = {type(given).__name__}: allowed a dict of arrays named "
                          "V, g_e, g_i, t_last")
    unknown = sorted(map(repr, set(given) - set(drawn)))
    if unknown:
        raise ConfigError(f"initial state variables [{', '.join(unknown)}]: allowed {sorted(drawn)}")
    out = {}
    for name, default in drawn.items():
        try:
            a = np.asarray(given.get(name, default))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"initial state {name}: allowed an array of numbers ({e})") from None
        if a.shape != (n,):
            raise ConfigError(f"initial state {name} shape = {a.shape}: allowed ({n},)")
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise ConfigError(f"initial state {name} dtype = {a.dtype}: allowed a real number type")
        with np.errstate(over="ignore"):
            out[name] = np.array(a, dtype=dtype)  # a copy: the engines update it in place
        bad = np.flatnonzero(~np.isfinite(out[name]))
        if bad.size and name not in given:
            mean, std = _DRAWN_FROM[name]
            raise ConfigError(f"{mean} = {getattr(config, mean)!r}, {std} = {getattr(config, std)!r}: "
                              f"allowed values whose Normal draws are finite in {dtype} "
                              f"({bad.size} of {n} are not)")
        if bad.size:
            raise ConfigError(f"initial state {name}: {bad.size} values NaN or infinite in "
                              f"{dtype} (first at neuron {bad[0]}: {a[bad[0]].item()!r}): allowed "
                              f"finite values only")
        if name == "t_last" and name in given and np.any(out[name] > 0):
            late = np.flatnonzero(out[name] > 0)
            raise ConfigError(f"initial state t_last: {late.size} values > 0 ms (first at neuron "
                              f"{late[0]}: {a[late[0]].item()!r}): allowed spike times <= 0 ms, "
                              "before the run starts")
    return State(**out)

