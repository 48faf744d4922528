"""Spike-train statistics against closed forms, constructed trains and invariances.

Reference values: closed forms for regular trains (CV = CV2 = LV = 0) and for Poisson
processes (CV, CV2, LV, Fano factor -> 1; the count correlation of two trains sharing a Poisson
source of rate c, each with private rate p, is c / (c + p)); tolerances are several standard
errors of the estimator at the sample size used, stated at each test and in refsim.testing's
tolerance table (``poisson-variability``, ``poisson-fano``, ``count-correlation``,
``synchrony-chi``).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refsim.analysis import (
    SpikeTrains,
    count_correlations,
    cv2,
    fano_factor,
    firing_rates,
    isi_cv,
    isis,
    lv,
    lvr,
    population_rate,
    rate_spectrum,
    statistics,
    synchrony_chi,
    van_rossum_distance,
    victor_purpura_distance,
)
from refsim.params import ConfigError
from refsim.testing import tolerance
from refsim.testing.strategies import spike_trains

REL = tolerance("rounding-relative")   # one float64 quantity along two paths
ABS = tolerance("rounding-absolute")   # float64 sums vs the count they integrate to


def poisson(rate_hz, t_stop_ms, rng):
    n = rng.poisson(rate_hz * t_stop_ms / 1000.0)
    return np.sort(rng.uniform(0.0, t_stop_ms, n))


def trains(per_neuron, t_stop_ms, n_exc=None):
    t = np.concatenate(per_neuron) if per_neuron else np.zeros(0)
    i = (np.concatenate([np.full(len(x), k) for k, x in enumerate(per_neuron)]) if per_neuron
         else np.zeros(0, int))
    n = len(per_neuron)
    return SpikeTrains(t, i, n, n if n_exc is None else n_exc, t_stop_ms)


def test_regular_train_has_zero_variability_and_its_exact_rate():
    """A spike every 10 ms over 1 s: rate 100 Hz, CV = CV2 = LV = 0 exactly."""
    s = trains([np.arange(5.0, 1000.0, 10.0)], 1000.0)
    assert firing_rates(s)[0] == 100.0
    assert isi_cv(s)[0] == 0.0 and cv2(s)[0] == 0.0 and lv(s)[0] == 0.0


def test_poisson_trains_have_unit_variability():
    """200 Poisson neurons at 20 Hz for 10 s (~200 ISIs each): the mean over neurons of CV,
    CV2 and LV is 1 within 0.03 (the SD of each mean is < 0.01, the O(1/n) bias ~0.005), and
    the Fano factor of population counts in 10 ms bins is 1 within 0.1 (SE ~0.014 over 1000
    bins)."""
    rng = np.random.default_rng(1)
    s = trains([poisson(20.0, 10_000.0, rng) for _ in range(200)], 10_000.0)
    for stat in (isi_cv, cv2, lv):
        assert abs(np.nanmean(stat(s)) - 1.0) < tolerance("poisson-variability"), stat.__name__
    assert abs(fano_factor(s, 10.0) - 1.0) < tolerance("poisson-fano")


def test_shared_source_gives_the_closed_form_count_correlation():
    """Two trains = shared Poisson(30 Hz) + private Poisson(30 Hz) each, 200 s, 2 ms bins:
    rho = 30 / (30 + 30) = 0.5 within 0.02 (SE (1 - rho^2)/sqrt(1e5 bins) ~ 0.0024)."""
    rng = np.random.default_rng(2)
    shared = poisson(30.0, 200_000.0, rng)
    s = trains([np.sort(np.r_[shared, poisson(30.0, 200_000.0, rng)]),
                np.sort(np.r_[shared, poisson(30.0, 200_000.0, rng)])], 200_000.0)
    rho = count_correlations(s, bin_ms=2.0, n_pairs=10)
    assert rho.shape == (10,) and np.all(rho == rho[0])  # the only pair, drawn 10 times
    assert abs(rho[0] - 0.5) < tolerance("count-correlation")


def test_synchrony_chi_is_one_for_identical_trains_and_about_inverse_sqrt_n_for_independent():
    """chi = 1 (to rounding) when all 50 trains are the same; for 100 independent Poisson
    trains at 20 Hz over 20 s, chi * sqrt(100) = 1 within 0.15 (chi^2 = 1/N in expectation)."""
    rng = np.random.default_rng(3)
    same = poisson(20.0, 2000.0, rng)
    assert synchrony_chi(trains([same] * 50, 2000.0)) == pytest.approx(1.0, rel=REL)
    s = trains([poisson(20.0, 20_000.0, rng) for _ in range(100)], 20_000.0)
    assert abs(synchrony_chi(s) * 10.0 - 1.0) < tolerance("synchrony-chi")


def test_population_rate_integrates_to_the_spike_count_and_smoothing_keeps_it():
    """Sum over bins of rate * bin * n / 1000 = number of spikes in the window (exact); a
    Gaussian-smoothed rate with reflecting edges keeps the total to 1e-9."""
    rng = np.random.default_rng(4)
    s = trains([poisson(15.0, 500.0, rng) for _ in range(40)], 500.0, n_exc=30)
    t, r = population_rate(s, bin_ms=2.0)
    assert t[0] == 1.0 and t.size == 250  # centres of the 2 ms bins of 500 ms
    assert np.sum(r) * 2.0 * 40 / 1000.0 == pytest.approx(s.times_ms.size, abs=ABS)
    _, rs = population_rate(s, bin_ms=2.0, smooth_ms=5.0)
    assert np.sum(rs) == pytest.approx(np.sum(r), rel=REL)
    _, re = population_rate(s, bin_ms=2.0, population="E")
    assert np.sum(re) * 2.0 * 30 / 1000.0 == pytest.approx(np.count_nonzero(s.neurons < 30), abs=ABS)


def test_rate_spectrum_peaks_at_the_modulation_frequency():
    """300 inhomogeneous Poisson neurons, rate 20 (1 + sin(2 pi 40 Hz t)) Hz, 4 s: the PSD of
    the population rate peaks at 40 Hz within the Welch resolution (1000/256 = 3.9 Hz)."""
    rng = np.random.default_rng(5)
    per = []
    for _ in range(300):
        cand = poisson(40.0, 4000.0, rng)  # thinning of a 40 Hz process
        keep = rng.uniform(0, 1, cand.size) < 0.5 * (1 + np.sin(2 * np.pi * 40.0 * cand / 1000.0))
        per.append(cand[keep])
    f, p = rate_spectrum(trains(per, 4000.0))
    assert abs(f[1:][np.argmax(p[1:])] - 40.0) <= 1000.0 / 256


def test_silent_and_sparse_neurons_give_defined_edge_values():
    """Silent population: rates 0; CV, CV2, LV NaN; Fano and chi NaN; no correlations.
    A neuron with 2 spikes has a rate but no CV (needs 3); with 3 spikes a CV but one CV2 term."""
    silent = trains([np.zeros(0), np.zeros(0)], 100.0)
    assert firing_rates(silent).tolist() == [0.0, 0.0]
    assert np.all(np.isnan(isi_cv(silent))) and np.all(np.isnan(cv2(silent))) and np.all(np.isnan(lv(silent)))
    assert np.isnan(fano_factor(silent)) and np.isnan(synchrony_chi(silent))
    assert count_correlations(silent).size == 0
    s = trains([np.array([10.0, 20.0]), np.array([10.0, 20.0, 40.0])], 100.0)
    cv = isi_cv(s)
    assert np.isnan(cv[0]) and cv[1] == pytest.approx(np.std([10, 20]) / 15.0, rel=REL)
    assert cv2(s)[1] == pytest.approx(2 * 10 / 30, rel=REL)
    assert lv(s)[1] == pytest.approx(3 * (10 / 30) ** 2, rel=REL)


def test_windows_and_bad_arguments_are_checked():
    """t_start drops earlier spikes exactly; bad windows, bins and populations raise ConfigError
    naming the parameter."""
    s = trains([np.array([50.0, 150.0, 250.0])], 300.0)
    assert firing_rates(s, t_start=100.0)[0] == 2 / 0.2
    for kwargs, name in ((dict(t_start=-1.0), "t_start"), (dict(t_start=10.0, t_stop=5.0), "t_start"),
                         (dict(t_stop=400.0), "t_stop")):
        with pytest.raises(ConfigError, match=name):
            firing_rates(s, **kwargs)
    with pytest.raises(ConfigError, match="bin_ms = 0"):
        population_rate(s, bin_ms=0)
    with pytest.raises(ConfigError, match="population = 'X'"):
        population_rate(s, population="X")
    with pytest.raises(ConfigError, match="neurons: allowed integers 0 .. 0"):
        SpikeTrains(np.array([1.0]), np.array([3]), 1, 1, 10.0)


@given(st.integers(0, 2**32 - 1), st.integers(3, 12))
def test_statistics_are_invariant_to_relabelling_neurons(seed, n):
    """Property: permuting neuron labels within E and within I permutes per-neuron statistics
    and leaves every population statistic unchanged (the correlation sample aside, which
    depends on labels through the pair draw)."""
    rng = np.random.default_rng(seed)
    per = [poisson(rng.uniform(5, 80), 400.0, rng) for _ in range(n)]
    ne = n // 2
    perm = np.r_[rng.permutation(ne), ne + rng.permutation(n - ne)]
    a = trains(per, 400.0, n_exc=ne)
    b = trains([per[k] for k in np.argsort(perm)], 400.0, n_exc=ne)  # neuron k of a is perm[k] of b
    for f in (firing_rates, isi_cv, cv2, lv):
        np.testing.assert_array_equal(f(a), f(b)[perm])
    sa, sb = statistics(a), statistics(b)
    for key in ("rate_e_hz", "rate_i_hz", "cv_isi", "cv2", "lv", "fano", "chi", "peak_hz"):
        assert sa[key] == pytest.approx(sb[key], rel=REL, nan_ok=True), key


@given(spike_trains(n_neurons=(2, 12), t_stop_ms=400.0, max_spikes=300, refractory_ms=1.0),
       st.randoms(use_true_random=False))
def test_statistics_of_any_raster_are_invariant_to_relabelling_neurons(a, rnd):
    """Property: the same for arbitrary rasters (refsim.testing.strategies.spike_trains: any
    sizes, E/I splits, spike times, silent and bursting neurons), not only Poisson ones."""
    ne, n = a.n_exc, a.n_neurons
    perm = np.array(rnd.sample(range(ne), ne) + [ne + k for k in rnd.sample(range(n - ne), n - ne)],
                    dtype=np.int64)
    b = SpikeTrains(a.times_ms, perm[a.neurons], n, ne, a.t_stop_ms)  # neuron k of a is perm[k] of b
    with np.errstate(all="ignore"):
        for f in (firing_rates, isi_cv, cv2, lv):
            np.testing.assert_array_equal(f(a), f(b)[perm])
        sa, sb = statistics(a), statistics(b)
    for key in ("rate_e_hz", "rate_i_hz", "cv_isi", "cv2", "lv", "fano", "chi", "peak_hz"):
        assert sa[key] == pytest.approx(sb[key], rel=REL, nan_ok=True), key


@given(st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_rates_scale_with_duration(seed, repeats):
    """Property: a train repeated ``repeats`` times back to back over repeats x T has the same
    per-neuron rates and CVs of its repeated intervals as over T (rates exactly)."""
    rng = np.random.default_rng(seed)
    per = [poisson(rng.uniform(5, 50), 200.0, rng) for _ in range(4)]
    a = trains(per, 200.0)
    b = trains([np.concatenate([x + 200.0 * r for r in range(repeats)]) for x in per], 200.0 * repeats)
    np.testing.assert_allclose(firing_rates(b), firing_rates(a), rtol=REL)


def _neo(times_ms, t_stop_ms):
    import neo
    import quantities as pq
    return neo.SpikeTrain(np.sort(times_ms), units="ms", t_stop=t_stop_ms * pq.ms)


def test_per_neuron_variability_agrees_with_elephant():
    """Cross-check: Elephant 1.2 (a test dependency) on the same intervals gives refsim's cv,
    cv2, lv and lvr (R = 5 ms) to rounding (``rounding-relative``), for a Poisson train and a
    bursty one (two rates), so that each statistic is away from its Poisson value too."""
    import quantities as pq
    from elephant import statistics as es
    rng = np.random.default_rng(6)
    bursty = np.sort(np.concatenate([poisson(5.0, 5000.0, rng), poisson(80.0, 500.0, rng)]))
    for x in (poisson(30.0, 5000.0, rng), bursty):
        s = trains([x], 5000.0)
        isi = np.diff(x)
        assert isi_cv(s)[0] == pytest.approx(es.cv(isi), rel=REL)
        assert cv2(s)[0] == pytest.approx(es.cv2(isi * pq.ms), rel=REL)
        assert lv(s)[0] == pytest.approx(es.lv(isi * pq.ms), rel=REL)
        assert lvr(s)[0] == pytest.approx(es.lvr(isi * pq.ms, R=5.0 * pq.ms), rel=REL)
    assert lv(s)[0] > 1.2          # the bursty train: LV well above Poisson's 1


def test_fano_factor_agrees_with_elephant():
    """Cross-check: refsim's population Fano factor over 10 ms bins is Elephant's fanofactor
    of the bins taken as trials (variance over mean of counts, ddof 0), to rounding."""
    from elephant.statistics import fanofactor
    rng = np.random.default_rng(7)
    per = [poisson(rng.uniform(5, 40), 1000.0, rng) for _ in range(20)]
    s = trains(per, 1000.0)
    times = np.concatenate(per)
    bins = [_neo(times[(times >= b) & (times < b + 10.0)] - b, 10.0) for b in np.arange(0.0, 1000.0, 10.0)]
    assert fano_factor(s, 10.0) == pytest.approx(fanofactor(bins), rel=REL)


@pytest.mark.parametrize("tau, q", [(5.0, 0.2), (20.0, 0.05)])
def test_spike_train_distances_agree_with_elephant(tau, q):
    """Cross-check: per-neuron van Rossum (Elephant's normalization: 1 for one spike against
    none) and Victor-Purpura distances equal Elephant's pairwise ones, neuron by neuron, for
    jittered copies with deletions and insertions, empty trains and unequal counts."""
    import quantities as pq
    from elephant.spike_train_dissimilarity import van_rossum_distance as vr
    from elephant.spike_train_dissimilarity import victor_purpura_distance as vp
    rng = np.random.default_rng(8)
    xs, ys = [], []
    for k in range(12):
        x = poisson(rng.uniform(10, 60), 500.0, rng) if k % 5 else np.zeros(0)
        y = x + rng.normal(0, rng.uniform(0.1, 10), x.size)
        y = np.concatenate([y[rng.random(y.size) > 0.2], rng.uniform(0, 500, rng.integers(0, 4))])
        xs.append(x)
        ys.append(np.clip(y, 0, 499.9))
    a, b = trains(xs, 500.0), trains(ys, 500.0)
    ours_vr, ours_vp = van_rossum_distance(a, b, tau), victor_purpura_distance(a, b, q)
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        pair = [_neo(x, 500.0), _neo(y, 500.0)]
        assert ours_vr[k] == pytest.approx(vr(pair, tau * pq.ms)[0, 1], rel=REL)
        assert ours_vp[k] == pytest.approx(vp(pair, q / pq.ms)[0, 1], rel=REL)
    assert np.all(ours_vp[1:5] > 0) and ours_vr[0] == 0.0      # the empty pair at k = 0


def test_distances_of_identical_rasters_are_zero_and_symmetric():
    """Metric properties: d(a, a) = 0 exactly, d(a, b) = d(b, a) to rounding."""
    rng = np.random.default_rng(9)
    a = trains([poisson(20.0, 300.0, rng) for _ in range(6)], 300.0)
    b = trains([poisson(20.0, 300.0, rng) for _ in range(6)], 300.0)
    for f in (van_rossum_distance, victor_purpura_distance):
        assert np.all(f(a, a) == 0.0)
        np.testing.assert_allclose(f(a, b), f(b, a), rtol=REL)
        assert np.all(f(a, b) > 0)


def test_distances_reject_bad_parameters():
    """Bad input: tau <= 0, q < 0 and rasters of different sizes name the parameter."""
    a = SpikeTrains(np.array([1.0]), np.array([0]), 2, 1, 10.0)
    with pytest.raises(ConfigError, match="tau = 0"):
        van_rossum_distance(a, a, tau=0.0)
    with pytest.raises(ConfigError, match="q = -1"):
        victor_purpura_distance(a, a, q=-1.0)
    with pytest.raises(ConfigError, match="n_neurons = 2 and 3"):
        van_rossum_distance(a, SpikeTrains(np.array([1.0]), np.array([0]), 3, 1, 10.0))
    with pytest.raises(ConfigError, match="R = -1"):
        lvr(a, R=-1.0)


def test_isis_split_by_population():
    """isis: the E and I ISIs partition all ISIs, and their count is spikes minus active
    neurons."""
    rng = np.random.default_rng(10)
    per = [poisson(30.0, 400.0, rng) for _ in range(8)]
    s = SpikeTrains(np.concatenate(per), np.repeat(np.arange(8), [x.size for x in per]), 8, 5, 400.0)
    e, i, both = isis(s, population="E"), isis(s, population="I"), isis(s)
    assert e.size + i.size == both.size == sum(x.size - 1 for x in per if x.size)
    np.testing.assert_array_equal(np.sort(np.concatenate([e, i])), np.sort(both))
