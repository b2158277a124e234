"""Messages that say what the user can do: flags, not Python arguments; which size is which."""

from __future__ import annotations

import pytest

from mcn.cli import main
from mcn.classes import top_classes
from mcn.data.synthetic import SyntheticSigns
from mcn.data.tt100k_writer import write_tt100k


def test_an_existing_split_names_the_overwrite_flag(tmp_path):
    scenes = SyntheticSigns(1, 128, 0, top_classes(3))
    write_tt100k(scenes, tmp_path, split="test", progress=False)
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_tt100k(scenes, tmp_path, split="test", progress=False)


def test_size_says_which_size_it_reports(capsys):
    assert main(["size", "--num-classes", "3"]) == 0
    out = capsys.readouterr().out
    assert "weights MiB" in out and "Adam" in out and "ckpt MiB" not in out


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["--debug", "eval", "--checkpoint", str(tmp_path / "x.pt"), "--data", "synth",
              "--out", str(tmp_path)])
