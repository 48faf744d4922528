"""Figures of a run (matplotlib, Agg backend: no screen needed).

Each function draws into ``ax`` (or a new figure) and, given ``path``, writes a PNG atomically.
Excitatory neurons are drawn in one colour and inhibitory in another throughout.
"""

from __future__ import annotations

import numpy as np

from .analysis import as_spike_trains, count_correlations, firing_rates, isi_cv, population_rate
from .io import atomic_write

__all__ = ["raster", "rate_plot", "histograms", "comparison_figure"]

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
