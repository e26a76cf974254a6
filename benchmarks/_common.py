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
