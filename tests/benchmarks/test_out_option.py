"""Every benchmark takes --out (and --output) and writes into the working directory by default."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["decode", "forward", "synth"])
def test_benchmarks_take_out_and_output_and_default_outside_the_package(name, capsys):
    module = importlib.import_module(f"mcn.benchmarks.{name}")
    default = getattr(module, "DEFAULT_OUTPUT", None) or module.DEFAULT_OUT
    assert not default.is_absolute()  # never the package's own source tree
    with pytest.raises(SystemExit):
        module.main(["--help"])
    assert "--out OUT, --output OUT" in capsys.readouterr().out.replace("OUTPUT", "OUT")
