"""Output directories: one run's files are one unit.

``refsim run``, ``compare`` and ``ensemble`` write several files into one ``--out``
directory. Each file is written atomically (:func:`refsim.io.atomic_write`), and the set is
made one unit by :func:`publish`:

1. :func:`prepare_output_dir` checks, before any work starts, that the directory can be
   created and written, so that a read-only or mistyped path is found in a second, not
   after an hour's run.
2. :func:`publish` takes an exclusive lock (``flock``) on the directory (two runs into one
   ``--out`` take turns instead of mixing), removes ``manifest.json`` and the files of the previous
   run (its manifest names them) and of this one, writes this run's files, and writes
   ``manifest.json`` last: the run id, and each file's size and SHA-256. SIGINT and SIGTERM
   are held back while it works (and delivered when it is done), so a save that has started
   completes.
3. :func:`check_output_dir` says whether a directory holds one complete run, and which.

So a directory either has a manifest whose files all match it (one complete run, with one
run id, also stored inside ``spikes.npz``, ``summary.json``, ``comparison.json`` and
``ensemble.json``), or no manifest (a save that failed: a full disk, a crash); stale files
of an earlier run never pass for this one's.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import signal
import tempfile
import threading
import uuid
import warnings

from .io import OutputError, open_regular, write_text
from .params import ConfigError, ConfigWarning

__all__ = ["prepare_output_dir", "publish", "check_output_dir", "published_run_id", "new_run_id",
           "held_signals",
           "MANIFEST", "MANIFEST_FORMAT"]

#: The file :func:`publish` writes last into an output directory.
MANIFEST = "manifest.json"
#: Its ``format`` field.
MANIFEST_FORMAT = "refsim.output/1"


def new_run_id() -> str:
    """A new random run id: 32 hexadecimal digits (UUID 4).

    Returns
    -------
    str

    Examples
    --------
    >>> from refsim.outputs import new_run_id
    >>> len(new_run_id()), new_run_id() != new_run_id()
    (32, True)
    """
    return uuid.uuid4().hex


def prepare_output_dir(path, command: str, name: str = "out") -> str:
    """Create the directory ``path`` if needed and check that files can be written in it now,
    and that it holds no other command's outputs (which :func:`publish` would replace).

    Parameters
    ----------
    path : str or os.PathLike
    command : str
        What will write there (``'run'``, ``'compare'``, ``'ensemble'``): a directory whose
        manifest names another command is refused.
    name : str
        The option or argument it came from, for the message.

    Returns
    -------
    str
        ``path`` as a str.

    Raises
    ------
    OutputError
        ``path`` is a file, cannot be created, is not writable, or holds the outputs of
        another command; the message names the path and the reason.

    Examples
    --------
    >>> import os, tempfile
    >>> from refsim.outputs import prepare_output_dir
    >>> d = prepare_output_dir(os.path.join(tempfile.mkdtemp(), "new", "out"), "run")
    >>> os.path.isdir(d), os.listdir(d)
    (True, [])
    >>> prepare_output_dir("/proc/version", "run")
    Traceback (most recent call last):
    ...
    refsim.io.OutputError: out = '/proc/version': a file: allowed a directory that can be created and written
    """
    path = os.fspath(path)
    allowed = "allowed a directory that can be created and written"
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutputError(f"{name} = {path!r}: a file: {allowed}")
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".refsim-probe-")
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise OutputError(f"{name} = {path!r}: {e.strerror or e}: {allowed}") from None
    other = _read_manifest(path).get("command", command)
    if other != command:
        raise OutputError(f"{name} = {path!r}: holds the outputs of `refsim {other}` "
                          f"({MANIFEST}): allowed a new directory, or one that `refsim {command}` "
                          "wrote (whose files are then replaced)")
    return path


@contextlib.contextmanager
def held_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    """Hold ``signals`` back while the block runs; deliver them, once each, when it completes.
    When the block raises, its error propagates and the held signals are dropped: the
    error is what the user must see.

    Only the main thread can handle signals: elsewhere the block runs unprotected.

    Examples
    --------
    >>> import os, signal
    >>> from refsim.outputs import held_signals
    >>> try:
    ...     with held_signals():
    ...         os.kill(os.getpid(), signal.SIGINT)    # held ...
    ...         print("the block completes")
    ... except KeyboardInterrupt:
    ...     print("... then delivered")
    the block completes
    ... then delivered
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    # reached only when the block completed: an error in it propagates as itself
    for s in dict.fromkeys(received):
        signal.raise_signal(s)


def publish(out_dir, files: dict, run_id: str | None = None, info: dict | None = None) -> list[str]:
    """Write one run's ``files`` into ``out_dir`` as one unit (see the module docstring).

    Parameters
    ----------
    out_dir : str or os.PathLike
        An existing directory (:func:`prepare_output_dir`).
    files : dict of str to callable
        File name -> ``write(path)``, which writes the whole file atomically (e.g.
        ``result.save`` or :func:`refsim.io.write_text`); written in this order.
    run_id : str, optional
        Default: :func:`new_run_id`.
    info : dict, optional
        JSON-able facts stored in the manifest (the command, preset, seed ...).

    Returns
    -------
    list of str
        The paths written, the manifest last.

    Raises
    ------
    OutputError
        A file could not be written or replaced (naming it and why; any error of a writer
        becomes one); the directory is then left without a manifest, holding the files of
        this run written before the failure.

    Examples
    --------
    >>> import os, tempfile
    >>> from refsim.io import write_text
    >>> from refsim.outputs import check_output_dir, publish
    >>> d = tempfile.mkdtemp()
    >>> paths = publish(d, {"a.txt": lambda p: write_text(p, "A")}, run_id="run-1")
    >>> [os.path.basename(p) for p in paths], check_output_dir(d)["run_id"]
    (['a.txt', 'manifest.json'], 'run-1')
    """
    out_dir, run_id = os.fspath(out_dir), run_id or new_run_id()
    with _locked(out_dir), held_signals():  # waiting for the lock can be interrupted
        stale = set(files) | set(_read_manifest(out_dir).get("files", {}))
        for name in [MANIFEST, *sorted(stale)]:
            path = os.path.join(out_dir, name)
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise OutputError(f"{path}: cannot be replaced ({e.strerror or e})") from None
        listed = {}
        for name, write in files.items():
            path = os.path.join(out_dir, name)
            try:
                write(path)
            except (OutputError, KeyboardInterrupt):
                raise
            except Exception as e:  # e.g. a plot that fails: one line naming the file
                raise OutputError(f"{path}: cannot be written ({type(e).__name__}: {e})") from e
            listed[name] = _fingerprint(path)
        manifest = {"format": MANIFEST_FORMAT, "run_id": run_id, **(info or {}), "files": listed}
        write_text(os.path.join(out_dir, MANIFEST), json.dumps(manifest, indent=1) + "\n")
    return [os.path.join(out_dir, name) for name in [*files, MANIFEST]]


def published_run_id(out_dir) -> str | None:
    """The run id of the complete run in ``out_dir`` by its manifest (not checked against the
    files: cheap), or None.

    Examples
    --------
    >>> import tempfile
    >>> from refsim.outputs import published_run_id
    >>> published_run_id(tempfile.mkdtemp()) is None
    True
    """
    return _read_manifest(out_dir).get("run_id")


def check_output_dir(out_dir) -> dict:
    """The manifest of the complete run in ``out_dir``, after checking every file it lists.

    Parameters
    ----------
    out_dir : str or os.PathLike

    Returns
    -------
    dict
        The manifest: ``format``, ``run_id``, the facts given to :func:`publish` and
        ``files`` ({name: {``bytes``, ``sha256``}}).

    Raises
    ------
    ConfigError
        No manifest (no complete run: never written, or a save that failed), an unreadable
        one, or a listed file that is missing or differs from it.

    Examples
    --------
    See :func:`publish`.
    """
    out_dir = os.fspath(out_dir)
    path = os.path.join(out_dir, MANIFEST)
    if not os.path.lexists(path):
        raise ConfigError(f"{path}: missing: allowed a directory holding one complete run "
                          "(its manifest is written last)")
    manifest = _read_manifest(out_dir, strict=True)
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT \
            or not isinstance(manifest.get("files"), dict):
        raise ConfigError(f"{path}: allowed a manifest of format {MANIFEST_FORMAT!r}")
    for name, want in manifest["files"].items():
        try:
            have = _fingerprint(os.path.join(out_dir, name))
        except (OSError, ConfigError):
            raise ConfigError(f"{os.path.join(out_dir, name)}: missing, but listed in {path} "
                              f"(run {manifest.get('run_id')})") from None
        if have != want:
            raise ConfigError(f"{os.path.join(out_dir, name)}: differs from {path} (run "
                              f"{manifest.get('run_id')}): not that run's file")
    return manifest


def _fingerprint(path) -> dict:
    h = hashlib.sha256()
    with open_regular(path, os.fspath(path)) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
        size = f.tell()
    return {"bytes": size, "sha256": h.hexdigest()}


#: The largest manifest read (a manifest lists a handful of files: a few kB).
_MANIFEST_LIMIT = 1 << 20


def _read_manifest(out_dir, strict: bool = False) -> dict:
    """The manifest in ``out_dir`` as a dict, read only if it is a regular file of at most
    1 MiB, its ``files`` restricted to plain names inside the directory. Without ``strict``,
    a missing or unreadable manifest is ``{}``; with it, ConfigError."""
    path = os.path.join(os.fspath(out_dir), MANIFEST)
    try:
        with open_regular(path, path) as f:
            text = f.read(_MANIFEST_LIMIT + 1)
        if len(text) > _MANIFEST_LIMIT:
            raise ConfigError(f"{path}: larger than 1 MiB: allowed a manifest refsim wrote")
        manifest = json.loads(text)
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        if strict:
            raise ConfigError(f"{path}: missing") from None
        return {}
    except (OSError, ValueError, ConfigError) as e:
        if strict:
            raise ConfigError(f"{path}: cannot be read ({e})") from None
        return {}
    files = manifest.get("files")   # only plain names inside the directory, never a path
    manifest["files"] = ({n: v for n, v in files.items() if isinstance(n, str) and n == os.path.basename(n)
                          and n not in ("", ".", "..", MANIFEST)} if isinstance(files, dict) else {})
    return manifest


@contextlib.contextmanager
def _locked(out_dir):
    """An exclusive ``flock`` on the directory itself (two runs into one directory take
    turns; no lock file is left behind)."""
    try:
        fd = os.open(out_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as e:
        raise OutputError(f"{out_dir}: cannot be opened ({e.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            if e.errno not in (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise OutputError(f"{out_dir}: cannot be locked ({e.strerror})") from None
            warnings.warn(f"{out_dir}: its file system cannot lock ({e.strerror}): two refsim "
                          "commands writing there at once could mix their files", ConfigWarning,
                          stacklevel=4)
        yield
    finally:
        os.close(fd)
