"""The CPU backend's engines: the choice from CPU flags (any CPU, simulated), OpenVINO's answers against
ONNX Runtime's (f32 on every CPU, bf16 where it is native), and the speed claim where bf16 is native."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from trm_sdk import BackendUnavailableError, Solver, recursion
from trm_sdk.backends import cpu_engines
from trm_sdk.backends.cpu import CPUBackend
from trm_sdk.manifest import load_manifest
from trm_sdk.shipped import model_dir
from trm_sdk.tasks import get_task

SUDOKU = get_task("sudoku")
HAS_OPENVINO = cpu_engines.openvino_version() is not None
needs_openvino = pytest.mark.skipif(
    not HAS_OPENVINO, reason="openvino is not installed (pip install 'trm-sdk[openvino]')"
)
NATIVE = cpu_engines.native_bf16()


@pytest.fixture
def flags(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Pretend this CPU has the given flags (and OpenVINO is, or is not, installed)."""

    def set_flags(cpu: set[str], openvino: str | None = "2026.4.1") -> None:
        monkeypatch.setattr(cpu_engines, "cpu_flags", lambda: frozenset(cpu | {"fpu", "sse2"}))
        monkeypatch.setattr(cpu_engines, "openvino_version", lambda: openvino)

    return set_flags


@pytest.fixture(scope="module")
def manifest():  # type: ignore[no-untyped-def]
    return load_manifest(model_dir("sudoku"))


@pytest.fixture(scope="module")
def hard() -> np.ndarray:
    rng = np.random.default_rng(3)
    return SUDOKU.encode(np.stack([SUDOKU.generate(rng, "minimal")[0] for _ in range(24)]))


def test_the_flags_are_read_from_proc_cpuinfo(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n\nprocessor\t: 1\n")
    monkeypatch.setattr(cpu_engines, "_CPUINFO", info)
    cpu_engines.cpu_flags.cache_clear()
    try:
        assert "avx512_bf16" in cpu_engines.cpu_flags() and "avx2" in cpu_engines.cpu_flags()
        assert cpu_engines.native_bf16() == "avx512_bf16"
        info.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16 amx_tile avx512_bf16\n")
        cpu_engines.cpu_flags.cache_clear()
        assert cpu_engines.native_bf16() == "amx_bf16"  # the faster of the two is named
    finally:
        cpu_engines.cpu_flags.cache_clear()


@pytest.mark.parametrize(
    ("cpu", "openvino", "uses", "words"),
    [
        ({"avx2"}, "2026.4.1", None, "neither AMX nor AVX512_BF16"),  # AMD EPYC, AVX2 only
        ({"avx2", "avx512_bf16"}, "2026.4.1", "bf16", "avx512_bf16"),  # Zen 4
        ({"avx2", "amx_bf16", "avx512_bf16"}, "2026.4.1", "bf16", "amx_bf16"),  # Sapphire Rapids
        ({"avx2", "avx512_bf16"}, None, None, "OpenVINO is not installed"),
    ],
)
def test_auto_uses_openvino_bf16_only_where_bf16_is_native_and_it_is_installed(
    flags, cpu: set[str], openvino: str | None, uses: str | None, words: str
) -> None:  # type: ignore[no-untyped-def]
    flags(cpu, openvino)
    plan = cpu_engines.plan()
    assert plan.openvino == uses
    assert words in plan.reason and words in plan.summary()
    if uses:
        assert plan.min_rows == cpu_engines.BF16_MIN_ROWS > 1  # small steps stay on ONNX Runtime
        assert "ONNX Runtime fp32 below" in plan.summary()
    else:
        assert plan.summary().startswith("ONNX Runtime fp32")


def test_explicit_choices_that_cannot_run_here_are_clear_errors(flags) -> None:  # type: ignore[no-untyped-def]
    flags({"avx2"})
    with pytest.raises(BackendUnavailableError, match="natively"):
        cpu_engines.plan(precision="bf16")
    assert cpu_engines.plan(engine="openvino").openvino == "f32"  # no native bf16: OpenVINO runs f32
    with pytest.raises(ValueError, match="fp32 only"):
        cpu_engines.plan(engine="onnxruntime", precision="bf16")
    with pytest.raises(ValueError, match="engine must be"):
        cpu_engines.plan(engine="tvm")
    with pytest.raises(ValueError, match="fp32 or bf16"):
        cpu_engines.plan(precision="fp16")
    flags({"avx512_bf16"}, None)
    with pytest.raises(BackendUnavailableError, match=r"trm-sdk\[openvino\]"):
        cpu_engines.plan(engine="openvino")
    with pytest.raises(ValueError, match="fp16 is for the GPUs"):
        Solver("sudoku", backend="cpu", precision="fp16")
    with pytest.raises(ValueError, match="engine"):
        Solver("sudoku", backend="cuda", engine="openvino")


def test_trm_info_says_which_engine_and_why(flags) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from trm_sdk.cli import main

    flags({"avx2"})
    out = CliRunner().invoke(main, ["info"]).output
    assert "engine: ONNX Runtime fp32" in out and "neither AMX nor AVX512_BF16" in out
    flags({"avx512_bf16"})
    out = CliRunner().invoke(main, ["info"]).output
    assert "engine: OpenVINO bf16 for steps of" in out and "avx512_bf16" in out


@needs_openvino
def test_openvino_f32_gives_onnx_runtimes_answers(manifest, hard: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """On every CPU: the same graph in f32 through OpenVINO, 16 fixed steps, answers cell for cell."""
    ort = recursion.run(CPUBackend(manifest, 1, engine="onnxruntime"), hard, 16, 1.0)
    backend = CPUBackend(manifest, 1, engine="openvino", precision="fp32")
    assert backend.engine == "openvino f32"
    ov = recursion.run(backend, hard, 16, 1.0)
    assert (ov.logits.argmax(-1) == ort.logits.argmax(-1)).mean() > 0.999
    np.testing.assert_allclose(ov.q_halt, ort.q_halt, atol=0.05)


@needs_openvino
@pytest.mark.skipif(NATIVE is None, reason="this CPU has no native bf16 (neither AMX nor AVX512_BF16)")
def test_openvino_bf16_mostly_agrees_and_auto_switches_by_rows(manifest, hard: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    ort = recursion.run(CPUBackend(manifest, 1, engine="onnxruntime"), hard, 16, 1.0)
    auto = CPUBackend(manifest, 1)
    assert "openvino bf16" in auto.engine
    bf16 = recursion.run(auto, hard, 16, 1.0)  # 24 rows: OpenVINO bf16
    # bf16 rounds the carried state every step; on hard puzzles after 16 steps most cells still agree.
    assert (bf16.logits.argmax(-1) == ort.logits.argmax(-1)).mean() > 0.95
    one = recursion.run(auto, hard[:1], 16, 1.0)  # 1 row: ONNX Runtime, exactly
    np.testing.assert_array_equal(one.logits, ort.logits[:1])


def test_a_solver_on_onnx_runtime_alone_never_imports_openvino() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from trm_sdk import Solver\n"
        "s = Solver('sudoku', backend='cpu', engine='onnxruntime')\n"
        "s.solve('53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79')\n"
        "assert 'openvino' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_openvino
@pytest.mark.slow
def test_bf16_is_faster_at_batch_64_where_it_is_native(manifest, hard: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """The speed claim, loosely (the measured figures are in docs/lab-notes/timings.md): on a CPU with
    native bf16, auto's engine beats ONNX Runtime fp32 at 64 rows, interleaved runs, best of three."""
    if NATIVE is None:
        pytest.skip("speed claim not measurable: this CPU has no native bf16 (neither AMX nor AVX512_BF16)")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("speed claim needs two cores")
    tokens = np.concatenate([hard] * 3)[:64]
    engines = {"ort": CPUBackend(manifest, 1, engine="onnxruntime"), "auto": CPUBackend(manifest, 1)}
    best = dict.fromkeys(engines, float("inf"))
    for _ in range(3):
        for name, backend in engines.items():
            start = time.perf_counter()
            recursion.run(backend, tokens, 4, 1.0)
            best[name] = min(best[name], time.perf_counter() - start)
    assert best["ort"] / best["auto"] > 1.1, best


@needs_openvino
def test_a_graph_openvino_cannot_convert_leaves_auto_on_onnx_runtime(flags) -> None:  # type: ignore[no-untyped-def]
    """The shipped maze graph does not convert in OpenVINO 2026.4 (a Concat its shape inference cannot
    type): auto keeps ONNX Runtime and says why; asked for by name, OpenVINO is an error."""
    from trm_sdk import ModelError

    flags({"avx512_bf16"})  # so that auto would choose OpenVINO bf16 on any CPU
    manifest = load_manifest(model_dir("maze"))
    try:
        backend = CPUBackend(manifest, 1, engine="openvino", precision="fp32")
    except ModelError as exc:
        assert "OpenVINO cannot compile" in str(exc) and "Conversion is failed" in str(exc)
        auto = CPUBackend(manifest, 1)
        assert auto.engine == "onnxruntime fp32" and "OpenVINO cannot run this model" in auto.plan.reason
    else:  # a later OpenVINO converts it: then auto uses it too
        assert backend.engine == "openvino f32"
        assert "openvino bf16" in CPUBackend(manifest, 1).engine
