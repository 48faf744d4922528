"""Run a network exported by ``validation.peers.export_network`` in Brian2, for timing and
cross-validation.

Runs in the peer environment (Python 3.13, Brian2 2.11; does not import refsim), from the
repository root::

    .venvs/peer313/bin/python -m validation.peers.brian2_run EXPORT_DIR \
        --device cpp_standalone --integrator exponential_euler --out SPIKES.npz

The last line printed on stdout is a one-line JSON summary::

    {"simulator": "brian2", "version": ..., "device": ..., "integrator": ..., "loop_s": ...,
     "compile_s": ..., "n_spikes": ..., "rate_exc_hz": ..., "rate_inh_hz": ..., ...,
     "peak_rss_self_mib": ..., "peak_rss_children_mib": ...}

(the peak RSS of this process, and the largest of the processes it ran: with cpp_standalone
the C++ compiler and the standalone binary).

Model mapping (``--mode native``, the default)
----------------------------------------------
Brian2 takes refsim's equations literally, in refsim's units: time in ms, voltage in mV (so
``V`` has Brian2 dimension volt), conductances *dimensionless* in refsim's conductance unit
``[g]`` and entering the membrane equation only through ``R_g`` (1 for
``tutorial-normalized`` and ``brette2007-coba``, where ``[g] = g_L``)::

    dV/dt   = ((V_rest - V) + RI_ext + R_g*g_e*(E_e - V) + R_g*g_i*(E_i - V)) / tau_m
              : volt (unless refractory)
    dg_e/dt = -g_e / tau_e : 1
    dg_i/dt = -g_i / tau_i : 1

* threshold ``V >= V_th`` or ``V > V_th`` (config ``threshold_test``); Brian2 adds
  ``not_refractory`` to it;
* reset ``V -= V_th - V_reset`` (config ``reset='soft'``) or ``V = V_reset`` (``'hard'``);
* ``refractory = tau_ref``: V is held while ``timestep(t - lastspike) < timestep(tau_ref)``,
  i.e. exactly 49 steps of 0.1 ms after the spike step, integrated again at the 50th;
* two ``Synapses`` objects, E (presynaptic rows ``< n_exc``) and I, connected with
  ``connect(i=..., j=...)`` from the CSR arrays (duplicate entries are separate synapses);
  ``on_pre: g_e_post += w_e`` (or ``w_i``), times a per-synapse count if any CSR entry counts
  more than one synapse; no delay, so a spike is added to g in the step it is emitted;
* initial V, g_e, g_i from the file; ``dt`` and ``duration`` from the config;
* float64 throughout (the ``tutorial`` preset's float32 is not reproduced).

What differs from refsim in native mode
---------------------------------------
Brian2's schedule per step is: state update (V, g_e, g_i all from their *old* values),
thresholds, synapses (add w to g at once), resets.

* ``schedule='brette'`` (``brette2007-coba``): the same order as refsim's. With
  ``--integrator euler`` the one systematic difference is the refractory test: refsim
  compares float times, ``(t_k - t_last) < tau_ref`` with t_k = k * 0.1 ms in float64, which
  for some spike steps evaluates 4.999999... < 5 and clamps V one step longer (50 steps);
  Brian2 counts integer steps (always 49). Seed 0: the spike trains are identical up to
  18.4 ms, the first such case, then diverge (the network is chaotic).
* ``schedule='brainpy'`` (``tutorial``, ``tutorial-normalized``): refsim decays g and adds the
  previous step's spikes *before* integrating V with the *new* g; Brian2 integrates V with the
  g at the *start* of the step (the jump included, not yet decayed). A spike reaches V one
  step after it is emitted in both, but the conductance seen by V differs by one decay factor
  exp(-dt/tau). Also at step 0 refsim thresholds the initial V (those neurons send input
  and reset without a recorded spike), while Brian2 integrates it first and records the
  spike. Expect matching rates, not matching spikes.
* Brian2's ``exponential_euler`` solves dV/dt = A + B V with g frozen exactly, like refsim's
  ``exp_euler``, but evaluates it as ``-A/B + (V + A/B) exp(B dt)`` instead of
  ``V + dt exprel(dt J) f(V)``: mathematically equal, rounded differently.
* C++ is compiled with Brian2's default ``-O3 -ffast-math -march=native`` unless
  ``--strict-math`` (``-ffast-math`` dropped, ``-ffp-contract=off`` added: no reassociation
  and no fused multiply-add, so the generated expressions are evaluated as written).

``--mode refsim``: refsim's step order and refractory test, in Brian2
----------------------------------------------------------------------
For cross-validation Brian2 can be made to step exactly as refsim does (refsim itself is not
changed):

* ``schedule='brette'``: the native group with the refractory condition replaced by refsim's
  float-time test, ``timestep(t, dt)*dt_ms - timestep(lastspike, dt)*dt_ms < tau_ref_ms``
  (evaluated in ms, as refsim does; Brian2's own times are in seconds and round differently);
* ``schedule='brainpy'``: :func:`brainpy_schedule_group`, with refsim's order of operations
  written out as ``run_regularly`` operations (all quantities dimensionless, in ms/mV).

Use it with ``--strict-math`` for cpp_standalone and for the runtime device's Cython
target (with ``-ffast-math`` or fused multiply-adds the float-time test can round the other
way; with ``--strict-math`` the runtime device uses a separate Cython cache directory, since
Brian2's cache is keyed on the code and not on the compiler flags). Measured, seed 0, full network:
spike trains *identical to refsim's for the whole 1 s* for both ``tutorial-normalized``
(90 758 spikes) and ``brette2007-coba`` (76 727 spikes), on cpp_standalone and runtime.
Native mode is the one to use for timing.

Timing
------
``cpp_standalone``: ``compile_s`` is the ``make`` time (plus ``make clean``) from
``device.timers``, ``codegen_s`` the rest of ``device.build`` minus the binary's run,
``loop_s`` the simulation loop time that the standalone binary itself measures
(``device._last_run_time``, read from ``results/last_run_info.txt``), ``binary_s`` the whole
binary run (loading arrays, the loop, writing results). ``runtime``: a short warm-up run
(``--warmup`` ms) generates and compiles the code objects (reported as ``compile_s``; short
when Brian2's on-disk Cython cache already holds them), the network is restored to its
initial state (``Network.store``/``restore``), and ``loop_s`` is the time Brian2 reports for
the full run's loop (``device._last_run_time``); ``run_s`` is the wall time of the whole
``run()`` call. ``total_s`` is the wall time of the whole script after imports.

Options
-------
``--integrator exponential_euler|euler`` (default: from the config: ``exp_euler`` ->
``exponential_euler``; ignored by ``--mode refsim`` with the brainpy schedule, which uses the
config's), ``--mode native|refsim``, ``--device cpp_standalone|runtime``,
``--target auto|cython|numpy`` (runtime code generation target), ``--threads N`` (OpenMP
threads of cpp_standalone, 0 = no OpenMP), ``--build-dir DIR`` (default: a temporary
directory, deleted afterwards), ``--strict-math``, ``--warmup MS`` (runtime),
``--out FILE.npz`` (spikes: ``t_ms`` float64 in refsim's step labels, t = k * dt, ``i``
int32, ``meta`` JSON string = the summary).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time

import numpy as np

from validation.peers.network_file import load_network


def synapse_lists(net):
    """(pre, post, count) arrays of the E projection and of the I projection, from the CSR."""
    indptr, indices, counts = net["indptr"], net["indices"], net["counts"]
    n = indptr.size - 1
    pre = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr))
    split = int(indptr[net["n_exc"]])  # rows are sorted: E entries come first
    e = (pre[:split], indices[:split], counts[:split])
    i = (pre[split:], indices[split:], counts[split:])
    return e, i


def native_group(b2, cfg, n, integrator, refsim_refractory):
    """The network's NeuronGroup with Brian2's own equations, integrator and schedule.

    V in volt (mV values), g dimensionless in [g], times in ms. With ``refsim_refractory``
    the refractory test is refsim's float-time test instead of Brian2's step count.
    """
    from brian2 import ms, mV
    ns = {
        "V_rest": cfg["V_rest"] * mV, "V_th": cfg["V_th"] * mV, "V_reset": cfg["V_reset"] * mV,
        "tau_m": cfg["tau_m"] * ms, "RI_ext": cfg["RI_ext"] * mV, "R_g": cfg["R_g"],
        "tau_e": cfg["tau_e"] * ms, "tau_i": cfg["tau_i"] * ms,
        "E_e": cfg["E_e"] * mV, "E_i": cfg["E_i"] * mV, "w_e": cfg["w_e"], "w_i": cfg["w_i"],
    }
    eqs = """
    dV/dt = ((V_rest - V) + RI_ext + R_g*g_e*(E_e - V) + R_g*g_i*(E_i - V)) / tau_m : volt (unless refractory)
    dg_e/dt = -g_e / tau_e : 1
    dg_i/dt = -g_i / tau_i : 1
    """
    reset = {"soft": "V -= V_th - V_reset", "hard": "V = V_reset"}[cfg["reset"]]
    if not refsim_refractory:  # Brian2's standard: held for timestep(tau_ref) steps
        refractory = cfg["tau_ref"] * ms
    else:
        # refsim's test on its float64 times in ms, t_k = k * dt_ms (Brian2 itself works in
        # seconds, whose rounding differs): refractory while t_k - t_last < tau_ref
        ns.update(dt_ms=cfg["dt"], tau_ref_ms=cfg["tau_ref"])
        refractory = "timestep(t, dt) * dt_ms - timestep(lastspike, dt) * dt_ms < tau_ref_ms"
    return b2.NeuronGroup(n, eqs, threshold=f"V {cfg['threshold_test']} V_th", reset=reset,
                          refractory=refractory, method=integrator, namespace=ns, name="coba")


def brainpy_schedule_group(b2, cfg, n):
    """A NeuronGroup that steps in refsim's ``brainpy`` order (``--mode refsim``).

    Everything is dimensionless, in refsim's numbers (mV, ms, [g]), so that the arithmetic is
    refsim's. Per step k of Brian2's schedule:

    * ``thresholds``: the spike test on V as left by step k-1 (refsim's step 1: the spikes
      *recorded* at step k-1; at k = 0 the initial V);
    * ``before_synapses``: the conductance decay g <- g + a (-g / tau), with refsim's factor
      a = dt exprel(-dt/tau) (exp_euler) or dt (euler);
    * ``synapses``: the jumps w (refsim's scatter, summed into g synapse by synapse);
    * ``resets``: the soft or hard reset of the spiking neurons;
    * ``after_resets``: the candidate V* (exponential or forward Euler with the new g), the
      refractory clamp (t_k - t_last) < tau_ref and t_last <- t_k where V crosses threshold.

    The SpikeMonitor therefore records refsim's spikes of step k-1 at step k: the caller
    shifts the times by -dt, drops step 0 and runs one extra step.
    """
    import math
    dt = cfg["dt"]

    def step_factor(tau):  # refsim.model.Constants: dt * exprel(dt * (-1 / tau)) or dt
        z = dt * (-1.0 / tau)
        return dt * (math.expm1(z) / z) if cfg["integrator"] == "exp_euler" else dt

    ns = {k: float(cfg[k]) for k in ("V_rest", "V_th", "V_reset", "tau_m", "tau_ref", "RI_ext",
                                     "R_g", "tau_e", "tau_i", "E_e", "E_i", "w_e", "w_i")}
    ns.update(dt_ms=dt, a_e=step_factor(cfg["tau_e"]), a_i=step_factor(cfg["tau_i"]),
              jump=cfg["V_th"] - cfg["V_reset"])
    model = """
    V : 1
    g_e : 1
    g_i : 1
    t_last : 1
    """
    reset = {"soft": "V = V - jump", "hard": "V = V_reset"}[cfg["reset"]]
    G = b2.NeuronGroup(n, model, threshold=f"V {cfg['threshold_test']} V_th", reset=reset,
                       namespace=ns, name="coba")
    G.t_last = -1e7
    G.run_regularly("g_e = g_e + a_e * ((-g_e) / tau_e)\ng_i = g_i + a_i * ((-g_i) / tau_i)",
                    when="before_synapses", name="coba_decay")
    if cfg["integrator"] == "exp_euler":
        step = "dt_ms * exprel(dt_ms * (-(1 + (R_g * g_e + R_g * g_i)) / tau_m))"
    else:
        step = "dt_ms"
    update = f"""
    t_k = timestep(t, dt) * dt_ms
    f_V = ((V_rest - V) + ((RI_ext + R_g * (g_e * (E_e - V))) + R_g * (g_i * (E_i - V)))) / tau_m
    V_star = V + ({step}) * f_V
    refr = int((t_k - t_last) < tau_ref)
    V = refr * V + (1 - refr) * V_star
    spk = int(V {cfg['threshold_test']} V_th)
    t_last = spk * t_k + (1 - spk) * t_last
    """
    G.run_regularly("\n".join(line.strip() for line in update.strip().splitlines()),
                    when="after_resets", name="coba_update")
    return G


def peak_rss() -> dict:
    """Peak resident set sizes (MiB): of this process (network arrays, Brian2's code
    generation; the runtime device's whole run) and the largest of the processes it waited
    for (cpp_standalone: the C++ compiler and the standalone binary). Empty where unknown."""
    try:
        import resource
    except ImportError:
        return {}
    unit = 2**20 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    return {"peak_rss_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit,
            "peak_rss_children_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / unit}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("network", help="SONATA directory written by refsim export --to sonata "
                                   "(validation.peers.export_network)")
    p.add_argument("--integrator", choices=("exponential_euler", "euler"),
                   help="default: the config's (exp_euler -> exponential_euler)")
    p.add_argument("--device", choices=("cpp_standalone", "runtime"), default="cpp_standalone")
    p.add_argument("--target", choices=("auto", "cython", "numpy"), default="auto",
                   help="code generation target of the runtime device")
    p.add_argument("--threads", type=int, default=0, help="OpenMP threads (cpp_standalone)")
    p.add_argument("--build-dir", help="standalone project directory (default: a temp dir)")
    p.add_argument("--strict-math", action="store_true",
                   help="compile without -ffast-math and with -ffp-contract=off "
                        "(Brian2's default flags otherwise)")
    p.add_argument("--mode", choices=("native", "refsim"), default="native",
                   help="native: Brian2's schedule, integrators and refractoriness (default); "
                        "refsim: refsim's step order and float-time refractory test")
    p.add_argument("--warmup", type=float, default=1.0, help="runtime warm-up run, ms")
    p.add_argument("--out", help="write spikes (t_ms, i, meta) to this .npz")
    args = p.parse_args(argv)

    t_start = time.perf_counter()
    import brian2 as b2
    from brian2 import ms, mV

    t_imported = time.perf_counter()
    net = load_network(args.network)
    cfg = net["config"]
    integrator = args.integrator or {"exp_euler": "exponential_euler",
                                     "euler": "euler"}[cfg["integrator"]]
    n, n_exc = cfg["n_exc"] + cfg["n_inh"], cfg["n_exc"]
    assert n == net["indptr"].size - 1 and n_exc == net["n_exc"], "config and arrays disagree"
    if cfg["dtype"] != "float64":
        print(f"note: config dtype {cfg['dtype']}; Brian2 runs float64", file=sys.stderr)

    # ---- device and preferences --------------------------------------------------------
    tmp_dir = None
    if args.device == "cpp_standalone":
        build_dir = args.build_dir or (tmp_dir := tempfile.mkdtemp(prefix="brian2_coba_"))
        b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = args.threads
    else:
        b2.prefs.codegen.target = args.target
    if args.strict_math:  # IEEE arithmetic as written: no reassociation, no fused multiply-add
        b2.prefs.codegen.cpp.extra_compile_args_gcc = [
            f for f in b2.prefs.codegen.cpp.extra_compile_args_gcc if f != "-ffast-math"
        ] + ["-ffp-contract=off"]
        if args.device == "runtime":
            # Brian2's Cython cache is keyed on the code, not on the compiler flags: keep the
            # strict-math modules apart from those compiled with -ffast-math
            from brian2.codegen.runtime.cython_rt.extension_manager import get_cython_cache_dir
            b2.prefs.codegen.runtime.cython.cache_dir = get_cython_cache_dir() + "_strict_math"
    b2.defaultclock.dt = cfg["dt"] * ms

    if args.mode == "refsim" and cfg["schedule"] == "brainpy":
        integrator = f"refsim-{cfg['integrator']}"  # refsim's own update formula, see below
    # ---- neurons -------------------------------------------------------------------------
    if args.mode == "native":
        G = native_group(b2, cfg, n, integrator, refsim_refractory=False)
    elif cfg["schedule"] == "brette":  # Brian2's own order is refsim's 'brette' schedule
        G = native_group(b2, cfg, n, integrator, refsim_refractory=True)
    else:
        G = brainpy_schedule_group(b2, cfg, n)
    G.V = net["V"] * (1 if args.mode == "refsim" and cfg["schedule"] == "brainpy" else mV)
    G.g_e = net["g_e"]
    G.g_i = net["g_i"]

    # ---- synapses: one object per projection, exactly the CSR entries -----------------
    weights = {"w_e": cfg["w_e"], "w_i": cfg["w_i"]}  # dimensionless, like g
    projections = []
    for (pre, post, count), target, w in zip(synapse_lists(net), ("g_e", "g_i"), ("w_e", "w_i"),
                                            strict=True):
        if pre.size == 0:
            continue
        if np.all(count == 1):  # the built-in rules: one synapse per entry, constant weight
            S = b2.Synapses(G, G, on_pre=f"{target}_post += {w}", namespace=weights,
                            name=f"syn_{target}")
            S.connect(i=pre, j=post)
        else:  # entries counting several synapses: a per-synapse multiplier
            S = b2.Synapses(G, G, model="count : 1 (constant)",
                            on_pre=f"{target}_post += {w} * count", namespace=weights,
                            name=f"syn_{target}")
            S.connect(i=pre, j=post)
            S.count = count.astype(np.float64)
        projections.append(S)
    mon = b2.SpikeMonitor(G, name="spikes")
    network = b2.Network(G, *projections, mon)
    # in refsim mode with the brainpy schedule, step k's spikes are detected at step k+1
    shifted = args.mode == "refsim" and cfg["schedule"] == "brainpy"
    duration = (cfg["duration"] + (cfg["dt"] if shifted else 0.0)) * ms
    t_built = time.perf_counter()

    # ---- run -----------------------------------------------------------------------------
    timing = {"setup_s": t_built - t_imported}
    if args.device == "cpp_standalone":
        network.run(duration)  # only records the run: build_on_run=False
        t0 = time.perf_counter()
        b2.device.build(directory=build_dir, compile=True, run=True, with_output=False)
        build_wall = time.perf_counter() - t0
        timers = b2.device.timers
        compile_s = (timers["compile"]["make"] or 0.0) + (timers["compile"]["clean"] or 0.0)
        binary_s = timers["run_binary"]
        timing.update(
            compile_s=compile_s, binary_s=binary_s,
            codegen_s=build_wall - compile_s - binary_s,
            loop_s=float(b2.device._last_run_time),
            build_and_run_s=build_wall,
        )
    else:
        network.store("initial")
        t0 = time.perf_counter()
        network.run(args.warmup * ms)  # generates and compiles every code object
        timing["warmup_s"] = time.perf_counter() - t0
        network.restore("initial")
        t0 = time.perf_counter()
        network.run(duration)
        timing["run_s"] = time.perf_counter() - t0
        timing["loop_s"] = float(b2.device._last_run_time)
        timing["compile_s"] = timing["warmup_s"]  # code generation + compilation + warm-up loop

    t_ms = np.asarray(mon.t / ms, dtype=np.float64)
    idx = np.asarray(mon.i[:], dtype=np.int32)
    if shifted:  # back to refsim's step labels; step 0 tested the initial V (not recorded)
        keep = t_ms > 0.5 * cfg["dt"]
        t_ms, idx = t_ms[keep] - cfg["dt"], idx[keep]
    timing["total_s"] = time.perf_counter() - t_imported
    if tmp_dir is not None:
        shutil.rmtree(tmp_dir, ignore_errors=True)

    # ---- results ---------------------------------------------------------------------------
    dur_s = cfg["duration"] / 1000.0
    n_e_spikes = int(np.count_nonzero(idx < n_exc))
    summary = {
        "simulator": "brian2", "version": b2.__version__, "device": args.device,
        "target": None if args.device == "cpp_standalone" else str(b2.prefs.codegen.target),
        "threads": args.threads if args.device == "cpp_standalone" else 1,
        "fast_math": not args.strict_math, "integrator": integrator,
        "mode": args.mode,
        "network": args.network, "preset": net["meta"].get("preset"),
        "seed": net["meta"].get("seed"), "n_neurons": n, "n_synapses": int(net["counts"].sum()),
        "dt_ms": cfg["dt"], "duration_ms": cfg["duration"],
        "loop_s": timing["loop_s"], "compile_s": timing["compile_s"],
        **{k: v for k, v in timing.items() if k not in ("loop_s", "compile_s")},
        "import_s": t_imported - t_start,
        "n_spikes": int(idx.size),
        "rate_exc_hz": n_e_spikes / (n_exc * dur_s) if n_exc else float("nan"),
        "rate_inh_hz": (idx.size - n_e_spikes) / ((n - n_exc) * dur_s) if n > n_exc else float("nan"),
        **peak_rss(),
    }
    if args.out:
        np.savez(args.out, t_ms=t_ms, i=idx, meta=np.array(json.dumps(summary)))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
