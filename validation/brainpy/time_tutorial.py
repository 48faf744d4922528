#!/usr/bin/env python
"""Time BrainPy 2.9's Tutorial 3 network as written, for ``validation.bench_engines``.

Run with the BrainPy venv's interpreter (see README.md beside this file), from the repository
root::

    .venvs/bp312/bin/python -m validation.brainpy.time_tutorial --repeats 3

It builds the tutorial's ``EINet`` and runs its simulation cell (``validation.brainpy.tutorial``,
seed 0) once (tracing and compilation included) and then ``--repeats`` more times after
re-initialising the state. The last stdout line is JSON: ``loop_s`` is the best wall time of a
repeated run of the simulation cell (the 10 000-step ``for_loop``; brainstate re-traces and
re-compiles its scan on every call, so this includes ~0.2-0.5 s of JAX compilation, reported
as ``compile_s``), ``exec_s`` the best wall time minus that compilation, and ``first_s`` the
first run.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from validation.brainpy import tutorial as bp


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    net = bp.build(args.seed)
    _, spikes, _, first, _ = bp.run(net)
    runs = []
    for _ in range(args.repeats):
        bp.reinit(net, args.seed)
        _, spikes, _, wall, comp = bp.run(net)
        runs.append((wall, comp))
    wall, comp = min(runs)
    n_spikes = int(np.asarray(spikes).sum())
    print(json.dumps({"simulator": "brainpy", "version": bp.package_version("brainpy"),
                      "jax": bp.package_version("jax"), "loop_s": wall, "compile_s": comp,
                      "exec_s": min(w - c for w, c in runs), "first_s": first,
                      "n_spikes": n_spikes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
