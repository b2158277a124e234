"""build_model: every variant x preset, output contract, fusion wiring, errors, sizes."""

import dataclasses

import pytest
import torch

from mcn.models import PRESETS, VARIANTS, ModelConfig, build_model, model_params, model_size_table
from mcn.nn import count_parameters

HEAD_KEYS = {"tl_heat", "br_heat", "tl_emb", "br_emb", "tl_off", "br_off"}
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
    """One model per (variant, preset), built once for the whole file."""
    torch.manual_seed(0)
    return {(v, p): build_model(v, num_classes=C, preset=p) for v in VARIANTS for p in PRESETS}


def check_outputs(out, batch, side, has_mask):
    expected = {"tl_heat": C, "br_heat": C, "tl_emb": 1, "br_emb": 1, "tl_off": 2, "br_off": 2}
    assert set(out) == HEAD_KEYS | ({"mask"} if has_mask else set())
    for key, channels in expected.items():
        assert out[key].shape == (batch, channels, side // 4, side // 4), key
        assert torch.isfinite(out[key]).all(), key
    if has_mask:
        assert out["mask"].shape == (batch, C + 1, side // 2, side // 2)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_eval_output_contract(models, variant, preset):
    model = models[(variant, preset)].eval()
    side = 128  # any multiple of 64 will do; small keeps the paper preset fast
    with torch.no_grad():
        out = model(torch.randn(1, 3, side, side))
    assert isinstance(out, dict)
    check_outputs(out, 1, side, model.has_mask)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_training_mode_returns_every_stack(models, variant, preset):
    model = models[(variant, preset)].train()
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
    with pytest.raises(ValueError, match="paper, tiny"):
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


def test_config_errors():
    with pytest.raises(ValueError, match="multiple of 64"):
        ModelConfig(input_size=500)
    with pytest.raises(ValueError, match="sge_groups"):
        build_model("cornernet-fire", preset=PRESETS["tiny"].replace(sge_groups=7))
    with pytest.raises(ValueError, match="mask_groups"):
        build_model("cornernet-mask", preset=PRESETS["tiny"].replace(mask_groups=12))
    # the same config is fine for a variant that has no SGE
    build_model("cornernet-squeeze", preset=PRESETS["tiny"].replace(sge_groups=7))


def test_size_table_matches_analytic_counts_and_real_models():
    rows = model_size_table()
    assert len(rows) == 10
    assert {(r["variant"], r["preset"]) for r in rows} == {(v, p) for v in VARIANTS for p in PRESETS}
    for row in rows:
        parts = model_params(row["variant"], 42, row["preset"])
        assert row["params"] == parts["total"]
        assert row["fp32_mb"] == pytest.approx(4 * row["params"] / 1e6, abs=0.01)
    tiny = build_model("mask-cornernet", preset="tiny")
    row = next(r for r in rows if r["variant"] == "mask-cornernet" and r["preset"] == "tiny")
    assert count_parameters(tiny) == row["params"]
    by_name = {(r["variant"], r["preset"]): r["params"] for r in rows}
    # fusion adds no weights; SGE adds 2 per group per fire; the mask module adds some
    assert by_name[("cornernet-fusion", "paper")] == by_name[("cornernet-squeeze", "paper")]
    assert by_name[("cornernet-fire", "paper")] > by_name[("cornernet-squeeze", "paper")]
    assert by_name[("mask-cornernet", "paper")] > by_name[("cornernet-fire", "paper")]


def test_config_survives_a_json_round_trip():
    import dataclasses
    import json

    tiny = PRESETS["tiny"]
    again = ModelConfig(**json.loads(json.dumps(dataclasses.asdict(tiny))))
    assert again == tiny and isinstance(again.dims, tuple)
    assert again.scale(256) == 16 and PRESETS["paper"].scale(256) == 256


def test_stem_stride_8_is_the_published_cornernet_squeeze():
    """The published network: stride 8, 31,732,788 parameters with 42 classes."""
    squeeze_8 = PRESETS["paper"].replace(stem_stride=8)
    with torch.device("meta"):
        published = build_model("cornernet-squeeze", 42, squeeze_8)
        ours = build_model("cornernet-squeeze", 42, "paper")
    assert count_parameters(published) == 31_732_788
    assert count_parameters(ours) == 30_486_068
    assert published.stride == 8 and published.mask_stride == 4 and published.input_multiple == 128


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


def test_old_checkpoint_configs_read_with_the_settings_they_were_trained_with():
    stored = dataclasses.asdict(PRESETS["tiny"])
    for name in ("ema_lambda", "ema_normalise", "stem_stride"):
        stored.pop(name)
    config = ModelConfig.from_dict(stored)
    assert (config.ema_lambda, config.ema_normalise, config.stem_stride) == (1.0, False, 4)
    with pytest.raises(ValueError, match="nosuch"):
        ModelConfig.from_dict({**stored, "nosuch": 1})
