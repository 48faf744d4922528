"""Files: writes are atomic (an interrupted write keeps the previous file), and files from
elsewhere (connectivity, initial state, results, another simulator's spikes) are checked:
random, truncated, corrupted, ill-typed or pickled content is a ConfigError naming the file
and what is wrong, never another exception and never code run.

Reference values: the documented error messages; the original content of a valid file (a
corrupted byte that is not caught must have hit bytes that do not matter).
"""
import json
import os
import warnings

import numpy as np
import pytest
from helpers import small
from hypothesis import event, given, settings
from hypothesis import strategies as st

import refsim
from refsim import ConfigError, cli
from refsim.io import atomic_write


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_an_interrupted_write_leaves_the_previous_file_intact(tmp_path, exc):
    path = tmp_path / "out.txt"
    path.write_text("previous")

    def failing(tmp):
        with open(tmp, "w") as f:
            f.write("half of the new cont")
        raise exc

    with pytest.raises(exc):
        atomic_write(path, failing)
    assert path.read_text() == "previous" and os.listdir(tmp_path) == ["out.txt"]


def test_result_save_interrupted_inside_numpy_keeps_the_previous_result(tmp_path, monkeypatch):
    r = refsim.simulate(small(), 0, progress=False)
    r.save(tmp_path / "run.npz")

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 truncated")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        r.save(tmp_path / "run.npz")
    monkeypatch.undo()
    back = refsim.SimulationResult.load(tmp_path / "run.npz")
    np.testing.assert_array_equal(back.spike_steps, r.spike_steps)
    assert os.listdir(tmp_path) == ["run.npz"]


def test_saved_files_keep_their_names_and_get_normal_permissions(tmp_path):
    """numpy.savez would append '.npz' to 'run.dat' (and the rename would then move an empty
    file into place); the result and connectivity writers write exactly the name given, with
    the permissions of a newly created file."""
    r = refsim.simulate(small(), 0, progress=False)
    r.save(tmp_path / "run.dat")
    conn = refsim.build_connectivity(small(), 0)
    conn.save(tmp_path / "conn.bin")
    assert sorted(os.listdir(tmp_path)) == ["conn.bin", "run.dat"]
    assert refsim.SimulationResult.load(tmp_path / "run.dat").n_spikes == r.n_spikes
    assert refsim.load_connectivity(tmp_path / "conn.bin", n_exc=40) == conn
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "run.dat").st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------------------------------
# Files from elsewhere
# ---------------------------------------------------------------------------------------

N_FILE, N_EXC_FILE = 5, 3


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    """One valid file of each kind, as bytes, and the objects they hold."""
    d = tmp_path_factory.mktemp("valid")
    cfg = refsim.get_preset("tutorial", n_exc=N_EXC_FILE, n_inh=N_FILE - N_EXC_FILE, duration=2.0, p_conn=0.4)
    conn = refsim.build_connectivity(cfg, 0)
    conn.save(d / "sparse.npz")
    np.savez(d / "targets.npz", targets_e=np.array([[0, 1], [2, 3], [4, 4]]),
             targets_i=np.array([[1, 0], [3, 2]]))
    np.savez(d / "init.npz", V=np.linspace(-60.0, -50.0, N_FILE), g_e=np.zeros(N_FILE))
    res = refsim.simulate(cfg, 0, record=[1], progress=False)
    res.save(d / "result.npz")
    return {k: (d / f"{k}.npz").read_bytes() for k in ("sparse", "targets", "init", "result")}, res


def load_any(kind, path):
    if kind in ("sparse", "targets"):
        return refsim.load_connectivity(path, n_exc=N_EXC_FILE, n_neurons=N_FILE)
    if kind == "init":
        return refsim.load_initial_state(path, n_neurons=N_FILE)
    if kind == "spikes":  # another simulator's spikes (t_ms, i) or a refsim result
        return refsim.compare.load_spikes(path, n_exc=N_EXC_FILE, n_neurons=N_FILE, t_stop_ms=2.0)
    return refsim.SimulationResult.load(path)


KINDS = ["sparse", "targets", "init", "result"]


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@given(st.sampled_from(KINDS + ["spikes"]), st.binary(max_size=300))
def test_random_bytes_are_a_config_error_for_every_loader(tmp_path_factory, kind, data):
    p = write(tmp_path_factory.mktemp("rand"), "x.npz", data)
    with pytest.raises(ConfigError, match=r"file '.*x.npz': cannot be read as .npz"):
        load_any(kind, p)


@given(st.sampled_from(KINDS), st.floats(0.0, 0.999))
def test_truncated_files_are_a_config_error(valid_files, tmp_path_factory, kind, fraction):
    data = valid_files[0][kind]
    p = write(tmp_path_factory.mktemp("trunc"), "t.npz", data[:int(fraction * len(data))])
    with pytest.raises(ConfigError, match=r"file '.*t.npz': "):
        load_any(kind, p)


def same_content(kind, a, b):
    if kind in ("sparse", "targets"):
        return a == b
    if kind == "init":
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    return (np.array_equal(a.spike_steps, b.spike_steps) and np.array_equal(a.spike_neurons, b.spike_neurons)
            and a.config == b.config and a.steps_done == b.steps_done
            and all(np.array_equal(a.traces[k], b.traces[k]) for k in b.traces))


@settings(max_examples=60)
@given(st.sampled_from(KINDS), st.data())
def test_a_corrupted_byte_gives_a_config_error_or_the_original_content(valid_files, tmp_path_factory,
                                                                       kind, data):
    """Property: flipping any bits of any one byte either is caught (bad CRC, broken zip or
    array header: ConfigError) or hit bytes that do not matter (timestamps, padding): then the
    file loads to exactly the original content."""
    original = valid_files[0][kind]
    pos = data.draw(st.integers(0, len(original) - 1))
    flip = data.draw(st.integers(1, 255))
    corrupted = bytearray(original)
    corrupted[pos] ^= flip
    d = tmp_path_factory.mktemp("flip")
    reference = load_any(kind, write(d, "ok.npz", original))
    try:
        got = load_any(kind, write(d, "c.npz", bytes(corrupted)))
    except ConfigError:
        event("refused")
        return
    event("loaded the original content")
    assert same_content(kind, got, reference)


dtypes = st.sampled_from(["bool", "int8", "uint8", "int32", "int64", "uint64", "float16", "float32",
                          "float64", "complex64", "<U2", "S2", "datetime64[s]"])
shapes = st.lists(st.integers(0, 6), max_size=3).map(tuple)


@st.composite
def arrays(draw, hints=((),)):
    """An array of any dtype and shape, half the time of one of the shapes in ``hints``."""
    dt = np.dtype(draw(st.one_of(dtypes, st.sampled_from(["int64", "float64"]))))
    shape = draw(st.one_of(shapes, st.sampled_from(hints)))
    raw = np.asarray(draw(st.lists(st.one_of(st.integers(-8, 8), st.sampled_from([np.nan, np.inf, 1e300])),
                                   min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))),
                     dtype=np.float64).reshape(shape)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dt.kind in "US":
            return raw.astype("<U8").astype(dt)
        if dt.kind == "M":
            return np.nan_to_num(raw, posinf=0, neginf=0).astype("int64").astype(dt)
        if dt.kind in "iub":
            return np.nan_to_num(raw, nan=0, posinf=99, neginf=-99).astype(dt)
        return raw.astype(dt)


NAMES = {"targets": ["targets_e", "targets_i"], "init": ["V", "g_e", "g_i", "t_last"],
         "sparse": ["format", "shape", "data", "indices", "indptr", "row", "col"]}
SHAPE_HINTS = {"targets_e": [(3, 2), (3, 0)], "targets_i": [(2, 2), (2, 0)], "V": [(5,)], "g_e": [(5,)],
               "g_i": [(5,)], "t_last": [(5,)], "format": [()], "shape": [(2,)], "data": [(0,), (2,)],
               "indices": [(0,), (2,)], "indptr": [(6,)], "row": [(0,), (2,)], "col": [(0,), (2,)]}


@settings(max_examples=150)
@given(st.sampled_from(["targets", "init", "sparse", "result"]), st.data())
def test_valid_npz_with_wrong_shapes_dtypes_or_values_is_a_config_error(valid_files, tmp_path_factory,
                                                                        kind, data):
    """Property: a well-formed .npz whose arrays have arbitrary shapes, dtypes (bool, ints,
    floats, complex, strings, datetimes) and values (NaN, inf, out-of-range indices) is refused
    with ConfigError, or is accepted only when it is valid: the loaded object then runs in a
    simulation of the matching 5-neuron network without any other error."""
    d = tmp_path_factory.mktemp("npz")
    if kind == "result":
        with np.load(write(d, "ok.npz", valid_files[0]["result"])) as z:
            content = {k: z[k] for k in z.files}
        name = data.draw(st.sampled_from(sorted(content) + ["junk"]))
        action = data.draw(st.sampled_from(["replace", "drop", "meta"]))
        if action == "replace":
            content[name] = data.draw(arrays([content[name].shape] if name in content else [()]))
        elif action == "drop":
            content.pop(name, None)
        else:
            meta = json.loads(str(content["meta"]))
            key = data.draw(st.sampled_from(sorted(meta)))
            meta[key] = data.draw(st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(),
                                            st.text(max_size=3), st.just({})))
            content["meta"] = np.array(json.dumps(meta))
    else:
        names = data.draw(st.sets(st.sampled_from(NAMES[kind]), min_size=1))
        content = {n: data.draw(arrays(SHAPE_HINTS[n])) for n in names}
        if kind == "sparse" and data.draw(st.booleans()):
            content["format"] = np.array(data.draw(st.sampled_from(["csr", "csc", "coo", "bsr", "xyz"])))
    np.savez(d / "w.npz", **content)
    try:
        loaded = load_any(kind, d / "w.npz")
    except ConfigError as e:
        assert "w.npz" in str(e) or str(e).startswith("n_exc"), str(e)
        event(f"{kind}: refused")
        return
    event(f"{kind}: accepted")
    cfg = refsim.get_preset("tutorial", n_exc=N_EXC_FILE, n_inh=N_FILE - N_EXC_FILE, duration=2.0)
    if kind in ("targets", "sparse"):
        assert loaded.n_neurons == N_FILE and loaded.n_exc == N_EXC_FILE
        r = refsim.simulate(cfg, 0, connectivity=loaded, progress=False)
    elif kind == "init":
        assert all(a.shape == (N_FILE,) and np.isfinite(a).all() for a in loaded.values())
        try:
            r = refsim.simulate(cfg, 0, initial=loaded, progress=False)
        except ConfigError as e:  # finite in float64, not in the run's float32
            assert "infinite in float32" in str(e)
            return
    else:
        r = loaded
        assert r.spike_steps.dtype == np.int64 and np.all(r.spike_steps < r.steps_done)
        assert np.all((0 <= r.spike_neurons) & (r.spike_neurons < r.config.n_neurons))
    assert r.steps_done <= r.config.n_steps


class _Trap:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("kind,names", [("targets", ["targets_e", "targets_i"]), ("init", ["V"]),
                                        ("result", ["meta", "spike_steps", "spike_neurons"])])
def test_pickled_objects_are_refused_without_running_code(tmp_path, kind, names):
    marker = tmp_path / "code-ran"
    obj = np.empty(1, dtype=object)
    obj[0] = _Trap(str(marker))
    np.savez(tmp_path / "p.npz", **{n: obj for n in names})
    with pytest.raises(ConfigError, match=r"holds pickled Python objects, which are never loaded"):
        load_any(kind, tmp_path / "p.npz")
    assert not marker.exists()


@pytest.mark.parametrize("kind,content,message", [
    ("targets", dict(targets_e=np.zeros((3, 2)), targets_i=np.zeros((2, 2), int)),
     "targets_e dtype = float64: allowed an integer type"),
    ("targets", dict(targets_e=np.full((3, 2), 5), targets_i=np.zeros((2, 2), int)),
     "targets_e values: allowed 0 .. 4"),
    # empty arrays of types that cannot be combined (found by the Hypothesis test below)
    ("targets", dict(targets_e=np.zeros((3, 0), bool), targets_i=np.zeros((2, 0), "datetime64[s]")),
     "targets_e dtype = bool: allowed an integer type"),
    ("targets", dict(targets_e=np.zeros((4, 2), int), targets_i=np.zeros((2, 2), int)),
     "targets_e shape = (4, 2) (from its header): allowed (3, any)"),
    ("init", dict(V=np.zeros(4)), "V shape = (4,) (from its header): allowed (5,)"),
    ("init", dict(V=np.r_[np.zeros(4), np.nan]), "V: 1 NaN or infinite values: allowed finite values only"),
    ("init", dict(V=np.zeros(5, complex)), "V dtype = complex128: allowed an integer or floating-point type"),
    ("init", dict(g_e=np.zeros(5)), "arrays ['g_e']: allowed 'V' and optionally"),
    ("sparse", dict(format=np.array("bsr"), shape=np.array([5, 5]), data=np.ones(1), indices=np.zeros(1, int),
                    indptr=np.zeros(6, int)), "format = 'bsr': allowed 'csr', 'csc' or 'coo'"),
    ("sparse", dict(format=np.array("csr"), shape=np.array([5, 5]), data=np.ones(2), indices=np.array([0, 7]),
                    indptr=np.array([0, 2, 2, 2, 2, 2])), "indices values 0 .. 7: allowed 0 .. 4"),
    ("sparse", dict(format=np.array("csr"), shape=np.array([5, 5]), data=np.ones(2), indices=np.array([0, 1]),
                    indptr=np.array([0, 2, 1, 2, 2, 2])),
     "indptr: allowed non-decreasing from 0 to len(data) = 2"),
    ("sparse", dict(format=np.array("csr"), shape=np.array([4, 4]), data=np.ones(0), indices=np.zeros(0, int),
                    indptr=np.zeros(5, int)), "indptr shape = (5,) (from its header): allowed (6,)"),
    ("sparse", dict(format=np.array("coo"), shape=np.array([5, 5]), data=np.array([1.5]),
                    row=np.zeros(1, int),
                    col=np.zeros(1, int)), None),
])
def test_loaders_name_what_is_wrong(tmp_path, kind, content, message):
    np.savez(tmp_path / "f.npz", **content)
    with pytest.raises(ConfigError) as e:
        load_any(kind, tmp_path / "f.npz")
    if message is None:  # counts must be whole numbers of synapses
        assert str(e.value) == ("connectivity entries; largest 1.5: allowed integers 0 .. 2**24 = "
                                "16777216 (synapse counts, exact in float32)")
    else:
        assert str(e.value).startswith(("connectivity file '", "initial-state file '"))
        assert f"f.npz': {message}" in str(e.value), str(e.value)


def test_result_file_with_inconsistent_metadata_is_refused(valid_files, tmp_path):
    with np.load(write(tmp_path, "ok.npz", valid_files[0]["result"])) as z:
        content = {k: z[k] for k in z.files}
    meta = json.loads(str(content["meta"]))
    np.savez(tmp_path / "a.npz", **{**content, "meta": np.array(json.dumps({**meta, "steps_done": 5}))})
    with pytest.raises(ConfigError, match=r"a.npz': complete = True with steps_done = 5 of 20"):
        refsim.SimulationResult.load(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", **{**content, "spike_steps": np.array([5, 2]),
                                    "spike_neurons": np.array([0, 1])})
    with pytest.raises(ConfigError, match=r"b.npz': spike_steps: allowed non-decreasing steps"):
        refsim.SimulationResult.load(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", **{**content, "trace_V": content["trace_V"].astype(np.float64)})
    with pytest.raises(ConfigError, match=r"c.npz': trace_V dtype = float64: allowed float32"):
        refsim.SimulationResult.load(tmp_path / "c.npz")


def test_cli_reports_a_bad_connectivity_file_in_one_line(tmp_path, capsys):
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    assert cli.main(["run", "--connectivity", str(tmp_path / "c.npz"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"refsim: error: connectivity file '{tmp_path / 'c.npz'}': "
                                               "cannot be read as .npz (BadZipFile")



def test_the_peer_network_file_round_trips_and_is_checked(tmp_path):
    """refsim.io.write_network / read_network: the arrays come back as written (the format
    field cannot be overridden by the caller's meta), and a file whose CSR indices point past N
    is refused naming the array."""
    cfg = refsim.get_preset("brette2007-coba", n_exc=8, n_inh=2, p_conn=0.3)  # some synapses
    conn, init = refsim.network_inputs(cfg, seed=1)
    assert conn.indices.size > 10
    path = tmp_path / "network.npz"
    refsim.io.write_network(path, cfg, conn, init, {"seed": 1, "format": "mine"})
    net = refsim.io.read_network(path)
    assert net["meta"]["format"] == refsim.io.NETWORK_FORMAT and net["n_exc"] == 8
    assert np.array_equal(net["indices"], conn.indices) and np.array_equal(net["V"], init["V"])
    with np.load(path) as z:
        arrays = dict(z)
    arrays["indices"] = arrays["indices"] + cfg.n_neurons
    np.savez(path, **arrays)
    with pytest.raises(ConfigError, match=r"network file .*: indices values .*: allowed 0 \.\. 9"):
        refsim.io.read_network(path)
