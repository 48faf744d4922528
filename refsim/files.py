"""Reading ``.npz`` files written elsewhere: never executes code, turns every failure into a
:class:`~refsim.ConfigError` naming the file and what is wrong with it."""

from __future__ import annotations

import os
import zipfile
import zlib

import numpy as np

from .params import ConfigError

__all__ = ["read_npz", "check_array"]

# What a corrupted, truncated or hostile file can make zipfile/numpy raise while reading.
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, OverflowError, MemoryError,
                zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, SyntaxError)


def read_npz(path, what: str) -> dict[str, np.ndarray]:
    """All arrays of the ``.npz`` archive ``path``, read with ``allow_pickle=False``.

    Before reading, the archive's directory is checked: it must list as many entries as its
    end record counts (a damaged directory can otherwise hide arrays), every member must be
    an ``.npy`` array, and their uncompressed sizes together must fit in the available memory
    (a small compressed file cannot claim gigabytes). Object (pickled) arrays are refused
    unread; CRCs are checked as the arrays are read.

    Parameters
    ----------
    path : str or os.PathLike
    what : str
        What the file is meant to hold, for the messages (e.g. ``'connectivity file'``).

    Raises
    ------
    ConfigError
        The file is missing, not an ``.npz`` archive, truncated or corrupted (bad CRC,
        broken compression, malformed array header), holds pickled objects or is too large.
    """
    try:
        label = f"{what} {os.fspath(path)!r}"
    except TypeError:
        raise ConfigError(f"{what} = {path!r}: allowed a path (str or os.PathLike)") from None
    try:
        with zipfile.ZipFile(path) as zf:
            infos, comment = zf.infolist(), zf.comment
        listed = _listed_entries(path) if not comment else None
        if listed is not None and listed != len(infos):
            # e.g. a damaged comment length in the directory swallowed the entries after it
            raise ConfigError(f"{label}: its directory lists {listed} arrays but {len(infos)} "
                              "can be read: allowed an undamaged archive")
        names = [i.filename for i in infos]
        odd = [n for n in names if not n.endswith(".npy")]
        if odd:
            raise ConfigError(f"{label}: members {odd[:5]}: allowed only .npy arrays (an .npz "
                              "archive as numpy.savez writes it)")
        from .resources import available_memory, format_bytes
        size, avail = sum(i.file_size for i in infos), available_memory()
        if avail is not None and size > avail:
            raise ConfigError(f"{label}: arrays of {format_bytes(size)}: allowed at most the "
                              f"{format_bytes(avail)} of memory available")
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ConfigError:
        raise
    except _READ_ERRORS as e:
        reason = f"{type(e).__name__}: {e}"
        if "allow_pickle" in str(e):
            reason = "holds pickled Python objects, which are never loaded (allow_pickle=False)"
        raise ConfigError(f"{label}: cannot be read as .npz ({reason})") from None


def _listed_entries(path) -> int | None:
    """The entry count of the end-of-central-directory record (the last 22 bytes of an
    archive without a comment), or None when it is not there or says 'see ZIP64'."""
    with open(path, "rb") as f:
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
    """
    ok = {"int": np.issubdtype(a.dtype, np.integer),
          "float": np.issubdtype(a.dtype, np.floating),
          "real": np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)}[kind]
    if not ok:
        allowed = {"int": "an integer type", "float": "a floating-point type",
                   "real": "an integer or floating-point type"}[kind]
        raise ConfigError(f"{label} dtype = {a.dtype}: allowed {allowed}")
    if shape is not None and (a.ndim != len(shape) or any(
            want is not None and have != want for have, want in zip(a.shape, shape))):
        want = "(" + ", ".join("any" if w is None else str(w) for w in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ConfigError(f"{label} shape = {a.shape}: allowed {want}")
    if a.size:
        if finite and not np.isfinite(a).all():
            raise ConfigError(f"{label}: {int(np.count_nonzero(~np.isfinite(a)))} NaN or "
                              "infinite values: allowed finite values only")
        if low is not None and a.min() < low or high is not None and a.max() > high:
            raise ConfigError(f"{label} values {a.min()} .. {a.max()}: allowed {low} .. {high}")
    return a
