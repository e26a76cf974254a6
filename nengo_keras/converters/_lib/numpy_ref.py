"""NumPy versions of Keras maths, for the Nodes of the "node" tier.

Everything here is a module-level function (or a small class holding plain
arrays), so converted networks pickle. Each function follows the formula Keras
documents and computes in float64; results differ from Keras' float32 ones by
rounding only.

The functions take arrays *with* a batch axis, exactly as the Keras operation
does, so axis arguments mean what they mean in Keras; `Batched` adds a batch
axis of one around a Node's input.
"""

from __future__ import annotations

import numpy as np
import scipy.special

# keras.activations.selu constants (Klambauer et al., 2017)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class Slot:
    """Marks where the ``index``-th Node input goes in a call's arguments."""

    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return f"Slot({self.index})"


class Batched:
    """``fn(*args, **kwargs)`` on a Node's inputs given a batch axis of one.

    Parameters
    ----------
    fn : callable
        A NumPy function of batched arrays.
    args, kwargs : sequence and dict, optional
        The call's arguments: `Slot` objects stand for the Node's inputs,
        anything else is a constant. By default the inputs are the arguments.
    **params
        More keyword arguments for ``fn`` (an operation's attributes).

    Examples
    --------
    >>> Batched(softmax, axis=-1)(np.array([0.0, 1.0]))
    array([0.26894142, 0.73105858])
    """

    def __init__(self, fn, args=None, kwargs=None, **params):
        self.fn = fn
        self.args = None if args is None else tuple(args)
        # plain tuples, not Keras' tracked lists (which do not pickle)
        self.kwargs = {k: _plain(v) for k, v in {**(kwargs or {}), **params}.items()}

    def __call__(self, *arrays):
        batched = [np.asarray(a)[None] for a in arrays]

        def fill(a):
            return batched[a.index] if isinstance(a, Slot) else a

        args = batched if self.args is None else [fill(a) for a in self.args]
        kwargs = {k: fill(v) for k, v in self.kwargs.items()}
        return np.asarray(self.fn(*args, **kwargs))[0]

    @property
    def __name__(self):
        return getattr(self.fn, "__name__", type(self.fn).__name__)

    def __repr__(self):
        return f"Batched({self.__name__})"


def _plain(value):
    if isinstance(value, (np.ndarray, str, dict, Slot)) or not hasattr(value, "__iter__"):
        return value
    return tuple(value)


# --- activations -----------------------------------------------------------


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """`keras.activations.relu` with all its options."""
    y = np.where(x > threshold, x, 0.0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    return y - negative_slope * np.maximum(threshold - x, 0.0)


def elu(x, alpha=1.0):
    # expm1 of the negative part only: no overflow warnings for large x
    return np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def selu(x):
    return SELU_SCALE * elu(x, SELU_ALPHA)


def celu(x, alpha=1.0):
    return np.maximum(x, 0.0) + alpha * np.expm1(np.minimum(x, 0.0) / alpha)


def softplus(x):
    return np.logaddexp(x, 0.0)


def softsign(x):
    return x / (1.0 + np.abs(x))


def silu(x):
    return x * scipy.special.expit(x)


def hard_silu(x):
    return x * np.clip(x / 6.0 + 0.5, 0.0, 1.0)


def gelu(x, approximate=False):
    if approximate:
        inner = np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1.0 + np.tanh(inner))
    return 0.5 * x * (1.0 + scipy.special.erf(x / np.sqrt(2.0)))


def mish(x):
    return x * np.tanh(softplus(x))


def log_sigmoid(x):
    return -softplus(-x)


def tanh_shrink(x):
    return x - np.tanh(x)


def squareplus(x, b=4):
    return (x + np.sqrt(x * x + b)) / 2.0


def sparse_plus(x):
    return np.where(x <= -1, 0.0, np.where(x < 1, 0.25 * (x + 1) ** 2, x))


def hard_shrink(x, threshold=0.5):
    return np.where(np.abs(x) > threshold, x, 0.0)


def threshold(x, threshold=0.0, default_value=0.0):
    return np.where(x > threshold, x, default_value)


def axis_arg(axis):
    """An axis argument NumPy accepts (Keras may hold axes in tracked lists)."""
    return tuple(axis) if hasattr(axis, "__iter__") else axis


def softmax(x, axis=-1, mask=None):
    """Softmax over one axis or several; ``mask`` as `keras.layers.Softmax`
    applies it (masked entries get -1e9 before and 0 after)."""
    axis = axis_arg(axis)
    keep = None if mask is None else np.broadcast_to(np.asarray(mask) > 0.5, x.shape)
    if keep is not None:
        x = np.where(keep, x, -1e9)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    y = e / np.sum(e, axis=axis, keepdims=True)
    return y if keep is None else np.where(keep, y, 0.0)


def dot_product_attention(
    query, key, value, bias=None, mask=None, scale=None, is_causal=False,
    attn_logits_soft_cap=None, flash_attention=None,
):
    """`keras.ops.dot_product_attention` on ``(batch, seq, heads, dim)``
    arrays (grouped-query attention: key/value heads are repeated)."""
    del flash_attention  # a speed choice, same result
    groups = query.shape[2] // key.shape[2]
    if groups > 1:
        key = np.repeat(key, groups, axis=2)
        value = np.repeat(value, groups, axis=2)
    scale = 1.0 / np.sqrt(key.shape[-1]) if scale is None else scale
    logits = np.einsum("btnh,bsnh->bnts", query, key) * scale
    if bias is not None:
        logits = logits + bias
    if attn_logits_soft_cap is not None:
        logits = attn_logits_soft_cap * np.tanh(logits / attn_logits_soft_cap)
    keep = np.ones(logits.shape, dtype=bool)
    if mask is not None:
        keep &= np.broadcast_to(np.asarray(mask) > 0.5, logits.shape)
    if is_causal:
        keep &= np.tril(np.ones(logits.shape[-2:], dtype=bool))
    probs = softmax(np.where(keep, logits, -1e9), axis=-1)
    return np.einsum("bnts,bsnh->btnh", probs, value)


def log_softmax(x, axis=-1):
    return x - scipy.special.logsumexp(x, axis=axis_arg(axis), keepdims=True)


# --- normalisation ------------------------------------------------------------


def rsqrt(x):
    """``1 / sqrt(x)`` (inf at 0, as in Keras)."""
    with np.errstate(divide="ignore"):
        return 1.0 / np.sqrt(x)


def normalize(x, axis=-1, order=2, epsilon=1e-7):
    """`keras.ops.normalize`: ``x / max(||x||, epsilon)`` along ``axis``."""
    axis = axis_arg(axis)
    if order == 2:
        inv = rsqrt(np.sum(np.square(x), axis=axis, keepdims=True))
        return x * np.minimum(inv, 1.0 / epsilon)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.maximum(norm, epsilon)


def _broadcast_param(p, x, axes):
    """A parameter over ``axes`` of ``x`` (in order) as a broadcastable array."""
    if p is None:
        return None
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    return np.reshape(p, shape)


def _axes(axis, ndim):
    axis = axis_arg(axis)
    return sorted(a % ndim for a in (axis if isinstance(axis, tuple) else [axis]))


def layer_norm(x, gamma=None, beta=None, axis=-1, epsilon=1e-3, rms_scaling=False):
    """`keras.ops.layer_normalization` (and `keras.layers.LayerNormalization`)."""
    axes = _axes(axis, x.ndim)
    gamma, beta = (_broadcast_param(p, x, axes) for p in (gamma, beta))
    inv = rsqrt(np.var(x, axis=tuple(axes), keepdims=True) + epsilon)
    if rms_scaling:  # Keras' deprecated option: scales by the variance
        return x * inv if gamma is None else x * inv * gamma
    y = (x - np.mean(x, axis=tuple(axes), keepdims=True)) * inv
    y = y if gamma is None else y * gamma
    return y if beta is None else y + beta


def rms_norm(x, scale=None, axis=-1, epsilon=1e-6):
    """`keras.ops.rms_normalization` (and `keras.layers.RMSNormalization`)."""
    axes = _axes(axis, x.ndim)
    y = x * rsqrt(np.mean(np.square(x), axis=tuple(axes), keepdims=True) + epsilon)
    return y if scale is None else y * _broadcast_param(scale, x, axes)


def group_norm(x, groups, axis=-1, epsilon=1e-3, gamma=None, beta=None):
    """`keras.layers.GroupNormalization`: statistics per group of channels."""
    a = axis % x.ndim
    channels = x.shape[a]
    grouped = x.reshape(x.shape[:a] + (groups, channels // groups) + x.shape[a + 1 :])
    reduce = tuple(i for i in range(1, grouped.ndim) if i != a)
    mean = np.mean(grouped, axis=reduce, keepdims=True)
    inv = rsqrt(np.var(grouped, axis=reduce, keepdims=True) + epsilon)
    y = ((grouped - mean) * inv).reshape(x.shape)
    if gamma is not None:
        y = y * _broadcast_param(gamma, x, [a])
    if beta is not None:
        y = y + _broadcast_param(beta, x, [a])
    return y


# --- products and the rest ------------------------------------------------------


def batch_dot(x, y, axes, normalize_inputs=False, epsilon=1e-7):
    """`keras.layers.Dot`: per-sample dot product along ``axes`` (Keras axes)."""
    if normalize_inputs:
        x, y = normalize(x, axes[0], epsilon=epsilon), normalize(y, axes[1], epsilon=epsilon)
    out = np.stack([np.tensordot(a, b, axes=(axes[0] - 1, axes[1] - 1)) for a, b in zip(x, y)])
    return out.reshape(len(x), -1)


def einsum(*operands, subscripts):
    return np.einsum(subscripts, *operands)


def cast(x, dtype):
    return np.asarray(x).astype(dtype)
