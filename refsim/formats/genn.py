"""GeNN: a population's ``spike_recording_data``, ``(times, ids)``, saved as ``.npz``.

Conventions (GeNN 5, PyGeNN)
    * ids: 0-based indices into the neuron population;
    * times: ms, the model time ``t`` of the timestep in which the spike was emitted (the
      step's start, refsim's convention);
    * ``spike_recording_data`` is a list with one ``(times, ids)`` pair per batch: save the one
      of the batch to compare as ``times`` and ``ids``.

Producing the file in PyGeNN::

    pop = model.add_neuron_population("coba", 4000, lif_model, params, init)
    pop.spike_recording_enabled = True
    model.build(); model.load(num_recording_timesteps=10000)
    while model.timestep < 10000: model.step_time()
    model.pull_recording_buffers_from_device()
    times, ids = pop.spike_recording_data[0]; np.savez("spikes.npz", times=times, ids=ids)
"""

from __future__ import annotations

import numpy as np

from ..io import read_npz, write_npz
from ..params import ConfigError
from .common import RawSpikes

__all__ = ["read", "write"]


def read(path, label: str, **_) -> RawSpikes:
    arrays = read_npz(path, "GeNN spike file", names=("times", "ids"))
    if not {"times", "ids"} <= set(arrays):
        raise ConfigError(f"{label}: arrays {sorted(arrays)}: allowed 'times' (ms) and 'ids'")
    return RawSpikes(arrays["times"], arrays["ids"])


def write(spikes, path, dt_ms=None) -> None:
    write_npz(path, {"times": spikes.times_ms, "ids": spikes.neurons.astype(np.uint32)})
