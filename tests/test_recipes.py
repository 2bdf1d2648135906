"""The study's recipe options: digit-equivariant layers, Muon, and a shallow-to-deep recursion schedule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trm_sdk.network import TRM, TRMConfig  # noqa: E402
from trm_sdk.tasks import get_task  # noqa: E402
from trm_sdk.tasks.sudoku import generate  # noqa: E402
from trm_sdk.train import checkpoint  # noqa: E402
from trm_sdk.train.config import TrainConfig  # noqa: E402
from trm_sdk.train.optim import ChainedOptimizer  # noqa: E402
from trm_sdk.train.trainer import Trainer  # noqa: E402

SUDOKU = get_task("sudoku")
TINY = TRMConfig(hidden=16, n_prefix=2, T=1, n=2, N_sup=4, multiple_of=16)


def _cfg(**over) -> TrainConfig:
    base = dict(
        batch_size=8, lr=1e-3, warmup_steps=2, eval_size=8, save_every_s=1e9, device="cpu", max_steps=4
    )
    return TrainConfig(**{**base, **over})


def test_equivariant_digits_relabel_the_answer_with_the_question() -> None:
    torch.manual_seed(0)
    model = TRM(TRMConfig(hidden=32, n_prefix=2, T=1, n=2, multiple_of=16, digits="equivariant")).eval()
    puzzle, _ = generate.make_puzzle(np.random.default_rng(3), blanks=50)
    relabel = np.random.default_rng(4).permutation(9) + 1  # digit d becomes relabel[d - 1]
    relabelled = np.where(puzzle > 0, relabel[np.maximum(puzzle, 1) - 1], 0)
    tokens = torch.as_tensor(SUDOKU.encode(np.stack([puzzle, relabelled])))
    y, z = model.initial_state(2)
    with torch.no_grad():
        for _ in range(3):
            y, z, logits, q = model(tokens, y, z)
    # token 1 + d is digit d: the relabelled puzzle's logit for relabel[d - 1] is the original's for d
    digits = logits[..., 2:]
    assert torch.allclose(digits[1][:, torch.as_tensor(relabel - 1)], digits[0], atol=1e-4)
    assert torch.allclose(q[0], q[1], atol=1e-5)  # halting does not depend on the labels
    assert not torch.allclose(digits[0], digits[0][:, torch.randperm(9)])  # and the logits are not flat
    # the embedding network has no such symmetry: the test can tell them apart
    plain = TRM(TRMConfig(hidden=32, n_prefix=2, T=1, n=2, multiple_of=16)).eval()
    with torch.no_grad():
        _, _, plain_logits, _ = plain(tokens, *plain.initial_state(2))
    assert not torch.allclose(plain_logits[1, :, 2:][:, torch.as_tensor(relabel - 1)], plain_logits[0, :, 2:])


def test_equivariant_digits_train_and_save_like_any_network(tmp_path: Path) -> None:
    cfg = TRMConfig(hidden=16, n_prefix=2, T=1, n=1, N_sup=2, multiple_of=16, digits="equivariant")
    assert Trainer(cfg, _cfg(max_steps=3), tmp_path).train()["steps"] == 3
    model, _ = checkpoint.load_model(tmp_path / "latest.pt")
    assert model.cfg.digits == "equivariant" and model.digit_codes is not None
    with pytest.raises(ValueError, match="digits must be"):
        TRMConfig(digits="onehot")  # type: ignore[arg-type]


def test_muon_trains_the_blocks_matrices_and_resumes_its_momentum(tmp_path: Path) -> None:
    first = Trainer(TINY, _cfg(max_steps=3, optimizer="muon"), tmp_path / "a")
    assert isinstance(first.optimizer, ChainedOptimizer)
    muon = first.optimizer.optimizers[0]
    muon_params = {id(p) for g in muon.param_groups for p in g["params"]}
    names = [n for n, p in first.model.named_parameters() if id(p) in muon_params]
    assert names and all(n.startswith("blocks.") for n in names)
    assert "embed.weight" not in names and "head.weight" not in names
    before = {n: p.detach().clone() for n, p in first.model.named_parameters()}
    first.train()
    assert all(not torch.equal(before[n], p) for n, p in first.model.named_parameters() if n in names)
    second = Trainer(TINY, _cfg(max_steps=5, optimizer="muon"), tmp_path / "b")
    second.resume(tmp_path / "a" / "latest.pt")
    saved, loaded = first.optimizer.state_dict(), second.optimizer.state_dict()
    assert saved["state"].keys() == loaded["state"].keys()
    for k, entry in saved["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value) and value.is_floating_point():
                assert torch.allclose(value, loaded["state"][k][key], rtol=2e-2, atol=1e-6), (k, key)
    assert second.train()["steps"] == 5


def test_the_optimizer_cannot_change_on_resume(tmp_path: Path) -> None:
    Trainer(TINY, _cfg(max_steps=1), tmp_path / "a").train()
    other = Trainer(TINY, _cfg(optimizer="muon"), tmp_path / "b")
    with pytest.raises(ValueError, match="saved with optimizer 'adamw', not 'muon'"):
        other.resume(tmp_path / "a" / "latest.pt")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        Trainer(TINY, _cfg(optimizer="sgd"), tmp_path / "c")


def test_depth_schedule_deepens_the_recursion_at_its_steps(tmp_path: Path) -> None:
    cfg = TRMConfig(hidden=16, n_prefix=2, T=1, n=4, N_sup=4, multiple_of=16)
    trainer = Trainer(cfg, _cfg(max_steps=5, depth_schedule=((0, 1, 1), (2, 1, 2), (4, 2, 3))), tmp_path)
    seen: list[tuple[int, int]] = []
    calls = trainer.model.latent_recursion

    def spy(*args):  # one call per cycle: record the depth the step runs at
        seen.append((trainer.model.cfg.T, trainer.model.cfg.n))
        return calls(*args)

    trainer.model.latent_recursion = spy  # type: ignore[method-assign]
    trainer.train()
    training = seen[:6]  # one cycle a step at T=1 (steps 0-3), two at T=2 (step 4); then the eval
    assert training == [(1, 1)] * 2 + [(1, 2)] * 2 + [(2, 3)] * 2
    assert checkpoint.load(tmp_path / "latest.pt")["model_config"]["n"] == 3  # saved at its last depth


@pytest.mark.parametrize("bad", [[[0, 1]], [[5, 1, 2], [2, 1, 4]], [[0, 0, 2]], "deep", [[0, 1.5, 2]]])
def test_depth_schedule_refuses_what_it_cannot_follow(bad: object) -> None:
    with pytest.raises(ValueError, match="depth_schedule must be"):
        TrainConfig.from_dict({"depth_schedule": bad})
