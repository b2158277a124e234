"""``Explorer``: rows of ipywidgets controls above a picture that redraws when they change.

Static pages. When a notebook is executed by nbclient (as the book's build does), the
widgets' last state is saved in the notebook and the HTML page redraws them with the
ipywidgets JavaScript, which it loads from a CDN. Each ``Explorer`` also carries an HTML
fallback in its display data: the picture of its current state, shown where the widget
JavaScript cannot run (no network, GitHub's notebook viewer) and hidden once the live
widget has rendered. The fallback is used only where ``text/html`` is preferred to the
widget view: Jupyter and Colab show the live widget; a Sphinx/myst-nb page needs
``nb_mime_priority_overrides = [("html", "text/html", 5)]`` (myst-nb ranks the widget
view first by default, and then an offline reader sees nothing in its place). Taught in
chapter 12.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable, Mapping, Sequence

import ipywidgets as widgets
from matplotlib.figure import Figure

from mcn.figures import figure_png

#: Value of "class" controls that means "every class at once".
ALL_CLASSES = -1


def image_slider(dataset: Any, index: int) -> widgets.IntSlider:
    """A slider over the dataset's image indices."""
    return widgets.IntSlider(value=index, min=0, max=len(dataset) - 1, description="image",
                             continuous_update=False)


def class_dropdown(names: Sequence[str], value: int, first: str = "all classes (max)",
                    first_value: int = ALL_CLASSES) -> widgets.Dropdown:
    """A class menu, "every class" first."""
    options = [(first, first_value)] + [(f"{c}: {name}", c) for c, name in enumerate(names)]
    return widgets.Dropdown(options=options, value=value, description="class")


class Explorer(widgets.VBox):
    """Rows of controls above a picture (an ``ipywidgets.Image``) that ``draw`` redraws.

    controls: name -> widget with a ``value``; draw: {name: value} -> matplotlib Figure;
    rows: the control names of each row (default: one row). ``update()`` redraws from the
    current values (every control calls it when its value changes); ``view.value`` holds
    the PNG shown.
    """

    def __init__(self, controls: Mapping[str, widgets.Widget], draw: Callable[[dict], Figure],
                 rows: Sequence[Sequence[str]] | None = None) -> None:
        rows = rows or [list(controls)]
        missing = set(controls) - {name for row in rows for name in row}
        if missing:
            raise ValueError(f"Explorer: controls {sorted(missing)} are in no row")
        view = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        wrap = widgets.Layout(flex_flow="row wrap")
        super().__init__([widgets.HBox([controls[name] for name in row], layout=wrap)
                          for row in rows] + [view])
        self.controls = dict(controls)
        self.view = view
        self._draw = draw
        for control in self.controls.values():
            _fit(control)
            control.observe(self._on_change, names="value")
        self.update()

    def state(self) -> dict[str, Any]:
        """The current value of every control."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self) -> None:
        """Redraw the picture from the controls' current values."""
        fig = self._draw(self.state())
        self.view.value = figure_png(fig)

    def _on_change(self, _change: Mapping[str, Any]) -> None:
        self.update()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view plus an HTML fallback: the current picture, hidden by CSS once
        the widget JavaScript has drawn the live widget next to it."""
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        view = data.get("application/vnd.jupyter.widget-view+json") if data else None
        if view is not None and self.view.value:
            data["text/html"] = _fallback_html(self.view.value, view)
        if data and "text/plain" in data:
            # ipywidgets' own repr is a long line of nested widgets; say what this is.
            data["text/plain"] = f"Explorer ({', '.join(self.controls)})"
        return bundle


def _fit(control: widgets.Widget) -> None:
    """One width for every control, so that two fit side by side in a book's column."""
    control.layout.width = "290px"
    if hasattr(control.style, "description_width"):
        control.style.description_width = "100px"
    if isinstance(control, widgets.ToggleButtons):
        control.style.button_width = "60px"


def _fallback_html(png: bytes, view: Mapping[str, Any]) -> str:
    picture = base64.b64encode(png).decode("ascii")
    # "</" cannot end the script early: json.dumps of a model id never contains it.
    return (
        '<div class="mcn-explorer">'
        "<style>.mcn-explorer:has(.widget-subarea) > img.mcn-snapshot"
        "{display: none;}</style>"
        '<img class="mcn-snapshot jupyter-widget" alt="the widget\'s picture" '
        f'src="data:image/png;base64,{picture}"/>'
        f'<script type="application/vnd.jupyter.widget-view+json">{json.dumps(dict(view))}</script>'
        "</div>"
    )
