#!/usr/bin/env python3
"""One entry point for developers and CI; needs nothing but ``python3``.

Usage::

    python3 run.py demo              # convert a Keras model, run it in Nengo
    python3 run.py test [--all] [pytest arguments...]
    python3 run.py bench NAME        # benchmarks/NAME.py
    python3 run.py docs              # build the Sphinx docs (warnings are errors)
    python3 run.py example NAME      # examples/NAME.py

The first call creates a virtual environment in ``.venv`` (or in
``$NENGO_KERAS_VENV``) and installs the package with its test and docs
extras; later calls reuse it and reinstall only when pyproject.toml changes.

``test`` runs on the Keras backend named by ``$KERAS_BACKEND`` (TensorFlow if
unset) with an empty, temporary ``KERAS_HOME``, so a ``~/.keras/keras.json``
left on the machine cannot change what the suite runs, and with TensorFlow's
oneDNN kernels off (``TF_ENABLE_ONEDNN_OPTS=0``), which only some processors use.
"""

# The README's two commands; tests/test_project.py checks that the README,
# this file and .ci/run agree on them.
DEMO_COMMAND = "python3 run.py demo"
TEST_COMMAND = "python3 run.py test"

import hashlib
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.abspath(__file__))
VENV = os.environ.get("NENGO_KERAS_VENV", os.path.join(ROOT, ".venv"))
EXTRAS = "test,docs"


def python():
    """Path of the environment's Python, creating/updating the environment."""
    exe = os.path.join(VENV, "bin", "python")
    if not os.path.exists(exe):
        print(f"creating virtual environment in {VENV}", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        digest = hashlib.sha256(f.read() + EXTRAS.encode()).hexdigest()[:16]
    stamp = os.path.join(VENV, f".nengo-keras-{digest}")
    if not os.path.exists(stamp):
        print("installing nengo_keras and its dependencies", flush=True)
        pip = [exe, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.check_call(pip + ["--upgrade", "pip"])
        subprocess.check_call(pip + ["-e", f"{ROOT}[{EXTRAS}]"])
        open(stamp, "w").close()
    return exe


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    command, args = argv[0], argv[1:]
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("PYTHONUNBUFFERED", "1")
    exe = python()
    if command == "demo":
        cmd = [exe, os.path.join(ROOT, "examples", "quickstart.py")] + args
    elif command == "test":
        marks = []
        if "--all" in args:
            args = [a for a in args if a != "--all"]
            marks = ["-m", ""]
        workers = ["-n", "auto"] if "-n" not in args else []
        cmd = [exe, "-m", "pytest"] + workers + marks + args
        env.setdefault("KERAS_BACKEND", "tensorflow")
        # TensorFlow turns its oneDNN CPU kernels on only on some processors,
        # and those accept configurations (unequal depthwise strides, NCHW or
        # dilated transposed convolutions) that its plain kernels reject. Test
        # on the plain kernels, which every machine has, so a test that relies
        # on oneDNN fails here rather than on someone else's machine.
        env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        with tempfile.TemporaryDirectory(prefix="nengo-keras-keras-home-") as home:
            env["KERAS_HOME"] = home
            print(f"testing on Keras' {env['KERAS_BACKEND']} backend", flush=True)
            return subprocess.call(cmd, cwd=ROOT, env=env)
    elif command == "bench":
        if not args:
            print("usage: python3 run.py bench NAME [args]; NAME in benchmarks/")
            return 2
        cmd = [exe, os.path.join(ROOT, "benchmarks", args[0] + ".py")] + args[1:]
    elif command == "example":
        cmd = [exe, os.path.join(ROOT, "examples", args[0] + ".py")] + args[1:]
    elif command == "docs":
        out = os.path.join(ROOT, "docs", "_build", "html")
        cmd = [exe, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "docs", out] + args
    else:
        print(f"unknown command {command!r}\n{__doc__}")
        return 2
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
