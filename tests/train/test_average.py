"""Weight averaging (``mcn.train.average``, ``mcn average``): the mean of the weights,
batch norm measured again, the other buffers kept, and one-line errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mcn.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from mcn.train import train
from mcn.train.average import average_checkpoints, average_weights, recompute_batch_norm
from tests.cli.running import assert_one_line_error, run_cli
from tests.train.small_runs import small_config


def test_average_weights_is_the_mean_of_floats_and_the_last_of_counters():
    first = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    second = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(7)}
    mean = average_weights([first, second])
    assert torch.equal(mean["w"], torch.tensor([2.0, 4.0]))
    assert mean["n"].item() == 7 and mean["n"].dtype == torch.int64
    with pytest.raises(ValueError, match="other entries"):
        average_weights([first, {"w": first["w"]}])
    with pytest.raises(ValueError, match="no states"):
        average_weights([])


class MovesItsBuffer(nn.Module):
    """Conv + BN, and a buffer its training forward changes (as the EM bases do)."""

    def __init__(self):
        super().__init__()
        self.conv, self.norm = nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)
        self.register_buffer("bases", torch.ones(4))

    def forward(self, x):
        if self.training:
            self.bases.add_(1.0)
        return self.norm(self.conv(x))


def test_recompute_batch_norm_takes_the_equal_weight_mean_and_keeps_other_buffers():
    torch.manual_seed(0)
    model = MovesItsBuffer()
    batches = [torch.randn(2, 3, 5, 5) * (i + 1) + i for i in range(3)]
    with torch.no_grad():
        features = [model.conv(b) for b in batches]
    momentum = model.norm.momentum
    assert recompute_batch_norm(model, batches) == 3
    expected_mean = torch.stack([f.mean(dim=(0, 2, 3)) for f in features]).mean(0)
    expected_var = torch.stack([f.var(dim=(0, 2, 3), unbiased=True) for f in features]).mean(0)
    assert torch.allclose(model.norm.running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(model.norm.running_var, expected_var, atol=1e-4)
    assert torch.equal(model.bases, torch.ones(4))  # put back after the passes moved it
    assert model.norm.momentum == momentum and not model.training
    with pytest.raises(ValueError, match="no batches"):
        recompute_batch_norm(model, [])


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("swa") / "run"
    train(small_config(iters=4, ckpt_every=1, keep=3, lr=1e-2), "synth", run, "cpu", progress=False)
    return run


def test_average_checkpoints_of_a_run_folder(kept_run, tmp_path):
    kept = sorted(kept_run.glob("iter-*.pt"))
    assert [p.name for p in kept] == ["iter-000002.pt", "iter-000003.pt", "iter-000004.pt"]
    out = average_checkpoints([kept_run], tmp_path / "avg.pt", bn_batches=2)
    state = load_checkpoint(out)
    assert state["averaged"] == {"checkpoints": [str(p) for p in kept], "iterations": [2, 3, 4],
                                 "bn_batches": 2}
    assert "optimizer" not in state and state["iteration"] == 4
    weights = [load_checkpoint(p)["model"] for p in kept]
    name = "stem.conv.0.weight"  # the first convolution
    assert not torch.equal(weights[0][name], weights[-1][name])  # the run moved them
    assert torch.allclose(state["model"][name], sum(w[name] for w in weights) / 3, atol=1e-6)
    norm = next(k for k in state["model"] if k.endswith("running_mean"))
    assert not torch.allclose(state["model"][norm], weights[-1][norm])  # measured again
    model, _ = load_model(out)
    assert not model.training
    before = out.read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        average_checkpoints([kept_run], out, bn_batches=1)
    assert out.read_bytes() == before


def test_checkpoints_of_another_model_are_refused(kept_run, tmp_path):
    other = load_checkpoint(kept_run / "last.pt")
    other["variant"] = "cornernet-squeeze"
    save_checkpoint(tmp_path / "other.pt", other)
    with pytest.raises(CheckpointError, match="differs .* in variant"):
        average_checkpoints([kept_run / "iter-000002.pt", tmp_path / "other.pt"], tmp_path / "avg.pt")
    assert not (tmp_path / "avg.pt").exists()


def test_mcn_average_command(kept_run, tmp_path, capsys):
    out = tmp_path / "avg.pt"
    status, printed, err = run_cli(["average", str(kept_run / "iter-000003.pt"),
                                    str(kept_run / "iter-000004.pt"), "--out", str(out),
                                    "--bn-batches", "1", "--threads", "1"], capsys)
    assert status == 0, err
    assert "averaging 2 checkpoints" in printed and out.is_file()
    assert load_checkpoint(out)["averaged"]["iterations"] == [3, 4]
    before = out.read_bytes()
    status, _, err = run_cli(["average", str(kept_run), "--out", str(out)], capsys)
    assert_one_line_error(status, err)
    assert "already exists" in err and out.read_bytes() == before  # never overwritten
    status, _, err = run_cli(["average", str(tmp_path), "--out", str(tmp_path / "b.pt")], capsys)
    assert_one_line_error(status, err)
    assert "no iter-NNNNNN.pt" in err
