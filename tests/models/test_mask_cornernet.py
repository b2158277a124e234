"""build_model: every variant x preset, the output contract, fusion wiring, errors; the
paper-width models are checked on the meta device."""

import pytest
import torch

from mcn.models import HEAD_KEYS, PRESETS, VARIANTS, ModelConfig, build_model, model_params
from mcn.nn import count_parameters


C = 5  # a small class count keeps the heads cheap; 42 is checked in the size table


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These tensors are small: a second thread gains nothing here, and on a busy machine
    (other processes on both cores) threads waiting for each other cost 100x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models():
    """One model per (variant, preset), built once for the whole file: the tiny ones with
    weights, the paper-width ones on the meta device (shapes only, no memory)."""
    torch.manual_seed(0)
    built = {(v, "tiny"): build_model(v, num_classes=C, preset="tiny") for v in VARIANTS}
    with torch.device("meta"):
        built.update({(v, "paper"): build_model(v, num_classes=C, preset="paper") for v in VARIANTS})
    return built


def runnable(models, variant, preset):
    """A model that can run a forward pass: paper-width ones are built with weights here."""
    if preset == "tiny":
        return models[(variant, preset)]
    torch.manual_seed(0)
    return build_model(variant, num_classes=C, preset=preset)


#: The tiny preset runs in every test run; a forward pass at paper width takes seconds.
PRESETS_TO_RUN = ["tiny", pytest.param("paper", marks=pytest.mark.slow)]


def check_outputs(out, batch, side, has_mask):
    expected = {"tl_heat": C, "br_heat": C, "tl_emb": 1, "br_emb": 1, "tl_off": 2, "br_off": 2}
    assert set(out) == set(HEAD_KEYS) | ({"mask"} if has_mask else set())
    for key, channels in expected.items():
        assert out[key].shape == (batch, channels, side // 4, side // 4), key
        assert torch.isfinite(out[key]).all(), key
    if has_mask:
        assert out["mask"].shape == (batch, C + 1, side // 2, side // 2)


@pytest.mark.parametrize("preset", PRESETS_TO_RUN)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_eval_output_contract(models, variant, preset):
    model = runnable(models, variant, preset).eval()
    side = 128  # any multiple of 64 will do; small keeps the paper preset fast
    with torch.no_grad():
        out = model(torch.randn(1, 3, side, side))
    assert isinstance(out, dict)
    check_outputs(out, 1, side, model.has_mask)


@pytest.mark.parametrize("preset", PRESETS_TO_RUN)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_training_mode_returns_every_stack(models, variant, preset):
    model = runnable(models, variant, preset).train()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 64, 128))
    assert isinstance(outs, list) and len(outs) == 2
    for out in outs:
        check_outputs_rect(out, 2, 64, 128, model.has_mask)
    model.eval()


def check_outputs_rect(out, batch, h, w, has_mask):
    assert out["tl_heat"].shape == (batch, C, h // 4, w // 4)
    assert out["br_off"].shape == (batch, 2, h // 4, w // 4)
    assert ("mask" in out) == has_mask
    if has_mask:
        assert out["mask"].shape == (batch, C + 1, h // 2, w // 2)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_attributes(models, variant):
    for preset, size in [("paper", 512), ("tiny", PRESETS["tiny"].input_size)]:
        model = models[(variant, preset)]
        assert model.variant == variant and model.num_classes == C
        assert model.stride == 4 and model.mask_stride == 2
        assert model.input_size == size and model.input_multiple == 64
        assert model.has_mask == VARIANTS[variant].mask
        assert isinstance(model.config, ModelConfig)
    assert PRESETS["paper"].input_size == 512
    # The paper-width model, built on the meta device, has the analytic parameter count.
    paper = models[(variant, "paper")]
    assert count_parameters(paper) == model_params(variant, C, "paper")["total"]


def test_heatmap_bias_and_emau_buffers(models):
    model = models[("mask-cornernet", "tiny")]
    for heads in list(model.tl_heads) + list(model.br_heads):
        assert torch.all(heads.heat.out.bias == -2.19)
    emau = model.mask_modules[0].emau
    before = emau.mu.clone()
    model.train()
    with torch.no_grad():
        model(torch.randn(2, 3, 64, 64))
    assert not torch.equal(emau.mu, before)
    model.eval()


def test_tiny_forward_backward_reaches_every_trainable_parameter():
    torch.manual_seed(0)
    model = build_model("mask-cornernet", num_classes=C, preset="tiny").train()
    outs = model(torch.randn(2, 3, 128, 128))
    loss = sum(v.float().square().mean() for out in outs for v in out.values())
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(".emau.conv1." in n for n in frozen)  # EM attention's conv1 only
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_fusion_feeds_the_sum_of_stack_features_to_the_last_heads():
    torch.manual_seed(0)
    plain = build_model("cornernet-squeeze", num_classes=C, preset="tiny").eval()
    fused = build_model("cornernet-fusion", num_classes=C, preset="tiny").eval()
    fused.load_state_dict(plain.state_dict())  # same layers, different wiring
    features = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: features.append(out)) for m in plain.after_hourglass]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        plain_stacks = plain.forward_stacks(x)
        for h in hooks:
            h.remove()
        f1, f2 = features
        expected_heat = plain.tl_heads[1](plain.tl_pools[1](f1 + f2))[0]
        fused_out = fused(x)
        fused_stacks = fused.forward_stacks(x)
    torch.testing.assert_close(fused_out["tl_heat"], expected_heat)
    torch.testing.assert_close(fused_stacks[0]["tl_heat"], plain_stacks[0]["tl_heat"])  # stack 1 unchanged
    torch.testing.assert_close(fused_stacks[1]["br_emb"], fused_out["br_emb"])  # eval == last stack
    assert not torch.allclose(fused_out["tl_heat"], plain_stacks[1]["tl_heat"])


@pytest.mark.parametrize("variant", ["cornernet-squeeze", "mask-cornernet"])
def test_forward_sources_reads_each_stack_and_the_sum(variant):
    torch.manual_seed(0)
    model = build_model(variant, num_classes=C, preset="tiny").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        sources = model.forward_sources(x)
        stacks = model.forward_stacks(x)
        out = model(x)
    assert list(sources) == ["stack-1", "stack-2", "fused"]
    torch.testing.assert_close(sources["stack-1"]["tl_heat"], stacks[0]["tl_heat"])
    trained = "fused" if model.fusion else "stack-2"  # what forward returns
    probe = "stack-2" if model.fusion else "fused"
    for key in out:
        torch.testing.assert_close(sources[trained][key], out[key])
    assert not torch.allclose(sources[probe]["br_heat"], out["br_heat"])
    assert ("mask" in sources["fused"]) == model.has_mask


def test_unknown_variant_and_preset_list_the_valid_names():
    with pytest.raises(ValueError, match="cornernet-squeeze.*mask-cornernet"):
        build_model("cornernet-lite")
    with pytest.raises(ValueError, match="paper, book, tiny"):
        build_model("mask-cornernet", preset="huge")
    with pytest.raises(ValueError, match="num_classes"):
        build_model("mask-cornernet", num_classes=0, preset="tiny")


def test_bad_inputs(models):
    model = models[("cornernet-squeeze", "tiny")].eval()
    with pytest.raises(ValueError, match="multiple of 64"):
        model(torch.zeros(1, 3, 100, 128))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.zeros(3, 64, 64))
    with pytest.raises(TypeError, match="float"):
        model(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))


def test_stem_stride_8_map_sizes():
    config = PRESETS["tiny"].replace(stem_stride=8)
    model = build_model("mask-cornernet", 3, config).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 256, 256))
    assert out["tl_heat"].shape == (1, 3, 32, 32) and out["br_off"].shape == (1, 2, 32, 32)
    assert out["mask"].shape == (1, 4, 64, 64)
    with pytest.raises(ValueError, match="multiple of 128"):
        model(torch.randn(1, 3, 192, 192))
    with pytest.raises(ValueError, match="stem_stride"):
        PRESETS["tiny"].replace(stem_stride=16)
