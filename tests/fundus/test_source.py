"""`medsegkit pretrain-source` on a tiny synthetic fundus domain."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medsegkit.cli import app
from medsegkit.data.dataset import Dataset
from medsegkit.data.prepare import prepare
from medsegkit.errors import DataError, UsageError
from medsegkit.fundus.config import SourceConfig
from medsegkit.fundus.source import build_model, targets, train_source, validate
from medsegkit.runtime.checkpoint import apply_checkpoint, read_checkpoint
from medsegkit.runtime.precision import resolve_precision

ARGS = ["--size", "32", "--batch-size", "2"]


@pytest.fixture(scope="module")
def fundus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("src")
    out, _ = prepare("synthetic-fundus", None, root / "fundus-a", root, {"count": 6, "size": 48})
    return out


def test_targets_are_cup_and_disc():
    labels = torch.tensor([[[0, 1, 2]]])
    torch.testing.assert_close(targets(labels), torch.tensor([[[[0.0, 0.0, 1.0]], [[0.0, 1.0, 1.0]]]]))


def test_validate_scores_batches_like_single_images():
    """A model that reads the cup and disc off the image's red and green channels, scored in batches of 2 over
    3 images; the third image's disc label is twice its predicted disc: Dice 2·4/(4+8) = 2/3 there."""
    masks = np.zeros((3, 4, 4), np.uint8)
    masks[:, 1:3, 1:3] = 1
    masks[:, 1, 1] = 2
    images = [np.stack([(m == 2) * 255, (m >= 1) * 255, np.zeros_like(m)], axis=-1).astype(np.uint8) for m in masks]
    masks[2, 1:3, 3] = 1  # the third image's labelled disc: 8 pixels
    masks[2, 3, 1:3] = 1

    class Reader(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 20 * (x[:, :2] - 0.5)

    scores = validate(Reader(), images, masks, "cpu", batch=2)
    assert scores["cup"] == pytest.approx(1.0)
    assert scores["disc"] == pytest.approx((1 + 1 + 2 * 4 / (4 + 8)) / 3)
    assert all(np.isnan(v) for v in validate(Reader(), [], None, "cpu").values())


def test_train_writes_checkpoints_config_and_history(runner, fundus, tmp_path):
    result = runner.invoke(
        app, ["pretrain-source", "--domain", str(fundus), "--epochs", "2", *ARGS, "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"best.pt", "last.pt", "config.toml", "history.json"}
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert {h["val_precision"] for h in history} == {resolve_precision("auto", "cpu")}  # validated as predict does
    assert "size = 32" in (tmp_path / "run" / "config.toml").read_text()
    checkpoint = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert checkpoint["config"]["size"] == 32 and checkpoint["epoch"] == 2
    assert checkpoint["device"] == "cpu"  # --device auto, resolved and recorded


def test_set_and_config_reach_the_source_config(runner, fundus, tmp_path):
    config = tmp_path / "source.toml"
    config.write_text("epochs = 1\nhead_dropout = 0.3\n")
    args = ["pretrain-source", "--domain", str(fundus), *ARGS, "--config", str(config), "--set", "head_dropout=0.2"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    saved = (tmp_path / "run" / "config.toml").read_text()
    assert "head_dropout = 0.2" in saved and "epochs = 1" in saved


def test_resume_continues_from_the_saved_epoch(runner, fundus, tmp_path):
    out = str(tmp_path / "run")
    assert (
        runner.invoke(app, ["pretrain-source", "--domain", str(fundus), "--epochs", "1", *ARGS, "--out", out]).exit_code
        == 0
    )
    first = json.loads((tmp_path / "run" / "history.json").read_text())
    again = runner.invoke(app, ["pretrain-source", "--domain", str(fundus), "--epochs", "2", *ARGS, "--out", out])
    assert again.exit_code == 2 and "pass --resume" in again.stderr
    changed = runner.invoke(
        app,
        [
            "pretrain-source",
            "--domain",
            str(fundus),
            "--epochs",
            "2",
            "--size",
            "48",
            "--batch-size",
            "2",
            "--out",
            out,
            "--resume",
        ],
    )
    assert changed.exit_code == 2 and "only --epochs may change" in changed.stderr
    resumed = runner.invoke(
        app, ["pretrain-source", "--domain", str(fundus), "--epochs", "2", *ARGS, "--out", out, "--resume"]
    )
    assert resumed.exit_code == 0, resumed.output
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and history[0] == first[0]


def test_checkpoint_of_another_model_is_a_clear_error(fundus, tmp_path):
    torch.save({"model": {"weight": torch.zeros(3)}}, tmp_path / "odd.pt")
    with pytest.raises(DataError, match="odd.pt: checkpoint does not match the model DeepLabV3Plus"):
        apply_checkpoint(tmp_path / "odd.pt", read_checkpoint(tmp_path / "odd.pt"), build_model(SourceConfig(size=32)))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="last.pt: not a readable checkpoint"):
        train_source(Dataset.open(fundus), tmp_path / "run", SourceConfig(size=32, epochs=1, batch_size=2), resume=True)


@pytest.mark.numeric
def test_training_learns_the_source_domain(fundus, tmp_path):
    result = train_source(
        Dataset.open(fundus),
        tmp_path / "run",
        SourceConfig(size=32, epochs=12, batch_size=2, lr=3e-3, augment="reference"),
    )
    losses = [h["loss"] for h in result["history"]]
    assert sum(losses[-3:]) / 3 < 0.6 * sum(losses[:3]) / 3


def test_bad_configs(runner, tmp_path):
    with pytest.raises(ValueError, match="multiple of 16"):
        SourceConfig(size=50)
    lesion = tmp_path / "derm"
    prepare("synthetic-dermoscopy", None, lesion, tmp_path, {"count": 2, "size": 32})
    with pytest.raises(UsageError, match="needs a fundus dataset"):
        train_source(Dataset.open(lesion), tmp_path / "r", SourceConfig(size=32, batch_size=2))
    bad = runner.invoke(app, ["pretrain-source", "--domain", str(lesion), "--size", "50"])
    assert bad.exit_code == 2 and "multiple of 16" in bad.stderr


def test_several_labelled_domains_train_one_source_model(runner, fundus, tmp_path):
    second, _ = prepare(
        "synthetic-fundus", None, tmp_path / "fundus-b", tmp_path, {"count": 4, "size": 48, "style": "b"}
    )
    out = tmp_path / "both"
    args = ["pretrain-source", "--domain", str(fundus), "--domain", str(second), *ARGS, "--epochs", "1"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    payload = torch.load(out / "last.pt", weights_only=False)
    assert payload["dataset"] == f"{Dataset.open(fundus).name}+{Dataset.open(second).name}"
    twice = runner.invoke(app, ["pretrain-source", "--domain", str(fundus), "--domain", str(fundus), *ARGS])
    assert twice.exit_code == 2 and "names one dataset twice" in twice.stderr
