"""The bounds on every numeric choice a caller makes, in one place, so each error can name its bound.

Each bound is far above any useful value and far below what exhausts a machine: a typo (``10**6``
steps, 1,000 threads) is refused at once with a message instead of running for hours or crashing.
"""

from __future__ import annotations

__all__ = [
    "CHUNK_ROWS",
    "DEFAULT_THREADS",
    "MAX_BATCH_SIZE",
    "MAX_HIDDEN",
    "MAX_INPUT_BYTES",
    "MAX_MODEL_FILE_BYTES",
    "MAX_ROW_ELEMENTS",
    "MAX_SEARCH_SECONDS",
    "MAX_SEQ_LEN",
    "MAX_STEPS",
    "MAX_THREADS",
    "MAX_TIME_BUDGET",
    "MAX_VIEWS",
]

MAX_STEPS = 1024  # supervision steps per puzzle; models are trained with N_sup = 16
MAX_BATCH_SIZE = 65536  # puzzles per batch; the backends run at most CHUNK_ROWS of them at a time
MAX_THREADS = 256  # CPU threads for ONNX Runtime (each is an OS thread)
MAX_SEARCH_SECONDS = 86400.0  # the exact search's time limit per puzzle: one day
MAX_VIEWS = 1024  # views per puzzle (trm_sdk.views); each view is a whole recursion
MAX_TIME_BUDGET = 86400.0  # a call's time budget (SolveOptions.time_budget): one day

# The CPU backend's threads when none are asked for: the machine's cores, at most this many. Measured on a
# 2-core AMD EPYC with AVX512_BF16, nearly idle (docs/lab-notes/timings.md): 2 threads beat 1 by 1.2-1.4x
# at batch 1 and 1.65-1.76x at batch 64, on either engine. (With the other core busy, 1 thread was faster:
# pass threads=1 on a machine whose cores are taken.)
DEFAULT_THREADS = 8

# The CPU backend runs the step graph on at most this many rows at once, so its working memory (about
# 1.6 MB a row for the shipped Sudoku model, so about 400 MB) stays bounded whatever the batch size.
CHUNK_ROWS = 256

# A manifest's network dimensions are checked against these before any buffer is sized from them.
MAX_HIDDEN = 8192
MAX_SEQ_LEN = 4096
# ... and so are their products, which size one puzzle's buffers: positions x hidden for y and z, seq_len x
# vocab for the logits. Bounding each factor alone still let 8,192 x 8,192 x 4 bytes (256 MiB) a row
# through, and numpy failed with a raw MemoryError; the shipped models need under 60,000.
MAX_ROW_ELEMENTS = 1 << 20
# A model file is read whole (hashed, then handed to ONNX Runtime as those very bytes); protobuf itself
# cannot hold a graph over 2 GiB.
MAX_MODEL_FILE_BYTES = 2 << 30

# Puzzle input read from a file or standard input: some three million Sudoku lines, far above any real
# batch, but a stream that never ends (``trm solve - < /dev/zero``) stops here instead of filling memory.
MAX_INPUT_BYTES = 256 << 20
