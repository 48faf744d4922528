"""Every tolerance refsim's tests use, with its reason: what "agree" means, as code.

A comparison in refsim's tests either demands the same bits (tolerance 0) or allows a stated
amount, and each amount has a reason: a rounding bound, a solver's error, a standard error.
The amounts live here, once; the tests read them with :func:`tolerance` instead of writing
literals, the README's tolerance table is :func:`tolerance_table` (a test keeps the two
equal), and a test checks that every entry is used by some test.

Examples
--------
>>> from refsim.testing import TOLERANCES, tolerance
>>> tolerance("exact-spike-time")
1e-09
>>> tolerance("closed-form-V", "float32"), tolerance("closed-form-V", "float64")
(0.0003, 1e-10)
>>> TOLERANCES["numba-vs-numpy"].kind
'bits'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Tolerance", "TOLERANCES", "tolerance", "tolerance_table", "KINDS"]

#: What a value means: ``bits``: 0, the same bits; ``absolute``: |a - b| <= value (in
#: ``unit``); ``relative``: |a - b| <= value |b|; ``ulp``: units in the last place of the
#: reference; ``range``: the measured quantity lies in [lo, hi]; ``sigma``: standard
#: deviations of the estimator.
KINDS = ("bits", "absolute", "relative", "ulp", "range", "sigma")


@dataclass(frozen=True)
class Tolerance:
    """One tolerance: what is compared, how closely, and why that is the right amount.

    Attributes
    ----------
    key : str
        The name tests use (``tolerance(key)``).
    comparison : str
        What is compared with what (Markdown).
    value : float, (float, float) or mapping of str to float
        The amount; a (lo, hi) pair for ``kind='range'``; a mapping from float type
        (``'float32'``, ``'float64'``) to the amount where it depends on the run's float type.
    unit : str
        The unit of an ``absolute`` value ('' otherwise).
    kind : str
        One of :data:`KINDS`.
    reason : str
        Why the amount holds and what would break it (Markdown).
    """

    key: str
    comparison: str
    value: float | tuple[float, float] | Mapping[str, float]
    unit: str
    kind: str
    reason: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind = {self.kind!r}: allowed one of {', '.join(KINDS)}")
        if self.kind == "bits" and self.value != 0:
            raise ValueError(f"{self.key}: a 'bits' tolerance is 0")
        if "|" in self.comparison + self.reason:
            raise ValueError(f"{self.key}: no '|' in comparison or reason (a Markdown table cell)")

    def for_dtype(self, dtype=None):
        """The amount, for the run's float type ``dtype`` where it depends on it."""
        if isinstance(self.value, Mapping):
            if dtype is None:
                raise ValueError(f"tolerance {self.key!r} depends on the float type: allowed "
                                 f"dtype one of {', '.join(self.value)}")
            return self.value[str(getattr(dtype, "name", dtype))]
        return self.value

    def text(self) -> str:
        """The amount as the README's table writes it."""
        unit = f" {self.unit}" if self.unit else ""
        if self.kind == "bits":
            return "0 (identical bits)"
        if self.kind == "range":
            lo, hi = self.value
            return f"{lo:g} .. {hi:g}"
        suffix = {"absolute": unit, "relative": " relative", "ulp": " ulp",
                  "sigma": " standard deviations"}[self.kind]
        if isinstance(self.value, Mapping):
            return "; ".join(f"{k}: {v:g}{suffix}" for k, v in self.value.items())
        return f"{self.value:g}{suffix}"


def _t(key, comparison, value, unit, kind, reason):
    return key, Tolerance(key, comparison, value, unit, kind, reason)


#: The table, in the README's order: the engines, the elementary functions, the closed forms,
#: the accurate solver, arithmetic of the analysis, statistics.
# deliberate copy: one `_t(key, comparison, value, unit, kind, reason)` call per row (a data table)
TOLERANCES: dict[str, Tolerance] = dict([
    # -- engines and other simulators ----------------------------------------------------
    _t("numba-vs-numpy", "`numba` vs `numpy`", 0, "", "bits",
       "the same IEEE operations in the same order, the same elementary functions (compiled "
       "from the same source); no reassociation, no FMA contraction, no flush-to-zero. Tested "
       "on random active networks of every switch (Hypothesis, `refsim.testing.strategies`), "
       "the full second of every preset and the golden digests."),
    _t("cuda-vs-numpy", "`cuda` vs `numpy`", 0, "", "bits",
       "the same functions registered with numba-cuda; every product that feeds a sum is "
       "`__nv_dmul_rn`/`__nv_fmul_rn` (NVVM cannot contract it), IEEE division, no `.ftz`. "
       "Checked in Numba's CUDA simulator (CI: random active networks, the tiny golden digests "
       "and bit-for-bit runs) and in the PTX compiled offline (`validation/cuda_ptx_check.py`: "
       "no `fma.rn` but the ones asked for). Not yet run on a GPU."),
    _t("golden-digests", "any engine, any machine", 0, "", "bits",
       "the golden digests (above), in processes that see other CPUs "
       "(`tests/test_machine_independence.py`)."),
    _t("brainpy-tutorial", "`tutorial` vs BrainPy 2.9 on CPU", 0, "", "bits",
       "`arithmetic='xla'`, `expm1='xla'`: seeds 0-9 identical for the whole second "
       "([validation.md](docs/validation.md))."),
    _t("c-loop", "the C loop (`validation/c_loop/coba.c`) vs `numba` with `expm1='libm'`", 0,
       "", "bits",
       "the same step written in C, compiled with `-ffp-contract=off`, calling the same C "
       "library's expm1; an FMA contraction or another libm would break it."),
    # -- elementary functions ------------------------------------------------------------
    _t("elementary-bits", "refsim's `expm1`/`exprel` (NumPy and compiled forms) vs the "
       "committed table", 0, "", "bits",
       "integer and IEEE operations only, no NumPy transcendental and no libm "
       "(`tests/data/elementary_table.json`, `validation/elementary_accuracy.py`)."),
    _t("expm1-float64", "float64 `expm1` vs mpmath (200 bits)", 1.0, "", "ulp",
       "fdlibm's bound for its expm1, which refsim ports."),
    _t("expm1-float32", "float32 `expm1` on [-2, 0] vs mpmath", 0.0, "", "ulp",
       "correctly rounded there (the validation script checks every float32 in the range)."),
    _t("expm1-xla", "XLA's float32 `expm1` (emulated) vs mpmath", 2.0, "", "ulp",
       "XLA:CPU's polynomial, as BrainPy computes it."),
    _t("exprel-extra", "`exprel` = expm1(z)/z vs mpmath, beyond the bound of its expm1", 1.0,
       "", "ulp", "one more rounding (the division)."),
    # -- the time-stepped engines against closed forms -------------------------------------
    _t("closed-form-V", "V of neurons without synaptic input (w = 0, g = 0) vs the closed form "
       "V_inf + (v0 - V_inf) r^n between resets (r = exp(-dt/tau_m), or 1 - dt/tau_m for "
       "Euler)", {"float32": 3e-4, "float64": 1e-10}, "mV", "absolute",
       "rounding only: each step adds at most 2 ulps of abs(V) <= 80 mV and shrinks earlier "
       "errors by r, so they add up over the iteration's memory of tau_m/dt steps: at most "
       "2 ulp(80 mV) tau_m/dt = 1.1e-11 mV in float64 (dt >= 0.05 ms; 10x margin for "
       "tau_m/dt up to 4000); in float32 they add like a random walk, "
       "sqrt(tau_m/dt) 2 ulp(80 mV) = 3e-4 mV at dt = 0.05 ms (observed at most 4e-5 mV on 128 "
       "random examples). A wrong step (integrator factor, reset, clamp, step order) shows as "
       "a different raster or an error of mV."),
    _t("steady-state-V", "V of one neuron with frozen conductances after 400 ms vs V_inf",
       1e-6, "mV", "absolute",
       "tau_e = tau_i = 1e12 ms: g decays by 4e-10 (relative) over the run, moving V_inf by "
       "< 1e-7 mV; the approach to V_inf is complete (exp(-36))."),
    _t("conductance-decay", "g(t) of exponential Euler vs g0 exp(-t/tau)", 1e-12, "",
       "relative",
       "exponential Euler is exact for dg/dt = -g/tau; 2000 float64 roundings of the factor "
       "give 2000 eps = 4.4e-13."),
    _t("exp-euler-vs-exact", "exponential Euler with g = 0 vs the accurate solver, V(8 ms)",
       1e-12, "mV", "absolute",
       "exponential Euler is exact for constant coefficients; both sides round in float64 "
       "(dt = 0.4 ms: 20 steps)."),
    _t("order-single-neuron", "fitted order of convergence in dt, one neuron with decaying g",
       (0.95, 1.05), "", "range",
       "both schedules freeze g over the step: first order; docs/accuracy.md observes "
       "0.99-1.02."),
    _t("order-network", "fitted order of convergence in dt, 100-neuron networks (3 seeds)",
       (0.75, 1.3), "", "range",
       "order 1 (validation/dt_convergence.py: 0.95-1.2 on 400 neurons); fits over other "
       "groups of 3 seeds of networks this small scatter within about +-0.2 of 1."),
    _t("one-step-V", "V after the first step of neurons started above threshold vs their soft "
       "reset value", 0.2, "mV", "absolute",
       "one step of 0.1 ms moves V by dt abs(dV/dt) < 0.1 mV here (drive 20 mV, the first "
       "volley's conductances, tau_m = 20 ms)."),
    # -- the accurate event-driven solver --------------------------------------------------
    _t("exact-spike-time", "`simulate_exact` spike times vs closed forms; the solver at rtol "
       "1e-10 vs 1e-13", 1e-9, "ms", "absolute",
       "DOP853 at rtol = atol = 1e-12 and crossings located to 1e-13 ms; chaotic 50 ms runs "
       "amplify the solver's error, still below 1e-9 ms."),
    _t("exact-V", "`simulate_exact` V vs closed forms and the integrating-factor solution "
       "(quad)", 1e-8, "mV", "absolute",
       "DOP853's error at rtol = atol = 1e-12 over runs of <= 200 ms, and quad's (1e-13)."),
    _t("exact-frozen-g", "frozen conductances (tau = 1e15 ms) after 100 ms vs their initial "
       "value", 1e-12, "", "relative", "exp(-100/1e15) - 1 = -1e-13."),
    _t("crossing-time", "`refsim.exact.crossing.first_crossing` on synthetic rows vs their "
       "closed-form crossings", 1e-12, "ms", "absolute",
       "brentq to xtol = 1e-13 ms (`ROOT_XTOL`) plus 4 eps relative; a grazing maximum found "
       "by a bounded Brent search first."),
    # -- float64 arithmetic of the analysis and bookkeeping --------------------------------
    _t("rounding-relative", "one float64 quantity computed along two paths (sums in another "
       "order, an algebraically equal formula, another library)", 1e-12, "", "relative",
       "a few hundred float64 operations at most: n eps <= 1e-13."),
    _t("rounding-absolute", "sums of float64 rates, counts or times vs the count they "
       "integrate to", 1e-9, "", "absolute",
       "at most a few thousand terms of magnitude <= 1e3: n eps abs(x) < 1e-9."),
    _t("step-time", "a step's time (k + 1) dt vs its decimal value", 1e-12, "ms", "absolute",
       "one float64 product of a whole number and dt (error <= 0.5 ulp)."),
    _t("whole-steps", "duration vs n_steps dt of a valid Config", 1e-9, "", "relative",
       "refsim.params accepts a duration within 1e-9 of a whole number of steps "
       "(the Config's own rule, restated by the tests)."),
    # -- statistics ----------------------------------------------------------------------
    _t("poisson-variability", "mean CV, CV2 and LV of 200 Poisson trains (about 200 ISIs each) "
       "vs 1", 0.03, "", "absolute",
       "the SD of each mean is < 0.01 and the O(1/n) bias about 0.005."),
    _t("poisson-fano", "Fano factor of Poisson population counts (1000 bins) vs 1", 0.1, "",
       "absolute", "SE about 0.014: 7 standard errors."),
    _t("count-correlation", "count correlation of two trains sharing a Poisson source vs "
       "c / (c + p)", 0.02, "", "absolute",
       "SE (1 - rho^2) / sqrt(1e5 bins) = 0.0024: 8 standard errors."),
    _t("synchrony-chi", "chi sqrt(N) of N independent Poisson trains vs 1", 0.15, "",
       "absolute", "chi^2 = 1/N in expectation; its spread at N = 100 over 20 s is a few %."),
    _t("sigma-bound", "a count drawn at random (e.g. Bernoulli synapses) vs its expectation",
       5.0, "", "sigma", "a 5-sigma deviation has probability 6e-7."),
    _t("memory-bernoulli", "`estimate_memory` of a Bernoulli network vs its allocated bytes",
       0.05, "", "relative",
       "the estimate uses the expected number of synapses; at 12 500 synapses its SD is 1 %."),
    _t("memory-build", "`estimate_memory`'s `build` vs the peak of a build's temporaries (tracemalloc)",
       0.35, "", "relative",
       "bytes per draw and per entry measured per rule at N = 200 000; a chunk of draws is "
       "not filled exactly at small N, and the legacy draw's int64 temporaries are smaller."),
])


def tolerance(key: str, dtype=None):
    """The amount of tolerance ``key`` (for the float type ``dtype`` where it depends on it).

    Parameters
    ----------
    key : str
        A key of :data:`TOLERANCES`.
    dtype : str or numpy.dtype, optional
        The run's float type, for tolerances that depend on it.

    Returns
    -------
    float or (float, float)

    Raises
    ------
    KeyError
        For an unknown key (the message lists the known ones).
    """
    if key not in TOLERANCES:
        raise KeyError(f"tolerance {key!r}: allowed one of {', '.join(TOLERANCES)}")
    return TOLERANCES[key].for_dtype(dtype)


def tolerance_table() -> str:
    """:data:`TOLERANCES` as the README's Markdown table (comparison, tolerance, key, reason);
    a test keeps README.md equal to it."""
    rows = ["| comparison | tolerance | key | why it holds, and what would break it |",
            "|---|---|---|---|"]
    for t in TOLERANCES.values():
        rows.append(f"| {t.comparison} | {t.text()} | `{t.key}` | {t.reason} |")
    return "\n".join(rows)
