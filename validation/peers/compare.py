"""Compare a peer simulator's spikes with refsim's own run of the same exported network.

Run with the refsim development environment::

    python validation/peers/compare.py NETWORK.npz PEER_SPIKES.npz [...]

``NETWORK.npz`` is the file written by ``export_network.py``; each ``PEER_SPIKES.npz`` one
written by ``brian2_run.py --out`` or ``nest_run.py --out`` (arrays ``t_ms``, ``i``,
``meta``). refsim is run once (engine ``--engine``, default refsim's default) with the
exported connectivity and initial state, which gives the same spikes as
``refsim.simulate(config, seed)`` (see ``export_network.py --check``).

For each peer the script prints the E and I rates next to refsim's, their relative
differences, the mean ISI CV, and how long the two spike trains stay identical: spikes are
matched as (step, neuron) pairs with step = round(t_ms / dt), and the first step at which
the two sets differ is reported ("identical until"). The last line is a JSON list of the
comparisons.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import scipy.sparse as sp

import refsim
from refsim.connectivity import from_sparse


def refsim_run(network_path, engine=None):
    """refsim's run of the exported network (``engine``: refsim's default if None), and the
    config."""
    with np.load(network_path, allow_pickle=False) as z:
        config = refsim.Config.from_dict(json.loads(str(z["config"])))
        meta = json.loads(str(z["meta"]))
        n = z["indptr"].size - 1
        conn = from_sparse(sp.csr_matrix((z["counts"].astype(np.float64), z["indices"],
                                          z["indptr"]), shape=(n, n)), int(z["n_exc"]))
        initial = {k: z[k] for k in ("V", "g_e", "g_i")}
    kw = {} if engine is None else {"engine": engine}
    result = refsim.simulate(config, meta["seed"], connectivity=conn, initial=initial,
                             progress=False, **kw)
    return config, result


def rates_and_cv(steps, neurons, config):
    """Mean E rate, mean I rate (Hz) and mean ISI CV (neurons with >= 3 spikes)."""
    dur_s = config.duration / 1000.0
    counts = np.bincount(neurons, minlength=config.n_neurons)
    s = steps[np.lexsort((steps, neurons))]  # grouped by neuron, each in time order
    cvs = []
    bounds = np.r_[0, np.cumsum(counts)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b - a >= 3:
            isi = np.diff(s[a:b])
            cvs.append(isi.std() / isi.mean())
    ne = config.n_exc
    return (counts[:ne].mean() / dur_s, counts[ne:].mean() / dur_s,
            float(np.mean(cvs)) if cvs else float("nan"))


def first_difference(steps_a, neurons_a, steps_b, neurons_b, n_neurons):
    """First step at which the (step, neuron) spike sets differ, or None if identical."""
    key_a = np.sort(steps_a.astype(np.int64) * n_neurons + neurons_a)
    key_b = np.sort(steps_b.astype(np.int64) * n_neurons + neurons_b)
    m = min(key_a.size, key_b.size)
    diff = np.flatnonzero(key_a[:m] != key_b[:m])
    if diff.size:
        return int(min(key_a[diff[0]], key_b[diff[0]]) // n_neurons)
    if key_a.size != key_b.size:
        return int((key_a[m] if key_a.size > m else key_b[m]) // n_neurons)
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("network")
    p.add_argument("peers", nargs="+")
    p.add_argument("--engine", help="refsim engine (default: refsim's default)")
    args = p.parse_args(argv)

    config, ref = refsim_run(args.network, args.engine)
    r_e, r_i, r_cv = rates_and_cv(ref.spike_steps, ref.spike_neurons, config)
    print(f"refsim     : E {r_e:7.3f} Hz  I {r_i:7.3f} Hz  CV {r_cv:.3f}  "
          f"{ref.n_spikes} spikes  (engine {ref.engine}, wall {ref.wall_time:.2f} s)")
    out = []
    for path in args.peers:
        with np.load(path, allow_pickle=False) as z:
            t_ms, idx = z["t_ms"], z["i"].astype(np.int64)
            meta = json.loads(str(z["meta"]))
        steps = np.rint(t_ms / config.dt).astype(np.int64)
        p_e, p_i, p_cv = rates_and_cv(steps, idx, config)
        k = first_difference(ref.spike_steps, ref.spike_neurons, steps, idx, config.n_neurons)
        same = ("identical for the whole run" if k is None
                else f"identical until step {k} ({k * config.dt:.1f} ms)")
        parts = (meta["simulator"], meta.get("device"), meta.get("integrator", meta.get("model")))
        label = " ".join(x for x in parts if x)
        if meta.get("mode") == "refsim":
            label += " (mode refsim)"
        print(f"{label:11s}: E {p_e:7.3f} Hz  I {p_i:7.3f} Hz  CV {p_cv:.3f}  {idx.size} spikes  "
              f"(E {100 * (p_e / r_e - 1):+.2f} %, I {100 * (p_i / r_i - 1):+.2f} %); {same}")
        out.append({"peer": path, "label": label, "rate_exc_hz": p_e, "rate_inh_hz": p_i,
                    "cv_isi": p_cv, "ref_rate_exc_hz": r_e, "ref_rate_inh_hz": r_i,
                    "ref_cv_isi": r_cv, "first_difference_step": k})
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
