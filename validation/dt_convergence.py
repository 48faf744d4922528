#!/usr/bin/env python
"""How far is a time-stepped run from the true solution? Error versus dt, against refsim.exact.

Run with refsim's environment from the repository root::

    python -m validation.dt_convergence            # the full study (about 2 minutes)
    python -m validation.dt_convergence --quick    # 1 seed, 100 ms: a look in ~20 s, no files
    python -m validation.dt_convergence --replot   # figure and tables again from the JSON

For dt in 0.4, 0.2, 0.1, 0.05, 0.025, 0.0125 ms and each integrator of the time-stepped
engines (``exp_euler``: exponential Euler; ``euler``: forward Euler), the Numba engine and
the accurate event-driven solver :func:`refsim.exact.simulate_exact` (DOP853, rtol = atol =
1e-12, exact threshold crossings) run the same network from the same initial state, and the
script reports

* **V error**: |V_engine - V_exact| at fixed sample times t_j = 0.4 j ms (on every grid)
  within the comparison window [0, ``window``], over every (neuron, t_j) at which both runs
  have fired the same number of spikes (``while no spike has diverged``: where one run has
  reset and the other has not yet, the difference is the 10 mV reset, not an integration
  error). The engine's state after step k is the state at (k+1) dt; for the ``brainpy``
  schedule the recorded V of a spiking step is the pre-reset value (the reset happens at the
  start of the next step, at the same time (k+1) dt), so the reset is applied to it first.
  Median and maximum over the pooled pairs of all seeds.
* **spike-time error of the first spikes**: every spike of the exact raster in the window is
  paired with the same neuron's spike of the same rank in the engine's raster
  (:func:`refsim.compare.pair_spikes`); the engine's spike time is the end of its step,
  (k+1) dt (:func:`refsim.compare.step_end_spike_times`), and, as a diagnostic, the linear
  interpolation of the threshold crossing between the grid values before and after the
  crossing (``interp``). Mean and maximum of |t_engine - t_exact|.
* **time to divergence** T_div: the first time the rasters disagree, i.e. a spike without
  partner or a pair more than 1 ms apart (:func:`refsim.compare.divergence_time`), per seed,
  as a function of dt; runs that never diverge count as ``duration`` (a lower bound).
* the **observed order**: the least-squares slope p of log(error) against log(dt) over the
  six dt values (error ~ C dt^p), its standard error, and from the fit the dt at which the
  error reaches 0.01 mV (V, maximum) and 0.1 ms (first spikes, maximum).

Two single-neuron cases isolate the mechanisms (no network, no chaos): ``constant_drive``
(g = 0: exponential Euler is exact between spikes, so all its error comes from grid-aligned
spikes) and ``decaying_conductance`` (subthreshold, g_e0 = 3, g_i0 = 2 decaying: no spike,
so all the error comes from freezing g over each step).

Networks (N = ``--n`` = 400: 320 E, 80 I, fixed out-degree 80 as in the 4000-neuron
tutorial network, i.e. p_conn = 80/N, so every neuron receives the same number of inputs):

* ``tutorial-normalized`` (brainpy schedule, soft reset): the initial state is the exact
  state after ``--warmup`` = 100 ms from the preset's initial state (asynchronous regime, not
  the synchronous first wave that the preset's V0 ~ N(-55, 2) mV produces);
* ``brette2007-coba`` (brette schedule, hard reset): the preset's own initial state (V0, and
  g_e0 ~ N(4, 1.5), g_i0 ~ N(20, 12)); without external drive its activity dies out at
  N = 400, so this case probes the conductance transient and the first spikes. The few
  V0 >= V_th (0.13 % of draws) are set to V_th - 1 mV: in the continuous limit they fire at
  t = 0, but Brette's step integrates before it tests, and the strong initial inhibition
  pulls them below threshold within the first step unless dt is below ~0.005 ms, so they
  would measure a t = 0 convention instead of the integration error.

Each seed draws a new network and initial state (:func:`refsim.network.draw_network`, the rules
of ``refsim.simulate``). Results go to ``--out`` (default
``validation/results/dt_convergence.json``) and the figure ``--figure`` (default
``docs/figures/accuracy_convergence.png``); tables are printed as Markdown. Interpretation:
``docs/accuracy.md``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

import refsim
from refsim.compare import divergence_time, pair_spikes, step_end_spike_times
from refsim.engines import numpy_engine as npe
from refsim.exact import simulate_exact
from refsim.model import Constants
from refsim.network import draw_network
from validation.common import REPO, RESULTS, markdown_table, pyplot, versions, write_json

DTS = (0.4, 0.2, 0.1, 0.05, 0.025, 0.0125)
INTEGRATORS = ("exp_euler", "euler")
SAMPLE_SPACING = 0.4   # ms: the coarsest dt, so every sample time is on every grid
DIVERGENCE_TOL = 1.0   # ms
TARGET_V = 0.01        # mV
TARGET_SPIKE = 0.1     # ms
WINDOW = {"tutorial-normalized": 4.0, "brette2007-coba": 10.0}  # ms
EXTRA_TDIV_DTS = (0.00625, 0.003125)  # ms: time to divergence only (no traces recorded)


# -- the comparison ------------------------------------------------------------------------

def network_case(preset, n, seed, warmup, duration):
    """(config, connectivity, initial-state dict) of one seed."""
    n_exc = int(round(0.8 * n))
    cfg = refsim.get_preset(preset, n_exc=n_exc, n_inh=n - n_exc, p_conn=80.0 / n,
                            duration=duration)
    conn, st = draw_network(cfg, seed)
    init = {"V": st.V, "g_e": st.g_e, "g_i": st.g_i}
    # V0 >= V_th fires at t = 0 in the continuous limit, but a time-stepped brette step
    # integrates first, and strong initial inhibition pulls such a V below threshold within
    # one step unless dt < (V0 - V_th) / |dV/dt| (~0.005 ms): a t = 0 ambiguity, not an
    # integration error. Such V0 (about 0.13 % of brette2007-coba's) are set to V_th - 1 mV.
    above = init["V"] >= cfg.V_th
    init["V"] = np.where(above, cfg.V_th - 1.0, init["V"])
    if warmup > 0:
        w = simulate_exact(cfg.replace(duration=warmup), seed=None, connectivity=conn,
                           initial=init)
        fs = w.final_state
        init = {"V": fs["V"], "g_e": fs["g_e"], "g_i": fs["g_i"],
                "t_last": fs["t_last"] - warmup}
    return cfg, conn, init, int(above.sum())


def engine_crossing_times(res, cfg, init):
    """Step-end spike times (k+1) dt, and linearly interpolated crossing times (ms)."""
    dt, k = cfg.dt, res.spike_steps
    i = res.spike_neurons
    V = res.traces["V"]
    V_before = np.where(k > 0, V[np.maximum(k - 1, 0), i], np.asarray(init["V"])[i])
    if cfg.schedule == "brainpy":
        V_after = V[k, i]  # recorded before the reset (it happens at the next step)
    else:
        # brette: the trace holds V_reset; redo the step's integration from step k-1's state
        c = Constants.from_config(cfg)
        prev = np.maximum(k - 1, 0)
        ge = np.where(k > 0, res.traces["g_e"][prev, i], np.asarray(init["g_e"])[i])
        gi = np.where(k > 0, res.traces["g_i"][prev, i], np.asarray(init["g_i"])[i])
        V_after = npe.integrate_voltage(V_before, ge, gi, c)
    frac = np.clip((cfg.V_th - V_before) / (V_after - V_before), 0.0, 1.0)
    return (k + 1) * dt, (k + frac) * dt


def compare(ex, res, cfg, init, window):
    """Error measures of one time-stepped run against the exact one (see module docstring)."""
    n = cfg.n_neurons
    dt = cfg.dt
    ts = ex.sample_times
    t_step, t_interp = engine_crossing_times(res, cfg, init)
    # V at the sample times, with spike counts equal
    k = np.round(ts / dt).astype(np.int64) - 1
    V_eng = res.traces["V"][k].copy()
    if cfg.schedule == "brainpy":  # apply the pending reset of a spiking step
        spiking = np.zeros_like(V_eng, dtype=bool)
        sel = np.isin(res.spike_steps, k)
        rows = np.searchsorted(k, res.spike_steps[sel])
        spiking[rows, res.spike_neurons[sel]] = True
        jump = cfg.V_th - cfg.V_reset
        V_eng = np.where(spiking, V_eng - jump if cfg.reset == "soft" else cfg.V_reset, V_eng)

    def counts_at(times, neurons):
        out = np.zeros((ts.size, n), np.int64)
        order = np.argsort(times, kind="stable")
        times, neurons = times[order], neurons[order]
        idx = np.searchsorted(times, ts, side="right")
        for j, m in enumerate(idx):
            out[j] = np.bincount(neurons[:m], minlength=n)
        return out

    t_div = divergence_time(ex.spike_times, ex.spike_neurons, t_step, res.spike_neurons, n,
                            DIVERGENCE_TOL, duration=cfg.duration)
    cutoff = min(window, t_div)  # compare only while no spike has diverged
    in_window = ts < cutoff
    same = counts_at(ex.spike_times, ex.spike_neurons) == counts_at(t_step, res.spike_neurons)
    mask = same & in_window[:, None]
    out = {"v_errors": np.abs(V_eng - ex.traces["V"])[mask],
           "v_pairs_excluded": int((~same & in_window[:, None]).sum()),
           "cutoff": cutoff, "t_div": t_div}
    # first spikes: the exact spikes before the cutoff and their partners
    for name, t_eng in (("step", t_step), ("interp", t_interp)):
        pa, pb, _, _ = pair_spikes(ex.spike_times, ex.spike_neurons, t_eng, res.spike_neurons, n)
        sel = pa < cutoff
        out[f"spike_errors_{name}"] = np.abs(pb[sel] - pa[sel])
    out["n_first_spikes"] = int((ex.spike_times < cutoff).sum())
    out["n_first_spikes_paired"] = int(out["spike_errors_step"].size)
    return out


def fit_order(dts, errs):
    """Least-squares fit of log err = log C + p log dt: (p, standard error of p, C)."""
    x, y = np.log(np.asarray(dts)), np.log(np.asarray(errs))
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    A = np.c_[x, np.ones_like(x)]
    coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
    p, logc = coef
    resid = y - A @ coef
    se = math.sqrt(resid @ resid / max(x.size - 2, 1) / ((x - x.mean()) @ (x - x.mean())))
    return float(p), float(se), float(math.exp(logc))


def dt_for(target, p, C):
    """dt (ms) at which C dt^p = target."""
    return float((target / C) ** (1.0 / p))


def run_network(preset, n, seeds, warmup, duration, log):
    window = WINDOW[preset]
    ts = np.arange(1, int(round(duration / SAMPLE_SPACING)) + 1) * SAMPLE_SPACING
    rows = {(integ, dt): [] for integ in INTEGRATORS for dt in DTS}
    exact_info = []
    extra = {(integ, dt): [] for integ in INTEGRATORS for dt in EXTRA_TDIV_DTS}
    record_vars = ("V",) if preset == "tutorial-normalized" else ("V", "g_e", "g_i")
    for seed in seeds:
        cfg, conn, init, n_clipped = network_case(preset, n, seed, warmup if preset == "tutorial-normalized"
                                       else 0.0, duration)
        t0 = time.perf_counter()
        ex = simulate_exact(cfg, seed=None, connectivity=conn,
                            initial={k: v for k, v in init.items()},
                            sample_times=ts, record=np.arange(n), record_vars=("V",))
        exact_info.append({"seed": seed, "wall_s": time.perf_counter() - t0,
                           "initial_V_set_below_threshold": n_clipped,
                           "n_spikes": ex.n_spikes, **{k: v for k, v in ex.stats.items()}})
        log(f"  {preset} seed {seed}: exact {ex.n_spikes} spikes, "
            f"{exact_info[-1]['wall_s']:.1f} s, {ex.stats['steps']} DOP853 steps")
        for integ in INTEGRATORS:
            for dt in DTS:
                c2 = cfg.replace(dt=dt, integrator=integ)
                res = refsim.simulate(c2, seed=None, connectivity=conn, initial=init,
                                      record=np.arange(n), record_vars=record_vars,
                                      progress=False)
                if not res.complete:
                    raise RuntimeError(f"{preset} seed {seed} dt {dt}: {res.message}")
                rows[(integ, dt)].append(compare(ex, res, c2, init, window))
            for dt in EXTRA_TDIV_DTS:
                c2 = cfg.replace(dt=dt, integrator=integ)
                res = refsim.simulate(c2, seed=None, connectivity=conn, initial=init,
                                      progress=False)
                extra[(integ, dt)].append(min(divergence_time(
                    ex.spike_times, ex.spike_neurons, step_end_spike_times(res),
                    res.spike_neurons, n, DIVERGENCE_TOL, duration=duration), duration))
    summary = []
    for integ in INTEGRATORS:
        for dt in DTS:
            rs = rows[(integ, dt)]
            v = np.concatenate([r["v_errors"] for r in rs])
            s = np.concatenate([r["spike_errors_step"] for r in rs])
            si = np.concatenate([r["spike_errors_interp"] for r in rs])
            tdiv = [min(r["t_div"], duration) for r in rs]
            cut = [r["cutoff"] for r in rs]
            summary.append({
                "integrator": integ, "dt": dt,
                "v_err_median": float(np.median(v)), "v_err_mean": float(v.mean()),
                "v_err_p99": float(np.percentile(v, 99)), "v_err_max": float(v.max()),
                "v_pairs": int(v.size), "v_pairs_excluded": int(sum(r["v_pairs_excluded"] for r in rs)),
                "spike_err_mean": float(s.mean()), "spike_err_max": float(s.max()),
                "spike_err_interp_mean": float(si.mean()), "spike_err_interp_max": float(si.max()),
                "first_spikes": int(sum(r["n_first_spikes"] for r in rs)),
                "first_spikes_paired": int(s.size),
                "t_div_per_seed": tdiv, "cutoff_per_seed": cut, "t_div_median": float(np.median(tdiv)),
                "never_diverged": int(sum(r["t_div"] >= duration for r in rs)),
            })
    extra_rows = [{"integrator": integ, "dt": dt, "t_div_per_seed": v,
                   "t_div_median": float(np.median(v))} for (integ, dt), v in extra.items()]
    fits = {}
    for integ in INTEGRATORS:
        sub = [r for r in summary if r["integrator"] == integ]
        f = {}
        for key in ("v_err_median", "v_err_mean", "v_err_p99", "v_err_max", "spike_err_mean",
                    "spike_err_max", "spike_err_interp_mean"):
            p, se, C = fit_order([r["dt"] for r in sub], [r[key] for r in sub])
            f[key] = {"order": p, "order_se": se, "C": C}
        # time to divergence: all dt, the extra small ones included (runs that never
        # diverged count as the duration: a lower bound)
        td = sub + [r for r in extra_rows if r["integrator"] == integ]
        p, se, C = fit_order([r["dt"] for r in td], [r["t_div_median"] for r in td])
        f["t_div_median"] = {"order": p, "order_se": se, "C": C}
        f["dt_for_0.01mV_max"] = dt_for(TARGET_V, f["v_err_max"]["order"], f["v_err_max"]["C"])
        f["dt_for_0.01mV_p99"] = dt_for(TARGET_V, f["v_err_p99"]["order"], f["v_err_p99"]["C"])
        f["dt_for_0.01mV_median"] = dt_for(TARGET_V, f["v_err_median"]["order"],
                                           f["v_err_median"]["C"])
        f["dt_for_0.1ms_max"] = dt_for(TARGET_SPIKE, f["spike_err_max"]["order"],
                                       f["spike_err_max"]["C"])
        f["dt_for_0.1ms_mean"] = dt_for(TARGET_SPIKE, f["spike_err_mean"]["order"],
                                        f["spike_err_mean"]["C"])
        fits[integ] = f
    return {"preset": preset, "n": n, "window_ms": window, "duration_ms": duration,
            "warmup_ms": warmup if preset == "tutorial-normalized" else 0.0,
            "seeds": list(seeds), "exact": exact_info, "rows": summary, "fits": fits,
            "t_div_extra": extra_rows}


def single_neuron_cases():
    """The two isolating cases: per schedule and integrator, error vs dt and its order."""
    out = {}
    one = dict(n_exc=1, n_inh=0, w_e=0.0, w_i=0.0, V0_std=0.0, g_e0_std=0.0, g_i0_std=0.0)
    cases = {
        # g = 0: V between spikes is exact for exp_euler; first spike at 20 ln(17/10) =
        # 10.61 ms, then every tau_ref + 20 ln 2 = 18.86 ms
        "constant_drive": dict(V0_mean=-57.0, duration=400.0),
        # no spike: V0 = -60, no drive, g_e0 = 1, g_i0 = 2 decaying (tau 5, 10 ms);
        # V_inf(0) = (-60 - 160)/4 = -55 mV < V_th
        "decaying_conductance": dict(RI_ext=0.0, V0_mean=-60.0, g_e0_mean=1.0,
                                     g_i0_mean=2.0, duration=20.0),
    }
    t_v = {"constant_drive": 8.0, "decaying_conductance": 4.0}
    for name, kw in cases.items():
        res_case = {}
        for schedule, reset, test in (("brainpy", "soft", ">="), ("brette", "hard", ">")):
            cfg = refsim.get_preset("tutorial-normalized", **one, **kw, schedule=schedule,
                                    reset=reset, threshold_test=test)
            ex = simulate_exact(cfg, seed=0, sample_times=[t_v[name]], record=[0])
            for integ in INTEGRATORS:
                rows = []
                for dt in DTS:
                    c2 = cfg.replace(dt=dt, integrator=integ)
                    r = refsim.simulate(c2, seed=0, record=[0], progress=False)
                    k = int(round(t_v[name] / dt)) - 1
                    row = {"dt": dt, f"v_err_t{t_v[name]:g}":
                           float(abs(r.traces["V"][k, 0] - ex.traces["V"][0, 0])),
                           "n_spikes": int(r.n_spikes), "n_spikes_exact": ex.n_spikes}
                    if ex.n_spikes:
                        t_eng = step_end_spike_times(r)
                        row["spike_err_first"] = float(abs(t_eng[0] - ex.spike_times[0]))
                        row["period_err"] = float(abs(np.diff(t_eng).mean()
                                                      - np.diff(ex.spike_times).mean()))
                    rows.append(row)
                fits = {}
                for key in rows[0]:
                    if key.startswith(("v_err", "period_err")):
                        vals = [r[key] for r in rows]
                        # exact to rounding: no order to fit
                        fits[key] = fit_order(DTS, vals)[0] if min(vals) > 1e-11 else None
                res_case[f"{schedule}/{integ}"] = {"rows": rows, "orders": fits,
                                                   "exact_spikes": ex.spike_times.tolist()}
        out[name] = res_case
    return out


# -- output --------------------------------------------------------------------------------

def markdown_tables(study):
    lines = []
    for net in study["networks"]:
        lines.append(f"\n### {net['preset']} (N = {net['n']}, seeds {net['seeds']}, "
                     f"window {net['window_ms']} ms)\n")
        rows = [[r["integrator"], r["dt"], f"{r['v_err_median']:.2e}", f"{r['v_err_p99']:.2e}",
                 f"{r['v_err_max']:.2e}", f"{r['spike_err_mean']:.2e}", f"{r['spike_err_max']:.2e}",
                 f"{r['spike_err_interp_mean']:.2e}", f"{r['t_div_median']:.1f}",
                 ", ".join(f"{t:.1f}" for t in r["t_div_per_seed"])] for r in net["rows"]]
        rows += [[r["integrator"], r["dt"], *[""] * 6, f"{r['t_div_median']:.1f}",
                  ", ".join(f"{t:.1f}" for t in r["t_div_per_seed"])] for r in net["t_div_extra"]]
        lines.append(markdown_table(
            ["integrator", "dt (ms)", "V err median (mV)", "V err p99 (mV)", "V err max (mV)",
             "spike err mean (ms)", "spike err max (ms)", "interp. mean (ms)",
             "T_div median (ms)", "T_div per seed (ms)"], rows))
        o = lambda f, k: f"{f[k]['order']:.2f} ± {f[k]['order_se']:.2f}"
        lines.append("\n" + markdown_table(
            ["integrator", "order V median", "order V p99", "order V max", "order spike mean",
             "order spike max", "order interp. mean", "slope T_div", "dt for 0.01 mV (median)",
             "dt for 0.01 mV (p99)", "dt for 0.01 mV (max)", "dt for 0.1 ms (mean)",
             "dt for 0.1 ms (max)"],
            [[integ, o(f, "v_err_median"), o(f, "v_err_p99"), o(f, "v_err_max"),
              o(f, "spike_err_mean"), o(f, "spike_err_max"), o(f, "spike_err_interp_mean"),
              o(f, "t_div_median"), f"{f['dt_for_0.01mV_median']:.2g}",
              f"{f['dt_for_0.01mV_p99']:.2g}", f"{f['dt_for_0.01mV_max']:.2g}",
              f"{f['dt_for_0.1ms_mean']:.2g}", f"{f['dt_for_0.1ms_max']:.2g}"]
             for integ, f in net["fits"].items()]))
    for name, case in study["single_neuron"].items():
        lines.append(f"\n### single neuron: {name}\n")
        keys = [k for k in next(iter(case.values()))["rows"][0]
                if k.startswith(("v_err", "spike_err", "period_err"))]
        unit = lambda k: "mV" if k.startswith("v_err") else "ms"
        rows = []
        for label, d in case.items():
            rows += [[label, r["dt"], *(f"{r[k]:.2e}" for k in keys)] for r in d["rows"]]
            rows.append([label, "order", *(
                ("exact" if d["orders"][k] is None else f"{d['orders'][k]:.2f}")
                if k in d["orders"] else "-" for k in keys)])
        lines.append(markdown_table(["schedule/integrator", "dt (ms)",
                                     *(f"{k} ({unit(k)})" for k in keys)], rows))
    return "\n".join(lines)


def figure(study, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    styles = {("tutorial-normalized", "exp_euler"): ("C0", "o", "-"),
              ("tutorial-normalized", "euler"): ("C1", "s", "-"),
              ("brette2007-coba", "exp_euler"): ("C2", "^", "--"),
              ("brette2007-coba", "euler"): ("C3", "v", "--")}
    dts = np.array(DTS)
    for net in study["networks"]:
        for integ in INTEGRATORS:
            rows = [r for r in net["rows"] if r["integrator"] == integ]
            col, mk, ls = styles[(net["preset"], integ)]
            f = net["fits"][integ]
            lab = f"{net['preset']}, {integ}"
            axes[0].loglog(dts, [r["v_err_median"] for r in rows], ls, color=col, marker=mk,
                           label=f"{lab}: median (p={f['v_err_median']['order']:.2f})")
            axes[0].loglog(dts, [r["v_err_max"] for r in rows], ":", color=col, marker=mk,
                           mfc="none", label=f"{lab}: max (p={f['v_err_max']['order']:.2f})")
            axes[1].loglog(dts, [r["spike_err_mean"] for r in rows], ls, color=col, marker=mk,
                           label=f"{lab}: mean (p={f['spike_err_mean']['order']:.2f})")
            axes[1].loglog(dts, [r["spike_err_interp_mean"] for r in rows], ":", color=col,
                           marker=mk, mfc="none",
                           label=f"{lab}: interpolated, mean")
            if net["preset"] == "tutorial-normalized":
                rows = rows + [r for r in net["t_div_extra"] if r["integrator"] == integ]
                axes[2].loglog([r["dt"] for r in rows], [r["t_div_median"] for r in rows], ls,
                               color=col, marker=mk, label=f"{lab}: median over seeds")
                for r in rows:
                    axes[2].scatter([r["dt"]] * len(r["t_div_per_seed"]), r["t_div_per_seed"],
                                    color=col, s=8, alpha=0.4)
    for ax, ref in ((axes[0], 0.3), (axes[1], 1.0)):
        ax.loglog(dts, ref * dts, color="0.5", lw=0.8)
        ax.loglog(dts, ref * dts ** 2, color="0.5", lw=0.8, ls="--")
        ax.text(dts[0], ref * dts[0], " dt", color="0.4", va="bottom")
        ax.text(dts[0], ref * dts[0] ** 2, " dt²", color="0.4", va="top")
    axes[0].axhline(TARGET_V, color="k", lw=0.6, ls="-.")
    axes[1].axhline(TARGET_SPIKE, color="k", lw=0.6, ls="-.")
    axes[0].set(xlabel="dt (ms)", ylabel="|V - V_exact| (mV)",
                title="V error at fixed times (equal spike counts)")
    axes[1].set(xlabel="dt (ms)", ylabel="|t - t_exact| (ms)",
                title="spike-time error, first spikes (step end; interpolated dotted)")
    axes[2].set(xlabel="dt (ms)", ylabel="T_div (ms)",
                title="time until the rasters disagree (tutorial-normalized)")
    from matplotlib.ticker import NullFormatter
    ticks = sorted(set(DTS) | set(EXTRA_TDIV_DTS))
    for ax in axes:
        ax.set_xticks(ticks if ax is axes[2] else list(DTS))
        ax.set_xticklabels([f"{t:g}" for t in (ticks if ax is axes[2] else DTS)],
                           rotation=45, fontsize=7)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=6.5, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=400, help="network size (default 400)")
    ap.add_argument("--seeds", type=int, default=10, help="number of seeds (default 10)")
    ap.add_argument("--duration", type=float, default=200.0, help="ms (default 200)")
    ap.add_argument("--warmup", type=float, default=100.0, help="ms (default 100)")
    ap.add_argument("--quick", action="store_true", help="1 seed, 100 ms, no files")
    ap.add_argument("--replot", action="store_true",
                    help="only redraw the figure and tables from the JSON of --out")
    ap.add_argument("--out", default=os.path.join(RESULTS, "dt_convergence.json"))
    ap.add_argument("--figure", default=os.path.join(REPO, "docs", "figures",
                                                      "accuracy_convergence.png"))
    a = ap.parse_args(argv)
    if a.replot:
        with open(a.out) as f:
            study = json.load(f)
        print(markdown_tables(study))
        figure(study, a.figure)
        return 0
    if a.quick:
        a.seeds, a.duration = 1, 100.0
    t0 = time.perf_counter()
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    study = {"dts": list(DTS), "integrators": list(INTEGRATORS), "networks": [],
             "sample_spacing_ms": SAMPLE_SPACING, "divergence_tolerance_ms": DIVERGENCE_TOL,
             "engine": "numba", "exact": {"method": "DOP853", "rtol": 1e-12, "atol": 1e-12}}
    for preset in ("tutorial-normalized", "brette2007-coba"):
        study["networks"].append(run_network(preset, a.n, range(a.seeds), a.warmup,
                                             a.duration, log))
    log("  single-neuron cases")
    study["single_neuron"] = single_neuron_cases()
    study["wall_time_s"] = time.perf_counter() - t0
    study["versions"] = {**versions(), "cpus": os.cpu_count()}
    print(markdown_tables(study))
    print(f"\nwall time {study['wall_time_s']:.0f} s")
    if not a.quick:
        write_json(a.out, study)
        os.makedirs(os.path.dirname(a.figure), exist_ok=True)
        figure(study, a.figure)
        log(f"wrote {a.out} and {a.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
