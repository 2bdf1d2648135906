"""The two ONNX graphs of a TRM, built to the contract the runtime reads.

``step.onnx`` is one supervision step: ``(tokens, y, z, first) -> (y_out, z_out, logits, q_halt)``; where
``first`` is true a row starts from the model's fixed initial state, whatever y and z hold. ``unrolled.onnx``
is all N_sup steps with per-puzzle halting: ``(tokens, halt_threshold, max_steps) -> (logits, q_halt,
steps)``. Every interface is fp32 (int64 tokens and steps, bool ``first``) with a dynamic axis "batch";
the weights are stored as fp16 initializers, each followed by a Cast to fp32.

The step graph is traced with the legacy TorchScript exporter. The unrolled graph is composed at the ONNX
level from N_sup copies of the step graph's state-dependent nodes (the weights, their casts and the input
embedding appear once), joined by ``Where`` masks: seconds to build, against minutes to trace the same
unrolled network. Its masks spell the halting rule of :mod:`trm_sdk.halting` in graph nodes, the one
place outside that module where the rule is written; the tests hold the two together.
"""

from __future__ import annotations

import copy
import io
import warnings
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from trm_sdk.errors import TRMError
from trm_sdk.manifest import STEP_INPUTS, STEP_OUTPUTS, UNROLLED_INPUTS, UNROLLED_OUTPUTS
from trm_sdk.network import TRM, TRMConfig

from .defaults import DEFAULT_OPSET, SUPPORTED_OPSETS

__all__ = [
    "DEFAULT_OPSET",
    "STEP_INPUTS",
    "STEP_OUTPUTS",
    "UNROLLED_INPUTS",
    "UNROLLED_OUTPUTS",
    "ExportError",
    "StepGraph",
    "build_step_graph",
    "compose_unrolled_graph",
    "io_spec",
    "round_weights_fp16",
    "set_metadata",
    "store_weights_fp16",
]

_PREFIX = "trm/"  # names of values the composer adds; the TorchScript exporter never starts a name so


class ExportError(TRMError, RuntimeError):
    """An export could not be made, or its graphs do not compute what the PyTorch model computes."""


# --------------------------------------------------------------------------------------------------
# The contract as PyTorch modules


def round_weights_fp16(model: TRM) -> TRM:
    """A copy of ``model`` whose parameters and float buffers are rounded to fp16 (kept as fp32).

    The graphs store fp16 weights; comparing them against this copy keeps the parity check exact.
    """
    rounded = copy.deepcopy(model).float().eval()
    tensors = [*rounded.named_parameters(), *rounded.named_buffers()]
    with torch.no_grad():
        for name, tensor in tensors:
            if tensor.is_floating_point():
                half = tensor.half()
                if not torch.isfinite(half).all():
                    raise ExportError(f"weight {name} exceeds the fp16 range (|w| > 65504): cannot store it")
                tensor.copy_(half.float())
    return rounded


class StepGraph(nn.Module):
    """One supervision step; rows where ``first`` is true start from (y_init, z_init) instead of (y, z)."""

    def __init__(self, model: TRM) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, tokens: torch.Tensor, y: torch.Tensor, z: torch.Tensor, first: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        reset = first[:, None, None]  # (B, 1, 1)
        y = torch.where(reset, self.model.y_init, y)  # y_init (D,) broadcasts to (B, L, D)
        z = torch.where(reset, self.model.z_init, z)
        return self.model(tokens, y, z)


# --------------------------------------------------------------------------------------------------
# Interfaces and metadata


def io_spec(cfg: TRMConfig) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Names, dtypes and shapes of both graphs' inputs and outputs ("batch" is the dynamic axis)."""
    S, L, D, V = cfg.seq_len, cfg.length, cfg.hidden, cfg.vocab_size

    def entry(name: str, dtype: str, shape: list[Any]) -> dict[str, Any]:
        return {"name": name, "dtype": dtype, "shape": shape}

    return {
        "step": {
            "inputs": [
                entry("tokens", "int64", ["batch", S]),
                entry("y", "float32", ["batch", L, D]),
                entry("z", "float32", ["batch", L, D]),
                entry("first", "bool", ["batch"]),
            ],
            "outputs": [
                entry("y_out", "float32", ["batch", L, D]),
                entry("z_out", "float32", ["batch", L, D]),
                entry("logits", "float32", ["batch", S, V]),
                entry("q_halt", "float32", ["batch"]),
            ],
        },
        "unrolled": {
            "inputs": [
                entry("tokens", "int64", ["batch", S]),
                entry("halt_threshold", "float32", []),
                entry("max_steps", "int64", []),
            ],
            "outputs": [
                entry("logits", "float32", ["batch", S, V]),
                entry("q_halt", "float32", ["batch"]),
                entry("steps", "int64", ["batch"]),
            ],
        },
    }


_ONNX_DTYPES = {"float32": TensorProto.FLOAT, "int64": TensorProto.INT64, "bool": TensorProto.BOOL}


def _value_info(entry: dict[str, Any]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(entry["name"], _ONNX_DTYPES[entry["dtype"]], entry["shape"])


def _set_interface(proto: onnx.ModelProto, spec: dict[str, list[dict[str, Any]]]) -> None:
    """Declare the contract's exact input/output types (the exporter leaves names like 'Casty_out_dim_1')."""
    graph = proto.graph
    for field, entries in (("input", spec["inputs"]), ("output", spec["outputs"])):
        values = getattr(graph, field)
        names = [v.name for v in values]
        if names != [e["name"] for e in entries]:
            raise ExportError(
                f"graph {field}s are {names}, the contract needs {[e['name'] for e in entries]}"
            )
        del values[:]
        values.extend(_value_info(e) for e in entries)


def set_metadata(proto: onnx.ModelProto, props: dict[str, str]) -> None:
    """Set ONNX ``metadata_props`` (replacing keys already there) so a graph found alone says what it is."""
    kept = [p for p in proto.metadata_props if p.key not in props]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=str(value))


def store_weights_fp16(proto: onnx.ModelProto, min_elements: int = 16) -> dict[str, int]:
    """Store every fp32 initializer that fp16 holds exactly as fp16, followed by a Cast back to fp32.

    Lossless by construction: a tensor that does not round-trip (eps-like scalars, or weights that were
    not rounded first) stays fp32. Returns element counts, so callers can see what was converted.
    """
    graph = proto.graph
    kept: list[onnx.TensorProto] = []
    casts: list[onnx.NodeProto] = []
    counts = {"fp16": 0, "fp32": 0}
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            kept.append(init)
            continue
        values = numpy_helper.to_array(init)
        half = values.astype(np.float16)
        if values.size < min_elements or not np.array_equal(half.astype(np.float32), values):
            kept.append(init)
            counts["fp32"] += values.size
            continue
        stored = numpy_helper.from_array(half, name=f"{init.name}.fp16")
        kept.append(stored)
        casts.append(
            helper.make_node(
                "Cast", [stored.name], [init.name], name=f"{_PREFIX}cast/{init.name}", to=TensorProto.FLOAT
            )
        )
        counts["fp16"] += values.size
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend([*casts, *nodes])
    return counts


# --------------------------------------------------------------------------------------------------
# Tracing


def _check_opset(opset: int) -> None:
    if opset not in SUPPORTED_OPSETS:
        raise ExportError(
            f"opset {opset} is not supported; use {SUPPORTED_OPSETS.start}-{SUPPORTED_OPSETS.stop - 1} "
            f"(the runtime contract is {DEFAULT_OPSET})"
        )


def _trace(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    opset: int,
) -> onnx.ModelProto:
    buffer = io.BytesIO()
    dynamic = {name: {0: "batch"} for name in (*inputs, *outputs)}
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which does not yet produce
        # a usable graph for this recursion; it is the contract's exporter, so silence just that warning.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(
            module.eval(),
            args,
            buffer,  # type: ignore[arg-type]  # the stub names paths only; a file object is documented too
            dynamo=False,
            opset_version=opset,
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=dynamic,
            do_constant_folding=True,
        )
    return onnx.load_from_string(buffer.getvalue())


def build_step_graph(model: TRM, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """Trace one supervision step of ``model`` (already rounded to fp16) and store its weights as fp16."""
    _check_opset(opset)
    cfg = model.cfg
    B = 2  # any size: the batch axis is dynamic
    tokens = torch.randint(0, cfg.vocab_size, (B, cfg.seq_len))
    y, z = model.initial_state(B)
    first = torch.ones(B, dtype=torch.bool)
    proto = _trace(StepGraph(model), (tokens, y, z, first), STEP_INPUTS, STEP_OUTPUTS, opset)
    _set_interface(proto, io_spec(cfg)["step"])
    store_weights_fp16(proto)
    onnx.checker.check_model(proto)
    return proto


# --------------------------------------------------------------------------------------------------
# Composing the unrolled graph from the step graph


class _Builder:
    """Appends nodes and constant initializers under unique names in the composer's namespace."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph

    def node(self, op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        out = f"{_PREFIX}{name}"
        self.graph.node.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def const(self, name: str, value: np.ndarray) -> str:
        full = f"{_PREFIX}{name}"
        self.graph.initializer.append(numpy_helper.from_array(value, name=full))
        return full


def compose_unrolled_graph(step: onnx.ModelProto, cfg: TRMConfig) -> onnx.ModelProto:
    """Build unrolled.onnx from step.onnx: N_sup copies of the step joined by the halting masks.

    Nodes of the step graph that do not depend on y, z or first (weight casts, the input embedding,
    constants) are emitted once and shared by every copy; the rest is copied per step with its values
    renamed ``trm/step{k}/...``. Step 1 gets first=true (so zeros stand in for y and z), later steps
    first=false and the previous step's state.
    """
    src = step.graph
    if [i.name for i in src.input] != list(STEP_INPUTS) or [o.name for o in src.output] != list(STEP_OUTPUTS):
        raise ExportError("the step graph does not have the contract's inputs and outputs")
    varying = {"y", "z", "first"}
    for node in src.node:  # ONNX keeps nodes in topological order
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise ExportError(f"cannot unroll a step graph with control flow ({node.op_type} {node.name})")
        if varying.intersection(node.input):
            varying.update(o for o in node.output if o)
    shared = [n for n in src.node if not varying.intersection(n.output)]
    per_step = [n for n in src.node if varying.intersection(n.output)]

    graph = helper.make_graph([], "trm_unrolled", [], [], initializer=list(src.initializer))
    spec = io_spec(cfg)["unrolled"]
    graph.input.extend(_value_info(e) for e in spec["inputs"])
    graph.node.extend(shared)
    b = _Builder(graph)

    # (B,) masks and a zero state for step 1, all sized from the batch of the tokens.
    batch = b.node("Shape", ["tokens"], "batch", start=0, end=1)  # (1,)
    first_all = b.node("Expand", [b.const("true", np.array(True)), batch], "first_all")
    first_none = b.node("Expand", [b.const("false", np.array(False)), batch], "first_none")
    state_shape = b.node(
        "Concat", [batch, b.const("LD", np.array([cfg.length, cfg.hidden], np.int64))], "state_shape", axis=0
    )
    zeros = b.node("Expand", [b.const("zero", np.array(0.0, np.float32)), state_shape], "zero_state")
    axes12 = b.const("axes12", np.array([1, 2], np.int64))

    # Copies get short value names: the exporter's run to ~60 characters, a third of the file at N_sup 16.
    internal = [o for node in per_step for o in node.output if o and o not in STEP_OUTPUTS]
    short = {name: f"v{i}" for i, name in enumerate(internal)}
    short.update({name: f"net_{name}" for name in STEP_OUTPUTS})

    y = z = zeros
    logits = q = steps = halted = ""
    for k in range(1, cfg.N_sup + 1):
        tag = f"step{k}"
        k_value = b.const(f"k{k}", np.array(k, np.int64))
        rename = {name: f"{_PREFIX}{tag}/{s}" for name, s in short.items()}
        rename.update({"y": y, "z": z, "first": first_all if k == 1 else first_none})
        for i, node in enumerate(per_step):
            copied = onnx.NodeProto()
            copied.CopyFrom(node)
            copied.name = f"{_PREFIX}{tag}/n{i}"
            copied.input[:] = [rename.get(v, v) for v in node.input]
            copied.output[:] = [rename.get(v, v) for v in node.output]
            graph.node.append(copied)
        y_new, z_new, logits_new, q_new = (rename[o] for o in STEP_OUTPUTS)

        if k == 1:  # every puzzle is still running
            y, z, logits, q = y_new, z_new, logits_new, q_new
            steps = b.node("Expand", [k_value, batch], f"{tag}/steps")
        else:
            run = b.node("Not", [halted], f"{tag}/run")
            run3 = b.node("Unsqueeze", [run, axes12], f"{tag}/run3")
            logits = b.node("Where", [run3, logits_new, logits], f"{tag}/logits")
            q = b.node("Where", [run, q_new, q], f"{tag}/q_halt")
            steps = b.node("Where", [run, k_value, steps], f"{tag}/steps")
            if k < cfg.N_sup:  # the state after the last step is not needed
                y = b.node("Where", [run3, y_new, y], f"{tag}/y")
                z = b.node("Where", [run3, z_new, z], f"{tag}/z")
        if k < cfg.N_sup:
            prob = b.node("Sigmoid", [q_new], f"{tag}/prob")
            confident = b.node("Greater", [prob, "halt_threshold"], f"{tag}/confident")
            at_limit = b.node("GreaterOrEqual", [k_value, "max_steps"], f"{tag}/at_limit")  # scalar
            stop = b.node("Or", [confident, at_limit], f"{tag}/stop")
            halted = stop if k == 1 else b.node("Or", [halted, stop], f"{tag}/halted")

    for value, out in zip((logits, q, steps), UNROLLED_OUTPUTS, strict=True):
        graph.node.append(helper.make_node("Identity", [value], [out], name=f"{_PREFIX}out/{out}"))
    graph.output.extend(_value_info(e) for e in spec["outputs"])

    proto = helper.make_model(graph, opset_imports=list(step.opset_import), producer_name="trm-sdk")
    proto.ir_version = step.ir_version
    onnx.checker.check_model(proto)
    return proto
