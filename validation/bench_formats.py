"""Round trips through refsim's file formats, timed side by side in one invocation.

Run from the repository root (refsim's venv with the ``formats``, ``nwb`` extras)::

    python -m validation.bench_formats                      # N = 4000 and 400 000
    python -m validation.bench_formats --neurons 4000 --spike-ms 1000

For each N (the ``tutorial-normalized`` preset at N neurons, out-degree 80: 320 000 and
32 000 000 synapses), it prints one row per format: write and read seconds, the file's size
and the peak memory traced while writing and while reading (``tracemalloc``, which NumPy
reports to), and whether the round trip is exact:

* the network: SONATA (``refsim.formats.write_sonata_network`` / ``read_sonata_network``,
  CSR byte for byte) beside the one-file ``.npz`` (``refsim.io.write_network`` /
  ``read_network``);
* the spikes of a run of ``--spike-ms`` ms (default 1000 at N <= 4000, else 100): every spike
  format with a writer, read back with ``refsim.formats.read_spikes`` (identical arrays).
  NWB is measured up to ``--nwb-max`` neurons (pynwb adds units one by one).

Work files go to a temporary directory (``--work-dir``), removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import tracemalloc

import numpy as np

import refsim
from refsim.analysis import as_spike_trains
from refsim.formats import FORMATS, read_sonata_network, read_spikes, write_sonata_network, write_spikes
from refsim.io import read_network, write_network

EXTENSION = {"npz": "npz", "nest-ascii": "dat", "nest-memory": "npz", "brian2": "npz",
             "brainpy": "npz", "genn": "npz", "sonata": "h5", "nwb": "nwb"}


def measured(fn):
    """(result, seconds, peak traced MiB) of fn()."""
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, seconds, peak


def size_mib(path) -> float:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) / 2**20
    return os.path.getsize(path) / 2**20


def row(name, w, r, size, exact):
    print(f"  {name:22s} write {w[1]:8.2f} s {w[2]:9.0f} MiB   read {r[1]:8.2f} s {r[2]:9.0f} MiB   "
          f"file {size:9.1f} MiB   {'exact' if exact else 'DIFFERENT'}")


def bench_network(config, work):
    conn, initial = refsim.network_inputs(config, 0)
    print(f"network: N = {config.n_neurons}, {conn.indices.size} synapses")
    d = os.path.join(work, "sonata")
    w = measured(lambda: write_sonata_network(d, config, conn, initial, {"seed": 0}))
    r = measured(lambda: read_sonata_network(d))
    _, conn2, init2, _ = r[0]
    exact = all(getattr(conn, k).tobytes() == getattr(conn2, k).tobytes()
                for k in ("indptr", "indices", "counts"))
    exact &= all(np.array_equal(initial[k], init2[k]) for k in ("V", "g_e", "g_i"))
    row("SONATA directory", w, r, size_mib(d), exact)
    p = os.path.join(work, "network.npz")
    w = measured(lambda: write_network(p, config, conn, initial, {"seed": 0}))
    r = measured(lambda: read_network(p))
    net = r[0]
    exact = net["indices"].tobytes() == conn.indices.tobytes() and np.array_equal(net["indptr"], conn.indptr)
    row("refsim .npz (one file)", w, r, size_mib(p), exact)
    shutil.rmtree(d)
    os.remove(p)


def bench_spikes(config, work, nwb_max):
    t0 = time.perf_counter()
    run = refsim.simulate(config, 0, progress=False)
    s = as_spike_trains(run)
    print(f"spikes: N = {config.n_neurons}, {config.duration:g} ms, {s.times_ms.size} spikes "
          f"(run {time.perf_counter() - t0:.1f} s)")
    kw = dict(n_neurons=config.n_neurons, n_exc=config.n_exc, t_stop_ms=config.duration, dt_ms=config.dt)
    for fmt, f in FORMATS.items():
        if f.write is None:
            continue
        if fmt == "nwb" and config.n_neurons > nwb_max:
            print(f"  {fmt:22s} not measured above {nwb_max} neurons (--nwb-max)")
            continue
        path = os.path.join(work, f"spikes.{EXTENSION[fmt]}")
        w = measured(lambda fmt=fmt, path=path: write_spikes(run, path, format=fmt))
        r = measured(lambda fmt=fmt, path=path: read_spikes(path, format=fmt, **kw))
        back = r[0]
        exact = np.array_equal(back.times_ms, s.times_ms) and np.array_equal(back.neurons, s.neurons)
        row(fmt, w, r, size_mib(path), exact)
        os.remove(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--neurons", type=int, nargs="+", default=[4000, 400_000])
    p.add_argument("--spike-ms", type=float, help="duration of the spike runs (default 1000 ms "
                                                  "at N <= 4000, else 100 ms)")
    p.add_argument("--nwb-max", type=int, default=40_000)
    p.add_argument("--work-dir")
    args = p.parse_args(argv)
    work = tempfile.mkdtemp(dir=args.work_dir)
    import h5py
    import pynwb  # imported before any timing: its first import alone takes seconds
    try:
        print(f"refsim {refsim.__version__}, numpy {np.__version__}, h5py {h5py.__version__}, "
              f"pynwb {pynwb.__version__}; tracemalloc peaks; one process")
        for n in args.neurons:
            config = refsim.scaled_preset("tutorial-normalized", n)
            bench_network(config, work)
            ms = args.spike_ms or (1000.0 if n <= 4000 else 100.0)
            bench_spikes(config.replace(duration=ms), work, args.nwb_max)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
