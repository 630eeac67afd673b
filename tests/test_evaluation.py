from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medsegkit import metrics
from medsegkit.cli import app
from medsegkit.data.dataset import Dataset
from medsegkit.data.prepare import prepare
from medsegkit.evaluation import EvalSettings, best_overlap, evaluate_run, ssct_leak
from medsegkit.imaging import resize_nearest
from tests.conftest import save


@pytest.fixture(scope="module")
def lesion_ds(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gt")
    out, _ = prepare("synthetic-dermoscopy", None, root / "derm", root, {"count": 4, "size": 64, "test_fraction": 0.5})
    return out


@pytest.fixture(scope="module")
def fundus_ds(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gt")
    out, _ = prepare("synthetic-fundus", None, root / "fundus", root, {"count": 4, "size": 64})
    return out


def write_preds(folder: Path, masks: dict[str, np.ndarray], sub: str = "masks") -> Path:
    for cid, mask in masks.items():
        save(folder / sub / f"{cid}.png", mask.astype(np.uint8))
    return folder


def invoke(runner, *args):
    return runner.invoke(app, ["evaluate", *map(str, args)], env={"COLUMNS": "200"})


def test_ground_truth_against_itself_is_perfect(runner, lesion_ds, tmp_path):
    result = invoke(runner, lesion_ds, "--gt", lesion_ds, "--split", "all", "--out", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "ev" / "per_case.csv")
    assert len(frame) == 4
    assert (frame["dice"] == 1).all() and (frame[["hm", "xor", "hd", "hd95", "assd"]] == 0).all().all()
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    run = summary["runs"][str(lesion_ds)]["structures"]["lesion"]
    assert run["metrics"]["dice"] == {"mean": 1.0, "std": 0.0, "median": 1.0, "n": 4}
    assert summary["leaks_ground_truth"] is False
    assert "1.0000 ± 0.0000" in result.stdout


def test_fundus_structures_and_vcdr(runner, fundus_ds, tmp_path):
    ds = Dataset.open(fundus_ds)
    preds = {}
    for cid in ds.case_ids("test"):
        labels = ds.mask(cid).copy()
        labels[labels == 2] = 1  # predict no cup at all
        preds[cid] = labels
    write_preds(tmp_path / "nocup", preds)
    result = invoke(runner, tmp_path / "nocup", "--gt", fundus_ds, "--out", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "ev" / "per_case.csv")
    disc, cup = frame[frame.structure == "disc"], frame[frame.structure == "cup"]
    assert (disc["dice"] == 1).all()
    assert (cup["dice"] == 0).all() and (cup["empty"] == "pred").all() and cup["hd"].isna().all()
    assert (cup["vcdr_pred"] == 0).all()
    np.testing.assert_allclose(cup["vcdr_err"], cup["vcdr_gt"])
    assert "|vCDR error|" in result.stdout and "1 / 0 / 0" in result.stdout


def test_scores_match_the_metrics_module_and_resize_back(lesion_ds, tmp_path):
    ds = Dataset.open(lesion_ds)
    preds = {cid: np.roll(ds.mask(cid), 3, axis=1)[::2, ::2] for cid in ds.case_ids("test")}  # half resolution
    write_preds(tmp_path / "p", preds)
    result = evaluate_run(tmp_path / "p", ds, EvalSettings())
    assert result.resized == ds.case_ids("test")
    for row in result.rows:
        pred = resize_nearest(preds[row["case"]], (64, 64)) > 0
        expected = metrics.binary_scores(pred, ds.mask(row["case"]) == 1)
        for name, value in expected.items():
            assert row[name] == pytest.approx(value, nan_ok=True)


def test_missing_extra_and_allow_missing(runner, lesion_ds, tmp_path):
    ds = Dataset.open(lesion_ds)
    first, second = ds.case_ids("test")
    write_preds(tmp_path / "p", {first: ds.mask(first), "stranger": ds.mask(first)})
    result = invoke(runner, tmp_path / "p", "--gt", lesion_ds, "--out", tmp_path / "ev")
    assert result.exit_code == 1
    assert f"1 case(s) without a prediction: {second}" in result.stderr
    assert "not in the split, ignored: stranger" in result.stderr
    assert (tmp_path / "ev" / "per_case.csv").is_file()
    allowed = invoke(runner, tmp_path / "p", "--gt", lesion_ds, "--out", tmp_path / "ev", "--allow-missing")
    assert allowed.exit_code == 0


def test_best_overlap_may_pick_label_zero():
    gt = np.zeros((8, 8), bool)
    gt[2:6, 2:6] = True
    clusters = np.where(gt, 0, 3)
    clusters[0, 0] = 5
    np.testing.assert_array_equal(best_overlap(clusters, gt), gt)
    assert not best_overlap(clusters, np.zeros_like(gt)).any()


def test_ssct_protocol_leaks_and_says_so(runner, lesion_ds, tmp_path):
    ds = Dataset.open(lesion_ds)
    everything = {cid: np.ones((64, 64), np.uint8) * 7 for cid in ds.case_ids("test")}  # one cluster covering all
    write_preds(tmp_path / "p", everything, sub="clusters")
    honest = invoke(runner, tmp_path / "p", "--gt", lesion_ds, "--select", "best-overlap", "--out", tmp_path / "honest")
    leaky = invoke(runner, tmp_path / "p", "--gt", lesion_ds, "--protocol", "ssct", "--out", tmp_path / "leaky")
    assert honest.exit_code == 0 and leaky.exit_code == 0, leaky.output
    h = pd.read_csv(tmp_path / "honest" / "per_case.csv")
    s = pd.read_csv(tmp_path / "leaky" / "per_case.csv")
    assert (s["dice"] > h["dice"] + 0.2).all()  # the leak turns a useless prediction into a good one
    assert (s["protocol"] == "ssct (ground truth leak)").all()
    assert "GROUND TRUTH LEAKS" in leaky.stdout and "leaks into the prediction" in leaky.stderr
    assert json.loads((tmp_path / "leaky" / "summary.json").read_text())["leaks_ground_truth"] is True
    gt = np.zeros((20, 20), bool)
    gt[10, 10] = True
    leak = ssct_leak(np.ones_like(gt), gt)  # two 5x5 dilations of one pixel: a 9x9 square
    assert leak.sum() == 81 and leak[6:15, 6:15].all()


def test_at_size_and_comparison_of_runs(runner, lesion_ds, tmp_path):
    ds = Dataset.open(lesion_ds)
    write_preds(tmp_path / "a", {c: ds.mask(c) for c in ds.case_ids("test")})
    write_preds(tmp_path / "b", {c: np.zeros((64, 64)) for c in ds.case_ids("test")})
    result = invoke(
        runner, tmp_path / "a", tmp_path / "b", "--gt", lesion_ds, "--at-size", "32", "--out", tmp_path / "ev"
    )
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "a") in result.stdout and str(tmp_path / "b") in result.stdout
    assert "at 32x32 resolution" in result.stdout
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["runs"][str(tmp_path / "b")]["structures"]["lesion"]["empty"]["pred"] == 2


def test_bad_predictions_and_options(runner, fundus_ds, lesion_ds, tmp_path):
    ds = Dataset.open(fundus_ds)
    cid = ds.case_ids("test")[0]
    write_preds(tmp_path / "p", {cid: np.full((64, 64), 9)})
    bad = invoke(runner, tmp_path / "p", "--gt", fundus_ds, "--allow-missing", "--out", tmp_path / "ev")
    assert bad.exit_code == 1 and f"{cid}.png: prediction value(s) [9] outside the fundus labels" in bad.stderr
    both = invoke(runner, tmp_path / "p", "--gt", lesion_ds, "--at-size", "32", "--spacing", "0.1")
    assert both.exit_code == 2 and "cannot be combined" in both.stderr
    nothing = invoke(runner, tmp_path / "nowhere", "--gt", lesion_ds)
    assert nothing.exit_code == 1 and "prediction folder not found" in nothing.stderr
    with pytest.raises(ValueError, match="select must be"):
        EvalSettings(select="magic")  # type: ignore[arg-type]
    spaced = invoke(runner, fundus_ds, "--gt", fundus_ds, "--spacing", "0.5,0.25", "--out", tmp_path / "sp")
    assert spaced.exit_code == 0, spaced.output
    assert json.loads((tmp_path / "sp" / "summary.json").read_text())["distance_unit"] == "spacing units"
