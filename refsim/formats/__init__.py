"""Other simulators' files in, refsim's network and spikes out: the standard formats.

Spikes
    :func:`read_spikes` reads any format of :data:`FORMATS` (recognized by content, or forced
    with ``format=``) into :class:`~refsim.analysis.SpikeTrains` in refsim's conventions:
    neurons 0 .. N-1 (E first), times in ms at the *start* of the step that emitted the spike.
    Each format's module states how its simulator numbers neurons and stamps times, and
    :func:`refsim.formats.common.finish` converts and checks every file the same way.
    :func:`write_spikes` writes them back in any format that has a writer; :func:`to_neo` and
    :func:`from_neo` hand them to and from Neo (Elephant).
The network
    :func:`write_sonata_network` writes the exact network of a run (nodes, edges with
    multapses kept, the initial state, the parameters) as SONATA; :func:`read_sonata_network`
    reads it back byte for byte (:mod:`refsim.formats.sonata_network`).
Parameters
    :func:`write_parameters` / :func:`read_parameters`: a Config as JSON, every value with its
    unit (:mod:`refsim.formats.parameters`).

h5py (SONATA) is the ``formats`` extra, pynwb the ``nwb`` extra and neo the ``neo`` extra; each
is imported only when its format is used, and a missing one is one ConfigError naming the extra.

========== ============================== ======= =========== ==========================
format     file                           ids     times       time stamp
========== ============================== ======= =========== ==========================
refsim     a run's ``spikes.npz``         0-based ms          step start
npz        ``t_ms``, ``i``, ``meta``      0-based ms          step start
nest-ascii ``<label>-<id>-<vp>.dat``      1-based ms or steps step end (shifted by -dt)
nest-memory ``senders``, ``times``        1-based ms or steps step end (shifted by -dt)
brian2     ``i``, ``t`` (.npz or .csv)    0-based s           step start
brainpy    ``spikes`` (n_steps, N), dt    column  row x dt    step start
genn       ``times``, ``ids``             0-based ms          step start
sonata     ``/spikes/<pop>/...`` (.h5)    0-based ms (units)  as written
nwb        units table (.nwb)             row     s           as written
========== ============================== ======= =========== ==========================
"""

from __future__ import annotations

import os
import zipfile
from typing import NamedTuple

from ..analysis import SpikeTrains, as_spike_trains
from ..io import open_regular
from ..params import ConfigError
from . import brainpy, brian2, genn, native, nest, nwb, sonata
from .common import checked_size, finish, open_hdf5
from .neo import from_neo, to_neo
from .parameters import read_parameters, write_parameters
from .sonata_network import read_sonata_network, write_sonata_network

__all__ = ["FORMATS", "read_spikes", "write_spikes", "detect_format", "to_neo", "from_neo",
           "write_sonata_network", "read_sonata_network", "write_parameters", "read_parameters"]


class Format(NamedTuple):
    """A spike format: its reader, its writer (None: read only), what it is."""

    read: object
    write: object
    doc: str


#: Every spike format by name.
FORMATS = {
    "refsim": Format(native.read_result, None, "a refsim run's spikes.npz (SimulationResult.save)"),
    "npz": Format(native.read_exchange, native.write_exchange, ".npz of t_ms (ms), i, JSON meta"),
    "nest-ascii": Format(nest.read_ascii, nest.write_ascii, "NEST spike_recorder ASCII .dat files"),
    "nest-memory": Format(nest.read_memory, nest.write_memory, "NEST events (senders, times) .npz/.json"),
    "brian2": Format(brian2.read, brian2.write, "Brian2 SpikeMonitor i, t (s) .npz/.csv"),
    "brainpy": Format(brainpy.read, brainpy.write, "BrainPy spike matrix (n_steps, N) + dt .npz"),
    "genn": Format(genn.read, genn.write, "GeNN spike_recording_data times (ms), ids .npz"),
    "sonata": Format(sonata.read, sonata.write, "SONATA spikes HDF5 .h5"),
    "nwb": Format(nwb.read, nwb.write, "NWB units table .nwb (pynwb)"),
}

# the arrays that tell the .npz formats apart (first match wins: refsim's result first)
_NPZ_KEYS = (("refsim", {"spike_steps", "spike_neurons", "meta"}), ("npz", {"t_ms", "i"}),
             ("nest-memory", {"senders", "times"}), ("brainpy", {"spikes", "dt"}),
             ("brainpy", {"E.spike", "I.spike", "dt"}), ("genn", {"times", "ids"}),
             ("brian2", {"i", "t"}))
_EXTENSIONS = {".h5": "sonata", ".hdf5": "sonata", ".nwb": "nwb", ".dat": "nest-ascii",
               ".json": "nest-memory", ".csv": "brian2", ".npz": "npz"}


def detect_format(path) -> str:
    """The format of the spike file (or NEST directory) ``path``, from its content.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str
        A key of :data:`FORMATS`.

    Raises
    ------
    ConfigError
        A missing or unreadable path, or content no format recognizes.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from refsim.formats import detect_format
    >>> path = os.path.join(tempfile.mkdtemp(), "spikes.npz")
    >>> np.savez(path, i=np.array([0, 1]), t=np.array([0.01, 0.02]))
    >>> detect_format(path)
    'brian2'
    """
    label = f"spike file {os.fspath(path)!r}"
    if not os.path.exists(path):
        raise ConfigError(f"{label}: no such file or directory")
    if os.path.isdir(path):
        if nest.looks_like_ascii(path):
            return "nest-ascii"
        raise ConfigError(f"{label}: a directory: allowed a regular file (or a directory of NEST "
                          "spike_recorder .dat files)")
    with open_regular(path, label) as f:
        head = f.read(16)
        if head.startswith(b"PK"):
            try:
                f.seek(0)
                with zipfile.ZipFile(f) as zf:
                    names = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
            except (zipfile.BadZipFile, OSError, ValueError) as e:
                raise ConfigError(f"{label}: cannot be read as .npz ({e})") from None
            for fmt, keys in _NPZ_KEYS:
                if keys <= names:
                    return fmt
            raise ConfigError(f"{label}: arrays {sorted(names)[:8]}: no spike format has these "
                              f"(allowed: {_npz_hint()})")
    if head.startswith(b"\x89HDF"):
        with open_hdf5(path, label) as h:
            if "spikes" in h:
                return "sonata"
            if "units" in h or "nwb_version" in h.attrs:
                return "nwb"
        raise ConfigError(f"{label}: an HDF5 file with neither /spikes (SONATA) nor /units (NWB)")
    if head.startswith(b"# NEST version"):
        return "nest-ascii"
    if head.lstrip().startswith(b"{"):
        return "nest-memory"
    if brian2.looks_like_csv(path):
        return "brian2"
    by_extension = _EXTENSIONS.get(os.path.splitext(os.fspath(path))[1].lower())
    if by_extension is not None:   # its reader says what is wrong with the content
        return by_extension
    raise ConfigError(f"{label}: not a spike format refsim reads (allowed: {', '.join(FORMATS)}; "
                      "force one with format=)")


def _npz_hint() -> str:
    return "; ".join(f"{fmt}: {', '.join(sorted(keys))}" for fmt, keys in _NPZ_KEYS)


def read_spikes(path, format: str | None = None, *, n_neurons: int | None = None,
                n_exc: int | None = None, t_stop_ms: float | None = None, dt_ms: float | None = None,
                node_ids=None, first_id: int | None = None, population: str | None = None,
                fallback: dict | None = None) -> SpikeTrains:
    """Spikes of any simulator's file, in refsim's conventions, checked.

    Parameters
    ----------
    path : str or os.PathLike
        A spike file, or a directory of NEST ASCII files.
    format : str, optional
        A key of :data:`FORMATS`; default: :func:`detect_format`.
    n_neurons, n_exc : int, optional
        N and the excitatory neurons 0 .. n_exc-1; needed where the file does not state them.
    t_stop_ms : float, optional
        End of the observation (ms); needed likewise.
    dt_ms : float, optional
        The step (ms): needed for NEST (its stamps are the step's end); with it, times on the
        step grid become refsim's exact step times ``k * dt``.
    node_ids : array_like of int, optional
        The file's id of each of refsim's neurons, in order (default: the contiguous range
        from ``first_id``).
    first_id : int, optional
        The file's id of neuron 0 when ids are contiguous (default: the format's, 1 for NEST,
        0 otherwise).
    population : str, optional
        SONATA: the population to read, or ``'E,I'`` for two.
    fallback : dict, optional
        ``n_neurons``, ``n_exc``, ``duration_ms``, ``dt_ms`` used where neither the
        arguments nor the file give them (e.g. the configuration validated against).

    Returns
    -------
    SpikeTrains

    Raises
    ------
    ConfigError
        Unreadable or unrecognized files, missing sizes, and the inconsistencies of
        :func:`refsim.formats.common.finish` (ids out of range, negative times, duplicates,
        times in the wrong unit), each naming the file, before any statistic.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from refsim.formats import read_spikes
    >>> path = os.path.join(tempfile.mkdtemp(), "brian2.npz")
    >>> np.savez(path, i=np.array([3, 0]), t=np.array([0.0015, 0.002]))   # seconds
    >>> s = read_spikes(path, n_neurons=5, n_exc=4, t_stop_ms=10.0, dt_ms=0.1)
    >>> s.times_ms.tolist(), s.neurons.tolist()
    ([1.5, 2.0], [3, 0])
    """
    fmt = detect_format(path) if format is None else format
    if fmt not in FORMATS:
        raise ConfigError(f"format = {fmt!r}: allowed one of {', '.join(FORMATS)}")
    label = f"{fmt} spike file {os.fspath(path)!r}"
    exc = n_exc if n_exc is not None else (fallback or {}).get("n_exc")
    raw = FORMATS[fmt].read(path, label, population=population, n_exc=exc)
    if first_id is not None:
        raw.first_id = checked_size("first_id", first_id, "int")
    return finish(label, fmt, raw, n_neurons=n_neurons, n_exc=n_exc, t_stop_ms=t_stop_ms,
                  dt_ms=dt_ms, node_ids=node_ids, fallback=fallback)


def write_spikes(spikes, path, format: str | None = None, dt_ms: float | None = None) -> str:
    """Write spikes in a format of :data:`FORMATS` that has a writer.

    Parameters
    ----------
    spikes : SpikeTrains or SimulationResult
    path : str or os.PathLike
    format : str, optional
        Default: by the extension (.h5 sonata, .nwb nwb, .dat nest-ascii, .json nest-memory,
        .csv brian2, .npz npz).
    dt_ms : float, optional
        The step (ms); required by nest-ascii, nest-memory (their stamps are the step's end)
        and brainpy (a matrix of steps). Default for a SimulationResult: its dt.

    Returns
    -------
    str
        The format written.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from refsim.analysis import SpikeTrains
    >>> from refsim.formats import read_spikes, write_spikes
    >>> steps = np.array([5, 12])   # spikes in steps 5 and 12 of 0.1 ms
    >>> s = SpikeTrains(steps * 0.1, np.array([1, 0]), n_neurons=2, n_exc=1, t_stop_ms=5.0)
    >>> path = os.path.join(tempfile.mkdtemp(), "spikes.dat")
    >>> write_spikes(s, path, dt_ms=0.1)
    'nest-ascii'
    >>> back = read_spikes(path, n_neurons=2, n_exc=1, t_stop_ms=5.0, dt_ms=0.1)
    >>> open(path).read().splitlines()[2:]   # NEST's stamps: the end of the step, 1-based ids
    ['sender\\ttime_ms', '2\\t0.600', '1\\t1.300']
    >>> back.times_ms.tolist() == s.times_ms.tolist(), back.neurons.tolist()
    (True, [1, 0])
    """
    if dt_ms is None and hasattr(spikes, "config"):
        dt_ms = spikes.config.dt
    spikes = as_spike_trains(spikes)
    fmt = format or _EXTENSIONS.get(os.path.splitext(os.fspath(path))[1].lower())
    if fmt is None:
        raise ConfigError(f"output {os.fspath(path)!r}: give format= (no format for its extension; "
                          f"extensions: {', '.join(_EXTENSIONS)})")
    if fmt not in FORMATS or FORMATS[fmt].write is None:
        writable = [k for k, f in FORMATS.items() if f.write is not None]
        raise ConfigError(f"format = {fmt!r}: allowed one of {', '.join(writable)} for writing")
    if fmt in ("nest-ascii", "nest-memory", "brainpy") and dt_ms is None:
        raise ConfigError(f"dt_ms: required to write {fmt} (NEST stamps the end of the step; "
                          "BrainPy's matrix has one row per step)")
    FORMATS[fmt].write(spikes, path, dt_ms)
    return fmt
