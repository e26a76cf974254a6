"""Conversion benchmark (issue: nengo_keras 0.1 core).

Per model: conversion time; nengo build time with nengo.Simulator's defaults
(``build_s``) and with ``optimize=False`` (``build_noopt_s``); per-step time of
the converted network in nengo.Simulator at nengo's default float64
(``step_ms``) and at float32 (``step32_ms``, ``nengo.rc`` precision bits = 32,
Keras' own precision); and those step times as ratios to a compiled Keras
forward pass (batch 1) measured in the same process.

    python3 run.py bench convert [--quick]
"""

import argparse
from _common import keras, measure, table

L = keras.layers


def seed_model():
    inp = keras.Input(shape=(28, 28, 3))
    conv = L.Conv2D(filters=32, kernel_size=3, activation="relu")(inp)
    flat = L.Flatten()(conv)
    dense = L.Dense(units=10, activation="relu")(flat)
    return keras.Model(inputs=inp, outputs=dense, name="seed_conv2d")


def vgg_cifar():
    inp = keras.Input((32, 32, 3))
    x = inp
    for filters in (32, 64, 128):
        x = L.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = L.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = L.AveragePooling2D(2)(x)
    x = L.Flatten()(x)
    x = L.Dense(256, activation="relu")(x)
    return keras.Model(inp, L.Dense(10)(x), name="vgg_cifar")


def resnet50():
    return keras.applications.ResNet50(
        weights=None, include_top=False, pooling="avg", input_shape=(64, 64, 3)
    )


def densenet121():
    return keras.applications.DenseNet121(
        weights=None, include_top=False, pooling="avg", input_shape=(64, 64, 3)
    )


MODELS = [seed_model, vgg_cifar, resnet50, densenet121]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small models only")
    parser.add_argument("--only", help="comma-separated model function names")
    args = parser.parse_args()
    makers = MODELS[:2] if args.quick else MODELS
    if args.only:
        makers = [m for m in MODELS if m.__name__ in args.only.split(",")]
    rows = []
    for make in makers:
        rows.append(measure(make(), allow_fallback=False))
        print(table(rows[-1:], list(rows[-1])), flush=True)
    print()
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
