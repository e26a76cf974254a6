"""``.. supported-layers::``: the table of registered converters, generated
from the registry when the documentation is built, so it cannot drift.

For every Keras layer class it also converts a one-layer model (with sample
arguments where the layer needs some) to report the tier it becomes and
whether the spiking version can be exported to NIR.
"""

import warnings

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

# arguments for layers that cannot be built without any
SAMPLE_ARGS = {
    "Dense": (3,), "EinsumDense": ("ab,bc->ac", 3), "Embedding": (5, 3),
    "Conv1D": (2, 3), "Conv2D": (2, 3), "Conv3D": (2, 3),
    "Conv1DTranspose": (2, 3), "Conv2DTranspose": (2, 3), "Conv3DTranspose": (2, 3),
    "DepthwiseConv1D": (3,), "DepthwiseConv2D": (3,),
    "SeparableConv1D": (2, 3), "SeparableConv2D": (2, 3),
    "Reshape": ((-1,),), "Permute": ((2, 1, 3),), "RepeatVector": (2,),
    "Rescaling": (0.5,), "Resizing": (4, 4), "CenterCrop": (4, 4),
    "Activation": ("relu",), "Lambda": (lambda x: x,), "Dropout": (0.5,),
    "SpatialDropout1D": (0.5,), "SpatialDropout2D": (0.5,), "SpatialDropout3D": (0.5,),
    "GaussianNoise": (0.1,), "GaussianDropout": (0.1,), "AlphaDropout": (0.1,),
    "ActivityRegularization": (), "SimpleRNN": (3,), "GRU": (3,), "LSTM": (3,),
    "MultiHeadAttention": (2, 2), "GroupNormalization": (1,),
    "Cropping1D": (1,), "Cropping2D": (1,), "Cropping3D": (1,),
    "RandomCrop": (4, 4), "RandomZoom": (0.1,), "RandomRotation": (0.1,),
    "RandomTranslation": (0.1, 0.1), "RandomContrast": (0.1,),
    "RandomBrightness": (0.1,), "RandomHue": (0.1,), "RandomSaturation": (0.1,),
    "RandomSharpness": (0.1,), "RandomColorDegeneration": (0.1,),
    "RandomPosterization": ((1, 8),), "Dot": (-1,),
}
for _d in ("1D", "2D", "3D"):
    for _kind in ("Average", "Max"):
        SAMPLE_ARGS[f"{_kind}Pooling{_d}"] = (2,)
        SAMPLE_ARGS[f"Adaptive{_kind}Pooling{_d}"] = (2,)

# merging layers take a list of tensors
TWO_INPUTS = {"Add", "Subtract", "Average", "Maximum", "Minimum", "Multiply",
              "Concatenate", "Dot"}


def _input_shape(name):
    if "3D" in name:
        return (4, 4, 4, 2)
    if "1D" in name or name in ("SimpleRNN", "GRU", "LSTM", "RepeatVector"):
        return (6, 2) if name != "RepeatVector" else (4,)
    return (6, 6, 2)


def _measure(cls):
    """``(tier, nir)`` of a one-layer model, or ``("", "")`` if it cannot be built."""
    import keras
    import nengo

    import nengo_keras

    name = cls.__name__
    try:
        layer = cls(*SAMPLE_ARGS.get(name, ()))
        shape = _input_shape(name)
        dtype = "int32" if name == "Embedding" else None
        if name in TWO_INPUTS:
            inp = [keras.Input(shape), keras.Input(shape)]
        else:
            inp = keras.Input(shape, dtype=dtype)
        out = layer(inp)
        if isinstance(out, (list, tuple)):
            return "", ""
        model = keras.Model(inp, out)
    except Exception:
        return "", ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = nengo_keras.to_nengo(model)
            spiking = nengo_keras.to_nengo(
                model, swap_activations={"relu": nengo.SpikingRectifiedLinear()}
            )
    except Exception:
        return "not convertible alone", ""
    tiers = sorted({r.tier for r in result.report})
    try:
        from nengo_keras.nir import check_network
    except ImportError:
        return ", ".join(tiers), ""
    return ", ".join(tiers), "yes" if not check_network(spiking) else "no"


def _public_name(cls):
    import keras

    for namespace, prefix in ((keras.layers, "keras.layers"), (keras.ops, "keras.ops")):
        if getattr(namespace, cls.__name__, None) is cls:
            return f"{prefix}.{cls.__name__}"
    return f"{cls.__module__.replace('keras.src.', 'keras.')}.{cls.__name__}"


def _summary(fn):
    doc = (getattr(fn, "__doc__", None) or "").strip().split("\n\n")[0]
    doc = " ".join(doc.split())
    return doc.replace("``", "").replace("`", "")


def table_rows():
    """``[(name, kind, converter, tier, nir, notes)]`` for every registered class."""
    import keras

    import nengo_keras.converters  # noqa: F401  (registers the built-in converters)
    from nengo_keras.conversion.registry import CONVERTERS

    rows = []
    for cls in CONVERTERS.keys():
        entry = CONVERTERS.get(cls)
        is_layer = issubclass(cls, keras.layers.Layer)
        tier, nir = _measure(cls) if is_layer else ("", "")
        rows.append(
            (_public_name(cls), "layer" if is_layer else "op", entry.name, tier, nir,
             _summary(entry.fn))
        )
    return sorted(set(rows), key=lambda r: (r[1], r[0].lower()))


class SupportedLayers(SphinxDirective):
    """The table, built as docutils nodes (the docstrings are shown as text)."""

    has_content = False
    header = ("Keras class", "kind", "converter", "tier", "NIR", "notes")
    widths = (22, 6, 18, 10, 6, 38)

    def run(self):
        table = nodes.table(classes=["supported-layers"])
        group = nodes.tgroup(cols=len(self.header))
        table += group
        group += [nodes.colspec(colwidth=w) for w in self.widths]
        head = nodes.thead()
        head += self.row(self.header, literal=())
        body = nodes.tbody()
        for row in table_rows():
            body += self.row(row, literal=(0, 2))
        group += [head, body]
        return [table]

    @staticmethod
    def row(cells, literal):
        row = nodes.row()
        for i, text in enumerate(cells):
            entry = nodes.entry()
            para = nodes.paragraph()
            para += nodes.literal(text=text) if i in literal else nodes.Text(text)
            entry += para
            row += entry
        return row


def setup(app):
    app.add_directive("supported-layers", SupportedLayers)
    return {"parallel_read_safe": True}
