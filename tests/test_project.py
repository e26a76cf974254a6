"""The project's own commands: the README, run.py and CI agree on them."""

import importlib.util
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def run_py():
    spec = importlib.util.spec_from_file_location("nengo_keras_run", os.path.join(ROOT, "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines functions and constants only
    return module


def readme_commands():
    """The commands of the README's "Try it" block, without their comments."""
    block = re.search(r"## Try it.*?```bash\n(.*?)```", read("README.md"), re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_names_the_demo_and_test_commands_of_run_py():
    run = run_py()
    assert readme_commands() == [run.DEMO_COMMAND, run.TEST_COMMAND]


def test_ci_runs_the_readme_test_command_on_each_backend():
    run = run_py()
    lines = [line.strip() for line in read(".ci", "run").splitlines()]
    ci_tests = [l for l in lines if run.TEST_COMMAND in l and not l.startswith("#")]
    backends = [re.match(r"KERAS_BACKEND=(\w+) ", line).group(1) for line in ci_tests]
    assert backends[:2] == ["tensorflow", "jax"]
    # the TensorFlow run is the README's command itself, selecting nothing less
    assert ci_tests[0] == f"KERAS_BACKEND=tensorflow {run.TEST_COMMAND}"


def test_run_py_dispatches_the_readme_commands(monkeypatch):
    run = run_py()
    calls = []
    monkeypatch.setattr(run, "python", lambda: "PYTHON")
    monkeypatch.setattr(run.subprocess, "call", lambda cmd, **kw: calls.append((cmd, kw)) or 0)
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert run.main(run.DEMO_COMMAND.split()[2:]) == 0
    assert run.main(run.TEST_COMMAND.split()[2:]) == 0
    (demo, _), (test, test_kw) = calls
    assert demo[1].endswith(os.path.join("examples", "quickstart.py"))
    assert test[:3] == ["PYTHON", "-m", "pytest"]
    # the suite never reads the machine's ~/.keras/keras.json
    assert test_kw["env"]["KERAS_BACKEND"] == "tensorflow"
    assert test_kw["env"]["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert test_kw["env"]["KERAS_HOME"] != os.environ.get("KERAS_HOME")
    assert "nengo-keras-keras-home-" in test_kw["env"]["KERAS_HOME"]
