"""BrainPy: the dense spike matrix the tutorial returns, ``(n_steps, N)`` booleans, with dt.

Conventions (BrainPy 2.9, Tutorial 3)
    * row k is the step that starts at ``k dt`` (refsim's step k: the committed BrainPy
      fixture's rows equal refsim's ``spike_steps``, tests/test_brainpy_fixture.py);
    * column j is neuron j of the one ``LIF`` group of 4000 (E first: 0 .. 3199);
    * the ``.npz`` holds ``spikes`` (or the two monitors ``E.spike`` and ``I.spike``, which
      also give n_exc) and ``dt`` (ms). N = the columns; the duration = rows x dt.

Producing the file in BrainPy::

    spikes = brainstate.transform.for_loop(net.update, indices)   # (10000, 4000)
    np.savez("spikes.npz", spikes=np.asarray(spikes, bool), dt=0.1)
"""

from __future__ import annotations

import numpy as np

from ..io import check_array, read_npz, write_npz
from ..params import ConfigError
from .common import RawSpikes

__all__ = ["read", "write"]


def read(path, label: str, **_) -> RawSpikes:
    """The nonzero entries of the matrix as (k dt, column) spikes."""
    arrays = read_npz(path, "BrainPy spike file", shapes={"spikes": (None, None), "E.spike": (None, None),
                                                           "I.spike": (None, None), "dt": ()})
    if "dt" not in arrays:
        raise ConfigError(f"{label}: no 'dt': allowed an .npz with 'spikes' (n_steps x N) and 'dt' (ms)")
    dt = float(check_array(f"{label}: dt", arrays["dt"], "real", (), finite=True, low=0))
    if dt <= 0:
        raise ConfigError(f"{label}: dt = {dt}: allowed a step > 0 ms")
    sizes = {"dt_ms": dt}
    if "spikes" in arrays:
        m = arrays["spikes"]
    elif {"E.spike", "I.spike"} <= set(arrays):
        e, i = arrays["E.spike"], arrays["I.spike"]
        if e.shape[0] != i.shape[0]:
            raise ConfigError(f"{label}: E.spike and I.spike of {e.shape[0]} and {i.shape[0]} "
                              "steps: allowed the same number")
        m, sizes["n_exc"] = np.concatenate([e, i], axis=1), e.shape[1]
    else:
        raise ConfigError(f"{label}: arrays {sorted(arrays)}: allowed 'spikes' (or 'E.spike' and "
                          "'I.spike') and 'dt'")
    if m.dtype != np.bool_ and not (np.issubdtype(m.dtype, np.number) and np.isin(m, (0, 1)).all()):
        raise ConfigError(f"{label}: spike matrix of dtype {m.dtype} with values other than 0 and "
                          "1: allowed booleans")
    steps, neurons = np.nonzero(m)   # row-major: by step, then by neuron
    sizes.update(n_neurons=m.shape[1], duration_ms=m.shape[0] * dt)
    return RawSpikes(steps * dt, neurons, sizes=sizes)


def write(spikes, path, dt_ms: float) -> None:
    """The matrix of ``round(t_stop / dt)`` rows, with ``dt``; times must be on the grid."""
    n_steps = int(round(spikes.t_stop_ms / dt_ms))
    k = np.rint(spikes.times_ms / dt_ms).astype(np.int64)
    if np.any(np.abs(spikes.times_ms / dt_ms - k) > 1e-6):
        raise ConfigError(f"dt_ms = {dt_ms}: allowed the step of the spikes (their times are not "
                          "on its grid)")
    m = np.zeros((n_steps, spikes.n_neurons), bool)
    keep = k < n_steps
    m[k[keep], spikes.neurons[keep]] = True
    write_npz(path, {"spikes": m, "dt": np.float64(dt_ms)})
