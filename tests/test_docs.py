"""The documentation covers the public API, and its code examples run."""

import inspect
import os
import re
import subprocess
import sys

import keras
import pytest

import nengo_keras
from nengo_keras.conversion import registry  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def read(page):
    with open(os.path.join(DOCS, page), encoding="utf-8") as f:
        return f.read()


def documented_names():
    """Fully qualified names that api.rst documents with autodoc/py directives."""
    names = set()
    for match in re.finditer(r"^\.\. (?:auto\w+|py:\w+):: +(\S+)", read("api.rst"), re.M):
        name = match.group(1)
        names.add(name if name.startswith("nengo_keras") else f"nengo_keras.{name}")
    return names


def _path(name):
    """Where api.rst documents a public name: modules under their own path
    (``nengo_keras.layers`` is ``nengo_keras.spiking.layers``)."""
    obj = getattr(nengo_keras, name)
    return obj.__name__ if inspect.ismodule(obj) else f"nengo_keras.{name}"


def test_every_public_name_is_in_the_api_reference():
    names = documented_names()
    missing = [n for n in nengo_keras.__all__ if _path(n) not in names]
    assert not missing, f"add these to docs/api.rst: {missing}"
    for extra in ("nengo_keras.converter.LayerConverter", "nengo_keras.conversion.registry"):
        assert extra in names


def test_every_page_is_in_the_table_of_contents():
    index = read("index.rst")
    pages = [p[:-4] for p in os.listdir(DOCS) if p.endswith(".rst") and p != "index.rst"]
    assert pages
    missing = [p for p in pages if not re.search(rf"^   {re.escape(p)}$", index, re.M)]
    assert not missing


def code_blocks(page):
    """The ``.. code-block:: python`` blocks of a page, dedented."""
    blocks = []
    lines = read(page).splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == ".. code-block:: python":
            i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
                body.append(lines[i][3:])
                i += 1
            blocks.append("\n".join(body).strip("\n"))
        else:
            i += 1
    return blocks


@pytest.fixture
def restore_registries():
    tables = (registry.CONVERTERS, registry.ACTIVATIONS)
    saved = [t.snapshot() for t in tables], dict(nengo_keras.Converter.converters)
    yield
    for table, snapshot in zip(tables, saved[0]):
        table.restore(snapshot)
    nengo_keras.Converter.converters.clear()
    nengo_keras.Converter.converters.update(saved[1])


@pytest.mark.parametrize(
    "page",
    ["index.rst", "quickstart.rst", "custom-layers.rst", "spiking.rst", "evaluation.rst",
     "nengo-dl.rst"],
)
def test_code_examples_run(page, restore_registries, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may write files (plots)
    if page == "nengo-dl.rst" and keras.backend.backend() != "tensorflow":
        pytest.skip("the NengoDL guide's examples use tf.nn.relu")
    blocks = code_blocks(page)
    assert blocks, f"{page} has no python examples"
    namespace = {"__name__": f"docs_{page[:-4].replace('-', '_')}"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"{page}[block {i}]", "exec"), namespace)
        except Exception as e:
            e.add_note(f"in docs/{page}, code block {i}:\n{block}")
            raise


@pytest.mark.slow  # ~30 s: a full Sphinx build
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         DOCS, str(tmp_path / "html")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    # TensorFlow's own start-up lines are not Sphinx warnings
    lines = [line for line in proc.stderr.splitlines() if "absl::" not in line]
    warnings = [line for line in lines if "WARNING" in line or "ERROR" in line]
    assert proc.returncode == 0 and not warnings, proc.stderr


def test_readme_example_runs(restore_registries):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
