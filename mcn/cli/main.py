"""The ``mcn`` command line: data, train, average, eval, predict, size, bench, export,
experiment.

Every subcommand (one module each beside this one) prints its own help with examples
(``mcn train --help``). Mistakes a user can make (a missing file, a wrong option value, a
checkpoint of another model) end with one line on stderr and exit code 1; pass
``mcn --debug COMMAND ...`` or set MCN_DEBUG=1 to see the traceback instead. Distributed training uses the same command
under torchrun::

    torchrun --nproc_per_node 2 -m mcn train --preset tiny --data synth --out runs/ddp

The commands run the Mask-CornerNet package (Yang, Fan and Guo 2020); chapters 9 to 11
use them.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Sequence

from mcn.cli import average, bench, data, eval, experiment, export, predict, size, train
from mcn.cli.common import UserError, formatter

#: The subcommands, in the order ``mcn --help`` lists them.
COMMANDS = (data, train, average, eval, predict, size, bench, experiment, export)


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the user asked for something that cannot be done"."""
    from mcn.checkpoint import CheckpointError
    from mcn.train import TrainingDiverged
    return (UserError, ValueError, FileNotFoundError, FileExistsError, NotADirectoryError,
            IsADirectoryError, PermissionError, CheckpointError, TrainingDiverged)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mcn`` with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="mcn", formatter_class=formatter,
        description="Mask-CornerNet: synthetic data, training, evaluation, prediction, export.",
        epilog="run 'mcn COMMAND --help' for the options and examples of each command")
    from mcn import __version__
    parser.add_argument("--version", action="version", version=f"mcn {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (as MCN_DEBUG=1 does)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def _split_extra(argv: list[str]) -> tuple[list[str], list[str]]:
    """Arguments after a bare "--" go to a benchmark."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line. An error raised in a DataLoader worker arrives
    with the worker's whole traceback in its text; only its last line, the original
    message (e.g. the image file that does not decode), is kept."""
    text = str(err)
    if "Original Traceback" in text:
        last = [line for line in text.splitlines() if line.strip()][-1]
        kind, _, message = last.partition(": ")
        text = f"{message or kind} (in a data-loading worker)"
    return " ".join(text.split()) or type(err).__name__


def _warning_line(name: str):
    """``warnings.formatwarning`` for the command line: one line, no source excerpt."""
    def format_warning(message, category, filename, lineno, line=None) -> str:
        return f"mcn {name}: warning: {' '.join(str(message).split())}\n"
    return format_warning


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mcn`` console script; returns (and exits with) the status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, extra = _split_extra(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.extra = extra
    if extra and args.command != "bench":
        parser.error("arguments after -- are only for 'mcn bench'")
    name = args.command + (f" {args.data_command}" if args.command == "data" else "")
    debug = args.debug or os.environ.get("MCN_DEBUG")
    shown = warnings.formatwarning
    if not debug:
        warnings.formatwarning = _warning_line(name)
    try:
        status = args.func(args)
    except KeyboardInterrupt:
        print(f"mcn {name}: interrupted", file=sys.stderr)
        status = 130
    except user_errors() as err:
        if debug:
            raise
        print(f"mcn {name}: error: {one_line(err)}", file=sys.stderr)
        status = 1
    finally:
        warnings.formatwarning = shown
    if status:
        sys.exit(status)
    return 0
