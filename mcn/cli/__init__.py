"""The ``mcn`` command line: ``main`` and one module per subcommand (``mcn.cli.main``)."""

from mcn.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
