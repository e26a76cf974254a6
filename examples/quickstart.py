"""Quick start: convert a Keras model to Nengo, run it, check it, make it spike.

Run it with ``python3 run.py demo`` (or ``python examples/quickstart.py`` in an
environment where nengo_keras is installed). It prints everything; there are
no plots. It takes well under a minute on a laptop.

Part 1 converts the small convolutional network of the NengoDL converter
guide (random weights), prints what each layer became, runs the converted
network in the reference ``nengo.Simulator`` and checks it against Keras.

Part 2 trains a small network on scikit-learn's 8x8 handwritten digits (a few
seconds), converts it, checks that the rate network is as accurate as Keras,
then swaps in spiking neurons and shows the spiking output approaching the
rate output (and its accuracy approaching Keras') as the simulation gets
longer. It is skipped if scikit-learn is not installed (``--no-train`` skips it
too).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import nengo  # noqa: E402
import numpy as np  # noqa: E402

import nengo_keras  # noqa: E402


def heading(text):
    print(f"\n{text}\n{'=' * len(text)}")


def seed_model():
    """The model of the NengoDL converter guide: Conv2D -> Flatten -> Dense."""
    inp = keras.Input(shape=(28, 28, 3))
    conv = keras.layers.Conv2D(filters=32, kernel_size=3, activation="relu")(inp)
    flat = keras.layers.Flatten()(conv)
    dense = keras.layers.Dense(units=10, activation="relu")(flat)
    return keras.Model(inputs=inp, outputs=dense)


def part1_convert_and_run():
    heading("1. Convert a Keras model and run it in nengo.Simulator")
    model = seed_model()
    result = nengo_keras.to_nengo(model)
    print(f"converted in {result.conversion_time:.2f} s; what each layer became:\n")
    print(result.summary())

    # The converted network is a plain nengo.Network: any simulator runs it.
    # Its input Node outputs zeros unless data is fed (see result.run below).
    with nengo.Simulator(result.net, progress_bar=False) as sim:
        sim.run_steps(10)
    print("\nnengo.Simulator, 10 steps of zero input, last output:")
    print(np.round(sim.data[result.outputs[model.output]][-1], 4))

    # run()/predict() present a batch of inputs, one sample at a time.
    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 3)).astype("float32")
    nengo_out = result.predict(x)
    keras_out = model.predict(x, verbose=0)
    print(
        "\npredict() on 3 random images: max |Nengo - Keras| = "
        f"{np.max(np.abs(nengo_out - keras_out)):.2g}"
    )
    print(f"verify(): {result.verify()}  (raises ValueError if they differ)")


def load_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]  # (1797, 8, 8, 1)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], digits.target[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def digits_model():
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(16, 3, activation="relu")(inp)
    h = keras.layers.AveragePooling2D(2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(64, activation="relu")(h)
    out = keras.layers.Dense(10)(h)
    return keras.Model(inp, out, name="digits")


def part2_trained(n_test):
    heading("2. A trained network (8x8 digits), rate and spiking")
    data = load_digits()
    if data is None:
        print("scikit-learn is not installed: skipping (pip install scikit-learn)")
        return
    (x_train, y_train), (x_test, y_test) = data
    x_test, y_test = x_test[:n_test], y_test[:n_test]
    keras.utils.set_random_seed(0)
    model = digits_model()
    model.compile(
        optimizer=keras.optimizers.Adam(0.003),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
    print(f"trained in {time.perf_counter() - start:.1f} s")

    def accuracy(scores):
        return np.mean(np.argmax(scores, axis=-1) == y_test)

    keras_acc = accuracy(model.predict(x_test, verbose=0))
    rate = nengo_keras.to_nengo(model)
    print(f"test accuracy, Keras:             {keras_acc:.3f}")
    print(f"test accuracy, Nengo (rate):      {accuracy(rate.predict(x_test)):.3f}")
    print(f"verify(): {rate.verify()}")

    # Spiking: relu -> spiking rectified linear neurons, with 5 ms lowpass
    # synapses on what leaves the neurons. scale_firing_rates=k multiplies the
    # neurons' input by k and divides their output by k: the rate network is
    # unchanged, but spiking neurons fire k times faster, which averages out
    # the spike noise sooner. The time-averaged output approaches the rate
    # output, and the accuracy approaches the rate network's.
    print("\nspiking network (SpikingRectifiedLinear, synapse=0.005 s, dt=1 ms):")
    print("output averaged over the second half of the first N steps")
    print(f"{'scale_firing_rates':>18}  {'steps':>5}  {'rel. error':>10}  {'accuracy':>8}")
    rate_out = rate.predict(x_test)
    for scale in (10, 100):
        spiking = nengo_keras.to_nengo(
            model,
            swap_activations={"relu": nengo.SpikingRectifiedLinear()},
            scale_firing_rates=scale,
            synapse=0.005,
        )
        out = spiking.run(x_test, n_steps=300)  # (samples, steps, 10)
        for n in (10, 30, 100, 300):
            avg = out[:, n // 2 : n].mean(axis=1)
            error = np.mean(np.abs(avg - rate_out)) / np.mean(np.abs(rate_out))
            print(f"{scale:>18}  {n:>5}  {error:>10.3f}  {accuracy(avg):>8.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-train", action="store_true", help="skip part 2")
    parser.add_argument(
        "--n-test", type=int, default=200, help="test images in part 2 (default 200)"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    part1_convert_and_run()
    if not args.no_train:
        part2_trained(args.n_test)
    print(f"\ndone in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
