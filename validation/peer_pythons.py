"""The Python interpreters of the peer simulators' environments, in one place.

BrainPy 2.9 needs Python 3.12 and Brian2 2.11 / NEST 3.10 Python 3.13, so each lives in its
own venv (how to make them: ``validation/brainpy/README.md``, ``validation/peers/README.md``).
The scripts find them through ``REFSIM_BRAINPY_PYTHON`` and ``REFSIM_PEER_PYTHON``, else in
the venvs ``.venv-bp312`` and ``.venv-peer313`` at the repository root (ignored by git). They
run this package's modules there as ``PYTHON -m validation.<module>`` with the repository root
as working directory (:func:`module_command`).
"""
import os

from validation import REPO

BRAINPY_PYTHON = (os.environ.get("REFSIM_BRAINPY_PYTHON")
                  or os.path.join(REPO, ".venv-bp312", "bin", "python"))
PEER_PYTHON = (os.environ.get("REFSIM_PEER_PYTHON")
               or os.path.join(REPO, ".venv-peer313", "bin", "python"))


def module_command(python: str, module: str, *args) -> list[str]:
    """The command line that runs ``module`` of this package with ``python``; start it with
    ``cwd=validation.REPO``, so that the package is importable in an interpreter without
    refsim."""
    return [python, "-m", module, *map(str, args)]
