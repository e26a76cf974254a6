"""Optional NengoDL backend: run converted networks in `nengo_dl.Simulator`.

NengoDL 3.6 simulates a Nengo network as a TensorFlow graph, many samples at
once (minibatches) and on GPUs. It was written for Keras 2, so it needs the
``tf_keras`` package (Keras 2 for TensorFlow) and two modules that Keras 3 no
longer has. `import_nengo_dl` imports it with those routed to ``tf_keras``
*for NengoDL only*: while NengoDL is imported, ``tensorflow`` is seen through
a view whose ``keras`` is ``tf_keras``, and ``keras.engine`` and
``keras.layers.BatchNormalizationV1/V2`` come from ``tf_keras``; everything is
put back afterwards, so the user's ``keras`` (Keras 3) and ``tf.keras`` are
untouched and Keras 3 models keep working in the same process.

Install with ``pip install nengo-keras[nengo-dl]``. NengoDL's licence allows
non-commercial use only, which is why it is never a required dependency.

Examples
--------
>>> result = nengo_keras.to_nengo(model)
>>> out = result.run(x, n_steps=10, simulator="nengo_dl", minibatch_size=64)
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import types
import warnings

import numpy as np

from ..run.executors import _progress
from ..run.simulation import Engine, register_engine

INSTALL_HINT = (
    "install the optional NengoDL backend with `pip install nengo-keras[nengo-dl]` "
    "(nengo-dl and tf-keras; NengoDL's licence is non-commercial)"
)


def available():
    """Whether NengoDL and tf_keras are installed (without importing them).

    Examples
    --------
    >>> simulator = "nengo_dl" if available() else None
    """
    return all(importlib.util.find_spec(m) is not None for m in ("nengo_dl", "tf_keras"))


def is_nengo_dl(simulator):
    """Whether ``simulator`` names the NengoDL simulator.

    Examples
    --------
    >>> is_nengo_dl("nengo_dl"), is_nengo_dl(nengo.Simulator)
    (True, False)
    """
    if isinstance(simulator, str):
        if simulator == "keras":  # nengo_keras.run.keras_engine's
            return False
        if simulator not in ("nengo_dl", "nengo-dl"):
            raise ValueError(
                f"simulator={simulator!r}: expected a simulator class, 'keras' or "
                f"'nengo_dl'"
            )
        return True
    return getattr(simulator, "__module__", "").startswith("nengo_dl")


def import_nengo_dl():
    """Import ``nengo_dl`` on Keras 3 without changing the user's Keras.

    Returns
    -------
    module
        The ``nengo_dl`` module.

    Raises
    ------
    ImportError
        If nengo-dl or tf-keras is not installed (with how to install them).

    Examples
    --------
    >>> nengo_dl = import_nengo_dl()
    >>> with nengo_dl.Simulator(result.net, minibatch_size=32) as sim:
    ...     sim.run_steps(10)
    """
    if "nengo_dl" in sys.modules:
        return sys.modules["nengo_dl"]
    if not available():
        raise ImportError(f"the NengoDL backend needs nengo-dl and tf-keras: {INSTALL_HINT}")
    log_level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    try:
        with _routed_to_tf_keras(), warnings.catch_warnings():
            # NengoDL 3.6 runs on Nengo 4.1 (converted networks give the
            # reference simulator's outputs) though it was released before it
            warnings.filterwarnings("ignore", message=".*not been tested with your Nengo")
            import nengo_dl
    finally:
        # nengo_dl sets this on import; keep the user's setting
        if log_level is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = log_level
    return nengo_dl


class _TensorFlowView(types.ModuleType):
    """``tensorflow`` as NengoDL must see it: ``tf.keras`` is ``tf_keras``."""

    def __init__(self, tf, tf_keras):
        super().__init__("tensorflow", tf.__doc__)
        self.__dict__["keras"] = tf_keras
        self.__dict__["_tf"] = tf

    def __getattr__(self, name):
        return getattr(self.__dict__["_tf"], name)


class _LayersView(types.ModuleType):
    """``keras.layers`` plus the Keras 2 batch-normalization classes."""

    def __init__(self, layers, legacy):
        super().__init__("keras.layers")
        self.__dict__["_layers"] = layers
        self.BatchNormalizationV1 = legacy.BatchNormalizationV1
        self.BatchNormalizationV2 = legacy.BatchNormalizationV2

    def __getattr__(self, name):
        return getattr(self.__dict__["_layers"], name)


@contextlib.contextmanager
def _routed_to_tf_keras():
    import keras.layers
    import tensorflow as tf
    import tf_keras.api._v2.keras as tf_keras_api
    import tf_keras.src.engine as engine
    import tf_keras.src.engine.functional as functional
    import tf_keras.src.layers as legacy_layers

    routes = {
        "tensorflow": _TensorFlowView(tf, tf_keras_api),
        "keras.engine": engine,
        "keras.engine.functional": functional,
        "keras.layers": _LayersView(keras.layers, legacy_layers),
    }
    saved = {name: sys.modules.get(name) for name in routes}
    sys.modules.update(routes)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def simulator_class(simulator):
    """The NengoDL simulator class for ``simulator`` (``"nengo_dl"`` or a class).

    Examples
    --------
    >>> simulator_class("nengo_dl")  # nengo_dl.Simulator
    """
    if isinstance(simulator, str):
        return import_nengo_dl().Simulator
    return simulator


def run_plan(plan, inputs, n_steps, *, minibatch_size=None, progress_bar=False,
             executor=None, on_sums=None):
    """Simulate every sample of ``inputs`` with NengoDL, a minibatch at a time.

    Returns and calls ``on_sums`` like `nengo_keras.run.executors.run_plan`. The last
    minibatch is padded with zeros (padded samples are dropped). Stochastic
    neurons draw from NengoDL's random streams, so their results differ from the
    reference simulator's and depend on the minibatch size.
    """
    if executor not in (None, "serial"):
        warnings.warn(
            "the NengoDL simulator runs minibatches itself; executor is ignored",
            UserWarning,
            stacklevel=3,
        )
    batch = inputs[0].shape[0]
    size = int(minibatch_size or min(batch, 32))
    outputs = [np.zeros((batch, n_steps) + s) for s in plan.shapes]
    cls = simulator_class(plan.simulator)
    with _progress(progress_bar, batch, "samples (nengo_dl)") as progress, cls(
        plan.net, dt=plan.dt, seed=plan.seed, minibatch_size=size,
        progress_bar=False, **plan.sim_kwargs
    ) as sim:
        for start in range(0, batch, size):
            stop = min(start + size, batch)
            data = {
                node: _steps(a[start:stop], n_steps, size)
                for node, a in zip(plan.feeds, inputs)
            }
            got = sim.predict_on_batch(data, n_steps=n_steps)
            n = stop - start
            for out, p, shape in zip(outputs, plan.probes, plan.shapes):
                out[start:stop] = np.asarray(got[p][:n]).reshape((n, n_steps) + shape)
            if on_sums is not None:
                on_sums([np.sum(np.asarray(got[p][:n], float), axis=1) for p in plan.sums])
            progress(n)
    return outputs


def _steps(data, n_steps, size):
    """``(size, n_steps, features)``: constant data repeated, zero rows padded."""
    if data.ndim == 2:
        data = np.broadcast_to(data[:, None, :], (data.shape[0], n_steps, data.shape[1]))
    padded = np.zeros((size,) + data.shape[1:])
    padded[: data.shape[0]] = data
    return padded


register_engine(Engine(is_nengo_dl, run_plan))
