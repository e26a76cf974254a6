"""Which function converts which Keras layer or operation.

Lookup order for one call of a layer (`find_converter`):

1. the call-site ``converters={...}`` mapping, then the innermost
   `converter_scope`, then the outer ones;
2. the layer's own ``to_nengo`` method (`nengo_keras.NengoConvertible`);
3. the global registry, walking ``type(layer).__mro__`` and stopping at the
   first unregistered class that defines its own ``call`` (a subclass that
   changes the maths must not silently inherit its parent's converter);
4. nothing: the caller falls back to a Keras-computing Node or raises.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading

from .protocol import NengoConvertible


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered converter.

    Attributes
    ----------
    fn : callable
        ``fn(layer, ctx, *inputs, **call_kwargs)``.
    values : bool
        True if ``fn`` takes `nengo_keras.values.Value` inputs and may return
        one (the library's own converters); False if it takes and returns Nengo
        objects (user converters: inputs are materialised first).
    source : str
        Where the converter came from, for the conversion report.
    """

    fn: object
    values: bool = False
    source: str = "registry"

    @property
    def name(self):
        fn = self.fn
        return getattr(fn, "__qualname__", None) or type(fn).__name__


_registry = {}
_scopes = threading.local()


def takes_values(fn):
    """Mark a converter as working on `nengo_keras.values.Value` objects.

    `register_converter` and a layer's own ``to_nengo`` then pass it Values
    (unevaluated linear sums that fuse into connections) instead of Nengo
    objects; the converters of the `nengo_keras.mixins` are marked so.

    Examples
    --------
    >>> @takes_values
    ... def convert_double(layer, ctx, x, **_):
    ...     return x.scale(2.0)
    """
    fn._nengo_keras_values = True
    return fn


def _marked(fn):
    return bool(getattr(fn, "_nengo_keras_values", False))


def register_converter(cls, fn=None, *, values=None):
    """Register a converter for a Keras layer (or operation) class.

    Subclasses use the same converter unless they define their own ``call``.

    Parameters
    ----------
    cls : type
        The Keras layer or `keras.Operation` class.
    fn : callable, optional
        ``fn(layer, ctx, *inputs, **call_kwargs) -> nengo object(s)``. If
        omitted, `register_converter` is a decorator.
    values : bool, optional
        Advanced: ``fn`` works on `nengo_keras.values.Value` objects (unevaluated
        linear sums) rather than Nengo objects. See `nengo_keras.values`.
        Default: whether ``fn`` is marked with `takes_values` (as the
        converters of `nengo_keras.Elementwise`, `nengo_keras.Rearranging` and
        `nengo_keras.Affine` are, so they can be registered for layer classes
        one cannot edit).

    Examples
    --------
    >>> @nengo_keras.register_converter(MyScale)
    ... def convert_my_scale(layer, ctx, x):
    ...     out = nengo.Node(size_in=x.size_out)
    ...     nengo.Connection(x, out, transform=layer.factor, synapse=None)
    ...     return out
    """
    if fn is None:
        return lambda f: register_converter(cls, f, values=values)
    if not isinstance(cls, type):
        raise TypeError(f"register_converter expects a class, got {cls!r}")
    if not callable(fn):
        raise TypeError(
            f"register_converter({cls.__name__}, ...): the converter {fn!r} is not a "
            f"function; expected fn(layer, ctx, *inputs) returning Nengo objects"
        )
    values = _marked(fn) if values is None else values
    _registry[cls] = Entry(fn, values=values, source=f"registry[{cls.__name__}]")
    return fn


def unregister_converter(cls):
    """Remove the converter registered for exactly ``cls`` (if any)."""
    _registry.pop(cls, None)


@contextlib.contextmanager
def converter_scope(converters):
    """Override converters within a ``with`` block.

    Parameters
    ----------
    converters : dict
        Keys are layer classes, layer instances or layer names; values are
        converter functions ``fn(layer, ctx, *inputs)``.

    Examples
    --------
    >>> with nengo_keras.converter_scope({keras.layers.Dense: my_dense}):
    ...     result = nengo_keras.to_nengo(model)
    """
    converters = dict(converters)
    for key, fn in converters.items():
        if not callable(fn):
            raise TypeError(
                f"converter_scope: the converter for {getattr(key, '__name__', key)!r} "
                f"is {fn!r}, not a function; expected fn(layer, ctx, *inputs)"
            )
    stack = _scope_stack()
    stack.append(converters)
    try:
        yield
    finally:
        stack.pop()


def _scope_stack():
    if not hasattr(_scopes, "stack"):
        _scopes.stack = []
    return _scopes.stack


def _as_entry(fn, source):
    if isinstance(fn, Entry):
        return fn
    return Entry(fn, values=_marked(fn), source=source)


def _lookup_mapping(mapping, op, source):
    for key in (op, getattr(op, "name", None)):
        if key is not None and key in mapping:
            return _as_entry(mapping[key], source)
    entry = _by_mro(type(op), mapping)
    return None if entry is None else _as_entry(entry, source)


def matches(key, op):
    """Whether a ``converters=`` / `converter_scope` key applies to ``op``."""
    if isinstance(key, str):
        return key == getattr(op, "name", None)
    if isinstance(key, type):
        return _by_mro(type(op), {key: True}) is not None
    return key is op


def _by_mro(cls, mapping):
    for klass in cls.__mro__:
        if klass in mapping:
            return mapping[klass]
        if "call" in vars(klass):
            return None
    return None


def find_converter(op, call_site=None):
    """Return the `Entry` that converts ``op``, or None.

    Parameters
    ----------
    op : keras.layers.Layer or keras.Operation
    call_site : dict, optional
        The ``converters=`` argument of the conversion call.
    """
    scopes = ([call_site] if call_site else []) + list(reversed(_scope_stack()))
    for i, mapping in enumerate(scopes):
        source = "converters=" if (call_site and i == 0) else "converter_scope"
        entry = _lookup_mapping(mapping, op, source)
        if entry is not None:
            return entry
    if isinstance(op, NengoConvertible) and _defines_to_nengo(type(op)):
        fn = type(op).to_nengo
        return Entry(fn, values=_marked(fn), source="to_nengo")
    return _by_mro(type(op), _registry)


def _defines_to_nengo(cls):
    for klass in cls.__mro__:
        if klass is NengoConvertible:
            return False
        if "to_nengo" in vars(klass):
            return True
    return False
