"""refsim.formats: every reader on files its simulator wrote, every writer round-tripped, the
exact network through SONATA byte for byte, and hostile files refused cleanly.

h5py, pynwb, neo and libsonata come with the test extra, so every reader and writer runs in
CI. Reference files: tests/data/formats/, written by validation/format_fixtures.py with NEST 3.10
(ASCII backend in ms and in steps, 2 virtual processes, and the memory backend), Brian2 2.11
(SpikeMonitor.get_states, as .npz and .csv) and bmtk 1.2 (SpikeTrains.to_sonata, two
populations); each ``*_provenance.json`` says what wrote it. Expected values come from those
files' own independent content (NEST's memory events against its ASCII files, bmtk's
regenerated draws), never from refsim's reader itself.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import libsonata
import neo
import numpy as np
import pynwb
import pytest
import scipy.sparse as sp

import refsim
import refsim.cli
from refsim import formats
from refsim.analysis import SpikeTrains, as_spike_trains
from refsim.params import ConfigError

DATA = Path(__file__).parent / "data" / "formats"


def provenance(mode):
    return json.loads((DATA / f"{mode}_provenance.json").read_text())


def sizes(mode):
    p = provenance(mode)
    return dict(n_neurons=p["n_neurons"], n_exc=p["n_exc"], t_stop_ms=p["duration_ms"], dt_ms=p["dt_ms"])


def same(a: SpikeTrains, b: SpikeTrains) -> bool:
    return (np.array_equal(a.times_ms, b.times_ms) and np.array_equal(a.neurons, b.neurons)
            and (a.n_neurons, a.n_exc, a.t_stop_ms) == (b.n_neurons, b.n_exc, b.t_stop_ms))


@pytest.fixture(scope="module")
def run():
    """A 400-neuron run with spikes on every kind of step (E and I fire; > 100 spikes)."""
    r = refsim.simulate(refsim.get_preset("tutorial-normalized", n_exc=320, n_inh=80, duration=200.0),
                        seed=1, progress=False)
    assert r.n_spikes > 100 and r.spike_neurons.min() < 320 <= r.spike_neurons.max()
    return r


# -- readers on the peers' own files ------------------------------------------------------

def test_nest_ascii_in_ms_and_in_steps_and_memory_events_are_the_same_spikes():
    """NEST 3.10 wrote the same run three ways: ASCII in ms (2 virtual-process files, merged
    from either one), ASCII in steps, and the memory backend's events (npz and JSON). All
    five readings are identical, hold every event NEST counted, map NEST's 1-based ids to
    0 .. N-1 and shift NEST's end-of-step stamps by -dt onto refsim's step grid."""
    p, kw = provenance("nest"), sizes("nest")
    files = ["nest_ms-41-0.dat", "nest_ms-41-1.dat", "nest_steps-42-0.dat", "nest_events.npz",
             "nest_events.json"]
    got = [formats.read_spikes(DATA / f, **kw) for f in files]
    assert [formats.detect_format(DATA / f) for f in files] == ["nest-ascii"] * 3 + ["nest-memory"] * 2
    for s in got[1:]:
        assert same(s, got[0])
    assert got[0].times_ms.size == p["n_spikes"] == 1500
    with np.load(DATA / "nest_events.npz") as z:   # NEST's own events, converted by hand
        senders, times = z["senders"], z["times"]
    steps = np.rint(times / p["dt_ms"]).astype(int) - 1
    order = np.lexsort((senders, steps))
    np.testing.assert_array_equal(got[0].neurons, senders[order] - 1)
    np.testing.assert_array_equal(got[0].times_ms, steps[order] * p["dt_ms"])
    # both virtual processes' files contributed
    lines = [len((DATA / f"nest_ms-41-{vp}.dat").read_text().splitlines()) - 3 for vp in (0, 1)]
    assert min(lines) > 0 and sum(lines) == 1500


def test_nest_files_need_dt_and_contiguous_ids():
    """Without dt an end-of-step stamp cannot become a step start: a clear error; ids
    outside the N neurons (a recorder on 40 nodes read as 39) are refused; first_id and
    node_ids move the mapping."""
    kw = sizes("nest")
    with pytest.raises(ConfigError, match="dt_ms: required .* stamps a spike with the end of its step"):
        formats.read_spikes(DATA / "nest_events.npz", **{**kw, "dt_ms": None})
    with pytest.raises(ConfigError, match=r"ids outside 1 .. 39 .*allowed the N = 39 neurons' ids"):
        formats.read_spikes(DATA / "nest_events.npz", **{**kw, "n_neurons": 39, "n_exc": 30})
    base = formats.read_spikes(DATA / "nest_events.npz", **kw)
    shifted = formats.read_spikes(DATA / "nest_events.npz", **{**kw, "n_neurons": 41}, first_id=0)
    np.testing.assert_array_equal(shifted.neurons, base.neurons + 1)
    reverse = formats.read_spikes(DATA / "nest_events.npz", **kw, node_ids=np.arange(40, 0, -1))
    np.testing.assert_array_equal(np.sort(reverse.neurons), np.sort(39 - base.neurons))


def test_a_directory_of_two_nest_recorders_is_ambiguous(tmp_path):
    """The fixture directory holds two recorders' files: reading the directory is refused
    (which one?); a directory of one recorder's files reads as that recorder."""
    with pytest.raises(ConfigError, match="2 NEST recorders' .dat files"):
        formats.read_spikes(DATA, format="nest-ascii", **sizes("nest"))
    for vp in (0, 1):
        shutil.copy(DATA / f"nest_ms-41-{vp}.dat", tmp_path)
    assert formats.detect_format(tmp_path) == "nest-ascii"
    assert same(formats.read_spikes(tmp_path, **sizes("nest")),
                formats.read_spikes(DATA / "nest_ms-41-0.dat", **sizes("nest")))


def test_brian2_spike_monitor_npz_and_csv_are_the_same_spikes():
    """Brian2 2.11's SpikeMonitor (get_states, seconds, 0-based) as .npz and as .csv: the same
    spikes, every one the monitor counted, at 1000 x t ms on refsim's step grid."""
    p, kw = provenance("brian2"), sizes("brian2")
    a = formats.read_spikes(DATA / "brian2_spikes.npz", **kw)
    b = formats.read_spikes(DATA / "brian2_spikes.csv", **kw)
    assert formats.detect_format(DATA / "brian2_spikes.csv") == "brian2" and same(a, b)
    assert a.times_ms.size == p["n_spikes"] == 427
    with np.load(DATA / "brian2_spikes.npz") as z:
        t_s, i = z["t"], z["i"]
    np.testing.assert_array_equal(a.times_ms, np.rint(t_s * 1000 / 0.1) * 0.1)
    np.testing.assert_array_equal(a.neurons, i)


def test_sonata_spikes_written_by_bmtk_read_as_two_populations():
    """bmtk 1.2 wrote populations E (ids 0 .. 31) and I (0 .. 7) with a string ``sorting``.
    Read as 'E,I', I's ids follow E's; the spikes are those bmtk was given (regenerated here
    from the fixture's seed, validation/format_fixtures.py)."""
    kw = sizes("bmtk")
    with pytest.raises(ConfigError, match=r"populations \['E', 'I'\] mixed in one file"):
        formats.read_spikes(DATA / "bmtk_spikes.h5", **kw)
    s = formats.read_spikes(DATA / "bmtk_spikes.h5", population="E,I", **kw)
    rng = np.random.default_rng(3)
    ids, times = [], []
    for offset, size in ((0, 32), (32, 8)):
        n = 5 * size
        ids.append(rng.integers(0, size, n) + offset)
        times.append(np.round(rng.uniform(0.0, 200.0, n) / 0.1) * 0.1)
    ids, times = np.concatenate(ids), np.rint(np.concatenate(times) / 0.1) * 0.1
    order = np.lexsort((ids, times))
    np.testing.assert_array_equal(s.neurons, ids[order])
    np.testing.assert_array_equal(s.times_ms, times[order])
    e = formats.read_spikes(DATA / "bmtk_spikes.h5", population="E", n_neurons=32, n_exc=32,
                            t_stop_ms=200.0)
    assert e.times_ms.size == 160 == provenance("bmtk")["n_spikes_by_population"]["E"]


def test_nwb_units_table_written_with_pynwb_directly(tmp_path):
    """An NWB file made with pynwb the way a user does (not refsim's writer): spike_times in
    seconds per unit, a population column, obs_intervals; read as ms, n_exc and the
    duration from the file."""
    import datetime
    nwb = pynwb.NWBFile(session_description="peer", identifier="x",
                        session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    nwb.add_unit_column("population", "E or I")
    trains = [[0.0012, 0.0105], [], [0.0031]]
    for k, train in enumerate(trains):
        nwb.add_unit(spike_times=train, obs_intervals=[[0.0, 0.05]], population="EEI"[k])
    with pynwb.NWBHDF5IO(str(tmp_path / "u.nwb"), "w") as io:
        io.write(nwb)
    assert formats.detect_format(tmp_path / "u.nwb") == "nwb"
    s = formats.read_spikes(tmp_path / "u.nwb", dt_ms=0.1)
    assert (s.n_neurons, s.n_exc, s.t_stop_ms) == (3, 2, 50.0)
    np.testing.assert_array_equal(s.times_ms, np.array([12, 31, 105]) * 0.1)
    np.testing.assert_array_equal(s.neurons, [0, 2, 0])


# -- round trips ------------------------------------------------------------------------

WRITABLE = [k for k, f in formats.FORMATS.items() if f.write is not None]
EXTENSION = {"npz": "npz", "nest-ascii": "dat", "nest-memory": "json", "brian2": "csv",
             "brainpy": "npz", "genn": "npz", "sonata": "h5", "nwb": "nwb"}


@pytest.mark.parametrize("fmt", WRITABLE)
def test_every_writer_round_trips_a_run_exactly(run, tmp_path, fmt):
    """refsim -> format -> refsim gives the identical SpikeTrains (times bit for bit: times in
    seconds or with 3 decimals come back onto refsim's grid k * dt), and detection names the
    format (brainpy and genn .npz files by their arrays)."""
    path = tmp_path / f"spikes.{EXTENSION[fmt]}"
    assert formats.write_spikes(run, path, format=fmt) == fmt
    assert formats.detect_format(path) == fmt
    kw = dict(n_neurons=400, n_exc=320, t_stop_ms=200.0, dt_ms=0.1)
    assert same(formats.read_spikes(path, **kw), as_spike_trains(run))
    assert same(formats.read_spikes(path, format=fmt, **kw), as_spike_trains(run))


def test_the_result_file_reads_as_its_spikes(run, tmp_path):
    """A refsim result (SimulationResult.save) reads as as_spike_trains of the run, sizes
    and dt from its config."""
    run.save(tmp_path / "run.npz")
    assert formats.detect_format(tmp_path / "run.npz") == "refsim"
    assert same(formats.read_spikes(tmp_path / "run.npz"), as_spike_trains(run))


def test_neo_round_trip_and_trains_made_by_hand(run):
    """to_neo/from_neo is the identity; trains a user builds with units of seconds read as ms;
    population annotations that put an I neuron before an E one are refused."""
    block = formats.to_neo(as_spike_trains(run))
    assert len(block.segments[0].spiketrains) == 400
    assert same(formats.from_neo(block, dt_ms=0.1), as_spike_trains(run))
    trains = [neo.SpikeTrain([0.0015, 0.0021], t_stop=0.01, units="s"),
              neo.SpikeTrain([], t_stop=0.01, units="s")]
    s = formats.from_neo(trains, n_exc=1, dt_ms=0.1)
    np.testing.assert_array_equal(s.times_ms, np.array([15, 21]) * 0.1)
    assert (s.n_neurons, s.t_stop_ms) == (2, 10.0)
    for train, pop in zip(trains, "IE", strict=True):   # an I neuron before an E one
        train.annotate(population=pop)
    with pytest.raises(ConfigError, match="allowed E neurons first, then I"):
        formats.from_neo(trains)


def test_convert_cli_chains_formats_without_loss(run, tmp_path):
    """refsim convert: Brian2 csv -> SONATA -> NEST ASCII -> refsim's npz, identical at the end."""
    formats.write_spikes(run, tmp_path / "a.csv")
    steps = [("a.csv", "b.h5"), ("b.h5", "c.dat"), ("c.dat", "d.npz")]
    for src, dst in steps:
        args = ["convert", str(tmp_path / src), str(tmp_path / dst), "--n-neurons", "400",
                "--n-exc", "320", "--t-stop", "200", "--dt", "0.1"]
        assert refsim.cli.main(args) == 0
    assert same(formats.read_spikes(tmp_path / "d.npz"), as_spike_trains(run))


# -- the network and the parameters -----------------------------------------------------

def multapse_network():
    """12 neurons (9 E), duplicate entries and entries counting 2 and 3 synapses."""
    indptr = np.array([0, 3, 5, 5, 8, 9, 11, 12, 14, 15, 17, 18, 20])
    indices = np.array([1, 1, 4, 0, 7, 2, 2, 2, 11, 3, 10, 0, 5, 5, 9, 6, 6, 8, 0, 1])
    counts = np.array([1, 2, 1, 1, 3, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1], float)
    return refsim.Connectivity(sp.csr_matrix((counts, indices, indptr), shape=(12, 12)), n_exc=9)


@pytest.mark.parametrize("which", ["multapses", "preset"])
def test_sonata_network_round_trip_is_byte_identical(tmp_path, which):
    """Export -> import gives the identical CSR (indptr, indices, counts: dtype and bytes),
    initial state and Config; libsonata (when installed) reads the same edges, efferent and
    afferent, and the weights in nS with NEST's sign."""
    config = refsim.get_preset("tutorial-normalized", n_exc=9, n_inh=3) if which == "multapses" else \
        refsim.get_preset("brette2007-coba", n_exc=160, n_inh=40)
    conn, initial = refsim.network_inputs(config, seed=2)
    if which == "multapses":
        conn = multapse_network()
        assert not conn.unit_counts and np.any(np.diff(conn.indices[:2]) == 0)
    formats.write_sonata_network(tmp_path, config, conn, initial, {"seed": 2})
    config2, conn2, initial2, meta = formats.read_sonata_network(tmp_path)
    assert config2 == config and meta["seed"] == 2
    for name in ("indptr", "indices", "counts"):
        a, b = getattr(conn, name), getattr(conn2, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    assert conn2.unit_counts == conn.unit_counts
    for name in ("V", "g_e", "g_i"):
        assert initial2[name].tobytes() == np.asarray(initial[name], np.float64).tobytes()
    edges = libsonata.EdgeStorage(str(tmp_path / "network" / "edges.h5")).open_population("coba_to_coba")
    pre = np.repeat(np.arange(config.n_neurons), np.diff(conn.indptr))
    assert edges.size == conn.indices.size
    for node in (0, 1, config.n_neurons - 1):
        np.testing.assert_array_equal(edges.target_nodes(edges.efferent_edges([node])),
                                      conn.indices[conn.indptr[node]:conn.indptr[node + 1]])
        assert sorted(edges.source_nodes(edges.afferent_edges([node]))) == sorted(pre[conn.indices == node])
    weight = edges.get_attribute("syn_weight", edges.select_all())
    scale = config.R_g * 10.0
    np.testing.assert_array_equal(weight, np.where(pre < conn.n_exc, config.w_e, -config.w_i) * scale
                                  * conn.counts)
    nodes = libsonata.NodeStorage(str(tmp_path / "network" / "nodes.h5")).open_population("coba")
    np.testing.assert_array_equal(nodes.get_attribute("V0", nodes.select_all()), initial["V"])


def test_a_run_from_the_sonata_export_is_the_seeded_run(tmp_path):
    """simulate(config, seed, connectivity=<imported>, initial=<imported>) fires exactly the
    spikes of simulate(config, seed): the export is the network a seed means."""
    config = refsim.get_preset("tutorial-normalized", n_exc=320, n_inh=80, duration=100.0)
    assert refsim.cli.main(["export", "--preset", "tutorial-normalized", "--set", "n_exc=320",
                            "--set", "n_inh=80", "--set", "duration=100", "--seed", "4",
                            "--out", str(tmp_path)]) == 0
    config2, conn, initial, _ = formats.read_sonata_network(tmp_path / "circuit_config.json")
    assert config2 == config
    a = refsim.simulate(config, 4, progress=False)
    b = refsim.simulate(config2, 4, connectivity=conn, initial=initial, progress=False)
    assert a.n_spikes > 100
    np.testing.assert_array_equal(a.spike_steps, b.spike_steps)
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)


@pytest.mark.parametrize("preset", refsim.preset_names())
def test_parameters_json_round_trips_and_refuses_another_unit(tmp_path, preset):
    """Every preset's Config comes back equal; each value carries refsim's unit, and a file
    whose tau_m says 's' is refused, naming the parameter and the allowed unit."""
    config = refsim.get_preset(preset)
    formats.write_parameters(tmp_path / "p.json", config, preset=preset)
    assert formats.read_parameters(tmp_path / "p.json") == config
    d = json.loads((tmp_path / "p.json").read_text())
    assert d["parameters"]["tau_m"] == {"value": config.tau_m, "unit": "ms",
                                        "doc": d["parameters"]["tau_m"]["doc"]}
    d["parameters"]["tau_m"]["unit"] = "s"
    (tmp_path / "p.json").write_text(json.dumps(d))
    with pytest.raises(ConfigError, match="tau_m unit = 's': allowed 'ms'"):
        formats.read_parameters(tmp_path / "p.json")


# -- hostile and inconsistent files -------------------------------------------------------

def sonata_file(path, t, ids, units="ms", sorting="by_time", pops=("coba",)):
    with h5py.File(path, "w") as f:
        for p in pops:
            g = f.create_group(f"spikes/{p}")
            g.attrs["sorting"] = sorting
            g.create_dataset("timestamps", data=np.asarray(t, float)).attrs["units"] = units
            g["node_ids"] = np.asarray(ids, np.uint64)
    return path


@pytest.mark.parametrize("case, message", [
    ("units", "timestamps units = 'us': allowed 'ms' or 's'"),
    ("sorting", "sorting = by_time but its timestamps are not in order"),
    ("negative", "3 negative spike times"),
    ("duplicate", "neuron 1 spikes twice at 9.09091 ms"),
    ("out of range", "ids outside 0 .. 9"),
    ("seconds", "these look like seconds where ms are expected"),
])
def test_inconsistent_spike_files_are_refused_before_any_statistic(tmp_path, case, message):
    """Each inconsistency is one ConfigError naming the file and what is allowed."""
    t, ids, kw = np.linspace(1.0, 90.0, 12), np.arange(12) % 10, {}
    if case == "units":
        kw["units"] = "us"
    if case == "sorting":
        t = t[::-1]
    if case == "negative":
        t = t - 20.0
    if case == "duplicate":
        t[2], ids[2] = t[1], ids[1]
    if case == "out of range":
        ids[3] = 10
    if case == "seconds":
        t = t / 1000
    path = sonata_file(tmp_path / "s.h5", t, ids, **kw)
    with pytest.raises(ConfigError, match=message) as e:
        formats.read_spikes(path, n_neurons=10, n_exc=8, t_stop_ms=100.0)
    assert "s.h5'" in str(e.value)


def test_hostile_hdf5_files_get_clean_errors(tmp_path):
    """A truncated file, a dataset that declares 2**40 values stored in nothing, a group
    that links to its parent (a cycle), an external link to another file, and HDF5 without
    /spikes: ConfigError each, nothing read that was not checked first."""
    good = formats.write_spikes(SpikeTrains(np.array([1.0, 2.0]), np.array([0, 1]), 2, 1, 10.0),
                                tmp_path / "good.h5")
    assert good == "sonata"
    data = (tmp_path / "good.h5").read_bytes()
    (tmp_path / "trunc.h5").write_bytes(data[:len(data) // 2])
    with h5py.File(tmp_path / "huge.h5", "w") as f:
        g = f.create_group("spikes/coba")
        g.create_dataset("timestamps", shape=(2**40,), dtype=float, chunks=(2**20,), compression="gzip")
        g.create_dataset("node_ids", shape=(2**40,), dtype=np.uint64, chunks=(2**20,), compression="gzip")
    with h5py.File(tmp_path / "cycle.h5", "w") as f:
        f.create_group("spikes")
        f["spikes/coba"] = f["spikes"]       # /spikes/coba is /spikes itself
    with h5py.File(tmp_path / "external.h5", "w") as f:
        g = f.create_group("spikes/coba")
        g["timestamps"] = h5py.ExternalLink(str(tmp_path / "good.h5"), "/spikes/coba/timestamps")
        g["node_ids"] = np.zeros(2, np.uint64)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["data"] = np.zeros(3)
    expected = {"trunc.h5": "cannot be opened as HDF5", "huge.h5": r"declares 8.19e\+03 GiB in 0 B stored",
                "cycle.h5": "no dataset /spikes/coba/timestamps",
                "external.h5": "/spikes/coba/timestamps is a ExternalLink: allowed a dataset inside",
                "other.h5": r"neither /spikes \(SONATA\) nor /units \(NWB\)"}
    for name, message in expected.items():
        with pytest.raises(ConfigError, match=message):
            formats.read_spikes(tmp_path / name, n_neurons=2, n_exc=1, t_stop_ms=10.0)


def test_missing_optional_package_is_one_error_naming_the_extra(tmp_path):
    """Reading NWB without pynwb (simulated in a fresh process that cannot import it) is one
    ConfigError that names the extra, not an ImportError traceback."""
    formats.write_spikes(SpikeTrains(np.array([1.0]), np.array([0]), 1, 1, 10.0), tmp_path / "a.nwb")
    code = ("import sys; sys.modules['pynwb'] = None\n"
            "import refsim.cli; sys.exit(refsim.cli.main(['convert', sys.argv[1], sys.argv[2]]))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.nwb"), str(tmp_path / "b.npz")],
                         capture_output=True, text=True, timeout=120, cwd=os.getcwd())
    assert out.returncode == 2, out.stderr
    assert "needs pynwb: pip install 'refsim[nwb]'" in out.stderr and not (tmp_path / "b.npz").exists()


def test_compare_reads_a_peer_format_per_side(tmp_path):
    """refsim compare with --format-a nest-ascii and --format-b brian2 on the two fixtures
    (different networks: the report is written, the rasters differ)."""
    out = tmp_path / "c"
    status = refsim.cli.main(["compare", str(DATA / "nest_ms-41-0.dat"), str(DATA / "brian2_spikes.csv"),
                              "--format-a", "nest-ascii", "--format-b", "brian2", "--n-neurons", "40",
                              "--n-exc", "32", "--t-stop", "200", "--dt", "0.1", "--out", str(out)])
    assert status == 0
    c = json.loads((out / "comparison.json").read_text())
    assert c["first_difference_ms"] is not None and (out / "report.md").exists()


def hostile_cases(d: Path):
    """(name, make the file, read it, the message): inputs a reviewer found tracebacks or
    silent wrong answers for, each now one ConfigError."""
    kw = dict(n_neurons=10, n_exc=8, t_stop_ms=100.0, dt_ms=0.1)

    def sonata_attr(name, value):
        def make():
            sonata_file(d / "a.h5", [1.0, 2.0], [0, 1])
            with h5py.File(d / "a.h5", "a") as f:
                f["spikes/coba"].attrs[name] = value
        return make

    def nwb_without_spike_times():
        nwb = pynwb.NWBFile(session_description="x", identifier="x",
                            session_start_time=__import__("datetime").datetime(2026, 1, 1).astimezone())
        nwb.add_unit_column("quality", "q")
        nwb.add_unit(quality=1.0)
        with pynwb.NWBHDF5IO(str(d / "a.nwb"), "w") as io:
            io.write(nwb)

    read = lambda name, **o: lambda: formats.read_spikes(d / name, **{**kw, **o})   # noqa: E731
    return [
        ("missing NEST file", lambda: None, read("coba-11-0.dat", format="nest-ascii"),
         "no such file or directory"),
        ("BrainPy dt = 0", lambda: np.savez(d / "b.npz", spikes=np.zeros((3, 10), bool), dt=0.0),
         read("b.npz", format="brainpy"), "dt = 0.0: allowed a step > 0 ms"),
        ("one SONATA population twice", lambda: sonata_file(d / "a.h5", [1.0], [0]),
         read("a.h5", population="coba,coba"), "two different ones comma-separated"),
        ("sorting as an array", sonata_attr("sorting", np.array([2])), read("a.h5"),
         r"sorting of shape \(1,\): allowed one value"),
        ("n_neurons as a string", sonata_attr("n_neurons", "10"), read("a.h5", n_neurons=None),
         "n_neurons = '10': allowed an int >= 0"),
        ("NWB without spike_times", nwb_without_spike_times, read("a.nwb"),
         "no units table with spike_times"),
        ("Brian2 CSV rows too short", lambda: (d / "a.csv").write_text("x,i,t\n0,1\n2,3\n"),
         read("a.csv"), "rows of 2 numbers under a header of 3 columns"),
        ("NEST JSON scalars", lambda: (d / "a.json").write_text('{"senders": 1, "times": 1.0}'),
         read("a.json"), "allowed 1-d arrays of one length"),
        ("GeNN times as strings", lambda: np.savez(d / "g.npz", times=np.array(["1.0"]), ids=np.array([0])),
         read("g.npz", format="genn"), "spike times of dtype <U3: allowed real numbers"),
        ("huge float ids", lambda: np.savez(d / "g.npz", times=np.array([1.0]), ids=np.array([1e30])),
         read("g.npz", format="genn"), r"neuron ids of dtype float64 \(first 1e\+30\)"),
        ("Neo: not trains", lambda: None, lambda: formats.from_neo(5), "allowed a neo.Block"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_more_hostile_inputs_are_one_clean_error(tmp_path, case):
    """Each of these gave a traceback or a silent wrong answer in review (2026-12-03)."""
    name, make, read, message = hostile_cases(tmp_path)[case]
    make()
    with pytest.raises(ConfigError, match=message):
        read()


def test_an_edited_sonata_export_is_refused(tmp_path):
    """refsim builds the weights from parameters.json: an edited syn_weight would be ignored,
    so it is refused; so are node ids below 0 and synapse counts of 0 (multapse network)."""
    config = refsim.get_preset("tutorial-normalized", n_exc=9, n_inh=3)
    initial = {k: np.zeros(12) for k in ("V", "g_e", "g_i")}
    edits = [("0/syn_weight", lambda a: a * 2, "syn_weight differs"),
             ("source_node_id", lambda a: np.r_[-1, a[1:].astype(np.int64)], "outside 0 .. N - 1"),
             ("0/synapse_count", lambda a: a * 0, "synapse_count values from 0")]
    for name, edit, message in edits:
        formats.write_sonata_network(tmp_path, config, multapse_network(), initial)
        formats.read_sonata_network(tmp_path)   # unedited: fine
        with h5py.File(tmp_path / "network" / "edges.h5", "a") as f:
            g = f["edges/coba_to_coba"]
            new = edit(g[name][()])
            del g[name]
            g[name] = new
        with pytest.raises(ConfigError, match=message):
            formats.read_sonata_network(tmp_path)


def test_nest_ascii_keeps_every_digit_a_fine_step_needs(tmp_path):
    """At dt = 0.0125 ms NEST's 3 decimals cannot hold the stamps: refsim's writer writes every
    digit then, and the round trip stays exact (3 decimals read back 0.0005 ms off the grid)."""
    config = refsim.get_preset("tutorial-normalized", n_exc=320, n_inh=80, duration=50.0, dt=0.0125)
    run = refsim.simulate(config, 0, progress=False)
    assert run.n_spikes > 50
    formats.write_spikes(run, tmp_path / "a.dat")
    back = formats.read_spikes(tmp_path / "a.dat", n_neurons=400, n_exc=320, t_stop_ms=50.0, dt_ms=0.0125)
    assert same(back, as_spike_trains(run))


def test_content_decides_the_reader_not_the_extension(run, tmp_path):
    """A Brian2 CSV saved as .txt and NEST events JSON saved as .dat.json-less name read by
    content, as detect_format recognizes them."""
    formats.write_spikes(run, tmp_path / "a.csv")
    os.rename(tmp_path / "a.csv", tmp_path / "a.txt")
    formats.write_spikes(run, tmp_path / "b.json", dt_ms=0.1)
    os.rename(tmp_path / "b.json", tmp_path / "b.events")
    kw = dict(n_neurons=400, n_exc=320, t_stop_ms=200.0, dt_ms=0.1)
    assert [formats.detect_format(tmp_path / n) for n in ("a.txt", "b.events")] == ["brian2", "nest-memory"]
    for name in ("a.txt", "b.events"):
        assert same(formats.read_spikes(tmp_path / name, **kw), as_spike_trains(run))


def test_load_spikes_keeps_its_04_argument_order(run, tmp_path):
    """refsim.compare.load_spikes(path, n_exc, n_neurons, t_stop_ms) as refsim 0.4 documented."""
    formats.write_spikes(run, tmp_path / "a.csv")
    s = refsim.compare.load_spikes(tmp_path / "a.csv", 320, 400, 200.0, dt_ms=0.1)
    assert same(s, as_spike_trains(run))
