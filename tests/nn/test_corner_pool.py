"""corner_pool and CornerPool against loop definitions and hand-worked vectors."""

import pytest
import torch

from mcn.nn import DIRECTIONS, CornerPool, corner_pool, corner_pool_params, count_parameters


def loop_corner_pool(x: torch.Tensor, direction: str) -> torch.Tensor:
    """The definition, one output cell at a time (x: (..., H, W))."""
    h, w = x.shape[-2:]
    out = torch.empty_like(x)
    for i in range(h):
        for j in range(w):
            if direction == "top":
                region = x[..., i:, j]
            elif direction == "bottom":
                region = x[..., : i + 1, j]
            elif direction == "left":
                region = x[..., i, j:]
            else:  # right
                region = x[..., i, : j + 1]
            out[..., i, j] = region.max(dim=-1).values
    return out


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_matches_loop_definition(direction):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 7, generator=g)
    torch.testing.assert_close(corner_pool(x, direction), loop_corner_pool(x, direction), rtol=0, atol=0)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_matches_loop_with_ties_and_integers_valued_floats(direction):
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 3, (1, 2, 6, 4), generator=g).float()  # many ties
    torch.testing.assert_close(corner_pool(x, direction), loop_corner_pool(x, direction), rtol=0, atol=0)


# Worked by hand: rows for left/right pools, columns for top/bottom pools.
ROW_VECTORS = [
    ("left", [2, 1, 3, 0, 2], [3, 3, 3, 2, 2]),
    ("left", [5, 4, 1, 1, 6], [6, 6, 6, 6, 6]),
    ("right", [2, 1, 3, 0, 2], [2, 2, 3, 3, 3]),
    ("right", [5, 4, 1, 1, 6], [5, 5, 5, 5, 6]),
]
COLUMN_VECTORS = [
    ("top", [3, 1, 3, 2, 0], [3, 3, 3, 2, 0]),
    ("top", [1, 1, 4, 2, 2], [4, 4, 4, 2, 2]),
    ("bottom", [3, 1, 3, 2, 0], [3, 3, 3, 3, 3]),
    ("bottom", [1, 1, 4, 2, 2], [1, 1, 4, 4, 4]),
]


@pytest.mark.parametrize("direction,values,expected", ROW_VECTORS)
def test_hand_worked_rows(direction, values, expected):
    x = torch.tensor(values, dtype=torch.float32).view(1, 1, 1, -1)
    assert corner_pool(x, direction).flatten().tolist() == expected


@pytest.mark.parametrize("direction,values,expected", COLUMN_VECTORS)
def test_hand_worked_columns(direction, values, expected):
    x = torch.tensor(values, dtype=torch.float32).view(1, 1, -1, 1)
    assert corner_pool(x, direction).flatten().tolist() == expected


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_keeps_shape_and_dtype(dtype):
    x = torch.randn(2, 4, 3, 5).to(dtype)
    for direction in DIRECTIONS:
        y = corner_pool(x, direction)
        assert y.shape == x.shape and y.dtype == dtype
        torch.testing.assert_close(y, loop_corner_pool(x, direction), rtol=0, atol=0)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_gradcheck(direction):
    g = torch.Generator().manual_seed(2)
    # distinct values: the maximum (and so the derivative) is unique everywhere
    x = torch.randperm(24, generator=g).double().view(1, 2, 3, 4).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: corner_pool(t, direction), (x,))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_cuda_matches_cpu(direction):
    x = torch.randn(2, 3, 8, 9)
    torch.testing.assert_close(corner_pool(x.cuda(), direction).cpu(), corner_pool(x, direction))


def test_bad_direction_and_shape():
    with pytest.raises(ValueError, match="direction"):
        corner_pool(torch.zeros(1, 1, 2, 2), "up")
    with pytest.raises(ValueError, match="at least 2"):
        corner_pool(torch.zeros(3), "top")


def test_corner_pool_module_shape_directions_and_params():
    module = CornerPool(16, 8, ("top", "left"))
    y = module(torch.randn(2, 16, 6, 5))
    assert y.shape == (2, 16, 6, 5)
    assert (y >= 0).all()  # ends with a ReLU
    assert count_parameters(module) == corner_pool_params(16, 8)
    with pytest.raises(ValueError, match="directions"):
        CornerPool(16, 8, ("top", "up"))


def test_corner_pool_module_pools_in_its_directions():
    """Feed a single bright pixel through a module whose convolutions pass values
    straight through: the top-left module must spread it up and left only."""
    module = CornerPool(1, 1, ("top", "left")).eval()
    with torch.no_grad():
        for branch in (module.branch_1, module.branch_2, module.merge, module.out):
            conv = branch[0]
            conv.weight.zero_()
            conv.weight[:, :, 1, 1] = 1.0  # 3x3 identity kernel
        module.shortcut[0].weight.zero_()
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 3] = 1.0
    y = module(x)[0, 0]
    # top pool reaches rows <= 2 in column 3; left pool reaches columns <= 3 in row 2.
    # Eval-mode BN with default statistics scales by 1/sqrt(1 + eps) at each of the four
    # convolutions (two in the branch path, then merge and out); compare the pattern.
    expected = torch.zeros(5, 5)
    expected[:3, 3] = 1.0
    expected[2, :4] = 1.0
    expected[2, 3] = 2.0
    assert torch.equal(y > 1e-3, expected > 0)
    torch.testing.assert_close(y / y.max(), expected / 2.0)
