"""The readers on the real public data in ../shared/data (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage

from medsegkit.cli import app
from medsegkit.data.dataset import Dataset
from medsegkit.data.prepare import prepare
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data not found at {SHARED_DATA}")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("real")


@pytest.fixture(scope="module")
def ph2(root) -> tuple[Path, dict]:
    return prepare("ph2", SHARED_DATA / "ph2-dev" / "PH2Dataset", root / "ph2", root, {})


@pytest.fixture(scope="module")
def drishti(root) -> tuple[Path, dict]:
    return prepare("dofe-fundus", SHARED_DATA / "fundus", None, root, {})


@pytest.mark.slow
def test_ph2_masks_have_exact_ground_truth_pixel_counts(ph2):
    src = SHARED_DATA / "ph2-dev" / "PH2Dataset"
    out, manifest = ph2
    ds = Dataset.open(out)
    assert len(ds.case_ids()) == 50
    diagnoses = [c["meta"]["diagnosis"] for c in manifest["cases"].values()]
    assert (diagnoses.count("common nevus"), diagnoses.count("atypical nevus"), diagnoses.count("melanoma")) == (
        20,
        20,
        10,
    )
    for cid in ds.case_ids():
        truth = (
            np.asarray(
                Image.open(src / "PH2 Dataset images" / cid / f"{cid}_lesion" / f"{cid}_lesion.bmp").convert("L")
            )
            > 0
        )
        mask = ds.mask(cid)
        assert mask.shape == truth.shape
        assert int((mask == 1).sum()) == int(truth.sum()), cid
        assert ds.image(cid).shape[:2] == truth.shape


@pytest.mark.slow
def test_dofe_fundus_drishti_domain(root, drishti):
    out, manifest = drishti
    assert out == root / "drishti-gs"
    assert len(manifest["splits"]["train"]) == 50 and len(manifest["splits"]["test"]) == 51
    raw = np.asarray(Image.open(SHARED_DATA / "fundus/Domain1/train/ROIs/mask/drishtiGS_002.png"))
    labels = Dataset.open(out).mask("drishtiGS_002")
    np.testing.assert_array_equal(labels == 2, raw == 0)
    np.testing.assert_array_equal(labels == 1, raw == 128)


@pytest.mark.parametrize("domain", [1, 3, 4])
def test_dofe_release_sample(root, domain):
    out, manifest = prepare(
        "dofe-fundus", SHARED_DATA / "fundus-dofe-sample", root / f"sample{domain}", root, {"domain": domain}
    )
    assert manifest["statistics"]["cases"] == 2 and manifest["statistics"]["with_mask"] == 2
    ds = Dataset.open(out)
    for cid in ds.case_ids():
        assert ds.mask(cid).shape == (800, 800) and set(np.unique(ds.mask(cid))) == {0, 1, 2}


def test_drishti_raw_reproduces_the_dofe_release_masks(root):
    out, manifest = prepare(
        "drishti-gs", SHARED_DATA / "raw-samples" / "Drishti-GS1_files", root / "raw-dr", root, {"resize": 512}
    )
    ds = Dataset.open(out)
    assert ds.splits["train"] == ["drishtiGS_002", "drishtiGS_004"] and ds.splits["test"] == ["drishtiGS_001"]
    for cid in ds.case_ids():
        assert manifest["cases"][cid]["original_size"][0] > 1700  # full photographs, cropped to 800 then 512
        split = "train" if cid in ds.splits["train"] else "test"
        release = np.asarray(Image.open(SHARED_DATA / f"fundus/Domain1/{split}/ROIs/mask/{cid}.png"))
        ours = ds.mask(cid)
        np.testing.assert_array_equal(ours == 2, release == 0)
        np.testing.assert_array_equal(ours > 0, release < 255)


def test_origa_sample(root):
    out, manifest = prepare("origa", SHARED_DATA / "origa-sample", None, root, {})
    assert manifest["statistics"]["cases"] == 30
    ds = Dataset.open(out)
    case = ds.case_ids()[0]
    assert ds.mask(case).shape == (640, 640)
    assert "cdr" in manifest["cases"][case]["meta"] and "glaucoma" in manifest["cases"][case]["meta"]


def test_evaluate_prepared_ph2_against_itself(ph2, runner, tmp_path):
    out, _ = ph2
    result = runner.invoke(app, ["evaluate", str(out), "--gt", str(out), "--out", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "ev" / "per_case.csv")
    assert len(frame) == 50
    assert (frame["dice"] == 1).all() and (frame[["hm", "xor", "hd"]] == 0).all().all()


def test_evaluate_fundus_disc_cup_and_vcdr(drishti, runner, tmp_path):
    out, _ = drishti
    ds = Dataset.open(out)
    preds = tmp_path / "eroded" / "masks"
    preds.mkdir(parents=True)
    for cid in ds.case_ids("test"):
        labels = ds.mask(cid)
        cup = ndimage.binary_erosion(labels == 2, iterations=3)
        Image.fromarray(np.where(cup, 2, np.where(labels > 0, 1, 0)).astype(np.uint8)).save(preds / f"{cid}.png")
    result = runner.invoke(app, ["evaluate", str(preds.parent), "--gt", "drishti-gs", "--data-root", str(out.parent)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(preds.parent / "evaluation" / "per_case.csv")
    disc, cup = frame[frame.structure == "disc"], frame[frame.structure == "cup"]
    assert len(disc) == len(cup) == 51
    assert (disc["dice"] == 1).all()
    assert cup["dice"].between(0.8, 0.999).all()
    assert (cup["vcdr_pred"] < cup["vcdr_gt"]).all() and (cup["vcdr_err"] > 0).all()
