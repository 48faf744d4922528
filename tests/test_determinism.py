"""Determinism across processes: the same configuration and seed give the same bits in a fresh
interpreter, with every engine, and every result stores the seed and the versions.

Reference values: this process's run of the same configuration and seed.
"""
import json
import subprocess
import sys

import pytest

import refsim
from refsim.testing import assert_same_run


@pytest.mark.engines("numpy", "numba")
def test_same_config_and_seed_give_the_same_bits_in_another_process(tmp_path, engine):
    """A fresh interpreter runs the same configuration and seed with the engine; its spikes,
    traces and final state equal this process's bit for bit (saved and loaded: the file keeps
    the bits), and every result stores the seed and the versions."""
    cfg = refsim.get_preset("tutorial-normalized", n_exc=160, n_inh=40, duration=100.0)
    code = ("import json, sys, refsim\n"
            "cfg = refsim.Config.from_dict(json.loads(sys.argv[1]))\n"
            "refsim.simulate(cfg, 7, engine=sys.argv[2], record=[3], progress=False).save(sys.argv[3])\n")
    subprocess.run([sys.executable, "-c", code, json.dumps(cfg.to_dict()), engine,
                    str(tmp_path / "r.npz")], check=True)
    here = refsim.simulate(cfg, 7, engine=engine, record=[3], progress=False)
    there = refsim.SimulationResult.load(tmp_path / "r.npz")
    assert here.n_spikes > 100
    assert_same_run(here, there)
    assert there.seed == 7 and there.versions == here.versions
    assert set(there.versions) >= {"python", "refsim", "numpy", "scipy", "numba", "llvmlite", "machine"}
