"""ONNX export: the graphs follow the runtime contract, match PyTorch, and parity catches a bad graph."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from click.testing import CliRunner  # noqa: E402

from trm_sdk import training_log  # noqa: E402
from trm_sdk.export import ExportError, export_onnx, onnx_graphs, round_weights_fp16  # noqa: E402
from trm_sdk.export.cli import main  # noqa: E402
from trm_sdk.halting import halting_steps, probability  # noqa: E402
from trm_sdk.manifest import load_manifest, sha256_file  # noqa: E402
from trm_sdk.network import TRM, TRMConfig  # noqa: E402
from trm_sdk.train import checkpoint  # noqa: E402

TINY = dict(hidden=16, n_prefix=2, n_blocks=2, T=2, n=2, N_sup=4, multiple_of=16)
L = 81 + TINY["n_prefix"]
D = TINY["hidden"]


def tiny_model(seed: int = 0, **overrides: object) -> TRM:
    torch.manual_seed(seed)
    model = TRM(TRMConfig(**{**TINY, **overrides}))
    with torch.no_grad():
        # A randomly initialised TRM amplifies rounding (at full size fp32 and fp64 disagree by whole
        # logits after one step); smaller block weights make it contract like a trained one, so parity
        # can be held to a tight tolerance.
        for block in model.blocks:
            for p in block.parameters():
                p.mul_(0.5)
        # Halting that differs between puzzles and steps (the initial head halts nobody).
        model.q_head.weight.normal_(0.0, 1.0)
        model.q_head.bias.zero_()
    return model.eval()


def save_checkpoint(path: Path, model: TRM) -> Path:
    ema = {k: v.clone() for k, v in model.state_dict().items()}
    info = {
        "note": "tiny test model",
        "evaluation": {"generated-easy": {"exact": 0.0}},
        "elapsed_s": 120.0,
        "history": [{"step": 7, "elapsed_s": 120.0, "stage": 1, "exact_all_steps": 0.25}],
        # started from a model trained 10 minutes, whose one evaluation was at minute 9
        "init_from": {
            "model": "models/earlier",
            "cpu_minutes": 10.0,
            "learning_curve": [{"run": 1, "cpu_minutes": 9.0, "step": 3, "exact_all_steps": 0.125}],
        },
    }
    return checkpoint.save(
        path,
        task="sudoku",
        model=model,
        ema=ema,
        optimizer=None,
        step=7,
        train_config={"lr": 1e-4},
        data_state=None,
        info=info,
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("export")
    ckpt = save_checkpoint(root / "tiny.pt", tiny_model())
    data = root / "extra.txt"
    data.write_text(
        "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79\n",
        encoding="utf-8",
    )
    out = root / "model"
    manifest = export_onnx(ckpt, out, verify_data=[data], n_verify=2, levels=("easy",), progress=False)
    reference = round_weights_fp16(checkpoint.load_model(ckpt)[0])
    return {"ckpt": ckpt, "out": out, "manifest": manifest, "model": reference}


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def random_tokens(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 11, (n, 81)).astype(np.int64)


# --------------------------------------------------------------------------------------------------
# files and manifest


def test_files_manifest_and_checksums(exported: dict) -> None:
    out, ckpt = exported["out"], exported["ckpt"]
    manifest = load_manifest(out)
    assert set(manifest.files) == {"step", "unrolled", "weights"}
    for role, name in (("step", "step.onnx"), ("unrolled", "unrolled.onnx")):
        entry = manifest.files[role]
        assert entry["path"] == name
        assert entry["sha256"] == sha256_file(out / name)
        assert entry["bytes"] == (out / name).stat().st_size
        assert manifest.path(role) == out / name
    raw = manifest.raw
    cfg = TRMConfig(**TINY)
    assert raw["task"] == "sudoku"
    assert raw["encoding"] == {"vocab_size": 11, "pad": 0, "blank": 1, "digit_offset": 1, "seq_len": 81}
    assert raw["model"] == cfg.to_dict()
    assert raw["halting"] == {"threshold": 0.5, "max_steps": 4}
    assert raw["precision"] == {"interface": "float32", "weights": "float16", "compute": "float32"}
    assert raw["opset"] == 17
    assert [e["name"] for e in raw["io"]["step"]["inputs"]] == ["tokens", "y", "z", "first"]
    assert raw["io"]["unrolled"]["outputs"][2] == {"name": "steps", "dtype": "int64", "shape": ["batch"]}
    assert raw["training"]["step"] == 7 and raw["training"]["train_config"] == {"lr": 1e-4}
    assert raw["training"]["note"] == "tiny test model"
    # The curve and the run's history live beside the manifest, not in it.
    assert "learning_curve" not in raw["training"] and "history" not in raw["training"]
    log = training_log.read(out)
    assert [p["step"] for p in log["history"]] == [7]
    assert [(p["run"], p["cpu_minutes"], p["exact_all_steps"]) for p in log["learning_curve"]] == [
        (1, 9.0, 0.125),
        (2, 12.0, 0.25),
    ]
    assert raw["training"]["init_from"] == {"model": "models/earlier", "cpu_minutes": 10.0}  # curve once
    assert raw["evaluation"] == {"generated-easy": {"exact": 0.0}}
    assert raw["source_checkpoint"]["file"] == "tiny.pt"
    assert raw["source_checkpoint"]["sha256"] == sha256_file(ckpt)
    assert set(raw["exported_with"]) >= {"torch", "onnx", "onnxruntime", "trm_sdk"}
    assert raw["created"].endswith("+00:00")
    parity = raw["parity"]
    assert parity["passed"] is True
    assert parity["puzzles"] == {"random": 2, "generated-easy": 2, "extra": 1}
    # PyTorch's own drift, which bounds the carried error, is read on puzzles of every source: a trained
    # maze model is steady on random tokens and easy mazes and amplifies rounding only on 30x30 ones.
    assert parity["pytorch_drift"]["puzzles"] == 2 + 2 + 1
    assert parity["step"]["argmax_mismatches"] == parity["step"]["ties"] == 0
    assert parity["unrolled"]["halting"]["halting_agree"] == 5
    json.dumps(raw)  # the whole manifest is plain JSON


def test_graphs_carry_metadata_contract_types_and_fp16_weights(exported: dict) -> None:
    config_sha = hashlib.sha256(json.dumps(TRMConfig(**TINY).to_dict(), sort_keys=True).encode()).hexdigest()
    for role in ("step", "unrolled"):
        proto = onnx.load(exported["out"] / f"{role}.onnx")
        meta = {p.key: p.value for p in proto.metadata_props}
        assert meta["task"] == "sudoku" and meta["graph"] == role
        assert meta["model_config_sha256"] == config_sha and meta["manifest_format"] == "1"
        assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [17]
        big = [i for i in proto.graph.initializer if int(np.prod(i.dims)) >= 16]
        assert big and all(i.data_type == onnx.TensorProto.FLOAT16 for i in big)
        casts = [n for n in proto.graph.node if n.op_type == "Cast" and n.input[0].endswith(".fp16")]
        assert len(casts) == len(big)
        batch_dims = [
            v.type.tensor_type.shape.dim[0].dim_param
            for v in [*proto.graph.input, *proto.graph.output]
            if v.type.tensor_type.shape.dim
        ]
        assert set(batch_dims) == {"batch"}
    unrolled = onnx.load(exported["out"] / "unrolled.onnx").graph
    assert [(v.name, len(v.type.tensor_type.shape.dim)) for v in unrolled.input] == [
        ("tokens", 2),
        ("halt_threshold", 0),
        ("max_steps", 0),
    ]


# --------------------------------------------------------------------------------------------------
# the step graph


@pytest.mark.parametrize("batch", [1, 5])
def test_step_graph_matches_pytorch_over_carried_steps(exported: dict, batch: int) -> None:
    model, step = exported["model"], session(exported["out"] / "step.onnx")
    tokens = random_tokens(batch)
    y, z = model.initial_state(batch)
    ys = np.zeros((batch, L, D), np.float32)
    zs, first = ys.copy(), np.ones(batch, bool)
    for _ in range(3):
        with torch.no_grad():
            y, z, logits, q = model(torch.from_numpy(tokens), y, z)
        ys, zs, got_logits, got_q = step.run(None, {"tokens": tokens, "y": ys, "z": zs, "first": first})
        first = np.zeros(batch, bool)
        np.testing.assert_allclose(got_logits, logits.numpy(), atol=1e-4)
        np.testing.assert_allclose(got_q, q.numpy(), atol=1e-4)
        np.testing.assert_allclose(ys, y.numpy(), atol=1e-4)


def test_first_resets_the_state(exported: dict) -> None:
    model, step = exported["model"], session(exported["out"] / "step.onnx")
    tokens = random_tokens(3)
    garbage = np.random.default_rng(2).normal(size=(3, L, D)).astype(np.float32) * 10
    zeros = np.zeros_like(garbage)
    reset = np.ones(3, bool)
    from_zeros = step.run(None, {"tokens": tokens, "y": zeros, "z": zeros, "first": reset})
    from_garbage = step.run(None, {"tokens": tokens, "y": garbage, "z": garbage, "first": reset})
    for a, b in zip(from_zeros, from_garbage, strict=True):
        np.testing.assert_array_equal(a, b)
    # Row by row: row 1 carries its (garbage) state, rows 0 and 2 start afresh.
    mixed = step.run(
        None, {"tokens": tokens, "y": garbage, "z": garbage, "first": np.array([True, False, True])}
    )
    with torch.no_grad():
        carried = model(torch.from_numpy(tokens), torch.from_numpy(garbage), torch.from_numpy(garbage))[2]
    np.testing.assert_array_equal(mixed[2][[0, 2]], from_zeros[2][[0, 2]])
    np.testing.assert_allclose(mixed[2][1], carried[1].numpy(), atol=1e-4)
    assert np.abs(mixed[2][1] - from_zeros[2][1]).max() > 1e-2


# --------------------------------------------------------------------------------------------------
# the unrolled graph


def step_trajectory(step: ort.InferenceSession, tokens: np.ndarray, n_sup: int) -> tuple[np.ndarray, ...]:
    """Every supervision step of the step graph, carried: logits (B, K, S, V) and q_halt (B, K)."""
    B = len(tokens)
    y = np.zeros((B, L, D), np.float32)
    z, first = y.copy(), np.ones(B, bool)
    logits, q = [], []
    for _ in range(n_sup):
        y, z, step_logits, step_q = step.run(None, {"tokens": tokens, "y": y, "z": z, "first": first})
        first = np.zeros(B, bool)
        logits.append(step_logits)
        q.append(step_q)
    return np.stack(logits, 1), np.stack(q, 1)


def test_unrolled_graph_follows_the_halting_rule_over_the_step_graphs_trajectory(exported: dict) -> None:
    """unrolled.onnx spells the halting rule in graph nodes; trm_sdk.halting is the rule. Each puzzle's
    outputs must be the step graph's at the step halting_steps picks from the same trajectory."""
    step = session(exported["out"] / "step.onnx")
    unrolled = session(exported["out"] / "unrolled.onnx")
    tokens = random_tokens(12, seed=3)
    traj_logits, traj_q = step_trajectory(step, tokens, 4)
    middle = float(np.median(probability(traj_q[:, -1])))  # thresholds around the puzzles' own
    rows = np.arange(len(tokens))
    varied = False
    cases = [(t, 4) for t in (0.0, 0.5, middle, 0.9, 2.0)] + [(middle, 2), (2.0, 0), (2.0, 9)]
    for threshold, max_steps in cases:
        feeds = {
            "tokens": tokens,
            "halt_threshold": np.array(threshold, np.float32),
            "max_steps": np.array(max_steps, np.int64),
        }
        logits, q, steps = unrolled.run(None, feeds)
        ref_steps = halting_steps(traj_q, threshold, max_steps)
        np.testing.assert_array_equal(steps, ref_steps, err_msg=f"threshold {threshold}, max {max_steps}")
        np.testing.assert_allclose(logits, traj_logits[rows, ref_steps - 1], atol=1e-5)
        np.testing.assert_allclose(q, traj_q[rows, ref_steps - 1], atol=1e-5)
        assert steps.min() >= 1 and steps.max() <= min(4, max(max_steps, 1))
        varied |= len(set(steps.tolist())) >= 3
    assert varied, "no threshold made the puzzles halt at different steps"


def test_halting_steps_reference() -> None:
    q = np.array([[5.0, 5.0, 5.0], [-5.0, 5.0, -5.0], [-5.0, -5.0, -5.0]], np.float32)
    assert halting_steps(q, 0.5, 3).tolist() == [1, 2, 3]
    assert halting_steps(q, 0.5, 1).tolist() == [1, 1, 1]
    assert halting_steps(q, 2.0, 9).tolist() == [3, 3, 3]


def test_parity_counts_solved_puzzles_with_the_tasks_judge(exported: dict) -> None:
    """Solved counts read every token (a puzzle's given cells too, as training's evaluation does) and ask
    the task's judge: Futoshiki's inequality cells lie outside the digits compared cell by cell, and a
    maze accepts any shortest path."""
    from trm_sdk.export import VerifySet, check_parity

    model, out = exported["model"], exported["out"]
    tokens = random_tokens(3, seed=5)
    with torch.no_grad():
        y, z = model.initial_state(len(tokens))
        for _ in range(model.cfg.N_sup):
            y, z, logits, _q = model(torch.from_numpy(tokens), y, z)
    own = logits.argmax(-1).numpy()  # the model's own answers over the whole vocabulary
    wrong = own.copy()
    wrong[0, 0] = (wrong[0, 0] + 1) % 11
    sets = [VerifySet("own", tokens, own), VerifySet("wrong", tokens, wrong)]
    args = (model, out / "step.onnx", out / "unrolled.onnx", sets)
    parity = check_parity(*args, threshold=2.0, answer_tokens=slice(2, 11))
    solved = parity["solved"]
    assert solved == {"own": {"all_steps": 3, "halting": 3}, "wrong": {"all_steps": 2, "halting": 2}}
    seen: list[tuple[int, ...]] = []

    def judge(pred: np.ndarray, questions: np.ndarray, answers: np.ndarray) -> np.ndarray:
        seen.append((len(pred), len(questions), len(answers)))
        return np.zeros(len(pred), bool)

    parity = check_parity(*args, threshold=2.0, exact=judge)
    nothing = {"all_steps": 0, "halting": 0}
    assert parity["solved"] == {"own": nothing, "wrong": nothing}
    assert seen == [(3, 3, 3)] * 4


# --------------------------------------------------------------------------------------------------
# failures


def test_a_tampered_graph_fails_the_parity_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    honest = onnx_graphs.build_step_graph

    def tampered(model: TRM, opset: int = 17) -> onnx.ModelProto:
        model = copy.deepcopy(model)
        with torch.no_grad():
            model.blocks[1].mlp.down.weight[0, :] += 0.25  # one row of one matrix
        return honest(model, opset)

    monkeypatch.setattr(onnx_graphs, "build_step_graph", tampered)
    out = tmp_path / "model"
    with pytest.raises(ExportError, match=r"parity check failed: step graph: max \|logit\| diff"):
        export_onnx(tiny_model(), out, n_verify=2, levels=(), progress=False)
    assert (out / "step.onnx").is_file() and not (out / "manifest.json").exists()


def test_a_model_for_another_encoding_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="vocab_size 12"):
        export_onnx(tiny_model(vocab_size=12), tmp_path, progress=False)


# --------------------------------------------------------------------------------------------------
# command line


def test_cli_help_and_version() -> None:
    runner = CliRunner()
    for flag in ("-h", "--help"):
        result = runner.invoke(main, [flag])
        assert result.exit_code == 0
        assert "--checkpoint" in result.output and "--verify-data" in result.output
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and "trm-export" in result.output


def test_cli_tensorrt_is_a_clear_error(tmp_path: Path) -> None:
    from trm_sdk import backends

    if backends.availability("tensorrt") is None:
        pytest.skip("TensorRT runs here, so there is no error to show (the engine build is tested elsewhere)")
    result = CliRunner().invoke(
        main, ["--checkpoint", str(tmp_path / "x.pt"), "--format", "tensorrt", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "cannot build a TensorRT engine here" in result.output
    assert "pip install 'trm-sdk[tensorrt]'" in result.output


def test_cli_bad_checkpoint_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(main, ["--checkpoint", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "cannot load checkpoint" in result.output and "Traceback" not in result.output


def test_cli_exports_from_a_split_state_folder(exported: dict, tmp_path: Path) -> None:
    # The committed training state is a folder of parts; export reads it like the single file.
    state = tmp_path / "state"
    checkpoint.save_split(checkpoint.load(exported["ckpt"]), state, max_bytes=200_000)
    out = tmp_path / "model"
    result = CliRunner().invoke(
        main, ["--checkpoint", str(state), "--out", str(out), "--n-verify", "1", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    source = load_manifest(out).raw["source_checkpoint"]
    assert source["file"] == "state" and source["sha256"] == sha256_file(state / checkpoint.SPLIT_INDEX)
    assert (out / "step.onnx").read_bytes() == (exported["out"] / "step.onnx").read_bytes()


@pytest.mark.slow
def test_cli_exports(exported: dict, tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = CliRunner().invoke(
        main, ["--checkpoint", str(exported["ckpt"]), "--out", str(out), "--n-verify", "1", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "[trm-export]" not in result.output  # --quiet keeps only the summary
    assert "step.onnx" in result.output and "parity" in result.output and "passed" in result.output
    manifest = load_manifest(out)
    assert manifest.raw["parity"]["puzzles"] == {
        "random": 1,
        "generated-easy": 1,
        "generated-medium": 1,
        "generated-hard": 1,
        "generated-minimal": 1,
    }
