"""Hypothesis properties on small random networks and parameters."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import refsim
from refsim.state import initial_state

small = st.fixed_dictionaries({
    "n_exc": st.integers(2, 30), "n_inh": st.integers(1, 10),
    "p_conn": st.floats(0.05, 0.5), "RI_ext": st.floats(0.0, 40.0),
    "w_e": st.floats(0.0, 1.0), "w_i": st.floats(0.0, 5.0),
    "preset": st.sampled_from(refsim.preset_names()),
})


def make(d, **kw):
    d = dict(d)
    return refsim.get_preset(d.pop("preset"), duration=30.0, **d, **kw)


@given(small, st.integers(0, 2**31 - 1))
def test_same_seed_bit_identical_and_finite(d, seed):
    cfg = make(d)
    a = refsim.simulate(cfg, seed=seed, progress=False)
    b = refsim.simulate(cfg, seed=seed, progress=False)
    np.testing.assert_array_equal(a.spike_steps, b.spike_steps)
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    for name in ("V", "g_e", "g_i"):
        assert np.array_equal(a.final_state[name], b.final_state[name])
        assert np.all(np.isfinite(a.final_state[name]))


@given(small, st.integers(0, 1000))
def test_spike_count_bounded_by_refractory_period(d, seed):
    """At most one spike per tau_ref + dt per neuron (+1 for the first)."""
    cfg = make(d)
    r = refsim.simulate(cfg, seed=seed, progress=False)
    bound = int(cfg.duration / (cfg.tau_ref + cfg.dt)) + 1
    assert r.spike_counts().max(initial=0) <= bound


@given(small, st.integers(0, 1000))
def test_zero_weights_every_neuron_follows_the_single_neuron_solution(d, seed):
    """With w = 0 neurons are independent: simulating each alone gives the same spikes."""
    cfg = make({**d, "w_e": 0.0, "w_i": 0.0})
    r = refsim.simulate(cfg, seed=seed, record=[0], progress=False)
    _, init = refsim.network_inputs(cfg, seed)
    alone = refsim.simulate(cfg.replace(n_exc=1, n_inh=0), seed=seed,
                            initial={"V": init["V"][:1], "g_e": init["g_e"][:1], "g_i": init["g_i"][:1]},
                            record=[0], progress=False)
    np.testing.assert_array_equal(r.traces["V"], alone.traces["V"])


@given(small, st.integers(0, 1000), st.randoms(use_true_random=False))
def test_relabelling_neurons_permutes_the_output(d, seed, rnd):
    """Permuting neurons within E and within I, with connectivity and initial state permuted
    alike, permutes the raster."""
    cfg = make(d)
    ne, n = cfg.n_exc, cfg.n_neurons
    perm = np.r_[rnd.sample(range(ne), ne), rnd.sample(range(ne, n), n - ne)]
    r = refsim.simulate(cfg, seed=seed, progress=False)
    conn, init = refsim.network_inputs(cfg, seed)
    inv = np.argsort(perm)  # new index of old neuron i is inv[i]
    m = conn.matrix
    pm = m[perm][:, perm]  # row/col reindexing keeps each row's stored order
    conn_p = refsim.from_sparse(pm, n_exc=ne)
    rp = refsim.simulate(cfg, seed=None, connectivity=conn_p, progress=False,
                         initial={"V": init["V"][perm], "g_e": init["g_e"][perm], "g_i": init["g_i"][perm]})
    a = sorted(zip(r.spike_steps.tolist(), inv[r.spike_neurons].tolist()))
    b = sorted(zip(rp.spike_steps.tolist(), rp.spike_neurons.tolist()))
    assert a == b
