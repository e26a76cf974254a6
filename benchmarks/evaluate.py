"""Evaluation throughput of a converted spiking CNN (issue 10), all in one run.

A VGG-style CNN on 32x32x3 inputs (Conv2D 32, 32, AvgPool, Conv2D 64, 64,
AvgPool, Dense 128, Dense 10; random weights: throughput does not depend on
training) is converted with relu -> `nengo.SpikingRectifiedLinear`,
``scale_firing_rates=100``, ``synapse=0.005``, and each sample is evaluated
(`nengo_keras.evaluate`) for 50 steps of 1 ms. The figures are sample-steps
per second (samples x steps / wall time of the whole ``evaluate`` call,
builds and compilation included) for:

- ``reference serial``: `nengo.Simulator`, one sample after the other;
- ``default``: ``evaluate``'s default (``executor="auto"``);
- ``keras (tensorflow)`` / ``keras (jax)``: ``simulator="keras"``, minibatches
  of 32 (JAX runs in a subprocess with ``KERAS_BACKEND=jax``), and the same
  without its fixed cost of building and compiling (from the difference
  between a run on ``--samples`` samples and one on a quarter of them);
- ``nengo_dl``: ``simulator="nengo_dl"`` where nengo-dl is installed;
- ``keras forward``: the Keras model's batched forward pass (batch 32), in
  samples per second: the practical limit of a time-stepped engine, which
  does about one forward pass per step.

    python3 run.py bench evaluate [--samples N] [--reference-samples N] [--quick]

With ``--memory`` it also measures the peak resident memory of the keras
engine for growing numbers of samples (in subprocesses).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from _common import best_of, keras, nengo, np, table

import nengo_keras
from nengo_keras.nengo_dl import backend as nengo_dl_backend

L = keras.layers
N_STEPS = 50
OPTIONS = dict(swap_activations={"relu": nengo.SpikingRectifiedLinear()},
               scale_firing_rates=100, synapse=0.005)


def vgg():
    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3))
    x = L.Conv2D(32, 3, padding="same", activation="relu")(inp)
    x = L.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = L.AveragePooling2D(2)(x)
    x = L.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = L.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = L.AveragePooling2D(2)(x)
    x = L.Flatten()(x)
    x = L.Dense(128, activation="relu")(x)
    return keras.Model(inp, L.Dense(10)(x))


def data(n):
    rng = np.random.default_rng(0)
    return rng.uniform(size=(n, 32, 32, 3)).astype("float32"), rng.integers(0, 10, n)


def rate(converted, n, n_steps=N_STEPS, **kwargs):
    """(sample-steps per second, EvaluationResult) of one ``evaluate`` call."""
    x, y = data(n)
    start = time.perf_counter()
    res = nengo_keras.evaluate(converted, x, y, n_steps=n_steps, progress_bar=False,
                               seed=0, **kwargs)
    return n * n_steps / (time.perf_counter() - start), res


def forward_rate(model, batch=32, repeats=10, trials=3):
    """Samples per second of the compiled forward pass (best of ``trials``)."""
    x, _ = data(batch * repeats)
    model.predict_on_batch(x[:batch])  # compile

    def run():
        for i in range(repeats):
            model.predict_on_batch(x[i * batch:(i + 1) * batch])

    return batch * repeats / best_of(run, trials)


def keras_engine(n):
    """The keras engine on the active backend: (sample-steps/s of one
    ``evaluate`` call on ``n`` samples, the same without the fixed cost of
    building and compiling, forward samples/s).

    The second figure is the rate at which more samples cost time:
    ``evaluate`` on ``n`` and on ``n // 4`` samples, the difference of the
    samples over the difference of the times."""
    model = vgg()
    converted = nengo_keras.to_nengo(model, **OPTIONS)
    small = max(n // 4, 32)
    small_rate, _ = rate(converted, small, simulator="keras", minibatch_size=32)
    engine, _ = rate(converted, n, simulator="keras", minibatch_size=32)
    extra_time = n * N_STEPS / engine - small * N_STEPS / small_rate
    marginal = (n - small) * N_STEPS / extra_time if extra_time > 0 else float("nan")
    return engine, marginal, forward_rate(model)


def in_subprocess(backend, *args):
    env = dict(os.environ, KERAS_BACKEND=backend)
    out = subprocess.run([sys.executable, __file__, *args], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def peak_memory(n, n_steps=20):
    """Peak RSS (MiB) of a fresh process evaluating ``n`` samples for
    ``n_steps`` with the keras engine (inputs included: ``n`` float32
    CIFAR-sized images)."""
    model = vgg()
    converted = nengo_keras.to_nengo(model, **OPTIONS)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate(converted, n, n_steps, simulator="keras", minibatch_size=32)
    return before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=256, help="keras engine samples")
    parser.add_argument("--reference-samples", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="128 and 2 samples")
    parser.add_argument("--memory", action="store_true", help="peak RSS vs samples")
    parser.add_argument("--child", choices=["engine", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "engine":
        print(json.dumps(keras_engine(args.n)))
        return
    if args.child == "memory":
        print(json.dumps(peak_memory(args.n)))
        return
    n_keras, n_ref = (128, 2) if args.quick else (args.samples, args.reference_samples)
    model = vgg()
    converted = nengo_keras.to_nengo(model, **OPTIONS)
    print(f"VGG-style CNN, {converted.n_neurons} neurons, {N_STEPS} steps; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    rows = []

    def add(name, value, samples):
        rows.append(dict(engine=name, samples=samples, sample_steps_s=value))
        unit = "samples/s" if "forward" in name else "sample-steps/s"
        print(f"{name:24s} {value:10.1f} {unit} ({samples})", flush=True)

    serial, _ = rate(converted, n_ref, executor="serial")
    add("reference serial", serial, f"{n_ref} samples")
    default, _ = rate(converted, n_ref)
    add("default (auto)", default, f"{n_ref} samples")
    tf_rate, tf_marginal, tf_forward = keras_engine(n_keras)
    add("keras (tensorflow)", tf_rate, f"{n_keras} samples")
    add("  without compiling", tf_marginal, f"{n_keras} samples")
    try:
        jax_rate, jax_marginal, jax_forward = in_subprocess(
            "jax", "--child", "engine", "--n", str(n_keras))
        add("keras (jax)", jax_rate, f"{n_keras} samples")
        add("  without compiling", jax_marginal, f"{n_keras} samples")
    except subprocess.CalledProcessError as e:
        print(f"keras (jax) failed: {e.stderr[-500:]}")
        jax_forward = None
    if nengo_dl_backend.available():
        dl, _ = rate(converted, min(n_keras, 64), simulator="nengo_dl", minibatch_size=32)
        add("nengo_dl", dl, f"{min(n_keras, 64)} samples")
    else:
        print("nengo_dl: not installed (pip install nengo-keras[nengo-dl])")
    add("keras forward (tf)", tf_forward, "batch 32")
    if jax_forward:
        add("keras forward (jax)", jax_forward, "batch 32")
    for r in rows:
        r["vs_serial"] = r["sample_steps_s"] / serial
        r["vs_forward"] = r["sample_steps_s"] / tf_forward
    print()
    print(table(rows, ["engine", "samples", "sample_steps_s", "vs_serial", "vs_forward"]))
    print("(vs_forward: sample-steps/s over the TensorFlow forward pass's samples/s)")
    if args.memory:
        print("\npeak RSS of a fresh process (keras engine, tensorflow, minibatch 32):")
        for n in (64, 256, 1024):
            before, after = in_subprocess(keras.backend.backend(), "--child", "memory",
                                          "--n", str(n))
            print(f"  {n:5d} samples x 20 steps: {before:7.0f} MiB after conversion, "
                  f"{after:7.0f} MiB peak", flush=True)


if __name__ == "__main__":
    main()
