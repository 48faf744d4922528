"""Bad input is refused before any work: every entry point (Config, get_preset, simulate, the
command line) raises ConfigError naming the field, its value and the allowed range, or warns
with a ConfigWarning for odd but allowed values.

Reference values: the documented error messages (the messages are part of the interface);
Hypothesis draws arbitrary values of every field (None, bools, huge ints, NaN, inf,
subnormals, strings, bytes, lists, complex and numpy scalars).
"""
import dataclasses
import json
import math
import warnings

import numpy as np
import pytest
from helpers import FIELDS, names_a_field, network_module, small
from hypothesis import given
from hypothesis import strategies as st

import refsim
from refsim import ConfigError, ConfigWarning, cli
from refsim.params import CHOICES, coerce
from refsim.testing import tolerance

FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(refsim.Config)}
PY_TYPES = {"int": int, "float": float, "bool": bool, "str": str}



wild = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([10**400, -10**400, 2**31, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-100.0, 100.0),
    st.sampled_from([0, 0.0, -0.0, 5e-324, 1e-46, 1e-300, 3.5e38, 1.7e308, 1e6, 0.5, 2.0]),
    st.text(max_size=6), st.binary(max_size=3),
    st.sampled_from([c for cs in CHOICES.values() for c in cs] + ["", "nan", "inf", "1e400", " 5 "]),
    st.lists(st.integers(), max_size=2), st.complex_numbers(max_magnitude=10),
    st.builds(np.float32, st.floats(width=32)), st.builds(np.int64, st.integers(-2**63, 2**63 - 1)),
    st.builds(np.bool_, st.booleans()), st.just(np.str_("hard")),
)
overrides = st.dictionaries(st.sampled_from(FIELDS), wild, max_size=4)


def assert_valid_config(cfg):
    for name in FIELDS:
        v = getattr(cfg, name)
        assert type(v) is PY_TYPES[FIELD_TYPES[name]], (name, v)
        if isinstance(v, float):
            assert math.isfinite(v)
    # a valid config's derived sizes are exact and inside the int32 index range
    assert cfg.n_neurons == cfg.n_exc + cfg.n_inh <= 2**31 - 1 and cfg.n_neurons >= 1
    assert cfg.n_steps == round(cfg.duration / cfg.dt) and 1 <= cfg.n_steps <= 2**31 - 1
    assert abs(cfg.n_steps * cfg.dt - cfg.duration) <= tolerance("whole-steps") * cfg.duration
    assert refsim.Config.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@given(st.sampled_from(refsim.preset_names()), overrides)
def test_any_field_values_give_a_valid_config_or_a_config_error(preset, values):
    """Property: for arbitrary values of any fields (None, bools, huge ints, NaN, inf,
    subnormals, strings, bytes, lists, complex and numpy scalars), given directly or as the
    command line's strings, the result is a valid Config (plain Python values of the field's
    type, finite, JSON round trip) or a ConfigError naming a field, never another exception;
    the only warnings are ConfigWarnings."""
    for given_values in (values, {k: str(v) for k, v in values.items()}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if given_values is values:
                    cfg = refsim.get_preset(preset, **given_values)
                else:
                    cfg = refsim.get_preset(preset, **{k: coerce(k, v) for k, v in given_values.items()})
            except ConfigError as e:
                assert names_a_field(str(e)), str(e)
            else:
                assert_valid_config(cfg)
        assert all(issubclass(w.category, ConfigWarning) for w in caught), [str(w.message) for w in caught]


@given(st.sampled_from(FIELDS), wild)
def test_config_from_dict_refuses_bad_values_with_config_error(name, value):
    """Property: a stored config (e.g. a result file's) with one field replaced by an
    arbitrary value loads as a valid Config or raises ConfigError naming a field."""
    d = refsim.get_preset("tutorial").to_dict()
    d[name] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        try:
            cfg = refsim.Config.from_dict(d)
        except ConfigError as e:
            assert names_a_field(str(e)), str(e)
        else:
            assert_valid_config(cfg)





def test_reversal_potentials_on_the_wrong_side_of_the_threshold_warn_once_each():
    """E_e <= V_th and E_i >= V_th are allowed (a ConfigWarning), the presets warn nothing."""
    with pytest.warns(ConfigWarning, match=r"E_e = -55.0: expected E_e > V_th = -50.0 mV"):
        refsim.get_preset("tutorial", E_e=-55.0)
    with pytest.warns(ConfigWarning, match=r"E_i = -45.0: expected E_i < V_th = -50.0 mV"):
        refsim.get_preset("tutorial", E_i=-45.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in refsim.preset_names():
            refsim.get_preset(name)


@pytest.mark.parametrize("kw,message", [
    # a neuron whose only allowed target (or source) is itself: drawing would never end
    (dict(preset="tutorial-normalized", n_exc=1, n_inh=0, conn_rng="pcg64", autapses=False, p_conn=1.0),
     "autapses = False: allowed True when N = 1"),
    (dict(preset="tutorial-normalized", n_exc=4, n_inh=1, conn_rng="pcg64", conn_rule="fixed_in_degree",
          autapses=False, p_conn=1.0), "autapses = False: allowed True when n_inh = 1"),
    (dict(preset="tutorial", n_exc=2**31, n_inh=0), "n_exc = 2147483648: allowed n_exc + n_inh <= 2**31 - 1"),
    (dict(preset="tutorial", tau_m=10**400), "tau_m = 1000"),
    (dict(preset="tutorial-normalized", dt=1e-300), "duration = 1000.0: allowed fewer than 2**31 steps"),
    (dict(preset="tutorial", tau_e=1e-46), "tau_e = 1e-46: allowed tau_e >= 1.4e-45 ms"),
    (dict(preset="tutorial", E_e=1e39), "E_e = 1e+39: allowed |E_e| <= 3.402823e+38"),
    (dict(preset="tutorial", V0_mean=1e308, V0_std=1e308, dtype="float64", arithmetic="ieee",
          expm1="portable"),
     None),  # accepted by Config; the draws overflow in simulate (next test)
])
def test_configs_that_would_hang_overflow_or_lose_precision_are_refused(kw, message):
    kw = dict(kw)
    preset = kw.pop("preset")
    if message is None:
        refsim.get_preset(preset, **kw)
        return
    with pytest.raises(ConfigError) as e:
        refsim.get_preset(preset, **kw)
    assert str(e.value).startswith(message), str(e.value)


def bad_simulate_calls():
    cfg = small()
    n = cfg.n_neurons
    other = refsim.build_connectivity(small(n_exc=30), 0)
    return [
        (dict(config={"n_exc": 40}), "config type = dict: allowed refsim.Config"),
        (dict(seed=-1), "seed = -1: allowed a non-negative int"),
        (dict(seed=True), "seed = True: allowed a non-negative int"),
        (dict(seed=1.5), "seed = 1.5: allowed a non-negative int"),
        (dict(seed=2**32), "seed = 4294967296: allowed 0 .. 2**32 - 1 when conn_rng = 'numpy-legacy'"),
        (dict(engine="jax"), "engine = 'jax': allowed one of numba, numpy"),
        (dict(record=[1.5]),
         "record = [1.5] (float64, shape (1,)): allowed a sequence of int neuron indices 0 .. 49"),
        (dict(record=["a"]), "record = ['a']"),
        (dict(record=[[0, 1]]), "record = [[0, 1]] (int64, shape (1, 2))"),
        (dict(record=np.ones(n, bool)), "record = array([ True"),
        (dict(record=[n]), "record values 50 .. 50: allowed a sequence of int neuron indices 0 .. 49"),
        (dict(record=[[0], [1, 2]]), "record = [[0], [1, 2]]: allowed"),
        (dict(record=[0], record_vars=["V", 3]), "record_vars [3]: allowed a subset of ('V', 'g_e', 'g_i')"),
        (dict(record=[0], record_vars="x"), "record_vars ['x']"),
        (dict(record=[0], record_vars=5), "record_vars = 5"),
        (dict(initial=[1, 2]), "initial type = list: allowed a dict"),
        (dict(initial={"W": np.zeros(n)}), "initial state variables ['W']: allowed"),
        (dict(initial={"V": [[1.0], [2.0, 3.0]]}), "initial state V: allowed an array of numbers"),
        (dict(initial={"V": np.zeros(n - 1)}), "initial state V shape = (49,): allowed (50,)"),
        (dict(initial={"V": np.array(["x"] * n)}), "initial state V dtype = <U1: allowed a real number type"),
        (dict(initial={"V": np.full(n, 1e300)}), "initial state V: 50 values NaN or infinite in float32"),
        (dict(initial={"g_e": np.r_[np.nan, np.zeros(n - 1)]}), "initial state g_e: 1 values NaN"),
        (dict(connectivity="conn.npz"), "connectivity type = str: allowed refsim.Connectivity"),
        (dict(connectivity=other), "connectivity has N = 40 (n_exc = 30): allowed N = 50, n_exc = 40"),
        (dict(stop_on_runaway="no"), "stop_on_runaway = 'no': allowed True or False"),
        (dict(seed=None), "seed = None: allowed only with both connectivity and a complete initial state"),
    ]


@pytest.mark.parametrize("i", range(len(bad_simulate_calls())))
def test_simulate_refuses_bad_arguments_before_any_work(i, monkeypatch):
    """Each bad argument raises ConfigError with the documented message, before the
    connectivity is drawn (drawing is made to fail here, so any work would show)."""
    kw, message = bad_simulate_calls()[i]
    config = kw.pop("config", small())

    def no_work(*a, **k):
        raise AssertionError("work started")

    monkeypatch.setattr(network_module, "build_connectivity", no_work)
    with pytest.raises(ConfigError) as e:
        refsim.simulate(config, **{"seed": 0, "progress": False, **kw})
    assert str(e.value).startswith(message), str(e.value)


def test_initial_draws_that_overflow_name_their_parameters():
    cfg = refsim.get_preset("tutorial-normalized", n_exc=8, n_inh=2, duration=1.0, V0_mean=1e308,
                            V0_std=1e308)
    with pytest.raises(ConfigError, match=r"^V0_mean = 1e\+308, V0_std = 1e\+308: allowed values whose "
                                          r"Normal draws are finite in float64"):
        refsim.simulate(cfg, 0, progress=False)


@pytest.mark.parametrize("name", [None, ["tutorial"], 3, "tutorail"])
def test_unknown_presets_of_any_type_are_config_errors(name):
    with pytest.raises(ConfigError,
                       match=r"^preset = .*: allowed one of tutorial, tutorial-normalized, brette2007-coba"):
        refsim.get_preset(name)


def test_cli_prints_each_config_warning_once_as_one_line(capsys, tmp_path):
    code = cli.main(["run", "--set", "E_e=-55", "--set", "n_exc=40", "--set", "n_inh=10", "--duration", "5",
                     "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 0
    assert err == ["refsim: warning: E_e = -55.0: expected E_e > V_th = -50.0 mV (excitation pulls V "
                   "toward E_e, so it can never drive a spike)"]

