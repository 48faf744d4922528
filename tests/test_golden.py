"""The golden digests: every engine reproduces the committed SHA-256 of each golden run.

Reference: ``tests/data/golden_digests.json``, written by ``python -m validation.golden_digests
--write`` (the machine it was made on is recorded in the file). A digest is
``SimulationResult.digest()``: SHA-256 of the raster (little-endian int64 steps, then int32
neurons) and of the final state (V, g_e, g_i, t_last as little-endian numbers of the run's
float type). The README promises that any IEEE-754 machine, OS, NumPy build and engine
reproduces them (tolerance ``golden-digests``: 0); tests/test_machine_independence.py
checks the quick ones in processes that see other CPUs. The ``engine`` fixture
(tests/conftest.py) runs every case with each engine.
"""
import json
import os
from pathlib import Path

import pytest

import refsim

REAL_GPU = os.environ.get("REFSIM_REAL_GPU") == "1"

GOLDEN = json.loads((Path(__file__).parent / "data" / "golden_digests.json").read_text())
CASES = {c["name"]: c for c in GOLDEN["cases"]}


def run(case, engine):
    cfg = refsim.get_preset(case["preset"], **case["overrides"])
    r = refsim.simulate(cfg, case["seed"], engine=engine, progress=False)
    assert r.complete and r.n_spikes == case["n_spikes"]
    return r.digest()


def test_the_golden_cases_cover_every_switch():
    """The table exercises what it claims: every preset at three seeds, both float types, both
    schedules, integrators, resets and threshold tests, every arithmetic, both portable
    functions, expm1's general path, and never the machine-dependent libm."""
    configs = [refsim.get_preset(c["preset"], **c["overrides"]) for c in CASES.values()]
    for field in ("schedule", "integrator", "reset", "threshold_test", "dtype", "arithmetic"):
        assert {getattr(c, field) for c in configs} == set(refsim.params.CHOICES[field]), field
    assert {c.expm1 for c in configs} == {"portable", "xla"}
    portable_exp = [c for c in configs if c.expm1 == "portable" and c.integrator == "exp_euler"]
    assert {c.dtype for c in portable_exp} == {"float32", "float64"}  # both portable functions
    # expm1's general path: initial conductances that put |dt J| above 0.5 ln 2
    from refsim.elementary import NEAR_LIMIT
    assert any(c.integrator == "exp_euler" and c.expm1 == "portable"
               and c.dt * (1 + c.R_g * (c.g_e0_mean + c.g_i0_mean)) / c.tau_m > NEAR_LIMIT
               for c in configs)
    for preset in refsim.preset_names():
        seeds = {c["seed"] for c in CASES.values() if c["preset"] == preset and not c["overrides"]}
        assert seeds == {0, 1, 2}
    assert all(c["n_spikes"] >= 20 if n.startswith("tiny") else c["n_spikes"] > 300
               for n, c in CASES.items())


#: The engines of the golden cases. The CUDA simulator runs every thread as Python (~1000x
#: slower than Numba): it runs the tiny cases only (test_tiny_cases_with_the_cuda_kernels); on a
#: device (REFSIM_REAL_GPU=1) the CUDA engine runs every case.
ENGINES = ("numpy", "numba", "cuda") if REAL_GPU else ("numpy", "numba")


@pytest.mark.engines(*ENGINES)
@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c["quick"]])
def test_quick_cases(name, engine):
    """The NumPy and Numba engines (and the CUDA engine on a device) give the committed digests
    of every quick case."""
    case = CASES[name]
    assert run(case, engine) == {"raster": case["raster"], "state": case["state"]}


@pytest.mark.engines("cuda")
@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("tiny")])
def test_tiny_cases_with_the_cuda_kernels(name, engine):
    """The CUDA kernels (in Numba's simulator, or on the device) give the same digests on the
    tiny cases: both schedules, integrators and float types, XLA's arithmetic and expm1's
    general path."""
    case = CASES[name]
    assert run(case, engine) == {"raster": case["raster"], "state": case["state"]}


@pytest.mark.slow
@pytest.mark.engines(*ENGINES)
@pytest.mark.parametrize("name", [n for n, c in CASES.items() if not c["quick"]])
def test_full_cases(name, engine):
    """The full second of N = 4000 networks (seconds per run with the oracle)."""
    case = CASES[name]
    assert run(case, engine) == {"raster": case["raster"], "state": case["state"]}
