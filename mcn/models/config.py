"""Model configuration: one dataclass of sizes, two named presets, and the variant table.

``ModelConfig`` holds the architecture's numbers at full width (the paper's values,
Yang, Fan and Guo 2020; CornerNet-Squeeze, Law et al. 2019) and a ``width`` multiplier
that scales every channel count; ``scale(c)`` gives the channels actually built.

Presets:

* ``paper``: 512x512 input, full width, what the paper trains on a GPU.
* ``tiny``: 256x256 input, width 1/16, for a 2-core CPU (see ``TINY`` for why).

The five variants of the paper's ablation (Table 1) are three switches on the same
network: ``fusion`` (stack-1 + stack-2 features feed the final heads), ``sge_fire``
(every fire module gets SGE) and ``mask`` (the mask module after each hourglass).
``VARIANTS`` is the only place where a name turns into a thing. Taught in chapter 4.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mcn.nn.stem import STEM_STRIDE, STEM_STRIDES


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of a Mask-CornerNet; channel counts are at width 1 (see ``scale``)."""

    input_size: int = 512  # default square input side (multiple of ``input_multiple``)
    width: float = 1.0  # multiplier on every channel count below
    stem_channels: int = 128  # the 7x7 stem convolution (the stem ends at dims[0])
    dims: tuple[int, ...] = (256, 256, 384, 384, 512)  # hourglass channels per level
    modules: tuple[int, ...] = (2, 2, 2, 2, 4)  # fire modules per level and branch
    stacks: int = 2  # stacked hourglasses, each supervised in training
    feature_channels: int = 256  # the 3x3 conv after each hourglass; heads read these
    pool_channels: int = 128  # the two pooled branches inside each corner pool module
    head_channels: int = 256  # hidden 1x1 conv of every head
    sge_groups: int = 32  # SGE groups in the SGE-fire (paper: 32 or 64)
    mask_channels: int = 64  # mask module width (EMANet squeezes 4x too)
    mask_groups: int = 32  # channel groups the mask gate multiplies
    ema_bases: int = 64  # K, EM attention bases
    ema_iters: int = 3  # T, EM iterations
    ema_momentum: float = 0.9  # moving average of the EM bases
    # The E step compares directions (normalised X) at inverse temperature 30; EMANet's
    # code is lambda 1 without normalising, which leaves small features' attention
    # uniform (figures in data/results/em_attention_sweep.json, chapter 6).
    ema_lambda: float = 30.0  # the paper's lambda, the E step's inverse temperature
    ema_normalise: bool = True  # L2-normalise X over channels before EM
    stem_stride: int = STEM_STRIDE  # 4: Mask-CornerNet's stem; 8: CornerNet-Squeeze's
    channel_multiple: int = 8  # scaled channel counts are rounded to a multiple of this

    def __post_init__(self) -> None:
        # Accept lists too (a config read back from JSON); store tuples so configs compare and hash.
        object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))
        object.__setattr__(self, "modules", tuple(int(m) for m in self.modules))
        if len(self.dims) < 2 or len(self.dims) != len(self.modules):
            raise ValueError(
                f"ModelConfig: dims and modules need the same length >= 2, got dims={self.dims}, "
                f"modules={self.modules}"
            )
        if self.width <= 0:
            raise ValueError(f"ModelConfig: width must be > 0, got {self.width}")
        if self.stem_stride not in STEM_STRIDES:
            raise ValueError(f"ModelConfig: stem_stride must be 4 or 8, got {self.stem_stride}")
        if self.stacks < 1:
            raise ValueError(f"ModelConfig: stacks must be >= 1, got {self.stacks}")
        if self.input_size <= 0 or self.input_size % self.input_multiple != 0:
            raise ValueError(
                f"ModelConfig: input_size={self.input_size} must be a positive multiple of "
                f"{self.input_multiple} (stem stride {self.stem_stride} x 2^{len(self.dims) - 1} hourglass halvings)"
            )

    @property
    def input_multiple(self) -> int:
        """Input sides must be divisible by this: the stem's stride times the hourglass's."""
        return self.stem_stride * 2 ** (len(self.dims) - 1)

    def scale(self, channels: int) -> int:
        """``channels * width`` rounded to a multiple of ``channel_multiple`` (at least one)."""
        m = self.channel_multiple
        return max(m, int(round(channels * self.width / m)) * m)

    @classmethod
    def from_dict(cls, fields: dict) -> "ModelConfig":
        """A config read back from a checkpoint or JSON. Fields that older checkpoints
        lack take the values those checkpoints were trained with (``LEGACY_FIELDS``)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {', '.join(unknown)}")
        return cls(**{**LEGACY_FIELDS, **fields})

    def replace(self, **changes) -> "ModelConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


# What checkpoints written before these fields existed were built with.
LEGACY_FIELDS = {"ema_lambda": 1.0, "ema_normalise": False, "stem_stride": 4}

PAPER = ModelConfig()

# The tiny preset: width 1/16 of the paper on 256x256 inputs (64x64 heatmaps, 128x128
# mask). It keeps every piece of the architecture (two stacks, four hourglass levels,
# all 2-2-2-2-4 fire modules, both corner pools, the mask module with EM attention),
# only thinner: hourglass 16-16-24-24-32 channels, features and heads 16, corner-pool
# branches 8, stem 8, mask module 16 channels with 8 EM bases. Groups of 4 give 4 to 8
# channels per SGE / mask group.
# Why: the goal is a model that learns synthetic 256-pixel scenes from scratch in about
# ten CPU-minutes, i.e. a training step of batch 8 well under a second on 2 cores. The
# cost sits at the stride-4 resolution (stem, corner pools, heads, the C+1-class mask
# logits), not in the hourglass, so the input stays at 256 (signs keep their pixels)
# and the width shrinks. Measured on the shared 2-core machine (fwd + bwd + Adam, batch
# 8, mask-cornernet): width 1/16 about 0.5-0.7 s, width 1/8 about 1.3 s (squeeze:
# 0.5 s vs 0.8 s). ``TINY.replace(width=0.125)`` is the wider alternative (same groups
# are valid) if capacity rather than steps limits recall.
TINY = ModelConfig(
    input_size=256,
    width=0.0625,
    sge_groups=4,
    mask_groups=4,
    mask_channels=256,  # 16 at this width: with 8 the EM attention stays near uniform
    ema_bases=8,
)

# The book preset: twice the tiny width (hourglass 32-32-48-48-64, features 32), the
# same 256-pixel inputs, for runs of a couple of CPU-hours. Groups of 8 keep 4 to 8
# channels per SGE / mask group.
BOOK = ModelConfig(
    input_size=256,
    width=0.125,
    sge_groups=8,
    mask_groups=8,
    mask_channels=128,  # 16 at this width, as in the tiny preset
    ema_bases=8,
)

PRESETS: dict[str, ModelConfig] = {"paper": PAPER, "book": BOOK, "tiny": TINY}


def get_preset(name: str) -> ModelConfig:
    """The ``ModelConfig`` of preset ``name`` (paper, book or tiny)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return PRESETS[name]


@dataclass(frozen=True)
class Variant:
    """One row of the paper's ablation table: which of the three changes are switched on."""

    name: str
    fusion: bool = False
    sge_fire: bool = False
    mask: bool = False


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("cornernet-squeeze"),
        Variant("cornernet-fusion", fusion=True),
        Variant("cornernet-fire", sge_fire=True),
        Variant("cornernet-mask", mask=True),
        Variant("mask-cornernet", fusion=True, sge_fire=True, mask=True),
    )
}


def get_variant(name: str) -> Variant:
    """The ``Variant`` called ``name`` (one of the five in ``VARIANTS``)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; valid variants: {', '.join(VARIANTS)}")
    return VARIANTS[name]
