"""The stem: its stride and its parameter count."""

import torch

from mcn.nn import Stem, count_parameters, stem_params


def test_stem_has_stride_four():
    stem = Stem((8, 16))
    assert stem(torch.randn(1, 3, 64, 48)).shape == (1, 16, 16, 12)


def test_stem_parameter_count_matches_the_formula():
    assert count_parameters(Stem((128, 256))) == stem_params((128, 256))
