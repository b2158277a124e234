"""The size table: every variant and preset, counted on the meta device, against the
analytic formulas and a real model."""

import pytest

from mcn.models import PRESETS, VARIANTS, build_model, model_params, model_size_table
from mcn.nn import count_parameters


def test_size_table_matches_analytic_counts_and_real_models():
    rows = model_size_table()
    assert len(rows) == 10
    assert {(r["variant"], r["preset"]) for r in rows} == {(v, p) for v in VARIANTS for p in PRESETS}
    for row in rows:
        parts = model_params(row["variant"], 42, row["preset"])
        assert row["params"] == parts["total"]
        assert row["fp32_mb"] == pytest.approx(4 * row["params"] / 1e6, abs=0.01)
    tiny = build_model("mask-cornernet", preset="tiny")
    row = next(r for r in rows if r["variant"] == "mask-cornernet" and r["preset"] == "tiny")
    assert count_parameters(tiny) == row["params"]
    by_name = {(r["variant"], r["preset"]): r["params"] for r in rows}
    # fusion adds no weights; SGE adds 2 per group per fire; the mask module adds some
    assert by_name[("cornernet-fusion", "paper")] == by_name[("cornernet-squeeze", "paper")]
    assert by_name[("cornernet-fire", "paper")] > by_name[("cornernet-squeeze", "paper")]
    assert by_name[("mask-cornernet", "paper")] > by_name[("cornernet-fire", "paper")]
