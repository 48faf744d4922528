"""Hypothesis strategies for refsim's model: configurations, networks and spike trains.

Like ``xarray.testing.strategies``, these are the generators refsim's own property tests draw
from, published so that the test suite of another simulator (or of a model built on refsim)
can draw the same cases. The module imports `Hypothesis <https://hypothesis.readthedocs.io>`_,
which refsim itself does not need (it is in the ``test`` extra); :mod:`refsim.testing` does
not import this module.

* :func:`configs`: a valid :class:`~refsim.Config` of a small network, every switch of the model
  drawn (preset, schedule, integrator, reset, threshold test, float type, arithmetic, expm1,
  refractory period, dt, sizes, connectivity rule, drive, weights, initial state), any field
  fixable to a value or to a strategy of your own;
* :func:`networks`: ``(config, seed)`` pairs, what ``refsim.simulate(config, seed)`` runs;
* :func:`spike_trains`: :class:`~refsim.analysis.SpikeTrains` rasters, optionally on a time
  grid and with a refractory gap.

``active=True``
---------------
Silent networks prove nothing about the scatter, the resets or the refractory clamp, and a
strategy that lets a test reject them with ``assume`` wastes most examples (refsim's own
equivalence property found 9 of 25 drawn networks silent before this option). With
``active=True`` the values are drawn so that activity follows from the equations, by
construction rather than by filtering:

1. **drive**: a neuron without synaptic input reaches threshold at least three times in the run.
   From V_reset (the lowest start: hard reset; a soft reset starts higher) the time to
   threshold under the drive ``RI_ext`` is ``tau_m ln(RI / (RI - (V_th - V_rest)))`` (closed
   form, conductances zero), so ``RI_ext`` is drawn from ``[RI_min, RI_min + 25]`` mV, with
   ``RI_min`` the drive at which that time plus ``tau_ref`` is a third of the duration; the
   duration is first made long enough (at least ``3 tau_ref + 8`` ms) for this to exist;
2. **initial state**: V0 ~ Normal(mean in [V_th - 5, V_th + 0.5] mV, std in [0.5, 3] mV), so
   that some neurons start at threshold; no initial inhibition; an initial excitatory
   conductance ``R_g g_e0`` of 0 or up to 40 (drawn), which only adds drive and puts
   ``|dt J|`` above 0.5 ln 2 for some neurons (the general path of refsim's ``expm1``);
3. **weights**, never zero (a spike always changes its targets): excitation only adds drive
   (``R_g w_e`` in [0.05, 2]); inhibition is bounded so that one volley of every inhibitory
   neuron onto a neuron, at the expected in-degree ``p_conn n_inh``, holds between 5 % and
   half of the conductance that would pin ``V_inf`` at ``V_th``:
   ``R_g w_i max(1, p_conn n_inh) = x (V_rest + RI_ext - V_th) / (V_th - E_i)``, x in
   [0.05, 0.5];
4. **connectivity**: ``p_conn`` in [max(0.1, 1.01 / N), 0.6] (at most 0.6), so that every
   neuron has a target under the fixed out-degree rule (``int(p_conn N) >= 1``).

This makes silent networks rare, not impossible (a neuron can receive more than the expected
inhibition, volleys within tau_i add up, a runaway stop can end a run early): a property that
needs activity still states its minimum with ``hypothesis.assume``, and should report how
many examples it used (refsim's equivalence property does, in tests/test_engines.py).
Nothing here runs a simulation: the filter-free construction costs nothing per example.

Examples
--------
>>> import refsim
>>> from hypothesis import given, settings
>>> from refsim.testing.strategies import networks
>>> @settings(max_examples=5, deadline=None, derandomize=True)
... @given(networks(active=True, steps=(40, 80)))
... def test_numpy_and_numba_agree(network):
...     config, seed = network
...     a = refsim.simulate(config, seed, engine="numpy", progress=False)
...     b = refsim.simulate(config, seed, engine="numba", progress=False)
...     refsim.testing.assert_same_run(a, b)
>>> test_numpy_and_numba_agree()
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from .. import presets
from ..analysis import SpikeTrains
from ..network import LEGACY_SEED_MAX
from ..params import CHOICES, Config

__all__ = ["configs", "networks", "seeds", "spike_trains", "SWITCHES"]

#: The discrete switches of the model that :func:`configs` draws (each from every value it
#: allows, subject to the float type: ``arithmetic`` other than 'ieee' and ``expm1='xla'`` are
#: float32 only).
SWITCHES = ("schedule", "integrator", "reset", "threshold_test", "dtype", "arithmetic", "expm1",
            "conn_rule", "conn_rng")

#: The values of R_g drawn (the tutorial's 1e-3, the normalized presets' 1, two between).
R_G_VALUES = (1e-3, 0.1, 0.5, 1.0)


def seeds() -> st.SearchStrategy[int]:
    """Seeds that every configuration accepts: 0 .. 2**32 - 1 (``conn_rng='numpy-legacy'``
    takes no more).

    Examples
    --------
    >>> from hypothesis import find
    >>> from refsim.testing.strategies import seeds
    >>> find(seeds(), lambda s: s > 2**31)
    2147483649
    """
    return st.integers(0, LEGACY_SEED_MAX)


def _field_value(draw, fields, name, default):
    """A fixed field's value (drawn when it is a strategy), else a draw of ``default``."""
    value = fields.pop(name, default)
    return draw(value) if isinstance(value, st.SearchStrategy) else value


@st.composite
def configs(draw, *, active: bool = False, n_exc=(1, 40), n_inh=(1, 12), steps=(50, 200),
            dts=(0.05, 0.1, 0.25), tau_refs=(0.0, 0.3, 5.0), **fields) -> Config:
    """A valid :class:`~refsim.Config` of a small network, every switch of the model drawn.

    Parameters
    ----------
    active : bool
        Draw drive, initial state, weights and connectivity so that neurons fire and
        interact (see the module docstring: by construction, no filtering); False draws them
        from wide ranges, silent networks included.
    n_exc, n_inh : (int, int)
        Inclusive ranges of the population sizes.
    steps : (int, int)
        Inclusive range of the number of steps; with ``active=True`` the duration may be made
        longer (at least ``3 tau_ref + 8`` ms), so that a neuron can fire three times.
    dts : sequence of float
        The time steps (ms) drawn from.
    tau_refs : sequence of float
        The refractory periods (ms) drawn from: 0 (no clamp), less than a step of some dt, and
        the presets' 5 ms.
    **fields
        Any :class:`~refsim.Config` field fixed to a value (``w_e=0.0``) or drawn from a
        strategy of yours (``dtype=st.just("float64")``). The values drawn for the other
        fields respect the fixed ones (e.g. ``dtype='float64'`` draws only
        ``arithmetic='ieee'``); fixed values must be valid together (Config checks them and
        raises :class:`~refsim.ConfigError` otherwise).

    Returns
    -------
    SearchStrategy of Config
        Drawn in this order: preset (``preset=`` may be fixed too), the switches (float type
        first), refractory period, dt, sizes, connectivity, drive, weights, initial state,
        duration. ``arithmetic='xla'`` is drawn with R_g != 1 and RI_ext != 0 only, the
        constants for which refsim emulates XLA's forms (others warn).

    Examples
    --------
    >>> from hypothesis import find
    >>> from refsim.testing.strategies import configs
    >>> cfg = find(configs(dtype="float64", n_exc=(4, 8), n_inh=(1, 2)), lambda c: True)
    >>> cfg.dtype, cfg.arithmetic, cfg.n_neurons
    ('float64', 'ieee', 5)
    >>> cfg = find(configs(active=True), lambda c: c.schedule == "brette")
    >>> bool(cfg.V_rest + cfg.RI_ext > cfg.V_th), cfg.w_e > 0  # driven, and connected
    (True, True)
    """
    # a fixed field given as a strategy is drawn first, then held fixed like a value
    fields = {k: draw(x) if isinstance(x, st.SearchStrategy) else x for k, x in fields.items()}
    base = presets.get_preset(fields.pop("preset", None)
                              or draw(st.sampled_from(presets.preset_names())))
    v = {}

    def pick(name, default):
        v[name] = fields.pop(name) if name in fields else draw(default)
        return v[name]

    def fixed(name):  # a parameter this strategy does not draw: the given value or the preset's
        return fields.get(name, getattr(base, name))

    # the switches; the float type decides which arithmetic and expm1 exist
    for name in ("schedule", "integrator", "reset", "threshold_test"):
        pick(name, st.sampled_from(CHOICES[name]))
    f32 = pick("dtype", st.sampled_from(CHOICES["dtype"])) == "float32"
    xla = pick("arithmetic", st.sampled_from(CHOICES["arithmetic"] if f32 else ("ieee",))) == "xla"
    pick("expm1", st.sampled_from(CHOICES["expm1"] if f32 else ("portable", "libm")))
    tau_ref = pick("tau_ref", st.sampled_from(tau_refs))
    dt = pick("dt", st.sampled_from(dts))
    pick("n_exc", st.integers(*n_exc))
    n_inh_ = pick("n_inh", st.integers(*n_inh))

    # connectivity: every rule and generator, in the combinations Config allows
    rule = pick("conn_rule", st.sampled_from(CHOICES["conn_rule"]))
    legacy = pick("conn_rng", st.sampled_from(
        CHOICES["conn_rng"] if rule == "fixed_out_degree" else ("pcg64",))) == "numpy-legacy"
    pick("autapses", st.just(True) if legacy else st.booleans())
    pick("multapses", st.just(True) if legacy else st.just(False) if rule == "bernoulli"
         else st.booleans())
    n = v["n_exc"] + n_inh_
    # active: at least one target per neuron for the fixed out-degree int(p_conn N)
    p_conn = pick("p_conn", st.floats(min(0.6, max(0.1, 1.01 / n)), 0.6) if active
                  else st.floats(0.05, 0.6))

    # duration, drive, weights, initial state
    R_g = pick("R_g", st.sampled_from([r for r in R_G_VALUES if not (xla and r == 1.0)]))
    V_rest, V_th, tau_m, E_i = (fixed(k) for k in ("V_rest", "V_th", "tau_m", "E_i"))
    if "duration" in fields:
        duration = fields.pop("duration")
    else:
        duration = draw(st.integers(*steps)) * dt
        if active:
            duration = max(duration, math.ceil((3 * tau_ref + 8.0) / dt) * dt)
        duration = round(round(duration / dt) * dt, 9)
    v["duration"] = duration
    if active:
        gap = V_th - V_rest  # the drive that just reaches threshold
        # tau_ref + tau_m ln(RI / (RI - gap)) <= duration / 3, from V_reset (closed form)
        free = max(duration / 3 - tau_ref, 1e-3)
        ri_min = max(gap, gap / -math.expm1(-free / tau_m)) + 0.5
        RI = pick("RI_ext", st.floats(ri_min, ri_min + 25.0))
        pick("w_e", st.floats(0.05, 2.0).map(lambda x: x / R_g))
        hold = max(V_rest + RI - V_th, 0.0) / (V_th - E_i)  # R_g g_i pinning V_inf at V_th
        k_in = max(1.0, p_conn * n_inh_)
        pick("w_i", st.floats(0.05, 0.5).map(lambda x: x * hold / (R_g * k_in)))
        pick("V0_mean", st.floats(V_th - 5.0, V_th + 0.5))
        pick("V0_std", st.floats(0.5, 3.0))
        g_e0 = pick("g_e0_mean", st.one_of(st.just(0.0), st.floats(0.0, 40.0))
                    .map(lambda x: x / R_g))
        pick("g_e0_std", st.just(g_e0 / 4))
        pick("g_i0_mean", st.just(0.0))
        pick("g_i0_std", st.just(0.0))
    else:
        pick("RI_ext", st.floats(0.5 if xla else 0.0, 40.0))
        pick("w_e", st.floats(0.0, 20.0))
        pick("w_i", st.floats(0.0, 60.0))
    v.update(fields)  # the other fixed fields (V_th, tau_e, ...), as given
    return base.replace(**v)


def networks(*, active: bool = False, **kwargs) -> st.SearchStrategy[tuple[Config, int]]:
    """``(config, seed)`` pairs: a :func:`configs` configuration and a :func:`seeds` seed,
    the network that ``refsim.simulate(config, seed)`` draws (:mod:`refsim.network`).

    Parameters
    ----------
    active : bool
        As in :func:`configs`.
    **kwargs
        Passed to :func:`configs` (ranges and fixed fields).

    Returns
    -------
    SearchStrategy of (Config, int)

    Examples
    --------
    >>> from hypothesis import find
    >>> from refsim.testing.strategies import networks
    >>> config, seed = find(networks(n_exc=(2, 4), n_inh=(1, 1)), lambda net: net[1] > 0)
    >>> config.n_inh, seed
    (1, 1)
    """
    return st.tuples(configs(active=active, **kwargs), seeds())


@st.composite
def spike_trains(draw, *, n_neurons=(1, 20), n_exc=None, t_stop_ms=(1.0, 500.0),
                 max_spikes: int = 200, dt: float | None = None,
                 refractory_ms: float = 0.0) -> SpikeTrains:
    """Rasters: :class:`~refsim.analysis.SpikeTrains` with spikes in [0, t_stop_ms).

    Parameters
    ----------
    n_neurons : (int, int) or int
        Inclusive range (or value) of the population size.
    n_exc : (int, int), int or None
        Excitatory neurons (the first ones); default: drawn from 0 .. n_neurons.
    t_stop_ms : (float, float) or float
        Range (or value) of the observation's end (ms).
    max_spikes : int
        Most spikes per raster (the total, over all neurons).
    dt : float, optional
        Put every spike on the grid k * dt (ms), as a time-stepped run does; None: any float
        time (several neurons may still spike at one time).
    refractory_ms : float
        Two spikes of one neuron are more than this apart (ms); 0: a neuron may even spike
        twice at one time (allowed by SpikeTrains; a time-stepped run never does it).

    Returns
    -------
    SearchStrategy of SpikeTrains
        Spikes in (time, neuron) order.

    Examples
    --------
    >>> from hypothesis import find
    >>> from refsim.testing.strategies import spike_trains
    >>> s = find(spike_trains(n_neurons=5, dt=0.1, t_stop_ms=20.0), lambda s: s.times_ms.size >= 3)
    >>> s.n_neurons, s.times_ms.tolist(), s.neurons.tolist()
    (5, [0.0, 0.0, 0.0], [0, 0, 0])
    """
    def value(x, strategy):
        return draw(strategy(*x)) if isinstance(x, tuple) else x

    n = value(n_neurons, st.integers)
    ne = draw(st.integers(0, n)) if n_exc is None else value(n_exc, st.integers)
    t_stop = value(t_stop_ms, st.floats)
    n_spikes = draw(st.integers(0, max_spikes))
    neurons = np.array(draw(st.lists(st.integers(0, n - 1), min_size=n_spikes,
                                     max_size=n_spikes)), dtype=np.int64)
    if dt is None:
        times = np.array(draw(st.lists(st.floats(0.0, t_stop, exclude_max=True),
                                       min_size=n_spikes, max_size=n_spikes)), dtype=np.float64)
    else:
        n_grid = max(1, math.ceil(t_stop / dt))
        steps = draw(st.lists(st.integers(0, n_grid - 1), min_size=n_spikes, max_size=n_spikes))
        times = np.array(steps, dtype=np.int64) * dt
        inside = times < t_stop  # k dt may round up to t_stop
        times, neurons = times[inside], neurons[inside]
    if refractory_ms > 0 and times.size:
        order = np.lexsort((times, neurons))
        t, i = times[order], neurons[order]
        gap_ok = np.r_[True, (np.diff(t) > refractory_ms) | (np.diff(i) != 0)]
        times, neurons = t[gap_ok], i[gap_ok]
    order = np.lexsort((neurons, times))
    return SpikeTrains(times[order].astype(np.float64), neurons[order], n, ne, t_stop)
