#!/usr/bin/env python
"""Make the figures the documentation shows (docs/figures/*.png).

Run from the repository root with refsim installed: ``python docs/make_figures.py``
(about 10 s). Every PNG a page under docs/ links must be written here
(``tests/test_docs.py`` checks this), so that the figures can always be regenerated from the
code they illustrate.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import refsim  # noqa: E402
from refsim.plot import E_COLOR, I_COLOR  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures")


def in_degree():
    """In-degree distributions of the three connectivity rules at N = 4000, p = 0.02."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for rule, rng, multapses, color in (("fixed_out_degree", "numpy-legacy", True, "k"),
                                        ("fixed_in_degree", "pcg64", False, E_COLOR),
                                        ("bernoulli", "pcg64", False, I_COLOR)):
        cfg = refsim.get_preset("tutorial-normalized", conn_rule=rule, conn_rng=rng,
                                multapses=multapses)
        conn, _ = refsim.network_inputs(cfg, seed=0)  # the network that seed 0 means
        d = conn.in_degree()
        ax.hist(d, bins=np.arange(40.5, 121.5), histtype="step", color=color,
                label=f"{rule} (SD {d.std():.1f})")
    ax.set_xlabel("In-degree (synapses onto a neuron)")
    ax.set_ylabel("Neurons (log scale)")
    ax.set_yscale("log")
    ax.legend(frameon=False, fontsize=8)
    return fig, "in_degree.png"


def rasters():
    """The tutorial as written and normalized, seed 0, first 300 ms, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, preset in zip(axes, ("tutorial", "tutorial-normalized"), strict=True):
        r = refsim.simulate(refsim.get_preset(preset, duration=300.0), seed=0, progress=False)
        refsim.plot.raster(r, ax=ax, title=f"{preset}: {r.n_spikes} spikes in 300 ms")
    fig.tight_layout()
    return fig, "rasters.png"


def main():
    os.makedirs(OUT, exist_ok=True)
    for make in (in_degree, rasters):
        fig, name = make()
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, name), dpi=110)
        plt.close(fig)
        print("wrote", os.path.join(OUT, name))


if __name__ == "__main__":
    main()
