"""Every benchmark takes --out (and --output) and writes into the working directory by default."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["decode", "forward", "synth", "stream_memory"])
def test_benchmarks_take_out_and_output_and_default_outside_the_package(name, capsys):
    module = importlib.import_module(f"mcn.benchmarks.{name}")
    default = getattr(module, "DEFAULT_OUTPUT", None) or module.DEFAULT_OUT
    assert not default.is_absolute()  # never the package's own source tree
    with pytest.raises(SystemExit):
        module.main(["--help"])
    assert "--out OUT, --output OUT" in capsys.readouterr().out.replace("OUTPUT", "OUT")


def test_stream_memory_measures_every_allocator_arm_in_its_own_process(tmp_path):
    from mcn.benchmarks import stream_memory

    written = stream_memory.main(["--batches", "4", "--every", "2", "--input-size", "128",
                                  "--out", str(tmp_path / "heap.json")])
    assert [r["arm"] for r in written["results"]] == list(stream_memory.ARMS)
    for result in written["results"]:
        assert [step for step, _ in result["rss_mb"]] == [0, 2, 4]
        assert all(mb > 50 for _, mb in result["rss_mb"])  # a whole Python process with torch
        assert result["cpu_seconds_per_batch"] > 0
    assert (tmp_path / "heap.json").is_file()
