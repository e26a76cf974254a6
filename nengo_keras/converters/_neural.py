"""Exact piecewise-linear functions built from rectifiers.

``max(a, b) = b + relu(a - b)`` and sums of shifted rectifiers compute max
pooling, relu6, leaky relu, PReLU, hard sigmoid, abs... exactly with rate
neurons, and they run on neuromorphic hardware like any other neurons.
"""

from __future__ import annotations

import numpy as np

from ..values import Value


def stack(values):
    """Concatenate equally-sized flat values into one value."""
    n = values[0].size
    total = n * len(values)
    out = Value((total,))
    for i, v in enumerate(values):
        out = out + v.reshape((n,)).place(np.arange(i * n, (i + 1) * n), (total,))
    return out


def block(ctx, value, i, n, shape):
    """Elements ``[i*n, (i+1)*n)`` of a flat value, reshaped."""
    return ctx.linear(
        value, _selection(np.arange(i * n, (i + 1) * n), value.size), shape
    )


def _selection(idx, size):
    from .._linear import selection

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


def minimum(ctx, values):
    """Elementwise minimum: ``-max(-a, -b, ...)``."""
    return -maximum(ctx, [-v for v in values])


def clipped_relu(ctx, x, negative_slope=0.0, max_value=None):
    """``negative_slope * x`` below 0, ``x`` up to ``max_value``, then flat.

    ``a*x + (1-a)*relu(x) - relu(x - max)``: exact with rectifiers. When both
    rectifiers are needed they share one Ensemble.
    """
    a = float(negative_slope)
    if max_value is None:
        out = ctx.relu(x)
        pos = out if a == 0 else out.scale(1 - a)
    else:
        m = float(max_value)
        both = ctx.relu(stack([x, x - m]))
        pos = block(ctx, both, 0, x.size, x.shape).scale(1 - a) - block(
            ctx, both, 1, x.size, x.shape
        )
    return pos if a == 0 else pos + x.scale(a)
