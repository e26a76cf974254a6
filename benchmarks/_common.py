"""Shared timing helpers for the benchmarks (all figures from one process)."""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import nengo  # noqa: E402
import numpy as np  # noqa: E402


def best_of(fn, repeats):
    """Smallest wall time of ``repeats`` calls (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def keras_step_time(model, repeats=20):
    """Seconds per compiled Keras forward pass on one sample."""
    x = [np.random.default_rng(0).uniform(size=(1,) + tuple(i.shape[1:])).astype("float32") for i in model.inputs]
    x = x[0] if len(x) == 1 else x
    model.predict_on_batch(x)  # compile
    model.predict_on_batch(x)
    return best_of(lambda: model.predict_on_batch(x), repeats)


def nengo_times(result, n_steps=10, repeats=3, optimize=True, bits=64):
    """(build seconds, seconds per step) in nengo.Simulator.

    ``bits`` sets nengo's float precision (``nengo.rc`` "precision"/"bits")
    for this build only.
    """
    old = nengo.rc.get("precision", "bits")
    nengo.rc.set("precision", "bits", str(bits))
    try:
        start = time.perf_counter()
        sim = nengo.Simulator(result.net, progress_bar=False, optimize=optimize)
        build = time.perf_counter() - start
    finally:
        nengo.rc.set("precision", "bits", old)
    with sim:
        sim.run_steps(2)  # warm up
        step = best_of(lambda: sim.run_steps(n_steps), repeats) / n_steps
    return build, step


def measure(model, x=None, optimizer_build=True, **options):
    """Convert ``model`` and time everything; returns a dict of figures.

    ``max_rel_err`` compares one step of the converted network (rate neurons,
    no synapses) with ``model.predict`` on ``x`` (default: uniform [0, 1)),
    relative to the output's scale.
    """
    import nengo_keras

    if x is None:
        rng = np.random.default_rng(0)
        x = rng.uniform(size=(1,) + tuple(model.inputs[0].shape[1:])).astype("float32")
    start = time.perf_counter()
    result = nengo_keras.to_nengo(model, **options)
    convert = time.perf_counter() - start
    row = dict(model=model.name)
    tiers = result.tier_summary()
    for tier in ("neural", "node", "fallback"):
        entry = tiers.get(tier, {"layers": 0, "neurons": 0})
        row[f"{tier}_layers"] = entry["layers"]
    row["neurons"] = result.n_neurons
    expected = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    got = result.predict(x)
    row["max_rel_err"] = float(np.max(np.abs(got - expected)) / max(np.max(np.abs(expected)), 1e-30))
    row["convert_s"] = convert
    if optimizer_build:
        row["build_s"], _ = nengo_times(result, n_steps=1, repeats=1)
    row["build_noopt_s"], step = nengo_times(result, optimize=False)
    _, step32 = nengo_times(result, optimize=False, bits=32)
    keras_step = keras_step_time(model)
    row.update(
        step_ms=step * 1e3,
        step32_ms=step32 * 1e3,
        keras_ms=keras_step * 1e3,
        ratio=step / keras_step,
        ratio32=step32 / keras_step,
    )
    return row


def table(rows, columns):
    widths = [max(len(str(c)), *(len(_fmt(r[c])) for r in rows)) for c in columns]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(_fmt(r[c]).ljust(w) for c, w in zip(columns, widths)))
    return "\n".join(lines)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)
