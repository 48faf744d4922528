"""The crossing locator of the accurate solver (refsim.exact.crossing), on its own.

``first_crossing`` is a pure function of a step's samples and a way to evaluate each row
anywhere in the step; here the rows are polynomials and sines whose crossings of V_th are known
in closed form (the reference values, computed in each test), sampled on a grid of 17 points as
the event loop samples DOP853's dense output. ``dense_row`` is checked against SciPy's own
dense output of :class:`scipy.integrate.DOP853`. Tolerances: refsim.testing's
``crossing-time`` (brentq to 1e-13 ms) and ``exact-spike-time`` / ``exact-V`` where DOP853
integrates.
"""
import math

import numpy as np
import pytest
from scipy.integrate import DOP853

from refsim.exact.crossing import dense_row, first_crossing
from refsim.testing import tolerance

V_TH = -50.0
GRID = np.linspace(0.0, 1.0, 17)  # 16 sample intervals of 1/16 ms, as the event loop uses
MARGIN = 1e-12                    # the event loop passes the solver's atol
T_TOL = tolerance("crossing-time")


def locate(rows, grid=GRID, margin=MARGIN):
    """first_crossing on the rows (callables s -> V), sampled on the grid."""
    Vs = np.array([[f(t) for t in grid] for f in rows])
    return first_crossing(lambda r: rows[r], Vs, grid, V_TH, margin)


def line(crossing, slope=4.0):
    """V_th at ``crossing``, rising with ``slope`` mV/ms."""
    return lambda s: V_TH + slope * (s - crossing)


@pytest.mark.parametrize("row,t_star", [
    (lambda s: -55.0 + 10.0 * s * s, math.sqrt(0.5)),                       # parabola
    (lambda s: V_TH - 0.5 + math.sin(3.0 * s), math.asin(0.5) / 3.0),        # sine: pi / 18
    (lambda s: V_TH - 1.0 + 2.0 * s ** 3, 0.5 ** (1 / 3)),                   # cubic
])
def test_an_ordinary_crossing_is_located_to_the_root_tolerance(row, t_star):
    """One row whose samples rise through V_th: the crossing is the closed-form root, to
    ``crossing-time``, found without a grazing search."""
    crossing, grazing = locate([row])
    assert crossing is not None and crossing[1] == 0 and grazing == 0
    assert abs(crossing[0] - t_star) <= T_TOL


def test_the_earliest_of_several_rows_is_chosen():
    """Rows crossing at 0.7 (a line), 0.3 (a line), 0.21 (a line) and 0.2 (a cubic that
    crosses up at 0.2, down at 0.45 and up again at 0.8), with a row that stays below: the
    earliest crossing, 0.2 of row 3, even though row 2 crosses in the same sample interval
    [0.1875, 0.25] (both are solved) and the cubic is above V_th at fewer samples."""
    def cubic(s):
        return V_TH + 40.0 * (s - 0.2) * (s - 0.45) * (s - 0.8)
    rows = [line(0.7), line(0.3), line(0.21), cubic, lambda s: V_TH - 3.0 + s]
    (t, r), grazing = locate(rows)
    assert r == 3 and abs(t - 0.2) <= T_TOL
    assert grazing == 0
    # the same without the cubic: 0.21 of row 2
    (t, r), _ = locate(rows[:3] + rows[4:])
    assert r == 2 and abs(t - 0.21) <= T_TOL


def grazing_parabola(height, centre=0.53, width=0.05):
    """A narrow parabola peaking at V_th + height at ``centre``, between the samples 0.5 and
    0.5625: its crossing, for height > 0, is centre - width sqrt(height)."""
    return lambda s: V_TH + height - ((s - centre) / width) ** 2


def test_a_grazing_crossing_between_samples_is_found_and_counted():
    """A parabola 0.1 ms wide peaking 1e-6 mV above V_th between two samples: no sample reaches
    V_th (checked), the grazing search finds the maximum, counts it, and the crossing is the
    closed form 0.53 - 0.05 sqrt(1e-6) = 0.52995 ms; an ordinary row crossing later (0.9 ms)
    does not win."""
    rows = [line(0.9), grazing_parabola(1e-6)]
    Vs = np.array([[f(t) for t in GRID] for f in rows])
    assert Vs[1].max() < V_TH - 0.3  # the premise: the samples miss the crossing by far
    (t, r), grazing = locate(rows)
    assert r == 1 and grazing == 1
    assert abs(t - (0.53 - 0.05 * math.sqrt(1e-6))) <= T_TOL


def test_a_grazing_row_that_stays_below_is_searched_and_returns_none():
    """The same parabola peaking 1e-6 mV below V_th: searched (counted), no crossing."""
    assert locate([grazing_parabola(-1e-6)]) == (None, 1)


def test_a_row_that_stays_below_returns_none():
    """A line from V_th - 5 to V_th - 4 mV, far from V_th: no crossing and no grazing search;
    so does a row that falls."""
    assert locate([lambda s: V_TH - 5.0 + s]) == (None, 0)
    assert locate([lambda s: V_TH - 1.0 - s]) == (None, 0)


@pytest.mark.parametrize("direction", [+1.0, -1.0])
def test_a_row_at_threshold_at_the_step_start_fires_at_the_start(direction):
    """A row exactly at V_th at the start of the step (rising or falling from there) fires at
    the start, as the docstring says ('A row already at threshold at the bracket's start fires
    there'); on a step [2, 3] ms, so that the start and the end differ (a bracket that wrapped
    around to the step's end fired a rising row at 3 ms)."""
    grid = GRID + 2.0
    (t, r), grazing = locate([lambda s: V_TH + direction * (s - 2.0)], grid=grid)
    assert (t, r) == (2.0, 0)


def test_dense_row_is_one_component_of_dop853s_dense_output():
    """dense_row(dense, r)(s) is float(dense(s)[r]) for SciPy's DOP853 dense output, bit for
    bit, at the step's ends and inside; and the dense output is the solution of the linear ODE
    y0' = -y0, y1' = -2 y1 + 1 (y0 = e^-t, y1 = 1/2 + (y1(0) - 1/2) e^-2t) to ``exact-V``."""
    ode = DOP853(lambda t, y: np.array([-y[0], -2.0 * y[1] + 1.0]), 0.0, np.array([1.0, 3.0]),
                 5.0, rtol=1e-12, atol=1e-12)
    ode.step()
    dense = ode.dense_output()
    s = np.linspace(ode.t_old, ode.t, 9)
    exact = (np.exp(-s), 0.5 + 2.5 * np.exp(-2 * s))
    for r in (0, 1):
        row = dense_row(dense, r)
        values = [row(x) for x in s]
        assert all(type(v) is float for v in values)
        assert np.array_equal(values, dense(s)[r])
        assert np.max(np.abs(np.array(values) - exact[r])) <= tolerance("exact-V")


def test_first_crossing_on_dop853s_dense_output_finds_the_closed_form_crossing():
    """Two leaky neurons, tau V' = V_inf - V (tau = 20 ms, V_inf = -40 mV), from -51 and -60 mV,
    integrated by DOP853 (rtol = atol = 1e-12) step by step as the event loop does: the first
    step whose dense output reaches V_th holds neuron 0's closed-form crossing
    20 ln((-51 + 40) / (-50 + 40)) = 1.906 ms, found to ``exact-spike-time``."""
    ode = DOP853(lambda t, v: (-40.0 - v) / 20.0, 0.0, np.array([-51.0, -60.0]), 50.0,
                 rtol=1e-12, atol=1e-12)
    t_star = 20.0 * math.log(11.0 / 10.0)
    while True:
        ode.step()
        dense = ode.dense_output()
        grid = np.linspace(ode.t_old, ode.t, 17)
        crossing, _ = first_crossing(lambda r, dense=dense: dense_row(dense, r), dense(grid), grid,
                                     V_TH, 1e-12)
        if crossing is not None:
            break
        assert ode.status == "running"
    assert crossing[1] == 0 and ode.t_old < t_star <= ode.t
    assert abs(crossing[0] - t_star) <= tolerance("exact-spike-time")
