"""`ConvertedModel`: what `nengo_keras.to_nengo` returns."""

from __future__ import annotations

import collections
import collections.abc
import contextlib
import difflib
import numbers
import warnings

import keras
import nengo
import numpy as np

from . import graph as kg
from .registry import hooks
from .values import Value


class TensorMap(collections.abc.Mapping):
    """Maps Keras tensors to Nengo objects; also accepts layers and names.

    A key may be a KerasTensor, a layer called once (its output), or a name
    (layer name or tensor name). Iterating yields the KerasTensors.
    """

    def __init__(self, items, make=None):
        self._index(list(items), make)

    def __getstate__(self):
        # keyed by id(): a pickled copy has new tensors, so store the pairs
        pairs = [(self._tensors[k], item) for k, item in self._items.items()]
        return {"pairs": pairs, "make": self._make}

    def __setstate__(self, state):
        self._index(state["pairs"], state["make"])

    def _index(self, items, make):
        self._items = collections.OrderedDict()
        self._tensors = {}
        self._by_layer = collections.defaultdict(list)
        self._by_name = collections.defaultdict(list)
        self._make = make
        for kt, item in items:
            self._items[id(kt)] = item
            self._tensors[id(kt)] = kt
            history = kg.producer(kt)
            if history is not None:
                self._by_layer[id(history[0])].append(kt)
                self._by_name[history[0].name].append(kt)
            self._by_name[kt.name].append(kt)

    def _resolve(self, key):
        if isinstance(key, keras.KerasTensor):
            if id(key) in self._items:
                return key
            raise KeyError(f"{key} is not a tensor of the converted graph")
        if isinstance(key, str):
            found = self._by_name.get(key, [])
            what = f"name {key!r}"
        else:
            found = self._by_layer.get(id(key), [])
            what = f"layer {getattr(key, 'name', key)!r}"
        unique = list({id(t): t for t in found}.values())
        if len(unique) == 1:
            return unique[0]
        if not unique:
            close = difflib.get_close_matches(str(key), list(self._by_name), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"no tensor of the converted graph matches {what}{hint}")
        raise KeyError(
            f"{what} has {len(unique)} output tensors (a shared layer or several "
            f"outputs); index with the Keras tensor instead"
        )

    def __getitem__(self, key):
        kt = self._resolve(key)
        item = self._items[id(kt)]
        return item if self._make is None else self._make(item)

    def __iter__(self):
        return iter(self._tensors.values())

    def __len__(self):
        return len(self._items)

    def __contains__(self, key):
        try:
            self._resolve(key)
        except KeyError:
            return False
        return True


class ConvertedModel:
    """A Keras model converted to Nengo (returned by `nengo_keras.to_nengo`).

    Attributes
    ----------
    net : nengo.Network
        The Nengo network; runs in any Nengo simulator.
    model : keras.Model
        The converted Keras model (unchanged).
    inputs : TensorMap
        Keras input tensor / layer / name -> input `nengo.Node`.
    outputs : TensorMap
        Keras output tensor / layer / name -> `nengo.Probe` on that output.
    layers : TensorMap
        Any tensor of the graph -> the Nengo object computing it (a
        pass-through Node is added to ``net`` on first access if the tensor
        was fused into its consumers).
    report : list of LayerReport
        What every layer call became (tier, converter, neurons).
    conversion_time : float
        Seconds taken by the conversion.
    firing_rates : nengo_keras.calibration.RateTable or None
        Per-layer firing-rate scales and expected rates when
        ``scale_firing_rates`` was calibrated from data (None otherwise).
    temporal : bool
        Whether axis 1 of the Keras inputs is Nengo time (see `to_nengo`).
    dt : float or None
        The time step of the model's `nengo_keras.layers` (spiking and synapse
        layers); `run` uses it by default.

    A ConvertedModel pickles (with its Keras model); the copy runs, verifies
    and looks tensors up by name as the original does.

    Examples
    --------
    >>> result = nengo_keras.to_nengo(model)
    >>> out = result.run(x_test[:5], n_steps=1)  # shape (5, 1, *output_shape)
    >>> print(result.summary())
    """

    def __init__(
        self, net, model, inputs, outputs, values, report, context, conversion_time,
        input_structure=None, output_structure=None,
    ):
        self.net = net
        self.model = model
        self.inputs = TensorMap(inputs)
        self.outputs = TensorMap(outputs)
        self.layers = TensorMap(
            [(kt, value) for kt, value, _ in values] + [(kt, n) for kt, n in inputs],
            make=self._object_of,
        )
        self.report = report
        self.options = context.options
        self.conversion_time = conversion_time
        self.firing_rates = None
        self.temporal = context.time is not None
        self.dt = getattr(context, "dt", None)
        self._ctx = context
        self._input_structure = input_structure
        # one (tensor, probe) per output position (a tensor may repeat), and
        # how the model returns them
        self._output_list = list(outputs)
        self._output_structure = output_structure

    def __getstate__(self):
        state = dict(self.__dict__)
        time = self._ctx.time
        if time is not None:  # ids of tensors; a pickled copy has new tensors
            state["_timed_tensors"] = [kt for kt in self.layers if id(kt) in time.timed]
        return state

    def __setstate__(self, state):
        timed = state.pop("_timed_tensors", None)
        self.__dict__.update(state)
        if timed is not None:
            self._ctx.time.timed = {id(kt) for kt in timed}

    def shape_of(self, key):
        """Shape of a tensor's Nengo value: without the batch axis (and without
        the time axis in a temporal model). ``key`` as in ``layers``."""
        return self._ctx.shape_of(self.layers._resolve(key))

    def _timed(self, kt):
        return self.temporal and id(kt) in self._ctx.time.timed

    def _object_of(self, value):
        if not isinstance(value, Value):
            return value
        with self.net:
            return self._ctx.materialize(value, label="layer output")

    # --- reporting ----------------------------------------------------------

    def tier_summary(self):
        """Share of layers and neurons per tier.

        Returns
        -------
        dict
            ``{tier: {"layers": int, "neurons": int}}`` for every tier present.
        """
        summary = {}
        for r in self.report:
            entry = summary.setdefault(r.tier, {"layers": 0, "neurons": 0})
            entry["layers"] += 1
            entry["neurons"] += r.n_neurons
        return summary

    @property
    def n_neurons(self):
        """Total number of neurons in the network (int)."""
        return sum(r.n_neurons for r in self.report)

    def summary(self):
        """A table of the per-layer report, as a string."""
        rows = [("layer", "type", "tier", "neurons", "nodes", "converter")]
        for r in self.report:
            name = f"{r.path}/{r.name}" if r.path else r.name
            rows.append(
                (name, r.type, r.tier, str(r.n_neurons), str(r.n_nodes), r.converter)
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "-" * len(lines[0]))
        n_layers, n_neurons = max(len(self.report), 1), max(self.n_neurons, 1)
        lines.append("")
        lines.append(f"{len(self.report)} layer calls, {self.n_neurons} neurons:")
        for tier, v in self.tier_summary().items():
            lines.append(
                f"  {tier:8s} {v['layers']:5d} layers ({v['layers'] / n_layers:6.1%}), "
                f"{v['neurons']:9d} neurons ({v['neurons'] / n_neurons:6.1%})"
            )
        return "\n".join(lines)

    def to_nir(self, **kwargs):
        """The network as a `nir.NIRGraph` (optional extra ``nengo-keras[nir]``).

        Same as ``nengo_keras.nir.to_nir(self, **kwargs)``; raises
        `nengo_keras.nir.NIRExportError` listing every layer NIR cannot express.

        Examples
        --------
        >>> graph = spiking.to_nir()
        >>> nir.write("net.nir", graph)
        """
        found = hooks("to_nir")  # plugged in by nengo_keras.nir, which sits above
        if not found:
            raise ImportError(
                "ConvertedModel.to_nir needs the `nir` package (the optional extra "
                "nengo-keras[nir]): pip install 'nengo-keras[nir]'"
            )
        return found[-1](self, **kwargs)

    # --- running ----------------------------------------------------------------

    def probe(self, key, synapse=None):
        """Add a `nengo.Probe` on any tensor of the graph (see ``layers``)."""
        obj = self.layers[key]
        with self.net:
            return nengo.Probe(obj, synapse=synapse)

    def run(
        self,
        x,
        n_steps=1,
        *,
        dt=None,
        simulator=None,
        probes=None,
        progress_bar=False,
        seed=None,
        executor=None,
        n_workers=None,
        minibatch_size=None,
        **sim_kwargs,
    ):
        """Run a batch of inputs through the network, one sample at a time.

        Parameters
        ----------
        x : array or list or dict
            Input data, shaped ``(batch, *input_shape)`` (presented constantly)
            or ``(batch, n_steps, *input_shape)`` (one row per step). Several
            inputs: a list in model input order or a dict keyed like ``inputs``.
        n_steps : int
            Steps per sample (ignored for time-varying input, whose length counts).
        dt : float, optional
            Simulator time step (default: the model's ``dt``, else 0.001). A
            model with spiking or synapse layers matches Keras only at the
            ``dt`` of its layers.
        simulator : type or "keras" or "nengo_dl", optional
            Simulator class (default `nengo.Simulator`, built with
            ``optimize=False``, which builds large converted networks many times
            faster at the same speed per step); any Nengo backend works.
            ``"keras"`` runs the operators Nengo builds on whole minibatches,
            compiled, on the active Keras backend (`nengo_keras.run.keras_engine`).
            ``"nengo_dl"`` runs `nengo_dl.Simulator` in minibatches (optional
            extra: ``pip install nengo-keras[nengo-dl]``).
        probes : list, optional
            Probes to return instead of the model outputs.
        progress_bar : bool
            Show a progress bar over samples (needs ``tqdm``).
        seed : int, optional
            Seed of the build; sample ``i`` runs with seed ``seed + 1 + i``.
        executor : None, str or concurrent.futures.Executor
            Where the reference simulator's samples run: None or ``"serial"``
            (here), ``"auto"`` (processes only where they pay), ``"threads"``,
            ``"processes"`` or any Executor (see `nengo_keras.evaluate`).
        n_workers : int, optional
            Number of parallel workers (default: the number of CPUs).
        minibatch_size : int, optional
            Minibatch size for ``simulator="keras"`` and ``"nengo_dl"``.
        sim_kwargs
            Passed to the simulator.

        Returns
        -------
        array or list or dict of arrays
            One array per output, shaped ``(batch, n_steps, *shape)``, in the
            structure the Keras model returns them (one array, a list, a dict
            with the same keys...); with ``probes``, one array per probe
            (a list if several).
        """
        _service("check_run_arguments")(
            self, "run", x, n_steps, dt, simulator, sim_kwargs, own=(ConvertedModel.run,),
            seed=seed, probes=probes,
            counts={"n_workers": n_workers, "minibatch_size": minibatch_size},
        )
        outs = self._run_flat(
            x, n_steps, dt=dt, simulator=simulator, probes=probes,
            progress_bar=progress_bar, seed=seed, executor=executor,
            n_workers=n_workers, minibatch_size=minibatch_size, **sim_kwargs,
        )
        if probes is not None:
            return outs if len(outs) > 1 else outs[0]
        return self._as_keras_returns(outs)

    def _as_keras_returns(self, flat):
        """One array per output position, arranged as ``model.predict`` returns them."""
        if self._output_structure is None:
            return flat if len(flat) > 1 else flat[0]
        packed = _plain(keras.tree.pack_sequence_as(self._output_structure, list(flat)))
        if keras.backend.backend() == "jax":
            # Keras on JAX returns dicts as JAX pytrees rebuild them: keys sorted
            packed = _sorted_dicts(packed)
        # a Functional model returns a list or tuple of one as its element
        return packed[0] if isinstance(packed, (list, tuple)) and len(packed) == 1 else packed

    def _run_flat(self, x, n_steps=1, *, dt=None, probes=None, **kwargs):
        """`run`, returning a flat list: one array per output position (or probe)."""
        run_batch = _service("run_batch")

        if dt is None:
            dt = 0.001 if self.dt is None else self.dt
        elif self.dt is not None and dt != self.dt:
            warnings.warn(
                f"running with dt={dt}, but the model's layers use dt={self.dt}; "
                f"the outputs will differ from Keras",
                UserWarning,
                stacklevel=3,
            )
        out = run_batch(self, x, n_steps=n_steps, dt=dt, probes=probes, **kwargs)
        return out if isinstance(out, list) else [out]

    def evaluate(self, x, y=None, n_steps=1, **kwargs):
        """Accuracy per step, firing rates and synaptic operations on a dataset.

        Same as ``nengo_keras.evaluate(self, x, y, n_steps, **kwargs)``.

        Examples
        --------
        >>> res = result.evaluate(x_test, y_test, n_steps=50, n_workers=4)
        >>> res.accuracy[-1]
        """
        evaluate = _service("evaluate")

        return evaluate(self, x, y, n_steps, **kwargs)

    def present(self, x, dt=None):
        """Feed one sample to the input Nodes, for your own simulation loop.

        The input Nodes output zeros until given data. ``run``, ``predict``
        and ``evaluate`` feed them themselves; use this when you build the
        simulator yourself (any Nengo backend that runs Node functions).

        Parameters
        ----------
        x : array or list or dict or None
            One sample per model input, shaped like the input without batch
            axis (held constant) or ``(n_steps, *shape)`` (one row per step,
            the last row held after that). Several inputs: a list in model
            input order or a dict keyed like ``inputs``. None: back to zeros.
        dt : float, optional
            The simulator's time step (default: the model's, else 0.001).

        Examples
        --------
        >>> result.present(x_test[0])
        >>> with nengo.Simulator(result.net) as sim:
        ...     sim.run_steps(50)
        >>> result.present(None)
        """
        prepare_inputs = _service("prepare_inputs")

        if dt is not None:
            _service("check_dt")("present", dt)
        dt = (0.001 if self.dt is None else self.dt) if dt is None else dt
        feeds = [node.output for node in self.inputs.values()]
        if x is None:
            for feed in feeds:
                feed.set(None, dt)
            return
        if isinstance(x, dict):
            batched = {k: np.asarray(v)[None] for k, v in x.items()}
        elif isinstance(x, (list, tuple)):
            batched = [np.asarray(v)[None] for v in x]
        else:
            batched = np.asarray(x)[None]
        _service("check_inputs")(self, "present", batched)
        data, _ = prepare_inputs(self, batched, 1)
        for feed, flat in zip(feeds, data):
            feed.set(flat[0], dt)

    def predict(self, x, n_steps=1, **kwargs):
        """The outputs as ``model.predict`` gives them: the last step,
        ``(batch, *output_shape)`` (in a temporal model, outputs with a time axis
        are whole sequences, ``(batch, n_steps, *shape)``)."""
        if kwargs.get("probes") is not None:
            raise TypeError("predict returns the model outputs; use run(probes=...)")
        _service("check_run_arguments")(
            self, "predict", x, n_steps, kwargs.get("dt"), kwargs.get("simulator"),
            kwargs, own=(ConvertedModel.predict, ConvertedModel.run),
            seed=kwargs.get("seed"), probes=None,
            counts={k: kwargs.get(k) for k in ("n_workers", "minibatch_size")},
        )
        outs = self._run_flat(x, n_steps=n_steps, **kwargs)
        keys = [kt for kt, _ in self._output_list]
        outs = [o if self._timed(kt) else o[:, -1] for kt, o in zip(keys, outs)]
        return self._as_keras_returns(outs)

    def _keras_inputs(self, arrays):
        """``arrays`` (one per entry of `inputs`, in order) arranged as the Keras
        model takes them: one array, a list, or (for a subclassed model
        built on a dict) a dict."""
        if self._input_structure is not None:
            packed = keras.tree.pack_sequence_as(self._input_structure, list(arrays))
            # plain containers: JAX's jit refuses Keras' tracked lists and dicts
            return _plain(packed)
        return arrays if len(arrays) > 1 else arrays[0]

    def verify(self, inputs=None, atol=None, rtol=None, simulator=None):
        """Check that the network computes what the Keras model computes.

        Runs both on the same inputs (default: one uniform random sample in
        [0, 1), or of random 0s and 1s for integer inputs; in a temporal model a sequence of 10 steps, or as many as the
        model's inputs have) for one step (temporal: the whole sequence) and
        compares every output:
        ``max|nengo - keras| <= atol + rtol * max|keras|``, i.e. ``rtol`` is
        relative to the output's scale. By default ``atol=1e-5`` and
        ``rtol=1e-4``; a model that computes in ``float16`` or ``bfloat16``
        rounds far more in Keras, so there ``rtol`` defaults to 8 times the
        dtype's machine epsilon (about 0.008 and 0.06). The model's variables
        (e.g. the state of stateful layers) are left as they were.

        Returns
        -------
        True
            On success.

        Raises
        ------
        ValueError
            If they differ (with the largest difference), or if the network has
            spiking neurons or synapses that the Keras model does not have (in a
            model that is not temporal, any; in a temporal one, those added by
            the ``swap_activations``, ``synapse`` or ``scale_firing_rates``
            options).
        """
        check_verifiable = _service("check_verifiable")
        format_inputs = _service("format_inputs")

        check_verifiable(self)
        atol, rtol, note = tolerances(self.model, atol, rtol)
        if inputs is not None:
            _service("check_inputs")(self, "verify", inputs)
        if inputs is None:
            rng = np.random.default_rng(0)
            steps = []
            if self.temporal:
                steps = [next((kt.shape[1] for kt in self.inputs if kt.shape[1]), 10)]
            inputs = [_random_input(rng, kt, (1, *steps) + self.shape_of(kt))
                      for kt in self.inputs]
        arrays = format_inputs(self, inputs)
        with _variables_kept(self.model):  # stateful layers change their state
            expected = keras.tree.flatten(
                self.model.predict(self._keras_inputs(arrays), verbose=0)
            )
            got = self._run_flat(arrays, n_steps=1, simulator=simulator)
        keys = [kt for kt, _ in self._output_list]
        for kt, e, g in zip(keys, expected, got):
            e = np.asarray(e, dtype=np.float64)
            g = (g if self._timed(kt) else g[:, -1]).reshape(e.shape)
            err = np.max(np.abs(g - e)) if e.size else 0.0
            scale = np.max(np.abs(e)) if e.size else 0.0
            if not err <= atol + rtol * scale:
                raise ValueError(
                    f"Nengo output for {kt.name!r} differs from Keras: max |error| = "
                    f"{err:.3g}, output scale {scale:.3g} (atol={atol}, rtol={rtol})"
                    f"{note}"
                )
        return True


def _plain(structure):
    """``structure`` with Keras' tracked lists and dicts made plain ones."""
    if isinstance(structure, dict):
        return {k: _plain(v) for k, v in structure.items()}
    if isinstance(structure, tuple):
        return tuple(_plain(v) for v in structure)
    if isinstance(structure, list):
        return [_plain(v) for v in structure]
    return structure


def _sorted_dicts(structure):
    """``structure`` with the keys of every dict in sorted order."""
    if isinstance(structure, dict):
        return {k: _sorted_dicts(structure[k]) for k in sorted(structure)}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_sorted_dicts(v) for v in structure)
    return structure


def _service(name):
    """The function `nengo_keras.run` plugged in under ``name`` (running a
    network sits above the engine, which therefore does not import it)."""
    found = hooks(name)
    if not found:
        raise RuntimeError(
            f"no {name!r} runner is plugged in; import nengo_keras (its run "
            f"subpackage provides it)"
        )
    return found[-1]


# machine epsilon of the floating dtypes Keras computes in
_EPSILON = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-52}


def tolerances(model, atol=None, rtol=None):
    """``(atol, rtol, note)`` for `ConvertedModel.verify`: defaults that fit the
    least precise dtype the model computes in, and a note for the error
    message saying when that dtype explains a difference."""
    dtypes = {getattr(layer, "compute_dtype", None) for layer in kg.all_layers(model)}
    dtype = max((d for d in dtypes if d in _EPSILON), key=_EPSILON.get, default="float32")
    eps = _EPSILON[dtype]
    low = eps > _EPSILON["float32"]
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if tol is not None and not (isinstance(tol, numbers.Real) and 0 <= tol < np.inf):
            raise ValueError(
                f"verify: {name}={tol!r}, but tolerances are finite numbers >= 0 "
                f"(or None for the default)"
            )
    atol = 1e-5 if atol is None else atol
    rtol = (8 * eps if low else 1e-4) if rtol is None else rtol
    note = (
        f"; the model computes in {dtype} (machine epsilon {eps:.2g}), whose rounding "
        f"in Keras alone gives errors of that relative size: pass a larger rtol if "
        f"this is rounding" if low else ""
    )
    return atol, rtol, note


@contextlib.contextmanager
def _variables_kept(model):
    """Restore every variable of ``model`` to its value on entry."""
    saved = [(v, keras.ops.convert_to_numpy(v).copy()) for v in model.variables]
    try:
        yield
    finally:
        for v, value in saved:
            v.assign(value)


def _random_input(rng, tensor, shape):
    """``verify``'s default input for a Keras input tensor."""
    dtype = kg.integer_dtype(tensor.dtype)
    if dtype:
        return rng.integers(0, 2, size=shape).astype(dtype)  # valid for any lookup
    return rng.uniform(size=shape)
