"""Data-parallel training across processes: which process this is, its process group, and the few
collectives the training loop needs.

torchrun (``torch.distributed.run``) starts one process per device and tells each its place through the
environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Started any other
way, a process is rank 0 of 1 and nothing here touches torch.distributed, so a one-process run pays for
no collective and needs no process group.

The global batch of ``batch_size`` slots is laid out rank by rank: rank r holds slots
``[r * batch_size / world, (r + 1) * batch_size / world)``, so that gathering any per-slot tensor in rank
order gives the one-process batch back. That is what lets a run of any world size see the same puzzles,
take the same optimizer steps (to floating-point rounding) and resume at another world size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


class PeerLostError(RuntimeError):
    """A collective failed: another process of the job stopped (its own error is printed above) or hung
    longer than the timeout."""


@dataclass(frozen=True)
class World:
    """This process's place in the job. The default is a one-process run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0  # rank among the processes on this machine: picks the GPU
    local_size: int = 1  # processes on this machine: they share its cores

    def __post_init__(self) -> None:
        if self.size < 1 or not 0 <= self.rank < self.size:
            raise ValueError(f"rank {self.rank} does not fit a world of {self.size} processes")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> World:
        """The place torchrun gave this process; rank 0 of 1 without torchrun."""
        env = os.environ if env is None else env
        try:
            return cls(
                rank=int(env.get("RANK", "0")),
                size=int(env.get("WORLD_SIZE", "1")),
                local_rank=int(env.get("LOCAL_RANK", "0")),
                local_size=int(env.get("LOCAL_WORLD_SIZE", "1")),
            )
        except ValueError as exc:
            raise ValueError(f"torchrun's RANK/WORLD_SIZE/LOCAL_RANK are unreadable: {exc}") from None

    @property
    def is_main(self) -> bool:
        """Rank 0 draws the data, keeps the EMA, evaluates, saves and logs."""
        return self.rank == 0

    def local_batch(self, batch_size: int) -> int:
        """Slots of the global batch that this process holds."""
        if batch_size % self.size:
            nearest = self.size * max(1, batch_size // self.size)
            raise ValueError(
                f"batch_size {batch_size} does not split over {self.size} processes: batch_size is the "
                f"global batch, so make it a multiple of {self.size} (e.g. {nearest})"
            )
        return batch_size // self.size

    def slots(self, batch_size: int) -> tuple[int, int]:
        """The [start, stop) range of global slots that this process holds."""
        local = self.local_batch(batch_size)
        return self.rank * local, (self.rank + 1) * local


def device_for(name: str, world: World) -> torch.device:
    """The device of this process: ``auto`` is a GPU where there is one, else the CPU. Under torchrun,
    ``auto`` and ``cuda`` mean the GPU of this process's local rank, one GPU per process."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if world.size == 1 or device.type != "cuda":
        return device
    if device.index is not None:
        raise ValueError(
            f"device {name!r} names one GPU, but {world.size} processes share the job: use 'cuda' or 'auto' "
            "and each process takes the GPU of its local rank (CUDA_VISIBLE_DEVICES chooses which)"
        )
    if world.local_rank >= torch.cuda.device_count():
        raise ValueError(
            f"local rank {world.local_rank} has no GPU: this machine has {torch.cuda.device_count()}, "
            f"so start at most that many processes per machine (--nproc_per_node)"
        )
    return torch.device("cuda", world.local_rank)


def backend_for(device: torch.device) -> str:
    """NCCL between GPUs, gloo between CPU processes."""
    return "nccl" if device.type == "cuda" else "gloo"


@contextmanager
def process_group(world: World, device: torch.device, timeout_s: float) -> Iterator[None]:
    """The process group for the job's lifetime (none in a one-process run).

    ``timeout_s`` bounds every wait for the other processes: a process that hangs fails the job after it
    instead of holding every other one forever. (One that dies is noticed at once by torchrun, which
    stops the rest.)
    """
    if world.size == 1 or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(
        backend_for(device),
        timeout=timedelta(seconds=timeout_s),
        rank=world.rank,
        world_size=world.size,
        device_id=device if device.type == "cuda" else None,  # NCCL: bind this process to its GPU now
    )
    try:
        yield
    finally:
        dist.destroy_process_group()


def _collective(world: World, what: str) -> PeerLostError:
    return PeerLostError(
        f"rank {world.rank} of {world.size}: {what} failed, most likely because another process of the job "
        "stopped (its own error is printed above) or hung past dist_timeout_s"
    )


def all_gather(world: World, tensor: torch.Tensor) -> torch.Tensor:
    """Every process's ``tensor`` (same shape on each), stacked in rank order: (world, *shape)."""
    if world.size == 1:
        return tensor.unsqueeze(0)
    # The list form: the one-tensor forms differ in name and in expected shapes between torch releases.
    parts = [torch.empty_like(tensor) for _ in range(world.size)]
    try:
        dist.all_gather(parts, tensor.contiguous())
    except RuntimeError as exc:
        raise _collective(world, "gathering the step's results") from exc
    return torch.stack(parts)


def broadcast(world: World, tensor: torch.Tensor) -> torch.Tensor:
    """Rank 0's ``tensor``, written into every process's tensor of the same shape."""
    if world.size > 1:
        try:
            dist.broadcast(tensor, src=0)
        except RuntimeError as exc:
            raise _collective(world, "sharing rank 0's puzzles") from exc
    return tensor


def any_rank(world: World, flag: bool, device: torch.device) -> bool:
    """True on every process if ``flag`` is true on any: decisions that every rank must take together."""
    if world.size == 1:
        return flag
    return bool(all_gather(world, torch.tensor([flag], dtype=torch.uint8, device=device)).any())
