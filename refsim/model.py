r"""The COBA E/I network model: equations, step order and the constants derived from a Config.

Model
-----
N = n_exc + n_inh leaky integrate-and-fire neurons with an absolute refractory period. Two
projections, E -> all and I -> all, each an exponentially decaying conductance stored once per
*postsynaptic* neuron (post-aligned state: O(N) memory, not O(synapses)):

.. math::

    \tau_m \frac{dV}{dt} = -(V - V_{rest}) + R I_{ext} + R[g]\,\big(g_e (E_e - V) + g_i (E_i - V)\big)

    \tau_e \frac{dg_e}{dt} = -g_e + \tau_e \sum_{\text{E spikes}} w_e \,\delta(t - t_s),\qquad
    \tau_i \frac{dg_i}{dt} = -g_i + \tau_i \sum_{\text{I spikes}} w_i \,\delta(t - t_s)

Integrators (``config.integrator``), for one step of length dt applied to dx/dt = f(x)
with diagonal Jacobian J = df/dx:

* ``exp_euler``: x + dt * exprel(dt J) * f(x), exprel(z) = expm1(z)/z (exprel(0) = 1), with
  the ``expm1`` of ``config.expm1`` (:mod:`refsim.elementary`: refsim's own, the same bits on
  every machine, by default). For V,
  J = -(1 + (R_g g_e + R_g g_i)) / tau_m; exact when g is frozen over the step. For g,
  J = -1/tau, and the update is exactly g exp(-dt/tau) up to rounding.
* ``euler``: x + dt * f(x).

Arithmetic (``config.arithmetic``): how each formula of a step is rounded.

* ``ieee``: every operation as written here, each rounded once in the run's float type:

  - conductance decay ``g + a ((-g) / tau)``;
  - voltage derivative ``f(v) = ((V_rest - v) + ((RI_ext + R_g (g_e (E_e - v))) + R_g (g_i
    (E_i - v)))) / tau_m`` (BrainPy's order: leak, external current, E then I currents);
  - Jacobian ``J = -(1 + (R_g g_e + R_g g_i)) / tau_m``;
  - update ``v + h f`` with h = dt exprel(dt J) (``exp_euler``) or dt (``euler``).

* ``xla`` (float32; the ``tutorial`` preset): BrainPy 2.9's expressions as XLA:CPU compiles
  them (read off the optimized HLO and the machine code of BrainPy's step; bit-identical to
  BrainPy's V traces and rasters, seeds 0-9). XLA's algebraic simplifier turns a division by a constant
  into the product with its float32 reciprocal ``r = 1/tau``, and its code generator fuses six
  multiply-adds into FMAs (one rounding each, ``fma(a, b, c) = a b + c``):

  - conductance decay ``fma(-(g r), a, g)``;
  - voltage derivative ``((V_rest - v) + fma(g_i (E_i - v), R_g, fma(g_e (E_e - v), R_g,
    RI_ext))) r_m``;
  - Jacobian ``fma(g_e, -C, g_i (-C)) + (-r_m)`` with ``C = r_m R_g`` (as XLA folds it);
  - update ``fma(h, f, v)``.

  The spike test ``((V - V_th) / 10) >= 0`` that BrainPy writes is ``V >= V_th`` exactly (the
  sign of an exact difference, a positive factor), and its reset ``V + (-10)`` is ``V - jump``.

* ``fused-update`` (float32): ``ieee`` with ``v + h f`` rounded once: refsim 0.1's
  ``fused_update=True``, its partial emulation of XLA, kept for comparisons.

Step order, ``schedule='brainpy'`` (BrainPy 2.9's ``LIFRef`` + ``AlignPostProj``; spikes act
one step later). State before step k: V, g_e, g_i, t_last (initially -1e7 ms); t_k = k dt in
the float type (``np.arange(n_steps, dtype) * dt``).

1. s = spike_test(V): the spikes recorded at step k-1 (at k = 0: V0 tested, not recorded).
2. Scatter: x_e[j] = w_e x (synapses from spiking E neurons onto j), summed synapse by synapse,
   presynaptic neurons ascending, each row in stored order; likewise x_i.
3. Conductances: g <- integrate(g) + x (decay first, then the jump at full weight).
4. Reset: v = V - (V_th - V_reset) s (soft) or v = V_reset where s (hard).
5. Candidate: V* = integrate(v) with the new g_e, g_i.
6. Refractory clamp: V_new = v where (t_k - t_last) < tau_ref (strict, in the float type), else V*.
7. t_last <- t_k where spike_test(V_new); the spikes recorded at step k are spike_test(V_new).

Step order, ``schedule='brette'`` (Brette et al. 2007, benchmark code; spikes act in the step):

1. V, g_e, g_i integrated one step from the old values.
2. Refractory clamp: V <- V_reset where (t_k - t_last) < tau_ref.
3. s = spike_test(V): the spikes recorded at step k.
4. Scatter as above; g <- g + x at once (no delay).
5. Reset where s (hard: V_reset; soft: V - (V_th - V_reset)); t_last <- t_k where s.

spike_test is ``V >= V_th`` or ``V > V_th`` (``config.threshold_test``).

Every engine (NumPy oracle, Numba, CUDA) evaluates exactly these expressions, in this order, in
the run's float type, with the constants of :class:`Constants`: the formulas are the functions
of this module (:data:`FORMULAS`), written once with the primitives of
:mod:`refsim.elementary`. The oracle calls them on arrays; the Numba and CUDA engines compile
the very same functions for one neuron at a time. Every product that feeds a sum is written
``mul(a, b)``, which no compiler may contract into a fused multiply-add (NVVM would, by
default); the fused operations that ``arithmetic`` asks for are written ``fma32``.

References
----------
Vogels TP, Abbott LF (2005) J Neurosci 25:10786. Brette R et al. (2007) J Comput Neurosci
23:349 (benchmark 1; ModelDB 83319). BrainPy 2.9 Tutorial 3, "An E/I balanced network".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import elementary
from .elementary import fma32, mul, select
from .params import Config

__all__ = ["Constants", "FORMULAS", "spike_test", "refractory", "integrate_conductance",
           "membrane_rhs", "membrane_jacobian", "advance", "reset", "refractory_steps"]


@dataclass(frozen=True)
class Constants:
    """Everything the step functions need, as scalars of the run's float type.

    Derived constants (computed once, never inside the loop):

    * ``a_e``, ``a_i``: the step factor of the conductance update g <- g + a * ((-g) / tau),
      a = dt * exprel(dt * ((-1) / tau)) for ``exp_euler`` (the ``expm1`` of
      ``config.expm1``, :func:`refsim.elementary.exprel`), a = dt for ``euler``.
    * ``jump``: V_th - V_reset, the soft-reset decrement.
    * ``r_m``, ``r_e``, ``r_i``: 1/tau_m, 1/tau_e, 1/tau_i rounded to the float type, and
      ``C = r_m * R_g``: the constants of ``arithmetic='xla'``, as XLA folds them.

    With ``expm1='xla'``, a_e and a_i use XLA's expm1; XLA itself folds these two constants at
    compile time with the host C library's ``expm1f``. The two agree at the tutorial's
    arguments (dt = 0.1 ms, tau = 5 and 10 ms: checked against BrainPy's folded constants);
    for other dt and tau, BrainPy's a_e, a_i may differ from refsim's by an ulp, machine by
    machine.
    * ``xla``: ``arithmetic == 'xla'``; ``fused_update``: v + h f is one FMA (``xla`` or
      ``fused-update``).
    * ``one``: 1 in the float type (compiled code types ``1 + float32`` as float64, where
      NumPy keeps float32).
    """

    dtype: np.dtype
    n_exc: int
    n_neurons: int
    dt: np.floating
    V_rest: np.floating
    V_th: np.floating
    V_reset: np.floating
    tau_m: np.floating
    tau_ref: np.floating
    RI_ext: np.floating
    R_g: np.floating
    tau_e: np.floating
    tau_i: np.floating
    E_e: np.floating
    E_i: np.floating
    w_e: np.floating
    w_i: np.floating
    a_e: np.floating
    a_i: np.floating
    jump: np.floating
    r_m: np.floating
    r_e: np.floating
    r_i: np.floating
    C: np.floating
    one: np.floating
    exp_euler: bool
    soft_reset: bool
    strict_threshold: bool
    brainpy_schedule: bool
    fused_update: bool
    xla: bool
    expm1: str

    @classmethod
    def from_config(cls, c: Config) -> "Constants":
        f = np.dtype(c.dtype).type
        dt = f(c.dt)
        exp_euler = c.integrator == "exp_euler"
        r_m = f(1) / f(c.tau_m)

        def step_factor(tau):
            # the Jacobian of (-g)/tau is (-1)/tau, as autodiff evaluates it
            return dt * elementary.exprel(dt * (f(-1) / f(tau)), c.expm1) if exp_euler else dt

        return cls(
            dtype=np.dtype(c.dtype), n_exc=c.n_exc, n_neurons=c.n_neurons, dt=dt,
            V_rest=f(c.V_rest), V_th=f(c.V_th), V_reset=f(c.V_reset), tau_m=f(c.tau_m),
            tau_ref=f(c.tau_ref), RI_ext=f(c.RI_ext), R_g=f(c.R_g), tau_e=f(c.tau_e),
            tau_i=f(c.tau_i), E_e=f(c.E_e), E_i=f(c.E_i), w_e=f(c.w_e), w_i=f(c.w_i),
            a_e=f(step_factor(c.tau_e)), a_i=f(step_factor(c.tau_i)),
            jump=f(c.V_th) - f(c.V_reset), one=f(1),
            exp_euler=exp_euler, soft_reset=c.reset == "soft",
            strict_threshold=c.threshold_test == ">", brainpy_schedule=c.schedule == "brainpy",
            r_m=r_m, r_e=f(1) / f(c.tau_e), r_i=f(1) / f(c.tau_i), C=r_m * f(c.R_g),
            fused_update=c.arithmetic != "ieee", xla=c.arithmetic == "xla", expm1=c.expm1,
        )

    def step_times(self, n_steps: int) -> np.ndarray:
        """t_k = k * dt in the run's float type, k = 0 .. n_steps-1 (ms).

        In float32 this equals ``np.arange(0, n_steps * dt, dt, dtype=np.float32)``.
        """
        return np.arange(n_steps).astype(self.dtype) * self.dt


# -- the step formulas, written once (see the module docstring) ----------------------------
# ``c`` is a Constants (the oracle) or the engines' tuple of the same fields; every argument is
# an array (the oracle) or a scalar (compiled engines) of the run's float type.

def spike_test(v, c):
    """``v > V_th`` or ``v >= V_th``, by ``threshold_test`` (steps 1 and 7; Brette's 3)."""
    return v > c.V_th if c.strict_threshold else v >= c.V_th


def refractory(t_k, t_last, c):
    """The clamp's condition ``(t_k - t_last) < tau_ref``, strict, in the float type (step 6;
    Brette's 2)."""
    return (t_k - t_last) < c.tau_ref


def integrate_conductance(g, tau, r, a, c):
    """One step of dg/dt = -g/tau (step 3): ``g + a ((-g) / tau)``; ``xla``:
    ``fma(-(g r), a, g)``.

    ``a`` is ``c.a_e`` or ``c.a_i``, ``r`` = 1/tau is ``c.r_e`` or ``c.r_i``.
    """
    if c.xla:
        return fma32(-mul(g, r), a, g)
    return g + mul(a, (-g) / tau)


def membrane_rhs(v, g_e, g_i, c):
    """f = dV/dt at v (mV/ms), BrainPy's order: leak, external current, E then I currents.

    ``ieee``: ``((V_rest - v) + ((RI_ext + R_g (g_e (E_e - v))) + R_g (g_i (E_i - v)))) / tau_m``;
    ``xla``: ``((V_rest - v) + fma(g_i (E_i - v), R_g, fma(g_e (E_e - v), R_g, RI_ext))) r_m``.
    """
    if c.xla:
        current = fma32(mul(g_i, c.E_i - v), c.R_g, fma32(mul(g_e, c.E_e - v), c.R_g, c.RI_ext))
        return mul((c.V_rest - v) + current, c.r_m)
    current_e = mul(c.R_g, mul(g_e, c.E_e - v))
    current_i = mul(c.R_g, mul(g_i, c.E_i - v))
    return ((c.V_rest - v) + ((c.RI_ext + current_e) + current_i)) / c.tau_m


def membrane_jacobian(g_e, g_i, c):
    """J = df/dv (1/ms): ``-(1 + (R_g g_e + R_g g_i)) / tau_m``; ``xla``:
    ``fma(g_e, -C, g_i (-C)) + (-r_m)``."""
    if c.xla:
        return fma32(g_e, -c.C, mul(g_i, -c.C)) + (-c.r_m)
    return -(c.one + (mul(c.R_g, g_e) + mul(c.R_g, g_i))) / c.tau_m


def advance(v, h, f, c):
    """``v + h f`` (step 5): rounded once (``fma(h, f, v)``) for ``arithmetic`` 'xla' and
    'fused-update', else twice. ``h`` is dt exprel(dt J) (``exp_euler``) or dt."""
    return fma32(h, f, v) if c.fused_update else v + mul(h, f)


def reset(v, s, c):
    """Where ``s``: ``v - (V_th - V_reset)`` (soft) or ``V_reset`` (hard); else ``v``
    (step 4; Brette's 5)."""
    return select(s, v - c.jump if c.soft_reset else c.V_reset, v)


#: The formulas above, which the compiled engines register with their compilers.
FORMULAS = (spike_test, refractory, integrate_conductance, membrane_rhs, membrane_jacobian,
            advance, reset)


def refractory_steps(tau_ref: float, dt: float) -> tuple[int, int]:
    """The shortest and longest number of steps from a spike to the earliest next one.

    After a spike at step s the clamp holds at the steps s + m with (t_{s+m} - t_s) < tau_ref in
    the float type, so the earliest next spike is at s + ceil(tau_ref / dt) (s + 1 when
    tau_ref = 0) when tau_ref / dt is not a whole number. When it is a whole number m, the
    float rounding of t_k - t_last decides between s + m and s + m + 1.

    Parameters
    ----------
    tau_ref, dt : float
        ms.

    Returns
    -------
    shortest : int
        max(1, ceil(tau_ref / dt)), a whole ratio counted as m: bounds the spikes a run can
        hold (:func:`refsim.resources.estimate_memory`).
    longest : int
        floor(tau_ref / dt) + 1: a neuron firing at the clamp's limit fires at least once in
        this many steps (:class:`refsim.checks.RunawayMonitor`).

    (Ratios within 1e-9 of a whole number count as whole.)

    Examples
    --------
    >>> from refsim.model import refractory_steps
    >>> refractory_steps(5.0, 0.1), refractory_steps(2.05, 0.1), refractory_steps(0.0, 0.1)
    ((50, 51), (21, 21), (1, 1))
    """
    ratio = tau_ref / dt
    return max(1, math.ceil(ratio - 1e-9)), math.floor(ratio + 1e-9) + 1
