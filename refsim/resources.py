"""Memory needed by a run, estimated before anything is allocated, and the memory available.

:func:`refsim.simulate` calls :func:`check_run` before it builds connectivity or state, and
:meth:`refsim.SimulationResult.dense` calls :func:`check_memory` before it allocates the
dense matrix: a run that cannot fit is refused with a :class:`~refsim.ConfigError` that
names what takes the memory, instead of failing (or swapping) halfway.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np

from .model import refractory_steps
from .params import INDEX_LIMIT, Config, ConfigError
from .state import STATE_VARIABLES

__all__ = ["estimate_memory", "available_memory", "check_memory", "check_run",
           "expected_synapses", "format_bytes"]

#: N-sized arrays of the run's float type alive while running, per engine: the state (4), its
#: copy kept at the start of each chunk for the run-time checks (4) and the final state of the
#: result (4), plus the engine's own: the Numba engine's scatter buffers x_e, x_i (2); the
#: NumPy oracle's temporaries of one step (up to 12).
_STATE_ARRAYS = {"numba": 4 + 4 + 4 + 2, "numpy": 4 + 4 + 4 + 12, "cuda": 4 + 4 + 4 + 4}
#: Bytes per neuron besides those: spike flags (1), the spike list (int32), and the compiled
#: engine's spike buffers of a chunk: room for 5 spikes per neuron (refsim.recording.
#: spike_capacity for 500 steps) as int32 steps and neurons (40), copied out (the copy is in
#: ``spikes``).
_NEURON_BYTES = 1 + 4 + 40
#: Bytes per spike at the end of a run: the recorder's blocks (int32 step and neuron) and the
#: result's arrays (int64 step, int32 neuron), alive together while the result is assembled.
_BYTES_PER_SPIKE_PEAK = 8 + 12
#: Bytes per spike in the result: int64 step + int32 neuron.
_BYTES_PER_SPIKE = 12
#: The firing rate the spikes' memory is estimated for (Hz): the tutorial's, about 50 Hz (the
#: fastest of the presets). A network that fires faster needs more, one that fires slower less.
ASSUMED_RATE_HZ = 50.0
#: Resident memory the Numba engine's compiled code adds to a process: loading the cached
#: machine code of the engine (measured 60 MiB), and importing Numba and the engine's module
#: first where that has not happened yet (60 MiB more).
_ENGINE_CODE = {"run": 64 * 2**20, "import": 60 * 2**20}


def expected_synapses(config: Config) -> int:
    """Number of CSR entries the configuration's rule draws (exact for the fixed-degree rules,
    the expectation, rounded up, for ``bernoulli``).

    Parameters
    ----------
    config : Config

    Returns
    -------
    int
        N int(p N) (``fixed_out_degree``), N (int(p n_exc) + int(p n_inh))
        (``fixed_in_degree``) or ceil(p N (N - 1)) (``bernoulli``; N**2 with autapses).

    Examples
    --------
    >>> import refsim
    >>> from refsim.resources import expected_synapses
    >>> [expected_synapses(refsim.get_preset(name)) for name in ("tutorial", "brette2007-coba")]
    [320000, 320000]
    """
    n, p = config.n_neurons, config.p_conn
    if config.conn_rule == "fixed_out_degree":
        return n * int(p * n)
    if config.conn_rule == "fixed_in_degree":
        return n * (int(p * config.n_exc) + int(p * config.n_inh))
    return math.ceil(p * n * (n - (0 if config.autapses else 1)))


def estimate_memory(config: Config, record=None, record_vars=STATE_VARIABLES, dense=False,
                    connectivity=None, engine: str = "numba", threads: int = 1,
                    rate_hz: float = ASSUMED_RATE_HZ) -> dict[str, int]:
    """Bytes a run of ``config`` allocates, item by item, and the peak resident size of the
    process that runs it.

    Parameters
    ----------
    config : Config
    record : sequence of int, optional
        Neurons whose traces are kept (as :func:`refsim.simulate` takes them).
    record_vars : sequence of str
        The traced variables.
    dense : bool
        Include the ``(n_steps, N)`` boolean matrix of :meth:`SimulationResult.dense`.
    connectivity : Connectivity, optional
        Given connectivity: its arrays exist already; only a copy of counts other than one
        synapse per entry, in the run's float type, is new.
    engine : {'numba', 'numpy', 'cuda'}
    threads : int
        The Numba engine's threads: above 1 the connectivity is copied once more, split by
        target block (:func:`refsim.engines.numba_engine.partition`).
    rate_hz : float
        Mean firing rate (Hz) the spikes' memory is estimated for (:data:`ASSUMED_RATE_HZ`).

    Returns
    -------
    dict of str to int
        Bytes. ``connectivity``: (N + 1) x 4 bytes of int32 row pointers and an int32 column
        index per entry (the built-in rules make one synapse per entry and store no counts);
        ``build``: what drawing it needs besides, freed before the run (a chunk of draws;
        ``bernoulli`` its indices once more, ``fixed_in_degree`` 6 bytes per entry for the
        transposition); ``partition``: with threads, the indices (and counts) again and
        threads x (N + 1) int32 row pointers; ``state``: N-sized arrays (the state, the copy
        kept for the checks of each chunk, the result's final state, the engine's buffers);
        ``step_times``: n_steps floats; ``traces``: n_steps x len(record) x
        len(record_vars) floats; ``spikes``: 20 bytes per spike at ``rate_hz`` (the
        recorder's int32 blocks and the result's int64 steps and int32 neurons, together
        while the result is assembled); ``dense``: n_steps x N bytes if requested, else 0.
        ``total``: what the run adds, the persistent connectivity plus the larger of the
        build and the rest: what :func:`check_memory` compares with the available memory.
        ``process``: this process's resident size now plus the memory the engine's compiled
        code will add (:data:`_ENGINE_CODE`: 0 once it has run here); ``peak_rss``: process
        + total, what the process's peak resident size will be (docs/performance.md compares
        the two). ``spikes_max``: a worst-case bound, 12 bytes (int64 step, int32 neuron) for
        every spike N neurons can fire when each fires at most once per
        max(1, ceil(tau_ref / dt)) steps (:func:`refsim.model.refractory_steps`); reported,
        not in ``total``.

    Examples
    --------
    >>> import refsim
    >>> from refsim.resources import estimate_memory
    >>> m = estimate_memory(refsim.get_preset("tutorial"))
    >>> m["connectivity"], m["state"], m["step_times"]  # 320 000 synapses, float32, 10 000 steps
    (1296004, 404000, 40000)
    >>> m["spikes"]                                      # 4000 neurons at 50 Hz for 1 s, 20 B each
    4000000
    """
    item = np.dtype(config.dtype).itemsize
    n, n_steps = config.n_neurons, config.n_steps
    if connectivity is None:
        entries = expected_synapses(config)
        conn = (n + 1) * 4 + entries * 4
        # one chunk of draws (refsim.connectivity._CHUNK) and its temporaries, per draw: 4 bytes
        # (int32) with multapses, 32 without (int64 rows, sorted, checked), 20 for Bernoulli's
        # gaps; Bernoulli then joins its chunks (the indices once more), fixed_in_degree
        # transposes its sources (6.4 bytes per entry: int32 sources, int8 ones in and out); and
        # int64 row pointers. Measured with tracemalloc.
        draws = min(2**22, entries)
        if config.conn_rule == "bernoulli":
            build = entries * 4 + draws * 20
        elif config.conn_rule == "fixed_in_degree":  # the draws go straight into the sources
            build = entries * 32 // 5 + (0 if config.multapses else draws * 20)
        else:
            build = draws * (4 if config.multapses else 32)
        build += (n + 1) * 8
        counts = 0
    else:
        entries = int(connectivity.indices.size)
        conn = build = 0
        counts = 0 if connectivity.unit_counts else entries * item
    n_record = 0 if record is None else int(np.size(record))
    n_vars = len(tuple(record_vars)) if n_record else 0
    partition = 0
    if engine == "numba" and threads > 1:
        # the indices (and counts) again, row pointers and cursors per block, the blocks' spike list
        partition = entries * 4 + (counts and entries * item) + threads * (2 * n + 1) * 4 + n * 4
    run = {
        "counts": counts,
        "partition": partition,
        "state": _STATE_ARRAYS.get(engine, _STATE_ARRAYS["numpy"]) * n * item + _NEURON_BYTES * n,
        "step_times": n_steps * item,
        "traces": n_steps * n_record * n_vars * item,
        "spikes": round(rate_hz * n * config.duration / 1000.0) * _BYTES_PER_SPIKE_PEAK,
        "dense": n_steps * n if dense else 0,
    }
    out = {"connectivity": conn, "build": build, **run}
    out["total"] = conn + max(build, sum(run.values()))
    out["process"] = _process_rss() + _engine_code(engine)
    out["peak_rss"] = out["process"] + out["total"]
    isi = refractory_steps(config.tau_ref, config.dt)[0]
    out["spikes_max"] = n * -(-n_steps // isi) * _BYTES_PER_SPIKE
    return out


#: Resident memory of a fresh Python process that has imported refsim (measured 50 MiB).
_FRESH_PROCESS = 52 * 2**20


def worker_baseline(engine: str = "numba") -> int:
    """Resident bytes a fresh worker process holds before its run allocates anything: the
    interpreter with NumPy, SciPy and refsim, and the engine's compiled code (for ensembles:
    each of ``jobs`` workers holds it besides its run's :func:`estimate_memory` total).

    Parameters
    ----------
    engine : str

    Returns
    -------
    int

    Examples
    --------
    >>> from refsim.resources import worker_baseline
    >>> worker_baseline("numba") // 2**20, worker_baseline("numpy") // 2**20
    (176, 52)
    """
    extra = _ENGINE_CODE["import"] + _ENGINE_CODE["run"] if engine == "numba" else 0
    return _FRESH_PROCESS + extra


def _process_rss() -> int:
    """This process's resident set size (bytes; 0 where /proc is not there)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _engine_code(engine: str) -> int:
    """Resident bytes the engine's compiled code will still add to this process."""
    if engine != "numba":
        return 0
    module = sys.modules.get("refsim.engines.numba_engine")
    if module is None:
        return _ENGINE_CODE["import"] + _ENGINE_CODE["run"]
    ran = getattr(getattr(module, "_run", None), "signatures", ())
    return 0 if ran else _ENGINE_CODE["run"]


def available_memory() -> int | None:
    """Bytes that can be allocated without swapping, or None when unknown.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux), else the free physical pages
    (``os.sysconf``), lowered to the room left under the memory limits of this process's own
    cgroup and of each cgroup above it (containers, batch schedulers, systemd slices): the
    cgroup named in ``/proc/self/cgroup``, read under ``/sys/fs/cgroup`` (cgroup v2:
    ``memory.max`` minus ``memory.current``; v1: the ``memory`` controller's
    ``memory.limit_in_bytes`` minus ``memory.usage_in_bytes``). A module-level function, so
    tests can replace it.

    Returns
    -------
    int or None
        Bytes: the smallest of the system's available memory and the room under each
        cgroup limit found (never negative); None when neither the system's available memory
        nor a cgroup limit is known.

    Notes
    -----
    A limit of ``max`` (v2) or of 2**60 bytes or more (v1's "unlimited" is about 2**63) is no
    limit. Levels whose files are missing or unreadable are skipped; where only a level's
    usage is unreadable, its limit itself bounds the room.

    Examples
    --------
    >>> from refsim.resources import available_memory
    >>> m = available_memory()
    >>> m is None or m >= 0
    True
    """
    return _available_memory("/proc/meminfo", "/proc/self/cgroup", "/sys/fs/cgroup")


def _available_memory(meminfo: str, proc_cgroup: str, cgroup_root: str) -> int | None:
    """:func:`available_memory` from the given files: ``meminfo`` as ``/proc/meminfo``,
    ``proc_cgroup`` as ``/proc/self/cgroup``, ``cgroup_root`` as ``/sys/fs/cgroup``."""
    avail = _meminfo_available(meminfo)
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):
            avail = None
    room = _cgroup_room(proc_cgroup, cgroup_root)
    if room is None:
        return avail
    return room if avail is None else min(avail, room)


def _meminfo_available(path: str) -> int | None:
    """``MemAvailable`` of a ``/proc/meminfo`` file in bytes, or None."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


#: A cgroup limit at or above this is no limit (v1 writes "unlimited" as ~2**63).
_NO_LIMIT = 2**60


def _read_int(path: str) -> int | None:
    """The integer in a one-line file; None when missing, unreadable, ``max`` or no integer."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _cgroup_dirs(proc_cgroup: str, cgroup_root: str) -> list[tuple[str, str, str]]:
    """The cgroup directories of the process's memory limits, each with the names of its limit
    and usage files: its own cgroup and every one above it, up to the hierarchy's root, for the
    v2 hierarchy (``0::<path>``, under ``cgroup_root``) and the v1 ``memory`` controller (under
    ``cgroup_root/memory``). A path that leaves the hierarchy (``..``, a cgroup of another
    namespace) is taken as its root."""
    try:
        with open(proc_cgroup) as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            base, files = cgroup_root, ("memory.max", "memory.current")
        elif "memory" in controllers.split(","):
            base, files = os.path.join(cgroup_root, "memory"), ("memory.limit_in_bytes",
                                                                 "memory.usage_in_bytes")
        else:
            continue
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." in parts:  # outside this namespace's hierarchy: only its root is ours to read
            parts = []
        for depth in range(len(parts), -1, -1):  # this cgroup, then each parent, then the root
            found.append((os.path.join(base, *parts[:depth]), *files))
    return found


def _cgroup_room(proc_cgroup: str, cgroup_root: str) -> int | None:
    """Bytes left under the tightest memory limit of the process's cgroups (limit minus usage
    at each level that has a limit, the smallest; the limit alone where the usage cannot be
    read), or None when no level has a limit."""
    room = None
    for directory, limit_file, usage_file in _cgroup_dirs(proc_cgroup, cgroup_root):
        limit = _read_int(os.path.join(directory, limit_file))
        if limit is None or limit >= _NO_LIMIT:
            continue
        usage = _read_int(os.path.join(directory, usage_file))
        left = limit if usage is None else max(0, limit - usage)
        room = left if room is None else min(room, left)
    return room


def format_bytes(b: float) -> str:
    """``b`` bytes in GiB, MiB or KiB, three significant digits.

    Parameters
    ----------
    b : float
        Bytes.

    Returns
    -------
    str

    Examples
    --------
    >>> from refsim.resources import format_bytes
    >>> format_bytes(5136004), format_bytes(512), format_bytes(3 * 2**30)
    ('4.9 MiB', '512 B', '3 GiB')
    """
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{int(b)} B"


def check_memory(items: dict[str, int], what: str, hint: str) -> None:
    """Raise ConfigError when ``items['total']`` bytes exceed :func:`available_memory`.

    ``items`` as :func:`estimate_memory` returns them; the message lists the non-zero items.
    Nothing is checked when the available memory is unknown.

    Parameters
    ----------
    items : dict of str to int
        Bytes per item, with ``total``.
    what : str
        What needs the memory, for the message (e.g. ``'the run'``).
    hint : str
        What to do instead, for the message.

    Raises
    ------
    ConfigError
        ``items['total']`` exceeds the available memory.

    Examples
    --------
    >>> import refsim
    >>> from refsim.resources import check_memory
    >>> check_memory({"state": 10, "total": 10}, "the run", "run less")      # fits: silent
    >>> try:
    ...     check_memory({"state": 2**62, "total": 2**62}, "the run", "run less")
    ... except refsim.ConfigError as e:
    ...     print(str(e)[:44])
    memory: the run needs ~4.29e+09 GiB (state 4
    """
    avail = available_memory()
    total = items["total"]
    if avail is None or total <= avail:
        return
    parts = ", ".join(f"{k.replace('_', ' ')} {format_bytes(v)}" for k, v in items.items()
                      if v and k not in ("total", "spikes_max", "process", "peak_rss"))
    raise ConfigError(f"memory: {what} needs ~{format_bytes(total)} ({parts}) but "
                      f"{format_bytes(avail)} are available: allowed at most the available "
                      f"memory; {hint}")


def check_run(config: Config, record, record_vars, connectivity=None, engine: str = "numba",
              threads: int = 1) -> dict[str, int]:
    """The checks :func:`refsim.simulate` makes before allocating: synapse count within the
    int32 index range, and the estimate of :func:`estimate_memory` within the available
    memory. Returns the estimate.

    Parameters
    ----------
    config : Config
    record : sequence of int or None
        Traced neurons.
    record_vars : sequence of str
        Traced variables.
    connectivity : Connectivity, optional
        Given connectivity (its synapses are not counted again).
    engine : str
    threads : int
        As :func:`estimate_memory` takes them.

    Returns
    -------
    dict of str to int
        :func:`estimate_memory`'s items (bytes).

    Raises
    ------
    ConfigError
        2**31 synapses or more, or more memory than is available.

    Examples
    --------
    >>> import refsim
    >>> from refsim.resources import check_run
    >>> check_run(refsim.get_preset("tutorial", n_exc=80, n_inh=20), None, ("V",))["total"]
    151304
    """
    if connectivity is None:
        synapses = expected_synapses(config)
        if synapses > INDEX_LIMIT:
            raise ConfigError(
                f"p_conn = {config.p_conn!r}: allowed a value giving fewer than 2**31 synapses "
                f"(CSR indices are int32); N = {config.n_neurons} and conn_rule = "
                f"{config.conn_rule!r} give {synapses}")
    items = estimate_memory(config, record, record_vars, connectivity=connectivity, engine=engine,
                            threads=threads)
    check_memory(items, "the run",
                 "record fewer neurons or variables, run a shorter duration (spikes are kept "
                 "sparse, so a long run costs only its spikes) or a smaller network")
    return items
