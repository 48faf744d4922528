"""SONATA spike files (HDF5, h5py): ``/spikes/<population>/{timestamps,node_ids}``, and the
legacy ``/spikes/{gids,timestamps}`` layout.

Conventions (SONATA 0.1, as bmtk, PyNN and NEST's ``SonataNetwork`` write them)
    * ids: ``node_ids`` (legacy: ``gids``), 0-based within the population;
    * times: ``timestamps``, ms unless its ``units`` attribute says ``s``; the simulator's own
      stamp (refsim writes the step's start; NEST's output stamps the step's end);
    * ``sorting`` attribute of the population group (legacy: of ``/spikes``): an enum
      ``none``/``by_id``/``by_time`` (uint8 0/1/2; a string is read too, legacy ``by_gid``).
      A file that claims an order its data do not have is refused.
    * one population is read. E and I as two populations (PyNN exports each ``Population``)
      are read with ``population='E,I'``: the second one's ids are offset by n_exc.
    * refsim's writer adds ``n_neurons``, ``n_exc`` and ``duration_ms`` attributes to the
      population group, which its reader uses when present.

Producing the file in a peer simulator::

    # bmtk:   SpikeTrains.from_dataframe(df).to_sonata("spikes.h5")   (df: node_ids, timestamps)
    # PyNN:   pop.write_data(SonataIO(...)) or pyNN.serialization.export_to_sonata(...)
    # NEST:   nest.SonataNetwork(...).Simulate(...) writes output/spikes.h5 per its config
    # Brian2: f = h5py.File("spikes.h5", "w"); g = f.create_group("spikes/coba")
    #         g["timestamps"] = mon.t / ms; g["node_ids"] = np.asarray(mon.i, np.uint64)
"""

from __future__ import annotations

import numpy as np

from ..io import atomic_write
from ..params import ConfigError
from .common import RawSpikes, open_hdf5, read_dataset, require

__all__ = ["read", "write", "SORTING", "POPULATION"]

#: SONATA's ``sorting`` enum (uint8), as the spec and libsonata define it.
SORTING = {"none": 0, "by_id": 1, "by_time": 2}
_SORTING_NAMES = {**{v: k for k, v in SORTING.items()}, "by_gid": "by_id"}
#: The node population refsim writes (spikes and network).
POPULATION = "coba"


def _sorting(attrs, where: str, label: str):
    if "sorting" not in attrs:
        return "none"
    value = attrs["sorting"]
    if isinstance(value, np.ndarray):
        raise ConfigError(f"{label}: {where} sorting of shape {value.shape}: allowed one value "
                          "(none, by_id, by_time)")
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, np.generic):
        value = value.item()
    name = value if value in SORTING else _SORTING_NAMES.get(value)
    if name is None:
        raise ConfigError(f"{label}: {where} sorting = {value!r}: allowed none, by_id, by_time "
                          "(or 0, 1, 2)")
    return name


def _population(f, name: str, label: str):
    h5py = require("h5py", f"reading {label}")
    link = f["spikes"].get(name, getlink=True)
    if not isinstance(link, h5py.HardLink) or not isinstance(f["spikes"][name], h5py.Group):
        raise ConfigError(f"{label}: /spikes/{name}: allowed a group (a population)")
    g = f["spikes"][name]
    t = read_dataset(g, "timestamps", label, "real")
    ids = read_dataset(g, "node_ids", label, "int")
    return g, t, ids, _sorting(g.attrs, f"/spikes/{name}", label), g["timestamps"].attrs.get("units", "ms")


def read(path, label: str, population=None, n_exc=None, **_) -> RawSpikes:
    """The spikes of one population (or of E and I: ``population='E,I'``)."""
    h5py = require("h5py", f"reading {label}")
    with open_hdf5(path, label) as f:
        if not isinstance(f.get("spikes", getlink=True), h5py.HardLink) or \
                not isinstance(f["spikes"], h5py.Group):
            raise ConfigError(f"{label}: no /spikes group: allowed a SONATA spike file")
        sp = f["spikes"]
        parts, sizes = [], {}
        if "timestamps" in sp and ("gids" in sp or "node_ids" in sp):   # legacy, one population
            ids = read_dataset(sp, "gids" if "gids" in sp else "node_ids", label, "int")
            parts.append(("/spikes", read_dataset(sp, "timestamps", label, "real"), ids,
                          _sorting(sp.attrs, "/spikes", label), sp["timestamps"].attrs.get("units", "ms")))
        else:
            names = sorted(sp.keys())
            wanted = names if population is None else [p.strip() for p in str(population).split(",")]
            if not names:
                raise ConfigError(f"{label}: /spikes holds no population")
            if population is None and len(names) > 1:
                raise ConfigError(f"{label}: populations {names} mixed in one file: give "
                                  "population= one of them, or 'E,I' for E then I (ids offset by n_exc)")
            missing = [p for p in wanted if p not in names]
            if missing or len(wanted) > 2 or len(set(wanted)) < len(wanted):
                raise ConfigError(f"{label}: population {population!r}: allowed one of {names}, or "
                                  "two different ones comma-separated, E first")
            for p in wanted:
                g, t, ids, order, units = _population(f, p, label)
                parts.append((f"/spikes/{p}", t, ids, order, units))
                if len(wanted) == 1:
                    sizes = {k: g.attrs[k].item() if isinstance(g.attrs[k], np.generic) else g.attrs[k]
                             for k in ("n_neurons", "n_exc", "duration_ms") if k in g.attrs}
    times, ids = [], []
    for k, (where, t, i, order, units) in enumerate(parts):
        units = units.decode() if isinstance(units, bytes) else str(units)
        if t.shape != i.shape:
            raise ConfigError(f"{label}: {where}: {t.size} timestamps but {i.size} node ids: "
                              "allowed one id per timestamp")
        if units not in ("ms", "s"):
            raise ConfigError(f"{label}: {where}/timestamps units = {units!r}: allowed 'ms' or 's'")
        t = np.asarray(t, np.float64) * (1000.0 if units == "s" else 1.0)
        key = {"by_time": t, "by_id": i}.get(order)
        if key is not None and key.size > 1 and np.any(np.diff(key) < 0):
            raise ConfigError(f"{label}: {where} sorting = {order} but its "
                              f"{'timestamps' if order == 'by_time' else 'node ids'} are not in "
                              "order: a file that says another order than it has")
        if k == 1:
            if n_exc is None:
                raise ConfigError(f"n_exc: required for {label} with two populations (the second "
                                  "one's ids are offset by it)")
            if i.size and parts[0][2].size and parts[0][2].max() >= n_exc:
                raise ConfigError(f"{label}: {parts[0][0]} has node id {parts[0][2].max()}: allowed "
                                  f"0 .. n_exc - 1 = {n_exc - 1} for the first (E) population")
            i = np.asarray(i, np.int64) + n_exc
        times.append(t)
        ids.append(np.asarray(i, np.int64))
    if len(parts) == 2:
        sizes["n_exc"] = n_exc
    t, i = np.concatenate(times), np.concatenate(ids)
    order = np.lexsort((i, t))
    return RawSpikes(t[order], i[order], sizes=sizes)


def write(spikes, path, dt_ms=None, population: str = POPULATION) -> None:
    """One population sorted by time, ``timestamps`` in ms, ``node_ids`` uint64, with the
    SONATA root attributes (``magic`` 0x0A7A, ``version`` 0.1) and refsim's sizes."""
    h5py = require("h5py", "writing SONATA files")
    order = np.lexsort((spikes.neurons, spikes.times_ms))

    def write_file(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs["magic"] = np.uint32(0x0A7A)
            f.attrs["version"] = np.array([0, 1], np.uint32)
            g = f.create_group(f"spikes/{population}")
            g.attrs.create("sorting", SORTING["by_time"], dtype=h5py.enum_dtype(SORTING, basetype="u1"))
            g.attrs["n_neurons"], g.attrs["n_exc"] = spikes.n_neurons, spikes.n_exc
            g.attrs["duration_ms"] = spikes.t_stop_ms
            g.create_dataset("timestamps", data=spikes.times_ms[order]).attrs["units"] = "ms"
            g.create_dataset("node_ids", data=spikes.neurons[order].astype(np.uint64))

    atomic_write(path, write_file)
