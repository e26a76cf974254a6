"""``model.to_nengo()`` on every Keras model; `Model` and `Sequential`.

``import nengo_keras`` gives `keras.Model` (so every Sequential, functional,
subclassed, loaded or ``keras.applications`` model) a ``to_nengo(**options)``
method, the same as ``nengo_keras.to_nengo(model, **options)``. Nothing else
about `keras.Model` changes, and a class that defines its own ``to_nengo``
keeps it. `Model` and `Sequential` name the same for code written for them.
"""

from __future__ import annotations

import keras

from .conversion.pipeline import to_nengo


def model_to_nengo(self, **options):
    """Convert this model (see `nengo_keras.to_nengo` for the options).

    Examples
    --------
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> result = model.to_nengo()
    """
    return to_nengo(self, **options)


# converts a whole model: not a layer's to_nengo(self, ctx, *inputs) (see registry)
model_to_nengo.converts_model = True


def add_to_nengo(cls=keras.Model):
    """Give ``cls`` the ``to_nengo`` method, unless it defines one itself.

    Returns True if the method was added.

    Examples
    --------
    >>> add_to_nengo(keras.Model)  # done by ``import nengo_keras``
    False
    """
    if "to_nengo" in vars(cls):
        return False
    cls.to_nengo = model_to_nengo
    return True


class NengoModelMixin:
    """Adds ``to_nengo(**options)`` to a Keras model class."""

    to_nengo = model_to_nengo


add_to_nengo(keras.Model)


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
