"""Spike-train statistics of a run, or of spikes exported by another simulator.

Every function takes a :class:`~refsim.SimulationResult` or a :class:`SpikeTrains` (spike
times in ms and neuron indices, e.g. from Brian2 or NEST via :func:`refsim.compare.load_spikes`)
and an optional time window ``[t_start, t_stop)`` in ms (e.g. ``t_start=200`` drops the initial
transient). Conventions:

* per-neuron statistics return an array of shape (N,), NaN where undefined (too few spikes);
* "population" means all neurons unless ``population='E'`` or ``'I'`` is given;
* rates are in Hz (spikes per second), times in ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import ConfigError

__all__ = ["SpikeTrains", "as_spike_trains", "firing_rates", "isi_cv", "cv2", "lv",
           "population_rate", "fano_factor", "synchrony_chi", "count_correlations",
           "rate_spectrum", "statistics"]


@dataclass(frozen=True)
class SpikeTrains:
    """Spikes of N neurons observed over [0, t_stop_ms).

    Attributes
    ----------
    times_ms : ndarray of float64
        Spike times (ms).
    neurons : ndarray of int
        Neuron index of each spike, 0 .. n_neurons-1 (excitatory first: 0 .. n_exc-1).
    n_neurons, n_exc : int
    t_stop_ms : float
        End of the observation (ms); spikes at or after it are ignored.
    """

    times_ms: np.ndarray
    neurons: np.ndarray
    n_neurons: int
    n_exc: int
    t_stop_ms: float

    def __post_init__(self):
        try:
            t, i = np.asarray(self.times_ms), np.asarray(self.neurons)
            if not (np.issubdtype(t.dtype, np.integer) or np.issubdtype(t.dtype, np.floating)):
                raise TypeError(t.dtype)
            t = t.astype(np.float64)
        except (TypeError, ValueError):
            raise ConfigError("times_ms: allowed a 1-d array of real spike times (ms)") from None
        if t.shape != i.shape or t.ndim != 1:
            raise ConfigError(f"times_ms and neurons shapes = {t.shape}, {i.shape}: allowed two 1-d arrays of equal length")
        if i.size and (not np.issubdtype(i.dtype, np.integer) or i.min() < 0 or i.max() >= self.n_neurons):
            raise ConfigError(f"neurons: allowed integers 0 .. {self.n_neurons - 1}")
        if not 0 <= self.n_exc <= self.n_neurons:
            raise ConfigError(f"n_exc = {self.n_exc}: allowed 0 .. n_neurons = {self.n_neurons}")
        if not (np.isfinite(self.t_stop_ms) and self.t_stop_ms > 0):
            raise ConfigError(f"t_stop_ms = {self.t_stop_ms}: allowed a finite time > 0 ms")
        if t.size and not np.all(np.isfinite(t)):
            raise ConfigError("times_ms: allowed finite times (ms)")
        object.__setattr__(self, "times_ms", t)
        object.__setattr__(self, "neurons", i.astype(np.int64))


def as_spike_trains(data) -> SpikeTrains:
    """A SpikeTrains view of a SimulationResult (or the SpikeTrains itself)."""
    if isinstance(data, SpikeTrains):
        return data
    return SpikeTrains(data.spike_times, data.spike_neurons, data.config.n_neurons,
                       data.config.n_exc, data.duration_done)


def _select(data, t_start, t_stop, population="all"):
    """(neurons, times, window length in ms, neuron ids of the population) in the window."""
    s = as_spike_trains(data)
    t_stop = s.t_stop_ms if t_stop is None else float(t_stop)
    if not 0 <= t_start < t_stop <= s.t_stop_ms:
        raise ConfigError(f"t_start = {t_start}, t_stop = {t_stop}: allowed "
                         f"0 <= t_start < t_stop <= {s.t_stop_ms} ms")
    members = {"all": np.arange(s.n_neurons), "E": np.arange(s.n_exc),
               "I": np.arange(s.n_exc, s.n_neurons)}
    if population not in members:
        raise ConfigError(f"population = {population!r}: allowed 'all', 'E' or 'I'")
    keep = (s.times_ms >= t_start) & (s.times_ms < t_stop)
    ids = members[population]
    if population != "all":
        keep &= np.isin(s.neurons, ids)
    return s.neurons[keep], s.times_ms[keep], t_stop - t_start, ids


def firing_rates(data, t_start: float = 0.0, t_stop: float | None = None) -> np.ndarray:
    """Per-neuron firing rate in Hz over [t_start, t_stop) ms.

    rate_i = (number of spikes of neuron i in the window) / (t_stop - t_start) * 1000.
    ``t_stop`` defaults to the end of the simulated time.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, firing_rates
    >>> s = SpikeTrains(np.array([10.0, 20.0, 30.0]), np.array([0, 0, 1]), 2, 1, 100.0)
    >>> firing_rates(s).tolist(), firing_rates(s, t_start=15.0).tolist()
    ([20.0, 10.0], [11.764705882352942, 11.764705882352942])
    """
    neurons, _, length, _ = _select(data, t_start, t_stop)
    return np.bincount(neurons, minlength=as_spike_trains(data).n_neurons) * (1000.0 / length)


def _intervals(data, t_start, t_stop):
    """ISIs grouped by neuron: (isi, owner, next_in_same_neuron) with spikes sorted by
    (neuron, time); ``pair`` marks consecutive ISIs of the same neuron."""
    neurons, t, _, _ = _select(data, t_start, t_stop)
    order = np.lexsort((t, neurons))  # by neuron, then time
    neurons, t = neurons[order], t[order]
    same = neurons[1:] == neurons[:-1]
    return np.diff(t)[same], neurons[1:][same]


def isi_cv(data, t_start: float = 0.0, t_stop: float | None = None) -> np.ndarray:
    """Per-neuron coefficient of variation of the inter-spike intervals.

    CV_i = std(ISI_i) / mean(ISI_i), population standard deviation (ddof = 0), as
    ``scipy.stats.variation`` and Elephant's ``cv`` define it. NaN for neurons with fewer than
    3 spikes (fewer than 2 intervals). A perfectly regular train has CV 0, a Poisson train 1.
    """
    n = as_spike_trains(data).n_neurons
    isi, owner = _intervals(data, t_start, t_stop)
    count = np.bincount(owner, minlength=n).astype(float)
    s1 = np.bincount(owner, weights=isi, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / count
        var = np.bincount(owner, weights=(isi - mean[owner]) ** 2, minlength=n) / count
        cv = np.sqrt(var) / mean
    cv[count < 2] = np.nan
    return cv


def _consecutive(data, t_start, t_stop):
    """Pairs of consecutive ISIs (I_k, I_k+1) of the same neuron, with their owner."""
    isi, owner = _intervals(data, t_start, t_stop)
    same = owner[1:] == owner[:-1]
    return isi[:-1][same], isi[1:][same], owner[1:][same]


def cv2(data, t_start: float = 0.0, t_stop: float | None = None) -> np.ndarray:
    """Per-neuron CV2 (Holt et al. 1996): mean over consecutive ISIs of
    2 |I_{k+1} - I_k| / (I_{k+1} + I_k). 0 for a regular train, 1 for Poisson in expectation;
    NaN for neurons with fewer than 3 spikes."""
    a, b, owner = _consecutive(data, t_start, t_stop)
    n = as_spike_trains(data).n_neurons
    count = np.bincount(owner, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.bincount(owner, weights=2 * np.abs(b - a) / (a + b), minlength=n) / count
    out[count < 1] = np.nan
    return out


def lv(data, t_start: float = 0.0, t_stop: float | None = None) -> np.ndarray:
    """Per-neuron local variation (Shinomoto et al. 2003), as Elephant's ``lv``:
    LV = 3 / (n - 1) * sum_k ((I_k - I_{k+1}) / (I_k + I_{k+1}))^2 over the n ISIs. 0 for a
    regular train, 1 for Poisson in expectation; NaN for neurons with fewer than 3 spikes."""
    a, b, owner = _consecutive(data, t_start, t_stop)
    n = as_spike_trains(data).n_neurons
    count = np.bincount(owner, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 3.0 * np.bincount(owner, weights=((a - b) / (a + b)) ** 2, minlength=n) / count
    out[count < 1] = np.nan
    return out


def _binned_counts(data, bin_ms, t_start, t_stop, population="all", per_neuron=False):
    """Spike counts in bins of ``bin_ms`` over [t_start, t_stop): (edges, counts) with counts of
    shape (n_bins,) for the population or (n_members, n_bins) per neuron. A window that is not
    a whole number of bins drops the last partial bin."""
    neurons, t, length, ids = _select(data, t_start, t_stop, population)
    if not bin_ms > 0:
        raise ConfigError(f"bin_ms = {bin_ms}: allowed > 0 ms")
    n_bins = int(np.floor(length / bin_ms + 1e-9))
    if n_bins < 1:
        raise ConfigError(f"bin_ms = {bin_ms}: allowed <= the window length {length} ms")
    edges = t_start + bin_ms * np.arange(n_bins + 1)
    b = np.floor((t - t_start) / bin_ms + 1e-9).astype(np.int64)
    ok = b < n_bins
    if not per_neuron:
        return edges, np.bincount(b[ok], minlength=n_bins)
    row = np.searchsorted(ids, neurons[ok])
    counts = np.zeros((ids.size, n_bins))
    np.add.at(counts, (row, b[ok]), 1)
    return edges, counts


def population_rate(data, bin_ms: float = 1.0, t_start: float = 0.0, t_stop: float | None = None,
                    population: str = "all", smooth_ms: float | None = None):
    """Population firing rate per neuron (Hz) in bins of ``bin_ms``.

    r(t_b) = (spikes of the population in bin b) / (n_members * bin_ms) * 1000, optionally
    smoothed with a Gaussian kernel of standard deviation ``smooth_ms`` (scipy.ndimage,
    reflecting boundaries). Returns (bin centres in ms, rate in Hz).
    """
    edges, counts = _binned_counts(data, bin_ms, t_start, t_stop, population)
    n_members = _select(data, t_start, t_stop, population)[3].size
    rate = counts * (1000.0 / (max(n_members, 1) * bin_ms))
    if smooth_ms:
        from scipy.ndimage import gaussian_filter1d
        rate = gaussian_filter1d(rate.astype(float), smooth_ms / bin_ms, mode="reflect")
    return 0.5 * (edges[:-1] + edges[1:]), rate


def fano_factor(data, bin_ms: float = 10.0, t_start: float = 0.0, t_stop: float | None = None,
                population: str = "all") -> float:
    """Fano factor of the population spike count: Var(n_b) / Mean(n_b) over bins of ``bin_ms``
    (population variance, ddof = 0). 1 for independent Poisson neurons; NaN if silent."""
    _, counts = _binned_counts(data, bin_ms, t_start, t_stop, population)
    m = counts.mean()
    return float(counts.var() / m) if m > 0 else float("nan")


def synchrony_chi(data, bin_ms: float = 1.0, smooth_ms: float = 5.0, t_start: float = 0.0,
                  t_stop: float | None = None, population: str = "all") -> float:
    """Synchrony measure chi (Golomb 2007) of smoothed spike trains.

    chi^2 = Var_t(mean_i s_i(t)) / mean_i Var_t(s_i(t)), where s_i is neuron i's spike count
    in bins of ``bin_ms`` smoothed by a Gaussian of SD ``smooth_ms``. chi = 1 for identical
    trains, about 1/sqrt(N) for independent ones. Neurons with no spikes contribute zero
    variance; NaN if all are silent.
    """
    from scipy.ndimage import gaussian_filter1d
    _, counts = _binned_counts(data, bin_ms, t_start, t_stop, population, per_neuron=True)
    if smooth_ms:
        counts = gaussian_filter1d(counts, smooth_ms / bin_ms, axis=1, mode="reflect")
    denom = counts.var(axis=1).mean()
    return float(np.sqrt(counts.mean(axis=0).var() / denom)) if denom > 0 else float("nan")


def count_correlations(data, bin_ms: float = 2.0, n_pairs: int = 1000, seed: int = 0,
                       t_start: float = 0.0, t_stop: float | None = None,
                       population: str = "all") -> np.ndarray:
    """Pearson correlation coefficients of spike counts in bins of ``bin_ms`` (2 ms by
    default, as NetworkUnit) for ``n_pairs`` distinct pairs of neurons drawn with
    ``numpy.random.default_rng(seed)`` among those that spike in the window. Pairs are
    unordered, i != j, drawn with replacement among all such pairs. Returns the coefficients
    (empty if fewer than 2 neurons spike)."""
    edges, counts = _binned_counts(data, bin_ms, t_start, t_stop, population, per_neuron=True)
    active = np.flatnonzero(counts.var(axis=1) > 0)
    if active.size < 2:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, active.size, n_pairs)
    j = (i + rng.integers(1, active.size, n_pairs)) % active.size  # j != i
    x, y = counts[active[i]], counts[active[j]]
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    return (x * y).sum(axis=1) / np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))


def rate_spectrum(data, bin_ms: float = 1.0, t_start: float = 0.0, t_stop: float | None = None,
                  population: str = "all", nperseg: int = 256):
    """Power spectral density of the population rate (Welch's method, scipy.signal.welch, mean
    removed). Returns (frequencies in Hz, PSD in Hz^2/Hz)."""
    from scipy.signal import welch
    _, rate = population_rate(data, bin_ms, t_start, t_stop, population)
    fs = 1000.0 / bin_ms
    return welch(rate, fs=fs, nperseg=min(nperseg, rate.size), detrend="constant")


def statistics(data, t_start: float = 0.0, t_stop: float | None = None, seed: int = 0) -> dict:
    """The summary statistics refsim compares runs by, as a JSON-able dict: mean rates of E and
    I (Hz), mean CV, CV2 and LV (over neurons with >= 3 spikes), Fano factor (10 ms bins),
    synchrony chi (1 ms bins, 5 ms smoothing), mean pairwise count correlation (2 ms bins,
    1000 pairs) and the peak frequency of the population-rate spectrum (Hz).

    Examples
    --------
    >>> import refsim
    >>> run = refsim.simulate(refsim.get_preset("tutorial", n_exc=80, n_inh=20, duration=200.0),
    ...                       seed=0, progress=False)
    >>> s = refsim.analysis.statistics(run, t_start=50.0)
    >>> bool(45 < s["rate_e_hz"] < 60), bool(s["cv_isi"] < 0.05)     # tonic, clock-like
    (True, True)
    """
    s = as_spike_trains(data)
    rates = firing_rates(s, t_start, t_stop)
    nanmean = lambda a: float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")  # noqa: E731
    f, p = rate_spectrum(s, 1.0, t_start, t_stop)
    return {
        "rate_e_hz": float(rates[:s.n_exc].mean()) if s.n_exc else float("nan"),
        "rate_i_hz": float(rates[s.n_exc:].mean()) if s.n_neurons > s.n_exc else float("nan"),
        "cv_isi": nanmean(isi_cv(s, t_start, t_stop)), "cv2": nanmean(cv2(s, t_start, t_stop)),
        "lv": nanmean(lv(s, t_start, t_stop)),
        "fano": fano_factor(s, 10.0, t_start, t_stop),
        "chi": synchrony_chi(s, 1.0, 5.0, t_start, t_stop),
        "corr": nanmean(count_correlations(s, 2.0, 1000, seed, t_start, t_stop)),
        "peak_hz": float(f[1:][np.argmax(p[1:])]) if f.size > 1 else float("nan"),
    }
