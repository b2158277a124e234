"""Checkpoints: everything needed to continue a run exactly where it stopped, and the
trained model they hold.

Taught in chapter 9 (saving and resuming, ``save_checkpoint``, ``load_checkpoint``) and
used from chapter 3 on to load the trained models that travel inside the package
(``load_model``; ``pretrained(variant, preset)`` and ``shipped_checkpoint`` find them
in ``mcn/weights/<preset>/<variant>.pt``).

A checkpoint is one ``torch.save`` file holding a plain dictionary:

=============  ==============================================================
key            contents
=============  ==============================================================
format         ``CHECKPOINT_FORMAT``, so that a foreign file is recognised
variant        model variant (e.g. "mask-cornernet")
model_preset   model size preset ("tiny", "book" or "paper")
num_classes    number of heatmap channels
classes        the category names, in label order
iteration      optimiser steps taken so far
config         the training configuration, as a dict
model_config   the ``ModelConfig`` sizes the network was built with, as a dict
data           the data specification of the run
model          the model's ``state_dict`` (parameters and buffers: BN statistics and
               the EM-attention bases)
optimizer      the optimiser's ``state_dict`` (Adam moments and step counts)
scheduler      the learning-rate scheduler's ``state_dict``
scaler         the AMP gradient scaler's ``state_dict``
rng            random generator states: torch (CPU and CUDA), NumPy, Python
best_metric    best validation score so far (or None)
averaged       where the weights are an average (``mcn.train.average``): the
               checkpoints and iterations averaged; absent otherwise
checksum       "sha256:" and the SHA-256 of all the other entries (``content_checksum``)
=============  ==============================================================

The data order needs no state of its own: it is a pure function of (seed, iteration)
(``mcn.data.stream.sample_index``), and both are in the file. Weights-only copies
(``save_weights``) keep the keys of ``INFERENCE_KEYS``: they load for inference, not
for resuming.

Files are written atomically: to a temporary file in the same folder, flushed to disk,
then renamed over the target. A run killed while saving therefore leaves the previous
checkpoint intact, never a half-written one under the real name. The checksum covers
the contents, not the file's bytes: ``load_checkpoint`` recomputes it from what it read
and refuses a file whose numbers changed on disk (flipped bits that still unpickle).
Files written before checkpoints carried one (the shipped weights, older runs) load
without the check.
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import numpy as np
import torch

from mcn.models import MaskCornerNet, ModelConfig, build_model, get_preset

CHECKPOINT_FORMAT = "mcn-checkpoint-1"

#: Keys every training checkpoint has; ``load_checkpoint`` checks them.
REQUIRED_KEYS = ("format", "variant", "num_classes", "model", "iteration", "config")

#: Keys a checkpoint keeps when it is shipped for inference only (``save_weights``).
INFERENCE_KEYS = ("variant", "model_preset", "model_config", "num_classes", "classes",
                  "iteration", "config", "data", "model", "best_metric", "averaged")

class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: corrupt, truncated, or for another model."""


def content_checksum(state: Mapping[str, Any]) -> str:
    """"sha256:<hex>" of every entry of ``state`` but "checksum": keys, values, and each
    tensor's dtype, shape and bytes. It depends on the contents only, not on how torch
    lays out the file, so any torch version computes the same from the same checkpoint."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in state.items() if k != "checksum"})
    return f"sha256:{digest.hexdigest()}"


def _feed(digest: Any, value: Any) -> None:
    if torch.is_tensor(value):
        flat = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"tensor {flat.dtype} {tuple(value.shape)}\n".encode())
        digest.update(flat.view(torch.uint8).numpy())
    elif isinstance(value, Mapping):
        digest.update(f"dict {len(value)}\n".encode())
        for key in sorted(value, key=repr):  # the same order whatever the insertion order
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):  # both unpickle as they were; one form to hash
        digest.update(f"list {len(value)}\n".encode())
        for item in value:
            _feed(digest, item)
    else:  # str, int, float (repr is exact), bool, None
        digest.update(f"{type(value).__name__} {value!r}\n".encode())


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` and its checksum to ``path`` atomically (temporary file, fsync,
    rename, fsync of the folder), first removing temporary files that killed writers of
    ``path`` left behind."""
    path = Path(path)
    payload = {"format": CHECKPOINT_FORMAT, **state}
    payload["checksum"] = content_checksum(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_folder(path.parent)  # the rename itself survives a power cut
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete ``.NAME.tmp-PID`` files next to ``path`` whose writing process is gone."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's) or we cannot tell: keep its file
    return True


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":  # folders cannot be opened for fsync elsewhere
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by ``save_checkpoint``; clear errors otherwise.

    Raises FileNotFoundError when ``path`` does not exist and ``CheckpointError`` (a
    ValueError) when the file is truncated, corrupt (its checksum does not match what it
    holds) or not an mcn checkpoint.
    Loading uses ``weights_only=True``: a checkpoint cannot run code.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - whatever the unpickler trips on, the file is bad
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt and cannot be read "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
            "use an earlier checkpoint (e.g. best.pt or last.pt of the run)"
        ) from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an mcn training checkpoint (no format {CHECKPOINT_FORMAT!r})")
    if "checksum" in state and content_checksum(state) != state["checksum"]:
        raise CheckpointError(f"checksum mismatch: {path} is corrupted (what it holds changed "
                              "after it was saved); use another checkpoint of the run (an "
                              "iter-NNNNNN.pt that --keep kept, or best.pt)")
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}")
    return state


def check_compatible(state: dict, variant: str, num_classes: int, source: str = "checkpoint") -> None:
    """Raise ``CheckpointError`` when ``state`` was trained for another model.

    Names both sides of the mismatch, e.g. "checkpoint is variant cornernet-squeeze but
    the run asks for mask-cornernet".
    """
    if state["variant"] != variant:
        raise CheckpointError(
            f"{source} is variant {state['variant']!r} but the run asks for {variant!r}"
        )
    if int(state["num_classes"]) != int(num_classes):
        raise CheckpointError(
            f"{source} has {state['num_classes']} classes but the run asks for {num_classes}"
        )


# --------------------------------------------------------------------------- the model

def nonfinite_tensors(tensors: dict[str, Any]) -> list[str]:
    """Names of the floating-point tensors of ``tensors`` holding a NaN or an infinity."""
    return [name for name, t in tensors.items()
            if torch.is_tensor(t) and t.is_floating_point() and not bool(torch.isfinite(t).all())]


def stored_model_config(state: dict[str, Any]) -> ModelConfig | None:
    """The ``ModelConfig`` saved in a checkpoint (None for checkpoints without one)."""
    fields = state.get("model_config")
    if fields is None:
        return None
    return ModelConfig.from_dict(fields)


def run_input_side(state: dict[str, Any]) -> int | None:
    """The side the checkpoint's run evaluated at (its ``eval_input_size`` or
    ``input_size``), or None when the checkpoint does not say."""
    config = state.get("config") or {}
    side = config.get("eval_input_size") or config.get("input_size")
    return int(side) if isinstance(side, int) else None


def load_weights(model: torch.nn.Module, state: dict[str, Any], source: str | os.PathLike) -> None:
    """Put a checkpoint's weights into ``model``; ``CheckpointError`` naming ``source``
    and what differs (variant, missing, unexpected and reshaped weights) when they do not fit."""
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        stored = state.get("variant")
        what = (f"{source} is a {stored}, not a" if stored != model.variant
                else f"{source}: the weights do not fit a")
        raise CheckpointError(f"{what} {model.variant} with {model.num_classes} classes: "
                              f"{weight_differences(model.state_dict(), state['model'])}") from err


def weight_differences(expected: Mapping[str, Any], found: Mapping[str, Any]) -> str:
    """What keeps ``found`` from loading where ``expected`` is: counts of missing,
    unexpected and reshaped tensors, each with its first example."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    reshaped = [k for k in expected if k in found and torch.is_tensor(found[k])
                and tuple(found[k].shape) != tuple(expected[k].shape)]
    parts = [f"{len(missing)} weights missing" + (f" (e.g. {missing[0]})" if missing else ""),
             f"{len(unexpected)} unexpected" + (f" (e.g. {unexpected[0]})" if unexpected else "")]
    if reshaped:
        k = reshaped[0]
        parts.append(f"{len(reshaped)} of another shape (e.g. {k}: {tuple(found[k].shape)} in "
                     f"the file, {tuple(expected[k].shape)} here)")
    return ", ".join(parts)


def load_model(checkpoint: str | os.PathLike, device: str | torch.device = "cpu"
               ) -> tuple[MaskCornerNet, dict[str, Any]]:
    """The model stored in a checkpoint, in eval mode on ``device``.

    Returns (model, state) where state is the checkpoint dict (config, classes,
    iteration...). Errors name the file: missing, corrupt, or weights that do not fit.
    """
    state = load_checkpoint(checkpoint, map_location="cpu")
    broken = nonfinite_tensors(state["model"])
    if broken:  # such a model detects nothing, silently
        raise CheckpointError(f"checkpoint {checkpoint} holds non-finite weights ({len(broken)} "
                              f"tensors, e.g. {broken[0]}); use an earlier checkpoint of the run")
    model = model_from_state(state, f"checkpoint {checkpoint}")
    return model.to(device).eval(), state


def model_from_state(state: dict[str, Any], source: str) -> MaskCornerNet:
    """The network a checkpoint dict describes, built at the sizes it was trained with and
    holding its weights (on the CPU, in training mode); errors name ``source``."""
    sizes = stored_model_config(state) or get_preset(state.get("model_preset", "paper"))
    run_side = run_input_side(state)
    if run_side is not None:  # trained at another side than the preset's: use the run's
        sizes = sizes.replace(input_size=run_side)
    model = build_model(state["variant"], int(state["num_classes"]), sizes)
    load_weights(model, state, source)
    return model


def save_weights(checkpoint: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """Copy a training checkpoint without optimiser, scheduler and RNG states.

    The result loads with ``load_model`` and ``mcn eval`` (it cannot resume training):
    about a third of the size, which is what the repository ships.
    """
    state = load_checkpoint(checkpoint)
    return save_checkpoint(destination, {k: state[k] for k in INFERENCE_KEYS if k in state})


#: The trained weights that travel inside the package: WEIGHTS/<preset>/<variant>.pt,
#: inference-only copies (``mcn experiment --ship``, chapter 11).
WEIGHTS = Path(__file__).resolve().parent / "weights"

#: The preset that ``pretrained``, ``shipped_checkpoint`` and ``mcn predict --pretrained``
#: load unless told otherwise.
DEFAULT_PRESET = "book"  # the strongest models the package ships (chapter 11)


def shipped_weights() -> dict[str, list[str]]:
    """The weights the package ships: {preset: [variant, ...]}, both sorted by name."""
    if not WEIGHTS.is_dir():
        return {}
    found = {folder.name: sorted(p.stem for p in folder.glob("*.pt"))
             for folder in sorted(WEIGHTS.iterdir()) if folder.is_dir()}
    return {preset: variants for preset, variants in found.items() if variants}


def shipped_checkpoint(variant: str = "mask-cornernet", preset: str = DEFAULT_PRESET
                       ) -> Path | None:
    """The trained checkpoint of ``variant`` in ``preset`` that the package ships, or None.

    Taught in chapter 11, which trains and ships them. The files are package data
    (``mcn/weights/<preset>/<variant>.pt``): a clone, an editable install and an
    installed wheel all have them.
    """
    path = WEIGHTS / preset / f"{variant}.pt"
    return path if path.is_file() else None


def pretrained_path(variant: str = "mask-cornernet", preset: str = DEFAULT_PRESET) -> Path:
    """The shipped checkpoint of ``variant`` in ``preset``; ValueError naming what there is."""
    available = shipped_weights()
    if preset not in available:
        presets = ", ".join(available) or "none (the package was installed without its weights)"
        raise ValueError(f"no pretrained preset {preset!r}; available: {presets}")
    if variant not in available[preset]:
        raise ValueError(f"no pretrained {variant!r} in preset {preset!r}; available: "
                         f"{', '.join(available[preset])}")
    return WEIGHTS / preset / f"{variant}.pt"


class Pretrained(NamedTuple):
    """A trained model in eval mode and the names of the classes its labels index."""

    model: MaskCornerNet
    classes: list[str]


def pretrained(variant: str = "mask-cornernet", preset: str = DEFAULT_PRESET,
               device: str | torch.device = "cpu") -> Pretrained:
    """One of the trained models the package ships, ready to detect: (model, classes).

    ``model, classes = mcn.pretrained()`` then ``predict_image(model, image)`` and
    ``draw_prediction(image, found, classes)``. Raises ValueError naming the presets and
    variants there are when ``preset`` or ``variant`` is not among them.
    """
    model, state = load_model(pretrained_path(variant, preset), device)
    return Pretrained(model, list(state["classes"]))


# --------------------------------------------------------------------------- RNG states

def rng_state() -> dict[str, Any]:
    """The states of every random generator the trainer touches.

    NumPy's and Python's states are turned into tensors and lists, so that the file
    loads with ``weights_only=True``.
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators saved by ``rng_state``."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
