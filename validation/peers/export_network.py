"""Export the exact network that ``refsim.simulate(config, seed)`` runs, for peer simulators.

Run with the refsim development environment (refsim installed)::

    python validation/peers/export_network.py \
        --preset tutorial-normalized --seed 0 --out /tmp/peers/tutorial-normalized_s0.npz

The file is one ``.npz`` of plain arrays (loadable with ``allow_pickle=False``), read by
``brian2_run.py`` and ``nest_run.py`` (which do not import refsim):

============ ========= ===================================================================
array        dtype     content
============ ========= ===================================================================
config       str (0-d) ``json.dumps(Config.to_dict())``: every model and run parameter
meta         str (0-d) JSON: preset, seed, overrides, refsim version, counts
indptr       int64     CSR row pointers, N + 1 (rows = presynaptic neurons)
indices      int32     CSR column indices (postsynaptic neurons), duplicates kept in order
counts       int32     synapses per stored entry (1 for every entry the built-in rules make)
n_exc        int64     0-d; rows 0 .. n_exc-1 are excitatory, the rest inhibitory
V, g_e, g_i  float64   initial state, shape (N,), in the config's float type widened to float64
============ ========= ===================================================================

Seeds
-----
The connectivity and initial state are derived from ``--seed`` exactly as
:func:`refsim.simulate` does (see :func:`refsim.simulate.derive_seeds`): the connectivity from
``seed`` itself when ``conn_rng='numpy-legacy'``, else from the first child of
``SeedSequence(seed)``; the initial state from the second child.

Check
-----
With ``--check`` (default on when N <= 2000) the script reruns
``refsim.simulate(config, seed, connectivity=..., initial=...)`` with the exported arrays and
verifies that its spikes are identical to those of ``refsim.simulate(config, seed)``; it
prints the outcome and exits non-zero on a mismatch.

Options
-------
``--preset NAME``, ``--seed S``, ``--n-exc``, ``--n-inh``, ``--duration`` (ms),
``--set field=value`` (repeatable, any Config field), ``--out FILE.npz``,
``--check`` / ``--no-check``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import scipy.sparse as sp

import refsim
from refsim.connectivity import build_connectivity, from_sparse
from refsim.cli import parse_set
from refsim.simulate import derive_seeds
from refsim.state import initial_state


def build(preset: str, seed: int, overrides: dict):
    """The config, connectivity and initial state that ``refsim.simulate(config, seed)`` uses.

    Mirrors the seed handling of :func:`refsim.simulate` line for line.
    """
    config = refsim.get_preset(preset, **overrides)
    conn_seed, state_seed = derive_seeds(int(seed))
    legacy = config.conn_rng == "numpy-legacy"
    conn = build_connectivity(config, int(seed) if legacy else conn_seed)
    state = initial_state(config, state_seed)
    return config, conn, state


def check_roundtrip(path: str, config, seed: int) -> bool:
    """Rerun refsim from the exported file and compare its spikes with the plain seeded run."""
    with np.load(path, allow_pickle=False) as z:
        n = int(z["indptr"].size - 1)
        matrix = sp.csr_matrix((z["counts"].astype(np.float64), z["indices"], z["indptr"]),
                               shape=(n, n))
        conn = from_sparse(matrix, int(z["n_exc"]))
        initial = {k: z[k] for k in ("V", "g_e", "g_i")}
    t0 = time.perf_counter()
    a = refsim.simulate(config, seed, progress=False)
    b = refsim.simulate(config, seed, connectivity=conn, initial=initial, progress=False)
    same = (np.array_equal(a.spike_steps, b.spike_steps)
            and np.array_equal(a.spike_neurons, b.spike_neurons))
    print(f"check: refsim.simulate(cfg, {seed}) vs simulate(cfg, {seed}, connectivity=<exported>, "
          f"initial=<exported>): {a.n_spikes} vs {b.n_spikes} spikes, "
          f"{'IDENTICAL' if same else 'DIFFERENT'} ({time.perf_counter() - t0:.1f} s)")
    return same


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", required=True, help="one of " + ", ".join(refsim.preset_names()))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-exc", type=int)
    p.add_argument("--n-inh", type=int)
    p.add_argument("--duration", type=float, help="ms")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override any Config field (repeatable)")
    p.add_argument("--out", required=True, help="output .npz file")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--check", dest="check", action="store_true", default=None,
                   help="verify the export against refsim.simulate (default when N <= 2000)")
    g.add_argument("--no-check", dest="check", action="store_false")
    args = p.parse_args(argv)

    try:
        overrides = parse_set(args.set)
    except refsim.ConfigError as e:
        p.error(str(e))
    for name in ("n_exc", "n_inh", "duration"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)

    config, conn, state = build(args.preset, args.seed, overrides)
    meta = {
        "format": "refsim-peer-network/1", "preset": args.preset, "seed": args.seed,
        "overrides": overrides, "refsim_version": refsim.__version__,
        "n_neurons": config.n_neurons, "n_entries": int(conn.indices.size),
        "n_synapses": conn.n_synapses,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez(
        args.out,
        config=np.array(json.dumps(config.to_dict())),
        meta=np.array(json.dumps(meta)),
        indptr=conn.indptr.astype(np.int64),
        indices=conn.indices.astype(np.int32),
        counts=conn.counts.astype(np.int32),
        n_exc=np.array(conn.n_exc, dtype=np.int64),
        V=state.V.astype(np.float64),
        g_e=state.g_e.astype(np.float64),
        g_i=state.g_i.astype(np.float64),
    )
    print(f"wrote {args.out}: preset {args.preset}, seed {args.seed}, N = {config.n_neurons} "
          f"({config.n_exc} E), {conn.indices.size} CSR entries, {conn.n_synapses} synapses, "
          f"{config.n_steps} steps of {config.dt} ms")

    check = args.check if args.check is not None else config.n_neurons <= 2000
    if check and not check_roundtrip(args.out, config, args.seed):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
