#!/usr/bin/env python
"""Accuracy of refsim's elementary functions, and the reference table the tests check.

Run with refsim's environment from the repository root (needs ``mpmath``)::

    python -m validation.elementary_accuracy                 # everything (~5 min on 2 cores)
    python -m validation.elementary_accuracy --write-table   # also rewrite the test table
    python -m validation.elementary_accuracy --n-random 100 --skip-exhaustive --out /tmp/e.json

What it measures (``--out``, default ``validation/results/elementary_accuracy.json``, and a
table on stdout):

1. **Error against the exact value** (mpmath at 200 bits, rounded correctly to the target
   format): the largest error in ulps of the correctly rounded result, and the share of
   arguments whose result is not the correctly rounded one, for ``expm1_f64`` on random
   arguments in [-2, 0), [-40, 710] and tiny |x| (log-uniform in [1e-300, 1e-3], both signs).
2. **expm1_f32 is correctly rounded for every float32 in [-2, 0]**, exhaustively: for each of
   the 1 073 741 825 arguments, ``expm1_f64`` of it is within one float64 ulp of the exact
   value (fdlibm's bound, and item 1's measurement); when no float32 rounding boundary lies
   within that ulp, rounding it to float32 gives the correctly rounded value. The arguments
   whose float64 value is that close to a boundary are decided by mpmath.
3. **xla_expm1_f32 against the correctly rounded float32**, exhaustively on [-2, 0] (the
   reference being item 2's correctly rounded ``expm1_f32``): max ulp and share.
4. **expm1_f64 against glibc's generic build** (``GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA``
   selects it on x86-64, in a child process) on 10**7 arguments in [-2, 0) and 10**6 in
   [-40, 710]: the number of differing results (0 expected: the algorithm is a port of it).
   The same against the machine's default libm build, which on an FMA machine differs.

``--write-table`` writes ``--table`` (default ``tests/data/elementary_table.json``): for each
function, arguments (specials, every branch boundary of fdlibm's reduction and its
neighbours, the arguments the presets use, log-uniform random values) with refsim's output
and the correctly rounded value as hex, which ``tests/test_elementary.py`` checks in every engine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from refsim import elementary as el
from validation.common import REPO, RESULTS, write_json

TABLE = os.path.join(REPO, "tests", "data", "elementary_table.json")

PREC = 200  # bits of mpmath's exact values


def exact(x, dtype):
    """The correctly rounded expm1(x) and exprel(x) in ``dtype`` (mpmath), as NumPy scalars."""
    import mpmath
    mpmath.mp.prec = PREC
    x = float(x)
    if np.isnan(x):
        return np.full(2, np.nan, dtype)
    if np.isinf(x):
        return np.array([np.inf if x > 0 else -1.0, np.inf if x > 0 else 0.0], dtype)
    v = mpmath.expm1(mpmath.mpf(x))
    r = mpmath.mpf(1) if x == 0 else v / mpmath.mpf(x)
    return np.array([_round(v, dtype, x), _round(r, dtype, 1.0)], dtype)


def _round(v, dtype, sign_source):
    """v (mpf) rounded to nearest-even in ``dtype``."""
    import mpmath
    if v == 0:
        return np.copysign(0.0, sign_source)
    with np.errstate(over="ignore"):
        y = dtype(float(v))  # within one ulp of the answer in dtype
    if not np.isfinite(y):  # beyond the largest finite value: round to nearest overflows
        return y
    cands = [y, np.nextafter(y, dtype(np.inf)), np.nextafter(y, dtype(-np.inf))]
    cands = [c for c in cands if np.isfinite(c)]
    if not cands:
        return y
    err = [abs(mpmath.mpf(float(c)) - v) for c in cands]
    best = min(err)
    ties = [c for c, e in zip(cands, err, strict=True) if e == best]
    if len(ties) > 1:  # ties to even
        bits = {np.float32: np.uint32, np.float64: np.uint64}[dtype]
        ties = [c for c in ties if int(np.array(c, dtype).view(bits)) % 2 == 0]
    return ties[0]


def ulp_error(got, x, dtype):
    """|got - exact| in ulps of the correctly rounded result (mpmath)."""
    import mpmath
    mpmath.mp.prec = PREC
    v = mpmath.expm1(mpmath.mpf(float(x)))
    ref = exact(x, dtype)[0]
    if not np.isfinite(ref) or ref == 0:
        return 0.0 if got == ref else float("inf")
    ulp = float(np.spacing(np.abs(dtype(ref))))
    if np.abs(ref) == np.ldexp(dtype(1), int(np.frexp(ref)[1]) - 1):  # a power of two: the
        ulp = float(np.spacing(np.nextafter(np.abs(dtype(ref)), dtype(0))))  # spacing below
    return float(abs(mpmath.mpf(float(got)) - v) / ulp)


# -- 1. random arguments against mpmath --------------------------------------------------

def random_accuracy(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    tiny = 10.0 ** rng.uniform(-300, -3, n) * rng.choice([-1.0, 1.0], n)
    sets = {"[-2, 0)": -rng.uniform(0, 2, n), "[-40, 710]": rng.uniform(-40, 710, n),
            "tiny |x|": tiny}
    rows = []
    for name, x in sets.items():
        t0 = time.perf_counter()
        got = el.expm1(x)
        errs = np.array([ulp_error(g, v, np.float64) for g, v in zip(got, x, strict=True)])
        rows.append({"function": "expm1_f64", "arguments": f"{name}, {n} random",
                     "max_ulp": float(errs.max()), "not_correctly_rounded": float(np.mean(errs > 0.5)),
                     "seconds": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    return rows


# -- 2.-3. exhaustive float32 on [-2, 0] -------------------------------------------------

def _f32_kernel():
    from numba import njit

    from refsim.engines import numba_primitives  # noqa: F401  (registers refsim.elementary)

    @njit(error_model="numpy")
    def scan(x, y32, xla, near):
        """For each float32 x: y32 = expm1_f32(x), xla = xla_expm1_f32(x), and whether the
        float64 expm1(x) lies within one float64 ulp of a float32 rounding boundary."""
        for i in range(x.size):
            y64 = el.expm1_f64(np.float64(x[i]))
            y = np.float32(y64)
            hi_mid = (np.float64(y) + np.float64(np.nextafter(y, np.float32(np.inf)))) / 2
            lo_mid = (np.float64(y) + np.float64(np.nextafter(y, np.float32(-np.inf)))) / 2
            u = max(np.nextafter(y64, np.inf) - y64, y64 - np.nextafter(y64, -np.inf))
            near[i] = not (lo_mid < y64 - u and y64 + u < hi_mid)
            y32[i] = y
            xla[i] = el.xla_expm1_f32(x[i])
    return scan


def exhaustive_f32(chunk: int = 1 << 24) -> dict:
    """Items 2 and 3 over every float32 in [-2, 0] (bits 0x80000000 .. bits(-2.0))."""
    scan = _f32_kernel()
    lo = 0x80000000
    hi = int(np.array([-2.0], np.float32).view(np.uint32)[0]) + 1
    hist = np.zeros(4, np.int64)
    suspects, t0 = [], time.perf_counter()
    for start in range(lo, hi, chunk):
        x = np.arange(start, min(start + chunk, hi), dtype=np.uint32).view(np.float32)
        y32, xla, near = np.empty_like(x), np.empty_like(x), np.empty(x.size, bool)
        scan(x, y32, xla, near)
        d = np.abs(xla.view(np.int32).astype(np.int64) - y32.view(np.int32))
        hist += np.bincount(np.minimum(d, 3), minlength=4)
        suspects.extend(x[near].tolist())
    wrong = [float(v).hex() for v in suspects
             if el.expm1(np.float32(v)) != exact(np.float32(v), np.float32)[0]]
    total = hi - lo
    return {"arguments": total, "near_a_boundary_decided_by_mpmath": len(suspects),
            "not_correctly_rounded": len(wrong), "examples": wrong[:10],
            "xla_ulp_histogram_0_1_2_more": hist.tolist(),
            "xla_not_correctly_rounded_share": float(1 - hist[0] / total),
            "xla_max_ulp": int(np.flatnonzero(hist)[-1]),
            "seconds": time.perf_counter() - t0}


# -- 4. glibc ----------------------------------------------------------------------------

_GLIBC_CHILD = r"""
import json, math, numpy as np
from numba import njit
@njit
def libm(x, out):
    for i in range(x.size):
        out[i] = math.expm1(x[i])
from refsim import elementary as el  # the repository's: the child runs in its root
rng = np.random.default_rng(0)
res = {}
for name, x in (("[-2, 0)", -rng.uniform(0, 2, 10**7)), ("[-40, 710]", rng.uniform(-40, 710, 10**6))):
    out = np.empty_like(x); libm(x, out)
    differing = np.count_nonzero(out.view(np.int64) != el.expm1(x).view(np.int64))
    res[name] = {"arguments": x.size, "differing": int(differing)}
print(json.dumps(res))
"""


def against_glibc() -> dict:
    out = {}
    for label, env in (("glibc generic build (hwcaps -AVX2,-FMA)",
                        {**os.environ, "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA"}),
                       ("this machine's default libm", dict(os.environ))):
        p = subprocess.run([sys.executable, "-c", _GLIBC_CHILD], capture_output=True,
                           text=True, env=env, cwd=REPO)
        out[label] = (json.loads(p.stdout.splitlines()[-1]) if p.returncode == 0
                      else {"error": p.stderr[-500:]})
        print(label, out[label], flush=True)
    return out


# -- the test table ----------------------------------------------------------------------

def table_arguments(dtype) -> np.ndarray:
    """Specials, every branch boundary and its neighbours, preset arguments, random values."""
    f = dtype
    edges = [el.NEAR_LIMIT, el.X_FAR, el.X_MINUS_ONE, el.X_TINY, el.O_THRESHOLD, 0.25,
             20 * np.log(2), 56 * np.log(2), 1.5, 1.0, 0.5, 88.72283172607422, 18.0, 2.0**-126]
    xs = [0.0, -0.0, np.inf, -np.inf, np.nan, np.finfo(f).tiny, -np.finfo(f).tiny,
          np.finfo(f).smallest_subnormal, -np.finfo(f).smallest_subnormal, np.finfo(f).max,
          -np.finfo(f).max]
    for e in edges:
        for s in (1.0, -1.0):
            v = f(s * e)
            if np.isfinite(v):
                xs += [v, np.nextafter(v, f(np.inf)), np.nextafter(v, f(-np.inf))]
    # the arguments of the presets: dt * (-1/tau) for the conductances, dt * J typical
    for tau in (5.0, 10.0, 20.0):
        xs.append(f(0.1) * (f(-1) / f(tau)))
    xs += list(-f(0.005) * (1 + np.array([0.0, 1.0, 10.0, 50.0, 100.0, 300.0], f)))
    rng = np.random.default_rng(12)
    xs += list(f(10.0) ** rng.uniform(-30 if f is np.float32 else -300, 2.8, 40) * rng.choice([-1, 1], 40))
    xs += list(-rng.uniform(0, 2, 40).astype(f))
    return np.array(xs, f)


def write_table(path: str = TABLE) -> None:
    import mpmath
    mpmath.mp.prec = PREC
    hexf = lambda v, f: float(v).hex() if f is np.float64 or not np.isfinite(v) else float(v).hex()  # noqa: E731
    out = {"about": "refsim.elementary outputs and the correctly rounded values (mpmath, "
                    f"{PREC} bits), written by python -m validation.elementary_accuracy --write-table; "
                    "checked by tests/test_elementary.py", "functions": {}}
    for name, dtype, impl in (("expm1_f64", np.float64, "portable"),
                              ("expm1_f32", np.float32, "portable"),
                              ("xla_expm1_f32", np.float32, "xla")):
        x = table_arguments(dtype)
        if impl == "xla":
            x = x[(np.abs(x) <= 89) | ~np.isfinite(x)]
        e1 = el.expm1(x, impl)
        er = el.exprel(x, impl)
        rows = []
        for xi, a, b in zip(x, e1, er, strict=True):
            ref = exact(xi, dtype)
            rows.append([hexf(xi, dtype), hexf(a, dtype), hexf(b, dtype),
                         hexf(ref[0], dtype), hexf(ref[1], dtype)])
        out["functions"][name] = {"dtype": np.dtype(dtype).name, "impl": impl,
                                  "columns": ["x", "expm1", "exprel", "expm1 correctly rounded",
                                              "exprel correctly rounded"], "rows": rows}
    write_json(path, out)
    print(f"wrote {path}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write-table", action="store_true", help="write the test table to --table")
    ap.add_argument("--table", default=TABLE, help="default: %(default)s")
    ap.add_argument("--n-random", type=int, default=200_000)
    ap.add_argument("--skip-exhaustive", action="store_true")
    ap.add_argument("--out", default=os.path.join(RESULTS, "elementary_accuracy.json"))
    args = ap.parse_args(argv)
    if args.write_table:
        write_table(args.table)
    report = {"random": random_accuracy(args.n_random), "glibc": against_glibc()}
    if not args.skip_exhaustive:
        report["float32_exhaustive_[-2,0]"] = exhaustive_f32()
        print(report["float32_exhaustive_[-2,0]"], flush=True)
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
