"""Train a small digits classifier, convert it to rate and spiking Nengo
networks, evaluate both over time and save plots to ``examples/output/``.

Run from the repository root::

    python examples/evaluate_spiking.py [--n-test 360] [--n-steps 60] [--engine keras]

The networks run in the Keras engine (``simulator="keras"``): the operators
`nengo.Simulator` would run, on minibatches, compiled. The rate network's
results equal the reference simulator's to float32 rounding; spiking ones may
differ where a float32 voltage ties with a spike threshold (a spike a step
earlier or later). ``--engine reference`` runs `nengo.Simulator` instead
(``--workers N`` then spreads the samples over N processes).

It prints a summary of each evaluation (accuracy, firing rates and synaptic
operations per layer) and writes ``accuracy.png``, ``rates_*.png`` and
``outputs.png``.
"""

import argparse
import pathlib

import keras
import nengo
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import nengo_keras
from nengo_keras.run import plots

OUTPUT = pathlib.Path(__file__).parent / "output"


def train_model(x_train, y_train, epochs=30):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-test", type=int, default=360)
    parser.add_argument("--n-steps", type=int, default=60)
    parser.add_argument("--engine", choices=["keras", "reference"], default="keras")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for --engine reference")
    args = parser.parse_args()

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, random_state=0
    )
    x_test, y_test = x_test[: args.n_test], y_test[: args.n_test]
    model = train_model(x_train, y_train)
    _, keras_acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"Keras test accuracy: {keras_acc:.4f}")

    spiking = {"relu": nengo.SpikingRectifiedLinear()}
    networks = {
        "rate": nengo_keras.to_nengo(model),
        "spiking, x20 rates": nengo_keras.to_nengo(
            model, swap_activations=spiking, scale_firing_rates=20, synapse=0.005
        ),
        "spiking, x100 rates": nengo_keras.to_nengo(
            model, swap_activations=spiking, scale_firing_rates=100, synapse=0.005
        ),
    }
    if args.engine == "keras":
        engine = dict(simulator="keras", minibatch_size=64)
    else:
        engine = dict(n_workers=args.workers)
    results = {}
    for name, net in networks.items():
        res = nengo_keras.evaluate(
            net, x_test, y_test, n_steps=args.n_steps, seed=0, label=name, **engine
        )
        print(f"\n== {name} ==\n{res.summary()}")
        results[name] = res

    OUTPUT.mkdir(exist_ok=True)
    plots.plot_accuracy(results, chance=0.1).savefig(OUTPUT / "accuracy.png", dpi=120)
    for name, res in results.items():
        slug = name.split(",")[0] + ("".join(c for c in name if c.isdigit()))
        plots.plot_rates(res).savefig(OUTPUT / f"rates_{slug}.png", dpi=120)
    plots.plot_outputs(results["spiking, x100 rates"], sample=0).savefig(
        OUTPUT / "outputs.png", dpi=120
    )
    print(f"\nplots written to {OUTPUT}")


if __name__ == "__main__":
    main()
