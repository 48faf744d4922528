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
  multiply-adds into FMAs (one rounding each, ``fma(x, y, z) = x y + z``):

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
the very same functions for one neuron at a time. The step factor takes the exprel function as
an argument, since each engine evaluates it its own way (on arrays; in the Numba engine's
near and far lanes; as a device function): always :mod:`refsim.elementary`'s. Every product
that feeds a sum is written ``mul(a, b)``, which no compiler may contract into a fused
multiply-add (NVVM would, by default); the fused operations that ``arithmetic`` asks for are
written ``fma32``.

Names: a :class:`~refsim.Config` is always called ``config`` and ``c`` is only ever a
:class:`Constants` (or the engines' tuple of the same fields,
``refsim.engines.numba_engine.KernelConstants``); no array is called ``c``.

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
           "membrane_rhs", "membrane_jacobian", "step_factor", "advance", "reset",
           "refractory_steps"]


@dataclass(frozen=True)
class Constants:
    """Everything the step functions need, as scalars of the run's float type.

    Built by :meth:`from_config` (computed once per run, never inside the loop); by
    convention this object, and the engines' tuple of its fields, is the one thing called
    ``c``.

    Attributes
    ----------
    dtype : numpy.dtype
        The run's float type (float32 or float64); every scalar below but the flags has it.
    n_exc, n_neurons : int
        Excitatory neurons (0 .. n_exc-1) and N.
    dt, tau_m, tau_ref, tau_e, tau_i : numpy.floating
        ms, rounded to the float type.
    V_rest, V_th, V_reset, RI_ext, E_e, E_i : numpy.floating
        mV.
    R_g : numpy.floating
        R*[g], dimensionless.
    w_e, w_i : numpy.floating
        [g].
    a_e, a_i : numpy.floating
        The step factors (ms) of the conductance update g <- g + a ((-g) / tau):
        a = dt exprel(dt ((-1) / tau)) for ``exp_euler`` (with the ``expm1`` of
        ``config.expm1``, :func:`refsim.elementary.exprel`), a = dt for ``euler``.
    jump : numpy.floating
        V_th - V_reset (mV), the soft-reset decrement.
    r_m, r_e, r_i : numpy.floating
        1/tau_m, 1/tau_e, 1/tau_i (1/ms) rounded to the float type: the constants of
        ``arithmetic='xla'``, as XLA folds them.
    C : numpy.floating
        r_m R_g (1/ms), as XLA folds it.
    one : numpy.floating
        1 in the float type (compiled code types ``1 + float32`` as float64, where NumPy keeps
        float32).
    exp_euler, soft_reset, strict_threshold, brainpy_schedule : bool
        ``integrator == 'exp_euler'``, ``reset == 'soft'``, ``threshold_test == '>'``,
        ``schedule == 'brainpy'``.
    fused_update, xla : bool
        v + h f is one FMA (``arithmetic`` 'xla' or 'fused-update'); ``arithmetic == 'xla'``.
    expm1 : str
        ``config.expm1``.

    Notes
    -----
    With ``expm1='xla'``, a_e and a_i use XLA's expm1; XLA itself folds these two constants at
    compile time with the host C library's ``expm1f``. The two agree at the tutorial's
    arguments (dt = 0.1 ms, tau = 5 and 10 ms: checked against BrainPy's folded constants);
    for other dt and tau, BrainPy's a_e, a_i may differ from refsim's by an ulp, machine by
    machine.

    Examples
    --------
    >>> import refsim
    >>> from refsim.model import Constants
    >>> c = Constants.from_config(refsim.get_preset("tutorial"))
    >>> c.dtype, float(c.a_e), float(c.jump), c.xla
    (dtype('float32'), 0.09900663793087006, 10.0, True)
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
    def from_config(cls, config: Config) -> Constants:
        """The constants of ``config``, each rounded once to its float type.

        Parameters
        ----------
        config : Config

        Returns
        -------
        Constants

        Examples
        --------
        >>> import refsim
        >>> from refsim.model import Constants
        >>> c = Constants.from_config(refsim.get_preset("brette2007-coba"))
        >>> c.dtype, float(c.a_e), c.brainpy_schedule, c.soft_reset    # euler: a = dt
        (dtype('float64'), 0.1, False, False)
        """
        f = np.dtype(config.dtype).type
        dt = f(config.dt)
        exp_euler = config.integrator == "exp_euler"
        r_m = f(1) / f(config.tau_m)

        def step_factor(tau):
            # the Jacobian of (-g)/tau is (-1)/tau, as autodiff evaluates it
            return dt * elementary.exprel(dt * (f(-1) / f(tau)), config.expm1) if exp_euler else dt

        return cls(
            dtype=np.dtype(config.dtype), n_exc=config.n_exc, n_neurons=config.n_neurons, dt=dt,
            V_rest=f(config.V_rest), V_th=f(config.V_th), V_reset=f(config.V_reset),
            tau_m=f(config.tau_m), tau_ref=f(config.tau_ref), RI_ext=f(config.RI_ext),
            R_g=f(config.R_g), tau_e=f(config.tau_e), tau_i=f(config.tau_i), E_e=f(config.E_e),
            E_i=f(config.E_i), w_e=f(config.w_e), w_i=f(config.w_i),
            a_e=f(step_factor(config.tau_e)), a_i=f(step_factor(config.tau_i)),
            jump=f(config.V_th) - f(config.V_reset), one=f(1),
            exp_euler=exp_euler, soft_reset=config.reset == "soft",
            strict_threshold=config.threshold_test == ">",
            brainpy_schedule=config.schedule == "brainpy",
            r_m=r_m, r_e=f(1) / f(config.tau_e), r_i=f(1) / f(config.tau_i),
            C=r_m * f(config.R_g), fused_update=config.arithmetic != "ieee",
            xla=config.arithmetic == "xla", expm1=config.expm1,
        )

    def step_times(self, n_steps: int) -> np.ndarray:
        """t_k = k * dt in the run's float type, k = 0 .. n_steps-1 (ms).

        In float32 this equals ``np.arange(0, n_steps * dt, dt, dtype=np.float32)``.

        Parameters
        ----------
        n_steps : int

        Returns
        -------
        ndarray, shape (n_steps,)
            ms, in ``self.dtype``: each k converted exactly, then multiplied by dt (one
            rounding).

        Examples
        --------
        >>> import refsim
        >>> from refsim.model import Constants
        >>> Constants.from_config(refsim.get_preset("tutorial-normalized")).step_times(4).tolist()
        [0.0, 0.1, 0.2, 0.30000000000000004]
        """
        return np.arange(n_steps).astype(self.dtype) * self.dt


# -- the step formulas, written once (see the module docstring) ----------------------------
# ``c`` is a Constants (the oracle) or the engines' tuple of the same fields; every argument is
# an array (the oracle) or a scalar (compiled engines) of the run's float type.

def spike_test(v, c):
    """``v > V_th`` or ``v >= V_th``, by ``threshold_test`` (steps 1 and 7; Brette's 3).

    Parameters
    ----------
    v : ndarray or scalar
        Membrane potential (mV), the run's float type.
    c : Constants

    Returns
    -------
    ndarray of bool or bool
        True where the neuron spikes.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.model import Constants, spike_test
    >>> c = Constants.from_config(refsim.get_preset("tutorial-normalized"))   # V >= V_th
    >>> spike_test(np.array([-50.1, -50.0, -49.9]), c).tolist()
    [False, True, True]
    """
    return v > c.V_th if c.strict_threshold else v >= c.V_th


def refractory(t_k, t_last, c):
    """The clamp's condition ``(t_k - t_last) < tau_ref``, strict, in the float type (step 6;
    Brette's 2).

    Parameters
    ----------
    t_k : scalar
        Time of step k (ms), :meth:`Constants.step_times`.
    t_last : ndarray or scalar
        Time of each neuron's last spike (ms; -1e7 before the first).
    c : Constants

    Returns
    -------
    ndarray of bool or bool
        True where the neuron is clamped.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.model import Constants, refractory
    >>> c = Constants.from_config(refsim.get_preset("tutorial-normalized"))   # tau_ref = 5 ms
    >>> refractory(np.float64(5.0), np.array([0.0, 0.1, -1e7]), c).tolist()
    [False, True, False]
    """
    return (t_k - t_last) < c.tau_ref


def integrate_conductance(g, tau, r, a, c):
    """One step of dg/dt = -g/tau (step 3): ``g + a ((-g) / tau)``; ``xla``:
    ``fma(-(g r), a, g)``.

    Parameters
    ----------
    g : ndarray or scalar
        Conductance ([g]) before the step.
    tau : scalar
        Its time constant (ms): ``c.tau_e`` or ``c.tau_i``.
    r : scalar
        1/tau (1/ms) in the float type: ``c.r_e`` or ``c.r_i`` (used by ``xla`` only).
    a : scalar
        The step factor (ms): ``c.a_e`` or ``c.a_i``.
    c : Constants

    Returns
    -------
    ndarray or scalar
        g after the step ([g]), without this step's synaptic input.

    Notes
    -----
    With ``a = dt exprel(-dt / tau)`` (``exp_euler``) the update is g exp(-dt/tau) up to
    rounding; with ``a = dt`` (``euler``) it is g (1 - dt/tau).

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.model import Constants, integrate_conductance
    >>> c = Constants.from_config(refsim.get_preset("tutorial-normalized"))
    >>> g = integrate_conductance(np.array([1.0]), c.tau_e, c.r_e, c.a_e, c)
    >>> g.tolist(), float(np.exp(-0.1 / 5.0))           # exp(-dt / tau_e)
    ([0.9801986733067553], 0.9801986733067553)
    """
    if c.xla:
        return fma32(-mul(g, r), a, g)
    return g + mul(a, (-g) / tau)


def membrane_rhs(v, g_e, g_i, c):
    """f = dV/dt at v (mV/ms), BrainPy's order: leak, external current, E then I currents.

    ``ieee``: ``((V_rest - v) + ((RI_ext + R_g (g_e (E_e - v))) + R_g (g_i (E_i - v)))) / tau_m``;
    ``xla``: ``((V_rest - v) + fma(g_i (E_i - v), R_g, fma(g_e (E_e - v), R_g, RI_ext))) r_m``.

    Parameters
    ----------
    v : ndarray or scalar
        Membrane potential (mV).
    g_e, g_i : ndarray or scalar
        Conductances ([g]).
    c : Constants

    Returns
    -------
    ndarray or scalar
        dV/dt (mV/ms).

    Notes
    -----
    The right-hand side of tau_m dV/dt = -(V - V_rest) + RI_ext + R_g (g_e (E_e - V) +
    g_i (E_i - V)), divided by tau_m.

    Examples
    --------
    >>> import refsim
    >>> from refsim.model import Constants, membrane_rhs
    >>> c = Constants.from_config(refsim.get_preset("tutorial-normalized"))
    >>> float(membrane_rhs(c.V_rest, 0.0, 0.0, c))       # at rest: RI_ext / tau_m = 20 / 20
    1.0
    """
    if c.xla:
        current = fma32(mul(g_i, c.E_i - v), c.R_g, fma32(mul(g_e, c.E_e - v), c.R_g, c.RI_ext))
        return mul((c.V_rest - v) + current, c.r_m)
    current_e = mul(c.R_g, mul(g_e, c.E_e - v))
    current_i = mul(c.R_g, mul(g_i, c.E_i - v))
    return ((c.V_rest - v) + ((c.RI_ext + current_e) + current_i)) / c.tau_m


def membrane_jacobian(g_e, g_i, c):
    """J = df/dv (1/ms): ``-(1 + (R_g g_e + R_g g_i)) / tau_m``; ``xla``:
    ``fma(g_e, -C, g_i (-C)) + (-r_m)``.

    Parameters
    ----------
    g_e, g_i, c
        The conductances ([g]) and constants, as :func:`membrane_rhs` takes them.

    Returns
    -------
    ndarray or scalar
        J (1/ms), the input of the exponential-Euler step factor h = dt exprel(dt J).

    Examples
    --------
    >>> import refsim
    >>> from refsim.model import Constants, membrane_jacobian
    >>> c = Constants.from_config(refsim.get_preset("tutorial-normalized"))   # R_g = 1
    >>> float(membrane_jacobian(1.0, 0.5, c))            # -(1 + 1.5) / 20
    -0.125
    """
    if c.xla:
        return fma32(g_e, -c.C, mul(g_i, -c.C)) + (-c.r_m)
    return -(c.one + (mul(c.R_g, g_e) + mul(c.R_g, g_i))) / c.tau_m


def step_factor(J, exprel, c):
    """The step factor h of ``advance`` (ms): ``dt exprel(dt J)`` for ``exp_euler`` (exact for
    frozen conductances), ``dt`` for ``euler``.

    Parameters
    ----------
    J : ndarray or scalar
        The Jacobian (1/ms), :func:`membrane_jacobian`.
    exprel : callable
        exprel(z) = expm1(z)/z of the run's ``expm1`` choice (:mod:`refsim.elementary`).
    c : Constants

    Returns
    -------
    ndarray or scalar
        h (ms).

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim import elementary
    >>> from refsim.model import Constants, step_factor
    >>> c = Constants.from_config(refsim.get_preset("tutorial-normalized"))
    >>> h = step_factor(np.float64(-0.05), elementary.exprel, c)
    >>> float(h), float(0.1 * np.expm1(-0.005) / -0.005)
    (0.09975041614635374, 0.09975041614635374)
    """
    if c.exp_euler:
        return mul(c.dt, exprel(mul(c.dt, J)))
    return c.dt


def advance(v, h, f, c):
    """``v + h f`` (step 5): rounded once (``fma(h, f, v)``) for ``arithmetic`` 'xla' and
    'fused-update', else twice. ``h`` is dt exprel(dt J) (``exp_euler``) or dt.

    Parameters
    ----------
    v : ndarray or scalar
        Membrane potential (mV) at the start of the step.
    h : ndarray or scalar
        Step factor (ms).
    f : ndarray or scalar
        dV/dt at v (mV/ms), :func:`membrane_rhs`.
    c : Constants

    Returns
    -------
    ndarray or scalar
        The candidate V (mV).

    Examples
    --------
    >>> import refsim
    >>> from refsim.model import Constants, advance
    >>> c = Constants.from_config(refsim.get_preset("tutorial-normalized"))
    >>> float(advance(c.V_rest, c.dt, 1.0, c))           # -60 + 0.1 * 1
    -59.9
    """
    return fma32(h, f, v) if c.fused_update else v + mul(h, f)


def reset(v, s, c):
    """Where ``s``: ``v - (V_th - V_reset)`` (soft) or ``V_reset`` (hard); else ``v``
    (step 4; Brette's 5).

    Parameters
    ----------
    v : ndarray or scalar
        Membrane potential (mV).
    s : ndarray of bool or bool
        The spikes, :func:`spike_test`.
    c : Constants

    Returns
    -------
    ndarray or scalar
        V after the reset (mV).

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.model import Constants, reset
    >>> v, s = np.array([-49.0, -55.0]), np.array([True, False])
    >>> soft = Constants.from_config(refsim.get_preset("tutorial-normalized"))
    >>> hard = Constants.from_config(refsim.get_preset("brette2007-coba"))
    >>> reset(v, s, soft).tolist(), reset(v, s, hard).tolist()
    ([-59.0, -55.0], [-60.0, -55.0])
    """
    return select(s, v - c.jump if c.soft_reset else c.V_reset, v)


#: The formulas above, which the compiled engines register with their compilers.
FORMULAS = (spike_test, refractory, integrate_conductance, membrane_rhs, membrane_jacobian,
            step_factor, advance, reset)


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
