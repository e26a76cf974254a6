"""Shared fixtures and the one helper every converter test uses."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras():
    keras.backend.clear_session()  # fresh layer names, free memory
    keras.utils.set_random_seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)




def pytest_report_header(config):
    home = os.environ.get("KERAS_HOME", "~/.keras")
    return f"keras {keras.__version__}, backend {keras.backend.backend()}, KERAS_HOME {home}"
