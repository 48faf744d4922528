#!/usr/bin/env python
"""Compile the CUDA engine's kernels to PTX without a GPU, and count what the arithmetic became.

Needs numba-cuda plus NVIDIA's pip-installed compiler libraries (no driver, no device)::

    pip install 'refsim[cuda]' nvidia-cuda-nvcc-cu12 nvidia-cuda-nvrtc-cu12 nvidia-cuda-runtime-cu12
    python -m validation.cuda_ptx_check      # from the repository root; not under NUMBA_ENABLE_CUDASIM

Numba asks the current device for its compute capability while compiling device functions;
with no driver this script answers (9, 0) (an H100) for it. It prints, per preset and kernel,
the PTX instruction counts that matter for bit reproducibility: ``fma.rn`` (only the FMAs the
model asks for: XLA's arithmetic and XLA's expm1 in ``tutorial``; the ``ieee`` presets with
refsim's portable expm1 must show 0), ``mul.rn`` (refsim's uncontractable products),
``div.rn`` (IEEE division) and ``.ftz`` (flush-to-zero: must be 0). It exits non-zero (an
AssertionError) when a count is not the expected one; ``tests/test_cuda.py`` runs it.
"""
import argparse
import sys
from types import SimpleNamespace

import numba.cuda.api as api
import numba.cuda.dispatcher as dispatcher
import numpy as np
from numba import cuda
from numba import types as T

import refsim
from refsim.engines import cuda_engine
from refsim.model import Constants

api.get_current_device = dispatcher.get_current_device = lambda: SimpleNamespace(
    compute_capability=(9, 0), id=0)


def signatures(fl):
    arr, arr2 = T.Array(fl, 1, "C"), T.Array(fl, 2, "C")
    i32, b = T.Array(T.int32, 1, "C"), T.Array(T.boolean, 1, "C")
    return ((arr, arr, arr, arr, fl, T.int64, T.int64, b, b, i32, i32, i32, arr, i32, i32, i32,
             i32, arr2, arr2, arr2),                                    # step_brainpy
            (arr, arr, arr, arr, fl, T.int64, T.int64, b, i32, i32, i32, i32, arr2),
            (arr, arr, T.int64, b, i32, i32, i32, arr, i32, arr2, arr2))  # brette kernels


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    for preset in refsim.preset_names():
        c = Constants.from_config(refsim.get_preset(preset))
        fl = T.float32 if c.dtype == np.float32 else T.float64
        for kernel, sig in zip(cuda_engine._kernels(c, sim=False), signatures(fl), strict=True):
            lines = cuda.compile_ptx(kernel.py_func, sig, cc=(9, 0))[0].splitlines()
            count = lambda s, lines=lines: sum(s in ln for ln in lines)
            print(f"{preset:20s} {kernel.py_func.__name__:20s} fma.rn {count('fma.rn'):2d}  "
                  f"mul.rn {count('mul.rn'):2d}  div.rn {count('div.rn'):2d}  .ftz {count('.ftz')}")
            assert count(".ftz") == 0
            if not c.fused_update and not (c.exp_euler and c.expm1 == "xla"):
                # no FMA asked for (ieee arithmetic, refsim's portable expm1): none in the PTX
                assert count("fma.rn") == 0, "an FMA was contracted from refsim's arithmetic"
            elif c.xla and c.expm1 == "xla" and "deliver" not in kernel.py_func.__name__:
                # exactly XLA's: 10 in its expm1, 6 in its arithmetic (decays, J, currents, V)
                assert count("fma.rn") == 16, count("fma.rn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
