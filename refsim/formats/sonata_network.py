"""The exact network of a run as SONATA (h5py): what ``refsim export --to sonata`` writes.

Layout (one directory)::

    circuit_config.json        manifest ($BASE_DIR = ${configdir}), components, networks
    simulation_config.json     run (tstop, dt), the network, the output spikes file
    parameters.json            every Config value with its unit (refsim.formats.parameters)
    network/nodes.h5           /nodes/coba: node_id (uint64) = refsim's neuron index,
                               node_type_id (0 E, 1 I; E first), node_group_id, node_group_index,
                               /0/V0 (mV), /0/g_e0, /0/g_i0 ([g]): refsim's exact initial state,
                               /0/dynamics_params/{V_m (mV), g_ex, g_in (nS)}: the same for NEST
    network/node_types.csv     node_type_id ei pop_name model_type model_template dynamics_params
    network/edges.h5           /edges/coba_to_coba: one edge per CSR entry, in CSR order
                               (presynaptic row, then refsim's order of its targets; multapses
                               kept), source_node_id, target_node_id (uint64; node_population
                               'coba'), edge_type_id (0 from E, 1 from I), edge_group_id,
                               edge_group_index, /0/syn_weight (nS, NEST's sign: negative is
                               inhibitory), /0/synapse_count (only when an entry counts more
                               than one synapse), indices/source_to_target and target_to_source
    network/edge_types.csv     edge_type_id source_query target_query model_template delay
    components/point_neuron_models/coba_neuron.json   NEST iaf_cond_exp parameters

NEST's ``iaf_cond_exp`` is refsim's equation multiplied by a leak conductance g_L (``g_L_nS``,
10 nS as in Brette et al. 2007, a scale only): C_m = tau_m g_L, I_e = g_L RI_ext, weights
R_g w g_L, initial g_ex/g_in = R_g g0 g_L (:func:`nest_parameters`). ``delay`` is dt, NEST's
smallest: with it NEST's synaptic latency is one step longer than refsim's, which has none
(docs/validation.md). Importing the export (:func:`read_sonata_network`) gives the identical
CSR arrays, byte for byte, and the identical initial state and Config.
"""

from __future__ import annotations

import json
import os

import numpy as np
import scipy.sparse as sp

from ..connectivity import Connectivity
from ..io import atomic_write, open_regular
from ..params import Config, ConfigError
from ..state import STATE_VARIABLES
from .common import open_hdf5, read_dataset, require
from .parameters import read_parameters, write_parameters
from .sonata import POPULATION

__all__ = ["write_sonata_network", "read_sonata_network", "nest_parameters", "EDGE_POPULATION",
           "NEURON_MODEL_FILE"]

#: The edge population: every synapse of the network.
EDGE_POPULATION = f"{POPULATION}_to_{POPULATION}"
#: The NEST parameters of the neurons, in components/point_neuron_models.
NEURON_MODEL_FILE = "coba_neuron.json"
#: refsim's initial state in /nodes/coba/0, by state variable.
_STATE_ATTRIBUTES = {"V": "V0", "g_e": "g_e0", "g_i": "g_i0"}


def nest_parameters(config: Config, g_L_nS: float = 10.0) -> dict:
    """``iaf_cond_exp`` parameters equivalent to ``config`` (pF, nS, mV, pA, ms).

    Examples
    --------
    >>> import refsim
    >>> from refsim.formats.sonata_network import nest_parameters
    >>> p = nest_parameters(refsim.get_preset("tutorial-normalized"))
    >>> p["C_m"], p["I_e"], p["t_ref"]
    (200.0, 200.0, 5.0)
    """
    c = config
    return {"g_L": g_L_nS, "C_m": c.tau_m * g_L_nS, "E_L": c.V_rest, "V_th": c.V_th,
            "V_reset": c.V_reset, "t_ref": c.tau_ref, "I_e": g_L_nS * c.RI_ext,
            "E_ex": c.E_e, "E_in": c.E_i, "tau_syn_ex": c.tau_e, "tau_syn_in": c.tau_i}


def _json(path, obj) -> None:
    text = json.dumps(obj, indent=2) + "\n"
    atomic_write(path, lambda tmp: open(tmp, "w").write(text))


def _text(path, text) -> None:
    atomic_write(path, lambda tmp: open(tmp, "w").write(text))


def _target_index(targets: np.ndarray, n: int):
    """SONATA's target_to_source index of edges stored in CSR (source) order: for each
    target, the ranges of consecutive edge ids that end there."""
    order = np.argsort(targets, kind="stable")
    t_sorted = targets[order]
    # a new range where the target changes or the edge ids stop being consecutive
    new = np.ones(order.size, bool)
    if order.size:
        new[1:] = (t_sorted[1:] != t_sorted[:-1]) | (order[1:] != order[:-1] + 1)
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], order.size)
    ranges = np.stack([order[starts], order[ends - 1] + 1], axis=1).astype(np.uint64) \
        if order.size else np.zeros((0, 2), np.uint64)
    first = np.searchsorted(t_sorted[starts], np.arange(n + 1))
    node_to_range = np.stack([first[:-1], first[1:]], axis=1).astype(np.uint64)
    return node_to_range, ranges


def write_sonata_network(out_dir, config: Config, connectivity: Connectivity, initial: dict,
                         meta: dict | None = None, g_L_nS: float = 10.0) -> list[str]:
    """Write the network of a run as a SONATA directory (see the module docstring).

    Parameters
    ----------
    out_dir : str or os.PathLike
        Created if missing; existing files of the layout are replaced.
    config : Config
    connectivity : Connectivity
    initial : dict of ndarray
        ``V`` (mV), ``g_e``, ``g_i`` ([g]), as :func:`refsim.network_inputs` returns them.
    meta : dict, optional
        JSON-able provenance (preset, seed), stored in parameters.json.
    g_L_nS : float
        The leak conductance that scales refsim's model to NEST's units (nS).

    Returns
    -------
    list of str
        The files written.

    Examples
    --------
    >>> import os, tempfile, numpy as np, refsim
    >>> from refsim.formats import read_sonata_network, write_sonata_network
    >>> config = refsim.get_preset("brette2007-coba", n_exc=8, n_inh=2)
    >>> conn, initial = refsim.network_inputs(config, seed=0)
    >>> d = tempfile.mkdtemp()
    >>> [os.path.relpath(p, d) for p in write_sonata_network(d, config, conn, initial)][:3]
    ['network/nodes.h5', 'network/node_types.csv', 'network/edges.h5']
    >>> config2, conn2, initial2, _ = read_sonata_network(d)
    >>> config2 == config, np.array_equal(conn2.indices, conn.indices)
    (True, True)
    """
    h5py = require("h5py", "writing SONATA networks")
    out_dir = os.fspath(out_dir)
    if not (np.isfinite(g_L_nS) and g_L_nS > 0):
        raise ConfigError(f"g_L_nS = {g_L_nS!r}: allowed a finite conductance > 0 nS")
    conn, n, n_exc = connectivity, config.n_neurons, connectivity.n_exc
    if conn.n_neurons != n:
        raise ConfigError(f"connectivity of {conn.n_neurons} neurons: allowed N = {n} (the config's)")
    net_dir = os.path.join(out_dir, "network")
    model_dir = os.path.join(out_dir, "components", "point_neuron_models")
    os.makedirs(net_dir, exist_ok=True)
    os.makedirs(model_dir, exist_ok=True)
    paths = []
    scale = config.R_g * g_L_nS   # [g] -> nS

    def nodes(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs["magic"], f.attrs["version"] = np.uint32(0x0A7A), np.array([0, 1], np.uint32)
            g = f.create_group(f"nodes/{POPULATION}")
            g["node_id"] = np.arange(n, dtype=np.uint64)
            g["node_type_id"] = (np.arange(n) >= n_exc).astype(np.uint64)
            g["node_group_id"] = np.zeros(n, np.uint32)
            g["node_group_index"] = np.arange(n, dtype=np.uint64)
            for name, attribute in _STATE_ATTRIBUTES.items():
                g[f"0/{attribute}"] = np.asarray(initial[name], np.float64)
            g["0/dynamics_params/V_m"] = np.asarray(initial["V"], np.float64)
            g["0/dynamics_params/g_ex"] = scale * np.asarray(initial["g_e"], np.float64)
            g["0/dynamics_params/g_in"] = scale * np.asarray(initial["g_i"], np.float64)

    path = os.path.join(net_dir, "nodes.h5")
    atomic_write(path, nodes)
    paths.append(path)
    path = os.path.join(net_dir, "node_types.csv")
    _text(path, "node_type_id ei pop_name model_type model_template dynamics_params\n"
                f"0 e E point_process nest:iaf_cond_exp {NEURON_MODEL_FILE}\n"
                f"1 i I point_process nest:iaf_cond_exp {NEURON_MODEL_FILE}\n")
    paths.append(path)

    source = np.repeat(np.arange(n, dtype=np.uint64), np.diff(conn.indptr))
    target = conn.indices.astype(np.uint64)
    inhibitory = source >= n_exc
    weight = np.where(inhibitory, -config.w_i, config.w_e) * scale
    if not conn.unit_counts:
        weight = weight * conn.counts

    def edges(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs["magic"], f.attrs["version"] = np.uint32(0x0A7A), np.array([0, 1], np.uint32)
            g = f.create_group(f"edges/{EDGE_POPULATION}")
            g.create_dataset("source_node_id", data=source).attrs["node_population"] = POPULATION
            g.create_dataset("target_node_id", data=target).attrs["node_population"] = POPULATION
            g["edge_type_id"] = inhibitory.astype(np.uint32)
            g["edge_group_id"] = np.zeros(source.size, np.uint16)
            g["edge_group_index"] = np.arange(source.size, dtype=np.uint64)
            g["0/syn_weight"] = weight
            if not conn.unit_counts:
                g["0/synapse_count"] = conn.counts.astype(np.uint32)
            s2t = g.create_group("indices/source_to_target")
            s2t["node_id_to_ranges"] = np.stack([np.arange(n), np.arange(1, n + 1)], 1).astype(np.uint64)
            s2t["range_to_edge_id"] = np.stack([conn.indptr[:-1], conn.indptr[1:]], 1).astype(np.uint64)
            t2s = g.create_group("indices/target_to_source")
            t2s["node_id_to_ranges"], t2s["range_to_edge_id"] = _target_index(target, n)

    path = os.path.join(net_dir, "edges.h5")
    atomic_write(path, edges)
    paths.append(path)
    path = os.path.join(net_dir, "edge_types.csv")
    _text(path, "edge_type_id source_query target_query model_template delay\n"
                f"0 ei=='e' * static_synapse {config.dt!r}\n1 ei=='i' * static_synapse {config.dt!r}\n")
    paths.append(path)
    path = os.path.join(model_dir, NEURON_MODEL_FILE)
    _json(path, nest_parameters(config, g_L_nS))
    paths.append(path)
    path = os.path.join(out_dir, "circuit_config.json")
    _json(path, {
        "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                     "$COMPONENTS_DIR": "$BASE_DIR/components"},
        "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/point_neuron_models"},
        "networks": {"nodes": [{"nodes_file": "$NETWORK_DIR/nodes.h5",
                                "node_types_file": "$NETWORK_DIR/node_types.csv"}],
                     "edges": [{"edges_file": "$NETWORK_DIR/edges.h5",
                                "edge_types_file": "$NETWORK_DIR/edge_types.csv"}]},
        "target_simulator": "NEST"})
    paths.append(path)
    path = os.path.join(out_dir, "simulation_config.json")
    _json(path, {"manifest": {"$BASE_DIR": "${configdir}", "$OUTPUT_DIR": "$BASE_DIR/output"},
                 "run": {"tstop": config.duration, "dt": config.dt},
                 "target_simulator": "NEST", "network": "$BASE_DIR/circuit_config.json",
                 "output": {"output_dir": "$OUTPUT_DIR", "spikes_file": "spikes.h5",
                            "spikes_sort_order": "time"}})
    paths.append(path)
    path = os.path.join(out_dir, "parameters.json")
    write_parameters(path, config, g_L_nS=g_L_nS, **(meta or {}))
    paths.append(path)
    return paths


def _resolve(value: str, manifest: dict, base: str) -> str:
    """A path of a SONATA config with its manifest's $VARIABLES expanded."""
    for _ in range(10):
        if "$" not in value:
            break
        for key, sub in manifest.items():
            value = value.replace(key, sub.replace("${configdir}", base))
    return value.replace("${configdir}", base)


def read_sonata_network(path):
    """(config, connectivity, initial state, meta) of a directory :func:`write_sonata_network`
    wrote (or its ``circuit_config.json``).

    Returns
    -------
    config : Config
        From parameters.json.
    connectivity : Connectivity
        The CSR of the edges in file order: for refsim's export, byte for byte the one
        exported.
    initial : dict of ndarray
        ``V`` (mV), ``g_e``, ``g_i`` ([g]) from /nodes/coba/0.
    meta : dict
        parameters.json's provenance (preset, seed, g_L_nS, refsim_version).

    Raises
    ------
    ConfigError
        Missing files, another layout, edges that are not sorted by source, types that do not
        match the E/I rows, or sizes that disagree with the parameters.
    """
    h5py = require("h5py", "reading SONATA networks")
    path = os.fspath(path)
    base = os.path.dirname(path) if path.endswith(".json") else path
    circuit = path if path.endswith(".json") else os.path.join(base, "circuit_config.json")
    label = f"SONATA network {base!r}"
    try:
        with open_regular(circuit, label) as f:
            cc = json.load(f)
        nodes_file = _resolve(cc["networks"]["nodes"][0]["nodes_file"], cc.get("manifest", {}), base)
        edges_file = _resolve(cc["networks"]["edges"][0]["edges_file"], cc.get("manifest", {}), base)
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise ConfigError(f"{label}: circuit_config.json: allowed the layout refsim export writes "
                          f"({type(e).__name__}: {e})") from None
    params = os.path.join(base, "parameters.json")
    config = read_parameters(params)
    with open(params) as f:
        meta = {k: v for k, v in json.load(f).items() if k != "parameters"}
    with open_hdf5(nodes_file, label) as f:
        g = f.get(f"nodes/{POPULATION}")
        if not isinstance(g, h5py.Group):
            raise ConfigError(f"{label}: {nodes_file}: no /nodes/{POPULATION} population")
        types = read_dataset(g, "node_type_id", label, "int")
        node_ids = read_dataset(g, "node_id", label, "int") if "node_id" in g else np.arange(types.size)
        initial = {name: read_dataset(g, f"0/{attr}", label, "real")
                   for name, attr in _STATE_ATTRIBUTES.items()}
    n = types.size
    if n != config.n_neurons or not np.array_equal(node_ids, np.arange(n)):
        raise ConfigError(f"{label}: {n} nodes with ids {node_ids[:3]}...: allowed node ids 0 .. "
                          f"N-1, N = {config.n_neurons} (parameters.json)")
    n_exc = int(np.count_nonzero(types == 0))
    if n_exc != config.n_exc or np.any(types[:n_exc] != 0) or np.any(types[n_exc:] != 1):
        raise ConfigError(f"{label}: node_type_id: allowed {config.n_exc} E nodes (type 0) then I (type 1)")
    for name, a in initial.items():
        if a.shape != (n,) or not np.all(np.isfinite(a)):
            raise ConfigError(f"{label}: /nodes/{POPULATION}/0/{_STATE_ATTRIBUTES[name]}: allowed "
                              "N finite values")
    with open_hdf5(edges_file, label) as f:
        g = f.get(f"edges/{EDGE_POPULATION}")
        if not isinstance(g, h5py.Group):
            raise ConfigError(f"{label}: {edges_file}: no /edges/{EDGE_POPULATION} population")
        src = read_dataset(g, "source_node_id", label, "int")
        tgt = read_dataset(g, "target_node_id", label, "int")
        etype = read_dataset(g, "edge_type_id", label, "int")
        counts = (read_dataset(g, "0/synapse_count", label, "int")
                  if "0/synapse_count" in g else None)
        weight = read_dataset(g, "0/syn_weight", label, "real") if "0/syn_weight" in g else None
    m = src.size
    if tgt.shape != (m,) or etype.shape != (m,) or (counts is not None and counts.shape != (m,)):
        raise ConfigError(f"{label}: edge datasets of different lengths")
    if m and (src.max() >= n or tgt.max() >= n or src.min() < 0 or tgt.min() < 0):
        raise ConfigError(f"{label}: edges of node ids outside 0 .. N - 1 = {n - 1}")
    if counts is not None and m and counts.min() < 1:
        raise ConfigError(f"{label}: synapse_count values from {counts.min()}: allowed >= 1")
    if m > 1 and np.any(np.diff(src.astype(np.int64)) < 0):
        raise ConfigError(f"{label}: edges not sorted by source_node_id: allowed CSR order (as "
                          "refsim export writes them)")
    if np.any(etype != (src >= n_exc)):
        raise ConfigError(f"{label}: edge_type_id: allowed 0 for edges from E nodes, 1 from I")
    # the weights are refsim's (parameters.json); an edited syn_weight would be ignored: refused
    expected = np.where(src >= n_exc, -config.w_i, config.w_e) * config.R_g * meta.get("g_L_nS", 10.0)
    if weight is not None and not np.array_equal(weight, expected if counts is None else expected * counts):
        raise ConfigError(f"{label}: syn_weight differs from the weights of parameters.json (w_e, "
                          "w_i, R_g, g_L_nS): allowed refsim's export unchanged (edit parameters.json)")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(src.astype(np.int64), minlength=n))])
    data = np.ones(m) if counts is None else counts.astype(np.float64)
    matrix = sp.csr_matrix((data, tgt.astype(np.int64), indptr), shape=(n, n))
    conn = Connectivity(matrix, n_exc)
    initial = {name: initial[name] for name in STATE_VARIABLES}
    return config, conn, initial, meta
