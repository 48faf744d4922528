"""Command line: ``refsim run``, ``refsim presets`` (also ``python -m refsim``)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .engines import DEFAULT_ENGINE, ENGINES
from .params import ConfigError, coerce, describe_fields
from .presets import PRESETS, get_preset


def _parse_set(items):
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: allowed the form name=value")
        name, value = item.split("=", 1)
        out[name.strip()] = coerce(name.strip(), value)
    return out


def cmd_run(args) -> int:
    from .connectivity import load_connectivity
    from .plot import raster
    from .result import atomic_write
    from .simulate import simulate
    from .state import load_initial_state

    overrides = _parse_set(args.set)
    for name in ("duration", "dt", "dtype"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    config = get_preset(args.preset, **overrides)
    conn = load_connectivity(args.connectivity, n_exc=config.n_exc) if args.connectivity else None
    initial = load_initial_state(args.initial_state) if args.initial_state else None
    os.makedirs(args.out, exist_ok=True)

    result = simulate(config, seed=args.seed, engine=args.engine, connectivity=conn,
                      initial=initial, progress=not args.no_progress)
    # spikes first: a failure while plotting never loses the computed run
    result.save(os.path.join(args.out, "spikes.npz"))
    summary = {"preset": args.preset, **result.summary()}
    atomic_write(os.path.join(args.out, "summary.json"),
                 lambda tmp: open(tmp, "w").write(json.dumps(summary, indent=2) + "\n"))
    raster(result, os.path.join(args.out, "raster.png"))
    print(f"refsim run --preset {args.preset}: {config.n_neurons} neurons, "
          f"{result.steps_done} steps of {config.dt} ms ({config.dtype}, engine {result.engine})")
    print(f"  rate E {summary['rate_e_hz']:.3f} Hz   rate I {summary['rate_i_hz']:.3f} Hz   "
          f"mean CV(ISI) {summary['cv_isi_mean']:.4f}")
    print(f"  spikes {summary['n_spikes']}   wall time {summary['wall_time_s']:.2f} s")
    if not result.complete:
        print(f"  PARTIAL RESULT: {result.message}")
    print(f"  wrote {args.out}/spikes.npz, summary.json, raster.png")
    return 0 if result.complete else 130


def cmd_presets(args) -> int:
    if args.describe:
        for name, unit, doc in describe_fields():
            print(f"{name:16s} [{unit:4s}] {doc}")
        return 0
    for name, (line, _) in PRESETS.items():
        print(f"{name:22s} {line}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="refsim", description="Reference COBA E/I network simulator")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a preset, write spikes.npz, summary.json, raster.png")
    r.add_argument("--preset", default="tutorial", help="see `refsim presets`")
    r.add_argument("--duration", type=float, help="ms (default: the preset's, 1000)")
    r.add_argument("--dt", type=float, help="ms (default: the preset's, 0.1)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--dtype", choices=("float32", "float64"))
    r.add_argument("--engine", default=DEFAULT_ENGINE, choices=ENGINES,
                   help="numba (default, compiled) or numpy (the oracle); both give the same bits")
    r.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override any parameter (see `refsim presets --describe`)")
    r.add_argument("--connectivity", help="scipy.sparse save_npz file or .npz with targets_e/targets_i")
    r.add_argument("--initial-state", help=".npz with V (and optionally g_e, g_i)")
    r.add_argument("--out", default="out", help="output directory (default: out)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)
    s = sub.add_parser("presets", help="list the presets, one line each")
    s.add_argument("--describe", action="store_true", help="list every parameter with its unit")
    s.set_defaults(func=cmd_presets)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"refsim: error: {e}", file=sys.stderr)
        return 2
