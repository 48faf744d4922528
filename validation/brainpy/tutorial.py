"""BrainPy 2.9's Tutorial 3 network ("An E/I balanced network") and its simulation cell, as the
BrainPy-side scripts run them: ``export_fixture``, ``run_brainpy`` and ``time_tutorial``.

Runs in the BrainPy venv (Python 3.12; see README.md beside this file), NOT with refsim's
environment: it imports BrainPy, JAX and NumPy, never refsim.

* :class:`EINet`: the tutorial's class as its text writes it, with one change: the unit of the
  two weights is the parameter ``weight_unit`` (``u.mS``, the tutorial's, by default;
  ``u.siemens`` is ``run_brainpy``'s ``normalized`` variant).
* :func:`build`: the tutorial's seeding, ``np.random.seed(seed)`` for the connectivity (the
  legacy NumPy RNG: ``brainstate.nn.EventFixedProb`` with ``seed=None`` draws its target
  indices with ``np.random.randint(0, n_post, size=(n_pre, conn_num))``, E projection first)
  and ``brainstate.random.seed(seed)`` for V0 (``braintools.init.Normal``, JAX's RNG, inside
  ``init_all_states``).
* :func:`run`: the tutorial's simulation cell (dt = 0.1 ms, 1000 ms, 20 mA input, JAX's default
  float32), timed, with JAX's tracing and compilation time reported apart.
"""
from __future__ import annotations

import platform
import time
from importlib import metadata

import brainevent  # noqa: F401  (brainstate's event kernels; imported as the fixture was made)
import brainpy
import brainstate
import braintools
import brainunit as u
import jax
import numpy as np

from validation.machine import cpu_flags, cpu_name

N_EXC, N_INH = 3200, 800
N = N_EXC + N_INH
N_STEPS = 10_000
DT_MS = 0.1


# --------------------------------------------------------------------------------------
# The tutorial's network (Tutorial 3 · An E/I balanced network); only the weights' unit is a
# parameter, the tutorial's mS by default.
# --------------------------------------------------------------------------------------
class EINet(brainstate.nn.Module):
    def __init__(self, weight_unit=u.mS):
        super().__init__()
        self.n_exc = 3200
        self.n_inh = 800
        self.num = self.n_exc + self.n_inh
        self.N = brainpy.state.LIFRef(
            self.num,
            V_rest=-60. * u.mV, V_th=-50. * u.mV, V_reset=-60. * u.mV,
            tau=20. * u.ms, tau_ref=5. * u.ms,
            V_initializer=braintools.init.Normal(-55., 2., unit=u.mV),
        )
        self.E = brainpy.state.AlignPostProj(
            comm=brainstate.nn.EventFixedProb(
                self.n_exc, self.num, conn_num=0.02, conn_weight=0.6 * weight_unit),
            syn=brainpy.state.Expon.desc(self.num, tau=5. * u.ms),
            out=brainpy.state.COBA.desc(E=0. * u.mV),
            post=self.N,
        )
        self.I = brainpy.state.AlignPostProj(
            comm=brainstate.nn.EventFixedProb(
                self.n_inh, self.num, conn_num=0.02, conn_weight=6.7 * weight_unit),
            syn=brainpy.state.Expon.desc(self.num, tau=10. * u.ms),
            out=brainpy.state.COBA.desc(E=-80. * u.mV),
            post=self.N,
        )

    def update(self, t, inp):
        with brainstate.environ.context(t=t):
            spk = self.N.get_spike() != 0.
            self.E(spk[:self.n_exc])      # excitatory neurons -> all
            self.I(spk[self.n_exc:])      # inhibitory neurons -> all
            self.N(inp)
            return self.N.get_spike()


#: The variants of ``run_brainpy --variant``: the weights' unit.
WEIGHT_UNITS = {"tutorial": u.mS, "normalized": u.siemens}


# --------------------------------------------------------------------------------------
def package_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def collect_versions() -> dict:
    v = {"python": platform.python_version()}
    for dist in ("brainpy", "brainstate", "brainunit", "brainevent", "braintools",
                 "jax", "jaxlib", "numpy", "saiunit", "numba"):
        v[dist] = package_version(dist)
    v["jax_backend"] = jax.default_backend()
    v["platform"] = platform.platform()
    # XLA's CPU code contracts a*b + c into one FMA where the CPU has it; that rounding
    # decides some spikes (see README.md), so record the CPU and whether it has FMA.
    v["cpu"] = cpu_name()
    flags = cpu_flags()
    if flags is not None:
        v["cpu_fma"] = "fma" in flags
    return v


def mantissa(x) -> np.ndarray:
    return np.asarray(u.get_mantissa(x))


def build(seed: int, variant: str = "tutorial") -> EINet:
    np.random.seed(seed)                 # connectivity (legacy global NumPy RNG)
    brainstate.random.seed(seed)         # V0 (JAX RNG behind brainstate.random)
    net = EINet(WEIGHT_UNITS[variant])
    brainstate.nn.init_all_states(net)
    return net


def reinit(net: EINet, seed: int) -> None:
    """Re-seed the JAX RNG and re-initialise all states (V0, g, t_last); the
    connectivity and weights are parameters built in __init__ and are not redrawn."""
    brainstate.random.seed(seed)
    brainstate.nn.init_all_states(net)


def legacy_numpy_targets(seed: int):
    """The E and I target index arrays that ``np.random.seed(seed)`` gives the projections."""
    np.random.seed(seed)
    return np.random.randint(0, 4000, (3200, 80)), np.random.randint(0, 4000, (800, 80))


# JAX reports how long it spends tracing, lowering and compiling; summing those events per
# run separates compilation from execution (brainstate's for_loop retraces and recompiles its
# scan on every call, so even a second run pays ~0.2-0.5 s of compilation).
_JAX_EVENTS: dict = {}


def _on_duration(name, secs, **_):
    _JAX_EVENTS[name] = _JAX_EVENTS.get(name, 0.0) + secs


jax.monitoring.register_event_duration_secs_listener(_on_duration)
_COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
                   "/jax/core/compile/jaxpr_to_mlir_module_duration",
                   "/jax/core/compile/backend_compile_duration")


def run(net: EINet, record=None, pbar: bool = False):
    """The tutorial's simulation cell. Returns (times, spikes, trace, wall_s, compile_s).

    ``record``: neuron ids whose V (mV) is also returned after every step (``trace``, shape
    (N_STEPS, len(record))); None: the cell exactly as the tutorial writes it, ``trace`` None.
    ``pbar``: the tutorial's ``ProgressBar(10)`` (numerically irrelevant; slower).
    """
    _JAX_EVENTS.clear()
    rec = None if record is None else jax.numpy.asarray(record)
    with brainstate.environ.context(dt=DT_MS * u.ms):
        t0 = time.perf_counter()
        times = u.math.arange(0. * u.ms, 1000. * u.ms, brainstate.environ.get_dt())
        if rec is None:
            spikes = brainstate.transform.for_loop(
                lambda t: net.update(t, 20. * u.mA), times,
                pbar=brainstate.transform.ProgressBar(10) if pbar else None,
            )
            spikes, trace = jax.block_until_ready(spikes), None
        else:
            def step(t):
                spk = net.update(t, 20. * u.mA)
                return spk, u.get_mantissa(net.N.V.value)[rec]

            spikes, trace = brainstate.transform.for_loop(
                step, times, pbar=brainstate.transform.ProgressBar(10) if pbar else None)
            spikes, trace = jax.block_until_ready((spikes, trace))
        wall = time.perf_counter() - t0
    compile_s = sum(_JAX_EVENTS.get(k, 0.0) for k in _COMPILE_EVENTS)
    return times, spikes, trace, wall, compile_s
