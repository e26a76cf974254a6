"""Activation layers and the activations that have no single neuron type.

Piecewise-linear activations (relu6, leaky relu, PReLU, hard sigmoid, hard
tanh, sparse sigmoid, soft shrink) are exact networks of rectifiers built with
``ctx.relu``, so ``swap_activations={"relu": nengo.SpikingRectifiedLinear()}``
makes them spike too. The smooth ones (ELU, GELU, softmax...) run as NumPy
Nodes that follow Keras' formulas (`nengo_keras.converters._lib.numpy_ref`).
"""

from __future__ import annotations

import keras
import numpy as np

from ..conversion import graph as kg
from ..conversion.activation_map import register_activation
from ..conversion.registry import register
from ._lib import numpy_ref, rectifiers


class ActivationBuilder:
    """Builds one activation: ``builder(ctx, x, **params) -> Value``.

    ``parameters`` names the keyword arguments the activation takes (read
    from the activation function, a layer or an operation by
    `nengo_keras.activations.parameters`); ``defaults`` holds Keras' values.
    """

    def __init__(self, fn, **defaults):
        self.fn = fn
        self.defaults = defaults
        self.parameters = tuple(defaults)

    def __call__(self, ctx, x, **params):
        return self.build(ctx, x, {**self.defaults, **params})


class NodeActivation(ActivationBuilder):
    """A NumPy Node computing ``fn(x, **params)`` (the "node" tier)."""

    def build(self, ctx, x, params):
        return ctx.node(numpy_ref.Batched(self.fn, **params), [x], x.shape)


class PiecewiseLinear(ActivationBuilder):
    """An exact rectifier network; ``fn(**params)`` returns the keyword
    arguments of `nengo_keras.converters._lib.rectifiers.piecewise_linear`."""

    def build(self, ctx, x, params):
        return rectifiers.piecewise_linear(ctx, x, **self.fn(**params))


def _leaky(negative_slope):
    return dict(knots=[0.0], weights=[1.0 - negative_slope], slope=negative_slope)


def _soft_shrink(threshold):
    t = float(threshold)
    return dict(knots=[-t, t], weights=[-1.0, 1.0], slope=1.0, offset=t)


BUILDERS = {
    # exact rectifier networks (tier "neural")
    "relu6": PiecewiseLinear(lambda: dict(knots=[0.0, 6.0], weights=[1.0, -1.0])),
    "leaky_relu": PiecewiseLinear(_leaky, negative_slope=0.2),
    "hard_sigmoid": PiecewiseLinear(
        lambda: dict(knots=[-3.0, 3.0], weights=[1 / 6, -1 / 6])
    ),
    "hard_tanh": PiecewiseLinear(
        lambda: dict(knots=[-1.0, 1.0], weights=[1.0, -1.0], offset=-1.0)
    ),
    "sparse_sigmoid": PiecewiseLinear(
        lambda: dict(knots=[-1.0, 1.0], weights=[0.5, -0.5])
    ),
    "soft_shrink": PiecewiseLinear(_soft_shrink, threshold=0.5),
    # NumPy Nodes (tier "node")
    "elu": NodeActivation(numpy_ref.elu, alpha=1.0),
    "selu": NodeActivation(numpy_ref.selu),
    "celu": NodeActivation(numpy_ref.celu, alpha=1.0),
    "softplus": NodeActivation(numpy_ref.softplus),
    "softsign": NodeActivation(numpy_ref.softsign),
    "exponential": NodeActivation(np.exp),
    "silu": NodeActivation(numpy_ref.silu),
    "hard_silu": NodeActivation(numpy_ref.hard_silu),
    "gelu": NodeActivation(numpy_ref.gelu, approximate=False),
    "mish": NodeActivation(numpy_ref.mish),
    "log_sigmoid": NodeActivation(numpy_ref.log_sigmoid),
    "tanh_shrink": NodeActivation(numpy_ref.tanh_shrink),
    "squareplus": NodeActivation(numpy_ref.squareplus, b=4),
    "sparse_plus": NodeActivation(numpy_ref.sparse_plus),
    "hard_shrink": NodeActivation(numpy_ref.hard_shrink, threshold=0.5),
    "threshold": NodeActivation(numpy_ref.threshold, threshold=0.0, default_value=0.0),
    "softmax": NodeActivation(numpy_ref.softmax, axis=-1),
    "log_softmax": NodeActivation(numpy_ref.log_softmax, axis=-1),
}
for _name, _builder in BUILDERS.items():
    register_activation(_name, _builder)


def convert_relu(layer, ctx, x, **_):
    """ReLU(max_value, negative_slope, threshold) (the layer, and
    `keras.activations.relu` in functional graphs): exact with rectifiers."""
    slope = float(layer.negative_slope)
    max_value = None if layer.max_value is None else float(layer.max_value)
    threshold = float(layer.threshold)
    if threshold != 0.0:
        # discontinuous at the threshold: no rectifier network computes it
        fn = numpy_ref.Batched(
            numpy_ref.relu, negative_slope=slope, max_value=max_value, threshold=threshold
        )
        return ctx.node(fn, [x], x.shape)
    if slope == 0.0 and max_value is None:
        return ctx.activate(x, "relu")
    return rectifiers.clipped_relu(ctx, x, slope, max_value)


register(keras.layers.ReLU, convert_relu)
_relu_op = kg.layer_class("activations.activations.ReLU")
if _relu_op is not None:
    register(_relu_op, convert_relu)


@register(keras.layers.LeakyReLU)
def convert_leaky_relu(layer, ctx, x, **_):
    """LeakyReLU: ``a*x + (1-a)*relu(x)``, exact."""
    return ctx.activate(x, "leaky_relu", negative_slope=float(layer.negative_slope))


@register(keras.layers.PReLU)
def convert_prelu(layer, ctx, x, **_):
    """PReLU: ``alpha*x + (1-alpha)*relu(x)`` per element, exact."""
    alpha = ctx.weight(layer, "alpha")
    if ctx.timed:  # one step of a temporal model: alpha is shared over time
        alpha = alpha[0]
    alpha = np.broadcast_to(alpha, x.shape).ravel()
    return rectifiers.clipped_relu(ctx, x, alpha)


@register(keras.layers.ELU)
def convert_elu(layer, ctx, x, **_):
    return ctx.activate(x, "elu", alpha=float(layer.alpha))


@register(keras.layers.Softmax)
def convert_softmax(layer, ctx, x, *mask, **_):
    """Softmax over ``axis`` (one or several), with the optional ``mask``."""
    if not mask:
        return ctx.activate(x, "softmax", axis=layer.axis)
    fn = numpy_ref.Batched(
        numpy_ref.softmax, [numpy_ref.Slot(0)], {"mask": numpy_ref.Slot(1)}, axis=layer.axis
    )
    return ctx.node(fn, [x, mask[0]], x.shape)
