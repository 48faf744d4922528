"""Run refsim's SONATA export of a network (``refsim export --to sonata``,
``validation.peers.export_network``) in NEST (``iaf_cond_exp``), for timing and
cross-validation.

Runs in the peer environment (Python 3.13, NEST 3.10 PyPI wheel; does not import refsim), from
the repository root::

    .venvs/peer313/bin/python -m validation.peers.nest_run EXPORT_DIR --out SPIKES.npz

The last line printed on stdout is a one-line JSON summary::

    {"simulator": "nest", "version": ..., "model": "iaf_cond_exp", "loop_s": ...,
     "compile_s": 0.0, "n_spikes": ..., "rate_exc_hz": ..., "rate_inh_hz": ..., ...}

Model mapping
-------------
refsim's model is dimensionless in conductance: with ``[g]`` its conductance unit and
``R_g = R [g]``, ``tau_m dV/dt = (V_rest - V) + RI_ext + R_g g_e (E_e - V) + R_g g_i (E_i - V)``.
``iaf_cond_exp`` is ``C_m dV/dt = -g_L (V - E_L) - g_ex (V - E_ex) - g_in (V - E_in) + I_e``
in pF, nS, mV, pA, ms. Dividing by g_L shows the exact correspondence, for any choice of g_L
(the export's ``--g-L``, default 10 nS as in Brette et al. 2007). The export carries the mapping
(``refsim.formats.sonata_network.nest_parameters``: components/point_neuron_models/
coba_neuron.json, the edges' ``syn_weight`` in nS, the nodes' ``dynamics_params``); this
script only reads it (``network_file.load_network``), with h5py, and connects the edges as
arrays, because the PyPI wheel's NEST has no HDF5 for ``nest.SonataNetwork``:

=================== ======================================= ==============================
NEST parameter      value                                   refsim field(s)
=================== ======================================= ==============================
g_L  [nS]           export's ``--g-L`` (10)                 (sets the physical scale only)
C_m  [pF]           tau_m * g_L  (200 pF)                   tau_m
E_L, V_th, V_reset  V_rest, V_th, V_reset [mV]              same
t_ref [ms]          tau_ref                                 tau_ref
I_e  [pA]           g_L * RI_ext                            RI_ext (20 mV -> 200 pA)
E_ex, E_in [mV]     E_e, E_i                                same
tau_syn_ex/_in      tau_e, tau_i [ms]                       same
weight [nS]         +R_g w_e g_L (E rows), -R_g w_i g_L (I)  w_e, w_i (6 nS / -67 nS)
g_ex, g_in (init)   R_g g_e0 g_L, R_g g_i0 g_L [nS]         initial g_e, g_i
V_m (init)          V0                                      initial V
resolution          dt                                      dt
=================== ======================================= ==============================

Connectivity: every SONATA edge (one per CSR entry, in CSR order) becomes one
``static_synapse`` from node pre+1 to node post+1 (NEST ids start at 1) with the edge's
``syn_weight`` (count * w in nS), made with
``nest.Connect(pre_ids, post_ids, "one_to_one", syn_spec)`` on NumPy arrays (NEST's
array-connect path keeps duplicate pairs as separate synapses). Inhibitory synapses have
negative weights: ``iaf_cond_exp`` routes a spike to ``g_in`` by the sign of its weight.

What differs from refsim (inherent in ``iaf_cond_exp``, not changed here)
-------------------------------------------------------------------------
* **Integration**: adaptive Runge-Kutta-Fehlberg 4(5) (GSL, absolute tolerance 1e-3) inside
  each step, i.e. close to the exact solution; refsim uses one exponential-Euler
  (``tutorial*``) or forward-Euler (``brette2007-coba``) step.
* **Reset**: always hard, V <- V_reset, and V is clamped to V_reset while refractory; the
  ``tutorial*`` presets' soft reset (V <- V - (V_th - V_reset), keeping the overshoot) cannot
  be expressed. Threshold test is always ``V >= V_th`` (``brette2007-coba`` uses ``>``; this
  matters only on exact equality).
* **Refractory period**: ``t_ref / dt`` = 50 clamped steps after the spike step, so the
  shortest ISI is 51 steps; refsim and Brian2 clamp 49 steps (shortest ISI 50 steps).
* **Delay**: NEST's minimum delay is one step (``--delay``, default dt). A spike emitted in
  step k is added to the target's g at the end of step k+1 (after that step's ODE), so it
  first acts on V in step k+2. In refsim (both schedules) and Brian2 it first acts on V in
  step k+1: NEST's synaptic latency is one step longer.
* **Spike times**: NEST stamps a spike with the *end* of the step it was emitted in;
  ``t_ms`` in the output is shifted by -dt to refsim's convention (the step's start time,
  step index = t_ms / dt), the raw stamps are kept as ``t_nest_ms``.
* At step 0 refsim's ``brainpy`` schedule thresholds the initial V before integrating (see
  ``refsim.model``); NEST integrates first.
* float64 throughout.

Expect comparable rates (the same network and initial state, a more accurate integrator, a
one-step-longer delay and refractory period), not matching spikes.

Timing
------
``loop_s``: the wall time of ``nest.Simulate(duration)`` (NEST's own ``time_simulate``
kernel timer is reported as ``time_simulate_s``); ``build_s``: creating the nodes, setting
the initial state and connecting (``time_construction_connect_s`` from the kernel);
``compile_s`` is 0 (NEST has no code generation step for built-in models).

Options
-------
``--threads N`` (``local_num_threads``, default 1),
``--delay`` (ms, default the export's, dt), ``--out FILE.npz`` (spikes: ``t_ms`` float64 in refsim's
convention, ``t_nest_ms``, ``i`` int32 0-based neuron ids, ``meta`` JSON string).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from validation.peers.network_file import load_network


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("network", help="SONATA directory written by refsim export --to sonata")
    p.add_argument("--threads", type=int, default=1, help="NEST local_num_threads")
    p.add_argument("--delay", type=float, help="synaptic delay, ms (default the export's: dt, the minimum)")
    p.add_argument("--out", help="write spikes (t_ms, t_nest_ms, i, meta) to this .npz")
    args = p.parse_args(argv)

    t_start = time.perf_counter()
    os.environ.setdefault("PYNEST_QUIET", "1")  # no banner on stdout
    import nest
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:
        nest.set_verbosity("M_ERROR")

    t_imported = time.perf_counter()
    net = load_network(args.network)
    cfg = net["config"]
    n, n_exc = cfg["n_exc"] + cfg["n_inh"], cfg["n_exc"]
    assert n == net["n_neurons"] and n_exc == net["n_exc"], "config and arrays disagree"
    dt, g_L = cfg["dt"], net["nest_params"]["g_L"]
    delay = net["delay"] if args.delay is None else args.delay
    notes = []
    if cfg["reset"] != "hard":
        notes.append(f"config reset '{cfg['reset']}': iaf_cond_exp resets hard")
    if cfg["threshold_test"] != ">=":
        notes.append(f"config threshold '{cfg['threshold_test']}': iaf_cond_exp tests V >= V_th")
    for note in notes:
        print("note:", note, file=sys.stderr)

    # ---- kernel, neurons, initial state ----------------------------------------------------
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": dt, "local_num_threads": args.threads})
    pop = nest.Create("iaf_cond_exp", n, params=net["nest_params"])
    pop.set(net["nest_initial"])   # V_m, g_ex, g_in of each neuron

    # ---- synapses: exactly the exported edges, one static synapse each -------------------
    pre, post = net["pre"], net["indices"]
    first_id = pop[0].global_id
    nest.Connect(pre + first_id, post + first_id, "one_to_one",
                 syn_spec={"synapse_model": "static_synapse", "weight": net["syn_weight"],
                           "delay": np.full(pre.size, delay)})
    recorder = nest.Create("spike_recorder")
    nest.Connect(pop, recorder)
    t_built = time.perf_counter()

    # ---- run -------------------------------------------------------------------------------
    t0 = time.perf_counter()
    nest.Simulate(cfg["duration"])
    loop_s = time.perf_counter() - t0
    kernel = nest.GetKernelStatus()

    events = recorder.get("events")
    t_nest = np.asarray(events["times"], dtype=np.float64)
    idx = np.asarray(events["senders"], dtype=np.int64) - first_id
    order = np.lexsort((idx, t_nest))
    t_nest, idx = t_nest[order], idx[order].astype(np.int32)
    t_ms = t_nest - dt  # NEST stamps the end of the step; refsim/Brian2 label its start

    # ---- results ---------------------------------------------------------------------------
    dur_s = cfg["duration"] / 1000.0
    n_e_spikes = int(np.count_nonzero(idx < n_exc))
    summary = {
        "simulator": "nest", "version": nest.__version__, "model": "iaf_cond_exp",
        "threads": args.threads, "g_L_nS": g_L, "delay_ms": delay,
        "network": args.network, "preset": net["meta"].get("preset"),
        "seed": net["meta"].get("seed"), "n_neurons": n,
        "n_synapses": int(kernel["num_connections"]) - n,  # minus the recorder's
        "dt_ms": dt, "duration_ms": cfg["duration"],
        "loop_s": loop_s, "compile_s": 0.0,
        "time_simulate_s": float(kernel.get("time_simulate", float("nan"))),
        "build_s": t_built - t_imported,
        "time_construction_connect_s": float(kernel.get("time_construction_connect", float("nan"))),
        "total_s": time.perf_counter() - t_imported, "import_s": t_imported - t_start,
        "notes": notes,
        "n_spikes": int(idx.size),
        "rate_exc_hz": n_e_spikes / (n_exc * dur_s) if n_exc else float("nan"),
        "rate_inh_hz": (idx.size - n_e_spikes) / ((n - n_exc) * dur_s) if n > n_exc else float("nan"),
    }
    if args.out:
        np.savez(args.out, t_ms=t_ms, t_nest_ms=t_nest, i=idx, meta=np.array(json.dumps(summary)))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
