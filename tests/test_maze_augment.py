"""The 8 dihedral maps: a group of distinct maps, each with its inverse, that keep shortest paths."""

from __future__ import annotations

import numpy as np
import pytest

from trm_sdk.tasks.maze import augment, codec, generate


def test_eight_distinct_maps_with_inverses() -> None:
    g = np.arange(9).reshape(3, 3)
    images = {augment.dihedral(g, k).tobytes() for k in range(8)}
    assert len(images) == 8
    for k in range(8):
        assert np.array_equal(augment.dihedral(augment.dihedral(g, k), augment.inverse(k)), g)
        r, c = augment.map_point((0, 1), k, 3)
        assert augment.dihedral(g, k)[r, c] == g[0, 1]
    with pytest.raises(ValueError):
        augment.dihedral(g, 8)


def test_random_augment_keeps_pairs_valid_and_uses_every_map() -> None:
    rng = np.random.default_rng(3)
    puzzles, answers = generate.make_batch(rng, 4, "medium")
    p = np.repeat(puzzles, 64, axis=0)
    a = np.repeat(answers, 64, axis=0)
    out_p, out_a = augment.random_augment(p, a, np.random.default_rng(0))
    assert codec.are_solutions(np.where(out_a == 0, 1, out_a), np.where(out_p == 0, 1, out_p)).all()
    first = {out_p[i].tobytes() for i in range(64)}
    assert len(first) == 8  # 64 draws of one maze showed all eight images, and no others
    with pytest.raises(ValueError, match="same shape"):
        augment.random_augment(p[:2], a[:3], rng)
