"""Sphinx configuration for the nengo_keras documentation.

Build with ``python3 run.py docs`` (warnings are errors). The build needs no
network access and the pages load nothing from it: there is no intersphinx,
the theme ships with Sphinx, and maths is rendered to MathML at build time
(``_ext/mathml.py``), which browsers draw themselves.
"""

import inspect
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Document this checkout even where nengo_keras is not installed.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "_ext")))

import nengo_keras  # noqa: E402

project = "nengo_keras"
author = "nengo_keras developers"
copyright = "nengo_keras developers"
release = nengo_keras.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",  # CHANGELOG.md on the changelog page
    "mathml",  # offline maths
    "layer_table",  # the supported-layers table, from the registry
]
html_math_renderer = "mathml"
source_suffix = {".rst": "restructuredtext"}  # Markdown only where included

exclude_patterns = ["_build"]
# `name` in docstrings links to the Python object of that name where one is
# documented here, and renders as code otherwise.
default_role = "py:obj"

autosummary_generate = False  # the API pages list their entries explicitly
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc sections carry the types

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True



def _keras_layer_signature(app, what, name, obj, options, signature, return_annotation):
    """Show the ``__init__`` arguments of nengo_keras' Keras layers.

    Keras layers define ``__new__(cls, *args, **kwargs)``, which autodoc
    would show instead of the constructor's real arguments.
    """
    init = getattr(obj, "__init__", None)
    if what != "class" or signature != "(*args, **kwargs)" or init is None:
        return None
    if not getattr(init, "__module__", "").startswith("nengo_keras"):
        return None
    sig = inspect.signature(init)
    params = list(sig.parameters.values())[1:]  # drop self
    return str(sig.replace(parameters=params)), return_annotation


def setup(app):
    app.connect("autodoc-process-signature", _keras_layer_signature)


html_theme = "alabaster"
html_title = f"nengo_keras {release}"
html_static_path = []
html_theme_options = {
    "description": "Keras 3 models as native Nengo networks",
    "fixed_sidebar": True,
}
