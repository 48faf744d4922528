"""refsim's own elementary functions (refsim.elementary): the same bits everywhere, accurate.

References: ``tests/data/elementary_table.json`` (written by
``python -m validation.elementary_accuracy --write-table``): for each function, arguments covering
the specials, every branch boundary of fdlibm's reduction and its neighbours, the presets'
arguments and random values, with refsim's outputs and the correctly rounded values computed by
mpmath at 200 bits. glibc's generic build of ``expm1`` (the C source refsim ports) is the
reference of the fidelity test; the exhaustive checks are in the validation script.
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refsim import elementary as el
from refsim.testing import tolerance

TABLE = json.loads((Path(__file__).parent / "data" / "elementary_table.json").read_text())
FUNCTIONS = TABLE["functions"]


def from_hex(values, dtype):
    return np.array([float.fromhex(v) for v in values], dtype)


def bits(a):
    a = np.asarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def same_bits(a, b):
    """Equal bit patterns, any nan equal to any nan."""
    a, b = np.asarray(a), np.asarray(b)
    return (bits(a) == bits(b)) | (np.isnan(a) & np.isnan(b))


def table(name):
    f = FUNCTIONS[name]
    dtype = np.dtype(f["dtype"]).type
    cols = list(zip(*f["rows"], strict=True))
    return f["impl"], dtype, [from_hex(c, dtype) for c in cols]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_numpy_forms_reproduce_the_table(name):
    """The NumPy forms (the oracle's) give the table's output bits for every argument
    (``elementary-bits``: 0)."""
    impl, dtype, (x, e1, er, _, _) = table(name)
    assert x.size >= 100
    assert np.all(same_bits(el.expm1(x, impl), e1))
    assert np.all(same_bits(el.exprel(x, impl), er))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_compiled_forms_reproduce_the_table(name):
    """Numba compiles the same functions (numba_primitives) to the same bits, in the engine's
    way: a loop over an array, vectorized."""
    from numba import njit

    from refsim.engines import numba_primitives  # noqa: F401
    impl, dtype, (x, e1, er, _, _) = table(name)
    f1 = {"expm1_f64": el.expm1_f64, "expm1_f32": el.expm1_f32,
          "xla_expm1_f32": el.xla_expm1_f32}[name]
    fr = {"expm1_f64": el.exprel_f64, "expm1_f32": el.exprel_f32,
          "xla_expm1_f32": el.exprel_xla_f32}[name]

    @njit(error_model="numpy")
    def run(x, a, b):
        for i in range(x.size):
            a[i] = f1(x[i])
            b[i] = fr(x[i])
    a, b = np.empty_like(x), np.empty_like(x)
    run(x, a, b)
    assert np.all(same_bits(a, e1)) and np.all(same_bits(b, er))


def ulps(got, ref):
    """|got - ref| in units of the spacing at ref (finite values)."""
    return np.abs(got.astype(np.float64) - ref.astype(np.float64)) / np.spacing(np.abs(ref))


@pytest.mark.parametrize("name,key", [("expm1_f64", "expm1-float64"), ("expm1_f32", "expm1-float32"),
                                      ("xla_expm1_f32", "expm1-xla")])
def test_accuracy_against_mpmath(name, key):
    """Property: refsim's float64 expm1 is within 1 ulp of the correctly rounded value
    (fdlibm's bound), its float32 one on [-2, 0] is the correctly rounded value (0 ulp: the
    claim the validation script proves exhaustively), XLA's within 2 ulps; exprel follows."""
    impl, dtype, (x, e1, er, ref1, refr) = table(name)
    limit = tolerance(key)
    finite = np.isfinite(ref1) & (ref1 != 0) & np.isfinite(e1)
    assert ulps(e1[finite], ref1[finite]).max() <= limit
    if name == "expm1_f32":
        in_range = (x >= -2) & (x <= 0)
        assert in_range.sum() >= 50
        assert np.all(same_bits(e1[in_range], ref1[in_range]))
    # exprel = expm1 / z, one more rounding: at most one more ulp
    ok = np.isfinite(refr) & np.isfinite(er) & (refr != 0)
    assert ulps(er[ok], refr[ok]).max() <= limit + tolerance("exprel-extra")


def test_special_values():
    """fdlibm's special cases: expm1(+-0) = +-0 (sign kept), +inf, -1 at -inf and below -56 ln 2,
    overflow to +inf above 709.78, nan propagates; exprel(0) = exprel(-0) = 1."""
    x = np.array([0.0, -0.0, np.inf, -np.inf, -40.0, -745.0, 710.0, np.nan])
    y = el.expm1(x)
    assert bits(y[:2]).tolist() == bits(x[:2]).tolist()
    assert y[2] == np.inf and y[3] == -1.0 and y[4] == -1.0 and y[5] == -1.0
    assert y[6] == np.inf and np.isnan(y[7])
    for dtype in (np.float32, np.float64):
        z = np.array([0.0, -0.0], dtype)
        assert el.exprel(z).tolist() == [1.0, 1.0]
    assert el.exprel(np.float32(0.0), "xla") == 1.0
    x32 = np.array([0.0, -0.0, -30.0, 100.0, np.nan], np.float32)
    y32 = el.expm1(x32, "xla")
    assert bits(y32[:2]).tolist() == bits(x32[:2]).tolist()
    assert y32[2] == -1.0 and y32[3] == np.inf and np.isnan(y32[4])


@given(st.floats(-el.NEAR_LIMIT, el.NEAR_LIMIT, exclude_max=True, exclude_min=True))
def test_near_arm_equals_the_whole_function(x):
    """Property: on |x| < 0.5 ln 2 the fast path (the k = 0 arm alone) gives the bits of the
    whole function, in float64 and in float32 (the Numba engine takes it for every neuron and
    recomputes the others)."""
    a = np.array([x, x / 3, -x, x * 1e-10])
    assert np.all(same_bits(el.expm1_near_f64(a), el.expm1(a)))
    assert np.all(same_bits(el.exprel_near_f64(a), el.exprel(a)))
    a32 = a.astype(np.float32)
    assert np.all(same_bits(el.exprel_near_f32(a32), el.exprel(a32)))


def test_near_arm_covers_the_whole_range_densely():
    """The same on 10**6 arguments spread over (-0.5 ln 2, 0.5 ln 2), in both float types,
    and the table's arguments that lie inside the range (its branch-boundary neighbours and
    tiny values among them)."""
    x = np.linspace(-el.NEAR_LIMIT, el.NEAR_LIMIT, 10**6 + 2)[1:-1]
    _, _, (t, _, _, _, _) = table("expm1_f64")
    t = t[np.abs(t) < el.NEAR_LIMIT]
    assert t.size >= 30
    x = np.concatenate([x, t])
    assert np.all(same_bits(el.expm1_near_f64(x), el.expm1(x)))
    x32 = x.astype(np.float32)
    x32 = x32[np.abs(x32) < el.NEAR_LIMIT]
    assert np.all(same_bits(el.exprel_near_f32(x32), el.exprel(x32)))


def test_no_numpy_transcendental_is_called(monkeypatch):
    """Structural: the portable and XLA functions call no NumPy transcendental ufunc (np.exp,
    np.expm1, np.log, np.power, ...: replaced here by functions that fail) and still give the
    table's bits."""
    def forbidden(*a, **k):
        raise AssertionError("a NumPy transcendental function was called")
    for name in ("exp", "expm1", "exp2", "log", "log1p", "log2", "power", "sqrt", "ldexp",
                 "frexp", "rint", "round", "floor", "trunc"):
        monkeypatch.setattr(np, name, forbidden)
    for name in sorted(FUNCTIONS):
        impl, dtype, (x, e1, er, _, _) = table(name)
        assert np.all(same_bits(el.expm1(x, impl), e1))


def test_fma_emulation_is_the_correctly_rounded_fma():
    """fma32 (round-to-odd through float64) against exact rational arithmetic on random triples
    and on float32 rounding ties, where a plain float64 evaluation double-rounds."""
    from fractions import Fraction
    rng = np.random.default_rng(3)
    a = rng.standard_normal(2000).astype(np.float32)
    b = rng.standard_normal(2000).astype(np.float32)
    c = (rng.standard_normal(2000) * 10.0 ** rng.integers(-8, 2, 2000)).astype(np.float32)
    a[:4] = b[:4] = np.float32(1 + 2**-12)  # a*b = 1 + 2**-11 + 2**-24: a float32 tie
    c[:4] = np.float32([2**-60, -(2**-60), 0.0, 2**-50])
    got = el.fma_f32(a, b, c)
    for i in range(a.size):
        exact = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i]))
        lo = np.float32(float(exact))
        cands = [lo, np.nextafter(lo, np.float32(np.inf)), np.nextafter(lo, np.float32(-np.inf))]
        best = min(cands, key=lambda v: (abs(Fraction(float(v)) - exact),
                                         int(np.array(v).view(np.uint32)) & 1))
        assert got[i] == best, i
    # special operands: infinities, nan, signed zeros, overflow (IEEE 754's fma)
    f = np.float32
    inf, nan, big = f(np.inf), f(np.nan), f(3e38)
    sa = np.array([-inf, 1, inf, inf, 0, -0.0, big, 1, nan, -1], f)
    sb = np.array([1, 1, 0, 1, 5, 1, big, -0.0, 1, 0], f)
    sc = np.array([0, -inf, 1, -inf, -0.0, -0.0, 0, 0, 0, -0.0], f)
    want = np.array([-inf, -inf, nan, nan, 0.0, -0.0, inf, 0.0, nan, -0.0], f)
    got_s = el.fma_f32(sa, sb, sc)
    assert np.all(same_bits(got_s, want)), got_s
    # the cases are discriminating: a float64 evaluation double-rounds the tie at 0, and the
    # float32 evaluation with two roundings differs on many triples
    assert got[0] != (a[0].astype(np.float64) * b[0] + c[0]).astype(np.float32)
    assert np.count_nonzero(got != a * b + c) > 200


def test_entry_points_check_their_arguments():
    with pytest.raises(ValueError, match=r"impl = 'fast': allowed one of 'portable', 'xla', 'libm'"):
        el.expm1(np.zeros(2), "fast")
    with pytest.raises(ValueError, match=r"impl = 'xla': allowed only for float32"):
        el.exprel(np.zeros(2), "xla")
    with pytest.raises(TypeError, match=r"x dtype = int64: allowed float32 or float64"):
        el.expm1(np.zeros(2, np.int64))


def test_libm_impl_is_the_c_library():
    """impl='libm' calls the C library (math.expm1 is libm's): machine-dependent on purpose."""
    x = -np.linspace(0, 2, 1001)
    assert np.array_equal(el.expm1(x, "libm"), np.array([math.expm1(v) for v in x]))
    assert el.expm1(np.float32(-0.5), "libm").dtype == np.float32


@pytest.mark.skipif(not (sys.platform.startswith("linux") and os.uname().machine == "x86_64"),
                    reason="glibc's hwcaps tunable selects its generic build on x86-64 Linux")
def test_float64_expm1_is_glibcs_generic_build_bit_for_bit():
    """Fidelity of the port: glibc's own expm1 with the FMA and AVX2 builds masked
    (GLIBC_TUNABLES, in a child process) equals refsim's on 200 000 arguments in [-2, 0) and
    [-40, 710]; without the mask, on a CPU with FMA, glibc's default build does not (the
    control: the comparison can tell the two builds apart)."""
    code = ("import math, sys, numpy as np\n"
            "from refsim import elementary as el\n"
            "rng = np.random.default_rng(5)\n"
            "x = np.concatenate([-rng.uniform(0, 2, 100000), rng.uniform(-40, 709, 100000)])\n"
            "ref = np.array([math.expm1(v) for v in x])\n"
            "print(int(np.count_nonzero(ref.view(np.int64) != el.expm1(x).view(np.int64))))\n")
    env = {**os.environ, "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA"}
    generic = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
    assert int(generic.stdout.split()[-1]) == 0
    if "fma" in Path("/proc/cpuinfo").read_text().split():
        default = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True)
        assert int(default.stdout.split()[-1]) > 0


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="sets the x86 MXCSR register")
def test_flush_to_zero_mode_is_refused():
    """A process whose SSE unit flushes subnormals to zero (MXCSR FTZ and DAZ, as a library
    built with -ffast-math sets them) is refused before a run, with the cause named (the CLI
    prints it and exits with 2)."""
    code = ("import numpy as np, refsim\n"
            "from numba import njit, types\n"
            "from numba.core.extending import intrinsic\n"
            "from llvmlite import ir\n"
            "@intrinsic\n"
            "def set_mxcsr(typingctx, v):\n"
            "    def codegen(context, builder, sig, args):\n"
            "        slot = builder.alloca(ir.IntType(32))\n"
            "        builder.store(args[0], slot)\n"
            "        fn = builder.module.declare_intrinsic('llvm.x86.sse.ldmxcsr', fnty=ir.FunctionType(ir.VoidType(), [ir.PointerType(ir.IntType(8))]))\n"  # noqa: E501
            "        builder.call(fn, [builder.bitcast(slot, ir.PointerType(ir.IntType(8)))])\n"
            "        return context.get_dummy_value()\n"
            "    return types.none(types.uint32), codegen\n"
            "@njit\n"
            "def ftz():\n"
            "    set_mxcsr(np.uint32(0x1F80 | 0x8000 | 0x0040))\n"
            "ftz()\n"
            "cfg = refsim.get_preset('brette2007-coba', n_exc=8, n_inh=2, duration=1.0)\n"
            "try:\n"
            "    refsim.simulate(cfg, 0, progress=False)\n"
            "except refsim.elementary.FloatingPointModeError as e:\n"
            "    print('REFUSED', e)\n"
            "import refsim.cli, tempfile\n"
            "code = refsim.cli.main(['run', '--preset', 'brette2007-coba', '--set', 'n_exc=8',"
            " '--set', 'n_inh=2', '--set', 'duration=1.0', '--no-progress', '--out',"
            " tempfile.mkdtemp()])\n"
            "print('EXIT', code)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "REFUSED refsim needs IEEE-754 default arithmetic: subnormal float64 numbers are " \
           "flushed to zero" in p.stdout, p.stderr[-2000:]
    assert "EXIT 2" in p.stdout and "refsim: error: refsim needs IEEE-754" in p.stderr
    el.check_fp_environment()  # this process is in the default mode
