import os
import signal
import sys
from pathlib import Path

# A suite started in the background of a non-interactive shell (`cmd &` in .ci/run, nohup)
# inherits SIGINT ignored, and Python then never raises KeyboardInterrupt, in this process or
# in the refsim processes the tests start: the Ctrl-C tests would hang. Give it what an
# interactive start gives (children then inherit the default action).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The repository root, for the tests that import validation/ scripts. Appended, not
# prepended: a non-editable install's refsim (site-packages) must win over the source tree,
# so that the suite tests what was installed (tests/test_architecture.py checks which).
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.append(ROOT)

# The CUDA engine's tests run its kernels in Numba's CUDA simulator unless a real GPU is asked
# for (REFSIM_REAL_GPU=1). Numba reads this variable when it is first imported, so it is set
# here, before any test module imports refsim or numba. CPU engines are unaffected.
if os.environ.get("REFSIM_REAL_GPU") != "1":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Runs of small networks take tens of ms: no per-example deadline.
settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Every engine, as the one ``engine`` fixture offers them (refsim.engines.ENGINES).
ENGINES = ("numpy", "numba", "cuda")
#: True when the ``cuda`` engine is a real device (REFSIM_REAL_GPU=1), not the simulator.
REAL_GPU = os.environ.get("REFSIM_REAL_GPU") == "1"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "engines(*names): run the test with the engine fixture set to each of these "
                   "engines only (default: numpy, numba and cuda)")


def pytest_generate_tests(metafunc):
    """The one engine parametrization: a test that takes ``engine`` runs once per engine, the
    ``cuda`` case marked ``cudasim`` (the kernels in Numba's simulator, or on the device with
    REFSIM_REAL_GPU=1). ``@pytest.mark.engines("numba", "cuda")`` narrows the set, e.g. to the
    engines compared with the NumPy oracle."""
    if "engine" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    names = marker.args if marker else ENGINES
    unknown = set(names) - set(ENGINES)
    if unknown:
        raise ValueError(f"engines marker of {metafunc.definition.name}: unknown {sorted(unknown)}")
    metafunc.parametrize(
        "engine", [pytest.param(e, id=e, marks=[pytest.mark.cudasim] if e == "cuda" else [])
                   for e in names], indirect=True)


@pytest.fixture
def engine(request):
    """The engine a test runs (``refsim.simulate(..., engine=engine)``): numpy (the oracle),
    numba, or cuda (skipped without numba-cuda)."""
    if request.param == "cuda":
        pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
    return request.param
