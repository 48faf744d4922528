"""refsim's own files: a run's ``spikes.npz`` (``SimulationResult.save``) and the exchange
``.npz`` of ``t_ms``, ``i`` and a JSON ``meta``.

Conventions
    * ids 0-based, E first (0 .. n_exc-1);
    * times in ms, the start of the step in which the spike was emitted (``k dt``);
    * the exchange file's optional ``meta`` (a JSON object) states ``n_neurons``, ``n_exc``,
      ``duration_ms`` and ``dt_ms`` (``validation/peers/*_run.py`` write it).

Producing the exchange file from any simulator::

    np.savez("spikes.npz", t_ms=times_ms, i=neuron_ids,
             meta=json.dumps({"n_neurons": 4000, "n_exc": 3200, "duration_ms": 1000.0}))
"""

from __future__ import annotations

import json

import numpy as np

from ..io import read_npz, write_npz
from ..params import ConfigError
from ..result import SimulationResult
from .common import RawSpikes

__all__ = ["read_exchange", "read_result", "write_exchange", "META_SIZES"]

#: The sizes an exchange file's ``meta`` may state.
META_SIZES = ("n_neurons", "n_exc", "duration_ms", "dt_ms")


def read_exchange(path, label: str, **_) -> RawSpikes:
    arrays = read_npz(path, "spike file", names=("t_ms", "i", "meta"))
    if not {"t_ms", "i"} <= set(arrays):
        raise ConfigError(f"{label}: arrays {sorted(arrays)}: allowed 't_ms' (ms) and 'i'")
    meta = {}
    if "meta" in arrays:
        try:
            meta = json.loads(str(arrays["meta"]))
        except ValueError:
            raise ConfigError(f"{label}: 'meta' is not a JSON string") from None
        if not isinstance(meta, dict):
            raise ConfigError(f"{label}: meta = {type(meta).__name__}: allowed a JSON object")
    return RawSpikes(arrays["t_ms"], arrays["i"], sizes={k: meta[k] for k in META_SIZES if k in meta})


def read_result(path, label: str, **_) -> RawSpikes:
    r = SimulationResult.load(path)
    return RawSpikes(r.spike_times, r.spike_neurons,
                     sizes={"n_neurons": r.config.n_neurons, "n_exc": r.config.n_exc,
                            "duration_ms": r.duration_done, "dt_ms": r.config.dt})


def write_exchange(spikes, path, dt_ms=None) -> None:
    meta = {"n_neurons": spikes.n_neurons, "n_exc": spikes.n_exc, "duration_ms": spikes.t_stop_ms}
    if dt_ms is not None:
        meta["dt_ms"] = dt_ms
    write_npz(path, {"t_ms": spikes.times_ms, "i": spikes.neurons.astype(np.int32),
                     "meta": np.array(json.dumps(meta))})
