"""The teacher of self-train: training targets, loss weights, and the final mask between teacher and network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsegkit.data.imageio import read_labels
from medsegkit.lesion.selftrain.teacher import IGNORE, Teacher, band_target, settle, weights
from tests.conftest import save


def test_band_target_ignores_both_sides_of_the_boundary():
    mask = np.zeros((9, 9), bool)
    mask[2:7, 2:7] = True
    target = band_target(mask, 1)
    assert target[4, 4] == 1 and target[0, 0] == 0
    assert target[2, 4] == IGNORE and target[1, 4] == IGNORE and target[3, 4] == 1
    assert (band_target(mask, 0) == mask).all()
    assert (band_target(np.zeros((4, 4), bool), 2) == 0).all()  # no boundary, nothing ignored


def test_weights_follow_the_runs_confidence():
    ts = [Teacher("a", Path(), Path(), 0.1), Teacher("b", Path(), Path(), 0.5), Teacher("c", Path(), Path(), None)]
    w = weights(ts, "confidence")
    assert w["a"] < w["b"] and w["c"] == 1.0 and np.isclose((w["a"] + w["b"]) / 2, 1.0)
    assert set(weights(ts, "none").values()) == {1.0}


@pytest.mark.parametrize("teacher_confidence, source", [(0.5, "teacher"), (0.1, "network"), (None, "network")])
def test_settle_keeps_the_more_confident_mask(tmp_path, teacher_confidence, source):
    out = tmp_path / "st"
    network, taught = np.zeros((20, 30), np.uint8), np.zeros((20, 30), np.uint8)
    network[5:10, 5:10], taught[4:16, 8:20] = 1, 1
    save(out / "masks" / "a.png", network)
    save(tmp_path / "km" / "a.png", taught)
    save(tmp_path / "a.png", np.full((20, 30, 3), 128, np.uint8))
    (out / "overlays").mkdir()
    (out / "cases").mkdir()
    (out / "cases" / "a.json").write_text(json.dumps({"case": "a", "confidence": 0.3, "lesion_area": 25}))
    teacher = Teacher("a", tmp_path / "a.png", tmp_path / "km" / "a.png", teacher_confidence)
    settle(out, teacher, combine=True)
    record = json.loads((out / "cases" / "a.json").read_text())
    kept = taught if source == "teacher" else network
    assert record["mask_source"] == source and record["lesion_area"] == int(kept.sum())
    assert record["network_confidence"] == 0.3 and record["teacher_agreement"] == pytest.approx(
        2 * 10 / (25 + 144), abs=1e-6
    )
    np.testing.assert_array_equal(read_labels(out / "masks" / "a.png"), kept)
    settle(out, Teacher("a", tmp_path / "a.png", tmp_path / "km" / "a.png", 0.99), combine=True)  # decided once
    assert json.loads((out / "cases" / "a.json").read_text()) == record
