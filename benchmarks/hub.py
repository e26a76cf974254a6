"""keras_hub backbones (issue 12): conversion time, and the converted
network's step time in nengo.Simulator as a ratio to a compiled Keras forward
pass (batch 1), for three backbones built locally from small configurations
(no download). Text backbones get their sequence length from ``input_shapes``.

Columns: tier shares (layers per tier), conversion time, nengo build time
(``optimize=False``), seconds per Nengo step at float64 and float32, Keras
forward time, and the ratios; ``max_rel_err`` compares one Nengo step with
``backbone.predict``.

    python3 run.py bench hub [--quick]
"""

import argparse
import time

from _common import best_of, keras, nengo_times, np, table

SEQ = 32


def bert(quick):
    import keras_hub

    return keras_hub.models.BertBackbone(
        vocabulary_size=1000, num_layers=1 if quick else 2, num_heads=2,
        hidden_dim=32 if quick else 64, intermediate_dim=128, max_sequence_length=SEQ,
        name="bert_tiny",
    )


def llama(quick):
    import keras_hub

    return keras_hub.models.LlamaBackbone(
        vocabulary_size=1000, num_layers=1 if quick else 2, num_query_heads=4,
        num_key_value_heads=2, hidden_dim=32 if quick else 64, intermediate_dim=128,
        name="llama_tiny",
    )


def vit(quick):
    import keras_hub

    return keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3), patch_size=8, num_layers=1 if quick else 2,
        num_heads=2, hidden_dim=32 if quick else 64, mlp_dim=128, name="vit_tiny",
    )


MODELS = [bert, llama, vit]


def inputs_for(backbone, rng):
    """One sample per input, as a dict by input name, and ``input_shapes``."""
    names = [x.name for x in backbone.inputs]
    if "token_ids" not in names:
        shape = tuple(backbone.inputs[0].shape[1:])
        return {names[0]: rng.uniform(size=(1,) + shape).astype("float32")}, None
    arrays = {
        "token_ids": rng.integers(0, 1000, size=(1, SEQ)).astype("int32"),
        "padding_mask": np.ones((1, SEQ), "int32"),
        "segment_ids": np.zeros((1, SEQ), "int32"),
    }
    return {n: arrays[n] for n in names}, {n: (SEQ,) for n in names}


def measure(backbone):
    import nengo_keras

    x, shapes = inputs_for(backbone, np.random.default_rng(0))
    start = time.perf_counter()
    result = nengo_keras.to_nengo(backbone, allow_fallback=False, input_shapes=shapes)
    row = dict(model=backbone.name, convert_s=time.perf_counter() - start)
    tiers = result.tier_summary()
    for tier in ("neural", "node", "fallback"):
        row[tier] = tiers.get(tier, {"layers": 0})["layers"]
    feed = x if len(x) > 1 else next(iter(x.values()))
    expected = keras.tree.flatten(backbone.predict(feed, verbose=0))
    got = result.predict(list(x.values()))
    got = got if isinstance(got, list) else [got]
    row["max_rel_err"] = max(
        float(np.max(np.abs(g.reshape(e.shape) - e)) / max(np.max(np.abs(e)), 1e-30))
        for g, e in zip(got, expected)
    )
    row["build_noopt_s"], step = nengo_times(result, optimize=False)
    _, step32 = nengo_times(result, optimize=False, bits=32)
    backbone.predict_on_batch(feed)  # compile
    keras_step = best_of(lambda: backbone.predict_on_batch(feed), 20)
    row.update(
        step_ms=step * 1e3, step32_ms=step32 * 1e3, keras_ms=keras_step * 1e3,
        ratio=step / keras_step, ratio32=step32 / keras_step,
    )
    return row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one-layer backbones")
    parser.add_argument("--only", help="comma-separated model function names")
    args = parser.parse_args()
    makers = MODELS
    if args.only:
        makers = [m for m in MODELS if m.__name__ in args.only.split(",")]
    rows = []
    for make in makers:
        rows.append(measure(make(args.quick)))
        print(table(rows[-1:], list(rows[-1])), flush=True)
    print()
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
