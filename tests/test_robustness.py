"""Robustness: bad input is refused before work starts, long runs stop cleanly on non-finite
state or runaway activity, interrupted runs and writes keep what was done, files from
elsewhere are checked, and results are the same bits in every process.

Reference values: the non-finite steps are derived by hand from IEEE overflow (see the test
docstrings); the runaway steps from the definition in ``refsim.checks.RunawayMonitor``,
re-implemented here as a plain sliding-window sum over an unchecked run; memory estimates
from the nbytes of the arrays a run actually allocates; everything else from the documented
error messages and the uninterrupted runs.
"""
import dataclasses
import importlib
import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import refsim
from refsim import ConfigError, ConfigWarning
from refsim import cli, resources
from refsim.params import CHOICES, coerce
from refsim.io import atomic_write

sim_module = importlib.import_module("refsim.simulate")  # refsim.simulate is the function
network_module = importlib.import_module("refsim.network")  # where the network is drawn
FIELDS = [f.name for f in dataclasses.fields(refsim.Config)]
FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(refsim.Config)}
PY_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


def small(preset="tutorial", **kw):
    return refsim.get_preset(preset, **{"n_exc": 40, "n_inh": 10, "duration": 20.0, **kw})


def names_a_field(message):
    """A ConfigError message of the form '<field> = <value>: allowed ...' (or '<a>, <b>: ...'
    for messages about two fields)."""
    return message.split(" = ")[0] in FIELDS and "allowed" in message


# ---------------------------------------------------------------------------------------
# Validation layer, driven by Hypothesis
# ---------------------------------------------------------------------------------------

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
    assert abs(cfg.n_steps * cfg.dt - cfg.duration) <= 1e-9 * cfg.duration
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


def extreme(lo, hi, *extremes):
    return st.one_of(st.floats(lo, hi), st.sampled_from(extremes))


_TIMES = extreme(1e-3, 100.0, 1e-300, 1e-30, 1e-6, 1e30, 1e300)
_VOLTS = extreme(-100.0, 100.0, 1e30, -1e30, 1e300, -1e300, 3e38)
_GAINS = extreme(0.0, 1e3, 0.0, 1e30, 1e300, 3e38)
physics = st.fixed_dictionaries({}, optional={
    **{name: _TIMES for name in ("tau_m", "tau_e", "tau_i")},
    **{name: _VOLTS for name in ("V_rest", "V_th", "V_reset", "E_e", "E_i", "V0_mean", "g_e0_mean", "g_i0_mean")},
    **{name: _GAINS for name in ("RI_ext", "R_g", "w_e", "w_i", "V0_std", "g_e0_std", "g_i0_std")},
    "tau_ref": extreme(0.0, 10.0, 0.0, 1e30), "integrator": st.sampled_from(["euler", "exp_euler"]),
    "dt": st.sampled_from([0.1, 0.5, 2.0]),
})


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(refsim.preset_names()), physics, st.sampled_from(["numpy", "numba"]),
       st.integers(0, 1000))
def test_any_accepted_parameters_run_to_the_end_or_stop_with_a_named_step(preset, values, engine, seed):
    """Property: with arbitrary (extreme, possibly nonsensical) parameters that the Config
    accepts, a 12-neuron, 60-step run either completes with a finite final state or stops on
    'non-finite'/'runaway' with a message naming the step, keeping only the steps before it
    and a finite state after the last of them; the only other outcome is a ConfigError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        try:
            values = {"dt": 0.1, **values}
            cfg = refsim.get_preset(preset, n_exc=9, n_inh=3, p_conn=0.3, duration=60 * values["dt"], **values)
            r = refsim.simulate(cfg, seed, engine=engine, record=[0], progress=False)
        except ConfigError as e:
            assert names_a_field(str(e)), str(e)
            event("refused: " + str(e).split(" = ")[0])
            return
    event(r.stop_reason or "complete")
    assert all(np.isfinite(r.final_state[k]).all() for k in ("V", "g_e", "g_i"))
    assert np.all(r.spike_steps < r.steps_done) and r.traces["V"].shape == (r.steps_done, 1)
    if r.complete:
        assert r.steps_done == cfg.n_steps and r.stop_reason == ""
    elif r.stop_reason == "non-finite":
        assert f"non-finite state at step {r.steps_done} " in r.message
    else:
        assert r.stop_reason == "runaway" and f"runaway activity at step {r.steps_done - 1} " in r.message


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
    (dict(preset="tutorial", V0_mean=1e308, V0_std=1e308, dtype="float64", arithmetic="ieee", expm1="portable"),
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
        (dict(record=[1.5]), "record = [1.5] (float64, shape (1,)): allowed a sequence of int neuron indices 0 .. 49"),
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
    cfg = refsim.get_preset("tutorial-normalized", n_exc=8, n_inh=2, duration=1.0, V0_mean=1e308, V0_std=1e308)
    with pytest.raises(ConfigError, match=r"^V0_mean = 1e\+308, V0_std = 1e\+308: allowed values whose "
                                          r"Normal draws are finite in float64"):
        refsim.simulate(cfg, 0, progress=False)


@pytest.mark.parametrize("name", [None, ["tutorial"], 3, "tutorail"])
def test_unknown_presets_of_any_type_are_config_errors(name):
    with pytest.raises(ConfigError, match=r"^preset = .*: allowed one of tutorial, tutorial-normalized, brette2007-coba"):
        refsim.get_preset(name)


# ---------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", ["fixed_out_degree", "fixed_in_degree", "bernoulli"])
def test_memory_estimate_matches_what_a_run_allocates(rule):
    """Connectivity: exactly the bytes of the CSR arrays plus the run-dtype counts for the
    fixed-degree rules, within 5 % for Bernoulli (an expectation); traces: exactly the bytes of
    the recorded traces."""
    kw = dict(conn_rule=rule, conn_rng="pcg64", multapses=rule != "bernoulli")
    cfg = refsim.get_preset("tutorial-normalized", n_exc=400, n_inh=100, duration=10.0, p_conn=0.05, **kw)
    est = refsim.estimate_memory(cfg, record=[0, 3, 7], record_vars=("V", "g_i"))
    conn = refsim.build_connectivity(cfg, np.random.SeedSequence(1))
    actual = conn.indptr.nbytes + conn.indices.nbytes + conn.counts.nbytes + conn.counts.astype(cfg.dtype).nbytes
    if rule == "bernoulli":
        assert abs(est["connectivity"] - actual) < 0.05 * actual
    else:
        assert est["connectivity"] == actual
    r = refsim.simulate(cfg, 1, connectivity=conn, record=[0, 3, 7], record_vars=("V", "g_i"), progress=False)
    assert est["traces"] == sum(t.nbytes for t in r.traces.values()) == 100 * 3 * 2 * 8
    assert est["total"] == sum(v for k, v in est.items() if k not in ("total", "spikes_max"))
    # worst case: every neuron fires once per ceil(tau_ref/dt) = 50 steps: 2 spikes in 100 steps
    assert est["spikes_max"] == 500 * 2 * 12


def test_a_run_that_does_not_fit_is_refused_before_any_allocation(monkeypatch):
    """With 1 MB available, the 4000-neuron tutorial (5.1 MB of connectivity) is refused with
    the breakdown and the alternatives, and neither connectivity nor state is built."""
    monkeypatch.setattr(resources, "available_memory", lambda: 1_000_000)

    def no_work(*a, **k):
        raise AssertionError("allocation started")

    monkeypatch.setattr(network_module, "build_connectivity", no_work)
    monkeypatch.setattr(network_module, "initial_state", no_work)
    with pytest.raises(ConfigError) as e:
        refsim.simulate(refsim.get_preset("tutorial"), 0, progress=False)
    assert str(e.value) == (
        "memory: the run needs ~5.24 MiB (connectivity 4.9 MiB, state 312 KiB, step times 39.1 KiB) "
        "but 977 KiB are available: allowed at most the available memory; record fewer neurons or "
        "variables, run a shorter duration (spikes are kept sparse, so a long run costs only its "
        "spikes) or a smaller network")


def test_too_many_synapses_for_int32_indices_are_refused():
    with pytest.raises(ConfigError, match=r"^p_conn = 0.02: allowed a value giving fewer than 2\*\*31 synapses"):
        refsim.simulate(refsim.get_preset("tutorial", n_exc=400_000), 0, progress=False)


def test_dense_matrix_is_refused_when_it_does_not_fit(monkeypatch):
    r = refsim.simulate(small(), 0, progress=False)
    assert r.dense().shape == (200, 50)
    monkeypatch.setattr(resources, "available_memory", lambda: 9999)
    with pytest.raises(ConfigError, match=r"^memory: the dense \(steps_done, N\) spike matrix needs ~9.77 KiB "
                                          r".*use the sparse spikes result.spike_steps and result.spike_neurons"):
        r.dense()


def test_cli_refuses_a_run_that_does_not_fit_with_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(resources, "available_memory", lambda: 10**6)
    assert cli.main(["run", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("refsim: error: memory: the run needs ~5.24 MiB")
    assert not (tmp_path / "spikes.npz").exists()


def test_available_memory_reads_the_system():
    avail = refsim.available_memory()
    assert avail is None or 0 < avail < 2**60


# ---------------------------------------------------------------------------------------
# Non-finite state and runaway activity
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("schedule,preset", [("brette", "brette2007-coba"), ("brainpy", "tutorial")])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_nonfinite_state_is_detected_at_the_exact_step(schedule, preset, dtype, engine):
    """Forward Euler with dt = 3 tau_e is unstable: g <- g + dt (-g / tau_e) = -2 g, exactly
    (powers of two), so g_e = (-2)^(k+1) after step k for the two neurons started at g_e = 1
    (neurons 2 and 5). With R_g = 0 and no drive V stays at V_rest = -60 mV, but the product
    g_e (E_e - V) = 60 g_e overflows once 60 * 2^j >= 2^1024 (float64) or 2^128 (float32),
    i.e. j = 1019 or 123, and then R_g * inf = NaN. Brette's order integrates V with the
    previous step's g_e = (-2)^k: first NaN at step 1019 (float64) / 123 (float32); BrainPy's
    order uses the new g_e = (-2)^(k+1): steps 1018 / 122. The run stops there with the steps
    before it kept: neuron 0, started at -45 mV, spikes at step 0 in Brette's order only."""
    bad_step = {"brette": 1019, "brainpy": 1018}[schedule] - (896 if dtype == "float32" else 0)
    n_steps = 1100 if dtype == "float64" else 200
    cfg = refsim.get_preset(preset, n_exc=6, n_inh=2, p_conn=0.0, RI_ext=0.0, R_g=0.0, integrator="euler",
                            tau_e=0.25, dt=0.75, duration=n_steps * 0.75, dtype=dtype, arithmetic="ieee", expm1="portable")
    g = np.zeros(8)
    g[[2, 5]] = 1.0
    V = np.full(8, -60.0)
    V[0] = -45.0
    r = refsim.simulate(cfg, 0, engine=engine, initial={"V": V, "g_e": g, "g_i": np.zeros(8)},
                        record=[2], progress=False)
    assert not r.complete and r.stop_reason == "non-finite" and r.steps_done == bad_step
    assert r.message.startswith(f"non-finite state at step {bad_step} (t = {bad_step * 0.75:g} ms): "
                                "2 neurons (2, 5) with NaN or infinite V, g_e or g_i (V: 2, g_e: 0, g_i: 0); "
                                f"kept steps 0 .. {bad_step - 1}")
    expected = ([0], [0]) if schedule == "brette" else ([], [])
    assert r.spike_steps.tolist() == expected[0] and r.spike_neurons.tolist() == expected[1]
    k = np.arange(bad_step)
    np.testing.assert_array_equal(r.traces["g_e"][:, 0], (-2.0) ** (k + 1))
    assert r.final_state["g_e"][2] == (-2.0) ** bad_step and r.final_state["V"][2] == -60.0


def everyone_every_step(n_exc=30, n_inh=10, duration=20.0):
    # tau_ref = 0 and dV = +50 mV per step from V_reset: every neuron spikes at every step
    return refsim.get_preset("brette2007-coba", n_exc=n_exc, n_inh=n_inh, duration=duration,
                             tau_ref=0.0, RI_ext=1e4, w_e=0.0, w_i=0.0)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_runaway_every_neuron_every_step_stops_at_step_8(engine):
    """tau_ref = 0: r = 1, W = 10 steps, limit 9 N spikes. Every neuron spikes at every step,
    so the count reaches 9 N = 360 at step 8 (steps 0..8); steps 0..8 are kept."""
    r = refsim.simulate(everyone_every_step(), 1, engine=engine, progress=False)
    assert r.stop_reason == "runaway" and r.steps_done == 9 and r.n_spikes == 9 * 40
    assert r.message.startswith("runaway activity at step 8 (t = 0.8 ms): 360 spikes in steps 0 .. 8, "
                                "at least 9 N = 360 (90 % of one spike per neuron every 1 steps, the "
                                "limit of the 0 ms refractory period); 40 neurons (0, 1, 2, 3, 4, 5, 6, "
                                "7, 8, 9, ...) fired 9 times or more; kept steps 0 .. 8")
    np.testing.assert_array_equal(r.spike_steps, np.repeat(np.arange(9), 40))
    on = refsim.simulate(everyone_every_step(), 1, engine=engine, progress=False, stop_on_runaway=False)
    assert on.complete and on.n_spikes == 200 * 40


def first_runaway_step(result, window, threshold):
    """The definition, independently: per-step counts, sliding sums over `window` steps."""
    counts = np.bincount(result.spike_steps, minlength=result.steps_done)
    sums = np.convolve(counts, np.ones(window, np.int64))[:counts.size]
    hits = np.flatnonzero(sums >= threshold)
    return int(hits[0]) if hits.size else None


@pytest.mark.parametrize("engine,chunk", [("numba", 500), ("numpy", 500), ("numba", 64), ("numba", 7)])
def test_runaway_is_detected_at_the_step_the_definition_gives_whatever_the_chunking(engine, chunk, monkeypatch):
    """A recurrent excitatory network (tau_ref = 1 ms, dt = 0.1 ms: r = 11, W = 110 steps) whose
    activity builds up: the run stops at the first step where the last 110 steps hold >= 9 N
    spikes, as computed from the unchecked run's raster, for any chunk size."""
    cfg = refsim.get_preset("brette2007-coba", n_exc=40, n_inh=10, p_conn=0.2, tau_ref=1.0, RI_ext=15.0,
                            w_e=0.5, w_i=0.0, g_e0_mean=0.0, g_e0_std=0.0, g_i0_mean=0.0, g_i0_std=0.0,
                            duration=60.0)
    full = refsim.simulate(cfg, 0, engine=engine, progress=False, stop_on_runaway=False)
    expected = first_runaway_step(full, 110, 9 * 50)
    assert expected == 330  # the value this configuration gives; > 2 chunks of 64 and 7
    monkeypatch.setattr(sim_module, "_CHUNK_STEPS", chunk)
    r = refsim.simulate(cfg, 0, engine=engine, progress=False)
    assert r.stop_reason == "runaway" and r.steps_done == expected + 1
    assert f"runaway activity at step {expected} " in r.message
    keep = full.spike_steps <= expected
    np.testing.assert_array_equal(r.spike_steps, full.spike_steps[keep])
    np.testing.assert_array_equal(r.spike_neurons, full.spike_neurons[keep])


def test_normal_activity_is_not_runaway():
    """The tutorial's tonic ~50 Hz (limit ~176 Hz) and the AI preset run to the end."""
    for preset in ("tutorial", "tutorial-normalized"):
        r = refsim.simulate(refsim.get_preset(preset, duration=200.0), 0, progress=False)
        assert r.complete and r.n_spikes > 10_000


# ---------------------------------------------------------------------------------------
# Interruption and atomic writes
# ---------------------------------------------------------------------------------------

def interrupt_at_chunk(monkeypatch, n_chunks):
    """Make the engine raise KeyboardInterrupt when it is asked for chunk number n_chunks."""
    real = sim_module.get_engine
    calls = {"n": 0}

    def get_engine(name):
        run = real(name)

        def interrupted(*a):
            if calls["n"] == n_chunks:
                raise KeyboardInterrupt
            calls["n"] += 1
            return run(*a)
        return interrupted

    monkeypatch.setattr(sim_module, "get_engine", get_engine)


def test_interrupted_compiled_run_keeps_the_spikes_of_the_chunks_done(monkeypatch):
    """Ctrl-C during the third chunk of the numba engine: the partial result holds steps
    0..999 exactly as the uninterrupted run, marked partial with the step reached."""
    cfg = small(duration=300.0)
    full = refsim.simulate(cfg, 4, progress=False)
    interrupt_at_chunk(monkeypatch, 2)
    part = refsim.simulate(cfg, 4, progress=False)
    assert (not part.complete and part.stop_reason == "interrupted" and part.steps_done == 1000
            and part.message == "interrupted (KeyboardInterrupt) after step 1000" and part.final_state == {})
    keep = full.spike_steps < 1000
    np.testing.assert_array_equal(part.spike_steps, full.spike_steps[keep])
    np.testing.assert_array_equal(part.spike_neurons, full.spike_neurons[keep])


def test_cli_saves_an_interrupted_run_as_partial_and_exits_130(monkeypatch, capsys, tmp_path):
    interrupt_at_chunk(monkeypatch, 1)
    code = cli.main(["run", "--set", "n_exc=40", "--set", "n_inh=10", "--duration", "100",
                     "--out", str(tmp_path), "--no-progress"])
    assert code == 130
    saved = refsim.SimulationResult.load(tmp_path / "spikes.npz")
    assert saved.steps_done == 500 and not saved.complete and saved.stop_reason == "interrupted"
    assert "refsim: PARTIAL RESULT (interrupted, 500 of 1000 steps saved)" in capsys.readouterr().err


def test_cli_saves_a_runaway_run_as_partial_and_exits_3(capsys, tmp_path):
    args = ["run", "--preset", "brette2007-coba", "--set", "n_exc=30", "--set", "n_inh=10", "--duration", "20",
            "--set", "tau_ref=0", "--set", "RI_ext=1e4", "--set", "w_e=0", "--set", "w_i=0", "--no-progress"]
    assert cli.main(args + ["--out", str(tmp_path / "a")]) == 3
    saved = refsim.SimulationResult.load(tmp_path / "a" / "spikes.npz")
    assert saved.stop_reason == "runaway" and saved.steps_done == 9 and saved.n_spikes == 360
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["stop_reason"] == "runaway" and summary["steps_done"] == 9
    assert "refsim: PARTIAL RESULT (runaway, 9 of 200 steps saved): runaway activity at step 8" in capsys.readouterr().err
    assert cli.main(args + ["--out", str(tmp_path / "b"), "--allow-runaway"]) == 0
    assert refsim.SimulationResult.load(tmp_path / "b" / "spikes.npz").n_spikes == 8000


def test_cli_prints_each_config_warning_once_as_one_line(capsys, tmp_path):
    code = cli.main(["run", "--set", "E_e=-55", "--set", "n_exc=40", "--set", "n_inh=10", "--duration", "5",
                     "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 0
    assert err == ["refsim: warning: E_e = -55.0: expected E_e > V_th = -50.0 mV (excitation pulls V "
                   "toward E_e, so it can never drive a spike)"]


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
    np.savez(d / "targets.npz", targets_e=np.array([[0, 1], [2, 3], [4, 4]]), targets_i=np.array([[1, 0], [3, 2]]))
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
def test_a_corrupted_byte_gives_a_config_error_or_the_original_content(valid_files, tmp_path_factory, kind, data):
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
def test_valid_npz_with_wrong_shapes_dtypes_or_values_is_a_config_error(valid_files, tmp_path_factory, kind, data):
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
    ("targets", dict(targets_e=np.zeros((3, 2)), targets_i=np.zeros((2, 2), int)), "targets_e dtype = float64: allowed an integer type"),
    ("targets", dict(targets_e=np.full((3, 2), 5), targets_i=np.zeros((2, 2), int)), "targets_e values: allowed 0 .. 4"),
    # empty arrays of types that cannot be combined (found by the Hypothesis test below)
    ("targets", dict(targets_e=np.zeros((3, 0), bool), targets_i=np.zeros((2, 0), "datetime64[s]")),
     "targets_e dtype = bool: allowed an integer type"),
    ("targets", dict(targets_e=np.zeros((4, 2), int), targets_i=np.zeros((2, 2), int)), "targets_e and targets_i have 6 rows: allowed N = 5"),
    ("init", dict(V=np.zeros(4)), "V shape = (4,): allowed (5,)"),
    ("init", dict(V=np.r_[np.zeros(4), np.nan]), "V: 1 NaN or infinite values: allowed finite values only"),
    ("init", dict(V=np.zeros(5, complex)), "V dtype = complex128: allowed an integer or floating-point type"),
    ("init", dict(g_e=np.zeros(5)), "arrays ['g_e']: allowed 'V' and optionally"),
    ("sparse", dict(format=np.array("bsr"), shape=np.array([5, 5]), data=np.ones(1), indices=np.zeros(1, int),
                    indptr=np.zeros(6, int)), "format = 'bsr': allowed 'csr', 'csc' or 'coo'"),
    ("sparse", dict(format=np.array("csr"), shape=np.array([5, 5]), data=np.ones(2), indices=np.array([0, 7]),
                    indptr=np.array([0, 2, 2, 2, 2, 2])), "indices values 0 .. 7: allowed 0 .. 4"),
    ("sparse", dict(format=np.array("csr"), shape=np.array([5, 5]), data=np.ones(2), indices=np.array([0, 1]),
                    indptr=np.array([0, 2, 1, 2, 2, 2])), "indptr: allowed non-decreasing from 0 to len(data) = 2"),
    ("sparse", dict(format=np.array("csr"), shape=np.array([4, 4]), data=np.ones(0), indices=np.zeros(0, int),
                    indptr=np.zeros(5, int)), "N = 4, n_exc = 3: allowed N = 5, n_exc = 3"),
    ("sparse", dict(format=np.array("coo"), shape=np.array([5, 5]), data=np.array([1.5]), row=np.zeros(1, int),
                    col=np.zeros(1, int)), None),
])
def test_loaders_name_what_is_wrong(tmp_path, kind, content, message):
    np.savez(tmp_path / "f.npz", **content)
    with pytest.raises(ConfigError) as e:
        load_any(kind, tmp_path / "f.npz")
    if message is None:  # counts must be whole numbers of synapses
        assert str(e.value) == "connectivity entries: allowed non-negative integers (synapse counts)"
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
    np.savez(tmp_path / "b.npz", **{**content, "spike_steps": np.array([5, 2]), "spike_neurons": np.array([0, 1])})
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


# ---------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------

def test_same_config_and_seed_give_the_same_bits_in_another_process(tmp_path):
    """A fresh interpreter runs the same configuration and seed with both engines; its spikes,
    traces and final state equal this process's bit for bit, and every result stores the
    seed and the versions."""
    cfg = refsim.get_preset("tutorial-normalized", n_exc=160, n_inh=40, duration=100.0)
    code = ("import json, sys, refsim\n"
            "cfg = refsim.Config.from_dict(json.loads(sys.argv[1]))\n"
            "for e in ('numba', 'numpy'):\n"
            "    refsim.simulate(cfg, 7, engine=e, record=[3], progress=False).save(sys.argv[2] + e + '.npz')\n")
    subprocess.run([sys.executable, "-c", code, json.dumps(cfg.to_dict()), str(tmp_path / "r-")], check=True)
    for engine in ("numba", "numpy"):
        here = refsim.simulate(cfg, 7, engine=engine, record=[3], progress=False)
        there = refsim.SimulationResult.load(tmp_path / f"r-{engine}.npz")
        assert here.n_spikes > 100
        assert here.spike_steps.tobytes() == there.spike_steps.tobytes()
        assert here.spike_neurons.tobytes() == there.spike_neurons.tobytes()
        assert here.traces["V"].tobytes() == there.traces["V"].tobytes()
        assert all(here.final_state[k].tobytes() == there.final_state[k].tobytes() for k in here.final_state)
        assert there.seed == 7 and there.versions == here.versions
        assert set(there.versions) >= {"python", "refsim", "numpy", "scipy", "numba", "llvmlite", "machine"}
