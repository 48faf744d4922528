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
