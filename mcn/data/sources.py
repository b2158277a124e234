"""Where the images come from: a data specification string and the datasets it names.

``--data`` takes "synth" (``SyntheticSigns``, the stand-in for TT100K), "tt100k:ROOT"
(the real Tsinghua-Tencent 100K of Zhu et al., CVPR 2016, or anything written in its
layout) or "coco:ANN.json[:IMAGE_DIR]" (a COCO-format file of one's own).
``build_dataset`` is the one place that turns such a specification and a training
configuration into the training, validation or evaluation dataset. Taught in chapter 9.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from torch.utils.data import Dataset

from mcn.classes import resolve_classes
from mcn.data.check import unreadable_images
from mcn.data.coco import CocoDetection
from mcn.data.synthetic import SyntheticSigns
from mcn.data.tt100k import TT100K

#: The parts of a data specification ``build_dataset`` makes.
PARTS = ("train", "val", "holdout")


class DataConfig(Protocol):
    """The fields of a training configuration (``mcn.train.TrainConfig``) that pick the data."""

    classes: Any  # catalogue name or tuple of category names
    seed: int
    image_size: int  # side of synthetic scenes
    train_images: int  # synthetic training scenes
    val_images: int  # images scored at each validation
    train_signs_per_image: float | None  # mean signs per synthetic training scene
    train_class_balance: str | None  # class mix of synthetic training scenes
    train_oversample: dict | None  # class name -> factor on its weight in training scenes
    train_size_oversample: dict | None  # size bin -> factor on its share in training scenes
    train_lookalikes: float | None  # factor on the look-alikes of training scenes
    class_balance: str  # class mix of the other synthetic scenes


@dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data`` string: kind "synth", "tt100k" or "coco", and its paths."""

    kind: str
    root: Path | None = None
    image_dir: Path | None = None

    def __str__(self) -> str:
        if self.kind == "synth":
            return "synth"
        if self.kind == "tt100k":
            return f"tt100k:{self.root}"
        return f"coco:{self.root}:{self.image_dir}"


def parse_data_spec(spec: str | DataSpec) -> DataSpec:
    """Read "synth", "tt100k:ROOT" or "coco:ANN.json[:IMAGE_DIR]"; check the paths exist.

    COCO images default to the annotation file's folder. Raises ValueError for an
    unknown kind and FileNotFoundError, naming the path, for a missing file or folder.
    A ``DataSpec`` is returned as it is.
    """
    if isinstance(spec, DataSpec):
        return spec
    kind, _, rest = spec.partition(":")
    if kind == "synth" and not rest:
        return DataSpec("synth")
    if kind == "tt100k" and rest:
        root = Path(rest)
        if not root.is_dir():
            raise FileNotFoundError(f"--data {spec}: TT100K folder {root} not found")
        return DataSpec("tt100k", root)
    if kind == "coco" and rest:
        ann, _, image_dir = rest.partition(":")
        ann_path = Path(ann)
        if not ann_path.is_file():
            raise FileNotFoundError(f"--data {spec}: COCO annotation file {ann_path} not found")
        image_path = Path(image_dir) if image_dir else ann_path.parent
        if not image_path.is_dir():
            raise FileNotFoundError(f"--data {spec}: COCO image folder {image_path} not found")
        return DataSpec("coco", ann_path, image_path)
    raise ValueError(f"--data {spec!r}: expected synth, tt100k:ROOT or coco:ANN.json[:IMAGE_DIR]")


def synthetic_seeds(seed: int) -> tuple[int, int]:
    """Scene seeds of the training and validation sets: 2*seed and 2*seed + 1.

    Items of ``SyntheticSigns`` are pure functions of (seed, index), so even and odd
    seeds can never produce the same scene stream.
    """
    return 2 * seed, 2 * seed + 1


class Subset(Dataset):
    """Some items of a dataset, keeping its ``classes`` (torch's Subset drops them)."""

    def __init__(self, dataset: Dataset, indices: list[int]):
        self.dataset, self.indices = dataset, indices
        self.classes = getattr(dataset, "classes", None)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        return self.dataset[self.indices[index]]


def first_items(dataset: Dataset, num: int) -> Dataset:
    """The first ``num`` items of ``dataset`` (the dataset itself when it is no longer)."""
    return Subset(dataset, list(range(num))) if len(dataset) > num else dataset


def build_dataset(data: str | DataSpec, config: DataConfig, part: str, *,
                  num: int | None = None, seed: int | None = None,
                  image_size: int | None = None, split: str | None = None,
                  skip_bad: bool = False) -> Dataset:
    """The "train", "val" or "holdout" part of a data spec, with the config's classes.

    synth: ``SyntheticSigns``, ``train_images`` / ``val_images`` scenes of ``image_size``
    pixels with disjoint seeds (``synthetic_seeds``); the training scenes may be denser or
    differently balanced. tt100k: the "train" / "test" split. coco: the whole file for
    "val" (pass a validation file to ``mcn eval``); for "train" all but the last
    ``val_images`` images (at most a fifth), which training holds out for validation
    ("holdout").

    The keywords replace the config's choice: ``num`` scenes, scene ``seed`` and
    ``image_size`` of synthetic data; the TT100K ``split``. ``skip_bad`` leaves out the
    TT100K or COCO images that are missing or do not decode (``without_bad_images``).
    """
    spec = parse_data_spec(data)
    if part not in PARTS:
        raise ValueError(f"part must be train, val or holdout, got {part!r}")
    classes = config.classes
    if spec.kind == "synth":
        train_seed, val_seed = synthetic_seeds(config.seed)
        side = image_size or config.image_size
        if part == "train":
            density = {} if config.train_signs_per_image is None else {
                "signs_per_image": config.train_signs_per_image}
            return SyntheticSigns(config.train_images if num is None else num, side,
                                  train_seed if seed is None else seed, classes,
                                  class_balance=config.train_class_balance or config.class_balance,
                                  oversample=config.train_oversample,
                                  size_oversample=config.train_size_oversample,
                                  lookalikes=config.train_lookalikes or 1.0, **density)
        return SyntheticSigns(config.val_images if num is None else num, side,
                              val_seed if seed is None else seed, classes,
                              class_balance=config.class_balance)
    if spec.kind == "tt100k":
        tt100k = TT100K(spec.root, split or ("train" if part == "train" else "test"), classes,
                        skip_missing=skip_bad)
        return without_bad_images(tt100k) if skip_bad else tt100k
    dataset = CocoDetection(spec.root, spec.image_dir, skip_missing=skip_bad,
                            classes=None if classes in ("type42", "type45") else classes)
    if skip_bad:
        dataset = without_bad_images(dataset)
    if part == "val":
        return dataset
    held_out = min(config.val_images, len(dataset) // 5)
    cut = len(dataset) - held_out
    indices = range(cut) if part == "train" else range(cut, len(dataset))
    return Subset(dataset, list(indices))


def without_bad_images(dataset: Dataset, progress: bool = False) -> Subset:
    """The items of ``dataset`` whose image decodes (``mcn.data.check.unreadable_images``).

    The result's ``skipped`` lists what was left out, with the images the dataset itself
    skipped as missing (its own ``skipped``); a warning says how many.
    """
    bad = unreadable_images(dataset, progress)
    kept = Subset(dataset, [i for i in range(len(dataset)) if i not in bad])
    kept.skipped = list(getattr(dataset, "skipped", [])) + list(bad.values())
    if kept.skipped:
        warnings.warn(f"skipped {len(kept.skipped)} missing or broken image(s), e.g. "
                      f"{kept.skipped[0]}", stacklevel=2)
    return kept


def skipped_images(dataset: Dataset | None) -> int:
    """How many images ``without_bad_images`` (or a dataset's own ``skip_missing``) left
    out of ``dataset`` or of the dataset it takes items from; 0 for None."""
    while dataset is not None and not hasattr(dataset, "skipped"):
        dataset = getattr(dataset, "dataset", None)
    return 0 if dataset is None else len(dataset.skipped)


def dataset_classes(dataset: Dataset, config: DataConfig) -> tuple[str, ...]:
    """The class names a dataset labels with (a COCO file brings its own)."""
    names = getattr(dataset, "classes", None)
    return tuple(names) if names is not None else resolve_classes(config.classes)


def size_bin_scale(spec: str | DataSpec, config: DataConfig) -> float:
    """Scale of TT100K's size bins for this data (``mcn.evaluate.size_bins``).

    TT100K and COCO: 1 (sizes in original pixels). Synthetic scenes are 512-pixel crops
    of TT100K-like streets, so their signs shrink with ``image_size``: image_size / 512.
    """
    spec = parse_data_spec(spec)
    return config.image_size / 512 if spec.kind == "synth" else 1.0
