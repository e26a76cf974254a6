"""keras_hub backbones, built from tiny configurations (no download).

No converter in nengo_keras knows keras_hub: its layers (token and position
embeddings, rotary embeddings, transformer blocks, patching with a class
token...) convert through the ``keras.ops`` their ``call`` is made of, and
text backbones, whose inputs are ``(batch, None)``, get their sequence length
from ``input_shapes``. Every case converts with ``allow_fallback=False`` and
must match ``backbone.predict``.
"""

import collections

import keras
import numpy as np
import pytest

import nengo_keras
from tests.helpers import assert_close

keras_hub = pytest.importorskip(
    "keras_hub", reason="keras_hub is an optional dependency (pip install keras-hub)"
)
M = keras_hub.models

VOCAB, HIDDEN, SEQ = 50, 16, 6
TEXT = dict(vocabulary_size=VOCAB, num_layers=2, hidden_dim=HIDDEN, intermediate_dim=32)
HEADS = dict(num_heads=2, max_sequence_length=8)
GQA = dict(num_query_heads=2, num_key_value_heads=1)
IMAGE = (32, 32, 3)


def _efficientnet():
    return M.EfficientNetBackbone(
        width_coefficient=0.1, depth_coefficient=0.1,
        stackwise_kernel_sizes=[3, 3], stackwise_num_repeats=[1, 1],
        stackwise_input_filters=[8, 8], stackwise_output_filters=[8, 16],
        stackwise_expansion_ratios=[1, 4], stackwise_squeeze_and_excite_ratios=[0.25, 0.25],
        stackwise_strides=[1, 2], stackwise_block_types=["v1", "v1"],
        image_shape=(None, None, 3),  # keras_hub's default: any image size
    )


def _mobilenet():
    return M.MobileNetBackbone(
        stackwise_expansion=[[1], [4]], stackwise_num_blocks=[1, 1],
        stackwise_num_filters=[[8], [16]], stackwise_kernel_size=[[3], [3]],
        stackwise_num_strides=[[2], [2]], stackwise_se_ratio=[[None], [0.25]],
        stackwise_activation=[["relu"], ["hard_swish"]], stackwise_padding=[[1], [1]],
        output_num_filters=32, depthwise_filters=8, depthwise_stride=1,
        depthwise_residual=False, squeeze_and_excite=0.5, last_layer_filter=32,
        input_num_filters=8, image_shape=IMAGE,
    )


def _mit():
    return M.MiTBackbone(
        layerwise_depths=[1, 1], num_layers=2, layerwise_num_heads=[1, 2],
        layerwise_sr_ratios=[2, 1], max_drop_path_rate=0.0,
        layerwise_patch_sizes=[7, 3], layerwise_strides=[4, 2], hidden_dims=[8, 16],
        image_shape=IMAGE,
    )


# name -> (builder, extra to_nengo options); the slow ones are marked
TEXT_BACKBONES = {
    "bert": lambda: M.BertBackbone(**TEXT, **HEADS),
    "gpt2": lambda: M.GPT2Backbone(**TEXT, **HEADS),
    "roberta": lambda: M.RobertaBackbone(**TEXT, **HEADS),
    "distil_bert": lambda: M.DistilBertBackbone(**TEXT, **HEADS),
    "albert": lambda: M.AlbertBackbone(
        **TEXT, **HEADS, embedding_dim=8, num_groups=1, num_inner_repetitions=1
    ),
    "electra": lambda: M.ElectraBackbone(
        vocab_size=VOCAB, num_layers=2, hidden_dim=HIDDEN, intermediate_dim=32,
        embedding_dim=8, **HEADS,
    ),
    "opt": lambda: M.OPTBackbone(**TEXT, **HEADS),
    "llama": lambda: M.LlamaBackbone(**TEXT, **GQA),
    "gemma": lambda: M.GemmaBackbone(**TEXT, **GQA, head_dim=8),
    "mistral": lambda: M.MistralBackbone(**TEXT, **GQA),
    "qwen": lambda: M.QwenBackbone(**TEXT, **GQA),
    "phi3": lambda: M.Phi3Backbone(**TEXT, **GQA),
}
VISION_BACKBONES = {
    "vgg": lambda: M.VGGBackbone(
        stackwise_num_repeats=[1, 1], stackwise_num_filters=[4, 8], image_shape=IMAGE
    ),
    "resnet": lambda: M.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 8], stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2], block_type="basic_block", image_shape=IMAGE,
    ),
    "densenet": lambda: M.DenseNetBackbone(
        stackwise_num_repeats=[1, 1], growth_rate=4, compression_ratio=0.5,
        image_shape=IMAGE,
    ),
    "xception": lambda: M.XceptionBackbone(
        stackwise_conv_filters=[[8, 8], [16, 16]], stackwise_pooling=[False, True],
        image_shape=IMAGE,
    ),
    "efficientnet": _efficientnet,
    "mobilenet": _mobilenet,
    "vit": lambda: M.ViTBackbone(
        image_shape=(16, 16, 3), patch_size=4, num_layers=2, num_heads=2,
        hidden_dim=HIDDEN, mlp_dim=32,
    ),
    "mit": _mit,
}
# purely convolutional: neurons and connections only
NEURAL = ("vgg", "resnet", "densenet", "xception")
# five seconds or more each on one core (the default run keeps BERT, GPT-2,
# VGG, ResNet, DenseNet and Xception)
SLOW = ("roberta", "distil_bert", "albert", "electra", "opt", "llama", "gemma",
        "mistral", "qwen", "phi3", "efficientnet", "mobilenet", "vit", "mit")
OPTIONS = {"albert": dict(split_shared_weights=True)}  # one block, called per layer


def _case(name):
    return pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name


def text_inputs(backbone, rng):
    names = [x.name for x in backbone.inputs]
    padding = np.ones((2, SEQ), "int32")
    padding[1, SEQ - 2:] = 0  # the second sample is padded
    arrays = {
        "token_ids": rng.integers(0, VOCAB, size=(2, SEQ)).astype("int32"),
        "padding_mask": padding,
        "segment_ids": rng.integers(0, 2, size=(2, SEQ)).astype("int32"),
    }
    return {name: arrays[name] for name in names}


def check_backbone(backbone, inputs, **options):
    """Convert with no fallback, run in nengo.Simulator, compare with Keras."""
    result = nengo_keras.to_nengo(backbone, allow_fallback=False, **options)
    expected = backbone.predict(inputs, verbose=0)
    arrays = list(inputs.values()) if isinstance(inputs, dict) else [inputs]
    got = result.predict(arrays)  # the structure Keras returns (e.g. a dict)
    got, expected = keras.tree.flatten(got), keras.tree.flatten(expected)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_close(g.reshape(e.shape), e, rtol=1e-4)
    assert all(r.tier != "fallback" for r in result.report)
    return result


@pytest.mark.parametrize("name", [_case(n) for n in TEXT_BACKBONES])
def test_text_backbone(name, rng):
    backbone = TEXT_BACKBONES[name]()
    inputs = text_inputs(backbone, rng)
    shapes = {key: (SEQ,) for key in inputs}
    result = check_backbone(backbone, inputs, input_shapes=shapes, **OPTIONS.get(name, {}))
    # the token ids index embedding tables, the dense projections are connections
    assert collections.Counter(r.tier for r in result.report)["neural"] >= 1


@pytest.mark.parametrize("name", [_case(n) for n in VISION_BACKBONES])
def test_vision_backbone(name, rng):
    backbone = VISION_BACKBONES[name]()
    shape = tuple(d or 32 for d in backbone.inputs[0].shape[1:])
    x = rng.uniform(0, 1, size=(2,) + shape).astype("float32")
    tiers = ("neural",) if name in NEURAL else ("neural", "node")
    check_backbone(backbone, x, input_shapes=[shape], tiers=tiers)


def test_importing_nengo_keras_does_not_import_keras_hub():
    import subprocess
    import sys

    code = "import sys, nengo_keras; assert 'keras_hub' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
