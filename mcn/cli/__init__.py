"""The ``mcn`` command line: ``main`` and one module per subcommand (``mcn.cli.main``).

Chapters 9 to 11 run it.
"""

from mcn.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
