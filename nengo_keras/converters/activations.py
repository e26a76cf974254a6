"""Activation layers (ReLU, LeakyReLU, ...) and activation builders."""

from __future__ import annotations

import keras
import numpy as np

from ..activations import register_activation
from ..registry import register_converter
from . import _neural


@register_converter(keras.layers.ReLU, values=True)
def convert_relu(layer, ctx, x, **_):
    """ReLU(max_value, negative_slope, threshold): exact with rectifiers."""
    slope = float(layer.negative_slope)
    max_value = None if layer.max_value is None else float(layer.max_value)
    threshold = float(layer.threshold)
    if threshold != 0.0:
        # discontinuous at the threshold: no rectifier network computes it
        return ctx.node(KerasRelu(slope, max_value, threshold), [x], x.shape)
    if slope == 0.0 and max_value is None:
        return ctx.activate(x, "relu")
    return _neural.clipped_relu(ctx, x, slope, max_value)


class KerasRelu:
    """NumPy version of `keras.layers.ReLU` (for thresholds other than 0)."""

    def __init__(self, negative_slope, max_value, threshold):
        self.negative_slope = negative_slope
        self.max_value = max_value
        self.threshold = threshold

    def __call__(self, x):
        y = np.where(x >= self.threshold, x, self.negative_slope * (x - self.threshold))
        return y if self.max_value is None else np.minimum(y, self.max_value)


@register_converter(keras.layers.LeakyReLU, values=True)
def convert_leaky_relu(layer, ctx, x, **_):
    """LeakyReLU: ``a*x + (1-a)*relu(x)``, exact."""
    return _neural.clipped_relu(ctx, x, float(layer.negative_slope))


@register_activation("relu6")
def build_relu6(ctx, x):
    return _neural.clipped_relu(ctx, x, 0.0, 6.0)


@register_activation("leaky_relu")
def build_leaky_relu(ctx, x):
    return _neural.clipped_relu(ctx, x, 0.2)  # keras.activations.leaky_relu default
