"""The tests mirror the package: ``nengo_keras/a/b.py`` is tested in ``tests/a/test_b.py``."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Old import paths kept for one release: each is one ``moved(__name__, ...)``
# line, tested together in tests/test_deprecated_paths.py.
DEPRECATED = {
    "activations.py",
    "calibration.py",
    "callbacks.py",
    "compat.py",
    "context.py",
    "evaluation.py",
    "layers.py",
    "mixins.py",
    "nengo_dl_backend.py",
    "options.py",
    "plots.py",
    "protocol.py",
    "registry.py",
    "result.py",
    "simulation.py",
    "values.py",
}

# Modules with nothing of their own to test.
NOTHING_TO_TEST = {
    "version.py",  # one string
    "_deprecated.py",  # the helper of the stubs above, tested with them
    "__main__.py",  # ``python -m nengo_keras``: calls cli.main, tested in tests/test_cli.py
}

# Modules tested through another test file, which must exist: the Keras
# engine's private parts (one engine, one test file), and the argument checks,
# which tests/test_bad_input.py catalogues together with the option checks.
TESTED_WITH = {
    "run/_keras_nodes.py": "tests/run/test_keras_engine.py",
    "run/_keras_ops.py": "tests/run/test_keras_engine.py",
    "run/_keras_signals.py": "tests/run/test_keras_engine.py",
    "run/arguments.py": "tests/test_bad_input.py",
}

# Public modules still without a test file of their own: their behaviour is
# tested through the modules that use them. This list may only shrink (a test
# below fails if a listed module gets its file, so the entry must go).
NOT_YET_MIRRORED = {
    "conversion/activation_map.py",
    "conversion/protocol.py",
    "conversion/time_axis.py",
    "converters/_lib/numpy_ref.py",
    "converters/_lib/probing.py",
    "converters/_lib/rectifiers.py",
    "converters/_lib/windows.py",
    "converters/time_distributed.py",
    "converter.py",
    "errors.py",
    "nir/_linear.py",
    "nir/checks.py",
    "nir/reader.py",
}


def package_modules():
    """Paths of the package's modules, relative to ``nengo_keras/``, no ``__init__``s.

    A package's ``__init__`` only re-exports and documents its subpackage; what
    it re-exports is tested where it is defined.
    """
    base = os.path.join(ROOT, "nengo_keras")
    found = set()
    for folder, _, files in os.walk(base):
        for name in files:
            if name.endswith(".py") and name != "__init__.py":
                found.add(os.path.relpath(os.path.join(folder, name), base).replace(os.sep, "/"))
    return found


def mirrored_test(module):
    folder, name = os.path.split(module)
    return os.path.join(ROOT, "tests", folder, "test_" + name)


def test_every_module_has_a_mirrored_test_file():
    expected = package_modules() - DEPRECATED - NOTHING_TO_TEST - NOT_YET_MIRRORED
    expected -= set(TESTED_WITH)
    missing = sorted(m for m in expected if not os.path.exists(mirrored_test(m)))
    assert not missing, f"add tests/<same path>/test_<module>.py for: {missing}"


def test_exceptions_are_still_true():
    modules = package_modules()
    listed = DEPRECATED | NOTHING_TO_TEST | NOT_YET_MIRRORED | set(TESTED_WITH)
    for test_file in TESTED_WITH.values():
        assert os.path.exists(os.path.join(ROOT, test_file)), test_file
    assert listed <= modules, f"no such modules: {sorted(listed - modules)}"
    for module in DEPRECATED:
        with open(os.path.join(ROOT, "nengo_keras", module), encoding="utf-8") as f:
            assert "moved(__name__, _module)" in f.read(), f"{module} is not a stub"
    mirrored = sorted(m for m in NOT_YET_MIRRORED if os.path.exists(mirrored_test(m)))
    assert not mirrored, f"remove from NOT_YET_MIRRORED: {mirrored}"


# Test files in a mirrored folder that are about a topic rather than a module.
TOPICAL = {
    # the custom layers of keras.applications, which convert by tracing
    "tests/converters/test_applications.py",
    # keras_hub backbones (an optional dependency), which convert by tracing
    "tests/converters/test_keras_hub.py",
    # Keras' implicit masks, applied by every layer family that consumes them
    "tests/converters/test_masks.py",
    # a NIR file from nengo_keras run by another framework (Spyx)
    "tests/nir/test_spyx.py",
    # more tests of run/evaluation.py: EvaluationResult.summary
    "tests/run/test_evaluation_summary.py",
}


def test_no_test_file_mirrors_a_module_that_does_not_exist():
    modules = package_modules()
    tests = os.path.join(ROOT, "tests")
    orphans = []
    for folder, _, files in os.walk(tests):
        rel = os.path.relpath(folder, tests).replace(os.sep, "/")
        if rel == "." or not os.path.isdir(os.path.join(ROOT, "nengo_keras", rel)):
            continue  # top-level tests are about the whole package
        for name in files:
            if name.startswith("test_") and name.endswith(".py"):
                module = f"{rel}/{name[len('test_'):]}"
                if module not in modules and f"tests/{rel}/{name}" not in TOPICAL:
                    orphans.append(f"tests/{rel}/{name}")
    assert not orphans, f"test files with no module to mirror: {orphans}"
