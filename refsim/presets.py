"""The three named configurations of the specification (docs/model.md, "Parameters").

===================== ========================== ============================ ===========================
                      ``tutorial``               ``tutorial-normalized``      ``brette2007-coba``
===================== ========================== ============================ ===========================
drive RI_ext          20 mV                      20 mV                        0
R_g                   1e-3 (1 ohm x mS)          1 ([g] = g_L)                1 ([g] = g_L = 10 nS)
weights w_e / w_i     0.6 / 6.7 mS               0.6 / 6.7 g_L                0.6 / 6.7 g_L (6 / 67 nS)
connectivity          out-degree 80, replace     same                         Bernoulli p = 0.02
V0                    Normal(-55, 2) mV          Normal(-55, 2) mV            Normal(-65, 5) mV
g0 (x g_L)            0                          0                            N(4, 1.5) / N(20, 12)
reset                 soft                       soft                         hard
integrator            exponential Euler          exponential Euler            forward Euler
threshold test        V >= V_th                  V >= V_th                    V > V_th
schedule              brainpy                    brainpy                      brette
float type            float32                    float64                      float64
arithmetic            xla (BrainPy's, as XLA)    ieee                         ieee
expm1                 XLA's float32 (emulated)   portable (refsim's)          portable (not used)
===================== ========================== ============================ ===========================

Provenance
----------
``tutorial``
    What BrainPy 2.9's "Tutorial 3 - An E/I balanced network" computes when run as written
    (brainpy 2.9.0, brainstate 0.6.0, brainunit 0.6.0). ``R`` keeps its default of 1 ohm while
    the weights are in mS, so the synapses are 1000x weaker than in the classic model: every
    neuron is driven to V_inf = -40 mV, above threshold, and fires tonically near 50 Hz.
    float32, BrainPy's RNG rule and step order, and its arithmetic as XLA:CPU compiles it
    (``arithmetic='xla'``, ``expm1='xla'``), so that the raster matches BrainPy's bit for bit.
``tutorial-normalized``
    What the tutorial's text describes: the Vogels & Abbott (2005) network with conductances
    in units of the leak conductance, otherwise identical to ``tutorial`` (float64).
``brette2007-coba``
    Benchmark 1 of Brette et al. (2007), J. Comput. Neurosci. 23:349, as in the authors' code
    (ModelDB 83319): C_m = 200 pF, g_L = 10 nS (tau_m = 20 ms), E_L = -60 mV, threshold
    -50 mV, hard reset to -60 mV, 5 ms refractory, 6 nS / 67 nS weights, Bernoulli(0.02)
    connectivity, no external drive: activity is sustained by the initial conductances.
"""

from __future__ import annotations

import difflib

import numpy as np

from .params import Config, ConfigError, describe_fields

__all__ = ["PRESETS", "get_preset", "preset_names", "parameter_table", "scaled_preset", "OUT_DEGREE"]

_TUTORIAL = dict(
    n_exc=3200, n_inh=800,
    V_rest=-60.0, V_th=-50.0, V_reset=-60.0, tau_m=20.0, tau_ref=5.0,
    RI_ext=20.0, R_g=1e-3,
    tau_e=5.0, tau_i=10.0, E_e=0.0, E_i=-80.0, w_e=0.6, w_i=6.7,
    conn_rule="fixed_out_degree", p_conn=0.02, autapses=True, multapses=True,
    conn_rng="numpy-legacy",
    V0_mean=-55.0, V0_std=2.0,
    g_e0_mean=0.0, g_e0_std=0.0, g_i0_mean=0.0, g_i0_std=0.0,
    schedule="brainpy", integrator="exp_euler", reset="soft", threshold_test=">=",
    dtype="float32", arithmetic="xla", expm1="xla", dt=0.1, duration=1000.0,
)

PRESETS: dict[str, tuple[str, dict]] = {
    "tutorial": (
        "BrainPy 2.9 Tutorial 3 as its code runs: R = 1 ohm with mS weights (synapses 1000x weak), "
        "tonic ~50 Hz, float32",
        _TUTORIAL,
    ),
    "tutorial-normalized": (
        "the tutorial as its text describes it: weights in units of g_L, asynchronous-irregular, float64",
        {**_TUTORIAL, "R_g": 1.0, "dtype": "float64", "arithmetic": "ieee", "expm1": "portable"},
    ),
    "brette2007-coba": (
        "Brette et al. 2007 benchmark 1 (Vogels & Abbott COBA): Bernoulli p=0.02, no drive, forward "
        "Euler, hard reset",
        {**_TUTORIAL, "RI_ext": 0.0, "R_g": 1.0,
         "conn_rule": "bernoulli", "multapses": False, "conn_rng": "pcg64",
         "V0_mean": -65.0, "V0_std": 5.0,
         "g_e0_mean": 4.0, "g_e0_std": 1.5, "g_i0_mean": 20.0, "g_i0_std": 12.0,
         "schedule": "brette", "integrator": "euler", "reset": "hard", "threshold_test": ">",
         "dtype": "float64", "arithmetic": "ieee", "expm1": "portable"},
    ),
}


def preset_names() -> list[str]:
    """Names of the built-in presets.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import refsim
    >>> refsim.preset_names()
    ['tutorial', 'tutorial-normalized', 'brette2007-coba']
    """
    return list(PRESETS)


def get_preset(name: str, **overrides) -> Config:
    """The :class:`~refsim.Config` of preset ``name``, with optional field overrides.

    Parameters
    ----------
    name : str
        One of :func:`preset_names`: ``'tutorial'``, ``'tutorial-normalized'``,
        ``'brette2007-coba'``.
    **overrides
        Field values replacing the preset's (e.g. ``n_exc=400, n_inh=100``), in the units of
        :class:`~refsim.Config` (ms, mV, [g]).

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        Unknown preset (the message suggests the closest name), unknown field, or a value
        outside its allowed range.

    Examples
    --------
    >>> from refsim import get_preset
    >>> config = get_preset("tutorial", duration=100.0)
    >>> config.n_neurons, config.n_steps, config.R_g
    (4000, 1000, 0.001)
    """
    if not isinstance(name, str):
        raise ConfigError(f"preset = {name!r}: allowed one of {', '.join(PRESETS)}")
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"preset = {name!r}: allowed one of {', '.join(PRESETS)}{hint}")
    values = dict(PRESETS[name][1])
    config = Config(**values)
    return config.replace(**overrides) if overrides else config


#: Synapses per neuron of the scaled presets: the presets' own at N = 4000 (p = 0.02).
OUT_DEGREE = 80


def scaled_preset(name: str, n_neurons: int, **overrides) -> Config:
    """Preset ``name`` at N neurons with the out-degree fixed: the scaling presets.

    N = 4 000 neurons with p = 0.02 make 80 synapses per neuron. At other N refsim keeps the
    80 (p_conn = 80 / N; ``fixed_out_degree`` draws exactly int(p N) = 80, ``bernoulli``
    80 (N - 1) / N on average), the 4:1 E/I ratio and the weights, so that each neuron's
    input, the rates and the cost per spike stay those of the 4 000-neuron network while the
    number of neurons grows (the benchmark's sizes, docs/performance.md). Keeping p instead
    would multiply each neuron's input by N / 4000 and change the network's regime.

    Parameters
    ----------
    name : str
        One of :func:`preset_names`.
    n_neurons : int
        N >= 5: n_exc = round(4 N / 5), n_inh = N - n_exc.
    **overrides
        Further field values, as :func:`get_preset` takes them (applied after the scaling).

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        N not an int >= 5, or as :func:`get_preset`.

    Examples
    --------
    >>> from refsim.presets import scaled_preset
    >>> config = scaled_preset("tutorial", 400_000)
    >>> config.n_exc, config.n_inh, config.p_conn, int(config.p_conn * config.n_neurons)
    (320000, 80000, 0.0002, 80)
    """
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, (int, np.integer)) or n_neurons < 5:
        raise ConfigError(f"n_neurons = {n_neurons!r}: allowed an int >= 5 (4:1 excitatory to "
                          "inhibitory)")
    n = int(n_neurons)
    n_exc = round(4 * n / 5)
    p = OUT_DEGREE / n
    while int(p * n) < OUT_DEGREE <= n:  # the float quotient may round below 80 / N
        p = float(np.nextafter(p, 1.0))
    return get_preset(name, **{"n_exc": n_exc, "n_inh": n - n_exc, "p_conn": min(p, 1.0), **overrides})


def parameter_table() -> str:
    """Every parameter of every preset as a Markdown table (field, unit, one column per preset,
    meaning), generated from the :class:`~refsim.Config` metadata; ``docs/model.md`` embeds it
    and a test keeps the two equal.

    Returns
    -------
    str
        The table, one line per field after the header and separator lines.

    Examples
    --------
    >>> from refsim.presets import parameter_table
    >>> print(parameter_table().splitlines()[2])
    | `n_exc` | 1 | 3200 | 3200 | 3200 | number of excitatory neurons (indices 0 .. n_exc-1) |
    """
    configs = [get_preset(name) for name in PRESETS]
    head = "| parameter | unit | " + " | ".join(f"`{n}`" for n in PRESETS) + " | meaning |"
    rows = [head, "|" + "---|" * (len(PRESETS) + 3)]
    for name, unit, doc in describe_fields():
        values = [getattr(config, name) for config in configs]
        cells = " | ".join(f"`{v}`" if isinstance(v, (str, bool)) else f"{v:g}" for v in values)
        rows.append(f"| `{name}` | {unit} | {cells} | {doc.replace('|', '/')} |")
    return "\n".join(rows)
