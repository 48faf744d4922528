"""Compare a peer simulator's spikes with refsim's own run of the same exported network.

Run with the refsim development environment, from the repository root::

    python -m validation.peers.compare EXPORT_DIR PEER_SPIKES.npz [...]

``EXPORT_DIR`` is the SONATA directory written by ``export_network``; each
``PEER_SPIKES.npz`` one
written by ``brian2_run --out`` or ``nest_run --out`` (arrays ``t_ms``, ``i``, ``meta``).
refsim is run once (engine ``--engine``, default refsim's default) with the exported
connectivity and initial state, which gives the same spikes as ``refsim.simulate(config,
seed)`` (see ``export_network --check``).

For each peer the script prints the E and I rates next to refsim's, their relative
differences, the mean ISI CV (:func:`refsim.analysis.firing_rates` and
:func:`refsim.analysis.isi_cv` over the whole run, the CV averaged over the neurons with >= 3
spikes), and how long the two spike trains stay identical: spikes are matched as (step,
neuron) pairs with step = round(t_ms / dt), and the first step at which the two sets differ
(:func:`refsim.testing.first_difference`) is reported ("identical until"). The last line is a
JSON list of the comparisons.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

import refsim
from refsim.analysis import SpikeTrains, firing_rates, isi_cv
from refsim.testing import first_difference
from validation.peers.export_network import load


def refsim_run(network_path, engine=None):
    """refsim's run of the exported network (``engine``: refsim's default if None), and the
    config."""
    config, conn, initial, meta = load(network_path)
    kw = {} if engine is None else {"engine": engine}
    result = refsim.simulate(config, meta["seed"], connectivity=conn, initial=initial,
                             progress=False, **kw)
    return config, result


def rates_and_cv(steps, neurons, config):
    """Mean E rate, mean I rate (Hz) over the run and mean ISI CV (neurons with >= 3 spikes)
    of spikes given as step indices."""
    s = SpikeTrains(np.asarray(steps) * config.dt, neurons, config.n_neurons, config.n_exc,
                    config.duration)
    rates, cv = firing_rates(s), isi_cv(s)
    ne = config.n_exc
    return (float(rates[:ne].mean()), float(rates[ne:].mean()),
            float(np.nanmean(cv)) if np.isfinite(cv).any() else float("nan"))


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
        k = first_difference(ref.spike_steps, ref.spike_neurons, steps, idx)
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
