"""Spike-train statistics of a :class:`~refsim.SimulationResult`."""

from __future__ import annotations

import numpy as np

__all__ = ["firing_rates", "isi_cv"]


def _window(result, t_start, t_stop):
    t_stop = result.duration_done if t_stop is None else t_stop
    if not 0 <= t_start < t_stop:
        raise ValueError(f"t_start = {t_start}, t_stop = {t_stop}: allowed 0 <= t_start < t_stop (ms)")
    t = result.spike_times
    keep = (t >= t_start) & (t < t_stop)
    return result.spike_neurons[keep], t[keep], t_stop - t_start


def firing_rates(result, t_start: float = 0.0, t_stop: float | None = None) -> np.ndarray:
    """Per-neuron firing rate in Hz over [t_start, t_stop) ms.

    rate_i = (number of spikes of neuron i in the window) / (t_stop - t_start) * 1000.
    ``t_stop`` defaults to the end of the simulated time.
    """
    neurons, _, length = _window(result, t_start, t_stop)
    return np.bincount(neurons, minlength=result.config.n_neurons) * (1000.0 / length)


def isi_cv(result, t_start: float = 0.0, t_stop: float | None = None) -> np.ndarray:
    """Per-neuron coefficient of variation of the inter-spike intervals.

    CV_i = std(ISI_i) / mean(ISI_i), population standard deviation (ddof = 0), as
    ``scipy.stats.variation`` and Elephant's ``cv`` define it. NaN for neurons with fewer than
    3 spikes (fewer than 2 intervals). A perfectly regular train has CV 0, a Poisson train 1.
    """
    neurons, t, _ = _window(result, t_start, t_stop)
    n = result.config.n_neurons
    order = np.lexsort((t, neurons))  # by neuron, then time
    neurons, t = neurons[order], t[order]
    isi = np.diff(t)
    same = neurons[1:] == neurons[:-1]
    isi, owner = isi[same], neurons[1:][same]
    count = np.bincount(owner, minlength=n).astype(float)
    s1 = np.bincount(owner, weights=isi, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / count
        var = np.bincount(owner, weights=(isi - mean[owner]) ** 2, minlength=n) / count
        cv = np.sqrt(var) / mean
    cv[count < 2] = np.nan
    return cv
