"""Testing tools for refsim's own tests and for the test suites of other simulators.

* :func:`assert_same_run`: two runs are the same bits (spikes, final state, traces);
* :func:`assert_consistent`: a raster is statistically what refsim computes for a preset
  (the verdict of ``refsim validate``, :func:`refsim.validate.validate`), for another
  simulator's test suite;
* :func:`first_difference`: where two rasters first differ, the one implementation that
  tests, :mod:`refsim.compare` and ``validation/`` use;
* :data:`TOLERANCES`, :func:`tolerance`, :func:`tolerance_table`
  (:mod:`refsim.testing.tolerances`): every tolerance refsim's tests use, with its reason;
  the README's tolerance table is generated from it;
* :mod:`refsim.testing.strategies`: Hypothesis strategies for configurations, networks and
  spike trains, with ``active=True`` for networks that fire (imports Hypothesis, which refsim
  itself does not need, so this package does not import it: ``from refsim.testing import
  strategies``).

refsim's own tests use all of these (``tests/test_engines.py``, ``tests/test_properties.py``,
``tests/test_testing.py``, ...). To validate another simulator, run it on refsim's network
(:func:`refsim.network_inputs`) and compare its raster with refsim's using
:func:`first_difference` and the tolerances (README, "Testing a simulator with refsim.testing").

Examples
--------
>>> import refsim
>>> from refsim.testing import assert_same_run, first_difference
>>> cfg = refsim.get_preset("brette2007-coba", n_exc=40, n_inh=10, duration=50.0)
>>> a = refsim.simulate(cfg, seed=0, engine="numpy", progress=False)
>>> assert_same_run(a, refsim.simulate(cfg, seed=0, progress=False))
>>> b = refsim.simulate(cfg.replace(integrator="exp_euler"), seed=0, progress=False)
>>> first_difference(a.spike_steps, a.spike_neurons, b.spike_steps, b.spike_neurons) is not None
True
"""

from __future__ import annotations

import numpy as np

from ..state import STATE_FIELDS
from .tolerances import TOLERANCES, Tolerance, tolerance, tolerance_table

__all__ = ["assert_same_run", "assert_consistent", "first_difference", "TOLERANCES", "Tolerance", "tolerance",
           "tolerance_table"]



def first_difference(times_a, neurons_a, times_b, neurons_b):
    """The earliest time at which two rasters differ, or None when they are identical.

    Each raster is a set of (time, neuron) events; both are put in (time, neuron) order and
    compared event by event. At the first event that differs, the earlier of the two times is
    returned; when one raster is a prefix of the other, the time of the first extra event.

    Parameters
    ----------
    times_a, neurons_a : array_like
        Raster a: spike times (step indices, or times in ms; compared exactly, so round
        float times to a resolution first) and neuron indices, in any order.
    times_b, neurons_b : array_like
        Raster b, in the same unit.

    Returns
    -------
    scalar or None
        The time (in the unit given), or None.

    Examples
    --------
    >>> from refsim.testing import first_difference
    >>> first_difference([3, 1, 5], [0, 2, 1], [1, 3, 5], [2, 0, 2])
    5
    >>> first_difference([1, 3], [2, 0], [1, 3, 4], [2, 0, 7]), first_difference([1], [0], [1], [0])
    (4, None)
    """
    events = []
    for t, i in ((times_a, neurons_a), (times_b, neurons_b)):
        t, i = np.asarray(t), np.asarray(i)
        if t.shape != i.shape or t.ndim != 1:
            raise ValueError(f"times and neurons shapes = {t.shape}, {i.shape}: allowed two 1-d "
                             "arrays of equal length")
        order = np.lexsort((i, t))
        events.append((t[order], i[order]))
    (ta, ia), (tb, ib) = events
    n = min(ta.size, tb.size)
    diff = np.flatnonzero((ta[:n] != tb[:n]) | (ia[:n] != ib[:n]))
    if diff.size:
        k = diff[0]
        return min(ta[k], tb[k]).item()
    if ta.size != tb.size:
        return (ta if ta.size > n else tb)[n].item()
    return None


def assert_consistent(spikes, preset: str, overrides: dict | None = None, **options):
    """Assert that ``spikes`` are statistically consistent with refsim's runs of ``preset``.

    The verdict of ``refsim validate`` (:func:`refsim.validate.validate`, same arguments and
    decision rule: one test per statistic and population against refsim's reference seeds,
    Holm's correction at ``alpha``; its false-alarm rate and power are measured in
    docs/validation.md). The reference ensemble is cached on disk, so a test suite pays for
    it once.

    Parameters
    ----------
    spikes : SimulationResult or SpikeTrains
        E.g. another simulator's raster as :class:`refsim.analysis.SpikeTrains` (times in
        ms, neuron indices excitatory first).
    preset : str
    overrides : dict, optional
        Field values replacing the preset's (e.g. a smaller network).
    **options
        Keyword arguments of :func:`refsim.validate.validate`: ``seeds``, ``t_start``,
        ``alpha``, ``same_network``, ``cache``, ...

    Returns
    -------
    refsim.validate.Verdict
        The verdict, when consistent.

    Raises
    ------
    AssertionError
        Inconsistent: the message lists the failing tests and the verdict line.
    ConfigError
        Spikes of another size or duration than the configuration's, or a bad option.

    Examples
    --------
    >>> import refsim, tempfile
    >>> from refsim.testing import assert_consistent
    >>> small = dict(n_exc=160, n_inh=40, p_conn=0.4, duration=400.0)
    >>> config = refsim.get_preset("tutorial-normalized", **small)
    >>> mine = refsim.simulate(config, seed=123, progress=False)
    >>> v = assert_consistent(mine, "tutorial-normalized", small, seeds=6, t_start=100.0,
    ...                       cache=tempfile.mkdtemp(), progress=False)
    >>> v.consistent
    True
    """
    from ..validate import validate
    verdict = validate(spikes, preset, overrides, **options)
    if not verdict.consistent:
        lines = verdict.lines()
        failing = [line for line in lines if "FAIL" in line]
        raise AssertionError("\n".join(["spikes inconsistent with refsim's " + preset + ":", *failing,
                                         lines[-1]]))
    return verdict


def assert_same_run(a, b) -> None:
    """Assert that two :class:`~refsim.SimulationResult` are the same bits: spikes, steps done,
    the final state (byte for byte, so NaN-safe and sign-of-zero-safe) and the traces.

    Parameters
    ----------
    a, b : SimulationResult

    Raises
    ------
    AssertionError
        Naming the first thing that differs (for the spikes, the first differing step).
    """
    if not (np.array_equal(a.spike_steps, b.spike_steps)
            and np.array_equal(a.spike_neurons, b.spike_neurons)):
        k = first_difference(a.spike_steps, a.spike_neurons, b.spike_steps, b.spike_neurons)
        raise AssertionError(f"rasters differ: {a.n_spikes} vs {b.n_spikes} spikes, first at "
                             f"step {k}")
    if a.steps_done != b.steps_done:
        raise AssertionError(f"steps_done: {a.steps_done} vs {b.steps_done}")
    for name in STATE_FIELDS:
        x, y = a.final_state.get(name), b.final_state.get(name)
        if (x is None) != (y is None):
            raise AssertionError(f"final state {name}: present in one run only")
        if x is None:
            continue
        if x.dtype != y.dtype or x.tobytes() != y.tobytes():
            raise AssertionError(f"final state {name} differs ({x.dtype} vs {y.dtype}; first "
                                 f"neuron {_first_differing(x, y)})")
    if set(a.traces) != set(b.traces):
        raise AssertionError(f"traced variables: {sorted(a.traces)} vs {sorted(b.traces)}")
    for name in a.traces:
        if a.traces[name].tobytes() != b.traces[name].tobytes():
            raise AssertionError(f"trace {name} differs")


def _first_differing(x, y):
    if x.shape != y.shape or x.dtype != y.dtype:
        return None
    bits = np.dtype(f"u{x.dtype.itemsize}")
    diff = np.flatnonzero(x.view(bits) != y.view(bits))
    return int(diff[0]) if diff.size else None
