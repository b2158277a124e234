"""Checkpoints: atomic writes, clear errors for broken or foreign files, RNG round trip."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
import torch

import mcn.checkpoint as checkpoint
from mcn.checkpoint import (CheckpointError, check_compatible, load_checkpoint, rng_state,
                            save_checkpoint, set_rng_state)


def a_state(**changes) -> dict:
    state = {"variant": "mask-cornernet", "num_classes": 3, "iteration": 7,
             "model": {"w": torch.arange(6.0).reshape(2, 3)}, "config": {"lr": 1e-3, "size": (64, 64)}}
    state.update(changes)
    return state


def test_save_then_load_gives_the_same_state(tmp_path):
    path = save_checkpoint(tmp_path / "sub" / "last.pt", a_state())
    loaded = load_checkpoint(path)
    assert loaded["iteration"] == 7 and loaded["config"] == {"lr": 1e-3, "size": (64, 64)}
    assert torch.equal(loaded["model"]["w"], torch.arange(6.0).reshape(2, 3))
    assert loaded["format"] == checkpoint.CHECKPOINT_FORMAT
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["last.pt"]  # no temporary left


def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", a_state(iteration=1))

    def dies_half_way(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, a_state(iteration=2))
    monkeypatch.undo()
    assert load_checkpoint(path)["iteration"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_checkpoint_is_reported_and_others_stay_usable(tmp_path, keep):
    good = save_checkpoint(tmp_path / "best.pt", a_state())
    data = good.read_bytes()
    broken = tmp_path / "last.pt"
    broken.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match="last.pt is truncated or corrupt"):
        load_checkpoint(broken)
    assert load_checkpoint(good)["iteration"] == 7


def test_foreign_files_are_refused_with_their_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt does not exist"):
        load_checkpoint(tmp_path / "nothing.pt")
    plain = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(2)}, plain)  # a state_dict, not a training checkpoint
    with pytest.raises(CheckpointError, match="weights.pt is not an mcn training checkpoint"):
        load_checkpoint(plain)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.pt is truncated or corrupt"):
        load_checkpoint(text)
    incomplete = save_checkpoint(tmp_path / "partial.pt", {"variant": "mask-cornernet"})
    with pytest.raises(CheckpointError, match="lacks num_classes, model, iteration, config"):
        load_checkpoint(incomplete)


def test_check_compatible_names_both_sides():
    state = a_state()
    check_compatible(state, "mask-cornernet", 3)  # no error
    with pytest.raises(CheckpointError, match="'mask-cornernet' but the run asks for 'cornernet-fire'"):
        check_compatible(state, "cornernet-fire", 3)
    with pytest.raises(CheckpointError, match="3 classes but the run asks for 42"):
        check_compatible(state, "mask-cornernet", 42)


def test_rng_states_round_trip_through_a_file(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    path = save_checkpoint(tmp_path / "rng.pt", a_state(rng=rng_state()))
    expected = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    set_rng_state(load_checkpoint(path)["rng"])
    assert (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()) == expected


def test_load_model_refuses_weights_that_do_not_fit(tmp_path):
    from mcn.models import build_model
    from mcn.checkpoint import load_model

    model = build_model("cornernet-squeeze", 2, "tiny")
    state = a_state(variant="cornernet-squeeze", num_classes=2, model=model.state_dict(),
                    model_preset="tiny")
    good = save_checkpoint(tmp_path / "good.pt", state)
    loaded, _ = load_model(good)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    bad = save_checkpoint(tmp_path / "bad.pt", {**state, "num_classes": 5})
    with pytest.raises(CheckpointError, match="do not fit a cornernet-squeeze with 5 classes"):
        load_model(bad)


def test_a_killed_writers_temporary_file_is_removed_and_a_live_ones_kept(tmp_path):
    import subprocess
    import sys

    from mcn.checkpoint import save_checkpoint

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead_pid = int(finished.stdout)  # that process has exited
    stale = tmp_path / f".last.pt.tmp-{dead_pid}"
    stale.write_bytes(b"half a checkpoint")
    live = tmp_path / ".last.pt.tmp-1"  # pid 1 is always running
    live.write_bytes(b"being written")
    other = tmp_path / f".best.pt.tmp-{dead_pid}"  # another file's temporary: not ours to judge
    other.write_bytes(b"x")
    save_checkpoint(tmp_path / "last.pt", {"iteration": 3})
    assert not stale.exists() and live.exists() and other.exists()
    assert (tmp_path / "last.pt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".best.pt.tmp-" + str(dead_pid),
                                                          ".last.pt.tmp-1", "last.pt"]


def flip_bytes_in_largest_tensor(path, count: int = 64) -> None:
    """Invert ``count`` bytes in the middle of the largest tensor record of a checkpoint
    (a torch zip file), where they change numbers but not the file's structure."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        record = max((i for i in archive.infolist() if "/data/" in i.filename),
                     key=lambda i: i.file_size)
    data = bytearray(path.read_bytes())
    # local header: 30 bytes, then the name and the extra field, then the stored bytes
    name_length, extra_length = (int.from_bytes(data[record.header_offset + k:record.header_offset + k + 2],
                                                "little") for k in (26, 28))
    start = record.header_offset + 30 + name_length + extra_length + record.file_size // 2
    for k in range(start, start + count):
        data[k] ^= 0xFF
    path.write_bytes(bytes(data))


def test_flipped_bytes_are_refused_with_a_checksum_mismatch(tmp_path):
    path = save_checkpoint(tmp_path / "last.pt", a_state(model={"w": torch.arange(4096.0)},
                                                         optimizer={"exp_avg": torch.ones(4096)}))
    assert load_checkpoint(path)["iteration"] == 7
    flip_bytes_in_largest_tensor(path)
    with pytest.raises(CheckpointError, match=r"checksum mismatch: .*last.pt is corrupted"):
        load_checkpoint(path)


def test_the_checksum_covers_every_value_not_only_the_weights():
    reference = checkpoint.content_checksum(a_state())
    assert checkpoint.content_checksum(a_state()) == reference  # a pure function of the contents
    for changed in (a_state(iteration=8), a_state(config={"lr": 1e-3, "size": (64, 65)}),
                    a_state(model={"w": torch.arange(6.0).reshape(3, 2)}),  # same bytes, other shape
                    a_state(model={"w": torch.arange(6.0, dtype=torch.float64).reshape(2, 3)})):
        assert checkpoint.content_checksum(changed) != reference


def test_a_checkpoint_without_a_checksum_still_loads(tmp_path):
    """Files written before checkpoints carried a checksum (e.g. the shipped weights)."""
    old = tmp_path / "old.pt"
    torch.save({"format": checkpoint.CHECKPOINT_FORMAT, **a_state()}, old)
    assert "checksum" not in torch.load(old, weights_only=True)
    assert load_checkpoint(old)["iteration"] == 7
    from mcn.checkpoint import load_model, shipped_checkpoint
    shipped = shipped_checkpoint("cornernet-squeeze", "tiny")
    model, state = load_model(shipped)
    assert model.variant == "cornernet-squeeze" and state["iteration"] > 0


def test_weights_in_the_wrong_variant_say_what_differs(tmp_path):
    from mcn.checkpoint import load_weights
    from mcn.models import build_model

    squeeze = build_model("cornernet-squeeze", 3, "tiny").state_dict()
    target = build_model("mask-cornernet", 3, "tiny")
    with pytest.raises(CheckpointError) as caught:
        load_weights(target, {"variant": "cornernet-squeeze", "model": squeeze}, "checkpoint x.pt")
    message = str(caught.value)
    assert "checkpoint x.pt is a cornernet-squeeze" in message and "not a mask-cornernet" in message
    assert re.search(r"\d+ weights missing \(e\.g\. \S+\)", message)
    assert len(message) < 400 and "Error(s)" not in message
    wider = build_model("mask-cornernet", 5, "tiny").state_dict()
    with pytest.raises(CheckpointError, match=r"\d+ of another shape \(e\.g\. \S+: \([\d, ]+\) in the file, \([\d, ]+\) here\)"):
        load_weights(target, {"variant": "mask-cornernet", "model": wider}, "checkpoint y.pt")


def test_every_shipped_weights_file_carries_a_checksum_that_matches():
    from mcn.checkpoint import WEIGHTS, content_checksum

    files = sorted(WEIGHTS.glob("*/*.pt"))
    assert len(files) >= 7   # five tiny variants, two book-scale models
    for path in files:
        state = torch.load(path, map_location="cpu", weights_only=False)
        assert state.get("checksum") == content_checksum(state), path


def test_a_loaded_model_runs_at_the_side_its_run_evaluated_at(tmp_path):
    from mcn.checkpoint import load_model
    from mcn.models import build_model

    model = build_model("cornernet-squeeze", 2, "tiny")
    state = a_state(variant="cornernet-squeeze", num_classes=2, model=model.state_dict(),
                    model_preset="tiny", config={"input_size": 128})
    assert model.input_size != 128
    assert load_model(save_checkpoint(tmp_path / "a.pt", state))[0].input_size == 128
    state["config"]["eval_input_size"] = 192
    assert load_model(save_checkpoint(tmp_path / "b.pt", state))[0].input_size == 192
    state["config"] = {}  # a checkpoint that does not say keeps the preset's side
    assert load_model(save_checkpoint(tmp_path / "c.pt", state))[0].input_size == model.input_size
