"""The Numba engine's on-disk cache and its pure-Python mode (issue 15).

* A damaged cache file (flipped bytes, truncated, overwritten with random bytes; data or
  index) is compiled again and rewritten, with one warning line, and the run gives the bits it
  gives from an intact cache (the oracle's). The subprocess runs compile the float32 engine
  (~15 s when every file is damaged, ~5 s when only the top-level ``_run``'s are), so each
  damage is one test with two runs: damaged (warns, recompiles), then repaired (silent, loads).
* ``_CheckedCacheFile`` (refsim.engines.numba_primitives) in-process: what it accepts,
  refuses and treats as stale.
* ``NUMBA_DISABLE_JIT=1``: the engine's passes run as Python and give the oracle's bits.
"""
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from numba.core import caching

import refsim
from refsim.engines import numba_primitives as nprim

#: The run every cache test makes: float32 (the tutorial's XLA arithmetic), 100 neurons, 20 ms.
PRESET = dict(name="tutorial", n_exc=80, n_inh=20, duration=20.0)
SEED = 3

RUN = f"""
import json, refsim
from refsim.engines import numba_engine as ne
r = refsim.simulate(refsim.get_preset({PRESET['name']!r}, n_exc={PRESET['n_exc']},
                    n_inh={PRESET['n_inh']}, duration={PRESET['duration']}), {SEED}, progress=False)
s = ne._run.stats
print(json.dumps(dict(digest=r.digest(), n_spikes=int(r.n_spikes),
                      hits=sum(s.cache_hits.values()), misses=sum(s.cache_misses.values()))))
"""


def run_engine(cache_dir, cli_out=None):
    """One fresh process running PRESET with the numba engine and its cache in ``cache_dir``:
    ``(json of RUN, stderr lines)``; with ``cli_out``, ``refsim run`` of the same run writing
    there instead (json: the saved result's digest)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    env.pop("NUMBA_DISABLE_JIT", None)
    if cli_out is None:
        argv = [sys.executable, "-c", RUN]
    else:
        argv = [sys.executable, "-m", "refsim", "run", "--preset", PRESET["name"],
                "--set", f"n_exc={PRESET['n_exc']}", "--set", f"n_inh={PRESET['n_inh']}",
                "--duration", str(PRESET["duration"]), "--seed", str(SEED), "--no-progress",
                "--out", str(cli_out)]
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    if cli_out is None:
        out = json.loads(p.stdout.splitlines()[-1])
    else:
        out = {"digest": refsim.SimulationResult.load(Path(cli_out) / "spikes.npz").digest()}
    return out, p.stderr.splitlines()


@pytest.fixture(scope="module")
def reference():
    """The oracle's digest of the cache tests' run (numpy engine, in this process)."""
    config = refsim.get_preset(PRESET["name"], **{k: v for k, v in PRESET.items() if k != "name"})
    result = refsim.simulate(config, SEED, engine="numpy", progress=False)
    assert result.n_spikes > 0
    return result.digest()


@pytest.fixture(scope="module")
def intact_cache(tmp_path_factory, reference):
    """A cache directory filled by one process (compiled: misses, no warning, the oracle's
    bits); each test damages a copy of it."""
    cache = tmp_path_factory.mktemp("numba_cache")
    out, err = run_engine(cache)
    assert out["misses"] >= 1 and out["hits"] == 0
    assert out["digest"] == reference
    assert err == []
    return cache


def files(cache, pattern):
    found = sorted(Path(cache).rglob(pattern))
    assert found, pattern
    return found


def flip_middle(path, n=16):
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    for i in range(mid, min(mid + n, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path):
    path.write_bytes(b"")


def randomize(path):
    rng = random.Random(path.name)
    path.write_bytes(bytes(rng.getrandbits(8) for _ in range(path.stat().st_size)))


#: Ways to damage a cache: each makes at least the top-level function's files unusable.
DAMAGE = {
    "flipped bytes in the middle of every .nbc":
        lambda cache: [flip_middle(p) for p in files(cache, "*.nbc")],
    "_run's .nbc truncated to 0 bytes":
        lambda cache: [truncate(p) for p in files(cache, "numba_engine._run-*.nbc")],
    "_run's .nbi index with flipped bytes, step_brainpy's emptied":
        lambda cache: ([flip_middle(p) for p in files(cache, "numba_engine._run-*.nbi")]
                       + [truncate(p) for p in files(cache, "numba_engine.step_brainpy-*.nbi")]),
    "random bytes in place of _run's and step_brainpy's .nbc":
        lambda cache: [randomize(p) for name in ("_run", "step_brainpy")
                       for p in files(cache, f"numba_engine.{name}-*.nbc")],
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cache_is_compiled_again_with_one_warning_and_the_same_bits(
        damage, intact_cache, reference, tmp_path):
    """After the damage, a new process exits normally, prints exactly one warning line (the
    NumbaCacheWarning naming the cache), compiles (a cache miss) and gives the oracle's
    digest; a third process then loads the rewritten cache silently (a hit, no miss), with the
    same digest."""
    cache = tmp_path / "cache"
    shutil.copytree(intact_cache, cache)
    DAMAGE[damage](cache)
    out, err = run_engine(cache)
    assert len(err) == 1, err
    assert "NumbaCacheWarning" in err[0] and "Numba cache file" in err[0]
    assert out["misses"] == 1 and out["digest"] == reference
    again, err = run_engine(cache)
    assert err == []
    assert (again["hits"], again["misses"]) == (1, 0)
    assert again["digest"] == reference


@pytest.mark.slow
def test_the_command_line_prints_the_cache_warning_once(intact_cache, reference, tmp_path):
    """``refsim run`` on a cache whose data files of ``_run`` are random bytes: exit 0, stderr
    is the one line ``refsim: warning: Numba cache file ...``, and the saved spikes and final
    state are the oracle's."""
    cache = tmp_path / "cache"
    shutil.copytree(intact_cache, cache)
    for p in files(cache, "numba_engine._run-*.nbc"):
        randomize(p)
    out, err = run_engine(cache, cli_out=tmp_path / "out")
    assert len(err) == 1 and err[0].startswith("refsim: warning: Numba cache file "), err
    assert out["digest"] == reference


# -- _CheckedCacheFile in-process: no compilation --------------------------------------------

KEY = (("float32",), ("x86_64", "cpu"), ("code-hash", "closure-hash"))
OTHER_KEY = (("float64",), ("x86_64", "cpu"), ("code-hash", "closure-hash"))


def cache_file(tmp_path, stamp="stamp"):
    return nprim._CheckedCacheFile(str(tmp_path), "numba_engine._run-1.py311", stamp)


def test_checked_cache_file_round_trip_and_damage(tmp_path):
    """What is saved loads back; flipped bytes, a truncation or random bytes in the data file
    or the index raise _DamagedCacheFile naming that file (never an UnpicklingError, never
    the damaged data); an index saved again replaces a damaged one."""
    f = cache_file(tmp_path)
    f.save(KEY, {"code": b"\x01" * 1000})
    assert f.load(KEY) == {"code": b"\x01" * 1000}
    data, index = Path(f._data_path(f._data_name(1))), Path(f._index_path)
    for path in (data, index):
        pristine = path.read_bytes()
        for damage in (flip_middle, truncate, randomize):
            path.write_bytes(pristine)
            damage(path)
            with pytest.raises(nprim._DamagedCacheFile) as e:
                f.load(KEY)
            assert e.value.path == str(path)
        path.write_bytes(pristine)
    randomize(index)
    f.save(KEY, {"code": b"\x02"})  # the damaged index is replaced, not read
    assert f.load(KEY) == {"code": b"\x02"}


def test_checked_cache_file_misses_stale_and_mismatched_files(tmp_path):
    """Misses (None, no error): a key never saved; another source stamp; a data file that
    holds another key's code (two processes saving two signatures under one name at once);
    a missing data file; files in Numba's own unsealed format (written before the check)."""
    f = cache_file(tmp_path)
    assert f.load(KEY) is None
    f.save(KEY, "float32 code")
    assert cache_file(tmp_path, stamp="edited").load(KEY) is None
    g = nprim._CheckedCacheFile(str(tmp_path), "other-2.py311", "stamp")
    g.save(OTHER_KEY, "float64 code")
    shutil.copy(g._data_path(g._data_name(1)), f._data_path(f._data_name(1)))
    assert f.load(KEY) is None
    os.remove(f._data_path(f._data_name(1)))
    assert f.load(KEY) is None
    plain = caching.IndexDataCacheFile(str(tmp_path), "plain-3.py311", "stamp")
    plain.save(KEY, "unsealed")
    checked = nprim._CheckedCacheFile(str(tmp_path), "plain-3.py311", "stamp")
    assert checked.load(KEY) is None
    checked.save(KEY, "sealed")
    assert checked.load(KEY) == "sealed"
    with open(checked._index_path, "rb") as fh:
        assert fh.read().startswith(nprim._SEAL)


def test_every_engine_function_has_the_checked_cache():
    """Each compiled function of the Numba engine caches through _CheckedFunctionCache (with
    this Numba's internals), so no cache file of the engine is read unchecked."""
    from refsim.engines import numba_engine
    dispatchers = [v for v in vars(numba_engine).values() if hasattr(v, "py_func")
                   and getattr(v.py_func, "__module__", "") == numba_engine.__name__]
    source = Path(numba_engine.__file__).read_text()
    assert len(dispatchers) == source.count("\n@_jit\n") + source.count("\n@_parallel\n")
    assert len(dispatchers) >= 15
    assert all(isinstance(d._cache, nprim._CheckedFunctionCache) for d in dispatchers)
    # the command line prints ConfigWarnings as one line 'refsim: warning: ...'
    assert issubclass(nprim.NumbaCacheWarning, refsim.ConfigWarning)


# -- NUMBA_DISABLE_JIT=1 ---------------------------------------------------------------------

PURE_PYTHON = """
import json, refsim
from refsim.engines import numba_engine as ne
assert type(ne._run).__name__ == "function", type(ne._run)   # nothing compiled
weak = dict(g_e0_mean=1.0, g_e0_std=0.5, g_i0_mean=2.0, g_i0_std=1.0)
cases = [("tutorial", {}), ("tutorial", dict(expm1="libm")), ("tutorial-normalized", {}),
         ("brette2007-coba", dict(RI_ext=40.0, **weak)),
         ("brette2007-coba", dict(RI_ext=40.0, integrator="exp_euler", dtype="float32", **weak))]
out = []
for name, kw in cases:
    config = refsim.get_preset(name, n_exc=24, n_inh=8, duration=15.0, **kw)
    runs = [refsim.simulate(config, 1, engine=e, progress=False, record=[0, 7]) for e in ("numba", "numpy")]
    traces = all((runs[0].traces[k] == runs[1].traces[k]).all() for k in runs[1].traces)
    out.append([name, config.dtype, runs[0].n_spikes, runs[0].digest(), runs[1].digest(), traces])
print(json.dumps(out))
"""


def test_numba_disable_jit_runs_the_engine_as_python_with_the_oracles_bits():
    """With NUMBA_DISABLE_JIT=1 the numba engine runs (it raised TypeError from the stubs of
    its exprel overloads on every exp_euler run) and gives the numpy engine's digest and
    traces: float32 with XLA's arithmetic and expm1 (and with libm's), float64 exp. Euler,
    Brette's order in float64 (Euler) and float32 (exp. Euler); every run has spikes."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    p = subprocess.run([sys.executable, "-c", PURE_PYTHON], env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = json.loads(p.stdout.splitlines()[-1])
    assert {row[1] for row in rows} == {"float32", "float64"}
    for name, dtype, n_spikes, numba_digest, numpy_digest, same_traces in rows:
        assert n_spikes > 0, name
        assert numba_digest == numpy_digest, (name, dtype)
        assert same_traces, (name, dtype)


def test_no_writable_cache_location_compiles_without_a_cache(monkeypatch):
    """Where Numba finds no place to write its cache (a read-only install, an unwritable
    NUMBA_CACHE_DIR) ``njit(cache=True)`` raises at decoration time, which would make the
    default engine unimportable. refsim compiles without a cache instead, with one warning."""
    def no_locator(self, py_func):
        raise RuntimeError(f"cannot cache function {py_func.__name__!r}: no locator available "
                           "for file 'x.py'")

    monkeypatch.setattr(caching.FunctionCache, "__init__", no_locator)
    monkeypatch.setattr(nprim, "_WARNED", set())

    def twice(x):
        return 2 * x

    with pytest.warns(nprim.NumbaCacheWarning, match="no writable place for Numba's cache") as w:
        f = nprim.cached_jit()(twice)
    assert f(21) == 42 and len(w) == 1 and f._cache.__class__.__name__ == "NullCache"
