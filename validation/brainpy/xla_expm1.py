"""Bit-exact NumPy emulation of XLA:CPU's float32 ``expm1`` (jaxlib 0.12).

Why this exists
---------------
``jax.jit(jnp.expm1)`` on CPU does *not* call libm, nor does it compute
``exp(x) - 1``.  The HLO op ``exponential-minus-one`` (f32) is lowered by XLA:CPU
to a call of the bundled intrinsic ``xla.expm1.f32`` / ``xla.expm1.v{4,8,16}f32``,
whose source is ``xla/codegen/intrinsic/cpp/expm1.cc`` (template
``Expm1F32Impl``; header ``expm1.h``; tests ``expm1_test.cc``).  That C++ is
compiled to LLVM bitcode, embedded in XLA, and inlined into the fused loop, so
the final machine code (checked by disassembling the object file that
``XLA_FLAGS=--xla_dump_to=...`` writes for ``jit(expm1)``: AVX2 ``vfmadd*ps``
loop, 16 constants in ``.lrodata.cst4``) performs exactly the float32 sequence
below.  ``Fmuladd`` in the source is ``llvm.fmuladd``, which on an x86 host with
FMA (every AVX2 machine) becomes a *fused* multiply-add (one rounding).  NumPy's
``np.expm1`` (libm, correctly rounded-ish) differs from it by 1 ulp on ~0.2% of
inputs, hence this emulation.

Algorithm (all float32, RN-even; ``fma`` = single rounding)::

    xc   = clamp(x, -18.0, 0x1.62e42ep+6 (=88.72283935546875))
    n    = rint(xc * 0x1.715476p+0)                 # mul, then round-half-even
    rh0  = fma(-n, 0x1.62e4p-1, xc)                 # ln2_hi (exact here)
    nlo  = (-n) * 0x1.7f7d1cp-20                    # ln2_lo
    r    = rh0 + nlo ; r_lo = nlo + (rh0 - r)        # FastTwoSum
    q    = fma(fma(fma(fma(C7, r, C6), r, C5), r, C4), r, C3)
           C7=0x1.a2ffc4p-13 C6=0x1.6d0ffap-10 C5=0x1.110fbp-7
           C4=0x1.55551ap-5  C3=0x1.555556p-3
    r2   = r * r
    rla  = fma(r2, r * q, r_lo)
    tail = fma(0.5 * r, r, rla)
    ni   = int(n) (NaN -> 0);  n1 = min(ni, 127);  n2 = ni - n1
    s1   = bits((n1 + 127) << 23);  s2 = bits((n2 + 127) << 23)   # 2^n1, 2^n2
    sm1  = s1 + (-1) ; sm1_err = (s1 - sm1) + (-1)   # FastTwoSum(s1, -1)
    head = fma(s1, r, sm1)
    herr = fma(s1, r, sm1 - head) + sm1_err
    tt   = fma(s1, tail, herr)
    res  = (head + tt) * s2
    res  = x if x == 0 (keeps -0.0);  -1 if x < -18;  +inf if x > 88.72283935546875
    (NaN propagates through the arithmetic.)

Cost per element: 10 fused multiply-adds, 6 multiplies, 9 add/sub, 1 negate,
1 rint, 1 float->int, clamp (2 compares/selects), int min/sub/2 add/2 shift,
3 final compare+selects: ~40 scalar ops with a hardware fma.  Without one,
each fma costs ~4 float64 ops (+ a rare fix-up), i.e. roughly 70-80 ops.

FMA emulation without an fma instruction
----------------------------------------
NumPy has no fma.  ``fma_f32(a, b, c)`` computes ``round32(a*b + c)`` exactly:
the product of two float32 is exact in float64 (48-bit significand); the float64
sum ``s = p + c`` is rounded once and then converted to float32.  That double
rounding can only differ from a single rounding when ``s`` lands exactly on a
float32 rounding midpoint (low 29 significand bits == 0x10000000) or when the
float32 result would be subnormal.  For those rare elements the exact TwoSum
error is used to make ``s`` round-to-odd (step one float64 ulp towards the
error when the error is non-zero and ``s`` is even); round-to-odd at >= 24+2 bits
followed by round-to-nearest-even to 24 bits is a correct rounding (Boldo &
Melquiond), so the result equals the hardware fma bit for bit.  (Empirically the
fix-up never changed an expm1 output on [-1, 1]: the plain
``float32(float64(a)*b + c)`` version gives the same 2.13e9 results, but keep
the fix-up unless you re-verify.)  In Numba, the same scalar code works, or use
``numba.core.extending.intrinsic`` to emit ``llvm.fma.f32`` directly.

Caveats for emulating *surrounding* code (found while verifying; not expm1-specific)
------------------------------------------------------------------------------------
* XLA:CPU compiles every kernel with ``llvm::TargetOptions::AllowFPOpFusion =
  FPOpFusion::Fast`` (``CompilerTargetOptions`` in ``xla/service/cpu/cpu_compiler.cc``:
  "Always allow FMA fusion"), so a multiply feeding an add inside one fused
  kernel becomes an FMA: ``jit(lambda v: v*b + c)`` == ``fma_f32(v, b, c)`` (plain
  NumPy ``v*b + c`` differs on ~30% of elements); likewise ``expm1(x)*b + c`` ==
  ``fma_f32(xla_expm1_f32(x), b, c)``, ``c - expm1(x)*b`` == ``fma_f32(-e, b, c)``,
  ``expm1(a*x + b)`` == ``xla_expm1_f32(fma_f32(a, x, b))``.  (Checked on 4e6
  random inputs each: 0 mismatches with the fma forms.)
* XLA's algebraic simplifier rewrites division by a compile-time constant into a
  multiply by the float32 reciprocal: ``jit(lambda v: v / 0.37)`` computes
  ``v * float32(1/0.37)`` (optimized HLO shows ``constant(2.70270276)``).
  Division by a traced value (e.g. ``expm1(x)/x``) stays a true IEEE division.

Verification: ``python xla_expm1.py`` (with the bp312 venv that has jax) compares
this function with ``jax.jit(jnp.expm1)`` exhaustively over float32 ranges and
checks ``expm1(x)/x`` against ``jax.jit(lambda x: jnp.expm1(x)/x)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["xla_expm1_f32", "fma_f32"]

_F32 = np.float32
_F64 = np.float64


def _f32hex(s: str) -> np.float32:
    v = _F32(float.fromhex(s))
    assert float(v) == float.fromhex(s), s  # all constants are exact float32
    return v


K_LOG2E = _f32hex("0x1.715476p+0")
K_EXP_HI = _f32hex("0x1.62e42ep+6")  # 88.72283935546875
K_EXP_LO = _F32(-18.0)
K_LN2_HI = _f32hex("0x1.62e4p-1")
K_LN2_LO = _f32hex("0x1.7f7d1cp-20")
C7 = _f32hex("0x1.a2ffc4p-13")
C6 = _f32hex("0x1.6d0ffap-10")
C5 = _f32hex("0x1.110fbp-7")
C4 = _f32hex("0x1.55551ap-5")
C3 = _f32hex("0x1.555556p-3")
K_HALF = _F32(0.5)
K_NEG_ONE = _F32(-1.0)


def fma_f32(a, b, c):
    """Correctly rounded float32 fused multiply-add round32(a*b + c).

    a, b, c: float32 arrays/scalars (broadcastable).  p = a*b is exact in
    float64; s = p + c is rounded once in float64 and then once more to
    float32.  That double rounding can only go wrong when s lands exactly on a
    float32 rounding midpoint (low 29 bits of the float64 significand ==
    0x10000000) or when the float32 result is subnormal; only for those rare
    elements the exact TwoSum error is used to make s round-to-odd, after which
    the float64->float32 conversion is a correct single rounding.
    """
    p = np.asarray(a, _F64) * np.asarray(b, _F64)  # exact (24+24 bits)
    c = np.asarray(c, _F64)
    s = p + c
    bits = s.view(np.int64)
    risky = ((bits & 0x1FFFFFFF) == 0x10000000) | (np.abs(s) < 2.0**-125)
    if risky.any():
        s = s.copy()
        pp = np.broadcast_to(p, s.shape)[risky]
        cc = np.broadcast_to(c, s.shape)[risky]
        ss = s[risky]
        bb = ss - pp  # TwoSum: ss + err == pp + cc exactly
        err = (pp - (ss - bb)) + (cc - bb)
        sb = ss.view(np.int64)
        need = (err != 0) & ((sb & 1) == 0)
        step = np.where((err > 0) == (ss > 0), np.int64(1), np.int64(-1))
        s[risky] = (sb + np.where(need, step, np.int64(0))).view(_F64)
    return s.astype(_F32)


def xla_expm1_f32(x: np.ndarray) -> np.ndarray:
    """expm1 for float32 that matches ``jax.jit(jnp.expm1)`` on XLA:CPU bit for bit.

    Emulates ``Expm1F32Impl`` of ``xla/codegen/intrinsic/cpp/expm1.cc`` (see the
    module docstring).  Input is converted to float32; output is float32 with
    the same shape.
    """
    x = np.asarray(x, dtype=_F32)
    scalar_in = x.ndim == 0
    x = np.atleast_1d(x)
    with np.errstate(all="ignore"):
        # Step 1: clamp (NaN stays NaN).
        xc = np.where(x < K_EXP_LO, K_EXP_LO, np.where(K_EXP_HI < x, K_EXP_HI, x))
        # Step 2: Cody-Waite reduction.
        n = np.rint(xc * K_LOG2E)
        neg_n = -n
        rh0 = fma_f32(neg_n, K_LN2_HI, xc)
        nlo = neg_n * K_LN2_LO
        r = rh0 + nlo  # FastTwoSum(rh0, nlo)
        r_lo = nlo + (rh0 - r)
        # Step 3: polynomial.
        q = fma_f32(C7, r, C6)
        q = fma_f32(q, r, C5)
        q = fma_f32(q, r, C4)
        q = fma_f32(q, r, C3)
        r2 = r * r
        r_lo_adj = fma_f32(r2, r * q, r_lo)
        tail = fma_f32(K_HALF * r, r, r_lo_adj)
        # Step 4: 2^n = s1 * s2.
        n_int = np.where(np.isnan(n), _F32(0), n).astype(np.int32)
        n1 = np.minimum(n_int, np.int32(127))
        n2 = n_int - n1
        s1 = ((n1 + np.int32(127)) << np.int32(23)).astype(np.int32).view(_F32)
        s2 = ((n2 + np.int32(127)) << np.int32(23)).astype(np.int32).view(_F32)
        # Step 5: reconstruction.
        sm1 = s1 + K_NEG_ONE  # FastTwoSum(s1, -1)
        sm1_err = (s1 - sm1) + K_NEG_ONE
        head = fma_f32(s1, r, sm1)
        head_err = fma_f32(s1, r, sm1 - head) + sm1_err
        tail_total = fma_f32(s1, tail, head_err)
        res = (head + tail_total) * s2
        # Step 6: specials.
        res = np.where(x == 0, x, res)
        res = np.where(x < K_EXP_LO, K_NEG_ONE, res)
        res = np.where(x > K_EXP_HI, _F32(np.inf), res)
    res = res.astype(_F32, copy=False)
    return res[0] if scalar_in else res



# ---------------------------------------------------------------------------
# Exhaustive verification against jax (run with the bp312 venv).
# ---------------------------------------------------------------------------


def _bits_range(lo_bits: int, hi_bits: int, chunk: int):
    """Yield float32 arrays covering int32 bit patterns [lo_bits, hi_bits)."""
    for start in range(lo_bits, hi_bits, chunk):
        stop = min(start + chunk, hi_bits)
        yield np.arange(start, stop, dtype=np.uint32).view(_F32)


def _f32_bits(v: float) -> int:
    return int(np.array([v], _F32).view(np.uint32)[0])


def _verify(chunk: int = 1 << 22, quick: bool = False) -> int:
    import time

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
        print(f"{name:11s} on [{lo:g}, {hi:g}]: {n_tot} float32 values, "
              f"{n_bad} mismatches ({time.time() - t0:.0f}s)"
              + (f" e.g. {examples[:5]}" if examples else ""), flush=True)

    # Spot checks: specials, outside-range values, random bit patterns, odd sizes.
    rng = np.random.default_rng(0)
    spots = np.concatenate([
        np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.72283935546875,
                  np.nextafter(_F32(88.72283935546875), _F32(np.inf)), 88.0, 89.0,
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
    return total_bad


if __name__ == "__main__":
    import sys

    raise SystemExit(1 if _verify(quick="--quick" in sys.argv) else 0)
