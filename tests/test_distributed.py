"""Data-parallel training under torchrun, on the CPU with gloo and 2 processes: the steps of one process,
checkpoints that resume at another world size, and a failing rank that ends the job instead of hanging.

The 2-process jobs run this file as their script (see the bottom): ``worker_train`` drives the Trainer
through the library, ``worker_fail`` drives ``trm-train``'s module entry point as torchrun starts it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from trm_sdk.network import TRMConfig  # noqa: E402
from trm_sdk.train import checkpoint, distributed  # noqa: E402
from trm_sdk.train.config import TrainConfig  # noqa: E402
from trm_sdk.train.distributed import World  # noqa: E402
from trm_sdk.train.trainer import Trainer  # noqa: E402

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="this torch has no gloo backend",
)

TINY = TRMConfig(hidden=16, n_prefix=2, T=2, n=1, N_sup=2, multiple_of=16)
_TINY_SETTINGS = "hidden=16 n_prefix=2 T=1 n=1 N_sup=2 multiple_of=16 batch_size=4 eval_size=4 eval_every=0"
TINY_CLI = [arg for pair in _TINY_SETTINGS.split() for arg in ("--set", pair)]
STEPS = 3
JOB_TIMEOUT_S = 150  # a 2-process job takes about 10 s here; a hang fails the test instead of blocking CI


def _cfg(**over) -> TrainConfig:
    base = dict(
        batch_size=8,  # the global batch: 4 slots in each of 2 processes
        lr=1e-3,
        warmup_steps=2,
        weight_decay=0.1,
        ema_decay=0.9,
        halt_explore=0.5,  # exploration draws must match too
        eval_every=0,
        eval_size=8,
        save_every_s=1e9,
        device="cpu",
        # fp32 whatever the CPU: bf16 autocast (auto on AVX512-BF16 or AMX) rounds a batch of 4 and a batch
        # of 8 differently, and this compares the two to 1e-4
        precision="fp32",
        max_steps=STEPS,
    )
    return TrainConfig(**{**base, **over})


def _torchrun(args: list[str], cwd: Path) -> tuple[int, str, float]:
    """Two processes of this file under torchrun: (exit status, output, seconds). Run from ``cwd`` so that
    ``trm_sdk`` is the installed package, not the source folder beside the tests."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.monotonic()
    job = subprocess.Popen(
        [*cmd, str(Path(__file__).resolve()), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so a hung job is killed whole
    )
    try:
        output, _ = job.communicate(timeout=JOB_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        output, _ = job.communicate()
        pytest.fail(f"the 2-process job hung for {JOB_TIMEOUT_S} s:\n{output[-4000:]}")
    return job.returncode, output, time.monotonic() - t0


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("two")
    code, output, _ = _torchrun(["train", str(out)], cwd=out)
    assert code == 0, output[-4000:]
    return out


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> Trainer:
    trainer = Trainer(TINY, _cfg(), tmp_path_factory.mktemp("one"))
    trainer.train()
    return trainer


@pytest.mark.slow
def test_two_processes_take_the_steps_of_one_process_with_the_same_global_batch(
    two_processes: Path, one_process: Trainer
) -> None:
    two = torch.load(two_processes / "fp32.pt", weights_only=True)
    one = one_process.model.state_dict()
    start = Trainer(TINY, _cfg(), two_processes / "start").model.state_dict()
    for name, value in one.items():
        torch.testing.assert_close(two["model"][name], value, rtol=1e-4, atol=1e-5, msg=name)
    moved = max(float((one[k] - start[k]).abs().max()) for k in one if one[k].is_floating_point())
    assert moved > 1e-3  # the steps moved the weights far beyond the tolerance above
    for idx, moments in one_process.optimizer.state_dict()["state"].items():
        torch.testing.assert_close(two["optimizer"]["state"][idx]["exp_avg"], moments["exp_avg"])
    # The very same puzzles, exploration and curriculum feedback: the data position saved by rank 0 is
    # the one-process position, bit for bit.
    saved = checkpoint.load(two_processes / "latest.pt")
    assert saved["step"] == STEPS and saved["info"]["processes"] == 2
    expected = one_process.data_state()
    assert saved["data_state"]["rng"] == expected["rng"]
    assert saved["data_state"]["explore_rng"] == expected["explore_rng"]
    assert saved["data_state"]["feed"] == expected["feed"]
    assert saved["data_state"]["recent"] == expected["recent"]
    assert len(expected["recent"]) == STEPS // TINY.N_sup * 8  # every slot halted at N_sup=2, reported


@pytest.mark.slow
def test_a_two_process_checkpoint_resumes_in_one_process(
    two_processes: Path, one_process: Trainer, tmp_path: Path
) -> None:
    from_two = Trainer(TINY, _cfg(max_steps=STEPS + 2), tmp_path / "from_two")
    from_two.resume(two_processes / "latest.pt")
    from_one = Trainer(TINY, _cfg(max_steps=STEPS + 2), tmp_path / "from_one")
    from_one.resume(one_process.out_dir / "latest.pt")
    assert from_two.step == STEPS and from_two._lr() == from_one._lr()
    assert from_two.train()["steps"] == from_one.train()["steps"] == STEPS + 2
    # It drew on where the 2 processes stopped, as the 1-process run does from its own checkpoint.
    assert from_two.data_state()["rng"] == from_one.data_state()["rng"]
    assert from_two.data_state()["feed"] == from_one.data_state()["feed"]
    assert from_two.data_state()["explore_rng"] == from_one.data_state()["explore_rng"]
    # The checkpoints store bf16 weights, so both resumed from values a bf16 rounding apart at most.
    for name, value in from_one.model.state_dict().items():
        torch.testing.assert_close(from_two.model.state_dict()[name], value, rtol=2e-2, atol=2e-3, msg=name)


@pytest.mark.slow
def test_a_failing_rank_ends_the_job_with_its_error(tmp_path: Path) -> None:
    code, output, seconds = _torchrun(["fail", str(tmp_path / "run")], cwd=tmp_path)
    assert code != 0, output[-4000:]
    assert "injected failure on rank 1" in output, output[-4000:]
    # torchrun's summary names the failed rank as the root cause, with its traceback.
    root_cause = re.search(r"Root Cause.*rank\s*:\s*1 \(local_rank: 1\).*injected failure", output, re.S)
    assert root_cause, output[-4000:]
    assert seconds < JOB_TIMEOUT_S
    assert not (tmp_path / "run" / "latest.pt").exists()  # rank 0 did not go on alone to a final save


def test_the_global_batch_must_split_over_the_processes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"batch_size 6 does not split over 4 processes.*multiple of 4"):
        Trainer(TINY, _cfg(batch_size=6), tmp_path, world=World(rank=0, size=4))
    assert World(rank=1, size=4).slots(8) == (2, 4)
    with pytest.raises(ValueError, match="rank 2 does not fit"):
        World(rank=2, size=2)
    with pytest.raises(ValueError, match="names one GPU"):
        distributed.device_for("cuda:1", World(rank=0, size=2))
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert World.from_env(env) == World(rank=3, size=4, local_rank=1, local_size=2)
    assert World.from_env({}) == World()


def test_nproc_hands_the_same_command_to_torchrun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch.distributed.run
    from click.testing import CliRunner

    from trm_sdk.train.cli import main

    launched: list[list[str]] = []
    monkeypatch.setattr(torch.distributed.run, "main", launched.append)
    args = ["--out", str(tmp_path), "--steps", "2", "--nproc", "2", "--device", "cpu", *TINY_CLI]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    expected = ["--standalone", "--nproc_per_node", "2", "-m", "trm_sdk.train.cli"]
    assert launched == [[*expected, "--out", str(tmp_path), "--steps", "2", "--device", "cpu", *TINY_CLI]]
    uneven = CliRunner().invoke(main, [*args, "--set", "batch_size=5"])
    assert uneven.exit_code != 0 and "batch_size 5 does not split over 2 processes" in uneven.output
    assert len(launched) == 1  # refused before starting any process
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job")
    nested = CliRunner().invoke(main, args)
    assert nested.exit_code != 0 and "under torchrun, leave it out" in nested.output


# -- the 2-process jobs ----------------------------------------------------------------------------------


def worker_train(out: Path) -> None:
    """The Trainer in one process of a torchrun job; rank 0 also keeps its fp32 weights and moments."""
    world = World.from_env()
    with distributed.process_group(world, torch.device("cpu"), timeout_s=JOB_TIMEOUT_S):
        trainer = Trainer(TINY, _cfg(), out, world=world)
        trainer.train()
        if world.is_main:
            state = {"model": trainer.model.state_dict(), "optimizer": trainer.optimizer.state_dict()}
            torch.save(state, out / "fp32.pt")


def worker_fail(out: Path) -> None:
    """``python -m trm_sdk.train.cli`` as torchrun starts it, with rank 1 failing in its third step."""
    from trm_sdk.train import cli

    if World.from_env().rank == 1:
        step = Trainer._supervision_step

        def failing(self: Trainer, fn, carry):  # type: ignore[no-untyped-def]
            if self.step == 2:
                raise RuntimeError("injected failure on rank 1 at step 2")
            return step(self, fn, carry)

        Trainer._supervision_step = failing  # type: ignore[method-assign]
    sys.argv = ["trm-train", "--out", str(out), "--steps", "1000", "--device", "cpu", "-q", *TINY_CLI]
    cli.run()


if __name__ == "__main__":
    {"train": worker_train, "fail": worker_fail}[sys.argv[1]](Path(sys.argv[2]))
