"""The Python interpreters of the peer simulators' environments, in one place.

BrainPy 2.9 needs Python 3.12 and Brian2 2.11 / NEST 3.10 Python 3.13, so each lives in its
own venv, both in one directory:

* ``$REFSIM_PEER_VENVS`` (default ``<repository>/.venvs``, ignored by git) holds
  ``bp312/`` (BrainPy) and ``peer313/`` (Brian2 and NEST);
* ``validation/make_peer_venvs.sh`` makes them there (the versions: ``validation/README.md``);
* every script that starts a peer takes its interpreter as an option (``--brainpy-python``,
  ``--peer-python`` / ``--brian2-python``), which overrides the directory.

This module is the only place that reads ``REFSIM_PEER_VENVS``.
``python -m validation.peer_pythons`` prints where the interpreters are looked for and whether
each one is there and imports its simulator.

The scripts run this package's modules there as ``PYTHON -m validation.<module>`` with the
repository root as working directory (:func:`module_command`). Standard library only: it is
imported in the peers' interpreters too.
"""
from __future__ import annotations

import os
import subprocess
import sys

from validation import REPO

#: The environment variable naming the directory of the peer venvs.
ENV_VAR = "REFSIM_PEER_VENVS"
#: Its default: ``.venvs`` at the repository root.
DEFAULT_DIR = os.path.join(REPO, ".venvs")
#: The venvs: name -> (subdirectory, Python version, modules its scripts import, the scripts'
#: option for its interpreter).
VENVS = {"brainpy": ("bp312", "3.12", ("brainpy", "jax"), "--brainpy-python"),
         "peers": ("peer313", "3.13", ("brian2", "nest"), "--peer-python")}


def venvs_dir() -> str:
    """The directory of the peer venvs: ``$REFSIM_PEER_VENVS``, else ``<repository>/.venvs``."""
    return os.path.abspath(os.path.expanduser(os.environ.get(ENV_VAR) or DEFAULT_DIR))


def venv_python(name: str) -> str:
    """The interpreter of venv ``name`` (``'brainpy'`` or ``'peers'``) in :func:`venvs_dir`."""
    sub = VENVS[name][0]
    if os.name == "nt":
        return os.path.join(venvs_dir(), sub, "Scripts", "python.exe")
    return os.path.join(venvs_dir(), sub, "bin", "python")


#: The defaults of the scripts' ``--brainpy-python`` and ``--peer-python`` options.
BRAINPY_PYTHON = venv_python("brainpy")
PEER_PYTHON = venv_python("peers")


def unavailable(python: str | None, modules=(), option: str = "--peer-python") -> str | None:
    """Why ``python`` cannot run a peer that imports ``modules``; None when it can.

    The reasons read as the benchmark's table prints them: ``no --brainpy-python given``
    (``python`` empty or None), ``interpreter PATH not found ...``, ``import failed in PATH:
    ...`` (the last line of the error).
    """
    if not python:
        return f"no {option} given"
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return (f"interpreter {python} not found (make it with validation/make_peer_venvs.sh, "
                f"set {ENV_VAR}, or give {option})")
    if modules:
        code = "".join(f"import {m}\n" for m in modules)
        try:
            p = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=REPO,
                               timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"import failed in {python}: {e!r}"[:400]
        if p.returncode != 0:
            lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
            last = lines[-1] if lines else f"exit status {p.returncode}"
            return f"import failed in {python}: {last}"[:400]
    return None


def require(python: str | None, name: str, option: str | None = None) -> str:
    """``python`` if it can run the peers of venv ``name``, else exit with the reason (for the
    scripts that cannot do without their peer); ``option``: the script's option for it."""
    option = option or VENVS[name][3]
    why = unavailable(python, VENVS[name][2], option)
    if why:
        raise SystemExit(f"{option}: {why}")
    return python


def module_command(python: str, module: str, *args) -> list[str]:
    """The command line that runs ``module`` of this package with ``python``; start it with
    ``cwd=validation.REPO``, so that the package is importable in an interpreter without
    refsim."""
    return [python, "-m", module, *map(str, args)]


def main() -> int:
    print(f"peer venvs: {venvs_dir()}  ({ENV_VAR}"
          + (f"={os.environ[ENV_VAR]})" if os.environ.get(ENV_VAR) else f" unset: {DEFAULT_DIR})"))
    for name, (sub, version, modules, option) in VENVS.items():
        python = venv_python(name)
        why = unavailable(python, modules, option)
        state = "ok" if why is None else "not found" if why.startswith("interpreter") else why
        print(f"  {sub:8s} (Python {version}; {', '.join(modules)}; {option})  {python}: {state}")
    print("make them with validation/make_peer_venvs.sh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
