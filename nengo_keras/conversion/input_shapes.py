"""The ``input_shapes`` option: fix a model's unknown input dimensions.

Library models (keras_hub backbones, for example) take inputs of any length,
``(batch, None)``, but a Nengo network has fixed sizes. The model is
re-traced on inputs of the given shapes (`_keras_graph.retrace`), which
leaves the model itself untouched.
"""

from __future__ import annotations

from . import graph as kg

OPTION_HINT = "pass input_shapes={name: shape} to to_nengo"


def apply(graph, spec):
    """``graph`` re-traced on the shapes of ``spec`` (the validated option),
    or ``graph`` itself if they are the shapes it already has.

    Raises
    ------
    ValueError
        If ``spec`` names unknown inputs, misses some, has the wrong number of
        shapes or a shape of the wrong rank, or contradicts a dimension the
        model fixes.
    """
    if spec is None:
        return graph
    shapes = _per_input(graph, spec)
    for kt, keys, shape in zip(graph.inputs, kg.input_keys(graph), shapes):
        _check_fits(keys[0], kg.tensor_shape(kt), shape)
    if all(kg.tensor_shape(kt) == s for kt, s in zip(graph.inputs, shapes)):
        return graph
    return kg.retrace(graph, shapes)


def _per_input(graph, spec):
    keys = kg.input_keys(graph)
    if isinstance(spec, list):
        if len(spec) != len(graph.inputs):
            raise ValueError(
                f"option input_shapes has {len(spec)} shapes, but the model has "
                f"{len(graph.inputs)} inputs ({_names(keys)}); give one shape per "
                f"input in `model.inputs` order, or a dict keyed by input name"
            )
        return list(spec)
    by_name = {name: i for i, names in enumerate(keys) for name in names}
    unknown = [k for k in spec if k not in by_name]
    if unknown:
        raise ValueError(
            f"option input_shapes names {unknown!r}, which are not inputs of the "
            f"model; its inputs are {_names(keys)}"
        )
    shapes = [None] * len(graph.inputs)
    for key, shape in spec.items():
        i = by_name[key]
        if shapes[i] is not None and shapes[i] != shape:
            raise ValueError(
                f"option input_shapes gives two shapes for input {keys[i][0]!r}"
            )
        shapes[i] = shape
    for i, kt in enumerate(graph.inputs):
        if shapes[i] is None:
            declared = kg.tensor_shape(kt)
            if any(d is None for d in declared):
                raise ValueError(
                    f"option input_shapes has no shape for input {keys[i][0]!r}, "
                    f"whose shape {declared} has unknown dimensions; add "
                    f"{keys[i][0]!r}: (...) to it"
                )
            shapes[i] = declared
    return shapes


def _check_fits(name, declared, shape):
    if len(shape) != len(declared):
        raise ValueError(
            f"option input_shapes[{name!r}] = {shape} has {len(shape)} dimensions, "
            f"but input {name!r} has {len(declared)} (shape {declared}, without the "
            f"batch axis)"
        )
    for i, (d, s) in enumerate(zip(declared, shape)):
        if d is not None and d != s:
            raise ValueError(
                f"option input_shapes[{name!r}] = {shape}, but the model fixes "
                f"dimension {i} of input {name!r} to {d} (its shape is {declared}); "
                f"only unknown (None) dimensions can be set"
            )


def _names(keys):
    return ", ".join(repr(names[0]) for names in keys)
