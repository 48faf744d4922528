"""Write the spike files of tests/data/formats/ with the peers' own software, as their users do.

The readers of :mod:`refsim.formats` are tested on files that NEST, Brian2 and bmtk wrote
themselves (tests/test_formats.py), not only on refsim's own writers. Each mode runs in the
environment that has the peer (``validation/make_peer_venvs.sh peer313``; bmtk in refsim's
venv), from the repository root::

    .venvs/peer313/bin/python -m validation.format_fixtures nest     # NEST 3.10 wheel
    .venvs/peer313/bin/python -m validation.format_fixtures brian2   # Brian2 2.11
    .venv/bin/python -m validation.format_fixtures bmtk              # bmtk 1.2 (pip install bmtk)

nest
    40 ``iaf_cond_exp`` neurons, each with its own constant current and random excitatory
    synapses (NEST's own RNG, seed 1), dt = 0.1 ms, 200 ms, on 2 virtual processes
    (``local_num_threads=2``). Three ``spike_recorder``s record the same spikes: ASCII in ms
    (``nest_ms-41-{0,1}.dat``), ASCII in steps (``nest_steps-42-{0,1}.dat``) and the memory
    backend, whose ``events`` are saved as ``nest_events.npz`` and ``nest_events.json``.
brian2
    40 LIF neurons of refsim's equation (runtime device, numpy target), each with its own
    drive, 200 ms; a ``SpikeMonitor`` saved with ``get_states(['i', 't'], units=False)`` as
    ``brian2_spikes.npz`` and as ``brian2_spikes.csv`` (header ``i,t``, seconds).
bmtk
    bmtk's ``SpikeTrains.to_sonata`` of two populations ``E`` (node ids 0 .. 31) and ``I``
    (0 .. 7) with spikes drawn from NumPy's generator (seed 3): ``bmtk_spikes.h5``.

Every mode also writes ``<mode>_provenance.json``: the software versions and what the test
may check (spike counts, dt, N).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "formats")
N, N_EXC, DT, DURATION = 40, 32, 0.1, 200.0


def provenance(mode: str, **facts) -> None:
    path = os.path.join(OUT, f"{mode}_provenance.json")
    with open(path, "w") as f:
        json.dump({"written_by": f"python -m validation.format_fixtures {mode}",
                   "python": sys.version.split()[0], "numpy": np.__version__, "n_neurons": N,
                   "n_exc": N_EXC, "dt_ms": DT, "duration_ms": DURATION, **facts}, f, indent=1)
        f.write("\n")
    print("wrote", path)


def nest_files() -> None:
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": DT, "local_num_threads": 2, "rng_seed": 1,
                          "data_path": OUT, "overwrite_files": True})
    pop = nest.Create("iaf_cond_exp", N, params={"I_e": 0.0})
    pop.set({"I_e": [300.0 + 15.0 * k for k in range(N)], "V_m": [-70.0 + 0.3 * k for k in range(N)]})
    nest.Connect(pop, pop, {"rule": "fixed_indegree", "indegree": 5},
                 {"weight": nest.random.uniform(1.0, 6.0), "delay": 0.1})
    ms = nest.Create("spike_recorder", params={"record_to": "ascii", "label": "nest_ms"})
    steps = nest.Create("spike_recorder", params={"record_to": "ascii", "label": "nest_steps",
                                                  "time_in_steps": True})
    memory = nest.Create("spike_recorder")
    for rec in (ms, steps, memory):
        nest.Connect(pop, rec)
    nest.Simulate(DURATION)
    events = memory.get("events")
    events = {"senders": np.asarray(events["senders"]), "times": np.asarray(events["times"])}
    np.savez(os.path.join(OUT, "nest_events.npz"), **events)
    with open(os.path.join(OUT, "nest_events.json"), "w") as f:
        json.dump({k: v.tolist() for k, v in events.items()}, f)
    provenance("nest", nest=nest.__version__, n_spikes=int(events["times"].size),
               recorder_ids={"ms": ms.global_id, "steps": steps.global_id},
               first_node_id=pop[0].global_id, virtual_processes=2)


def brian2_files() -> None:
    import brian2 as b2
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = DT * b2.ms
    eqs = "dv/dt = (-60*mV - v + drive) / (20*ms) : volt (unless refractory)\ndrive : volt"
    g = b2.NeuronGroup(N, eqs, threshold="v > -50*mV", reset="v = -60*mV", refractory=5 * b2.ms,
                       method="exact")
    g.v = "-60*mV + 10*mV * i / N"
    g.drive = "11*mV + 0.5*mV * i"
    mon = b2.SpikeMonitor(g)
    b2.run(DURATION * b2.ms)
    states = mon.get_states(["i", "t"], units=False)
    np.savez(os.path.join(OUT, "brian2_spikes.npz"), **states)
    np.savetxt(os.path.join(OUT, "brian2_spikes.csv"), np.column_stack([states["i"], states["t"]]),
               fmt=["%d", "%.17g"], delimiter=",", header="i,t", comments="")
    provenance("brian2", brian2=b2.__version__, n_spikes=int(mon.num_spikes))


def bmtk_files() -> None:
    import bmtk
    from bmtk.utils.reports.spike_trains import SpikeTrains, sort_order
    rng = np.random.default_rng(3)
    st = SpikeTrains()
    counts = {}
    for pop, size in (("E", N_EXC), ("I", N - N_EXC)):
        n = 5 * size
        ids = rng.integers(0, size, n)
        times = np.round(rng.uniform(0.0, DURATION, n) / DT) * DT   # on the step grid
        st.add_spikes(population=pop, node_ids=ids, timestamps=times)
        counts[pop] = n
    st.to_sonata(os.path.join(OUT, "bmtk_spikes.h5"), sort_order=sort_order.by_time)
    provenance("bmtk", bmtk=bmtk.__version__, n_spikes_by_population=counts)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    modes = {"nest": nest_files, "brian2": brian2_files, "bmtk": bmtk_files}
    if mode not in modes:
        sys.exit(f"usage: python -m validation.format_fixtures {{{','.join(modes)}}}")
    os.makedirs(OUT, exist_ok=True)
    modes[mode]()
