"""Files a hostile or careless user hands refsim: special files (devices, FIFOs, directories),
archives whose headers claim more than they hold, and well-formed files that hold a state
no run can reach. Every loader refuses them with a ConfigError naming the file and what is
allowed, before it allocates or blocks.

Reference values: the documented messages of refsim.io; the model's invariants (a neuron
fires at most once per refractory period, t_last is the time of its last spike, a kept state
is finite); deflate's 1032:1 expansion limit.
"""
import io
import json
import os
import socket
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

import refsim
from refsim import ConfigError
from refsim.compare import load_spikes
from refsim.io import read_network

N = 10


@pytest.fixture(scope="module")
def run():
    """A 10-neuron tutorial run with spikes, recorded neuron 1, and its saved arrays."""
    cfg = refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=60.0)
    res = refsim.simulate(cfg, 0, record=[1], progress=False, engine="numpy")
    assert res.n_spikes > 10 and len(set(res.spike_neurons.tolist())) == N
    return res


def saved_arrays(res, tmp_path):
    res.save(tmp_path / "ok.npz")
    with np.load(tmp_path / "ok.npz") as z:
        return {k: z[k] for k in z.files}


LOADERS = {
    "connectivity": lambda p: refsim.load_connectivity(p, n_exc=8, n_neurons=N),
    "initial-state": lambda p: refsim.load_initial_state(p, n_neurons=N),
    "result": refsim.SimulationResult.load,
    "spike": lambda p: load_spikes(p, n_exc=8, n_neurons=N, t_stop_ms=10.0),
    "network": read_network,
}


def special_files(tmp_path):
    """Paths that are not regular files, each with the kind the message must name."""
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    (tmp_path / "zero.npz").symlink_to("/dev/zero")
    (tmp_path / "fifo-link.npz").symlink_to(fifo)
    (tmp_path / "dir.npz").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock.npz"))
    return {"fifo.npz": "a FIFO (named pipe)", "zero.npz": "a character device",
            "fifo-link.npz": "a FIFO (named pipe)", "dir.npz": "a directory",
            "sock.npz": "a socket"}, sock


@pytest.mark.parametrize("loader", LOADERS)
def test_every_loader_refuses_what_is_not_a_regular_file(tmp_path, loader):
    """Symlinks to /dev/zero (zipfile would search it for an end record forever, eating
    memory), FIFOs (open blocks until a writer comes), directories and sockets are refused
    by kind, before they are read."""
    kinds, sock = special_files(tmp_path)
    try:
        for name, kind in kinds.items():
            with pytest.raises(ConfigError) as e:
                LOADERS[loader](tmp_path / name)
            assert f"{name}': {kind}: allowed a regular file" in str(e.value), str(e.value)
    finally:
        sock.close()


@pytest.mark.parametrize("argv", [
    ["run", "--connectivity", "{fifo}"], ["run", "--initial-state", "{fifo}"],
    ["run", "--connectivity", "{zero}"], ["compare", "{fifo}", "{zero}"],
])
def test_the_cli_refuses_special_files_without_hanging(tmp_path, argv):
    """Through the command line, in a fresh process that must end within 60 s: exit 2 and
    one line naming the file (a FIFO used to hang forever, /dev/zero to take all memory)."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    args = [a.format(fifo=tmp_path / "fifo", zero=tmp_path / "zero") for a in argv]
    out = subprocess.run([sys.executable, "-m", "refsim", *args, "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("refsim: error: ") and "allowed a regular file" in out.stderr
    assert out.stderr.count("\n") == 1 and not (tmp_path / "o").exists()


def npz_with_header(path, name, shape, dtype="<f8", data=b"", compress=zipfile.ZIP_STORED,
                    others=None):
    """An .npz whose member ``name`` has an .npy header claiming ``shape`` followed by ``data``."""
    header = {"descr": dtype, "fortran_order": False, "shape": tuple(shape)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w", compress) as zf:
        zf.writestr(name + ".npy", buf.getvalue() + data)
        for k, v in (others or {}).items():
            b = io.BytesIO()
            np.save(b, v)
            zf.writestr(k + ".npy", b.getvalue())
    return path


def test_a_header_claiming_more_than_the_file_holds_is_refused_unread(tmp_path):
    """A 100-byte stored member whose header claims 8 GB: refused from the header, with no
    allocation (NumPy would allocate the whole array before finding the data short)."""
    p = npz_with_header(tmp_path / "v.npz", "V", (10**9,), data=b"\0" * 100)
    tracemalloc.start()
    with pytest.raises(ConfigError, match=r"V header claims 7.45 GiB of data in .*: allowed at most "
                                          r"1 bytes per stored byte"):
        refsim.load_initial_state(p)      # no length asked: only the header's own bound
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 * 2**20, peak


def test_a_deflated_member_cannot_claim_more_than_deflate_can_expand_to(tmp_path):
    """Deflate expands one byte to at most 1032: a member claiming more is refused unread."""
    p = npz_with_header(tmp_path / "v.npz", "V", (10**7,), data=b"\0" * 1000,
                        compress=zipfile.ZIP_DEFLATED)
    with pytest.raises(ConfigError, match=r"allowed at most 1032 bytes per stored byte"):
        refsim.load_initial_state(p)


def test_a_result_array_of_the_wrong_shape_is_refused_from_its_header(run, tmp_path):
    """A 40 MB zero array compresses to about 40 kB: before, the loader allocated it (2 GB
    for a 2 MB file) and only then found its shape wrong. The shapes a result's arrays may
    have follow from its metadata: a final state has N values, a trace steps_done x
    recorded neurons, the spikes at most N x steps_done / shortest ISI."""
    arrays = saved_arrays(run, tmp_path)
    cases = {"final_V": ((5_000_000,), "allowed (10,)"),
             "trace_V": ((600, 5000), "allowed (600, 1)"),
             "spike_steps": ((5_000_000,), "allowed (0 .. ")}
    for key, (shape, allowed) in cases.items():
        bad = dict(arrays, **{key: np.zeros(shape, arrays[key].dtype)})
        np.savez_compressed(tmp_path / "bad.npz", **bad)
        assert os.path.getsize(tmp_path / "bad.npz") < 1e6
        tracemalloc.start()
        with pytest.raises(ConfigError) as e:
            refsim.SimulationResult.load(tmp_path / "bad.npz")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert f"{key} shape = {shape} (from its header): {allowed}" in str(e.value), str(e.value)
        assert peak < 20 * 2**20, (key, peak)


def test_arrays_larger_than_the_available_memory_are_refused_from_their_headers(tmp_path, monkeypatch):
    """The memory check adds the bytes the headers say the arrays take (not the zip's
    declared sizes) and compares them with the memory available."""
    np.savez_compressed(tmp_path / "v.npz", V=np.zeros(100_000))
    monkeypatch.setattr(refsim.io, "available_memory", lambda: 500_000)
    with pytest.raises(ConfigError, match=r"arrays of 781 KiB: allowed at most the 488 KiB of "
                                          "memory available"):
        refsim.load_initial_state(tmp_path / "v.npz")
    monkeypatch.setattr(refsim.io, "available_memory", lambda: 800_001)
    assert refsim.load_initial_state(tmp_path / "v.npz")["V"].size == 100_000


# -- well-formed files holding a state no run reaches -------------------------------------

def test_a_result_with_a_spike_twice_in_one_step_is_refused(run, tmp_path):
    """A (step, neuron) pair twice cannot come from a run: each neuron spikes at most once
    per step."""
    arrays = saved_arrays(run, tmp_path)
    steps, neurons = arrays["spike_steps"], arrays["spike_neurons"]
    for k in (0, steps.size // 2, steps.size - 1):
        np.savez(tmp_path / "bad.npz", **dict(arrays, spike_steps=np.insert(steps, k, steps[k]),
                                               spike_neurons=np.insert(neurons, k, neurons[k])))
        with pytest.raises(ConfigError, match=rf"neuron {neurons[k]} spikes twice in step {steps[k]} "
                                              r"\(1 such pairs\): allowed each \(step, neuron\) pair once"):
            refsim.SimulationResult.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("case", ["soft reset above threshold", "runaway", "non-finite"])
def test_every_result_refsim_writes_loads_back(tmp_path, case):
    """The loader's checks hold for every run refsim makes: with the tutorial's soft reset a
    neuron started far above threshold fires on consecutive steps; a runaway run fires at
    the refractory limit; a non-finite stop keeps the steps before it."""
    cfg = refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=20.0)
    initial = None
    if case == "soft reset above threshold":
        initial = {"V": np.r_[0.0, np.full(N - 1, -60.0)]}
    elif case == "runaway":
        cfg = cfg.replace(RI_ext=1e4)
    else:
        initial = {"V": np.full(N, -60.0), "g_e": np.r_[3e38, np.zeros(N - 1)]}
    res = refsim.simulate(cfg, 0, initial=initial, progress=False, engine="numpy")
    if case == "soft reset above threshold":
        gaps = np.diff(res.spike_steps[res.spike_neurons == 0])
        assert gaps.size and gaps.min() == 1            # spikes on consecutive steps
    else:
        assert res.stop_reason == case
    res.save(tmp_path / "r.npz")
    back = refsim.SimulationResult.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.spike_steps, res.spike_steps)
    assert back.steps_done == res.steps_done and back.stop_reason == res.stop_reason


def test_a_result_with_a_non_finite_or_impossible_final_state_is_refused(run, tmp_path):
    """A kept state is finite (a run stops before its first non-finite step); the final
    t_last is each neuron's last spike time, never later than the run."""
    arrays = saved_arrays(run, tmp_path)
    assert refsim.SimulationResult.load(tmp_path / "ok.npz").complete
    t_last = arrays["final_t_last"]
    variants = {
        "final_V all NaN": dict(final_V=np.full_like(arrays["final_V"], np.nan)),
        "final_g_i inf": dict(final_g_i=np.r_[arrays["final_g_i"][:-1], np.inf].astype(t_last.dtype)),
        "t_last in the future": dict(final_t_last=(t_last + 100).astype(t_last.dtype)),
        "t_last one step off": dict(final_t_last=np.r_[t_last[0] - 0.1, t_last[1:]].astype(t_last.dtype)),
    }
    for name, change in variants.items():
        np.savez(tmp_path / "bad.npz", **dict(arrays, **change))
        with pytest.raises(ConfigError) as e:
            refsim.SimulationResult.load(tmp_path / "bad.npz")
        expected = ("NaN or infinite values: allowed finite values only" if "t_last" not in name
                    else "allowed the time of the neuron's last spike")
        assert expected in str(e.value), (name, str(e.value))


@pytest.mark.parametrize("t_last, ok", [(0.0, True), (-3.5, True), (0.1, False), (1e6, False)])
def test_an_initial_t_last_after_the_start_is_refused(tmp_path, t_last, ok):
    """An initial state is the state at t = 0: a neuron cannot have spiked after it. Refused
    from a file (--initial-state) and from simulate(initial=...) alike."""
    values = np.full(N, T_LAST_DEFAULT)
    values[3] = t_last
    np.savez(tmp_path / "init.npz", V=np.full(N, -60.0), t_last=values)
    cfg = refsim.get_preset("tutorial", n_exc=8, n_inh=2, duration=1.0)
    given = {"V": np.full(N, -60.0), "t_last": values}
    if ok:
        assert refsim.load_initial_state(tmp_path / "init.npz", n_neurons=N)["t_last"][3] == t_last
        assert refsim.simulate(cfg, 0, initial=given, progress=False, engine="numpy").complete
        return
    lowest = refsim.state.T_LAST_INIT      # -1e7 ms, printed as -10000000.0
    with pytest.raises(ConfigError, match=rf"init.npz': t_last values {lowest} .. {t_last}: allowed <= 0$"):
        refsim.load_initial_state(tmp_path / "init.npz", n_neurons=N)
    with pytest.raises(ConfigError, match=r"initial state t_last: 1 values > 0 ms \(first at neuron "
                                          r"3: .*\): allowed spike times <= 0 ms"):
        refsim.simulate(cfg, 0, initial=given, progress=False, engine="numpy")


T_LAST_DEFAULT = refsim.state.T_LAST_INIT


@pytest.mark.parametrize("count, ok", [(1.0, True), (2.0**24, True), (2.0**24 + 1, False), (1e300, False),
                                       (-1.0, False), (0.5, False)])
def test_synapse_counts_are_whole_and_exact_in_float32(tmp_path, count, ok):
    """A count of 1e300 synapses became inf in a float32 run; counts above 2**24 are not
    exact in float32. The limit holds for files and for matrices given in memory."""
    import scipy.sparse as sp
    m = sp.csr_matrix((np.array([count, 1.0]), np.array([1, 0]), np.array([0, 1, 2] + [2] * 8)),
                      shape=(N, N))
    sp.save_npz(tmp_path / "c.npz", m)
    if ok:
        assert refsim.load_connectivity(tmp_path / "c.npz", n_exc=8).counts[0] == count
        return
    for attempt in (lambda: refsim.load_connectivity(tmp_path / "c.npz", n_exc=8),
                    lambda: refsim.from_sparse(m, n_exc=8)):
        with pytest.raises(ConfigError, match=r"connectivity entries.*: allowed integers 0 .. 2\*\*24 "
                                              r"= 16777216"):
            attempt()


def test_meta_of_a_peer_spike_file_must_have_the_right_types(tmp_path):
    """``n_exc: true`` was read as 1 and ``n_neurons: 500.9`` as 500."""
    base = {"n_neurons": N, "n_exc": 8, "duration_ms": 10.0}
    variants = [("n_exc", True), ("n_neurons", 500.9), ("duration_ms", "10"), ("duration_ms", -1.0),
                ("n_exc", None)]
    for key, value in variants:
        meta = dict(base, **{key: value})
        np.savez(tmp_path / "s.npz", t_ms=np.array([1.0]), i=np.array([0]), meta=json.dumps(meta))
        with pytest.raises(ConfigError, match=rf"s.npz': {key} = {value!r}: allowed "):
            load_spikes(tmp_path / "s.npz")
    np.savez(tmp_path / "s.npz", t_ms=np.array([1.0]), i=np.array([0]), meta=json.dumps(base))
    assert load_spikes(tmp_path / "s.npz").n_exc == 8


@pytest.mark.parametrize("meta, message", [
    ({"n_neurons": 10**12}, "n_neurons = 1000000000000: allowed at most 2**31 - 1"),
    ({"n_neurons": 2**31 - 1}, "memory: the statistics of npz spike file"),
    ({"duration_ms": 1e308}, "memory: the statistics of npz spike file"),
])
def test_peer_sizes_that_cannot_be_analysed_are_refused(tmp_path, monkeypatch, meta, message):
    """``n_neurons: 10**12`` gave a MemoryError traceback, ``duration_ms: 1e308`` a raw
    ValueError: the sizes are bounded, and what the statistics need is checked against the
    memory available (8 GiB here, whatever the machine has), before anything is allocated."""
    monkeypatch.setattr(refsim.resources, "available_memory", lambda: 8 * 2**30)
    full = {"n_neurons": N, "n_exc": 8, "duration_ms": 10.0, **meta}
    np.savez(tmp_path / "s.npz", t_ms=np.array([1.0]), i=np.array([0]), meta=json.dumps(full))
    with pytest.raises(ConfigError) as e:
        load_spikes(tmp_path / "s.npz")
    assert message in str(e.value), str(e.value)
