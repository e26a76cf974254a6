"""Exact piecewise-linear functions built from rectifiers.

``max(a, b) = b + relu(a - b)`` and sums of shifted rectifiers compute max
pooling, relu6, leaky relu, PReLU, hard sigmoid, abs... exactly with rate
neurons, and they run on neuromorphic hardware like any other neurons.
"""

from __future__ import annotations

import numpy as np

from ...conversion.values import Value
from ...conversion.transforms import selection


def stack(values):
    """Concatenate equally-sized flat values into one value."""
    n = values[0].size
    if len(values) == 1:
        return values[0].reshape((n,))
    total = n * len(values)
    out = Value((total,))
    for i, v in enumerate(values):
        out = out + v.reshape((n,)).place(np.arange(i * n, (i + 1) * n), (total,))
    return out


def block(ctx, value, i, n, shape):
    """Elements ``[i*n, (i+1)*n)`` of a flat value, reshaped."""
    if n == value.size:
        return value.reshape(shape)
    return ctx.linear(
        value, _selection(np.arange(i * n, (i + 1) * n), value.size), shape
    )


def _selection(idx, size):
    return selection(idx, size)


def maximum(ctx, values, label=None):
    """Elementwise maximum of equally-shaped values (a tree of rectifiers).

    Uses ``len(values) - 1`` neurons per element: each tree level is one
    Ensemble holding all of that level's pairwise comparisons.
    """
    values = list(values)
    shape, n = values[0].shape, values[0].size
    level = 0
    while len(values) > 1:
        pairs = len(values) // 2
        diffs = stack([values[2 * i] - values[2 * i + 1] for i in range(pairs)])
        d = ctx.relu(diffs, label=ctx.label(f"max{level}"))
        new = [values[2 * i + 1] + block(ctx, d, i, n, shape) for i in range(pairs)]
        if len(values) % 2:
            new.append(values[-1])
        values = new
        level += 1
    return values[0]


def maximum_over(ctx, x, candidates, shape):
    """Maximum over candidate elements: output ``j`` is the largest of
    ``x.flat[candidates[k, j]]`` over ``k`` (pooling windows, reduced axes)."""
    return maximum(ctx, [ctx.linear(x, _selection(c, x.size), shape) for c in candidates])


def minimum(ctx, values):
    """Elementwise minimum: ``-max(-a, -b, ...)``."""
    return -maximum(ctx, [-v for v in values])


def piecewise_linear(ctx, x, knots, weights, slope=0.0, offset=0.0):
    """``offset + slope*x + sum_k weights[k] * relu(x - knots[k])``, exactly.

    Any continuous piecewise-linear function of one variable has this form
    (hard sigmoid, hard tanh, soft shrink, clipping...). Knots, weights,
    slope and offset are scalars or per-element arrays (PReLU's alphas).
    All the rectifiers share one Ensemble.

    Examples
    --------
    Hard sigmoid, ``clip(x/6 + 1/2, 0, 1)``:

    >>> y = piecewise_linear(ctx, x, knots=[-3, 3], weights=[1 / 6, -1 / 6])
    """
    n = x.size
    rect = ctx.relu(stack([x - k for k in knots]))
    out = ctx.scale(x, slope) if np.any(slope) else Value(x.shape)
    for i, w in enumerate(weights):
        part = block(ctx, rect, i, n, x.shape)
        out = out + (part if np.all(np.asarray(w) == 1) else part.scale(w))
    return out + offset


def clipped_relu(ctx, x, negative_slope=0.0, max_value=None):
    """``negative_slope * x`` below 0, ``x`` up to ``max_value``, then flat.

    ``a*x + (1-a)*relu(x) - relu(x - max)``: exact with rectifiers.
    """
    a = negative_slope
    if max_value is None:
        return piecewise_linear(ctx, x, [0.0], [1 - np.asarray(a)], slope=a)
    return piecewise_linear(ctx, x, [0.0, max_value], [1 - np.asarray(a), -1.0], slope=a)
