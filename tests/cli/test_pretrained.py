"""``mcn --version`` and ``mcn predict --pretrained``: the package's own trained models
from the command line, and the one-line errors around them."""

from __future__ import annotations

import json

import cv2
import pytest

from tests.cli.running import assert_one_line_error, run_cli


def test_version_is_the_package_version(capsys):
    import mcn

    status, out, _ = run_cli(["--version"], capsys)
    assert status == 0 and out.strip() == f"mcn {mcn.__version__}"



@pytest.mark.slow
def test_predict_with_the_pretrained_model(tmp_path, capsys):
    from mcn.data import SyntheticSigns
    from mcn.checkpoint import WEIGHTS, load_model, shipped_checkpoint

    classes = list(load_model(shipped_checkpoint("mask-cornernet", "tiny"))[1]["classes"])
    image, target = SyntheticSigns(2, 256, seed=2, classes=classes)[1]
    scene = tmp_path / "scene.png"
    cv2.imwrite(str(scene), cv2.cvtColor(image.permute(1, 2, 0).numpy(), cv2.COLOR_RGB2BGR))
    status, out, err = run_cli(["predict", str(scene), "--pretrained", "--preset", "tiny",
                                "--out", str(tmp_path / "pred"), "--device", "cpu"], capsys)
    assert status == 0, err
    predictions = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    assert predictions["provenance"]["checkpoint"] == str(WEIGHTS / "tiny" / "mask-cornernet.pt")
    assert predictions["classes"] == classes
    found = {o["category"] for o in predictions["images"][0]["objects"]}
    assert found & {classes[label] for label in target["labels"].tolist()}, predictions
    status, out, err = run_cli(["predict", "--pretrained", "cornernet-fire", "--preset", "tiny", str(scene), "--out",
                                str(tmp_path / "fire"), "--device", "cpu"], capsys)
    assert status == 0, err
    provenance = json.loads((tmp_path / "fire" / "predictions.json").read_text())["provenance"]
    assert provenance["variant"] == "cornernet-fire"



def test_pretrained_mistakes_are_one_line(workspace, tmp_path, capsys):
    scene = workspace / "synth" / "test" / "0.jpg"
    out = ["--out", str(tmp_path / "p"), "--device", "cpu"]
    status, _, err = run_cli(["predict", "--pretrained", "resnet", str(scene), *out], capsys)
    assert_one_line_error(status, err, "--pretrained: no pretrained 'resnet' in preset",
                          "available: cornernet-squeeze, mask-cornernet")
    status, _, err = run_cli(["predict", "--pretrained", "--preset", "huge", str(scene), *out], capsys)
    assert_one_line_error(status, err, "no pretrained preset 'huge'; available: ", "tiny")
    status, _, err = run_cli(["predict", "--pretrained", str(scene), *out], capsys)
    assert_one_line_error(status, err, "no image files given", "put the images before --pretrained")
    status, _, err = run_cli(["predict", "--checkpoint", str(workspace / "run" / "last.pt"),
                              "--preset", "tiny", str(scene), *out], capsys)
    assert_one_line_error(status, err, "--preset goes with --pretrained")
