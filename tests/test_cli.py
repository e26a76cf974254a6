"""The ``nengo-keras`` command: end to end in a subprocess (each one imports
TensorFlow, so there are few), the rest through `nengo_keras.cli.main`."""

import os
import pickle
import subprocess
import sys

import keras
import nengo
import numpy as np
import pytest

from nengo_keras.cli import main

SPIKING = ["--swap", "relu=SpikingRectifiedLinear", "--scale", "50", "--synapse", "0.005"]


@pytest.fixture
def files(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    model.save(tmp_path / "model.keras")
    x = np.random.default_rng(0).uniform(size=(6, 6, 6, 1)).astype("float32")
    y = np.argmax(model.predict(x, verbose=0), axis=-1)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    (tmp_path / "bad.keras").write_text("not a model")
    return tmp_path


def run_cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "nengo_keras", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=300,
    )


def test_convert_and_evaluate_end_to_end(files):
    out = run_cli("convert", files / "model.keras", "-o", files / "net.pkl",
                  "--nir", files / "net.nir", *SPIKING)
    assert out.returncode == 0, out.stderr
    with open(files / "net.pkl", "rb") as f:
        net = pickle.load(f)
    assert isinstance(net, nengo.Network) and len(net.all_ensembles) == 1
    with nengo.Simulator(net, progress_bar=False) as sim:  # it runs as it is
        sim.run_steps(3)
    import nir

    graph = nir.read(str(files / "net.nir"))
    assert {"input", "output"} <= set(graph.nodes)

    out = run_cli("evaluate", files / "model.keras", "--data", files / "data.npz",
                  "--steps", "20", "--workers", "1", "--plots", files / "plots", *SPIKING)
    assert out.returncode == 0, out.stderr
    assert "synops/sample" in out.stdout and "step  time (ms)  accuracy" in out.stdout
    assert sorted(os.listdir(files / "plots")) == ["accuracy.png", "outputs.png", "rates.png"]


def test_inspect_reports_tiers_and_nir(files, capsys):
    assert main(["inspect", str(files / "model.keras"), *SPIKING]) == 0
    text = capsys.readouterr().out
    assert "conv2d" in text and "neural-only: yes" in text and "NIR-exportable: yes" in text
    assert main(["inspect", str(files / "model.keras")]) == 0
    assert "NIR-exportable: no" in capsys.readouterr().out  # rate neurons


def test_tiers_neural_lists_node_layers(tmp_path, capsys):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.save(tmp_path / "soft.keras")
    assert main(["inspect", str(tmp_path / "soft.keras"), "--tiers", "neural"]) == 1
    assert "dense" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["inspect", "{d}/missing.keras"], "missing.keras: no such file"),
        (["inspect", "{d}/data.npz"], "not a Keras model file"),
        (["inspect", "{d}/bad.keras"], "cannot be loaded as a Keras model"),
        (["inspect", "{d}/model.keras", "--swap", "relu"], "expected ACTIVATION=NEURON"),
        (["inspect", "{d}/model.keras", "--swap", "relu=Nope"], "not a Nengo neuron type"),
        (["inspect", "{d}/model.keras", "--swap", "relu=LIF(tau_rc=x)"], "keyword=number"),
        (["inspect", "{d}/model.keras", "--tiers", "neural,gpu"], "unknown tier"),
        (["convert", "{d}/model.keras"], "nothing to write"),
        (["evaluate", "{d}/model.keras", "--data", "{d}/none.npz"], "no such file"),
        (["evaluate", "{d}/model.keras", "--data", "{d}/bad.keras"], "not a NumPy .npz"),
        (["evaluate", "{d}/model.keras", "--data", "{d}/data.npz", "--steps", "0"],
         "positive integer"),
    ],
)
def test_bad_usage_exits_2_with_a_message(files, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main([a.format(d=files) for a in args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_nir_refusal_exits_1(files, capsys):
    status = main(["convert", str(files / "model.keras"), "--nir", str(files / "n.nir")])
    assert status == 1
    assert "rate neurons" in capsys.readouterr().err
    assert not (files / "n.nir").exists()


@pytest.mark.parametrize("command", ["inspect", "convert", "evaluate"])
def test_help_per_command(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "MODEL.keras" in capsys.readouterr().out
