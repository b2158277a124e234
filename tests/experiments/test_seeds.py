"""Table 1 with seeds: one run per (seed, variant), the spread per variant, the differences."""

from __future__ import annotations

import json
import statistics

import pytest

from mcn import experiments
from mcn.checkpoint import load_checkpoint
from mcn.cli.main import main
from tests.experiments.tiny_runs import VARIANTS, small_config


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("seeds")
    experiments.train_seeds(root, small_config(), VARIANTS[:1], seeds=(3, 4), device="cpu",
                            progress=False)
    return root


def test_train_seeds_writes_one_run_per_seed_with_that_seed(seed_runs):
    found = experiments.find_seed_checkpoints(seed_runs, VARIANTS[:1], (3, 4))
    for seed in (3, 4):
        state = load_checkpoint(found[seed][VARIANTS[0]])
        assert state["config"]["seed"] == seed
    first, second = (load_checkpoint(found[s][VARIANTS[0]])["model"] for s in (3, 4))
    assert any(not first[k].equal(second[k]) for k in first)   # another seed, other weights


def _row(variant, seed, value):
    return {"variant": variant, "seed": seed, "params": 7, "m": value}


def test_spread_rows_give_mean_std_and_range_per_variant():
    rows = [_row("a", 0, 0.1), _row("a", 1, 0.3), _row("b", 0, 0.5), _row("b", 1, 0.6)]
    spread = experiments.spread_rows(rows, metrics=("m",))
    a, b = spread
    assert a["variant"] == "a" and a["seeds"] == [0, 1]
    assert a["m"] == pytest.approx(0.2) and a["m_std"] == pytest.approx(statistics.stdev([0.1, 0.3]))
    assert (a["m_min"], a["m_max"]) == (0.1, 0.3) and b["m"] == pytest.approx(0.55)


def test_a_difference_counts_only_where_the_ranges_do_not_overlap():
    apart = experiments.spread_rows([_row("a", 0, 0.1), _row("a", 1, 0.2),
                                     _row("b", 0, 0.5), _row("b", 1, 0.6)], metrics=("m",))
    overlap = experiments.spread_rows([_row("a", 0, 0.1), _row("a", 1, 0.55),
                                       _row("b", 0, 0.5), _row("b", 1, 0.6)], metrics=("m",))
    (far,) = experiments.differences(apart, metrics=("m",))
    (near,) = experiments.differences(overlap, metrics=("m",))
    assert far["exceeds_seed_spread"] and far["difference"] == pytest.approx(-0.4)
    assert not near["exceeds_seed_spread"]
    table = experiments.spread_table(apart, metrics=("m",))
    assert table.loc["a", "m"] == "0.150±0.071"


def test_cli_ablation_over_seeds_writes_rows_spread_and_differences(seed_runs, tmp_path, capsys):
    out = tmp_path / "ablation.json"
    ship = tmp_path / "ship"
    code = main(["experiment", "ablation", "--runs", str(seed_runs), "--seeds", "3,4",
                 "--variants", VARIANTS[0], "--num", "2", "--out", str(out), "--ship", str(ship),
                 "--device", "cpu", "--quiet"])
    assert code == 0
    result = json.loads(out.read_text())
    assert [r["seed"] for r in result["seed_rows"]] == [3, 4]
    (row,) = result["rows"]
    recalls = [r["all_recall"] for r in result["seed_rows"]]
    assert row["all_recall"] == pytest.approx(statistics.fmean(recalls))
    assert result["differences"] == []   # one variant: no pairs
    assert result["shipped_seed"] == 3 and (ship / f"{VARIANTS[0]}.pt").is_file()


@pytest.mark.parametrize("seeds, message", [("1,x", "integers"), ("2,2", "distinct")])
def test_cli_refuses_bad_seeds_in_one_line(seeds, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["experiment", "ablation", "--runs", str(tmp_path), "--seeds", seeds, "--quiet"])
    err = capsys.readouterr().err
    assert stop.value.code != 0 and "--seeds" in err and message in err and "Traceback" not in err
