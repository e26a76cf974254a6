"""keras.applications benchmark (issue: every architecture, natively and exactly).

For each architecture, with its classifier head (``classes=10``) and without
(``include_top=False, pooling="avg"``), at 32x32 (or the architecture's minimum):
converted with ``allow_fallback=False`` (yes/no), layers per tier, neurons,
maximum error of one ``nengo.Simulator`` step vs Keras relative to the output
scale, conversion time, nengo build time, per-step time (float64 and float32)
and its ratio to a compiled Keras forward pass (batch 1) in the same process.

    python3 run.py bench applications [--only ResNet50,MobileNet] [--no-top]
"""

import argparse
import traceback

from _common import keras, measure, table

# architecture -> smallest input size Keras accepts with weights=None
CASES = {
    "VGG16": 32,
    "ResNet50": 32,
    "ResNet50V2": 32,
    "MobileNet": 32,
    "MobileNetV2": 32,
    "MobileNetV3Small": 32,
    "DenseNet121": 32,
    "EfficientNetB0": 32,
    "InceptionV3": 75,
    "Xception": 71,
    "NASNetMobile": 32,
    "ConvNeXtTiny": 32,
    "EfficientNetV2B0": 32,
    "InceptionResNetV2": 75,
}


def make(name, top):
    size = CASES[name]
    kwargs = dict(classes=10) if top else dict(include_top=False, pooling="avg")
    model = getattr(keras.applications, name)(
        weights=None, input_shape=(size, size, 3), **kwargs
    )
    return model


COLUMNS = [
    "case", "converted", "neural_layers", "node_layers", "fallback_layers", "neurons",
    "max_rel_err", "convert_s", "build_noopt_s", "step_ms", "step32_ms", "keras_ms",
    "ratio", "ratio32",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="comma-separated architecture names")
    parser.add_argument("--no-top", action="store_true", help="only include_top=False")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(CASES)
    rows = []
    for name in names:
        for top in ((False,) if args.no_top else (True, False)):
            case = f"{name}{'' if top else '/notop'}"
            model = make(name, top)
            try:
                row = measure(model, optimizer_build=False, allow_fallback=False)
                row.update(case=case, converted="yes")
            except Exception as e:  # report and go on with the next case
                row = {c: "-" for c in COLUMNS}
                row.update(case=case, converted=f"no: {type(e).__name__}")
                traceback.print_exc()
            rows.append(row)
            print(table(rows[-1:], COLUMNS), flush=True)
            keras.backend.clear_session()
    print()
    print(table(rows, COLUMNS))
    ok = [r for r in rows if r["converted"] == "yes"]
    exact = [r for r in ok if r["max_rel_err"] <= 1e-3]
    fast = [r for r in ok if r["ratio"] <= 1.0]
    fast32 = [r for r in ok if r["ratio32"] <= 1.0]
    print(
        f"\nconverted {len(ok)}/{len(rows)}; matching (rel err <= 1e-3) "
        f"{len(exact)}/{len(rows)}; step ratio <= 1: {len(fast)} (float64), "
        f"{len(fast32)} (float32)"
    )


if __name__ == "__main__":
    main()
