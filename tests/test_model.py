"""The TRM network: shapes, the recursion's gradient flow, halting-head init, config checking."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from trm_sdk.network import TRM, TRMConfig  # noqa: E402
from trm_sdk.train.losses import cross_entropy, halting_loss  # noqa: E402

TINY = dict(hidden=16, n_prefix=2, n_blocks=2, T=2, n=2, N_sup=4, multiple_of=16, n_heads=2)


@pytest.mark.parametrize("mixer", ["mlp", "attention"])
def test_step_shapes_and_detached_state(mixer: str) -> None:
    cfg = TRMConfig(**TINY, mixer=mixer)
    model = TRM(cfg)
    tokens = torch.randint(1, cfg.vocab_size, (3, cfg.seq_len))
    y, z = model.initial_state(3)
    assert y.shape == z.shape == (3, cfg.seq_len + cfg.n_prefix, cfg.hidden)
    y2, z2, logits, q = model(tokens, y, z)
    assert logits.shape == (3, cfg.seq_len, cfg.vocab_size)
    assert q.shape == (3,)
    assert not y2.requires_grad and not z2.requires_grad
    assert logits.requires_grad


CONV = dict(hidden=16, n_prefix=0, T=1, n=1, N_sup=2, multiple_of=16, mixer="conv", seq_len=900, vocab_size=6)


def test_conv_network_runs_on_any_square_grid_with_the_same_weights() -> None:
    model = TRM(TRMConfig(**CONV)).eval()
    for side in (5, 12, 30):
        tokens = torch.randint(1, 6, (2, side * side))
        y, z = model.initial_state(2, side * side)
        y, z, logits, q = model(tokens, y, z)
        assert y.shape == (2, side * side, 16) and logits.shape == (2, side * side, 6) and q.shape == (2,)


def test_conv_mixer_is_local() -> None:
    # One network application moves information one cell per block (kernel 3, 2 blocks): a cell's answer
    # after one step cannot depend on a cell more than 2 rows or columns away from it, only on a neighbour.
    model = TRM(TRMConfig(**{**CONV, "seq_len": 100})).eval()
    tokens = torch.full((1, 100), 2)
    changed = tokens.clone()
    changed[0, 0] = 1  # cell (0, 0)
    y, z = model.initial_state(1, 100)
    with torch.no_grad():
        a = model(tokens, y, z)[2].view(10, 10, -1)
        b = model(changed, y, z)[2].view(10, 10, -1)
    moved = (a - b).abs().amax(-1) > 1e-6
    # T=1, n=1: z = net(z, y + x) then y = net(y, z): two applications, four blocks, four cells.
    assert moved[0, 0] and moved[4, 0] and moved[0, 4]
    assert not moved[5:, :].any() and not moved[:, 5:].any()


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"n_prefix": 2}, "n_prefix to 0"),
        ({"seq_len": 90}, "not a square"),
        ({"kernel": 4}, "kernel must be odd"),
    ],
)
def test_conv_config_errors_say_what_to_change(bad: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TRMConfig(**{**CONV, **bad})


def test_default_config_matches_the_paper_size() -> None:
    # TRM-MLP for Sudoku: hidden 512, 2 blocks, about 5.0M parameters (paper, Table 1).
    n = TRM(TRMConfig()).num_params()
    assert 4.8e6 < n < 5.2e6


def test_halting_head_starts_by_continuing() -> None:
    model = TRM(TRMConfig(**TINY))
    tokens = torch.randint(1, 11, (4, 81))
    _, _, _, q = model(tokens, *model.initial_state(4))
    assert torch.allclose(torch.sigmoid(q), torch.full((4,), torch.sigmoid(torch.tensor(-5.0)).item()))


def test_only_the_last_cycle_gets_gradient() -> None:
    # With T=2 the first cycle runs under no_grad: its work must not reach the graph. Compare the number
    # of autograd nodes for T=1 and T=2: equal graphs mean the extra cycle was not recorded.
    def graph_size(T: int) -> int:
        torch.manual_seed(0)
        model = TRM(TRMConfig(**{**TINY, "T": T}))
        tokens = torch.randint(1, 11, (2, 81))
        _, _, logits, _ = model(tokens, *model.initial_state(2))
        seen, stack = set(), [logits.grad_fn]
        while stack:
            fn = stack.pop()
            if fn is None or fn in seen:
                continue
            seen.add(fn)
            stack.extend(f for f, _ in fn.next_functions)
        return len(seen)

    assert graph_size(1) == graph_size(3)


def test_recursion_depends_on_the_carried_state() -> None:
    model = TRM(TRMConfig(**TINY))
    tokens = torch.randint(1, 11, (2, 81))
    y, z = model.initial_state(2)
    _, _, a, _ = model(tokens, y, z)
    _, _, b, _ = model(tokens, y + 1.0, z)
    assert not torch.allclose(a, b)


def test_config_rejects_unknown_and_mistyped_keys() -> None:
    with pytest.raises(ValueError, match="unknown model config key"):
        TRMConfig.from_dict({"hiden": 128})
    with pytest.raises(ValueError, match="must be int"):
        TRMConfig.from_dict({"hidden": "128"})
    with pytest.raises(ValueError, match="mixer"):
        TRMConfig.from_dict({"mixer": "conv"})
    assert TRMConfig.from_dict({"expansion": 2}).expansion == 2.0
    assert TRMConfig.from_dict(TRMConfig().to_dict()) == TRMConfig()


@pytest.mark.parametrize("kind", ["stablemax", "softmax"])
def test_cross_entropy_is_low_for_confident_right_answers(kind: str) -> None:
    labels = torch.randint(2, 11, (2, 81))
    right = torch.nn.functional.one_hot(labels, 11).float() * 50
    wrong = torch.nn.functional.one_hot((labels - 2 + 1) % 9 + 2, 11).float() * 50
    # stablemax grows linearly, so a logit of 50 against ten 0s is p = 51/61, not ~1.
    assert (cross_entropy(right, labels, kind) < 0.2).all()
    assert (cross_entropy(wrong, labels, kind) > 1.0).all()
    with pytest.raises(ValueError):
        cross_entropy(right, labels, "hinge")


def test_halting_loss_rewards_predicting_correctness() -> None:
    exact = torch.tensor([True, False])
    assert (halting_loss(torch.tensor([5.0, -5.0]), exact) < 0.01).all()
    assert (halting_loss(torch.tensor([-5.0, 5.0]), exact) > 4.0).all()


def test_load_network_builds_exported_weights_in_a_given_dtype(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The one loader of an exported model's network, which the CUDA backend and ``--init-from`` share."""
    import json
    import shutil

    import numpy as np

    from trm_sdk import ModelError
    from trm_sdk.manifest import load_manifest
    from trm_sdk.network import load_network

    manifest = load_manifest(tiny_model_dir)
    model = load_network(manifest, "cpu", torch.float16)
    assert isinstance(model, TRM) and not model.training
    assert all(p.dtype == torch.float16 and not p.requires_grad for p in model.parameters())
    with np.load(tiny_model_dir / "weights.npz") as saved:
        assert set(saved.files) == set(model.state_dict())
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(value.numpy(), saved[name].astype(np.float16))

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    body = json.loads((folder / "manifest.json").read_text())
    del body["files"]["weights"]
    (folder / "manifest.json").write_text(json.dumps(body))
    with pytest.raises(ModelError, match=r"no weights\.npz"):
        load_network(load_manifest(folder), "cpu", torch.float32)
