"""The generated-puzzle feed: the same puzzles in the same order whatever the workers, and on resume."""

from __future__ import annotations

import numpy as np
import pytest

from trm_sdk.tasks import get_task
from trm_sdk.tasks.sudoku import codec
from trm_sdk.train.data import CurriculumStream, StreamConfig
from trm_sdk.train.feed import ChunkFeed

SUDOKU = get_task("sudoku")
GEN = SUDOKU.generate_pairs  # a real generator: the bound method pickles, so spawned workers can call it


def _feed(workers: int = 0, chunk_size: int = 5) -> ChunkFeed:
    return ChunkFeed(GEN, seed=7, chunk_size=chunk_size, workers=workers)


def test_takes_across_chunk_edges_equal_one_long_take() -> None:
    one = _feed().take("gen:8-30", 23)
    feed = _feed()
    pieces = [feed.take("gen:8-30", n) for n in (3, 2, 7, 1, 10)]
    assert np.array_equal(np.concatenate([p for p, _ in pieces]), one[0])
    assert np.array_equal(np.concatenate([s for _, s in pieces]), one[1])
    assert feed.position["gen:8-30"] == (4, 3)


def test_pairs_are_valid_unique_and_sources_independent() -> None:
    feed = _feed()
    p, s = feed.take("gen:20-40", 12)
    assert p.shape == s.shape == (12, 9, 9)
    assert codec.are_solutions(s, p).all()
    assert len({bytes(x) for x in p}) == 12
    # Drawing from another source in between does not change what the first one yields next.
    a, b = _feed(), _feed()
    a.take("gen:8-30", 4)
    b.take("gen:8-30", 4)
    b.take("gen:minimal", 2)
    assert np.array_equal(a.take("gen:8-30", 6)[0], b.take("gen:8-30", 6)[0])


def test_worker_processes_yield_the_same_sequence() -> None:
    alone, helped = _feed(workers=0), _feed(workers=2)
    try:
        for n in (4, 9, 1, 6):
            assert np.array_equal(alone.take("gen:8-30", n)[0], helped.take("gen:8-30", n)[0])
    finally:
        helped.close()


def test_resume_continues_with_the_next_puzzle() -> None:
    feed = _feed()
    feed.take("gen:8-30", 7)
    state = feed.state_dict()
    expected = feed.take("gen:8-30", 6)[0]
    again = _feed()
    again.load_state_dict(state)
    assert np.array_equal(again.take("gen:8-30", 6)[0], expected)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        ChunkFeed(GEN, 0, chunk_size=0)
    with pytest.raises(ValueError, match="workers"):
        ChunkFeed(GEN, 0, chunk_size=4, workers=-1)
    with pytest.raises(ValueError, match="count"):
        _feed().take("gen:8-30", 0)


def test_stream_with_workers_draws_what_the_stream_without_them_draws() -> None:
    cfg = dict(seed=5, pool_size=16, chunk_size=8)
    alone = CurriculumStream(SUDOKU, StreamConfig(**cfg))
    helped = CurriculumStream(SUDOKU, StreamConfig(**cfg, workers=2))
    try:
        for n in (10, 3, 25):
            assert np.array_equal(alone.next_batch(n)[0], helped.next_batch(n)[0])
    finally:
        helped.close()


def test_failing_workers_cost_speed_not_puzzles() -> None:
    from concurrent.futures import Future

    class BrokenPool:
        def submit(self, *args, **kwargs):
            future: Future = Future()
            future.set_exception(RuntimeError("A process in the process pool was terminated abruptly"))
            return future

        def shutdown(self, **kwargs) -> None:
            pass

    feed = _feed(workers=2)
    feed._executor = BrokenPool()  # type: ignore[assignment]
    assert np.array_equal(feed.take("gen:8-30", 12)[0], _feed().take("gen:8-30", 12)[0])
    assert feed.workers == 0
