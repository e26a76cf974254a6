"""`Options`: the validated options of one conversion (see `nengo_keras.to_nengo`)."""

from __future__ import annotations

import dataclasses
import numbers

import nengo
import numpy as np

from .registry import hooks

TIERS = ("neural", "node", "fallback")


@dataclasses.dataclass
class Options:
    """Validated conversion options (see `nengo_keras.to_nengo`)."""

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
        if isinstance(self.tiers, str):
            self.tiers = (self.tiers,)
        self.tiers = tuple(self.tiers)
        bad = [t for t in self.tiers if t not in TIERS]
        if bad or not self.tiers:
            raise ValueError(
                f"option tiers={self.tiers!r}: expected a non-empty subset of {TIERS}"
            )
        if "fallback" not in self.tiers:
            self.allow_fallback = False
        if self.synapse is not None and not isinstance(
            self.synapse, (numbers.Real, nengo.synapses.Synapse)
        ):
            raise TypeError(
                f"option synapse must be None, a time constant in seconds or a "
                f"nengo.synapses.Synapse, got {self.synapse!r}"
            )
        if isinstance(self.synapse, numbers.Real) and self.synapse < 0:
            raise ValueError(f"option synapse must be >= 0, got {self.synapse!r}")
        if self.converters is not None and not isinstance(self.converters, dict):
            raise TypeError(
                f"option converters must be a dict {{layer class: function}}, got "
                f"{type(self.converters).__name__}"
            )
        if self.temporal is not None and not isinstance(self.temporal, (bool, np.bool_)):
            raise TypeError(
                f"option temporal must be None (auto-detect), True or False, got "
                f"{self.temporal!r}"
            )
        check_scale(self.scale_firing_rates)
        self.input_shapes = check_input_shapes(self.input_shapes)


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


def check_scale(scale):
    """Validate the ``scale_firing_rates`` option.

    Values a ``"scale_option"`` hook accepts (calibration settings, sample
    inputs) are checked by the feature that plugged the hook in.
    """
    if scale is None or any(accepts(scale) for accepts in hooks("scale_option")):
        return
    if isinstance(scale, dict):
        items = scale.items()
    else:
        items = [("scale_firing_rates", scale)]
    for key, s in items:
        arr = np.asarray(s, dtype=np.float64) if _is_number_like(s) else None
        if arr is None or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            where = "" if key == "scale_firing_rates" else f"[{key!r}]"
            raise ValueError(
                f"option scale_firing_rates{where} must be a positive number (or a "
                f"per-layer dict of them), got {s!r}"
            )


def _is_number_like(x):
    try:
        np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True
