"""refsim's validation: the slow, statistical and cross-simulator checks (``validation/README.md``).

Every script is a module of this package, run from the repository root::

    python -m validation.ensembles --seeds 0:20
    .venvs/peer313/bin/python -m validation.peers.brian2_run NETWORK.npz --out SPIKES.npz

(``.venvs/``: the peers' venvs, ``validation/peer_pythons.py``).

Some modules run in the peer simulators' own interpreters, where refsim is not installed
(``validation.brainpy.run_brainpy``, ``validation.peers.brian2_run``, ...; each docstring says
where it runs), so this package, :mod:`validation.peers` and :mod:`validation.brainpy` import
nothing from refsim: refsim-side helpers are in :mod:`validation.common`.
"""
import os

#: The repository root: the working directory of every peer process the scripts start.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Where the scripts write their results by default (``--out`` / ``--out-dir`` elsewhere).
RESULTS = os.path.join(REPO, "validation", "results")
