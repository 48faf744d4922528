"""The documentation runs: every ```python block of the teaching pages, and the numpydoc
Examples of the public API.

Each page's blocks run in order in one namespace (as a reader would type them), in a
temporary working directory; a block that raises, or whose ``assert`` fails, fails the test.
"""
import doctest
import importlib
import os
import re

import pytest

DOCS = os.path.join(os.path.dirname(__file__), os.pardir, "docs")
PAGES = ["tutorials/01-neuron.md", "tutorials/02-synapses-and-projections.md",
         "tutorials/03-ei-network.md", "model.md", "validating-a-simulator.md"]
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


@pytest.mark.parametrize("module", ["refsim.simulate", "refsim.params", "refsim.presets",
                                    "refsim.connectivity", "refsim.analysis", "refsim.compare",
                                    "refsim.result", "refsim.exact"])
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
