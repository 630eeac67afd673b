from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from medsegkit import registry
from medsegkit.cli import app
from medsegkit.errors import DataError
from medsegkit.models import create_model
from medsegkit_extras.losses import SoftDiceLoss


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.delenv("MEDSEGKIT_DISABLE_PLUGINS", raising=False)
    registry.refresh()


def test_parts_are_listed_with_their_distribution():
    result = CliRunner().invoke(app, ["plugins", "list", "--format", "json"])
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)}
    for key in (("attention", "se"), ("losses", "soft-dice"), ("readers", "kvasir-seg")):
        assert rows[key]["distribution"] == "medsegkit-extras" and rows[key]["status"] == "ok"


def test_se_attention_in_s3net():
    model = create_model("s3net", channels=8, num_blocks=1, attention="se")
    logits, extras = model.forward_with_extras(torch.rand(1, 3, 32, 32))
    (logits.std() + extras["aux"].mean()).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_cluster_with_se_and_unknown_without_plugins(tmp_path, monkeypatch):
    runner = CliRunner()
    data = tmp_path / "d"
    assert (
        runner.invoke(
            app, ["prepare", "synthetic-dermoscopy", "--count", "2", "--size", "32", "--out", str(data)]
        ).exit_code
        == 0
    )
    args = [
        "cluster",
        str(data),
        "--attention",
        "se",
        "--size",
        "32",
        "--set",
        "channels=8",
        "--max-iter",
        "2",
        "--set",
        "min_iter=1",
    ]
    ok = runner.invoke(app, [*args, "--out", str(tmp_path / "se")])
    assert ok.exit_code == 0, ok.output
    monkeypatch.setenv("MEDSEGKIT_DISABLE_PLUGINS", "1")
    registry.refresh()
    missing = runner.invoke(app, [*args, "--out", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "unknown attention 'se'; known: " in missing.stderr and "ilka" in missing.stderr


def test_soft_dice():
    target = torch.zeros(1, 1, 8, 8)
    target[..., 2:6, 2:6] = 1
    perfect = (target * 2 - 1) * 50
    assert SoftDiceLoss()(perfect, target) < 1e-3
    assert SoftDiceLoss()(-perfect, target) > 0.9
    weight = torch.zeros(1, 1, 8, 8)
    weight[..., 2:6, 2:6] = 1  # only the lesion counts: predicting everything is then perfect
    assert SoftDiceLoss()(torch.full((1, 1, 8, 8), 50.0), target, weight) < 1e-3


def write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_kvasir_seg_reader_cuts_jpeg_masks(tmp_path, monkeypatch):
    runner = CliRunner()
    src = tmp_path / "Kvasir-SEG-release"
    mask = np.zeros((20, 30), np.uint8)
    mask[5:15, 5:20] = 255
    for i in range(2):
        write(src / "Kvasir-SEG" / "images" / f"cju{i}.jpg", np.full((20, 30, 3), 120, np.uint8))
        write(src / "Kvasir-SEG" / "masks" / f"cju{i}.jpg", mask)  # JPEG: values scatter around 0 and 255
    result = runner.invoke(app, ["prepare", "kvasir-seg", str(src), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert manifest["task"] == "lesion" and manifest["statistics"]["cases"] == 2
    assert abs(manifest["statistics"]["label_pixels"]["lesion"] - 2 * 150) <= 8  # the cut at 128 keeps the square
    write(src / "Kvasir-SEG" / "masks" / "cju1.jpg", np.zeros((10, 10), np.uint8))
    bad = runner.invoke(app, ["prepare", "kvasir-seg", str(src), "--out", str(tmp_path / "out")])
    assert bad.exit_code == 1 and "cju1.jpg: mask is 10x10 but its image cju1.jpg is 30x20" in bad.stderr
    monkeypatch.setenv("MEDSEGKIT_DISABLE_PLUGINS", "1")
    registry.refresh()
    missing = runner.invoke(app, ["prepare", "kvasir-seg", str(src), "--out", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "unknown reader 'kvasir-seg'; known: " in missing.stderr
    with pytest.raises(DataError, match="no cases found"):
        from medsegkit_extras.kvasir import KvasirSEGReader

        (tmp_path / "empty").mkdir()
        KvasirSEGReader().scan(tmp_path / "empty")


def test_soft_dice_in_adapt_and_se_in_the_similarity_head(tmp_path, monkeypatch):
    runner = CliRunner()
    a, b = tmp_path / "a", tmp_path / "b"
    for style, folder in (("a", a), ("b", b)):
        made = runner.invoke(
            app, ["prepare", "synthetic-fundus", "--style", style, *"--count 4 --size 48".split(), "--out", str(folder)]
        )
        assert made.exit_code == 0, made.output
    tiny = "--size 32 --epochs 1 --batch-size 2".split()
    made = runner.invoke(app, ["pretrain-source", "--domain", str(a), *tiny, "--out", str(tmp_path / "src")])
    assert made.exit_code == 0, made.output
    fast = "--loss soft-dice --epochs 1 --batch-size 2 --passes 2 --set head_iters=2 --set radius=1".split()
    args = [
        "adapt",
        "--from",
        "a",
        "--to",
        str(b),
        "--source",
        str(tmp_path / "src" / "best.pt"),
        *fast,
        "--set",
        "attention=se",
    ]
    ok = runner.invoke(app, [*args, "--out", str(tmp_path / "ad")])
    assert ok.exit_code == 0, ok.output
    assert json.loads((tmp_path / "ad" / "refine" / "manifest.json").read_text())["config"]["attention"] == "se"
    monkeypatch.setenv("MEDSEGKIT_DISABLE_PLUGINS", "1")
    registry.refresh()
    missing = runner.invoke(app, [*args, "--out", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "unknown loss 'soft-dice'; known: " in missing.stderr
