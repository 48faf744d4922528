"""Connectivity as data: one N x N ``scipy.sparse`` CSR matrix, rows presynaptic, columns postsynaptic.

Each *stored entry* of the matrix is a group of synapses from its row to its column, and its
value counts them (1 for every entry that the built-in rules make). Duplicate entries are kept
in their stored order and are separate synapses: BrainPy's fixed-out-degree rule draws targets
with replacement, and its synaptic scatter walks each row's targets in the order drawn, so the
stored order is part of the network (it fixes the float32 summation order).

Rows 0 .. n_exc-1 are the excitatory projection, rows n_exc .. N-1 the inhibitory one.

Rules
-----
``fixed_out_degree``
    every presynaptic neuron gets k = int(p_conn * N) targets drawn uniformly from all N,
    with replacement when ``multapses`` (BrainPy's ``EventFixedProb``) or without.
    With ``conn_rng='numpy-legacy'`` the draw is BrainPy 2.9's, bit for bit:
    ``rs = np.random.RandomState(seed); rs.randint(0, N, (n_exc, k)); rs.randint(0, N, (n_inh, k))``.
``fixed_in_degree``
    every postsynaptic neuron gets int(p_conn * n_exc) excitatory and int(p_conn * n_inh)
    inhibitory sources.
``bernoulli``
    every ordered pair (i, j) is connected independently with probability p_conn.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .io import atomic_write, read_connectivity
from .params import INDEX_LIMIT, Config, ConfigError

__all__ = [
    "Connectivity", "build_connectivity", "from_index_arrays", "from_sparse",
    "load_connectivity",
]

_INDEX = np.int32  # 2**31 synapses is far beyond the networks refsim is meant for
#: The most synapses one entry may count: every count is exact in the run's float type
#: (float32 holds the integers up to 2**24 exactly).
MAX_COUNT = 2**24


class Connectivity:
    """The network's synapses: an N x N CSR matrix of synapse counts and the E/I split.

    Parameters
    ----------
    matrix : scipy.sparse matrix or array
        N x N, rows presynaptic, columns postsynaptic, non-negative integer entries counting
        synapses. Converted to CSR *without* summing duplicates.
    n_exc : int
        Rows ``0 .. n_exc-1`` are excitatory, the rest inhibitory.

    Attributes
    ----------
    indptr, indices, counts : ndarray
        The CSR arrays (int32, int32, float64): the synapses of presynaptic neuron ``i`` go to
        ``indices[indptr[i]:indptr[i+1]]``, ``counts`` synapses per entry.
    n_neurons, n_exc : int
        N and the number of excitatory rows.

    Raises
    ------
    ConfigError
        Not a square matrix, ``n_exc`` outside 0 .. N, entries that are not non-negative
        integers, or more than 2**31 - 1 entries or neurons.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim import Connectivity
    >>> conn = Connectivity(np.array([[0, 2, 0], [1, 0, 1], [0, 1, 0]]), n_exc=2)
    >>> conn
    <Connectivity: 3 neurons (2 E), 5 synapses>
    >>> conn.indptr.tolist(), conn.indices.tolist(), conn.counts.tolist()
    ([0, 1, 3, 4], [1, 0, 2, 1], [2.0, 1.0, 1.0, 1.0])
    """

    def __init__(self, matrix, n_exc: int):
        try:
            m = sp.csr_matrix(matrix)  # keeps duplicates and their order
        except (TypeError, ValueError, OverflowError) as e:
            raise ConfigError(f"connectivity matrix = {type(matrix).__name__}: allowed an N x N "
                              f"matrix of synapse counts ({e})") from None
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ConfigError(f"connectivity shape = {m.shape}: allowed a square N x N matrix")
        n = m.shape[0]
        if isinstance(n_exc, bool) or not isinstance(n_exc, (int, np.integer)) or not 0 <= n_exc <= n:
            raise ConfigError(f"n_exc = {n_exc!r}: allowed an int, 0 <= n_exc <= N = {n}")
        if not (np.issubdtype(m.dtype, np.integer) or np.issubdtype(m.dtype, np.floating)
                or m.dtype == np.bool_):
            raise ConfigError(f"connectivity dtype = {m.dtype}: allowed a real number type "
                              "(synapse counts)")
        if m.nnz > INDEX_LIMIT or n > INDEX_LIMIT:
            raise ConfigError(f"connectivity entries = {m.nnz}, N = {n}: allowed fewer than "
                              "2**31 (indices are int32)")
        counts = np.asarray(m.data, dtype=np.float64)
        if counts.size and (not np.all(np.isfinite(counts)) or counts.min() < 0
                            or counts.max() > MAX_COUNT or np.any(counts != np.round(counts))):
            big = f"; largest {counts.max():g}" if np.all(np.isfinite(counts)) else ""
            raise ConfigError(f"connectivity entries{big}: allowed integers 0 .. 2**24 = "
                              f"{MAX_COUNT} (synapse counts, exact in float32)")
        if m.indices.size and (m.indices.min() < 0 or m.indices.max() >= n):
            raise ConfigError(f"connectivity column indices: allowed 0 .. {n - 1}")
        self.n_neurons = n
        self.n_exc = int(n_exc)
        self.indptr = np.ascontiguousarray(m.indptr, dtype=_INDEX)
        self.indices = np.ascontiguousarray(m.indices, dtype=_INDEX)
        self.counts = np.ascontiguousarray(counts)

    # -- views ---------------------------------------------------------------------------
    @property
    def matrix(self) -> sp.csr_matrix:
        """The CSR matrix (duplicates kept).

        Returns
        -------
        scipy.sparse.csr_matrix
            N x N, float64 synapse counts, rows presynaptic (a new matrix on the stored arrays).

        Examples
        --------
        >>> import numpy as np, refsim
        >>> conn = refsim.Connectivity(np.array([[0, 2], [1, 0]]), n_exc=1)
        >>> conn.matrix.toarray().tolist()
        [[0.0, 2.0], [1.0, 0.0]]
        """
        return sp.csr_matrix((self.counts, self.indices, self.indptr),
                             shape=(self.n_neurons, self.n_neurons))

    @property
    def n_synapses(self) -> int:
        """Total number of synapses (sum of the counts).

        Returns
        -------
        int
            At least the number of stored entries (an entry may count several synapses).

        Examples
        --------
        >>> import numpy as np, refsim
        >>> conn = refsim.Connectivity(np.array([[0, 2], [1, 0]]), n_exc=1)
        >>> conn.n_synapses, conn.indices.size          # 3 synapses in 2 stored entries
        (3, 2)
        """
        return int(self.counts.sum())

    def out_degree(self) -> np.ndarray:
        """Synapses per presynaptic neuron, shape (N,).

        Returns
        -------
        ndarray of float64, shape (N,)
            Row sums of :attr:`matrix`: the synapses each neuron makes.

        Examples
        --------
        >>> import numpy as np
        >>> from refsim import Connectivity
        >>> Connectivity(np.array([[0, 2, 0], [1, 0, 1], [0, 1, 0]]), n_exc=2).out_degree().tolist()
        [2.0, 2.0, 1.0]
        """
        out = np.zeros(self.n_neurons)
        starts, stops = self.indptr[:-1], self.indptr[1:]
        nonempty = starts < stops  # reduceat over the non-empty rows' starts sums each row
        if self.counts.size:
            out[nonempty] = np.add.reduceat(self.counts, starts[nonempty])
        return out

    def in_degree(self) -> np.ndarray:
        """Synapses onto each postsynaptic neuron, shape (N,).

        Returns
        -------
        ndarray of float64, shape (N,)
            The column sums of :attr:`matrix`.

        Examples
        --------
        >>> import numpy as np, refsim
        >>> conn = refsim.Connectivity(np.array([[0, 2, 0], [1, 0, 1], [0, 1, 0]]), n_exc=2)
        >>> conn.in_degree().tolist()
        [1.0, 3.0, 1.0]
        """
        return np.bincount(self.indices, weights=self.counts, minlength=self.n_neurons)

    def __repr__(self):
        return (f"<Connectivity: {self.n_neurons} neurons ({self.n_exc} E), "
                f"{self.n_synapses} synapses>")

    def __eq__(self, other):
        return (isinstance(other, Connectivity) and self.n_exc == other.n_exc
                and self.n_neurons == other.n_neurons
                and np.array_equal(self.indptr, other.indptr)
                and np.array_equal(self.indices, other.indices)
                and np.array_equal(self.counts, other.counts))

    # -- files ---------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the matrix with ``scipy.sparse.save_npz`` (duplicates and order kept),
        atomically; any file name works (no ``.npz`` is appended).

        The E/I split is not stored: give ``n_exc`` to :func:`load_connectivity`.

        Parameters
        ----------
        path : str or os.PathLike

        Examples
        --------
        >>> import os, tempfile, numpy as np, refsim
        >>> conn = refsim.Connectivity(np.array([[0, 2], [1, 0]]), n_exc=1)
        >>> path = os.path.join(tempfile.mkdtemp(), "conn.npz")
        >>> conn.save(path)
        >>> refsim.load_connectivity(path, n_exc=1) == conn
        True
        """
        def write(tmp):
            with open(tmp, "wb") as f:
                sp.save_npz(f, self.matrix, compressed=True)
        atomic_write(path, write)


def check_matches(conn: Connectivity, config: Config) -> Connectivity:
    """Return ``conn`` if its N and n_exc are the configuration's, else raise ConfigError.

    Parameters
    ----------
    conn : Connectivity
    config : Config

    Returns
    -------
    Connectivity
        ``conn`` itself.

    Raises
    ------
    ConfigError
        N or n_exc differ from the configuration's.
    """
    if conn.n_neurons != config.n_neurons or conn.n_exc != config.n_exc:
        raise ConfigError(
            f"connectivity has N = {conn.n_neurons} (n_exc = {conn.n_exc}): allowed "
            f"N = {config.n_neurons}, n_exc = {config.n_exc} as in the configuration")
    return conn


def from_index_arrays(targets_e, targets_i, n_neurons: int | None = None) -> Connectivity:
    """Connectivity from fixed-out-degree target arrays (another simulator's exact network).

    Parameters
    ----------
    targets_e : array_like of int, shape (n_exc, k_e)
        ``targets_e[i]`` lists the postsynaptic targets of excitatory neuron ``i`` in the
        order they are visited; repeated targets are separate synapses.
    targets_i : array_like of int, shape (n_inh, k_i)
        The same for inhibitory neuron ``n_exc + i``.
    n_neurons : int, optional
        N; defaults to ``n_exc + n_inh``.

    Returns
    -------
    Connectivity
        ``n_exc`` = the rows of ``targets_e``; each row's targets in the order given.

    Raises
    ------
    ConfigError
        Arrays that are not 2-D integer arrays, targets outside 0 .. N-1, a row count other
        than N, or 2**31 synapses or more.

    Examples
    --------
    >>> import numpy as np, refsim
    >>> conn = refsim.from_index_arrays([[1, 1], [2, 0]], [[0, 1]])  # neuron 0 -> 1 twice
    >>> conn.in_degree().tolist(), conn.n_exc
    ([2.0, 3.0, 1.0], 2)
    """
    try:
        te, ti = np.asarray(targets_e), np.asarray(targets_i)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"targets_e, targets_i: allowed 2-D integer arrays ({e})") from None
    for name, a in (("targets_e", te), ("targets_i", ti)):
        if a.ndim != 2:
            raise ConfigError(f"{name} shape = {a.shape}: allowed (n_pre, k)")
        # an empty array may have come out of a float default (np.zeros((n, 0)))
        if not (np.issubdtype(a.dtype, np.integer)
                or a.size == 0 and np.issubdtype(a.dtype, np.floating)):
            raise ConfigError(f"{name} dtype = {a.dtype}: allowed an integer type")
    te, ti = te.astype(np.int64, copy=False), ti.astype(np.int64, copy=False)
    n = te.shape[0] + ti.shape[0] if n_neurons is None else int(n_neurons)
    if te.size + ti.size > INDEX_LIMIT:
        raise ConfigError(f"targets_e, targets_i: {te.size + ti.size} synapses: allowed fewer "
                          "than 2**31 (indices are int32)")
    for name, a in (("targets_e", te), ("targets_i", ti)):
        if a.size and (a.min() < 0 or a.max() >= n):
            raise ConfigError(f"{name} values: allowed 0 .. {n - 1}")
    if te.shape[0] + ti.shape[0] != n:
        raise ConfigError(f"targets_e and targets_i have {te.shape[0] + ti.shape[0]} rows: allowed N = {n}")
    degrees = np.r_[np.full(te.shape[0], te.shape[1]), np.full(ti.shape[0], ti.shape[1])]
    indptr = np.r_[0, np.cumsum(degrees)].astype(np.int64)
    indices = np.concatenate([te.ravel(), ti.ravel()]).astype(_INDEX)
    m = sp.csr_matrix((np.ones(indices.size), indices, indptr), shape=(n, n))
    return Connectivity(m, n_exc=te.shape[0])


def from_sparse(matrix, n_exc: int) -> Connectivity:
    """Connectivity from any scipy.sparse matrix/array (COO, CSR, ...) of synapse counts.

    Parameters
    ----------
    matrix : scipy.sparse matrix or array
        N x N, rows presynaptic, columns postsynaptic; duplicates are kept as separate entries.
    n_exc : int
        Rows 0 .. n_exc-1 are excitatory.

    Returns
    -------
    Connectivity
        The matrix's entries as synapse counts (duplicates kept).

    Raises
    ------
    ConfigError
        Not a scipy.sparse matrix, or as :class:`Connectivity`.

    Examples
    --------
    >>> import scipy.sparse as sp, refsim
    >>> m = sp.coo_matrix(([1, 1], ([0, 1], [1, 0])), shape=(2, 2))    # 0 -> 1 and 1 -> 0
    >>> refsim.from_sparse(m, n_exc=1)
    <Connectivity: 2 neurons (1 E), 2 synapses>
    """
    if not sp.issparse(matrix):
        raise ConfigError(f"matrix type = {type(matrix).__name__}: allowed a scipy.sparse matrix or array")
    return Connectivity(matrix, n_exc)


def build_connectivity(config: Config, seed: int | np.random.SeedSequence) -> Connectivity:
    """Draw the network's connectivity by ``config.conn_rule`` (see the module docstring).

    With ``conn_rng='numpy-legacy'`` the generator is ``np.random.RandomState(seed)`` (seed
    must then be an int), which reproduces BrainPy 2.9's ``EventFixedProb``; otherwise a
    ``numpy.random.Generator`` (PCG64) seeded from ``seed``.

    Parameters
    ----------
    config : Config
        ``conn_rule``, ``p_conn``, ``autapses``, ``multapses``, ``conn_rng``, N and n_exc.
    seed : int or numpy.random.SeedSequence
        The connectivity's stream: :func:`refsim.network.seeds` says which one a run's seed
        means.

    Returns
    -------
    Connectivity
        N x N synapse counts, rows presynaptic, the first ``config.n_exc`` rows excitatory.

    Raises
    ------
    ConfigError
        ``seed`` is not an int when ``conn_rng='numpy-legacy'``.

    Examples
    --------
    >>> import refsim
    >>> config = refsim.get_preset("tutorial")       # BrainPy's rule: 80 targets per neuron
    >>> conn = refsim.build_connectivity(config, 0)
    >>> conn.n_synapses, int(conn.out_degree().min()), int(conn.out_degree().max())
    (320000, 80, 80)
    """
    n, ne, ni, p = config.n_neurons, config.n_exc, config.n_inh, config.p_conn
    if config.conn_rng == "numpy-legacy":
        if not isinstance(seed, (int, np.integer)):
            raise ConfigError("seed: allowed an int when conn_rng = 'numpy-legacy'")
        rs = np.random.RandomState(int(seed))
        k = int(p * n)
        return from_index_arrays(rs.randint(0, n, (ne, k)), rs.randint(0, n, (ni, k)))

    rng = np.random.default_rng(seed)
    rule = config.conn_rule
    if rule == "fixed_out_degree":
        k = int(p * n)
        targets = _draw_fixed(rng, n_rows=n, k=k, n_choices=n, multapses=config.multapses,
                              autapses=config.autapses, self_offset=0)
        return from_index_arrays(targets[:ne], targets[ne:], n)
    if rule == "fixed_in_degree":
        # draw sources per postsynaptic neuron, per population, then transpose to CSR rows = pre
        rows, cols = [], []
        for first, size in ((0, ne), (ne, ni)):
            k = int(p * size)
            src = _draw_fixed(rng, n_rows=n, k=k, n_choices=size, multapses=config.multapses,
                              autapses=config.autapses, self_offset=-first) + first
            rows.append(src.ravel())
            cols.append(np.repeat(np.arange(n), k))
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        order = np.argsort(rows, kind="stable")  # row-major, each row's targets ascending
        # built from (data, indices, indptr), not (data, (i, j)), which would sum duplicates
        indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n))]
        m = sp.csr_matrix((np.ones(rows.size), cols[order].astype(_INDEX), indptr), shape=(n, n))
        return Connectivity(m, ne)
    if rule == "bernoulli":
        # row by row so memory stays O(synapses); each row one vector of N uniforms
        indptr, chunks = [0], []
        for i in range(n):
            hit = np.flatnonzero(rng.random(n) < p)
            if not config.autapses:
                hit = hit[hit != i]
            chunks.append(hit.astype(_INDEX))
            indptr.append(indptr[-1] + hit.size)
        indices = np.concatenate(chunks) if chunks else np.zeros(0, _INDEX)
        m = sp.csr_matrix((np.ones(indices.size), indices, np.asarray(indptr)), shape=(n, n))
        return Connectivity(m, ne)
    raise ConfigError(f"conn_rule = {rule!r}")  # unreachable: Config validated it


def _draw_fixed(rng, n_rows, k, n_choices, multapses, autapses, self_offset):
    """(n_rows, k) draws from range(n_choices); row r excludes r + self_offset unless autapses."""
    if multapses:
        out = rng.integers(0, n_choices, (n_rows, k))
        if not autapses:  # redraw self-connections until none is left
            own = (np.arange(n_rows) + self_offset)[:, None]
            bad = out == own
            while bad.any():
                out[bad] = rng.integers(0, n_choices, bad.sum())
                bad = out == own
        return out
    out = np.empty((n_rows, k), dtype=np.int64)
    for r in range(n_rows):
        own = r + self_offset
        if autapses or not 0 <= own < n_choices:
            out[r] = rng.choice(n_choices, k, replace=False)
        else:  # choose among the others, then skip over the own index
            others = rng.choice(n_choices - 1, k, replace=False)
            out[r] = others + (others >= own)
    return out


def load_connectivity(path, n_exc: int | None = None, n_neurons: int | None = None) -> Connectivity:
    """Read connectivity written elsewhere.

    Two formats are accepted (both ``.npz``, read with ``allow_pickle=False`` by
    :func:`refsim.io.read_connectivity`):

    * a ``scipy.sparse.save_npz`` file (CSR, CSC or COO) of the N x N
      presynaptic-by-postsynaptic matrix of synapse counts (``n_exc`` must then be given);
    * an ``.npz`` with integer arrays ``targets_e`` (n_exc, k_e) and ``targets_i`` (n_inh, k_i)
      of fixed-out-degree targets (see :func:`from_index_arrays`).

    Parameters
    ----------
    path : str or os.PathLike
    n_exc : int, optional
        Rows 0 .. n_exc-1 are excitatory; required for a sparse-matrix file, checked for a
        targets file.
    n_neurons : int, optional
        The required N.

    Returns
    -------
    Connectivity

    Raises
    ------
    ConfigError
        Naming the file and what is wrong: unreadable, corrupted, truncated or pickled files,
        bad dtypes, shapes, index ranges or CSR structure, counts that are not non-negative
        integers, or N and the E/I split not as given.

    Examples
    --------
    >>> import os, tempfile, numpy as np, refsim
    >>> path = os.path.join(tempfile.mkdtemp(), "targets.npz")
    >>> np.savez(path, targets_e=np.array([[1, 1], [2, 0]]), targets_i=np.array([[0, 1]]))
    >>> refsim.load_connectivity(path, n_exc=2, n_neurons=3)
    <Connectivity: 3 neurons (2 E), 6 synapses>
    """
    label, kind, content = read_connectivity(path, n_neurons, n_exc)
    if kind == "targets":
        try:
            conn = from_index_arrays(*content, n_neurons)
        except ConfigError as e:
            raise ConfigError(f"{label}: {e}") from None
    else:
        if n_exc is None:
            raise ConfigError("n_exc: required to split a sparse-matrix connectivity file into E and I rows")
        conn = Connectivity(content, n_exc)
    if n_neurons is not None and conn.n_neurons != n_neurons or n_exc is not None and conn.n_exc != n_exc:
        raise ConfigError(f"{label}: N = {conn.n_neurons}, n_exc = {conn.n_exc}: allowed "
                          f"N = {n_neurons}, n_exc = {n_exc} as in the configuration")
    return conn
