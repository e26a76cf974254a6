"""A Hypothesis strategy that draws small, valid functional Keras models.

`keras_graphs()` draws a `Graph`: the Python source of a model (so a failing
example prints as code that rebuilds it), the seed its weights are drawn
from, and the facts the property test checks against (which layers are
shared, which options to convert with). Shapes are tracked while drawing, so
every drawn model builds; nothing is filtered out afterwards.
"""

import collections
import math
from dataclasses import dataclass, field

import keras
import numpy as np
from hypothesis import strategies as st

# The reference output comes from Keras, and TensorFlow's CPU kernels get
# some cases wrong: without oneDNN, channels_first convolutions, dilated
# transposed ones and depthwise ones with unequal strides fail; with oneDNN,
# channels_first grouped, depthwise, separable and transposed convolutions
# with a bias give wrong outputs for some shapes (e.g. Conv1D(2, 1, groups=2,
# data_format="channels_first") on (2, 2) inputs). These cases are only drawn
# on other backends.
TF = keras.backend.backend() == "tensorflow"
MAX_SIZE = 160  # elements per sample in any tensor: each example simulates fast
ACTIVATIONS = [
    None, "relu", "relu6", "leaky_relu", "tanh", "sigmoid", "elu", "selu",
    "softplus", "softsign", "hard_sigmoid", "silu", "gelu", "linear",
]
WEIGHTED = ("Dense", "Conv", "Separable", "Depthwise", "BatchNormalization", "PReLU")


def src(cls, *args, **kwargs):
    """A layer to make: (class name, arguments, keywords set to something)."""
    return cls, args, {k: v for k, v in kwargs.items() if v is not None}


def render(spec, name):
    """Source of ``spec``'s layer named ``name``."""
    cls, args, kwargs = spec
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name} = L.{cls}({', '.join(parts + [f'name={name!r}'])})"


@dataclass
class Tensor:
    var: str
    shape: tuple
    roots: frozenset  # the model inputs it depends on
    ancestors: frozenset  # the tensors it depends on (names), itself included


@dataclass
class Callable:
    """A layer or nested model that may be called again (shared)."""

    var: str
    in_shape: tuple
    out_shape: tuple
    weighted: tuple  # names of the weighted layers a call uses


@dataclass
class Graph:
    code: str
    seed: int
    split_shared_weights: bool
    allow_fallback: bool
    out_shapes: list = field(default_factory=list)  # without the batch axis
    layer_names: set = field(default_factory=set)
    shared: set = field(default_factory=set)  # weighted layers called twice or more

    def __repr__(self):
        options = (
            f"split_shared_weights={self.split_shared_weights}, "
            f"allow_fallback={self.allow_fallback}, weight seed {self.seed}"
        )
        return f"\n{self.code}\n# {options}\n"

    def build(self):
        """The model, its weights drawn from ``self.seed``."""
        namespace = {"keras": keras, "L": keras.layers}
        exec(self.code, namespace)  # noqa: S102 (source made by this module)
        model = namespace["model"]
        set_weights(model, self.seed)
        return model


def set_weights(model, seed):
    """Deterministic weights of a usual scale, positive where Keras needs it."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        shape = tuple(v.shape)
        name = v.path.rsplit("/", 1)[-1]
        if name == "moving_variance":
            value = rng.uniform(0.3, 2.0, shape)
        elif name == "gamma":
            value = rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)
        elif name in ("kernel", "depthwise_kernel", "pointwise_kernel"):
            fan_in = max(1, int(np.prod(shape[:-1])))
            value = rng.normal(0.0, 1.0 / math.sqrt(fan_in), shape)
        else:  # bias, beta, moving_mean, alpha
            value = rng.uniform(-0.5, 0.5, shape)
        v.assign(value.astype(v.dtype))


def _size_ok(shape):
    return all(d >= 1 for d in shape) and math.prod(shape) <= MAX_SIZE


# --- single-input layers: each returns (layer spec, output shape) ---------------


def dense(draw, shape):
    units = draw(st.integers(1, 5))
    act = draw(st.sampled_from(ACTIVATIONS))
    bias = draw(st.booleans())
    return src("Dense", units, activation=act, use_bias=None if bias else False), (
        shape[:-1] + (units,)
    )


def activation(draw, shape):
    kind = draw(st.sampled_from(["Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"]))
    if kind == "Activation":
        return src(kind, draw(st.sampled_from(ACTIVATIONS[1:]))), shape
    if kind == "ReLU":
        kw = dict(
            max_value=draw(st.sampled_from([None, 6.0, 0.5])),
            negative_slope=draw(st.sampled_from([None, 0.1])),
            threshold=draw(st.sampled_from([None, 0.2])),
        )
        return src(kind, **kw), shape
    if kind == "LeakyReLU":
        return src(kind, negative_slope=draw(st.sampled_from([0.3, 0.01, 1.5]))), shape
    if kind == "PReLU":
        axes = draw(st.lists(st.integers(1, len(shape)), unique=True, max_size=len(shape)))
        return src(kind, shared_axes=sorted(axes) or None), shape
    if kind == "ELU":
        return src(kind, alpha=draw(st.sampled_from([1.0, 0.5]))), shape
    return src(kind, axis=draw(st.integers(-1, len(shape) - 1)) or -1), shape


def batch_norm(draw, shape):
    axis = draw(st.sampled_from([-1] + list(range(1, len(shape)))))
    kw = dict(
        axis=None if axis == -1 else axis,
        epsilon=draw(st.sampled_from([None, 0.1])),
        center=draw(st.sampled_from([None, False])),
        scale=draw(st.sampled_from([None, False])),
    )
    return src("BatchNormalization", **kw), shape


def reshape(draw, shape):
    size = math.prod(shape)
    rank = draw(st.integers(1, 3))
    dims = [1] * rank
    n, p = size, 2
    while n > 1:  # hand each prime factor to a random axis
        while n % p:
            p += 1
        dims[draw(st.integers(0, rank - 1))] *= p
        n //= p
    target = tuple(dims)
    if draw(st.booleans()):
        return src("Flatten"), (size,)
    return src("Reshape", target), target


def permute(draw, shape):
    perm = draw(st.permutations(range(1, len(shape) + 1)))
    return src("Permute", tuple(perm)), tuple(shape[i - 1] for i in perm)


def _split(draw, shape):
    """(spatial dims, channels, data_format) of a rank-2 or rank-3 tensor."""
    first = draw(st.booleans())
    if first:
        return shape[1:], shape[0], "channels_first"
    return shape[:-1], shape[-1], None


def _join(spatial, channels, data_format):
    if data_format:
        return (channels,) + tuple(spatial)
    return tuple(spatial) + (channels,)


def _window(draw, spatial, *, equal_strides=False, dilation=True, causal=False):
    """kernel, strides, dilation, padding and output spatial dims of a window."""
    rank = len(spatial)
    padding = draw(st.sampled_from(["valid", "same", "causal"] if causal else ["valid", "same"]))
    strides = draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank))
    if equal_strides:
        strides = [strides[0]] * rank
    dil = [1] * rank
    if dilation and max(strides) == 1:
        dil = draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank))
    kernel, out = [], []
    for n, s, d in zip(spatial, strides, dil):
        kmax = 3 if padding != "valid" else max(1, min(3, (n - 1) // d + 1))
        k = draw(st.integers(1, kmax))
        kernel.append(k)
        out.append((n - (k - 1) * d - 1) // s + 1 if padding == "valid" else -(-n // s))
    return dict(kernel=tuple(kernel), strides=tuple(strides), dilation=tuple(dil),
                padding=padding, out=tuple(out))


def _ints(t):
    """A tuple of equal ints as one int (the shorter source)."""
    return t[0] if len(set(t)) == 1 else t


def conv(draw, shape):
    spatial, c, fmt = _split(draw, shape)
    kind = draw(st.sampled_from(["Conv", "Depthwise", "Separable", "Transpose"]))
    dim = f"{len(spatial)}D"
    if TF and fmt:
        fmt, spatial, c = None, shape[:-1], shape[-1]
    # TF's CPU kernels: depthwise (2-D) strides must be equal
    equal = TF and kind in ("Depthwise", "Separable")
    w = _window(draw, spatial, equal_strides=equal, dilation=not (TF and kind == "Transpose"),
                causal=kind == "Conv" and dim == "1D" and not fmt)
    common = dict(strides=_ints(w["strides"]), padding=w["padding"],
                  dilation_rate=_ints(w["dilation"]), data_format=fmt,
                  activation=draw(st.sampled_from(ACTIVATIONS[:4])))
    common = {k: v for k, v in common.items() if v not in (1, "valid", None)}
    kernel = _ints(w["kernel"])
    if kind == "Conv":
        groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
        filters = groups * draw(st.integers(1, 3))
        layer = src(f"Conv{dim}", filters, kernel, groups=groups if groups > 1 else None, **common)
        return layer, _join(w["out"], filters, fmt)
    if kind == "Depthwise":
        mult = draw(st.integers(1, 2))
        layer = src(f"DepthwiseConv{dim}", kernel, depth_multiplier=mult if mult > 1 else None, **common)
        return layer, _join(w["out"], c * mult, fmt)
    if kind == "Separable":
        filters, mult = draw(st.integers(1, 4)), draw(st.integers(1, 2))
        layer = src(f"SeparableConv{dim}", filters, kernel,
                    depth_multiplier=mult if mult > 1 else None, **common)
        return layer, _join(w["out"], filters, fmt)
    filters = draw(st.integers(1, 3))
    out = []
    for n, k, s, d in zip(spatial, w["kernel"], w["strides"], w["dilation"]):
        ek = (k - 1) * d + 1
        out.append(n * s + max(ek - s, 0) if w["padding"] == "valid" else n * s)
    return src(f"Conv{dim}Transpose", filters, kernel, **common), _join(out, filters, fmt)


def pool(draw, shape):
    spatial, c, fmt = _split(draw, shape)
    dim = f"{len(spatial)}D"
    kind = draw(st.sampled_from(["Max", "Average", "GlobalMax", "GlobalAverage"]))
    if kind.startswith("Global"):
        keep = draw(st.booleans())
        out = (c,) if not keep else _join((1,) * len(spatial), c, fmt)
        return src(f"{kind}Pooling{dim}", data_format=fmt, keepdims=keep or None), out
    padding = draw(st.sampled_from(["valid", "same"]))
    size, strides, out = [], [], []
    for n in spatial:
        p = draw(st.integers(1, 3 if padding == "same" else min(3, n)))
        s = draw(st.integers(1, 3))
        size.append(p)
        strides.append(s)
        out.append((n - p) // s + 1 if padding == "valid" else -(-n // s))
    layer = src(f"{kind}Pooling{dim}", _ints(tuple(size)), strides=_ints(tuple(strides)),
                padding=padding if padding != "valid" else None, data_format=fmt)
    return layer, _join(out, c, fmt)


def resize(draw, shape):
    kind = draw(st.sampled_from(["UpSampling", "ZeroPadding", "Cropping"]))
    if len(shape) == 2:  # no data_format for the 1-D versions
        spatial, c, fmt = shape[:1], shape[1], None
    else:
        spatial, c, fmt = _split(draw, shape)
    dim = f"{len(spatial)}D"
    if kind == "UpSampling":
        size = tuple(draw(st.integers(1, 2)) for _ in spatial)
        out = tuple(n * s for n, s in zip(spatial, size))
        interp = draw(st.sampled_from([None, "bilinear"])) if dim == "2D" else None
        arg = size[0] if dim == "1D" else size
        return src(f"UpSampling{dim}", arg, data_format=fmt, interpolation=interp), _join(out, c, fmt)
    pads = tuple(
        (draw(st.integers(0, 2 if kind == "ZeroPadding" else (n - 1) // 2)),) * 2 for n in spatial
    )
    sign = 1 if kind == "ZeroPadding" else -1
    out = tuple(n + sign * sum(p) for n, p in zip(spatial, pads))
    arg = pads[0] if dim == "1D" else pads
    return src(f"{kind}{dim}", arg, data_format=fmt), _join(out, c, fmt)


def dropout(draw, shape):
    return src(draw(st.sampled_from(["Dropout", "GaussianNoise"])), 0.5), shape


# listed twice: drawn more often (the first entry is what examples shrink to)
SINGLE = [activation, dense, conv, conv, pool, batch_norm, reshape, permute, resize, dropout]
# bare keras.ops in the graph (no layer object, so never shared)
OPS = ["keras.ops.relu({})", "{} * 0.5 + 0.25", "keras.ops.maximum({}, 0.1)", "-{}", "keras.ops.abs({})"]
MERGES = ["Add", "Subtract", "Multiply", "Maximum", "Minimum", "Average", "Concatenate", "Dot"]
RANKS = {conv: (2, 3), pool: (2, 3), resize: (2, 3), permute: (2, 3)}
STEPS = ["single", "single", "merge", "shared", "nested", "op"]


class _Builder:
    """Collects source lines and the tensors and layers drawn so far."""

    def __init__(self, draw):
        self.draw = draw
        self.lines = []
        self.count = 0
        self.callables = []
        self.called = {}  # tensor name -> the Callable that made it
        self.names = set()

    def new(self, prefix):
        self.count += 1
        return f"{prefix}{self.count}"

    def layer(self, draw_one, shape):
        """A new single-input layer for ``shape``: (var, out shape, weighted)."""
        spec, out = draw_one(self.draw, shape)
        if not _size_ok(out):
            spec, out = activation(self.draw, shape)  # always fits
        var = self.add(spec)
        return var, out, (var,) if spec[0].startswith(WEIGHTED) else ()

    def add(self, spec):
        var = self.new("l")
        self.lines.append(render(spec, var))
        self.names.add(var)
        return var

    def call(self, var, args, out_shape):
        out = self.new("t")
        arg = args[0].var if len(args) == 1 else f"[{', '.join(a.var for a in args)}]"
        self.lines.append(f"{out} = {var}({arg})")
        roots = frozenset().union(*(a.roots for a in args))
        return Tensor(out, tuple(out_shape), roots, frozenset([out]).union(*(a.ancestors for a in args)))

    def family(self, shape):
        rank = len(shape)
        return self.draw(st.sampled_from([f for f in SINGLE if rank in RANKS.get(f, (1, 2, 3))]))

    def single(self, t):
        var, out, weighted = self.layer(self.family(t.shape), t.shape)
        return self.reuse(Callable(var, t.shape, out, weighted), t, new=True)

    def reuse(self, c, t, new=False):
        if new:
            self.callables.append(c)
        out = self.call(c.var, [t], c.out_shape)
        self.called[out.var] = c
        return out

    def op(self, t):
        out = self.new("t")
        self.lines.append(f"{out} = " + self.draw(st.sampled_from(OPS)).format(t.var))
        return Tensor(out, t.shape, t.roots, t.ancestors | {out})

    def merge(self, t, pool):
        kind = self.draw(st.sampled_from(MERGES))
        if kind == "Dot" and len(t.shape) != 1:
            kind = "Add"
        if kind == "Concatenate":
            partners = [p for p in pool if _concat_axes(t.shape, p.shape)]
            other = self.draw(st.sampled_from(partners))
            axis = self.draw(st.sampled_from(_concat_axes(t.shape, other.shape)))
            out = list(t.shape)
            out[axis - 1] += other.shape[axis - 1]
            if not _size_ok(out):
                return self.single(t)
            spec = src(kind, axis=axis if axis != len(out) else None)
        else:
            other = self.draw(st.sampled_from([p for p in pool if p.shape == t.shape]))
            out = (1,) if kind == "Dot" else t.shape
            spec = src(kind, axes=-1) if kind == "Dot" else src(kind)
        var = self.add(spec)
        args = [t, other] if self.draw(st.booleans()) else [other, t]
        return self.call(var, args, out)

    def shared(self, t, pool):
        """Call a layer or nested model again, on ``t`` or another input that fits."""
        pairs = [(c, p) for c in self.callables for p in pool if c.in_shape == p.shape]
        if not pairs:
            return self.single(t)
        same = [(c, p) for c, p in pairs if p is t]
        return self.reuse(*self.draw(st.sampled_from(same or pairs)))

    def nested(self, t):
        """A nested Functional or Sequential model of 1-3 single-input layers."""
        var = self.new("l")
        n = self.draw(st.integers(1, 3))
        layers, shape, weighted = [], t.shape, ()
        for _ in range(n):
            lvar, shape, w = self.layer(self.family(shape), shape)
            layers.append(lvar)
            weighted += w
        inp = f"keras.Input({t.shape!r})"
        if self.draw(st.booleans()):
            self.lines.append(f'{var} = keras.Sequential([{inp}, {", ".join(layers)}], name="{var}")')
        else:
            body = "x"
            for lvar in layers:
                body = f"{lvar}({body})"
            self.lines.append(f"x = {inp}")
            self.lines.append(f'{var} = keras.Model(x, {body}, name="{var}")')
        self.names.add(var)
        weighted += (var,) if weighted else ()
        return self.reuse(Callable(var, t.shape, shape, weighted), t, new=True)


def _concat_axes(a, b):
    """Axes (1-based) along which tensors of shapes ``a`` and ``b`` concatenate."""
    if len(a) != len(b):
        return []
    differ = [i + 1 for i, (x, y) in enumerate(zip(a, b)) if x != y]
    return differ if len(differ) == 1 else list(range(1, len(a) + 1)) if not differ else []


def _input_shape(draw):
    rank = draw(st.integers(1, 3))
    if rank == 1:
        return (draw(st.integers(1, 8)),)
    if rank == 2:
        return (draw(st.integers(2, 8)), draw(st.integers(1, 4)))
    return (draw(st.integers(2, 6)), draw(st.integers(2, 6)), draw(st.integers(1, 3)))


@st.composite
def keras_graphs(draw, max_steps=6):
    """Draw a `Graph`: 1-2 inputs, ``1..max_steps`` layer calls, 1-2 outputs."""
    b = _Builder(draw)
    shape = _input_shape(draw)
    shapes = [shape]
    if draw(st.booleans()):
        shapes.append(shape if draw(st.booleans()) else _input_shape(draw))
    pool = []
    for i, s in enumerate(shapes):
        var = f"x{i}"
        b.lines.append(f'{var} = keras.Input({s!r}, name="{var}")')
        pool.append(Tensor(var, s, frozenset([i]), frozenset([var])))
    for _ in range(draw(st.integers(1, max_steps))):
        t = pool[-1 - draw(st.integers(0, len(pool) - 1))]
        step = getattr(b, draw(st.sampled_from(STEPS)))
        pool.append(step(t, pool) if step in (b.merge, b.shared) else step(t))
    outputs = [pool[-1]]
    extra = draw(st.integers(0, len(pool) - len(shapes) - 1))
    if extra:  # a second output, not an input
        outputs.append(pool[-1 - extra])
    for i in range(len(shapes)):  # every input must reach an output
        if not any(i in o.roots for o in outputs):
            outputs.append(next(t for t in reversed(pool) if i in t.roots))
    ins = [f"x{i}" for i in range(len(shapes))]
    outs = [o.var for o in outputs]
    show = lambda vs: vs[0] if len(vs) == 1 else f"[{', '.join(vs)}]"  # noqa: E731
    b.lines.append(f'model = keras.Model({show(ins)}, {show(outs)}, name="model")')
    # Keras keeps only the calls that lead to an output
    used = frozenset().union(*(o.ancestors for o in outputs))
    calls = collections.Counter(b.called[t].var for t in used if t in b.called)
    shared = {name for c in b.callables if calls[c.var] > 1 for name in c.weighted}
    return Graph(
        code="\n".join(b.lines),
        seed=draw(st.integers(0, 2**32 - 1)),
        split_shared_weights=draw(st.booleans()) if shared else True,
        allow_fallback=draw(st.sampled_from([True, True, False])),
        out_shapes=[o.shape for o in outputs],
        layer_names=b.names,
        shared=shared,
    )
