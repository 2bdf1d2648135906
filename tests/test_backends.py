"""Backend choice: availability reasons, "auto", and the errors an explicit backend that cannot run raises."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from trm_sdk import BackendUnavailableError, Solver, TRMError, backends
from trm_sdk.backends import cuda, tensorrt
from trm_sdk.backends.base import bucket_size
from trm_sdk.manifest import load_manifest
from trm_sdk.shipped import model_dir

SHIPPED = model_dir("sudoku")


def test_every_backend_is_registered_in_auto_order() -> None:
    assert backends.BACKENDS == ("tensorrt", "cuda", "cpu")
    assert backends.availability("cpu") is None
    for name in backends.BACKENDS:
        reason = backends.availability(name)
        assert reason is None or (isinstance(reason, str) and reason)
    with pytest.raises(TRMError, match="unknown backend 'gpu'"):
        backends.availability("gpu")


def test_reasons_name_the_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = {"torch", "tensorrt"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else object())
    assert backends.availability("cuda") == "PyTorch is not installed (pip install 'trm-sdk[cuda]')"
    assert backends.availability("tensorrt") == "tensorrt is not installed (pip install 'trm-sdk[tensorrt]')"
    missing.discard("tensorrt")  # tensorrt present, torch absent: the buffers need torch
    monkeypatch.setattr(cuda, "nvidia_driver_problem", lambda: None)
    assert "PyTorch is not installed (pip install 'trm-sdk[tensorrt]')" == backends.availability("tensorrt")


def test_no_driver_is_reported_without_importing_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cuda.sys, "platform", "darwin")
    assert "no NVIDIA CUDA driver" in str(cuda.nvidia_driver_problem())


@pytest.mark.skipif(backends.availability("cuda") is None, reason="a CUDA GPU is present")
def test_auto_picks_cpu_here_and_explicit_gpu_backends_raise() -> None:
    assert Solver("sudoku").backend == "cpu"
    for name, extra in (("cuda", "trm-sdk[cuda]"), ("tensorrt", "trm-sdk[tensorrt]")):
        with pytest.raises(BackendUnavailableError, match=rf"backend '{name}' is unavailable") as info:
            Solver("sudoku", backend=name)
        assert extra in str(info.value) and "NVIDIA GPU" in str(info.value)


def test_auto_falls_back_when_a_backend_fails_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(tensorrt.TensorRTBackend):
        @classmethod
        def availability(cls) -> str | None:
            return None

        def __init__(self, *args: object, **kwargs: object) -> None:
            raise BackendUnavailableError("engine build failed")

    monkeypatch.setitem(backends._CLASSES, "tensorrt", Broken)
    monkeypatch.setitem(backends._CLASSES, "cuda", backends.CPUBackend)  # stands in for a working GPU
    chosen = backends.create("auto", load_manifest(SHIPPED))
    assert isinstance(chosen, backends.CPUBackend)


def test_auto_on_the_cpu_never_imports_torch() -> None:
    if backends.availability("cuda") is None or backends.availability("tensorrt") is None:
        pytest.skip("a GPU backend runs here, so auto rightly picks it (and imports torch)")
    code = (
        "import sys\n"
        "from trm_sdk import Solver\n"
        "s = Solver('sudoku')\n"
        "assert s.backend == 'cpu', s.backend\n"
        "assert 'torch' not in sys.modules, 'choosing the CPU backend imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent.parent)


def test_bucket_sizes() -> None:
    sizes = [bucket_size(n) for n in range(1, 2049)]
    assert sorted(set(sizes))[:10] == [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]
    assert all(n <= s <= max(1, (3 * n) // 2 + 1) for n, s in zip(range(1, 2049), sizes, strict=True))
    assert bucket_size(2048) == 2048 and bucket_size(1537) == 2048 and bucket_size(1536) == 1536
    with pytest.raises(ValueError):
        bucket_size(0)


def test_auto_hands_the_cpu_backend_its_engine_and_the_gpus_none(monkeypatch: pytest.MonkeyPatch) -> None:
    assert backends._options_for("cpu", {"engine": "onnxruntime", "precision": "fp16"}) == {
        "engine": "onnxruntime"
    }
    assert backends._options_for("cpu", {"precision": "bf16"}) == {"precision": "bf16"}
    assert backends._options_for("cuda", {"engine": "openvino", "precision": "fp16"}) == {"precision": "fp16"}
    if backends.availability("cuda") is None or backends.availability("tensorrt") is None:
        pytest.skip("a GPU backend runs here, so auto picks it")
    chosen = backends.create("auto", load_manifest(SHIPPED), 1, engine="onnxruntime")
    assert isinstance(chosen, backends.CPUBackend) and chosen.engine == "onnxruntime fp32"


def test_default_threads_are_the_cores_up_to_eight(monkeypatch: pytest.MonkeyPatch) -> None:
    from trm_sdk.backends import cpu

    for cores, threads in ((1, 1), (2, 2), (4, 4), (16, 8), (None, 1)):
        monkeypatch.setattr(cpu.os, "cpu_count", lambda cores=cores: cores)
        assert cpu.default_threads() == threads, cores
    assert backends.create("cpu", load_manifest(SHIPPED)).threads == cpu.default_threads()


def test_a_step_either_engine_cannot_run_is_a_typed_error() -> None:
    from trm_sdk import ModelError, OutOfMemoryError
    from trm_sdk.backends.cpu_engines import step_failure

    for cause in (MemoryError(), RuntimeError("std::bad_alloc"), RuntimeError("Failed to allocate 2 GB")):
        error = step_failure("OpenVINO", 512, cause)
        assert isinstance(error, OutOfMemoryError) and "OpenVINO ran out of memory on 512 rows" in str(error)
        assert "smaller batch_size" in str(error)
    other = step_failure("ONNX Runtime", 4, RuntimeError("shape mismatch"))
    assert type(other) is ModelError
    assert str(other) == "ONNX Runtime failed on the step graph: shape mismatch"
