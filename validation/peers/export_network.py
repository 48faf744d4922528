"""Export the exact network that ``refsim.simulate(config, seed)`` runs, for peer simulators.

Run with the refsim development environment (refsim installed), from the repository root::

    python -m validation.peers.export_network \
        --preset tutorial-normalized --seed 0 --out /tmp/peers/tutorial-normalized_s0

The export is a SONATA directory (:func:`refsim.formats.write_sonata_network`, what
``refsim export --to sonata`` writes; the layout is in ``refsim/formats/sonata_network.py``),
read by ``brian2_run`` and ``nest_run`` (which do not import refsim:
``network_file.load_network``, h5py) and on refsim's side by :func:`load`
(``refsim.formats.read_sonata_network``). Its parameters.json holds the preset, seed,
overrides and refsim version.

Seeds
-----
The connectivity and initial state are :func:`refsim.network_inputs` of ``--seed``: what
``refsim.simulate(config, seed)`` draws (the rule is :mod:`refsim.network`'s).

Check
-----
With ``--check`` (default on when N <= 2000) the script reruns
``refsim.simulate(config, seed, connectivity=..., initial=...)`` with the exported arrays and
verifies that its spikes are identical to those of ``refsim.simulate(config, seed)``; it
prints the outcome and exits non-zero on a mismatch.

Options
-------
``--preset NAME``, ``--seed S``, ``--n-exc``, ``--n-inh``, ``--duration`` (ms),
``--set field=value`` (repeatable, any Config field), ``--out DIR``,
``--check`` / ``--no-check``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import refsim
from refsim.cli import parse_set
from refsim.formats import read_sonata_network, write_sonata_network


def export(path: str, preset: str, seed: int, overrides: dict | None = None):
    """Write the network of ``refsim.simulate(get_preset(preset, **overrides), seed)`` as a
    SONATA directory ``path``; return its config, connectivity and initial state."""
    overrides = dict(overrides or {})
    config = refsim.get_preset(preset, **overrides)
    conn, initial = refsim.network_inputs(config, int(seed))
    os.makedirs(path, exist_ok=True)
    write_sonata_network(path, config, conn, initial,
                         {"preset": preset, "seed": int(seed), "overrides": overrides})
    return config, conn, initial


def load(path: str):
    """(config, connectivity, initial V/g_e/g_i, meta) of an exported network."""
    return read_sonata_network(path)


def check_roundtrip(path: str, config, seed: int) -> bool:
    """Rerun refsim from the exported file and compare its spikes with the plain seeded run."""
    _, conn, initial, _ = load(path)
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
    p.add_argument("--out", required=True, help="output directory (SONATA)")
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

    config, conn, _ = export(args.out, args.preset, args.seed, overrides)
    print(f"wrote {args.out}: preset {args.preset}, seed {args.seed}, N = {config.n_neurons} "
          f"({config.n_exc} E), {conn.indices.size} CSR entries, {conn.n_synapses} synapses, "
          f"{config.n_steps} steps of {config.dt} ms")

    check = args.check if args.check is not None else config.n_neurons <= 2000
    if check and not check_roundtrip(args.out, config, args.seed):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
