"""A verdict, not a pile of numbers: are these spikes what a correct implementation of the
network produces?

:func:`validate` judges a raster (refsim's, or any simulator's) against a *reference
ensemble*: refsim runs of the same configuration over seeds 0 .. n-1 (each a new network and
initial state), cached on disk (:func:`reference`). The decision rule, written once here:

1. **Statistics.** For each population, E and I separately, over the window
   [t_start, duration):

   * the *means* of :data:`MEANS`: rate, ISI CV, CV2, LV, LvR, Fano factor, synchrony chi,
     pairwise count correlation, and the shortest ISI (set by the refractory period on the
     step grid);
   * the *distributions* of :data:`DISTRIBUTIONS` (per neuron, the pooled ISIs, the
     pairs' correlations), each as its Kolmogorov-Smirnov distance to the reference seeds'
     pooled sample;
   * the *whole population-rate spectrum*: the root mean square over frequencies f > 0 of
     (log10 PSD(f) - m(f)) / s(f), m and s the reference seeds' mean and SD (ddof = 1).

   With ``same_network`` (the candidate ran refsim's exported network and initial state of
   one seed) also :data:`SAME_NETWORK`: the per-neuron rate correlation with refsim's run of
   that seed, and the mean van Rossum and Victor-Purpura distances to it, judged against the
   *chaos baseline* (:func:`chaos_baseline`): refsim runs of the same seed in which one
   neuron fires one extra spike at t = 0 (runs with one neuron's V0 moved by one ulp are
   measured too: they reproduce refsim's raster exactly, so they are no envelope). The
   statistics above are tested a second time against those runs, an ensemble of the one
   network (names ``same.E.mean.rate`` ...).

2. **One p-value per test.** Each statistic y (log y for Fano, chi and every distance) has,
   over the n reference seeds, mean m and SD s (ddof = 1); a distance's reference values
   are each seed's distance to the *other* seeds (leave one out). If the candidate came from
   the same distribution, t = (y - m) / (s sqrt(1 + 1/n)) follows Student's t with n - 1
   degrees of freedom (a prediction interval, exact for normal y). Means are tested two-sided
   (too low and too high both fail); distances one-sided (only too far fails; the rate
   correlation only too low).

3. **Multiple testing.** Holm's step-down correction over every testable statistic (a
   statistic is not testable when fewer than 3 reference seeds define it). The spikes are
   *consistent* when no Holm-adjusted p-value is at or below ``alpha`` (default 0.05): the
   chance that a correct simulator fails is then at most ``alpha`` (Holm controls the
   family-wise error), and is measured in ``docs/validation.md`` ("Calibration").

A candidate value that is undefined (NaN, e.g. a silent population) where every reference
seed defines it fails that test (p = 0). The shortest ISI lives on the step grid (dt = 0.1 ms):
its reference values take a few discrete values, for which the t test is wrong (20 seeds at
5.1 ms and one at 5.2 ms give a 5.2 ms candidate t = 4.2). It takes the exact rank p-value of
one more exchangeable draw instead (:func:`rank_p`), as does any statistic whose reference
values are all equal. That p-value is at least 2 / (n + 1), so with n = 20 seeds and Holm over
dozens of tests the shortest ISI is reported but never decides a verdict on its own
(docs/validation.md, "Calibration", measures what that costs).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from . import analysis
from ._version import __version__
from .analysis import SpikeTrains, as_spike_trains
from .compare import first_difference_ms
from .engines import ENGINES
from .ensemble import check_ensemble, run_tasks
from .io import read_npz, write_npz, write_text
from .network import check_seed, network_inputs
from .outputs import new_run_id, prepare_output_dir, publish
from .params import Config, ConfigError, ConfigWarning
from .plot import benchmark_comparison_figure, verdict_figure
from .presets import get_preset
from .simulate import simulate

__all__ = ["validate", "reference", "chaos_baseline", "perturbed_inputs", "decorrelation_ms",
           "envelope", "features", "holm", "rank_p", "Verdict", "Reference",
           "MEANS", "DISTRIBUTIONS", "SAME_NETWORK", "ALPHA", "DEFAULT_SEEDS", "DEFAULT_T_START",
           "cache_dir"]

#: Family-wise false-alarm rate of the verdict.
ALPHA = 0.05
#: Reference seeds 0 .. DEFAULT_SEEDS-1.
DEFAULT_SEEDS = 20
#: Start of the window (ms): the first 200 ms are the transient from the initial state.
DEFAULT_T_START = 200.0
#: Runs of the chaos baseline.
DEFAULT_BASELINE_RUNS = 20
#: Bump when a statistic's definition changes: every cached reference is then rebuilt.
FEATURES_VERSION = 2
#: The shortest ISI is compared rounded to this many decimals of a ms (1 us): refractoriness
#: sets it on the step grid (dt = 0.1 ms), and another simulator's spike times carry rounding
#: (float32 seconds: 6e-5 ms at 1 s) that must not count as a difference.
ISI_MIN_DECIMALS = 3
#: The pooled reference sample of a distribution keeps at most this many order statistics
#: (evenly spaced), which moves a KS distance by at most 1 / POOL_SIZE.
POOL_SIZE = 20000
#: Floor of the spectrum (Hz^2/Hz) before its log10 (a silent population has PSD 0).
PSD_FLOOR = 1e-30
#: Pair sample of the count correlations: the same pairs for the candidate and the reference.
PAIR_SEED = 0

POPULATIONS = ("E", "I")
#: The means tested: name -> (description with unit, transform).
MEANS = {
    "rate": ("mean rate (Hz)", None),
    "cv": ("mean ISI CV", None),
    "cv2": ("mean CV2", None),
    "lv": ("mean LV", None),
    "lvr": ("mean LvR (R = 5 ms)", None),
    "fano": ("Fano factor of the population count (10 ms bins)", "log"),
    "chi": ("synchrony chi (1 ms bins, 5 ms Gaussian)", "log"),
    "corr": ("mean pairwise count correlation (2 ms bins, 1000 pairs)", None),
    "isi_min": ("shortest ISI (ms, to 1 us)", "rank"),
}
#: The distributions tested (KS distance to the reference's pooled sample): name -> description.
DISTRIBUTIONS = {
    "rate": "per-neuron rates (Hz)",
    "cv": "per-neuron ISI CVs",
    "cv2": "per-neuron CV2s",
    "lv": "per-neuron LVs",
    "lvr": "per-neuron LvRs",
    "isi": "ISIs (ms)",
    "corr": "pairwise count correlations (2 ms bins)",
}
#: The same-network tests (against the chaos baseline): name -> (description, transform, side).
SAME_NETWORK = {
    "rate_corr": ("per-neuron rate correlation with refsim's run", "fisher", "low"),
    "van_rossum": ("mean van Rossum distance to refsim's run (tau 5 ms)", "log", "high"),
    "victor_purpura": ("mean Victor-Purpura distance to refsim's run (q 0.2 / ms)", "log", "high"),
}


def cache_dir() -> str:
    """Where reference ensembles are cached: ``$REFSIM_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/refsim``, else ``~/.cache/refsim``.

    Examples
    --------
    >>> import os
    >>> from refsim.validate import cache_dir
    >>> os.environ["REFSIM_CACHE_DIR"] = "/tmp/refsim-cache"
    >>> cache_dir()
    '/tmp/refsim-cache'
    >>> del os.environ["REFSIM_CACHE_DIR"]
    """
    if os.environ.get("REFSIM_CACHE_DIR"):
        return os.environ["REFSIM_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "refsim")


# -- the statistics of one raster -----------------------------------------------------------

def _nanmean(a) -> float:
    a = np.asarray(a, float)
    return float(np.nanmean(a)) if np.isfinite(a).any() else math.nan


def features(data, t_start: float = DEFAULT_T_START) -> dict[str, np.ndarray]:
    """The statistics :func:`validate` tests, of one raster over [t_start, its end).

    Parameters
    ----------
    data : SimulationResult or SpikeTrains
    t_start : float
        Start of the window (ms).

    Returns
    -------
    dict of str to ndarray
        For each population P in ('E', 'I'): ``P.mean.<name>`` (a 0-d array) for each name of
        :data:`MEANS`, ``P.sample.<name>`` (1-d) for each name of :data:`DISTRIBUTIONS`
        (undefined values dropped) and ``P.log_psd``, log10 of the population-rate spectrum
        at frequencies f > 0 (:func:`refsim.analysis.rate_spectrum`, 1 ms bins, floored at
        :data:`PSD_FLOOR`); ``frequencies_hz`` (f > 0).

    Examples
    --------
    >>> import refsim
    >>> from refsim.validate import features
    >>> run = refsim.simulate(refsim.get_preset("tutorial-normalized", n_exc=80, n_inh=20,
    ...                                         duration=300.0), seed=0, progress=False)
    >>> f = features(run, t_start=100.0)
    >>> float(f["E.mean.rate"]) == float(f["E.sample.rate"].mean()), f["I.sample.rate"].size
    (True, 20)
    """
    s = as_spike_trains(data)
    per_neuron = {"rate": analysis.firing_rates(s, t_start), "cv": analysis.isi_cv(s, t_start),
                  "cv2": analysis.cv2(s, t_start), "lv": analysis.lv(s, t_start),
                  "lvr": analysis.lvr(s, t_start)}
    out = {}
    for pop, members in zip(POPULATIONS, (slice(0, s.n_exc), slice(s.n_exc, s.n_neurons)), strict=True):
        corr = analysis.count_correlations(s, 2.0, 1000, PAIR_SEED, t_start, population=pop)
        samples = {name: v[members][np.isfinite(v[members])] for name, v in per_neuron.items()}
        samples["isi"] = analysis.isis(s, t_start, population=pop)
        samples["corr"] = corr
        means = {name: _nanmean(per_neuron[name][members]) for name in per_neuron}
        means["fano"] = analysis.fano_factor(s, 10.0, t_start, population=pop)
        means["chi"] = analysis.synchrony_chi(s, 1.0, 5.0, t_start, population=pop)
        means["corr"] = _nanmean(corr)
        means["isi_min"] = (round(float(samples["isi"].min()), ISI_MIN_DECIMALS) if samples["isi"].size
                            else math.nan)
        f, psd = analysis.rate_spectrum(s, 1.0, t_start, population=pop)
        out.update({f"{pop}.mean.{k}": np.asarray(means[k], float) for k in MEANS})
        out.update({f"{pop}.sample.{k}": np.asarray(samples[k], float) for k in DISTRIBUTIONS})
        out[f"{pop}.log_psd"] = np.log10(np.maximum(psd[1:], PSD_FLOOR))
        out["frequencies_hz"] = f[1:]
    return out


def _pool(samples) -> np.ndarray:
    """The sorted pooled sample, cut to :data:`POOL_SIZE` evenly spaced order statistics."""
    pooled = np.sort(np.concatenate([np.asarray(x, float) for x in samples]))
    if pooled.size > POOL_SIZE:
        pooled = pooled[np.linspace(0, pooled.size - 1, POOL_SIZE).round().astype(np.int64)]
    return pooled


def _ks(x, pool) -> float:
    """Kolmogorov-Smirnov distance of sample ``x`` to the pooled sample (NaN if either is
    empty)."""
    from scipy.stats import ks_2samp
    return float(ks_2samp(x, pool).statistic) if len(x) and len(pool) else math.nan


def _spectrum_distance(log_psd, mean, sd) -> float:
    """RMS over frequencies of (log_psd - mean) / sd (frequencies where sd = 0 only count
    when log_psd differs from the mean there: then the distance is inf)."""
    d = np.asarray(log_psd) - mean
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, d / sd, np.where(d == 0, 0.0, np.inf))
    return float(np.sqrt(np.mean(z * z)))


# -- the reference ensemble -----------------------------------------------------------------

@dataclass
class Reference:
    """The reference ensemble of one configuration: what :func:`validate` judges by.

    Attributes
    ----------
    config : Config
    seeds : list of int
    t_start : float
        ms.
    engine : str
    key : str
        The cache key (SHA-256 of the configuration, seeds, window, engine, refsim version and
        :data:`FEATURES_VERSION`).
    values : dict of str to ndarray
        Per test name (``E.mean.rate``, ``E.dist.isi``, ``E.spectrum``), the statistic of each
        seed (a distance: to the other seeds).
    pools : dict of str to ndarray
        Per ``P.sample.<name>``, the pooled sorted sample of every seed.
    psd_mean, psd_sd : dict of str to ndarray
        Per population, the mean and SD (ddof = 1) of log10 PSD over the seeds.
    frequencies_hz : ndarray
    build_s : float
        Seconds it took to build (0 when loaded from the cache).
    path : str
        The cache file ('' when not cached).
    """

    config: Config
    seeds: list
    t_start: float
    engine: str
    key: str
    values: dict = field(default_factory=dict)
    pools: dict = field(default_factory=dict)
    psd_mean: dict = field(default_factory=dict)
    psd_sd: dict = field(default_factory=dict)
    frequencies_hz: np.ndarray = field(default_factory=lambda: np.zeros(0))
    build_s: float = 0.0
    path: str = ""


def _key(config: Config, seeds, t_start, engine) -> str:
    what = {"config": asdict(config), "seeds": list(seeds), "t_start_ms": float(t_start),
            "engine": engine, "refsim": __version__, "features": FEATURES_VERSION}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def _reference_row(task) -> dict:
    """One reference seed (in a worker): its :func:`features`."""
    preset, overrides, seed, t_start, engine = task
    r = simulate(get_preset(preset, **overrides), seed, engine=engine, progress=False)
    if r.stop_reason == "interrupted":
        raise KeyboardInterrupt(r.message)
    if not r.complete:
        raise RuntimeError(f"the run stopped early ({r.stop_reason}): {r.message}")
    return {"seed": seed, "features": features(r, t_start)}


def _summarize(config, seeds, t_start, engine, key, rows) -> Reference:
    """The :class:`Reference` of the seeds' features ``rows`` (a list of :func:`features`)."""
    ref = Reference(config, list(seeds), float(t_start), engine, key,
                    frequencies_hz=rows[0]["frequencies_hz"])
    n = len(rows)
    for pop in POPULATIONS:
        for name in MEANS:
            ref.values[f"{pop}.mean.{name}"] = np.array([float(r[f"{pop}.mean.{name}"]) for r in rows])
        for name in DISTRIBUTIONS:
            samples = [r[f"{pop}.sample.{name}"] for r in rows]
            ref.pools[f"{pop}.sample.{name}"] = _pool(samples)
            ref.values[f"{pop}.dist.{name}"] = np.array(
                [_ks(samples[j], _pool(samples[:j] + samples[j + 1:])) for j in range(n)])
        psd = np.array([r[f"{pop}.log_psd"] for r in rows])
        ref.psd_mean[pop], ref.psd_sd[pop] = psd.mean(axis=0), psd.std(axis=0, ddof=1)
        others = [np.delete(psd, j, axis=0) for j in range(n)]
        ref.values[f"{pop}.spectrum"] = np.array(
            [_spectrum_distance(psd[j], o.mean(axis=0), o.std(axis=0, ddof=1)) for j, o in enumerate(others)])
    return ref


def _save_reference(ref: Reference, path: str) -> None:
    arrays = {f"value/{k}": v for k, v in ref.values.items()}
    arrays.update({f"pool/{k}": v for k, v in ref.pools.items()})
    arrays.update({f"psd_mean/{k}": v for k, v in ref.psd_mean.items()})
    arrays.update({f"psd_sd/{k}": v for k, v in ref.psd_sd.items()})
    arrays["frequencies_hz"] = ref.frequencies_hz
    arrays["meta"] = np.array(json.dumps({"key": ref.key, "seeds": ref.seeds, "t_start_ms": ref.t_start,
                                          "engine": ref.engine, "refsim": __version__,
                                          "config": asdict(ref.config)}))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_npz(path, arrays)


def _load_reference(path: str, config, seeds, t_start, engine, key) -> Reference | None:
    """The cached reference at ``path``, or None when there is none or it is unusable (a
    damaged or foreign file is rebuilt, with a warning)."""
    if not os.path.exists(path):
        return None
    try:
        arrays = read_npz(path, "reference cache")
        meta = json.loads(str(arrays.pop("meta")))
        if meta.get("key") != key:
            raise ValueError("its key is another configuration's")
    except (ConfigError, ValueError, KeyError) as e:
        warnings.warn(f"reference cache {path}: unusable ({e}); rebuilding it", ConfigWarning, stacklevel=3)
        return None
    ref = Reference(config, list(seeds), float(t_start), engine, key, path=path,
                    frequencies_hz=arrays.pop("frequencies_hz"))
    for name, a in arrays.items():
        kind, _, k = name.partition("/")
        {"value": ref.values, "pool": ref.pools, "psd_mean": ref.psd_mean, "psd_sd": ref.psd_sd}[kind][k] = a
    return ref


def reference(preset: str, overrides: dict | None = None, seeds: int = DEFAULT_SEEDS,
              t_start: float = DEFAULT_T_START, engine: str = "numba", jobs: int | None = 1,
              cache: str | None = None, progress: bool = True) -> Reference:
    """The reference ensemble of ``preset`` (with ``overrides``): seeds 0 .. seeds-1, from
    the cache when it holds it, else run (and cached).

    Parameters
    ----------
    preset : str
    overrides : dict, optional
        Field values replacing the preset's (units of :class:`~refsim.Config`).
    seeds : int
        Reference seeds 0 .. seeds-1, at least 3.
    t_start : float
        Start of the window (ms), 0 <= t_start < duration.
    engine : {'numba', 'numpy', 'cuda'}
        The engine the reference runs use (all give the same bits; it is part of the key).
    jobs : int or None
        Local worker processes for the runs (:func:`refsim.ensemble.run_tasks`).
    cache : str, optional
        The cache directory (default :func:`cache_dir`); ``''``: no cache.
    progress : bool
        Say on stderr that the reference is being built.

    Returns
    -------
    Reference

    Raises
    ------
    ConfigError
        A bad preset, override, seed count, window, engine or job count.
    RuntimeError
        A reference run failed (it stopped early or raised): the reference would be biased.
    """
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 3:
        raise ConfigError(f"seeds = {seeds!r}: allowed an int >= 3 (reference seeds 0 .. seeds-1)")
    if engine not in ENGINES:
        raise ConfigError(f"engine = {engine!r}: allowed one of {', '.join(ENGINES)}")
    tasks = check_ensemble(preset, range(seeds), jobs, overrides, t_start, engine)
    config = get_preset(preset, **(overrides or {}))
    key = _key(config, range(seeds), t_start, engine)
    cache = cache_dir() if cache is None else cache
    path = os.path.join(cache, f"reference-{key[:32]}.npz") if cache else ""
    ref = _load_reference(path, config, range(seeds), t_start, engine, key) if path else None
    if ref is not None:
        return ref
    if progress:
        print(f"refsim validate: building the reference ensemble ({seeds} seeds of {preset}"
              + (f", cached in {cache}" if cache else "") + ")", file=sys.stderr)
    t0 = time.perf_counter()
    rows = run_tasks(tasks, jobs, work=_reference_row)
    if rows.interrupted:
        raise KeyboardInterrupt("the reference ensemble was interrupted")
    failed = [r for r in rows if "error" in r]
    if failed:
        raise RuntimeError(f"reference seed {failed[0]['seed']}: {failed[0]['error']}: a reference "
                           "with a seed left out would be biased")
    ref = _summarize(config, range(seeds), t_start, engine, key, [r["features"] for r in rows])
    ref.build_s = time.perf_counter() - t0
    if path:
        _save_reference(ref, path)
        ref.path = path
    return ref


# -- the chaos baseline ---------------------------------------------------------------------

#: The perturbations of :func:`chaos_baseline`: 'ulp' moves one neuron's V0 up by one ulp of
#: the run's float type; 'spike' makes the neuron fire one extra spike in the first step: V0
#: halfway between V_th and V_th + (V_th - V_reset) (above threshold, and below it again after
#: a soft reset, so that it fires once) and its g_i0 at 0 (so that one step of inhibition
#: cannot pull it back under threshold before the 'brette' schedule's test: brette2007-coba
#: starts with g_i ~ N(20, 12), which moves V by up to ~10 mV in that step). Its reset and its
#: synapses act; under the 'brainpy' schedule a spike of the initial state is not recorded
#: (docs/model.md, "Step order").
PERTURBATIONS = ("ulp", "spike")
#: Bin (ms) of :func:`decorrelation_ms`.
DECORRELATION_BIN_MS = 10.0


def perturbed_inputs(config: Config, seed: int, neuron: int, how: str):
    """The network and initial state of ``seed`` with neuron ``neuron`` perturbed as ``how``
    (one of :data:`PERTURBATIONS`): ``(connectivity, initial)`` for :func:`refsim.simulate`.

    Examples
    --------
    >>> import refsim
    >>> from refsim.validate import perturbed_inputs
    >>> config = refsim.get_preset("brette2007-coba", n_exc=80, n_inh=20)
    >>> conn, init = perturbed_inputs(config, 0, 5, "spike")
    >>> float(init["V"][5]), float(init["g_i"][5])      # V_th + (V_th - V_reset) / 2
    (-45.0, 0.0)
    """
    conn, init = network_inputs(config, seed)
    dtype = np.dtype(config.dtype)
    v = init["V"].copy()
    if how == "ulp":
        v[neuron] = float(np.nextafter(dtype.type(v[neuron]), dtype.type(np.inf)))
        return conn, {**init, "V": v}
    v[neuron] = float(dtype.type(config.V_th + 0.5 * (config.V_th - config.V_reset)))
    g_i = init["g_i"].copy()
    g_i[neuron] = 0.0
    return conn, {**init, "V": v, "g_i": g_i}


def decorrelation_ms(a, b, bin_ms: float = DECORRELATION_BIN_MS) -> float:
    """The start (ms) of the first ``bin_ms`` bin in which at least half of the spikes of
    ``a`` and ``b`` are not in both (same neuron, same time to 1e-6 ms): when two runs of one
    network have become different runs. inf when no bin is.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains
    >>> from refsim.validate import decorrelation_ms
    >>> a = SpikeTrains(np.array([1.0, 2.0, 15.0, 16.0]), np.array([0, 1, 0, 1]), 2, 2, 30.0)
    >>> b = SpikeTrains(np.array([1.0, 2.0, 15.0, 17.0]), np.array([0, 1, 0, 1]), 2, 2, 30.0)
    >>> decorrelation_ms(a, b, 10.0), decorrelation_ms(a, a)     # bin [10, 20): 2 of 4 unmatched
    (10.0, inf)
    """
    sa, sb = as_spike_trains(a), as_spike_trains(b)
    n_bins = int(math.ceil(min(sa.t_stop_ms, sb.t_stop_ms) / bin_ms))
    # each spike as one key, (time in units of 1e-6 ms) N + neuron; per key, count in a - in b
    width = int(round(bin_ms * 1e6))
    t = np.round(np.concatenate([sa.times_ms, sb.times_ms]) * 1e6).astype(np.int64)
    key = t * sa.n_neurons + np.concatenate([sa.neurons, sb.neurons])
    side = np.concatenate([np.ones(sa.times_ms.size), -np.ones(sb.times_ms.size)])
    keys, inverse = np.unique(key, return_inverse=True)
    net = np.bincount(inverse, weights=side, minlength=keys.size)
    per_key_bin = np.minimum(keys // sa.n_neurons // width, n_bins)      # n_bins: past the end
    total = np.bincount(np.minimum(t // width, n_bins), minlength=n_bins + 1)[:n_bins]
    unmatched = np.bincount(per_key_bin, weights=np.abs(net), minlength=n_bins + 1)[:n_bins]
    bad = np.flatnonzero((total > 0) & (unmatched >= 0.5 * total))
    return float(bad[0] * bin_ms) if bad.size else math.inf


def _same_network_values(run, other, t_start) -> dict[str, float]:
    """The same-network statistics of ``other`` against refsim's ``run`` over the window."""
    from scipy.stats import pearsonr
    a, b = as_spike_trains(run), as_spike_trains(other)
    ra, rb = analysis.firing_rates(a, t_start), analysis.firing_rates(b, t_start)
    corr = float(pearsonr(ra, rb).statistic) if ra.std() > 0 and rb.std() > 0 else math.nan
    fd = first_difference_ms(a, b)
    return {"rate_corr": corr,
            "van_rossum": _nanmean(analysis.van_rossum_distance(a, b, 5.0, t_start)),
            "victor_purpura": _nanmean(analysis.victor_purpura_distance(a, b, 0.2, t_start)),
            "first_difference_ms": math.inf if fd is None else fd,
            "decorrelation_ms": decorrelation_ms(a, b)}


@dataclass
class Baseline:
    """The chaos baseline of one seed (:func:`chaos_baseline`).

    Attributes
    ----------
    run : SimulationResult
        refsim's run of the seed.
    values : dict of str to dict of str to ndarray
        Per perturbation ('ulp', 'spike'): per name of :data:`SAME_NETWORK`,
        ``first_difference_ms`` and ``decorrelation_ms`` (ms; inf: never), one value per
        perturbed run.
    reference : Reference
        The :func:`features` of the 'spike' runs summarized as a reference ensemble of this
        one network (``seeds``: the perturbed neurons).
    """

    run: object
    values: dict
    reference: Reference


def chaos_baseline(config: Config, seed: int, runs: int = DEFAULT_BASELINE_RUNS,
                   t_start: float = DEFAULT_T_START, engine: str = "numba") -> Baseline:
    """How far two correct runs of one network drift apart: refsim's run of ``seed`` against
    ``runs`` runs perturbed by one ulp of one neuron's V0, and ``runs`` runs in which one
    neuron fires one extra spike at t = 0 (neuron k N // runs in run k).

    A simulator that computes the model with other rounding changes some neuron's V by an
    ulp. In this network such changes decay: the one-ulp runs give refsim's raster exactly
    (measured for every preset, ``docs/validation.md``), so a candidate that differs from
    refsim's raster at all has made at least one spike differ, and from then on drifts as a
    run with one extra spike does. The 'spike' runs are therefore the envelope of
    :data:`SAME_NETWORK` a correct simulator falls in, and their features are a reference
    ensemble of this one network, far tighter than the seed-to-seed one.

    Parameters
    ----------
    config : Config
    seed : int
    runs : int
        Perturbed runs of each kind, >= 3.
    t_start : float
        Start of the window (ms) of the statistics.
    engine : str

    Returns
    -------
    Baseline

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.validate import chaos_baseline
    >>> config = refsim.get_preset("tutorial-normalized", n_exc=80, n_inh=20, duration=300.0)
    >>> b = chaos_baseline(config, seed=0, runs=3, t_start=100.0)
    >>> b.values["ulp"]["first_difference_ms"].tolist()       # one ulp: the same raster
    [inf, inf, inf]
    >>> bool(np.all(np.isfinite(b.values["spike"]["first_difference_ms"])))   # an extra spike: not
    True
    """
    _check_runs(runs)
    return _chaos_baseline(config, int(seed), int(runs), float(t_start), engine)


def _check_runs(runs) -> None:
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or runs < 3:
        raise ConfigError(f"baseline_runs = {runs!r}: allowed an int >= 3")


@functools.lru_cache(maxsize=16)
def _chaos_baseline(config, seed, runs, t_start, engine) -> Baseline:
    """:func:`chaos_baseline`, kept for the process's next verdicts on the same seed (a
    baseline is 2 x runs + 1 simulations; a calibration judges many candidates by one)."""
    run = simulate(config, seed, engine=engine, progress=False)
    values, kicked = {}, []
    for how in PERTURBATIONS:
        rows = []
        for k in range(runs):
            neuron = (k * config.n_neurons) // runs
            conn, init = perturbed_inputs(config, seed, neuron, how)
            other = simulate(config, None, engine=engine, connectivity=conn, initial=init,
                             progress=False)
            rows.append(_same_network_values(run, other, t_start))
            if how == "spike":
                kicked.append((neuron, features(other, t_start)))
        values[how] = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    ref = _summarize(config, [n for n, _ in kicked], t_start, engine, "", [f for _, f in kicked])
    return Baseline(run, values, ref)


# -- the verdict ----------------------------------------------------------------------------

def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN entries are not tested and stay NaN).

    p_adj_(k) = max_{j <= k} min(1, (m - j + 1) p_(j)) for the m p-values sorted ascending.

    Examples
    --------
    >>> from refsim.validate import holm
    >>> holm([0.01, 0.04, 0.03, float("nan")]).tolist()
    [0.03, 0.06, 0.06, nan]
    """
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    order = idx[np.argsort(p[idx], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def _transform(x, how):
    with np.errstate(divide="ignore", invalid="ignore"):
        if how == "log":
            return np.log(np.asarray(x, float))
        if how == "fisher":
            return np.arctanh(np.clip(np.asarray(x, float), -1.0, 1.0))
    return np.asarray(x, float)


def rank_p(value, ref_values, side="both") -> float:
    """The exact rank p-value of ``value`` as one more exchangeable draw of ``ref_values``.

    ``(1 + #{r >= y}) / (n + 1)`` for ``side='high'``, ``(1 + #{r <= y}) / (n + 1)`` for
    ``'low'``, twice the smaller of the two (at most 1) for ``'both'``. Ties count against the
    candidate, so the test is conservative for a discrete statistic. It can never go below
    ``1 / (n + 1)`` (one-sided).

    Examples
    --------
    >>> from refsim.validate import rank_p
    >>> rank_p(5.2, [5.1] * 19 + [5.2]), rank_p(5.3, [5.1] * 19 + [5.2]), rank_p(5.1, [5.1] * 20)
    (0.19047619047619047, 0.09523809523809523, 1.0)
    """
    r, y = np.asarray(ref_values, float), float(value)
    high, low = (1 + np.sum(r >= y)) / (r.size + 1), (1 + np.sum(r <= y)) / (r.size + 1)
    return float({"high": high, "low": low, "both": min(1.0, 2 * min(high, low))}[side])


def _test(value, ref_values, how, side) -> dict:
    """Student's t prediction test of ``value`` against the reference values.

    ``how='rank'`` (a statistic on the step grid) or reference values that are all equal
    take the exact rank p-value (:func:`rank_p`) instead.
    """
    from scipy.stats import t as student
    y, r = _transform(value, how), _transform(ref_values, how)
    r = r[np.isfinite(r)]
    out = {"value": float(value), "ref_mean": float(np.mean(ref_values[np.isfinite(ref_values)]))
           if np.isfinite(ref_values).any() else math.nan,
           "ref_sd": float(np.std(ref_values[np.isfinite(ref_values)], ddof=1))
           if np.isfinite(ref_values).sum() > 1 else math.nan,
           "t": math.nan, "p": math.nan, "note": ""}
    if r.size < 3:
        out["note"] = "not testable: fewer than 3 reference seeds define it"
        return out
    if not np.isfinite(y):
        bad = side == "high" and y == np.inf or side == "low" and y == -np.inf or np.isnan(y)
        out.update(p=0.0 if bad else 1.0, note="undefined in the candidate" if np.isnan(y) else "")
        return out
    m, s, n = r.mean(), r.std(ddof=1), r.size
    t = (y - m) / (s * math.sqrt(1.0 + 1.0 / n)) if s > 0 else (
        0.0 if y == m else math.copysign(math.inf, y - m))
    if how == "rank" or s == 0:
        out.update(t=float(t), p=rank_p(y, r, side), note="rank test")
        return out
    p = {"both": 2 * student.sf(abs(t), n - 1), "high": student.sf(t, n - 1),
         "low": student.cdf(t, n - 1)}[side]
    out.update(t=float(t), p=float(p))
    return out


def _when(ms) -> str:
    return "never" if math.isinf(ms) else f"at {ms:g} ms"


def envelope(values) -> str:
    """'median m ms, 5-95 % [a, b] ms' of divergence times (inf: never), as order statistics.

    Examples
    --------
    >>> from refsim.validate import envelope
    >>> envelope([1.0, 2.0, 3.0, float("inf")]), envelope([float("inf")] * 3)
    ('median 2 ms, 5-95 % [1, inf] ms', 'never differ (3 of 3 runs)')
    """
    v = np.asarray(values, float)
    if np.all(np.isinf(v)):
        return f"never differ ({v.size} of {v.size} runs)"
    q = np.quantile(v, [0.5, 0.05, 0.95], method="inverted_cdf")    # order statistics: inf stays inf
    return f"median {q[0]:g} ms, 5-95 % [{q[1]:g}, {q[2]:g}] ms"


@dataclass
class Verdict:
    """The outcome of :func:`validate`.

    Attributes
    ----------
    consistent : bool
        No Holm-adjusted p-value at or below ``alpha``.
    alpha : float
    tests : list of dict
        One per statistic: ``name`` (e.g. ``E.mean.rate``), ``population``, ``kind`` ('mean',
        'distribution', 'spectrum' or 'same-network'), ``description``, ``value`` (the
        candidate's), ``ref_mean``, ``ref_sd`` (over the reference seeds), ``t``, ``p``,
        ``p_holm``, ``passed`` and ``note``.
    window_ms : tuple of float
    reference : Reference
    same_network : dict or None
        With ``same_network``: ``seed``, the candidate's ``first_difference_ms`` and
        ``decorrelation_ms`` (inf: never), and ``baseline``: per perturbation of
        :func:`chaos_baseline`, its runs' values of those and of :data:`SAME_NETWORK`.
    """

    consistent: bool
    alpha: float
    tests: list
    window_ms: tuple
    reference: Reference
    same_network: dict | None = None
    refsim_run: object = None  # refsim's run of the same-network seed (not part of as_dict)

    @property
    def failed(self) -> list[dict]:
        """The tests that failed."""
        return [t for t in self.tests if not t["passed"]]

    def lines(self) -> list[str]:
        """The report: one line per statistic and the verdict line."""
        out = [f"{'statistic':<58} {'value':>10} {'reference mean ± SD':>24} {'t':>7} {'p':>8} "
               f"{'p Holm':>8}"]
        for t in self.tests:
            verdict = "pass" if t["passed"] else "FAIL"
            label = f"{t['population']} {t['description']}" if t["population"] else t["description"]
            if t["kind"].startswith("same-network "):
                label = "(same net) " + label
            out.append(f"{label[:58]:<58} {t['value']:>10.4g} {t['ref_mean']:>12.4g} ± {t['ref_sd']:<9.3g} "
                       f"{t['t']:>7.2f} {t['p']:>8.2g} {t['p_holm']:>8.2g}  {verdict}"
                       + (f"  ({t['note']})" if t["note"] else ""))
        if self.same_network is not None:
            sn = self.same_network
            out.append(f"same network (seed {sn['seed']}): first differing spike "
                       + _when(sn["first_difference_ms"]) + ", rasters decorrelated "
                       + _when(sn["decorrelation_ms"]) + "; chaos baseline: one-ulp runs "
                       + envelope(sn["baseline"]["ulp"]["first_difference_ms"]) + ", one-extra-spike runs "
                       + "decorrelated " + envelope(sn["baseline"]["spike"]["decorrelation_ms"]))
        n_failed, n = len(self.failed), sum(math.isfinite(t["p"]) for t in self.tests)
        out.append(f"VERDICT: {'CONSISTENT' if self.consistent else 'INCONSISTENT'} with "
                   f"{len(self.reference.seeds)} refsim seeds over [{self.window_ms[0]:g}, "
                   f"{self.window_ms[1]:g}) ms: {n_failed} of {n} tests fail at family-wise "
                   f"alpha = {self.alpha:g} (Holm)")
        return out

    def as_dict(self) -> dict:
        """The verdict as JSON-able data."""
        return {"consistent": self.consistent, "alpha": self.alpha, "window_ms": list(self.window_ms),
                "reference": {"seeds": self.reference.seeds, "engine": self.reference.engine,
                              "key": self.reference.key, "config": asdict(self.reference.config)},
                "tests": self.tests, "same_network": self.same_network}


def _check_candidate(s: SpikeTrains, config: Config) -> SpikeTrains:
    if (s.n_neurons, s.n_exc) != (config.n_neurons, config.n_exc):
        raise ConfigError(f"spikes of {s.n_neurons} neurons ({s.n_exc} excitatory): allowed the "
                          f"configuration's {config.n_neurons} ({config.n_exc} excitatory)")
    if not math.isclose(s.t_stop_ms, config.duration, rel_tol=1e-9):
        raise ConfigError(f"spikes observed over {s.t_stop_ms:g} ms: allowed the configuration's "
                          f"duration = {config.duration:g} ms (give duration=... to validate "
                          "against runs of another length)")
    return s


def _ensemble_tests(f, ref: Reference, prefix: str, kind: str) -> list[dict]:
    """The tests of the candidate's features ``f`` against the ensemble ``ref``: the means
    (two-sided), the distributions and the spectrum (one-sided: only too far fails)."""
    tests = []
    for pop in POPULATIONS:
        for name, (description, how) in MEANS.items():
            k = f"{pop}.mean.{name}"
            tests.append({"name": prefix + k, "population": pop, "kind": kind + "mean",
                          "description": description, **_test(f[k], ref.values[k], how, "both")})
        for name, description in DISTRIBUTIONS.items():
            d = _ks(f[f"{pop}.sample.{name}"], ref.pools[f"{pop}.sample.{name}"])
            tests.append({"name": f"{prefix}{pop}.dist.{name}", "population": pop,
                          "kind": kind + "distribution", "description": f"KS distance of the {description}",
                          **_test(d, ref.values[f"{pop}.dist.{name}"], "log", "high")})
        d = _spectrum_distance(f[f"{pop}.log_psd"], ref.psd_mean[pop], ref.psd_sd[pop])
        tests.append({"name": f"{prefix}{pop}.spectrum", "population": pop, "kind": kind + "spectrum",
                      "description": "RMS z of the log population-rate spectrum",
                      **_test(d, ref.values[f"{pop}.spectrum"], "log", "high")})
    return tests


def validate(spikes, preset: str, overrides: dict | None = None, *, seeds: int = DEFAULT_SEEDS,
             t_start: float = DEFAULT_T_START, alpha: float = ALPHA, engine: str = "numba",
             jobs: int | None = 1, cache: str | None = None, same_network: int | None = None,
             baseline_runs: int = DEFAULT_BASELINE_RUNS, progress: bool = True) -> Verdict:
    """Are ``spikes`` statistically what refsim computes for ``preset``?

    The decision rule is the module's (:mod:`refsim.validate`): one test per statistic of
    each population against the reference ensemble, Holm's correction at ``alpha``.

    Parameters
    ----------
    spikes : SimulationResult or SpikeTrains
        The candidate: the preset's N and n_exc, observed over its duration.
    preset : str
    overrides : dict, optional
        Field values replacing the preset's, as for ``refsim run --set``.
    seeds : int
        Reference seeds 0 .. seeds-1 (>= 3).
    t_start : float
        Start of the window (ms); it ends at the duration.
    alpha : float
        Family-wise false-alarm rate, 0 < alpha < 1.
    engine : str
        Engine of the reference runs.
    jobs : int or None
        Worker processes for the reference runs.
    cache : str, optional
        Cache directory of the reference (default :func:`cache_dir`; '' for none).
    same_network : int, optional
        The seed whose exported network and initial state the candidate ran: adds the
        same-network tests against the chaos baseline of that seed.
    baseline_runs : int
        Runs of the chaos baseline (>= 3).
    progress : bool
        Say on stderr when the reference is being built.

    Returns
    -------
    Verdict

    Raises
    ------
    ConfigError
        A bad argument, or spikes of another size or duration than the configuration's.

    Examples
    --------
    >>> import refsim, tempfile
    >>> from refsim.validate import validate
    >>> small = dict(n_exc=160, n_inh=40, duration=400.0)
    >>> run = refsim.simulate(refsim.get_preset("tutorial-normalized", **small), seed=100,
    ...                       progress=False)
    >>> v = validate(run, "tutorial-normalized", small, seeds=5, t_start=100.0,
    ...              cache=tempfile.mkdtemp(), progress=False)
    >>> v.consistent, len(v.tests)
    (True, 34)
    """
    if not (isinstance(alpha, (float, int)) and not isinstance(alpha, bool) and 0 < alpha < 1):
        raise ConfigError(f"alpha = {alpha!r}: allowed 0 < alpha < 1")
    config = get_preset(preset, **(overrides or {}))
    s = _check_candidate(as_spike_trains(spikes), config)
    if same_network is not None:
        check_seed(same_network, config)
        _check_runs(baseline_runs)
    ref = reference(preset, overrides, seeds, t_start, engine, jobs, cache, progress)
    f = features(s, t_start)
    tests = _ensemble_tests(f, ref, "", "")
    same, base = None, None
    if same_network is not None:
        base = chaos_baseline(config, same_network, baseline_runs, t_start, engine)
        mine = _same_network_values(base.run, s, t_start)
        for name, (description, how, side) in SAME_NETWORK.items():
            tests.append({"name": f"same.{name}", "population": "", "kind": "same-network",
                          "description": description,
                          **_test(mine[name], base.values["spike"][name], how, side)})
        tests += _ensemble_tests(f, base.reference, "same.", "same-network ")
        same = {"seed": int(same_network), "first_difference_ms": mine["first_difference_ms"],
                "decorrelation_ms": mine["decorrelation_ms"],
                "baseline": {how: {k: v.tolist() for k, v in base.values[how].items()}
                             for how in PERTURBATIONS}}
    adjusted = holm([t["p"] for t in tests])
    for t, p in zip(tests, adjusted, strict=True):
        t["p_holm"] = float(p)
        t["passed"] = not (p <= alpha)  # NaN (not testable) passes
    return Verdict(all(t["passed"] for t in tests), float(alpha), tests,
                   (float(t_start), float(config.duration)), ref, same,
                   base.run if base is not None else None)


def write_report(verdict: Verdict, spikes, out_dir, run_id: str | None = None) -> list[str]:
    """Write ``verdict.json``, ``report.md``, ``verdict.png`` (every test's t against its
    critical values) and ``benchmark.png`` (the Vogels-Abbott benchmark figure of the
    candidate beside refsim's run: the same-network seed's, else reference seed 0) into
    ``out_dir`` as one unit with its ``manifest.json`` (:func:`refsim.outputs.publish`).

    Parameters
    ----------
    verdict : Verdict
    spikes : SimulationResult or SpikeTrains
        The candidate that was validated.
    out_dir : str or os.PathLike
    run_id : str, optional

    Returns
    -------
    list of str
        The paths written.
    """
    ref = verdict.reference
    seed = verdict.same_network["seed"] if verdict.same_network else ref.seeds[0]
    run = verdict.refsim_run or simulate(ref.config, seed, engine=ref.engine, progress=False)
    lines = ["# refsim validate", "", f"**{verdict.lines()[-1]}**", "",
             f"Reference: refsim {__version__}, engine {ref.engine}, seeds {ref.seeds[0]} .. "
             f"{ref.seeds[-1]}; window [{verdict.window_ms[0]:g}, {verdict.window_ms[1]:g}) ms. "
             "Decision rule: one Student-t prediction test per statistic against the seeds' "
             "spread, Holm's correction (refsim.validate).", "",
             "| statistic | population | value | reference mean ± SD | t | p | p (Holm) | |",
             "|---|---|---|---|---|---|---|---|"]
    for t in verdict.tests:
        lines.append(f"| {t['description']} | {t['population'] or '-'} | {t['value']:.4g} | "
                     f"{t['ref_mean']:.4g} ± {t['ref_sd']:.3g} | {t['t']:.2f} | {t['p']:.2g} | "
                     f"{t['p_holm']:.2g} | {'pass' if t['passed'] else '**FAIL**'} {t['note']} |")
    if verdict.same_network:
        lines += ["", verdict.lines()[-2]]
    lines += ["", "![tests](verdict.png)", "", f"![benchmark figure, candidate and refsim seed {seed}]"
              "(benchmark.png)", ""]
    run_id = run_id or new_run_id()
    files = {"verdict.json": lambda p: write_text(p, json.dumps({"run_id": run_id, **verdict.as_dict()},
                                                                indent=1, default=float) + "\n"),
             "report.md": lambda p: write_text(p, "\n".join(lines)),
             "verdict.png": lambda p: verdict_figure(verdict, p),
             "benchmark.png": lambda p: benchmark_comparison_figure(
                 spikes, run, p, labels=("candidate", f"refsim seed {seed}"), t_start=verdict.window_ms[0])}
    return publish(prepare_output_dir(out_dir, "validate"), files, run_id=run_id,
                   info={"command": "validate", "consistent": verdict.consistent})
