"""The CUDA engine (``numba.cuda``): the oracle's step order on an NVIDIA GPU, one thread per neuron.

Optional: needs the ``numba-cuda`` package (``pip install refsim[cuda]``) and a GPU, or Numba's
CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), which runs the same kernels as Python.

Design
------
* **Deterministic scatter as a gather.** The connectivity is transposed once: for every
  postsynaptic neuron j its incoming synapses are listed in the order in which the oracle adds
  them (presynaptic row ascending, then the row's stored order; excitatory rows first). Thread
  j sums ``w * count`` over those whose presynaptic neuron spiked, in that order: the same
  floating-point sum as the oracle's ``np.add.at``, with no atomics, identical from run to run.
  It reads every synapse every step (O(synapses) per step, whatever the activity).
* **Kernels per step.** BrainPy's schedule needs one kernel per step: the spike flags of the
  previous step are read from one buffer and this step's written to the other. Brette's
  schedule needs a grid-wide barrier between spiking and delivery: two kernels per step.
* **Spikes** go to a compact device buffer: each spiking thread claims a slot with an atomic
  counter (their order within a step is then arbitrary) and the host sorts every chunk by
  (step, neuron), so the result is deterministic. A chunk that overflows its buffer is re-run
  from the chunk's initial state with a buffer of the size the counter reports.
* **Transfers.** Connectivity is uploaded once per run; the state (4 x N numbers) crosses the
  bus once per chunk of steps (``simulate`` hands the engine chunks for its progress bar,
  Ctrl-C and state checks), spikes and traces once per chunk.
* **Constants are compiled in.** Kernels are built per :class:`~refsim.model.Constants`: the
  tuple of constants the Numba engine passes (:func:`~refsim.engines.numba_engine.kernel_constants`)
  is a closure constant here, so the switches (schedule, integrator, reset, ...) cost nothing
  at run time.
* **The formulas are refsim.model's**, the functions the other engines run, registered with
  numba-cuda as device functions; the kernels below only arrange them per thread under the
  oracle's names (``scatter``, ``integrate_voltage``, ``step_brainpy``, ``step_brette``).

Arithmetic
----------
No ``fastmath``: IEEE division, denormals kept. NVVM contracts ``a * b + c`` into a fused
multiply-add by default even without fastmath; every product that feeds a sum is therefore
written ``mul(a, b)`` (:func:`refsim.elementary.mul`) in :mod:`refsim.model`, which is
libdevice's ``__nv_dmul_rn``/``__nv_fmul_rn`` on a device and never contracted; ``fused_update``
is :func:`refsim.elementary.fma32` (``__fmaf_rn``). ``expm1`` is refsim's own
(:mod:`refsim.elementary`, registered with numba-cuda by :func:`_register_device_functions`): the
same function objects as the CPU engines, built from the same IEEE operations, so a GPU gives
the oracle's bits (``expm1='libm'`` alone means the device's own, libdevice's ``expm1``).

Under the simulator the kernels are Python on NumPy scalars and call the NumPy forms of the
same functions: the arithmetic is the oracle's, so the simulator tests demand identical rasters
and thereby check everything else (indexing, step order, gather order, spike compaction,
chunking).
"""

from __future__ import annotations

import numpy as np
from numba import config as numba_config
from numba import types

try:  # the kernels must see ``cuda`` as a module global: the simulator swaps it there
    from numba import cuda
    from numba.cuda import libdevice
    from numba.cuda.extending import overload as cuda_overload
    from numba.cuda.extending import register_jitable as cuda_register_jitable
except ImportError:  # numba without its CUDA target; require_cuda() says so when asked
    cuda = libdevice = cuda_overload = cuda_register_jitable = None

from .. import elementary as el
from ..elementary import mul
from ..model import (
    FORMULAS,
    Constants,
    advance,
    integrate_conductance,
    membrane_jacobian,
    membrane_rhs,
    refractory,
    reset,
    spike_test,
    step_factor,
)
from ..params import ConfigError
from ..recording import spike_capacity
from ..state import STATE_FIELDS, State
from .numba_engine import kernel_constants
from .numba_primitives import JITTED

__all__ = ["run_steps", "require_cuda", "transpose", "simulator_enabled"]

_THREADS = 128


def require_cuda():
    """``numba.cuda``, or a ConfigError saying what is missing.

    Returns
    -------
    module
        ``numba.cuda`` (the simulator's when ``NUMBA_ENABLE_CUDASIM=1``).

    Raises
    ------
    ConfigError
        numba-cuda is not installed, or no usable GPU (no device or no driver) and no
        simulator.

    Examples
    --------
    >>> import refsim
    >>> from refsim.engines.cuda_engine import require_cuda
    >>> try:                      # a GPU, or NUMBA_ENABLE_CUDASIM=1: numba.cuda; else an error
    ...     usable = require_cuda().__name__ == "numba.cuda"
    ... except refsim.ConfigError:
    ...     usable = False
    """
    if cuda is None:
        raise ConfigError("engine = 'cuda': needs the numba-cuda package "
                          "(pip install 'refsim[cuda]'); `from numba import cuda` failed")
    if not cuda.is_available():
        raise ConfigError("engine = 'cuda': no usable CUDA GPU (numba.cuda.is_available() is "
                          "False: no device or no driver); set NUMBA_ENABLE_CUDASIM=1 to run "
                          "the kernels in Numba's CUDA simulator")
    return cuda


def simulator_enabled() -> bool:
    """Whether Numba's CUDA simulator runs the kernels (``NUMBA_ENABLE_CUDASIM=1``).

    Returns
    -------
    bool
        Numba's ``ENABLE_CUDASIM`` setting, read when Numba was first imported.

    Examples
    --------
    >>> from refsim.engines.cuda_engine import simulator_enabled
    >>> isinstance(simulator_enabled(), bool)
    True
    """
    return bool(numba_config.ENABLE_CUDASIM)


def transpose(indptr, indices, counts, n_exc):
    """The incoming synapses of every neuron, in the order the oracle adds them.

    Returns ``(in_ptr, in_split, in_src, in_cnt)``: neuron j's incoming entries are
    ``in_ptr[j] .. in_ptr[j+1]-1``, excitatory ones (source row < n_exc) before ``in_split[j]``;
    ``in_src`` is the presynaptic row and ``in_cnt`` the synapse count of each entry. A stable
    sort of the CSR entries by target keeps, for each target, the CSR order: rows ascending,
    then each row's stored order.

    Parameters
    ----------
    indptr, indices : ndarray of int
        CSR arrays of the N x N matrix (rows presynaptic).
    counts : ndarray
        Synapses per entry, or empty when every entry is one synapse.
    n_exc : int
        Rows 0 .. n_exc-1 are excitatory.

    Returns
    -------
    in_ptr, in_split, in_src : ndarray of int32
        Shapes (N + 1,), (N,) and (entries,).
    in_cnt : ndarray
        Shape (entries,), the dtype of ``counts``.

    Examples
    --------
    >>> import refsim
    >>> from refsim.engines.cuda_engine import transpose
    >>> conn = refsim.from_index_arrays([[1, 1], [2, 0]], [[0, 1]])   # 0 -> 1 twice, 1 -> 2, 0
    >>> in_ptr, in_split, in_src, in_cnt = transpose(conn.indptr, conn.indices, conn.counts, 2)
    >>> in_ptr.tolist(), in_split.tolist(), in_src.tolist()
    ([0, 2, 5, 6], [1, 4, 6], [1, 2, 0, 0, 2, 1])
    """
    n = indptr.size - 1
    rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr))
    order = np.argsort(indices, kind="stable")
    in_src = rows[order]
    in_cnt = counts[order] if counts.size else np.ones(order.size, counts.dtype)  # unit counts
    in_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(indices, minlength=n), out=in_ptr[1:])
    n_exc_in = np.bincount(indices[rows < n_exc], minlength=n)
    in_split = in_ptr[:-1] + n_exc_in
    return (in_ptr.astype(np.int32), in_split.astype(np.int32), in_src.astype(np.int32),
            np.ascontiguousarray(in_cnt))


_registered = []


def _register_device_functions():
    """Teach numba-cuda the primitives of :mod:`refsim.elementary` as device operations, and
    its algorithms and :mod:`refsim.model`'s formulas as device functions (once per process;
    the simulator needs none of it: there the kernels are Python and call the NumPy forms)."""
    if _registered:
        return
    f32 = types.float32

    @cuda_overload(el.mul, target="cuda")
    def _mul(a, b):  # products that NVVM may not contract into an FMA
        if a == b == f32:
            return lambda a, b: libdevice.fmul_rn(a, b)
        return lambda a, b: libdevice.dmul_rn(types.float64(a), types.float64(b))

    @cuda_overload(el.select, target="cuda")
    def _select(cond, a, b):
        return lambda cond, a, b: a if cond else b

    @cuda_overload(el.trunc, target="cuda")
    def _trunc(x):
        return lambda x: types.float64(types.int32(x))

    @cuda_overload(el.pow2, target="cuda")
    def _pow2(t):
        return lambda t: libdevice.longlong_as_double((types.int64(t) + 1023) << 52)

    @cuda_overload(el.f64, target="cuda")
    def _f64(x):
        return lambda x: types.float64(x)

    @cuda_overload(el.f32, target="cuda")
    def _f32(x):
        return lambda x: types.float32(x)

    @cuda_overload(el.fma32, target="cuda")
    def _fma32(x, y, z):  # float64 is never fused (Config), but both branches are compiled
        if x == y == z == f32:
            return lambda x, y, z: libdevice.fmaf_rn(x, y, z)
        return lambda x, y, z: libdevice.fma_rn(x, y, z)

    for fn in JITTED + FORMULAS:
        cuda_register_jitable(fn)
    _registered.append(True)


def _exprel(c: Constants, sim: bool):
    """exprel of the run's float type and ``expm1`` choice: refsim.elementary's own functions,
    the ones the CPU engines call; ``libm`` means the machine's own expm1 (libdevice's on a
    device, the C library's in the simulator)."""
    if c.expm1 == "portable":
        return el.exprel_f32 if c.dtype == np.float32 else el.exprel_f64
    if c.expm1 == "xla":
        return el.exprel_xla_f32
    if sim:
        return lambda z: el.exprel(z, "libm")
    one = c.one

    @cuda.jit(device=True)
    def exprel_device(z):
        return el.exprel_libm(z, one)
    return exprel_device


def _kernels(c: Constants, sim: bool):
    """Compile the step kernels of one run; constants become compile-time constants."""
    if not sim:
        _register_device_functions()
    exprel = _exprel(c, sim)
    kc = kernel_constants(c)  # a closure constant of every kernel
    n, zero = c.n_neurons, c.dtype.type(0)

    @cuda.jit(device=True)
    def scatter(spiking, lo, hi, w, in_src, in_cnt):
        """The oracle's scatter as a gather: neuron j's input from the spiking sources among
        its incoming entries lo .. hi-1, summed in the oracle's order."""
        x = zero
        for p in range(lo, hi):
            if spiking[in_src[p]]:
                x += mul(w, in_cnt[p])
        return x

    @cuda.jit(device=True)
    def integrate_voltage(v, g_e, g_i):
        """The oracle's integrate_voltage: advance(v, step_factor(J), f)."""
        h = step_factor(membrane_jacobian(g_e, g_i, kc), exprel, kc)
        return advance(v, h, membrane_rhs(v, g_e, g_i, kc), kc)

    @cuda.jit(device=True)
    def record_spike(j, k, out_steps, out_neurons, counter):
        slot = cuda.atomic.add(counter, 0, 1)
        if slot < out_steps.size:
            out_steps[slot] = k
            out_neurons[slot] = j

    @cuda.jit(device=True)
    def record_trace(trace, row, slot, value):
        if slot >= 0 and trace.shape[0] > 0:
            trace[row, slot] = value

    @cuda.jit
    def step_brainpy(V, g_e, g_i, t_last, t_k, k, row, spk_prev, spk_next,
                     in_ptr, in_split, in_src, in_cnt, out_steps, out_neurons, counter,
                     rec_slot, trace_V, trace_g_e, trace_g_i):
        j = cuda.grid(1)
        if j >= n:
            return
        # 1. the previous step's spikes: spk_prev; 2. scatter
        x_e = scatter(spk_prev, in_ptr[j], in_split[j], kc.w_e, in_src, in_cnt)
        x_i = scatter(spk_prev, in_split[j], in_ptr[j + 1], kc.w_i, in_src, in_cnt)
        # 3. conductances
        ge = integrate_conductance(g_e[j], kc.tau_e, kc.r_e, kc.a_e, kc) + x_e
        gi = integrate_conductance(g_i[j], kc.tau_i, kc.r_i, kc.a_i, kc) + x_i
        g_e[j] = ge
        g_i[j] = gi
        # 4. reset
        v = reset(V[j], spk_prev[j], kc)
        # 5.-6. candidate unless clamped
        if not refractory(t_k, t_last[j], kc):
            v = integrate_voltage(v, ge, gi)
        V[j] = v
        # 7. this step's spikes
        s = spike_test(v, kc)
        spk_next[j] = s
        if s:
            t_last[j] = t_k
            record_spike(j, k, out_steps, out_neurons, counter)
        record_trace(trace_V, row, rec_slot[j], v)
        record_trace(trace_g_e, row, rec_slot[j], ge)
        record_trace(trace_g_i, row, rec_slot[j], gi)

    @cuda.jit
    def step_brette_neurons(V, g_e, g_i, t_last, t_k, k, row, spk, out_steps, out_neurons,
                            counter, rec_slot, trace_V):
        j = cuda.grid(1)
        if j >= n:
            return
        # 1.-2. integrate from the old values, unless clamped
        if refractory(t_k, t_last[j], kc):
            v = kc.V_reset
        else:
            v = integrate_voltage(V[j], g_e[j], g_i[j])
        g_e[j] = integrate_conductance(g_e[j], kc.tau_e, kc.r_e, kc.a_e, kc)
        g_i[j] = integrate_conductance(g_i[j], kc.tau_i, kc.r_i, kc.a_i, kc)
        # 3. spikes; 5. reset
        s = spike_test(v, kc)
        spk[j] = s
        v = reset(v, s, kc)
        V[j] = v
        if s:
            t_last[j] = t_k
            record_spike(j, k, out_steps, out_neurons, counter)
        record_trace(trace_V, row, rec_slot[j], v)

    @cuda.jit
    def step_brette_deliver(g_e, g_i, row, spk, in_ptr, in_split, in_src, in_cnt,
                            rec_slot, trace_g_e, trace_g_i):
        j = cuda.grid(1)
        if j >= n:
            return
        # 4. delivered in the same step
        ge = g_e[j] + scatter(spk, in_ptr[j], in_split[j], kc.w_e, in_src, in_cnt)
        gi = g_i[j] + scatter(spk, in_split[j], in_ptr[j + 1], kc.w_i, in_src, in_cnt)
        g_e[j] = ge
        g_i[j] = gi
        record_trace(trace_g_e, row, rec_slot[j], ge)
        record_trace(trace_g_i, row, rec_slot[j], gi)

    return step_brainpy, step_brette_neurons, step_brette_deliver


class _Device:
    """What stays on the device for one run: kernels and the transposed connectivity."""

    def __init__(self, conn, c: Constants):
        require_cuda()
        self.sim = simulator_enabled()
        self.kernels = _kernels(c, self.sim)
        self.conn_key = tuple(id(a) for a in conn)
        self.conn_ref = conn  # keeps the ids valid
        self.c = c
        self.in_arrays = [cuda.to_device(a) for a in transpose(*conn, c.n_exc)]
        self.threads = min(_THREADS, 32 * -(-c.n_neurons // 32)) if self.sim else _THREADS
        self.blocks = -(-c.n_neurons // self.threads)


_cache: dict = {}


def _device_for(conn, c: Constants) -> _Device:
    d = _cache.get("run")
    if d is None or d.conn_key != tuple(id(a) for a in conn) or d.c != c:
        d = _cache["run"] = _Device(conn, c)
    return d


def run_steps(state: State, times, k_start, k_stop, conn, c: Constants, recorder):
    """Steps k_start .. k_stop-1 on the GPU (same contract as the other engines).

    Kernels and the transposed connectivity are kept for the next chunk of the same run.

    Parameters
    ----------
    state : refsim.state.State
        Updated (its arrays replaced) with the state after step k_stop - 1.
    times, k_start, k_stop, conn, c, recorder
        As for :func:`refsim.engines.numpy_engine.run_steps`.

    Raises
    ------
    ConfigError
        No numba-cuda, or no usable GPU and no simulator (:func:`require_cuda`).

    Examples
    --------
    >>> import numpy as np, refsim
    >>> from refsim.engines import cuda_engine, engine_inputs, numpy_engine
    >>> from refsim.recording import Recorder
    >>> config = refsim.get_preset("brette2007-coba", n_exc=8, n_inh=2, duration=1.0)
    >>> connectivity, state = refsim.network.draw_network(config, 0)
    >>> c, times, conn = engine_inputs(config, connectivity)
    >>> try:
    ...     cuda = cuda_engine.require_cuda()
    ...     run_steps = cuda_engine.run_steps
    ... except refsim.ConfigError:          # no GPU and no simulator: the oracle stands in
    ...     run_steps = numpy_engine.run_steps
    >>> a, b = state.copy(), state.copy()
    >>> run_steps(a, times, 0, config.n_steps, conn, c, Recorder(config.n_steps, [], (), c.dtype))
    >>> numpy_engine.run_steps(b, times, 0, config.n_steps, conn, c,
    ...                        Recorder(config.n_steps, [], (), c.dtype))
    >>> np.array_equal(a.V, b.V), np.array_equal(a.g_e, b.g_e)
    (True, True)
    """
    require_cuda()
    d = _device_for(conn, c)
    capacity = spike_capacity(c.n_neurons, k_stop - k_start)
    while True:
        steps, neurons, traces, new_state, count = _run_chunk(d, state, times, k_start, k_stop,
                                                              c, recorder, capacity)
        if count <= capacity:
            break
        capacity = count  # overflow: re-run the chunk from its initial state, large enough
    for name, value in new_state.items():
        setattr(state, name, value)
    order = np.lexsort((neurons, steps))
    block = recorder.trace_block(k_start, k_stop)
    # the device traces one column per distinct neuron; a neuron recorded twice gets its column
    # twice
    _, column = np.unique(recorder.record_neurons, return_inverse=True)
    for name, trace in traces.items():
        block[name][:] = trace[:, column]
    recorder.add_block(steps[order], neurons[order], k_stop)


def _run_chunk(d: _Device, state, times, k_start, k_stop, c, recorder, capacity):
    n = c.n_neurons
    V, g_e, g_i, t_last = (cuda.to_device(np.ascontiguousarray(getattr(state, name), c.dtype))
                           for name in STATE_FIELDS)
    spk = [cuda.to_device(spike_test(state.V, c)),
           cuda.device_array(n, np.bool_)]
    out_steps = cuda.device_array(capacity, np.int32)
    out_neurons = cuda.device_array(capacity, np.int32)
    counter = cuda.to_device(np.zeros(1, np.int32))
    recorded = np.unique(recorder.record_neurons)  # ascending: the columns run_steps expands
    rec_slot = np.full(n, -1, np.int32)
    rec_slot[recorded] = np.arange(recorded.size, dtype=np.int32)
    rec_slot = cuda.to_device(rec_slot)
    n_rec = recorded.size
    traced = recorder.record_vars
    traces = {name: cuda.to_device(np.zeros((k_stop - k_start, n_rec) if name in traced
                                            else (0, 0), c.dtype))
              for name in ("V", "g_e", "g_i")}
    step_brainpy, brette_neurons, brette_deliver = d.kernels
    grid = (d.blocks, d.threads)
    for k in range(k_start, k_stop):
        row = k - k_start
        t_k = times[k]
        if c.brainpy_schedule:
            step_brainpy[grid](V, g_e, g_i, t_last, t_k, k, row, spk[0], spk[1], *d.in_arrays,
                               out_steps, out_neurons, counter, rec_slot,
                               traces["V"], traces["g_e"], traces["g_i"])
            spk.reverse()
        else:
            brette_neurons[grid](V, g_e, g_i, t_last, t_k, k, row, spk[0], out_steps,
                                 out_neurons, counter, rec_slot, traces["V"])
            brette_deliver[grid](g_e, g_i, row, spk[0], *d.in_arrays, rec_slot,
                                 traces["g_e"], traces["g_i"])
    count = int(counter.copy_to_host()[0])
    kept = min(count, capacity)
    new_state = {"V": V.copy_to_host(), "g_e": g_e.copy_to_host(), "g_i": g_i.copy_to_host(),
                 "t_last": t_last.copy_to_host()}
    return (out_steps[:kept].copy_to_host() if kept else np.zeros(0, np.int32),
            out_neurons[:kept].copy_to_host() if kept else np.zeros(0, np.int32),
            {name: traces[name].copy_to_host() for name in traced},
            new_state, count)
