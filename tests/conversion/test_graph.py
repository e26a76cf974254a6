"""Pins the Keras private attributes `nengo_keras.conversion.graph` relies on.

graph.py is the only module that reads Keras internals; if a Keras release
renames one of them, this test names it (instead of conversions failing in
odd places).
"""

import keras

from nengo_keras.conversion import graph as kg


def _functional():
    inp = keras.Input((3,), name="x")
    h = keras.layers.Dense(4, name="dense")(inp)
    return keras.Model(inp, keras.layers.ReLU(name="relu")(h + 1.0)), h


def test_functional_model_internals():
    model, _ = _functional()
    for name in ("_nodes_by_depth", "_inputs", "_outputs"):
        assert hasattr(model, name), name
    nodes = [n for depth in model._nodes_by_depth.values() for n in depth]
    node = next(n for n in nodes if n.operation is not None and not n.is_input)
    arguments = node.arguments
    assert hasattr(arguments, "keras_tensors") and hasattr(arguments, "kwargs")
    assert callable(arguments.fill_in)
    assert isinstance(list(node.outputs), list)


def test_sequential_model_internals():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert hasattr(model, "_functional") and hasattr(model._functional, "_nodes_by_depth")


def test_tensor_and_layer_internals():
    model, h = _functional()
    layer, node_index, tensor_index = h._keras_history
    assert layer is model.get_layer("dense") and node_index == 0 and tensor_index == 0
    dense = model.get_layer("dense")
    assert isinstance(dense._inbound_nodes, list) and isinstance(dense._outbound_nodes, list)
    assert callable(dense._flatten_layers)
    assert dense in list(model._flatten_layers(include_self=False, recursive=True))


def test_subclassed_model_build_shapes():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Sub()
    model.build((None, 3))
    assert isinstance(model._build_shapes_dict, dict) and len(model._build_shapes_dict) == 1


def test_module_paths():
    assert kg.functional_class().__name__ == "Functional"
    assert kg.op_class("numpy.Add") is not None
    assert kg.op_class("nn.DotProductAttention") is not None
    assert kg.layer_class("layers.core.dense.Dense") is keras.layers.Dense


def test_graph_of_reads_them():
    model, _ = _functional()
    graph = kg.graph_of(model)
    assert [type(n.op).__name__ for n in graph.nodes] == ["Dense", "Add", "ReLU"]
    assert len(graph.inputs) == 1 and len(graph.outputs) == 1
