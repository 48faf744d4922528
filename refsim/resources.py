"""Memory needed by a run, estimated before anything is allocated, and the memory available.

:func:`refsim.simulate` calls :func:`check_run` before it builds connectivity or state, and
:meth:`refsim.SimulationResult.dense` calls :func:`check_memory` before it allocates the
dense matrix: a run that cannot fit is refused with a :class:`~refsim.ConfigError` that
names what takes the memory, instead of failing (or swapping) halfway.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .model import refractory_steps
from .params import INDEX_LIMIT, Config, ConfigError
from .state import STATE_VARIABLES

__all__ = ["estimate_memory", "available_memory", "check_memory", "check_run",
           "expected_synapses", "format_bytes"]

#: Bytes per synapse entry while running: int32 column index, float64 count, and the copy of
#: the count in the run's float type (added per dtype).
_BYTES_PER_ENTRY = 4 + 8
#: N-sized arrays alive while running: 4 state variables, their 4 copies kept at the start of
#: each chunk for the run-time checks, and up to 12 temporaries of one NumPy step.
_STATE_ARRAYS = 4 + 4 + 12
#: Bytes per spike in the result: int64 step + int32 neuron.
_BYTES_PER_SPIKE = 12


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
                    connectivity=None) -> dict[str, int]:
    """Bytes a run of ``config`` allocates, item by item.

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
        Given connectivity: its arrays exist already, only the copy of its counts in the
        run's float type is new.

    Returns
    -------
    dict of str to int
        ``connectivity``: CSR arrays, (N + 1) x 4 bytes of int32 row pointers plus, per entry,
        an int32 column index, a float64 count and a count in the run's float type (drawing
        them briefly needs about as much again, freed before the run starts);
        ``state``: 20 N-sized arrays of the float type (state, the copy kept for the checks
        of each chunk, the temporaries of a step); ``step_times``: n_steps floats;
        ``traces``: n_steps x len(record) x len(record_vars) floats; ``dense``:
        n_steps x N bytes if requested, else 0; ``total``: the sum of these, which is what
        :func:`check_memory` compares with the available memory. ``spikes_max``: a
        worst-case bound, 12 bytes (int64 step, int32 neuron) for every spike N neurons can
        fire when each fires at most once per max(1, ceil(tau_ref / dt)) steps
        (:func:`refsim.model.refractory_steps`); reported, not
        in ``total`` (real networks fire far less; the spike buffers grow as needed).

    Examples
    --------
    >>> import refsim
    >>> from refsim.resources import estimate_memory
    >>> m = estimate_memory(refsim.get_preset("tutorial"))
    >>> m["connectivity"], m["state"], m["step_times"]  # 320 000 synapses, float32, 10 000 steps
    (5136004, 320000, 40000)
    """
    item = np.dtype(config.dtype).itemsize
    n, n_steps = config.n_neurons, config.n_steps
    if connectivity is None:
        conn = (n + 1) * 4 + expected_synapses(config) * (_BYTES_PER_ENTRY + item)
    else:
        conn = int(connectivity.indices.size) * item
    n_record = 0 if record is None else int(np.size(record))
    n_vars = len(tuple(record_vars)) if n_record else 0
    out = {
        "connectivity": conn,
        "state": _STATE_ARRAYS * n * item,
        "step_times": n_steps * item,
        "traces": n_steps * n_record * n_vars * item,
        "dense": n_steps * n if dense else 0,
    }
    out["total"] = sum(out.values())
    isi = refractory_steps(config.tau_ref, config.dt)[0]
    out["spikes_max"] = n * -(-n_steps // isi) * _BYTES_PER_SPIKE
    return out


def available_memory() -> int | None:
    """Bytes that can be allocated without swapping, or None when unknown.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux), else the free physical pages
    (``os.sysconf``), lowered to the room left under a cgroup memory limit (containers) when
    there is one. A module-level function, so tests can replace it.

    Returns
    -------
    int or None
        Bytes.

    Examples
    --------
    >>> from refsim.resources import available_memory
    >>> m = available_memory()
    >>> m is None or m >= 0
    True
    """
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):
            return None
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                limit = f.read().strip()
            with open(usage_file) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:  # "max" or a huge number: no limit
            avail = min(avail, max(0, int(limit) - usage))
        break
    return avail


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
                      if v and k not in ("total", "spikes_max"))
    raise ConfigError(f"memory: {what} needs ~{format_bytes(total)} ({parts}) but "
                      f"{format_bytes(avail)} are available: allowed at most the available "
                      f"memory; {hint}")


def check_run(config: Config, record, record_vars, connectivity=None) -> dict[str, int]:
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
    51604
    """
    if connectivity is None:
        synapses = expected_synapses(config)
        if synapses > INDEX_LIMIT:
            raise ConfigError(
                f"p_conn = {config.p_conn!r}: allowed a value giving fewer than 2**31 synapses "
                f"(CSR indices are int32); N = {config.n_neurons} and conn_rule = "
                f"{config.conn_rule!r} give {synapses}")
    items = estimate_memory(config, record, record_vars, connectivity=connectivity)
    check_memory(items, "the run",
                 "record fewer neurons or variables, run a shorter duration (spikes are kept "
                 "sparse, so a long run costs only its spikes) or a smaller network")
    return items
