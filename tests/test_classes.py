"""Class catalogues, class specifications and the size bins of TT100K."""

from __future__ import annotations

import pytest

from mcn.classes import SIZE_BINS, SIZE_SHARES, TYPE42, TYPE45, parse_classes, resolve_classes, top_classes


def test_parse_classes():
    assert parse_classes("type42") == "type42"
    assert parse_classes("top3") == ("pn", "pne", "i5")  # po is not in type42
    assert parse_classes("pn, i5") == ("pn", "i5")
    with pytest.raises(ValueError, match="repeats"):
        parse_classes("pn,pn")


def test_top_classes_follow_the_tt100k_frequencies_within_type42():
    assert top_classes(3) == ("pn", "pne", "i5")  # po, the sixth most frequent, is not in type42
    assert set(top_classes(42)) == set(TYPE42)
    with pytest.raises(ValueError, match="top43: choose between 1 and 42"):
        top_classes(43)


def test_resolve_classes_names_the_problem():
    assert resolve_classes("type45") == TYPE45
    with pytest.raises(ValueError, match="unknown class catalogue 'type7'"):
        resolve_classes("type7")
    with pytest.raises(ValueError, match="repeats pn"):
        resolve_classes(["pn", "i5", "pn"])


def test_the_size_bins_and_their_shares():
    assert list(SIZE_BINS) == ["small", "medium", "large"] and SIZE_BINS["medium"] == (32.0, 96.0)
    assert sum(SIZE_SHARES.values()) == pytest.approx(1.0)
