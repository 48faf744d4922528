import os

from hypothesis import settings

# Numba-free for now, but runs of small networks take tens of ms: no per-example deadline.
settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
