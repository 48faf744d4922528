"""Which network a seed means: seed -> connectivity and initial state.

This is the contract other simulators are validated against: ``refsim.simulate(config,
seed)``, :func:`refsim.simulate_exact`, :func:`network_inputs` (the export for peers), the
validation scripts, the docs and the tests all draw their network here, and nothing else
derives seeds.

The rule
--------
One non-negative integer ``seed`` gives two independent streams:

* connectivity: ``seed`` itself when ``config.conn_rng == 'numpy-legacy'`` (BrainPy's
  ``np.random.seed(seed)``, so 0 .. 2**32 - 1), else the first child of
  ``numpy.random.SeedSequence(seed)``;
* initial state: the second child of ``SeedSequence(seed)`` (:func:`refsim.state.initial_state`).

Giving the connectivity or some initial values (another simulator's) never changes what is
drawn for the rest.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping

import numpy as np

from .connectivity import Connectivity, build_connectivity, check_matches
from .params import Config, ConfigError, plain_scalar
from .state import STATE_VARIABLES, initial_state

__all__ = ["seeds", "check_seed", "check_network_args", "draw_network", "draw_checked",
           "network_inputs"]

#: The largest seed ``np.random.RandomState`` takes (``conn_rng='numpy-legacy'``).
LEGACY_SEED_MAX = 2**32 - 1


def seeds(config: Config, seed: int):
    """The seeds of the connectivity and of the initial state that ``seed`` means.

    Parameters
    ----------
    config : Config
        Only ``conn_rng`` matters.
    seed : int
        Non-negative (checked by :func:`check_network_args`).

    Returns
    -------
    connectivity_seed : int or numpy.random.SeedSequence
        ``seed`` itself when ``config.conn_rng == 'numpy-legacy'``, else
        ``SeedSequence(seed).spawn(2)[0]``.
    state_seed : numpy.random.SeedSequence
        ``SeedSequence(seed).spawn(2)[1]``.

    Examples
    --------
    >>> import refsim
    >>> from refsim.network import seeds
    >>> conn_seed, state_seed = seeds(refsim.get_preset("tutorial"), 7)
    >>> conn_seed, state_seed.spawn_key
    (7, (1,))
    >>> seeds(refsim.get_preset("brette2007-coba"), 7)[0].spawn_key
    (0,)
    """
    children = np.random.SeedSequence(int(seed)).spawn(2)
    conn_seed = int(seed) if config.conn_rng == "numpy-legacy" else children[0]
    return conn_seed, children[1]


def check_seed(seed, config: Config, connectivity=None) -> int | None:
    """``seed`` as a Python int (None stays None), or ConfigError: the one check of a run's
    seed, which :func:`check_network_args` makes too.

    Parameters
    ----------
    seed : int, numpy integer or None
        Non-negative; at most 2**32 - 1 when ``conn_rng='numpy-legacy'`` draws the
        connectivity (``connectivity`` None). Bools and floats (even whole ones) are refused.
        Whether None is allowed depends on the other inputs (:func:`check_network_args`).
    config : Config
    connectivity : Connectivity, optional
        Given or not: only whether it is None matters here.

    Returns
    -------
    int or None
        A plain ``int``, so that results store and write (JSON) the seed as given.

    Raises
    ------
    ConfigError
        ``config`` is not a Config, or ``seed`` is not allowed (naming its value and what is
        allowed).

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.network import check_seed
    >>> config = refsim.get_preset("tutorial", n_exc=8, n_inh=2)
    >>> s = check_seed(np.int64(3), config)
    >>> s, type(s)
    (3, <class 'int'>)
    >>> check_seed(True, config)
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: seed = True: allowed a non-negative int
    >>> try:
    ...     check_seed(2**32, config)        # the tutorial draws with np.random.RandomState
    ... except refsim.ConfigError as e:
    ...     print(str(e).split(" when")[0])
    seed = 4294967296: allowed 0 .. 2**32 - 1
    """
    _check_config(config)
    if seed is None:
        return None
    if (isinstance(seed, (bool, np.bool_, np.timedelta64))  # a timedelta64 is an np.integer
            or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ConfigError(f"seed = {reprlib.repr(seed)}: allowed a non-negative int")
    seed = plain_scalar(seed)
    if connectivity is None and config.conn_rng == "numpy-legacy" and seed > LEGACY_SEED_MAX:
        raise ConfigError(f"seed = {reprlib.repr(seed)}: allowed 0 .. 2**32 - 1 when conn_rng = "
                          "'numpy-legacy' draws the connectivity (np.random.RandomState)")
    return int(seed)


def _check_config(config) -> None:
    if not isinstance(config, Config):
        raise ConfigError(f"config type = {type(config).__name__}: allowed refsim.Config "
                          "(use refsim.get_preset)")


def check_network_args(config: Config, seed, connectivity=None, initial=None) -> dict:
    """Check the arguments that choose a network, before anything is built.

    Parameters
    ----------
    config : Config
    seed : int or None
        As :func:`check_seed` checks it (which see for the value to store). None only when
        ``connectivity`` and a complete ``initial`` (V, g_e, g_i) are both given.
    connectivity : Connectivity, optional
        Must have the configuration's N and n_exc.
    initial : mapping of str to array_like, optional
        Checked value by value when the state is built (:func:`refsim.state.initial_state`).

    Returns
    -------
    dict
        ``initial`` as a plain dict (empty when None).

    Raises
    ------
    ConfigError
        Naming the argument, its value and what is allowed.

    Examples
    --------
    >>> import refsim
    >>> from refsim.network import check_network_args
    >>> config = refsim.get_preset("brette2007-coba", n_exc=8, n_inh=2)
    >>> check_network_args(config, 5)
    {}
    >>> check_network_args(config, -1)
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: seed = -1: allowed a non-negative int
    """
    check_seed(seed, config, connectivity)
    if connectivity is not None and not isinstance(connectivity, Connectivity):
        raise ConfigError(f"connectivity type = {type(connectivity).__name__}: allowed "
                          "refsim.Connectivity (see refsim.load_connectivity, from_sparse)")
    if initial is not None and not isinstance(initial, Mapping):
        raise ConfigError(f"initial type = {type(initial).__name__}: allowed a dict of arrays "
                          "named V, g_e, g_i, t_last")
    given = {} if initial is None else dict(initial)
    if seed is None and (connectivity is None or not set(STATE_VARIABLES) <= set(given)):
        raise ConfigError("seed = None: allowed only with both connectivity and a complete "
                          "initial state (V, g_e, g_i) given")
    if connectivity is not None:
        check_matches(connectivity, config)
    return given


def draw_network(config: Config, seed, connectivity=None, initial=None):
    """The connectivity and initial state of ``simulate(config, seed, connectivity=...,
    initial=...)``: the given ones, the rest drawn from ``seed`` by the rule above.

    Parameters
    ----------
    config, seed, connectivity, initial
        As :func:`check_network_args` takes them (and checks them).

    Returns
    -------
    connectivity : Connectivity
    state : refsim.state.State
        In the run's float type; a new copy (the engines update it in place).

    Raises
    ------
    ConfigError
        As :func:`check_network_args`, or a given initial state that is not usable
        (:func:`refsim.state.initial_state`).

    Examples
    --------
    >>> import refsim
    >>> from refsim.network import draw_network
    >>> connectivity, state = draw_network(refsim.get_preset("brette2007-coba", n_exc=8, n_inh=2), 5)
    >>> connectivity, state.V.dtype
    (<Connectivity: 10 neurons (8 E), 1 synapses>, dtype('float64'))
    """
    return draw_checked(config, seed, connectivity,
                        check_network_args(config, seed, connectivity, initial))


def draw_checked(config: Config, seed, connectivity, given: dict):
    """:func:`draw_network` for arguments that :func:`check_network_args` has checked (it
    returned ``given``): what ``simulate`` calls after its memory check.

    Parameters
    ----------
    config : Config
    seed : int or None
        None (only allowed with everything given) draws from 0, for the parts not given.
    connectivity : Connectivity or None
    given : dict of array_like
        The initial values :func:`check_network_args` returned.

    Returns
    -------
    connectivity : Connectivity
    state : refsim.state.State

    Examples
    --------
    >>> import refsim
    >>> from refsim.network import check_network_args, draw_checked, draw_network
    >>> config = refsim.get_preset("brette2007-coba", n_exc=8, n_inh=2)
    >>> given = check_network_args(config, 5)
    >>> draw_checked(config, 5, None, given)[0] == draw_network(config, 5)[0]
    True
    """
    conn_seed, state_seed = seeds(config, 0 if seed is None else seed)
    state = initial_state(config, state_seed, given)  # checks the given arrays: O(N), cheap
    if connectivity is None:
        connectivity = build_connectivity(config, conn_seed)
    return connectivity, state


def network_inputs(config: Config, seed: int):
    """The connectivity and initial state that ``simulate(config, seed)`` draws, to export
    them for another simulator (or to reuse them).

    Parameters
    ----------
    config : Config
    seed : int
        Non-negative.

    Returns
    -------
    connectivity : Connectivity
    initial : dict of ndarray
        ``V`` (mV), ``g_e``, ``g_i`` ([g]) and ``t_last`` (ms), shape (N,), float64 (the
        values of the run's float type, widened).

    Raises
    ------
    ConfigError
        ``seed`` is None or not a non-negative int, or ``config`` is not a Config.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> config = refsim.get_preset("tutorial-normalized", n_exc=80, n_inh=20, duration=20.0)
    >>> conn, init = refsim.network_inputs(config, seed=3)
    >>> a = refsim.simulate(config, seed=3, progress=False)
    >>> b = refsim.simulate(config, seed=None, connectivity=conn, initial=init, progress=False)
    >>> np.array_equal(a.spike_neurons, b.spike_neurons) and a.n_spikes == b.n_spikes
    True
    """
    if seed is None:
        raise ConfigError("seed = None: allowed a non-negative int")
    connectivity, state = draw_network(config, seed)
    return connectivity, {k: np.asarray(v, np.float64) for k, v in state.as_dict().items()}

