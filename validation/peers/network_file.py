"""Read the network file written by ``export_network.py``; shared by the peer runners.

Runs in the peer environment: NumPy only, no refsim.
"""
import json

import numpy as np


def load_network(path):
    """The arrays of an exported network (read without pickles), with ``config`` and ``meta``
    decoded from JSON and ``n_exc`` as an int."""
    with np.load(path, allow_pickle=False) as z:
        net = {k: z[k] for k in z.files}
    net["config"] = json.loads(str(net["config"]))
    net["meta"] = json.loads(str(net["meta"]))
    net["n_exc"] = int(net["n_exc"])
    return net
