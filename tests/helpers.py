"""Helpers shared by the robustness tests (test_inputs, test_memory, test_stops, test_files).

Not a test module; importable because pytest puts tests/ on sys.path (it has no __init__.py).
"""
import dataclasses
import importlib

import refsim

#: refsim.simulate is also the name of the function: the module, for monkeypatching
sim_module = importlib.import_module("refsim.simulate")
#: where the network is drawn (refsim.network.build_connectivity, initial_state)
network_module = importlib.import_module("refsim.network")
#: the Config's fields, in declaration order
FIELDS = [f.name for f in dataclasses.fields(refsim.Config)]


def small(preset="tutorial", **kw):
    """A 50-neuron, 20 ms version of a preset."""
    return refsim.get_preset(preset, **{"n_exc": 40, "n_inh": 10, "duration": 20.0, **kw})


def names_a_field(message):
    """A ConfigError message of the form '<field> = <value>: allowed ...' (or '<a>, <b>: ...'
    for messages about two fields)."""
    return message.split(" = ")[0] in FIELDS and "allowed" in message
