"""Spike-train statistics of a run, or of spikes exported by another simulator.

Every function takes a :class:`~refsim.SimulationResult` or a :class:`SpikeTrains` (spike
times in ms and neuron indices, e.g. from Brian2 or NEST via :func:`refsim.compare.load_spikes`)
and an optional time window ``[t_start, t_stop)`` in ms (e.g. ``t_start=200`` drops the initial
transient). Conventions:

* per-neuron statistics return an array of shape (N,), NaN where undefined (too few spikes);
* "population" means all neurons unless ``population='E'`` or ``'I'`` is given;
* rates are in Hz (spikes per second), times in ms;
* a raster is ``(times_ms, neurons)`` here (a :class:`~refsim.SimulationResult` holds it as
  ``(spike_steps, spike_neurons)``, times_ms = spike_steps * dt);
* ISIs are the differences of consecutive spike times of one neuron within the window;
  binned counts use bins [t_start + b bin_ms, t_start + (b + 1) bin_ms) and drop a last
  partial bin; variances are population variances (ddof = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import ConfigError

__all__ = ["SpikeTrains", "as_spike_trains", "firing_rates", "isis", "isi_cv", "cv2", "lv", "lvr",
           "van_rossum_distance", "victor_purpura_distance", "population_rate", "fano_factor",
           "synchrony_chi", "count_correlations", "rate_spectrum", "statistics"]


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
        N, and the excitatory neurons 0 .. n_exc-1.
    t_stop_ms : float
        End of the observation (ms); spikes at or after it are ignored.

    Raises
    ------
    ConfigError
        Times that are not finite real numbers, neuron indices outside 0 .. n_neurons-1,
        arrays of different lengths, n_exc outside 0 .. n_neurons, or t_stop_ms <= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains
    >>> s = SpikeTrains(np.array([10., 20., 5.]), np.array([0, 0, 1]), n_neurons=3, n_exc=2,
    ...                 t_stop_ms=100.0)
    >>> s.times_ms.dtype, s.neurons.dtype
    (dtype('float64'), dtype('int64'))
    >>> SpikeTrains(np.array([1.0]), np.array([3]), 3, 2, 100.0)
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: neurons: allowed integers 0 .. 2
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
            raise ConfigError(f"times_ms and neurons shapes = {t.shape}, {i.shape}: allowed two 1-d "
                              "arrays of equal length")
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
    """A SpikeTrains view of a SimulationResult (or the SpikeTrains itself).

    Parameters
    ----------
    data : SimulationResult or SpikeTrains

    Returns
    -------
    SpikeTrains
        For a result: ``times_ms = spike_steps * dt`` (``result.spike_times``), ``neurons =
        spike_neurons``, observed over the steps done (``t_stop_ms = steps_done * dt``).

    Examples
    --------
    >>> import refsim
    >>> from refsim.analysis import as_spike_trains
    >>> run = refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0),
    ...                       seed=0, progress=False)
    >>> s = as_spike_trains(run)
    >>> run.spike_steps[:3].tolist(), s.times_ms[:3].tolist(), s.t_stop_ms
    ([43, 54, 58], [4.3, 5.4, 5.800000000000001], 20.0)
    """
    if isinstance(data, SpikeTrains):
        return data
    return SpikeTrains(data.spike_times, data.spike_neurons, data.config.n_neurons,
                       data.config.n_exc, data.duration_done)


def _select(data, t_start, t_stop, population="all"):
    """The raster in the window, population only: (neurons, times_ms, window length in ms,
    neuron ids of the population). Raises ConfigError for a bad window or population."""
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

    Parameters
    ----------
    data : SimulationResult or SpikeTrains
    t_start, t_stop : float
        The window [t_start, t_stop) in ms; ``t_stop`` defaults to the end of the observation.

    Returns
    -------
    ndarray of float64, shape (N,)
        Hz.

    Raises
    ------
    ConfigError
        A window outside 0 <= t_start < t_stop <= the end of the observation.

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
    """The ISIs in the window, grouped by neuron: ``(isi, owner)``, two arrays of equal length.

    The spikes are sorted by (neuron, time); ``isi`` holds the differences (ms) of consecutive
    spike times of one neuron and ``owner`` that neuron, so the ISIs of a neuron are
    contiguous and in time order."""
    neurons, times_ms, _, _ = _select(data, t_start, t_stop)
    order = np.lexsort((times_ms, neurons))  # by neuron, then time
    neurons, times_ms = neurons[order], times_ms[order]
    same = neurons[1:] == neurons[:-1]
    return np.diff(times_ms)[same], neurons[1:][same]


def isi_cv(data, t_start: float = 0.0, t_stop: float | None = None) -> np.ndarray:
    """Per-neuron coefficient of variation of the inter-spike intervals.

    CV_i = std(ISI_i) / mean(ISI_i), population standard deviation (ddof = 0), as
    ``scipy.stats.variation`` and Elephant's ``cv`` define it. NaN for neurons with fewer than
    3 spikes (fewer than 2 intervals). A perfectly regular train has CV 0, a Poisson train 1.

    Parameters
    ----------
    data, t_start, t_stop
        As in :func:`firing_rates`.

    Returns
    -------
    ndarray of float64, shape (N,)
        Dimensionless; NaN for neurons with fewer than 3 spikes in the window.

    Notes
    -----
    For the n >= 2 ISIs I_1 .. I_n of neuron i in the window, with mean m = (1/n) sum_k I_k:
    CV_i = sqrt((1/n) sum_k (I_k - m)^2) / m.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, isi_cv
    >>> s = SpikeTrains(np.array([10., 20., 30., 45., 5., 25.]), np.array([0, 0, 0, 0, 1, 1]),
    ...                 n_neurons=3, n_exc=2, t_stop_ms=100.0)   # ISIs: 10, 10, 15 ms; 20 ms
    >>> isi_cv(s).tolist()
    [0.20203050891044214, nan, nan]
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
    """Pairs of consecutive ISIs of the same neuron: ``(I_k, I_k+1, owner)``, three arrays of
    equal length."""
    isi, owner = _intervals(data, t_start, t_stop)
    same = owner[1:] == owner[:-1]
    return isi[:-1][same], isi[1:][same], owner[1:][same]


def cv2(data, t_start: float = 0.0, t_stop: float | None = None) -> np.ndarray:
    """Per-neuron CV2 (Holt et al. 1996): mean over consecutive ISIs of
    2 |I_{k+1} - I_k| / (I_{k+1} + I_k). 0 for a regular train, 1 for Poisson in expectation;
    NaN for neurons with fewer than 3 spikes.

    Parameters
    ----------
    data, t_start, t_stop
        As in :func:`firing_rates` (the ISIs as :func:`isi_cv` takes them).

    Returns
    -------
    ndarray of float64, shape (N,)
        Dimensionless; NaN where :func:`isi_cv` is (fewer than 3 spikes in the window).

    Notes
    -----
    For the n >= 2 ISIs I_1 .. I_n of neuron i in the window:
    CV2_i = (1/(n-1)) sum_{k=1}^{n-1} 2 |I_{k+1} - I_k| / (I_{k+1} + I_k).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, cv2
    >>> s = SpikeTrains(np.array([10., 20., 30., 45.]), np.zeros(4, int), 1, 1, 100.0)  # ISIs 10, 10, 15
    >>> cv2(s).tolist()                              # (0 + 2 * 5 / 25) / 2
    [0.2]
    """
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
    regular train, 1 for Poisson in expectation; NaN for neurons with fewer than 3 spikes.

    Parameters
    ----------
    data, t_start, t_stop
        The raster and the window, as in :func:`firing_rates`.

    Returns
    -------
    ndarray of float64, shape (N,)
        Dimensionless; NaN as for :func:`cv2`.

    Notes
    -----
    For the n >= 2 ISIs I_1 .. I_n of neuron i in the window:
    LV_i = (3/(n-1)) sum_{k=1}^{n-1} ((I_k - I_{k+1}) / (I_k + I_{k+1}))^2.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, lv
    >>> regular, burst = [10.0, 20.0, 30.0, 40.0], [10.0, 11.0, 30.0, 31.0]   # burst ISIs 1, 19, 1
    >>> lv(SpikeTrains(np.array(regular + burst), np.repeat([0, 1], 4), 2, 2, 100.0)).tolist()
    [0.0, 2.43]
    """
    a, b, owner = _consecutive(data, t_start, t_stop)
    n = as_spike_trains(data).n_neurons
    count = np.bincount(owner, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 3.0 * np.bincount(owner, weights=((a - b) / (a + b)) ** 2, minlength=n) / count
    out[count < 1] = np.nan
    return out


def isis(data, t_start: float = 0.0, t_stop: float | None = None,
         population: str = "all") -> np.ndarray:
    """Every inter-spike interval (ms) of the population's neurons in the window.

    Parameters
    ----------
    data, t_start, t_stop
        As in :func:`firing_rates`.
    population : {'all', 'E', 'I'}

    Returns
    -------
    ndarray of float64
        The ISIs of :func:`isi_cv`, grouped by neuron (index order) and in time order within
        a neuron.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, isis
    >>> s = SpikeTrains(np.array([10., 20., 35., 5., 25.]), np.array([0, 0, 0, 1, 1]), 2, 1, 100.0)
    >>> isis(s).tolist(), isis(s, population="I").tolist()
    ([10.0, 15.0, 20.0], [20.0])
    """
    _select(data, t_start, t_stop, population)     # validates the window and the population
    isi, owner = _intervals(data, t_start, t_stop)
    if population == "all":
        return isi
    n_exc = as_spike_trains(data).n_exc
    return isi[owner < n_exc] if population == "E" else isi[owner >= n_exc]


#: Refractoriness constant R (ms) of :func:`lvr`: Shinomoto et al. (2009) chose 5 ms, as
#: Elephant's ``lvr`` does by default.
LVR_R_MS = 5.0


def lvr(data, t_start: float = 0.0, t_stop: float | None = None, R: float = LVR_R_MS) -> np.ndarray:
    """Per-neuron revised local variation LvR (Shinomoto et al. 2009, PLoS Comput Biol 5,
    e1000433, eq. 3), as Elephant's ``lvr``: :func:`lv` corrected for refractoriness.

    Parameters
    ----------
    data, t_start, t_stop
        As in :func:`firing_rates` (the ISIs as :func:`isi_cv` takes them).
    R : float
        Refractoriness constant (ms), >= 0; R = 0 gives :func:`lv`.

    Returns
    -------
    ndarray of float64, shape (N,)
        Dimensionless; NaN as for :func:`cv2` (fewer than 3 spikes in the window).

    Raises
    ------
    ConfigError
        R negative or not finite; a bad window.

    Notes
    -----
    For the n >= 2 ISIs I_1 .. I_n of neuron i in the window, with s_k = I_k + I_{k+1}:
    LvR_i = (3/(n-1)) sum_{k=1}^{n-1} (1 - 4 I_k I_{k+1} / s_k^2) (1 + 4 R / s_k).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, lvr
    >>> s = SpikeTrains(np.array([0.3, 4.5, 6.7, 9.3]), np.zeros(4, int), 1, 1, 100.0)
    >>> round(float(lvr(s)[0]), 12)    # Elephant 1.2.1: lvr(np.diff(times) * ms, R=5 * ms)
    0.658067491319
    >>> bool(np.isclose(lvr(s, R=0.0)[0], lv(s)[0], rtol=1e-14))   # lv, rounded otherwise
    True
    """
    if not (np.isfinite(R) and R >= 0):
        raise ConfigError(f"R = {R}: allowed a finite refractoriness constant >= 0 ms")
    a, b, owner = _consecutive(data, t_start, t_stop)
    n = as_spike_trains(data).n_neurons
    count = np.bincount(owner, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = a + b
        terms = (1.0 - 4.0 * a * b / total**2) * (1.0 + 4.0 * R / total)
        out = 3.0 * np.bincount(owner, weights=terms, minlength=n) / count
    out[count < 1] = np.nan
    return out


def _padded(data, t_start, t_stop):
    """The spike times (ms) in the window as an (N, L) array, each neuron's row sorted and
    padded with NaN to L = the largest count (at least 1), and the counts (N,)."""
    neurons, times_ms, _, _ = _select(data, t_start, t_stop)
    n = as_spike_trains(data).n_neurons
    order = np.lexsort((times_ms, neurons))
    neurons, times_ms = neurons[order], times_ms[order]
    count = np.bincount(neurons, minlength=n)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    out = np.full((n, max(1, int(count.max(initial=0)))), np.nan)
    out[neurons, np.arange(neurons.size) - start[neurons]] = times_ms
    return out, count


def _pair_windows(a, b, t_start, t_stop):
    sa, sb = as_spike_trains(a), as_spike_trains(b)
    if sa.n_neurons != sb.n_neurons:
        raise ConfigError(f"n_neurons = {sa.n_neurons} and {sb.n_neurons}: allowed two rasters "
                          "of the same network (equal n_neurons)")
    stop = min(sa.t_stop_ms, sb.t_stop_ms) if t_stop is None else t_stop
    return _padded(a, t_start, stop), _padded(b, t_start, stop)


def _count_groups(x, nx, y, ny):
    """The neurons in groups of similar spike counts, each with its padded trains cut to the
    group's largest counts: ``(rows, x[rows, :lx], y[rows, :ly])``. Cutting by powers of two
    of max(nx, ny) keeps the work of the padded loops within 4 times sum_i n_i^2 instead of
    N max_i n_i^2 (one bursting neuron would otherwise set the width for all)."""
    size = np.maximum(nx, ny)
    level = np.ceil(np.log2(np.maximum(size, 1))).astype(np.int64)
    for g in np.unique(level):
        rows = np.flatnonzero(level == g)
        lx, ly = max(1, int(nx[rows].max())), max(1, int(ny[rows].max()))
        yield rows, x[rows, :lx], y[rows, :ly]


def _kernel_sum(x, y, tau):
    """sum_{i,j} exp(-|x_i - y_j| / tau) over the valid (non-NaN) entries, per row."""
    total = np.zeros(x.shape[0])
    for k in range(x.shape[1]):              # one column of x at a time: memory N x L
        d = np.exp(-np.abs(x[:, k, None] - y) / tau)
        total += np.nansum(d, axis=1)
    return total


def van_rossum_distance(a, b, tau: float = 5.0, t_start: float = 0.0,
                        t_stop: float | None = None) -> np.ndarray:
    """Per-neuron van Rossum (2001) distance between two rasters of the same network, as
    Elephant's ``van_rossum_distance`` normalizes it.

    Each neuron's train in ``a`` and in ``b`` is convolved with the causal kernel
    exp(-t / tau); the distance is the L2 norm of the difference, scaled so that one spike
    against none is 1 (divide by sqrt(2) for the paper's normalization).

    Parameters
    ----------
    a, b : SimulationResult or SpikeTrains
        Two rasters with equal n_neurons (neuron i of ``a`` is compared with neuron i of b).
    tau : float
        Kernel time constant (ms), > 0.
    t_start, t_stop : float
        The window (ms); t_stop defaults to the earlier end of the two.

    Returns
    -------
    ndarray of float64, shape (N,)
        Dimensionless; 0 for identical trains (two empty trains included).

    Raises
    ------
    ConfigError
        tau not positive and finite; different n_neurons; a bad window.

    Notes
    -----
    D_i^2 = sum_{j,k} e^{-|x_j - x_k|/tau} + sum_{j,k} e^{-|y_j - y_k|/tau}
    - 2 sum_{j,k} e^{-|x_j - y_k|/tau} for the spike times x of neuron i in ``a`` and y in
    ``b``, clipped at 0 against rounding.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, van_rossum_distance
    >>> a = SpikeTrains(np.array([10., 20., 30.]), np.array([0, 0, 0]), 2, 2, 100.0)
    >>> b = SpikeTrains(np.array([12., 24., 30., 50.]), np.array([0, 0, 0, 1]), 2, 2, 100.0)
    >>> van_rossum_distance(a, b, tau=10.0).round(6).tolist()    # neuron 1: one spike vs none
    [0.983968, 1.0]
    """
    if not (np.isfinite(tau) and tau > 0):
        raise ConfigError(f"tau = {tau}: allowed a finite time constant > 0 ms")
    (x, nx), (y, ny) = _pair_windows(a, b, t_start, t_stop)
    d2 = np.zeros(x.shape[0])
    for rows, xg, yg in _count_groups(x, nx, y, ny):
        d2[rows] = _kernel_sum(xg, xg, tau) + _kernel_sum(yg, yg, tau) - 2.0 * _kernel_sum(xg, yg, tau)
    return np.sqrt(np.maximum(d2, 0.0))


def victor_purpura_distance(a, b, q: float = 0.2, t_start: float = 0.0,
                            t_stop: float | None = None) -> np.ndarray:
    """Per-neuron Victor-Purpura (1996) distance D^spike[q] between two rasters of the same
    network, as Elephant's ``victor_purpura_distance``.

    The least total cost of turning neuron i's train in ``a`` into its train in ``b`` by
    deleting or inserting spikes (cost 1 each) and shifting spikes by dt (cost q |dt|).

    Parameters
    ----------
    a, b : SimulationResult or SpikeTrains
        Two rasters with equal n_neurons.
    q : float
        Cost per ms of shifting a spike (1/ms), >= 0 and finite: shifts longer than 2 / q ms
        cost more than deleting and inserting. q = 0 gives the difference of the counts.
    t_start, t_stop : float
        The window (ms); t_stop defaults to the earlier end of the two.

    Returns
    -------
    ndarray of float64, shape (N,)
        Dimensionless costs; 0 for identical trains.

    Raises
    ------
    ConfigError
        q negative or not finite; different n_neurons; a bad window.

    Notes
    -----
    The dynamic programme of Victor & Purpura (1996), G[j, k] = min(G[j-1, k] + 1,
    G[j, k-1] + 1, G[j-1, k-1] + q |x_j - y_k|) with G[j, 0] = j, G[0, k] = k, runs for all
    neurons at once, one spike of ``a`` (row j) at a time; within a row the insertions are a
    running minimum, G[j, k] = k + min_{k' <= k} (T[k'] - k') for T the deletion and shift
    candidates. Rows and columns past a neuron's own counts are padding that no entry read
    for the answer G[n_x, n_y] depends on.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, victor_purpura_distance
    >>> a = SpikeTrains(np.array([10., 20., 30.]), np.array([0, 0, 0]), 2, 2, 100.0)
    >>> b = SpikeTrains(np.array([12., 24., 30., 50.]), np.array([0, 0, 0, 1]), 2, 2, 100.0)
    >>> victor_purpura_distance(a, b, q=0.1).round(12).tolist()   # shifts of 2 and 4 ms; 1 insertion
    [0.6, 1.0]
    """
    if not (np.isfinite(q) and q >= 0):
        raise ConfigError(f"q = {q}: allowed a finite cost >= 0 per ms")
    (x, nx), (y, ny) = _pair_windows(a, b, t_start, t_stop)
    out = np.zeros(x.shape[0])
    for rows, xg, yg in _count_groups(x, nx, y, ny):
        out[rows] = _victor_purpura(xg, nx[rows], yg, ny[rows], q)
    return out


def _victor_purpura(x, nx, y, ny, q):
    """The dynamic programme of :func:`victor_purpura_distance` on padded (n, Lx), (n, Ly)."""
    n, ly = y.shape
    cols = np.arange(ly + 1, dtype=float)
    g = np.tile(cols, (n, 1))                     # row j = 0: k insertions
    out = g[np.arange(n), ny].copy()              # neurons with no spike in a
    for j in range(1, x.shape[1] + 1):
        shift = np.nan_to_num(q * np.abs(x[:, j - 1, None] - y), nan=0.0)   # padding: finite
        candidates = np.empty_like(g)
        candidates[:, 0] = j
        candidates[:, 1:] = np.minimum(g[:, 1:] + 1.0, g[:, :-1] + shift)
        g = cols + np.minimum.accumulate(candidates - cols, axis=1)
        done = nx == j
        out[done] = g[done, ny[done]]
    return out


def _binned_counts(data, bin_ms, t_start, t_stop, population="all", per_neuron=False):
    """Spike counts in bins of ``bin_ms`` over [t_start, t_stop): (edges, counts) with counts of
    shape (n_bins,) for the population or (n_members, n_bins) per neuron. A window that is not
    a whole number of bins drops the last partial bin."""
    neurons, times_ms, length, ids = _select(data, t_start, t_stop, population)
    if not bin_ms > 0:
        raise ConfigError(f"bin_ms = {bin_ms}: allowed > 0 ms")
    n_bins = int(np.floor(length / bin_ms + 1e-9))
    if n_bins < 1:
        raise ConfigError(f"bin_ms = {bin_ms}: allowed <= the window length {length} ms")
    edges = t_start + bin_ms * np.arange(n_bins + 1)
    b = np.floor((times_ms - t_start) / bin_ms + 1e-9).astype(np.int64)
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

    Parameters
    ----------
    data : SimulationResult or SpikeTrains
    bin_ms : float
        Bin width (ms), > 0 and at most the window's length.
    t_start, t_stop : float
        The window, as in :func:`firing_rates`.
    population : {'all', 'E', 'I'}
        All neurons, the excitatory or the inhibitory ones.
    smooth_ms : float, optional
        Standard deviation of the Gaussian kernel (ms); None or 0: no smoothing.

    Returns
    -------
    centres : ndarray of float64, shape (n_bins,)
        Bin centres (ms).
    rate : ndarray of float64, shape (n_bins,)
        Hz per neuron.

    Raises
    ------
    ConfigError
        A bad window, ``bin_ms`` or ``population``.

    Notes
    -----
    n_bins = floor((t_stop - t_start) / bin_ms); r_b = 1000 n_b / (M bin_ms) with n_b the
    population's spikes in bin b and M its number of neurons; the smoothing is
    ``gaussian_filter1d(r, smooth_ms / bin_ms, mode='reflect')``.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, population_rate
    >>> s = SpikeTrains(np.array([10., 20., 30., 45., 5., 25.]), np.array([0, 0, 0, 0, 1, 1]), 3, 2, 100.0)
    >>> centres, rate = population_rate(s, bin_ms=25.0, population="E")
    >>> centres.tolist(), rate.tolist()              # 3 spikes / (2 neurons * 25 ms)
    ([12.5, 37.5, 62.5, 87.5], [60.0, 60.0, 0.0, 0.0])
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
    (population variance, ddof = 0). 1 for independent Poisson neurons; NaN if silent or
    when the window holds fewer than 2 bins (one bin has no variance to measure).

    Parameters
    ----------
    data, bin_ms, t_start, t_stop, population
        As in :func:`population_rate` (``bin_ms`` defaults to 10 ms here).

    Returns
    -------
    float
        Dimensionless; NaN when the population has no spike in the window.

    Raises
    ------
    ConfigError
        As :func:`population_rate` raises it.

    Notes
    -----
    With n_b the population's spike count in bin b = 1 .. B and m = (1/B) sum_b n_b:
    F = ((1/B) sum_b (n_b - m)^2) / m.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, fano_factor
    >>> t = np.array([10., 20., 30., 45., 5., 25.])    # counts 3, 3, 0, 0: variance 2.25, mean 1.5
    >>> fano_factor(SpikeTrains(t, np.array([0, 0, 0, 0, 1, 1]), 3, 2, 100.0), bin_ms=25.0)
    1.5
    """
    _, counts = _binned_counts(data, bin_ms, t_start, t_stop, population)
    m = counts.mean()
    return float(counts.var() / m) if m > 0 and counts.size > 1 else float("nan")


def synchrony_chi(data, bin_ms: float = 1.0, smooth_ms: float = 5.0, t_start: float = 0.0,
                  t_stop: float | None = None, population: str = "all") -> float:
    """Synchrony measure chi (Golomb 2007) of smoothed spike trains.

    chi^2 = Var_t(mean_i s_i(t)) / mean_i Var_t(s_i(t)), where s_i is neuron i's spike count
    in bins of ``bin_ms`` smoothed by a Gaussian of SD ``smooth_ms``. chi = 1 for identical
    trains, about 1/sqrt(N) for independent ones. Neurons with no spikes contribute zero
    variance; NaN if all are silent.

    Parameters
    ----------
    data, bin_ms, t_start, t_stop, population
        As in :func:`population_rate`.
    smooth_ms : float
        Standard deviation of the Gaussian kernel (ms); 0: no smoothing.

    Returns
    -------
    float
        chi, dimensionless, in [0, 1]; NaN when every neuron's smoothed count is constant.

    Raises
    ------
    ConfigError
        A bad window, ``bin_ms`` or ``population`` (as in :func:`population_rate`).

    Notes
    -----
    s_i = ``gaussian_filter1d(n_i, smooth_ms / bin_ms, mode='reflect')`` of neuron i's counts
    n_i(t_b); with Var_t the variance over bins (ddof = 0) and the means over all M neurons of
    the population (silent ones included):
    chi = sqrt(Var_t((1/M) sum_i s_i) / ((1/M) sum_i Var_t(s_i))).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, synchrony_chi
    >>> t = np.array([3.0, 11.0, 14.0, 37.0, 52.0, 58.0, 81.0])
    >>> twins = SpikeTrains(np.r_[t, t], np.r_[np.zeros(7, int), np.ones(7, int)], 2, 2, 100.0)
    >>> synchrony_chi(twins)                         # two identical trains
    1.0
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
    default, as NetworkUnit) for ``n_pairs`` pairs of distinct neurons drawn with
    ``numpy.random.default_rng(seed)`` among those whose count varies over the window's bins.
    Each pair (i, j), i != j, is drawn uniformly and with replacement (a pair may repeat).
    Returns the coefficients (empty if fewer than 2 neurons qualify).

    Parameters
    ----------
    data, bin_ms, t_start, t_stop, population
        As in :func:`population_rate` (``bin_ms`` defaults to 2 ms here).
    n_pairs : int
        Number of pairs drawn.
    seed : int
        Seed of the pair sample.

    Returns
    -------
    ndarray of float64, shape (n_pairs,) or (0,)
        Dimensionless, in [-1, 1].

    Raises
    ------
    ConfigError
        As for :func:`population_rate`.

    Notes
    -----
    Neurons with Var_t(n_i) > 0 (count n_i(t_b) in bin b) qualify; of A such neurons, pair
    k takes i_k uniform in 0 .. A-1 and j_k = (i_k + u_k) mod A with u_k uniform in 1 .. A-1.
    With centred counts x = n_i - mean_t(n_i), y = n_j - mean_t(n_j):
    r = sum_b x_b y_b / sqrt(sum_b x_b^2 sum_b y_b^2).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, count_correlations
    >>> t = np.array([3.0, 11.0, 14.0, 37.0, 52.0, 58.0, 81.0])
    >>> twins = SpikeTrains(np.tile(t, 2), np.repeat([0, 1], 7), 2, 2, 100.0)
    >>> count_correlations(twins, n_pairs=3).tolist()
    [1.0, 1.0, 1.0]
    """
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
    removed). Returns (frequencies in Hz, PSD in Hz^2/Hz).

    Parameters
    ----------
    data, bin_ms, t_start, t_stop, population
        As in :func:`population_rate` (unsmoothed); the sampling rate is 1000 / bin_ms Hz.
    nperseg : int
        Welch segment length in bins (at most the number of bins).

    Returns
    -------
    frequencies : ndarray of float64
        Hz, 0 .. the Nyquist frequency 500 / bin_ms.
    psd : ndarray of float64
        Hz^2/Hz.

    Raises
    ------
    ConfigError
        Arguments that :func:`population_rate` refuses.

    Notes
    -----
    ``scipy.signal.welch(r, fs=1000 / bin_ms, nperseg=min(nperseg, len(r)),
    detrend='constant')`` of the population rate r (Hz): Hann windows, half overlap.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains, rate_spectrum
    >>> tonic = SpikeTrains(np.arange(0.0, 1000.0, 50.0), np.zeros(20, int), 1, 1, 1000.0)
    >>> f, psd = rate_spectrum(tonic, nperseg=1000)     # one spike every 50 ms
    >>> float(f[1:][np.argmax(psd[1:])])
    20.0
    """
    from scipy.signal import welch
    _, rate = population_rate(data, bin_ms, t_start, t_stop, population)
    fs = 1000.0 / bin_ms
    return welch(rate, fs=fs, nperseg=min(nperseg, rate.size), detrend="constant")


def statistics(data, t_start: float = 0.0, t_stop: float | None = None, seed: int = 0) -> dict:
    """The summary statistics refsim compares runs by, as a JSON-able dict: mean rates of E and
    I (Hz), mean CV, CV2 and LV (over neurons with >= 3 spikes), Fano factor (10 ms bins),
    synchrony chi (1 ms bins, 5 ms smoothing), mean pairwise count correlation (2 ms bins,
    1000 pairs) and the peak frequency of the population-rate spectrum (Hz).

    Parameters
    ----------
    data, t_start, t_stop
        As in :func:`firing_rates`.
    seed : int
        Seed of the correlation pair sample (:func:`count_correlations`).

    Returns
    -------
    dict of str to float
        ``rate_e_hz``, ``rate_i_hz`` (means of :func:`firing_rates` over E and I, Hz; NaN for
        an empty population), ``cv_isi``, ``cv2``, ``lv`` (means of :func:`isi_cv`,
        :func:`cv2`, :func:`lv` over the neurons where they are defined), ``fano``
        (:func:`fano_factor`, 10 ms bins), ``chi`` (:func:`synchrony_chi`, 1 ms bins, 5 ms
        smoothing), ``corr`` (mean of :func:`count_correlations`, 2 ms bins, 1000 pairs) and
        ``peak_hz`` (the frequency of the largest non-zero-frequency value of
        :func:`rate_spectrum`, 1 ms bins, Hz). NaN where undefined, including a statistic
        whose bins are longer than the window (``fano`` below 10 ms, ``corr`` below 2 ms).

    Raises
    ------
    ConfigError
        A bad window.

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
    rates = firing_rates(s, t_start, t_stop)  # also checks the window
    length = (s.t_stop_ms if t_stop is None else t_stop) - t_start
    nanmean = lambda a: float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")  # noqa: E731
    nan = float("nan")
    f, p = rate_spectrum(s, 1.0, t_start, t_stop) if length >= 1.0 else (np.zeros(0), np.zeros(0))
    # a statistic whose bins do not fit in the window is undefined (NaN), not an error
    return {
        "rate_e_hz": float(rates[:s.n_exc].mean()) if s.n_exc else nan,
        "rate_i_hz": float(rates[s.n_exc:].mean()) if s.n_neurons > s.n_exc else nan,
        "cv_isi": nanmean(isi_cv(s, t_start, t_stop)), "cv2": nanmean(cv2(s, t_start, t_stop)),
        "lv": nanmean(lv(s, t_start, t_stop)),
        "fano": fano_factor(s, 10.0, t_start, t_stop) if length >= 10.0 else nan,
        "chi": synchrony_chi(s, 1.0, 5.0, t_start, t_stop) if length >= 1.0 else nan,
        "corr": nanmean(count_correlations(s, 2.0, 1000, seed, t_start, t_stop)) if length >= 2.0 else nan,
        "peak_hz": float(f[1:][np.argmax(p[1:])]) if f.size > 1 else nan,
    }
