import os

# The CUDA engine's tests run its kernels in Numba's CUDA simulator unless a real GPU is asked
# for (REFSIM_REAL_GPU=1). Numba reads this variable when it is first imported, so it is set
# here, before any test module imports refsim or numba. CPU engines are unaffected.
if os.environ.get("REFSIM_REAL_GPU") != "1":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

from hypothesis import settings  # noqa: E402

# Runs of small networks take tens of ms: no per-example deadline.
settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
