"""Training-step time of the current code against an earlier revision, interleaved.

A full training step (targets, forward, the detection loss, backward, clipping, Adam)
of one preset, batch and thread count, timed by two worker processes
(``step_worker.py``): one imports the working tree's ``mcn``, the other the package as
it was at git revision ``--baseline`` (exported with ``git archive``). They take turns,
a few steps each, for several rounds, so both see the same load on a shared machine;
the figure that counts is the ratio of their medians. Taught in chapter 9.

    mcn bench train_step [--presets tiny book] [--baseline REV] [--rounds 8] [--steps 3]

writes data/results/bench_train_step.json with the provenance of both sides.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from mcn.models import get_preset
from mcn.provenance import provenance, write_json

DEFAULT_OUT = Path("data/results/bench_train_step.json")
#: the commit before the E step moved to the (B, K, N) layout
DEFAULT_BASELINE = "a810fe6"
REPOSITORY = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("step_worker.py")


class Worker:
    """A step_worker.py process importing ``mcn`` from ``package_root``."""

    def __init__(self, package_root: Path, spec: dict) -> None:
        env = {**os.environ, "PYTHONPATH": str(package_root), "OMP_NUM_THREADS": str(spec["threads"])}
        self.process = subprocess.Popen([sys.executable, str(WORKER), json.dumps(spec)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env=env, cwd=package_root)
        if self._read() != "ready":
            raise RuntimeError(f"step worker for {package_root} did not start")

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"step worker exited with code {self.process.wait()}")
        return json.loads(line)

    def steps(self, count: int) -> list[float]:
        self.process.stdin.write(f"{count}\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def export_revision(revision: str, into: Path) -> Path:
    """The ``mcn`` package of git ``revision`` written under ``into``; returns ``into``."""
    archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", revision, "mcn"],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise ValueError(f"--baseline {revision}: git archive failed: "
                         f"{archive.stderr.decode().strip().splitlines()[-1]}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def compare(spec: dict, baseline_root: Path, rounds: int, steps: int) -> dict:
    """Median step seconds of the baseline and the current code, taking turns."""
    sides = {"baseline": Worker(baseline_root, spec), "current": Worker(REPOSITORY, spec)}
    times: dict[str, list[float]] = {name: [] for name in sides}
    try:
        for _ in range(rounds):
            for name, worker in sides.items():
                times[name] += worker.steps(steps)
    finally:
        for worker in sides.values():
            worker.close()
    median = {name: statistics.median(t) for name, t in times.items()}
    return {"baseline_ms": round(1000 * median["baseline"], 1),
            "current_ms": round(1000 * median["current"], 1),
            "speedup": round(median["baseline"] / median["current"], 3),
            "times_ms": {name: [round(1000 * t, 1) for t in ts] for name, ts in times.items()}}


def step_spec(preset: str, variant: str, batch: int, threads: int, classes: int) -> dict:
    from mcn.classes import top_classes

    names = list(top_classes(classes))
    return {"model_config": dataclasses.asdict(get_preset(preset)), "variant": variant,
            "batch": batch, "threads": threads, "classes": names}


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "book"])
    parser.add_argument("--variants", nargs="+", default=["mask-cornernet", "cornernet-squeeze"])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision to compare with")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--classes", type=int, default=10, help="the N most frequent type42 classes (top_classes)")
    parser.add_argument("--rounds", type=int, default=8, help="turns each side takes")
    parser.add_argument("--steps", type=int, default=3, help="steps per turn")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for name in ("batch", "threads", "classes", "rounds", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    for preset in args.presets:
        get_preset(preset)  # a clear error for an unknown preset
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        baseline_root = export_revision(args.baseline, Path(folder))
        for preset in args.presets:
            for variant in args.variants:
                spec = step_spec(preset, variant, args.batch, args.threads, args.classes)
                row = {"preset": preset, "variant": variant, "batch": args.batch,
                       **compare(spec, baseline_root, args.rounds, args.steps)}
                rows.append(row)
                print(f"train step {variant:18s} {preset:5s}: baseline {row['baseline_ms']:.0f} ms, "
                      f"current {row['current_ms']:.0f} ms, speed-up x{row['speedup']:.2f}", flush=True)
    settings = {k: getattr(args, k) for k in ("presets", "variants", "baseline", "batch", "threads",
                                              "classes", "rounds", "steps")}
    record = provenance(config=settings, seed=0, device="cpu", load_average=list(os.getloadavg()))
    path = write_json(args.out, {"provenance": record, "train_step": rows})
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
