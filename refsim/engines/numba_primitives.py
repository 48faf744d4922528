"""The primitives of :mod:`refsim.elementary` compiled for Numba's CPU target.

Importing this module teaches Numba two things:

* each primitive (``mul``, ``select``, ``trunc``, ``pow2``, ``f32``, ``f64``, ``fma32``) as the
  single machine operation it names, with no call and no branch, so that a loop over neurons
  that uses them vectorizes (``select`` is LLVM's ``select``; ``pow2`` writes the exponent
  field; ``fma32`` is ``llvm.fma.f32``, one ``vfmadd`` on x86-64, a correctly rounded
  ``fmaf`` elsewhere);
* every algorithm of :mod:`refsim.elementary` (:data:`JITTED`) as a function that compiled
  code may call: Numba compiles the very function objects the NumPy oracle calls, so the
  engines share one source and, since each primitive is the same IEEE operation, one result.

Nothing here is compiled with ``fastmath``: no reassociation, no contraction into FMAs, no
flush-to-zero.

It also keys Numba's on-disk cache of refsim's compiled functions to the content of all the
sources compiled into them (:data:`COMPILED_SOURCES`): Numba checks only the file of the
function itself, so an edit of refsim/elementary.py would otherwise leave the engine's cached
machine code stale. And it checks every file of that cache before using it
(:func:`cached_jit`): Numba unpickles its cache files as they are, so a damaged file (flipped
bits, a truncated or overwritten file) crashed every run with ``UnpicklingError``, ``EOFError``
or an LLVM parsing error, and a flipped bit that still parsed would have been run as it
was; two processes compiling different float types at once could also leave an index
entry naming the other's data file. Each file now carries a SHA-256 of its content, and each
data file the index key and source stamp it was written for: a damaged file is compiled again
and rewritten in place (so the next process loads it), with one :class:`NumbaCacheWarning`
per process; a data file written for another key is a plain cache miss.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import pickle
import platform
import warnings

from llvmlite import binding, ir
from numba import njit, types
from numba.core import caching, config
from numba.core.extending import lower_builtin, register_jitable, type_callable

from .. import elementary as el
from ..params import ConfigWarning

__all__ = ["JITTED", "HARDWARE_FMA", "COMPILED_SOURCES", "NumbaCacheWarning", "cached_jit"]


def _float_operands(context, *args):
    """The common float type of ``args`` (float32 only if all are float32), else None."""
    if not all(isinstance(a, types.Float) for a in args):
        return None
    return context.unify_types(*args)


@type_callable(el.mul)
def _type_mul(context):
    return lambda a, b: _float_operands(context, a, b)


@lower_builtin(el.mul, types.Float, types.Float)
def _lower_mul(context, builder, sig, args):
    a, b = (context.cast(builder, v, t, sig.return_type) for v, t in zip(args, sig.args, strict=True))
    return builder.fmul(a, b)


@type_callable(el.select)
def _type_select(context):
    def typer(cond, a, b):
        if isinstance(cond, types.Boolean):
            return context.unify_types(a, b)
    return typer


@lower_builtin(el.select, types.Boolean, types.Any, types.Any)
def _lower_select(context, builder, sig, args):
    a, b = (context.cast(builder, v, t, sig.return_type) for v, t in zip(args[1:], sig.args[1:], strict=True))
    return builder.select(args[0], a, b)


@type_callable(el.trunc)
def _type_trunc(context):
    return lambda x: types.float64 if x == types.float64 else None


@lower_builtin(el.trunc, types.float64)
def _lower_trunc(context, builder, sig, args):
    return builder.sitofp(builder.fptosi(args[0], ir.IntType(32)), ir.DoubleType())


@type_callable(el.pow2)
def _type_pow2(context):
    return lambda t: types.float64 if t == types.float64 else None


@lower_builtin(el.pow2, types.float64)
def _lower_pow2(context, builder, sig, args):
    i64 = ir.IntType(64)
    k = builder.fptosi(args[0], i64)
    bits = builder.shl(builder.add(k, ir.Constant(i64, 1023)), ir.Constant(i64, 52))
    return builder.bitcast(bits, ir.DoubleType())


def _register_conversion(fn, to):
    """``fn(x)``: x converted to the float type ``to`` (fpext, or fptrunc rounding once)."""
    type_callable(fn)(lambda context: lambda x: to if isinstance(x, types.Float) else None)

    @lower_builtin(fn, types.Float)
    def lower(context, builder, sig, args):
        return context.cast(builder, args[0], sig.args[0], to)


_register_conversion(el.f64, types.float64)
_register_conversion(el.f32, types.float32)


@type_callable(el.f64_bits)
def _type_f64_bits(context):
    return lambda x: types.int64 if x == types.float64 else None


@lower_builtin(el.f64_bits, types.float64)
def _lower_f64_bits(context, builder, sig, args):
    return builder.bitcast(args[0], ir.IntType(64))


@type_callable(el.bits_f64)
def _type_bits_f64(context):
    return lambda i: types.float64 if i == types.int64 else None


@lower_builtin(el.bits_f64, types.int64)
def _lower_bits_f64(context, builder, sig, args):
    return builder.bitcast(args[0], ir.DoubleType())


def _target_has_fma() -> bool:
    """Whether the CPU Numba compiles for has a fused multiply-add instruction: x86-64 only
    with the FMA extension (``NUMBA_CPU_NAME=generic`` has none); the other 64-bit
    architectures Numba supports all have one."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return True
    features = (config.CPU_FEATURES if config.CPU_FEATURES is not None
                else binding.get_host_cpu_features().flatten())
    return "+fma" in features.split(",")


#: ``fma32`` as one instruction (llvm.fma.f32), or, without FMA hardware, refsim's own
#: round-to-odd algorithm compiled (never a call to the C library's ``fmaf``).
HARDWARE_FMA = _target_has_fma()


@type_callable(el.fma32)
def _type_fma32(context):
    def typer(x, y, z):  # the operands of el.fma32(x, y, z)
        if x == y == z and x in (types.float32, types.float64):
            return x
    return typer


@lower_builtin(el.fma32, types.Float, types.Float, types.Float)
def _lower_fma32(context, builder, sig, args):
    """float32: one FMA instruction, or refsim's round-to-odd algorithm without FMA hardware.
    float64 (no configuration uses it: ``Config`` allows fused arithmetic in float32 only, but
    Numba compiles both sides of every switch): ``llvm.fma.f64``."""
    if sig.return_type == types.float32 and not HARDWARE_FMA:
        return context.compile_internal(builder, el.fma32, sig, args)
    return builder.fma(*args)


#: The algorithms of refsim.elementary that compiled code calls, registered with Numba.
JITTED = (el.exprel_libm, el._expm1_primary, el.expm1_f64, el.expm1_near_f64, el.expm1_f32, el.xla_expm1_f32,
          el.exprel_f64, el.exprel_f32, el.exprel_xla_f32, el.exprel_near_f64,
          el.exprel_near_f32)
for _f in JITTED:
    register_jitable(forceinline=True, error_model="numpy")(_f)


# -- Numba's cache, keyed to every source compiled into refsim's functions ----------------

_HERE = os.path.dirname(os.path.abspath(__file__))
#: The files whose code ends up in the Numba engine's machine code.
COMPILED_SOURCES = tuple(os.path.join(d, f) for d, f in (
    (os.path.dirname(_HERE), "elementary.py"), (os.path.dirname(_HERE), "model.py"),
    (_HERE, "numba_primitives.py"), (_HERE, "numba_engine.py")))


def _sources_digest() -> str:
    h = hashlib.sha256()
    for path in COMPILED_SOURCES:
        with open(path, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def _install_cache_locators() -> bool:
    """Put locators in front of Numba's own that add :func:`_sources_digest` to the stamp of
    refsim's cached functions. Returns False (Numba's default caching) if this Numba version
    has no such extension point."""
    try:
        bases = (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                 caching.UserWideCacheLocator)
        classes = caching.CacheImpl._locator_classes
    except AttributeError:
        return False
    digest, refsim_dirs = _sources_digest(), {os.path.dirname(_HERE), _HERE}

    def stamped(base):
        class Locator(base):
            def get_source_stamp(self):
                return (super().get_source_stamp(), digest)

            @classmethod
            def from_function(cls, py_func, py_file):
                if os.path.dirname(os.path.abspath(py_file)) not in refsim_dirs:
                    return None
                return super().from_function(py_func, py_file)
        Locator.__name__ = Locator.__qualname__ = "Refsim" + base.__name__
        return Locator
    classes[:0] = [stamped(b) for b in bases]
    return True


CACHE_KEYED_TO_SOURCES = _install_cache_locators()


# -- Numba's cache, each file checked before it is used --------------------------------------

class NumbaCacheWarning(ConfigWarning):
    """A file of refsim's Numba cache could not be used (damaged, or rewritten by another process
    at the same moment): the engine's functions were compiled again, with the same result, and
    the file rewritten. Issued at most once per process, as one line (the command line prints
    it as ``refsim: warning: ...``)."""


#: The start of every cache file refsim writes: a format tag, then the SHA-256 of the rest.
_SEAL = b"refsim-numba-cache 1\n"
_HEAD = len(_SEAL) + 32


class _DamagedCacheFile(Exception):
    """A cache file that fails its checks (``path``: the file; the message says how)."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def _seal(payload: bytes) -> bytes:
    return _SEAL + hashlib.sha256(payload).digest() + payload


def _unseal(raw: bytes, path: str):
    """The payload of a sealed file; None for a file that is a pickle but not sealed (Numba's
    own format, written before refsim checked its cache: stale, not damaged)."""
    if raw[:len(_SEAL)] != _SEAL:
        try:
            pickle.loads(raw)
        except Exception as e:
            raise _DamagedCacheFile(path, _describe(e) if raw else "empty file") from e
        return None
    if hashlib.sha256(raw[_HEAD:]).digest() != raw[len(_SEAL):_HEAD]:
        raise _DamagedCacheFile(path, "checksum mismatch")
    return raw[_HEAD:]


def _describe(e: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:120]}" if text else type(e).__name__


class _CheckedCacheFile(caching.IndexDataCacheFile):
    """Numba's index and data files, each sealed (:func:`_seal`); a data file also holds the
    source stamp and index key it was written for, so that one another process wrote under the
    same name for another signature is a miss, not the wrong machine code. Raises
    :class:`_DamagedCacheFile` for a file that fails its checks."""

    def _read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def _load_index(self):
        try:
            raw = self._read(self._index_path)
        except FileNotFoundError:
            return {}
        payload = _unseal(raw, self._index_path)
        if payload is None:
            return {}
        try:
            version, stamp, overloads = pickle.loads(payload)
        except Exception as e:
            raise _DamagedCacheFile(self._index_path, _describe(e)) from e
        if version != self._version or stamp != self._source_stamp:
            return {}
        if not (isinstance(overloads, dict) and all(isinstance(v, str) for v in overloads.values())):
            raise _DamagedCacheFile(self._index_path, "not an index")
        return overloads

    def _save_index(self, overloads):
        data = _seal(self._dump((self._version, self._source_stamp, overloads)))
        with self._open_for_write(self._index_path) as f:
            f.write(data)

    def load(self, key):
        name = self._load_index().get(key)
        if name is None:
            return None
        path = self._data_path(name)
        try:
            raw = self._read(path)
        except OSError:  # removed while the index still names it (as Numba: a miss)
            return None
        payload = _unseal(raw, path)
        if payload is None:
            return None
        try:
            stamp, stored_key, data = pickle.loads(payload)
        except Exception as e:
            raise _DamagedCacheFile(path, _describe(e)) from e
        if stamp != self._source_stamp or stored_key != key:
            return None  # written for another signature or source: compiled and rewritten
        return data

    def save(self, key, data):
        try:
            overloads = self._load_index()
        except _DamagedCacheFile:
            overloads = {}  # replaced
        name = overloads.get(key)
        if name is None:
            taken = set(overloads.values())
            name = next(n for n in map(self._data_name, itertools.count(1)) if n not in taken)
            overloads[key] = name
        # the data first: an index never names a file before it holds this key's code
        with self._open_for_write(self._data_path(name)) as f:
            f.write(_seal(self._dump((self._source_stamp, key, data))))
        self._save_index(overloads)


#: What _CheckedCacheFile uses of Numba's IndexDataCacheFile.
_FILE_INTERNALS = ("_index_path", "_source_stamp", "_version", "_open_for_write", "_data_path",
                   "_data_name", "_dump")

#: The warnings issued in this process (each kind once).
_WARNED: set[str] = set()


def _warn_once(kind: str, message: str, path: str) -> None:
    if kind in _WARNED:
        return
    _WARNED.add(kind)
    # lineno 0: Python's own display is one line too (no source line to show)
    warnings.warn_explicit(message, NumbaCacheWarning, path, 0, module=__name__)


class _CheckedFunctionCache(caching.FunctionCache):
    """Numba's cache of one function with :class:`_CheckedCacheFile`; a file that cannot be
    used is a cache miss (the function is compiled and the file rewritten), and a cache that
    cannot be written is not an error."""

    def __init__(self, py_func):
        super().__init__(py_func)
        plain = self._cache_file
        self._cache_file = _CheckedCacheFile(plain._cache_path, self._impl.filename_base,
                                             plain._source_stamp)
        for name in _FILE_INTERNALS:  # raise AttributeError now, not at the first load
            getattr(self._cache_file, name)

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as e:  # a damaged file, or one Numba cannot rebuild
            path = e.path if isinstance(e, _DamagedCacheFile) else self._cache_path
            reason = e.reason if isinstance(e, _DamagedCacheFile) else _describe(e)
            _warn_once("load", f"Numba cache file {path} could not be used ({reason}): refsim "
                       "compiles its engine again (same results) and rewrites the cache", path)
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except OSError as e:
            _warn_once("save", f"Numba cache {self._cache_path} could not be written "
                       f"({_describe(e)}): the next process compiles refsim's engine again",
                       self._cache_path)


def cached_jit(**options):
    """``numba.njit(cache=True, **options)``, with the function's on-disk cache checked
    (:class:`_CheckedFunctionCache`): a damaged or mismatched cache file is compiled again and
    rewritten instead of raising (one :class:`NumbaCacheWarning` per process).

    Parameters
    ----------
    **options
        Numba's ``njit`` options (``fastmath``, ``error_model``, ...).

    Returns
    -------
    callable
        A decorator. With ``NUMBA_DISABLE_JIT=1`` it returns the function itself (Numba's
        ``njit`` does the same). Where no cache can be written at all (a read-only install
        and no writable ``NUMBA_CACHE_DIR``), the function is compiled without a cache, with
        one :class:`NumbaCacheWarning`.
    """
    def decorate(fn):
        try:
            dispatcher = njit(cache=True, **options)(fn)
        except RuntimeError as e:  # "cannot cache function ...: no locator available"
            if "cache" not in str(e):
                raise
            _warn_once("locate", f"no writable place for Numba's cache of refsim's engine "
                       f"({_describe(e)}): it is compiled in every process (same results); set "
                       "NUMBA_CACHE_DIR to a writable directory", fn.__code__.co_filename)
            return njit(cache=False, **options)(fn)
        if isinstance(getattr(dispatcher, "_cache", None), caching.FunctionCache):
            try:
                dispatcher._cache = _CheckedFunctionCache(fn)
            except AttributeError:  # another Numba's internals: its own cache, unchecked
                pass
        return dispatcher
    return decorate
