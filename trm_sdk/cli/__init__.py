"""``trm``: solve puzzles, measure a model, and show what this machine can run. Each command is thin.

One module per topic: ``common`` (shared options and input), ``solving`` (solve, info, generate),
``measuring`` (eval, bench), ``releasing`` (calibrate, compare) and ``web`` (web serve).
"""

from __future__ import annotations

import click

from .. import __version__
from . import measuring, releasing, solving, web

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trm")
def main() -> None:
    """Solve puzzles with a Tiny Recursive Model (TRM)."""


for command in (
    solving.solve,
    solving.info,
    solving.generate,
    measuring.evaluate,
    measuring.bench,
    releasing.calibrate,
    releasing.compare,
    web.web,
):
    main.add_command(command)
