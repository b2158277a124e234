"""The size table: every variant and preset, counted on the meta device, against the
analytic formulas and a real model."""

import pytest
import torch

from mcn.models import PRESETS, VARIANTS, build_model, model_params, model_size_table
from mcn.nn import count_parameters


def test_size_table_matches_analytic_counts_and_real_models():
    rows = model_size_table()
    assert len(rows) == len(VARIANTS) * len(PRESETS)
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


def test_stem_stride_8_is_the_published_cornernet_squeeze():
    """The published network: stride 8, 31,732,788 parameters with 42 classes."""
    squeeze_8 = PRESETS["paper"].replace(stem_stride=8)
    with torch.device("meta"):
        published = build_model("cornernet-squeeze", 42, squeeze_8)
        ours = build_model("cornernet-squeeze", 42, "paper")
    assert count_parameters(published) == 31_732_788
    assert count_parameters(ours) == 30_486_068
    assert published.stride == 8 and published.mask_stride == 4 and published.input_multiple == 128


def test_analytic_size_counts_the_stride_8_stem():
    config = PRESETS["paper"].replace(stem_stride=8)
    assert model_params("cornernet-squeeze", 42, config)["total"] == 31_732_788
