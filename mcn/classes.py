"""Traffic-sign class catalogues of Tsinghua-Tencent 100K (TT100K) and its size bins.

Zhu et al., "Traffic-Sign Detection and Classification in the Wild", CVPR 2016, define
the 45-class evaluation list ``type45`` and score signs in three size bins; the
Mask-CornerNet paper (Yang, Fan and Guo, 2020) trains on 42 classes: ``type42`` is
``type45`` without the three "other" classes ``po``, ``io`` and ``wo`` (a prohibitory,
an indicative and a warning sign of any kind not otherwise listed). Taught in
chapter 2; the size bins come back in chapters 10 and 11.
"""

from __future__ import annotations

from typing import Sequence

#: The official 45-class list, in the order of the TT100K evaluation code.
TYPE45: tuple[str, ...] = (
    "i2", "i4", "i5", "il100", "il60", "il80", "io", "ip", "p10", "p11", "p12", "p19",
    "p23", "p26", "p27", "p3", "p5", "p6", "pg", "ph4", "ph4.5", "ph5", "pl100", "pl120",
    "pl20", "pl30", "pl40", "pl5", "pl50", "pl60", "pl70", "pl80", "pm20", "pm30",
    "pm55", "pn", "pne", "po", "pr40", "w13", "w32", "w55", "w57", "w59", "wo",
)

#: The paper's 42 classes: ``TYPE45`` without the catch-all classes po, io and wo.
TYPE42: tuple[str, ...] = tuple(t for t in TYPE45 if t not in ("po", "io", "wo"))

#: ``TYPE45`` from the most to the least frequent class in TT100K (Zhu et al. 2016).
BY_FREQUENCY: tuple[str, ...] = (
    "pn", "pne", "i5", "p11", "pl40", "po", "pl50", "io", "pl80", "pl60", "p26", "i4",
    "pl100", "pl30", "il60", "i2", "pl5", "w57", "p5", "p10", "pl120", "il80", "ip",
    "p23", "pr40", "ph4.5", "w59", "p3", "w55", "pm20", "p12", "pg", "pl70", "pl20",
    "pm55", "il100", "w13", "p19", "p27", "ph4", "pm30", "wo", "ph5", "w32", "p6",
)

CATALOGUES: dict[str, tuple[str, ...]] = {"type45": TYPE45, "type42": TYPE42}

#: TT100K's size bins: a sign's long side max(w, h) in pixels of the 2048 x 2048
#: images, half-open [low, high). The one table the data, statistics and evaluation use.
SIZE_BINS: dict[str, tuple[float, float]] = {
    "small": (0.0, 32.0), "medium": (32.0, 96.0), "large": (96.0, 400.0)}

#: The share of TT100K's test signs in each size bin (Zhu et al. 2016).
SIZE_SHARES: dict[str, float] = {"small": 0.379, "medium": 0.522, "large": 0.099}


def resolve_classes(classes: str | Sequence[str]) -> tuple[str, ...]:
    """Turn a catalogue name ("type42", "type45") or an explicit list into a tuple.

    Raises ValueError for an unknown catalogue name, an empty list or duplicates.
    """
    if isinstance(classes, str):
        if classes not in CATALOGUES:
            raise ValueError(
                f"unknown class catalogue {classes!r}; valid names: "
                f"{', '.join(sorted(CATALOGUES))}, or pass an explicit list of categories"
            )
        return CATALOGUES[classes]
    names = tuple(str(c) for c in classes)
    if not names:
        raise ValueError("the class list is empty; give at least one category")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"the class list repeats {', '.join(duplicates)}")
    return names


def top_classes(n: int) -> tuple[str, ...]:
    """The ``n`` most frequent TT100K classes of type42."""
    ranked = [c for c in BY_FREQUENCY if c in TYPE42]
    if not 1 <= n <= len(ranked):
        raise ValueError(f"top{n}: choose between 1 and {len(ranked)} classes")
    return tuple(ranked[:n])


def parse_classes(spec: str | Sequence[str]) -> str | tuple[str, ...]:
    """"type42", "type45", "topN" (N most frequent) or "a,b,c" -> a classes value."""
    if not isinstance(spec, str):
        return tuple(resolve_classes(spec))
    if spec in ("type42", "type45"):
        return spec
    if spec.startswith("top") and spec[3:].isdigit():
        return top_classes(int(spec[3:]))
    return tuple(resolve_classes([s.strip() for s in spec.split(",") if s.strip()]))
