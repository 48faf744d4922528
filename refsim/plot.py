"""Figures of a run (matplotlib, Agg backend: no screen needed)."""

from __future__ import annotations

__all__ = ["raster"]


def raster(result, path=None, ax=None):
    """The tutorial's raster: one dot per spike, time in ms against neuron index.

    Writes ``path`` (PNG) when given; returns the matplotlib Axes.
    """
    import matplotlib
    if ax is None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 5))
    ax.scatter(result.spike_times, result.spike_neurons, s=1, color="k", linewidths=0)
    ax.set_xlabel("Time (ms)")
    ax.set_ylabel("Neuron index")
    ax.set_xlim(0, result.config.duration)
    ax.set_ylim(-0.5, result.config.n_neurons - 0.5)
    ax.set_title(f"COBA E/I network: {result.n_spikes} spikes")
    if path is not None and fig is not None:
        from .result import atomic_write
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
        plt.close(fig)
    return ax
