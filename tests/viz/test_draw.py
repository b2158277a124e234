"""The drawing helpers: class colours are the predictions' colours, and a legend below
the panels sits under every panel and says what it is given."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mcn import viz as W
from mcn.viz.draw import class_colour, colorbar, legend_below


def test_class_colours_are_draw_predictions_colours_and_not_the_bases():
    colours = W.class_colours(12)
    assert colours.shape == (12, 3) and colours.min() >= 0 and colours.max() <= 1
    for c in range(12):
        np.testing.assert_allclose(colours[c] * 255, class_colour(c))
    assert len({tuple(c) for c in colours.round(3)}) == 12            # all different
    assert not np.allclose(colours[:8], W.base_colours(8))             # classes are not bases


def test_legend_below_sits_under_the_lowest_panel():
    fig = Figure(figsize=(6, 6))
    top, bottom = fig.subplots(2, 1)
    bottom.imshow(np.zeros((4, 8)))                                    # shrinks to its aspect
    bottom.set_xticks([])
    legend_below(fig, [Line2D([], [], color="red", label="red things")], columns=1)
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["red things"]
    anchor = legend.get_bbox_to_anchor().transformed(fig.transFigure.inverted())
    bottom.apply_aspect()
    assert anchor.y0 < bottom.get_position().y0


def test_colorbar_says_what_it_measures():
    fig = Figure()
    ax = fig.subplots()
    bar = colorbar(fig, ax.imshow(np.random.default_rng(0).random((3, 3))), ax, "P(corner)")
    assert bar.ax.get_ylabel() == "P(corner)"
