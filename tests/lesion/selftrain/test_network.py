"""The lesion network's masks and confidence (medsegkit.lesion.selftrain.network)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medsegkit.imaging import resize_square
from medsegkit.lesion.config import SelfTrainConfig
from medsegkit.lesion.selftrain.network import decide, mask_confidence, resolve_weights

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def test_confidence_is_lower_for_a_failure_than_for_a_success():
    rng = np.random.default_rng(0)
    image = np.full((64, 64, 3), 200, np.uint8) + rng.integers(0, 10, (64, 64, 3), dtype=np.uint8)
    lesion = np.zeros((64, 64), bool)
    lesion[20:44, 16:40] = True
    image[lesion] = (90, 60, 50)
    fov = np.ones((64, 64), bool)
    sure = np.where(lesion, 0.97, 0.03)
    good = mask_confidence(image, sure, lesion, fov)
    wrong = np.zeros((64, 64), bool)
    wrong[4:20, 40:60] = True  # skin, where the network hesitates
    unsure = np.where(wrong, 0.55, 0.4)
    bad = mask_confidence(image, unsure, wrong, fov)
    assert good["confidence"] > 0.5 > bad["confidence"]
    assert mask_confidence(image, sure, np.zeros((64, 64), bool), fov)["confidence"] == 0.0


def test_auto_weights_resolve_to_what_is_installed():
    from medsegkit.models import pretrained

    cfg = resolve_weights(SelfTrainConfig())
    try:
        pretrained.weights_file("efficientnet-lite0")
        expected = "imagenet"
    except Exception:
        expected = "none"
    assert cfg.encoder_weights == expected
    assert resolve_weights(SelfTrainConfig(encoder_weights="none")).encoder_weights == "none"
    assert resolve_weights(SelfTrainConfig(encoder="mobilenet_v2")).encoder_weights == "none"


def test_the_mask_is_at_the_image_size_and_the_confidence_the_same_at_any_resolution():
    image = np.full((96, 128, 3), 190, np.uint8)
    image[30:70, 40:90] = (80, 50, 40)
    grid = torch.zeros(1, 64, 64)
    grid[0, 20:47, 20:45] = 1.0
    prob = grid * 0.9 + 0.05  # the network's view at the working size, 64 x 64
    records = []
    for scale in (1, 3):
        big = image.repeat(scale, axis=0).repeat(scale, axis=1)
        mask, record = decide(big, resize_square(big, 64), prob, 0.5)
        assert mask.shape == big.shape[:2] and 0.1 < mask.mean() < 0.25
        records.append(record)
    assert records[0]["confidence"] > 0.5
    assert abs(records[0]["confidence"] - records[1]["confidence"]) < 0.02
