"""Model and run parameters: one frozen dataclass, a unit on every field, validated in one place.

Unit system
-----------
Time in ms, voltage in mV. Conductances (weights, the state ``g_e`` and ``g_i``) are
expressed in a *conductance unit* ``[g]`` chosen by the preset, and the membrane equation
sees them only through the dimensionless product ``R_g = R * [g]``:

    tau_m dV/dt = -(V - V_rest) + RI_ext + R_g * (g_e (E_e - V) + g_i (E_i - V))

* ``tutorial``: ``[g]`` = 1 mS and R = 1 ohm, so ``R_g = 1e-3`` (1 ohm x 1 mS x 1 mV = 1e-3 mV).
* ``tutorial-normalized`` and ``brette2007-coba``: ``[g]`` = g_L = 1/R, so ``R_g = 1``.

Every field carries its unit and meaning in ``dataclasses.field(metadata=...)``; the table
in ``docs/`` and ``refsim presets --describe`` are generated from that metadata.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Config", "ConfigError", "describe_fields"]


class ConfigError(ValueError):
    """A parameter is outside its allowed range. The message names the parameter."""


def _p(unit: str, doc: str, **kw):
    return field(metadata={"unit": unit, "doc": doc, **kw})


CHOICES = {
    "conn_rule": ("fixed_out_degree", "fixed_in_degree", "bernoulli"),
    "conn_rng": ("numpy-legacy", "pcg64"),
    "schedule": ("brainpy", "brette"),
    "integrator": ("exp_euler", "euler"),
    "reset": ("soft", "hard"),
    "threshold_test": (">=", ">"),
    "dtype": ("float32", "float64"),
}


@dataclass(frozen=True)
class Config:
    """Every parameter of one COBA network run.

    Build one from a preset with :func:`refsim.get_preset` and change fields with
    :meth:`replace`; every instance is validated on construction and raises
    :class:`ConfigError` naming the offending field and its allowed range.
    """

    # --- network size ---------------------------------------------------------------
    n_exc: int = _p("1", "number of excitatory neurons (indices 0 .. n_exc-1)")
    n_inh: int = _p("1", "number of inhibitory neurons (indices n_exc .. n_exc+n_inh-1)")

    # --- neuron: leaky integrate-and-fire with absolute refractory period -----------
    V_rest: float = _p("mV", "resting (leak reversal) potential")
    V_th: float = _p("mV", "spike threshold")
    V_reset: float = _p("mV", "reset potential (hard reset) / V_th - V_reset is the soft-reset jump")
    tau_m: float = _p("ms", "membrane time constant")
    tau_ref: float = _p("ms", "absolute refractory period")
    RI_ext: float = _p("mV", "constant external drive R*I_ext")
    R_g: float = _p("1", "R*[g]: converts conductance x mV into mV of drive (1e-3 for R=1 ohm, [g]=mS)")

    # --- synapses: two post-aligned exponential conductances ----------------------
    tau_e: float = _p("ms", "excitatory conductance decay time constant")
    tau_i: float = _p("ms", "inhibitory conductance decay time constant")
    E_e: float = _p("mV", "excitatory reversal potential")
    E_i: float = _p("mV", "inhibitory reversal potential")
    w_e: float = _p("[g]", "excitatory weight: jump of g_e per presynaptic spike and synapse")
    w_i: float = _p("[g]", "inhibitory weight: jump of g_i per presynaptic spike and synapse")

    # --- connectivity -----------------------------------------------------------------
    conn_rule: str = _p("-", "fixed_out_degree | fixed_in_degree | bernoulli")
    p_conn: float = _p("1", "connection probability; fixed-degree rules use k = int(p_conn * n)")
    autapses: bool = _p("-", "allow a neuron to connect to itself")
    multapses: bool = _p("-", "allow several synapses per ordered pair (fixed-degree rules draw with replacement)")
    conn_rng: str = _p("-", "numpy-legacy (np.random.RandomState(seed), BrainPy's generator) | pcg64")

    # --- initial state ----------------------------------------------------------------
    V0_mean: float = _p("mV", "mean of the Normal initial membrane potential")
    V0_std: float = _p("mV", "standard deviation of the initial membrane potential")
    g_e0_mean: float = _p("[g]", "mean of the Normal initial g_e")
    g_e0_std: float = _p("[g]", "standard deviation of the initial g_e")
    g_i0_mean: float = _p("[g]", "mean of the Normal initial g_i")
    g_i0_std: float = _p("[g]", "standard deviation of the initial g_i")

    # --- numerics and step order ------------------------------------------------------
    schedule: str = _p("-", "brainpy (spikes act one step later) | brette (spikes act in the same step)")
    integrator: str = _p("-", "exp_euler (exact for frozen g) | euler (forward Euler)")
    reset: str = _p("-", "soft: V <- V - (V_th - V_reset) | hard: V <- V_reset")
    threshold_test: str = _p("-", "'>=' (V >= V_th spikes) | '>' (V > V_th spikes)")
    dtype: str = _p("-", "float32 | float64: the float type of all state and arithmetic")
    fused_update: bool = _p("-", "round V* = v + (dt*phi)*f once (fused multiply-add), as XLA on CPU does; float32 only")
    dt: float = _p("ms", "time step")
    duration: float = _p("ms", "simulated time; must be a whole number of steps")

    # ------------------------------------------------------------------------------------
    def __post_init__(self):
        _validate(self)

    @property
    def n_neurons(self) -> int:
        """Population size N = n_exc + n_inh."""
        return self.n_exc + self.n_inh

    @property
    def n_steps(self) -> int:
        """Number of time steps, duration / dt."""
        return int(round(self.duration / self.dt))

    def replace(self, **changes) -> "Config":
        """A copy with some fields changed (validated). Unknown names raise ConfigError."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ConfigError(f"unknown parameter(s) {unknown}; see `refsim presets --describe`")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Config":
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(names - set(d))
        unknown = sorted(set(d) - names)
        if missing or unknown:
            raise ConfigError(f"config dict: missing fields {missing}, unknown fields {unknown}")
        return cls(**{k: coerce(k, v) for k, v in d.items()})


def describe_fields() -> list[tuple[str, str, str]]:
    """(name, unit, description) for every Config field, in declaration order."""
    return [(f.name, f.metadata["unit"], f.metadata["doc"]) for f in dataclasses.fields(Config)]


_FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(Config)}


def coerce(name: str, value: Any) -> Any:
    """Convert ``value`` (possibly a string from the command line) to the type of field ``name``.

    Raises ConfigError naming the field when the value cannot be converted.
    """
    if name not in _FIELD_TYPES:
        raise ConfigError(f"unknown parameter {name!r}; see `refsim presets --describe`")
    typ = _FIELD_TYPES[name]
    try:
        if typ == "bool":
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("true", "1", "yes"):
                    return True
                if low in ("false", "0", "no"):
                    return False
                raise ValueError(value)
            if isinstance(value, (bool, int)) and value in (0, 1):
                return bool(value)
            raise ValueError(value)
        if typ == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            if isinstance(value, str):
                value = value.strip()
            f = float(value)
            if not math.isfinite(f) or f != int(f):
                raise ValueError(value)
            return int(f)
        if typ == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if typ == "str":
            if not isinstance(value, str):
                raise ValueError(value)
            return value
    except (TypeError, ValueError):
        raise ConfigError(f"{name} = {value!r}: expected a {typ}") from None
    raise AssertionError(typ)  # unreachable: every field type is handled above


def _validate(c: Config) -> None:
    def fail(name, allowed):
        raise ConfigError(f"{name} = {getattr(c, name)!r}: allowed {allowed}")

    for f in dataclasses.fields(c):
        v = getattr(c, f.name)
        ok = {"bool": isinstance(v, bool), "str": isinstance(v, str),
              "int": isinstance(v, int) and not isinstance(v, bool),
              "float": isinstance(v, (int, float)) and not isinstance(v, bool)}[f.type]
        if not ok:
            fail(f.name, f"a value of type {f.type}")
        if f.type == "float" and not math.isfinite(v):
            fail(f.name, "a finite number")
        if f.name in CHOICES and v not in CHOICES[f.name]:
            fail(f.name, "one of " + ", ".join(repr(x) for x in CHOICES[f.name]))

    if c.n_exc < 0:
        fail("n_exc", "n_exc >= 0")
    if c.n_inh < 0:
        fail("n_inh", "n_inh >= 0")
    if c.n_exc + c.n_inh < 1:
        fail("n_exc", "n_exc + n_inh >= 1")
    for name in ("tau_m", "tau_e", "tau_i", "dt", "duration"):
        if not getattr(c, name) > 0:
            fail(name, f"{name} > 0 ms")
    if c.tau_ref < 0:
        fail("tau_ref", "tau_ref >= 0 ms")
    if not c.V_th > c.V_reset:
        fail("V_th", f"V_th > V_reset = {c.V_reset} mV")
    if c.R_g < 0:
        fail("R_g", "R_g >= 0")
    for name in ("w_e", "w_i"):
        if getattr(c, name) < 0:
            fail(name, f"{name} >= 0 [g]")
    for name in ("V0_std", "g_e0_std", "g_i0_std"):
        if getattr(c, name) < 0:
            fail(name, f"{name} >= 0")
    if not 0.0 <= c.p_conn <= 1.0:
        fail("p_conn", "0 <= p_conn <= 1")
    ratio = c.duration / c.dt
    if abs(ratio - round(ratio)) > 1e-9 * max(1.0, ratio) or round(ratio) < 1:
        fail("duration", f"a whole positive multiple of dt = {c.dt} ms (duration/dt = {ratio!r})")
    if c.dtype == "float32" and round(ratio) >= 2**24:
        fail("duration", f"fewer than 2**24 steps in float32 (step times must be exact integers times dt)")
    if c.fused_update and c.dtype != "float32":
        fail("fused_update", "False unless dtype = 'float32' (emulated exactly through float64)")
    if c.conn_rule == "bernoulli" and c.multapses:
        fail("multapses", "False for the bernoulli rule (one Bernoulli trial per ordered pair)")
    if c.conn_rule == "fixed_out_degree" and not c.multapses:
        k, n = int(c.p_conn * c.n_neurons), c.n_neurons - (0 if c.autapses else 1)
        if k > n:
            fail("p_conn", f"int(p_conn * N) = {k} <= {n} targets available without multapses")
    if c.conn_rule == "fixed_in_degree" and not c.multapses:
        for pop, n_pre in (("n_exc", c.n_exc), ("n_inh", c.n_inh)):
            k = int(c.p_conn * n_pre)
            if k > n_pre - (0 if c.autapses else 1):
                fail("p_conn", f"int(p_conn * {pop}) = {k} <= {n_pre} sources available without multapses")
    if c.conn_rng == "numpy-legacy" and c.conn_rule != "fixed_out_degree":
        fail("conn_rng", "'pcg64' unless conn_rule is 'fixed_out_degree' (the legacy generator only rebuilds BrainPy's rule)")
    if c.conn_rng == "numpy-legacy" and not (c.multapses and c.autapses):
        fail("conn_rng", "'pcg64' unless autapses and multapses are both True (BrainPy's rule draws with replacement)")
