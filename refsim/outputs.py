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
import fcntl
import hashlib
import json
import os
import signal
import tempfile
import threading
import uuid

from .io import OutputError, write_text
from .params import ConfigError

__all__ = ["prepare_output_dir", "publish", "check_output_dir", "new_run_id", "held_signals",
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


def prepare_output_dir(path, name: str = "out") -> str:
    """Create the directory ``path`` if needed and check that files can be written in it now.

    Parameters
    ----------
    path : str or os.PathLike
    name : str
        The option or argument it came from, for the message.

    Returns
    -------
    str
        ``path`` as a str.

    Raises
    ------
    OutputError
        ``path`` is a file, cannot be created, or is not writable; the message names the
        path and the reason.

    Examples
    --------
    >>> import os, tempfile
    >>> from refsim.outputs import prepare_output_dir
    >>> d = prepare_output_dir(os.path.join(tempfile.mkdtemp(), "new", "out"))
    >>> os.path.isdir(d), os.listdir(d)
    (True, [])
    >>> prepare_output_dir("/proc/version")
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
    return path


@contextlib.contextmanager
def held_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    """Hold ``signals`` back while the block runs; deliver them, once each, when it ends.

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
        A file could not be written (naming it and why); the directory is then left
        without a manifest, holding the files of this run written before the failure.

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
    with held_signals(), _locked(out_dir):
        stale = set(files) | set(_previous_files(out_dir))
        for name in [MANIFEST, *sorted(stale)]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(out_dir, name))
        listed = {}
        for name, write in files.items():
            path = os.path.join(out_dir, name)
            write(path)
            listed[name] = _fingerprint(path)
        manifest = {"format": MANIFEST_FORMAT, "run_id": run_id, **(info or {}), "files": listed}
        write_text(os.path.join(out_dir, MANIFEST), json.dumps(manifest, indent=1) + "\n")
    return [os.path.join(out_dir, name) for name in [*files, MANIFEST]]


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
    try:
        with open(path) as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing: allowed a directory holding one complete run "
                          "(its manifest is written last)") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: cannot be read ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT \
            or not isinstance(manifest.get("files"), dict):
        raise ConfigError(f"{path}: allowed a manifest of format {MANIFEST_FORMAT!r}")
    for name, want in manifest["files"].items():
        try:
            have = _fingerprint(os.path.join(out_dir, name))
        except OSError:
            raise ConfigError(f"{os.path.join(out_dir, name)}: missing, but listed in {path} "
                              f"(run {manifest.get('run_id')})") from None
        if have != want:
            raise ConfigError(f"{os.path.join(out_dir, name)}: differs from {path} (run "
                              f"{manifest.get('run_id')}): not that run's file")
    return manifest


def _fingerprint(path) -> dict:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"bytes": os.path.getsize(path), "sha256": h.hexdigest()}


def _previous_files(out_dir) -> list[str]:
    """The files the manifest in ``out_dir`` lists (none when it is missing or unreadable);
    only plain names inside the directory."""
    try:
        with open(os.path.join(out_dir, MANIFEST)) as f:
            names = list(json.load(f).get("files", {}))
    except (OSError, ValueError, AttributeError, TypeError):
        return []
    return [n for n in names if isinstance(n, str) and n == os.path.basename(n) and n not in ("", ".", "..")]


@contextlib.contextmanager
def _locked(out_dir):
    """An exclusive ``flock`` on the directory itself (two runs into one directory take
    turns; no lock file is left behind)."""
    try:
        fd = os.open(out_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as e:
        raise OutputError(f"{out_dir}: cannot be opened ({e.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
