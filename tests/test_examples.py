"""The examples run from start to finish and show what they claim.

Each runs in a subprocess, as ``python3 run.py demo`` / ``run.py example``
run them, with this checkout first on the path.
"""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name, *args, timeout=300):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + env.get("PYTHONPATH", "").split(os.pathsep))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", f"{name}.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_quickstart_rate_part():
    out = run_example("quickstart", "--no-train")
    assert "3 layer calls, 21642 neurons" in out
    assert re.search(r"neural +3 layers \( *100.0%\), +21642 neurons", out)
    error = float(re.search(r"max \|Nengo - Keras\| = (\S+)", out).group(1))
    assert error < 1e-5
    assert "verify(): True" in out


@pytest.mark.slow  # ~30 s: trains a network, runs 36,000 spiking steps
def test_quickstart_trained_and_spiking():
    pytest.importorskip("sklearn")
    out = run_example("quickstart", "--n-test", "60")
    keras_acc = float(re.search(r"test accuracy, Keras: +(\S+)", out).group(1))
    rate_acc = float(re.search(r"test accuracy, Nengo \(rate\): +(\S+)", out).group(1))
    assert keras_acc > 0.8
    assert rate_acc == keras_acc
    rows = re.findall(r"^ +(\d+) +(\d+) +(\S+) +(\S+)$", out, flags=re.M)
    table = {(int(s), int(n)): (float(e), float(a)) for s, n, e, a in rows}
    assert len(table) == 8, out
    # the spiking output converges to the rate output as steps grow ...
    errors = [table[100, n][0] for n in (10, 30, 100, 300)]
    assert errors[-1] < 0.1 and errors[-1] < errors[0] / 5, errors
    # ... faster with faster firing, and the accuracy follows
    assert table[100, 30][0] < table[10, 30][0]
    assert table[100, 300][1] >= keras_acc - 0.1


@pytest.mark.backends
def test_nengo_dl_guide():
    out = run_example("nengo_dl_guide")
    assert "[[0. 0. 0. 0. 0. 0. 0. 0. 0. 0.]]" in out
    assert "neuron types in the converted network: ['SpikingRectifiedLinear']" in out
    assert "a TypeError:\nUnable to convert layer add_one" in out
    assert "converter.verify(): True" in out
    nengo_row = re.search(r"Nengo: \[(.*?)\]", out, flags=re.S).group(1).split()
    keras_row = re.search(r"Keras: \[(.*?)\]", out, flags=re.S).group(1).split()
    # printed to 4 decimals: a value at a rounding boundary may print one unit
    # apart (e.g. 0.97405 in float32 on JAX), so compare the numbers
    assert len(nengo_row) == len(keras_row)
    np.testing.assert_allclose(
        [float(v) for v in nengo_row], [float(v) for v in keras_row], rtol=0, atol=1.5e-4
    )


@pytest.mark.slow  # trains for 30 epochs and evaluates three networks
def test_evaluate_spiking():
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    plot = os.path.join(ROOT, "examples", "output", "accuracy.png")
    if os.path.exists(plot):
        os.remove(plot)  # so that the check below sees this run's plot
    out = run_example("evaluate_spiking", "--n-test", "40", "--n-steps", "20", "--workers", "1")
    keras_acc = float(re.search(r"Keras test accuracy: (\S+)", out).group(1))
    assert keras_acc > 0.8
    for name in ("rate", "spiking, x20 rates", "spiking, x100 rates"):
        assert f"== {name} ==" in out
    # the rate network scores what Keras scores, from the first step
    rate = out.split("== rate ==")[1].split("==")[0]
    rate_acc = float(re.search(r"accuracy: (\S+) at the last step", rate).group(1))
    assert abs(rate_acc - keras_acc) < 1e-3
    assert os.path.exists(plot)


def test_custom_layers():
    out = run_example("custom_layers")
    tiers = dict(re.findall(r"^(ramp|softsign|shuffle|blend|add_one) +\S+ +(\w+)", out, re.M))
    assert tiers == {
        "ramp": "neural",
        "softsign": "node",
        "shuffle": "neural",
        "blend": "neural",
        "add_one": "neural",
    }, out
    assert "max |Nengo - Keras| =" in out
