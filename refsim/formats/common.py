"""What every spike reader shares: the raw content a reader returns, the checks every file gets
before any statistic sees it, and the guarded access to HDF5 files and optional packages.

A reader (one module per simulator) turns a file into a :class:`RawSpikes`: times in ms in the
simulator's own convention, ids as the file numbers them, and whatever sizes the file states.
:func:`finish` then does the rest, the same way for every format: maps ids to refsim's
neurons 0 .. N-1, shifts end-of-step stamps to refsim's step-start times, snaps times on the
step grid to refsim's exact step times, and refuses (:class:`~refsim.ConfigError`) negative
times, ids out of range, duplicate spikes and times that look like another unit.
"""

from __future__ import annotations

import importlib
import math
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..analysis import SpikeTrains
from ..io import open_regular
from ..params import INDEX_LIMIT, ConfigError, ConfigWarning
from ..resources import available_memory, check_memory, format_bytes

__all__ = ["RawSpikes", "finish", "checked_size", "require", "open_hdf5", "read_dataset",
           "GRID_TOLERANCE"]

#: Times within this fraction of a step of the grid k * dt are snapped to refsim's step time
#: ``k * dt`` (float64, one rounding): a round trip through seconds or a 3-decimal text file is
#: then exact.
GRID_TOLERANCE = 1e-6


@dataclass
class RawSpikes:
    """A spike file's content as its simulator wrote it (returned by each format's reader).

    Attributes
    ----------
    times_ms : ndarray of float64
        Spike times, ms, in the file's convention.
    ids : ndarray of int64
        The file's neuron ids (0- or 1-based, per :attr:`first_id`).
    first_id : int
        The id of refsim's neuron 0 when the file numbers neurons contiguously (NEST: 1).
    end_of_step : bool
        The times stamp the end of the step in which the spike was emitted (NEST), not its start
        (refsim, Brian2, BrainPy, GeNN); :func:`finish` subtracts dt.
    sizes : dict
        ``n_neurons``, ``n_exc``, ``duration_ms``, ``dt_ms`` where the file states them.
    step_offsets : ndarray of float64, optional
        When given, :attr:`times_ms` holds stamps in steps, and a time is
        ``stamp * dt - offset`` ms (NEST's ``time_in_steps``).
    """

    times_ms: np.ndarray
    ids: np.ndarray
    first_id: int = 0
    end_of_step: bool = False
    sizes: dict = field(default_factory=dict)
    step_offsets: np.ndarray | None = None


def checked_size(source: str, value, what: str):
    """A size (an int >= 0, no bool, no fraction) or a time (a finite number > 0 ms) read
    from a spike file or given; ConfigError naming ``source`` otherwise.

    Examples
    --------
    >>> from refsim.formats.common import checked_size
    >>> checked_size("n_exc", 3200, "int"), checked_size("dt_ms", 0.1, "time")
    (3200, 0.1)
    >>> checked_size("n_exc", 2.5, "int")
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: n_exc = 2.5: allowed an int >= 0
    """
    if what == "int":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(f"{source} = {value!r}: allowed an int >= 0")
        return int(value)
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating))
            or not math.isfinite(value) or value <= 0):
        raise ConfigError(f"{source} = {value!r}: allowed a finite time > 0 ms")
    return float(value)


_SIZES = (("n_neurons", "int", "n_neurons"), ("n_exc", "int", "n_exc"),
          ("duration_ms", "time", "t_stop_ms"))


def _resolve(label: str, raw: RawSpikes, given: dict, fallback: dict | None, fmt: str):
    """n_neurons, n_exc, t_stop_ms and dt_ms: given > stated by the file > fallback."""
    out = {}
    for key, what, arg in (*_SIZES, ("dt_ms", "time", "dt_ms")):
        if given.get(arg) is not None:
            out[arg] = checked_size(arg, given[arg], what)
        elif key in raw.sizes:
            out[arg] = checked_size(f"{label}: {key}", raw.sizes[key], what)
        elif key in (fallback or {}):
            out[arg] = checked_size(f"{arg} (default)", fallback[key], what)
        elif arg != "dt_ms":
            raise ConfigError(f"{arg}: required for {label} (the {fmt} format does not state it); "
                              "give it explicitly")
    return out


def finish(label: str, fmt: str, raw: RawSpikes, *, n_neurons=None, n_exc=None, t_stop_ms=None,
           dt_ms=None, node_ids=None, fallback=None) -> SpikeTrains:
    """The checked :class:`~refsim.analysis.SpikeTrains` of a reader's ``raw`` content.

    In this order: the sizes (arguments, else the file's, else ``fallback``); ids mapped to
    0 .. N-1 (through ``node_ids``, the file's id of each refsim neuron in order, else
    ``id - raw.first_id``); end-of-step stamps shifted by -dt to the step's start (refsim's
    convention, which needs dt); times on the step grid (within :data:`GRID_TOLERANCE` of a
    step) snapped to refsim's step times ``k * dt``; then the checks.

    Raises
    ------
    ConfigError
        A missing size, an end-of-step format without dt, ids that are no neuron, negative or
        non-finite times, a (neuron, time) pair twice, or times that look like seconds (all
        below 1/1000 of the observation) or like another unit (all after its end).
    """
    sizes = _resolve(label, raw, {"n_neurons": n_neurons, "n_exc": n_exc, "t_stop_ms": t_stop_ms,
                                  "dt_ms": dt_ms}, fallback, fmt)
    n, t_stop, dt = sizes["n_neurons"], sizes["t_stop_ms"], sizes.get("dt_ms")
    if n > INDEX_LIMIT:
        raise ConfigError(f"{label}: n_neurons = {n}: allowed at most 2**31 - 1")
    # the statistics allocate a few arrays per neuron and per 1 ms bin
    need = {"per-neuron arrays": 64 * n, "1 ms bins": 64 * math.ceil(t_stop)}
    check_memory({**need, "total": sum(need.values())}, f"the statistics of {label}",
                 "check its n_neurons and duration (ms)")
    t, ids = np.asarray(raw.times_ms), np.asarray(raw.ids)
    if t.dtype.kind not in "iuf":
        raise ConfigError(f"{label}: spike times of dtype {t.dtype}: allowed real numbers (ms)")
    t = t.astype(np.float64)
    if t.shape != ids.shape or t.ndim != 1:
        raise ConfigError(f"{label}: {t.size} spike times but {ids.size} ids: allowed one id per time")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        if not np.issubdtype(ids.dtype, np.floating) or np.any(ids != np.round(ids)) \
                or not np.all(np.abs(ids) < 2.0**53):
            raise ConfigError(f"{label}: neuron ids of dtype {ids.dtype} (first {ids.flat[0].item()!r}): "
                              "allowed integers")
    ids = ids.astype(np.int64)
    neurons = _map_ids(label, ids, raw.first_id, node_ids, n)
    if t.size and not np.all(np.isfinite(t)):
        raise ConfigError(f"{label}: {int(np.count_nonzero(~np.isfinite(t)))} spike times are NaN "
                          "or infinite: allowed finite times (ms)")
    if raw.step_offsets is not None:
        if dt is None:
            raise ConfigError(f"dt_ms: required for {label}: its times are in steps")
        t = t * dt - raw.step_offsets
    if raw.end_of_step:
        if dt is None:
            raise ConfigError(f"dt_ms: required for {label}: {fmt} stamps a spike with the end of "
                              "its step, and refsim labels the step by its start (t - dt)")
        t = t - dt
    if dt is not None and t.size:
        k = np.rint(t / dt)
        if np.all(np.abs(t / dt - k) < GRID_TOLERANCE):
            t = k * dt   # refsim's step times (SimulationResult.spike_times): bit for bit
    if t.size and t.min() < 0:
        raise ConfigError(f"{label}: {int(np.count_nonzero(t < 0))} negative spike times (first "
                          f"{t.min():g} ms{' after the end-of-step shift' if raw.end_of_step else ''}): "
                          "allowed times >= 0 ms")
    _refuse_duplicates(label, t, neurons)
    _refuse_other_units(label, t, t_stop)
    order = np.lexsort((neurons, t))   # refsim's order: by time, then by neuron
    return SpikeTrains(t[order], neurons[order], n, sizes["n_exc"], t_stop)


def _map_ids(label, ids, first_id, node_ids, n):
    if node_ids is None:
        neurons = ids - first_id
        bad = (neurons < 0) | (neurons >= n)
        if np.any(bad):
            raise ConfigError(f"{label}: {int(np.count_nonzero(bad))} spikes of ids outside "
                              f"{first_id} .. {first_id + n - 1} (first: {ids[bad][0]}; ids here "
                              f"{ids.min()} .. {ids.max()}): allowed the N = {n} neurons' ids (give "
                              "node_ids, the file's id of each neuron, when they are not contiguous)")
        return neurons
    node_ids = np.asarray(node_ids)
    if node_ids.shape != (n,) or not np.issubdtype(node_ids.dtype, np.integer):
        raise ConfigError(f"node_ids shape = {node_ids.shape}, dtype {node_ids.dtype}: allowed N = "
                          f"{n} integer ids, one per neuron")
    order = np.argsort(node_ids, kind="stable")
    sorted_ids = node_ids[order]
    if n > 1 and np.any(np.diff(sorted_ids) == 0):
        raise ConfigError("node_ids: allowed distinct ids")
    pos = np.clip(np.searchsorted(sorted_ids, ids), 0, max(n - 1, 0))
    bad = sorted_ids[pos] != ids if n else np.ones(ids.size, bool)
    if np.any(bad):
        raise ConfigError(f"{label}: {int(np.count_nonzero(bad))} spikes of ids not in node_ids "
                          f"(first: {ids[bad][0]}): allowed the ids node_ids lists")
    return order[pos]


def _refuse_duplicates(label, t, neurons):
    if t.size < 2:
        return
    order = np.lexsort((t, neurons))
    same = (np.diff(neurons[order]) == 0) & (np.diff(t[order]) == 0)
    if np.any(same):
        k = order[np.flatnonzero(same)[0]]
        raise ConfigError(f"{label}: neuron {neurons[k]} spikes twice at {t[k]:g} ms "
                          f"({int(np.count_nonzero(same))} such duplicates): allowed each "
                          "(neuron, time) once (a file read or merged twice?)")


def _refuse_other_units(label, t, t_stop):
    if t.size >= 10 and t.max() < t_stop / 1000:
        raise ConfigError(f"{label}: every spike time is below {t_stop / 1000:g}, 1/1000 of the "
                          f"observation ({t_stop:g} ms): these look like seconds where ms are "
                          "expected (multiply by 1000, or give the format that stores seconds)")
    late = int(np.count_nonzero(t >= t_stop))
    if t.size >= 10 and late == t.size:
        raise ConfigError(f"{label}: every spike time is at or after the end of the observation "
                          f"({t_stop:g} ms; first {t.min():g}): these look like another unit than "
                          "ms, or the duration is wrong")
    if late and late >= 0.01 * t.size:
        warnings.warn(f"{label}: {late} of {t.size} spike times are at or after the end of the "
                      f"observation ({t_stop:g} ms) and are ignored: check that the times are in "
                      "ms and the duration is right", ConfigWarning, stacklevel=4)


# -- optional packages -------------------------------------------------------------------

def require(module: str, what: str, extra: str = "formats"):
    """Import the optional package ``module``, or raise one ConfigError naming the extra that
    installs it.

    Examples
    --------
    >>> from refsim.formats.common import require
    >>> require("no_such_package", "reading NWB files")
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: reading NWB files needs no_such_package: pip install 'refsim[formats]'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"{what} needs {module}: pip install 'refsim[{extra}]'") from None


# -- HDF5 ---------------------------------------------------------------------------------

#: The first 8 bytes of every HDF5 file (a user block, rarely used, would move them).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: The most bytes one stored byte of a compressed HDF5 dataset may expand to (gzip's limit
#: is about 1032:1); a dataset declaring more is refused unread, as :func:`refsim.io.read_npz`
#: refuses a zip member that does.
MAX_EXPANSION = 1032


def is_npz(path, label: str) -> bool:
    """True when the regular file ``path`` starts as a zip archive (an ``.npz``); the readers
    of formats that come as ``.npz`` or as text decide by this, not by the extension."""
    with open_regular(path, label) as f:
        return f.read(2) == b"PK"


def open_hdf5(path, label: str):
    """``path`` opened read-only with h5py (the ``formats`` extra), refused with a
    ConfigError naming ``label`` when it is not a regular file, not HDF5 or truncated."""
    h5py = require("h5py", f"reading {label}")
    try:
        with open_regular(path, label) as f:
            head = f.read(8)
    except OSError as e:
        raise ConfigError(f"{label}: cannot be read ({e.strerror or e})") from None
    if head != HDF5_SIGNATURE:
        raise ConfigError(f"{label}: not an HDF5 file (no HDF5 signature): allowed an HDF5 file")
    try:
        return h5py.File(os.fspath(path), "r")
    except (OSError, ValueError) as e:  # truncated, corrupted superblock
        raise ConfigError(f"{label}: cannot be opened as HDF5 ({e}): a truncated or damaged "
                          "file?") from None


def read_dataset(group, name: str, label: str, kind: str, ndim: int = 1):
    """The dataset ``group[name]`` read into memory after checks that need no data: a hard
    link inside the file (no external or dangling links), a dataset (not a group: no cycle
    is ever followed), ``kind`` ('int', 'float' or 'real') of dtype, ``ndim`` dimensions,
    and a declared size that its stored bytes can hold and memory can take."""
    h5py = require("h5py", f"reading {label}")
    link = group.get(name, getlink=True)
    if link is None:
        raise ConfigError(f"{label}: no dataset {group.name.rstrip('/')}/{name}")
    if not isinstance(link, (h5py.HardLink, h5py.SoftLink)):
        raise ConfigError(f"{label}: {group.name.rstrip('/')}/{name} is a {type(link).__name__}: "
                          "allowed a dataset inside the file")
    try:
        ds = group[name]
    except (KeyError, OSError) as e:
        raise ConfigError(f"{label}: {group.name.rstrip('/')}/{name} cannot be opened ({e})") from None
    where = ds.name
    if not isinstance(ds, h5py.Dataset):
        raise ConfigError(f"{label}: {where} is a {type(ds).__name__}: allowed a dataset")
    dt = ds.dtype
    ok = {"int": dt.kind in "iu", "float": dt.kind == "f", "real": dt.kind in "iuf"}[kind]
    if not ok or ds.ndim != ndim:
        raise ConfigError(f"{label}: {where} dtype {dt}, {ds.ndim}-d: allowed {ndim}-d "
                          f"{'integers' if kind == 'int' else 'real numbers'}")
    nbytes = int(np.prod(ds.shape, dtype=np.float64)) * dt.itemsize
    stored = ds.id.get_storage_size()
    ratio = 1 if ds.compression is None and ds.chunks is None else MAX_EXPANSION
    if nbytes > ratio * stored + 4096:
        raise ConfigError(f"{label}: {where} declares {format_bytes(nbytes)} in "
                          f"{format_bytes(stored)} stored: allowed at most {ratio} bytes per "
                          "stored byte (a damaged or hostile file)")
    avail = available_memory()
    if avail is not None and nbytes > avail:
        raise ConfigError(f"{label}: {where} of {format_bytes(nbytes)}: allowed at most the "
                          f"{format_bytes(avail)} of memory available")
    try:
        return ds[()]
    except (OSError, ValueError) as e:
        raise ConfigError(f"{label}: {where} cannot be read ({e}): a truncated or damaged "
                          "file?") from None
