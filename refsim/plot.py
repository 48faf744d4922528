"""Figures of a run (matplotlib, Agg backend: no screen needed).

Each function draws into ``ax`` (or a new figure) and, given ``path``, writes a PNG atomically.
Excitatory neurons are drawn in one colour and inhibitory in another throughout.
"""

from __future__ import annotations

import numpy as np

from .analysis import (
    as_spike_trains,
    count_correlations,
    firing_rates,
    isi_cv,
    isis,
    population_rate,
    rate_spectrum,
)
from .io import atomic_write
from .params import ConfigError

__all__ = ["raster", "rate_plot", "histograms", "comparison_figure", "spectrum", "benchmark_figure",
           "benchmark_comparison_figure", "verdict_figure"]

E_COLOR, I_COLOR = "#1f4e9a", "#c0392b"


def _pyplot():
    """matplotlib.pyplot on the Agg backend (no screen needed). Imported on first use: it
    takes half a second, which ``import refsim`` and the CLI should not pay."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _figure(ax, figsize):
    if ax is None:
        return _pyplot().subplots(figsize=figsize)
    return None, ax


def _save(fig, path):
    """Write ``fig`` to ``path`` (PNG, atomically) and close it; nothing when either is None."""
    if path is not None and fig is not None:
        fig.tight_layout()
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
        _pyplot().close(fig)


def raster(result, path=None, ax=None, title=None):
    """The tutorial's raster: one dot per spike, time (ms) against neuron index, E and I coloured.

    Writes ``path`` (PNG) when given; returns the matplotlib Axes.

    Parameters
    ----------
    result : SimulationResult or SpikeTrains
    path : str or os.PathLike, optional
        PNG written atomically (only when the figure is new, i.e. ``ax`` is None).
    ax : matplotlib.axes.Axes, optional
        Draw into it instead of a new 8 x 5 inch figure.
    title : str, optional
        Default: the spike count.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains
    >>> s = SpikeTrains(np.array([10., 20., 30., 45., 5., 25.]), np.array([0, 0, 0, 0, 1, 1]),
    ...                 n_neurons=3, n_exc=2, t_stop_ms=100.0)
    >>> from refsim.plot import raster
    >>> ax = raster(s)
    >>> ax.get_xlabel(), ax.get_title(), [float(x) for x in ax.get_xlim()]
    ('Time (ms)', 'COBA E/I network: 6 spikes', [0.0, 100.0])
    """
    s = as_spike_trains(result)
    fig, ax = _figure(ax, (8, 5))
    exc = s.neurons < s.n_exc
    for mask, color, label in ((exc, E_COLOR, "E"), (~exc, I_COLOR, "I")):
        # plot() with markers draws 1e5 dots ~1.5x faster than scatter(), the same picture
        ax.plot(s.times_ms[mask], s.neurons[mask], ls="none", marker=".", ms=1, mew=0,
                color=color, label=label)
    ax.set_xlabel("Time (ms)")
    ax.set_ylabel("Neuron index")
    ax.set_xlim(0, s.t_stop_ms)
    ax.set_ylim(-0.5, s.n_neurons - 0.5)
    ax.set_title(title or f"COBA E/I network: {s.times_ms.size} spikes")
    _save(fig, path)
    return ax


def rate_plot(result, path=None, ax=None, bin_ms=1.0, smooth_ms=2.0):
    """Population rate of E and I (Hz per neuron), binned and Gaussian-smoothed.

    Parameters
    ----------
    result, path, ax
        As for :func:`raster` (a new figure is 8 x 3 inches here).
    bin_ms, smooth_ms : float
        Bin width and Gaussian SD (ms) of :func:`refsim.analysis.population_rate`.

    Returns
    -------
    matplotlib.axes.Axes
        One line per population, labelled 'E' and 'I'.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains
    >>> from refsim.plot import rate_plot
    >>> s = SpikeTrains(np.array([10., 20., 30., 45., 5., 25.]), np.array([0, 0, 0, 0, 1, 1]), 3, 2, 100.0)
    >>> ax = rate_plot(s, bin_ms=10.0)
    >>> ax.get_ylabel(), [line.get_label() for line in ax.get_lines()]
    ('Rate (Hz)', ['E', 'I'])
    """
    fig, ax = _figure(ax, (8, 3))
    for pop, color in (("E", E_COLOR), ("I", I_COLOR)):
        t, r = population_rate(result, bin_ms, population=pop, smooth_ms=smooth_ms)
        ax.plot(t, r, color=color, lw=0.8, label=pop)
    ax.set_xlabel("Time (ms)")
    ax.set_ylabel("Rate (Hz)")
    ax.legend(frameon=False)
    _save(fig, path)
    return ax


def histograms(result, path=None, t_start=0.0, seed=0):
    """Histograms of per-neuron rates, ISI CVs and pairwise count correlations.

    Parameters
    ----------
    result : SimulationResult or SpikeTrains
    path : str or os.PathLike, optional
        PNG written atomically.
    t_start : float
        Start of the window (ms).
    seed : int
        Seed of the correlation pair sample.

    Returns
    -------
    ndarray of matplotlib.axes.Axes
        The three panels.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> s = refsim.analysis.SpikeTrains(np.array([10., 20., 30., 45., 5., 25.]),
    ...                                 np.array([0, 0, 0, 0, 1, 1]), n_neurons=3, n_exc=2,
    ...                                 t_stop_ms=100.0)
    >>> [ax.get_xlabel() for ax in refsim.plot.histograms(s)]
    ['Rate (Hz)', 'ISI CV', 'Count correlation (2 ms)']
    """
    return comparison_figure(result, None, path, labels=("",), t_start=t_start, seed=seed)


def comparison_figure(a, b, path=None, labels=("A", "B"), t_start=0.0, seed=0):
    """Rate, CV and correlation distributions of ``a`` (and ``b`` if given) side by side.

    Parameters
    ----------
    a, b : SimulationResult or SpikeTrains
        ``b`` may be None.
    path : str or os.PathLike, optional
        PNG written atomically; without it the figure is closed and only the axes returned.
    labels : tuple of str
        Legend labels of ``a`` and ``b``.
    t_start : float
        Start of the window (ms).
    seed : int
        Seed of the correlation pair samples.

    Returns
    -------
    ndarray of matplotlib.axes.Axes
        The three panels: rates (Hz), ISI CVs and count correlations (2 ms bins), as
        density histograms on common bins.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim import analysis, plot
    >>> t, i = np.array([10., 20., 30., 45., 5., 25.]), np.array([0, 0, 0, 0, 1, 1])
    >>> a, b = analysis.SpikeTrains(t, i, 3, 2, 100.0), analysis.SpikeTrains(t + 1.0, i, 3, 2, 100.0)
    >>> len(plot.comparison_figure(a, b, labels=("a", "b")))
    3
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    runs = [(a, labels[0], "#333333")] + ([(b, labels[1], "#e67e22")] if b is not None else [])
    stats = []
    for data, label, color in runs:
        cv = isi_cv(data, t_start)
        stats.append((firing_rates(data, t_start), cv[np.isfinite(cv)],
                      count_correlations(data, 2.0, 1000, seed, t_start), label, color))
    for k, name in enumerate(("Rate (Hz)", "ISI CV", "Count correlation (2 ms)")):
        values = [s[k] for s in stats if s[k].size]
        if not values:
            continue
        bins = np.histogram_bin_edges(np.concatenate(values), bins=40)
        for s in stats:
            if s[k].size:
                axes[k].hist(s[k], bins=bins, histtype="step", color=s[4], label=s[3] or None,
                             density=True)
        axes[k].set_xlabel(name)
    axes[0].set_ylabel("Density")
    if b is not None:
        axes[0].legend(frameon=False)
    if path is not None:
        _save(fig, path)
    else:
        plt.close(fig)
    return axes


# -- the Vogels-Abbott benchmark figure (PyNN's examples/VAbenchmarks, VAbenchmark_graphs.py) --

#: Width of the ISI histogram's bins in ln(ISI / ms), as PyNN's VAbenchmark_graphs.py: each
#: bin is e^0.2 = 1.22 times wider than the previous one.
ISI_LOG_BIN = 0.2
#: Width of the ISI-CV histogram's bins (PyNN: 0.1).
CV_BIN = 0.1
#: The fewest bins of an ISI or CV histogram whose values span a narrow range.
HIST_MIN_BINS = 20
#: The raster shows every k-th neuron, k the smallest that leaves at most this many: more
#: rows than the panel has pixel rows draw as a uniform smear.
RASTER_MAX_NEURONS = 1000
_ALL_COLOR = "#333333"
_POP_NAME = {"E": "excitatory", "I": "inhibitory", "all": "all neurons"}
_NO_TRACES = ("no membrane-potential traces in this data\n(refsim.simulate(..., record=[0, 1], "
              "record_vars=('V',)) records them)")


def _pop_color(pop):
    return {"E": E_COLOR, "I": I_COLOR}.get(pop, _ALL_COLOR)


def _tint(color, amount):
    """``color`` mixed with white (``amount`` 0: unchanged, 1: white), as an RGB tuple."""
    from matplotlib.colors import to_rgb
    return tuple(c + (1.0 - c) * amount for c in to_rgb(color))


def _note(ax, text):
    """Say ``text`` in the middle of an empty panel."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9,
            color="0.35", wrap=True)


def _members(s, pop):
    return {"E": s.n_exc, "I": s.n_neurons - s.n_exc}.get(pop, s.n_neurons)


def _isi_by_population(data, t_start):
    """ISIs (ms) in [t_start, end) of the E and of the I neurons: {'E': isi, 'I': isi}."""
    return {pop: isis(data, t_start, population=pop) for pop in ("E", "I")}


def _isi_edges(isis):
    """Log-spaced edges over every ISI of ``isis`` (a list of arrays): bins ISI_LOG_BIN wide in
    ln(ISI / ms) as PyNN's, narrower (at least HIST_MIN_BINS bins) when the ISIs span a narrow
    range, as in a regular network. ISIs of 0 ms (two spikes of one neuron at one time) fall
    in the first bin."""
    values = np.concatenate([np.zeros(0)] + list(isis))
    positive = values[values > 0]
    if positive.size == 0:
        return np.exp(ISI_LOG_BIN * np.arange(0, 36))    # 1 ms .. 1.1 s: an empty histogram
    lo, hi = np.log(positive.min()), np.log(positive.max())
    width = min(ISI_LOG_BIN, (hi - lo) / HIST_MIN_BINS) or ISI_LOG_BIN
    k_lo, k_hi = int(np.floor(lo / width)), int(np.floor(hi / width)) + 1
    edges = np.exp(width * np.arange(k_lo, k_hi + 1))
    edges[0] = min(edges[0], positive.min())            # rounding of exp(log(x)) never drops x
    edges[-1] = max(edges[-1], positive.max())
    return edges


def _cv_edges(cvs):
    """Edges 0, CV_BIN, ... up to 2 or the largest CV of ``cvs`` (a list of arrays); when every
    CV is below 0.5 (a regular network), HIST_MIN_BINS bins up to 1.1 times the largest."""
    values = np.concatenate([np.zeros(0)] + list(cvs))
    largest = float(values.max()) if values.size else 0.0
    if 0 < largest < 0.5:
        return np.linspace(0.0, 1.1 * largest, HIST_MIN_BINS + 1)
    top = max(2.0, largest)
    n = int(np.ceil(top / CV_BIN - 1e-9))
    edges = CV_BIN * np.arange(n + 1)
    edges[-1] = max(edges[-1], top)
    return edges


def _cv_by_population(data, t_start):
    s = as_spike_trains(data)
    cv = isi_cv(data, t_start)
    return {"E": cv[:s.n_exc][np.isfinite(cv[:s.n_exc])], "I": cv[s.n_exc:][np.isfinite(cv[s.n_exc:])]}


def _hist_panel(ax, runs, pop, values, edges, xlabel, ylabel, log_x):
    """Histogram of ``values[r][pop]`` for each run r on common ``edges``: the first run
    filled, the second as a dashed outline."""
    color = _pop_color(pop)
    drawn = 0
    for r, (_, label, style) in enumerate(runs):
        x = values[r][pop]
        if x.size == 0:
            continue
        counts, _ = np.histogram(np.maximum(x, edges[0]), edges)
        fill = r == 0
        ax.stairs(counts, edges, fill=fill, facecolor=_tint(color, 0.6) if fill else "none",
                  edgecolor=color, linestyle=style, lw=1.2, label=label or None)
        drawn += 1
    if log_x:
        from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter
        ax.set_xscale("log")
        narrow = edges[-1] / edges[0] < 10      # no decade inside: plain numbers, few ticks
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if not narrow else "auto",
                                              numticks=6 if narrow else 10))
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{_POP_NAME[pop].capitalize()} ({pop})", color=color, fontsize=10)
    if drawn == 0:
        _note(ax, f"no {_POP_NAME[pop]} data in the window")
    elif len(runs) > 1:
        ax.legend(frameon=False, fontsize=8)


def _raster_panel(ax, data, t_start, t_stop):
    s = as_spike_trains(data)
    step = max(1, int(np.ceil(s.n_neurons / RASTER_MAX_NEURONS)))
    keep = (s.times_ms >= t_start) & (s.times_ms < s.t_stop_ms) & (s.neurons % step == 0)
    exc = s.neurons < s.n_exc
    for mask, color, pop in ((keep & exc, E_COLOR, "E"), (keep & ~exc, I_COLOR, "I")):
        # plot() with markers draws 1e5 dots ~1.5x faster than scatter(), the same picture
        ax.plot(s.times_ms[mask], s.neurons[mask], ls="none", marker=".",
                ms=2.0 if step > 1 or s.n_neurons > 200 else 3.0, mew=0, color=color, label=pop)
    if s.n_exc < s.n_neurons:
        ax.axhline(s.n_exc - 0.5, color="0.6", lw=0.5)
    ax.set_xlim(t_start, t_stop)
    ax.set_ylim(-0.5, s.n_neurons - 0.5)
    ax.set_xlabel("Time (ms)")
    ax.set_ylabel("Neuron index")
    n = int(((s.times_ms >= t_start) & (s.times_ms < s.t_stop_ms)).sum())
    shown = f", every {step}th neuron shown" if step > 1 else ""
    ax.set_title(f"Raster: {n} spikes{shown}", fontsize=10)
    ax.legend(loc="upper right", frameon=True, framealpha=0.85, markerscale=6, fontsize=8,
              ncols=2, handletextpad=0.2)


def _rate_panel(ax, data, t_start, t_stop):
    for pop in ("E", "I"):
        if _members(as_spike_trains(data), pop) == 0:
            continue
        t, r = population_rate(data, 1.0, t_start, population=pop, smooth_ms=2.0)
        ax.plot(t, r, color=_pop_color(pop), lw=0.8, label=pop)
    ax.set_xlim(t_start, t_stop)
    ax.set_xlabel("Time (ms)")
    ax.set_ylabel("Rate (Hz)")
    ax.set_title("Population rate (1 ms bins, 2 ms Gaussian smoothing)", fontsize=10)
    ax.legend(loc="upper right", frameon=False, fontsize=8, ncols=2)


def _check_traces(data, traces):
    """The columns of ``data.traces['V']`` to draw: those of the neurons ``traces`` (default:
    the first two recorded). Empty when there are none; ConfigError for neurons not traced."""
    v = getattr(data, "traces", {}).get("V")
    recorded = np.asarray(getattr(data, "record_neurons", np.zeros(0, np.int64)))
    if v is None or recorded.size == 0:
        if traces is not None and len(traces):
            raise ConfigError(f"traces = {list(traces)}: allowed none; this data has no V traces")
        return []
    if traces is None:
        return list(range(min(2, recorded.size)))
    where = {int(n): k for k, n in enumerate(recorded)}
    missing = [int(n) for n in traces if int(n) not in where]
    if missing:
        raise ConfigError(f"traces = {list(traces)}: allowed neurons whose V was recorded, "
                          f"{recorded.tolist()}; not {missing}")
    return [where[int(n)] for n in traces]


def _trace_panel(ax, data, t_start, t_stop, columns):
    """V (mV) of the traced neurons against time (ms): the state after step k at (k + 1) dt,
    each spike a tick from V_th up 10 mV at its step's end (the trace shows the reset)."""
    if not columns:
        _note(ax, _NO_TRACES)
        ax.set_xlim(t_start, t_stop)
        ax.set_xlabel("Time (ms)")
        ax.set_ylabel("V (mV)")
        ax.tick_params(labelleft=False)   # not set_yticks([]): a shared axis would lose them too
        ax.set_title("Membrane potential", fontsize=10)
        return
    cfg, s = data.config, as_spike_trains(data)
    v = data.traces["V"]
    t = (np.arange(v.shape[0]) + 1) * cfg.dt
    rows = t >= t_start
    per_pop = {}
    for k in columns:
        neuron = int(data.record_neurons[k])
        pop = "E" if neuron < cfg.n_exc else "I"
        color = _tint(_pop_color(pop), 0.5 * (per_pop.get(pop, 0) % 2))
        per_pop[pop] = per_pop.get(pop, 0) + 1
        ax.plot(t[rows], v[rows, k], color=color, lw=0.8, label=f"neuron {neuron} ({pop})")
        spikes = s.times_ms[(s.neurons == neuron) & (s.times_ms >= t_start)] + cfg.dt
        ax.vlines(spikes, cfg.V_th, cfg.V_th + 10.0, color=color, lw=0.8)
    ax.hlines(cfg.V_th, t_start, t_stop, color="0.5", lw=0.6, linestyles="dotted")
    ax.set_xlim(t_start, t_stop)
    ax.set_xlabel("Time (ms)")
    ax.set_ylabel("V (mV)")
    ax.set_title(f"Membrane potential (spikes drawn as ticks above V_th = {cfg.V_th:g} mV)",
                 fontsize=10)
    ax.legend(loc="lower right", frameon=True, framealpha=0.85, fontsize=8, ncols=len(columns))


def _spectrum_lines(ax, data, t_start, populations, style="-", label=""):
    drawn = []
    for pop in populations:
        if _members(as_spike_trains(data), pop) == 0:
            continue
        f, psd = rate_spectrum(data, 1.0, t_start, population=pop)
        ok = (f > 0) & (psd > 0)
        if ok.any():
            name = f"{label}: {pop}" if label else pop
            ax.plot(f[ok], psd[ok], color=_pop_color(pop), ls=style, lw=1.0, label=name)
            drawn.append(pop)
    return drawn


def _spectrum_axes(ax, drawn):
    ax.set_yscale("log")
    ax.set_xlim(0, None)
    ax.set_xlabel("Frequency (Hz)")
    ax.set_ylabel("PSD of the rate (Hz²/Hz)")
    ax.set_title("Rate spectrum (Welch, 1 ms bins)", fontsize=10)
    if drawn:
        ax.legend(frameon=False, fontsize=8)
    else:
        _note(ax, "no spikes in the window")


def spectrum(data, path=None, ax=None, t_start=0.0, populations=("E", "I")):
    """Power spectrum of the population rate of each population, Hz²/Hz against Hz.

    :func:`refsim.analysis.rate_spectrum` (Welch, 1 ms bins, 256-bin segments, mean removed)
    of each population over [t_start, end), on a logarithmic PSD axis; the 0 Hz bin (removed
    with the mean) and empty populations are left out.

    Parameters
    ----------
    data : SimulationResult or SpikeTrains
    path : str or os.PathLike, optional
        PNG written atomically (only when the figure is new, i.e. ``ax`` is None).
    ax : matplotlib.axes.Axes, optional
        Draw into it instead of a new 6 x 4 inch figure.
    t_start : float
        Start of the window (ms).
    populations : sequence of {'E', 'I', 'all'}
        One line each, E in ``E_COLOR``, I in ``I_COLOR``, all in dark grey.

    Returns
    -------
    matplotlib.axes.Axes
        One line per population, labelled with its name.

    Raises
    ------
    ConfigError
        A bad window or population (:func:`refsim.analysis.rate_spectrum`).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.analysis import SpikeTrains
    >>> from refsim.plot import spectrum
    >>> rng = np.random.default_rng(0)
    >>> s = SpikeTrains(rng.uniform(0, 1000, 400), rng.integers(0, 10, 400), 10, 8, 1000.0)
    >>> ax = spectrum(s)
    >>> ax.get_xlabel(), ax.get_ylabel(), [line.get_label() for line in ax.get_lines()]
    ('Frequency (Hz)', 'PSD of the rate (Hz²/Hz)', ['E', 'I'])
    """
    fig, ax = _figure(ax, (6, 4))
    _spectrum_axes(ax, _spectrum_lines(ax, data, t_start, populations))
    _save(fig, path)
    return ax


def _benchmark(runs, path, t_start, title, columns):
    """The benchmark figure of one run or two (``runs``: (data, label, linestyle) each;
    ``columns``: the trace columns of each); see :func:`benchmark_comparison_figure`."""
    plt = _pyplot()
    two = len(runs) == 2
    fig = plt.figure(figsize=(15.5, 12.5) if two else (10, 12.5))
    grid = fig.add_gridspec(5, 6, height_ratios=[1.0, 1.7, 0.8, 1.05, 1.05])
    trains = [as_spike_trains(data) for data, _, _ in runs]
    t_stop = max(s.t_stop_ms for s in trains)
    axes = {"traces": [], "raster": [], "rate": []}
    for r, (data, label, _) in enumerate(runs):
        cols = slice(3 * r, 3 * r + 3) if two else slice(0, 6)
        ax_v, ax_raster, ax_rate = (fig.add_subplot(grid[row, cols]) for row in range(3))
        if r:   # the same limits as the first column, row by row
            for ax, first in zip((ax_v, ax_raster, ax_rate), (axes[k][0] for k in axes), strict=True):
                ax.sharex(first)
                ax.sharey(first)
        _trace_panel(ax_v, data, t_start, t_stop, columns[r])
        _raster_panel(ax_raster, data, t_start, t_stop)
        _rate_panel(ax_rate, data, t_start, t_stop)
        if two:
            ax_v.set_title(f"{label}\n{ax_v.get_title()}", fontsize=10)
        for k, ax in zip(axes, (ax_v, ax_raster, ax_rate), strict=True):
            axes[k].append(ax)
    isis = [_isi_by_population(data, t_start) for data, _, _ in runs]
    cvs = [_cv_by_population(data, t_start) for data, _, _ in runs]
    isi_edges = _isi_edges([d[p] for d in isis for p in ("E", "I")])
    cv_edges = _cv_edges([d[p] for d in cvs for p in ("E", "I")])
    for j, pop in enumerate(("E", "I")):
        cols = slice(2 * j, 2 * j + 2)
        axes[f"isi_{pop}"] = ax = fig.add_subplot(grid[3, cols])
        _hist_panel(ax, runs, pop, isis, isi_edges, "Inter-spike interval (ms)", "ISIs per bin",
                    log_x=True)
        axes[f"cv_{pop}"] = ax = fig.add_subplot(grid[4, cols])
        _hist_panel(ax, runs, pop, cvs, cv_edges, "ISI CV (SD / mean of a neuron's ISIs)",
                    "Neurons per bin", log_x=False)
    axes["spectrum"] = ax = fig.add_subplot(grid[3:5, 4:6])
    drawn = []
    for data, label, style in runs:
        drawn += _spectrum_lines(ax, data, t_start, ("E", "I"), style, label if two else "")
    _spectrum_axes(ax, drawn)
    if title is None:
        s = trains[0]
        title = (f"COBA E/I network, {s.n_exc} E + {s.n_neurons - s.n_exc} I neurons, "
                 f"[{t_start:g}, {t_stop:g}) ms")
    fig.suptitle(title, fontsize=12)
    out = {k: (tuple(v) if two else v[0]) if isinstance(v, list) else v for k, v in axes.items()}
    if path is not None:
        _save(fig, path)
    else:
        plt.close(fig)
    return out


def benchmark_figure(result, path=None, t_start=0.0, title=None, traces=None):
    """The Vogels-Abbott benchmark figure, laid out as PyNN's ``VAbenchmark_graphs.py``.

    Top to bottom: the membrane potential of two neurons, the raster of E and I, the
    population rate, then the ISI histograms (log-binned, as PyNN: bins e^0.2 wide in ISI) of
    E and of I above the histograms of the per-neuron ISI CV of E and of I, and the
    population-rate power spectrum of E and I beside them (:func:`spectrum`). All statistics
    use the window [t_start, end); excitatory is ``E_COLOR`` and inhibitory ``I_COLOR`` in
    every panel.

    Parameters
    ----------
    result : SimulationResult or SpikeTrains
        Data without V traces (a SpikeTrains, or a run without ``record``) get a note in the
        traces panel instead, so that every figure has the same panels.
    path : str or os.PathLike, optional
        PNG written atomically (10 x 12.5 inches, 120 dpi); without it the figure is closed
        and only the axes returned.
    t_start : float
        Start of the window (ms), e.g. 200 to drop the initial transient.
    title : str, optional
        The figure's title; default: the network's size and the window.
    traces : sequence of int, optional
        The neurons (network indices) whose V is drawn, all recorded ones; default the first
        two of ``result.record_neurons``.

    Returns
    -------
    dict of str to matplotlib.axes.Axes
        ``traces``, ``raster``, ``rate``, ``isi_E``, ``isi_I``, ``cv_E``, ``cv_I``,
        ``spectrum``.

    Raises
    ------
    ConfigError
        ``traces`` naming neurons whose V was not recorded; a bad window.

    Notes
    -----
    The traces are V after each step, drawn at the step's end time (k + 1) dt; V of a neuron
    that fires is reset in the same step, so each spike is drawn as a tick above V_th (the
    dotted line) at that time, as PyNN draws "fake action potentials". The raster shows every
    neuron up to ``RASTER_MAX_NEURONS`` neurons, else every k-th neuron (k in its title). The
    ISI histogram counts every ISI of the window (:func:`refsim.analysis.isi_cv`'s ISIs); the
    CV histogram every neuron with at least 3 spikes in it.

    Examples
    --------
    >>> import refsim
    >>> run = refsim.simulate(refsim.get_preset("tutorial-normalized", n_exc=40, n_inh=10,
    ...                                         duration=100.0), seed=0, engine="numpy",
    ...                       progress=False, record=[0, 45], record_vars=("V",))
    >>> axes = refsim.plot.benchmark_figure(run)
    >>> sorted(axes)
    ['cv_E', 'cv_I', 'isi_E', 'isi_I', 'raster', 'rate', 'spectrum', 'traces']
    >>> [line.get_label() for line in axes["traces"].get_lines()]
    ['neuron 0 (E)', 'neuron 45 (I)']
    >>> axes["isi_E"].get_xlabel(), axes["spectrum"].get_xlabel()
    ('Inter-spike interval (ms)', 'Frequency (Hz)')
    """
    return _benchmark([(result, "", "-")], path, t_start, title, [_check_traces(result, traces)])


def benchmark_comparison_figure(a, b, path=None, labels=("A", "B"), t_start=0.0):
    """The panels of :func:`benchmark_figure` for two runs, to compare them.

    The time series (V traces, raster, population rate) are side by side, ``a`` left and
    ``b`` right, each row with the same time and value limits in both columns: overlaid they
    would hide each other (two rasters of 1e5 dots, two noisy rates). The distributions
    (ISI and ISI-CV histograms, on common bins) and the spectra are overlaid in one panel per
    population, ``a`` filled or solid and ``b`` dashed: differences of shape or position are
    read there directly, not by matching ticks across columns. Colours still mean the
    population (``E_COLOR``, ``I_COLOR``) everywhere, the line style the run.

    Parameters
    ----------
    a, b : SimulationResult or SpikeTrains
        E.g. another simulator's spikes (:func:`refsim.compare.load_spikes`) and a refsim
        run; either may lack V traces (its traces panel then says so).
    path : str or os.PathLike, optional
        PNG written atomically (15.5 x 12.5 inches, 120 dpi); without it the figure is closed
        and only the axes returned.
    labels : tuple of str
        Names of ``a`` and ``b``: column titles and legend entries.
    t_start : float
        Start of the window (ms).

    Returns
    -------
    dict of str to Axes or tuple of Axes
        ``traces``, ``raster``, ``rate``: (axes of ``a``, axes of ``b``), sharing x and y
        limits; ``isi_E``, ``isi_I``, ``cv_E``, ``cv_I``, ``spectrum``: one Axes each.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim import analysis, plot
    >>> rng = np.random.default_rng(0)
    >>> t, i = rng.uniform(0, 500, 300), rng.integers(0, 10, 300)
    >>> a, b = analysis.SpikeTrains(t, i, 10, 8, 500.0), analysis.SpikeTrains(t / 2, i, 10, 8, 500.0)
    >>> axes = plot.benchmark_comparison_figure(a, b, labels=("a", "b"))
    >>> [ax.get_title().splitlines()[0] for ax in axes["traces"]]
    ['a', 'b']
    >>> [p.get_label() for p in axes["isi_E"].patches]
    ['a', 'b']
    """
    columns = [_check_traces(a, None), _check_traces(b, None)]
    return _benchmark([(a, labels[0], "-"), (b, labels[1], "--")], path, t_start, None, columns)


#: -log10 p beyond this is drawn at it (a p of 0, or 1e-30, would stretch the axis).
VERDICT_MAX_LOG10 = 8.0


def verdict_figure(verdict, path=None, ax=None):
    """Every test of a :class:`refsim.validate.Verdict`: -log10 of its Holm-adjusted p-value
    (the decision: filled, one row per statistic, against the dashed line of ``alpha``) and of
    its unadjusted p-value (open circle: how unusual the value is on its own).

    A filled dot right of the dashed line is a failed test (red); tests that could not be run
    (too few reference seeds define them) are grey and drawn at 0. p-values below
    10^-VERDICT_MAX_LOG10 are drawn at that bound, marked with a '>' sign.

    Parameters
    ----------
    verdict : refsim.validate.Verdict
    path : str or os.PathLike, optional
        PNG written atomically (when ``ax`` is None).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Its y tick labels are the tests' names, top to bottom.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from refsim.plot import verdict_figure
    >>> v = SimpleNamespace(alpha=0.05, consistent=False, tests=[
    ...     {"name": "E.mean.rate", "p": 0.25, "p_holm": 0.5, "passed": True},
    ...     {"name": "I.mean.cv", "p": 5e-13, "p_holm": 1e-12, "passed": False}])
    >>> ax = verdict_figure(v)
    >>> [t.get_text() for t in ax.get_yticklabels()], bool(ax.get_xlim()[1] >= 8)
    (['E.mean.rate', 'I.mean.cv'], True)
    """
    tests = list(verdict.tests)
    fig, ax = _figure(ax, (7.5, 1.4 + 0.17 * len(tests)))
    y = np.arange(len(tests))[::-1]

    def scale(key):
        p = np.array([t[key] for t in tests], float)
        with np.errstate(divide="ignore"):
            return p, np.where(np.isfinite(p), -np.log10(np.maximum(p, 10.0 ** -VERDICT_MAX_LOG10)), 0.0)

    p, x = scale("p_holm")
    _, raw = scale("p")
    colors = [("0.6" if not np.isfinite(pi) else "#c0392b" if not t["passed"] else "#1f7a3a")
              for t, pi in zip(tests, p, strict=True)]
    ax.hlines(y, 0, x, colors=colors, lw=2.0)
    ax.scatter(raw, y, facecolors="none", edgecolors=colors, s=18, zorder=3, label="unadjusted p")
    ax.scatter(x, y, c=colors, s=14, zorder=4, label="Holm-adjusted p (the decision)")
    for xi, yi, pi in zip(x, y, p, strict=True):
        if np.isfinite(pi) and pi < 10.0 ** -VERDICT_MAX_LOG10:
            ax.text(xi + 0.1, yi, ">", va="center", fontsize=8, color="#c0392b")
    limit = -np.log10(verdict.alpha)
    ax.axvline(limit, color="0.3", ls="--", lw=0.8, label=f"alpha = {verdict.alpha:g}")
    ax.set_yticks(y, [t["name"] for t in tests], fontsize=7)
    ax.set_ylim(-0.7, len(tests) - 0.3)
    top = float(max(x.max(initial=0), raw.max(initial=0)))
    ax.set_xlim(0, max(VERDICT_MAX_LOG10 if (x > limit).any() else 2 * limit, top + 0.5))
    ax.set_xlabel("-log10 p")
    n_failed = sum(not t["passed"] for t in tests)
    ax.set_title(("CONSISTENT" if verdict.consistent else "INCONSISTENT")
                 + f": {n_failed} of {len(tests)} tests fail (family-wise alpha {verdict.alpha:g}, Holm)",
                 fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.9 / (1.4 + 0.17 * len(tests))),
              frameon=False, fontsize=8, ncols=3)
    _save(fig, path)
    return ax
