"""The CUDA engine's own parts: its transposed connectivity, its errors, its device code.

Its runs against the NumPy oracle (random active networks, small presets, buffer overflow,
signed zeros) are in tests/test_engines.py and its golden digests in tests/test_golden.py,
through the ``engine`` fixture (tests/conftest.py): without a GPU (CI) the kernels run in
Numba's CUDA simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1), where they are Python
calling the NumPy forms of refsim's elementary functions, so those comparisons are exact. The
device code itself is checked here by compiling it to PTX offline (no FMA but the ones asked
for).

With ``REFSIM_REAL_GPU=1`` on a machine with an NVIDIA GPU, the same tests run on the device,
where the claim is the same (refsim's own expm1, uncontractable products, IEEE division), and
the ``gpu`` test adds the full 1 s of ``tutorial-normalized``.
"""
import os

import numpy as np
import pytest

import refsim
from refsim.params import ConfigError

cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
REAL_GPU = os.environ.get("REFSIM_REAL_GPU") == "1"


def test_transpose_lists_incoming_synapses_in_the_oracles_order():
    """For each target, incoming entries are ordered by (presynaptic row, position in the row),
    excitatory rows before in_split; checked against a brute-force listing."""
    from refsim.engines.cuda_engine import transpose
    cfg = refsim.get_preset("tutorial", n_exc=30, n_inh=10, p_conn=0.2)
    conn = refsim.build_connectivity(cfg, 5)
    in_ptr, in_split, in_src, in_cnt = transpose(conn.indptr, conn.indices, conn.counts, 30)
    for j in range(40):
        expected = [row for row in range(40)
                    for p in range(conn.indptr[row], conn.indptr[row + 1]) if conn.indices[p] == j]
        assert in_src[in_ptr[j]:in_ptr[j + 1]].tolist() == expected
        assert in_split[j] - in_ptr[j] == sum(r < 30 for r in expected)
    assert in_ptr[-1] == conn.indices.size and np.all(in_cnt == 1.0)


def test_missing_gpu_or_package_gives_one_clear_error(monkeypatch):
    """No device: ConfigError naming the engine and the cause, before any work; no numba-cuda:
    ConfigError naming the package and the extra to install."""
    from refsim.engines import cuda_engine, get_engine
    monkeypatch.setattr(cuda_engine.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"engine = 'cuda': no usable CUDA GPU"):
        get_engine("cuda")
    monkeypatch.setattr(cuda_engine, "cuda", None)
    with pytest.raises(ConfigError, match=r"numba-cuda package \(pip install 'refsim\[cuda\]'\)"):
        refsim.simulate(refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=1.0),
                        engine="cuda", progress=False)


@pytest.mark.gpu
@pytest.mark.skipif(not REAL_GPU, reason="needs REFSIM_REAL_GPU=1 and an NVIDIA GPU")
def test_real_gpu_full_tutorial_normalized_is_bit_identical_to_the_cpu_engines():
    """On a device, float64, N = 4000, 1 s: the Numba engine's raster and final state, bit for
    bit (the device runs refsim's own expm1, not libdevice's)."""
    cfg = refsim.get_preset("tutorial-normalized")
    g = refsim.simulate(cfg, 0, engine="cuda", progress=False)
    c = refsim.simulate(cfg, 0, engine="numba", progress=False)
    assert g.n_spikes > 50_000
    assert g.digest() == c.digest()


@pytest.mark.slow
def test_device_code_has_no_fma_but_the_ones_asked_for():
    """Without a GPU, the kernels compiled to PTX by NVIDIA's compiler (NVVM, from the
    nvidia-cuda-nvcc wheel; validation/cuda_ptx_check.py) for every preset: no flush-to-zero,
    no fused multiply-add in the ieee presets with refsim's portable expm1, and in the tutorial
    exactly XLA's 16 (10 in its expm1, 6 in its arithmetic). The device computes the oracle's
    operations, by construction."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path
    if None in (importlib.util.find_spec("nvidia.cuda_nvcc"),
                importlib.util.find_spec("nvidia.cuda_nvrtc")):
        pytest.skip("needs NVIDIA's NVVM and NVRTC (pip install nvidia-cuda-nvcc-cu12 "
                    "nvidia-cuda-nvrtc-cu12)")
    script = Path(__file__).parents[1] / "validation" / "cuda_ptx_check.py"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    p = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                       timeout=900)
    if p.returncode and "has no attribute 'row_stack'" in p.stderr:
        import numpy
        pytest.skip(f"numba-cuda's device target needs np.row_stack, which NumPy "
                    f"{numpy.__version__} removed (the 'cuda' extra pins numpy<2.5)")
    assert p.returncode == 0, p.stderr[-3000:]
    lines = [ln for ln in p.stdout.splitlines() if "fma.rn" in ln]
    assert len(lines) == 9  # 3 presets x 3 kernels
    assert all(".ftz 0" in ln for ln in lines)
    assert sum("fma.rn 16" in ln for ln in lines) == 2 and sum("fma.rn  0" in ln for ln in lines) == 7
