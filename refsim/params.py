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
import os
import reprlib
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .elementary import IMPLEMENTATIONS

__all__ = ["Config", "ConfigError", "ConfigWarning", "describe_fields", "plain_scalar"]

#: Largest number of neurons, steps or synapses: indices are stored as int32.
INDEX_LIMIT = 2**31 - 1


class ConfigError(ValueError):
    """A parameter is outside its allowed range. The message names the parameter.

    Every input refsim checks (configurations, arguments, files) fails with this error, in
    one form: ``<name> = <value>: allowed <what is allowed>``.

    Examples
    --------
    >>> import refsim
    >>> try:
    ...     refsim.get_preset("tutorial", dt=-0.1)
    ... except refsim.ConfigError as e:
    ...     print(e)
    dt = -0.1: allowed dt > 0 ms
    """


class ConfigWarning(UserWarning):
    """A parameter is allowed but probably not what was meant (e.g. E_e below the threshold).

    Examples
    --------
    >>> import warnings, refsim
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     config = refsim.get_preset("tutorial-normalized", E_e=-55.0)
    >>> caught[0].category.__name__, str(caught[0].message)[:40]
    ('ConfigWarning', 'E_e = -55.0: expected E_e > V_th = -50.0')
    """


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
    "expm1": IMPLEMENTATIONS,  # refsim.elementary's
    "arithmetic": ("ieee", "fused-update", "xla"),
}


@dataclass(frozen=True)
class Config:
    """Every parameter of one COBA network run.

    Build one from a preset with :func:`refsim.get_preset` and change fields with
    :meth:`replace`; every instance is validated on construction and raises
    :class:`ConfigError` naming the offending field and its allowed range. Every field is
    required (the presets hold the values); each field's unit and meaning are stored in its
    metadata (:func:`describe_fields`, ``refsim presets --describe``), summarized here.

    Parameters
    ----------
    n_exc, n_inh : int
        Numbers of excitatory (indices 0 .. n_exc-1) and inhibitory (n_exc .. N-1) neurons.
    V_rest, V_th, V_reset : float
        Resting (leak reversal) potential, spike threshold, reset potential (mV);
        V_th - V_reset is the soft reset's jump.
    tau_m, tau_ref : float
        Membrane time constant and absolute refractory period (ms).
    RI_ext : float
        Constant external drive R*I_ext (mV).
    R_g : float
        R*[g], dimensionless: converts conductance x mV into mV of drive (1e-3 for R = 1 ohm
        and [g] = mS; 1 for [g] = g_L).
    tau_e, tau_i : float
        Decay time constants of g_e and g_i (ms).
    E_e, E_i : float
        Excitatory and inhibitory reversal potentials (mV).
    w_e, w_i : float
        Jump of g_e (g_i) per presynaptic spike and synapse ([g]).
    conn_rule : {'fixed_out_degree', 'fixed_in_degree', 'bernoulli'}
        Connectivity rule (:func:`refsim.build_connectivity`).
    p_conn : float
        Connection probability; the fixed-degree rules use k = int(p_conn * n).
    autapses, multapses : bool
        Allow self-connections; allow several synapses per ordered pair.
    conn_rng : {'numpy-legacy', 'pcg64'}
        ``np.random.RandomState(seed)`` (BrainPy's generator) or PCG64.
    V0_mean, V0_std : float
        Normal distribution of the initial V (mV).
    g_e0_mean, g_e0_std, g_i0_mean, g_i0_std : float
        Normal distributions of the initial g_e and g_i ([g]).
    schedule : {'brainpy', 'brette'}
        Step order (:mod:`refsim.model`): spikes act one step later, or in the same step.
    integrator : {'exp_euler', 'euler'}
        Exponential Euler (exact for frozen g) or forward Euler.
    reset : {'soft', 'hard'}
        V <- V - (V_th - V_reset), or V <- V_reset.
    threshold_test : {'>=', '>'}
        V >= V_th or V > V_th spikes.
    dtype : {'float32', 'float64'}
        The float type of all state and arithmetic.
    arithmetic : {'ieee', 'xla', 'fused-update'}
        How each formula is rounded (:mod:`refsim.model`); 'xla' and 'fused-update' are
        float32 only.
    expm1 : {'portable', 'xla', 'libm'}
        The expm1 of exp_euler and of the derived constants (:mod:`refsim.elementary`);
        'xla' is float32 only.
    dt, duration : float
        Time step and simulated time (ms); duration must be a whole number of steps.

    Raises
    ------
    ConfigError
        A field of the wrong type or outside its allowed range (the message names it), or
        a combination that is not allowed (e.g. ``arithmetic='xla'`` in float64).

    Warns
    -----
    ConfigWarning
        Reversal potentials on the wrong side of the threshold; ``arithmetic='xla'`` with
        constants for which XLA compiles other forms than BrainPy's tutorial.

    Examples
    --------
    >>> import refsim
    >>> config = refsim.get_preset("tutorial-normalized").replace(dt=0.05)
    >>> config.n_steps, config.dt
    (20000, 0.05)
    >>> config.replace(p_conn=1.5)
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: p_conn = 1.5: allowed 0 <= p_conn <= 1
    """

    # deliberate copy: one `name: type = _p(unit, description)` line per field (a data table)
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
    multapses: bool = _p("-", "allow several synapses per ordered pair (fixed-degree rules draw with "
                              "replacement)")
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
    arithmetic: str = _p("-", "how the step's formulas are rounded (docs/model.md): ieee (each "
                              "operation as written) | xla (BrainPy's step as XLA:CPU compiles it: "
                              "products with float32 reciprocals, six FMAs; float32 only) | "
                              "fused-update (ieee with v + h*f rounded once, refsim 0.1's "
                              "fused_update; float32 only)")
    expm1: str = _p("-", "the expm1 of exp_euler and of the derived constants: portable "
                         "(refsim.elementary, the same bits on every machine) | xla (XLA:CPU's "
                         "float32 expm1, emulated exactly: what BrainPy computes; float32 only) "
                         "| libm (the C library's: machine-dependent, for comparisons with C "
                         "simulators)")
    dt: float = _p("ms", "time step")
    duration: float = _p("ms", "simulated time; must be a whole number of steps")

    # ------------------------------------------------------------------------------------
    def __post_init__(self):
        _normalize(self)
        _validate(self)
        _warn(self)

    @property
    def n_neurons(self) -> int:
        """Population size N = n_exc + n_inh.

        Returns
        -------
        int
            N.

        Examples
        --------
        >>> import refsim
        >>> refsim.get_preset("tutorial", n_exc=400, n_inh=100).n_neurons
        500
        """
        return self.n_exc + self.n_inh

    @property
    def n_steps(self) -> int:
        """Number of time steps, duration / dt (rounded to the nearest integer).

        Returns
        -------
        int
            round(duration / dt).

        Examples
        --------
        >>> import refsim
        >>> refsim.get_preset("tutorial", duration=0.3).n_steps     # 0.3 / 0.1 = 2.9999999999999996
        3
        """
        return int(round(self.duration / self.dt))

    def replace(self, **changes) -> Config:
        """A copy with some fields changed (validated).

        Parameters
        ----------
        **changes
            New field values, by field name (units as in :class:`Config`).

        Returns
        -------
        Config
            A new one; ``self`` is unchanged.

        Raises
        ------
        ConfigError
            An unknown field name, or a value outside its allowed range.

        Examples
        --------
        >>> import refsim
        >>> config = refsim.get_preset("brette2007-coba")
        >>> config.replace(duration=200.0).n_steps
        2000
        >>> config.replace(tau=5.0)
        Traceback (most recent call last):
        ...
        refsim.params.ConfigError: unknown parameter(s) ['tau']; see `refsim presets --describe`
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ConfigError(f"unknown parameter(s) {unknown}; see `refsim presets --describe`")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field as a plain, JSON-able value, in declaration order.

        Returns
        -------
        dict of str to (int, float, str or bool)
            What :meth:`from_dict` reads back (and what result files store).

        Examples
        --------
        >>> import refsim
        >>> d = refsim.get_preset("tutorial").to_dict()
        >>> len(d), d["tau_m"], d["dtype"]
        (35, 20.0, 'float32')
        """
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        """The Config of :meth:`to_dict`'s output (values converted by :func:`coerce`).

        A dict written by refsim 0.1 (a boolean ``fused_update``, no ``expm1``) is read in
        this version's terms: ``arithmetic`` 'fused-update' or 'ieee', ``expm1='libm'``.

        Parameters
        ----------
        d : dict of str to value
            Exactly the fields of Config (strings from a command line or JSON are converted).

        Returns
        -------
        Config
            For the output of ``config.to_dict()``, a Config equal to ``config``.

        Raises
        ------
        ConfigError
            Not a dict, missing or unknown fields, or a value that cannot be converted or is
            outside its allowed range.

        Examples
        --------
        >>> import refsim
        >>> config = refsim.get_preset("tutorial")
        >>> refsim.Config.from_dict(config.to_dict()) == config
        True
        """
        if not isinstance(d, dict):
            raise ConfigError(f"config dict = {type(d).__name__}: allowed a dict of field values")
        if "expm1" not in d and "fused_update" in d:
            d = _from_refsim_01(d)
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(names - set(d))
        unknown = sorted(set(d) - names)
        if missing or unknown:
            raise ConfigError(f"config dict: missing fields {missing}, unknown fields {unknown}")
        return cls(**{k: coerce(k, v) for k, v in d.items()})


def _from_refsim_01(d: dict[str, Any]) -> dict[str, Any]:
    """A config dict written by refsim 0.1 in this version's terms: 0.1 had a boolean
    ``fused_update`` and called the machine's own expm1, read as ``expm1='libm'`` (its Numba
    engine called the C library's; its NumPy engine called ``np.expm1``, which on some CPUs is
    NumPy's own SIMD code: neither is reproducible elsewhere, which is why 0.2 has its own)."""
    d = dict(d)
    fused = d.pop("fused_update")
    if not isinstance(fused, bool):  # 0.1 wrote a JSON boolean
        raise ConfigError(f"fused_update = {reprlib.repr(fused)}: allowed True or False "
                          "(a refsim 0.1 config)")
    d["arithmetic"] = "fused-update" if fused else "ieee"
    d["expm1"] = "libm"
    return d


def describe_fields() -> list[tuple[str, str, str]]:
    """(name, unit, description) for every Config field, in declaration order.

    Returns
    -------
    list of tuple of (str, str, str)
        Units are ``mV``, ``ms``, ``[g]`` (the preset's conductance unit), ``1``
        (dimensionless) or ``-`` (a choice or a flag).

    Examples
    --------
    >>> from refsim.params import describe_fields
    >>> describe_fields()[3]
    ('V_th', 'mV', 'spike threshold')
    """
    return [(f.name, f.metadata["unit"], f.metadata["doc"]) for f in dataclasses.fields(Config)]


_FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(Config)}


def coerce(name: str, value: Any) -> Any:
    """Convert ``value`` (possibly a string from the command line) to the type of field ``name``.

    Parameters
    ----------
    name : str
        A field of :class:`Config`.
    value : object
        A string (``'true'``/``'false'``/``'1'``/``'0'``/``'yes'``/``'no'`` for flags), a
        Python or NumPy scalar (read by :func:`plain_scalar`).

    Returns
    -------
    int, float, str or bool
        The field's type; range checks are left to :class:`Config`.

    Raises
    ------
    ConfigError
        An unknown field, or a value that cannot be converted (naming the field).

    Examples
    --------
    >>> from refsim.params import coerce
    >>> coerce("n_exc", "400"), coerce("dt", "0.05"), coerce("autapses", "no")
    (400, 0.05, False)
    """
    if name not in _FIELD_TYPES:
        raise ConfigError(f"unknown parameter {name!r}; see `refsim presets --describe`")
    typ = _FIELD_TYPES[name]
    value = plain_scalar(value)  # numpy scalars behave as the Python scalars they hold
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
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name} = {reprlib.repr(value)}: allowed a value of type {typ}") from None
    raise AssertionError(typ)  # unreachable: every field type is handled above


def plain_scalar(value: Any) -> Any:
    """A NumPy scalar as the Python scalar it holds; any other value unchanged.

    Every input refsim accepts goes through this at the boundary (Config fields, seeds,
    ``simulate_exact``'s numbers), so that what it stores and writes is plain, JSON-able
    Python. The NumPy type decides the Python one, never the value: a NumPy bool becomes a
    bool (refused where a number is meant, as True is), an integer an int, a float a float.

    A float32 or float16 scalar becomes the shortest decimal that names it, the number it
    prints as (``np.float32(0.1)`` -> 0.1, not 0.10000000149011612, which would make
    ``duration = 1000.0`` no whole number of steps): it rounds back to the same float32 bits,
    so a float32 run computes with exactly the value given.

    Parameters
    ----------
    value : object
        Anything; only ``numpy.bool_``, ``numpy.integer``, ``numpy.floating`` and
        ``numpy.str_`` scalars are converted.

    Returns
    -------
    object
        ``bool``, ``int``, ``float`` or ``str`` for those; ``value`` itself otherwise (other
        NumPy scalars, e.g. complex, datetime64 or bytes, are left for the caller to refuse).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.params import plain_scalar
    >>> plain_scalar(np.int64(3)), plain_scalar(np.float32(0.1)), plain_scalar(np.bool_(True))
    (3, 0.1, True)
    >>> type(plain_scalar(np.float64(2.5))), plain_scalar("V"), plain_scalar([1])
    (<class 'float'>, 'V', [1])
    """
    if not isinstance(value, np.generic) or isinstance(value, np.timedelta64):  # an np.integer
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.str_):
        return str(value)
    if isinstance(value, np.floating):
        if value.dtype.itemsize < 8 and np.isfinite(value):
            short = float(str(value))  # NumPy prints the shortest unique decimal
            if value.dtype.type(short) == value:
                return short
        return float(value)
    return value


def _normalize(config: Config) -> None:
    """Store numpy scalars as Python scalars (:func:`plain_scalar`) and ints given for float
    fields as floats, so that every Config holds plain, JSON-able values (``Config(tau_m=20)``
    equals ``tau_m=20.0``). Values of any other type are left for :func:`_validate` to reject."""
    for f in dataclasses.fields(config):
        v = plain_scalar(getattr(config, f.name))
        if f.type == "float" and isinstance(v, int) and not isinstance(v, bool):
            try:
                v = float(v)
            except OverflowError:
                raise ConfigError(f"{f.name} = {reprlib.repr(v)}: allowed a finite number") from None
        object.__setattr__(config, f.name, v)


_POSITIVE_TIMES = ("tau_m", "tau_e", "tau_i", "dt", "duration")


def _validate(config: Config) -> None:
    def fail(name, allowed):  # reprlib: a huge int or long string is shortened with '...'
        raise ConfigError(f"{name} = {reprlib.repr(getattr(config, name))}: allowed {allowed}")

    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        ok = {"bool": isinstance(v, bool), "str": isinstance(v, str),
              "int": isinstance(v, int) and not isinstance(v, bool),
              "float": isinstance(v, float)}[f.type]
        if not ok:
            fail(f.name, f"a value of type {f.type}")
        if f.type == "float" and not math.isfinite(v):
            fail(f.name, "a finite number")
        if f.name in CHOICES and v not in CHOICES[f.name]:
            fail(f.name, "one of " + ", ".join(repr(x) for x in CHOICES[f.name]))

    # sizes first: everything below may multiply them
    if config.n_exc < 0:
        fail("n_exc", "n_exc >= 0")
    if config.n_inh < 0:
        fail("n_inh", "n_inh >= 0")
    if config.n_exc + config.n_inh < 1:
        fail("n_exc", "n_exc + n_inh >= 1")
    if config.n_exc + config.n_inh > INDEX_LIMIT:
        fail("n_exc", f"n_exc + n_inh <= 2**31 - 1 = {INDEX_LIMIT} (neuron indices are int32)")
    for name in _POSITIVE_TIMES:
        if not getattr(config, name) > 0:
            fail(name, f"{name} > 0 ms")
    if config.tau_ref < 0:
        fail("tau_ref", "tau_ref >= 0 ms")
    if config.dtype == "float32":
        # every parameter enters the arithmetic as a float32 (model.Constants): it must stay
        # finite there, and the time constants, which divide, must stay positive
        tiny, huge = float(np.finfo(np.float32).smallest_subnormal), float(np.finfo(np.float32).max)
        for f in dataclasses.fields(config):
            v = getattr(config, f.name)
            if f.type == "float" and abs(v) > huge:
                fail(f.name, f"|{f.name}| <= {huge:.7g}, the largest float32 (dtype = 'float32')")
            if f.name in _POSITIVE_TIMES and v < tiny:
                fail(f.name, f"{f.name} >= {tiny:.3g} ms, the smallest positive float32 "
                             "(dtype = 'float32')")
    if not config.V_th > config.V_reset:
        fail("V_th", f"V_th > V_reset = {config.V_reset} mV")
    if config.R_g < 0:
        fail("R_g", "R_g >= 0")
    for name in ("w_e", "w_i"):
        if getattr(config, name) < 0:
            fail(name, f"{name} >= 0 [g]")
    for name in ("V0_std", "g_e0_std", "g_i0_std"):
        if getattr(config, name) < 0:
            fail(name, f"{name} >= 0")
    if not 0.0 <= config.p_conn <= 1.0:
        fail("p_conn", "0 <= p_conn <= 1")
    ratio = config.duration / config.dt
    if not math.isfinite(ratio) or ratio >= INDEX_LIMIT + 0.5:
        fail("duration", f"fewer than 2**31 steps of dt = {config.dt} ms (spike steps are int32; "
                         f"duration/dt = {ratio!r})")
    if abs(ratio - round(ratio)) > 1e-9 * max(1.0, ratio) or round(ratio) < 1:
        fail("duration", f"a whole positive multiple of dt = {config.dt} ms (duration/dt = {ratio!r})")
    if config.dtype == "float32" and round(ratio) >= 2**24:
        fail("duration", "fewer than 2**24 steps in float32 (step times must be exact integers times dt)")
    if config.dtype != "float32" and config.arithmetic != "ieee":
        also = (" (and expm1 = 'xla': allowed 'portable' or 'libm'); with dtype = "
                f"{config.dtype!r} set arithmetic='ieee', expm1='portable'") if config.expm1 == "xla" else ""
        fail("arithmetic", "'ieee' unless dtype = 'float32' (fused multiply-adds are emulated "
                           f"exactly through float64){also}")
    if config.dtype != "float32" and config.expm1 == "xla":
        fail("expm1", "'portable' or 'libm' unless dtype = 'float32' (XLA's float32 expm1 is "
                      "emulated; its float64 one is not)")
    if config.conn_rule == "bernoulli" and config.multapses:
        fail("multapses", "False for the bernoulli rule (one Bernoulli trial per ordered pair)")
    # fixed-degree rules: enough candidates for k draws (without multapses), and at least one
    # candidate other than the neuron itself (without autapses; redrawing would never end)
    if config.conn_rule == "fixed_out_degree":
        k, n = int(config.p_conn * config.n_neurons), config.n_neurons - (0 if config.autapses else 1)
        if k > n and not config.multapses:
            fail("p_conn", f"int(p_conn * N) = {k} <= {n} targets available without multapses")
        if k > 0 and n < 1:
            fail("autapses", f"True when N = {config.n_neurons}: a neuron's only possible target is itself")
    if config.conn_rule == "fixed_in_degree":
        for pop, n_pre in (("n_exc", config.n_exc), ("n_inh", config.n_inh)):
            k, avail = int(config.p_conn * n_pre), n_pre - (0 if config.autapses else 1)
            if k > avail and not config.multapses:
                fail("p_conn", f"int(p_conn * {pop}) = {k} <= {avail} sources available without multapses")
            if k > 0 and avail < 1:
                fail("autapses", f"True when {pop} = {n_pre}: a neuron's only possible source "
                                 "is itself")
    if config.conn_rng == "numpy-legacy" and config.conn_rule != "fixed_out_degree":
        fail("conn_rng", "'pcg64' unless conn_rule is 'fixed_out_degree' (the legacy generator only "
                         "rebuilds BrainPy's rule)")
    if config.conn_rng == "numpy-legacy" and not (config.multapses and config.autapses):
        fail("conn_rng", "'pcg64' unless autapses and multapses are both True (BrainPy's rule draws "
                         "with replacement)")


def _caller_level() -> int:
    """The stacklevel of a warning raised here that points at the first frame outside refsim
    and the dataclasses machinery (the user's call of get_preset, replace or Config)."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path.startswith(here + os.sep) or path == dataclasses.__file__):
            return level
        frame, level = frame.f_back, level + 1
    return level


def _warn(config: Config) -> None:
    """Allowed but probably unintended: reversal potentials on the wrong side of the threshold;
    XLA's arithmetic where XLA would compile other forms than the tutorial's."""
    if config.arithmetic == "xla" and (config.R_g == 1.0 or config.RI_ext == 0.0):
        which = "R_g = 1 (XLA then fuses g (E - v) itself)" if config.R_g == 1.0 else \
            "RI_ext = 0 (XLA then starts the current's sum at the I current)"
        warnings.warn(f"arithmetic = 'xla' with {which}: refsim emulates the forms XLA compiles "
                      "for BrainPy's tutorial (R_g != 1, RI_ext != 0); with these constants XLA "
                      "compiles other forms (docs/model.md, 'Arithmetic')", ConfigWarning,
                      stacklevel=_caller_level())
    if config.E_e <= config.V_th:
        warnings.warn(f"E_e = {config.E_e!r}: expected E_e > V_th = {config.V_th} mV (excitation pulls V "
                      "toward E_e, so it can never drive a spike)", ConfigWarning, stacklevel=_caller_level())
    if config.E_i >= config.V_th:
        warnings.warn(f"E_i = {config.E_i!r}: expected E_i < V_th = {config.V_th} mV (inhibition pulls "
                      "V toward E_i, above the threshold: it excites)", ConfigWarning,
                      stacklevel=_caller_level())
