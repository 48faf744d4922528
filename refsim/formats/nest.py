"""NEST's ``spike_recorder``: the ASCII backend's files and the memory backend's ``events``.

Conventions (NEST 3.x)
    * ids: NEST node ids, 1-based and global; the neurons created first are 1 .. N, so refsim
      neuron k is node k + 1 (``first_id``; give ``node_ids`` when other nodes came first);
    * times: ms, the *end* of the step in which the spike was emitted (a spike in the step
      that starts at ``k dt`` is stamped ``(k + 1) dt``): the reader subtracts dt, so it needs
      ``dt_ms`` (the kernel's ``resolution``); the writer adds it back;
    * ``time_in_steps=True`` stores ``time_step`` (that end-of-step stamp in steps) and
      ``time_offset`` (ms before it, 0 for grid-based neurons): t = time_step dt - time_offset.

ASCII backend (``record_to='ascii'``)
    One file per virtual process, ``<label>-<recorder id>-<vp>.dat`` in ``data_path``, with
    three header lines as NEST 3.10 writes them::

        # NEST version: 3.10.0
        # RecordingBackendASCII version: 2
        sender	time_ms                  (or: sender	time_step	time_offset)

    Give one of the files (its siblings of the same label and recorder are merged) or the
    directory (which must hold the files of exactly one recorder). Neo's ``NestIO`` reads
    only NEST 2's files.
Memory backend (``record_to='memory'``, the default)
    ``recorder.get('events')``, saved as ``.npz`` (``np.savez(path, **events)``) or ``.json``:
    ``senders`` and ``times`` (ms, or steps with ``offsets`` under ``time_in_steps``).

Producing the files in NEST::

    nest.SetKernelStatus({"resolution": 0.1, "data_path": "out"})
    pop = nest.Create("iaf_cond_exp", 4000)
    rec = nest.Create("spike_recorder", params={"record_to": "ascii", "label": "coba"})
    nest.Connect(pop, rec); nest.Simulate(1000.0)    # out/coba-4001-0.dat, one per VP
    np.savez("events.npz", **nest.GetStatus(rec_memory, "events")[0])   # memory backend
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

from ..io import atomic_write, open_regular, read_npz, write_npz
from ..params import ConfigError
from .common import RawSpikes, is_npz

__all__ = ["read_ascii", "read_memory", "write_ascii", "write_memory", "ascii_files",
           "looks_like_ascii", "ASCII_HEADERS"]

#: The column lines of NEST 3's ASCII backend: times in ms, or in steps with an offset.
ASCII_HEADERS = {("sender", "time_ms"): "ms", ("sender", "time_step", "time_offset"): "steps"}
_NAME = re.compile(r"^(?P<stem>.+-\d+)-(?P<vp>\d+)\.dat$")


def looks_like_ascii(path) -> bool:
    """True for a directory of, or one, ``.dat`` file that starts with NEST's header."""
    try:
        files = ascii_files(path, "")
        with open_regular(files[0], "") as f:
            return f.read(15) == b"# NEST version:"
    except (ConfigError, OSError, IndexError):
        return False


def ascii_files(path, label: str) -> list[str]:
    """The ``.dat`` files of one recorder: ``path``'s siblings ``<label>-<id>-<vp>.dat``, or
    the files of the one recorder in directory ``path``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ConfigError(f"{label}: no such file or directory")
    if os.path.isdir(path):
        names = [m for m in map(_NAME.match, sorted(os.listdir(path))) if m]
        stems = sorted({m["stem"] for m in names})
        if len(stems) != 1:
            raise ConfigError(f"{label}: {len(stems)} NEST recorders' .dat files {stems[:5]}: "
                              "allowed the files of one recorder (give one of its files)")
        folder = path
    else:
        m = _NAME.match(os.path.basename(path))
        if m is None:
            return [path]
        folder, stems = os.path.dirname(path) or ".", [m["stem"]]
        names = [m for m in map(_NAME.match, sorted(os.listdir(folder))) if m]
    files = [(int(m["vp"]), os.path.join(folder, m.string)) for m in names if m["stem"] == stems[0]]
    if not files:
        raise ConfigError(f"{label}: no .dat files of a NEST recorder here")
    return [f for _, f in sorted(files)]


def read_ascii(path, label: str, **_) -> RawSpikes:
    """The spikes of NEST's ASCII files (all virtual processes merged, ordered by time)."""
    times, ids = [], []
    for file in ascii_files(path, label):
        where = f"{label}: {os.path.basename(file)}"
        try:
            with open_regular(file, where) as f:
                text = f.read().decode("ascii")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{where}: cannot be read as text ({e})") from None
        lines = text.splitlines()
        if len(lines) < 3 or not lines[0].startswith("# NEST version:") or \
                not lines[1].startswith("# RecordingBackendASCII"):
            raise ConfigError(f"{where}: allowed NEST 3's ASCII layout: '# NEST version: ...', "
                              "'# RecordingBackendASCII version: 2', then the column names")
        columns = tuple(lines[2].split())
        if columns not in ASCII_HEADERS:
            raise ConfigError(f"{where}: columns {' '.join(columns)!r}: allowed 'sender time_ms' "
                              "or 'sender time_step time_offset' (a spike_recorder's file)")
        try:
            table = np.loadtxt(lines[3:], ndmin=2, dtype=np.float64) if len(lines) > 3 \
                else np.zeros((0, len(columns)))
        except ValueError as e:
            raise ConfigError(f"{where}: a line that is not {len(columns)} numbers ({e})") from None
        if table.shape[1] != len(columns):
            raise ConfigError(f"{where}: {table.shape[1]} columns: allowed {len(columns)}")
        if ASCII_HEADERS[columns] == "steps":
            times.append(("steps", table[:, 1], table[:, 2]))
        else:
            times.append(("ms", table[:, 1], None))
        ids.append(table[:, 0])
    if len({kind for kind, _, _ in times}) > 1:
        raise ConfigError(f"{label}: files in ms and in steps mixed: allowed one recorder's files")
    return _raw(label, times, ids)


def read_memory(path, label: str, **_) -> RawSpikes:
    """``senders`` and ``times`` (and ``offsets`` in steps mode) from ``.npz`` or ``.json``."""
    if not is_npz(path, label):   # JSON, whatever the extension
        try:
            with open_regular(path, label) as f:
                d = json.load(f)
        except (OSError, ValueError) as e:
            raise ConfigError(f"{label}: cannot be read as JSON ({e})") from None
        if not isinstance(d, dict) or not {"senders", "times"} <= set(d):
            raise ConfigError(f"{label}: allowed a JSON object with 'senders' and 'times' "
                              "(a spike_recorder's events)")
        try:
            d = {k: np.asarray(d[k], dtype=np.float64) for k in ("senders", "times", "offsets") if k in d}
        except (TypeError, ValueError):
            raise ConfigError(f"{label}: senders, times: allowed lists of numbers") from None
    else:
        d = read_npz(path, "NEST events file", names=("senders", "times", "offsets"))
        if not {"senders", "times"} <= set(d):
            raise ConfigError(f"{label}: arrays {sorted(d)}: allowed 'senders' and 'times'")
    if any(a.ndim != 1 for a in d.values()) or len({a.size for a in d.values()}) != 1:
        raise ConfigError(f"{label}: senders, times (and offsets): allowed 1-d arrays of one length")
    steps = "offsets" in d
    return _raw(label, [("steps" if steps else "ms", d["times"], d.get("offsets"))], [d["senders"]])


def _raw(label, times, ids) -> RawSpikes:
    t = np.concatenate([np.asarray(a, np.float64) for _, a, _ in times]) if times else np.zeros(0)
    i = np.concatenate([np.asarray(a) for a in ids]) if ids else np.zeros(0, np.int64)
    offsets = None
    if times and times[0][0] == "steps":   # stamps in steps: finish() converts with dt
        offsets = np.concatenate([np.asarray(o, np.float64) for _, _, o in times])
        if offsets.shape != t.shape:
            raise ConfigError(f"{label}: {offsets.size} offsets for {t.size} times: allowed one each")
    order = np.lexsort((i, t))
    return RawSpikes(t[order], i[order], first_id=1, end_of_step=True,
                     step_offsets=None if offsets is None else offsets[order])


def write_ascii(spikes, path, dt_ms: float, first_id: int = 1) -> None:
    """One ASCII file as NEST's virtual process 0 writes it (times ``(k + 1) dt`` in ms,
    3 decimals as NEST's default ``precision`` when dt is a whole number of microseconds,
    else every digit, so that the file reads back exactly; ids ``first_id + k``)."""
    t = spikes.times_ms + dt_ms
    fmt = "{:.3f}" if round(dt_ms * 1000) == dt_ms * 1000 else "{!r}"
    body = "".join(f"{i}\t{fmt.format(x)}\n"
                   for i, x in zip((spikes.neurons + first_id).tolist(), t.tolist(), strict=True))
    head = "# NEST version: 3.10.0 (written by refsim)\n# RecordingBackendASCII version: 2\nsender\ttime_ms\n"
    atomic_write(path, lambda tmp: open(tmp, "w").write(head + body))


def write_memory(spikes, path, dt_ms: float, first_id: int = 1) -> None:
    """The memory backend's ``events`` (``senders``, ``times`` in ms, end of step) as
    ``.npz``, or ``.json`` by the extension."""
    events = {"senders": spikes.neurons + first_id, "times": spikes.times_ms + dt_ms}
    if os.fspath(path).endswith(".json"):
        text = json.dumps({k: v.tolist() for k, v in events.items()})
        atomic_write(path, lambda tmp: open(tmp, "w").write(text))
    else:
        write_npz(path, events)
