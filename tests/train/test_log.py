"""The training log drawn as loss curves."""

from __future__ import annotations

import json

import pytest

from mcn.train import plot_losses


def test_plot_losses_draws_every_term(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"iter": i, "lr": 1e-3, "det": 5.0 / i, "pull": 0.1, "push": 0.2,
                                       "off": 0.5, "mask": 0.3, "total": 6.0 / i}) + "\n"
                           for i in range(1, 6)))
    figure = plot_losses(log)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[:7] == ["det", "pull", "push", "off", "mask", "total", "lr"]
    det_line = figure.axes[0].lines[0]
    assert list(det_line.get_ydata()) == [5.0 / i for i in range(1, 6)]
    with pytest.raises(FileNotFoundError):
        plot_losses(tmp_path / "none.jsonl")
