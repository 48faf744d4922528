"""Brian2's ``SpikeMonitor``: ``i`` and ``t`` (seconds), saved as ``.npz`` or ``.csv``.

Conventions (Brian2 2.x)
    * ids: ``i``, 0-based indices into the monitored ``NeuronGroup`` (refsim's neuron order when
      the group is E then I, as in refsim's export);
    * times: ``t`` in **seconds** (``mon.t[:] / second``, or ``get_states(units=False)``), the
      clock's time at the start of the step whose threshold test fired: refsim's convention;
      the reader multiplies by 1000.
    * ``.csv``: a header line naming ``i`` and ``t`` (any order, more columns ignored).

Producing the files in Brian2::

    G = NeuronGroup(4000, eqs, threshold="v > -50*mV", reset=..., refractory=5*ms)
    mon = SpikeMonitor(G)
    run(1 * second)
    np.savez("spikes.npz", **mon.get_states(["i", "t"], units=False))
    mon.get_states(["i", "t"], units=False, format="pandas").to_csv("spikes.csv", index=False)
"""

from __future__ import annotations

import os

import numpy as np

from ..io import atomic_write, open_regular, read_npz, write_npz
from ..params import ConfigError
from .common import RawSpikes, is_npz

__all__ = ["read", "write", "looks_like_csv"]


def looks_like_csv(path) -> bool:
    """True for a text file whose first line names the columns ``i`` and ``t``."""
    try:
        with open_regular(path, "") as f:
            head = f.readline(200).decode("ascii").strip().split(",")
    except (ConfigError, OSError, UnicodeDecodeError):
        return False
    return {"i", "t"} <= {h.strip() for h in head}


def read(path, label: str, **_) -> RawSpikes:
    """``i`` (0-based) and ``t`` (s) from an ``.npz`` or a ``.csv`` with a header."""
    if not is_npz(path, label):   # CSV, whatever the extension
        try:
            with open_regular(path, label) as f:
                lines = f.read().decode("ascii").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{label}: cannot be read as text ({e})") from None
        head = [h.strip() for h in lines[0].split(",")] if lines else []
        if "i" not in head or "t" not in head:
            raise ConfigError(f"{label}: header {head}: allowed a CSV whose header names 'i' and "
                              "'t' (seconds), as SpikeMonitor.get_states writes")
        try:
            table = np.loadtxt(lines[1:], delimiter=",", ndmin=2, dtype=np.float64) \
                if len(lines) > 1 else np.zeros((0, len(head)))
        except ValueError as e:
            raise ConfigError(f"{label}: a row that is not {len(head)} numbers ({e})") from None
        if table.shape[1] != len(head):
            raise ConfigError(f"{label}: rows of {table.shape[1]} numbers under a header of "
                              f"{len(head)} columns: allowed one number per column")
        i, t = table[:, head.index("i")], table[:, head.index("t")]
    else:
        arrays = read_npz(path, "Brian2 spike file", names=("i", "t"))
        if not {"i", "t"} <= set(arrays):
            raise ConfigError(f"{label}: arrays {sorted(arrays)}: allowed 'i' and 't' (seconds)")
        i, t = arrays["i"], arrays["t"]
    return RawSpikes(np.asarray(t, np.float64) * 1000.0, i)


def write(spikes, path, dt_ms=None) -> None:
    """``i`` and ``t`` (seconds) as ``.npz``, or ``.csv`` by the extension."""
    t_s = spikes.times_ms / 1000.0
    if os.fspath(path).endswith(".csv"):
        body = "i,t\n" + "".join(f"{i},{t!r}\n" for i, t in zip(spikes.neurons.tolist(), t_s.tolist(),
                                                                 strict=True))
        atomic_write(path, lambda tmp: open(tmp, "w").write(body))
    else:
        write_npz(path, {"i": spikes.neurons.astype(np.int32), "t": t_s})
