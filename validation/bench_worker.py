"""One row of the engine benchmark, in a process of its own (``validation.bench_engines``
starts it; not meant to be run by hand).

It must run with the current refsim and with the benchmark's baseline (refsim 0.1.0,
``bench_engines.BASELINE``), so it imports only the API the two share: ``refsim.get_preset``,
``refsim.network_inputs`` (the network a seed means, drawn by that refsim's own rules),
``refsim.simulate``; nothing of ``validation.common``.
``threads`` is passed to ``refsim.simulate`` only when a row asks for it (``--threads``; the
baseline has no such keyword), and the ``ensemble`` rows use ``refsim.ensemble.run_ensemble``
of the current refsim only.
Which refsim it imports is chosen by its working directory (``python -m`` puts it first on
``sys.path``): the repository root, or the baseline's export with the repository on
``PYTHONPATH`` for this package. ``refsim_path`` in its output says which one it was.

The last stdout line is the row's JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time


def bench_config(preset: str, n: int, duration: float):
    """The preset at size n: its own network at 4000, else fixed out-degree 80."""
    import refsim
    over = dict(n_exc=n * 4 // 5, n_inh=n - n * 4 // 5, duration=duration)
    if n != 4000:
        over.update(conn_rule="fixed_out_degree", p_conn=80 / n)
    return refsim.get_preset(preset, **over)


def worker(engine: str, preset: str, n: int, duration: float, repeats: int,
           threads: int | None = None) -> dict:
    """One row: the best of ``repeats`` runs of seed 0's network (see bench_engines), with
    ``threads=threads`` passed to ``refsim.simulate`` unless it is None."""
    import numpy as np

    import refsim

    cfg = bench_config(preset, n, duration)
    kw = {} if threads is None else {"threads": threads}
    # refsim's own estimate of this process's peak, before anything is built (None for a
    # baseline refsim without one)
    estimate = getattr(refsim, "estimate_memory", None)
    est = estimate(cfg, engine=engine, threads=threads or 1) if estimate and hasattr(
        refsim, "scaled_preset") else None
    t0 = time.perf_counter()
    conn, init = refsim.network_inputs(cfg, 0)
    build_s = time.perf_counter() - t0
    # a short warm-up run loads (or compiles) the engine for this float type
    refsim.simulate(cfg.replace(duration=cfg.dt), None, engine=engine, connectivity=conn,
                    initial=init, progress=False, **kw)
    best = None
    for _ in range(repeats):
        r = refsim.simulate(cfg, None, engine=engine, connectivity=conn, initial=init,
                            progress=False, **kw)
        best = r if best is None or r.wall_time < best.wall_time else best
    events = float(np.bincount(best.spike_neurons, minlength=cfg.n_neurons) @ conn.out_degree())
    return {
        "engine": engine, "refsim_path": os.path.dirname(refsim.__file__), "threads": threads,
        "preset": preset, "n": n, "duration_ms": duration,
        "steps": best.steps_done, "synapses": int(conn.n_synapses), "spikes": int(best.n_spikes),
        # the E rate by counting: any analysis (summary(), firing_rates) would add its own
        # temporaries to the RSS, which is the run's
        "rate_e_hz": float(np.count_nonzero(best.spike_neurons < cfg.n_exc)
                           / cfg.n_exc / (best.steps_done * cfg.dt / 1000.0)), "build_s": build_s,
        "loop_s": best.wall_time, "us_per_step": 1e6 * best.wall_time / best.steps_done,
        "events_per_s": events / best.wall_time, "spikes_per_s": best.n_spikes / best.wall_time,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # the estimate at the assumed 50 Hz, and at the rate the run had
        "est_peak_rss_mib": est and est["peak_rss"] / 2**20,
        "est_peak_rss_at_rate_mib": est and (est["process"] + estimate(
            cfg, engine=engine, threads=threads or 1,
            rate_hz=best.n_spikes / cfg.n_neurons / (cfg.duration / 1000.0))["total"]) / 2**20,
    }


def compile_worker(dtype: str) -> dict:
    """Seconds of the first tiny run minus a warm one, for one float type (fresh cache)."""
    import refsim
    cfg = refsim.get_preset("tutorial-normalized", n_exc=40, n_inh=10, duration=1.0, dtype=dtype)
    t0 = time.perf_counter()
    refsim.simulate(cfg, 0, engine="numba", progress=False)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    refsim.simulate(cfg, 0, engine="numba", progress=False)
    return {"dtype": dtype, "compile_s": first - (time.perf_counter() - t0)}


class _TreeRSS:
    """The largest sum of the resident set sizes of this process and all its descendants,
    sampled every ``interval`` s in a thread (psutil; shared pages count once per process).
    ``peak_mib`` is None without psutil."""

    def __init__(self, interval: float = 0.1):
        import threading
        try:
            import psutil
        except ImportError:
            self.peak_mib, self._thread = None, None
            return
        self.peak_mib, self._stop = 0.0, threading.Event()
        me = psutil.Process()

        def sample():
            while not self._stop.is_set():
                total = 0
                for p in [me, *me.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:  # ended meanwhile
                        pass
                self.peak_mib = max(self.peak_mib, total / 2**20)
                self._stop.wait(interval)
        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        return self.peak_mib


def ensemble_worker(how: str, seeds: int, preset: str) -> dict:
    """Runs per minute of ``refsim.ensemble.run_ensemble(preset, range(seeds), ...)``:
    ``how`` = ``jobs1``, ``jobs2`` (its local worker processes, started inside the call) or
    ``dask`` (``executor=`` a ``distributed.LocalCluster(n_workers=2, threads_per_worker=1)``'s
    ``client.get_executor()``, started before the call: ``start_s``)."""
    import refsim
    from refsim.ensemble import run_ensemble
    rss = _TreeRSS()
    out = {"ensemble": how, "preset": preset, "n": refsim.get_preset(preset).n_neurons,
           "seeds": seeds}
    client = cluster = None
    try:
        kw = {"jobs": 1}
        if how == "jobs2":
            kw = {"jobs": 2}
        elif how == "dask":
            import distributed
            t0 = time.perf_counter()
            cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                               dashboard_address=None)
            client = distributed.Client(cluster)
            out.update(start_s=time.perf_counter() - t0, distributed=distributed.__version__)
            kw = {"jobs": 2, "executor": client.get_executor()}  # jobs: seeds in flight
        t0 = time.perf_counter()
        rows = run_ensemble(preset, list(range(seeds)), **kw)
        wall = time.perf_counter() - t0
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        out["peak_tree_rss_mib"] = rss.stop()
    done = sum(bool(r.get("complete")) for r in rows)
    out.update(wall_s=wall, complete=done, runs_per_min=60.0 * done / wall,
               errors=sorted({r["error"] for r in rows if "error" in r}))
    if "start_s" in out:
        out["runs_per_min_with_start"] = 60.0 * done / (wall + out["start_s"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    row = sub.add_parser("row")
    row.add_argument("engine")
    row.add_argument("preset")
    row.add_argument("n", type=int)
    row.add_argument("duration", type=float)
    row.add_argument("--repeats", type=int, default=3)
    row.add_argument("--threads", type=int, help="passed to refsim.simulate (default: not passed)")
    comp = sub.add_parser("compile")
    comp.add_argument("dtype")
    ens = sub.add_parser("ensemble")
    ens.add_argument("how", choices=("jobs1", "jobs2", "dask"))
    ens.add_argument("seeds", type=int)
    ens.add_argument("--preset", default="tutorial")
    args = ap.parse_args(argv)
    if args.what == "row":
        out = worker(args.engine, args.preset, args.n, args.duration, args.repeats, args.threads)
    elif args.what == "ensemble":
        out = ensemble_worker(args.how, args.seeds, args.preset)
    else:
        out = compile_worker(args.dtype)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
