"""Runs stop cleanly: on non-finite state or runaway activity at the exact step, and on Ctrl-C
after the chunks done, keeping the steps before the stop; the command line saves such
partial results and exits with 3 (130 after Ctrl-C).

Reference values: the non-finite steps are derived by hand from IEEE overflow (see the test
docstrings); the runaway steps from the definition in ``refsim.checks.RunawayMonitor``,
re-implemented here as a plain sliding-window sum over an unchecked run; the kept spikes from
the uninterrupted runs. The ``engine`` fixture (tests/conftest.py) runs the stops with each
engine: the checks are the same code for all.
"""
import json
import math
import warnings

import numpy as np
import pytest
from helpers import names_a_field, sim_module, small
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import refsim
from refsim import ConfigError, ConfigWarning, cli


def extreme(lo, hi, *extremes):
    return st.one_of(st.floats(lo, hi), st.sampled_from(extremes))


_TIMES = extreme(1e-3, 100.0, 1e-300, 1e-30, 1e-6, 1e30, 1e300)
_VOLTS = extreme(-100.0, 100.0, 1e30, -1e30, 1e300, -1e300, 3e38)
_GAINS = extreme(0.0, 1e3, 0.0, 1e30, 1e300, 3e38)
physics = st.fixed_dictionaries({}, optional={
    **{name: _TIMES for name in ("tau_m", "tau_e", "tau_i")},
    **{name: _VOLTS for name in ("V_rest", "V_th", "V_reset", "E_e", "E_i", "V0_mean", "g_e0_mean",
                                 "g_i0_mean")},
    **{name: _GAINS for name in ("RI_ext", "R_g", "w_e", "w_i", "V0_std", "g_e0_std", "g_i0_std")},
    "tau_ref": extreme(0.0, 10.0, 0.0, 1e30), "integrator": st.sampled_from(["euler", "exp_euler"]),
    "dt": st.sampled_from([0.1, 0.5, 2.0]),
})


#: Examples per engine (the CUDA simulator takes ~10 ms per step of these 12 neurons)
EXAMPLES = {"numpy": 60, "numba": 60, "cuda": 8}


def test_any_accepted_parameters_run_to_the_end_or_stop_with_a_named_step(engine):
    """Property: with arbitrary (extreme, possibly nonsensical) parameters that the Config
    accepts, a 12-neuron, 60-step run either completes with a finite final state or stops on
    'non-finite'/'runaway' with a message naming the step, keeping only the steps before it
    and a finite state after the last of them; the only other outcome is a ConfigError. For
    every engine."""

    @settings(max_examples=EXAMPLES[engine], suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(refsim.preset_names()), physics, st.integers(0, 1000))
    def prop(preset, values, seed):
        run_or_stop_with_a_named_step(preset, values, engine, seed)

    prop()


def run_or_stop_with_a_named_step(preset, values, engine, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        try:
            values = {"dt": 0.1, **values}
            cfg = refsim.get_preset(preset, n_exc=9, n_inh=3, p_conn=0.3, duration=60 * values["dt"],
                                    **values)
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

# ---------------------------------------------------------------------------------------
# Non-finite state and runaway activity
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("schedule,preset", [("brette", "brette2007-coba"), ("brainpy", "tutorial")])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nonfinite_state_is_detected_at_the_exact_step(schedule, preset, dtype, engine, monkeypatch):
    """Forward Euler with dt = 3 tau_e is unstable: g <- g + dt (-g / tau_e) = -2 g, exactly
    (powers of two), so g_e = g0 (-2)^(k+1) after step k for the two neurons started at
    g_e = g0 (neurons 2 and 5), g0 = 1 in float32 and 2^896 in float64. With R_g = 0 and no
    drive V stays at V_rest = -60 mV, but the product g_e (E_e - V) = 60 g_e overflows once
    60 g0 2^j >= 2^128 (float32) or 2^1024 (float64), i.e. j = 123 in both, and then
    R_g * inf = NaN. Brette's order integrates V with the previous step's g_e = g0 (-2)^k:
    first NaN at step 123; BrainPy's order uses the new g_e = g0 (-2)^(k+1): step 122. The run
    stops there with the steps before it kept: neuron 0, started at -45 mV, spikes at step 0
    in Brette's order only. Checked in chunks of 50 steps, so the bad step is found in the
    third chunk (replayed from that chunk's start)."""
    monkeypatch.setattr(sim_module, "_CHUNK_STEPS", 50)
    bad_step = {"brette": 123, "brainpy": 122}[schedule]
    g0 = 1.0 if dtype == "float32" else 2.0**896
    cfg = refsim.get_preset(preset, n_exc=6, n_inh=2, p_conn=0.0, RI_ext=0.0, R_g=0.0, integrator="euler",
                            tau_e=0.25, dt=0.75, duration=200 * 0.75, dtype=dtype, arithmetic="ieee",
                            expm1="portable")
    g = np.zeros(8)
    g[[2, 5]] = g0
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
    np.testing.assert_array_equal(r.traces["g_e"][:, 0], g0 * (-2.0) ** (k + 1))
    assert r.final_state["g_e"][2] == g0 * (-2.0) ** bad_step and r.final_state["V"][2] == -60.0


def everyone_every_step(n_exc=30, n_inh=10, duration=20.0):
    # tau_ref = 0 and dV = +50 mV per step from V_reset: every neuron spikes at every step
    return refsim.get_preset("brette2007-coba", n_exc=n_exc, n_inh=n_inh, duration=duration,
                             tau_ref=0.0, RI_ext=1e4, w_e=0.0, w_i=0.0)


def test_runaway_every_neuron_every_step_stops_at_step_8(engine):
    """tau_ref = 0: r = 1, W = 10 steps, limit 9 N spikes. Every neuron spikes at every step,
    so the count reaches 9 N = 360 at step 8 (steps 0..8); steps 0..8 are kept. Without the
    check the run goes on: all 30 steps (three windows), N spikes each."""
    cfg = everyone_every_step(duration=3.0)
    r = refsim.simulate(cfg, 1, engine=engine, progress=False)
    assert r.stop_reason == "runaway" and r.steps_done == 9 and r.n_spikes == 9 * 40
    assert r.message.startswith("runaway activity at step 8 (t = 0.8 ms): 360 spikes in steps 0 .. 8, "
                                "at least 9 N = 360 (90 % of one spike per neuron every 1 steps, the "
                                "limit of the 0 ms refractory period); 40 neurons (0, 1, 2, 3, 4, 5, 6, "
                                "7, 8, 9, ...) fired 9 times or more; kept steps 0 .. 8")
    np.testing.assert_array_equal(r.spike_steps, np.repeat(np.arange(9), 40))
    on = refsim.simulate(cfg, 1, engine=engine, progress=False, stop_on_runaway=False)
    assert on.complete and on.n_spikes == cfg.n_steps * 40 == 30 * 40


def first_runaway_step(result, window, threshold):
    """The definition, independently: per-step counts, sliding sums over `window` steps."""
    counts = np.bincount(result.spike_steps, minlength=result.steps_done)
    sums = np.convolve(counts, np.ones(window, np.int64))[:counts.size]
    hits = np.flatnonzero(sums >= threshold)
    return int(hits[0]) if hits.size else None


@pytest.mark.engines("numpy", "numba")
@pytest.mark.parametrize("chunk", [500, 64, 7])
def test_runaway_is_detected_at_the_step_the_definition_gives_whatever_the_chunking(engine, chunk,
                                                                                    monkeypatch):
    """A recurrent excitatory network (tau_ref = 1 ms, dt = 0.1 ms: r = floor(tau_ref/dt) + 1
    = 11, window W = 10 r = 110 steps) whose activity builds up: the run stops at the first step
    where the last W steps hold >= 9 N spikes, as computed from the unchecked run's raster
    (first_runaway_step, the definition re-implemented), for any chunk size. The premise is
    checked too: that step comes after more than two chunks of 64 steps (so the stop falls in
    a later chunk of every size tried) and before the end of the run."""
    cfg = refsim.get_preset("brette2007-coba", n_exc=40, n_inh=10, p_conn=0.2, tau_ref=1.0, RI_ext=15.0,
                            w_e=0.5, w_i=0.0, g_e0_mean=0.0, g_e0_std=0.0, g_i0_mean=0.0, g_i0_std=0.0,
                            duration=60.0)
    full = refsim.simulate(cfg, 0, engine=engine, progress=False, stop_on_runaway=False)
    window = 10 * (math.floor(cfg.tau_ref / cfg.dt + 1e-9) + 1)
    expected = first_runaway_step(full, window, 9 * cfg.n_neurons)
    assert window == 110 and expected is not None and 2 * 64 < expected < cfg.n_steps - 1
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

    def get_engine(name, threads=1):
        run = real(name, threads)

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
            and part.message == "interrupted (Ctrl-C) after 1000 steps; kept steps 0 .. 999"
            and part.final_state == {})
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
    args = ["run", "--preset", "brette2007-coba", "--set", "n_exc=30", "--set", "n_inh=10",
            "--duration", "20",
            "--set", "tau_ref=0", "--set", "RI_ext=1e4", "--set", "w_e=0", "--set", "w_i=0", "--no-progress"]
    assert cli.main(args + ["--out", str(tmp_path / "a")]) == 3
    saved = refsim.SimulationResult.load(tmp_path / "a" / "spikes.npz")
    assert saved.stop_reason == "runaway" and saved.steps_done == 9 and saved.n_spikes == 360
    # 0.9 ms is shorter than cli.MIN_BENCHMARK_MS: the raster is drawn, the benchmark figure not
    assert (tmp_path / "a" / "raster.png").exists() and not (tmp_path / "a" / "benchmark.png").exists()
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["stop_reason"] == "runaway" and summary["steps_done"] == 9
    err = capsys.readouterr().err
    assert "refsim: PARTIAL RESULT (runaway, 9 of 200 steps saved): runaway activity at step 8" in err
    assert cli.main(args + ["--out", str(tmp_path / "b"), "--allow-runaway"]) == 0
    # all 200 steps, every one of the 40 neurons at every step
    assert refsim.SimulationResult.load(tmp_path / "b" / "spikes.npz").n_spikes == 200 * 40

