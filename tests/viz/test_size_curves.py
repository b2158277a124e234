"""The accuracy-recall view by size: its points are tt100k_eval's, its curves
pr_curves', and the picture draws those numbers."""

from __future__ import annotations

import numpy as np
import pytest

from mcn import viz as W
from mcn.evaluate import pr_curves, size_bins, tt100k_eval
from tests.viz.test_outcomes import GT, RESULTS, TYPES


def test_size_curve_data_is_the_protocols_numbers():
    bins = size_bins()
    data = W.size_curve_data(GT, RESULTS, 45.0, bins, TYPES)
    for name, size_range in bins.items():
        expected = tt100k_eval(GT, RESULTS, types=TYPES, minscore=45.0, size_range=size_range)
        assert data["points"][name] == {k: expected[k] for k in
                                        ("accuracy", "recall", "correct", "num_gt", "num_det")}
    curves = pr_curves(GT, RESULTS, bins, types=TYPES)
    for name in bins:
        np.testing.assert_array_equal(data["curves"][name].recall, curves[name].recall)
    stricter = W.size_curve_data(GT, RESULTS, 45.0, bins, TYPES, iou=0.96)
    assert stricter["points"]["all"]["correct"] == 0    # the 2-pixel shift fails IoU 0.96
    assert data["points"]["all"]["correct"] == 1


def test_size_curve_figure_marks_the_operating_points():
    data = W.size_curve_data(GT, RESULTS, 45.0, size_bins(), TYPES)
    fig = W.size_curve_figure(data)
    curves_ax, bars_ax = fig.axes
    markers = [line for line in curves_ax.lines if line.get_marker() == "o"]
    for line, name in zip(markers, data["points"]):
        assert line.get_xdata()[0] == pytest.approx(data["points"][name]["accuracy"])
        assert line.get_ydata()[0] == pytest.approx(data["points"][name]["recall"])
    heights = [bar.get_height() for bar in bars_ax.patches]
    expected = [data["points"][n]["accuracy"] for n in data["points"]]
    expected += [data["points"][n]["recall"] for n in data["points"]]
    assert heights == pytest.approx(expected)
    legend = [t.get_text() for t in curves_ax.get_legend().get_texts()]
    assert legend[0] == f"all: mAP {data['curves']['all'].area():.2f}"
