"""Which function converts which Keras layer or operation.

One mechanism, `Table`, holds every "which rule applies to this" mapping of
the engine: the layer and operation converters (`CONVERTERS`), the builders
of activations that have no single neuron type (`ACTIVATIONS`, keyed by name
or by activation class), the rules that say whether a layer acts on each
time step separately (`TIME_RULES`), the output-shape rules of operations
whose declared shape is incomplete (`SHAPE_RULES`) and the hooks that plug
features above the engine into a conversion (`HOOKS`). Registering a key
twice warns, as Nengo's and NengoDL's registries do.

Lookup order for one call of a layer (`find_converter`):

1. the call-site ``converters={...}`` mapping, then the innermost
   `converter_scope`, then the outer ones;
2. the layer's own ``to_nengo`` method (with or without
   `nengo_keras.NengoConvertible` mixed in);
3. the converter registry, walking ``type(layer).__mro__`` and stopping at
   the first unregistered class that defines its own ``call`` (a subclass
   that changes the maths must not silently inherit its parent's converter);
4. nothing: the walk traces the layer's call (`TRACE`), falls back to a
   Keras-computing Node (`FALLBACK`) or reports it.

One calling convention: every converter the walk calls takes
`~nengo_keras.conversion.values.Value` inputs. The user's functions (a
layer's ``to_nengo``, `register_converter`, a ``converters=`` mapping) take
Nengo objects; they are adapted once, when their `Entry` is made.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import threading
import warnings

from .protocol import NengoConvertible


class Table:
    """A registry: keys (classes, names) to rules, warning on overwrite.

    Parameters
    ----------
    what : str
        What the values are, for the overwrite warning ("converter"...).

    Examples
    --------
    >>> rules = Table("rule")
    >>> rules.register(keras.layers.Dense, "dense rule")
    >>> rules.by_mro(MyDense)  # a Dense subclass without its own call
    'dense rule'
    """

    def __init__(self, what):
        self.what = what
        self._items = {}

    def register(self, key, value, replace=False):
        """Map ``key`` to ``value``; warn if that replaces another value
        (unless ``replace``: a library module refining its own entry)."""
        old = self._items.get(key)
        if old is not None and not replace and not _same(old, value):
            warnings.warn(
                f"{_value_name(value)} replaces the {self.what} registered for "
                f"{_key_name(key)} ({_value_name(old)})",
                UserWarning,
                stacklevel=3,
            )
        self._items[key] = value
        return value

    def unregister(self, key):
        """Remove the value registered for exactly ``key`` (if any)."""
        self._items.pop(key, None)

    def get(self, key, default=None):
        """The value registered for exactly ``key``."""
        return self._items.get(key, default)

    def __contains__(self, key):
        return key in self._items

    def snapshot(self):
        """A copy of the table's contents, for `restore` (tests use it)."""
        return dict(self._items)

    def restore(self, snapshot):
        """Put back the contents a `snapshot` saved."""
        self._items.clear()
        self._items.update(snapshot)

    def keys(self):
        return list(self._items)

    def values(self):
        return list(self._items.values())

    def by_mro(self, cls):
        """The value of the nearest registered base of ``cls``, stopping at
        the first unregistered class that defines its own ``call``."""
        return _by_mro(cls, self._items)


@dataclasses.dataclass(frozen=True)
class Entry:
    """A converter, in the walk's calling convention.

    Attributes
    ----------
    fn : callable
        The function as given: ``fn(layer, ctx, *inputs, **call_kwargs)``.
    call : callable
        What the walk calls: ``fn`` itself if it takes
        `~nengo_keras.conversion.values.Value` inputs, else ``fn`` wrapped
        so that its inputs are Nengo objects (made once, here).
    source : str
        Where the converter came from, for the conversion report.
    """

    fn: object
    call: object
    source: str = "registry"

    @classmethod
    def of(cls, fn, source, values=None):
        """An entry for ``fn``; ``values`` (default: `takes_values` marks)
        says whether it takes Values or Nengo objects."""
        if isinstance(fn, Entry):
            return fn
        values = _marked(fn) if values is None else values
        return cls(fn, fn if values else _on_nengo_objects(fn), source)

    @property
    def name(self):
        fn = self.fn
        return getattr(fn, "__qualname__", None) or type(fn).__name__


def _on_nengo_objects(fn):
    """``fn`` (taking Nengo objects) in the walk's convention (Values)."""

    def call(op, ctx, *inputs, **kwargs):
        return fn(op, ctx, *[ctx.materialize(v) for v in inputs], **kwargs)

    call.__wrapped__ = fn
    return call


class TRACE:
    """Registry key of the converter for layers without one (their call is
    traced into operations, see `nengo_keras.converters.traced`)."""


class FALLBACK:
    """Registry key of the converter of last resort (a Node calling Keras,
    see `nengo_keras.converters.fallback`)."""


CONVERTERS = Table("converter")
ACTIVATIONS = Table("activation builder")
TIME_RULES = Table("time-axis rule")
SHAPE_RULES = Table("shape rule")
TIME_MARKERS = Table("time-axis marker")  # classes that make a model temporal
HOOKS = Table("hook")  # name -> list of functions, see `add_hook`

_scopes = threading.local()


def takes_values(fn):
    """Mark a converter as working on `nengo_keras.conversion.values.Value` objects.

    `register_converter` and a layer's own ``to_nengo`` then pass it Values
    (unevaluated linear sums that fuse into connections) instead of Nengo
    objects; the converters of the `nengo_keras.converters.mixins` are marked so.

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


def register(cls, fn=None, *, replace=False):
    """Register one of the library's converters (Values in, Values out).

    The built-in converters use this; users call `register_converter`.
    """
    if fn is None:
        return lambda f: register(cls, f, replace=replace)
    CONVERTERS.register(cls, Entry(fn, fn, f"registry[{cls.__name__}]"), replace=replace)
    return fn


def register_converter(cls, fn=None, *, values=None):
    """Register a converter for a Keras layer (or operation) class.

    Subclasses use the same converter unless they define their own ``call``.
    Registering a class twice warns (the new converter wins).

    Parameters
    ----------
    cls : type
        The Keras layer or `keras.Operation` class.
    fn : callable, optional
        ``fn(layer, ctx, *inputs, **call_kwargs) -> nengo object(s)``. If
        omitted, `register_converter` is a decorator.
    values : bool, optional
        Advanced: ``fn`` works on `nengo_keras.conversion.values.Value` objects (unevaluated
        linear sums) rather than Nengo objects. See `nengo_keras.conversion.values`.
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
    CONVERTERS.register(cls, Entry.of(fn, f"registry[{cls.__name__}]", values))
    return fn


def unregister_converter(cls):
    """Remove the converter registered for exactly ``cls`` (if any)."""
    CONVERTERS.unregister(cls)


def special(key):
    """The `Entry` registered under `TRACE` or `FALLBACK`."""
    return CONVERTERS.get(key)


def add_hook(name, fn):
    """Plug ``fn`` into the conversion at the point ``name``.

    Features above the engine (calibration, the NengoDL facade) plug in so,
    instead of the engine importing them. Points: ``"scale_option"``
    (``fn(value) -> bool``: the ``scale_firing_rates`` value is one the hook
    handles), ``"before"`` (``fn(model, options, label) -> (options, finish) or
    None``: runs before the walk; the `Options` are frozen, so a hook that
    changes them returns new ones, which the later hooks and the walk get;
    ``finish(result)``, if not None, runs on the result),
    ``"network"`` (``fn(net)``: each new top-level network) and the runners
    that `nengo_keras.run` lends `ConvertedModel` (``"run_batch"``,
    ``"evaluate"``, ``"prepare_inputs"``, ``"format_inputs"``,
    ``"check_verifiable"``, and the argument checks ``"check_run_arguments"``,
    ``"check_inputs"``, ``"check_dt"``).

    Examples
    --------
    >>> add_hook("network", lambda net: net.config.configures(nengo.Ensemble))
    """
    hooks = HOOKS.get(name) or []
    if fn not in hooks:
        HOOKS.register(name, hooks + [fn], replace=True)


def hooks(name):
    """The functions plugged in at ``name`` (see `add_hook`)."""
    return list(HOOKS.get(name) or [])


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


def _lookup_mapping(mapping, op, source):
    for key in (op, getattr(op, "name", None)):
        if key is not None and key in mapping:
            return Entry.of(mapping[key], source)
    fn = _by_mro(type(op), mapping)
    return None if fn is None else Entry.of(fn, source)


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
    own = own_to_nengo(type(op))
    if own is not None:
        return _own_entry(own)
    return CONVERTERS.by_mro(type(op))


_own_entries = {}


def _own_entry(fn):
    # adapted once per method, not once per call
    if fn not in _own_entries:
        _own_entries[fn] = Entry.of(fn, "to_nengo")
    return _own_entries[fn]


def own_to_nengo(cls):
    """The ``to_nengo`` method ``cls`` defines (itself or through a base
    other than `NengoConvertible`), or None.

    The mixin is optional: any layer class with a ``to_nengo(self, ctx,
    *inputs)`` method converts by it. A method the protocol cannot call
    (it must accept ``ctx`` and the inputs) is ignored with a warning.
    """
    for klass in cls.__mro__:
        if klass is NengoConvertible:
            continue  # its to_nengo only says "define me"
        if "to_nengo" not in vars(klass):
            continue
        fn = getattr(klass, "to_nengo")  # the plain function of a method
        if getattr(fn, "converts_model", False):
            return None  # keras.Model.to_nengo(**options): converts a whole model
        if fn is not None:
            return fn if callable(fn) and _callable_by_protocol(cls, fn) else None
    return None


_checked = {}


def _callable_by_protocol(cls, fn):
    """Whether ``fn(layer, ctx, x)`` can be called; warn (once) if not."""
    if fn in _checked:
        return _checked[fn]
    try:
        inspect.signature(fn).bind(None, None, None)
        ok = True
    except TypeError:
        ok = _accepts_no_inputs(fn)
        if not ok:
            warnings.warn(
                f"{cls.__name__}.to_nengo{inspect.signature(fn)} cannot be called as "
                f"to_nengo(self, ctx, *inputs) (the nengo_keras protocol), so "
                f"nengo_keras does not use it; give it the signature "
                f"to_nengo(self, ctx, *inputs, **call_kwargs)",
                UserWarning,
                stacklevel=4,
            )
    except ValueError:  # no signature (builtins): trust it
        ok = True
    _checked[fn] = ok
    return ok


def _accepts_no_inputs(fn):
    # layers called without tensor inputs are rare; ``to_nengo(self, ctx)`` fits them
    try:
        inspect.signature(fn).bind(None, None)
    except TypeError:
        return False
    return True


def _same(old, new):
    if isinstance(old, Entry) and isinstance(new, Entry):
        return old.fn is new.fn
    return old is new


def _key_name(key):
    return getattr(key, "__name__", None) or repr(key)


def _value_name(value):
    fn = value.fn if isinstance(value, Entry) else value
    return getattr(fn, "__qualname__", None) or repr(fn)
