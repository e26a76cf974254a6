"""The ``nengo-keras`` command (also ``python -m nengo_keras``).

::

    nengo-keras inspect  MODEL.keras [--swap relu=SpikingRectifiedLinear] [--tiers neural]
    nengo-keras convert  MODEL.keras -o NET.pkl [--nir NET.nir]
    nengo-keras evaluate MODEL.keras --data DATA.npz --steps 100 [--plots DIR]

Exit status: 0 on success, 1 when the model cannot be converted, exported or
evaluated as asked (the message lists every problem), 2 for bad command lines
and files that are missing or not what they should be.
"""

from __future__ import annotations

import argparse
import ast
import os
import pathlib
import pickle
import sys

import nengo
import numpy as np

from . import to_nengo
from .errors import ConversionError
from .run.evaluation import evaluate

EPILOG = "Exit status: 0 success, 1 conversion/export/evaluation failed, 2 bad usage or files."


class UsageError(Exception):
    """A problem with the command line or its files (exit status 2)."""


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the
    exit status.

    Examples
    --------
    >>> from nengo_keras.cli import main
    >>> status = main(["inspect", "model.keras", "--swap", "relu=SpikingRectifiedLinear"])
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as e:
        parser.exit(2, f"nengo-keras {args.command}: error: {e}\n")
    except ConversionError as e:
        print(f"nengo-keras {args.command}: {e}", file=sys.stderr)
        return 1


def _parser():
    parser = argparse.ArgumentParser(
        prog="nengo-keras",
        description="Convert Keras models into Nengo networks, inspect, evaluate "
        "and export them to NIR.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = sub.add_parser(
        "inspect", help="what every layer becomes (tier, converter, neurons)",
        description="Convert MODEL and print the per-layer report, the totals, and "
        "whether the network is neural-only and exportable to NIR.", epilog=EPILOG,
    )
    _conversion_options(inspect)
    inspect.set_defaults(run=_inspect)

    convert = sub.add_parser(
        "convert", help="write the Nengo network (pickle) and/or a NIR file",
        description="Convert MODEL and write the Nengo network as a pickle "
        "(-o) and/or the spiking network as a NIR file (--nir).", epilog=EPILOG,
    )
    _conversion_options(convert)
    convert.add_argument("-o", "--output", type=pathlib.Path, metavar="NET.pkl",
                         help="write the nengo.Network here (pickle)")
    convert.add_argument("--nir", type=pathlib.Path, metavar="NET.nir",
                         help="write a NIR graph here (needs nengo-keras[nir])")
    convert.add_argument("--time-unit", choices=("s", "step"), default="s",
                         help="NIR time unit: seconds, or steps of dt (default: s)")
    convert.set_defaults(run=_convert)

    ev = sub.add_parser(
        "evaluate", help="accuracy per step, firing rates, synaptic operations",
        description="Convert MODEL and run it on the samples of DATA.npz (arrays "
        "'x' and optionally 'y': integer or one-hot labels).", epilog=EPILOG,
    )
    _conversion_options(ev)
    ev.add_argument("--data", type=pathlib.Path, required=True, metavar="DATA.npz")
    ev.add_argument("--steps", type=_positive_int, default=100,
                    help="steps per sample (default: 100)")
    ev.add_argument("--limit", type=_positive_int, help="use the first LIMIT samples")
    ev.add_argument("--engine", metavar="NAME",
                    help="simulator: omit for nengo.Simulator; 'nengo_dl' or "
                    "another engine name nengo_keras knows")
    ev.add_argument("--workers", type=_positive_int,
                    help="parallel worker processes (default: one per CPU; 1 runs here)")
    ev.add_argument("--plots", type=pathlib.Path, metavar="DIR",
                    help="save accuracy.png, rates.png and outputs.png here")
    ev.set_defaults(run=_evaluate)
    return parser


def _conversion_options(p):
    p.add_argument("model", type=pathlib.Path, metavar="MODEL.keras",
                   help="a model saved with model.save('....keras')")
    p.add_argument("--swap", action="append", default=[], metavar="ACT=NEURON",
                   help="replace an activation by a Nengo neuron type, e.g. "
                   "relu=SpikingRectifiedLinear or 'relu=LIF(tau_ref=0)' (repeatable)")
    p.add_argument("--scale", type=_positive_float, metavar="FACTOR",
                   help="scale_firing_rates: multiply neuron inputs, divide outputs")
    p.add_argument("--synapse", type=_nonnegative_float, metavar="SECONDS",
                   help="lowpass synapse time constant on connections leaving neurons")
    p.add_argument("--tiers", type=_tiers, default=("neural", "node", "fallback"),
                   help="allowed tiers, comma-separated, e.g. 'neural' to list "
                   "every layer that needs a Node (default: all)")


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _nonnegative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _tiers(text):
    tiers = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [t for t in tiers if t not in ("neural", "node", "fallback")]
    if bad or not tiers:
        raise argparse.ArgumentTypeError(
            f"unknown tier(s) {bad or text!r}; choose from neural, node, fallback"
        )
    return tiers


def parse_swap(text):
    """``"relu=LIF(tau_ref=0)"`` -> ``("relu", nengo.LIF(tau_ref=0))``."""
    activation, sep, spec = text.partition("=")
    if not sep or not activation.strip() or not spec.strip():
        raise UsageError(f"--swap {text!r}: expected ACTIVATION=NEURON, e.g. relu=LIF")
    name, _, rest = spec.strip().partition("(")
    cls = getattr(nengo.neurons, name.strip(), None)
    if not (isinstance(cls, type) and issubclass(cls, nengo.neurons.NeuronType)):
        known = sorted(
            n for n, c in vars(nengo.neurons).items()
            if isinstance(c, type) and issubclass(c, nengo.neurons.NeuronType)
            and not n.startswith("_") and c is not nengo.neurons.NeuronType
        )
        raise UsageError(
            f"--swap {text!r}: {name.strip()!r} is not a Nengo neuron type; "
            f"choose from {', '.join(known)}"
        )
    kwargs = {}
    if rest:
        try:
            call = ast.parse(f"f({rest}", mode="eval").body
            kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            if call.args:
                raise ValueError("positional arguments")
        except (SyntaxError, ValueError) as e:
            raise UsageError(
                f"--swap {text!r}: parameters must be keyword=number, e.g. "
                f"LIF(tau_ref=0) ({e})"
            ) from None
    try:
        return activation.strip(), cls(**kwargs)
    except Exception as e:
        raise UsageError(f"--swap {text!r}: {e}") from None


def load_model(path):
    """Load a saved Keras model, with usage errors for missing or foreign files."""
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir() or path.suffix not in (".keras", ".h5", ".hdf5"):
        raise UsageError(
            f"{path}: not a Keras model file (expected MODEL.keras, saved with "
            f"model.save('model.keras'))"
        )
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as e:
        raise UsageError(f"{path}: cannot be loaded as a Keras model: {e}") from None


def _convert_model(args):
    model = load_model(args.model)
    swaps = dict(parse_swap(s) for s in args.swap)
    return to_nengo(
        model,
        swap_activations=swaps or None,
        scale_firing_rates=args.scale,
        synapse=args.synapse or None,
        tiers=args.tiers,
    )


def _inspect(args):
    result = _convert_model(args)
    print(result.summary())
    print()
    neural = all(r.tier == "neural" for r in result.report)
    print(f"neural-only: {'yes' if neural else 'no'}")
    print(f"NIR-exportable: {_exportable(result)}")
    return 0


def _exportable(result):
    try:
        from .nir import check_network
    except ImportError:
        return "unknown (pip install 'nengo-keras[nir]')"
    problems = check_network(result)
    if not problems:
        return "yes"
    lines = [f"no ({len(problems)} problems)"]
    lines += [f"  - {where}: {what}" for where, what, _ in problems]
    return "\n".join(lines)


def _convert(args):
    if args.output is None and args.nir is None:
        raise UsageError("nothing to write: give -o NET.pkl and/or --nir NET.nir")
    for path in (args.output, args.nir):
        if path is not None and not path.parent.exists():
            raise UsageError(f"{path}: folder {path.parent} does not exist")
    result = _convert_model(args)
    if args.nir is not None:
        try:
            from . import nir as nk_nir
        except ImportError as e:
            raise UsageError(str(e)) from None
        nk_nir.write(result, args.nir, time_unit=args.time_unit)
        print(f"wrote {args.nir} (NIR, dt={result.dt or 0.001:g} s, time unit {args.time_unit})")
    if args.output is not None:
        try:
            with open(args.output, "wb") as f:
                pickle.dump(result.net, f)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            os.remove(args.output)
            print(
                f"nengo-keras convert: the network cannot be pickled ({e}); layers "
                f"that run Keras in a Node (fallback tier) hold unpicklable objects: "
                f"convert with --tiers neural,node to find them", file=sys.stderr,
            )
            return 1
        print(f"wrote {args.output} (nengo.Network, {result.n_neurons} neurons)")
    return 0


def load_data(path, limit=None):
    """``(x, y or None)`` from a ``.npz`` file holding ``x`` (and ``y``)."""
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False)
        keys = list(data.keys())
    except Exception as e:
        raise UsageError(f"{path}: not a NumPy .npz file ({e})") from None
    if "x" not in keys:
        raise UsageError(
            f"{path}: no array 'x' (it has {keys}); save with np.savez(path, x=..., y=...)"
        )
    x = data["x"][:limit]
    y = data["y"][:limit] if "y" in keys else None
    return x, y


def _evaluate(args):
    x, y = load_data(args.data, args.limit)
    if args.plots is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError(
                "--plots needs matplotlib (pip install 'nengo-keras[plots]')"
            ) from None
        args.plots.mkdir(parents=True, exist_ok=True)
    result = _convert_model(args)
    executor = "serial" if args.workers == 1 else None
    try:
        res = evaluate(
            result, x, y, n_steps=args.steps, simulator=args.engine,
            executor=executor, n_workers=args.workers, progress_bar=False,
        )
    except (ValueError, TypeError) as e:
        print(f"nengo-keras evaluate: {e}", file=sys.stderr)
        return 1
    print(res.summary())
    if res.accuracy is not None:
        print()
        print(_accuracy_table(res.accuracy, res.dt))
    if args.plots is not None:
        _save_plots(res, args.plots)
    return 0


def _accuracy_table(accuracy, dt, rows=10):
    n = len(accuracy)
    steps = sorted({max(1, round(n * (i + 1) / rows)) for i in range(min(rows, n))})
    lines = ["step  time (ms)  accuracy"]
    lines += [f"{s:4d}  {s * dt * 1000:9g}  {accuracy[s - 1]:.4f}" for s in steps]
    return "\n".join(lines)


def _save_plots(res, folder):
    from .run import plots

    figures = {"outputs.png": plots.plot_outputs(res)}
    if res.accuracy is not None:
        figures["accuracy.png"] = plots.plot_accuracy([res])
    if res.layers:
        figures["rates.png"] = plots.plot_rates(res)
    for name, fig in figures.items():
        fig.savefig(folder / name)
        print(f"wrote {folder / name}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
