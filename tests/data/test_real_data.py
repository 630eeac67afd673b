"""The readers on the real public data in ../shared/data (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medsegkit.data.dataset import Dataset
from medsegkit.data.prepare import prepare
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data not found at {SHARED_DATA}")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("real")


def test_ph2_masks_have_exact_ground_truth_pixel_counts(root):
    src = SHARED_DATA / "ph2-dev" / "PH2Dataset"
    out, manifest = prepare("ph2", src, root / "ph2", root, {})
    ds = Dataset.open(out)
    assert len(ds.case_ids()) == 50
    diagnoses = [c["meta"]["diagnosis"] for c in manifest["cases"].values()]
    assert (diagnoses.count("common nevus"), diagnoses.count("atypical nevus"), diagnoses.count("melanoma")) == (20, 20, 10)
    for cid in ds.case_ids():
        truth = np.asarray(Image.open(src / "PH2 Dataset images" / cid / f"{cid}_lesion" / f"{cid}_lesion.bmp").convert("L")) > 0
        mask = ds.mask(cid)
        assert mask.shape == truth.shape
        assert int((mask == 1).sum()) == int(truth.sum()), cid
        assert ds.image(cid).shape[:2] == truth.shape


def test_dofe_fundus_drishti_domain(root):
    out, manifest = prepare("dofe-fundus", SHARED_DATA / "fundus", None, root, {})
    assert out == root / "drishti-gs"
    assert len(manifest["splits"]["train"]) == 50 and len(manifest["splits"]["test"]) == 51
    raw = np.asarray(Image.open(SHARED_DATA / "fundus/Domain1/train/ROIs/mask/drishtiGS_002.png"))
    labels = Dataset.open(out).mask("drishtiGS_002")
    np.testing.assert_array_equal(labels == 2, raw == 0)
    np.testing.assert_array_equal(labels == 1, raw == 128)


@pytest.mark.parametrize("domain", [1, 3, 4])
def test_dofe_release_sample(root, domain):
    out, manifest = prepare("dofe-fundus", SHARED_DATA / "fundus-dofe-sample", root / f"sample{domain}", root, {"domain": domain})
    assert manifest["statistics"]["cases"] == 2 and manifest["statistics"]["with_mask"] == 2
    ds = Dataset.open(out)
    for cid in ds.case_ids():
        assert ds.mask(cid).shape == (800, 800) and set(np.unique(ds.mask(cid))) == {0, 1, 2}


def test_drishti_raw_reproduces_the_dofe_release_masks(root):
    out, manifest = prepare("drishti-gs", SHARED_DATA / "raw-samples" / "Drishti-GS1_files", root / "raw-dr", root, {"resize": 512})
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
