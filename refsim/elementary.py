r"""refsim's own elementary functions: ``expm1`` and ``exprel`` with the same bits on every machine.

Why refsim does not call ``np.expm1`` or libm
---------------------------------------------
A transcendental function from a library is not one function. NumPy dispatches ``np.expm1``
to SIMD code chosen by the CPU it runs on (AVX-512 machines get a different float64 and
float32 ``expm1`` than AVX2 machines), and glibc's ``expm1`` is an IFUNC that picks an FMA
build on FMA-capable CPUs; libdevice's on a GPU is a third. One ulp of ``expm1`` in the step
factor of exponential Euler is enough to move a spike by a step, and in a chaotic network
that changes the raster. So every transcendental value refsim computes, in every engine and
in the constants derived once per run, goes through the functions of this module, which use
only IEEE-754 operations whose result the standard fixes exactly: ``+ - * /``, comparisons,
selection, conversion between float64 and float32, truncation of a float to an integer, and
exact scaling by a power of two. Every operation is written out in a fixed order; nothing is
left to a compiler to reassociate or to contract into a fused multiply-add (FMA).

The algorithms
--------------
``expm1_f64``
    A port of fdlibm's ``s_expm1.c`` (Sun Microsystems 1993) as glibc builds it for CPUs
    without FMA (``sysdeps/ieee754/dbl-64/s_expm1.c``, with Shimizu's 1997 rearrangement of
    the polynomial). Reduction x = k ln2 + r + r_lo (fdlibm's ``c``) with |r| <= 0.5 ln2
    (ln2 split into a 33-bit head and a tail, so k ln2_hi is exact), a degree-5 rational
    approximation of expm1(r) (error below 2**-61), and reconstruction 2**k (expm1(r) + 1) - 1
    arranged per range of k to avoid cancellation. fdlibm's branches are written as
    selections: every lane computes every case and keeps one, which makes the function vector
    code with no data-dependent branch, and fdlibm's "add k to the exponent field" becomes the
    exact product with 2**k.
    Measured: bit-identical to glibc 2.36's generic build on 10**7 arguments in [-2, 0) and
    on 10**6 in [-40, 710] (``validation/elementary_accuracy.py``).
``expm1_f32``
    ``expm1_f64`` of the float32 argument (exact in float64), rounded once to float32. Double
    rounding can only go wrong when the float64 value is within its error of a float32
    rounding boundary; checked exhaustively, the result is the correctly rounded float32 for
    every float32 argument in [-2, 0] (``validation/elementary_accuracy.py``).
``expm1_near_f64``
    The k = 0 arm of ``expm1_f64`` alone (|x| < 0.5 ln2, where the reduction is the
    identity); it returns exactly the bits of ``expm1_f64`` there. The Numba engine evaluates
    it for every neuron and recomputes the few others with ``expm1_f64`` (a fast path, not a
    different function).
``xla_expm1_f32``
    A bit-exact emulation of XLA:CPU's float32 ``expm1`` (``xla/codegen/intrinsic/cpp/
    expm1.cc``, the ``Expm1F32Impl`` that ``jax.jit(jnp.expm1)`` inlines; jaxlib 0.12), which
    is what BrainPy computes. Cody-Waite reduction by rint(x log2 e), a degree-7 polynomial
    in fused multiply-adds, two-term reconstruction. Verified exhaustively against
    ``jax.jit(jnp.expm1)`` on [-1, 1] and on [-18.5, 89] (``validation/brainpy/``).
``exprel_*``
    exprel(z) = expm1(z) / z, the IEEE quotient in the same float type, and exactly 1 at
    z = 0 (the one point where the quotient is undefined).

Measured accuracy (``validation/elementary_accuracy.py``: against mpmath at 200 bits, in ulps
of the correctly rounded result; "not c.r." = share of results that are not the correctly
rounded value):

================= ====================================== ========= ===================
function          arguments                              max error not c.r.
================= ====================================== ========= ===================
``expm1_f64``     [-2, 0), 200 000 random                0.76 ulp  12.6 %
``expm1_f64``     [-40, 710], 200 000 random             0.75 ulp  9.3 %
``expm1_f64``     1e-300 <= abs(x) <= 1e-3, 200 000      0.50 ulp  0
``expm1_f32``     [-2, 0], all 1 073 741 825 float32     0.50 ulp  0 (all c.r.)
``xla_expm1_f32`` [-2, 0], all float32                   1 ulp     0.12 %
================= ====================================== ========= ===================

(For ``xla_expm1_f32`` the distance to the correctly rounded float32, in whole ulps.)

How one source serves three engines
-----------------------------------
The algorithms are plain Python functions of scalars or arrays. They touch the numbers only
through operators and the primitives below, each of which names one IEEE operation:

=============== ============================ ======================= ==========================
primitive       NumPy (the oracle)           Numba (CPU)             CUDA
=============== ============================ ======================= ==========================
``mul(a, b)``   ``a * b``                    ``fmul``, no contraction ``__nv_dmul_rn`` /
                                                                     ``__nv_fmul_rn``
``select``      ``np.where``                 LLVM ``select``         ``a if c else b``
``trunc(x)``    float->int32->float          ``fptosi``/``sitofp``   the same casts
``pow2(t)``     exponent bits, ``view``      exponent bits, bitcast  ``__nv_longlong_as_double``
``f32``/``f64`` ``astype``                   ``fptrunc``/``fpext``   the same casts
``f64_bits``,   ``view``                     bitcast                 (not needed: ``fma32`` is
``bits_f64``                                                         ``__fmaf_rn``)
=============== ============================ ======================= ==========================

``fma32``, the single-rounding x*y + z of float32 operands, is an algorithm of the primitives
(round-to-odd in float64) and is used as such by NumPy; the Numba engine uses the CPU's FMA
instruction where the target has one (``llvm.fma.f32``, the same correctly rounded result) and
compiles the algorithm where it has not; CUDA uses ``__fmaf_rn``.

The NumPy oracle calls these functions on arrays; the Numba engine compiles the *same*
function objects (``refsim.engines.numba_primitives`` registers them and the primitives with
Numba), and so does the CUDA engine for the device
(``cuda_engine._register_device_functions``). A product is written ``mul(a, b)`` wherever an
addition consumes it, because NVVM would otherwise fuse the two into an FMA.

References
----------
fdlibm 5.3, ``s_expm1.c``, Sun Microsystems (1993); glibc 2.36
``sysdeps/ieee754/dbl-64/s_expm1.c``. XLA ``xla/codegen/intrinsic/cpp/expm1.cc`` (jaxlib
0.12). S. Boldo, G. Melquiond (2008), Emulation of FMA and correctly rounded sums: proved
algorithms using rounding to odd, IEEE Trans. Comput. 57:462.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

__all__ = ["IMPLEMENTATIONS", "expm1", "exprel", "fma_f32", "check_fp_environment",
           "FloatingPointModeError", "expm1_f64", "expm1_f32", "xla_expm1_f32",
           "exprel_f64", "exprel_f32", "exprel_xla_f32"]

#: Values of ``Config.expm1``: which expm1 the model uses.
IMPLEMENTATIONS = ("portable", "xla", "libm")


# --------------------------------------------------------------------------------------
# Primitives: one IEEE operation each. These are the NumPy forms (arrays or NumPy scalars);
# refsim.engines.numba_engine and cuda_engine give each its compiled form.
# --------------------------------------------------------------------------------------

def mul(a, b):
    """a * b, one rounding, never fused with a following addition.

    Parameters
    ----------
    a, b : ndarray or scalar
        Of one float type.

    Returns
    -------
    ndarray or scalar
    """
    return a * b


def select(cond, a, b):
    """a where cond, else b (elementwise; both sides are always evaluated).

    Parameters
    ----------
    cond : ndarray of bool or bool
    a, b : ndarray or scalar

    Returns
    -------
    ndarray
    """
    return np.where(cond, a, b)


def trunc(x):
    """x rounded toward zero to an integer, as a float64 (|x| < 2**31).

    Parameters
    ----------
    x : ndarray or scalar of float64
        |x| < 2**31 (the value passes through int32).

    Returns
    -------
    ndarray of float64
        Integer-valued: -1.5 gives -1.0, 2.7 gives 2.0.
    """
    return np.asarray(x).astype(np.int32).astype(np.float64)


def pow2(t):
    """2**t exactly, for an integer-valued float64 t in [-1022, 1023] (the exponent field).

    Parameters
    ----------
    t : ndarray or scalar of float64
        Integer-valued, -1022 .. 1023.

    Returns
    -------
    ndarray of float64
        A normal power of two: the bit pattern (t + 1023) << 52.
    """
    return ((np.asarray(t).astype(np.int64) + 1023) << 52).view(np.float64)


def f64(x):
    """x as float64 (exact from float32).

    Parameters
    ----------
    x : ndarray or scalar
        float32 or float64 values.

    Returns
    -------
    ndarray of float64
    """
    return np.asarray(x).astype(np.float64)


def f32(x):
    """x rounded once to float32 (round to nearest, ties to even).

    Parameters
    ----------
    x : ndarray or scalar
        Typically float64.

    Returns
    -------
    ndarray of float32
        The nearest float32 (one rounding).
    """
    return np.asarray(x).astype(np.float32)


def f64_bits(x):
    """The IEEE-754 bit pattern of a float64, as an int64.

    Parameters
    ----------
    x : ndarray or scalar of float64

    Returns
    -------
    ndarray of int64
        Sign, 11 exponent and 52 fraction bits (a view of the same bytes, no conversion).
    """
    return np.asarray(x, np.float64).view(np.int64)


def bits_f64(i):
    """The float64 whose IEEE-754 bit pattern is the int64 i.

    Parameters
    ----------
    i : ndarray or scalar of int64
        A bit pattern, as :func:`f64_bits` gives it.

    Returns
    -------
    ndarray of float64
    """
    return np.asarray(i, np.int64).view(np.float64)


def fma32(x, y, z):
    """round32(x * y + z) with a single rounding, for float32 operands (a fused multiply-add).

    The float32 product is exact in float64; the float64 sum is rounded *to odd* (its TwoSum
    residual decides the last bit when the sum is inexact), and rounding that to float32 is
    then the correctly rounded result (Boldo & Melquiond 2008: 53 >= 24 + 2 bits). The Numba
    engine uses the CPU's FMA instruction instead where it has one (the same result: IEEE 754
    defines the operation) and compiles this function where it has not.

    Parameters
    ----------
    x, y, z : ndarray or scalar of float32
        IEEE 754's names for the operands of fusedMultiplyAdd(x, y, z) = x y + z.

    Returns
    -------
    ndarray of float32
    """
    x, y, z = f64(x), f64(y), f64(z)
    p = mul(x, y)  # exact
    s = p + z
    bb = s - p
    err = (p - (s - bb)) + (z - bb)  # s + err = p + z exactly
    bits = f64_bits(s)
    # one float64 ulp toward the exact value: up in magnitude if err has s's sign, else down
    toward = select((err > 0.0) == (s > 0.0), 1, -1)
    # (err != err: s is infinite or nan, which the float32 rounding keeps as it is)
    bits = select((err != 0.0) & (err == err) & ((bits & 1) == 0), bits + toward, bits)
    return f32(bits_f64(bits))


# --------------------------------------------------------------------------------------
# expm1 in float64: fdlibm's s_expm1.c (glibc's generic build), branches as selections
# --------------------------------------------------------------------------------------

def _hex(s: str) -> float:
    return float.fromhex(s)


def _word(high: int, low: int = 0) -> float:
    """The float64 whose high and low 32-bit words are given (fdlibm writes its constants so)."""
    return float(np.array([(high << 32) | low], np.uint64).view(np.float64)[0])


O_THRESHOLD = _word(0x40862E42, 0xFEFA39EF)  # 709.78...: expm1 overflows above
LN2_HI = _word(0x3FE62E42, 0xFEE00000)       # ln 2, head (k * LN2_HI is exact for |k| < 2**20)
LN2_LO = _word(0x3DEA39EF, 0x35793C76)       # ln 2 - LN2_HI
INVLN2 = _word(0x3FF71547, 0x652B82FE)       # 1 / ln 2
Q1 = _word(0xBFA11111, 0x111110F4)           # the rational approximation's coefficients,
Q2 = _word(0x3F5A01A0, 0x19FE5585)           # scaled as fdlibm does (Q_i * 2**i)
Q3 = _word(0xBF14CE19, 0x9EAADBB7)
Q4 = _word(0x3ED0CFCA, 0x86E65239)
Q5 = _word(0xBE8AFDB7, 0x6E09C32D)
# fdlibm's branch conditions compare the high word of |x|; as comparisons of |x| they read:
X_MINUS_ONE = _word(0x4043687A)   # |x| >= 56 ln2 (38.8): x <= -X_MINUS_ONE gives -1
X_FAR = _word(0x3FF0A2B2)         # |x| >= 1.5 ln2 (1.04): k = trunc(x / ln2 +- 0.5)
NEAR_LIMIT = _word(0x3FD62E43)    # |x| >= 0.5 ln2 (0.347): k = +-1 below X_FAR; else k = 0
X_TINY = _word(0x3C900000)        # |x| < 2**-54: expm1(x) = x


def _expm1_primary(r):
    """fdlibm's rational approximation on the primary range |r| <= 0.5 ln2 (Shimizu's
    arrangement, as glibc): returns (hxs, e) with expm1(r) = r - (r e - hxs), hxs = r**2 / 2."""
    hfx = mul(0.5, r)
    hxs = mul(r, hfx)
    R1 = 1.0 + mul(hxs, Q1)
    h2 = mul(hxs, hxs)
    R2 = Q2 + mul(hxs, Q3)
    h4 = mul(h2, h2)
    R3 = Q4 + mul(hxs, Q5)
    r1 = (R1 + mul(h2, R2)) + mul(h4, R3)
    t = 3.0 - mul(r1, hfx)
    return hxs, mul(hxs, (r1 - t) / (6.0 - mul(r, t)))


def expm1_f64(x):
    """exp(x) - 1 in float64, fdlibm's algorithm with every operation in a fixed order.

    Less than 1 ulp from the exact value; bit-identical to glibc's generic (non-FMA) build.
    Special values as fdlibm: expm1(+-0) = +-0, expm1(+inf) = +inf, expm1(-inf) = -1,
    expm1(nan) = nan, overflow to +inf above 709.78.

    Parameters
    ----------
    x : ndarray or scalar of float64

    Returns
    -------
    ndarray of float64
        0-d for a scalar. Every case is computed for every element (NumPy may warn about the
        cases not kept: :func:`expm1` silences that).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.elementary import expm1_f64
    >>> expm1_f64(np.array([-0.01, 0.0, 1.0, -40.0])).tolist()
    [-0.009950166250831947, 0.0, 1.718281828459045, -1.0]
    """
    ax = abs(x)
    # keep the reduction finite where a special case below answers instead (nan, +-inf, -1)
    xr = select((x > -X_MINUS_ONE) & (x <= O_THRESHOLD), x, 0.0)
    # 1. argument reduction: x = k ln2 + r + r_lo, |r| <= 0.5 ln2 (fdlibm's three ranges of |x|
    #    give one formula: k = +-1 and k = 0 are what the general rule computes there; r_lo is
    #    fdlibm's c, the rounding error of r)
    k = trunc(mul(INVLN2, xr) + select(xr < 0.0, -0.5, 0.5))   # |x| >= 1.5 ln2
    k = select(ax < X_FAR, select(xr < 0.0, -1.0, 1.0), k)      # 0.5 ln2 < |x| < 1.5 ln2
    k = select(ax < NEAR_LIMIT, 0.0, k)                         # then r = x, r_lo = 0
    hi = xr - mul(k, LN2_HI)  # exact
    lo = mul(k, LN2_LO)
    r = hi - lo
    r_lo = (hi - r) - lo
    # 2. expm1(r) = r - E on the primary range
    hxs, e = _expm1_primary(r)
    y_k0 = r - (mul(r, e) - hxs)
    # 3. scale back by 2**k; every case is computed, each lane keeps the one of its k
    e = (mul(r, e - r_lo) - r_lo) - hxs
    y_km1 = mul(0.5, r - e) - 0.5
    y_k1 = select(r < -0.25, mul(-2.0, e - (r + 0.5)), 1.0 + mul(2.0, r - e))
    # k <= -2 or k > 56: 2**k (1 - (E - r)) - 1, with 2**k as 2 * 2**(k-1) so that k = 1024
    # stays finite (fdlibm adds k to the exponent field: the product is the same number)
    y_far = mul(mul(1.0 - (e - r), 2.0), pow2(k - 1.0)) - 1.0
    ks = select((k >= 2.0) & (k <= 56.0), k, 2.0)       # 2**-k is needed only there
    y_lt20 = mul((1.0 - pow2(-ks)) - (e - r), pow2(ks))  # 2 <= k < 20
    y_ge20 = mul((r - (e + pow2(-ks))) + 1.0, pow2(ks))   # 20 <= k <= 56
    y = select(k < 20.0, y_lt20, y_ge20)
    y = select((k <= -2.0) | (k > 56.0), y_far, y)
    y = select(k == 1.0, y_k1, y)
    y = select(k == -1.0, y_km1, y)
    y = select(k == 0.0, y_k0, y)
    # special cases, as fdlibm orders them
    y = select(ax < X_TINY, x, y)
    y = select(x <= -X_MINUS_ONE, -1.0, y)
    y = select(x > O_THRESHOLD, math.inf, y)
    return select(x != x, x + x, y)  # nan


def expm1_near_f64(x):
    """``expm1_f64(x)`` for |x| < NEAR_LIMIT (0.5 ln2) only: its k = 0 arm (r = x, r_lo = 0).

    The same operations on the same values, hence the same bits, as :func:`expm1_f64` there.
    """
    hxs, e = _expm1_primary(x)
    return select(abs(x) < X_TINY, x, x - (mul(x, e) - hxs))


def expm1_f32(x):
    """exp(x) - 1 for float32: :func:`expm1_f64` of the (exact) float64 argument, rounded once.

    Parameters
    ----------
    x : ndarray or scalar of float32
        Widened exactly to float64.

    Returns
    -------
    ndarray of float32
        The correctly rounded float32 for every x in [-2, 0] (checked exhaustively).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.elementary import expm1_f32
    >>> [float(v).hex() for v in expm1_f32(np.array([-0.01, -2.0], np.float32))]
    ['-0x1.460c0a0000000p-7', '-0x1.bab5560000000p-1']
    """
    return f32(expm1_f64(f64(x)))


# --------------------------------------------------------------------------------------
# XLA:CPU's float32 expm1 (what BrainPy computes), emulated bit for bit
# --------------------------------------------------------------------------------------

_X_LOG2E = np.float32(_hex("0x1.715476p+0"))
_X_HI = np.float32(_hex("0x1.62e42ep+6"))  # 88.72283172607422 (0x42b17217): +inf above
_X_LO = np.float32(-18.0)                   # -1 below
_X_LN2_HI = np.float32(_hex("0x1.62e4p-1"))
_X_LN2_LO = np.float32(_hex("0x1.7f7d1cp-20"))
_X_C7 = np.float32(_hex("0x1.a2ffc4p-13"))
_X_C6 = np.float32(_hex("0x1.6d0ffap-10"))
_X_C5 = np.float32(_hex("0x1.110fbp-7"))
_X_C4 = np.float32(_hex("0x1.55551ap-5"))
_X_C3 = np.float32(_hex("0x1.555556p-3"))
_X_HALF = np.float32(0.5)
_X_ONE = np.float32(1.0)
_X_ZERO = np.float32(0.0)
_X_INF = np.float32(np.inf)
_X_127 = np.float32(127.0)
_X_RINT = np.float32(12582912.0)  # 1.5 * 2**23: (v + it) - it rounds |v| < 2**22 to an integer


def xla_expm1_f32(x):
    """exp(x) - 1 for float32 exactly as XLA:CPU computes it (``Expm1F32Impl``, jaxlib 0.12).

    All float32, round to nearest even; ``fma32`` is a single rounding (XLA's ``llvm.fmuladd``
    on an FMA machine). rint is the exact (v + 1.5 2**23) - 1.5 2**23; 2**n is scaled in two
    factors as XLA does (n may be 128).

    Parameters
    ----------
    x : ndarray or scalar of float32

    Returns
    -------
    ndarray of float32
        -1 below -18, +inf above 88.72; within 1 ulp of the correctly rounded result.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.elementary import expm1_f32, xla_expm1_f32
    >>> x = np.float32(-0.01)
    >>> float(xla_expm1_f32(x)).hex(), bool(xla_expm1_f32(x) == expm1_f32(x))
    ('-0x1.460c0a0000000p-7', True)
    """
    xc = select(x < _X_LO, _X_LO, select(_X_HI < x, _X_HI, x))  # clamp; nan stays nan
    n = (mul(xc, _X_LOG2E) + _X_RINT) - _X_RINT                 # rint(xc / ln 2)
    neg_n = -n
    rh0 = fma32(neg_n, _X_LN2_HI, xc)
    nlo = mul(neg_n, _X_LN2_LO)
    r = rh0 + nlo                                               # FastTwoSum(rh0, nlo)
    r_lo = nlo + (rh0 - r)
    q = fma32(_X_C7, r, _X_C6)
    q = fma32(q, r, _X_C5)
    q = fma32(q, r, _X_C4)
    q = fma32(q, r, _X_C3)
    r2 = mul(r, r)
    r_lo = fma32(r2, mul(r, q), r_lo)
    tail = fma32(mul(_X_HALF, r), r, r_lo)
    n = select(n != n, _X_ZERO, n)                              # XLA's int(nan) is 0
    n1 = select(n < _X_127, n, _X_127)
    s1 = f32(pow2(f64(n1)))                                     # 2**n1, exact
    s2 = f32(pow2(f64(n - n1)))                                 # 2**(n - n1): 1 or 2
    sm1 = s1 - _X_ONE                                           # FastTwoSum(s1, -1)
    sm1_err = (s1 - sm1) - _X_ONE
    head = fma32(s1, r, sm1)
    head_err = fma32(s1, r, sm1 - head) + sm1_err
    tail = fma32(s1, tail, head_err)
    y = mul(head + tail, s2)
    y = select(x == _X_ZERO, x, y)                              # keeps -0.0
    y = select(x < _X_LO, -_X_ONE, y)
    return select(x > _X_HI, _X_INF, y)


# --------------------------------------------------------------------------------------
# exprel(z) = expm1(z) / z, exprel(0) = 1
# --------------------------------------------------------------------------------------

def exprel_f64(z):
    """expm1(z) / z in float64 (portable expm1), 1 at z = 0, +inf at +inf.

    Parameters
    ----------
    z : ndarray or scalar of float64

    Returns
    -------
    ndarray of float64

    Notes
    -----
    exprel(z) = expm1(z) / z, the IEEE quotient of :func:`expm1_f64` and z; exactly 1 at
    z = 0, where the quotient is undefined.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.elementary import exprel_f64
    >>> exprel_f64(np.array([0.0, -0.01])).tolist()
    [1.0, 0.9950166250831947]
    """
    r = select(z == 0.0, 1.0, expm1_f64(z) / select(z == 0.0, 1.0, z))
    return select(z == math.inf, z, r)


def exprel_f32(z):
    """expm1(z) / z in float32 (portable expm1, then a float32 division), 1 at z = 0, +inf at
    +inf.

    Parameters
    ----------
    z : ndarray or scalar of float32
        Widened exactly for the float64 expm1.

    Returns
    -------
    ndarray of float32

    Notes
    -----
    exprel(z) = round32(expm1_f64(z)) / z, a float32 division; exactly 1 at z = 0.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.elementary import exprel_f32
    >>> exprel_f32(np.array([0.0, -0.01], np.float32)).tolist()
    [1.0, 0.9950165748596191]
    """
    zs = select(z == _X_ZERO, _X_ONE, z)
    r = select(z == _X_ZERO, _X_ONE, f32(expm1_f64(f64(z))) / zs)
    return select(z == _X_INF, z, r)


def exprel_near_f64(z):
    """``exprel_f64(z)`` for |z| < NEAR_LIMIT only (same bits, the k = 0 arm of expm1)."""
    return select(z == 0.0, 1.0, expm1_near_f64(z) / select(z == 0.0, 1.0, z))


def exprel_near_f32(z):
    """``exprel_f32(z)`` for |z| < NEAR_LIMIT only (same bits, the k = 0 arm of expm1)."""
    zs = select(z == _X_ZERO, _X_ONE, z)
    return select(z == _X_ZERO, _X_ONE, f32(expm1_near_f64(f64(z))) / zs)


def exprel_xla_f32(z):
    """xla_expm1_f32(z) / z in float32, 1 at z = 0, +inf at +inf (BrainPy's exprel on XLA:CPU,
    away from |z| <= 1e-4, where BrainPy uses a series that refsim does not emulate).

    Parameters
    ----------
    z : ndarray or scalar of float32

    Returns
    -------
    ndarray of float32
        Not always the bits of :func:`exprel_f32`: the two expm1s may differ in the last bit.

    Notes
    -----
    exprel(z) = xla_expm1_f32(z) / z, a float32 division; exactly 1 at z = 0.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.elementary import exprel_xla_f32
    >>> z = np.array([0.0, -0.01, -1.0], np.float32)
    >>> exprel_xla_f32(z).tolist()
    [1.0, 0.9950165748596191, 0.6321205496788025]
    """
    zs = select(z == _X_ZERO, _X_ONE, z)
    r = select(z == _X_ZERO, _X_ONE, xla_expm1_f32(z) / zs)
    return select(z == _X_INF, z, r)


# --------------------------------------------------------------------------------------
# The machine's own expm1 (impl = 'libm'): machine-dependent on purpose
# --------------------------------------------------------------------------------------

def exprel_libm(z, one):
    """expm1(z) / z with the machine's own expm1, for one float32 or float64 scalar in compiled
    code (the Numba engine: the C library's expm1/expm1f; the CUDA engine: libdevice's).

    The one place where refsim calls a transcendental function it does not own, and only for
    ``expm1='libm'``: machine-dependent on purpose. (NumPy arrays: :func:`exprel` with
    ``impl='libm'``.) ``one`` is 1 in the type of z.
    """
    return math.expm1(z) / z if z != 0 else one


def _libm_expm1f():
    name = ctypes.util.find_library("m")
    lib = ctypes.CDLL(name) if name else ctypes.CDLL(None)
    f = lib.expm1f
    f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
    return f


_LIBM = {}


def _expm1_libm(x):
    """The C library's expm1 / expm1f, one call per element (slow; for comparisons only)."""
    x = np.asarray(x)
    if x.dtype == np.float32:
        f = _LIBM.get("expm1f") or _LIBM.setdefault("expm1f", _libm_expm1f())
        return np.asarray(np.frompyfunc(f, 1, 1)(x), np.float32)
    return np.asarray(np.frompyfunc(_math_expm1, 1, 1)(x), np.float64)


def _math_expm1(v):
    """math.expm1 (the C library's), with C's overflow to +inf instead of Python's exception."""
    try:
        return math.expm1(v)
    except OverflowError:
        return math.inf


# --------------------------------------------------------------------------------------
# NumPy entry points
# --------------------------------------------------------------------------------------

_KERNELS = {
    ("portable", "float64"): (expm1_f64, exprel_f64),
    ("portable", "float32"): (expm1_f32, exprel_f32),
    ("xla", "float32"): (xla_expm1_f32, exprel_xla_f32),
}


def _check(x, impl, name="x"):
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} dtype = {x.dtype}: allowed float32 or float64")
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"impl = {impl!r}: allowed one of {', '.join(map(repr, IMPLEMENTATIONS))}")
    if impl == "xla" and x.dtype != np.float32:
        raise ValueError("impl = 'xla': allowed only for float32 arguments (XLA's float32 expm1)")
    return x


def expm1(x, impl: str = "portable"):
    """exp(x) - 1 elementwise, in the float type of ``x`` (float32 or float64).

    Parameters
    ----------
    x : array_like of float32 or float64
    impl : {'portable', 'xla', 'libm'}
        ``portable`` (default): :func:`expm1_f64` / :func:`expm1_f32`, the same bits on every
        machine; ``xla``: :func:`xla_expm1_f32` (float32 only), BrainPy's; ``libm``: the C
        library's ``expm1``/``expm1f`` (machine-dependent; for comparisons with C simulators).

    Returns
    -------
    ndarray or numpy scalar
        Of the float type of ``x`` (a scalar for a scalar ``x``).

    Raises
    ------
    TypeError
        ``x`` is not float32 or float64.
    ValueError
        An unknown ``impl``, or ``impl='xla'`` for float64.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.elementary import expm1
    >>> float(expm1(np.float64(-0.01))).hex()
    '-0x1.460c0b518c09fp-7'
    >>> float(expm1(np.float32(-0.01))).hex(), float(expm1(np.float32(-0.01), impl="xla")).hex()
    ('-0x1.460c0a0000000p-7', '-0x1.460c0a0000000p-7')
    """
    x = _check(x, impl)
    if impl == "libm":
        return _expm1_libm(x)
    with np.errstate(all="ignore"):  # every case is computed in every lane, then one kept
        return _KERNELS[impl, x.dtype.name][0](x)[()]


def exprel(z, impl: str = "portable"):
    """(exp(z) - 1) / z elementwise in the float type of ``z``, exactly 1 at z = 0.

    Parameters
    ----------
    z : array_like of float32 or float64
    impl : {'portable', 'xla', 'libm'}
        As for :func:`expm1`.

    Returns
    -------
    ndarray or numpy scalar
        Of the float type of ``z``.

    Raises
    ------
    TypeError, ValueError
        As :func:`expm1` raises them, for ``z``.

    Notes
    -----
    exprel(z) = expm1(z) / z, the IEEE division in the float type; exprel(0) = 1. The
    exponential-Euler step factor is dt exprel(dt J) (:mod:`refsim.model`).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.elementary import exprel
    >>> float(exprel(np.float64(0.0))), float(exprel(np.float64(-0.01)))
    (1.0, 0.9950166250831947)
    """
    z = _check(z, impl, "z")
    if impl == "libm":
        with np.errstate(all="ignore"):
            return np.where(z == 0, z.dtype.type(1), _expm1_libm(z) / np.where(z == 0, 1, z))[()]
    with np.errstate(all="ignore"):
        return _KERNELS[impl, z.dtype.name][1](z)[()]


def fma_f32(x, y, z):
    """round32(x * y + z) with a single rounding, elementwise, for float32 arrays or scalars
    (see :func:`fma32`).

    Parameters
    ----------
    x, y, z : array_like of float32

    Returns
    -------
    ndarray or numpy.float32
        The correctly rounded x y + z.

    Raises
    ------
    TypeError
        An operand that is not float32 (the message names it).

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.elementary import fma_f32
    >>> a = np.float32(1 + 2**-12)              # a * a = 1 + 2**-11 + 2**-24: a float32 tie
    >>> float(fma_f32(a, a, np.float32(2**-60))) == 1 + 2**-11 + 2**-23   # one rounding: up
    True
    """
    for name, v in (("x", x), ("y", y), ("z", z)):
        if np.asarray(v).dtype != np.float32:
            raise TypeError(f"{name} dtype = {np.asarray(v).dtype}: allowed float32")
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf in the residual of an
        # infinite sum; a sum beyond float32 rounds to inf (IEEE overflow, the correct result)
        return fma32(x, y, z)[()]


# --------------------------------------------------------------------------------------
# The floating-point environment these bits assume
# --------------------------------------------------------------------------------------

class FloatingPointModeError(RuntimeError):
    """The process's floating-point mode is not IEEE 754's default (see check_fp_environment).

    Raised by :func:`refsim.simulate` before a run, naming what is wrong (flush-to-zero, or a
    rounding mode other than round-to-nearest-even); the CLI reports it as bad input (exit 2).

    Examples
    --------
    >>> import refsim
    >>> issubclass(refsim.FloatingPointModeError, RuntimeError)
    True
    """


def check_fp_environment() -> None:
    """Raise :class:`FloatingPointModeError` unless NumPy's arithmetic is IEEE
    round-to-nearest-even with subnormals kept (no flush-to-zero, no denormals-are-zero).

    A library built with ``-ffast-math`` can switch the whole process to flush-to-zero when it
    is loaded, and ``fesetround`` changes the rounding mode; either would change refsim's bits
    silently. ``refsim.simulate`` calls this before every run.

    Raises
    ------
    FloatingPointModeError
        Naming each problem found.

    Examples
    --------
    >>> from refsim.elementary import check_fp_environment
    >>> check_fp_environment()      # silent in a process with IEEE 754's default mode
    """
    one, tiny = np.ones(1), np.full(1, 2.0**-1070)
    problems = []
    if not (tiny * 0.5)[0] > 0 or not (tiny + tiny)[0] == 2.0**-1069:
        problems.append("subnormal float64 numbers are flushed to zero (FTZ/DAZ is on)")
    if not np.float32(2.0**-140) * np.ones(1, np.float32)[0] > 0:
        problems.append("subnormal float32 numbers are flushed to zero (FTZ/DAZ is on)")
    # ties go to even, and halfway cases in both directions round to nearest
    if not ((one + 2.0**-53)[0] == 1.0 and (one + 3 * 2.0**-53)[0] == 1.0 + 2.0**-51
            and (-one - 2.0**-53)[0] == -1.0 and (one + 2.0**-52 + 2.0**-54)[0] == 1.0 + 2.0**-52):
        problems.append("the rounding mode is not round-to-nearest-even")
    if problems:
        raise FloatingPointModeError("refsim needs IEEE-754 default arithmetic: " + "; ".join(problems)
                           + " (a library built with -ffast-math, or fesetround, changed the "
                           "process's floating-point mode)")
