"""The bits do not depend on the machine: the golden digests in processes that see other CPUs.

Each test runs ``tests/machine_probe.py`` in a child process whose view of the machine is
changed, and demands the committed golden digests (``tests/data/golden_digests.json``) from
both CPU engines:

* NumPy without its SIMD dispatch targets (``NPY_DISABLE_CPU_FEATURES`` = every one this CPU
  offers): what NumPy computes on an older CPU;
* glibc with its AVX2 and FMA builds masked (``GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA``):
  the C library of a CPU without them;
* Numba compiling for a generic x86-64 (``NUMBA_CPU_NAME=generic``: SSE2, no AVX, no FMA),
  with a fresh cache.

Each child also reports what refsim does not use: NumPy's own ``np.expm1`` and the C library's
``expm1`` on fixed arguments. Where the change of machine changes those (it does on CPUs with
AVX-512, or with FMA, as this project's machines have), the test asserts that it did: the
digests stay the same although the machine-dependent functions do not, so the tests would
catch an engine that called them. The host process's run (fresh cache) also checks that the
compiled neuron passes are vector code with no call.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).parent / "machine_probe.py"
GOLDEN = {c["name"]: c for c in
          json.loads((Path(__file__).parent / "data" / "golden_digests.json").read_text())["cases"]
          if c["quick"]}
X86_64 = os.uname().machine == "x86_64"

pytestmark = pytest.mark.slow


def probe(env_changes: dict, *args, timeout=1200) -> dict:
    env = {**os.environ, **env_changes}
    env.pop("NUMBA_ENABLE_CUDASIM", None)  # set by conftest for the CUDA tests; not needed here
    p = subprocess.run([sys.executable, str(PROBE), *args], env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-4000:]
    return json.loads(p.stdout.splitlines()[-1])


def assert_golden(report):
    assert set(report["digests"]) == set(GOLDEN)
    for name, by_engine in report["digests"].items():
        for engine, d in by_engine.items():
            assert d == {"raster": GOLDEN[name]["raster"], "state": GOLDEN[name]["state"]}, \
                (name, engine)


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """This machine as it is, with a fresh Numba cache (so the engine compiles here)."""
    return probe({"NUMBA_CACHE_DIR": str(tmp_path_factory.mktemp("numba_cache"))}, "--asm")


def test_host_reproduces_the_golden_digests_with_vector_code(host):
    """The quick golden cases, and the neuron passes compiled as vector code: packed
    arithmetic in their machine code and no call (the elementary functions are inlined; no
    libm)."""
    assert_golden(host)
    assert len(host["asm"]) >= 12
    for name, a in host["asm"].items():
        assert a["calls"] == [], name
        if not name.startswith("_factors_xla float64"):  # never runs: xla is float32 only
            assert a["packed_arithmetic"] > 0, name


def test_without_numpys_simd_dispatch(host):
    from numpy._core._multiarray_umath import __cpu_baseline__, __cpu_dispatch__, __cpu_features__
    targets = [t for t in __cpu_dispatch__ if __cpu_features__.get(t) and t not in __cpu_baseline__]
    if not targets:
        pytest.skip("NumPy dispatches to nothing beyond its baseline on this CPU")
    child = probe({"NPY_DISABLE_CPU_FEATURES": " ".join(targets)})
    assert set(targets).isdisjoint(child["numpy_features"]), "the child kept a dispatch target"
    assert_golden(child)
    if {"AVX512F", "AVX512_SKX", "X86_V4"} & set(targets):  # NumPy's expm1 is SVML code there
        assert child["expm1"]["numpy_float64"] != host["expm1"]["numpy_float64"]
        assert child["expm1"]["numpy_float32"] != host["expm1"]["numpy_float32"]


@pytest.mark.skipif(not (X86_64 and sys.platform.startswith("linux")),
                    reason="glibc's hwcaps tunable is an x86-64 Linux feature")
def test_with_glibcs_generic_builds(host):
    child = probe({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA"})
    assert_golden(child)
    if "fma" in Path("/proc/cpuinfo").read_text().split():  # glibc picks its FMA expm1 here
        assert child["expm1"]["libm_float64"] != host["expm1"]["libm_float64"]


@pytest.mark.skipif(not X86_64, reason="'generic' is checked here as the x86-64 baseline")
def test_numba_compiling_for_a_generic_cpu(host, tmp_path):
    """Baseline x86-64: SSE2 vectors only, no FMA instruction (refsim's fma32 then compiles
    its own round-to-odd algorithm, not the C library's fmaf)."""
    child = probe({"NUMBA_CPU_NAME": "generic", "NUMBA_CACHE_DIR": str(tmp_path)}, "--asm")
    assert child["numba_cpu"] == "generic" and child["hardware_fma"] is False
    assert_golden(child)
    for name, a in child["asm"].items():
        assert a["calls"] == [], name
    # the code is really different: 128-bit SSE2 vectors only, where the host uses AVX
    assert {a["widest_register"] for a in child["asm"].values()} == {"xmm"}
    if "avx" in Path("/proc/cpuinfo").read_text().split():
        assert {a["widest_register"] for a in host["asm"].values()} & {"ymm", "zmm"}
