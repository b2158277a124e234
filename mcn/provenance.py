"""Provenance for every file that carries a number: what produced it, where and when.

The book's rule: every run producing a figure (training, evaluation, benchmark)
writes a JSON with the command, config, git commit, seed, torch version, device and
time. ``provenance()`` collects those fields; ``write_json`` writes a results file
atomically (temporary file, then rename) so an interrupted run never leaves half a file.

Used by every chapter that shows a measured number (chapters 9 to 11).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import tempfile
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch


def git_commit(cwd: str | os.PathLike | None = None) -> str | None:
    """The current git commit (with "-dirty" when the tree has changes), or None."""
    where = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
            timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def device_description(device: torch.device | str | None = None) -> str:
    """A human-readable name of the device: the GPU model or the CPU and thread count."""
    device = torch.device(device if device is not None else "cpu")
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    return f"cpu ({cpu}, {torch.get_num_threads()} threads, {os.cpu_count()} cores)"


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (torch.device, Path)):
        return str(value)
    return value


def provenance(
    config: Any = None,
    seed: int | None = None,
    device: torch.device | str | None = None,
    command: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The provenance record: command, config, git commit, seed, versions, device, time."""
    record = {
        "command": portable(command if command is not None else " ".join(sys.argv)),
        "config": _jsonable(config),
        "git_commit": git_commit(),
        "seed": seed,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": device_description(device),
        "num_threads": torch.get_num_threads(),
        "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    record.update({k: _jsonable(v) for k, v in extra.items()})
    return record


def portable(text: str) -> str:
    """``text`` without this machine's folders: paths inside the repository become
    relative to it, paths in the temporary folder start with ``$TMPDIR``."""
    root = str(Path(__file__).resolve().parents[1]) + os.sep
    return text.replace(root, "").replace(tempfile.gettempdir() + os.sep, "$TMPDIR" + os.sep)


def write_json(path: str | os.PathLike, payload: Any) -> Path:
    """Write ``payload`` as indented JSON atomically; returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, default=_jsonable)
        f.write("\n")
    os.replace(tmp, path)
    return path
