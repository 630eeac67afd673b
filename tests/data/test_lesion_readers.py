"""The ISIC (2016, 2017, 2018) and HAM10000 readers on tiny archives written in their release layouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medsegkit.cli import app
from medsegkit.data.prepare import make_reader, prepare

LESION = np.zeros((24, 32), np.uint8)
LESION[6:18, 8:24] = 255


def write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def image(seed: int, shape: tuple[int, int] = (24, 32)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


ARCHIVES = {
    "2016": [("ISBI2016_ISIC_Part1_Training_Data", "ISBI2016_ISIC_Part1_Training_GroundTruth", "Segmentation", "train"),
             ("ISBI2016_ISIC_Part1_Test_Data", "ISBI2016_ISIC_Part1_Test_GroundTruth", "Segmentation", "test")],
    "2017": [("ISIC-2017_Training_Data", "ISIC-2017_Training_Part1_GroundTruth", "segmentation", "train"),
             ("ISIC-2017_Validation_Data", "ISIC-2017_Validation_Part1_GroundTruth", "segmentation", "validation"),
             ("ISIC-2017_Test_v2_Data", "ISIC-2017_Test_v2_Part1_GroundTruth", "segmentation", "test")],
    "2018": [("ISIC2018_Task1-2_Training_Input", "ISIC2018_Task1_Training_GroundTruth", "segmentation", "train"),
             ("ISIC2018_Task1-2_Validation_Input", "ISIC2018_Task1_Validation_GroundTruth", "segmentation",
              "validation")],
}  # fmt: skip


def isic_archive(root: Path, year: str) -> dict[str, str]:
    expected = {}
    for i, (data, truth, suffix, split) in enumerate(ARCHIVES[year]):
        case = f"ISIC_{1000000 + i:07d}"
        write(root / data / f"{case}.jpg", image(i))
        write(root / truth / f"{case}_{suffix}.png", LESION)
        expected[case] = split
    if year == "2017":  # the 2017 archive ships superpixel maps beside the images
        write(root / ARCHIVES[year][0][0] / "ISIC_1000000_superpixels.png", image(9))
    return expected


@pytest.mark.parametrize("year", sorted(ARCHIVES))
def test_isic_archives_are_recognised_with_their_splits(tmp_path, year):
    expected = isic_archive(tmp_path / "src", year)
    out, manifest = prepare("isic", tmp_path / "src", tmp_path / "out", tmp_path, {})
    assert {c: manifest["cases"][c]["split"] for c in manifest["cases"]} == expected
    assert manifest["statistics"]["label_pixels"]["lesion"] == len(expected) * int((LESION > 0).sum())
    assert make_reader("isic", {}).suggested_name(tmp_path / "src") == f"isic{year}"


def test_isic_mask_of_another_size_names_both_files(runner, tmp_path):
    isic_archive(tmp_path / "src", "2017")
    bad = tmp_path / "src" / "ISIC-2017_Validation_Part1_GroundTruth" / "ISIC_1000001_segmentation.png"
    write(bad, np.zeros((10, 10), np.uint8))
    result = runner.invoke(app, ["prepare", "isic", str(tmp_path / "src"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]  # after the plain progress lines
    assert line.startswith("error: ") and "ISIC_1000001_segmentation.png" in line and "ISIC_1000001.jpg" in line
    assert not (tmp_path / "out").exists()


def test_isic_without_archive_folders_is_one_line(runner, tmp_path):
    (tmp_path / "src" / "images").mkdir(parents=True)
    result = runner.invoke(app, ["prepare", "isic", str(tmp_path / "src"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "no cases found; expected ISIC archive folders" in result.stderr


def test_ham10000_parts_masks_and_metadata(tmp_path):
    src = tmp_path / "src"
    for i, part in enumerate(("HAM10000_images_part_1", "HAM10000_images_part_1", "HAM10000_images_part_2")):
        write(src / part / f"ISIC_00{i:05d}.jpg", image(i))
        if i < 2:
            write(src / "HAM10000_segmentations_lesion_tschandl" / f"ISIC_00{i:05d}_segmentation.png", LESION)
    (src / "HAM10000_metadata.csv").write_text(
        "lesion_id,image_id,dx,dx_type,age,sex,localization\nHAM_1,ISIC_0000000,nv,histo,45.0,male,back\n"
    )
    _, manifest = prepare("ham10000", src, tmp_path / "out", tmp_path, {"test_fraction": 0.5})
    cases = manifest["cases"]
    assert sorted(cases) == ["ISIC_0000000", "ISIC_0000001", "ISIC_0000002"]
    assert cases["ISIC_0000000"]["meta"]["dx"] == "nv" and cases["ISIC_0000000"]["meta"]["lesion_id"] == "HAM_1"
    assert "mask" not in cases["ISIC_0000002"]  # an image without a mask is kept, unlabelled
    assert set(manifest["splits"]) == {"train", "test", "all"}


def test_the_real_dev_collections_prepare(shared_data, tmp_path):
    ham, manifest = prepare("ham10000", shared_data / "ham10000-dev", tmp_path / "ham", tmp_path, {})
    assert manifest["statistics"]["cases"] == 60 and manifest["statistics"]["with_mask"] == 60
    first = json.loads((ham / "dataset.json").read_text())["cases"]
    assert all(c["size"] == [450, 600] for c in first.values())
