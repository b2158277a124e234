"""``mcn bench``: run the benchmarks under ``mcn/benchmarks/`` (results in data/results/).

Each benchmark measures one thing (decoding time, forward time, scene generation) for
the speed goals the book sets against the paper's (Yang, Fan and Guo 2020, Table 3).
Chapter 11 reads their results.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Any, Callable

from mcn.cli.common import UserError, add_command

EXAMPLES = """examples:
  mcn bench --list
  mcn bench                 (every benchmark under mcn/benchmarks/)
  mcn bench decode -- --repeats 10"""


def add_parser(commands: Any) -> None:
    """The "bench" command."""
    p = add_command(commands, "bench", "run the benchmarks under mcn/benchmarks/ (results in data/results/)",
                    cmd_bench, EXAMPLES)
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    p.add_argument("--list", action="store_true", help="list the benchmarks and stop")


def benchmark_modules() -> dict[str, Callable]:
    """Benchmark name -> its ``main(argv)``, for every module under mcn/benchmarks/ that has
    one (``timing`` is a helper, not a benchmark)."""
    import mcn.benchmarks as package

    found = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if callable(getattr(module, "main", None)):
            found[info.name] = module.main
    return found


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the named benchmarks (all by default), each with the options after ``--``."""
    available = benchmark_modules()
    if args.list:
        for name in available:
            print(name)
        return 0
    names = args.names or list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise UserError(f"unknown benchmark(s) {', '.join(unknown)}; available: "
                        f"{', '.join(available) or 'none'}")
    if args.extra and len(names) != 1:
        raise UserError("options after -- go to one benchmark: name exactly one")
    failed = []
    for name in names:
        print(f"== benchmark {name}")
        try:
            available[name](list(args.extra))
        except SystemExit as stop:  # a benchmark's own argparse error
            if stop.code:
                failed.append(name)
        except Exception as err:  # keep going: one broken benchmark should not hide the rest
            print(f"benchmark {name} failed: {type(err).__name__}: {err}", file=sys.stderr)
            failed.append(name)
    if failed:
        raise UserError(f"benchmark(s) failed: {', '.join(failed)}")
    return 0
