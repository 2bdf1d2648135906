"""The TensorRT backend without TensorRT: the engine cache with a fake builder, the typed graphs, the ONNX
operators against TensorRT 10's parser, and the backend's buffer handling against a fake TensorRT that
runs the step graph in ONNX Runtime. Tests marked ``tensorrt`` need the real thing and skip elsewhere."""

from __future__ import annotations

import ctypes
import json
import logging
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trm_sdk import backends, recursion
from trm_sdk.backends import tensorrt_engine
from trm_sdk.backends.cpu import CPUBackend
from trm_sdk.backends.tensorrt_engine import (
    TRT10_ONNX_OPS,
    TRT10_OPSETS,
    EngineSpec,
    Target,
    cache_dir,
    engine_path,
    load_or_build,
    operator_problems,
)
from trm_sdk.manifest import load_manifest
from trm_sdk.shipped import model_dir
from trm_sdk.tasks.sudoku import codec, generate

SHIPPED = model_dir("sudoku")
SPEC = EngineSpec("sudoku", "ab" * 32, "fp16", 64, 16)
TARGET = Target("10.9.0", "NVIDIA H200", "9.0")


# --------------------------------------------------------------------------------------------------
# the engine cache


class FakeBuilder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, onnx_bytes: bytes, spec: EngineSpec) -> bytes:
        self.calls += 1
        return b"ENGINE" + spec.precision.encode() + onnx_bytes[:16]


def _load(tmp_path: Path, builder: FakeBuilder, target: Target = TARGET, **kw: Any) -> tuple[Any, Path, dict]:
    step = tmp_path / "step.onnx"
    if not step.exists():
        step.write_bytes(b"onnx graph bytes for the test")
    deserialize = kw.pop("deserialize", lambda data: data if data.startswith(b"ENGINE") else None)
    return load_or_build(
        step.read_bytes, SPEC, target, deserialize=deserialize, directory=tmp_path / "cache", builder=builder
    )


def test_builds_once_then_reuses(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    builder = FakeBuilder()
    caplog.set_level(logging.INFO, logger="trm_sdk")
    engine, path, meta = _load(tmp_path, builder)
    assert (
        builder.calls == 1 and engine.startswith(b"ENGINE") and "not built on this machine yet" in caplog.text
    )
    assert path == engine_path(tmp_path / "cache", SPEC, TARGET)
    assert path.name == f"sudoku-{'ab' * 8}-fp16-b64-nvidia-h200-sm90.engine"
    sidecar = json.loads(path.with_suffix(".json").read_text())
    for key, value in {"tensorrt": "10.9.0", "gpu": "NVIDIA H200", "compute_capability": "9.0",
                       "model_sha256": "ab" * 32, "precision": "fp16"}.items():  # fmt: skip
        assert sidecar[key] == value == meta[key]
    assert sidecar["profile"] == {"min_batch": 1, "opt_batch": 16, "max_batch": 64}
    caplog.clear()
    again, _, _ = _load(tmp_path, builder)
    assert builder.calls == 1 and again == engine and "(cached)" in caplog.text


@pytest.mark.parametrize(
    "damage,why",
    [
        (lambda p: p.write_bytes(b"ENGINE truncated"), "do not match the sha256"),
        (lambda p: p.with_suffix(".json").unlink(), "no metadata sidecar"),
        (lambda p: p.with_suffix(".json").write_text("{oops"), "sidecar sudoku-"),
        (lambda p: p.unlink(), "engine file is missing"),
    ],
)
def test_corrupt_engines_are_rebuilt_with_a_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Any, why: str
) -> None:
    builder = FakeBuilder()
    _, path, _ = _load(tmp_path, builder)
    damage(path)
    caplog.set_level(logging.INFO, logger="trm_sdk")
    engine, _, _ = _load(tmp_path, builder)
    assert builder.calls == 2 and engine.startswith(b"ENGINE")
    assert "rebuilding TensorRT engine" in caplog.text and why in caplog.text


def test_an_engine_tensorrt_cannot_load_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    builder = FakeBuilder()
    _load(tmp_path, builder)
    loads = iter([None, b"ENGINE ok"])  # the cached one fails to deserialize, the rebuilt one loads
    caplog.set_level(logging.INFO, logger="trm_sdk")
    engine, _, _ = _load(tmp_path, builder, deserialize=lambda data: next(loads))
    assert builder.calls == 2 and engine == b"ENGINE ok" and "TensorRT cannot load it" in caplog.text


def test_a_tensorrt_upgrade_makes_the_engine_stale(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    builder = FakeBuilder()
    _load(tmp_path, builder)
    caplog.set_level(logging.INFO, logger="trm_sdk")
    _load(tmp_path, builder, Target("11.0.0", "NVIDIA H200", "9.0"))
    assert builder.calls == 2 and "stale" in caplog.text and "tensorrt '10.9.0' -> '11.0.0'" in caplog.text
    _load(tmp_path, builder, Target("11.0.0", "NVIDIA A100-SXM4-80GB", "8.0"))  # another GPU: its own file
    assert len(list((tmp_path / "cache").glob("*.engine"))) == 2


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRM_SDK_CACHE", str(tmp_path / "a"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("TRM_SDK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "trm-sdk"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "trm-sdk"
    with pytest.raises(ValueError, match="precision"):
        EngineSpec("sudoku", "x", "int8")


# --------------------------------------------------------------------------------------------------
# the graphs TensorRT would parse


def _graph_ops(path: Path) -> tuple[set[str], int]:
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(str(path))
    opset = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    return {n.op_type for n in proto.graph.node}, opset


@pytest.mark.parametrize("graph", ["step.onnx", "unrolled.onnx"])
def test_every_shipped_operator_is_one_tensorrt_10_parses(graph: str) -> None:
    paths = sorted(Path(SHIPPED).parent.glob(f"*/{graph}"))
    assert paths
    for path in paths:
        ops, opset = _graph_ops(path)
        assert ops <= TRT10_ONNX_OPS, f"{path}: {sorted(ops - TRT10_ONNX_OPS)} unsupported by TensorRT 10"
        assert opset in TRT10_OPSETS, f"{path}: opset {opset}"
        assert operator_problems(path.read_bytes()) == []


def test_operator_problems_names_what_tensorrt_10_cannot_parse() -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Attention", ["x"], ["y"])], "g", [x], [x])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    problems = operator_problems(model.SerializeToString())
    assert problems == [
        "operators TensorRT 10 does not parse: Attention",
        "opset 23 (TensorRT 10 parses 9 to 20)",
    ]


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_typed_graphs_are_valid_and_fp16_matches(precision: str, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    data = (SHIPPED / "step.onnx").read_bytes()
    typed = tensorrt_engine.retype_graph(data, precision)  # runs onnx's strict type check itself
    proto = onnx.load_from_string(typed)
    assert [i.type.tensor_type.elem_type for i in proto.graph.input] == [7, 1, 1, 9]  # int64, f32, f32, bool
    assert all(o.type.tensor_type.elem_type == 1 for o in proto.graph.output)
    ops, _ = _graph_ops_from(proto)
    assert ops <= TRT10_ONNX_OPS
    if precision == "bf16":
        return  # ONNX Runtime's CPU provider has no bf16 kernels; TensorRT runs it
    import onnxruntime as ort

    rng = np.random.default_rng(3)
    tokens = codec.encode(np.asarray(generate.make_batch(rng, 4, "easy")[0]).reshape(-1, 9, 9))
    y = np.zeros((4, *load_manifest(SHIPPED).state_shape), np.float32)
    feeds = {"tokens": tokens.astype(np.int64), "y": y, "z": y, "first": np.ones(4, bool)}
    ref = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = ort.InferenceSession(typed, providers=["CPUExecutionProvider"]).run(None, feeds)
    assert np.abs(ref[2] - got[2]).max() < 0.05
    assert (ref[2].argmax(-1) == got[2].argmax(-1)).all()


def _graph_ops_from(proto: Any) -> tuple[set[str], int]:
    return {n.op_type for n in proto.graph.node}, 0


# --------------------------------------------------------------------------------------------------
# the backend, against a fake TensorRT that runs the step graph in ONNX Runtime through raw addresses


class _FakeContext:
    def __init__(self, session: Any, dtypes: dict[str, Any], log: list[int]) -> None:
        self.session, self.dtypes, self.log = session, dtypes, log
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.addresses: dict[str, int] = {}

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        self.shapes[name] = tuple(shape)
        return True

    def set_tensor_address(self, name: str, address: int) -> bool:
        self.addresses[name] = address
        return True

    def _view(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype = np.dtype(self.dtypes[name])
        raw = (ctypes.c_byte * (int(np.prod(shape)) * dtype.itemsize)).from_address(self.addresses[name])
        return np.frombuffer(raw, dtype).reshape(shape)

    def execute_async_v3(self, stream: int) -> bool:
        m = self.shapes["tokens"][0]
        assert all(s[0] == m for s in self.shapes.values())
        self.log.append(m)
        feeds = {name: self._view(name, shape).copy() for name, shape in self.shapes.items()}
        outs = self.session.run(["y_out", "z_out", "logits", "q_halt"], feeds)
        for name, value in zip(("y_out", "z_out", "logits", "q_halt"), outs, strict=True):
            self._view(name, value.shape)[...] = value
        return True


def _fake_tensorrt(log: list[int]) -> types.ModuleType:
    import onnxruntime as ort

    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.99.0"  # type: ignore[attr-defined]
    trt.DataType = types.SimpleNamespace(  # type: ignore[attr-defined]
        FLOAT="float32", HALF="float16", INT32="int32", BOOL="bool", INT64="int64", BF16="bf16"
    )
    trt.TensorIOMode = types.SimpleNamespace(INPUT="in", OUTPUT="out")  # type: ignore[attr-defined]
    kinds = {"tokens": "int64", "first": "bool"}

    class Engine:
        def __init__(self, onnx_bytes: bytes) -> None:
            self.session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
            self.names = ["tokens", "y", "z", "first", "y_out", "z_out", "logits", "q_halt"]
            self.num_io_tensors = len(self.names)

        def get_tensor_name(self, i: int) -> str:
            return self.names[i]

        def get_tensor_mode(self, name: str) -> str:
            return "in" if name in ("tokens", "y", "z", "first") else "out"

        def get_tensor_dtype(self, name: str) -> str:
            return kinds.get(name, "float32")

        def create_execution_context(self) -> _FakeContext:
            return _FakeContext(self.session, {n: self.get_tensor_dtype(n) for n in self.names}, log)

    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None})  # type: ignore[attr-defined]
    trt.Runtime = type(  # type: ignore[attr-defined]
        "Runtime",
        (),
        {
            "__init__": lambda self, logger: None,
            "deserialize_cuda_engine": lambda self, data: Engine(data[4:]) if data[:4] == b"FAKE" else None,
        },
    )
    return trt


def test_backend_buffers_and_split_batches_match_the_cpu_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    del torch
    executions: list[int] = []
    monkeypatch.setitem(sys.modules, "tensorrt", _fake_tensorrt(executions))
    monkeypatch.setattr(tensorrt_engine, "build_engine", lambda onnx_bytes, spec: b"FAKE" + onnx_bytes)
    manifest = load_manifest(SHIPPED)
    backend = backends.tensorrt.TensorRTBackend(
        manifest, precision="fp32", max_batch=8, cache=tmp_path, device="cpu"
    )
    rng = np.random.default_rng(7)
    grids = [
        np.asarray(generate.make_batch(rng, 10, level)[0]).reshape(-1, 9, 9) for level in ("easy", "hard")
    ]
    tokens = codec.encode(np.concatenate(grids)).astype(np.int64)
    got = recursion.run(backend, tokens, 16, 0.5)
    ref = recursion.run(CPUBackend(manifest, engine="onnxruntime"), tokens, 16, 0.5)
    np.testing.assert_array_equal(got.steps, ref.steps)
    np.testing.assert_array_equal(got.logits, ref.logits)  # same graph, same runtime: identical
    assert max(executions) == 8 and executions[:3] == [8, 8, 4]  # 20 puzzles over a profile of 8
    assert len(list(tmp_path.glob("*.engine"))) == 1


# --------------------------------------------------------------------------------------------------
# with real TensorRT and a GPU


@pytest.mark.tensorrt
@pytest.mark.skipif(backends.availability("tensorrt") is not None, reason="needs TensorRT and a GPU")
def test_real_tensorrt_agrees_with_the_cpu(tmp_path: Path) -> None:
    manifest = load_manifest(SHIPPED)
    rng = np.random.default_rng(11)
    tokens = codec.encode(np.asarray(generate.make_batch(rng, 40, "easy")[0]).reshape(-1, 9, 9))
    ref = recursion.run(CPUBackend(manifest, engine="onnxruntime"), tokens, 16, 0.5)
    for precision in ("fp32", "fp16"):
        backend = backends.tensorrt.TensorRTBackend(
            manifest, precision=precision, max_batch=16, cache=tmp_path
        )
        got = recursion.run(backend, tokens, 16, 0.5)
        same = (got.logits.argmax(-1) == ref.logits.argmax(-1)).all(-1)
        assert same.mean() >= 0.95, precision
    assert len(list(tmp_path.glob("*.engine"))) == 2
