"""Run by tests/test_machine_independence.py in a child process that sees another machine.

``python tests/machine_probe.py [--asm]`` prints one JSON object:

* ``digests``: {case name: {engine: digest dict}} for the quick cases of
  ``tests/data/golden_digests.json``, with the NumPy and the Numba engine;
* ``expm1``: SHA-256 of ``np.expm1`` (``numpy_float32``, ``numpy_float64``) and of the C
  library's expm1 through Numba's ``math.expm1`` (``libm_float32``, ``libm_float64``) on fixed
  arguments: the machine-dependent functions refsim does not use, so that the parent can
  show the child really computes differently from it;
* ``numpy_features``: NumPy's CPU features as this process sees them; ``numba_cpu``: the CPU
  Numba compiles for, and whether ``fma32`` is its FMA instruction there;
* with ``--asm``: for the engine's neuron passes and step-factor loops, the packed (vector)
  arithmetic instructions, the widest vector register and the calls found in their code (the
  loops must vectorize with no call).
"""
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np

import refsim

GOLDEN = Path(__file__).parent / "data" / "golden_digests.json"


def digests():
    out = {}
    for case in json.loads(GOLDEN.read_text())["cases"]:
        if not case["quick"]:
            continue
        cfg = refsim.get_preset(case["preset"], **case["overrides"])
        out[case["name"]] = {e: refsim.simulate(cfg, case["seed"], engine=e, progress=False).digest()
                             for e in ("numpy", "numba")}
    return out


def machine_dependent_functions():
    import math

    from numba import njit

    @njit
    def libm(x, out):
        for i in range(x.size):
            out[i] = math.expm1(x[i])
    out = {}
    for dtype in (np.float32, np.float64):
        x = -np.linspace(0, 2, 200_001).astype(dtype)
        y = np.empty_like(x)
        libm(x, y)
        out[f"numpy_{dtype.__name__}"] = hashlib.sha256(np.expm1(x).tobytes()).hexdigest()
        out[f"libm_{dtype.__name__}"] = hashlib.sha256(y.tobytes()).hexdigest()
    return out


def assembly():
    """Packed divisions and calls in the compiled loops (compiled in this process)."""
    from refsim.engines import numba_engine as ne
    for preset in refsim.preset_names():  # compile every variant the presets use
        refsim.simulate(refsim.get_preset(preset, n_exc=40, n_inh=10, duration=1.0), 0,
                        progress=False)
    refsim.simulate(refsim.get_preset("tutorial-normalized", n_exc=40, n_inh=10, duration=1.0,
                                      g_i0_mean=200.0), 0, progress=False)
    out = {}
    for f in (ne._conductances_reset_slope, ne._jacobians, ne._candidate_clamp_spikes,
              ne._brette_neurons, ne._factors_portable, ne._factors_xla):
        for sig in f.signatures:
            ll = f.inspect_llvm(sig)
            name = f.py_func.__name__
            # the function itself, not its Python wrapper: its mangled name starts the module
            body = ll[ll.index("define"):]
            body = body[:body.index("\n}\n")]
            calls = sorted(set(re.findall(r"call [^@]*@([\w.$]+)", body)))
            asm = f.inspect_asm(sig)
            widest = next((r for r in ("zmm", "ymm", "xmm") if f"%{r}" in asm), "none")
            out[f"{name} {sig[0].dtype}"] = {
                "packed_arithmetic": len(re.findall(
                    r"\bv?(?:add|sub|mul|div|fn?m(?:add|sub)\w*)p[sd]\s", asm)),
                # LLVM intrinsics are instructions; Numba's reference counting and the call of
                # step_factors happen once per block, outside the loops over neurons
                "calls": [c for c in calls if not (c.startswith(("llvm.", "NRT_"))
                                                   or "step_factors" in c)],
                "widest_register": widest,
            }
    return out


def main():
    from numba import config
    from numpy._core._multiarray_umath import __cpu_features__

    from refsim.engines import numba_primitives as primitives
    report = {"digests": digests(), "expm1": machine_dependent_functions(),
              "numpy_features": sorted(k for k, v in __cpu_features__.items() if v),
              "numba_cpu": config.CPU_NAME or "host", "hardware_fma": primitives.HARDWARE_FMA}
    if "--asm" in sys.argv:
        report["asm"] = assembly()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
