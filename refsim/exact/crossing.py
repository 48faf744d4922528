"""Locating threshold crossings on one solver step's dense output: pure functions.

:func:`first_crossing` takes the samples of every neuron's V over one step and a way to
evaluate one neuron's V anywhere in the step, and returns the earliest time at which any
neuron reaches threshold. It knows nothing of the solver: the tests drive it with polynomials
whose crossings are known in closed form.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq, minimize_scalar

__all__ = ["first_crossing", "dense_row", "ROOT_XTOL"]

#: ms, bracket width at which the root and maximum searches stop.
ROOT_XTOL = 1e-13


def dense_row(dense, r: int):
    """One component of a dense output as a scalar function: s -> dense(s)[r].

    Parameters
    ----------
    dense : callable
        A SciPy ``DenseOutput`` (or any callable of a scalar time that returns one value per
        component); only its public ``__call__`` is used.
    r : int
        The component.

    Returns
    -------
    callable
        float -> float.

    Notes
    -----
    Each call evaluates the whole dense output (all components) and keeps one: O(N) per
    evaluation, where reading SciPy's private coefficients would be O(1). The root and maximum
    searches evaluate a few dozen times per crossing, small beside the DOP853 steps themselves
    (``python -m validation.dt_convergence`` took 73 s, no longer than before).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.exact.crossing import dense_row
    >>> second = dense_row(lambda s: np.array([s, 2 * s]), 1)
    >>> second(0.25)
    0.5
    """
    return lambda s: float(dense(s)[r])


def first_crossing(row, Vs, grid, V_th: float, margin: float):
    """The earliest time at which a row reaches ``V_th`` within one step, by samples and roots.

    Parameters
    ----------
    row : callable
        ``row(r)`` is a scalar function s -> V_r(s) on the step [grid[0], grid[-1]].
    Vs : ndarray, shape (n_rows, m + 1)
        V of every row at the ``grid`` times (the first column at the step's start).
    grid : ndarray, shape (m + 1,)
        Increasing sample times (ms).
    V_th : float
        Threshold (mV).
    margin : float
        Rows whose samples come within their curvature bound plus ``margin`` of ``V_th``
        without reaching it get their interior maximum searched (a grazing crossing shorter
        than the sample spacing is not missed).

    Returns
    -------
    crossing : tuple (t_star, r) or None
        The earliest crossing time (to :data:`ROOT_XTOL` ms) and its row; None if no row
        reaches ``V_th`` in the step.
    grazing_checks : int
        How many interior maxima were searched.

    Notes
    -----
    A row with a sample at or above ``V_th`` is bracketed between that sample and the one
    before; a grazing row between the samples around its largest one, when its maximum
    (bounded Brent search) reaches ``V_th``. Each bracket that could start earlier than the
    best crossing so far is then solved with :func:`scipy.optimize.brentq`. A row already at
    threshold at the bracket's start fires there.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.exact.crossing import first_crossing
    >>> grid = np.linspace(0.0, 1.0, 5)
    >>> rows = [lambda s: s * s, lambda s: 2 * s]       # reach 0.5 at sqrt(0.5) and 0.25
    >>> Vs = np.array([[f(t) for t in grid] for f in rows])
    >>> (t, r), n = first_crossing(lambda r: rows[r], Vs, grid, 0.5, 1e-12)
    >>> round(t, 12), r, n
    (0.25, 1, 0)
    """
    best = None
    above = Vs >= V_th
    hit = above.any(axis=1)
    brackets = []
    for r in np.flatnonzero(hit):
        k = int(np.argmax(above[r]))
        brackets.append((grid[max(k - 1, 0)], grid[k], r))
    # grazing: rows that come within a curvature margin of V_th without a sample above
    d2 = np.abs(np.diff(Vs, n=2, axis=1)).max(axis=1) if Vs.shape[1] > 2 else np.zeros(len(Vs))
    top = Vs.max(axis=1)
    grazing = 0
    for r in np.flatnonzero(~hit & (top >= V_th - d2 - margin)):
        k = int(np.argmax(Vs[r]))
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
        grazing += 1
        one = row(r)
        m = minimize_scalar(lambda s, one=one: -one(s), bounds=(lo, hi), method="bounded",
                            options={"xatol": ROOT_XTOL})
        if -m.fun >= V_th:
            brackets.append((lo, float(m.x), r))
    for a, b, r in brackets:
        if best is not None and a >= best[0]:
            continue
        one = row(r)
        if one(a) >= V_th:  # only at the start of a step after a tie: fire at a
            t_star = a
        elif one(b) < V_th:  # cannot happen: b was found at or above threshold
            continue
        else:
            t_star = brentq(lambda s, one=one: one(s) - V_th, a, b, xtol=ROOT_XTOL,
                            rtol=4 * np.finfo(float).eps, maxiter=200)
        if best is None or t_star < best[0]:
            best = (float(t_star), int(r))
    return best, grazing
