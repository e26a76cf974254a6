"""Checks of the arguments of `ConvertedModel.run`, ``predict``, ``verify``,
``present`` and `nengo_keras.evaluate`.

They run first, so a bad argument fails with a message that names it (and
says how to fix it) before any simulator is built or any step is run.

Non-finite input data is refused rather than propagated: a Nengo Node cannot
output NaN or inf (the reference simulator stops mid-run), so where Keras would
return NaN for the affected samples, these functions raise a ``ValueError``
naming the input and the first affected sample.
"""

from __future__ import annotations

import inspect
import numbers

import keras
import nengo
import numpy as np

from ..conversion import graph as kg
from ..conversion.options import check_keywords, keyword_names
from .simulation import engine_for


def check_run_arguments(result, caller, x, n_steps=1, dt=None, simulator=None,
                        sim_kwargs=(), own=(), seed=None, probes=None, counts=None):
    """Check everything a run of ``result`` is given; raise on the first problem.

    Parameters
    ----------
    result : ConvertedModel
    caller : str
        The public function's name, used in the messages.
    x, n_steps, dt, simulator, seed, probes
        As passed to the public function (``dt=None``: the default).
    sim_kwargs : dict
        The extra keyword arguments meant for the simulator.
    own : tuple of callables
        The public functions whose keyword arguments ``sim_kwargs`` may
        misspell (for the "did you mean" hint).
    counts : dict, optional
        ``{name: value}`` of arguments that must be None or an int >= 1
        (``n_workers``, ``chunk_size``, ``minibatch_size``).
    """
    check_simulator(caller, simulator)
    check_sim_keywords(caller, sim_kwargs, own, simulator)
    check_n_steps(caller, n_steps)
    if dt is not None:
        check_dt(caller, dt)
    for name, value in (counts or {}).items():
        if value is not None:
            _check_count(caller, name, value)
    check_seed(caller, seed)
    check_probes(caller, probes)
    check_inputs(result, caller, x)


def check_simulator(caller, simulator):
    """None, a simulator class, or a name an engine claims (``"nengo_dl"``)."""
    if simulator is None or engine_for(simulator) is not None:
        return
    if isinstance(simulator, str) or not callable(simulator):
        raise TypeError(
            f"{caller}: simulator={simulator!r} is not a simulator class; pass a class "
            f"such as nengo.Simulator (not an instance), or 'nengo_dl' with the "
            f"nengo-dl extra installed"
        )


def check_seed(caller, seed):
    """None or an int."""
    if seed is None:
        return
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{caller}: seed must be an int or None, got {seed!r}; pass e.g. seed=0"
        )


def check_probes(caller, probes):
    """None or a list of `nengo.Probe` objects."""
    if probes is None:
        return
    if isinstance(probes, nengo.Probe):
        raise TypeError(
            f"{caller}: probes must be a list of nengo.Probe objects; pass probes=[probe]"
        )
    for p in probes:
        if not isinstance(p, nengo.Probe):
            raise TypeError(
                f"{caller}: probes must be nengo.Probe objects, got {p!r}; make one on "
                f"any layer with result.probe(name) (or nengo.Probe(result.layers[name]))"
            )


def _check_count(caller, name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{caller}: {name} must be an int >= 1 or None, got {value!r}")
    if value < 1:
        raise ValueError(
            f"{caller}: {name}={value}, but it must be at least 1 (or None for the "
            f"default)"
        )


def check_output(result, caller, output):
    """``output`` (if given) names one of the model outputs."""
    if output is None or output in result.outputs:
        return
    names = [tensor_name(kt) for kt in result.outputs]
    raise ValueError(
        f"{caller}: output={getattr(output, 'name', output)!r} matches no model output; "
        f"the outputs are {names} (pass one of these names, or the output tensor)"
    )


def check_sim_keywords(caller, sim_kwargs, own, simulator):
    """A misspelled keyword argument fails here, not inside the simulator."""
    params = _simulator_params(simulator)
    if params is None:  # the simulator takes any keyword: nothing to check
        return
    known = keyword_names(*own) + params
    sim = getattr(simulator, "__name__", "nengo.Simulator")
    extra = f"; other keyword arguments go to the simulator ({sim})" if params else ""
    check_keywords(caller, sim_kwargs, known, extra)


def _simulator_params(simulator):
    """Keyword arguments the simulator class takes beyond those every run
    passes itself, or None if unknown (another engine, or ``**kwargs``)."""
    if simulator is None:
        simulator = nengo.Simulator
    if not isinstance(simulator, type) or engine_for(simulator) is not None:
        return None
    try:
        sig = inspect.signature(simulator.__init__)
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return [n for n in keyword_names(simulator.__init__)
            if n not in ("network", "dt", "seed", "progress_bar")]


def check_n_steps(caller, n_steps):
    """``n_steps`` must be an integer >= 1."""
    if isinstance(n_steps, (bool, np.bool_)) or not isinstance(n_steps, numbers.Integral):
        try:
            hint = f" (e.g. n_steps={max(1, round(float(n_steps)))})"
        except (TypeError, ValueError):
            hint = ""
        raise TypeError(
            f"{caller}: n_steps must be a whole number of simulation steps >= 1, got "
            f"{n_steps!r} ({type(n_steps).__name__}); pass an int{hint}"
        )
    if n_steps < 1:
        raise ValueError(
            f"{caller}: n_steps={int(n_steps)}, but every sample needs at least one "
            f"simulation step; pass n_steps >= 1"
        )


def check_dt(caller, dt):
    """``dt`` must be a finite number of seconds > 0."""
    if isinstance(dt, (bool, np.bool_)) or not isinstance(dt, numbers.Real):
        raise TypeError(
            f"{caller}: dt must be the simulator time step in seconds, got {dt!r}; "
            f"pass e.g. dt=0.001"
        )
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(
            f"{caller}: dt={dt!r}, but the simulator time step must be a finite number "
            f"of seconds > 0; pass e.g. dt=0.001 (or leave dt out for the default)"
        )


def tensor_name(kt):
    """The name users know a model input or output by: its layer's name."""
    history = kg.producer(kt)
    return history[0].name if history else kt.name


def check_inputs(result, caller, x):
    """Check the input data: count, names, shapes, batch sizes, finiteness."""
    keys = list(result.inputs)
    names = [tensor_name(kt) for kt in keys]
    arrays = _arrange(result, caller, x, keys, names)
    batches = {}
    for kt, name, data in zip(keys, names, arrays):
        array = _numeric(caller, name, data)
        _check_shape(caller, name, array, result.shape_of(kt))
        _check_finite(caller, name, array)
        batches[name] = array.shape[0]
    if len(set(batches.values())) > 1:
        raise ValueError(
            f"{caller}: the inputs have different numbers of samples {batches}; give "
            f"every input the same batch size"
        )


def _arrange(result, caller, x, keys, names):
    """The data of each input, in model input order."""
    if isinstance(x, dict):
        arrays = [None] * len(keys)
        for key, data in x.items():
            try:
                kt = result.inputs._resolve(key)
            except KeyError:
                raise ValueError(
                    f"{caller}: x has the key {getattr(key, 'name', key)!r}, which "
                    f"names no model input; the inputs are {names}. Key the dict by "
                    f"these names (or pass a list in this order)"
                ) from None
            arrays[keys.index(kt)] = data
        missing = [n for n, a in zip(names, arrays) if a is None]
        if missing:
            raise ValueError(
                f"{caller}: x gives no data for the model inputs {missing}; the "
                f"inputs are {names}"
            )
        return arrays
    arrays = list(x) if isinstance(x, (list, tuple)) else [x]
    if len(arrays) != len(keys):
        given = (
            f"a list of {len(arrays)} array(s)" if isinstance(x, (list, tuple))
            else "a single array"
        )
        hint = (
            "; for one input pass a single array shaped (batch, ...) (np.stack the "
            "samples)" if len(keys) == 1 else ""
        )
        raise ValueError(
            f"{caller}: the model has {len(keys)} input(s) {names}, but x is {given}; "
            f"pass a list in model input order or a dict keyed by input name{hint}"
        )
    return arrays


def _numeric(caller, name, data):
    if not isinstance(data, np.ndarray) and keras.ops.is_tensor(data):
        data = keras.ops.convert_to_numpy(data)
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{caller}: input {name!r} must be numeric, got an array of "
                f"{array.dtype} (e.g. {array.ravel()[:1]!r})"
            ) from None
    return array


def _check_shape(caller, name, array, shape):
    expected = (
        f"(batch, {', '.join(map(str, shape))}) or (batch, n_steps, "
        f"{', '.join(map(str, shape))})"
    ).replace(", )", ")")
    if array.ndim == 0:
        raise ValueError(
            f"{caller}: input {name!r} is a scalar ({array.item()!r}); expected an "
            f"array shaped {expected}"
        )
    if array.shape[1:] == shape or array.shape[2:] == shape:
        if array.shape[0] == 0:
            raise ValueError(
                f"{caller}: input {name!r} has no samples (shape {array.shape}); pass "
                f"at least one sample"
            )
        if array.shape[1:] != shape and array.shape[1] == 0:
            raise ValueError(
                f"{caller}: input {name!r} has 0 time steps (shape {array.shape}); "
                f"pass at least one step"
            )
        return
    hint = ""
    if array.shape == shape:
        hint = "; it looks like one sample without the batch axis: pass x[None]"
    raise ValueError(
        f"{caller}: input {name!r} expects data shaped {expected}, got "
        f"{array.shape}{hint}"
    )


def _check_finite(caller, name, array):
    if array.dtype.kind != "f":
        return
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    per_sample = bad.reshape(len(array), -1).any(axis=1)
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    kind = "NaN" if np.isnan(array[first]) else "inf"
    raise ValueError(
        f"{caller}: input {name!r} has non-finite values in {int(per_sample.sum())} "
        f"sample(s), first in sample {first[0]} ({kind} at index {first}). Nengo "
        f"cannot simulate NaN or inf (Keras would return NaN for those samples); "
        f"replace them (e.g. np.nan_to_num(x)) or drop those samples"
    )
