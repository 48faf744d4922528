"""Read refsim's SONATA export of a network (``refsim export --to sonata``, or
``validation.peers.export_network``) with h5py and json alone; shared by the peer runners
(``brian2_run``, ``nest_run``).

Runs in the peer environment: NumPy and h5py, no refsim. :func:`load_network` is a
deliberate, reduced copy of :func:`refsim.formats.read_sonata_network` (the layout is
documented in ``refsim/formats/sonata_network.py``), kept because refsim is not installed
there; refsim's side reads the export with ``read_sonata_network`` itself, which also checks
it. A change of the layout changes both.

This is also the recipe for a NEST user whose NEST has no HDF5 (the PyPI wheel:
``nest.build_info['have_hdf5']`` is False, so ``nest.SonataNetwork`` is unavailable): read
the edges with h5py and connect them as arrays (``nest_run``)::

    net = load_network("export")              # the directory refsim export wrote
    pop = nest.Create("iaf_cond_exp", net["n_neurons"], params=net["nest_params"])
    pop.set(net["nest_initial"])              # V_m, g_ex, g_in per neuron
    nest.Connect(net["pre"] + 1, net["indices"] + 1, "one_to_one",
                 {"synapse_model": "static_synapse", "weight": net["syn_weight"],
                  "delay": np.full(net["pre"].size, net["delay"])})
"""
import csv
import json
import os

import h5py
import numpy as np

POPULATION, EDGES = "coba", "coba_to_coba"


def _resolve(value, manifest, base):
    for _ in range(10):
        if "$" not in value:
            break
        for key, sub in manifest.items():
            value = value.replace(key, sub.replace("${configdir}", base))
    return value.replace("${configdir}", base)


def load_network(path):
    """The exported network as plain arrays and dicts.

    Returns a dict: ``config`` (every refsim parameter, refsim's units), ``meta`` (preset,
    seed, g_L_nS, refsim_version), ``n_neurons``, ``n_exc``; the edges in refsim's CSR order,
    ``indptr``, ``indices`` (targets), ``pre`` (sources), ``counts`` (synapses per edge),
    ``syn_weight`` (nS, negative for inhibitory: NEST's convention), ``delay`` (ms);
    refsim's initial state ``V`` (mV), ``g_e``, ``g_i`` ([g]); and for NEST
    ``nest_params`` (iaf_cond_exp parameters) and ``nest_initial`` (V_m, g_ex, g_in).
    """
    base = os.path.dirname(path) if path.endswith(".json") else path
    with open(os.path.join(base, "circuit_config.json")) as f:
        cc = json.load(f)
    manifest = cc.get("manifest", {})
    nodes = cc["networks"]["nodes"][0]
    edges = cc["networks"]["edges"][0]
    with open(os.path.join(base, "parameters.json")) as f:
        params = json.load(f)
    config = {k: v["value"] for k, v in params["parameters"].items()}
    meta = {k: v for k, v in params.items() if k != "parameters"}
    with h5py.File(_resolve(nodes["nodes_file"], manifest, base), "r") as f:
        g = f["nodes"][POPULATION]
        types = g["node_type_id"][()]
        state = {k: g["0"][a][()] for k, a in (("V", "V0"), ("g_e", "g_e0"), ("g_i", "g_i0"))}
        nest_initial = {k: g["0/dynamics_params"][k][()] for k in ("V_m", "g_ex", "g_in")}
    with h5py.File(_resolve(edges["edges_file"], manifest, base), "r") as f:
        g = f["edges"][EDGES]
        pre = g["source_node_id"][()].astype(np.int64)
        post = g["target_node_id"][()].astype(np.int64)
        weight = g["0/syn_weight"][()]
        counts = g["0/synapse_count"][()].astype(np.int64) if "synapse_count" in g["0"] \
            else np.ones(pre.size, np.int64)
    with open(_resolve(edges["edge_types_file"], manifest, base)) as f:
        delays = {float(row["delay"]) for row in csv.DictReader(f, delimiter=" ")}
    models = _resolve(cc["components"]["point_neuron_models_dir"], manifest, base)
    with open(os.path.join(models, "coba_neuron.json")) as f:
        nest_params = json.load(f)
    n = types.size
    assert np.all(np.diff(pre) >= 0), "edges not in CSR (source) order"
    assert len(delays) == 1, "one delay for all edges"
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=n))])
    return {"config": config, "meta": meta, "n_neurons": n, "n_exc": int(np.count_nonzero(types == 0)),
            "indptr": indptr, "indices": post, "pre": pre, "counts": counts, "syn_weight": weight,
            "delay": delays.pop(), "nest_params": nest_params, "nest_initial": nest_initial, **state}
