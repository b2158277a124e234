"""The EM attention view: the steps follow em_iterations and end where the layer ends; the
picture data is the module's own."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from mcn import viz as W
from mcn.models import build_model
from mcn.nn import EMAU, em_iterations
from tests.viz.views import CLASSES, SIZE


# --------------------------------------------------------------------------- EM attention
@pytest.mark.parametrize("lambd, normalise", [(1.0, False), (8.0, True)])
def test_em_steps_follow_em_iterations_and_end_where_the_layer_ends(lambd, normalise):
    torch.manual_seed(1)
    emau = EMAU(4, bases=3, iters=3, lambd=lambd, normalise=normalise).eval()
    x = torch.randn(1, 4, 5, 6)
    steps = W.em_steps(emau, x)
    features = emau.conv1(x).flatten(2)
    if normalise:
        features = torch.nn.functional.normalize(features, dim=1, eps=1e-6)
    torch.testing.assert_close(steps["features"], features[0].detach())
    torch.testing.assert_close(steps["mu"][0], emau.mu[0])
    for t in range(4):
        z, _ = em_iterations(features.detach(), emau.mu, t + 1, lambd)
        torch.testing.assert_close(steps["z"][t], z[0])
    z_layer, mu_layer = emau.attention(x)
    torch.testing.assert_close(steps["mu"][3], mu_layer[0])   # the layer's last bases
    torch.testing.assert_close(steps["z"][2], z_layer[0])     # and the E step before them
    torch.testing.assert_close(steps["z"].sum(dim=2), torch.ones(4, 30))
    # rebuilt[t][c, n] = sum over k of mu[t][c, k] z[t][n, k], as a loop
    t, c, n = 2, 3, 17
    by_hand = sum(float(steps["mu"][t][c, k]) * float(steps["z"][t][n, k]) for k in range(3))
    assert float(steps["rebuilt"][t][c, n]) == pytest.approx(by_hand, abs=1e-6)
    with pytest.raises(ValueError, match="one image"):
        W.em_steps(emau, torch.randn(2, 4, 5, 6))


def test_responsibility_overlay_mixes_the_picked_bases():
    z = torch.softmax(torch.randn(6, 4, generator=torch.Generator().manual_seed(2)), dim=1).numpy()
    colours = W.base_colours(4)
    one = W.responsibility_overlay(z, [2], (2, 3))
    np.testing.assert_allclose(one[..., 3].ravel(), z[:, 2], rtol=1e-6)
    np.testing.assert_allclose(one[..., :3].reshape(-1, 3), np.tile(colours[2], (6, 1)))
    two = W.responsibility_overlay(z, [0, 3], (2, 3))
    np.testing.assert_allclose(two[..., 3].ravel(), z[:, 0] + z[:, 3], rtol=1e-6)
    mix = (z[1, 0] * colours[0] + z[1, 3] * colours[3]) / (z[1, 0] + z[1, 3])
    np.testing.assert_allclose(two[0, 1, :3], mix, rtol=1e-6)
    everything = W.responsibility_overlay(z, range(4), (2, 3))
    np.testing.assert_allclose(everything[..., 3], 1.0, rtol=1e-6)
    assert W.responsibility_overlay(z, [], (2, 3))[..., 3].max() == 0
    with pytest.raises(ValueError, match="bases"):
        W.responsibility_overlay(z, [4], (2, 3))


def test_em_data_draws_the_modules_own_numbers(model, run):
    stack, t, channel = 1, 2, 3
    data = W.em_data(model, run, stack, t, [0, 1], channel, mask_class=2)
    steps = W.em_steps(model.mask_modules[stack].emau, run.emau_inputs[stack])
    h = w = SIZE // 2
    np.testing.assert_array_equal(data["assignment"], steps["z"][t].argmax(1).reshape(h, w).numpy())
    np.testing.assert_allclose(data["feature"], steps["features"][channel].reshape(h, w).numpy())
    np.testing.assert_allclose(data["rebuilt"], steps["rebuilt"][t][channel].reshape(h, w).numpy())
    x, r = steps["features"][:, 5 * w + 7], steps["rebuilt"][t][:, 5 * w + 7]
    assert data["cosine"][5, 7] == pytest.approx(float(x @ r / (x.norm() * r.norm())), abs=1e-5)
    logits = run.stacks[stack]["mask"][0]
    np.testing.assert_allclose(data["mask"], torch.softmax(logits, 0)[2].numpy(), rtol=1e-5)
    classes = W.em_data(model, run, stack, t, [0], channel, W.ALL_CLASSES)["mask"]
    np.testing.assert_array_equal(classes, logits.argmax(0).numpy())
    with pytest.raises(ValueError, match="iteration"):
        W.em_data(model, run, stack, 9, [0], 0, 0)


def test_em_explorer_needs_the_mask_module(dataset):
    plain = build_model("cornernet-squeeze", num_classes=len(CLASSES), preset="tiny")
    with pytest.raises(ValueError, match="mask module"):
        W.em_explorer(plain, dataset)


def test_em_figure_names_its_colours_and_keeps_rgb_in_range(model, run, caplog):
    data = W.em_data(model, run, 1, 3, [0, 1], 0, W.ALL_CLASSES)
    data["overlay"][0, 0, :3] = 1.0 + 1e-5          # what mixing colours can give
    with caplog.at_level(logging.WARNING, logger="matplotlib"):
        fig = W.em_figure(data, class_names=CLASSES)
    # matplotlib logs (it does not warn) when it clips RGB data: the notebook shows it
    assert not [r for r in caplog.records if "Clipping input data" in r.getMessage()]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:data["num_bases"]] == [f"base {k}" for k in range(data["num_bases"])]
    present = [c for c in np.unique(data["mask"]) if c > 0]
    assert labels[data["num_bases"]:-1] == [CLASSES[c - 1] for c in present]
    assert labels[-1] == "ground truth"


def test_sign_bases_are_the_most_responsible_inside_the_largest_box(model, run):
    picked = W.sign_bases(model, run, stack=1, count=2)
    z = W.em_steps(model.mask_modules[1].emau, run.emau_inputs[1])["z"][-1]
    boxes = run.target["boxes"]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    x1, y1, x2, y2 = (int(v) // 2 for v in boxes[int(areas.argmax())])   # EM grid: stride 2
    side = run.emau_inputs[1].shape[-1]
    cells = [i * side + j for i in range(y1, max(y2, y1 + 1)) for j in range(x1, max(x2, x1 + 1))]
    mean = z[cells].mean(0)
    assert picked == mean.argsort(descending=True)[:2].tolist()
    assert float(mean[picked[0]]) >= float(mean[picked[1]]) >= float(mean.min())
