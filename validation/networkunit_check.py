"""NetworkUnit's scores beside refsim's, on the same two rasters (optional: NetworkUnit is heavy).

NetworkUnit (Gutzen et al. 2018) compares two spiking-network models by the distributions of
per-neuron statistics, with sciunit scores; ``refsim compare`` does the same with SciPy. This
script runs both on the same pair of rasters and prints the numbers side by side, so that a
user who knows NetworkUnit can read refsim's report (and so that refsim's KS distance is
checked against an independent implementation). Any two spike files refsim reads
(``refsim.formats``) can be given; by default two refsim runs of ``tutorial-normalized`` (seeds
0 and 1, N = 4000, 1 s). Run in a venv with NetworkUnit (``pip install networkunit``; it
brings sciunit, Elephant and Neo)::

    python -m venv /tmp/nu && /tmp/nu/bin/pip install networkunit -e .
    /tmp/nu/bin/python -m validation.networkunit_check [A B --n-neurons N --n-exc E --t-stop MS]

Scores: NetworkUnit's ``firing_rate_test`` and ``isi_variation_test`` (CV), each with
``ks_distance`` and ``effect_size`` (Cohen's d), as ``TestM2M``; refsim's
``refsim.compare.compare`` distributions ``rate_hz`` and ``cv_isi`` (KS distance and Cohen's
d), window ``t_start = 0`` to match NetworkUnit's whole-run statistics.

Measured 2026-12-03 (NetworkUnit 0.2.2, sciunit 0.2.8, Elephant 1.2.1; default rasters)::

    statistic score         NetworkUnit       refsim
    rate_hz   ks_distance       0.09700      0.09700
    rate_hz   cohens_d          0.06362      0.06361
    cv_isi    ks_distance       0.10022      0.09848
    cv_isi    cohens_d              nan      0.17459

The rate scores agree (Cohen's d to 1e-5: the pooled SD's degrees of freedom). The CV
scores differ because the two keep different neurons: refsim takes the CV of neurons with
at least three spikes, NetworkUnit computes one for every train and keeps the NaN of
near-silent ones, which also makes its effect size NaN.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import refsim
from refsim.analysis import as_spike_trains
from refsim.formats import read_spikes, to_neo


def networkunit_scores(a, b):
    """{(statistic, score): value} of NetworkUnit's TestM2M judge of models a and b."""
    import sciunit
    from networkunit import scores, tests
    from networkunit.models import loaded_spiketrains

    def model(spikes, name):
        trains = list(to_neo(spikes).segments[0].spiketrains)   # NetworkUnit wants a list

        class Model(loaded_spiketrains):
            def load(self):
                return trains
        return Model(name=name)

    models = [model(a, "A"), model(b, "B")]
    out = {}
    for stat, base in (("rate_hz", tests.firing_rate_test), ("cv_isi", tests.isi_variation_test)):
        for score_name, score in (("ks_distance", scores.ks_distance), ("cohens_d", scores.effect_size)):
            test_class = type(f"{stat}_{score_name}", (sciunit.TestM2M, base), {"score_type": score})
            params = {"variation_measure": "cv"} if stat == "cv_isi" else {}
            matrix = test_class(**params).judge(models)
            out[(stat, score_name)] = float(np.asarray(matrix.iloc[0, 1].score))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", help="two spike files (default: refsim seeds 0 and 1)")
    p.add_argument("--n-neurons", type=int)
    p.add_argument("--n-exc", type=int)
    p.add_argument("--t-stop", type=float)
    p.add_argument("--dt", type=float)
    args = p.parse_args(argv)
    if args.files:
        a, b = (read_spikes(f, n_neurons=args.n_neurons, n_exc=args.n_exc, t_stop_ms=args.t_stop,
                            dt_ms=args.dt) for f in args.files)
    else:
        config = refsim.get_preset("tutorial-normalized")
        a, b = (as_spike_trains(refsim.simulate(config, s, progress=False)) for s in (0, 1))
    ours = refsim.compare.compare(a, b, t_start=0.0)["distributions"]
    theirs = networkunit_scores(a, b)
    print(f"{'statistic':9s} {'score':12s} {'NetworkUnit':>12s} {'refsim':>12s}")
    for (stat, score), value in theirs.items():
        mine = ours[stat]["ks_distance" if score == "ks_distance" else "cohens_d"]
        print(f"{stat:9s} {score:12s} {value:12.5f} {mine:12.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
