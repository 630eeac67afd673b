"""The task-neutral prediction loop: every image written once, in order, and a writer error stops the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medsegkit.data.imageio import read_labels
from medsegkit.engine import prediction
from tests.conftest import save


class Halves:
    """A fake predictor: the left half of each image is the structure (at the image's full size)."""

    task, fields, threshold, size = "lesion", ("case",), 0.5, 64

    def __init__(self) -> None:
        self.batches = 0
        self.seen: list[tuple[int, int]] = []

    def predict(self, images, sizes):
        self.batches += 1
        results = []
        for image, (h, w) in zip(images, sizes, strict=True):
            self.seen.append(image.shape[:2])
            labels = np.zeros((h, w), np.uint8)
            labels[:, : w // 2] = 1
            results.append((labels, {"width": w}))
        return results


@pytest.fixture
def folder(tmp_path: Path) -> list[tuple[str, Path]]:
    rng = np.random.default_rng(0)
    return [
        (f"c{i}", save(tmp_path / "in" / f"c{i}.png", rng.integers(0, 255, (8, 6 + i, 3), np.uint8))) for i in range(7)
    ]


def test_every_image_is_written_once_while_the_next_batch_is_predicted(folder, tmp_path):
    predictor = Halves()
    prediction.predict_folder(predictor, folder, tmp_path / "out", batch_size=3)
    assert predictor.batches == 3
    for case, _ in folder:
        labels = read_labels(tmp_path / "out" / "masks" / f"{case}.png")
        assert labels[:, : labels.shape[1] // 2].all() and not labels[:, labels.shape[1] // 2 :].any()
        assert (tmp_path / "out" / "cases" / f"{case}.json").is_file()
    prediction.predict_folder(predictor, folder, tmp_path / "out", batch_size=3)
    assert predictor.batches == 3  # everything was done: nothing predicted again


def test_a_writer_error_stops_the_run_and_finished_batches_stay(folder, tmp_path, monkeypatch):
    original, calls = prediction._write_batch, []

    def failing(folder, task, batch, images, results):
        calls.append(len(batch))
        if len(calls) == 2:
            raise OSError("disk full")
        original(folder, task, batch, images, results)

    monkeypatch.setattr(prediction, "_write_batch", failing)
    with pytest.raises(OSError, match="disk full"):
        prediction.predict_folder(Halves(), folder, tmp_path / "out", batch_size=3)
    done = sorted(p.stem for p in (tmp_path / "out" / "cases").glob("*.json"))
    assert done == ["c0", "c1", "c2"]  # the first batch, and nothing of the failed one


def test_large_jpegs_are_decoded_reduced_and_their_masks_written_at_full_size(tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 255, (30, 45, 3)), np.ones((80, 80, 1))).astype(np.uint8)  # 2400 x 3600
    Image.fromarray(smooth).save(tmp_path / "big.jpg", quality=95)
    save(tmp_path / "big.png", smooth)
    predictor = Halves()
    prediction.predict_folder(
        predictor, [("big", tmp_path / "big.jpg"), ("png", tmp_path / "big.png")], tmp_path / "out"
    )
    assert predictor.seen[0] == (1200, 1800)  # JPEG: DCT-scaled to 1/2, the longer side still >= 1024
    assert predictor.seen[1] == (2400, 3600)  # PNG: decoded whole
    for case in ("big", "png"):
        assert read_labels(tmp_path / "out" / "masks" / f"{case}.png").shape == (2400, 3600)


def test_reduced_decoding_keeps_both_sides_and_the_pixels(tmp_path):
    from medsegkit.data.imageio import read_rgb, read_rgb_reduced
    from medsegkit.imaging import resize_square

    rng = np.random.default_rng(1)
    smooth = np.kron(rng.integers(0, 255, (10, 40, 3)), np.ones((64, 64, 1))).astype(np.uint8)  # 640 x 2560
    path = tmp_path / "wide.jpg"
    Image.fromarray(smooth).save(path, quality=95)
    image, size = read_rgb_reduced(path, 1024, 256)
    assert size == (640, 2560) and image.shape[:2] == (320, 1280)  # 1/4 would leave 160 < 256 rows
    full = read_rgb(path)
    diff = np.abs(resize_square(image, 64).astype(int) - resize_square(full, 64).astype(int))
    assert diff.mean() < 3
    assert read_rgb_reduced(path, 4096, 1)[0].shape == full.shape  # nothing to reduce
