"""The arguments of ``refsim.simulate`` and ``refsim.simulate_exact``: one set of checks for both.

* Every bad argument raises ConfigError, before any work, with a message of the form
  ``<name> = <value>: allowed ...`` (or ``<name>[i] = ...``, ``<name> [bad items]: ...``).
* The arguments both take (config, seed, connectivity, initial, record, record_vars) are
  accepted and refused identically, with the same message.
* NumPy scalars are accepted wherever a Python number is (bools refused where a number is
  meant) and stored as Python values, so results and configs are JSON-able and round-trip.
"""

import importlib
import json
import math
import reprlib

import numpy as np
import pytest
from helpers import network_module

import refsim
from refsim import ConfigError
from refsim.params import plain_scalar

exact_module = importlib.import_module("refsim.exact")


def tiny(preset="brette2007-coba", **kw):
    """A 10-neuron, 5 ms network (50 steps): each run takes milliseconds."""
    return refsim.get_preset(preset, **{"n_exc": 8, "n_inh": 2, "duration": 5.0, **kw})


def run_simulate(config, **kw):
    return refsim.simulate(config, **{"seed": 0, "engine": "numpy", "progress": False, **kw})


def run_exact(config, **kw):
    return refsim.simulate_exact(config, **{"seed": 0, **kw})


RUNNERS = {"simulate": run_simulate, "simulate_exact": run_exact}


def no_work(monkeypatch):
    """Make building a connectivity or starting the event loop fail: an argument refused after
    work started would show as an AssertionError instead of the ConfigError expected."""
    def fail(*a, **k):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(network_module, "build_connectivity", fail)
    monkeypatch.setattr(exact_module, "EventLoop", fail)


def r(value):
    """How a message shows a value (the checks shorten long ones with reprlib)."""
    return reprlib.repr(value)


# (arguments, expected start of the message); ``config`` in the arguments replaces tiny()
SHARED_BAD = [
    (dict(config={"n_exc": 8}), "config type = dict: allowed refsim.Config"),
    (dict(config=None), "config type = NoneType: allowed refsim.Config"),
    (dict(seed=-1), "seed = -1: allowed a non-negative int"),
    (dict(seed=np.int64(-1)), f"seed = {r(np.int64(-1))}: allowed a non-negative int"),
    (dict(seed=True), "seed = True: allowed a non-negative int"),
    (dict(seed=np.bool_(True)), f"seed = {r(np.bool_(True))}: allowed a non-negative int"),
    (dict(seed=3.0), "seed = 3.0: allowed a non-negative int"),
    (dict(seed=np.float64(3.0)), f"seed = {r(np.float64(3.0))}: allowed a non-negative int"),
    (dict(seed="3"), "seed = '3': allowed a non-negative int"),
    (dict(seed=[3]), "seed = [3]: allowed a non-negative int"),
    (dict(seed=np.timedelta64(3)), f"seed = {r(np.timedelta64(3))}: allowed a non-negative int"),
    (dict(seed=-10**100), f"seed = {r(-10**100)}: allowed a non-negative int"),
    (dict(config=tiny("tutorial"), seed=2**32),
     "seed = 4294967296: allowed 0 .. 2**32 - 1 when conn_rng = 'numpy-legacy'"),
    (dict(config=tiny("tutorial"), seed=np.uint64(2**40)),
     "seed = 1099511627776: allowed 0 .. 2**32 - 1 when conn_rng = 'numpy-legacy'"),
    (dict(seed=None), "seed = None: allowed only with both connectivity and a complete initial"),
    (dict(connectivity="conn.npz"), "connectivity type = str: allowed refsim.Connectivity"),
    (dict(initial=[1, 2]), "initial type = list: allowed a dict"),
    (dict(initial={"W": np.zeros(10)}), "initial state variables ['W']: allowed"),
    (dict(record=[0.7]), "record = [0.7] (float64, shape (1,)): allowed a sequence of int neuron "
                         "indices 0 .. 9"),
    (dict(record=[1.0]), "record = [1.0] (float64, shape (1,)): allowed"),
    (dict(record=[True]), "record = [True] (bool, shape (1,)): allowed"),
    (dict(record=True), "record = True (bool, shape ()): allowed"),
    (dict(record=np.ones(10, bool)), "record = array([ True"),
    (dict(record=np.float64(1.0)), f"record = {r(np.float64(1.0))} (float64, shape ()): allowed"),
    (dict(record=[10]), "record values 10 .. 10: allowed a sequence of int neuron indices 0 .. 9"),
    (dict(record=np.array([-1, 2])), "record values -1 .. 2: allowed"),
    (dict(record=[[0, 1]]), "record = [[0, 1]] (int64, shape (1, 2)): allowed"),
    (dict(record=[[0], [1, 2]]), "record = [[0], [1, 2]]: allowed"),
    (dict(record="0"), "record = '0' (<U1, shape ()): allowed"),
    (dict(record=np.array([1], "m8[ms]")),
     f"record = {r(np.array([1], 'm8[ms]'))} (timedelta64[ms], shape (1,)): allowed"),
    (dict(record=[0], record_vars="g_x"), "record_vars ['g_x']: allowed a subset of ('V', 'g_e', 'g_i')"),
    (dict(record=[0], record_vars=["V", 3]), "record_vars [3]: allowed a subset"),
    (dict(record=[0], record_vars=["v"]), "record_vars ['v']: allowed a subset"),
    (dict(record=[0], record_vars=5), "record_vars = 5: allowed a subset"),
    (dict(record=[0], record_vars=None), "record_vars = None: allowed a subset"),
]

SIMULATE_BAD = [
    (dict(engine="jax"), "engine = 'jax': allowed one of"),
    (dict(stop_on_runaway="no"), "stop_on_runaway = 'no': allowed True or False"),
    (dict(progress="no"), "progress = 'no': allowed True or False"),   # 'no' showed the bar
    (dict(progress=None), "progress = None: allowed True or False"),
]

EXACT_BAD = [
    (dict(delay=-1.0), "delay = -1.0: allowed a finite delay >= 0 ms"),
    (dict(delay=np.float64(-0.5)), f"delay = {r(np.float64(-0.5))}: allowed a finite delay >= 0 ms"),
    (dict(delay=True), "delay = True: allowed a finite delay >= 0 ms"),
    (dict(delay=np.bool_(False)), f"delay = {r(np.bool_(False))}: allowed a finite delay"),
    (dict(delay=math.nan), "delay = nan: allowed a finite delay"),
    (dict(delay=math.inf), "delay = inf: allowed a finite delay"),
    (dict(delay="1"), "delay = '1': allowed a finite delay"),
    (dict(delay=None), "delay = None: allowed a finite delay"),
    (dict(delay=[1.0]), "delay = [1.0]: allowed a finite delay"),
    (dict(delay=10**400), f"delay = {r(10**400)}: allowed a finite delay"),
    (dict(delay=1 + 0j), "delay = (1+0j): allowed a finite delay"),
    (dict(rtol=1e-6), "rtol = 1e-06: allowed 1e-13 <= rtol <= 1e-10"),
    (dict(rtol=np.float32(1e-6)), f"rtol = {r(np.float32(1e-6))}: allowed 1e-13 <= rtol <= 1e-10"),
    (dict(rtol=True), "rtol = True: allowed 1e-13 <= rtol <= 1e-10"),
    (dict(rtol="1e-12"), "rtol = '1e-12': allowed"),
    (dict(atol=0), "atol = 0: allowed 1e-13 <= atol <= 1e-10"),
    (dict(atol=np.int64(0)), f"atol = {r(np.int64(0))}: allowed 1e-13 <= atol"),
    (dict(atol=math.nan), "atol = nan: allowed"),
    (dict(sample_times=[3.0, 1.0]), "sample_times[1] = 1.0 < sample_times[0] = 3.0: allowed a "
                                    "sequence of non-decreasing times in [0, duration = 5.0] ms"),
    (dict(sample_times=[1.0, 6.0]), "sample_times[1] = 6.0: allowed"),
    (dict(sample_times=[-0.1]), "sample_times[0] = -0.1: allowed"),
    (dict(sample_times=[0.0, math.nan]), "sample_times[1] = nan: allowed"),
    (dict(sample_times="a"), "sample_times = 'a' (<U1, shape ()): allowed"),
    (dict(sample_times=[True, False]), "sample_times = [True, False] (bool, shape (2,)): allowed"),
    (dict(sample_times=[[1.0, 2.0]]), "sample_times = [[1.0, 2.0]] (float64, shape (1, 2)): allowed"),
    (dict(sample_times=[[1.0], [2.0, 3.0]]), "sample_times = [[1.0], [2.0, 3.0]]: allowed"),
    (dict(sample_times=np.array([1], "m8[ms]")),
     f"sample_times = {r(np.array([1], 'm8[ms]'))} (timedelta64[ms], shape (1,)): allowed"),
    (dict(sample_times=[1j]), "sample_times = [1j] (complex128, shape (1,)): allowed"),
    (dict(sample_times=[1.0, None]), "sample_times = [1.0, None] (object, shape (2,)): allowed"),
]


def _name(kw):
    return next(k for k in kw if k != "config" or len(kw) == 1)


def _cases(table):
    return [pytest.param(kw, message, id=f"{_name(kw)}-{i}") for i, (kw, message) in enumerate(table)]


def _call(run, kw):
    kw = dict(kw)
    return run(kw.pop("config", tiny()), **kw)


def _assert_refused(run, kw, message, monkeypatch):
    no_work(monkeypatch)
    with pytest.raises(ConfigError) as e:
        _call(run, kw)
    text = str(e.value)
    assert text.startswith(message), text
    assert text.startswith(_name(kw)), f"the message does not start with the parameter's name: {text}"
    assert "allowed" in text, text
    return text


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("kw,message", _cases(SHARED_BAD))
def test_both_refuse_each_bad_shared_argument_naming_it_before_any_work(runner, kw, message,
                                                                        monkeypatch):
    """simulate and simulate_exact refuse each bad config / seed / connectivity / initial /
    record / record_vars with a ConfigError that starts with the parameter's name and value
    and says what is allowed, before a connectivity is built or the solver started."""
    _assert_refused(RUNNERS[runner], kw, message, monkeypatch)


@pytest.mark.parametrize("kw,message", _cases(SHARED_BAD))
def test_simulate_and_simulate_exact_refuse_shared_arguments_with_the_same_message(kw, message,
                                                                                   monkeypatch):
    """The shared arguments go through one set of checks: both functions give word for word
    the same message for each bad value."""
    texts = [_assert_refused(run, kw, message, monkeypatch) for run in RUNNERS.values()]
    assert texts[0] == texts[1]


@pytest.mark.parametrize("kw,message", _cases(SIMULATE_BAD))
def test_simulate_refuses_its_own_bad_arguments_naming_them(kw, message, monkeypatch):
    """simulate's engine, progress and stop_on_runaway: ConfigError naming the parameter, before work."""
    _assert_refused(run_simulate, kw, message, monkeypatch)


@pytest.mark.parametrize("kw,message", _cases(EXACT_BAD))
def test_simulate_exact_refuses_its_own_bad_arguments_naming_them(kw, message, monkeypatch):
    """simulate_exact's delay, rtol, atol and sample_times: wrong types (bools, strings,
    complex, sequences, None), non-finite values and values out of range raise ConfigError
    naming the parameter, its value and the allowed range, before any work (no raw
    ValueError or TypeError from NumPy or SciPy)."""
    _assert_refused(run_exact, kw, message, monkeypatch)


# (arguments, expected (record_neurons, trace names, seed)) accepted by both
SHARED_GOOD = [
    (dict(), ([], (), 0)),
    (dict(record=None, seed=np.int64(3)), ([], (), 3)),
    (dict(seed=np.uint32(7)), ([], (), 7)),
    (dict(seed=np.int8(0)), ([], (), 0)),
    (dict(seed=2**40), ([], (), 2**40)),
    (dict(seed=np.uint64(2**63)), ([], (), 2**63)),
    (dict(config=tiny("tutorial"), seed=np.uint32(2**32 - 1)), ([], (), 2**32 - 1)),
    (dict(record=np.array([1, 2])), ([1, 2], ("V", "g_e", "g_i"), 0)),
    (dict(record=np.array([9, 0], np.uint8)), ([9, 0], ("V", "g_e", "g_i"), 0)),
    (dict(record=[np.int64(3), 1]), ([3, 1], ("V", "g_e", "g_i"), 0)),
    (dict(record=np.int32(4)), ([4], ("V", "g_e", "g_i"), 0)),
    (dict(record=[]), ([], (), 0)),
    (dict(record=[2, 2]), ([2, 2], ("V", "g_e", "g_i"), 0)),
    (dict(record=[0], record_vars="g_e"), ([0], ("g_e",), 0)),
    (dict(record=[0], record_vars=np.str_("V")), ([0], ("V",), 0)),
    (dict(record=[0], record_vars=["g_i", "V", "g_i"]), ([0], ("g_i", "V"), 0)),
    (dict(record=[0], record_vars=np.array(["V", "g_e"])), ([0], ("V", "g_e"), 0)),
]


@pytest.mark.parametrize("kw,expected", [pytest.param(kw, ex, id=str(i))
                                         for i, (kw, ex) in enumerate(SHARED_GOOD)])
def test_simulate_and_simulate_exact_accept_the_same_values_the_same_way(kw, expected):
    """Each accepted record / record_vars / seed (Python or NumPy) means the same in both:
    the neurons recorded, the traced variables (a single name is one variable, not its
    letters) and the seed, stored as a plain Python int."""
    record, names, seed = expected
    for name, run in RUNNERS.items():
        res = _call(run, kw)
        assert res.record_neurons.tolist() == record, name
        assert tuple(res.traces) == names, name
        assert all(type(k) is str for k in res.traces), name
        assert res.seed == seed and type(res.seed) is int, (name, res.seed, type(res.seed))


def test_numpy_seed_draws_the_same_network_as_the_python_int():
    """seed=np.int64(3) (and np.uint16(3)) runs the network and initial state of seed=3:
    the same final state and spikes in both simulate and simulate_exact."""
    config = tiny("tutorial")
    for seed in (np.int64(3), np.uint16(3)):
        a, b = run_simulate(config, seed=seed), run_simulate(config, seed=3)
        assert np.array_equal(a.final_state["V"], b.final_state["V"])
        assert np.array_equal(a.spike_steps, b.spike_steps)
        e, f = run_exact(config, seed=seed), run_exact(config, seed=3)
        assert np.array_equal(e.final_state["V"], f.final_state["V"])
        assert np.array_equal(e.spike_times, f.spike_times)
    assert not np.array_equal(run_simulate(config, seed=4).final_state["V"], b.final_state["V"])


NUMPY_VARIANTS = [
    pytest.param(dict(seed=np.int64(3)), {}, id="seed-int64"),
    pytest.param(dict(seed=np.uint8(3)), {}, id="seed-uint8"),
    pytest.param(dict(seed=np.int64(3), record=np.array([1, 5]), record_vars=np.str_("V")), {},
                 id="record-array"),
    pytest.param(dict(seed=np.int32(3)), dict(n_exc=np.int64(8), n_inh=np.int32(2),
                                              dt=np.float32(0.1), duration=np.float64(5.0)),
                 id="config-fields"),
    pytest.param(dict(seed=np.int64(3)), dict(tau_m=np.float32(20.0), autapses=np.bool_(True),
                                              V_th=np.int16(-50), schedule=np.str_("brette")),
                 id="config-mixed"),
]


@pytest.mark.parametrize("kw,overrides", NUMPY_VARIANTS)
def test_simulate_with_numpy_scalars_gives_a_json_able_result_that_round_trips(kw, overrides,
                                                                               tmp_path):
    """A run given NumPy scalars (seed, record, record_vars, Config fields) works; its
    summary is JSON-able and its file loads back with the seed a Python int and the same
    config and spikes. (Needs simulate.py to store ``check_seed``'s plain int.)"""
    res = run_simulate(tiny(**overrides), **kw)
    summary = json.loads(json.dumps(res.summary()))
    assert summary["seed"] == 3 and type(res.seed) is int
    path = tmp_path / "run.npz"
    res.save(path)
    back = refsim.SimulationResult.load(path)
    assert back.seed == 3 and type(back.seed) is int
    assert back.config == res.config and back.config == tiny(**{k: plain_scalar(v)
                                                                  for k, v in overrides.items()})
    assert np.array_equal(back.spike_steps, res.spike_steps)
    assert back.record_neurons.tolist() == res.record_neurons.tolist()
    assert json.dumps(back.config.to_dict()) == json.dumps(res.config.to_dict())


@pytest.mark.parametrize("kw,overrides", NUMPY_VARIANTS + [
    pytest.param(dict(seed=np.int64(3), delay=np.int64(1)), {}, id="delay-int64"),
    pytest.param(dict(seed=np.int64(3), delay=np.float32(0.25), rtol=np.float64(1e-12),
                      atol=np.float32(1e-11)), {}, id="delay-tolerances"),
    pytest.param(dict(seed=np.int64(3), record=[np.int64(1)],
                      sample_times=np.array([0.0, 2.5, 5.0], np.float32)), {}, id="sample-times"),
])
def test_simulate_exact_with_numpy_scalars_stores_python_values(kw, overrides):
    """simulate_exact given NumPy scalars runs and stores plain Python values (seed int;
    delay, rtol and atol float), so its config, seed, delay, stats and samples are JSON-able;
    the same run as with the Python numbers."""
    res = run_exact(tiny(**overrides), **kw)
    assert type(res.seed) is int and res.seed == 3
    assert type(res.delay) is float
    assert type(res.stats["rtol"]) is float and type(res.stats["atol"]) is float
    record = json.loads(json.dumps({"config": res.config.to_dict(), "seed": res.seed,
                                    "delay": res.delay, "stats": res.stats,
                                    "sample_times": res.sample_times.tolist(),
                                    "record_neurons": res.record_neurons.tolist()}))
    assert record["seed"] == 3 and record["delay"] == res.delay
    plain = {k: (v.tolist() if isinstance(v, np.ndarray) else plain_scalar(v)) for k, v in kw.items()}
    ref = run_exact(tiny(**{k: plain_scalar(v) for k, v in overrides.items()}), **plain)
    assert np.array_equal(res.spike_times, ref.spike_times)
    assert res.delay == ref.delay and res.stats == ref.stats


def test_delay_given_as_numpy_int_is_the_same_delay():
    """delay=np.int64(1) was refused; now it is 1.0 ms, as delay=1 and delay=1.0 are."""
    config = tiny("tutorial")
    runs = [run_exact(config, delay=d) for d in (np.int64(1), 1, 1.0)]
    assert [x.delay for x in runs] == [1.0, 1.0, 1.0]
    assert all(np.array_equal(x.spike_times, runs[0].spike_times) for x in runs)


# --- Config fields given as NumPy scalars -----------------------------------------------

def test_config_fields_given_as_numpy_scalars_are_stored_as_python_values():
    """get_preset and Config.replace store NumPy ints, floats, bools and strings as int,
    float, bool and str (json.dumps(to_dict()) works), equal to the Python values; a float32
    is the decimal it prints as, so dt = np.float32(0.1) is dt = 0.1 and 5 ms is 50 steps."""
    config = refsim.get_preset("tutorial", n_exc=np.int64(8), dt=np.float32(0.1))
    assert type(config.n_exc) is int and type(config.dt) is float
    assert config.dt == 0.1 and config == refsim.get_preset("tutorial", n_exc=8, dt=0.1)
    changed = tiny().replace(n_inh=np.uint8(3), tau_m=np.int64(20), w_e=np.float16(0.5),
                             autapses=np.bool_(True), reset=np.str_("hard"),
                             duration=np.float32(5.0))
    d = changed.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert {k: type(d[k]) for k in ("n_inh", "tau_m", "w_e", "autapses", "reset", "duration")} == \
        {"n_inh": int, "tau_m": float, "w_e": float, "autapses": bool, "reset": str, "duration": float}
    assert changed == tiny().replace(n_inh=3, tau_m=20.0, w_e=0.5, autapses=True, reset="hard")
    assert refsim.Config.from_dict({**tiny().to_dict(), "V_th": np.float32(-50.1)}).V_th == -50.1


@pytest.mark.parametrize("value", [np.float32(0.1), np.float32(1 / 3), np.float32(-50.1),
                                   np.float32(1e-30), np.float32(3.4028235e38), np.float16(0.1),
                                   np.float32(2.5)])
def test_narrow_numpy_floats_become_a_float_with_the_same_bits_in_their_type(value):
    """plain_scalar gives a float32 (float16) the shortest decimal that names it, which
    rounds back to the same float32 (float16): a float32 run computes with the value given."""
    f = plain_scalar(value)
    assert type(f) is float
    assert value.dtype.type(f) == value
    assert f == float(str(value))


@pytest.mark.parametrize("field,value,message", [
    ("V_th", np.bool_(True), "V_th = True: allowed a value of type float"),
    ("n_exc", np.bool_(True), "n_exc = True: allowed a value of type int"),
    ("n_exc", np.float64(8.0), "n_exc = 8.0: allowed a value of type int"),
    ("n_exc", np.float32(8.0), "n_exc = 8.0: allowed a value of type int"),
    ("V_th", np.complex128(-50), "V_th = "),
    ("dt", np.timedelta64(1, "ms"), "dt = "),
    ("dt", np.float32(np.nan), "dt = nan: allowed a finite number"),
    ("autapses", np.int64(1), "autapses = 1: allowed a value of type bool"),
    ("reset", np.bytes_(b"hard"), "reset = "),
])
def test_config_fields_refuse_numpy_scalars_of_the_wrong_kind_naming_the_field(field, value, message):
    """A NumPy bool where a number is meant, a float where an int is, complex, timedelta,
    bytes or a non-finite float is refused with ConfigError naming the field (not converted
    through ``.item()``: a timedelta64 is no int)."""
    with pytest.raises(ConfigError) as e:
        tiny().replace(**{field: value})
    assert str(e.value).startswith(message), str(e.value)
    assert "allowed" in str(e.value)
