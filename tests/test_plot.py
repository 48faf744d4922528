"""The figures draw what the analysis computes: histogram totals equal the counts of ISIs and
of neurons with a CV, trace lines are the recorded V, spectra are analysis.rate_spectrum, and
bad trace requests fail with the parameter named. (Reference values: the analysis functions
of refsim.analysis on the same run; each figure was also looked at, docs/validation.md.)"""
import numpy as np
import pytest

import refsim
from refsim import analysis, plot
from refsim.params import ConfigError


@pytest.fixture(scope="module")
def run():
    cfg = refsim.get_preset("tutorial-normalized", n_exc=160, n_inh=40, duration=300.0)
    return refsim.simulate(cfg, seed=1, record=[0, 170], record_vars=("V",), progress=False)


def test_benchmark_figure_panels_hold_the_analysis_numbers(run, tmp_path):
    """Each ISI histogram sums to the population's ISI count, each CV histogram to its
    neurons with a CV, the trace lines are the recorded V columns, the spectrum lines are
    rate_spectrum's PSD; the PNG is written."""
    axes = plot.benchmark_figure(run, tmp_path / "b.png", t_start=100.0)
    assert (tmp_path / "b.png").stat().st_size > 50_000
    cv = analysis.isi_cv(run, 100.0)
    for pop, members in (("E", slice(0, 160)), ("I", slice(160, 200))):
        heights = [p.get_data().values.sum() for p in axes[f"isi_{pop}"].patches]
        assert heights == [analysis.isis(run, 100.0, population=pop).size]
        heights = [p.get_data().values.sum() for p in axes[f"cv_{pop}"].patches]
        assert heights == [np.isfinite(cv[members]).sum()] and heights[0] > 20
    lines = axes["traces"].get_lines()
    rows = np.arange(run.traces["V"].shape[0]) + 1 >= 1000     # step k drawn at (k + 1) dt
    np.testing.assert_array_equal(lines[0].get_ydata(), run.traces["V"][rows, 0])
    np.testing.assert_array_equal(lines[1].get_ydata(), run.traces["V"][rows, 1])
    f, psd = analysis.rate_spectrum(run, 1.0, 100.0, population="I")
    spectrum_i = [ln for ln in axes["spectrum"].get_lines() if ln.get_label() == "I"][0]
    np.testing.assert_array_equal(spectrum_i.get_ydata(), psd[(f > 0) & (psd > 0)])


def test_comparison_figure_shares_limits_and_overlays_distributions(run):
    """Side by side time series share x and y limits; the histograms overlay both runs."""
    other = refsim.simulate(run.config, seed=2, progress=False)
    axes = plot.benchmark_comparison_figure(run, other, labels=("one", "two"))
    left, right = axes["raster"]
    assert left.get_xlim() == right.get_xlim() and left.get_ylim() == right.get_ylim()
    assert [p.get_label() for p in axes["cv_E"].patches] == ["one", "two"]
    assert "no membrane-potential traces" in axes["traces"][1].texts[0].get_text()


def test_traces_not_recorded_are_refused(run):
    """Asking to draw a neuron whose V was not recorded names the recorded ones."""
    with pytest.raises(ConfigError, match=r"traces = \[5\]: allowed neurons whose V was recorded, "
                                          r"\[0, 170\]"):
        plot.benchmark_figure(run, traces=[5])
