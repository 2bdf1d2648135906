"""Find the shortest way through a maze with Solver("maze"), and check it against breadth-first search.

    python examples/maze.py                        # a generated easy maze, the shipped model
    python examples/maze.py --level hard --seed 3  # 30x30 with a 100+ move shortest path
    python examples/maze.py --file my_maze.txt --model DIR

A maze is 30 lines of 30 characters (or smaller): ``#`` wall, space open, one ``S`` and one ``G``. The
answer marks the route with ``o``; ``r.path`` lists its cells and ``r.solved`` is True only for a valid
route exactly as short as breadth-first search says. Without ``--model`` the shipped maze model runs (a
conv-mixer TRM trained on the CPU); with its 8 views it still finds no route on about 1 Maze-Hard maze
in 5, and then says so rather than guess (``fallback="search"`` would finish those with breadth-first search).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from trm_sdk import ModelError, Solver, TRMError
from trm_sdk.tasks.maze import codec, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="exported maze model folder (default: the shipped one)")
    parser.add_argument("--file", help="a maze file instead of a generated maze")
    parser.add_argument("--level", default="easy", choices=list(generate.LEVELS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    try:
        if args.file:
            maze = codec.parse(Path(args.file).read_text(encoding="utf-8"))
        else:
            maze, _ = generate.make_level(np.random.default_rng(args.seed), args.level)
    except (TRMError, OSError) as exc:
        parser.error(str(exc))
    size = codec.maze_size(maze)
    print(f"maze ({size[0]}x{size[1]}):")
    print(codec.format_grid(maze, size))

    shortest = codec.shortest_path(maze)  # the reference answer, by breadth-first search
    if shortest is None:
        print("breadth-first search: G cannot be reached from S")
    else:
        print(f"breadth-first search: {len(shortest) - 1} moves")

    try:
        solver = Solver("maze", model=args.model)
    except ModelError as exc:
        print(f"no maze model to run ({exc}); export one with trm-export --task maze")
        return 0
    r = solver.solve(maze)
    print(r)
    if r.solved:
        assert r.path is not None and shortest is not None
        print(f"the network's route: {len(r.path) - 1} moves, from {r.path[0]} to {r.path[-1]}")
        assert len(r.path) == len(shortest)  # solved means shortest, whichever of the ties it took
    else:
        print("the network found no valid shortest route; nothing is guessed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
