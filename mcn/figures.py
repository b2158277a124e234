"""Matplotlib figures made without pyplot, and their PNG bytes.

A bare ``Figure`` keeps no pyplot state, so nothing piles up when a loop or a widget
draws many of them, and Jupyter still shows one that is a cell's value. Every figure of
the package that needs no pyplot starts here. Used from chapter 2 on.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure


def new_figure(width: float, height: float, constrained: bool = True) -> Figure:
    """A figure of ``width`` x ``height`` inches; constrained layout unless told not to."""
    return Figure(figsize=(width, height), layout="constrained" if constrained else None)


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (a ``Figure`` made without pyplot needs no backend)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()
