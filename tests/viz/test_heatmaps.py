"""Interactive views: the pure functions give the right figure data (checked against the
package's layers and against loops written here), and each explorer is an ipywidgets
object whose picture follows its controls."""

from __future__ import annotations

import base64
import itertools
import math

import ipywidgets
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from mcn import widgets as W
from mcn.data import SyntheticSigns
from mcn.corners import pair_corners, top_corners
from mcn.decode import decode
from mcn.models import build_model
from mcn.nn import EMAU, corner_pool, em_iterations

CLASSES = ("pl40", "pn", "i5")
SIZE = 128  # a multiple of the tiny preset's input_multiple (64)
STRIDE = 4


@pytest.fixture(scope="module")
def dataset():
    return SyntheticSigns(3, image_size=SIZE, seed=5, classes=CLASSES)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("mask-cornernet", num_classes=len(CLASSES), preset="tiny").eval()


@pytest.fixture(scope="module")
def run(model, dataset):
    return W.run_model(model, dataset, 1, SIZE)


def random_outputs(num_classes=3, side=8, seed=0):
    """Eval-mode outputs of one image with distinct random values (no ties)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for corner in ("tl", "br"):
        out[f"{corner}_heat"] = torch.randn(1, num_classes, side, side, generator=g)
        out[f"{corner}_emb"] = torch.randn(1, 1, side, side, generator=g) * 0.5
        out[f"{corner}_off"] = torch.rand(1, 2, side, side, generator=g)
    return out


def fake_run(outputs, side=8):
    image = np.zeros((side * STRIDE, side * STRIDE, 3), dtype=np.uint8)
    target = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    return W.ModelRun(image, target, [outputs], [])


def sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


# --------------------------------------------------------------------------- heatmaps
@pytest.mark.parametrize("corner", ["tl", "br"])
def test_heatmap_overlay_is_the_selected_channel(corner):
    outputs = random_outputs()
    run = fake_run(outputs)
    for c in range(3):
        data = W.heatmap_data(run, 0, corner, c, threshold=0.5)
        expected = [[sigmoid(float(outputs[f"{corner}_heat"][0, c, i, j])) for j in range(8)]
                    for i in range(8)]
        np.testing.assert_allclose(data["heat"], expected, rtol=1e-5)
    every = W.heatmap_data(run, 0, corner, W.ALL_CLASSES, threshold=0.5)["heat"]
    np.testing.assert_allclose(every, torch.sigmoid(outputs[f"{corner}_heat"][0]).amax(0).numpy())


def naive_peaks(heat, emb, off, k):
    """Top-k 3x3 local maxima over all classes, found with loops: (score, class, x, y)."""
    num_classes, height, width = heat.shape
    peaks = []
    for c, i, j in itertools.product(range(num_classes), range(height), range(width)):
        window = [float(heat[c, a, b]) for a in range(max(i - 1, 0), min(i + 2, height))
                  for b in range(max(j - 1, 0), min(j + 2, width))]
        if float(heat[c, i, j]) >= max(window):
            x = (j + float(off[0, i, j])) * STRIDE
            y = (i + float(off[1, i, j])) * STRIDE
            peaks.append((sigmoid(float(heat[c, i, j])), c, x, y))
    return sorted(peaks, reverse=True)[:k]


@pytest.mark.parametrize("class_index", [W.ALL_CLASSES, 0, 2])
def test_heatmap_corners_are_the_decoders_peaks_above_the_threshold(class_index):
    outputs = random_outputs(seed=3)
    threshold, k = 0.6, 12
    data = W.heatmap_data(fake_run(outputs), 0, "br", class_index, threshold, k, STRIDE)
    expected = [p for p in naive_peaks(outputs["br_heat"][0], None, outputs["br_off"][0], k)
                if p[0] >= threshold and class_index in (W.ALL_CLASSES, p[1])]
    corners = data["corners"]
    got = sorted(zip(corners["scores"], corners["labels"], corners["xs"], corners["ys"]),
                 reverse=True)
    assert len(got) == len(expected) > 0
    np.testing.assert_allclose(np.array(got, dtype=float), np.array(expected), rtol=1e-5)
    # ... and they are exactly top_corners' corners of that class above the threshold.
    tc = top_corners(outputs["br_heat"], outputs["br_emb"], outputs["br_off"], k, STRIDE)
    keep = tc["scores"][0] >= threshold
    if class_index != W.ALL_CLASSES:
        keep &= tc["labels"][0] == class_index
    np.testing.assert_array_equal(corners["xs"], tc["xs"][0][keep].numpy())


def test_heatmap_data_rejects_bad_arguments():
    run = fake_run(random_outputs())
    with pytest.raises(ValueError, match="corner"):
        W.heatmap_data(run, 0, "tr", 0, 0.5)
    with pytest.raises(ValueError, match="class_index"):
        W.heatmap_data(run, 0, "tl", 3, 0.5)
    with pytest.raises(ValueError, match="stack"):
        W.heatmap_data(run, 1, "tl", 0, 0.5)


def test_stack_names_say_which_output_is_fused():
    plain = build_model("cornernet-squeeze", num_classes=2, preset="tiny")
    assert W.stack_names(plain) == ["stack 1", "stack 2"]
    fused = build_model("cornernet-fusion", num_classes=2, preset="tiny")
    assert W.stack_names(fused)[0] == "stack 1" and W.stack_names(fused)[1].startswith("fused")


def test_run_model_gives_every_stack_and_leaves_the_model_as_it_was(model, dataset, run):
    assert len(run.stacks) == len(model.hourglasses) == 2
    assert run.image.shape == (SIZE, SIZE, 3) and run.image.dtype == np.uint8
    x = torch.from_numpy(run.image).permute(2, 0, 1)
    from mcn.data import normalize

    with torch.no_grad():
        expected = model(normalize(x)[None])  # eval mode: the last (fused) stack
    torch.testing.assert_close(run.stacks[-1]["tl_heat"], expected["tl_heat"], atol=2e-4, rtol=1e-4)
    mask_channels = model.mask_modules[0].emau.channels
    half = SIZE // 2
    assert [tuple(t.shape) for t in run.emau_inputs] == [(1, mask_channels, half, half)] * 2
    # Training mode and the EM bases survive a run.
    model.train()
    bases = model.mask_modules[0].emau.mu.clone()
    try:
        W.run_model(model, dataset, 0, SIZE)
        assert model.training
        torch.testing.assert_close(model.mask_modules[0].emau.mu, bases, rtol=0, atol=0)
    finally:
        model.eval()
    with pytest.raises(ValueError, match="input_multiple"):
        W.run_model(model, dataset, 0, SIZE + 32)
    with pytest.raises(IndexError):
        W.run_model(model, dataset, len(dataset), SIZE)


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


# --------------------------------------------------------------------------- decoding
def test_pairs_partition_the_candidates_and_follow_the_rules():
    outputs = random_outputs(seed=4)
    k, ae, thr = 10, 0.5, 0.55
    pairs = W.pair_candidates(outputs, k, ae, thr, STRIDE)
    tl, br = ({n: v[0] for n, v in top_corners(outputs[f"{c}_heat"], outputs[f"{c}_emb"],
                                                outputs[f"{c}_off"], k).items()}
              for c in ("tl", "br"))
    expected = {}
    for i, j in itertools.product(range(k), range(k)):
        score = (float(tl["scores"][i]) + float(br["scores"][j])) / 2
        if score < thr:
            continue
        if tl["labels"][i] != br["labels"][j]:
            reason = 1
        elif abs(float(tl["emb"][i]) - float(br["emb"][j])) > ae:
            reason = 2
        elif br["xs"][j] <= tl["xs"][i] or br["ys"][j] <= tl["ys"][i]:
            reason = 3
        else:
            reason = 0
        expected[(i, j)] = reason
    got = dict(zip(zip(pairs["tl"].tolist(), pairs["br"].tolist()), pairs["reasons"].tolist()))
    assert got == expected                        # every candidate once, with its reason
    assert len(set(expected.values())) >= 3       # the example exercises several reasons
    assert np.all(np.diff(pairs["scores"]) <= 0)  # best first
    kept = pairs["reasons"] == 0
    for i, j in zip(pairs["tl"][kept], pairs["br"][kept]):
        assert tl["labels"][i] == br["labels"][j]
        assert abs(float(tl["emb"][i] - br["emb"][j])) <= ae
        assert br["xs"][j] > tl["xs"][i] and br["ys"][j] > tl["ys"][i]
    # The kept pairs are exactly the pairs mcn.decode.pair_corners scores >= thr.
    boxes, scores, _ = pair_corners({n: v[None] for n, v in tl.items()},
                                    {n: v[None] for n, v in br.items()}, ae, num_dets=k * k)
    valid = scores[0] >= thr
    torch.testing.assert_close(torch.from_numpy(pairs["scores"][kept]), scores[0][valid])
    torch.testing.assert_close(torch.from_numpy(pairs["boxes"][kept]), boxes[0][valid])


def test_soft_nms_survivors_are_decodes_detections():
    outputs = random_outputs(seed=6)
    k, ae, thr = 10, 1.0, 0.55
    pairs = W.pair_candidates(outputs, k, ae, thr, STRIDE, num_dets=100, sigma=0.5)
    detections = decode(outputs, k=k, ae_threshold=ae, num_dets=100, max_dets=100,
                        soft_nms_sigma=0.5, score_threshold=thr)[0]
    survivors = np.nonzero(pairs["survives"])[0]
    assert len(survivors) > 0 and not np.any(pairs["reasons"][survivors])
    order = np.argsort(-pairs["final_scores"][survivors], kind="stable")
    np.testing.assert_allclose(pairs["final_scores"][survivors][order],
                               detections["scores"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(pairs["boxes"][survivors][order], detections["boxes"].numpy(),
                               rtol=1e-6)
    assert np.all(pairs["final_scores"][~pairs["survives"]] == 0)


def test_decode_figure_draws_and_handles_no_pairs():
    outputs = random_outputs(seed=6)
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    for thr in (0.5, 1.0):  # many pairs, then none at all
        pairs = W.pair_candidates(outputs, 10, 0.5, thr, STRIDE)
        assert isinstance(W.decode_figure(pairs, image, CLASSES), Figure)


# --------------------------------------------------------------------------- corner pooling
def test_region_feature_by_hand():
    image = np.array([[[200, 50, 100], [10, 20, 250]]], dtype=np.uint8)  # (1, 2, 3)
    np.testing.assert_allclose(W.region_feature(image, None, "redness"), [[100 / 255, 0]],
                               rtol=1e-6)
    np.testing.assert_allclose(W.region_feature(image, None, "blueness"), [[0, 230 / 255]],
                               rtol=1e-6)
    np.testing.assert_allclose(W.region_feature(image, None, "brightness"),
                               [[350 / 765, 280 / 765]], rtol=1e-6)
    masks = torch.tensor([[[True, False]], [[False, False]]])
    np.testing.assert_array_equal(W.region_feature(image, masks, "sign masks"), [[1.0, 0.0]])
    with pytest.raises(ValueError, match="feature"):
        W.region_feature(image, None, "greenness")


def test_pooled_maps_are_corner_pool_of_the_region(dataset):
    image, target = dataset[0]
    picture = image.permute(1, 2, 0).numpy()
    data = W.pool_data(picture, target, x=20, y=30, size=50, feature="brightness")
    assert data["window"] == (20, 30, 70, 80)
    region = torch.from_numpy(picture[30:80, 20:70].astype(np.float32) / 255).mean(dim=2)
    np.testing.assert_allclose(data["feature"], region.numpy(), rtol=1e-6)
    for direction in ("top", "left", "bottom", "right"):
        np.testing.assert_array_equal(data["pooled"][direction],
                                      corner_pool(region, direction).numpy())
    # top: the maximum of the column from this row down, by hand at one position
    assert data["pooled"]["top"][10, 4] == pytest.approx(float(region[10:, 4].max()))
    np.testing.assert_allclose(data["pooled"]["top + left"],
                               data["pooled"]["top"] + data["pooled"]["left"])
    np.testing.assert_allclose(data["pooled"]["bottom + right"],
                               data["pooled"]["bottom"] + data["pooled"]["right"])
    np.testing.assert_allclose(data["boxes"], target["boxes"].numpy() - [20, 30, 20, 30])
    clipped = W.pool_data(picture, target, x=SIZE - 10, y=SIZE - 4, size=50, feature="redness")
    assert clipped["window"] == (SIZE - 10, SIZE - 4, SIZE, SIZE)
    assert clipped["feature"].shape == (4, 10)


# --------------------------------------------------------------------------- the widgets
def png_of(explorer):
    return bytes(explorer.view.value)


@pytest.mark.parametrize("name", ["heatmap", "em", "decode", "corner_pool"])
def test_explorers_are_widgets_whose_picture_follows_the_controls(name, model, dataset):
    build, control, new_value = {
        "heatmap": (lambda: W.heatmap_explorer(model, dataset, input_size=SIZE, threshold=0.05),
                    "corner", "br"),
        "em": (lambda: W.em_explorer(model, dataset, input_size=SIZE), "iteration", 0),
        "decode": (lambda: W.decode_explorer(model, dataset, input_size=SIZE, score_threshold=0.05),
                   "k", 5),
        "corner_pool": (lambda: W.corner_pool_explorer(dataset, size=40), "x", 60),
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
