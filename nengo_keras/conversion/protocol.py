"""The protocol that lets a Keras layer convert itself to Nengo."""


class NengoConvertible:
    """Mixin for Keras layers that know their own Nengo equivalent.

    Put it first in the bases and define ``to_nengo(self, ctx, *inputs)``.
    ``inputs`` are the Nengo objects (Nodes, Neurons or slices of them) that
    produce the call's tensor arguments, in call order, flattened as C-order
    vectors of the Keras shape without the batch axis. The method runs inside
    the target network's ``with`` block, so Nengo objects it creates land there;
    it returns the Nengo object (or a list of them, one per output) whose output
    is the layer's output. ``ctx`` is the `nengo_keras.ConversionContext`: it
    holds the conversion options and helpers such as ``ctx.input_shapes``,
    ``ctx.output_shapes``, ``ctx.synapse_for(obj)`` and ``ctx.weights(self)``.

    The mixin is stateless: Keras locks a layer's attributes once it is built,
    so nothing here stores state on the layer.

    Examples
    --------
    >>> class AddOne(nengo_keras.NengoConvertible, keras.layers.Layer):
    ...     def call(self, x):
    ...         return x + 1
    ...
    ...     def to_nengo(self, ctx, x):
    ...         out = nengo.Node(size_in=x.size_out)
    ...         nengo.Connection(x, out, synapse=None)
    ...         nengo.Connection(nengo.Node([1.0] * x.size_out), out, synapse=None)
    ...         return out
    """

    def to_nengo(self, ctx, *inputs, **call_kwargs):
        """Build this layer's Nengo equivalent (see the class docstring)."""
        raise NotImplementedError(
            f"{type(self).__name__} mixes in NengoConvertible but does not "
            f"define to_nengo(self, ctx, *inputs)"
        )
