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
import os

import numpy as np

from .analysis import SpikeTrains, as_spike_trains, count_correlations, firing_rates, isi_cv, statistics
from .params import ConfigError

__all__ = ["load_spikes", "compare", "cohens_d", "first_difference_ms", "write_report"]

DISTRIBUTIONS = {"rate_hz": "per-neuron firing rate (Hz)", "cv_isi": "per-neuron ISI CV",
                 "corr": "pairwise spike-count correlation (2 ms bins)"}


def load_spikes(path, n_exc: int | None = None, n_neurons: int | None = None,
                t_stop_ms: float | None = None) -> SpikeTrains:
    """Spikes from a file: a refsim result (``SimulationResult.save``) or another simulator's.

    Another simulator's ``.npz`` holds ``t_ms`` (spike times, ms) and ``i`` (neuron indices),
    and optionally ``meta``, a JSON string with ``n_neurons``, ``n_exc`` and ``duration_ms``
    (as ``validation/peers/*_run.py`` write); arguments override ``meta``. Read with
    ``allow_pickle=False``.
    """
    from .files import read_npz
    arrays = read_npz(path, "spike file")  # corrupted, truncated, pickled: ConfigError
    files = set(arrays)
    if not {"t_ms", "i"} <= files:
        from .result import SimulationResult
        return as_spike_trains(SimulationResult.load(path))
    meta = {}
    if "meta" in arrays:
        try:
            meta = json.loads(str(arrays["meta"]))
        except ValueError:
            raise ConfigError(f"spike file {path}: 'meta' is not a JSON string") from None
        if not isinstance(meta, dict):
            raise ConfigError(f"spike file {path}: meta = {type(meta).__name__}: allowed a JSON object")
    n_neurons = n_neurons if n_neurons is not None else meta.get("n_neurons")
    n_exc = n_exc if n_exc is not None else meta.get("n_exc")
    t_stop_ms = t_stop_ms if t_stop_ms is not None else meta.get("duration_ms")
    for name, value in (("n_neurons", n_neurons), ("n_exc", n_exc), ("t_stop_ms", t_stop_ms)):
        if value is None:
            raise ConfigError(f"{name}: required for {path} (not in its 'meta'); give it explicitly")
    try:
        sizes = (int(n_neurons), int(n_exc), float(t_stop_ms))
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"spike file {path}: n_neurons = {n_neurons!r}, n_exc = {n_exc!r}, "
                          f"t_stop_ms = {t_stop_ms!r}: allowed two ints and a number") from None
    return SpikeTrains(arrays["t_ms"], arrays["i"], *sizes)


def cohens_d(x, y):
    """(d, (low, high)): Cohen's d = (mean x - mean y) / pooled SD (ddof = 1) and its 95 %
    confidence interval from the large-sample standard error (Hedges & Olkin 1985)."""
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
    None if identical over the common window."""
    a, b = as_spike_trains(a), as_spike_trains(b)
    t_end = min(a.t_stop_ms, b.t_stop_ms)

    def events(s):
        keep = s.times_ms < t_end
        t, i = np.round(s.times_ms[keep], decimals), s.neurons[keep]
        order = np.lexsort((i, t))
        return t[order], i[order]

    (ta, ia), (tb, ib) = events(a), events(b)
    n = min(ta.size, tb.size)
    diff = np.flatnonzero((ta[:n] != tb[:n]) | (ia[:n] != ib[:n]))
    if diff.size:
        k = diff[0]
        return float(min(ta[k], tb[k]))
    if ta.size != tb.size:
        return float((ta if ta.size > n else tb)[n])
    return None


def _distributions(s, t_start, seed):
    rates = firing_rates(s, t_start)
    cv = isi_cv(s, t_start)
    return {"rate_hz": rates, "cv_isi": cv[np.isfinite(cv)],
            "corr": count_correlations(s, 2.0, 1000, seed, t_start)}


def compare(a, b, t_start: float = 0.0, seed: int = 0, labels=("A", "B")) -> dict:
    """Compare runs ``a`` and ``b`` (SimulationResult or SpikeTrains) over [t_start, end).

    Returns a JSON-able dict: ``statistics`` of each (see :func:`refsim.analysis.statistics`),
    and for each distribution in :data:`DISTRIBUTIONS` the KS distance and p-value, the
    Wasserstein distance and Cohen's d with its 95 % interval; with the same neurons also
    ``rate_correlation`` (Pearson, per-neuron rates) and ``first_difference_ms``.

    Examples
    --------
    >>> import refsim
    >>> cfg = refsim.get_preset("tutorial-normalized", n_exc=80, n_inh=20, duration=200.0)
    >>> a = refsim.simulate(cfg, seed=0, progress=False)
    >>> b = refsim.simulate(cfg.replace(integrator="euler"), seed=0, progress=False)
    >>> c = refsim.compare.compare(a, b)
    >>> sorted(c["distributions"]), c["first_difference_ms"] is not None
    (['corr', 'cv_isi', 'rate_hz'], True)
    """
    from scipy.stats import ks_2samp, pearsonr, wasserstein_distance
    sa, sb = as_spike_trains(a), as_spike_trains(b)
    da, db = _distributions(sa, t_start, seed), _distributions(sb, t_start, seed)
    out = {"labels": list(labels), "t_start_ms": t_start,
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


def write_report(comparison: dict, a, b, out_dir) -> list[str]:
    """Write ``report.md``, ``comparison.json`` and ``comparison.png`` (rate, CV and
    correlation distributions side by side) into ``out_dir``; returns the paths."""
    from .plot import comparison_figure
    os.makedirs(out_dir, exist_ok=True)
    la, lb = comparison["labels"]
    lines = [f"# refsim comparison: {la} vs {lb}", "",
             f"Window: from {comparison['t_start_ms']} ms to the end of the shorter run.", "",
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
    lines += ["", "![distributions](comparison.png)", ""]
    paths = [os.path.join(out_dir, name) for name in ("comparison.json", "report.md", "comparison.png")]
    _write_text(paths[0], json.dumps(comparison, indent=1) + "\n")
    _write_text(paths[1], "\n".join(lines))
    comparison_figure(a, b, paths[2], labels=(la, lb), t_start=comparison["t_start_ms"])
    return paths


def _write_text(path, text: str) -> None:
    from .result import atomic_write

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text)
    atomic_write(path, write)
