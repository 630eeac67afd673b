"""``medsegkit export``: nnU-Net v2 raw datasets and MONAI datalists from datasets and runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsegkit.cli import app
from medsegkit.data.imageio import png_bytes, read_labels, read_rgb
from medsegkit.data.prepare import prepare


@pytest.fixture(scope="module")
def fundus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("export")
    path, _ = prepare("synthetic-fundus", None, root / "f", root, {"count": 6, "size": 48, "test_fraction": 0.34})
    return path


def test_prepared_fundus_dataset_to_nnunet(runner, fundus, tmp_path):
    result = runner.invoke(
        app, ["export", str(fundus), "--format", "nnunet", "--out", str(tmp_path), "--dataset-id", "777"]
    )
    assert result.exit_code == 0, result.output
    root = tmp_path / "Dataset777_f"
    meta = json.loads((root / "dataset.json").read_text())
    splits = json.loads((fundus / "dataset.json").read_text())["splits"]
    assert meta["channel_names"] == {"0": "R", "1": "G", "2": "B"} and meta["file_ending"] == ".png"
    assert meta["labels"] == {"background": 0, "disc": [1, 2], "cup": 2} and meta["regions_class_order"] == [1, 2]
    assert meta["numTraining"] == len(splits["train"]) == len(list((root / "labelsTr").iterdir()))
    assert sorted(p.name for p in (root / "imagesTs").iterdir()) == sorted(f"{c}_0000.png" for c in splits["test"])
    for case in splits["train"]:
        image = read_rgb(root / "imagesTr" / f"{case}_0000.png")
        np.testing.assert_array_equal(image, read_rgb(fundus / "images" / f"{case}.png"))
        labels = read_labels(root / "labelsTr" / f"{case}.png")
        np.testing.assert_array_equal(labels, read_labels(fundus / "masks" / f"{case}.png"))
        assert labels.shape == image.shape[:2] and set(np.unique(labels)) <= {0, 1, 2}
    again = runner.invoke(app, ["export", str(fundus), "-f", "nnunet", "-o", str(tmp_path), "--dataset-id", "777"])
    assert again.exit_code == 2 and "exists and is not empty" in again.stderr  # nothing overwritten


def test_cluster_run_to_monai_with_validation_share_and_confidence_filter(runner, tmp_path):
    derm, _ = prepare("synthetic-dermoscopy", None, tmp_path / "d", tmp_path, {"count": 6, "size": 48})
    run = tmp_path / "km"
    made = runner.invoke(app, ["cluster", str(derm), "--method", "kmeans", "--size", "48", "--out", str(run)])
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, ["export", str(run), "--format", "monai", "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    datalist = json.loads((tmp_path / "m" / "datalist.json").read_text())
    assert len(datalist["training"]) == 5 and len(datalist["validation"]) == 1 and datalist["test"] == []
    assert datalist["labels"] == {"0": "background", "1": "lesion"}
    for entry in datalist["training"] + datalist["validation"]:
        case = Path(entry["image"]).stem
        np.testing.assert_array_equal(
            read_labels(tmp_path / "m" / entry["label"]), read_labels(run / "masks" / f"{case}.png")
        )
    # MONAI reads it as it is
    from monai.data import load_decathlon_datalist

    loaded = load_decathlon_datalist(
        tmp_path / "m" / "datalist.json", data_list_key="training", base_dir=tmp_path / "m"
    )
    assert all(Path(item["image"]).is_file() and Path(item["label"]).is_file() for item in loaded)

    confidences = sorted(c["confidence"] for c in json.loads((run / "manifest.json").read_text())["cases"])
    cut = runner.invoke(
        app,
        [
            "export",
            str(run),
            "-f",
            "monai",
            "-o",
            str(tmp_path / "c"),
            "--min-confidence",
            str(confidences[3]),
            "--validation",
            "0",
        ],
    )
    assert cut.exit_code == 0, cut.output
    assert len(json.loads((tmp_path / "c" / "datalist.json").read_text())["training"]) == sum(
        c >= confidences[3] for c in confidences
    )
    none = runner.invoke(app, ["export", str(run), "-f", "monai", "-o", str(tmp_path / "n"), "--min-confidence", "1"])
    assert none.exit_code == 1 and "nothing to train on" in none.stderr and not (tmp_path / "n").exists()


def test_refine_and_adapt_runs_export_their_pseudo_labels(runner, fundus, tmp_path):
    run = tmp_path / "adapt"
    (run / "refine" / "pseudo").mkdir(parents=True)
    train = json.loads((fundus / "dataset.json").read_text())["splits"]["train"]
    for case in train:
        (run / "refine" / "pseudo" / f"{case}.png").write_bytes(png_bytes(np.full((48, 48), 1, np.uint8)))
    manifest = {"target": {"name": "f", "path": str(fundus), "split": "train"}, "cases": [{"case": c} for c in train]}
    (run / "refine" / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(
        app, ["export", str(run), "-f", "nnunet", "-o", str(tmp_path / "nn"), "--name", "origa pseudo"]
    )
    assert result.exit_code == 0, result.output
    root = tmp_path / "nn" / "Dataset501_origa-pseudo"
    assert sorted(p.stem for p in (root / "labelsTr").iterdir()) == sorted(train)
    assert all((read_labels(p) == 1).all() for p in (root / "labelsTr").iterdir())


def test_bad_sources_are_one_line(runner, tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["export", str(tmp_path / "empty"), "-f", "nnunet", "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "expected a prepared dataset (dataset.json) or a cluster" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    bad = runner.invoke(app, ["export", str(tmp_path / "empty"), "-f", "zip", "-o", str(tmp_path / "o")])
    assert bad.exit_code == 2 and "--format must be one of nnunet, monai" in bad.stderr


def test_nnunet_accepts_the_export(fundus, tmp_path):
    """nnU-Net v2's own dataset integrity check on an export (skipped where nnunetv2 is not installed)."""
    verify = pytest.importorskip("nnunetv2.experiment_planning.verify_dataset_integrity")
    from medsegkit.data.export import export

    target, _ = export(fundus, "nnunet", tmp_path, dataset_id=778)
    verify.verify_dataset_integrity(str(target), num_processes=1)
