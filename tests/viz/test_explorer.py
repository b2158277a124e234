"""Explorers are ipywidgets objects whose picture follows their controls and whose
display data carries a fallback picture."""

from __future__ import annotations

import base64

from matplotlib.figure import Figure
import ipywidgets
import pytest

from mcn import viz as W
from mcn.decode import decode
from mcn.nn import corner_pool
from tests.viz.views import SIZE


# --------------------------------------------------------------------------- the widgets
def png_of(explorer):
    return bytes(explorer.view.value)


@pytest.mark.parametrize("name", ["heatmap", "em", "decode", "corner_pool", "trained_pool",
                                  "mask", "outcomes", "size_curves"])
def test_explorers_are_widgets_whose_picture_follows_the_controls(name, model, dataset):
    gt = dataset.tt100k_annotations()
    results = {"imgs": {i: {"objects": [dict(o, score=90.0 - 20 * k) for k, o in
                                        enumerate(image["objects"])]}}
               for i, image in gt["imgs"].items()}
    build, control, new_value = {
        "heatmap": (lambda: W.heatmap_explorer(model, dataset, input_size=SIZE, threshold=0.05),
                    "corner", "br"),
        "em": (lambda: W.em_explorer(model, dataset, input_size=SIZE), "iteration", 0),
        "decode": (lambda: W.decode_explorer(model, dataset, input_size=SIZE, score_threshold=0.05),
                   "k", 5),
        "corner_pool": (lambda: W.corner_pool_explorer(dataset, size=40), "x", 60),
        "trained_pool": (lambda: W.trained_pool_explorer(model, dataset, input_size=SIZE),
                         "corner", "br"),
        "mask": (lambda: W.mask_explorer(model, dataset, input_size=SIZE), "class_index", 1),
        "outcomes": (lambda: W.outcomes_explorer(dataset, gt, results, dataset.classes,
                                                 per_page=2), "minscore", 80.0),
        "size_curves": (lambda: W.size_curve_explorer(gt, results, types=dataset.classes),
                        "minscore", 80.0),
    }[name]
    explorer = build()
    assert isinstance(explorer, ipywidgets.VBox)
    assert explorer.view in explorer.children
    before = png_of(explorer)
    assert before.startswith(b"\x89PNG")
    explorer.controls[control].value = new_value        # the observer redraws
    assert explorer.state()[control] == new_value
    assert png_of(explorer) != before
    # the fallback picture in the display data is the current picture
    bundle = explorer._repr_mimebundle_()
    html = bundle["text/html"]
    assert base64.b64encode(png_of(explorer)).decode() in html
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] in html
    # the plain-text repr is one short line naming the controls, not ipywidgets' own
    assert bundle["text/plain"].startswith(f"Explorer ({', '.join(explorer.controls)})")
    assert "\n" not in bundle["text/plain"] and len(bundle["text/plain"]) <= 80
    explorer.close()


def test_explorer_calls_draw_with_the_controls_values():
    seen = []

    def draw(state):
        seen.append(dict(state))
        fig = Figure(figsize=(1, 1))
        fig.subplots().plot([0, state["a"]])
        return fig

    explorer = W.Explorer({"a": ipywidgets.IntSlider(value=1, max=5),
                           "b": ipywidgets.Dropdown(options=["p", "q"], value="p")}, draw,
                          rows=[["a"], ["b"]])
    assert seen == [{"a": 1, "b": "p"}]
    explorer.controls["b"].value = "q"
    assert seen[-1] == {"a": 1, "b": "q"}
    explorer.controls["a"].value = 3
    explorer.update()                                   # the callback, called directly
    assert seen[-2:] == [{"a": 3, "b": "q"}] * 2
    assert png_of(explorer) == W.figure_png(draw({"a": 3, "b": "q"}))
    with pytest.raises(ValueError, match="in no row"):
        W.Explorer({"a": ipywidgets.IntSlider(), "b": ipywidgets.IntSlider()}, draw, rows=[["a"]])


def test_mcn_widgets_is_mcn_viz_under_its_first_name():
    from mcn import widgets

    assert widgets.__all__ == W.__all__
    assert all(getattr(widgets, name) is getattr(W, name) for name in W.__all__)
