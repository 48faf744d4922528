"""Files: everything refsim reads from or writes to disk goes through this module.

Reading
    :func:`read_npz` opens an ``.npz`` written elsewhere without ever executing code, and
    :func:`check_array` checks each array it holds; every failure is a
    :class:`~refsim.ConfigError` naming the file and what is wrong with it. The loaders of
    refsim's own formats build on them: :func:`read_result` (``SimulationResult.save``),
    :func:`read_connectivity` (``Connectivity.save`` and fixed-out-degree target arrays),
    :func:`load_initial_state` and :func:`read_network` (the network file for peer
    simulators).
Writing
    :func:`atomic_write` (and :func:`write_text`, :func:`write_npz` on top of it): a file is
    replaced whole or not at all.

This module depends only on :mod:`refsim.params`, :mod:`refsim.resources` and
:mod:`refsim.state`; the data classes
(:class:`~refsim.SimulationResult`, :class:`~refsim.Connectivity`) call it, never the other way
round.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
import zipfile
import zlib

import numpy as np
import scipy.sparse as sp

from .model import Constants
from .params import INDEX_LIMIT, Config, ConfigError
from .resources import available_memory, format_bytes
from .state import STATE_FIELDS, STATE_VARIABLES

__all__ = ["read_npz", "open_regular", "check_array", "atomic_write", "write_text", "write_npz",
           "read_result", "read_connectivity", "load_initial_state", "write_network",
           "read_network", "RESULT_FORMAT", "NETWORK_FORMAT", "STOP_REASONS"]

#: The ``format`` field of a result file's metadata.
RESULT_FORMAT = "refsim.SimulationResult/1"
#: The ``format`` field of the network file for peer simulators (:func:`write_network`).
NETWORK_FORMAT = "refsim-peer-network/1"
#: Why a run stopped before its last step (``SimulationResult.stop_reason``).
STOP_REASONS = ("interrupted", "non-finite", "runaway")

# What a corrupted, truncated or hostile file can make zipfile/numpy raise while reading.
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, OverflowError, MemoryError,
                zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, SyntaxError)


def read_npz(path, what: str, shapes=None, names=None) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` archive ``path``, read with ``allow_pickle=False``.

    Nothing but a regular file is opened for reading (a FIFO would block forever, a device
    such as ``/dev/zero`` would be read without end), and nothing is allocated before it is
    known to fit. The archive's directory is checked first: it must list as many entries as
    its end record counts (a damaged directory can otherwise hide arrays) and every member
    must be an ``.npy`` array. Then each array's header is read: no object (pickled) arrays,
    a shape that ``shapes`` allows, and data that the member's compressed bytes can hold
    (at most :data:`MAX_DEFLATE_RATIO` times as many bytes; as many for a stored member) and
    that fits in the available memory. Only then are the arrays read; CRCs are checked as
    they are.

    Parameters
    ----------
    path : str or os.PathLike
    what : str
        What the file is meant to hold, for the messages (e.g. ``'connectivity file'``).
    shapes : mapping of str to tuple, optional
        The shape each named array may have, checked from its header before its data is
        read. Each entry is an int (that length), ``None`` (any length) or a ``range`` (a
        length in it).
    names : collection of str, optional
        Read only these arrays (those present); default all.

    Returns
    -------
    dict of str to ndarray
        Every array asked for, read into memory.

    Raises
    ------
    ConfigError
        The path is missing or not a regular file; the file is not an ``.npz`` archive, is
        truncated or corrupted (bad CRC, broken compression, malformed array header), holds
        pickled objects, has an array of a shape ``shapes`` does not allow, or is too large.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from refsim.io import read_npz
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(path, x=np.arange(3))
    >>> read_npz(path, "test file")
    {'x': array([0, 1, 2])}
    >>> read_npz(path, "test file", shapes={"x": (range(0, 3),)})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: test file '...a.npz': x shape = (3,) (from its header): allowed (0 .. 2,)
    >>> read_npz("/dev/zero", "test file")
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: test file '/dev/zero': a character device: allowed a regular file
    """
    try:
        label = f"{what} {os.fspath(path)!r}"
    except TypeError:
        raise ConfigError(f"{what} = {path!r}: allowed a path (str or os.PathLike)") from None
    try:
        with open_regular(path, label) as f:
            with zipfile.ZipFile(f) as zf:
                infos, comment = zf.infolist(), zf.comment
                listed = _listed_entries(f) if not comment else None
                if listed is not None and listed != len(infos):
                    # e.g. a damaged comment length in the directory swallowed the entries after it
                    raise ConfigError(f"{label}: its directory lists {listed} arrays but "
                                      f"{len(infos)} can be read: allowed an undamaged archive")
                odd = [i.filename for i in infos if not i.filename.endswith(".npy")]
                if odd:
                    raise ConfigError(f"{label}: members {odd[:5]}: allowed only .npy arrays (an "
                                      ".npz archive as numpy.savez writes it)")
                wanted = [i for i in infos if names is None or i.filename[:-4] in names]
                size = sum(_checked_header(zf, i, label, shapes) for i in wanted)
            avail = available_memory()
            if avail is not None and size > avail:
                raise ConfigError(f"{label}: arrays of {format_bytes(size)}: allowed at most the "
                                  f"{format_bytes(avail)} of memory available")
            f.seek(0)
            with np.load(f, allow_pickle=False) as z:
                return {i.filename[:-4]: z[i.filename[:-4]] for i in wanted}
    except ConfigError:
        raise
    except _READ_ERRORS as e:
        reason = f"{type(e).__name__}: {e}"
        if "allow_pickle" in str(e):
            reason = "holds pickled Python objects, which are never loaded (allow_pickle=False)"
        raise ConfigError(f"{label}: cannot be read as .npz ({reason})") from None


#: The most bytes one compressed byte of a deflated zip member can expand to (deflate's
#: limit is 1032:1); a header claiming more data than that is refused unread.
MAX_DEFLATE_RATIO = 1032

_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


def open_regular(path, label: str):
    """``path`` opened for binary reading, refused (ConfigError naming ``label``) unless it is
    a regular file. The file is opened without blocking and checked through its descriptor,
    so a FIFO never blocks and a file swapped after a check is still the one checked.

    Parameters
    ----------
    path : str or os.PathLike
    label : str
        The file as messages name it, e.g. ``"result file 'run.npz'"``.

    Returns
    -------
    file object
        Open for binary reading.

    Raises
    ------
    ConfigError
        A FIFO, device, directory, socket or other non-regular file.
    OSError
        The file cannot be opened (missing, no permission).

    Examples
    --------
    >>> from refsim.io import open_regular
    >>> open_regular("/dev/zero", "test file")
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: test file: a character device: allowed a regular file
    """
    def refuse(mode):
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
        raise ConfigError(f"{label}: {kind}: allowed a regular file")

    mode = os.stat(path).st_mode   # some kinds (sockets) cannot even be opened
    if not stat.S_ISREG(mode):
        refuse(mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode    # what was opened, in case the path changed meanwhile
    if not stat.S_ISREG(mode):
        os.close(fd)
        refuse(mode)
    return os.fdopen(fd, "rb")


def _checked_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, shapes) -> int:
    """Bytes the array of member ``info`` will take, from its ``.npy`` header, after checking
    it against ``shapes`` and against what the member's compressed bytes can hold."""
    name = info.filename[:-4]
    with zf.open(info) as m:
        version = np.lib.format.read_magic(m)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ConfigError(f"{label}: {name}: .npy format version {version}: allowed 1.0 or 2.0")
        shape, _, dtype = read_header(m, max_header_size=10_000)
    if dtype.hasobject:
        raise ConfigError(f"{label}: {name} holds pickled Python objects, which are never "
                          "loaded (allow_pickle=False)")
    want = None if shapes is None else shapes.get(name)
    if want is not None and (len(shape) != len(want) or not all(
            w is None or (have in w if isinstance(w, range) else have == w)
            for have, w in zip(shape, want, strict=False))):
        shown = ", ".join("any" if w is None else f"{w.start} .. {w.stop - 1}"
                          if isinstance(w, range) else str(w) for w in want)
        raise ConfigError(f"{label}: {name} shape = {shape} (from its header): allowed "
                          f"({shown}{',' if len(want) == 1 else ''})")
    nbytes = math.prod(shape) * dtype.itemsize
    ratio = 1 if info.compress_type == zipfile.ZIP_STORED else MAX_DEFLATE_RATIO
    if nbytes > ratio * info.compress_size + 1024:
        raise ConfigError(f"{label}: {name} header claims {format_bytes(nbytes)} of data in "
                          f"{format_bytes(info.compress_size)}: allowed at most {ratio} bytes "
                          "per stored byte (a damaged or hostile file)")
    return nbytes


def _listed_entries(f) -> int | None:
    """The entry count of the end-of-central-directory record (the last 22 bytes of an
    archive without a comment) of the open file ``f``, or None when it is not there or says
    'see ZIP64'."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    if size < 22:
        return None
    f.seek(size - 22)
    tail = f.read(22)
    if tail[:4] != b"PK\x05\x06":
        return None
    count = int.from_bytes(tail[10:12], "little")
    return None if count == 0xFFFF else count


def check_array(label: str, a: np.ndarray, kind: str, shape=None, finite: bool = False,
                low=None, high=None) -> np.ndarray:
    """Check one array read from a file; return it.

    ``kind``: ``'int'`` (signed or unsigned integers), ``'float'`` (floating point) or
    ``'real'`` (either). ``shape``: a tuple whose ``None`` entries match any length.
    ``low``/``high``: inclusive bounds on the values. Raises ConfigError naming ``label``.

    Parameters
    ----------
    label : str
        The file and array, for the message.
    a : ndarray
    kind : {'int', 'float', 'real'}
    shape : tuple of (int or None), optional
    finite : bool
        Refuse NaN and infinite values.
    low, high : scalar, optional
        Inclusive bounds.

    Returns
    -------
    ndarray
        ``a`` itself.

    Raises
    ------
    ConfigError
        The dtype, shape, finiteness or range is not as asked.

    Examples
    --------
    >>> import numpy as np
    >>> from refsim.io import check_array
    >>> check_array("x", np.arange(3), "int", (None,), low=0, high=2)
    array([0, 1, 2])
    >>> check_array("x", np.arange(3), "int", (None,), low=0, high=1)
    Traceback (most recent call last):
    ...
    refsim.params.ConfigError: x values 0 .. 2: allowed 0 .. 1
    """
    ok = {"int": np.issubdtype(a.dtype, np.integer),
          "float": np.issubdtype(a.dtype, np.floating),
          "real": np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)}[kind]
    if not ok:
        allowed = {"int": "an integer type", "float": "a floating-point type",
                   "real": "an integer or floating-point type"}[kind]
        raise ConfigError(f"{label} dtype = {a.dtype}: allowed {allowed}")
    if shape is not None and (a.ndim != len(shape) or any(
            want is not None and have != want for have, want in zip(a.shape, shape, strict=True))):
        want = ("(" + ", ".join("any" if w is None else str(w) for w in shape)
                + ("," if len(shape) == 1 else "") + ")")
        raise ConfigError(f"{label} shape = {a.shape}: allowed {want}")
    if a.size:
        if finite and not np.isfinite(a).all():
            raise ConfigError(f"{label}: {int(np.count_nonzero(~np.isfinite(a)))} NaN or "
                              "infinite values: allowed finite values only")
        if low is not None and a.min() < low or high is not None and a.max() > high:
            allowed = (f"{low} .. {high}" if low is not None and high is not None
                       else f">= {low}" if low is not None else f"<= {high}")
            raise ConfigError(f"{label} values {a.min()} .. {a.max()}: allowed {allowed}")
    return a


# -- writing ----------------------------------------------------------------------------

def atomic_write(path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: an interrupted write leaves no
    corrupt file, only the previous one (or none).

    The temporary file is in the same directory (so the rename is atomic), flushed to disk
    before the rename, removed if anything fails or interrupts (KeyboardInterrupt
    included), and gets the permissions a new file would get (or those of the file it
    replaces).

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace.
    write : callable
        ``write(tmp)`` writes the whole content to the path ``tmp``.

    Raises
    ------
    OutputError
        The file cannot be written (read-only or full disk, a missing directory, ...),
        naming ``path`` (not the temporary file) and the reason.

    Examples
    --------
    >>> import os, tempfile
    >>> from refsim.io import atomic_write
    >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> atomic_write(path, lambda tmp: open(tmp, "w").write("done"))
    >>> open(path).read(), sorted(os.listdir(os.path.dirname(path)))
    ('done', ['a.txt'])
    """
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.splitext(path)[1])
        os.close(fd)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(f"{path}: cannot be written ({e.strerror or e})") from e
    finally:
        if tmp is not None and os.path.lexists(tmp):
            os.remove(tmp)


class OutputError(ConfigError):
    """An output file or directory that cannot be written; the message names the real path
    (never a temporary file) and the reason (read-only, no space left, ...)."""


def _new_file_mode(path) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`).

    Parameters
    ----------
    path : str or os.PathLike
    text : str

    Examples
    --------
    >>> import os, tempfile
    >>> from refsim.io import write_text
    >>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> write_text(path, "done")
    >>> open(path).read()
    'done'
    """
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    atomic_write(path, write)


def write_npz(path, arrays: dict, compressed: bool = True) -> None:
    """Write ``arrays`` as an ``.npz`` archive atomically; any file name works (a file object
    is handed to NumPy, so no ``.npz`` suffix is appended).

    Parameters
    ----------
    path : str or os.PathLike
    arrays : dict of str to array_like
        No object arrays: the file must load with ``allow_pickle=False``.
    compressed : bool
        ``numpy.savez_compressed`` (default) or ``numpy.savez``.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from refsim.io import write_npz
    >>> path = os.path.join(tempfile.mkdtemp(), "arrays.data")     # no .npz is appended
    >>> write_npz(path, {"x": np.arange(3)})
    >>> os.path.basename(path), np.load(path, allow_pickle=False)["x"].tolist()
    ('arrays.data', [0, 1, 2])
    """
    save = np.savez_compressed if compressed else np.savez

    def write(tmp):
        with open(tmp, "wb") as f:
            save(f, **arrays)
    atomic_write(path, write)


# -- result files (SimulationResult.save / load) ----------------------------------------

_META_TYPES = {"format": str, "config": dict, "seed": (int, type(None)), "steps_done": int,
               "complete": bool, "message": str, "engine": str, "wall_time": (int, float),
               "versions": dict, "stop_reason": str, "run_id": str}


def read_result(path) -> dict:
    """The fields of a result file written by :meth:`refsim.SimulationResult.save`, checked.

    Never executes code (``allow_pickle=False``); checks every array's dtype, shape and range
    and every metadata field's type against the stored configuration.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict
        The keyword arguments of :class:`refsim.SimulationResult`.

    Raises
    ------
    ConfigError
        Naming the file and the first thing wrong.

    Examples
    --------
    >>> import os, tempfile, refsim
    >>> from refsim.io import read_result
    >>> path = os.path.join(tempfile.mkdtemp(), "run.npz")
    >>> refsim.simulate(refsim.get_preset("brette2007-coba", n_exc=8, n_inh=2, duration=1.0),
    ...                 seed=0, progress=False).save(path)
    >>> fields = read_result(path)
    >>> fields["steps_done"], fields["complete"], sorted(fields["final_state"])
    (10, True, ['V', 'g_e', 'g_i', 't_last'])
    """
    label = f"result file {os.fspath(path)!r}"
    # the metadata first: it says which shapes the arrays may have, checked from their
    # headers before any of them is read
    head = read_npz(path, "result file", shapes={"meta": (), "record_neurons": (None,)},
                    names=("meta", "record_neurons"))
    meta = _read_meta(label, head.get("meta"))
    try:
        config = Config.from_dict(meta["config"])
    except ConfigError as e:
        raise ConfigError(f"{label}: config: {e}") from None
    n, steps_done = config.n_neurons, meta["steps_done"]
    if not 0 <= steps_done <= config.n_steps:
        raise ConfigError(f"{label}: steps_done = {steps_done}: allowed 0 .. {config.n_steps}")
    if meta["complete"] != (steps_done == config.n_steps and meta["stop_reason"] == ""):
        raise ConfigError(f"{label}: complete = {meta['complete']} with steps_done = "
                          f"{steps_done} of {config.n_steps} and stop_reason = "
                          f"{meta['stop_reason']!r}: allowed complete exactly when all "
                          "steps are done and stop_reason is ''")
    record = check_array(f"{label}: record_neurons",
                         head.get("record_neurons", np.zeros(0, np.int64)), "int", (None,),
                         low=0, high=n - 1)
    max_spikes = range(n * steps_done + 1)  # each neuron at most once per step
    shapes = {"spike_steps": (max_spikes,), "spike_neurons": (max_spikes,),
              **{f"trace_{v}": (steps_done, record.size) for v in STATE_VARIABLES},
              **{f"final_{v}": (n,) for v in STATE_FIELDS}}
    arrays = read_npz(path, "result file", shapes=shapes)
    arrays.pop("meta")
    arrays.pop("record_neurons", None)
    missing = sorted({"spike_steps", "spike_neurons"} - set(arrays))
    if missing:
        raise ConfigError(f"{label}: arrays {missing} missing: allowed a file written by "
                          "SimulationResult.save")
    steps = check_array(f"{label}: spike_steps", arrays.pop("spike_steps"), "int", (None,),
                        low=0, high=steps_done - 1)
    neurons = check_array(f"{label}: spike_neurons", arrays.pop("spike_neurons"), "int",
                          (steps.size,), low=0, high=n - 1)
    _check_spikes(label, steps.astype(np.int64), neurons.astype(np.int64))
    dtype = np.dtype(config.dtype)
    traces, final = {}, {}
    for key, a in arrays.items():
        kind, _, name = key.partition("_")
        if kind == "trace" and name in STATE_VARIABLES and record.size:
            traces[name] = check_array(f"{label}: {key}", a, "float", (steps_done, record.size))
        elif kind == "final" and name in STATE_FIELDS:
            # a kept state is always finite: a run stops before its first non-finite step
            final[name] = check_array(f"{label}: {key}", a, "float", (n,), finite=name != "t_last")
        else:
            raise ConfigError(f"{label}: array {key!r}: allowed spike_steps, spike_neurons, "
                              "record_neurons, meta, trace_<V|g_e|g_i> (with record_neurons), "
                              "final_<V|g_e|g_i|t_last>")
        if a.dtype != dtype:
            raise ConfigError(f"{label}: {key} dtype = {a.dtype}: allowed {dtype} "
                              f"(the run's dtype)")
    if final and set(final) != set(STATE_FIELDS):
        raise ConfigError(f"{label}: final state {sorted(final)}: allowed all of V, g_e, "
                          "g_i, t_last or none")
    if final:
        _check_final_t_last(label, final["t_last"], steps, neurons, steps_done, config)
    return dict(
        spike_steps=steps.astype(np.int64), spike_neurons=neurons.astype(np.int32),
        config=config, seed=meta["seed"], steps_done=steps_done, complete=meta["complete"],
        message=meta["message"], engine=meta["engine"], wall_time=float(meta["wall_time"]),
        traces=traces, record_neurons=record.astype(np.int64), final_state=final,
        versions=meta["versions"], stop_reason=meta["stop_reason"], run_id=meta["run_id"],
    )


def _read_meta(label: str, meta) -> dict:
    """The metadata of a result file: a JSON object with the fields of ``_META_TYPES``."""
    if meta is None or meta.shape != () or meta.dtype.kind != "U":
        raise ConfigError(f"{label}: meta = {None if meta is None else f'{meta.dtype} array {meta.shape}'}: "
                          "allowed a JSON string (a file written by SimulationResult.save)")
    try:
        meta = json.loads(str(meta))
    except ValueError as e:
        raise ConfigError(f"{label}: meta: not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ConfigError(f"{label}: meta = {type(meta).__name__}: allowed a JSON object")
    if meta.get("format") != RESULT_FORMAT:
        raise ConfigError(f"{label}: format = {meta.get('format')!r}: allowed {RESULT_FORMAT!r}")
    # files written before stop_reason existed: an incomplete run was an interrupted one
    meta.setdefault("stop_reason", "" if meta.get("complete") is True else "interrupted")
    meta.setdefault("run_id", "")  # files written before run ids existed
    for key, typ in _META_TYPES.items():
        v = meta.get(key)
        if key not in meta or not isinstance(v, typ) or (isinstance(v, bool) and typ is not bool):
            allowed = " or ".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
            raise ConfigError(f"{label}: meta {key} = {v!r}: allowed a value of type {allowed}")
    if meta["stop_reason"] not in ("", *STOP_REASONS):
        raise ConfigError(f"{label}: stop_reason = {meta['stop_reason']!r}: allowed one of "
                          f"'', {', '.join(map(repr, STOP_REASONS))}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta["versions"].items()):
        raise ConfigError(f"{label}: meta versions: allowed a mapping of str to str")
    if meta["seed"] is not None and meta["seed"] < 0:
        raise ConfigError(f"{label}: seed = {meta['seed']}: allowed a non-negative int or None")
    if not math.isfinite(meta["wall_time"]) or meta["wall_time"] < 0:
        raise ConfigError(f"{label}: wall_time = {meta['wall_time']!r}: allowed a finite number >= 0")
    return meta


def _check_spikes(label: str, steps, neurons) -> None:
    """Spikes a run can have fired: in step order, each (step, neuron) pair once. (Not more:
    with the tutorial's soft reset a neuron may fire on consecutive steps.)"""
    if steps.size > 1 and np.any(np.diff(steps) < 0):
        raise ConfigError(f"{label}: spike_steps: allowed non-decreasing steps")
    order = np.lexsort((neurons, steps))          # by step, then by neuron
    twice = np.flatnonzero((np.diff(steps[order]) == 0) & (np.diff(neurons[order]) == 0))
    if twice.size:
        k = order[twice[0]]
        raise ConfigError(f"{label}: neuron {neurons[k]} spikes twice in step {steps[k]} "
                          f"({twice.size} such pairs): allowed each (step, neuron) pair once")


def _check_final_t_last(label: str, t_last, steps, neurons, steps_done: int, config) -> None:
    """The final ``t_last`` of a result: the step time of each neuron's last recorded spike
    (:meth:`refsim.model.Constants.step_times`), or <= 0 for a neuron that never fired."""
    last = np.full(config.n_neurons, -1, np.int64)
    np.maximum.at(last, neurons.astype(np.int64), steps.astype(np.int64))
    fired = last >= 0
    times = Constants.from_config(config).step_times(steps_done)
    bad = np.flatnonzero(fired)[t_last[fired] != times[last[fired]]]
    silent = np.flatnonzero(~fired & ~(t_last <= 0))
    if bad.size or silent.size:
        i = int(bad[0] if bad.size else silent[0])
        raise ConfigError(f"{label}: final_t_last[{i}] = {t_last[i]!r}: allowed the time of the "
                          "neuron's last spike (its step's time), or <= 0 ms for a neuron that never "
                          f"fired ({bad.size + silent.size} neurons differ)")


# -- connectivity files ------------------------------------------------------------------

def read_connectivity(path, n_neurons: int | None = None, n_exc: int | None = None):
    """The checked content of a connectivity file, for :func:`refsim.load_connectivity`.

    Parameters
    ----------
    path : str or os.PathLike
        A ``scipy.sparse.save_npz`` file (CSR, CSC or COO), or an ``.npz`` with integer arrays
        ``targets_e`` and ``targets_i``.
    n_neurons, n_exc : int, optional
        When known, the shapes these imply (row pointers, rows of the target arrays) are
        checked from the arrays' headers before their data is read.

    Returns
    -------
    label : str
        ``"connectivity file '<path>'"``, for messages.
    kind : {'sparse', 'targets'}
    content : scipy.sparse matrix, or tuple of two ndarray
        The matrix, its arrays checked before SciPy sees them; or ``(targets_e, targets_i)``
        unchecked (:func:`refsim.from_index_arrays` checks them).

    Raises
    ------
    ConfigError
        An unreadable file (:func:`read_npz`), neither format, or a matrix whose format,
        shape, data, indices or pointers are not a valid CSR, CSC or COO matrix.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from refsim.io import read_connectivity
    >>> path = os.path.join(tempfile.mkdtemp(), "targets.npz")
    >>> np.savez(path, targets_e=np.array([[1], [0]]), targets_i=np.zeros((0, 1), int))
    >>> label, kind, (targets_e, targets_i) = read_connectivity(path)
    >>> kind, targets_e.shape, targets_i.shape
    ('targets', (2, 1), (0, 1))
    """
    shapes = {"format": (), "shape": (2,)}
    if n_neurons is not None:
        shapes["indptr"] = (n_neurons + 1,)
        if n_exc is not None:
            shapes.update(targets_e=(n_exc, None), targets_i=(n_neurons - n_exc, None))
    arrays = read_npz(path, "connectivity file", shapes=shapes)
    label = f"connectivity file {os.fspath(path)!r}"
    keys = set(arrays)
    if {"targets_e", "targets_i"} <= keys:
        return label, "targets", (arrays["targets_e"], arrays["targets_i"])
    if not ({"indices", "indptr", "format", "shape", "data"} <= keys
            or {"row", "col", "format", "shape", "data"} <= keys):
        raise ConfigError(f"{label}: arrays {sorted(keys)}: allowed a scipy.sparse save_npz "
                          "file or an .npz with 'targets_e' and 'targets_i'")
    fmt = arrays["format"]
    fmt = fmt.item() if fmt.shape == () and fmt.dtype.kind in "SU" else None
    fmt = fmt.decode("ascii", "replace") if isinstance(fmt, bytes) else fmt
    if fmt not in ("csr", "csc", "coo"):
        raise ConfigError(f"{label}: format = {fmt!r}: allowed 'csr', 'csc' or 'coo' "
                          "(convert with .tocsr() before save_npz)")
    shape = check_array(f"{label}: shape", arrays["shape"], "int", (2,), low=0, high=INDEX_LIMIT)
    rows, cols = (int(x) for x in shape)
    data = check_array(f"{label}: data", arrays["data"], "real", (None,), finite=True)
    nnz = data.size
    if fmt == "coo":
        row = check_array(f"{label}: row", arrays["row"], "int", (nnz,), low=0, high=rows - 1)
        col = check_array(f"{label}: col", arrays["col"], "int", (nnz,), low=0, high=cols - 1)
        return label, "sparse", sp.coo_matrix((data, (row, col)), shape=(rows, cols))
    major, minor = (rows, cols) if fmt == "csr" else (cols, rows)
    indptr = check_array(f"{label}: indptr", arrays["indptr"], "int", (major + 1,), low=0, high=nnz)
    indices = check_array(f"{label}: indices", arrays["indices"], "int", (nnz,), low=0, high=minor - 1)
    if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr) < 0):
        raise ConfigError(f"{label}: indptr: allowed non-decreasing from 0 to len(data) = {nnz}")
    make = sp.csr_matrix if fmt == "csr" else sp.csc_matrix
    return label, "sparse", make((data, indices, indptr), shape=(rows, cols))


# -- initial-state files -----------------------------------------------------------------

def load_initial_state(path, n_neurons: int | None = None) -> dict[str, np.ndarray]:
    """Read an ``.npz`` whose arrays are named after state variables (``V``; optionally
    ``g_e``, ``g_i``, ``t_last``), with ``allow_pickle=False``.

    Parameters
    ----------
    path : str or os.PathLike
    n_neurons : int, optional
        The required length of every array.

    Returns
    -------
    dict of str to ndarray
        The arrays as stored (``simulate(initial=...)`` converts them to the run's float type).

    Raises
    ------
    ConfigError
        Naming the file and what is wrong: unreadable, corrupted, truncated or pickled files,
        unknown array names, arrays that are not one-dimensional, not real numbers, not finite
        or not of length ``n_neurons``, or a ``t_last`` after the start (> 0 ms).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from refsim.io import load_initial_state
    >>> path = os.path.join(tempfile.mkdtemp(), "init.npz")
    >>> np.savez(path, V=np.full(10, -60.0))
    >>> {name: a.shape for name, a in load_initial_state(path, n_neurons=10).items()}
    {'V': (10,)}
    """
    arrays = read_npz(path, "initial-state file",
                      shapes=None if n_neurons is None else dict.fromkeys(STATE_FIELDS, (n_neurons,)))
    label = f"initial-state file {os.fspath(path)!r}"
    unknown = sorted(set(arrays) - set(STATE_FIELDS))
    if unknown or "V" not in arrays:
        raise ConfigError(f"{label}: arrays {sorted(arrays)}: allowed 'V' and optionally "
                          "'g_e', 'g_i', 't_last'")
    for name, a in arrays.items():
        # the state at t = 0: no neuron can have spiked later (t_last <= 0 ms)
        check_array(f"{label}: {name}", a, "real", (n_neurons,), finite=True,
                    high=0 if name == "t_last" else None)
    return arrays


# -- the network file for peer simulators ------------------------------------------------

def write_network(path, config: Config, connectivity, initial: dict, meta: dict) -> None:
    """Write the exact network of a run as one ``.npz`` of plain arrays, for simulators that
    do not import refsim (``refsim export --to npz``; the format is :data:`NETWORK_FORMAT`;
    SONATA is :func:`refsim.formats.write_sonata_network`).

    ============ ========= ===================================================================
    array        dtype     content
    ============ ========= ===================================================================
    config       str (0-d) ``json.dumps(Config.to_dict())``: every model and run parameter
    meta         str (0-d) JSON: ``meta`` plus ``format``, ``n_neurons``, ``n_entries``, ``n_synapses``
    indptr       int64     CSR row pointers, N + 1 (rows = presynaptic neurons)
    indices      int32     CSR column indices (postsynaptic neurons), duplicates kept in order
    counts       int32     synapses per stored entry (1 for every entry the built-in rules make)
    n_exc        int64     0-d; rows 0 .. n_exc-1 are excitatory, the rest inhibitory
    V, g_e, g_i  float64   initial state, shape (N,), in the config's float type widened
    ============ ========= ===================================================================

    Parameters
    ----------
    path : str or os.PathLike
    config : Config
    connectivity : Connectivity
    initial : dict of ndarray
        ``V`` (mV), ``g_e``, ``g_i`` ([g]), as :func:`refsim.network_inputs` returns them.
    meta : dict
        JSON-able provenance (preset, seed, overrides).

    Examples
    --------
    >>> import os, tempfile, refsim
    >>> from refsim.io import read_network, write_network
    >>> config = refsim.get_preset("brette2007-coba", n_exc=8, n_inh=2)
    >>> connectivity, initial = refsim.network_inputs(config, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "network.npz")
    >>> write_network(path, config, connectivity, initial, {"preset": "brette2007-coba", "seed": 0})
    >>> net = read_network(path)
    >>> net["meta"]["format"], net["n_exc"], net["V"].shape
    ('refsim-peer-network/1', 8, (10,))
    """
    meta = {**meta, "format": NETWORK_FORMAT, "n_neurons": config.n_neurons,
            "n_entries": int(connectivity.indices.size),
            "n_synapses": int(connectivity.counts.sum())}
    write_npz(path, dict(
        config=np.array(json.dumps(config.to_dict())), meta=np.array(json.dumps(meta)),
        indptr=connectivity.indptr.astype(np.int64),
        indices=connectivity.indices.astype(np.int32),
        counts=connectivity.counts.astype(np.int32),
        n_exc=np.array(connectivity.n_exc, dtype=np.int64),
        **{name: np.asarray(initial[name], np.float64) for name in STATE_VARIABLES}),
        compressed=False)


def read_network(path) -> dict:
    """The arrays of a file written by :func:`write_network`, read without pickles, with
    ``config`` and ``meta`` decoded from JSON and ``n_exc`` as an int.

    (``refsim export --to npz``; the peer runners of ``validation/peers/`` read the SONATA
    export instead, :func:`refsim.formats.read_sonata_network`.)

    Parameters
    ----------
    path : str or os.PathLike
        A file that :func:`write_network` wrote.

    Returns
    -------
    dict
        ``config`` (dict of :class:`~refsim.Config` fields), ``meta`` (dict), ``n_exc`` (int)
        and the arrays ``indptr``, ``indices``, ``counts``, ``V`` (mV), ``g_e``, ``g_i`` ([g])
        as stored (see :func:`write_network`).

    Raises
    ------
    ConfigError
        An unreadable file, missing arrays, ``config`` or ``meta`` that is not JSON, or
        another ``format``.

    Examples
    --------
    See :func:`write_network`.
    """
    net = read_npz(path, "network file")
    label = f"network file {os.fspath(path)!r}"
    missing = sorted({"config", "meta", "indptr", "indices", "counts", "n_exc", *STATE_VARIABLES}
                     - set(net))
    if missing:
        raise ConfigError(f"{label}: arrays {missing} missing: allowed a file written by "
                          "refsim.io.write_network")
    try:
        net["config"] = json.loads(str(net["config"]))
        net["meta"] = json.loads(str(net["meta"]))
    except ValueError as e:
        raise ConfigError(f"{label}: config or meta: not valid JSON ({e})") from None
    if not (isinstance(net["config"], dict) and isinstance(net["meta"], dict)):
        raise ConfigError(f"{label}: config and meta: allowed JSON objects")
    if net["meta"].get("format") != NETWORK_FORMAT:
        raise ConfigError(f"{label}: format = {net['meta'].get('format')!r}: allowed "
                          f"{NETWORK_FORMAT!r}")
    n_exc = check_array(f"{label}: n_exc", net["n_exc"], "int", ())
    indptr = check_array(f"{label}: indptr", net["indptr"], "int", (None,), low=0)
    n = indptr.size - 1
    nnz = int(indptr[-1]) if indptr.size else 0
    if n < 0 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise ConfigError(f"{label}: indptr: allowed non-decreasing from 0, length N + 1")
    check_array(f"{label}: indices", net["indices"], "int", (nnz,), low=0, high=n - 1)
    check_array(f"{label}: counts", net["counts"], "int", (nnz,), low=0)
    for name in STATE_VARIABLES:
        check_array(f"{label}: {name}", net[name], "real", (n,), finite=True)
    if not 0 <= int(n_exc) <= n:
        raise ConfigError(f"{label}: n_exc = {int(n_exc)}: allowed 0 .. N = {n}")
    net["n_exc"] = int(n_exc)
    return net
