"""Each reader on a small fixture written in its publisher's layout, and each bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsegkit.cli import app
from medsegkit.data.dataset import Dataset
from medsegkit.data.prepare import make_reader, prepare
from medsegkit.errors import DataError, UsageError
from tests.conftest import disc_labels, rgb, save

RELEASE_VALUES = np.array([255, 128, 0], np.uint8)  # canonical 0/1/2 -> release background/rim/cup


def ph2_layout(root: Path, n: int = 3, rgb_mask_case: int = 1) -> Path:
    base = root / "PH2Dataset"
    (base).mkdir(parents=True)
    rows = ["Name,Clinical Diagnosis,Asymmetry"]
    for i in range(n):
        cid = f"IMD{i + 1:03d}"
        mask = np.zeros((30, 40), np.uint8)
        mask[5 : 15 + i, 8:20] = 255
        save(base / "PH2 Dataset images" / cid / f"{cid}_Dermoscopic_Image" / f"{cid}.bmp", rgb((30, 40), i))
        mask_file = base / "PH2 Dataset images" / cid / f"{cid}_lesion" / f"{cid}_lesion.bmp"
        if i == rgb_mask_case:
            save(mask_file, np.repeat(mask[..., None], 3, axis=2))
        else:
            save(mask_file, mask, mode="1")
        rows.append(f"{cid},{i % 3},0")
    (base / "PH2_dataset.csv").write_text("\n".join(rows) + "\n")
    return base


def dofe_layout(root: Path) -> Path:
    for domain, ids in ((1, ("gdrishtiGS_001", "gdrishtiGS_002")), (3, ("g0001",))):
        for split, cid in zip(("train", "test"), ids, strict=False):
            folder = root / "Fundus" / f"Domain{domain}" / split / "ROIs"
            save(folder / "image" / f"{cid}.png", rgb(32, domain))
            save(
                folder / "mask" / f"{cid}.png",
                np.repeat(RELEASE_VALUES[disc_labels(32, (16, 16), 10, 5)][..., None], 3, 2),
            )
    (root / "Fundus" / "Domain2").mkdir()
    (root / "Fundus" / "Domain2" / "test_file_list.txt").write_text("G-22-L.jpg\n")
    return root / "Fundus"


def drishti_layout(root: Path) -> Path:
    base = root / "Drishti-GS1_files"
    for folder, cid, centre in (("Training", "drishtiGS_002", (30, 40)), ("Test", "drishtiGS_001", (45, 60))):
        save(base / folder / "Images" / "ALL" / f"{cid}.png", rgb((80, 100)))
        labels = disc_labels(100, centre, 12, 6)[:80]
        od = np.select([labels == 2, labels == 1], [255, 128], 0).astype(np.uint8)  # 4/4 and 2/4 experts
        cup = np.select([labels == 2, labels == 1], [191, 64], 0).astype(np.uint8)  # 3/4 and 1/4 experts
        save(base / folder / "GT" / cid / "SoftMap" / f"{cid}_ODsegSoftmap.png", od)
        save(base / folder / "GT" / cid / "SoftMap" / f"{cid}_cupsegSoftmap.png", cup)
        (base / folder / "GT" / cid / f"{cid}_cdrValues.txt").write_text("0.5 0.52 0.49 0.5")
    return base


def refuge_layout(root: Path) -> Path:
    for group in ("Glaucoma", "Non-Glaucoma"):
        cid = "g0001" if group == "Glaucoma" else "n0001"
        save(root / "REFUGE-Training400" / "Training400" / group / f"{cid}.jpg", rgb((60, 64)))
        save(
            root / "Annotation-Training400" / "Disc_Cup_Masks" / group / f"{cid}.bmp",
            RELEASE_VALUES[disc_labels(64, (30, 30), 12, 6)[:60]],
        )
    save(root / "REFUGE-Validation400" / "V0001.jpg", rgb((60, 64)))
    save(
        root / "REFUGE-Validation400-GT" / "Disc_Cup_Masks" / "V0001.bmp",
        RELEASE_VALUES[disc_labels(64, (20, 40), 10, 4)[:60]],
    )
    return root


def origa_layout(root: Path) -> Path:
    for cid in ("621", "622"):
        save(root / "images" / f"{cid}.png", rgb(40))
        save(root / "masks" / f"{cid}.png", disc_labels(40, (20, 20), 12, 6))
    (root / "origa_info.csv").write_text("Image,CDR,Ecc-Cup,Ecc-Disc,Label\n621,0.85,0.2,0.1,1\n622,0.5,0.3,0.2,0\n")
    return root


def test_ph2_binary_and_rgb_masks(tmp_path):
    src = ph2_layout(tmp_path / "raw")
    out, manifest = prepare("ph2", src, tmp_path / "ph2", tmp_path, {})
    ds = Dataset.open(out)
    assert ds.case_ids() == ["IMD001", "IMD002", "IMD003"]
    for i, cid in enumerate(ds.case_ids()):
        assert ds.mask(cid).sum() == (10 + i) * 12
        assert set(np.unique(ds.mask(cid))) == {0, 1}
        np.testing.assert_array_equal(ds.image(cid), rgb((30, 40), i))
    assert manifest["cases"]["IMD003"]["meta"]["diagnosis"] == "melanoma"


def test_dofe_domains_values_and_splits(tmp_path):
    src = dofe_layout(tmp_path / "raw")
    with pytest.raises(UsageError, match="holds Domain1, Domain3; choose one with --domain"):
        prepare("dofe-fundus", src, None, tmp_path, {})
    out, manifest = prepare("dofe-fundus", src, None, tmp_path / "root", {"domain": 1})
    assert out == tmp_path / "root" / "drishti-gs"
    assert manifest["splits"]["train"] == ["gdrishtiGS_001"] and manifest["splits"]["test"] == ["gdrishtiGS_002"]
    np.testing.assert_array_equal(Dataset.open(out).mask("gdrishtiGS_001"), disc_labels(32, (16, 16), 10, 5))
    _, one = prepare("dofe-fundus", src / "Domain3", tmp_path / "d3", tmp_path, {})
    assert one["statistics"]["cases"] == 1
    with pytest.raises(DataError, match="Domain2: no images"):
        prepare("dofe-fundus", src, tmp_path / "d2", tmp_path, {"domain": 2})


def test_drishti_majority_vote_and_gt_centred_crop(tmp_path):
    src = drishti_layout(tmp_path / "raw")
    out, manifest = prepare("drishti-gs", src.parent, tmp_path / "dr", tmp_path, {"crop_size": 40, "resize": 20})
    ds = Dataset.open(out)
    assert ds.splits["train"] == ["drishtiGS_002"] and ds.splits["test"] == ["drishtiGS_001"]
    case = manifest["cases"]["drishtiGS_002"]
    assert case["size"] == [20, 20] and case["original_size"] == [80, 100]
    assert case["meta"]["crop_box"] == [10, 20, 40, 40]
    assert case["meta"]["expert_cdr"] == [0.5, 0.52, 0.49, 0.5]
    full, _ = prepare("drishti-gs", src, tmp_path / "full", tmp_path, {"crop_size": 40})
    labels = Dataset.open(full).mask("drishtiGS_002")
    np.testing.assert_array_equal(labels, disc_labels(40, (20, 20), 12, 6))
    assert any("ground-truth disc" in note for note in manifest["notes"])
    strict, _ = prepare("drishti-gs", src, tmp_path / "strict", tmp_path, {"crop_size": 40, "min_experts": 4})
    assert (Dataset.open(strict).mask("drishtiGS_002") == 2).sum() == 0  # cup soft map never reaches 4/4


def test_refuge_splits_groups_and_crop(tmp_path):
    src = refuge_layout(tmp_path / "raw")
    out, manifest = prepare("refuge", src, tmp_path / "refuge", tmp_path, {})
    assert manifest["splits"]["train"] == ["g0001", "n0001"] and manifest["splits"]["validation"] == ["V0001"]
    assert manifest["cases"]["g0001"]["meta"]["glaucoma"] is True
    assert manifest["cases"]["n0001"]["meta"]["glaucoma"] is False
    np.testing.assert_array_equal(Dataset.open(out).mask("V0001"), disc_labels(64, (20, 40), 10, 4)[:60])
    cropped, m2 = prepare("refuge", src, tmp_path / "crop", tmp_path, {"crop_size": 32})
    assert m2["cases"]["V0001"]["size"] == [32, 32]


def test_origa_reads_labels_and_info(tmp_path):
    src = origa_layout(tmp_path / "raw")
    out, manifest = prepare("origa", src, tmp_path / "origa", tmp_path, {})
    assert manifest["cases"]["621"]["meta"] == {"cdr": 0.85, "glaucoma": True}
    np.testing.assert_array_equal(Dataset.open(out).mask("622"), disc_labels(40, (20, 20), 12, 6))


def test_folder_mapping_suffixes_and_missing_masks(tmp_path):
    src = tmp_path / "mine"
    mask = np.zeros((20, 20), np.uint8)
    mask[5:10, 5:10] = 255
    save(src / "images" / "a.jpg", rgb(20))
    save(src / "images" / "b.png", rgb(20, 1))
    save(src / "masks" / "a_segmentation.png", mask)
    out, manifest = prepare("folder", src, None, tmp_path / "root", {})
    assert out.name == "mine"
    assert manifest["statistics"]["with_mask"] == 1 and Dataset.open(out).mask("b") is None
    assert Dataset.open(out).mask("a").sum() == 25
    _, fundus = prepare("folder", src, tmp_path / "f", tmp_path, {"task": "fundus", "mask_map": "0:0,255:2"})
    assert fundus["statistics"]["label_pixels"]["cup"] == 25


# ---- bad input: one line naming the file and what was expected ------------------------------


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DataError, match=r"nowhere: folder not found; expected PH2"):
        prepare("ph2", tmp_path / "nowhere", tmp_path / "o", tmp_path, {})
    (tmp_path / "empty").mkdir()
    for kind in ("ph2", "origa", "folder", "refuge", "drishti-gs", "dofe-fundus"):
        with pytest.raises(DataError, match=r"empty: no cases found; expected"):
            prepare(kind, tmp_path / "empty", tmp_path / "o", tmp_path, {})


def test_truncated_image(tmp_path):
    src = origa_layout(tmp_path / "raw")
    data = (src / "images" / "622.png").read_bytes()
    (src / "images" / "622.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"622.png: cannot read image .*expected a complete"):
        prepare("origa", src, tmp_path / "o", tmp_path, {})
    (src / "images" / "622.png").write_bytes(b"not an image at all")
    with pytest.raises(DataError, match=r"622.png: cannot read image"):
        prepare("origa", src, tmp_path / "o", tmp_path, {})


def test_mask_size_mismatch(tmp_path):
    src = origa_layout(tmp_path / "raw")
    save(src / "masks" / "621.png", np.zeros((30, 40), np.uint8))
    with pytest.raises(DataError, match=r"masks/621.png: mask is 40x30 but its image 621.png is 40x40"):
        prepare("origa", src, tmp_path / "o", tmp_path, {})


@pytest.mark.parametrize("kind", ["origa", "dofe", "ph2", "folder"])
def test_mask_value_outside_mapping(tmp_path, kind):
    if kind == "origa":
        src = origa_layout(tmp_path / "raw")
        bad = src / "masks" / "622.png"
        save(bad, np.full((40, 40), 7, np.uint8))
    elif kind == "dofe":
        src = dofe_layout(tmp_path / "raw") / "Domain3"
        bad = src / "train" / "ROIs" / "mask" / "g0001.png"
        save(bad, np.full((32, 32), 64, np.uint8))
        kind = "dofe-fundus"
    elif kind == "ph2":
        src = ph2_layout(tmp_path / "raw")
        bad = src / "PH2 Dataset images" / "IMD002" / "IMD002_lesion" / "IMD002_lesion.bmp"
        save(bad, np.full((30, 40), 100, np.uint8))
    else:
        src = tmp_path / "mine"
        save(src / "images" / "a.png", rgb(8))
        bad = save(src / "masks" / "a.png", np.full((8, 8), 3, np.uint8))
    with pytest.raises(DataError, match=rf"{bad.name}: mask value\(s\) .* not in the expected"):
        prepare(kind, src, tmp_path / "o", tmp_path, {})


def test_colour_mask_is_rejected(tmp_path):
    src = origa_layout(tmp_path / "raw")
    colour = np.zeros((40, 40, 3), np.uint8)
    colour[..., 0] = 1
    save(src / "masks" / "621.png", colour)
    with pytest.raises(DataError, match="621.png: expected a grey label map"):
        prepare("origa", src, tmp_path / "o", tmp_path, {})


def test_duplicate_case_id(tmp_path):
    src = tmp_path / "mine"
    save(src / "images" / "a.png", rgb(8))
    save(src / "images" / "a.jpg", rgb(8))
    with pytest.raises(DataError, match=r"duplicate case id 'a': .*a.jpg and .*a.png"):
        prepare("folder", src, tmp_path / "o", tmp_path, {})


def test_bad_input_through_the_cli_is_one_line(runner, tmp_path):
    src = origa_layout(tmp_path / "raw")
    save(src / "masks" / "621.png", np.zeros((30, 40), np.uint8))
    result = runner.invoke(app, ["prepare", "origa", str(src), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "621.png" in result.stderr
    assert not (tmp_path / "o").exists()


def test_reader_rejects_options_it_does_not_take():
    with pytest.raises(UsageError, match=r"reader 'ph2' does not take crop_size; it takes no options"):
        make_reader("ph2", {"crop_size": 3})
    with pytest.raises(UsageError, match=r"domain must be one of 1, 2, 3, 4, got 9"):
        make_reader("dofe-fundus", {"domain": 9})
    with pytest.raises(UsageError, match=r"min_experts expects int, got 'x'"):
        make_reader("drishti-gs", {"min_experts": "x"})


def test_manifest_records_source_and_options(tmp_path):
    src = drishti_layout(tmp_path / "raw")
    _, manifest = prepare("drishti-gs", src, tmp_path / "dr", tmp_path, {"crop_size": 40})
    saved = json.loads((tmp_path / "dr" / "dataset.json").read_text())
    assert saved == manifest
    assert saved["source"]["reader"] == "drishti-gs"
    assert saved["source"]["options"] == {"crop_size": 40, "resize": None, "min_experts": 2}
    assert saved["labels"] == {"background": 0, "rim": 1, "cup": 2}
    assert saved["structures"] == {"disc": [1, 2], "cup": [2]}


def test_test_fraction_holds_out_a_split_for_layouts_without_one(tmp_path):
    src = tmp_path / "mine"
    for i in range(10):
        save(src / "images" / f"c{i}.png", rgb(12, i))
    _, manifest = prepare("folder", src, tmp_path / "split", tmp_path, {"test_fraction": 0.3})
    splits = manifest["splits"]
    assert (
        len(splits["test"]) == 3
        and len(splits["train"]) == 7
        and set(splits["test"]) | set(splits["train"]) == set(splits["all"])
    )
    assert any("not an official split" in note for note in manifest["notes"])
    (src / "images" / "c9.png").unlink()  # the split depends on the case ids alone
    _, fewer = prepare("folder", src, tmp_path / "again", tmp_path, {"test_fraction": 0.3})
    assert set(splits["test"]) - {"c9"} <= set(fewer["splits"]["test"])
    with pytest.raises(UsageError, match="between 0 and 1"):
        prepare("folder", src, tmp_path / "bad", tmp_path, {"test_fraction": 1.5})
    with pytest.raises(UsageError, match="already defines its splits"):
        prepare(
            "dofe-fundus", dofe_layout(tmp_path / "dofe"), tmp_path / "d", tmp_path, {"test_fraction": 0.3, "domain": 1}
        )
