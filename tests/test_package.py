"""The package on its own: a wheel built from the repository, installed into a fresh
virtual environment, runs the README's quick start from a folder outside the repository
with the trained weights it carries."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import pytest
import torch

import mcn
from mcn.data import SyntheticSigns
from mcn.decode import box_iou
from mcn.checkpoint import DEFAULT_PRESET, WEIGHTS, shipped_weights

ROOT = Path(__file__).resolve().parents[1]
SCENE_SEED, SCENE_INDEX = 2, 1  # a held-out scene with four signs, three of them found


def quick_start_blocks(language: str) -> list[str]:
    """The ```LANGUAGE blocks of the README's "Use the package" section."""
    section = (ROOT / "README.md").read_text().split("## Use the package", 1)[1]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def quick_start_python() -> str:
    """The README's five lines of Python (load, read, detect, draw)."""
    code = quick_start_blocks("python")[0]
    assert len(code.strip().splitlines()) == 5, code
    return code


def quick_start_command() -> list[str]:
    """The README's ``mcn predict`` command line."""
    lines = [line for block in quick_start_blocks("bash") for line in block.splitlines()
             if line.startswith("mcn predict")]
    assert len(lines) == 1, lines
    return shlex.split(lines[0])


def run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a command without this checkout on the path; fail with its output."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{shlex.join(map(str, args))}\n{done.stdout}\n{done.stderr}"
    return done


def build_wheel(out: Path) -> Path:
    """``pip wheel`` of a copy of the package's sources (no stale build/ folder)."""
    source = out / "source"
    shutil.copytree(ROOT / "mcn", source / "mcn",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    done = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                "--no-index", "--wheel-dir", str(out / "dist"), str(source)], cwd=out)
    assert "deprecat" not in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
    wheels = list((out / "dist").glob("mcn-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def fresh_environment(folder: Path, wheel: Path) -> Path:
    """A new virtual environment with the wheel installed; returns its bin/ folder.

    The dependencies (torch, OpenCV, ...) come from this interpreter's site-packages,
    put on the new environment's path by a .pth file: nothing is downloaded.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True,
                   timeout=120)
    bin_dir = folder / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  cwd=folder).stdout.strip()
    (Path(purelib) / "outer_site_packages.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", str(wheel)], cwd=folder)
    return bin_dir


def write_scene(path: Path, classes: list[str]) -> dict[str, torch.Tensor]:
    """A held-out synthetic scene as an image file; returns its ground truth."""
    image, target = SyntheticSigns(SCENE_INDEX + 1, 256, seed=SCENE_SEED, classes=classes)[SCENE_INDEX]
    rgb = image.permute(1, 2, 0).numpy()
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return target


def signs_found(boxes: list[list[float]], labels: list[int], target: dict) -> int:
    """Ground-truth signs matched by a detection of their class at IoU >= 0.5."""
    if not boxes:
        return 0
    iou = box_iou(torch.tensor(boxes, dtype=torch.float32), target["boxes"])
    same = torch.tensor(labels)[:, None] == target["labels"][None]
    return int(((iou >= 0.5) & same).any(0).sum())


def test_the_readme_quick_start_uses_the_package_api():
    code = quick_start_python()
    assert "mcn.pretrained(" in code and "street.jpg" in code
    command = quick_start_command()
    assert command[:2] == ["mcn", "predict"] and "--pretrained" in command


def test_the_weights_live_in_the_package_once():
    assert WEIGHTS == ROOT / "mcn" / "weights"
    assert DEFAULT_PRESET in shipped_weights()
    assert not (ROOT / "data" / "checkpoints").exists(), "one copy of the weights: mcn/weights/"


@pytest.mark.slow
def test_the_wheel_brings_the_weights_and_runs_the_readme_outside_the_repository(tmp_path):
    wheel = build_wheel(tmp_path / "build")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(p.relative_to(ROOT).as_posix() for p in WEIGHTS.glob("*/*.pt"))
    assert shipped and sorted(n for n in names if n.endswith(".pt")) == shipped
    assert "mcn/predict.py" in names and not any(n.startswith(("data/", "tests/", "book/")) for n in names)

    bin_dir = fresh_environment(tmp_path / "env", wheel)
    work = tmp_path / "work"  # outside the repository: only the installed package is seen
    work.mkdir()
    target = write_scene(work / "street.jpg", mcn.pretrained().classes)

    where = run([str(bin_dir / "python"), "-c", "import mcn; print(mcn.__file__, mcn.__version__)"],
                cwd=work).stdout.split()
    env = (tmp_path / "env").resolve()
    assert Path(where[0]).resolve().is_relative_to(env) and where[1] == mcn.__version__
    assert run([str(bin_dir / "mcn"), "--version"], cwd=work).stdout.strip() == f"mcn {mcn.__version__}"

    # The README's Python, then a line that reports what it found.
    report = ("\nkeep = found['scores'] >= 0.3\nimport json\n"
              "print(json.dumps({'boxes': found['boxes'][keep].tolist(), "
              "'labels': found['labels'][keep].tolist()}))\n")
    done = run([str(bin_dir / "python"), "-c", quick_start_python() + report], cwd=work)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert signs_found(found["boxes"], found["labels"], target) >= 1, found
    drawn = cv2.imread(str(work / "street-signs.png"))
    assert drawn is not None and drawn.shape[:2] == (256, 256)

    # The README's command line.
    command = quick_start_command()
    run([str(bin_dir / command[0]), *command[1:]], cwd=work)
    out = work / command[command.index("--out") + 1]
    predictions = json.loads((out / "predictions.json").read_text())
    objects = predictions["images"][0]["objects"]
    boxes = [[o["bbox"][k] for k in ("xmin", "ymin", "xmax", "ymax")] for o in objects]
    labels = [predictions["classes"].index(o["category"]) for o in objects]
    assert signs_found(boxes, labels, target) >= 1, objects
    assert Path(predictions["provenance"]["checkpoint"]).resolve().is_relative_to(env)
    assert (out / "street.png").is_file()
