"""The structure the code promises: each fact in one place, no import circle, no hidden imports.

These tests read refsim's own source (``ast``), so they fail when a later change copies a
formula into an engine, derives seeds outside :mod:`refsim.network`, closes an import circle
or hides an import inside a function without a stated reason.
"""
import ast
import os
from pathlib import Path

import pytest

import refsim
from refsim import model
from refsim.engines import cuda_engine, numba_engine, numpy_engine

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "refsim"


def _modules():
    """refsim's modules as {dotted name: path}."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The refsim modules an ``from X import a, b`` statement in ``module`` refers to."""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("refsim"):
        return []
    known = _modules()
    # "from . import analysis" names submodules; "from .io import x" names the module
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names]


def _top_level_imports(name, path):
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            found.update(_resolve(name, path.name == "__init__.py", node))
        elif isinstance(node, ast.Try):  # optional imports at module level
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom):
                    found.update(_resolve(name, path.name == "__init__.py", sub))
    return {m for m in found if m != name}


def test_no_engine_defines_a_formula_of_its_own():
    """The formulas of refsim.model are written once: the engines use those very functions
    (a namesake defined in an engine would be a copy that can drift)."""
    names = [f.__name__ for f in model.FORMULAS]
    assert len(names) == 8
    for engine in (numpy_engine, numba_engine, cuda_engine):
        for name in names:
            if hasattr(engine, name):
                assert getattr(engine, name) is getattr(model, name), (engine.__name__, name)
        source = Path(engine.__file__).read_text()
        for name in names:
            assert f"def {name}(" not in source, (engine.__name__, name)


def test_the_package_imports_have_no_circle():
    """The module-level imports between refsim's modules form a DAG (the package __init__ and
    its lazy attributes aside): e.g. io never imports result, state never imports io."""
    graph = {name: _top_level_imports(name, path) for name, path in _modules().items()
             if name != "refsim"}
    graph = {k: {m for m in v if m in graph} for k, v in graph.items()}
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                pytest.fail("import circle: " + " -> ".join(stack + [node, nxt]))
            if nxt not in state:
                visit(nxt, stack + [node])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [])
    assert "refsim.io" in graph and not {"refsim.result", "refsim.connectivity"} & graph["refsim.io"]


# Function-level imports that are allowed, each with its reason (module, imported name).
LAZY_IMPORTS = {
    ("refsim", ".exact"): "simulate_exact needs scipy.integrate (0.5 s): loaded on first use",
    ("refsim.engines", ".numpy_engine"): "the engine registry imports an engine when asked",
    ("refsim.engines", ".numba_engine"): "the engine registry imports an engine when asked",
    ("refsim.engines", ".cuda_engine"): "the engine registry imports an engine when asked",
    ("refsim.engines", "numba"): "Numba's thread pool size, asked only for threads > 1 (0.5 s import)",
    ("refsim.compare", "scipy.stats"): "scipy.stats takes a second to import",
    ("refsim.analysis", "scipy.ndimage"): "imported by the statistics that need it (0.3 s)",
    ("refsim.analysis", "scipy.signal"): "imported by the spectrum only (0.9 s)",
    ("refsim.plot", "matplotlib"): "matplotlib takes half a second; import refsim must not",
    ("refsim.plot", "matplotlib.pyplot"): "as matplotlib",
    ("refsim.plot", "matplotlib.colors"): "as matplotlib",
    ("refsim.plot", "matplotlib.ticker"): "as matplotlib",
    ("refsim.validate", "scipy.stats"): "as refsim.compare",
    ("refsim.testing", "..validate"): "refsim.validate imports refsim.compare, which imports refsim.testing",
    ("refsim.ensemble", "distributed"): "optional (the distributed extra): only --scheduler ADDRESS needs it",
}


def test_no_function_level_import_without_a_reason():
    """Every import inside a function is listed in LAZY_IMPORTS with its reason (optional
    dependencies and the lazy imports that keep ``import refsim`` and the CLI fast)."""
    found = set()
    for name, path in _modules().items():
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    found.update((name, a.name) for a in node.names)
                elif isinstance(node, ast.ImportFrom):
                    found.add((name, "." * node.level + (node.module or "")))
    unexplained = sorted(found - set(LAZY_IMPORTS))
    assert not unexplained, unexplained
    assert found == set(LAZY_IMPORTS), sorted(set(LAZY_IMPORTS) - found)  # no stale entries


def test_only_refsim_network_derives_seeds():
    """Which network a seed means is written once: no other file of refsim, its tests, its
    validation scripts or its docs spawns seed sequences or tests conn_rng to pick a seed."""
    allowed = {PACKAGE / "network.py"}
    offenders = []
    for folder in ("refsim", "tests", "validation", "docs"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".md") or path in allowed or path == Path(__file__):
                continue
            text = path.read_text()
            if ".spawn(" in text or 'conn_rng == "numpy-legacy" else' in text:
                offenders.append(os.path.relpath(path, ROOT))
    assert not offenders, offenders


def test_the_version_is_written_once():
    """setup.cfg reads refsim/_version.py; CITATION.cff and the changelog's newest entry name
    the same version (so a release cannot update one and forget the others)."""
    assert "version = attr: refsim._version.__version__" in (ROOT / "setup.cfg").read_text()
    assert f'version: "{refsim.__version__}"' in (ROOT / "CITATION.cff").read_text()
    changelog = (ROOT / "CHANGELOG.md").read_text()
    newest = next(line for line in changelog.splitlines() if line.startswith("## ["))
    assert refsim.__version__ in newest, newest


def test_the_suite_imports_the_refsim_it_means_to_test():
    """.ci/run runs the suite on an editable install (Python 3.11: refsim is this source tree)
    and on a non-editable one (Python 3.13: refsim is the installed wheel's copy, which the
    source tree must not shadow: tests/conftest.py appends the root to sys.path instead of
    prepending it). REFSIM_EXPECT_INSTALLED says which; without it there is nothing to check."""
    expected = os.environ.get("REFSIM_EXPECT_INSTALLED")
    if expected is None:
        pytest.skip("REFSIM_EXPECT_INSTALLED not set (set by .ci/run)")
    in_tree = Path(refsim.__file__).resolve().is_relative_to(PACKAGE.resolve())
    assert in_tree == (expected == "0"), (refsim.__file__, expected)
