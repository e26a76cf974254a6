"""Exceptions raised by nengo_keras."""


class ConversionError(TypeError):
    """A model (or some of its layers) cannot be converted as asked.

    It lists **every** problem found, not just the first, so one run tells the
    user everything there is to fix. It subclasses `TypeError` because NengoDL's
    converter raised `TypeError` for unconvertible layers.

    Attributes
    ----------
    problems : list of (layer, what, fix)
        ``layer`` is the Keras layer or operation concerned (or None), ``what``
        says what is wrong, ``fix`` how to fix it.

    Examples
    --------
    >>> try:
    ...     nengo_keras.to_nengo(model, allow_fallback=False)
    ... except nengo_keras.ConversionError as e:
    ...     names = [layer.name for layer, _, _ in e.problems]
    """

    def __init__(self, problems, header=None):
        self.problems = list(problems)
        if header is None:
            names = [getattr(layer, "name", None) for layer, _, _ in self.problems]
            names = list(dict.fromkeys(n for n in names if n))
            noun = "layer" if len(names) == 1 else "layers"
            header = (
                f"Unable to convert {noun} {', '.join(names)} to native Nengo objects:"
                if names
                else "Unable to convert the model to native Nengo objects:"
            )
        lines = [header]
        for layer, what, fix in self.problems:
            where = "" if layer is None else f"{describe(layer)}: "
            lines.append(f"  - {where}{what}.")
            if fix:
                lines.append(f"    Fix: {fix}.")
        super().__init__("\n".join(lines))


def describe(op):
    """``"layer 'dense_1' (Dense)"`` for error messages."""
    kind = "layer" if hasattr(op, "weights") else "operation"
    return f"{kind} {getattr(op, 'name', op)!r} ({type(op).__name__})"


class Unsupported(Exception):
    """Raised by a converter for a layer configuration it cannot convert.

    The conversion then falls back to a Keras-computing Node (if allowed) or
    reports the layer in the final `~nengo_keras.ConversionError`.
    """

    def __init__(self, what, fix=None):
        super().__init__(what)
        self.what = what
        self.fix = fix
