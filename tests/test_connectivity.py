"""Connectivity rules, import and files."""
import numpy as np
import pytest
import scipy.sparse as sp

import refsim
from refsim import ConfigError
from refsim.testing import tolerance


def test_brainpy_rule_equals_legacy_numpy_draw_and_out_degree_80():
    """docs/model.md (connectivity): np.random.seed(s); randint(0, 4000, (3200, 80));
    randint(..., (800, 80))."""
    conn = refsim.build_connectivity(refsim.get_preset("tutorial"), 7)
    np.random.seed(7)
    te = np.random.randint(0, 4000, (3200, 80))
    ti = np.random.randint(0, 4000, (800, 80))
    np.testing.assert_array_equal(conn.indices, np.concatenate([te.ravel(), ti.ravel()]))
    np.testing.assert_array_equal(conn.out_degree(), np.full(4000, 80.0))


def test_bernoulli_edge_count_within_5_sigma():
    """N^2 Bernoulli(p) trials (autapses allowed by the preset): the count's expectation is
    p N^2 and its SD sqrt(N^2 p (1 - p)) (``sigma-bound``)."""
    cfg = refsim.get_preset("brette2007-coba", n_exc=800, n_inh=200)
    conn = refsim.build_connectivity(cfg, np.random.SeedSequence(3))
    n, p = 1000, 0.02
    assert abs(conn.n_synapses - p * n * n) < tolerance("sigma-bound") * np.sqrt(n * n * p * (1 - p))


@pytest.mark.parametrize("rule,multapses", [("fixed_out_degree", False), ("fixed_in_degree", False),
                                            ("fixed_in_degree", True)])
def test_fixed_degree_rules_without_autapses(rule, multapses):
    cfg = refsim.get_preset("tutorial-normalized", n_exc=160, n_inh=40, conn_rule=rule,
                            conn_rng="pcg64", autapses=False, multapses=multapses, p_conn=0.1)
    conn = refsim.build_connectivity(cfg, np.random.SeedSequence(1))
    m = conn.matrix.tocoo()
    assert np.count_nonzero(m.row == m.col) == 0
    if rule == "fixed_out_degree":
        np.testing.assert_array_equal(conn.out_degree(), np.full(200, 20.0))
        rows = np.repeat(np.arange(200), np.diff(conn.indptr))
        pairs = rows.astype(np.int64) * 200 + conn.indices
        assert np.unique(pairs).size == pairs.size == 200 * 20  # no multapses
    else:
        rows = np.repeat(np.arange(200), np.diff(conn.indptr))
        e_in = np.bincount(conn.indices[rows < 160], minlength=200)
        i_in = np.bincount(conn.indices[rows >= 160], minlength=200)
        np.testing.assert_array_equal(e_in, np.full(200, 16))
        np.testing.assert_array_equal(i_in, np.full(200, 4))


def test_same_seed_same_network_different_seed_different_network():
    cfg = refsim.get_preset("brette2007-coba", n_exc=80, n_inh=20)
    a = refsim.build_connectivity(cfg, np.random.SeedSequence(5))
    b = refsim.build_connectivity(cfg, np.random.SeedSequence(5))
    c = refsim.build_connectivity(cfg, np.random.SeedSequence(6))
    assert a == b and not a == c


def test_save_load_round_trip_keeps_duplicates_in_order(tmp_path):
    conn = refsim.from_index_arrays(np.array([[2, 2, 0], [1, 0, 1]]), np.array([[2, 1, 1]]))
    conn.save(tmp_path / "c.npz")
    back = refsim.load_connectivity(tmp_path / "c.npz", n_exc=2)
    assert back == conn
    np.testing.assert_array_equal(back.indices, [2, 2, 0, 1, 0, 1, 2, 1, 1])
    np.savez(tmp_path / "t.npz", targets_e=np.array([[2, 2, 0], [1, 0, 1]]), targets_i=np.array([[2, 1, 1]]))
    assert refsim.load_connectivity(tmp_path / "t.npz") == conn


def test_bad_connectivity_is_rejected_with_the_parameter_named():
    with pytest.raises(ConfigError, match="targets_e values"):
        refsim.from_index_arrays(np.array([[5]]), np.array([[0]]))
    with pytest.raises(ConfigError, match="square"):
        refsim.from_sparse(sp.csr_matrix(np.ones((2, 3))), n_exc=1)
    cfg = refsim.get_preset("tutorial", n_exc=8, n_inh=2)
    small = refsim.from_index_arrays(np.zeros((4, 1), int), np.zeros((1, 1), int))
    with pytest.raises(ConfigError, match="N = 10"):
        refsim.simulate(cfg, connectivity=small, progress=False)


def test_degrees_equal_the_matrix_sums_with_empty_rows_and_counts_above_one():
    """out_degree/in_degree are the row/column sums of the count matrix (scipy's sums are the
    reference), including empty rows (first, middle, last) and entries counting 2-3 synapses."""
    import scipy.sparse as sp
    m = sp.random(12, 12, density=0.3, random_state=3, format="csr")
    m.data = np.ceil(m.data * 3)          # counts 1..3
    m = sp.csr_matrix(m.multiply(np.r_[0, np.ones(5), 0, np.ones(4), 0][:, None]))  # rows 0, 6, 11 empty
    conn = refsim.from_sparse(m, n_exc=9)
    np.testing.assert_array_equal(conn.out_degree(), np.asarray(m.sum(axis=1)).ravel())
    np.testing.assert_array_equal(conn.in_degree(), np.asarray(m.sum(axis=0)).ravel())
    assert conn.out_degree()[[0, 6, 11]].tolist() == [0.0, 0.0, 0.0] and conn.out_degree().max() >= 3


def _counts_within_sigma_bound(counts, n_draws, p):
    """Each count of a category of probability p in n_draws draws within the sigma bound."""
    counts = np.asarray(counts, float)
    return np.all(np.abs(counts - n_draws * p) < tolerance("sigma-bound") * np.sqrt(n_draws * p * (1 - p)))


@pytest.mark.parametrize("legacy, autapses", [(True, True), (False, True), (False, False)])
def test_rules_with_multapses_draw_the_one_call_stream_in_any_chunking(monkeypatch, legacy, autapses):
    """The vectorized fixed-out-degree rule with multapses, drawn in chunks of 7 draws, equals
    the stream of one call: BrainPy's rs.randint(0, N, (n_exc, k)), rs.randint(0, N, (n_inh, k))
    for the legacy generator; rng.integers(0, N, (N, k)) and then redraws of every
    self-connection at once, until none is left, for PCG64 (refsim 0.3's rule)."""
    from refsim import connectivity
    monkeypatch.setattr(connectivity, "_CHUNK", 7)
    cfg = refsim.get_preset("tutorial", n_exc=40, n_inh=10, p_conn=0.1, autapses=autapses,
                            conn_rng="numpy-legacy" if legacy else "pcg64")
    conn = refsim.build_connectivity(cfg, 11)
    if legacy:
        rs = np.random.RandomState(11)
        expected = np.concatenate([rs.randint(0, 50, (40, 5)).ravel(), rs.randint(0, 50, (10, 5)).ravel()])
    else:
        rng = np.random.default_rng(11)
        out = rng.integers(0, 50, (50, 5))
        own = np.arange(50)[:, None]
        bad = out == own if not autapses else np.zeros_like(out, bool)
        assert autapses or bad.any()  # the redraw path runs
        while bad.any():
            out[bad] = rng.integers(0, 50, bad.sum())
            bad = out == own
        expected = out.ravel()
    np.testing.assert_array_equal(conn.indices, expected)


@pytest.mark.parametrize("autapses", [True, False])
def test_bernoulli_connects_every_allowed_pair_with_probability_p(monkeypatch, autapses):
    """4000 networks of N = 5 at p = 0.3: every allowed ordered pair's count within the sigma
    bound of 0.3 x 4000, self-pairs never without autapses, each row's targets ascending and
    distinct; and the same network whatever the chunk size (the gaps are one stream)."""
    from refsim import connectivity
    cfg = refsim.get_preset("brette2007-coba", n_exc=4, n_inh=1, p_conn=0.3, autapses=autapses)
    hits = np.zeros((5, 5))
    for seed in range(4000):
        m = refsim.build_connectivity(cfg, seed).matrix.toarray()
        hits += m
    allowed = np.ones((5, 5), bool) if autapses else ~np.eye(5, dtype=bool)
    assert np.all(hits[~allowed] == 0)
    assert _counts_within_sigma_bound(hits[allowed], 4000, 0.3)
    big = refsim.get_preset("brette2007-coba", n_exc=400, n_inh=100, autapses=autapses)
    reference = refsim.build_connectivity(big, 5)
    for row in range(500):
        targets = reference.indices[reference.indptr[row]:reference.indptr[row + 1]]
        assert np.all(np.diff(targets) > 0) and (autapses or row not in targets)
    monkeypatch.setattr(connectivity, "_CHUNK", 3)
    assert refsim.build_connectivity(big, 5) == reference


@pytest.mark.parametrize("p_conn, autapses", [(0.4, True), (0.4, False), (0.8, True), (0.8, False)])
def test_rules_without_multapses_draw_uniform_ordered_subsets(p_conn, autapses):
    """N = 5, k = int(5 p) targets without repeats: k = 2 takes the rejection branch (k**2 <= 2 m),
    k = 4 the permutation branch. Over 6000 networks each ordered k-subset of the allowed
    targets of neuron 0 is equally likely (counts within the sigma bound), and no row repeats a
    target or, without autapses, names itself."""
    from math import perm
    cfg = refsim.get_preset("brette2007-coba", n_exc=4, n_inh=1, p_conn=p_conn, autapses=autapses,
                            conn_rule="fixed_out_degree", multapses=False)
    k, m = int(5 * p_conn), 5 if autapses else 4
    if k > m:
        pytest.skip("more targets than allowed: refused by Config")
    seen = {}
    for seed in range(6000):
        conn = refsim.build_connectivity(cfg, seed)
        rows = conn.indices.reshape(5, k)
        assert all(len(set(r)) == k for r in rows)
        assert autapses or not np.any(rows == np.arange(5)[:, None])
        seen[tuple(rows[0])] = seen.get(tuple(rows[0]), 0) + 1
    assert len(seen) == perm(m, k)
    assert _counts_within_sigma_bound(list(seen.values()), 6000, 1 / perm(m, k))
