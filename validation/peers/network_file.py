"""Read the network file written by ``validation.peers.export_network``; shared by the peer
runners (``brian2_run``, ``nest_run``).

Runs in the peer environment: NumPy only, no refsim. :func:`load_network` is a deliberate,
reduced copy of :func:`refsim.io.read_network` (the same arrays, ``config`` and ``meta``
decoded from JSON, ``n_exc`` as an int), kept because refsim is not installed there; refsim's
side reads the file with ``refsim.io.read_network`` itself, which also checks it. A change of
the format (``refsim.io.NETWORK_FORMAT``) changes both.
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
