"""What every stage entry point shares: argument parsing and one-line errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from pipeline.errors import PipelineError, user_error_line


def stage_main(
    description: str, add_args: Callable[[argparse.ArgumentParser], None], run: Callable[[argparse.Namespace], None]
) -> None:
    """Parse `--params` plus the stage's own path arguments, run, and exit 2 with one line on bad input."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (one section per stage)")
    add_args(parser)
    args = parser.parse_args()
    try:
        run(args)
    except (PipelineError, OSError, UnicodeEncodeError) as exc:
        line = user_error_line(exc)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
