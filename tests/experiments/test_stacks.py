"""Table 2 at book scale: detecting from each stack and from their sum."""

from __future__ import annotations

from mcn import experiments


def test_stack_rows_reproduce_the_model_output_for_the_trained_source(runs):
    path = runs / "mask-cornernet" / "last.pt"
    rows = experiments.stack_rows({"mcn": path}, num_images=3, device="cpu", progress=False)
    assert [r["source"] for r in rows] == ["stack-1", "stack-2", "fused"]
    assert [r["trained_output"] for r in rows] == [False, False, True]
    model, config, classes, _ = experiments.load_run(path)
    plain = experiments.score(model, config, classes, experiments.test_scenes(config, 3))
    fused = rows[-1]
    assert fused["all_recall"] == plain["tt100k"]["all"]["recall"]
    assert fused["all_map"] == plain["map"]
    assert experiments.stack_table(rows).shape == (3, 5)
