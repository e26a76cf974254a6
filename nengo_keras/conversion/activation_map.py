"""Keras activation functions and the Nengo neuron types that replace them.

An activation can reach a layer in many spellings: ``"relu"``,
``keras.activations.relu``, ``keras.ops.relu``, ``tf.nn.relu``,
``jax.nn.relu``... `canonical_name` reduces all of them to one name, so the
default neuron map and ``swap_activations`` work whichever spelling the model
or the user chose.
"""

from __future__ import annotations

import difflib
import sys
import warnings

import keras
import nengo

from .registry import ACTIVATIONS

# Names that are the same function in Keras.
ALIASES = {"swish": "silu", "hard_swish": "hard_silu", "relu6": "relu6"}

# The default activation -> neuron type map (rate neurons that compute the
# activation exactly; ``None`` means the identity).
DEFAULT_NEURONS = {
    "relu": nengo.RectifiedLinear(),
    "sigmoid": nengo.Sigmoid(tau_ref=1),
    "tanh": nengo.Tanh(tau_ref=1),
    "linear": None,
}

# Where to look for activation functions of each framework. Only modules that
# are already imported are searched: a TensorFlow function can only be in the
# model if TensorFlow has been imported.
_NAMESPACES = {
    "keras": ("keras.activations", "keras.ops", "keras.ops.nn"),
    "tensorflow": ("tensorflow.nn", "tensorflow.math", "tensorflow"),
    "jax": ("jax.nn", "jax.numpy"),
    "torch": ("torch", "torch.nn.functional"),
}
_EXTRA_NAMES = {"tanh": ("tanh",), "sigmoid": ("sigmoid",), "silu": ("swish", "silu")}

_table_cache = {}


def _lookup_table():
    """``{id(function): name}`` for every known activation function."""
    loaded = tuple(sorted(k for k in _NAMESPACES if k in sys.modules))
    if loaded in _table_cache:
        return _table_cache[loaded]
    import importlib

    names = [n for n in dir(keras.activations) if not n.startswith("_")]
    names = [n for n in names if n not in ("get", "serialize", "deserialize")]
    table = {}
    for framework in loaded:
        for module_name in _NAMESPACES[framework]:
            try:
                module = importlib.import_module(module_name)
            except ImportError:  # pragma: no cover - partial installs
                continue
            for name in names:
                for attr in (name,) + _EXTRA_NAMES.get(name, ()):
                    fn = getattr(module, attr, None)
                    if callable(fn):
                        table.setdefault(id(fn), ALIASES.get(name, name))
    _table_cache[loaded] = table
    return table


def canonical_name(activation):
    """Return the canonical name of an activation, or None if it is unknown.

    Parameters
    ----------
    activation : str or callable or None
        ``None`` means linear, as in Keras.

    Examples
    --------
    >>> canonical_name(keras.activations.relu), canonical_name("swish")
    ('relu', 'silu')
    """
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        name = activation.lower()
        name = ALIASES.get(name, name)
        known = hasattr(keras.activations, name) or name in DEFAULT_NEURONS
        return name if known or name in ACTIVATIONS else None
    name = _lookup_table().get(id(activation))
    if name is None:
        # Keras activation objects (e.g. serialised lambdas) keep their name.
        module = getattr(activation, "__module__", "") or ""
        if module.startswith("keras.src.activations"):
            name = ALIASES.get(activation.__name__, activation.__name__)
    return name


def is_neuron_type(x):
    return isinstance(x, nengo.neurons.NeuronType)


class Swaps:
    """The ``swap_activations`` option, normalised, with use tracking.

    Keys may be activation functions, activation names or Nengo neuron types;
    values may be neuron types, activations or None (linear). As in NengoDL the
    swap is applied before the default map (to the Keras activation) and after
    it (to the neuron type the default map chose).
    """

    def __init__(self, swaps):
        swaps = {} if swaps is None else dict(swaps)
        self.by_name = {}
        self.by_neurons = {}
        self.original = {}
        self.used = set()
        self.seen = set()  # names of the model's activations, for warn_unused
        for key, target in swaps.items():
            if is_neuron_type(key):
                self.by_neurons[key] = target
                self.original[("neurons", key)] = key
            else:
                name = canonical_name(key)
                if name is None:
                    raise ValueError(
                        f"swap_activations key {key!r} is not a known activation"
                        f"{_did_you_mean(key)}; expected a Keras/TensorFlow/JAX "
                        f"activation, its name, or a nengo neuron type"
                    )
                self.by_name[name] = target
                self.original[("name", name)] = key

    def resolve(self, activation):
        """Return ``(kind, target)``: ``("neurons", NeuronType)``,
        ``("linear", None)`` or ``("function", name_or_callable)``."""
        name = canonical_name(activation)
        self.seen.add(name or getattr(activation, "__name__", repr(activation)))
        target = activation
        if name is not None and name in self.by_name:
            self.used.add(("name", name))
            target = self.by_name[name]
            if is_neuron_type(target) or target is None:
                return self._neurons(target)
            name = canonical_name(target)
        if name in DEFAULT_NEURONS:
            return self._neurons(DEFAULT_NEURONS[name])
        return "function", (name if name is not None else target)

    def _neurons(self, neuron_type):
        if neuron_type in self.by_neurons:
            self.used.add(("neurons", neuron_type))
            neuron_type = self.by_neurons[neuron_type]
            if not (neuron_type is None or is_neuron_type(neuron_type)):
                raise ValueError(
                    f"swap_activations maps a neuron type to {neuron_type!r}; "
                    f"expected a nengo neuron type or None"
                )
        if neuron_type is None:
            return "linear", None
        return "neurons", neuron_type

    def warn_unused(self):
        unused = [v for k, v in self.original.items() if k not in self.used]
        if unused:
            seen = sorted(n for n in self.seen if n != "linear") or "none"
            warnings.warn(
                f"swap_activations keys {unused!r} matched no activation in the model, "
                f"so they were not used; the model's activations are: {seen}. Key "
                f"by one of these (or by the neuron type it maps to)",
                UserWarning,
                stacklevel=3,
            )


def _did_you_mean(key):
    if not isinstance(key, str):
        return ""
    names = [n for n in dir(keras.activations) if not n.startswith("_")]
    close = difflib.get_close_matches(key.lower(), names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def with_amplitude(neuron_type, factor):
    """A copy of ``neuron_type`` with its ``amplitude`` multiplied by ``factor``."""
    if factor == 1:
        return neuron_type
    return copy_neuron_type(neuron_type, amplitude=neuron_type.amplitude * factor)


def copy_neuron_type(neuron_type, **changes):
    """A new instance of a neuron type with some constructor arguments changed."""
    import inspect

    names = inspect.signature(type(neuron_type).__init__).parameters
    params = {n: getattr(neuron_type, n) for n in names if hasattr(neuron_type, n)}
    params.update(changes)
    return type(neuron_type)(**params)


def has_amplitude(neuron_type):
    return hasattr(neuron_type, "amplitude")


def register_activation(name, fn=None):
    """Register how to build an activation that has no single neuron type.

    Parameters
    ----------
    name : str
        Canonical activation name (see `canonical_name`).
    fn : callable, optional
        ``fn(ctx, value) -> Value``; omit to use as a decorator. Build with
        ``ctx.neurons`` (exact piecewise-linear networks of rectifiers) or
        ``ctx.node`` (a NumPy function in a Node).

    Examples
    --------
    >>> @nengo_keras.activations.register_activation("my_abs")
    ... def build_abs(ctx, x):
    ...     relu = nengo.RectifiedLinear()
    ...     return ctx.neurons(x, relu) + ctx.neurons(-x, relu)
    """
    if fn is None:
        return lambda f: register_activation(name, f)
    ACTIVATIONS.register(ALIASES.get(name, name), fn)
    return fn


def builder(name):
    """The builder registered for activation ``name``, or None."""
    return ACTIVATIONS.get(name) if isinstance(name, str) else None


def parameters(activation, name, fn, given=None):
    """Keyword arguments for builder ``fn`` of activation ``name``.

    A builder that lists parameter names in ``fn.parameters`` (e.g.
    ``("alpha",)`` for ELU) receives them: from ``given`` (an operation's
    attributes, a layer's options), else from the defaults of the activation
    function itself (``jax.nn.gelu`` approximates, ``keras.activations.gelu``
    does not; ``jax.nn.leaky_relu`` has slope 0.01, Keras' 0.2), else from
    ``keras.activations.<name>``. Parameters found nowhere are left to the
    builder's own defaults.

    Examples
    --------
    >>> import jax
    >>> parameters(jax.nn.gelu, "gelu", builder("gelu"))
    {'approximate': True}
    """
    names = getattr(fn, "parameters", ())
    given = given or {}
    source = activation
    if not callable(activation) or canonical_name(activation) != name:
        source = getattr(keras.activations, name, None)
    defaults = _defaults(source)
    out = {}
    for p in names:
        value = given[p] if p in given else defaults.get(p)
        if value is not None:
            out[p] = value
    return out


def _defaults(fn):
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without signatures
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
