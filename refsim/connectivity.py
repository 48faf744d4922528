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
    with replacement when ``multapses`` (BrainPy's ``EventFixedProb``) or without (each row
    a uniformly random ordered k-subset, drawn by rejection of rows with repeats, or as the
    k smallest of N uniform keys, a random permutation's first k, where k**2 > 2 N).
    With ``conn_rng='numpy-legacy'`` the draw is BrainPy 2.9's, bit for bit:
    ``rs = np.random.RandomState(seed); rs.randint(0, N, (n_exc, k)); rs.randint(0, N, (n_inh, k))``.
``fixed_in_degree``
    every postsynaptic neuron gets int(p_conn * n_exc) excitatory and int(p_conn * n_inh)
    inhibitory sources.
``bernoulli``
    every ordered pair (i, j) is connected independently with probability p_conn: the gaps
    between successive connected pairs, numbered row by row, are drawn as Geometric(p_conn)
    (O(synapses) work and memory, not O(N**2)).

Every rule is vectorized over chunks of rows (no Python loop per neuron); besides the network's
int32 indices a build needs a chunk of draws, and ``bernoulli`` its indices once more, while
``fixed_in_degree`` transposes with 6 bytes per entry (:func:`refsim.resources.estimate_memory`).
Since 0.4.0 the ``bernoulli`` rule and the rules without multapses draw other networks for a
seed than 0.3.0 did (the same distribution: 0.3.0 drew N uniforms per row for ``bernoulli``
and called ``rng.choice`` per row without multapses); the rules with multapses draw the same
networks, bit for bit.
"""

from __future__ import annotations

import math

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
    indptr, indices : ndarray of int32
        The CSR arrays: the synapses of presynaptic neuron ``i`` go to
        ``indices[indptr[i]:indptr[i+1]]``.
    counts : ndarray of float64
        Synapses per entry (property: see :attr:`unit_counts`).
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
        self._set(n, n_exc, m.indptr, m.indices, None if np.all(counts == 1) else counts)

    def _set(self, n, n_exc, indptr, indices, counts):
        self.n_neurons = int(n)
        self.n_exc = int(n_exc)
        self.indptr = np.ascontiguousarray(indptr, dtype=_INDEX)
        self.indices = np.ascontiguousarray(indices, dtype=_INDEX)
        self._counts = None if counts is None else np.ascontiguousarray(counts, dtype=np.float64)

    @classmethod
    def _from_arrays(cls, n, n_exc, indptr, indices, counts=None) -> Connectivity:
        """Connectivity from CSR arrays the built-in rules made (valid by construction:
        indices in 0 .. N-1, indptr[0] = 0 and non-decreasing); ``counts`` None means one
        synapse per entry. Nothing is copied that is already int32 and contiguous."""
        if indices.size > INDEX_LIMIT or n > INDEX_LIMIT:
            raise ConfigError(f"connectivity entries = {indices.size}, N = {n}: allowed fewer "
                              "than 2**31 (indices are int32)")
        conn = cls.__new__(cls)
        conn._set(n, n_exc, indptr, indices, counts)
        return conn

    @property
    def unit_counts(self) -> bool:
        """True when every stored entry is one synapse (every network the built-in rules
        draw): then no per-entry counts are stored, and :attr:`counts` is made on request.

        Returns
        -------
        bool

        Examples
        --------
        >>> import numpy as np, refsim
        >>> refsim.Connectivity(np.array([[0, 1], [1, 0]]), n_exc=1).unit_counts
        True
        >>> refsim.Connectivity(np.array([[0, 2], [1, 0]]), n_exc=1).unit_counts
        False
        """
        return self._counts is None

    @property
    def counts(self) -> np.ndarray:
        """Synapses per stored entry, float64, shape (entries,).

        Returns
        -------
        ndarray of float64
            The stored counts, or a new array of ones when :attr:`unit_counts` (a network of
            N int(p N) entries then stores only its int32 indices, a third of the memory).

        Examples
        --------
        >>> import numpy as np, refsim
        >>> refsim.Connectivity(np.array([[0, 2], [1, 0]]), n_exc=1).counts.tolist()
        [2.0, 1.0]
        """
        return np.ones(self.indices.size) if self._counts is None else self._counts

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
        return int(self.indices.size if self._counts is None else self._counts.sum())

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
        if self._counts is None:
            return np.diff(self.indptr).astype(np.float64)
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
        return np.bincount(self.indices, weights=self._counts, minlength=self.n_neurons).astype(np.float64)

    def __repr__(self):
        return (f"<Connectivity: {self.n_neurons} neurons ({self.n_exc} E), "
                f"{self.n_synapses} synapses>")

    def __eq__(self, other):
        return (isinstance(other, Connectivity) and self.n_exc == other.n_exc
                and self.n_neurons == other.n_neurons
                and np.array_equal(self.indptr, other.indptr)
                and np.array_equal(self.indices, other.indices)
                and (self.unit_counts and other.unit_counts
                     or np.array_equal(self.counts, other.counts)))

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
    n = te.shape[0] + ti.shape[0] if n_neurons is None else int(n_neurons)
    if te.size + ti.size > INDEX_LIMIT:
        raise ConfigError(f"targets_e, targets_i: {te.size + ti.size} synapses: allowed fewer "
                          "than 2**31 (indices are int32)")
    for name, a in (("targets_e", te), ("targets_i", ti)):
        if a.size and (a.min() < 0 or a.max() >= n):
            raise ConfigError(f"{name} values: allowed 0 .. {n - 1}")
    if te.shape[0] + ti.shape[0] != n:
        raise ConfigError(f"targets_e and targets_i have {te.shape[0] + ti.shape[0]} rows: allowed N = {n}")
    indptr = np.r_[0, np.full(te.shape[0], te.shape[1]), np.full(ti.shape[0], ti.shape[1])]
    indices = np.concatenate([te.ravel(), ti.ravel()]).astype(_INDEX)
    return Connectivity._from_arrays(n, te.shape[0], np.cumsum(indptr), indices)


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
        # rs.randint(0, N, (n_exc, k)), then (n_inh, k): drawn in row chunks, the same stream
        indices = np.empty(n * k, _INDEX)
        for first, size in ((0, ne), (ne, ni)):
            for r0, r1 in _row_chunks(first, first + size, k):
                indices[r0 * k:r1 * k] = rs.randint(0, n, (r1 - r0, k), dtype=_INDEX).ravel()
        return Connectivity._from_arrays(n, ne, _regular_indptr(n, k), indices)

    rng = np.random.default_rng(seed)
    rule = config.conn_rule
    if rule == "fixed_out_degree":
        k = int(p * n)
        indices = _draw_fixed(rng, n_rows=n, k=k, n_choices=n, multapses=config.multapses,
                              autapses=config.autapses, self_offset=0)
        return Connectivity._from_arrays(n, ne, _regular_indptr(n, k), indices)
    if rule == "fixed_in_degree":
        # draw sources per postsynaptic neuron, per population: column j of an N x N CSC
        # matrix holds j's excitatory then inhibitory sources, in the order drawn
        ks = [int(p * size) for size in (ne, ni)]
        sources = np.empty((n, sum(ks)), _INDEX)
        for (first, size), lo, k in zip(((0, ne), (ne, ni)), (0, ks[0]), ks, strict=True):
            sources[:, lo:lo + k] = _draw_fixed(
                rng, n_rows=n, k=k, n_choices=size, multapses=config.multapses,
                autapses=config.autapses, self_offset=-first).reshape(n, k) + _INDEX(first)
        # scipy's transposition is a stable counting sort: each presynaptic row lists its
        # targets ascending, repeated targets in the order drawn (the duplicates are kept)
        csc = sp.csc_matrix((np.ones(sources.size, np.int8), sources.ravel(),
                             np.arange(n + 1, dtype=np.int64) * sum(ks)), shape=(n, n))
        del sources
        csr = csc.tocsr()
        return Connectivity._from_arrays(n, ne, csr.indptr, csr.indices)
    if rule == "bernoulli":
        indptr, indices = _draw_bernoulli(rng, n, p, config.autapses)
        return Connectivity._from_arrays(n, ne, indptr, indices)
    raise ConfigError(f"conn_rule = {rule!r}")  # unreachable: Config validated it


#: Draws per chunk of the vectorized rules (about 16 MiB of int32 at a time): the memory of
#: a build is the network's own arrays plus one chunk.
_CHUNK = 2**22


def _row_chunks(first, stop, k):
    """(r0, r1) slices of rows first .. stop-1, about :data:`_CHUNK` draws each."""
    rows = max(1, _CHUNK // max(k, 1))
    return [(r0, min(r0 + rows, stop)) for r0 in range(first, stop, rows)]


def _regular_indptr(n, k):
    """Row pointers of N rows of k entries each."""
    return np.arange(n + 1, dtype=np.int64) * k


def _draw_fixed(rng, n_rows, k, n_choices, multapses, autapses, self_offset):
    """(n_rows * k,) int32 draws from range(n_choices), k per row, row r excluding
    r + self_offset unless autapses. Vectorized over chunks of rows.

    With multapses the stream is that of one ``rng.integers(0, n_choices, (n_rows, k))``
    followed by redraws of the self-connections (all of them at once, until none is left).
    Without, each row is a uniformly random ordered k-subset: rows of k draws are accepted
    when distinct and drawn again otherwise (exact: every distinct k-tuple is equally
    likely), while k**2 <= 2 n_choices, where a row is accepted with probability above
    about 1/e; denser rows take the k smallest of n_choices uniform keys, ordered by key (a
    random permutation's first k), in chunks of about :data:`_CHUNK` keys.
    """
    out = np.empty(n_rows * k, _INDEX)
    if multapses:
        own = None
        for r0, r1 in _row_chunks(0, n_rows, k):
            out[r0 * k:r1 * k] = rng.integers(0, n_choices, (r1 - r0) * k, dtype=_INDEX)
        if not autapses:  # redraw self-connections until none is left
            bad = np.concatenate([r0 * k + np.flatnonzero(
                out[r0 * k:r1 * k].reshape(r1 - r0, k) == np.arange(r0, r1)[:, None] + self_offset)
                for r0, r1 in _row_chunks(0, n_rows, k)] or [np.zeros(0, np.int64)])
            while bad.size:
                out[bad] = rng.integers(0, n_choices, bad.size, dtype=_INDEX)
                bad = bad[out[bad] == bad // k + self_offset]  # row bad // k's own index
        return out
    own = np.arange(n_rows, dtype=np.int64) + self_offset
    dense = k * k > 2 * n_choices
    for r0, r1 in _row_chunks(0, n_rows, n_choices if dense else k):
        block = np.empty((r1 - r0, k), np.int64)
        # rows that may not choose themselves choose among the n_choices - 1 others, then
        # skip over their own index
        skip = np.zeros(r1 - r0, bool) if autapses else (0 <= own[r0:r1]) & (own[r0:r1] < n_choices)
        for rows, m in ((~skip, n_choices), (skip, n_choices - 1)):
            if rows.any():
                block[rows] = _distinct_rows(rng, int(rows.sum()), k, m)
        mine = own[r0:r1, None]
        block += skip[:, None] & (block >= mine)
        out[r0 * k:r1 * k] = block.ravel()
    return out


def _distinct_rows(rng, rows, k, m):
    """(rows, k) int64: each row a uniformly random ordered k-subset of range(m)."""
    if k * k > 2 * m:  # dense: the k smallest of m uniform keys, in the order of their keys
        keys = rng.random((rows, m))
        first = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < m else np.argsort(keys, axis=1)
        return np.take_along_axis(first, np.argsort(np.take_along_axis(keys, first, axis=1), axis=1),
                                  axis=1)
    out = rng.integers(0, m, (rows, k))
    redo = np.arange(rows)
    while True:
        s = np.sort(out[redo], axis=1)
        redo = redo[(s[:, 1:] == s[:, :-1]).any(axis=1)]
        if not redo.size:
            return out
        out[redo] = rng.integers(0, m, (redo.size, k))


def _draw_bernoulli(rng, n, p, autapses):
    """CSR arrays of N rows where each allowed pair (i, j) is an entry with probability p.

    The pairs are numbered row by row, i M + c (M = N allowed targets with autapses, N - 1
    without: column c then stands for target c + (c >= i)); the gaps between successive
    entries of a sequence of Bernoulli(p) trials are Geometric(p), drawn in chunks with
    ``rng.geometric``, so the cost is O(entries), not O(N**2). Each row's targets come out
    ascending.
    """
    m = n if autapses else n - 1
    total = n * m  # trials; int64 up to N ~ 3e9
    if p <= 0 or total <= 0:
        return np.zeros(n + 1, np.int64), np.zeros(0, _INDEX)
    counts = np.zeros(n, np.int64)  # entries per row
    cols, last = [], -1
    while last < total:  # chunks of about the entries left (bounding the overshoot), at most _CHUNK
        size = int(min(_CHUNK, p * (total - last) + 4 * math.sqrt(p * (total - last)) + 64,
                       2**62 // (total + 1)))
        # a gap past the last pair ends the draw: capped there, no sum can overflow int64
        pos = (last + np.cumsum(np.minimum(rng.geometric(p, size), total + 1)) if p < 1
               else np.arange(last + 1, min(last + 1 + _CHUNK, total), dtype=np.int64))
        if pos.size == 0:
            break
        last = int(pos[-1])
        pos = pos[pos < total]
        rows, c = np.divmod(pos, m)
        if not autapses:
            c += c >= rows
        if rows.size:
            counts[rows[0]:rows[-1] + 1] += np.bincount(rows - rows[0])
        cols.append(c.astype(_INDEX))
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, np.concatenate(cols) if cols else np.zeros(0, _INDEX)


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
