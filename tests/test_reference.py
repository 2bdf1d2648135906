"""Checkpoints of the reference TRM code: parity with what the reference computed, the import command,
the imported model in the runtime, and the configurations refused.

The fixtures (../shared/fixtures/reference_trm, see its README) hold three small random-weight checkpoints
saved as the reference's pretrain.py saves them, with the reference's own logits and halting logits after
supervision steps 1, 2, 4 and 16 in evaluation mode (every puzzle runs all steps, in float32).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("yaml")

from click.testing import CliRunner  # noqa: E402

from trm_sdk.train.reference import (  # noqa: E402
    ReferenceError,
    load_reference,
    read_reference,
    reference_config,
)

CASES = ("sudoku_mlp", "sudoku_att", "maze_att")
STEPS = (1, 2, 4, 16)
TOL = 1e-4  # float32, as the issue asks


def _case(shared_fixtures: Any, name: str) -> Path:
    return Path(shared_fixtures(f"reference_trm/{name}"))


def _pytorch_steps(model: Any, tokens: np.ndarray, steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(logits, q_halt) after each supervision step, every puzzle running all of them (evaluation mode)."""
    out = []
    with torch.no_grad():
        t = torch.from_numpy(tokens).long()
        y, z = model.initial_state(len(t))
        for _ in range(steps):
            y, z, logits, q = model(t, y, z)
            out.append((logits.numpy(), q.numpy()))
    return out


def _ort_steps(step_path: Path, tokens: np.ndarray, steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(step_path), providers=["CPUExecutionProvider"])
    _, length, hidden = session.get_inputs()[1].shape
    y = np.zeros((len(tokens), length, hidden), np.float32)
    z = y.copy()
    out = []
    for k in range(steps):
        first = np.full(len(tokens), k == 0)
        y, z, logits, q = session.run(
            None, {"tokens": tokens.astype(np.int64), "y": y, "z": z, "first": first}
        )
        out.append((logits, q))
    return out


def _assert_matches(got: list[tuple[np.ndarray, np.ndarray]], expected: Any, steps: tuple[int, ...]) -> None:
    for k in steps:
        logits, q = got[k - 1]
        np.testing.assert_allclose(logits, expected[f"logits_step{k}"], atol=TOL, rtol=0, err_msg=f"step {k}")
        np.testing.assert_allclose(q, expected[f"q_halt_step{k}"], atol=TOL, rtol=0, err_msg=f"step {k}")


# --------------------------------------------------------------------------------------------------
# Parity


@pytest.mark.parametrize("case", CASES)
def test_pytorch_network_reproduces_the_reference(shared_fixtures: Any, case: str) -> None:
    folder = _case(shared_fixtures, case)
    expected = np.load(folder / "expected.npz")
    model, task, _ = load_reference(folder / "checkpoint")
    assert task == ("maze" if case.startswith("maze") else "sudoku")
    _assert_matches(_pytorch_steps(model, expected["tokens"], max(STEPS)), expected, STEPS)


@pytest.fixture(scope="module")
def step_graphs(shared_fixtures: Any, tmp_path_factory: Any) -> dict[str, Path]:
    """Each case's step graph with float32 weights, as the import exports it (no fp16 rounding)."""
    import onnx

    from trm_sdk.export.onnx_graphs import build_step_graph

    out = tmp_path_factory.mktemp("reference_steps")
    paths = {}
    for case in CASES:
        model, _, _ = load_reference(_case(shared_fixtures, case) / "checkpoint")
        paths[case] = out / f"{case}.onnx"
        onnx.save(build_step_graph(model), paths[case])
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("case", ["sudoku_att", "maze_att"])
def test_step_graph_reproduces_the_reference(shared_fixtures: Any, step_graphs: dict, case: str) -> None:
    expected = np.load(_case(shared_fixtures, case) / "expected.npz")
    _assert_matches(_ort_steps(step_graphs[case], expected["tokens"], max(STEPS)), expected, STEPS)


@pytest.mark.slow
def test_step_graph_of_the_mlp_network_matches_it_step_by_step(
    shared_fixtures: Any, step_graphs: dict
) -> None:
    """The sudoku_mlp fixture's random weights are chaotic: PyTorch itself in float64 moves the reference's
    float32 logits by ~1e-4 within step 1 and by whole logits by step 4, so no runtime that rounds
    differently from the reference can follow it over carried steps. What the graph must do is compute
    each step: from the reference's own state (PyTorch's, which is the reference's bit for bit, checked
    above), every step's logits and halting logit match within what float64 moves them by in one step."""
    import onnxruntime as ort

    folder = _case(shared_fixtures, "sudoku_mlp")
    expected = np.load(folder / "expected.npz")
    tokens = expected["tokens"]
    model, _, _ = load_reference(folder / "checkpoint")
    # The chaos, measured: float64 PyTorch against the reference.
    wide = _pytorch_steps(model.double(), tokens, 4)
    assert np.abs(wide[3][0] - expected["logits_step4"]).max() > 0.1
    one_step_noise = float(np.abs(wide[0][0] - expected["logits_step1"]).max())
    model = model.float()
    session = ort.InferenceSession(str(step_graphs["sudoku_mlp"]), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        t = torch.from_numpy(tokens).long()
        y, z = model.initial_state(len(t))
        for k in range(1, max(STEPS) + 1):
            feeds = {"tokens": tokens, "y": y.numpy(), "z": z.numpy(), "first": np.full(len(t), k == 1)}
            _, _, logits, q = session.run(None, feeds)
            y, z, ref_logits, _ = model(t, y, z)
            if k in STEPS:
                np.testing.assert_allclose(
                    logits, expected[f"logits_step{k}"], atol=4 * one_step_noise, rtol=0
                )
                np.testing.assert_allclose(q, expected[f"q_halt_step{k}"], atol=4 * one_step_noise, rtol=0)
                np.testing.assert_array_equal(ref_logits.numpy(), expected[f"logits_step{k}"])


def test_the_reference_layout_sets_the_architecture(shared_fixtures: Any) -> None:
    mlp = reference_config(read_reference(_case(shared_fixtures, "sudoku_mlp") / "checkpoint"))[0]
    att = reference_config(read_reference(_case(shared_fixtures, "maze_att") / "checkpoint"))[0]
    assert (mlp.mixer, mlp.mix_norm, mlp.positions, mlp.n_prefix, mlp.T, mlp.n) == (
        "mlp",
        "sequence",
        "none",
        16,
        3,
        6,
    )
    assert (att.mixer, att.positions, att.seq_len, att.vocab_size, att.hidden, att.T, att.n) == (
        "attention",
        "rope",
        900,
        6,
        32,
        2,
        2,
    )


# --------------------------------------------------------------------------------------------------
# The import command and the imported model


@pytest.fixture(scope="module")
def imported(shared_fixtures: Any, tmp_path_factory: Any) -> Path:
    """sudoku_mlp imported through trm-export --from-reference, weights kept in float32."""
    from trm_sdk.export.cli import main

    out = tmp_path_factory.mktemp("imported") / "sudoku_mlp"
    checkpoint = _case(shared_fixtures, "sudoku_mlp") / "checkpoint"
    args = ["--from-reference", str(checkpoint), "--out", str(out), "--precision", "fp32", "--n-verify", "1"]
    result = CliRunner().invoke(main, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "exported sudoku model" in result.output
    return out


@pytest.mark.slow
def test_import_writes_a_manifest_with_provenance(shared_fixtures: Any, imported: Path) -> None:
    raw = json.loads((imported / "manifest.json").read_text())
    step_file = _case(shared_fixtures, "sudoku_mlp") / "checkpoint" / "step_1000"
    source = raw["source_checkpoint"]
    assert source["sha256"] == hashlib.sha256(step_file.read_bytes()).hexdigest()
    assert (source["file"], source["step"], source["format"]) == ("step_1000", 1000, "reference-trm")
    assert source["config"]["mlp_t"] is True and source["config"]["H_cycles"] == 3
    assert raw["task"] == "sudoku" and raw["encoding"]["blank"] == 1 and raw["encoding"]["digit_offset"] == 1
    # Halting as the reference evaluates: every one of halt_max_steps steps, until trm calibrate chooses.
    assert (raw["halting"]["threshold"], raw["halting"]["stop_on_verified"], raw["halting"]["max_steps"]) == (
        1.0,
        False,
        16,
    )
    assert raw["precision"]["weights"] == "float32"
    assert raw["model"]["mix_norm"] == "sequence" and raw["parity"]["passed"] is True


@pytest.mark.slow
def test_imported_model_runs_in_the_solver_and_says_it_solves_nothing(
    shared_fixtures: Any, imported: Path
) -> None:
    from trm_sdk import Solver
    from trm_sdk.tasks import get_task

    puzzles = (_case(shared_fixtures, "sudoku_mlp") / "puzzles.txt").read_text().split()
    solver = Solver(model=imported, backend="cpu")
    results = solver.solve_batch(puzzles[:4])
    task = get_task("sudoku")
    for puzzle, result in zip(puzzles, results, strict=False):
        assert result.steps == 16  # no verified stop, no halting head until calibrated
        honest = bool(task.verify(np.asarray(result.grid)[None], task.parse(puzzle)[None])[0])
        assert result.solved is honest
    assert not any(r.solved for r in results)  # random weights


@pytest.mark.slow
def test_imported_model_in_trm_info_and_trm_eval(imported: Path, tmp_path: Path) -> None:
    from trm_sdk.cli import main as trm
    from trm_sdk.tasks import get_task

    info = CliRunner().invoke(trm, ["info", "--model", str(imported)])
    assert info.exit_code == 0, info.output
    assert "sudoku" in info.output
    task = get_task("sudoku")
    rng = np.random.default_rng(0)
    pairs = [task.generate(rng, "easy") for _ in range(3)]
    data = tmp_path / "easy.csv"
    data.write_text("".join(f"{task.to_string(p)},{task.to_string(a)}\n" for p, a in pairs))
    args = ["eval", "--model", str(imported), "--backend", "cpu", "--views", "1", "--json", str(data)]
    result = CliRunner().invoke(trm, args)
    assert result.exit_code == 0, result.output
    assert '"exact_halting": 0.0' in result.output.replace(" ", " ")


# --------------------------------------------------------------------------------------------------
# What is refused


def _variant(shared_fixtures: Any, tmp_path: Path, arch: dict[str, Any], state: Any = None) -> Path:
    """A copy of sudoku_att's checkpoint folder with ``arch`` keys changed (and optionally its state)."""
    import yaml

    src = _case(shared_fixtures, "sudoku_att") / "checkpoint"
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    config = yaml.safe_load((src / "all_config.yaml").read_text())
    config["arch"].update(arch)
    (folder / "all_config.yaml").write_text(yaml.safe_dump(config))
    if state is None:
        shutil.copy(src / "step_1000", folder / "step_1000")
    else:
        torch.save(state, folder / "step_1000")
    return folder


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ({"name": "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1"}, "HRM checkpoint"),
        ({"name": "recursive_reasoning.trm_singlez@TinyRecursiveReasoningModel_ACTV1"}, "is not supported"),
        ({"pos_encodings": "alibi"}, "pos_encodings 'alibi' is not supported"),
    ],
)
def test_unsupported_configurations_get_one_line(
    shared_fixtures: Any, tmp_path: Path, arch: dict, message: str
) -> None:
    folder = _variant(shared_fixtures, tmp_path, arch)
    with pytest.raises(ReferenceError) as err:
        load_reference(folder)
    assert message in str(err.value) and "supported:" in str(err.value) and "\n" not in str(err.value)


def test_many_puzzle_identifiers_are_refused(shared_fixtures: Any, tmp_path: Path) -> None:
    src = _case(shared_fixtures, "sudoku_att") / "checkpoint" / "step_1000"
    state = torch.load(src, weights_only=True)
    key = "_orig_mod.model.inner.puzzle_emb.weights"
    state[key] = state[key].repeat(400, 1)  # one embedding per training puzzle, as ARC's
    with pytest.raises(ReferenceError, match="400 puzzle identifiers") as err:
        load_reference(_variant(shared_fixtures, tmp_path, {}, state))
    assert "\n" not in str(err.value)


def test_cli_prints_the_refusal(shared_fixtures: Any, tmp_path: Path) -> None:
    from trm_sdk.export.cli import main

    folder = _variant(shared_fixtures, tmp_path, {"name": "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1"})
    result = CliRunner().invoke(main, ["--from-reference", str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "HRM checkpoint" in result.output
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_a_pickle_with_code_is_not_run(tmp_path: Path, shared_fixtures: Any) -> None:
    folder = _variant(shared_fixtures, tmp_path, {}, {"not": "a tensor"})
    # A pickle that calls os.system when unpickled: the safe load refuses to run it.
    (folder / "step_1000").write_bytes(b"\x80\x02cos\nsystem\n(S'true'\ntR.")
    with pytest.raises(ReferenceError, match="weights_only=True"):
        read_reference(folder)


def test_a_task_whose_layout_does_not_fit_is_refused(shared_fixtures: Any) -> None:
    ref = read_reference(_case(shared_fixtures, "sudoku_att") / "checkpoint")
    with pytest.raises(ReferenceError, match="vocab_size 11"):
        reference_config(ref, "maze")


def test_default_networks_keep_their_weights() -> None:
    """The reference's options default off: an existing model's state dict and config are unchanged."""
    from trm_sdk.network import TRM, TRMConfig

    cfg = TRMConfig(hidden=32, n_blocks=1)
    assert "pos_embed" not in TRM(cfg).state_dict()
    assert (cfg.positions, cfg.mix_norm) == ("rope", "hidden")
    with pytest.raises(ValueError, match="needs mixer 'mlp'"):
        TRMConfig(mixer="attention", mix_norm="sequence")


@pytest.mark.slow
def test_imported_model_builds_the_web_page(imported: Path, tmp_path: Path) -> None:
    from trm_sdk.export.cli import main

    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("the web build needs node and npm (apt-get install nodejs npm)")
    out = tmp_path / "site"
    result = CliRunner().invoke(main, ["--format", "web", "--model", str(imported), "--out", str(out)])
    assert result.exit_code == 0, result.output
    build = json.loads((out / "build.json").read_text())
    step = (imported / "step.onnx").read_bytes()
    assert build["task"] == "sudoku" and build["step_sha256"] == hashlib.sha256(step).hexdigest()
    page_manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert page_manifest["halting"]["threshold"] == 1.0  # the page halts as the imported manifest says


@pytest.mark.slow
def test_imported_graphs_use_only_operators_tensorrt_parses(imported: Path, step_graphs: dict) -> None:
    """The TensorRT op check of the shipped models, on the imported one and on the attention graphs; and
    the fp16-typed step graph the TensorRT backend builds from passes onnx's strict type check."""
    import onnx

    from trm_sdk.backends import tensorrt_engine

    for path in [imported / "step.onnx", imported / "unrolled.onnx", *step_graphs.values()]:
        assert tensorrt_engine.operator_problems(path.read_bytes()) == [], path.name
    typed = onnx.load_from_string(tensorrt_engine.retype_graph((imported / "step.onnx").read_bytes(), "fp16"))
    assert {n.op_type for n in typed.graph.node} <= tensorrt_engine.TRT10_ONNX_OPS


def test_init_from_takes_a_reference_checkpoint(shared_fixtures: Any) -> None:
    """trm-train --init-from: a reference checkpoint gives the network config and weights of the import."""
    import dataclasses

    from trm_sdk.network import TRMConfig
    from trm_sdk.train import checkpoint

    folder = _case(shared_fixtures, "sudoku_att") / "checkpoint"
    assert checkpoint.is_reference(folder) and checkpoint.is_reference(folder / "step_1000")
    cfg = TRMConfig.from_dict(checkpoint.init_network(folder, "sudoku"))
    state, source = checkpoint.exported_weights(folder / "step_1000", "sudoku", cfg)
    model, _, provenance = load_reference(folder)
    assert state.keys() == model.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert (source["weights_sha256"], source["source_step"]) == (provenance["sha256"], 1000)
    deeper = dataclasses.replace(cfg, T=4, n=8)  # only the recursion may differ
    checkpoint.exported_weights(folder, "sudoku", deeper)
    with pytest.raises(ValueError, match="hidden"):
        checkpoint.exported_weights(folder, "sudoku", dataclasses.replace(cfg, hidden=32))
    with pytest.raises(ValueError, match="vocab_size 11"):
        checkpoint.init_network(folder, "maze")


def test_learned_positions_enter_as_the_reference_adds_them(shared_fixtures: Any, tmp_path: Path) -> None:
    """No fixture has pos_encodings "learned": the input is checked against the reference's rule instead,
    sqrt(hidden) * (cat(puzzle embedding, token embedding) + table) / sqrt(2)."""
    src = _case(shared_fixtures, "sudoku_att") / "checkpoint" / "step_1000"
    state = torch.load(src, weights_only=True)
    table = torch.randn(97, 64, generator=torch.Generator().manual_seed(0)) / 8
    state["_orig_mod.model.inner.embed_pos.embedding_weight"] = table
    model, _, _ = load_reference(_variant(shared_fixtures, tmp_path, {"pos_encodings": "learned"}, state))
    assert model.cfg.positions == "learned" and not model.blocks[0].mix.rope
    tokens = torch.from_numpy(np.load(_case(shared_fixtures, "sudoku_att") / "expected.npz")["tokens"][:2])
    inner = "_orig_mod.model.inner."
    prefix = torch.zeros(16 * 64)
    prefix[:64] = state[inner + "puzzle_emb.weights"][0]
    raw = torch.cat(
        [prefix.view(1, 16, 64).expand(2, -1, -1), state[inner + "embed_tokens.embedding_weight"][tokens]], 1
    )
    expected = 8.0 * (0.707106781 * (raw + table))
    got, _ = model.input_embedding(tokens.long())
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
