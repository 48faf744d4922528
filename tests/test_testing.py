"""refsim.testing itself: first_difference, assert_same_run, the tolerance table, strategies.

Reference values: first_difference against its definition evaluated by brute force (the
earliest time t at which the multisets of events at or before t differ); assert_same_run
against runs changed in one place each; the strategies against the guarantees their
docstrings state (every switch value drawn; with ``active=True`` the closed-form drive bound,
nonzero weights, bounded inhibition); the tolerance table against the tests that use it.
"""
import copy
import dataclasses
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refsim
from refsim.params import CHOICES
from refsim.testing import (
    TOLERANCES,
    Tolerance,
    assert_same_run,
    first_difference,
    tolerance,
    tolerance_table,
)
from refsim.testing.strategies import SWITCHES, configs, networks, spike_trains

TESTS = Path(__file__).parent


# -- first_difference ----------------------------------------------------------------------

def first_difference_by_definition(times_a, neurons_a, times_b, neurons_b):
    """The earliest t at which the events (time, neuron) at or before t differ, as multisets;
    None when the rasters are the same multiset. Brute force over every event time."""
    a = Counter(zip(np.asarray(times_a).tolist(), np.asarray(neurons_a).tolist(), strict=True))
    b = Counter(zip(np.asarray(times_b).tolist(), np.asarray(neurons_b).tolist(), strict=True))
    for t in sorted({e[0] for e in a} | {e[0] for e in b}):
        if Counter({e: n for e, n in a.items() if e[0] <= t}) != \
                Counter({e: n for e, n in b.items() if e[0] <= t}):
            return t
    return None


@st.composite
def raster_pairs(draw):
    """A raster (on a 0.1 ms grid, so that events share times) and a second one made from it:
    the same events shuffled, one event dropped, added, moved in time or given to another
    neuron, or an unrelated raster."""
    s = draw(spike_trains(n_neurons=(1, 6), t_stop_ms=5.0, max_spikes=25, dt=0.1))
    t, i = s.times_ms.copy(), s.neurons.copy()
    change = draw(st.sampled_from(["shuffle", "drop", "add", "move", "relabel", "other"]))
    if change == "other":
        o = draw(spike_trains(n_neurons=s.n_neurons, t_stop_ms=5.0, max_spikes=25, dt=0.1))
        return (t, i), (o.times_ms, o.neurons), change
    if t.size and change in ("drop", "move", "relabel"):
        k = draw(st.integers(0, t.size - 1))
        if change == "drop":
            t, i = np.delete(t, k), np.delete(i, k)
        elif change == "move":
            t[k] = round(t[k] + draw(st.sampled_from([-0.3, -0.1, 0.1, 0.2])), 10)
        else:
            i[k] = draw(st.integers(0, s.n_neurons - 1))
    elif change == "add":
        t = np.r_[t, draw(st.integers(0, 49)) / 10]
        i = np.r_[i, draw(st.integers(0, s.n_neurons - 1))]
    order = np.array(draw(st.permutations(range(t.size))), dtype=np.int64)
    return (s.times_ms, s.neurons), (t[order], i[order]), change


@given(raster_pairs())
def test_first_difference_is_the_earliest_time_the_rasters_differ(pair):
    """Property: first_difference equals its definition (first_difference_by_definition) for
    any two rasters, in any event order, with ties in time and repeated events, and is
    symmetric."""
    (ta, ia), (tb, ib), _ = pair
    expected = first_difference_by_definition(ta, ia, tb, ib)
    assert first_difference(ta, ia, tb, ib) == expected
    assert first_difference(tb, ib, ta, ia) == expected


def test_first_difference_examples_and_argument_checks():
    """Hand-made cases: a moved spike, a missing last spike, a different neuron at one time,
    identical rasters given in different orders; mismatched shapes are refused."""
    assert first_difference([1.0, 3.0, 4.0], [0, 1, 1], [1.0, 3.0, 4.5], [0, 1, 1]) == 4.0
    assert first_difference([1.0, 3.0, 9.0], [0, 1, 0], [1.0, 3.0], [0, 1]) == 9.0
    assert first_difference([2, 2], [0, 1], [2, 2], [0, 2]) == 2
    assert first_difference([5, 1, 3], [1, 0, 2], [1, 3, 5], [0, 2, 1]) is None
    with pytest.raises(ValueError, match="allowed two 1-d arrays of equal length"):
        first_difference([1, 2], [0], [1], [0])


# -- assert_same_run -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def run():
    cfg = refsim.get_preset("tutorial-normalized", n_exc=40, n_inh=10, duration=30.0)
    r = refsim.simulate(cfg, 3, record=[0, 7], progress=False)
    assert r.n_spikes > 20
    return r


def changed(r, where):
    """A deep copy of the run with one thing changed."""
    c = copy.deepcopy(r)
    if where == "spike neuron":
        c.spike_neurons[5] = (c.spike_neurons[5] + 1) % r.config.n_neurons
    elif where == "spike step":
        c.spike_steps[-1] += 1
    elif where == "steps_done":
        c = dataclasses.replace(c, steps_done=r.steps_done - 1)
    elif where == "final V, one ulp":
        c.final_state["V"][3] = np.nextafter(c.final_state["V"][3], np.inf)
    elif where == "final g_e, sign of zero":
        c.final_state["g_e"][0] = -0.0 if c.final_state["g_e"][0] == 0 else c.final_state["g_e"][0] * 2
    elif where == "final t_last dtype":
        c.final_state["t_last"] = c.final_state["t_last"].astype(np.float32)
    elif where == "trace":
        c.traces["g_i"][10, 1] = np.nextafter(c.traces["g_i"][10, 1], -np.inf)
    elif where == "traced variables":
        del c.traces["g_i"]
    return c


@pytest.mark.parametrize("where", ["spike neuron", "spike step", "steps_done", "final V, one ulp",
                                   "final g_e, sign of zero", "final t_last dtype", "trace",
                                   "traced variables"])
def test_assert_same_run_catches_a_change_in_any_one_place(run, where):
    """A run equals a copy of itself; a change of one bit (an ulp, the sign of a zero, a
    dtype) or one spike anywhere fails, with a message naming the place."""
    assert_same_run(run, copy.deepcopy(run))
    with pytest.raises(AssertionError) as e:
        assert_same_run(run, changed(run, where))
    name = {"spike neuron": "rasters differ", "spike step": "rasters differ",
            "steps_done": "steps_done", "final V, one ulp": "final state V",
            "final g_e, sign of zero": "final state g_e", "final t_last dtype": "final state t_last",
            "trace": "trace g_i", "traced variables": "traced variables"}[where]
    assert name in str(e.value)


def test_assert_same_run_treats_equal_nan_bits_as_equal(run):
    """The state is compared as bytes: the same NaN in both runs is equal (NaN != NaN as
    numbers), a NaN with another payload is not."""
    a, b = copy.deepcopy(run), copy.deepcopy(run)
    a.final_state["V"][0] = b.final_state["V"][0] = np.nan
    assert_same_run(a, b)
    b.final_state["V"][0] = np.frombuffer(np.uint64(0x7FF8000000000001).tobytes(), np.float64)[0]
    with pytest.raises(AssertionError, match="final state V"):
        assert_same_run(a, b)


# -- the tolerance table -------------------------------------------------------------------

def test_every_tolerance_has_a_reason_and_a_meaningful_value():
    """Each entry names what it compares and why, has a value of its kind (0 for bits, a
    positive amount, an increasing range) and renders as the README writes it."""
    assert len(TOLERANCES) >= 25
    for key, t in TOLERANCES.items():
        assert t.key == key and t.comparison and len(t.reason) > 20, key
        values = t.value.values() if isinstance(t.value, dict) else [t.value]
        for v in values:
            if t.kind == "bits":
                assert v == 0
            elif t.kind == "range":
                assert v[0] < v[1]
            elif t.kind != "ulp":
                assert v > 0, key
        assert t.text() in tolerance_table()
    assert TOLERANCES["closed-form-V"].text() == "float32: 0.0003 mV; float64: 1e-10 mV"
    assert TOLERANCES["order-network"].text() == "0.75 .. 1.3"
    assert TOLERANCES["numba-vs-numpy"].text() == "0 (identical bits)"


def test_tolerance_lookup_is_checked():
    assert tolerance("exact-V") == 1e-8 and tolerance("closed-form-V", np.dtype("float32")) == 3e-4
    with pytest.raises(KeyError, match="allowed one of numba-vs-numpy"):
        tolerance("nope")
    with pytest.raises(ValueError, match="depends on the float type"):
        tolerance("closed-form-V")
    with pytest.raises(ValueError, match="a 'bits' tolerance is 0"):
        Tolerance("x", "x", 1e-9, "", "bits", "no")
    with pytest.raises(ValueError, match="kind = 'loose'"):
        Tolerance("x", "x", 1e-9, "", "loose", "no")


def test_every_tolerance_is_used_by_a_test():
    """Each key appears in some test module (as tolerance("key") or, for the bit-for-bit
    claims, in the docstring of the test that checks it): the table holds no stale entry."""
    sources = "\n".join(p.read_text() for p in TESTS.glob("test_*.py") if p.name != "test_testing.py")
    unused = [key for key in TOLERANCES if not re.search(rf"[\"`]{re.escape(key)}[\"`]", sources)]
    assert not unused, unused


def test_no_assertion_uses_a_bare_tolerance_literal():
    """Tolerances come from the table: no assertion line of a test module compares with a
    small literal (``< 1e-9``) or gives a tolerance keyword a number (``rtol=1e-12``); solver
    settings (simulate_exact(rtol=...)) are not assertions, rtol=0 says "absolute only"."""
    small = re.compile(r"[<>]=?\s*\(?\d+(\.\d+)?e-\d+|\b(rtol|atol|rel|abs)=(?!0\b)\d")
    offenders = []
    for path in TESTS.glob("test_*.py"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if re.search(r"\bassert|assert_allclose|approx\(", code) and small.search(code):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, offenders


# -- strategies ----------------------------------------------------------------------------

def test_configs_draws_every_value_of_every_switch():
    """Over 300 draws (no simulation), every value of every switch that configs() documents
    occurs, and every drawn Config is valid (it is one: Config validates on construction)."""
    seen = {name: set() for name in SWITCHES + ("tau_ref", "dt")}

    @settings(max_examples=300)
    @given(configs())
    def draw(cfg):
        for name in seen:
            seen[name].add(getattr(cfg, name))

    draw()
    for name in SWITCHES:
        assert seen[name] == set(CHOICES[name]), name
    assert seen["tau_ref"] == {0.0, 0.3, 5.0} and seen["dt"] == {0.05, 0.1, 0.25}


@settings(max_examples=100)
@given(networks(active=True))
def test_active_networks_keep_the_documented_guarantees(network):
    """Property: with active=True, a neuron without synaptic input fires three times within
    the run (closed form from V_reset: tau_ref + tau_m ln(RI / (RI - (V_th - V_rest))) <=
    duration / 3), weights are nonzero, one expected inhibitory volley holds at most half of
    the conductance that pins V_inf at V_th, the fixed out-degree is at least 1, and no
    initial inhibition; the seed is valid for every generator."""
    cfg, seed = network
    gap = cfg.V_th - cfg.V_rest
    assert cfg.RI_ext > gap
    isi = cfg.tau_ref + cfg.tau_m * math.log(cfg.RI_ext / (cfg.RI_ext - gap))
    assert 3 * isi <= cfg.duration * (1 + tolerance("rounding-relative"))
    assert cfg.w_e > 0 and cfg.w_i > 0
    hold = (cfg.V_rest + cfg.RI_ext - cfg.V_th) / (cfg.V_th - cfg.E_i)
    assert (cfg.R_g * cfg.w_i * max(1.0, cfg.p_conn * cfg.n_inh)
            <= 0.5 * hold * (1 + tolerance("rounding-relative")))
    assert int(cfg.p_conn * cfg.n_neurons) >= 1 or cfg.n_neurons < 2
    assert cfg.g_i0_mean == cfg.g_i0_std == 0.0
    assert 0 <= seed < 2**32


@given(spike_trains(n_neurons=(1, 8), t_stop_ms=(1.0, 50.0), dt=0.25, refractory_ms=1.0))
def test_spike_trains_respect_their_arguments(s):
    """Property: spikes lie in [0, t_stop), on the dt grid, in (time, neuron) order, and two
    spikes of one neuron are more than refractory_ms apart."""
    t, i = s.times_ms, s.neurons
    assert np.all((0 <= t) & (t < s.t_stop_ms))
    assert np.array_equal(t, np.round(t / 0.25) * 0.25)  # k * 0.25 is exact in binary
    assert np.all(np.lexsort((i, t)) == np.arange(t.size))
    for n in range(s.n_neurons):
        assert np.all(np.diff(t[i == n]) > 1.0)
