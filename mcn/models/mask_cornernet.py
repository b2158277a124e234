"""Mask-CornerNet (Yang, Fan and Guo, "Anchor-free object detection with mask attention",
EURASIP J. Image Video Process. 2020), built on CornerNet-Squeeze (Law, Teng,
Russakovsky and Deng, "CornerNet-Lite", 2019).

The network, for a (B, 3, H, W) image batch::

    x = stem(image)                                          stride 4
    for each stack s:
        f_s = conv3x3-BN-ReLU(hourglass_s(x))                the stack's features
        f_s, mask_s = mask_module_s(f_s)                     (variants with the mask)
        x = residual(ReLU(BN(1x1(x)) + BN(1x1(f_s))))        input of the next stack
    heads of stack s read f_s; with fusion the last stack's heads read f_1 + ... + f_S
    heads: corner pool (top+left / bottom+right), then heatmap, embedding, offset

The mask module sits after each hourglass (the paper's Fig. 2: "the hourglass network
is followed by the mask module") and its re-weighted features go both to that stack's
heads and into the next stack.

In training mode ``forward`` returns one output dict per stack (intermediate
supervision: the loss is averaged over them); in eval mode only the last stack's dict,
computed without running the other stacks' heads. With fusion, the last stack's dict is
the one from the summed features in both modes, so training supervises exactly what
evaluation uses. Output dict (stride 4 grid, mask at stride 2)::

    tl_heat, br_heat  (B, C, H/4, W/4)   logits, one channel per class
    tl_emb,  br_emb   (B, 1, H/4, W/4)   embeddings
    tl_off,  br_off   (B, 2, H/4, W/4)   sub-cell offsets (x, y)
    mask              (B, C+1, H/2, W/2) segmentation logits, class 0 = background
                                         (variants with the mask module only)

Where mcn deliberately differs from the official CornerNet-Lite code (each choice is
explained where it is made, and in the chapter that teaches the piece):

* stem: stride 4 as in the Mask-CornerNet paper (128 x 128 heatmaps at 512 input);
  ``ModelConfig.stem_stride=8`` builds the published CornerNet-Squeeze stem (chapter 4);
* bottom-right corner cell ``ceil(x / s) - 1`` (official ``int(x / s)``), so a corner on
  a cell border belongs to the cell it closes (``mcn.corners``, chapter 7);
* pairs of zero width or height are rejected (the official code keeps br == tl)
  (``mcn.corners``, chapter 8);
* soft-NMS IoU without the +1 pixel, as TT100K's evaluation counts areas
  (``mcn.decode``, chapter 8);
* the push loss of an image with a single object is 0 (the official code adds about 1
  per such image, with the same gradient) and the pull/push/offset denominators are
  the exact numbers of objects (official: + 1e-4) (``mcn.losses``, chapter 7);
* K = 100 corners per heatmap at test time, as in the paper (the CornerNet-Squeeze
  config uses 20) (``TrainConfig.top_k``, chapter 8);
* EM attention on L2-normalised features with lambda = 30 (EMANet: raw features,
  lambda = 1) (``mcn.nn.em_attention``, chapter 6).

Taught in chapter 4 (the backbone and stacks), chapters 5 and 6 (heads, mask module).
"""

from __future__ import annotations

import torch
from torch import nn

from mcn.models.config import ModelConfig, Variant, get_preset, get_variant
from mcn.nn import ConvBN, ConvBNReLU, CornerHeads, CornerPool, Hourglass, MaskModule, Residual, Stem

#: The names of the corner heads' outputs, in a fixed order; variants with the mask
#: module add "mask" after them.
HEAD_KEYS = ("tl_heat", "br_heat", "tl_emb", "br_emb", "tl_off", "br_off")


def fuse_stacks(stack_features: list[torch.Tensor]) -> torch.Tensor:
    """Stack fusion: the element-wise sum of every stack's features, (B, D, H/4, W/4)."""
    return sum(stack_features[1:], stack_features[0])


class MaskCornerNet(nn.Module):
    """The detector; one class covers all five ablation variants (see ``build_model``)."""

    def __init__(self, num_classes: int, config: ModelConfig, variant: Variant) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        self.num_classes = num_classes
        self.config = config
        self.variant = variant.name
        self.fusion = variant.fusion
        self.sge_fire = variant.sge_fire
        self.has_mask = variant.mask
        self.input_size = config.input_size
        self.input_multiple = config.input_multiple
        self.stride = config.stem_stride  # input pixels per heatmap cell
        self.mask_stride = config.stem_stride // 2  # the mask is upsampled once from the features

        c = config.scale
        dims = [c(d) for d in config.dims]
        features, stacks = c(config.feature_channels), config.stacks
        sge_groups = config.sge_groups if variant.sge_fire else None
        _check_groups(config, dims, features, variant)

        self.stem = Stem((c(config.stem_channels), dims[0]), stride=config.stem_stride)
        self.hourglasses = nn.ModuleList(Hourglass(dims, config.modules, sge_groups) for _ in range(stacks))
        self.after_hourglass = nn.ModuleList(ConvBNReLU(dims[0], features, 3) for _ in range(stacks))
        if variant.mask:
            self.mask_modules = nn.ModuleList(
                MaskModule(
                    features,
                    num_classes,
                    mask_channels=c(config.mask_channels),
                    groups=config.mask_groups,
                    bases=config.ema_bases,
                    iters=config.ema_iters,
                    momentum=config.ema_momentum,
                    lambd=config.ema_lambda,
                    normalise=config.ema_normalise,
                )
                for _ in range(stacks)
            )
        # Between stacks: the next hourglass sees the previous input and features merged.
        self.merge_input = nn.ModuleList(ConvBN(dims[0], dims[0], 1) for _ in range(stacks - 1))
        self.merge_features = nn.ModuleList(ConvBN(features, dims[0], 1) for _ in range(stacks - 1))
        self.merge_residual = nn.ModuleList(Residual(dims[0], dims[0]) for _ in range(stacks - 1))
        # Per stack: corner pooling and heads for top-left and bottom-right corners.
        pool, head = c(config.pool_channels), c(config.head_channels)
        self.tl_pools = nn.ModuleList(CornerPool(features, pool, ("top", "left")) for _ in range(stacks))
        self.br_pools = nn.ModuleList(CornerPool(features, pool, ("bottom", "right")) for _ in range(stacks))
        self.tl_heads = nn.ModuleList(CornerHeads(features, head, num_classes) for _ in range(stacks))
        self.br_heads = nn.ModuleList(CornerHeads(features, head, num_classes) for _ in range(stacks))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor] | list[dict[str, torch.Tensor]]:
        """Training mode: list of per-stack dicts. Eval mode: the last stack's dict."""
        if self.training:
            return self.forward_stacks(images)
        return self.forward_stacks(images, last_only=True)[0]

    def forward_stacks(self, images: torch.Tensor, last_only: bool = False) -> list[dict[str, torch.Tensor]]:
        """The output dict of every stack (or only the last one), whatever the mode.

        Useful in eval mode too, e.g. to compare stack-1 with the fused output (Table 2).
        """
        self._check_images(images)
        stack_features, masks = self.backbone(images)
        head_inputs = list(stack_features)
        if self.fusion:
            head_inputs[-1] = fuse_stacks(stack_features)
        wanted = [len(head_inputs) - 1] if last_only else range(len(head_inputs))
        return [self._predict(s, head_inputs[s], masks[s] if self.has_mask else None) for s in wanted]

    def forward_sources(self, images: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
        """Detect from each stack's features and from their sum (the paper's Table 2).

        Returns {"stack-1": ..., "stack-S": ..., "fused": ...}, each an output dict as
        ``forward`` gives in eval mode. Stack s is read by its own heads; "fused" is the
        sum of every stack's features read by the last stack's heads. With fusion,
        "fused" is what the model was trained to output and "stack-S" probes the last
        heads on the last stack's features alone; without fusion it is the other way
        round. The masks are each stack's own ("fused" takes the last one).
        """
        self._check_images(images)
        stack_features, masks = self.backbone(images)
        last = len(stack_features) - 1

        def mask_of(s: int) -> torch.Tensor | None:
            return masks[s] if self.has_mask else None

        sources = {f"stack-{s + 1}": self._predict(s, f, mask_of(s)) for s, f in enumerate(stack_features)}
        sources["fused"] = self._predict(last, fuse_stacks(stack_features), mask_of(last))
        return sources

    def backbone(self, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Stem and stacked hourglasses: per-stack features (B, D, H/s, W/s) at the stem stride
        s and mask logits (one per stack; empty without a mask module)."""
        x = self.stem(images)
        stack_features, masks = [], []
        for s, hourglass in enumerate(self.hourglasses):
            f = self.after_hourglass[s](hourglass(x))
            if self.has_mask:
                f, mask = self.mask_modules[s](f)
                masks.append(mask)
            stack_features.append(f)
            if s < len(self.hourglasses) - 1:
                x = torch.relu(self.merge_input[s](x) + self.merge_features[s](f))
                x = self.merge_residual[s](x)
        return stack_features, masks

    def _predict(self, stack: int, features: torch.Tensor, mask: torch.Tensor | None) -> dict[str, torch.Tensor]:
        tl_heat, tl_emb, tl_off = self.tl_heads[stack](self.tl_pools[stack](features))
        br_heat, br_emb, br_off = self.br_heads[stack](self.br_pools[stack](features))
        out = dict(zip(HEAD_KEYS, (tl_heat, br_heat, tl_emb, br_emb, tl_off, br_off)))
        if mask is not None:
            out["mask"] = mask
        return out

    def _check_images(self, images: torch.Tensor) -> None:
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise ValueError(f"{self.variant}: images must be a (B, 3, H, W) tensor, got {shape}")
        if not images.is_floating_point():
            raise TypeError(f"{self.variant}: images must be float (normalised), got dtype {images.dtype}")
        h, w = images.shape[-2:]
        if h % self.input_multiple or w % self.input_multiple:
            raise ValueError(
                f"{self.variant}: input size {h}x{w} is not a multiple of {self.input_multiple} "
                f"(model.input_multiple: stride {self.stride} x 2^{len(self.config.dims) - 1} hourglass "
                f"halvings); pad or resize the images to a multiple of {self.input_multiple}"
            )

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}, num_classes={self.num_classes}, input_size={self.input_size}"


def _check_groups(config: ModelConfig, dims: list[int], features: int, variant: Variant) -> None:
    """Fail early, naming the config field, when a group count does not divide its channels."""
    if variant.sge_fire:
        bad = sorted({d for d in dims if d % config.sge_groups})
        if bad:
            raise ValueError(
                f"ModelConfig.sge_groups={config.sge_groups} does not divide the hourglass channels {bad} "
                f"(dims {list(config.dims)} at width {config.width}); choose a common divisor of {dims}"
            )
    if variant.mask and features % config.mask_groups:
        raise ValueError(
            f"ModelConfig.mask_groups={config.mask_groups} does not divide the feature channels {features} "
            f"(feature_channels {config.feature_channels} at width {config.width})"
        )


def build_model(variant: str, num_classes: int = 42, preset: str | ModelConfig = "paper") -> MaskCornerNet:
    """Build one of the paper's five variants (Table 1) at a preset size.

    variant: cornernet-squeeze, cornernet-fusion, cornernet-fire, cornernet-mask or
    mask-cornernet. preset: "paper" (512 input, full width), "tiny" (256 input, width
    1/16, for CPUs) or a ``ModelConfig`` of your own. num_classes: C, heatmap channels
    (the mask has C + 1).
    """
    config = preset if isinstance(preset, ModelConfig) else get_preset(preset)
    return MaskCornerNet(num_classes, config, get_variant(variant))
