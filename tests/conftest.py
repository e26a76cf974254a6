"""Shared fixtures and the one helper every converter test uses."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras():
    # fresh layer names; free_memory=False skips a full gc.collect() per test,
    # which costs about a second each once TensorFlow's objects are loaded
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_report_header(config):
    home = os.environ.get("KERAS_HOME", "~/.keras")
    return f"keras {keras.__version__}, backend {keras.backend.backend()}, KERAS_HOME {home}"


# Hypothesis profiles: "ci" (the default) runs a fixed, reproducible set of
# examples; "dev" explores new random examples and remembers failing ones in
# .hypothesis/. Choose with HYPOTHESIS_PROFILE=dev or --hypothesis-profile=dev.
settings.register_profile(
    "ci", max_examples=150, deadline=None, derandomize=True, database=None, print_blob=True
)
settings.register_profile("dev", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
