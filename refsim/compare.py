"""Compare two runs: refsim's, or a refsim run and another simulator's spikes.

The comparison follows NetworkUnit's practice of comparing *distributions* of statistics
(per-neuron rates, ISI CVs, pairwise count correlations) rather than single numbers:

* the two-sample Kolmogorov-Smirnov distance and p-value (``scipy.stats.ks_2samp``);
* the Wasserstein-1 distance (``scipy.stats.wasserstein_distance``), in the statistic's unit;
* Cohen's d (difference of means over the pooled SD) with its 95 % confidence interval from
  the large-sample standard error sqrt((n1 + n2)/(n1 n2) + d^2 / (2 (n1 + n2)))
  (Hedges & Olkin 1985).

When both runs have the same neurons (the same network, e.g. a peer run on refsim's exported
connectivity), it adds the correlation of per-neuron rates and the first time at which the
two rasters differ. Whether a difference matters is judged against the seed-to-seed spread of
the same statistics (:func:`refsim.ensemble.run_ensemble`).
"""

from __future__ import annotations

import json
import math

import numpy as np

from .analysis import SpikeTrains, as_spike_trains, count_correlations, firing_rates, isi_cv, statistics
from .formats import read_spikes
from .io import write_text
from .outputs import new_run_id, prepare_output_dir, publish
from .params import ConfigError
from .plot import benchmark_comparison_figure, comparison_figure
from .result import SimulationResult
from .testing import first_difference

__all__ = ["load_spikes", "compare", "check_labels", "cohens_d", "first_difference_ms", "write_report",
           "pair_spikes", "divergence_time", "step_end_spike_times"]

DISTRIBUTIONS = {"rate_hz": "per-neuron firing rate (Hz)", "cv_isi": "per-neuron ISI CV",
                 "corr": "pairwise spike-count correlation (2 ms bins)"}


def load_spikes(path, n_exc: int | None = None, n_neurons: int | None = None,
                t_stop_ms: float | None = None, fallback: dict | None = None, **options) -> SpikeTrains:
    """:func:`refsim.formats.read_spikes` (any format) with the name and argument order
    refsim 0.4 documented; ``options`` are read_spikes' other keywords (``format``, ``dt_ms``,
    ``population``, ...)."""
    return read_spikes(path, n_exc=n_exc, n_neurons=n_neurons, t_stop_ms=t_stop_ms,
                       fallback=fallback, **options)


def cohens_d(x, y):
    """(d, (low, high)): Cohen's d = (mean x - mean y) / pooled SD (ddof = 1) and its 95 %
    confidence interval from the large-sample standard error (Hedges & Olkin 1985).

    Parameters
    ----------
    x, y : array_like of float
        The two samples (in the statistic's unit).

    Returns
    -------
    d : float
        Dimensionless; NaN if a sample has fewer than 2 values; 0 or +-inf when both SDs
        are 0 (equal or different means).
    ci : tuple of float
        (low, high), the 95 % interval d -+ 1.96 SE (d, d when both SDs are 0).

    Notes
    -----
    With sizes n1, n2, means m1, m2 and sample variances s1^2, s2^2 (ddof = 1):
    s = sqrt(((n1 - 1) s1^2 + (n2 - 1) s2^2) / (n1 + n2 - 2)), d = (m1 - m2) / s,
    SE = sqrt((n1 + n2) / (n1 n2) + d^2 / (2 (n1 + n2))), CI = d -+ 1.959963984540054 SE.

    Examples
    --------
    >>> from refsim.compare import cohens_d
    >>> d, (low, high) = cohens_d([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0])
    >>> round(d, 4), round(low, 4), round(high, 4)
    (-0.7746, -2.2115, 0.6623)
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    n1, n2 = x.size, y.size
    if n1 < 2 or n2 < 2:
        return float("nan"), (float("nan"), float("nan"))
    pooled = np.sqrt(((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / (n1 + n2 - 2))
    if pooled == 0:
        d = 0.0 if x.mean() == y.mean() else float("inf") * np.sign(x.mean() - y.mean())
        return float(d), (float(d), float(d))
    d = (x.mean() - y.mean()) / pooled
    se = np.sqrt((n1 + n2) / (n1 * n2) + d * d / (2.0 * (n1 + n2)))
    return float(d), (float(d - 1.959963984540054 * se), float(d + 1.959963984540054 * se))


def first_difference_ms(a, b, decimals: int = 6) -> float | None:
    """The earliest time (ms) at which the rasters of ``a`` and ``b`` differ, comparing the
    (time, neuron) pairs in time order with times rounded to ``decimals`` digits of a ms;
    None if identical over the common window.

    Parameters
    ----------
    a, b : SimulationResult or SpikeTrains
    decimals : int
        Digits of a ms the spike times are rounded to before comparing.

    Returns
    -------
    float or None
        ms (:func:`refsim.testing.first_difference` of the two ``(times_ms, neurons)``
        rasters up to the end of the shorter observation).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains
    >>> from refsim.compare import first_difference_ms
    >>> a = SpikeTrains(np.array([1.0, 2.0, 3.5]), np.array([0, 1, 0]), 2, 2, 10.0)
    >>> b = SpikeTrains(np.array([1.0, 2.0, 3.6]), np.array([0, 1, 0]), 2, 2, 10.0)
    >>> first_difference_ms(a, b), first_difference_ms(a, a)
    (3.5, None)
    """
    a, b = as_spike_trains(a), as_spike_trains(b)
    t_end = min(a.t_stop_ms, b.t_stop_ms)
    ka, kb = a.times_ms < t_end, b.times_ms < t_end
    fd = first_difference(np.round(a.times_ms[ka], decimals), a.neurons[ka],
                          np.round(b.times_ms[kb], decimals), b.neurons[kb])
    return None if fd is None else float(fd)


def _distributions(s, t_start, seed):
    rates = firing_rates(s, t_start)
    cv = isi_cv(s, t_start)
    fits = s.t_stop_ms - t_start >= 2.0  # correlations need at least one 2 ms bin
    return {"rate_hz": rates, "cv_isi": cv[np.isfinite(cv)],
            "corr": count_correlations(s, 2.0, 1000, seed, t_start) if fits else np.zeros(0)}


def check_labels(labels) -> tuple[str, str]:
    """``labels`` as a tuple after checking that they are two different non-empty names.

    Examples
    --------
    >>> from refsim.compare import check_labels
    >>> check_labels(["run", "run"])
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: labels = ['run', 'run']: allowed two different non-empty names
    """
    labels = tuple(labels)
    if len(labels) != 2 or not all(isinstance(x, str) and x for x in labels) or labels[0] == labels[1]:
        raise ConfigError(f"labels = {list(labels)!r}: allowed two different non-empty names")
    return labels


def _until(s: SpikeTrains, t_stop: float) -> SpikeTrains:
    """The spikes of ``s`` observed over [0, t_stop) only."""
    keep = s.times_ms < t_stop
    return SpikeTrains(s.times_ms[keep], s.neurons[keep], s.n_neurons, s.n_exc, t_stop)


def compare(a, b, t_start: float = 0.0, seed: int = 0, labels=("A", "B")) -> dict:
    """Compare runs ``a`` and ``b`` (SimulationResult or SpikeTrains) over one window,
    [t_start, the end of the shorter run).

    Returns a JSON-able dict: ``statistics`` of each (see :func:`refsim.analysis.statistics`),
    and for each distribution in :data:`DISTRIBUTIONS` the KS distance and p-value, the
    Wasserstein distance and Cohen's d with its 95 % interval; with the same neurons also
    ``rate_correlation`` (Pearson, per-neuron rates) and ``first_difference_ms``.

    Parameters
    ----------
    a, b : SimulationResult or SpikeTrains
    t_start : float
        Start of the window (ms); it ends where the shorter observation ends, for both runs.
    seed : int
        Seed of the correlation pair samples (the same for both runs).
    labels : tuple of str
        The names of ``a`` and ``b`` in the result (and the report): two different names.

    Returns
    -------
    dict
        ``labels``, ``t_start_ms``, ``t_stop_ms`` (the window), ``statistics``
        ({label: :func:`refsim.analysis.statistics`}),
        ``distributions`` ({name: {``n``, ``mean``, ``ks_distance``, ``ks_pvalue``,
        ``wasserstein`` (in the statistic's unit), ``cohens_d``, ``cohens_d_95ci``}}, only
        ``n`` when a sample is empty) and, when N and n_exc agree, ``rate_correlation`` and
        ``first_difference_ms`` (ms or None).

    Raises
    ------
    ConfigError
        A window outside either observation, or labels that are not two different names.

    Notes
    -----
    Per distribution x (of a) and y (of b): ``scipy.stats.ks_2samp(x, y)``,
    ``scipy.stats.wasserstein_distance(x, y)`` and :func:`cohens_d`; the rate correlation
    is Pearson's r of the per-neuron rates (NaN when either is constant).

    Examples
    --------
    >>> import refsim
    >>> config = refsim.get_preset("tutorial-normalized", n_exc=80, n_inh=20, duration=200.0)
    >>> a = refsim.simulate(config, seed=0, progress=False)
    >>> b = refsim.simulate(config.replace(integrator="euler"), seed=0, progress=False)
    >>> comparison = refsim.compare.compare(a, b)
    >>> sorted(comparison["distributions"]), comparison["first_difference_ms"] is not None
    (['corr', 'cv_isi', 'rate_hz'], True)
    """
    # scipy.stats takes a second to import: loaded when a comparison is made, not with refsim
    from scipy.stats import ks_2samp, pearsonr, wasserstein_distance
    labels = check_labels(labels)
    # one window for both: to the end of the shorter observation
    sa, sb = as_spike_trains(a), as_spike_trains(b)
    t_stop = min(sa.t_stop_ms, sb.t_stop_ms)
    sa, sb = _until(sa, t_stop), _until(sb, t_stop)
    da, db = _distributions(sa, t_start, seed), _distributions(sb, t_start, seed)
    out = {"labels": list(labels), "t_start_ms": t_start, "t_stop_ms": t_stop,
           "statistics": {labels[0]: statistics(sa, t_start, seed=seed),
                          labels[1]: statistics(sb, t_start, seed=seed)},
           "distributions": {}}
    for name in DISTRIBUTIONS:
        x, y = da[name], db[name]
        if x.size == 0 or y.size == 0:
            out["distributions"][name] = {"n": [int(x.size), int(y.size)]}
            continue
        ks = ks_2samp(x, y)
        d, ci = cohens_d(x, y)
        out["distributions"][name] = {
            "n": [int(x.size), int(y.size)], "mean": [float(x.mean()), float(y.mean())],
            "ks_distance": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
            "wasserstein": float(wasserstein_distance(x, y)), "cohens_d": d, "cohens_d_95ci": list(ci)}
    if sa.n_neurons == sb.n_neurons and sa.n_exc == sb.n_exc:
        ra, rb = da["rate_hz"], db["rate_hz"]
        ok = ra.std() > 0 and rb.std() > 0
        out["rate_correlation"] = float(pearsonr(ra, rb).statistic) if ok else float("nan")
        out["first_difference_ms"] = first_difference_ms(sa, sb)
    return out


def write_report(comparison: dict, a, b, out_dir, run_id: str | None = None) -> list[str]:
    """Write ``comparison.json``, ``report.md``, ``comparison.png`` (rate, CV and
    correlation distributions side by side) and ``benchmark.png`` (the Vogels-Abbott figure of
    both runs, :func:`refsim.plot.benchmark_comparison_figure`) into ``out_dir`` as one unit,
    with its ``manifest.json`` (:func:`refsim.outputs.publish`); returns the paths.

    Parameters
    ----------
    comparison : dict
        What :func:`compare` returned for ``a`` and ``b``.
    a, b : SimulationResult or SpikeTrains
        The two runs (for the figure).
    out_dir : str or os.PathLike
        Created if missing.
    run_id : str, optional
        The report's run id (in ``comparison.json`` and the manifest); default a new one.

    Returns
    -------
    list of str
        The paths of ``comparison.json``, ``report.md``, ``comparison.png``,
        ``benchmark.png`` and ``manifest.json``.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from refsim.analysis import SpikeTrains
    >>> from refsim.compare import compare, write_report
    >>> rng = np.random.default_rng(0)
    >>> a, b = (SpikeTrains(np.sort(rng.uniform(0, 100, 200)), rng.integers(0, 10, 200), 10, 8,
    ...                     100.0) for _ in range(2))
    >>> paths = write_report(compare(a, b), a, b, tempfile.mkdtemp())
    >>> [os.path.basename(p) for p in paths]
    ['comparison.json', 'report.md', 'comparison.png', 'benchmark.png', 'manifest.json']
    """
    la, lb = comparison["labels"]
    lines = [f"# refsim comparison: {la} vs {lb}", "",
             f"Window: [{comparison['t_start_ms']}, {comparison['t_stop_ms']}) ms for both runs "
             "(to the end of the shorter one).", "",
             "## Summary statistics", "", f"| statistic | {la} | {lb} |", "|---|---|---|"]
    for key, value in comparison["statistics"][la].items():
        lines.append(f"| {key} | {value:.4g} | {comparison['statistics'][lb][key]:.4g} |")
    lines += ["", "## Distributions", "",
              "| distribution | n | means | KS distance (p) | Wasserstein | Cohen's d [95 % CI] |",
              "|---|---|---|---|---|---|"]
    for name, r in comparison["distributions"].items():
        if "ks_distance" not in r:
            lines.append(f"| {DISTRIBUTIONS[name]} | {r['n'][0]} / {r['n'][1]} | - | - | - | - |")
            continue
        lines.append(f"| {DISTRIBUTIONS[name]} | {r['n'][0]} / {r['n'][1]} | {r['mean'][0]:.4g} / "
                     f"{r['mean'][1]:.4g} | {r['ks_distance']:.3f} ({r['ks_pvalue']:.2g}) | "
                     f"{r['wasserstein']:.4g} | {r['cohens_d']:.3f} [{r['cohens_d_95ci'][0]:.3f}, "
                     f"{r['cohens_d_95ci'][1]:.3f}] |")
    if "rate_correlation" in comparison:
        fd = comparison["first_difference_ms"]
        lines += ["", "## Same network", "",
                  f"- correlation of per-neuron rates: {comparison['rate_correlation']:.4f}",
                  "- rasters: " + ("identical" if fd is None else f"first differ at {fd} ms")]
    lines += ["", "![distributions](comparison.png)", "", "![benchmark figure](benchmark.png)", ""]
    a, b = (_until(as_spike_trains(x), comparison["t_stop_ms"]) for x in (a, b))  # its window
    run_id = run_id or new_run_id()
    files = {"comparison.json": lambda p: write_text(p, json.dumps({"run_id": run_id, **comparison},
                                                                   indent=1) + "\n"),
             "report.md": lambda p: write_text(p, "\n".join(lines)),
             "comparison.png": lambda p: comparison_figure(a, b, p, labels=(la, lb),
                                                           t_start=comparison["t_start_ms"]),
             "benchmark.png": lambda p: benchmark_comparison_figure(a, b, p, labels=(la, lb),
                                                                    t_start=comparison["t_start_ms"])}
    return publish(prepare_output_dir(out_dir, "compare"), files, run_id=run_id,
                   info={"command": "compare", "labels": [la, lb]})


# -- comparing a time-stepped run with the accurate one (refsim.exact) ----------------------

def step_end_spike_times(result: SimulationResult) -> np.ndarray:
    """Physical spike times (ms) of a time-stepped run: (k + 1) * dt for a spike at step k.

    Step k integrates the state from k*dt to (k+1)*dt (the state after step k is the state
    at (k+1)*dt in both schedules), so a spike recorded at step k is the first grid time at
    which V was found at or above threshold: the crossing lies in (k*dt, (k+1)*dt].
    (``result.spike_times`` = k*dt is BrainPy's label, the start of the step.)

    Parameters
    ----------
    result : SimulationResult

    Returns
    -------
    ndarray of float64
        ms, one per spike, in the order of ``result.spike_steps``.

    Examples
    --------
    >>> import refsim
    >>> from refsim.compare import step_end_spike_times
    >>> run = refsim.simulate(refsim.get_preset("brette2007-coba", n_exc=40, n_inh=10,
    ...                                         duration=20.0), seed=0, progress=False)
    >>> run.spike_steps[:3].tolist(), step_end_spike_times(run)[:3].tolist()
    ([12, 14, 42], [1.3, 1.5, 4.3])
    """
    return (result.spike_steps + 1) * result.config.dt


def _ranks(times_ms, neurons, n_neurons):
    """The rank of each spike of the raster (times_ms, neurons) among its neuron's spikes in
    time order (0 for the first)."""
    order = np.lexsort((times_ms, neurons))
    sorted_n = neurons[order]
    starts = np.searchsorted(sorted_n, np.arange(n_neurons))
    rank = np.empty(times_ms.size, np.int64)
    rank[order] = np.arange(times_ms.size) - starts[sorted_n]
    return rank


def pair_spikes(times_a, neurons_a, times_b, neurons_b, n_neurons):
    """Pair the n-th spike of each neuron in raster a with its n-th spike in raster b.

    Parameters
    ----------
    times_a, neurons_a : array_like
        Raster a: spike times (ms) and neuron indices, in any order.
    times_b, neurons_b : array_like
        Raster b.
    n_neurons : int
        N (every index is below it).

    Returns
    -------
    paired_a, paired_b : ndarray of float64
        Times (ms) of the paired spikes (same neuron, same rank), in the order of a.
    neuron : ndarray of int64
        Their neuron.
    unpaired_first : float
        Earliest time (ms) of a spike of either raster without a partner (inf if none).

    Examples
    --------
    >>> from refsim.compare import pair_spikes
    >>> pa, pb, neuron, lone = pair_spikes([1.0, 2.0, 3.5], [0, 1, 0], [1.1, 3.6], [0, 0], 2)
    >>> pa.tolist(), pb.tolist(), neuron.tolist(), lone     # neuron 1's spike at 2 ms is alone
    ([1.0, 3.5], [1.1, 3.6], [0, 0], 2.0)
    """
    ta, na = np.asarray(times_a, float), np.asarray(neurons_a, np.int64)
    tb, nb = np.asarray(times_b, float), np.asarray(neurons_b, np.int64)
    ra, rb = _ranks(ta, na, n_neurons), _ranks(tb, nb, n_neurons)
    key_a = na * (max(ra.max(initial=0), rb.max(initial=0)) + 1) + ra
    key_b = nb * (max(ra.max(initial=0), rb.max(initial=0)) + 1) + rb
    lookup = dict(zip(key_b.tolist(), range(tb.size), strict=True))
    idx_b = np.array([lookup.get(k, -1) for k in key_a.tolist()], np.int64)
    has = idx_b >= 0
    matched_b = np.zeros(tb.size, bool)
    matched_b[idx_b[has]] = True
    unpaired = np.r_[ta[~has], tb[~matched_b]]
    return (ta[has], tb[idx_b[has]], na[has],
            float(unpaired.min()) if unpaired.size else math.inf)


def divergence_time(times_a, neurons_a, times_b, neurons_b, n_neurons, tolerance=1.0,
                    duration=math.inf):
    """Time (ms) at which two rasters first disagree.

    The n-th spike of each neuron in one raster is paired with the n-th spike of the same
    neuron in the other (:func:`pair_spikes`). The rasters disagree from the earliest time
    at which a spike has no partner, or a pair is more than ``tolerance`` ms apart (the
    earlier spike of that pair).

    Parameters
    ----------
    times_a, neurons_a, times_b, neurons_b : array_like
        Spike times (ms) and neuron indices of the two rasters.
    n_neurons : int
    tolerance : float
        Largest time difference (ms) of two spikes that still agree, > 0.
    duration : float
        Length of both runs (ms): a spike later than duration - tolerance whose partner may
        lie beyond the end of the run does not count as unpaired.

    Returns
    -------
    float
        The divergence time in ms; inf when the rasters never disagree.

    Raises
    ------
    ConfigError
        ``tolerance`` is not > 0.

    Examples
    --------
    >>> from refsim.compare import divergence_time
    >>> a = [1.0, 2.0, 3.5], [0, 1, 0]
    >>> divergence_time(*a, [1.1, 2.0, 3.6], [0, 1, 0], 2, tolerance=0.5)
    inf
    >>> divergence_time(*a, [1.1, 3.6], [0, 0], 2, tolerance=0.5, duration=10.0)
    2.0
    """
    if not tolerance > 0:
        raise ConfigError(f"tolerance = {tolerance!r}: allowed tolerance > 0 ms")
    pa, pb, _, _ = pair_spikes(times_a, neurons_a, times_b, neurons_b, n_neurons)
    far = np.abs(pa - pb) > tolerance
    t_far = float(np.minimum(pa, pb)[far].min()) if far.any() else math.inf
    # unpaired spikes: rank beyond the other raster's count for that neuron
    ta, na = np.asarray(times_a, float), np.asarray(neurons_a, np.int64)
    tb, nb = np.asarray(times_b, float), np.asarray(neurons_b, np.int64)
    ca, cb = np.bincount(na, minlength=n_neurons), np.bincount(nb, minlength=n_neurons)
    t_unpaired = math.inf
    for times_ms, neurons, other in ((ta, na, cb), (tb, nb, ca)):
        lone = (_ranks(times_ms, neurons, n_neurons) >= other[neurons]) & (times_ms <= duration - tolerance)
        if lone.any():
            t_unpaired = min(t_unpaired, float(times_ms[lone].min()))
    return min(t_far, t_unpaired)
