"""NengoDL-compatible API: `Converter` and `LayerConverter`.

NengoDL users migrate by changing one import: ``nengo_dl.Converter(model, ...)``
becomes ``nengo_keras.Converter(model, ...)`` with the same option names and
attributes, and ``nengo_dl.converter.LayerConverter`` subclasses registered
with ``@Converter.register(LayerClass)`` keep working. Both are thin layers
over `nengo_keras.to_nengo` and its registry.
"""

from __future__ import annotations

import nengo
import numpy as np

from ..errors import Unsupported
from ..conversion.options import check_keywords, keyword_names
from ..conversion.pipeline import to_nengo
from ..conversion.registry import register_converter
from ..conversion.values import Value


class Converter:
    """Convert a Keras model to Nengo, NengoDL style.

    Parameters
    ----------
    model : keras.Model
        The model to convert (unchanged).
    allow_fallback, inference_only, max_to_avg_pool, split_shared_weights, \
swap_activations, scale_firing_rates, synapse
        As in NengoDL (see `nengo_keras.to_nengo`).
    temporal_model : bool
        As in NengoDL: True if axis 1 of the inputs is time (``temporal=True``).
        False auto-detects (models with `nengo_keras.layers` spiking or synapse
        layers are temporal), where NengoDL would fail on such layers.
    **options
        Further `nengo_keras.to_nengo` options (e.g. ``tiers``). Unlike
        `to_nengo`, ``trace_layers`` defaults to False here, as in NengoDL.

    Attributes
    ----------
    model : keras.Model
    net : nengo.Network
    inputs : Mapping
        Keras input tensor (or layer, or name) -> input `nengo.Node`.
    outputs : Mapping
        Keras output tensor (or layer, or name) -> `nengo.Probe`.
    layers : Mapping
        Keras tensor (or layer, or name) -> Nengo object computing it.
    result : nengo_keras.ConvertedModel
        The full conversion result (report, ``run``...).

    Examples
    --------
    >>> converter = nengo_keras.Converter(model)
    >>> with nengo.Simulator(converter.net) as sim:
    ...     sim.step()
    >>> converter.verify()
    True
    """

    converters = {}
    """LayerConverter classes registered with `Converter.register`, by layer class."""

    def __init__(
        self,
        model,
        allow_fallback=True,
        inference_only=False,
        max_to_avg_pool=False,
        split_shared_weights=False,
        swap_activations=None,
        scale_firing_rates=None,
        synapse=None,
        temporal_model=False,
        **options,
    ):
        check_keywords(
            "Converter", options, keyword_names(Converter.__init__, to_nengo)
        )
        # NengoDL treated layers without a converter as unconvertible; keep that
        # (its guide relies on it) unless the caller asks for tracing
        options.setdefault("trace_layers", False)
        self.model = model
        self.allow_fallback = allow_fallback
        self.inference_only = inference_only
        self.max_to_avg_pool = max_to_avg_pool
        self.split_shared_weights = split_shared_weights
        self.swap_activations = swap_activations
        self.scale_firing_rates = scale_firing_rates
        self.synapse = synapse
        self.temporal_model = temporal_model
        if temporal_model:
            options["temporal"] = True
        self.result = to_nengo(
            model,
            allow_fallback=allow_fallback,
            inference_only=inference_only,
            max_to_avg_pool=max_to_avg_pool,
            split_shared_weights=split_shared_weights,
            swap_activations=swap_activations,
            scale_firing_rates=scale_firing_rates,
            synapse=synapse,
            **options,
        )
        self.net = self.result.net
        configure_trainable(self.net)
        self.inputs = self.result.inputs
        self.outputs = self.result.outputs
        self.layers = self.result.layers

    def verify(self, training=False, inputs=None, atol=None, rtol=None):
        """Check that the Nengo network matches the Keras model.

        Differences from NengoDL: ``training=True`` is not available (there is
        no NengoDL simulator to train in; native Nengo networks are inference
        networks), and the tolerances default looser because Keras computes in
        float32 while Nengo's reference simulator uses float64. ``rtol`` is
        relative to the output's scale, and the defaults fit float16 and
        bfloat16 models (see `ConvertedModel.verify`).

        Returns
        -------
        True
        """
        if training:
            raise ValueError(
                "verify(training=True) needs the NengoDL simulator to run the "
                "network in training mode; nengo_keras builds native Nengo "
                "networks for inference. Use verify(training=False)"
            )
        return self.result.verify(inputs=inputs, atol=atol, rtol=rtol)

    @classmethod
    def register(cls, keras_layer):
        """Decorator registering a ``LayerConverter`` subclass for a layer class.

        See `~nengo_keras.converter.LayerConverter`.

        Examples
        --------
        >>> @nengo_keras.Converter.register(AddOne)
        ... class ConvertAddOne(nengo_keras.converter.LayerConverter):
        ...     def convert(self, node_id):
        ...         output = self.add_nengo_obj(node_id)
        ...         self.add_connection(node_id, output)
        ...         return output
        """

        def decorator(layer_converter):
            cls.converters[keras_layer] = layer_converter
            register_converter(keras_layer, _adapter(layer_converter))
            return layer_converter

        return decorator


def _adapter(layer_converter):
    def convert(layer, ctx, *inputs, **_):
        facade = _ConverterState(ctx)
        if not layer_converter.convertible(layer, facade):
            raise Unsupported(
                f"{layer_converter.__name__} cannot convert this configuration "
                f"(unsupported arguments {layer_converter.unsupported_args})"
            )
        configure_trainable(ctx.root_network)
        instance = layer_converter(layer, facade)
        instance._inputs = list(inputs)
        return instance.convert(ctx.call_index)

    convert.__qualname__ = layer_converter.__qualname__
    return convert


def configure_trainable(net):
    """Add NengoDL's ``trainable`` config parameter (None: not set) to ``net``.

    Only the NengoDL facade asks for it (`Converter`, `LayerConverter`):
    networks from `nengo_keras.to_nengo` do not carry NengoDL's config.

    Examples
    --------
    >>> configure_trainable(net)
    >>> net.config[nengo.Ensemble].trainable is None
    True
    """
    for cls in (nengo.Ensemble, nengo.Connection, nengo.ensemble.Neurons, nengo.Node):
        if cls not in net.config.params:
            net.config.configures(cls)
        params = net.config[cls]
        if "trainable" not in params._extra_params:
            params.set_param(
                "trainable", nengo.params.BoolParam("trainable", None, optional=True)
            )


class _ConverterState:
    """What ``LayerConverter.converter`` exposes during a conversion."""

    def __init__(self, ctx):
        self.ctx = ctx
        opts = ctx.options
        self.net = ctx.root_network
        self.allow_fallback = opts.allow_fallback
        self.inference_only = opts.inference_only
        self.max_to_avg_pool = opts.max_to_avg_pool
        self.split_shared_weights = opts.split_shared_weights
        self.swap_activations = opts.swap_activations
        self.scale_firing_rates = opts.scale_firing_rates
        self.synapse = opts.synapse


class LayerConverter:
    """Base class for NengoDL-style per-layer converters.

    Subclass it, implement ``convert(node_id)`` and register the subclass with
    ``@nengo_keras.Converter.register(LayerClass)``. ``node_id`` is the index of
    the layer call being converted; the helpers below create the Nengo objects.

    Attributes
    ----------
    layer : keras.layers.Layer
    converter
        The conversion state (``.net``, ``.synapse``, ``.swap_activations``...).
    unsupported_args : list
        ``(attribute, supported value)`` pairs; `convertible` refuses layers
        whose attribute differs.
    """

    has_weights = False
    unsupported_args = []
    unsupported_training_args = []

    def __init__(self, layer, converter):
        self.layer = layer
        self.converter = converter
        self._inputs = []

    @classmethod
    def convertible(cls, layer, converter):
        """Whether this converter supports the layer's configuration."""
        for arg in cls.unsupported_args:
            name, supported = arg if isinstance(arg, tuple) else (arg, None)
            if getattr(layer, name, supported) != supported:
                return False
        return True

    def convert(self, node_id):
        """Build the Nengo objects for call ``node_id``; return the output object."""
        raise NotImplementedError("LayerConverter subclasses must implement convert")

    # --- helpers ------------------------------------------------------------

    def _check_call(self, node_id):
        if node_id != self.converter.ctx.call_index:
            raise ValueError(
                f"node_id {node_id} is not the call being converted "
                f"({self.converter.ctx.call_index})"
            )

    def get_input_obj(self, node_id, tensor_idx=0):
        """The Nengo object producing input ``tensor_idx`` of call ``node_id``."""
        self._check_call(node_id)
        return self._inputs[tensor_idx]

    def input_shape(self, node_id, include_batch=False):
        """Keras shape of the (first) input of call ``node_id``."""
        self._check_call(node_id)
        shape = self.converter.ctx.input_shapes[0]
        return ((None,) + tuple(shape)) if include_batch else tuple(shape)

    def output_shape(self, node_id, include_batch=False):
        """Keras shape of the (first) output of call ``node_id``."""
        self._check_call(node_id)
        shape = self.converter.ctx.output_shapes[0]
        return ((None,) + tuple(shape)) if include_batch else tuple(shape)

    def add_nengo_obj(self, node_id, biases=None, activation=None):
        """Create the object computing the call's output.

        A pass-through `nengo.Node` for linear activations (``None``), otherwise
        an Ensemble of the neuron type the activation maps to (through
        ``swap_activations``), with ``biases`` as neuron biases. Returns the
        Node or the Ensemble's ``.neurons``.
        """
        ctx = self.converter.ctx
        size = int(np.prod(self.output_shape(node_id)))
        kind, neuron_type = ctx.swaps.resolve(activation)
        if kind == "function":
            raise Unsupported(
                f"activation {activation!r} has no Nengo neuron type",
                "map it with swap_activations",
            )
        if kind == "linear":
            obj = nengo.Node(size_in=size, label=ctx.label())
            if biases is not None:
                bias_node = nengo.Node(np.broadcast_to(biases, (size,)).copy())
                self.set_trainable(
                    nengo.Connection(bias_node, obj, synapse=None), False
                )
            return obj
        value = Value((size,), (), None if biases is None else np.broadcast_to(biases, (size,)))
        out = ctx.neurons(value, neuron_type)
        if out.obj is None:
            raise Unsupported(
                "per-neuron scale_firing_rates are not supported by LayerConverter"
            )
        return out.obj

    def add_connection(self, node_id, obj, input_idx=0, trainable=False, **kwargs):
        """Connect input ``input_idx`` of call ``node_id`` to ``obj``."""
        pre = self.get_input_obj(node_id, tensor_idx=input_idx)
        kwargs.setdefault("synapse", self.converter.ctx.synapse_for(pre))
        conn = nengo.Connection(pre, obj, **kwargs)
        self.set_trainable(conn, trainable)
        return conn

    def set_trainable(self, obj, trainable):
        """Record whether ``obj`` is trainable (NengoDL's ``trainable`` config)."""
        self.converter.net.config[obj].trainable = trainable

