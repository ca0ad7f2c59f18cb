"""Generates the malformed-model corpus of tests/bad/: one small .onnx file
per rule onnxcc enforces, named after the rule, and cases.txt listing for
each the expected exit status and a substring of the expected diagnostic.
tests/bad/run.sh checks them (ctest "bad_models").  tests/bad/README.md maps
each finding and rule of issue 12 to its case(s) here or its unit test.

Run with Debian's python3-onnx:  /usr/bin/python3 tests/bad/make_bad.py
The generated files are committed, so the tests need no Python.

cases.txt: one case a line, tab-separated:  FILE  EXIT  SUBSTRING
FILE may be a name run.sh turns into something special before running
(the FIFO cases: see run.sh).
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
cases = []

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def vi(name, dt=F, shape=(2, 3)):
    return helper.make_tensor_value_info(name, dt, list(shape) if shape is not None else None)


def model(nodes, inputs, outputs, inits=(), opset=17, ir=8, value_info=(), extra_opsets=()):
    g = helper.make_graph(nodes, "bad", inputs, outputs, list(inits), value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] + list(extra_opsets))
    m.ir_version = ir
    return m


def relu_model(**kw):
    return model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x")], [vi("y")], **kw)


def case(name, m, code, substring):
    """m: a ModelProto or raw bytes."""
    data = m if isinstance(m, bytes) else m.SerializeToString()
    with open(os.path.join(here, name + ".onnx"), "wb") as f:
        f.write(data)
    cases.append((name + ".onnx", code, substring))


def node_case(name, node, inputs, outputs, substring, inits=(), opset=17, code=1, **kw):
    case(name, model([node], inputs, outputs, inits, opset=opset, **kw), code, substring)


def ext_tensor(name, location, offset=None, length=None, dims=(4,)):
    t = TensorProto()
    t.name = name
    t.data_type = F
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, v
    return t


def ext_model(t):
    return model([helper.make_node("Add", ["x", "W"], ["y"], name="add")],
                 [vi("x", shape=(4,))], [vi("y", shape=(4,))], [t])


# ---- files: FIFOs, external data --------------------------------------------
# run.sh makes fifo_model.onnx and fifo_ext.bin FIFOs in its copy of the corpus.
cases.append(("fifo_model.onnx", 1, "not a regular file"))
case("external_fifo", ext_model(ext_tensor("W", "fifo_ext.bin")), 1,
     "external data 'fifo_ext.bin': not a regular file")
with open(os.path.join(here, "weights.bin"), "wb") as f:
    f.write(np.arange(8, dtype=np.float32).tobytes())
for name, target in (("ext_link_passwd.bin", "/etc/passwd"), ("ext_link_up", "..")):
    p = os.path.join(here, name)
    if os.path.lexists(p):
        os.remove(p)
    os.symlink(target, p)
case("external_symlink_out_of_folder", ext_model(ext_tensor("W", "ext_link_passwd.bin")), 1,
     "leads outside the model's folder through a symbolic link")
case("external_symlinked_dir_out_of_folder",
     ext_model(ext_tensor("W", "ext_link_up/bad/weights.bin")), 1,
     "leads outside the model's folder through a symbolic link")
case("external_absolute_path", ext_model(ext_tensor("W", "/etc/passwd")), 1,
     "escapes the model's folder")
case("external_dotdot", ext_model(ext_tensor("W", "../bad/weights.bin")), 1,
     "escapes the model's folder")
case("external_location_with_nul", ext_model(ext_tensor("W", "weights.bin\0../../etc/passwd")), 1,
     "graph.initializer.external_data.value: a string contains a NUL byte")
case("external_missing_file", ext_model(ext_tensor("W", "no_such.bin")), 2,
     "external data 'no_such.bin': No such file or directory")
case("external_directory", ext_model(ext_tensor("W", ".")), 1,
     "external data '.': not a regular file")
case("external_beyond_end", ext_model(ext_tensor("W", "weights.bin", offset="24")), 1,
     "bytes [24, 40) lie beyond its end (32 bytes)")
case("external_length_mismatch", ext_model(ext_tensor("W", "weights.bin", length="12")), 1,
     "external data length 12 does not match the shape (16 bytes)")
case("external_offset_not_number", ext_model(ext_tensor("W", "weights.bin", offset="1e3")), 1,
     "external data offset '1e3' is not a number")
case("external_no_location", ext_model(ext_tensor("W", "")), 1, "external data has no location")

# ---- the file as a whole -----------------------------------------------------
case("not_protobuf", b"\xff\xff\xff\xff not a model", 1, "protobuf parse failed")
case("no_graph", onnx.ModelProto(ir_version=8).SerializeToString(), 1, "(no graph)")
case("ir_version_0", relu_model(ir=0), 1, "ir_version 0 is outside the range onnxcc knows")
case("ir_version_999", relu_model(ir=999), 1, "ir_version 999 is outside the range onnxcc knows")
case("opset_999", relu_model(opset=999), 1, "ai.onnx opset 999 is outside the range")
case("opset_0", relu_model(opset=0), 1, "ai.onnx opset 0 is outside the range")
m = relu_model()
m.opset_import.add(domain="ai.onnx", version=13)
case("opset_imported_twice", m, 1, "domain 'ai.onnx' imported twice")
m = relu_model(extra_opsets=[helper.make_opsetid("com.example\0evil", 1)])
case("opset_domain_with_nul", m, 1, "opset_import.domain: a string contains a NUL byte")
m = relu_model()
m.graph.node[0].name = "relu\0hidden"
case("node_name_with_nul", m, 1, "graph.node.name: a string contains a NUL byte")
m = relu_model()
m.graph.input[0].name = "x\0"
case("input_name_with_nul", m, 1, "graph.input.name: a string contains a NUL byte")
case("no_outputs", model([helper.make_node("Relu", ["x"], ["y"])], [vi("x")], []), 1,
     "the graph has no outputs")
case("empty_graph", model([], [vi("x")], []), 1, "the graph has no outputs")
case("duplicate_graph_output", model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                                     [vi("x")], [vi("y"), vi("y")]), 1,
     "graph output 'y' is listed twice")
case("output_never_produced", relu_model().__class__.FromString(
    model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x")], [vi("z")])
    .SerializeToString()), 1, "graph output 'z' is never produced")
case("input_listed_twice", model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                                 [vi("x"), vi("x")], [vi("y")]), 1,
     "graph input 'x' is listed twice")
case("input_without_elem_type", model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                                      [vi("x", TensorProto.UNDEFINED)], [vi("y")]), 1,
     "graph input 'x' has no element type")
case("input_sequence_type", model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                                  [helper.make_tensor_sequence_value_info("x", F, [2])],
                                  [vi("y")]), 1, "sequence types not supported")
m = relu_model()
m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = -3
case("input_negative_dim", m, 1, "graph input 'x': dimension 0 is negative (-3)")
case("input_rank_over_8", model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                                [vi("x", shape=[1] * 9)], [vi("y", shape=[1] * 9)]), 1,
     "rank 9 exceeds the supported maximum 8")
case("input_symbolic_dim_unbound", model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                                         [vi("x", shape=("batch", 3))],
                                         [vi("y", shape=("batch", 3))]), 1,
     "bind it with --dim batch=N")
case("undefined_node_input", model([helper.make_node("Add", ["x", "nope"], ["y"], name="add")],
                                   [vi("x")], [vi("y")]), 1,
     "node 'add' (Add): input 1: 'nope' is not defined")
case("two_producers", model([helper.make_node("Relu", ["x"], ["y"], name="a"),
                             helper.make_node("Neg", ["x"], ["y"], name="b")],
                            [vi("x")], [vi("y")]), 1,
     "node 'b' (Neg): output 0: 'y' is already defined by node 'a'")
case("cycle", model([helper.make_node("Relu", ["z"], ["y"], name="a"),
                     helper.make_node("Neg", ["y"], ["z"], name="b")],
                    [vi("x")], [vi("y")]), 1, "is part of a cycle")
case("node_without_op_type", model([helper.make_node("", ["x"], ["y"], name="n")],
                                   [vi("x")], [vi("y")]), 1, "node 'n' has no op_type")
case("unknown_operator", model([helper.make_node("FancyOp", ["x"], ["y"], name="f")],
                               [vi("x")], [vi("y")]), 1,
     "node 'f' (FancyOp): unsupported operator 'FancyOp'")
case("no_opset_for_domain", model([helper.make_node("Op", ["x"], ["y"], name="f",
                                                    domain="com.example")],
                                  [vi("x")], [vi("y")]), 1,
     "no opset imported for domain 'com.example'")

# ---- initializers -----------------------------------------------------------
W = numpy_helper.from_array(np.ones((2, 3), np.float32), "W")
add_w = helper.make_node("Add", ["x", "W"], ["y"], name="add")
case("initializer_defined_twice", model([add_w], [vi("x")], [vi("y")], [W, W]), 1,
     "initializer 'W' is defined twice")
t = numpy_helper.from_array(np.ones((2, 3), np.float32), "")
case("initializer_without_name", model([add_w], [vi("x")], [vi("y")], [W, t]), 1,
     "initializer #1 has no name")
t = numpy_helper.from_array(np.ones((2, 3), np.float32), "W")
t.raw_data = t.raw_data[:-4]
case("initializer_raw_data_size", model([add_w], [vi("x")], [vi("y")], [t]), 1,
     "raw_data has 20 bytes, expected 24")
t = numpy_helper.from_array(np.ones((2, 3), np.float32), "W")
t.data_type = 99
case("initializer_unknown_dtype", model([add_w], [vi("x")], [vi("y")], [t]), 1,
     "unknown tensor data type 99")
t = numpy_helper.from_array(np.ones((2, 3), np.float32), "W")
t.dims[0] = -2
case("initializer_negative_dim", model([add_w], [vi("x")], [vi("y")], [t]), 1,
     "initializer 'W': dimension 0 is negative (-2)")
t = helper.make_tensor("W", TensorProto.STRING, [1], [b"a"])
case("initializer_string_used", model([add_w], [vi("x")], [vi("y")], [t]), 1,
     "'W': string tensors not supported")
case("initializer_shadows_input_other_shape",
     model([add_w], [vi("x"), vi("W", shape=(4, 4))], [vi("y")], [W]), 1,
     "graph input 'W' is declared f32[4,4] but an initializer of that name is f32[2,3]")
case("initializer_shadows_input_other_dtype",
     model([add_w], [vi("x"), vi("W", I64)], [vi("y")], [W]), 1,
     "graph input 'W' is declared i64[2,3] but an initializer of that name is f32[2,3]")

# ---- attributes: structure ----------------------------------------------------
n = helper.make_node("LeakyRelu", ["x"], ["y"], name="lr", alpha=0.1)
n.attribute.extend([helper.make_attribute("alpha", 0.2)])
node_case("attribute_given_twice", n, [vi("x")], [vi("y")], "attribute 'alpha' given twice")
n = helper.make_node("LeakyRelu", ["x"], ["y"], name="lr")
a = n.attribute.add()
a.type = onnx.AttributeProto.FLOAT
a.f = 0.1
node_case("attribute_without_name", n, [vi("x")], [vi("y")], "attribute without a name")
n = helper.make_node("LeakyRelu", ["x"], ["y"], name="lr")
a = n.attribute.add()
a.name, a.type, a.ref_attr_name = "alpha", onnx.AttributeProto.FLOAT, "outer"
node_case("attribute_reference_outside_function", n, [vi("x")], [vi("y")],
          "attribute 'alpha' refers to a function attribute ('outer') outside a function")
n = helper.make_node("LeakyRelu", ["x"], ["y"], name="lr")
a = n.attribute.add()
a.name = "alpha"
node_case("attribute_without_type", n, [vi("x")], [vi("y")], "attribute 'alpha' has no type")


# ---- attributes: types per the ONNX schema ------------------------------------
def typed_attr(name, value, atype):
    a = onnx.AttributeProto()
    a.name = name
    a.type = atype
    if atype == onnx.AttributeProto.FLOAT:
        a.f = value
    elif atype == onnx.AttributeProto.INT:
        a.i = value
    elif atype == onnx.AttributeProto.STRING:
        a.s = value
    elif atype == onnx.AttributeProto.FLOATS:
        a.floats.extend(value)
    elif atype == onnx.AttributeProto.INTS:
        a.ints.extend(value)
    elif atype == onnx.AttributeProto.TENSOR:
        a.t.CopyFrom(value)
    elif atype == onnx.AttributeProto.GRAPH:
        a.g.CopyFrom(value)
    return a


AP = onnx.AttributeProto
one_i64 = numpy_helper.from_array(np.array(1, np.int64), "t")
body = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "body",
                         [vi("a")], [vi("b")])
x1 = [vi("x")]
y1 = [vi("y")]
axis0 = numpy_helper.from_array(np.array(0, np.int64), "axis")
wconv = numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")
type_cases = [
    # name, op, inputs, attr, expected type, inits, input infos, output infos
    ("cumsum_exclusive_tensor", "CumSum", ["x", "axis"], typed_attr("exclusive", one_i64, AP.TENSOR),
     "INT", [axis0], x1, y1),
    ("conv_strides_floats", "Conv", ["xc", "w"], typed_attr("strides", [2.0, 2.0], AP.FLOATS),
     "INTS", [wconv], [vi("xc", shape=(1, 1, 5, 5))], [vi("y", shape=None)]),
    ("transpose_perm_floats", "Transpose", ["x"], typed_attr("perm", [1.0, 0.0], AP.FLOATS),
     "INTS", [], x1, [vi("y", shape=(3, 2))]),
    ("softmax_axis_float", "Softmax", ["x"], typed_attr("axis", 1.0, AP.FLOAT), "INT", [], x1, y1),
    ("gemm_alpha_int", "Gemm", ["x", "x2"], typed_attr("alpha", 2, AP.INT), "FLOAT", [],
     [vi("x"), vi("x2", shape=(3, 2))], [vi("y", shape=(2, 2))]),
    ("concat_axis_string", "Concat", ["x", "x"], typed_attr("axis", b"0", AP.STRING), "INT", [],
     x1, [vi("y", shape=(4, 3))]),
    ("cast_to_string", "Cast", ["x"], typed_attr("to", b"int64", AP.STRING), "INT", [], x1,
     [vi("y", I64)]),
    ("leakyrelu_alpha_floats", "LeakyRelu", ["x"], typed_attr("alpha", [0.1], AP.FLOATS), "FLOAT",
     [], x1, y1),
    ("reducesum_keepdims_float", "ReduceSum", ["x"], typed_attr("keepdims", 0.0, AP.FLOAT), "INT",
     [], x1, [vi("y", shape=None)]),
    ("gather_axis_ints", "Gather", ["x", "axis"], typed_attr("axis", [0], AP.INTS), "INT", [axis0],
     x1, [vi("y", shape=(3,))]),
    ("pad_mode_int", "Pad", ["x", "pads"], typed_attr("mode", 1, AP.INT), "STRING",
     [numpy_helper.from_array(np.zeros(4, np.int64), "pads")], x1, y1),
    ("flatten_axis_tensor", "Flatten", ["x"], typed_attr("axis", one_i64, AP.TENSOR), "INT", [],
     x1, y1),
    ("split_split_int", "Split", ["x"], typed_attr("split", 1, AP.INT), "INTS", [], x1,
     [vi("y", shape=None)]),
    ("elu_alpha_string", "Elu", ["x"], typed_attr("alpha", b"1", AP.STRING), "FLOAT", [], x1, y1),
    ("argmax_keepdims_ints", "ArgMax", ["x"], typed_attr("keepdims", [1], AP.INTS), "INT", [], x1,
     [vi("y", I64, shape=None)]),
]
for name, op, ins, attr, want, inits, xin, yout in type_cases:
    n = helper.make_node(op, ins, ["y"], name="n")
    n.attribute.extend([attr])
    opset = 11 if op == "Split" else 17
    node_case("attribute_type_" + name, n, xin, yout,
              f"node 'n' ({op}): attribute '{attr.name}' must be of type {want}", inits=inits,
              opset=opset)

# ---- attributes: names per the ONNX schema ------------------------------------
for name, op, attr, ver in (
        ("relu_alpha", "Relu", typed_attr("alpha", 0.1, AP.FLOAT), "Relu-14"),
        ("matmul_transA", "MatMul", typed_attr("transA", 1, AP.INT), "MatMul-13"),
        ("sigmoid_bogus", "Sigmoid", typed_attr("bogus", 1, AP.INT), "Sigmoid-13"),
        ("dropout_is_test_removed", "Dropout", typed_attr("is_test", 1, AP.INT), "Dropout-13"),
        ("add_broadcast_removed", "Add", typed_attr("broadcast", 1, AP.INT), "Add-14"),
        ("subgraph_on_neg", "Neg", typed_attr("body", body, AP.GRAPH), "Neg-13"),
        ("subgraph_on_add", "Add", typed_attr("then_branch", body, AP.GRAPH), "Add-14")):
    ins = ["x", "x"] if op in ("Add", "MatMul") else ["x"]
    xin = [vi("x", shape=(3, 3))] if op == "MatMul" else x1
    yout = [vi("y", shape=(3, 3))] if op == "MatMul" else y1
    n = helper.make_node(op, ins, ["y"], name="n")
    n.attribute.extend([attr])
    node_case("attribute_unknown_" + name, n, xin, yout,
              f"node 'n' ({op}): attribute '{attr.name}' is not defined by {ver}")

# ---- an op's opset range ----------------------------------------------------------
for name, op, opset, first in (("trilu_at_opset_1", "Trilu", 1, 14),
                               ("gelu_at_opset_17", "Gelu", 17, 20),
                               ("mish_at_opset_17", "Mish", 17, 18),
                               ("celu_at_opset_11", "Celu", 11, 12),
                               ("bitwise_not_at_opset_17", "BitwiseNot", 17, 18)):
    dt = I64 if op == "BitwiseNot" else F
    node_case("op_below_its_opset_" + name, helper.make_node(op, ["x"], ["y"], name="n"),
              [vi("x", dt)], [vi("y", dt)], f"operator {op} was introduced in opset {first}",
              opset=opset)

# an op the specification deprecated is out of its range from that opset on
node_case("op_deprecated_upsample_at_opset_10",
          helper.make_node("Upsample", ["xc", "sc"], ["y"], name="n", mode="nearest"),
          [vi("xc", shape=(1, 1, 2, 2))], [vi("y", shape=None)],
          "operator Upsample is deprecated from opset 10 on", opset=10,
          inits=[numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "sc")])
node_case("op_deprecated_scatter_at_opset_11",
          helper.make_node("Scatter", ["x", "i", "u"], ["y"], name="n", axis=1),
          x1, y1, "operator Scatter is deprecated from opset 11 on", opset=11,
          inits=[numpy_helper.from_array(np.array([[0]], np.int64), "i"),
                 numpy_helper.from_array(np.ones((1, 1), np.float32), "u")])

# ---- declared types that contradict inference --------------------------------------
node_case("declared_output_dtype_contradicts", helper.make_node("Relu", ["x"], ["y"], name="n"),
          [vi("x")], [vi("y", I64)], "inferred f32[2,3] contradicts the declared i64[2,3] (graph output)")
node_case("declared_output_shape_contradicts", helper.make_node("Relu", ["x"], ["y"], name="n"),
          [vi("x")], [vi("y", shape=(3, 2))],
          "inferred f32[2,3] contradicts the declared f32[3,2] (graph output)")
case("value_info_contradicts", model([helper.make_node("Relu", ["x"], ["t"], name="a"),
                                      helper.make_node("Neg", ["t"], ["y"], name="b")],
                                     [vi("x")], [vi("y")], value_info=[vi("t", shape=(2, 4))]), 1,
     "node 'a' (Relu): output 0 ('t'): inferred f32[2,3] contradicts the declared f32[2,4] (value_info)")
node_case("declared_output_rank_contradicts", helper.make_node("Relu", ["x"], ["y"], name="n"),
          [vi("x")], [vi("y", shape=(6,))],
          "inferred f32[2,3] contradicts the declared f32[6] (graph output)")


# ---- constant indices out of range -------------------------------------------------
def ints(name, arr):
    return numpy_helper.from_array(np.array(arr, np.int64), name)


node_case("gather_index_out_of_range", helper.make_node("Gather", ["x", "i"], ["y"], name="n"),
          x1, [vi("y", shape=(1, 3))], "index 5 out of range for axis 0 of size 2",
          inits=[ints("i", [5])])
node_case("gatherelements_index_out_of_range",
          helper.make_node("GatherElements", ["x", "i"], ["y"], name="n", axis=1),
          x1, [vi("y", shape=(1, 1))], "input 1: index 3 (element 0) out of range for axis 1 of size 3",
          inits=[ints("i", [[3]])])
node_case("gatherelements_negative_index_out_of_range",
          helper.make_node("GatherElements", ["x", "i"], ["y"], name="n", axis=0),
          x1, [vi("y", shape=(1, 1))], "index -3 (element 0) out of range for axis 0 of size 2",
          inits=[ints("i", [[-3]])])
node_case("gathernd_index_out_of_range",
          helper.make_node("GatherND", ["x", "i"], ["y"], name="n"),
          x1, [vi("y", shape=(1,))], "index 7 (element 1) out of range for axis 1 of size 3",
          inits=[ints("i", [[1, 7]])])
node_case("scatternd_index_out_of_range",
          helper.make_node("ScatterND", ["x", "i", "u"], ["y"], name="n"),
          x1, y1, "index 2 (element 0) out of range for axis 0 of size 2",
          inits=[ints("i", [[2, 0]]), numpy_helper.from_array(np.ones(1, np.float32), "u")])
node_case("scatterelements_index_out_of_range",
          helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], name="n", axis=1),
          x1, y1, "index 9 (element 0) out of range for axis 1 of size 3",
          inits=[ints("i", [[9]]), numpy_helper.from_array(np.ones((1, 1), np.float32), "u")])
node_case("nllloss_target_out_of_range",
          helper.make_node("NegativeLogLikelihoodLoss", ["x", "t"], ["y"], name="n",
                           reduction="none", ignore_index=-1),
          x1, [vi("y", shape=(2,))], "input 1: target 3 (element 1) out of range for 3 classes",
          inits=[ints("t", [-1, 3])])
node_case("softmaxcrossentropyloss_negative_target",
          helper.make_node("SoftmaxCrossEntropyLoss", ["x", "t"], ["y"], name="n"),
          x1, [vi("y", shape=())], "input 1: target -2 (element 0) out of range for 3 classes",
          inits=[ints("t", [-2, 0])])
node_case("maxunpool_index_out_of_range",
          helper.make_node("MaxUnpool", ["xu", "i"], ["y"], name="n", kernel_shape=[2, 2],
                           strides=[2, 2]),
          [vi("xu", shape=(1, 1, 1, 1))], [vi("y", shape=(1, 1, 2, 2))],
          "input 1: index 4 (element 0) out of range for the 4 elements of the output",
          inits=[ints("i", [[[[4]]]])])
# two chained 32 GiB tensors: the intermediate one needs more workspace than
# the default limit (16 GiB, --max-workspace); Abs is no op fuse-elementwise
# merges into one loop, so h is stored
case("workspace_over_limit",
     model([helper.make_node("Relu", ["x"], ["h"], name="r1"),
            helper.make_node("Abs", ["h"], ["y"], name="r2")],
           [vi("x", shape=(1 << 33,))], [vi("y", shape=(1 << 33,))]), 1,
     "more than the limit of 17179869184 (--max-workspace BYTES raises it)")

# ---- op-specific rules -----------------------------------------------------------------
node_case("convtranspose_output_padding_ge_stride",
          helper.make_node("ConvTranspose", ["xc", "w"], ["y"], name="n", strides=[2, 2],
                           output_padding=[2, 0]),
          [vi("xc", shape=(1, 1, 4, 4))], [vi("y", shape=None)],
          "attribute 'output_padding': entry 0 (2) must be >= 0 and less than the stride (2)",
          inits=[wconv])
node_case("pad_reflect_wider_than_dim",
          helper.make_node("Pad", ["x", "pads"], ["y"], name="n", mode="reflect"),
          x1, [vi("y", shape=None)], "reflect pads (0, 3) on axis 1 of size 3: each must be at most 2",
          inits=[ints("pads", [0, 0, 0, 3])])
node_case("pad_edge_on_empty_dim",
          helper.make_node("Pad", ["x", "pads"], ["y"], name="n", mode="edge"),
          [vi("x", shape=(0, 3))], [vi("y", shape=None)], "edge pads on axis 0 of size 0",
          inits=[ints("pads", [1, 0, 0, 0])])
lstm_w = numpy_helper.from_array(np.zeros((1, 0, 3), np.float32), "W")
lstm_r = numpy_helper.from_array(np.zeros((1, 0, 0), np.float32), "R")
node_case("clip6_int_input",
          helper.make_node("Clip", ["x"], ["y"], name="n"),
          [vi("x", TensorProto.INT8, (3, 4))], [vi("y", TensorProto.INT8, (3, 4))],
          "Clip before opset 11 takes float tensors only", opset=6)
node_case("lstm_hidden_size_0",
          helper.make_node("LSTM", ["xs", "W", "R"], ["y"], name="n", hidden_size=0),
          [vi("xs", shape=(2, 1, 3))], [vi("y", shape=None)],
          "input 2: hidden size (R's dim 2) must be >= 1, got 0", inits=[lstm_w, lstm_r])
node_case("pad_result_too_large",
          helper.make_node("Pad", ["x", "pads"], ["y"], name="n"),
          x1, [vi("y", shape=None)], "more than 2^48 elements",
          inits=[ints("pads", [1 << 40, 0, 0, 1 << 20])])
node_case("tile_result_too_large",
          helper.make_node("Tile", ["x", "r"], ["y"], name="n"),
          x1, [vi("y", shape=None)], "more than 2^48 elements", inits=[ints("r", [1 << 30, 1 << 30])])
node_case("constantofshape_too_large",
          helper.make_node("ConstantOfShape", ["s"], ["y"], name="n"),
          [], [vi("y", shape=None)], "more than 2^48 elements", inits=[ints("s", [1 << 25, 1 << 25])])
node_case("maxpool_pads_too_large",
          helper.make_node("MaxPool", ["xc"], ["y"], name="n", kernel_shape=[1, 1],
                           pads=[1 << 30, 1 << 30, 1 << 30, 1 << 30]),
          [vi("xc", shape=(1, 1, 4, 4))], [vi("y", shape=None)], "more than 2^48 elements")
node_case("expand_result_too_large",
          helper.make_node("Expand", ["x", "s"], ["y"], name="n"),
          x1, [vi("y", shape=None)], "more than 2^48 elements",
          inits=[ints("s", [1 << 25, 1 << 24, 2, 3])])
# an input no node reads, too large to size (found by fuzz_graph: the header
# multiplied its element count by the element size)
node_case("unused_input_too_large",
          helper.make_node("Relu", ["x"], ["y"], name="n"),
          [vi("x"), vi("u", shape=(1 << 62,))], [vi("y")], "more than 2^48 elements")
node_case("range_result_too_large",
          helper.make_node("Range", ["a", "b", "c"], ["y"], name="n"),
          [], [vi("y", I64, shape=None)], "more than 2^48 elements",
          inits=[ints("a", 0), ints("b", 1 << 60), ints("c", 1)])
node_case("resize_result_too_large",
          helper.make_node("Resize", ["xc", "", "sc"], ["y"], name="n"),
          [vi("xc", shape=(1, 1, 2, 2))], [vi("y", shape=None)], "more than 2^48 elements",
          inits=[numpy_helper.from_array(np.array([1, 1, 1e8, 1e8], np.float32), "sc")])
node_case("reshape_element_count", helper.make_node("Reshape", ["x", "s"], ["y"], name="n"),
          x1, [vi("y", shape=None)], "node 'n' (Reshape): input 1: shape [4,2] has 8 elements, input [2,3] has 6",
          inits=[ints("s", [4, 2])])
node_case("add_shapes_do_not_broadcast", helper.make_node("Add", ["x", "z"], ["y"], name="n"),
          [vi("x"), vi("z", shape=(4,))], [vi("y", shape=None)], "does not broadcast")
# found by fuzz_graph (a heap read before an array in fuse-attention: a
# Softmax whose only output had an empty name)
case("required_output_omitted_softmax",
     model([helper.make_node("Softmax", ["x"], [""], name="s0"),
            helper.make_node("Softmax", ["x"], ["y"], name="s1")], [vi("x")], [vi("y")]), 1,
     "node 's0' (Softmax): output 0 is required: it cannot be omitted")
node_case("add_with_three_inputs", helper.make_node("Add", ["x", "x", "x"], ["y"], name="n"),
          x1, y1, "node 'n' (Add): expected 2 inputs, got 3")
node_case("concat_axis_out_of_range", helper.make_node("Concat", ["x", "x"], ["y"], name="n",
                                                       axis=5),
          x1, [vi("y", shape=None)], "axis 5 out of range for rank 2")
node_case("transpose_perm_not_a_permutation",
          helper.make_node("Transpose", ["x"], ["y"], name="n", perm=[0, 0]),
          x1, [vi("y", shape=None)], "node 'n' (Transpose): perm is not a permutation of 0..1")
node_case("slice_starts_not_constant",
          helper.make_node("Slice", ["x", "st", "en"], ["y"], name="n"),
          [vi("x"), vi("st", I64, (1,)), vi("en", I64, (1,))], [vi("y", shape=None)],
          "must be a constant for static compilation")
node_case("cast_to_unknown_dtype", helper.make_node("Cast", ["x"], ["y"], name="n", to=99),
          x1, [vi("y", shape=None)], "node 'n' (Cast): attribute 'to': unsupported dtype 99")
node_case("conv_group_does_not_divide", helper.make_node("Conv", ["xc", "w"], ["y"], name="n",
                                                         group=2),
          [vi("xc", shape=(1, 3, 5, 5))], [vi("y", shape=None)], "node 'n' (Conv): group 2 does not divide channels 3",
          inits=[numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")])
c = helper.make_node("Constant", [], ["y"], name="c", value_float=1.0, value_int=1)
case("constant_with_two_values", model([c], [], [vi("y", shape=None)]), 1,
     "expected exactly one value attribute, got 2")

with open(os.path.join(here, "cases.txt"), "w") as f:
    f.write("# generated by make_bad.py: FILE<TAB>EXIT<TAB>DIAGNOSTIC SUBSTRING\n")
    for fname, code, sub in cases:
        f.write(f"{fname}\t{code}\t{sub}\n")
print(f"{len(cases)} cases")
