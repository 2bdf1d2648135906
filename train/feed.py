"""Generated puzzles in numbered chunks, made ahead by worker processes, consumed in a fixed order.

Generating is the one slow part of the training data: a minimal Sudoku costs about 13 ms of Python on one
core and a hard maze about 20 ms, while a compiled training step on a GPU wants hundreds of fresh puzzles
per second. So generation runs in worker processes. Chunk ``k`` of a source is a pure function of
(seed, source, k), and the consumer takes chunks strictly in order, so the puzzles a run sees do not
depend on the number of workers or on their timing: a feed with workers, one without, and one resumed
from :meth:`ChunkFeed.state_dict` all yield the same sequence.
"""

from __future__ import annotations

import logging
import multiprocessing
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import numpy as np

log = logging.getLogger("trm_sdk.train")

Pair = tuple[np.ndarray, np.ndarray]
# (rng, source, count) -> count pairs. Must be picklable (a module-level function or a class's
# staticmethod) because worker processes call it.
GenerateFn = Callable[[np.random.Generator, str, int], Pair]


def make_chunk(generate: GenerateFn, seed: int, source: str, index: int, size: int) -> Pair:
    """Chunk ``index`` of ``source``: its own random stream, so chunks can be made in any order."""
    rng = np.random.default_rng([seed, zlib.crc32(source.encode()), index])
    return generate(rng, source, size)


class ChunkFeed:
    """The fresh generated pairs of every source, in order, with ``workers`` processes making them ahead.

    ``workers=0`` makes each chunk when it is first needed, in this process. ``lookahead`` chunks per
    source are kept in flight once a source has been drawn from.
    """

    def __init__(
        self,
        generate: GenerateFn,
        seed: int,
        chunk_size: int,
        workers: int = 0,
        lookahead: int | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
        if workers < 0:
            raise ValueError(f"workers must be 0 or more, not {workers}")
        self.generate = generate
        self.seed = seed
        self.chunk_size = chunk_size
        self.workers = workers
        self.lookahead = lookahead if lookahead is not None else 2 * workers
        self.position: dict[str, tuple[int, int]] = {}  # source -> (next chunk, items of it already used)
        self._ready: dict[tuple[str, int], Future[Pair] | Pair] = {}
        self._executor: ProcessPoolExecutor | None = None

    # -- making chunks -------------------------------------------------------------------------------------

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the parent may hold CUDA state and torch's thread pools, which a forked
            # child must not inherit. Workers import numpy and the task's generator only.
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    def _request(self, source: str, index: int) -> None:
        key = (source, index)
        if key in self._ready or not self.workers:
            return  # without workers a chunk is made on demand in _chunk
        try:
            self._ready[key] = self._pool().submit(
                make_chunk, self.generate, self.seed, source, index, self.chunk_size
            )
        except Exception as exc:  # no processes to be had here (limits, no /dev/shm): go on without them
            self._without_workers(exc)

    def _chunk(self, source: str, index: int) -> Pair:
        item = self._ready.pop((source, index), None)
        if isinstance(item, Future):
            try:
                return item.result()
            except Exception as exc:  # a worker died (killed, out of memory): make the chunk here
                self._without_workers(exc)
        elif item is not None:
            return item
        return make_chunk(self.generate, self.seed, source, index, self.chunk_size)

    def _without_workers(self, exc: BaseException) -> None:
        # The chunks are the same wherever they are made, so the run loses speed, not its puzzles.
        log.warning(
            "puzzle workers failed (%s: %s); generating in the training process", type(exc).__name__, exc
        )
        self.close()
        self.workers = 0

    # -- consuming -----------------------------------------------------------------------------------------

    def take(self, source: str, count: int) -> Pair:
        """The next ``count`` (at least 1) pairs of ``source``."""
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        index, used = self.position.get(source, (0, 0))
        need = used + count
        last = index + (need - 1) // self.chunk_size
        for k in range(index, last + 1 + self.lookahead):
            self._request(source, k)
        chunks = [self._chunk(source, k) for k in range(index, last + 1)]
        index, used = index + need // self.chunk_size, need % self.chunk_size
        if used:  # the last chunk is only partly used: keep it for the next take
            self._ready[(source, last)] = chunks[-1]
        self.position[source] = (index, used)
        start = need - count
        return (
            np.concatenate([p for p, _ in chunks])[start:need],
            np.concatenate([s for _, s in chunks])[start:need],
        )

    def forget(self, keep: set[str]) -> None:
        """Drop chunks made ahead for sources no longer drawn from (a curriculum stage ended)."""
        for key in [k for k in self._ready if k[0] not in keep]:
            item = self._ready.pop(key)
            if isinstance(item, Future):
                item.cancel()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._ready.clear()

    # -- resuming ------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"position": {k: list(v) for k, v in self.position.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.forget(set())
        self.position = {k: (int(v[0]), int(v[1])) for k, v in state["position"].items()}
