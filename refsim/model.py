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
the run's float type, with the constants of :class:`Constants`.

References
----------
Vogels TP, Abbott LF (2005) J Neurosci 25:10786. Brette R et al. (2007) J Comput Neurosci
23:349 (benchmark 1; ModelDB 83319). BrainPy 2.9 Tutorial 3, "An E/I balanced network".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import elementary
from .params import Config

__all__ = ["Constants"]


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
    t_last_init: np.floating
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
            jump=f(c.V_th) - f(c.V_reset), t_last_init=f(-1e7),
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
