"""Running ``mcn`` in this process for the command-line tests, and what a one-line error
looks like."""

from __future__ import annotations

from mcn.cli import main


SMALL_TRAIN = ["--preset", "tiny", "--iters", "2", "--batch-size", "2", "--input-size", "64",
               "--image-size", "128", "--train-images", "4", "--val-images", "2",
               "--workers", "0", "--classes", "top3", "--device", "cpu", "--quiet",
               "--threads", "1"]


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``mcn ARGS`` in this process: (exit status, stdout, stderr)."""
    try:
        status = main(args)
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mcn ") and "error:" in lines[0]
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
