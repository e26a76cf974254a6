"""`Options`: the validated options of one conversion (see `nengo_keras.to_nengo`)."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import numbers
import warnings

import nengo
import numpy as np

from .registry import hooks, matches

TIERS = ("neural", "node", "fallback")


@dataclasses.dataclass(frozen=True)
class Options:
    """Validated conversion options (see `nengo_keras.to_nengo`).

    Frozen: one conversion reads one set of options. A feature that changes
    them (calibration choosing ``scale_firing_rates``) makes a new one with
    `dataclasses.replace`, which validates it again.

    Examples
    --------
    >>> options = Options(tiers="neural")
    >>> options.tiers, options.allow_fallback
    (('neural',), False)
    >>> dataclasses.replace(options, synapse=0.005).synapse
    0.005
    """

    allow_fallback: bool = True
    swap_activations: dict | None = None
    scale_firing_rates: object = None
    synapse: object = None
    max_to_avg_pool: bool = False
    split_shared_weights: bool = False
    inference_only: bool = False
    fold_batchnorm: bool = True
    groups_as_dense: bool = False
    trace_layers: bool = True
    tiers: tuple = TIERS
    converters: dict | None = None
    temporal: object = None
    input_shapes: object = None

    def __post_init__(self):
        for flag in (
            "allow_fallback",
            "max_to_avg_pool",
            "split_shared_weights",
            "inference_only",
            "fold_batchnorm",
            "groups_as_dense",
            "trace_layers",
        ):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise TypeError(
                    f"option {flag} must be True or False, got {getattr(self, flag)!r}"
                )
        # normalised in place: __post_init__ is the one writer of a frozen Options
        tiers = (self.tiers,) if isinstance(self.tiers, str) else self.tiers
        object.__setattr__(self, "tiers", tuple(tiers))
        bad = [t for t in self.tiers if t not in TIERS]
        if bad or not self.tiers:
            close = difflib.get_close_matches(str(bad[0]), TIERS, n=1) if bad else []
            hint = f" ({bad[0]!r}: did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"option tiers={self.tiers!r}: expected a non-empty subset of "
                f"{TIERS}{hint}"
            )
        if "fallback" not in self.tiers:
            object.__setattr__(self, "allow_fallback", False)
        check_synapse(self.synapse)
        check_converters(self.converters)
        if self.swap_activations is not None and not isinstance(self.swap_activations, dict):
            raise TypeError(
                f"option swap_activations must be a dict {{activation: neuron type}}, "
                f"got {_short(self.swap_activations)}; e.g. swap_activations="
                f"{{'relu': nengo.SpikingRectifiedLinear()}}"
            )
        if self.temporal is not None and not isinstance(self.temporal, (bool, np.bool_)):
            raise TypeError(
                f"option temporal must be None (auto-detect), True or False, got "
                f"{self.temporal!r}"
            )
        check_scale(self.scale_firing_rates)
        object.__setattr__(self, "input_shapes", check_input_shapes(self.input_shapes))


def check_input_shapes(spec):
    """Validate the form of the ``input_shapes`` option; return it with every
    shape as a tuple of ints (a dict stays a dict, a sequence becomes a list).
    Whether the names and ranks fit the model is checked when converting
    (`nengo_keras.conversion.input_shapes`)."""
    if spec is None:
        return None
    if isinstance(spec, dict):
        for key in spec:
            if not isinstance(key, str):
                raise TypeError(
                    f"option input_shapes: keys must be input names (str), got {key!r}"
                )
        return {key: _shape(shape, f"[{key!r}]") for key, shape in spec.items()}
    if isinstance(spec, (list, tuple)) and not _is_shape_like(spec):
        return [_shape(shape, f"[{i}]") for i, shape in enumerate(spec)]
    hint = ""
    if isinstance(spec, (list, tuple)):
        hint = f" (for a model with one input, write [{tuple(spec)!r}])"
    raise TypeError(
        f"option input_shapes must be a dict {{input name: shape}} or a list of "
        f"shapes in `model.inputs` order (shapes without the batch axis), got "
        f"{spec!r}{hint}"
    )


def _is_shape_like(x):
    # (8, 8) is one shape, not two; [(8,), (8,)] is two shapes
    return all(isinstance(s, numbers.Integral) for s in x) and len(x) > 0


def _shape(shape, where):
    if not isinstance(shape, (list, tuple)) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape
    ):
        raise TypeError(
            f"option input_shapes{where}: expected a shape without the batch axis, "
            f"a tuple of ints such as (128,), got {shape!r}"
        )
    if any(s <= 0 for s in shape):
        raise ValueError(
            f"option input_shapes{where}: every dimension must be positive, got "
            f"{tuple(shape)!r}"
        )
    return tuple(int(s) for s in shape)


def check_synapse(synapse):
    """Validate the ``synapse`` option: None, a finite time constant >= 0 (s),
    or a `nengo.synapses.Synapse` with finite time constants."""
    if synapse is None:
        return
    if isinstance(synapse, nengo.synapses.Synapse):
        tau = getattr(synapse, "tau", 0.0)
        if not np.isfinite(tau):
            raise ValueError(
                f"option synapse={synapse!r} has an infinite time constant, which "
                f"would hold every output at zero; pass a finite tau (e.g. 0.005)"
            )
        return
    if isinstance(synapse, (bool, np.bool_)) or not isinstance(synapse, numbers.Real):
        raise TypeError(
            f"option synapse must be None, a time constant in seconds or a "
            f"nengo.synapses.Synapse, got {synapse!r}; pass e.g. synapse=0.005 or "
            f"synapse=nengo.Lowpass(0.005)"
        )
    if not np.isfinite(synapse):
        raise ValueError(
            f"option synapse={synapse!r}: the time constant must be a finite number "
            f"of seconds >= 0 (e.g. 0.005, or None for no synapse)"
        )
    if synapse < 0:
        raise ValueError(
            f"option synapse={synapse!r}: the time constant must be >= 0 seconds "
            f"(e.g. 0.005, or None for no synapse)"
        )


def check_converters(converters):
    """Validate the ``converters`` option: ``{layer class, layer or name: callable}``."""
    if converters is None:
        return
    if not isinstance(converters, dict):
        raise TypeError(
            f"option converters must be a dict {{layer class, layer or layer name: "
            f"function}}, got {type(converters).__name__}"
        )
    for key, fn in converters.items():
        if not isinstance(key, (str, type)) and not hasattr(key, "name"):
            raise TypeError(
                f"option converters: key {key!r} is not a layer class, a layer or a "
                f"layer name"
            )
        if not callable(fn):
            raise TypeError(
                f"option converters[{_key_name(key)!r}] is {fn!r}, not a function; "
                f"expected fn(layer, ctx, *inputs) returning Nengo objects (see "
                f"nengo_keras.register_converter)"
            )


def warn_unmatched_converters(converters, ops):
    """Warn about ``converters`` keys that matched none of ``ops`` (the layers
    and operations of the converted graph)."""
    if not converters:
        return
    unused = [k for k in converters if not any(matches(k, op) for op in ops)]
    if unused:
        names = sorted({op.name for op in ops if getattr(op, "name", None)})
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        warnings.warn(
            f"option converters: keys {[_key_name(k) for k in unused]} matched no "
            f"layer of the model, so they were not used; the model's layers are: "
            f"{shown}. Check the spelling, or key by the layer class",
            UserWarning,
            stacklevel=4,
        )


def check_label(label):
    """Validate the ``label`` argument of `nengo_keras.to_nengo`."""
    if label is not None and not isinstance(label, str):
        raise TypeError(
            f"label must be a string (the Nengo network's label) or None (the model "
            f"name), got {label!r}; pass label=str(...)"
        )


def check_scale(scale):
    """Validate the ``scale_firing_rates`` option.

    Values a ``"scale_option"`` hook accepts (calibration settings, sample
    inputs) are checked by the feature that plugged the hook in. Whether an
    array scale fits each layer's neurons is checked when the layer converts
    (`ConversionContext.neurons`), where the shape is known.
    """
    if scale is None or any(accepts(scale) for accepts in hooks("scale_option")):
        return
    if isinstance(scale, (list, tuple)) or (isinstance(scale, np.ndarray) and scale.ndim == 1):
        raise TypeError(
            f"option scale_firing_rates={_short(scale)}: a single sequence is "
            f"ambiguous. Pass one positive number for every layer, a dict "
            f"{{layer name: number or array}} for per-layer (or per-neuron, "
            f"per-channel) scales, or calibration samples shaped (batch, "
            f"*input_shape) (or a nengo_keras.spiking.calibration.RateCalibration)"
        )
    if isinstance(scale, dict):
        for key in scale:
            if not isinstance(key, str) and not hasattr(key, "name"):
                raise TypeError(
                    f"option scale_firing_rates: key {key!r} is not a layer or a layer "
                    f"name; key the dict by layer names, e.g. {{'dense': 100}}"
                )
        items = scale.items()
    else:
        items = [("scale_firing_rates", scale)]
    for key, s in items:
        where = "" if key == "scale_firing_rates" else f"[{_key_name(key)!r}]"
        if isinstance(s, (bool, np.bool_)):
            raise TypeError(
                f"option scale_firing_rates{where}={s!r}: expected a positive number "
                f"(a bool is not a scale); e.g. scale_firing_rates=100"
            )
        arr = np.asarray(s, dtype=np.float64) if _is_number_like(s) else None
        if arr is None or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError(
                f"option scale_firing_rates{where} must be a positive number (or a "
                f"per-layer dict of them), got {_short(s)}"
            )


def check_keywords(caller, given, known, extra=""):
    """Raise a TypeError naming the first of ``given`` not in ``known``, with
    the closest known name ("did you mean ...?")."""
    unknown = [k for k in given if k not in known]
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise TypeError(
        f"{caller}() got an unexpected keyword argument {name!r}{hint} "
        f"(it takes {', '.join(sorted(known))}{extra})"
    )


def keyword_names(*functions):
    """The keyword argument names the functions take (no ``*args``/``**kwargs``)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = []
    for fn in functions:
        names += [
            n for n, p in inspect.signature(fn).parameters.items()
            if p.kind in kinds and n != "self"
        ]
    return list(dict.fromkeys(names))


def checks_keywords(fn):
    """Decorator: a misspelled keyword argument of ``fn`` raises a TypeError
    that suggests the closest name."""
    known = keyword_names(fn)

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        check_keywords(fn.__name__, kwargs, known)
        return fn(*args, **kwargs)

    return checked


def _key_name(key):
    return key.__name__ if isinstance(key, type) else getattr(key, "name", key)


def _short(x):
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number_like(x):
    try:
        np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True
