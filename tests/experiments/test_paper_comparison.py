"""The paper's figures beside the book's, built from results files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mcn.experiments import PAPER, paper_comparison
from mcn.experiments.paper_comparison import (BOOK_RULE_SETTING, BOOK_SETTING, PAPER_SETTING,
                                              SIZE_SETTING, TINY_SETTING, pooled)

COMMITTED = Path(__file__).resolve().parents[2] / "data" / "results"


def write(folder: Path, name: str, content: dict) -> None:
    (folder / f"experiment_{name}.json").write_text(json.dumps(content))


def ablation_row(variant: str, value: float, params: int = 1000) -> dict:
    return {"variant": variant, "params": params, "all_accuracy": value, "all_recall": value,
            "all_map": value, "all_recall_at_acc_0.5": value}


def test_the_table_takes_each_figure_from_its_file(tmp_path):
    write(tmp_path, "ablation", {"rows": [ablation_row("cornernet-squeeze", 0.25, 1000),
                                          ablation_row("mask-cornernet", 0.5, 2000)]})
    write(tmp_path, "speed", {"rows": [{"variant": "cornernet-squeeze", "input_size": 256, "forward_ms": 10.0},
                                       {"variant": "mask-cornernet", "input_size": 256, "forward_ms": 15.0},
                                       {"variant": "mask-cornernet", "input_size": 512, "forward_ms": 99.0}],
                              "size_rows": [{"variant": "mask-cornernet", "preset": "paper",
                                             "params": 30_000_000, "fp32_mb": 120.0}]})
    write(tmp_path, "operating-point", {"rows": [{"variant": "mask-cornernet", "params": 5000, "test": {
        "all": {"accuracy": 0.9, "recall": 0.6, "map": 0.7, "recall_at_accuracy_0.5": 0.8}}}],
        "joined_pair_rule": [{"variant": "mask-cornernet", "params": 5000, "test": {
            "all": {"accuracy": 0.95, "recall": 0.6, "map": 0.75, "recall_at_accuracy_0.5": 0.8}}}]})
    table = paper_comparison(tmp_path)
    tiny = table.loc[("mask-cornernet", TINY_SETTING)]
    assert (tiny["A"], tiny["mAP"], tiny["params"]) == (0.5, 0.5, 2000)
    assert tiny["MB"] == pytest.approx(0.008)
    assert tiny["time ratio"] == pytest.approx(1.5)           # the 256-pixel times only
    book = table.loc[("mask-cornernet", BOOK_SETTING)]
    assert (book["A"], book["R"], book["mAP"], book["R at A>=0.5"]) == (0.9, 0.6, 0.7, 0.8)
    ruled = table.loc[("mask-cornernet", BOOK_RULE_SETTING)]
    assert (ruled["A"], ruled["mAP"]) == (0.95, 0.75)
    assert table.loc[("mask-cornernet", SIZE_SETTING), "MB"] == 120.0
    paper = table.loc[("mask-cornernet", PAPER_SETTING)]
    assert paper["mAP"] == PAPER["mask-cornernet"]["mAP"] and paper["MB"] == 112.8
    assert math.isnan(paper["R at A>=0.5"])                   # the paper does not report it
    assert ("cornernet-squeeze", BOOK_SETTING) not in table.index


def test_several_seeds_give_a_mean_and_a_spread(tmp_path):
    rows = [ablation_row("mask-cornernet", v) for v in (0.4, 0.5, 0.6)]
    write(tmp_path, "ablation", {"rows": rows})
    table = paper_comparison(tmp_path)
    row = table.loc[("mask-cornernet", TINY_SETTING)]
    assert row["mAP"] == pytest.approx(0.5) and row["mAP sd"] == pytest.approx(0.1)
    assert row["seeds"] == 3


def test_pooled_fields_in_one_row_are_read_as_they_are():
    row = {"all_map_mean": 0.42, "all_map_std": 0.03, "all_map": 0.9}
    assert pooled([row], "all_map") == (0.42, 0.03)
    assert pooled([{"all_map": 0.9}], "all_map") == (0.9, None)
    assert pooled([{}], "all_map") == (None, None)
    spread_row = {"all_map": 0.4, "all_map_std": 0.05, "seeds": [0, 1, 2]}   # seeds.spread_rows
    assert pooled([spread_row], "all_map") == (0.4, 0.05)


def test_missing_files_leave_only_the_paper(tmp_path):
    table = paper_comparison(tmp_path)
    assert set(table.index.get_level_values("setting")) == {PAPER_SETTING}


def test_the_committed_results_cover_every_variant():
    table = paper_comparison(COMMITTED)
    tiny = table.xs(TINY_SETTING, level="setting")
    assert len(tiny) == 5 and tiny["mAP"].between(0, 1).all()
    assert tiny.loc["cornernet-squeeze", "time ratio"] == 1.0
    assert tiny["seeds"].eq(3).all() and tiny["mAP sd"].gt(0).all()   # three seeds, a spread
    assert table.xs(SIZE_SETTING, level="setting")["MB"].gt(100).all()
