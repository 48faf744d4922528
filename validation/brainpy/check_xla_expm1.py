#!/usr/bin/env python
"""Check refsim's emulation of XLA:CPU's float32 ``expm1`` against JAX itself, exhaustively.

Run with the BrainPy venv's interpreter (it has jax; see README.md beside this file), from the
repository root::

    .venvs/bp312/bin/python -m validation.brainpy.check_xla_expm1           # ~30 min
    .venvs/bp312/bin/python -m validation.brainpy.check_xla_expm1 --quick   # [-1, 1] only
    .venvs/bp312/bin/python -m validation.brainpy.check_xla_expm1 --limit 100000  # a smoke test

The function checked is ``refsim.elementary.xla_expm1_f32`` (and ``fma32``), loaded from the
file ``refsim/elementary.py`` (NumPy only; refsim itself need not be installed in this venv).
What it emulates: ``jax.jit(jnp.expm1)`` on CPU does not call libm; the HLO op
``exponential-minus-one`` (f32) is lowered by XLA:CPU to its bundled intrinsic
``xla.expm1.f32`` / ``xla.expm1.v{4,8,16}f32`` (``xla/codegen/intrinsic/cpp/expm1.cc``,
template ``Expm1F32Impl``), compiled to LLVM bitcode and inlined into the fused loop, whose
``Fmuladd`` are fused multiply-adds on an FMA machine (checked in the object code that
``XLA_FLAGS=--xla_dump_to=...`` writes for ``jit(expm1)``; its clamp constant is
0x42b17217 = 88.72283172607422). The algorithm is written out in refsim's docstring.

Checked: every float32 in [-1, 1], [-18.5, -1] and [1, 89] (0 mismatches with jax 0.12.0.1),
specials, 10**6 random bit patterns, odd array sizes (the vector loops' scalar tails),
``expm1(x)/x`` on [-0.1, -1e-4], and fused contexts (XLA contracts ``expm1(x)*b + c`` into
``fma(expm1(x), b, c)`` inside one fused kernel). Exits non-zero on any mismatch; the full
run writes ``--out`` (default ``validation/results/check_xla_expm1.json``). ``--limit N``
checks only the first N float32 values (in bit order) of each range, for a smoke test, and
writes nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time

import numpy as np

from validation import REPO, RESULTS

# refsim.elementary is NumPy only: loaded from its file, so that refsim need not be installed
_ELEMENTARY = os.path.join(REPO, "refsim", "elementary.py")
_spec = importlib.util.spec_from_file_location("refsim_elementary", _ELEMENTARY)
el = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(el)
_F32 = np.float32


def xla_expm1_f32(x):
    with np.errstate(all="ignore"):
        return np.asarray(el.xla_expm1_f32(np.asarray(x, _F32)), _F32)


def fma_f32(a, b, c):
    return el.fma_f32(np.asarray(a, _F32), np.asarray(b, _F32), np.asarray(c, _F32))


def _bits_range(lo_bits: int, hi_bits: int, chunk: int):
    """Yield float32 arrays covering int32 bit patterns [lo_bits, hi_bits)."""
    for start in range(lo_bits, hi_bits, chunk):
        stop = min(start + chunk, hi_bits)
        yield np.arange(start, stop, dtype=np.uint32).view(_F32)


def _f32_bits(v: float) -> int:
    return int(np.array([v], _F32).view(np.uint32)[0])


def _verify(chunk: int = 1 << 22, quick: bool = False, limit: int | None = None) -> tuple[int, list]:
    report = []
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_platforms", "cpu")
    f_jax = jax.jit(jnp.expm1)
    g_jax = jax.jit(lambda v: jnp.expm1(v) / v)

    def run_jax(fn, xs):
        # pad to a fixed chunk length so jit compiles once
        if xs.size != chunk:
            pad = np.zeros(chunk, _F32)
            pad[: xs.size] = xs
            pad[xs.size:] = xs[0]
            return np.asarray(fn(pad))[: xs.size]
        return np.asarray(fn(xs))

    def compare(ref, got):
        rn, gn = np.isnan(ref), np.isnan(got)
        nan_bad = int(np.count_nonzero(rn != gn))
        both = ~(rn | gn)
        bad = both & (ref.view(np.uint32) != got.view(np.uint32))
        return int(np.count_nonzero(bad)) + nan_bad, bad

    # Ranges as [lo, hi] in float value; each sign handled in bit space.
    def sign_ranges(lo: float, hi: float):
        """Bit ranges (half-open) covering all float32 in [lo, hi]."""
        out = []
        if hi >= 0:  # non-negative part [max(lo,0), hi]
            a = _f32_bits(max(lo, 0.0))
            out.append((a, _f32_bits(hi) + 1))
        if lo < 0:  # negative part: bits of -v are 0x80000000 | bits(v)
            b_hi = _f32_bits(-lo)
            b_lo = _f32_bits(-min(hi, 0.0)) if hi < 0 else 0
            out.append((0x80000000 | b_lo, (0x80000000 | b_hi) + 1))
        return out

    total_bad = 0
    tests = [("expm1", f_jax, xla_expm1_f32, -1.0, 1.0)]
    if not quick:
        tests += [
            ("expm1", f_jax, xla_expm1_f32, -18.5, -1.0),
            ("expm1", f_jax, xla_expm1_f32, 1.0, 89.0),
        ]
    tests += [
        ("expm1(x)/x", g_jax, lambda v: xla_expm1_f32(v) / v, -0.1, -1e-4),
    ]
    for name, fj, fn, lo, hi in tests:
        t0 = time.time()
        n_tot = 0
        n_bad = 0
        examples = []
        for b0, b1 in sign_ranges(lo, hi):
            if limit is not None:
                b1 = min(b1, b0 + limit)
            for xs in _bits_range(b0, b1, chunk):
                ref = run_jax(fj, xs)
                with np.errstate(all="ignore"):
                    sub = 1 << 18  # cache-friendly sub-chunks for NumPy
                    got = np.concatenate([np.asarray(fn(xs[i:i + sub]), _F32)
                                          for i in range(0, xs.size, sub)])
                nb, badmask = compare(ref, got)
                n_bad += nb
                n_tot += xs.size
                if nb and len(examples) < 5:
                    i = np.flatnonzero(badmask)[:5]
                    examples += [(float(xs[k]), float(ref[k]), float(got[k])) for k in i]
        total_bad += n_bad
        report.append({"check": f"{name} on [{lo:g}, {hi:g}]", "values": n_tot, "mismatches": n_bad})
        print(f"{name:11s} on [{lo:g}, {hi:g}]: {n_tot} float32 values, "
              f"{n_bad} mismatches ({time.time() - t0:.0f}s)"
              + (f" e.g. {examples[:5]}" if examples else ""), flush=True)

    # Spot checks: specials, outside-range values, random bit patterns, odd sizes.
    rng = np.random.default_rng(0)
    spots = np.concatenate([
        np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.72283172607422,
                  np.nextafter(_F32(88.72283172607422), _F32(np.inf)), 88.0, 89.0,
                  -18.0, np.nextafter(_F32(-18.0), _F32(-np.inf)), -17.32868, -20.0,
                  -100.0, 1e-45, -1e-45, 1e-38, -1e-38, 1.1754944e-38, 3e38, -3e38],
                 _F32),
        rng.integers(0, 2**32, 1_000_000, dtype=np.uint64).astype(np.uint32).view(_F32),
    ])
    n_bad_spot = 0
    for size in (spots.size, 1, 3, 7, 13, 1001):  # odd sizes exercise scalar tails
        xs = spots[:size]
        ref = np.asarray(jax.jit(jnp.expm1)(xs))
        nb, _ = compare(ref, xla_expm1_f32(xs))
        n_bad_spot += nb
    print(f"spot checks (specials, 1e6 random bit patterns, odd sizes): "
          f"{n_bad_spot} mismatches", flush=True)
    total_bad += n_bad_spot

    # Fused contexts: XLA contracts mul+add into fma inside a fused kernel.
    xr = rng.uniform(-1, 1, 1_000_000).astype(_F32)
    a, b, c = _F32(0.37), _F32(1.7), _F32(-0.2)
    ctx = [
        ("expm1(x)*b+c", lambda v: jnp.expm1(v) * b + c,
         lambda v: fma_f32(xla_expm1_f32(v), b, c)),
        ("c-expm1(x)*b", lambda v: c - jnp.expm1(v) * b,
         lambda v: fma_f32(-xla_expm1_f32(v), b, c)),
        ("expm1(a*x+b)", lambda v: jnp.expm1(a * v + b),
         lambda v: xla_expm1_f32(fma_f32(a, v, b))),
        ("expm1(x)+c", lambda v: jnp.expm1(v) + c, lambda v: xla_expm1_f32(v) + c),
    ]
    n_bad_ctx = 0
    for name, fj, fn in ctx:
        nb, _ = compare(np.asarray(jax.jit(fj)(xr)), np.asarray(fn(xr), _F32))
        print(f"fused context {name:14s} (1e6 random in [-1,1]): {nb} mismatches")
        n_bad_ctx += nb
    total_bad += n_bad_ctx
    print(f"TOTAL mismatches: {total_bad}")
    report.append({"check": "spot checks and fused contexts", "mismatches": n_bad_spot + n_bad_ctx})
    return total_bad, report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="[-1, 1] only; writes nothing")
    ap.add_argument("--limit", type=int, help="the first N values of each range only; writes nothing")
    ap.add_argument("--out", default=os.path.join(RESULTS, "check_xla_expm1.json"))
    args = ap.parse_args(argv)
    total_bad, report = _verify(quick=args.quick, limit=args.limit)
    if not args.quick and args.limit is None:
        import jax
        import jaxlib
        with open(args.out, "w") as fh:
            json.dump({"jax": jax.__version__, "jaxlib": jaxlib.__version__, "checks": report,
                       "total_mismatches": total_bad}, fh, indent=1)
        print(f"wrote {args.out}")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main())
