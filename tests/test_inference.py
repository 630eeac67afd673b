"""The task-neutral prediction loop: every image written once, in order, and a writer error stops the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsegkit import inference
from medsegkit.data.imageio import read_labels

from .conftest import save


class Halves:
    """A fake predictor: the left half of each image is the structure."""

    task, fields, threshold = "lesion", ("case",), 0.5

    def __init__(self) -> None:
        self.batches = 0

    def predict(self, images):
        self.batches += 1
        results = []
        for image in images:
            labels = np.zeros(image.shape[:2], np.uint8)
            labels[:, : image.shape[1] // 2] = 1
            results.append((labels, image, {"width": image.shape[1]}))
        return results


@pytest.fixture
def folder(tmp_path: Path) -> list[tuple[str, Path]]:
    rng = np.random.default_rng(0)
    return [
        (f"c{i}", save(tmp_path / "in" / f"c{i}.png", rng.integers(0, 255, (8, 6 + i, 3), np.uint8))) for i in range(7)
    ]


def test_every_image_is_written_once_while_the_next_batch_is_predicted(folder, tmp_path):
    predictor = Halves()
    inference.predict_folder(predictor, folder, tmp_path / "out", batch_size=3)
    assert predictor.batches == 3
    for case, _ in folder:
        labels = read_labels(tmp_path / "out" / "masks" / f"{case}.png")
        assert labels[:, : labels.shape[1] // 2].all() and not labels[:, labels.shape[1] // 2 :].any()
        assert (tmp_path / "out" / "cases" / f"{case}.json").is_file()
    inference.predict_folder(predictor, folder, tmp_path / "out", batch_size=3)
    assert predictor.batches == 3  # everything was done: nothing predicted again


def test_a_writer_error_stops_the_run_and_finished_batches_stay(folder, tmp_path, monkeypatch):
    original, calls = inference._write_batch, []

    def failing(out, batch, results):
        calls.append(len(batch))
        if len(calls) == 2:
            raise OSError("disk full")
        original(out, batch, results)

    monkeypatch.setattr(inference, "_write_batch", failing)
    with pytest.raises(OSError, match="disk full"):
        inference.predict_folder(Halves(), folder, tmp_path / "out", batch_size=3)
    done = sorted(p.stem for p in (tmp_path / "out" / "cases").glob("*.json"))
    assert done == ["c0", "c1", "c2"]  # the first batch, and nothing of the failed one
