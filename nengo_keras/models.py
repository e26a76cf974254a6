"""`Model` and `Sequential`: Keras models with a ``to_nengo`` method."""

from __future__ import annotations

import keras

from .converter import to_nengo


class NengoModelMixin:
    """Adds ``to_nengo(**options)`` to a Keras model class."""

    def to_nengo(self, **options):
        """Convert this model (see `nengo_keras.to_nengo` for the options).

        Examples
        --------
        >>> model = nengo_keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> result = model.to_nengo()
        """
        return to_nengo(self, **options)


@keras.saving.register_keras_serializable(package="nengo_keras")
class Model(NengoModelMixin, keras.Model):
    """A `keras.Model` with ``model.to_nengo(**options)``.

    Build it as any functional Keras model:

    >>> inp = keras.Input((28, 28, 1))
    >>> out = keras.layers.Dense(10)(keras.layers.Flatten()(inp))
    >>> net = nengo_keras.Model(inp, out).to_nengo().net
    """


@keras.saving.register_keras_serializable(package="nengo_keras")
class Sequential(NengoModelMixin, keras.Sequential):
    """A `keras.Sequential` with ``model.to_nengo(**options)``.

    >>> model = nengo_keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> net = model.to_nengo().net
    """
