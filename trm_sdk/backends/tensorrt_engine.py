"""TensorRT engines of a model's step graph: built with the TensorRT Python API, cached per machine.

An engine only runs on the GPU model and TensorRT version it was built with, so it is built where it runs
(by the first ``Solver(backend="tensorrt")`` there, or by ``trm-export --format tensorrt``) and kept in a
cache directory: ``$TRM_SDK_CACHE``, else ``$XDG_CACHE_HOME/trm-sdk``, else ``~/.cache/trm-sdk``. Each
engine has a JSON sidecar saying what it was built from and for. An engine whose sidecar does not match
this machine and model is stale; one whose bytes do not match the sidecar's sha256, or that TensorRT cannot
load, is corrupt; both are rebuilt, with a log line that says why.

Written for TensorRT 10 and 11 alike: the network is strongly typed (11 removed the FP16/BF16 builder
flags), so precision is carried by the ONNX graph's own types. fp32 builds step.onnx as shipped; fp16 and
bf16 build the same graph with every float tensor retyped, keeping the fp32 interface with casts at the
edges, so the backend's buffers are the same for every precision.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError
from ..manifest import PRECISIONS, STEP_FILE

__all__ = [
    "METADATA_FORMAT",
    "TRT10_ONNX_OPS",
    "TRT10_OPSETS",
    "EngineSpec",
    "Target",
    "build_engine",
    "cache_dir",
    "engine_path",
    "load_or_build",
    "operator_problems",
    "retype_graph",
]

log = logging.getLogger("trm_sdk")

# ONNX operators TensorRT 10's ONNX parser imports, from onnx-tensorrt's docs/operators.md (TensorRT 10.x,
# rows marked Y; opsets 9 to 20). Ops added to the parser late in 10.x (Attention, RMSNormalization,
# RotaryEmbedding, TensorScatter) are left out, so a graph that passes here parses on any TensorRT 10.
TRT10_ONNX_OPS = frozenset(
    """Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization
    BlackmanWindow Cast CastLike Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh
    CumSum DeformConv DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike
    Flatten Floor Gather GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool
    Greater GreaterOrEqual GridSample GroupNormalization GRU HammingWindow HannWindow HardSigmoid HardSwish
    Hardmax Identity If ImageScaler InstanceNormalization IsInf IsNaN LayerNormalization LeakyRelu Less
    LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max MaxPool Mean
    MeanVarianceNormalization Min Mish Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or Pad
    ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike RandomUniform
    RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean
    ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RNN RoiAlign Round
    STFT ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign Sin Sinh Size
    Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile
    TopK Transpose Trilu Unsqueeze Upsample Where Xor""".split()
)
TRT10_OPSETS = range(9, 21)


def operator_problems(onnx_bytes: bytes) -> list[str]:
    """What in a graph TensorRT 10's ONNX parser would refuse: operators outside its list, or an opset
    outside its range; [] for a graph it parses. Checked without a GPU, so an export or an imported model
    can be known to build before any TensorRT machine sees it."""
    import onnx

    proto = onnx.load_from_string(onnx_bytes)
    problems = []
    unknown = sorted({n.op_type for n in proto.graph.node} - TRT10_ONNX_OPS)
    if unknown:
        problems.append(f"operators TensorRT 10 does not parse: {', '.join(unknown)}")
    opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset not in TRT10_OPSETS:
        problems.append(f"opset {opset} (TensorRT 10 parses {TRT10_OPSETS.start} to {TRT10_OPSETS.stop - 1})")
    return problems


METADATA_FORMAT = 1
_FP32_OPS = ("ReduceMean", "ReduceSum")  # computed in fp32 inside fp16/bf16 graphs, as RMSNorm is in PyTorch
_KEY_FIELDS = ("model_sha256", "precision", "profile", "tensorrt", "gpu", "compute_capability")


def cache_dir() -> Path:
    if os.environ.get("TRM_SDK_CACHE"):
        return Path(os.environ["TRM_SDK_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trm-sdk"


@dataclass(frozen=True)
class EngineSpec:
    """What is asked for: which model's step graph, in which precision, for which batch sizes."""

    task: str
    model_sha256: str  # of step.onnx, from the model's manifest
    precision: str = "fp16"
    max_batch: int = 2048
    opt_batch: int = 256  # the batch size TensorRT tunes kernels for

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if not 1 <= self.opt_batch <= self.max_batch:
            raise ValueError(f"need 1 <= opt_batch <= max_batch, got {self.opt_batch}, {self.max_batch}")

    @property
    def profile(self) -> dict[str, int]:
        return {"min_batch": 1, "opt_batch": self.opt_batch, "max_batch": self.max_batch}


@dataclass(frozen=True)
class Target:
    """What it is built for: this machine's TensorRT and GPU."""

    tensorrt: str  # tensorrt.__version__
    gpu: str  # device name, e.g. "NVIDIA H200"
    compute_capability: str  # e.g. "9.0"


def engine_path(directory: Path, spec: EngineSpec, target: Target) -> Path:
    """One file per model, precision, profile and GPU; a TensorRT upgrade finds the old file stale."""
    gpu = re.sub(r"[^a-z0-9]+", "-", target.gpu.lower()).strip("-") or "gpu"
    sm = target.compute_capability.replace(".", "")
    name = f"{spec.task}-{spec.model_sha256[:16]}-{spec.precision}-b{spec.max_batch}-{gpu}-sm{sm}.engine"
    return directory / name


def _expected(spec: EngineSpec, target: Target) -> dict[str, Any]:
    return {
        "task": spec.task,
        "model_sha256": spec.model_sha256,
        "precision": spec.precision,
        "profile": spec.profile,
        **asdict(target),
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _problem(path: Path, sidecar: Path, expected: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(None, metadata) if the cached engine matches ``expected`` by its sidecar, else (why not, {})."""
    if not path.is_file() and not sidecar.is_file():
        return "not built on this machine yet", {}
    if not path.is_file():
        return "the engine file is missing (only its sidecar is there)", {}
    if not sidecar.is_file():
        return f"corrupt: it has no metadata sidecar {sidecar.name}", {}
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != METADATA_FORMAT:
            raise ValueError(f"not a format-{METADATA_FORMAT} engine sidecar")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"corrupt: its sidecar {sidecar.name} is unreadable ({exc})", {}
    changed = [
        f"{key} {meta.get(key)!r} -> {expected[key]!r}"
        for key in _KEY_FIELDS
        if meta.get(key) != expected[key]
    ]
    if changed:
        return "stale: built for a different " + ", ".join(changed), {}
    return None, meta


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def load_or_build(
    read_step: Callable[[], bytes],
    spec: EngineSpec,
    target: Target,
    *,
    deserialize: Callable[[bytes], Any],
    directory: Path | None = None,
    builder: Callable[[bytes, EngineSpec], bytes] | None = None,
) -> tuple[Any, Path, dict[str, Any]]:
    """The engine for ``spec`` on ``target``: from the cache if it is sound, else built and cached.

    ``read_step`` gives the step graph's bytes, called only when an engine must be built: the model's
    verified bytes (``Manifest.read``), so the engine is built from exactly what was hashed.
    ``deserialize`` turns engine bytes into a runtime engine (``trt.Runtime.deserialize_cuda_engine``);
    ``builder`` defaults to :func:`build_engine` (tests pass a fake). Returns (engine, path, metadata).
    """
    directory = directory or cache_dir()
    path = engine_path(directory, spec, target)
    sidecar = path.with_suffix(".json")
    expected = _expected(spec, target)
    reason, meta = _problem(path, sidecar, expected)
    if reason is None:
        data = path.read_bytes()
        if _sha256(data) != meta.get("engine_sha256"):
            reason = "corrupt: its bytes do not match the sha256 in its sidecar"
        else:
            try:
                engine = deserialize(data)
            except Exception as exc:  # TensorRT raises its own untyped errors
                engine, reason = None, f"corrupt: TensorRT cannot load it ({exc})"
            if engine is not None:
                log.info("trm_sdk: TensorRT engine %s (cached)", path)
                return engine, path, meta
            reason = reason or "corrupt: TensorRT cannot load it"
    if reason.startswith("not built"):
        log.info("trm_sdk: building TensorRT engine %s: %s (takes a minute or so, once)", path, reason)
    else:
        log.warning("trm_sdk: rebuilding TensorRT engine %s: %s", path, reason)

    start = time.perf_counter()
    data = (builder or build_engine)(read_step(), spec)
    meta = {
        "format": METADATA_FORMAT,
        **expected,
        "engine_sha256": _sha256(data),
        "engine_bytes": len(data),
        "build_seconds": round(time.perf_counter() - start, 1),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "onnx": STEP_FILE,
    }
    directory.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, data)  # engine first: a crash before the sidecar leaves it "corrupt", rebuilt
    _write_atomic(sidecar, (json.dumps(meta, indent=2) + "\n").encode())
    engine = deserialize(data)
    if engine is None:
        raise BackendUnavailableError(f"TensorRT cannot load the engine it just built ({path})")
    return engine, path, meta


# --------------------------------------------------------------------------------------------------
# Precision as graph types, and the build


def _bf16_bits(values: np.ndarray) -> np.ndarray:
    bits = values.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even


def retype_graph(onnx_bytes: bytes, precision: str) -> bytes:
    """The step graph with every float32 tensor in ``precision``; inputs and outputs stay float32.

    Float initializers and constants are converted, every Cast to float32 (the fp16 weights' casts
    among them) casts to ``precision`` instead, and casts are added after each float input and before
    each float output. The step then computes in ``precision``, except the reductions (RMSNorm's mean
    of squares), which keep fp32 between two casts; TensorRT's strong typing follows these types.
    """
    if precision == "fp32":
        return onnx_bytes
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    low = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}[precision]

    def convert(t: Any) -> None:
        values = numpy_helper.to_array(t).astype(np.float32)
        if low == TensorProto.FLOAT16:
            t.CopyFrom(numpy_helper.from_array(values.astype(np.float16), t.name))
        else:
            new = TensorProto(name=t.name, data_type=low, dims=list(values.shape))
            new.raw_data = _bf16_bits(values).tobytes()
            t.CopyFrom(new)

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            convert(init)
    for node in graph.node:
        for attr in node.attribute:
            if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                raise ValueError(f"cannot retype a graph with control flow ({node.op_type})")
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = low
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                convert(attr.t)
    rename: dict[str, str] = {}
    head = []
    for value in graph.input:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            rename[value.name] = f"{value.name}__{precision}"
            head.append(helper.make_node("Cast", [value.name], [rename[value.name]], to=low))
    tail = []
    for value in graph.output:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            rename[value.name] = f"{value.name}__{precision}"
            tail.append(helper.make_node("Cast", [rename[value.name]], [value.name], to=TensorProto.FLOAT))
    body = []
    for node in graph.node:
        node.input[:] = [rename.get(v, v) for v in node.input]
        node.output[:] = [rename.get(v, v) for v in node.output]
        if node.op_type in _FP32_OPS:  # sums of squares overflow fp16 (96 x 30^2 > 65504): keep fp32
            wide, narrow = f"{node.name or node.output[0]}__fp32_in", node.output[0]
            body.append(helper.make_node("Cast", [node.input[0]], [wide], to=TensorProto.FLOAT))
            node.input[0] = wide
            node.output[0] = f"{narrow}__fp32_out"
            body.extend([node, helper.make_node("Cast", [node.output[0]], [narrow], to=low)])
        else:
            body.append(node)
    nodes = [*head, *body, *tail]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]  # intermediate types changed; let the consumer infer them again
    onnx.checker.check_model(model, full_check=True)  # strict type inference: every op's types agree
    return bytes(model.SerializeToString())


def build_engine(onnx_bytes: bytes, spec: EngineSpec) -> bytes:
    """A serialized engine of the step graph with one optimisation profile over the batch axis."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendUnavailableError(
            f"building a TensorRT engine needs tensorrt ({exc}); pip install 'trm-sdk[tensorrt]'"
        ) from exc
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    strongly_typed = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)  # 11: default
    network = builder.create_network(0 if strongly_typed is None else 1 << int(strongly_typed))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(retype_graph(onnx_bytes, spec.precision)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendUnavailableError(f"TensorRT {trt.__version__} cannot parse the step graph: {errors}")
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = tuple(tensor.shape)
        if shape and shape[0] == -1:  # the dynamic batch axis
            rest = shape[1:]
            profile.set_shape(tensor.name, (1, *rest), (spec.opt_batch, *rest), (spec.max_batch, *rest))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendUnavailableError(
            f"TensorRT {trt.__version__} could not build an engine of the step graph "
            f"({spec.precision}, batch up to {spec.max_batch}); its log above says why"
        )
    return bytes(memoryview(serialized))
