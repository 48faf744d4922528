"""NWB (Neurodata Without Borders) units tables, through pynwb (optional: ``refsim[nwb]``).

Conventions (NWB 2.x)
    * row k of ``nwbfile.units`` is neuron k (refsim's writer lists all N, silent ones too);
    * ``spike_times`` in **seconds** (the reader multiplies by 1000);
    * an optional ``population`` column of ``'E'``/``'I'`` gives n_exc (E rows first);
    * ``obs_intervals``, when present, give the duration (their latest end).

Producing the file in any simulator (with pynwb)::

    nwb = NWBFile(session_description="COBA", identifier="run-0", session_start_time=now)
    nwb.add_unit_column("population", "E or I")
    for k, train_s in enumerate(trains_s):   # every neuron, E first, times in s
        nwb.add_unit(spike_times=train_s, obs_intervals=[[0.0, 1.0]], population="E" if k < 3200 else "I")
    with NWBHDF5IO("spikes.nwb", "w") as io: io.write(nwb)
"""

from __future__ import annotations

import datetime
import os
import warnings

import numpy as np

from ..io import atomic_write
from ..params import ConfigError
from .common import RawSpikes, open_hdf5, require

__all__ = ["read", "write"]

_PYNWB_ERRORS = (OSError, ValueError, KeyError, TypeError, RuntimeError)


def read(path, label: str, **_) -> RawSpikes:
    pynwb = require("pynwb", f"reading {label}", extra="nwb")
    open_hdf5(path, label).close()   # a regular HDF5 file, whole, before pynwb sees it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pynwb's notes on namespaces cached in the file
            with pynwb.NWBHDF5IO(os.fspath(path), "r") as io:
                units = io.read().units
                if units is None or "spike_times" not in units.colnames:
                    raise ConfigError(f"{label}: no units table with spike_times: allowed an NWB "
                                      "file with units")
                flat = np.asarray(units.spike_times.data[:], np.float64)
                ends = np.asarray(units.spike_times_index.data[:], np.int64)
                cols = set(units.colnames)
                pops = [p.decode() if isinstance(p, bytes) else str(p)
                        for p in units["population"].data[:]] if "population" in cols else None
                obs = None
                if "obs_intervals" in cols:
                    obs = np.asarray(units.obs_intervals.data[:], np.float64)
    except ConfigError:
        raise
    except _PYNWB_ERRORS as e:
        raise ConfigError(f"{label}: cannot be read as NWB ({type(e).__name__}: {e})") from None
    n = ends.size
    if n and (ends[-1] != flat.size or np.any(np.diff(ends) < 0)):
        raise ConfigError(f"{label}: spike_times_index does not index spike_times: a damaged file")
    ids = np.repeat(np.arange(n), np.diff(np.concatenate([[0], ends])))
    sizes = {"n_neurons": n}
    if pops is not None:
        is_e = np.array([p == "E" for p in pops])
        if not set(pops) <= {"E", "I"} or np.any(np.diff(is_e.astype(int)) > 0):
            raise ConfigError(f"{label}: population column {sorted(set(pops))[:4]}: allowed 'E' "
                              "and 'I', E rows first")
        sizes["n_exc"] = int(is_e.sum())
    if obs is not None and obs.size:
        sizes["duration_ms"] = float(obs.max()) * 1000.0
    return RawSpikes(flat * 1000.0, ids, sizes=sizes)


def write(spikes, path, dt_ms=None) -> None:
    """Every neuron as a unit, E first, with ``population`` and ``obs_intervals``."""
    pynwb = require("pynwb", "writing NWB files", extra="nwb")
    require("pynwb.misc", "writing NWB files", extra="nwb")
    nwb = pynwb.NWBFile(session_description="refsim COBA network",
                        identifier=f"refsim-{os.path.basename(os.fspath(path))}",
                        session_start_time=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    hdmf_common = require("hdmf.common", "writing NWB files", extra="nwb")
    n = spikes.n_neurons
    order = np.lexsort((spikes.times_ms, spikes.neurons))
    ends = np.searchsorted(spikes.neurons[order], np.arange(1, n + 1))
    # the whole table at once (pynwb's add_unit takes ~4 ms per unit: 16 s for 4000)
    times = hdmf_common.VectorData(name="spike_times", data=spikes.times_ms[order] / 1000.0,
                                   description="spike times (s)")
    obs = hdmf_common.VectorData(name="obs_intervals", data=np.tile([0.0, spikes.t_stop_ms / 1000.0], (n, 1)),
                                 description="the observation interval (s)")
    pop = hdmf_common.VectorData(name="population", data=np.where(np.arange(n) < spikes.n_exc, "E", "I"),
                                 description="E (excitatory) or I (inhibitory)")
    columns = [times, hdmf_common.VectorIndex(name="spike_times_index", data=ends, target=times), obs,
               hdmf_common.VectorIndex(name="obs_intervals_index", data=np.arange(1, n + 1), target=obs), pop]
    nwb.units = pynwb.misc.Units(name="units", description="refsim neurons, E first", id=np.arange(n),
                                 columns=columns)

    def write_file(tmp):
        with pynwb.NWBHDF5IO(tmp, "w") as io:
            io.write(nwb)

    atomic_write(path, write_file)
