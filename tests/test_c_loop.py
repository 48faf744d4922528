"""The hand-written C loop (validation/c_loop/coba.c) is the same step as refsim's.

Reference: refsim's Numba engine with ``expm1='libm'``, the C library's expm1 that coba.c
calls; the comparison is bit for bit (raster and final state; tolerance ``c-loop``: 0). The C
program is compiled with gcc (IEEE arithmetic, no FMA contraction); skipped where gcc is
missing.
"""
import shutil

import pytest

from validation.c_loop.run_c_loop import run_c_loop

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


@pytest.mark.parametrize("preset,overrides", [
    ("tutorial", {}),                                       # float32, arithmetic='xla'
    ("tutorial", {"arithmetic": "ieee"}),
    ("tutorial", {"arithmetic": "fused-update"}),
    ("tutorial-normalized", {"reset": "hard", "threshold_test": ">"}),
    ("brette2007-coba", {}),                                # Brette's order, forward Euler
    ("brette2007-coba", {"integrator": "exp_euler", "dtype": "float32"}),
])
def test_c_loop_is_bit_identical_to_refsim(preset, overrides, tmp_path):
    r = run_c_loop(preset, seed=2, n=2000, duration=100.0, workdir=str(tmp_path), check=True,
                   overrides=overrides)
    assert r["n_spikes"] > 1000, "an active network, or the comparison proves nothing"
    assert r["check"]["bit_identical"], r["check"]
