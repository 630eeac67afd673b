"""The lesion network's masks and confidence (medsegkit.lesion.segmenter)."""

from __future__ import annotations

import numpy as np

from medsegkit.lesion.config import SelfTrainConfig
from medsegkit.lesion.segmenter import mask_confidence, resolve_weights


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
