"""The documentation runs: every ```python block of the teaching pages and of the README's
section on refsim.testing, and the numpydoc Examples of the public API; the generated tables
(parameters, tolerances) are the ones the pages show.

Each page's blocks run in order in one namespace (as a reader would type them), in a
temporary working directory; a block that raises, or whose ``assert`` fails, fails the test.
"""
import doctest
import importlib
import os
import re

import pytest

DOCS = os.path.join(os.path.dirname(__file__), os.pardir, "docs")
README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
PAGES = ["tutorials/01-neuron.md", "tutorials/02-synapses-and-projections.md",
         "tutorials/03-ei-network.md", "model.md", "validating-a-simulator.md", "formats.md"]
BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)


def blocks(page):
    with open(os.path.join(DOCS, page)) as fh:
        return BLOCK.findall(fh.read())


@pytest.mark.parametrize("page", PAGES)
def test_page_code_blocks_run(page, tmp_path, monkeypatch):
    """Every python block of the page runs without error (its asserts hold)."""
    found = blocks(page)
    assert found, f"{page} has no python blocks"
    monkeypatch.chdir(tmp_path)
    import matplotlib
    matplotlib.use("Agg")
    namespace = {"__name__": "__docs__"}
    for k, code in enumerate(found):
        exec(compile(code, f"{page}[block {k}]", "exec"), namespace)


# Every module of refsim with Examples in its docstrings (all but refsim/__init__, _version and
# engines/numba_primitives, which have none); test_every_module_with_examples_is_listed checks
# that none is missing.
DOCTEST_MODULES = [
    "refsim.analysis", "refsim.checks", "refsim.cli", "refsim.compare", "refsim.connectivity",
    "refsim.elementary", "refsim.engines", "refsim.engines.cuda_engine",
    "refsim.engines.numba_engine", "refsim.engines.numpy_engine", "refsim.ensemble",
    "refsim.exact", "refsim.exact.crossing", "refsim.exact.events", "refsim.formats",
    "refsim.formats.common", "refsim.formats.parameters", "refsim.formats.sonata_network",
    "refsim.io", "refsim.model",
    "refsim.network", "refsim.outputs", "refsim.params", "refsim.plot", "refsim.presets", "refsim.recording",
    "refsim.resources", "refsim.result", "refsim.simulate", "refsim.state", "refsim.sweep", "refsim.testing",
    "refsim.validate", "refsim.testing.tolerances", "refsim.testing.strategies",
]


def test_every_module_with_examples_is_listed():
    """A module whose source has a doctest prompt is in DOCTEST_MODULES (so its examples run)."""
    root = os.path.join(os.path.dirname(__file__), os.pardir, "refsim")
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path) as fh:
                    if ">>> " in fh.read():
                        rel = os.path.relpath(path, os.path.join(root, os.pardir))[:-3]
                        found.append(rel.replace(os.sep, ".").removesuffix(".__init__"))
    assert sorted(found) == sorted(DOCTEST_MODULES)


@pytest.mark.parametrize("module", DOCTEST_MODULES)
def test_docstring_examples_run(module):
    """The Examples sections of the public API's docstrings (doctest)."""
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_every_figure_the_docs_show_exists_and_is_made_by_the_figure_script():
    """Each image a page links under docs/figures/ is committed and is one of the files
    docs/make_figures.py writes (so it can be regenerated)."""
    script = open(os.path.join(DOCS, "make_figures.py")).read()
    for page in PAGES:
        text = open(os.path.join(DOCS, page)).read()
        for fig in re.findall(r"figures/([\w.-]+\.png)", text):
            assert os.path.exists(os.path.join(DOCS, "figures", fig)), fig
            assert f'"{fig}"' in script, f"{fig} is not produced by docs/make_figures.py"


def test_model_page_parameter_table_is_the_generated_one():
    """docs/model.md embeds refsim.presets.parameter_table() verbatim (regenerate the page's
    table when a preset or field changes)."""
    import refsim
    assert refsim.presets.parameter_table() in open(os.path.join(DOCS, "model.md")).read()


def readme_section(title):
    """The README's section under the heading ``## {title}`` (up to the next ``## ``)."""
    text = open(README).read()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def test_readme_tolerance_table_is_the_generated_one():
    """README.md embeds refsim.testing.tolerance_table() verbatim: the tolerances the tests
    use (refsim.testing.TOLERANCES), with their reasons (regenerate the README's table when an
    entry changes)."""
    from refsim.testing import tolerance_table
    assert tolerance_table() in readme_section("Engines, and how closely they agree")


def test_readme_testing_section_runs(tmp_path, monkeypatch):
    """The python blocks of the README's section on refsim.testing run in order (their asserts
    hold): testing another simulator with first_difference and the tolerance table, and a
    property over refsim.testing.strategies."""
    found = BLOCK.findall(readme_section("Testing a simulator with refsim.testing"))
    assert len(found) >= 2
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    for k, code in enumerate(found):
        exec(compile(code, f"README.md[testing block {k}]", "exec"), namespace)
